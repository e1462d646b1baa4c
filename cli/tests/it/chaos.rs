//! Chaos tests: a 20-job bundle run by two real `bt work` processes against
//! a PostgreSQL server of the test's own ([`PgServer`]), while the database
//! restarts (fast and immediate shutdown), stays down for 30 s, or one
//! worker's network path freezes half-open ([`Proxy`]). Each ends with the
//! bundle completed, every variant's result stored exactly once and no
//! attempt used up by the outage, and prints how long the work took to
//! resume. The workers run with the default settings (one thread each), so
//! the recovery times are the ones an operator gets.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

use crate::Proc;
use crate::pgserver::{PgServer, StopMode};
use crate::proxy::Proxy;
use crate::worker::{assert_all_results, bt_with_db};

/// Bars of the generated dataset and bar-variants per job: the bundle below
/// (4,000 variants) becomes 20 jobs of 200 variants, about 0.5 s each.
const BARS: u64 = 500_000;
const JOB_SIZE: u64 = BARS * 200;
const JOBS: i64 = 20;

/// 10 fast x 2 slow SMA periods x 20 stop losses x 10 take profits.
fn bundle(dir: &Path) -> PathBuf {
    let stops: Vec<String> = (1..=20).map(|i| format!("{}", f64::from(i) * 0.002)).collect();
    let text = format!(
        r#"name = "chaos"
[datasets]
tickers = ["CHAOS"]
timeframes = ["1m"]
[strategy]
kind = "sma_cross"
fast = {{ start = 5, stop = 50, step = 5 }}
slow = {{ start = 100, stop = 200, step = 100 }}
[money]
stop_loss = [{}]
take_profit = [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1]
[costs]
fee_bps = 10
"#,
        stops.join(", ")
    );
    let p = dir.join("chaos.toml");
    std::fs::write(&p, text).expect("write bundle");
    p
}

/// `bt work` with the default settings but one thread (every test's
/// workers share two cores), logging JSON to `<dir>/<id>.log`.
fn start_worker(url: &str, id: &str, catalog: &Path, dir: &Path) -> Proc {
    let log = dir.join(format!("{id}.log"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bt"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("BT_") {
            cmd.env_remove(k);
        }
    }
    let child = cmd
        .arg("work")
        .env("DATABASE_URL", url)
        .env("BT_WORKER_ID", id)
        .env("BT_CATALOG", catalog)
        .env("BT_HTTP_ADDR", "off")
        .env("BT_THREADS", "1")
        .env("BT_LOG_FORMAT", "json")
        .env("BT_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("start bt work");
    Proc(child, log)
}

/// How many log lines of `w` have the message `msg`.
fn events(w: &Proc, msg: &str) -> usize {
    w.logs()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["message"] == msg)
        .count()
}

/// The last lines of every worker's log and of the server's, for failures.
fn all_logs(workers: &[Proc], server: &PgServer) -> String {
    let tail = |text: &str, n: usize| {
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    };
    let mut out = String::new();
    for w in workers {
        out.push_str(&format!("--- worker log {}\n{}\n", w.1.display(), tail(&w.logs(), 150)));
    }
    out.push_str(&format!("--- server log\n{}\n", tail(&server.log(), 40)));
    out
}

/// `count(*)` of the bundle's jobs matching `filter`; `None` while the
/// database cannot answer.
async fn jobs_where(pool: &PgPool, id: Uuid, filter: &str) -> Option<i64> {
    sqlx::query_scalar(&format!("SELECT count(*) FROM backtest_jobs WHERE bundle_id = $1 AND {filter}"))
        .bind(id)
        .fetch_one(pool)
        .await
        .ok()
}

async fn bundle_status(pool: &PgPool, id: Uuid) -> Option<String> {
    sqlx::query_scalar("SELECT status::text FROM bundles WHERE id = $1").bind(id).fetch_one(pool).await.ok()
}

#[derive(Debug, Clone, Copy)]
enum Outage {
    /// `pg_ctl restart` in this mode.
    Restart(StopMode),
    /// Fast shutdown, this long down, start.
    Down(Duration),
    /// The first worker's network path frozen this long (the server stays up).
    Freeze(Duration),
}

