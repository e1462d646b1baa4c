//! `bt work`: claim jobs, run their variants on the rayon pool, heartbeat,
//! report progress, complete or fail them; rescue dead workers' jobs; drain
//! on shutdown. See ARCHITECTURE.md ("The worker") for the states a job goes
//! through and why each write is safe to retry.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bt_engine::bundle::{Bundle, BundleSpec, Limits};
use bt_engine::sweep::{SweepControl, SweepError, sweep_with_options};
use bt_queue::{Job, ResultRow, Store, StoreError};
use prometheus_client::registry::Registry;
use sqlx::postgres::PgPoolOptions;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, oneshot, watch};
use tokio::task::JoinSet;
use tracing::{Instrument, debug, error, info, info_span, warn};
use uuid::Uuid;

use crate::config::WorkerConfig;
use crate::datasets::DatasetCache;
use crate::http::{Probes, router, serve};
use crate::liveness::Liveness;
use crate::memory::job_options;
use crate::metrics::{QueueGauges, WorkerMetrics};
use crate::results::to_row;

/// Where a worker is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Claiming and running jobs.
    Running,
    /// Shutting down: no new claims; running jobs may finish within the grace period.
    Draining,
    /// Grace over: running jobs are stopped and released back to pending.
    Stopping,
}

/// Bundles kept parsed between jobs.
const BUNDLE_CACHE: usize = 16;

/// How long a job waits for the database to answer its bundle's spec
/// (a restart, a failover) before the attempt fails.
const SPEC_RETRY: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Ctx {
    cfg: WorkerConfig,
    store: Store,
    pool: rayon::ThreadPool,
    datasets: DatasetCache,
    bundles: Mutex<VecDeque<(Uuid, Arc<Bundle>)>>,
    liveness: Liveness,
    metrics: WorkerMetrics,
    phase: watch::Receiver<Phase>,
    wake: Notify,
}

/// A compute worker. [`Worker::run`] returns once it has drained.
#[derive(Debug)]
pub struct Worker {
    ctx: Arc<Ctx>,
    phase: Arc<watch::Sender<Phase>>,
    registry: Option<Registry>,
    queue: QueueGauges,
}

/// Handle to ask a running worker to shut down.
#[derive(Debug, Clone)]
pub struct Shutdown(Arc<watch::Sender<Phase>>);

impl Shutdown {
    /// Stop claiming; running jobs get the grace period.
    pub fn drain(&self) {
        self.0.send_if_modified(|p| {
            let change = *p == Phase::Running;
            if change {
                *p = Phase::Draining;
            }
            change
        });
    }

    /// Stop now: running jobs are released back to pending.
    pub fn stop(&self) {
        self.0.send_if_modified(|p| {
            let change = *p != Phase::Stopping;
            *p = Phase::Stopping;
            change
        });
    }

    pub fn phase(&self) -> Phase {
        *self.0.borrow()
    }
}

/// How one run of a job ended (before it is written to the store).
#[derive(Debug)]
enum Outcome {
    Done {
        rows: Vec<ResultRow>,
        bar_variants: u64,
    },
    Failed {
        reason: String,
        retryable: bool,
    },
    /// The bundle was cancelled.
    Cancelled,
    /// The run is no longer this worker's (rescued, or ended elsewhere).
    Lost,
    /// Shutdown: back to pending.
    Released,
}

fn failed(reason: impl Into<String>, retryable: bool) -> Outcome {
    Outcome::Failed { reason: reason.into(), retryable }
}

