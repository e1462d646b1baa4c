//! The service commands: `bt work`, `bt migrate`, `bt submit`, `bt status`
//! and `bt results`. Each runs its own tokio runtime; the backtests of
//! `bt work` run on the worker's rayon pool.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use bt_candles::Catalog;
use bt_engine::bundle::{Bundle, BundleSpec, Limits};
use bt_engine::metrics::MetricName;
use bt_engine::sweep::VariantResult;
use bt_queue::{BundleStatus, KeyLimits, Store};
use bt_service::memory::MemoryLimit;
use bt_service::submit::{DEFAULT_JOB_BAR_VARIANTS, SubmitOptions, plan};
use bt_service::worker::Shutdown;
use bt_service::{Phase, Worker, WorkerArgs, WorkerConfig};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use uuid::Uuid;

use crate::run::{print_table, read_bundle, write_results};

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The database to talk to (operator commands).
#[derive(Debug, Args)]
pub struct DbArgs {
    /// PostgreSQL URL of the job store.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
}

impl DbArgs {
    async fn store(&self) -> Result<Store> {
        connect(&self.database_url).await
    }
}

/// The job store at `database_url` (a small pool: operator commands).
pub(crate) async fn connect(database_url: &str) -> Result<Store> {
    let opts: sqlx::postgres::PgConnectOptions =
        database_url.parse().context("DATABASE_URL: not a PostgreSQL URL")?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts)
        .await
        .context("cannot connect to the database (DATABASE_URL)")?;
    Ok(Store::new(pool))
}

// ---------------------------------------------------------------- bt work

pub fn work(args: WorkerArgs) -> Result<()> {
    let cfg = WorkerConfig::from_args(&args)?;
    let per_job = bt_service::memory::Bytes(cfg.memory_limit.bytes / cfg.max_concurrent as u64);
    tracing::info!(memory_limit = %cfg.memory_limit, %per_job, "memory budget");
    runtime()?.block_on(async move {
        let worker = Worker::new(cfg)?;
        tokio::spawn(on_signals(worker.shutdown()));
        worker.run().await
    })
}

/// First SIGTERM or SIGINT: drain. A second one: stop now.
async fn on_signals(sd: Shutdown) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    loop {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        if sd.phase() == Phase::Running {
            tracing::info!(signal = name, "shutting down: draining");
            sd.drain();
        } else {
            tracing::info!(signal = name, "second signal: stopping now");
            sd.stop();
        }
    }
}

// ---------------------------------------------------------------- bt migrate

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Revert the last N applied migrations instead of applying.
    #[arg(long, value_name = "N")]
    down: Option<usize>,
}

pub fn migrate(args: MigrateArgs, out: &mut impl Write) -> Result<()> {
    runtime()?.block_on(async {
        let store = args.db.store().await?;
        let before = store.applied_migrations().await?;
        match args.down {
            None => store.migrate().await.context("migrating up")?,
            Some(n) => {
                if n > before.len() {
                    bail!("--down {n}: only {} migrations are applied", before.len());
                }
                let target = if n == before.len() { 0 } else { before[before.len() - n - 1] };
                store.migrate_down(target).await.context("migrating down")?;
            }
        }
        let after = store.applied_migrations().await?;
        writeln!(out, "applied migrations: {after:?} (before: {before:?})")?;
        Ok(())
    })
}

// ---------------------------------------------------------------- bt submit

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Bundle spec (.toml or .json).
    bundle: PathBuf,
    #[command(flatten)]
    db: DbArgs,
    /// Root of the dataset catalog (to check the datasets and size the jobs).
    #[arg(long, env = "BT_CATALOG", default_value = "data")]
    catalog: PathBuf,
    /// Higher runs first.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    priority: i32,
    /// Owner recorded on the bundle.
    #[arg(long, default_value = "local")]
    owner: String,
    /// Bars x variants per job.
    #[arg(long, default_value_t = DEFAULT_JOB_BAR_VARIANTS)]
    job_size: u64,
    /// Runs of a job before it fails for good.
    #[arg(long, default_value_t = 3)]
    max_attempts: i32,
    /// Most variants a bundle may expand to.
    #[arg(long, default_value_t = Limits::default().max_variants)]
    max_variants: u64,
    /// Most variants per job.
    #[arg(long, default_value_t = bt_queue::MAX_JOB_VARIANTS)]
    max_job_variants: u64,
    /// Memory of a worker, e.g. `4GB`: a bundle one variant of which needs
    /// more is refused [default: the cgroup limit, else the available
    /// memory, times 0.8].
    #[arg(long, env = "BT_MEMORY_LIMIT")]
    memory_limit: Option<String>,
}

