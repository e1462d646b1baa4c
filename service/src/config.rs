//! `bt work` settings: flags or environment variables, validated at start so
//! that a bad value stops the process with one clear line naming it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use bt_queue::Execution;
use sqlx::postgres::PgConnectOptions;

use crate::memory::MemoryLimit;

/// The worker's flags; each also reads the environment variable it names.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerArgs {
    /// PostgreSQL URL of the job store.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// This worker's id in the job rows and logs [default: host name + pid].
    #[arg(long, env = "BT_WORKER_ID")]
    pub worker_id: Option<String>,
    /// Jobs run at once (they share the thread pool).
    #[arg(long, env = "BT_MAX_CONCURRENT_BACKTESTS", default_value_t = 2)]
    pub max_concurrent_backtests: usize,
    /// Seconds between polls for jobs when no notification arrives.
    #[arg(long, env = "BT_JOB_POLL_INTERVAL_SECONDS", default_value_t = 5.0)]
    pub job_poll_interval_seconds: f64,
    /// Seconds between heartbeats of a running job.
    #[arg(long, env = "BT_HEARTBEAT_INTERVAL_SECONDS", default_value_t = 30.0)]
    pub heartbeat_interval_seconds: f64,
    /// Threads of the backtest pool [default: all cores].
    #[arg(long, env = "BT_THREADS")]
    pub threads: Option<usize>,
    /// Root of the candle catalog.
    #[arg(long, env = "BT_CATALOG", default_value = "data")]
    pub catalog: PathBuf,
    /// Address of /health, /ready and /metrics; `off` for none.
    #[arg(long, env = "BT_HTTP_ADDR", default_value = "127.0.0.1:9101")]
    pub http_addr: String,
    /// Seconds running jobs get to finish after SIGTERM before they are released.
    #[arg(long, env = "BT_SHUTDOWN_GRACE_SECONDS", default_value_t = 30.0)]
    pub shutdown_grace_seconds: f64,
    /// A running job whose heartbeat is older than this is rescued, lock or not.
    #[arg(long, env = "BT_HEARTBEAT_TIMEOUT_SECONDS", default_value_t = 90.0)]
    pub heartbeat_timeout_seconds: f64,
    /// A running job nobody holds the lock of (its worker died, or its
    /// connection was cut) is rescued when the rescuer sees it unlocked on
    /// two passes at least this far apart (a live worker takes its locks
    /// again within a tenth of a second of a cut).
    #[arg(long, env = "BT_LOCK_GRACE_SECONDS", default_value_t = 0.25)]
    pub lock_grace_seconds: f64,
    /// Seconds between rescue passes (one worker at a time runs them).
    #[arg(long, env = "BT_RESCUE_INTERVAL_SECONDS", default_value_t = 0.5)]
    pub rescue_interval_seconds: f64,
    /// Datasets kept loaded between jobs.
    #[arg(long, env = "BT_DATASET_CACHE", default_value_t = 4)]
    pub dataset_cache: usize,
    /// Memory the worker's jobs may use, e.g. `4GB`, `512MiB`, `2G` or bytes;
    /// each running job gets an equal share [default: the cgroup limit, else
    /// the available memory, times 0.8].
    #[arg(long, env = "BT_MEMORY_LIMIT")]
    pub memory_limit: Option<String>,
}

/// Validated worker settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub database: PgConnectOptions,
    pub worker_id: String,
    pub max_concurrent: usize,
    pub poll_interval: Duration,
    pub heartbeat_interval: Duration,
    pub threads: usize,
    pub catalog: PathBuf,
    pub http_addr: Option<SocketAddr>,
    pub shutdown_grace: Duration,
    pub heartbeat_timeout: Duration,
    pub lock_grace: Duration,
    pub rescue_interval: Duration,
    pub dataset_cache: usize,
    /// Memory the jobs may use together (`BT_MEMORY_LIMIT`).
    pub memory_limit: MemoryLimit,
    /// Least time between two progress writes of one job.
    pub progress_interval: Duration,
    /// Job lanes this worker claims from: `bt work` serves the queue lane;
    /// the API's own workers serve the inline lane too.
    pub lanes: Vec<Execution>,
}