impl Worker {
    /// Builds the worker: thread pool, connection pool (connected lazily, so
    /// a worker started before its database waits for it) and metrics.
    pub fn new(cfg: WorkerConfig) -> anyhow::Result<Self> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(cfg.threads)
            .thread_name(|i| format!("bt-sim-{i}"))
            .build()?;
        let db = PgPoolOptions::new()
            .max_connections(cfg.max_concurrent as u32 * 2 + 6)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(cfg.database.clone());
        let store = Store::new(db);
        let (tx, rx) = watch::channel(Phase::Running);
        let metrics = WorkerMetrics::default();
        let queue = QueueGauges::new(Duration::from_secs(5));
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        queue.register(&mut registry);
        let ctx = Arc::new(Ctx {
            datasets: DatasetCache::new(cfg.catalog.clone(), cfg.dataset_cache),
            liveness: Liveness::new(cfg.database.clone()),
            bundles: Mutex::default(),
            store,
            pool,
            metrics,
            phase: rx,
            wake: Notify::new(),
            cfg,
        });
        Ok(Self { ctx, phase: Arc::new(tx), registry: Some(registry), queue })
    }

    /// The handle that drains or stops this worker.
    pub fn shutdown(&self) -> Shutdown {
        Shutdown(self.phase.clone())
    }

    pub fn store(&self) -> &Store {
        &self.ctx.store
    }

    /// Registers this worker's metrics in another registry (a process that
    /// serves its own `/metrics`, such as the API with in-process workers).
    pub fn register_metrics(&self, r: &mut Registry) {
        self.ctx.metrics.register(r);
    }

    /// Starts the HTTP endpoints (when configured) and returns their address.
    async fn start_http(&mut self, stop: oneshot::Receiver<()>) -> anyhow::Result<Option<SocketAddr>> {
        let Some(addr) = self.ctx.cfg.http_addr else { return Ok(None) };
        let probes = Arc::new(Probes {
            store: self.ctx.store.clone(),
            registry: self.registry.take().unwrap_or_default(),
            queue: std::mem::replace(&mut self.queue, QueueGauges::new(Duration::from_secs(5))),
            bundles: None,
            phase: self.ctx.phase.clone(),
        });
        let (bound, _task) = serve(addr, router(probes), async {
            let _ = stop.await;
        })
        .await
        .map_err(|e| anyhow::anyhow!("BT_HTTP_ADDR {addr}: cannot listen: {e}"))?;
        Ok(Some(bound))
    }

    /// Runs until shut down and drained: every job it claimed has ended,
    /// been released or been handed to the rescuer.
    pub async fn run(mut self) -> anyhow::Result<()> {
        let (http_stop, http_stop_rx) = oneshot::channel();
        let http = self.start_http(http_stop_rx).await?;
        let ctx = self.ctx.clone();
        let cfg = &ctx.cfg;
        info!(
            worker = %cfg.worker_id,
            max_concurrent = cfg.max_concurrent,
            threads = cfg.threads,
            catalog = %cfg.catalog.display(),
            http = ?http,
            "worker started"
        );
        match ctx.store.pool().acquire().await {
            Ok(_) => {}
            Err(e) => warn!(error = %e, "database unreachable at start; retrying in the background"),
        }
        let mut background = JoinSet::new();
        background.spawn(listen(ctx.clone()));
        background.spawn(rescue_loop(ctx.clone()));
        background.spawn(liveness_loop(ctx.clone()));
        background.spawn(grace_timer(ctx.clone(), self.phase.clone()));

        let slots = Arc::new(Semaphore::new(cfg.max_concurrent));
        let mut jobs = JoinSet::new();
        let mut phase = ctx.phase.clone();
        let mut backoff = Duration::from_millis(100);
        while *phase.borrow_and_update() == Phase::Running {
            while jobs.try_join_next().is_some() {}
            let first = tokio::select! {
                p = slots.clone().acquire_owned() => p?,
                _ = phase.changed() => continue,
            };
            let mut permits = vec![first];
            while let Ok(p) = slots.clone().try_acquire_owned() {
                permits.push(p);
            }
            let asked = permits.len();
            // On the liveness session: each job's lock is taken by the claim itself.
            match ctx.liveness.claim(&cfg.worker_id, asked as i64, &cfg.lanes).await {
                Ok(claimed) => {
                    backoff = Duration::from_millis(100);
                    let got = claimed.len();
                    for (job, permit) in claimed.into_iter().zip(permits.drain(..)) {
                        let span = info_span!(
                            "job",
                            job = job.id,
                            bundle = %job.bundle_id,
                            attempt = job.attempt,
                            worker = %cfg.worker_id
                        );
                        jobs.spawn(run_job(ctx.clone(), job, permit).instrument(span));
                    }
                    drop(permits);
                    if got < asked {
                        tokio::select! {
                            _ = ctx.wake.notified() => {}
                            _ = tokio::time::sleep(cfg.poll_interval) => {}
                            _ = phase.changed() => {}
                        }
                    }
                }
                Err(e) => {
                    drop(permits);
                    warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "claiming jobs failed");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = phase.changed() => {}
                    }
                    backoff = (backoff * 2).min(cfg.poll_interval);
                }
            }
        }
        info!(running = jobs.len(), "stopped claiming; waiting for running jobs");
        while jobs.join_next().await.is_some() {}
        background.abort_all();
        while background.join_next().await.is_some() {}
        let _ = http_stop.send(());
        info!("worker stopped");
        Ok(())
    }
}