pub fn submit(args: SubmitArgs, out: &mut impl Write) -> Result<()> {
    if args.job_size == 0 {
        bail!("--job-size must be at least 1");
    }
    if args.max_attempts < 1 {
        bail!("--max-attempts must be at least 1");
    }
    if args.max_job_variants == 0 {
        bail!("--max-job-variants must be at least 1");
    }
    let limit =
        MemoryLimit::resolve(args.memory_limit.as_deref()).map_err(|e| anyhow!("BT_MEMORY_LIMIT: {e}"))?;
    let bundle = read_bundle(&args.bundle, Limits { max_variants: args.max_variants })?;
    let opts = SubmitOptions {
        owner: args.owner.clone(),
        priority: args.priority,
        max_attempts: args.max_attempts,
        job_bar_variants: args.job_size,
        max_job_variants: args.max_job_variants,
        memory_limit: Some(limit.bytes),
        execution: bt_queue::Execution::Queue,
    };
    let new = plan(&bundle, &Catalog::new(&args.catalog), &opts)
        .with_context(|| format!("{}: cannot submit", args.bundle.display()))?;
    runtime()?.block_on(async {
        let store = args.db.store().await?;
        store.enqueue_bundle(&new).await.context("enqueueing the bundle")?;
        Ok::<_, anyhow::Error>(())
    })?;
    writeln!(out, "{}", new.id)?;
    let _ = writeln!(
        std::io::stderr(),
        "bundle {}: {} variants in {} jobs, priority {}",
        new.id,
        new.variant_count,
        new.jobs.len(),
        new.priority
    );
    Ok(())
}

// ---------------------------------------------------------------- bt status

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The bundle id `bt submit` printed.
    bundle: Uuid,
    #[command(flatten)]
    db: DbArgs,
    /// Follow the bundle with a progress bar until it ends.
    #[arg(long)]
    watch: bool,
}

fn terminal(s: BundleStatus) -> bool {
    matches!(s, BundleStatus::Completed | BundleStatus::Failed | BundleStatus::Cancelled)
}

async fn get_status(store: &Store, id: Uuid) -> Result<bt_queue::BundleProgress> {
    store.bundle_status(id, None).await?.with_context(|| format!("bundle {id} does not exist"))
}

pub fn status(args: StatusArgs, out: &mut impl Write) -> Result<()> {
    runtime()?.block_on(async {
        let store = args.db.store().await?;
        if args.watch {
            let mut st = get_status(&store, args.bundle).await?;
            let bar = ProgressBar::with_draw_target(
                Some(st.variant_count as u64),
                indicatif::ProgressDrawTarget::stderr_with_hz(4),
            )
            .with_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} variants, {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            while !terminal(st.status) {
                bar.set_position(st.variants_done as u64);
                let eta = st.eta().map_or_else(|| "-".to_owned(), |d| format!("{:.0} s", d.as_secs_f64()));
                bar.set_message(format!("{} running, {} pending jobs, eta {eta}", st.running, st.pending));
                tokio::time::sleep(Duration::from_secs(1)).await;
                st = get_status(&store, args.bundle).await?;
            }
            bar.finish_and_clear();
        }
        let st = get_status(&store, args.bundle).await?;
        let lower = |s: BundleStatus| format!("{s:?}").to_lowercase();
        writeln!(out, "bundle   {} ({})", st.id, if st.name.is_empty() { "-" } else { &st.name })?;
        writeln!(out, "status   {}", lower(st.status))?;
        writeln!(
            out,
            "jobs     {} pending, {} running, {} completed, {} failed, {} cancelled (of {})",
            st.pending, st.running, st.completed, st.failed, st.cancelled, st.job_count
        )?;
        writeln!(
            out,
            "progress {}/{} variants ({:.1}%)",
            st.variants_done,
            st.variant_count,
            st.fraction() * 100.0
        )?;
        if let Some(eta) = st.eta() {
            writeln!(out, "eta      {:.0} s", eta.as_secs_f64())?;
        }
        let t =
            |v: Option<chrono::DateTime<chrono::Utc>>| v.map_or_else(|| "-".to_owned(), |t| t.to_rfc3339());
        writeln!(out, "created  {}", st.created_at.to_rfc3339())?;
        writeln!(out, "started  {}", t(st.started_at))?;
        writeln!(out, "finished {}", t(st.finished_at))?;
        if let Some(e) = &st.error {
            writeln!(out, "error    {e}")?;
        }
        Ok(())
    })
}