/// A setting that cannot be used, named by its environment variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {message}")]
pub struct ConfigError {
    pub name: &'static str,
    pub message: String,
}

fn bad(name: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError { name, message: message.into() }
}

fn seconds(name: &'static str, v: f64, min: f64, max: f64) -> Result<Duration, ConfigError> {
    if !v.is_finite() || v < min || v > max {
        return Err(bad(name, format!("{v} seconds is out of range ({min} to {max})")));
    }
    Ok(Duration::from_secs_f64(v))
}

impl WorkerConfig {
    /// Checks every setting; the error names the variable.
    pub fn from_args(a: &WorkerArgs) -> Result<Self, ConfigError> {
        if !(a.database_url.starts_with("postgres://") || a.database_url.starts_with("postgresql://")) {
            return Err(bad("DATABASE_URL", "not a PostgreSQL URL (postgres://user@host:port/database)"));
        }
        let database = PgConnectOptions::from_str(&a.database_url)
            .map_err(|e| bad("DATABASE_URL", format!("not a PostgreSQL URL: {e}")))?;
        let worker_id = match &a.worker_id {
            Some(id) if id.trim().is_empty() => return Err(bad("BT_WORKER_ID", "is empty")),
            Some(id) if id.len() > 200 => return Err(bad("BT_WORKER_ID", "is longer than 200 bytes")),
            Some(id) => id.clone(),
            None => format!("{}-{}", crate::host_name(), std::process::id()),
        };
        // Named in pg_stat_activity, so operators (and tests) can tell whose connection is whose.
        let database = database.application_name(&format!("bt-work {worker_id}"));
        if !(1..=1024).contains(&a.max_concurrent_backtests) {
            return Err(bad(
                "BT_MAX_CONCURRENT_BACKTESTS",
                format!("{} is out of range (1 to 1024)", a.max_concurrent_backtests),
            ));
        }
        let poll_interval =
            seconds("BT_JOB_POLL_INTERVAL_SECONDS", a.job_poll_interval_seconds, 0.05, 3600.0)?;
        let heartbeat_interval =
            seconds("BT_HEARTBEAT_INTERVAL_SECONDS", a.heartbeat_interval_seconds, 0.05, 3600.0)?;
        let heartbeat_timeout =
            seconds("BT_HEARTBEAT_TIMEOUT_SECONDS", a.heartbeat_timeout_seconds, 0.1, 86_400.0)?;
        if heartbeat_timeout < heartbeat_interval * 2 {
            return Err(bad(
                "BT_HEARTBEAT_TIMEOUT_SECONDS",
                format!(
                    "{} s must be at least twice BT_HEARTBEAT_INTERVAL_SECONDS ({} s), or live jobs get rescued",
                    a.heartbeat_timeout_seconds, a.heartbeat_interval_seconds
                ),
            ));
        }
        let lock_grace = seconds("BT_LOCK_GRACE_SECONDS", a.lock_grace_seconds, 0.1, 86_400.0)?;
        let rescue_interval = seconds("BT_RESCUE_INTERVAL_SECONDS", a.rescue_interval_seconds, 0.05, 3600.0)?;
        let shutdown_grace = seconds("BT_SHUTDOWN_GRACE_SECONDS", a.shutdown_grace_seconds, 0.0, 86_400.0)?;
        let threads = match a.threads {
            Some(0) => return Err(bad("BT_THREADS", "must be at least 1")),
            Some(t) if t > 4096 => return Err(bad("BT_THREADS", format!("{t} is more than 4096"))),
            Some(t) => t,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if !a.catalog.is_dir() {
            return Err(bad("BT_CATALOG", format!("{} is not a directory", a.catalog.display())));
        }
        let http_addr = match a.http_addr.trim() {
            "off" | "" => None,
            s => Some(
                s.parse::<SocketAddr>()
                    .map_err(|e| bad("BT_HTTP_ADDR", format!("{s:?} is not host:port ({e})")))?,
            ),
        };
        if a.dataset_cache == 0 {
            return Err(bad("BT_DATASET_CACHE", "must be at least 1"));
        }
        let memory_limit =
            MemoryLimit::resolve(a.memory_limit.as_deref()).map_err(|e| bad("BT_MEMORY_LIMIT", e))?;
        Ok(Self {
            database,
            worker_id,
            max_concurrent: a.max_concurrent_backtests,
            poll_interval,
            heartbeat_interval,
            threads,
            catalog: a.catalog.clone(),
            http_addr,
            shutdown_grace,
            heartbeat_timeout,
            lock_grace,
            rescue_interval,
            dataset_cache: a.dataset_cache,
            memory_limit,
            progress_interval: Duration::from_secs(1).min(heartbeat_interval),
            lanes: vec![Execution::Queue],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        w: WorkerArgs,
    }

    fn parse(extra: &[&str]) -> Result<WorkerConfig, ConfigError> {
        let dir = env!("CARGO_MANIFEST_DIR");
        let mut args = vec!["bt"];
        for (flag, default) in [("--database-url", "postgres://u@127.0.0.1/db"), ("--catalog", dir)] {
            if !extra.contains(&flag) {
                args.extend([flag, default]);
            }
        }
        args.extend_from_slice(extra);
        let cli = Cli::try_parse_from(args).expect("flags parse");
        WorkerConfig::from_args(&cli.w)
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = parse(&[]).expect("valid");
        assert_eq!(c.max_concurrent, 2);
        assert_eq!(c.poll_interval, Duration::from_secs(5));
        assert_eq!(c.heartbeat_interval, Duration::from_secs(30));
        assert_eq!(c.heartbeat_timeout, Duration::from_secs(90));
        assert_eq!(c.lock_grace, Duration::from_millis(250));
        assert_eq!(c.rescue_interval, Duration::from_millis(500));
        assert_eq!(c.http_addr, Some("127.0.0.1:9101".parse().expect("addr")));
        assert_eq!(c.progress_interval, Duration::from_secs(1));
        assert!(c.worker_id.ends_with(&format!("-{}", std::process::id())));
        assert!(c.threads >= 1);
    }

    #[test]
    fn bad_values_name_their_variable() {
        let cases: [(&[&str], &str); 11] = [
            (&["--max-concurrent-backtests", "0"], "BT_MAX_CONCURRENT_BACKTESTS"),
            (&["--job-poll-interval-seconds=-1"], "BT_JOB_POLL_INTERVAL_SECONDS"),
            (&["--heartbeat-interval-seconds", "NaN"], "BT_HEARTBEAT_INTERVAL_SECONDS"),
            (&["--heartbeat-interval-seconds", "60"], "BT_HEARTBEAT_TIMEOUT_SECONDS"),
            (&["--threads", "0"], "BT_THREADS"),
            (&["--catalog", "/no/such/dir"], "BT_CATALOG"),
            (&["--http-addr", "localhost"], "BT_HTTP_ADDR"),
            (&["--worker-id", " "], "BT_WORKER_ID"),
            (&["--dataset-cache", "0"], "BT_DATASET_CACHE"),
            (&["--memory-limit", "1XB"], "BT_MEMORY_LIMIT"),
            (&["--memory-limit", "1000"], "BT_MEMORY_LIMIT"),
        ];
        for (flags, name) in cases {
            let e = parse(flags).expect_err(name);
            assert_eq!(e.name, name, "{flags:?}: {e}");
            assert!(e.to_string().starts_with(name), "{e}");
        }
        let e = parse(&["--database-url", "mysql://x"]).expect_err("url");
        assert_eq!(e.name, "DATABASE_URL");
    }

    #[test]
    fn the_memory_limit_is_given_or_detected() {
        let c = parse(&["--memory-limit", "1GB"]).expect("valid");
        assert_eq!(
            c.memory_limit,
            MemoryLimit { bytes: 1_000_000_000, source: crate::memory::Source::Given }
        );
        let c = parse(&[]).expect("valid");
        assert_ne!(c.memory_limit.source, crate::memory::Source::Given);
        assert!(c.memory_limit.bytes >= crate::memory::MIN_LIMIT);
    }

    #[test]
    fn http_can_be_turned_off() {
        assert_eq!(parse(&["--http-addr", "off"]).expect("valid").http_addr, None);
    }
}