/// Wakes the claim loop when a bundle is enqueued. Notifications sent while
/// the listener reconnects are lost; the poll interval covers them.
async fn listen(ctx: Arc<Ctx>) {
    loop {
        match ctx.store.listen_for_jobs().await {
            Ok(mut l) => loop {
                match l.recv().await {
                    Ok(_) => ctx.wake.notify_one(),
                    Err(e) => {
                        debug!(error = %e, "job notifications interrupted");
                        break;
                    }
                }
            },
            Err(e) => debug!(error = %e, "cannot listen for job notifications"),
        }
        tokio::time::sleep(ctx.cfg.poll_interval).await;
    }
}

/// Runs the rescuer every interval; only one process at a time gets past
/// its leader lock.
async fn rescue_loop(ctx: Arc<Ctx>) {
    let mut tick = tokio::time::interval(ctx.cfg.rescue_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match ctx.store.rescue(ctx.cfg.heartbeat_timeout, ctx.cfg.lock_grace).await {
            Ok(Some(rescued)) => {
                if !rescued.is_empty() {
                    // Back to pending: this worker may take them at once.
                    ctx.wake.notify_one();
                }
                for r in rescued {
                    ctx.metrics.rescued.inc();
                    info!(
                        job = r.id,
                        bundle = %r.bundle_id,
                        attempt = r.attempt,
                        status = ?r.status,
                        worker = %ctx.cfg.worker_id,
                        "job rescued"
                    );
                }
            }
            Ok(None) => {}
            Err(e) => debug!(error = %e, "rescue pass failed"),
        }
    }
}

/// Keeps the liveness session up (reconnecting and re-locking after the
/// database restarts).
async fn liveness_loop(ctx: Arc<Ctx>) {
    // Often enough that a cut session is back (with its locks) well before
    // the rescuer's second look.
    let every = (ctx.cfg.lock_grace / 2).min(crate::liveness::PING_EVERY);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Logged once per outage (the check runs 4 times a second), and once
    // when the session is back.
    let mut lost: Option<Instant> = None;
    loop {
        tick.tick().await;
        if ctx.liveness.held().await.is_empty() {
            continue;
        }
        match ctx.liveness.check().await {
            Err(e) if lost.is_none() => {
                warn!(error = %e, "liveness connection lost; reconnecting");
                lost = Some(Instant::now());
            }
            Err(e) => debug!(error = %e, "liveness connection still down"),
            Ok(()) => {
                if let Some(since) = lost.take() {
                    info!(down_s = since.elapsed().as_secs_f64(), "liveness connection back");
                }
            }
        }
    }
}

/// Once draining starts, waits out the grace period, then stops.
async fn grace_timer(ctx: Arc<Ctx>, tx: Arc<watch::Sender<Phase>>) {
    let mut phase = ctx.phase.clone();
    while *phase.borrow_and_update() == Phase::Running {
        if phase.changed().await.is_err() {
            return;
        }
    }
    info!(grace_s = ctx.cfg.shutdown_grace.as_secs_f64(), "draining: running jobs may finish");
    tokio::select! {
        _ = tokio::time::sleep(ctx.cfg.shutdown_grace) => {}
        _ = phase.wait_for(|p| *p == Phase::Stopping) => {}
    }
    if *phase.borrow() != Phase::Stopping {
        info!("grace period over: releasing running jobs");
    }
    Shutdown(tx).stop();
}

impl Ctx {
    /// A job's bundle, parsed once per worker (a few recent ones are kept).
    async fn bundle(&self, id: Uuid) -> Result<Arc<Bundle>, Outcome> {
        {
            let cache = self.bundles.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((_, b)) = cache.iter().find(|(k, _)| *k == id) {
                return Ok(b.clone());
            }
        }
        // A database that is restarting answers again within seconds: wait
        // for it rather than spend one of the job's attempts.
        let mut delay = Duration::from_millis(100);
        let since = Instant::now();
        let spec = loop {
            match self.store.bundle_spec(id).await {
                Ok(Some(s)) => break s,
                Ok(None) => return Err(failed(format!("bundle {id} does not exist"), false)),
                Err(e)
                    if e.is_transient()
                        && since.elapsed() < SPEC_RETRY
                        && *self.phase.borrow() == Phase::Running =>
                {
                    warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "reading the bundle spec failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                Err(e) => {
                    // The database's text stays in this log; the job's error (which
                    // users see in the bundle's) says what failed.
                    error!(error = %e, bundle = %id, "reading the bundle spec failed");
                    return Err(failed(
                        "reading the bundle spec failed (a database error; see the worker's log)",
                        true,
                    ));
                }
            }
        };
        let spec: BundleSpec =
            serde_json::from_value(spec).map_err(|e| failed(format!("invalid bundle spec: {e}"), false))?;
        let bundle = Bundle::new(spec, Limits { max_variants: u64::MAX })
            .map_err(|e| failed(format!("invalid bundle spec: {e}"), false))?;
        let bundle = Arc::new(bundle);
        let mut cache = self.bundles.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.push_back((id, bundle.clone()));
        if cache.len() > BUNDLE_CACHE {
            cache.pop_front();
        }
        Ok(bundle)
    }
}