// ---------------------------------------------------------------- bt results

#[derive(Debug, Args)]
pub struct ResultsArgs {
    /// The bundle id `bt submit` printed.
    bundle: Uuid,
    #[command(flatten)]
    db: DbArgs,
    /// Rows of the ranked table.
    #[arg(long, default_value_t = 20)]
    top: usize,
    /// Metric to rank by (sharpe, total_return, sortino, calmar, max_drawdown, sqn, ...).
    #[arg(long, default_value = "sharpe", value_parser = crate::run::metric_arg)]
    sort: MetricName,
    /// Rank ascending instead of descending.
    #[arg(long)]
    ascending: bool,
    /// Write every stored variant's parameters and metrics here (.parquet, .csv or .json),
    /// in the same form as `bt run --out`.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Rows per query when `bt results --out` reads a whole bundle.
const RESULTS_PAGE: i64 = 10_000;

/// Every stored result of `bundle`, in variant order, a page at a time (a
/// bundle can hold millions).
pub(crate) async fn all_results(store: &Store, bundle: Uuid) -> Result<Vec<bt_queue::ResultRow>> {
    let by_variant = bt_queue::Ranking::new("variant", false)?;
    let mut rows = Vec::new();
    loop {
        let after = rows.last().map(|r| by_variant.key(r));
        let page = store.results(bundle, &by_variant, after.as_ref(), RESULTS_PAGE).await?;
        let last = page.len() < RESULTS_PAGE as usize;
        rows.extend(page);
        if last {
            return Ok(rows);
        }
    }
}

pub fn results(args: ResultsArgs, out: &mut impl Write) -> Result<()> {
    runtime()?.block_on(async {
        let store = args.db.store().await?;
        let spec = store
            .bundle_spec(args.bundle)
            .await?
            .with_context(|| format!("bundle {} does not exist", args.bundle))?;
        let spec: BundleSpec = serde_json::from_value(spec).context("the stored bundle spec")?;
        let bundle =
            Bundle::new(spec, Limits { max_variants: u64::MAX }).context("the stored bundle spec")?;
        let to_results = |rows: Vec<bt_queue::ResultRow>| -> Vec<VariantResult> {
            rows.iter()
                .map(|r| {
                    let (index, metrics) = bt_service::results::from_row(r);
                    VariantResult { index, metrics }
                })
                .collect()
        };
        let ranking = bt_queue::Ranking::new(args.sort.as_str(), !args.ascending)?;
        let top = to_results(store.results(args.bundle, &ranking, None, args.top as i64).await?);
        let st = store.bundle_status(args.bundle, None).await?.context("bundle status")?;
        writeln!(
            out,
            "bundle {}: {:?}, {} of {} variants stored",
            args.bundle, st.status, st.variants_done, st.variant_count
        )?;
        let order: Vec<usize> = (0..top.len()).collect();
        print_table(out, &bundle, &top, &order)?;
        if let Some(p) = &args.out {
            let rows = all_results(&store, args.bundle).await?;
            let all = to_results(rows);
            write_results(p, &bundle, &all)?;
            writeln!(out, "{} rows -> {}", all.len(), p.display())?;
        }
        Ok(())
    })
}

// ---------------------------------------------------------------- bt serve

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Address to listen on.
    #[arg(long, env = "BT_API_ADDR", default_value = "127.0.0.1:8080")]
    addr: std::net::SocketAddr,
    /// Where new bundles run: queue (compute workers), inline (this process's
    /// workers) or split:PERCENT (that share inline, decided per bundle).
    #[arg(long, env = "BT_EXECUTION", default_value = "queue", value_parser = parse_policy)]
    execution: bt_api::ExecutionPolicy,
    /// Jobs this process runs itself (inline bundles, and queued ones too);
    /// with --workers N alone, bt serve is a complete single-machine system.
    #[arg(long, env = "BT_API_WORKERS", default_value_t = 0)]
    workers: usize,
    /// Threads of the in-process backtest pool [default: all cores].
    #[arg(long, env = "BT_THREADS")]
    threads: Option<usize>,
    /// Root of the dataset catalog.
    #[arg(long, env = "BT_CATALOG", default_value = "data")]
    catalog: PathBuf,
    /// Largest request body, bytes (larger answers 413).
    #[arg(long, env = "BT_MAX_BODY_BYTES", default_value_t = 1 << 20)]
    max_body_bytes: usize,
    /// Most variants one bundle may expand to (more answers 422).
    #[arg(long, env = "BT_MAX_VARIANTS", default_value_t = 10_000_000)]
    max_variants: u64,
    /// Bars x variants per job.
    #[arg(long, default_value_t = DEFAULT_JOB_BAR_VARIANTS)]
    job_size: u64,
    /// Most variants per job.
    #[arg(long, env = "BT_MAX_JOB_VARIANTS", default_value_t = bt_queue::MAX_JOB_VARIANTS)]
    max_job_variants: u64,
    /// A worker's memory, e.g. `4GB`: bundles one variant of which needs more
    /// answer 422; also the in-process workers' limit [default: the cgroup
    /// limit, else the available memory, times 0.8].
    #[arg(long, env = "BT_MEMORY_LIMIT")]
    memory_limit: Option<String>,
    /// Seconds an API key lookup is cached (a revoked key works this long at most).
    #[arg(long, env = "BT_KEY_CACHE_SECONDS", default_value_t = 5.0)]
    key_cache_seconds: f64,
    /// Database connections of the API.
    #[arg(long, env = "BT_API_DB_CONNECTIONS", default_value_t = 32)]
    db_connections: u32,
    /// Requests per minute per API key, for keys without their own
    /// --rate-limit (bursts of 10 s worth); 0: no limit. Over it answers 429.
    #[arg(long, env = "BT_KEY_RATE_LIMIT", default_value_t = bt_api::limit::RateLimits::default().key_per_minute)]
    key_rate_limit: u32,
    /// Requests per minute per client address that do not authenticate (no,
    /// unknown or revoked key; IPv6 per /64); while an address is over it, keys
    /// the server has not seen valid are not looked up. 0: no limit.
    #[arg(long, env = "BT_ANONYMOUS_RATE_LIMIT", default_value_t = bt_api::limit::RateLimits::default().anonymous_per_minute)]
    anonymous_rate_limit: u32,
    /// After SIGTERM, seconds in-process jobs may finish before they are released.
    #[arg(long, env = "BT_SHUTDOWN_GRACE_SECONDS", default_value_t = 30.0)]
    shutdown_grace_seconds: f64,
    /// Requests doing CPU work at once (parsing, expanding and planning a
    /// bundle; recomputing a variant), on blocking threads.
    #[arg(long, env = "BT_API_COMPUTE_SLOTS", default_value_t = 4)]
    compute_slots: usize,
    /// Seconds a request waits for a compute slot before it answers 503
    /// with Retry-After.
    #[arg(long, env = "BT_API_COMPUTE_WAIT_SECONDS", default_value_t = 2.0)]
    compute_wait_seconds: f64,
}