/// Runs the bundle through `outage` and checks that no work was lost or
/// repeated; prints the times to recover.
async fn survive(name: &str, outage: Outage) {
    let Some(server) = PgServer::init() else { return };
    server.start();
    let dir = tempfile::tempdir().expect("tmp");
    let url = server.url();
    let r = bt_with_db(&url, &["migrate"]);
    assert!(r.ok, "{r:?}");
    let cat = dir.path().join("cat");
    let r = crate::bt(
        &[
            "data",
            "generate",
            "--ticker",
            "CHAOS",
            "--bars",
            &BARS.to_string(),
            "--catalog",
            cat.to_str().expect("utf-8"),
        ],
        dir.path(),
    );
    assert!(r.ok, "{r:?}");
    let bundle = bundle(dir.path());
    let r = bt_with_db(
        &url,
        &[
            "submit",
            bundle.to_str().expect("utf-8"),
            "--catalog",
            cat.to_str().expect("utf-8"),
            "--job-size",
            &JOB_SIZE.to_string(),
        ],
    );
    assert!(r.ok, "{r:?}");
    let id: Uuid = r.stdout.trim().parse().expect("bundle id on stdout");
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy(&url)
        .expect("pool");
    assert_eq!(jobs_where(&pool, id, "true").await, Some(JOBS));

    // The first worker goes through the proxy when its path is to freeze.
    let proxy = matches!(outage, Outage::Freeze(_)).then(|| Proxy::start(server.addr()));
    let url_a =
        proxy.as_ref().map_or_else(|| url.clone(), |p| format!("postgres://postgres@{}/postgres", p.addr()));
    let mut workers =
        [start_worker(&url_a, "chaos-a", &cat, dir.path()), start_worker(&url, "chaos-b", &cat, dir.path())];
    // The workers the outage hits.
    let hit = if proxy.is_some() { &workers[..1] } else { &workers[..] };

    // Mid-bundle: a first job completed and, for a freeze, a job running on
    // the worker whose path freezes.
    let t = Instant::now();
    let mine = "status = 'running' AND assigned_worker = 'chaos-a'";
    loop {
        let done = jobs_where(&pool, id, "status = 'completed'").await.unwrap_or(0);
        let running_a = jobs_where(&pool, id, mine).await.unwrap_or(0);
        if done >= 1 && (proxy.is_none() || running_a >= 1) {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "{name}: no job completed in 60 s\n{}",
            all_logs(&workers, &server)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let left = jobs_where(&pool, id, "status IN ('pending', 'running')").await.unwrap_or(0);
    assert!(left >= 4, "{name}: only {left} jobs left before the outage: make the jobs longer");

    let began = Instant::now();
    match outage {
        Outage::Restart(mode) => server.restart(mode),
        Outage::Down(d) => {
            server.stop(StopMode::Fast);
            tokio::time::sleep(d).await;
            server.start();
        }
        Outage::Freeze(d) => {
            let p = proxy.as_ref().expect("proxy");
            p.freeze();
            tokio::time::sleep(d).await;
            p.thaw();
        }
    }
    let ended = Instant::now();
    let baseline: usize = hit.iter().map(|w| events(w, "job completed")).sum();

    // Until the bundle completes: when the workers hit first completed a job again.
    let mut resumed: Option<Duration> = None;
    let limit = Duration::from_secs(90);
    let completed = loop {
        if resumed.is_none() && hit.iter().map(|w| events(w, "job completed")).sum::<usize>() > baseline {
            resumed = Some(ended.elapsed());
        }
        let status = bundle_status(&pool, id).await;
        if status.as_deref() == Some("completed") {
            break ended.elapsed();
        }
        if ended.elapsed() > limit {
            let jobs: Vec<String> = sqlx::query_scalar(
                "SELECT format('job %s %s, attempt %s, worker %s, last error %s',
                               id, status, attempt, assigned_worker, last_error)
                 FROM backtest_jobs
                 WHERE bundle_id = $1 AND (status <> 'completed' OR attempt > 1) ORDER BY id",
            )
            .bind(id)
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
            panic!(
                "{name}: bundle {id} is {status:?}, not completed, {limit:?} after the outage\n\
                 jobs not completed or retried: {jobs:?}\n{}",
                all_logs(&workers, &server)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let resumed = resumed.map_or_else(
        || "no job completed by the workers hit after the outage".to_owned(),
        |d| format!("recovered in {:.2} s (first job completed by a worker hit)", d.as_secs_f64()),
    );
    // Straight to stderr (not the captured print macros): shown in every test run's output.
    let _ = writeln!(
        std::io::stderr(),
        "chaos {name}: outage {:.1} s; {resumed}; bundle completed {:.2} s after the outage",
        (ended - began).as_secs_f64(),
        completed.as_secs_f64()
    );

    let exited: Vec<String> = workers
        .iter_mut()
        .filter_map(|w| w.0.try_wait().ok().flatten().map(|s| format!("{}: {s}", w.1.display())))
        .collect();
    assert!(exited.is_empty(), "{name}: workers exited: {exited:?}\n{}", all_logs(&workers, &server));
    assert_all_results(&pool, id).await;
    let retried: Vec<(i64, i32, Option<String>)> = sqlx::query_as(
        "SELECT id, attempt, last_error FROM backtest_jobs WHERE bundle_id = $1 AND attempt > 1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&pool)
    .await
    .expect("attempts");
    assert!(
        retried.is_empty(),
        "{name}: the outage used up attempts (job, attempt, last error): {retried:?}\n{}",
        all_logs(&workers, &server)
    );
    let max: i32 = sqlx::query_scalar("SELECT max(attempt) FROM backtest_jobs WHERE bundle_id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .expect("max attempt");
    assert_eq!(max, 1);
}

#[tokio::test]
async fn a_fast_restart_mid_bundle_loses_and_repeats_nothing() {
    survive("fast restart", Outage::Restart(StopMode::Fast)).await;
}

#[tokio::test]
async fn an_immediate_restart_mid_bundle_loses_and_repeats_nothing() {
    survive("immediate restart", Outage::Restart(StopMode::Immediate)).await;
}

#[tokio::test]
async fn thirty_seconds_without_the_database_lose_and_repeat_nothing() {
    survive("30 s down", Outage::Down(Duration::from_secs(30))).await;
}

#[tokio::test]
async fn a_frozen_network_path_loses_and_repeats_nothing() {
    survive("20 s frozen path", Outage::Freeze(Duration::from_secs(20))).await;
}