async fn run_job(ctx: Arc<Ctx>, job: Job, _slot: OwnedSemaphorePermit) {
    let started = Instant::now();
    ctx.metrics.claimed.inc();
    ctx.metrics.running.inc();
    let wait = (chrono::Utc::now() - job.created_at).to_std().unwrap_or_default().as_secs_f64();
    ctx.metrics.queue_wait.observe(wait);
    info!(
        dataset = %format!("{}/{}", job.ticker, job.timeframe),
        variants = job.variant_end - job.variant_start,
        queue_wait_s = wait,
        "job claimed"
    );
    let outcome = execute(&ctx, &job).await;
    finish(&ctx, &job, outcome, started).await;
    ctx.liveness.unlock(job.id).await;
    ctx.metrics.running.dec();
    ctx.metrics.job_duration.observe(started.elapsed().as_secs_f64());
}

/// Loads what the job needs and runs its variants on the rayon pool,
/// heartbeating (with progress) meanwhile.
async fn execute(ctx: &Ctx, job: &Job) -> Outcome {
    let bundle = match ctx.bundle(job.bundle_id).await {
        Ok(b) => b,
        Err(o) => return o,
    };
    let ds = job.dataset_index as usize;
    let Some(d) = bundle.datasets.get(ds) else {
        return failed(
            format!("dataset index {ds} is not in the bundle ({} datasets)", bundle.datasets.len()),
            false,
        );
    };
    if d.ticker != job.ticker || d.timeframe.as_str() != job.timeframe {
        return failed(
            format!(
                "job dataset {}/{} is not the bundle's dataset {ds} ({}/{})",
                job.ticker, job.timeframe, d.ticker, d.timeframe
            ),
            false,
        );
    }
    let candles = match ctx.datasets.get(&d.ticker, d.timeframe, bundle.range).await {
        Ok(c) => c,
        Err(e @ bt_candles::Error::NotInCatalog { .. }) => return failed(e.to_string(), false),
        Err(e @ bt_candles::Error::Io { .. }) => return failed(e.to_string(), true),
        Err(e) => return failed(e.to_string(), false),
    };
    if candles.len() < 2 {
        return failed(
            format!(
                "{}/{}: {} bars in the bundle's time range; need at least 2",
                d.ticker,
                d.timeframe,
                candles.len()
            ),
            false,
        );
    }
    let range = job.variant_start as u64..job.variant_end as u64;
    let ctl = Arc::new(SweepControl::default());
    let (tx, mut rx) = oneshot::channel();
    {
        let (bundle, candles, ctl, range) = (bundle.clone(), candles.clone(), ctl.clone(), range.clone());
        let (limit, jobs, threads) = (ctx.cfg.memory_limit.bytes, ctx.cfg.max_concurrent, ctx.cfg.threads);
        ctx.pool.spawn(move || {
            // This job's share of the memory limit bounds its cache.
            let variants = range.end - range.start;
            let (opts, budget) = job_options(limit, jobs, threads, &bundle, candles.view(), variants);
            debug!(share = budget.share, cache = budget.cache, "memory budget");
            let r = sweep_with_options(&bundle, ds, candles.view(), range, &ctl, opts);
            let _ = tx.send(r);
        });
    }
    // Ticks at a quarter of the progress interval, so that writes come every
    // interval (not every other tick when a write lands just after one).
    let mut tick = tokio::time::interval(ctx.cfg.progress_interval / 4);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut phase = ctx.phase.clone();
    let mut watch_phase = true;
    let mut stop: Option<Outcome> = None;
    let (mut last_write, mut last_done, mut last_log) = (Instant::now(), 0u64, Instant::now());
    loop {
        tokio::select! {
            r = &mut rx => {
                if let Some(o) = stop {
                    return o;
                }
                return match r {
                    Ok(Ok(results)) => Outcome::Done {
                        bar_variants: candles.len() as u64 * results.len() as u64,
                        rows: results.iter().map(|r| to_row(r.index, &r.metrics)).collect(),
                    },
                    // A combination whose rules do not compile, or a data
                    // column the dataset lost since submission: permanent.
                    Ok(Err(e @ (SweepError::Range { .. } | SweepError::Strategy(_)))) => failed(e.to_string(), false),
                    Ok(Err(SweepError::Cancelled)) => failed("the run was cancelled unexpectedly", true),
                    Err(_) => failed("the backtest panicked", true),
                };
            }
            _ = tick.tick(), if stop.is_none() => {
                let done = ctl.done.load(Ordering::Relaxed);
                let since = last_write.elapsed();
                if since < ctx.cfg.heartbeat_interval && (done == last_done || since < ctx.cfg.progress_interval) {
                    continue;
                }
                match ctx.store.heartbeat(job, Some(done as i64)).await {
                    Ok(Some(false)) => {
                        (last_write, last_done) = (Instant::now(), done);
                        if last_log.elapsed() >= Duration::from_secs(10) {
                            last_log = Instant::now();
                            info!(done, of = range.end - range.start, "job progress");
                        }
                    }
                    Ok(Some(true)) => {
                        ctl.cancel.store(true, Ordering::Relaxed);
                        info!(done, "bundle cancelled: stopping the job");
                        stop = Some(Outcome::Cancelled);
                    }
                    Ok(None) => {
                        ctl.cancel.store(true, Ordering::Relaxed);
                        warn!(done, "the run is no longer this worker's (rescued or ended): stopping");
                        stop = Some(Outcome::Lost);
                    }
                    Err(e) => warn!(error = %e, "heartbeat failed; computing on"),
                }
            }
            changed = phase.changed(), if stop.is_none() && watch_phase => {
                if changed.is_err() {
                    watch_phase = false;
                } else if *phase.borrow() == Phase::Stopping {
                    ctl.cancel.store(true, Ordering::Relaxed);
                    info!("shutdown: stopping the job to release it");
                    stop = Some(Outcome::Released);
                }
            }
        }
    }
}