fn parse_policy(s: &str) -> Result<bt_api::ExecutionPolicy, String> {
    s.parse()
}

pub fn serve(args: ServeArgs) -> Result<()> {
    use bt_queue::Execution;
    if !args.key_cache_seconds.is_finite() || !(0.0..=3600.0).contains(&args.key_cache_seconds) {
        bail!("BT_KEY_CACHE_SECONDS: {} is out of range (0 to 3600)", args.key_cache_seconds);
    }
    if args.workers == 0 && args.execution != bt_api::ExecutionPolicy::Queue {
        bail!("--execution inline or split needs --workers N (N >= 1) to run the inline bundles");
    }
    if args.max_body_bytes < 1024 || args.db_connections == 0 || args.job_size == 0 {
        bail!("--max-body-bytes must be at least 1024, --db-connections and --job-size at least 1");
    }
    if args.max_job_variants == 0 {
        bail!("BT_MAX_JOB_VARIANTS must be at least 1");
    }
    if args.compute_slots == 0 {
        bail!("BT_API_COMPUTE_SLOTS must be at least 1");
    }
    if !args.compute_wait_seconds.is_finite() || !(0.0..=600.0).contains(&args.compute_wait_seconds) {
        bail!("BT_API_COMPUTE_WAIT_SECONDS: {} is out of range (0 to 600)", args.compute_wait_seconds);
    }
    let memory_limit =
        MemoryLimit::resolve(args.memory_limit.as_deref()).map_err(|e| anyhow!("BT_MEMORY_LIMIT: {e}"))?;
    let worker_cfg = if args.workers > 0 {
        let wa = WorkerArgs {
            database_url: args.db.database_url.clone(),
            worker_id: Some(format!("{}-{}-api", bt_service::host_name(), std::process::id())),
            max_concurrent_backtests: args.workers,
            job_poll_interval_seconds: 5.0,
            heartbeat_interval_seconds: 30.0,
            threads: args.threads,
            catalog: args.catalog.clone(),
            http_addr: "off".into(),
            shutdown_grace_seconds: args.shutdown_grace_seconds,
            heartbeat_timeout_seconds: 90.0,
            lock_grace_seconds: 0.25,
            rescue_interval_seconds: 0.5,
            dataset_cache: 4,
            memory_limit: args.memory_limit.clone(),
        };
        let mut cfg = WorkerConfig::from_args(&wa)?;
        cfg.lanes = vec![Execution::Inline, Execution::Queue];
        Some(cfg)
    } else {
        None
    };
    if !args.catalog.is_dir() {
        bail!("BT_CATALOG: {} is not a directory", args.catalog.display());
    }
    let opts: sqlx::postgres::PgConnectOptions =
        args.db.database_url.parse().context("DATABASE_URL: not a PostgreSQL URL")?;
    let opts = opts.application_name("bt-serve");
    let api_cfg = bt_api::ApiConfig {
        catalog: args.catalog.clone(),
        execution: args.execution,
        max_body_bytes: args.max_body_bytes,
        max_variants: args.max_variants,
        job_bar_variants: args.job_size,
        max_job_variants: args.max_job_variants,
        memory_limit: Some(memory_limit.bytes),
        max_attempts: 3,
        key_cache: Duration::from_secs_f64(args.key_cache_seconds),
        rate_limits: bt_api::limit::RateLimits {
            key_per_minute: args.key_rate_limit,
            anonymous_per_minute: args.anonymous_rate_limit,
        },
        compute_slots: args.compute_slots,
        compute_wait: Duration::from_secs_f64(args.compute_wait_seconds),
        ..bt_api::ApiConfig::default()
    };
    runtime()?.block_on(async move {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(args.db_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(opts);
        let store = Store::new(pool);
        let (phase_tx, phase_rx) = tokio::sync::watch::channel(Phase::Running);
        let worker = worker_cfg.map(Worker::new).transpose()?;
        let app = bt_api::router(store, api_cfg, phase_rx, |r| {
            if let Some(w) = &worker {
                w.register_metrics(r);
            }
        });
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("BT_API_ADDR {}: cannot listen", args.addr))?;
        tracing::info!(addr = %listener.local_addr()?, execution = ?args.execution, workers = args.workers, "bt serve listening");
        let worker_handle = worker.as_ref().map(Worker::shutdown);
        let worker_task = worker.map(|w| tokio::spawn(w.run()));
        let stop = async move {
            wait_for_signal().await;
            tracing::info!("shutting down: no new requests; draining in-process jobs");
            let _ = phase_tx.send(Phase::Draining);
            if let Some(h) = &worker_handle {
                h.drain();
                tokio::spawn(on_signals(h.clone()));
            }
        };
        // With each connection's peer address: the rate limit of requests without a key.
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, app).with_graceful_shutdown(stop).await.context("HTTP server")?;
        if let Some(t) = worker_task {
            t.await.context("in-process worker")??;
        }
        tracing::info!("bt serve stopped");
        Ok(())
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    else {
        tracing::error!("cannot install signal handlers");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

// ---------------------------------------------------------------- bt keys

#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Mint a key for an owner; prints the key once (only its hash is stored).
    /// The limits default to an ordinary key's.
    Create {
        #[arg(long)]
        owner: String,
        #[command(flatten)]
        limits: KeyLimitArgs,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a key by its id.
    Revoke {
        id: Uuid,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Every key's id, owner and dates (never the key).
    List {
        #[command(flatten)]
        db: DbArgs,
    },
}

/// The limits stored with a new key (0: no limit, for the counts and the rate).
#[derive(Debug, Args)]
pub struct KeyLimitArgs {
    /// Bundles of the owner not yet ended (more answers 429).
    #[arg(long, value_name = "N", default_value_t = KeyLimits::default().max_active_bundles.unsigned_abs())]
    max_active_bundles: u32,
    /// Jobs of the owner not yet ended, a new bundle's included (more answers 429).
    #[arg(long, value_name = "N", default_value_t = KeyLimits::default().max_queued_jobs.unsigned_abs())]
    max_queued_jobs: u64,
    /// Variants of one bundle, below the server's --max-variants (more answers 422);
    /// 0: the server's limit only.
    #[arg(long, value_name = "N", default_value_t = KeyLimits::default().max_variants.unsigned_abs())]
    max_variants: u64,
    /// Lowest priority the owner's bundles get (a lower request is raised to it).
    #[arg(long, value_name = "N", allow_negative_numbers = true, default_value_t = KeyLimits::default().min_priority)]
    min_priority: i32,
    /// Highest priority the owner's bundles get (a higher request is lowered to it).
    #[arg(long, value_name = "N", allow_negative_numbers = true, default_value_t = KeyLimits::default().max_priority)]
    max_priority: i32,
    /// Requests per minute with this key [default: the server's --key-rate-limit].
    #[arg(long, value_name = "N")]
    rate_limit: Option<u32>,
}

impl KeyLimitArgs {
    fn limits(&self) -> Result<KeyLimits> {
        if self.min_priority > self.max_priority {
            bail!("--min-priority {} is above --max-priority {}", self.min_priority, self.max_priority);
        }
        let int = |flag: &str, v: u64| i32::try_from(v).with_context(|| format!("{flag} {v} is too large"));
        Ok(KeyLimits {
            max_active_bundles: int("--max-active-bundles", self.max_active_bundles.into())?,
            max_queued_jobs: i64::try_from(self.max_queued_jobs).context("--max-queued-jobs is too large")?,
            max_variants: i64::try_from(self.max_variants).context("--max-variants is too large")?,
            min_priority: self.min_priority,
            max_priority: self.max_priority,
            rate_limit: self.rate_limit.map(|r| int("--rate-limit", r.into())).transpose()?,
        })
    }
}

/// `20` or `none` (0 is no limit).
fn limit_text(v: i64) -> String {
    if v == 0 { "none".into() } else { v.to_string() }
}

pub fn keys(cmd: KeysCommand, out: &mut impl Write) -> Result<()> {
    runtime()?.block_on(async {
        match cmd {
            KeysCommand::Create { owner, limits, db } => {
                let owner = owner.trim().to_owned();
                if owner.is_empty() || owner.len() > 200 {
                    bail!("--owner must be 1 to 200 characters");
                }
                let limits = limits.limits()?;
                let (id, key) = bt_api::auth::mint();
                db.store().await?.insert_api_key_with(id, &owner, &bt_api::auth::hash(&key), &limits).await?;
                writeln!(out, "{key}")?;
                let _ = writeln!(std::io::stderr(), "key {id} for {owner}: shown once, stored hashed");
            }
            KeysCommand::Revoke { id, db } => match db.store().await?.revoke_api_key(id).await? {
                Some(owner) => writeln!(out, "revoked key {id} of {owner}")?,
                None => bail!("no live key {id}"),
            },
            KeysCommand::List { db } => {
                for k in db.store().await?.list_api_keys().await? {
                    let revoked = k.revoked_at.map_or_else(|| "-".to_owned(), |t| t.to_rfc3339());
                    let l = &k.limits;
                    let rate = l.rate_limit.map_or_else(|| "server".to_owned(), |r| limit_text(r.into()));
                    writeln!(
                        out,
                        "{} {} created {} revoked {revoked} active_bundles {} queued_jobs {} variants {} priority {}..{} rate {rate}",
                        k.id,
                        k.owner,
                        k.created_at.to_rfc3339(),
                        limit_text(l.max_active_bundles.into()),
                        limit_text(l.max_queued_jobs),
                        limit_text(l.max_variants),
                        l.min_priority,
                        l.max_priority,
                    )?;
                }
            }
        }
        Ok(())
    })
}