/// Writes how the run ended, retrying while the database is unreachable
/// (every write is fenced, so a retry after a lost reply is harmless).
async fn finish(ctx: &Ctx, job: &Job, outcome: Outcome, started: Instant) {
    let mut delay = Duration::from_millis(100);
    let mut stopping_since: Option<Instant> = None;
    let mut outcome = outcome;
    loop {
        let r: Result<(), StoreError> = match &outcome {
            Outcome::Done { rows, bar_variants } => ctx.store.complete(job, rows).await.map(|ok| {
                if ok {
                    ctx.metrics.completed.inc();
                    ctx.metrics.bar_variants.inc_by(*bar_variants);
                    info!(seconds = started.elapsed().as_secs_f64(), variants = rows.len(), "job completed");
                } else {
                    warn!("the run is no longer this worker's (rescued): its results are dropped");
                }
            }),
            Outcome::Failed { reason, retryable } => ctx.store.fail(job, reason, *retryable).await.map(|s| {
                ctx.metrics.failed.inc();
                match s {
                    Some(status) => warn!(reason = %reason, retryable, status = ?status, "job failed"),
                    None => warn!(reason = %reason, "job failed, but the run was no longer this worker's"),
                }
            }),
            Outcome::Cancelled => ctx.store.cancel_job(job).await.map(|_| {
                ctx.metrics.cancelled.inc();
                info!("job cancelled");
            }),
            Outcome::Released => ctx.store.release(job).await.map(|ok| {
                if ok {
                    ctx.metrics.released.inc();
                    info!("job released back to pending");
                }
            }),
            Outcome::Lost => Ok(()),
        };
        let e = match r {
            Ok(()) => return,
            Err(e) => e,
        };
        if !e.is_transient() {
            if let Outcome::Done { .. } = outcome {
                error!(error = %e, "storing the job's results failed");
                outcome = failed("storing the results failed (a database error; see the worker's log)", true);
                continue;
            }
            error!(error = %e, "writing the job's end failed; the rescuer will put it back");
            return;
        }
        if *ctx.phase.borrow() == Phase::Stopping {
            let since = *stopping_since.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_secs(10) {
                error!(error = %e, "database unreachable at shutdown; the rescuer will put the job back");
                return;
            }
        }
        warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "writing the job's end failed; retrying");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}
