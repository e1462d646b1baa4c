//! [`Store`]: one function per statement in `queries/`.

use std::sync::LazyLock;
use std::time::Duration;

use bt_metrics::MetricName;
use sqlx::postgres::{PgConnection, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::rank::{Bound, RankKey, Ranking};
use crate::types::{
    Admission, ApiKey, BundleProgress, BundleStat, BundleStatus, BundleSummary, CancelOutcome, Execution,
    Job, JobStatus, KeyLimits, LiveKey, NewBundle, OwnerUsage, QueueDepth, Rescued, ResultRow, StoreError,
};

type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How long a running job's heartbeat may be silent before the rescuer puts
/// it back, whatever its lock says (a hung worker).
pub const DEFAULT_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(90);

/// How long a running job must have been seen without its lock (on an
/// earlier rescue pass) before the rescuer puts it back: covers a live
/// worker's session reconnecting after a cut.
pub const DEFAULT_LOCK_GRACE: Duration = Duration::from_millis(250);

/// The metric columns of `backtest_results`, comma-separated, in
/// [`MetricName::ALL`] order: the `{metrics}` of `results.sql` and
/// `copy_results.sql`.
fn metric_columns() -> &'static str {
    static COLUMNS: LazyLock<String> =
        LazyLock::new(|| MetricName::ALL.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", "));
    &COLUMNS
}

/// Store settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoreConfig {
    /// First retry delay after a retryable failure; doubles per attempt, capped at an hour.
    pub retry_backoff: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self { retry_backoff: Duration::from_secs(5) }
    }
}

/// The job store over a connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
    config: StoreConfig,
}

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Self { pool, config: StoreConfig::default() }
    }

    pub fn with_config(mut self, config: StoreConfig) -> Self {
        self.config = config;
        self
    }

    /// Connects with a pool of at most `max_connections`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        let pool = PgPoolOptions::new().max_connections(max_connections).connect(url).await?;
        Ok(Self::new(pool))
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<()> {
        crate::MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// Versions of the applied migrations, oldest first (empty before the first).
    pub async fn applied_migrations(&self) -> Result<Vec<i64>> {
        let exists: bool = sqlx::query_scalar(sql!("migrations_table")).fetch_one(&self.pool).await?;
        if !exists {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_scalar(sql!("applied_migrations")).fetch_all(&self.pool).await?)
    }

    /// Reverts migrations down to (and excluding) `target` version; 0 reverts all.
    pub async fn migrate_down(&self, target: i64) -> Result<()> {
        crate::MIGRATOR.undo(&self.pool, target).await?;
        Ok(())
    }

    /// The bundle and all of its jobs in one transaction (the jobs in one
    /// statement over arrays), then a NOTIFY that wakes workers on commit.
    pub async fn enqueue_bundle(&self, b: &NewBundle) -> Result<()> {
        self.enqueue_bundle_within(b, None).await.map(|_| ())
    }

    /// [`Store::enqueue_bundle`] if the owner's bundles and jobs, this one's
    /// included, stay within `limits` ([`KeyLimits::admit`]); otherwise
    /// nothing is written. Counted under a per-owner lock, so concurrent
    /// submissions of one owner cannot together overshoot.
    pub async fn enqueue_bundle_within(
        &self,
        b: &NewBundle,
        limits: Option<&KeyLimits>,
    ) -> Result<Admission> {
        if b.jobs.is_empty() {
            return Err(StoreError::NoJobs);
        }
        if let Some((index, j)) =
            b.jobs.iter().enumerate().find(|(_, j)| j.variant_end <= j.variant_start || j.variant_start < 0)
        {
            return Err(StoreError::BadRange { index, start: j.variant_start, end: j.variant_end });
        }
        let mut tx = self.pool.begin().await?;
        if let Some(limits) = limits {
            sqlx::query(sql!("owner_lock")).bind(&b.owner).execute(&mut *tx).await?;
            let usage: OwnerUsage =
                sqlx::query_as(sql!("owner_usage")).bind(&b.owner).fetch_one(&mut *tx).await?;
            if let Err(e) = limits.admit(usage, b.jobs.len() as i64) {
                return Ok(Admission::Refused(e));
            }
        }
        sqlx::query(sql!("insert_bundle"))
            .bind(b.id)
            .bind(&b.owner)
            .bind(&b.name)
            .bind(&b.spec)
            .bind(b.variant_count)
            .bind(b.jobs.len() as i32)
            .bind(b.priority)
            .bind(b.execution)
            .execute(&mut *tx)
            .await?;
        let ds: Vec<i32> = b.jobs.iter().map(|j| j.dataset_index).collect();
        let tickers: Vec<&str> = b.jobs.iter().map(|j| j.ticker.as_str()).collect();
        let tfs: Vec<&str> = b.jobs.iter().map(|j| j.timeframe.as_str()).collect();
        let starts: Vec<i64> = b.jobs.iter().map(|j| j.variant_start).collect();
        let ends: Vec<i64> = b.jobs.iter().map(|j| j.variant_end).collect();
        let first_key: i64 = sqlx::query_scalar(sql!("fair_start"))
            .bind(&b.owner)
            .bind(b.jobs.len() as i64)
            .bind(b.priority)
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query(sql!("insert_jobs"))
            .bind(b.id)
            .bind(b.priority)
            .bind(b.max_attempts)
            .bind(&ds)
            .bind(&tickers)
            .bind(&tfs)
            .bind(&starts)
            .bind(&ends)
            .bind(b.execution)
            .bind(first_key)
            .execute(&mut *tx)
            .await?;
        sqlx::query(sql!("notify_jobs")).bind(b.id.to_string()).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Admission::Enqueued)
    }

    /// Claims up to `n` queue-lane jobs for `worker`: [`Store::claim_lanes`].
    pub async fn claim(&self, worker: &str, n: i64) -> Result<Vec<Job>> {
        self.claim_lanes(worker, n, &[Execution::Queue]).await
    }

    /// Claims up to `n` jobs of `lanes` for `worker` and marks their bundles
    /// running, in one transaction, on a pooled connection (no liveness
    /// locks: a worker claims through its [`Session`]).
    pub async fn claim_lanes(&self, worker: &str, n: i64, lanes: &[Execution]) -> Result<Vec<Job>> {
        let mut conn = self.pool.acquire().await?;
        Ok(claim_on(&mut conn, worker, n, lanes, false).await?.into_iter().map(|(j, _)| j).collect())
    }

    /// Fenced heartbeat, with the variants done when given. `Some(cancel)`
    /// when the run is still this one (and whether its bundle was cancelled),
    /// `None` when the job was rescued, released or ended meanwhile.
    pub async fn heartbeat(&self, job: &Job, progress: Option<i64>) -> Result<Option<bool>> {
        Ok(sqlx::query_scalar::<_, bool>(sql!("heartbeat"))
            .bind(job.id)
            .bind(job.attempt)
            .bind(progress)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn lock_bundle(tx: &mut Transaction<'static, Postgres>, bundle: Uuid) -> Result<()> {
        sqlx::query(sql!("lock_bundle")).bind(bundle).execute(&mut **tx).await?;
        Ok(())
    }

    async fn finish_bundle(
        tx: &mut Transaction<'static, Postgres>,
        bundle: Uuid,
    ) -> Result<Option<BundleStatus>> {
        Ok(sqlx::query_scalar::<_, BundleStatus>(sql!("finish_bundle"))
            .bind(bundle)
            .fetch_optional(&mut **tx)
            .await?)
    }

    /// Fenced completion: the job and its results in one transaction (results
    /// in one statement), and the bundle ended if this was its last job.
    /// `false` when the run is no longer this one (nothing is written).
    pub async fn complete(&self, job: &Job, results: &[ResultRow]) -> Result<bool> {
        Ok(self.complete_many(&[(job, results)]).await?.first().copied().unwrap_or(false))
    }

    /// Completes several runs in one transaction: the jobs in one statement,
    /// all their results in another, then their bundles ended if done.
    /// Returns, per run, whether it was still that run's to complete; results
    /// of runs that were not are not written.
    pub async fn complete_many(&self, done: &[(&Job, &[ResultRow])]) -> Result<Vec<bool>> {
        if done.is_empty() {
            return Ok(Vec::new());
        }
        let mut bundles: Vec<Uuid> = done.iter().map(|(j, _)| j.bundle_id).collect();
        bundles.sort();
        bundles.dedup();
        let mut tx = self.pool.begin().await?;
        // Bundles first (in id order), then jobs: the lock order of every writer.
        for b in &bundles {
            Self::lock_bundle(&mut tx, *b).await?;
        }
        let ids: Vec<i64> = done.iter().map(|(j, _)| j.id).collect();
        let attempts: Vec<i32> = done.iter().map(|(j, _)| j.attempt).collect();
        let applied: Vec<i64> =
            sqlx::query_scalar(sql!("complete_jobs")).bind(&ids).bind(&attempts).fetch_all(&mut *tx).await?;
        let ok: Vec<bool> = ids.iter().map(|id| applied.contains(id)).collect();
        let rows: Vec<(&Job, &ResultRow)> = done
            .iter()
            .zip(&ok)
            .filter(|(_, ok)| **ok)
            .flat_map(|((job, results), _)| results.iter().map(move |r| (*job, r)))
            .collect();
        if !rows.is_empty() {
            copy_results(&mut tx, &rows).await?;
        }
        for b in &bundles {
            Self::finish_bundle(&mut tx, *b).await?;
        }
        tx.commit().await?;
        Ok(ok)
    }

    /// Fenced failure with a reason. Retryable failures go back to pending
    /// (with exponential backoff) while attempts remain. Returns the job's new
    /// status, or `None` when the run is no longer this one.
    pub async fn fail(&self, job: &Job, reason: &str, retryable: bool) -> Result<Option<JobStatus>> {
        let mut tx = self.pool.begin().await?;
        Self::lock_bundle(&mut tx, job.bundle_id).await?;
        let row = sqlx::query_as::<_, (Uuid, JobStatus)>(sql!("fail_job"))
            .bind(job.id)
            .bind(job.attempt)
            .bind(reason)
            .bind(retryable)
            .bind(self.config.retry_backoff.as_secs_f64())
            .fetch_optional(&mut *tx)
            .await?;
        if let Some((_, JobStatus::Failed)) = row {
            Self::finish_bundle(&mut tx, job.bundle_id).await?;
        }
        tx.commit().await?;
        Ok(row.map(|r| r.1))
    }

    /// Fenced release back to pending (graceful shutdown); does not use up an attempt.
    pub async fn release(&self, job: &Job) -> Result<bool> {
        let row = sqlx::query_scalar::<_, Uuid>(sql!("release_job"))
            .bind(job.id)
            .bind(job.attempt)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Fenced stop of a run whose bundle was cancelled.
    pub async fn cancel_job(&self, job: &Job) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        Self::lock_bundle(&mut tx, job.bundle_id).await?;
        let row = sqlx::query_scalar::<_, Uuid>(sql!("cancel_job"))
            .bind(job.id)
            .bind(job.attempt)
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row.is_some())
    }

    /// Cancels an owner's bundle: pending jobs at once, running jobs at their
    /// worker's next heartbeat. A bundle that had already ended keeps its status.
    pub async fn cancel_bundle(&self, id: Uuid, owner: &str) -> Result<CancelOutcome> {
        let mut tx = self.pool.begin().await?;
        let exists =
            sqlx::query_scalar::<_, Uuid>(sql!("lock_bundle")).bind(id).fetch_optional(&mut *tx).await?;
        if exists.is_none() {
            return Ok(CancelOutcome::NotFound);
        }
        let cancelled = sqlx::query_scalar::<_, BundleStatus>(sql!("cancel_bundle"))
            .bind(id)
            .bind(owner)
            .fetch_optional(&mut *tx)
            .await?;
        if cancelled.is_some() {
            sqlx::query(sql!("cancel_pending_jobs")).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        if cancelled.is_some() {
            return Ok(CancelOutcome::Cancelled);
        }
        Ok(match self.bundle_status(id, Some(owner)).await? {
            Some(b) => CancelOutcome::AlreadyEnded(b.status),
            None => CancelOutcome::NotFound,
        })
    }

    /// One page of an owner's bundles, newest first.
    pub async fn list_bundles(&self, owner: &str, limit: i64, offset: i64) -> Result<Vec<BundleSummary>> {
        Ok(sqlx::query_as::<_, BundleSummary>(sql!("list_bundles"))
            .bind(owner)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Bundles per execution path and status, with recent run times.
    pub async fn bundle_stats(&self) -> Result<Vec<BundleStat>> {
        Ok(sqlx::query_as::<_, BundleStat>(sql!("bundle_stats")).fetch_all(&self.pool).await?)
    }

    /// Stores a new API key of `owner` by its SHA-256, with an ordinary
    /// key's limits ([`KeyLimits::default`]).
    pub async fn insert_api_key(&self, id: Uuid, owner: &str, key_hash: &[u8]) -> Result<()> {
        self.insert_api_key_with(id, owner, key_hash, &KeyLimits::default()).await
    }

    /// Stores a new API key of `owner` by its SHA-256, with `limits`.
    pub async fn insert_api_key_with(
        &self,
        id: Uuid,
        owner: &str,
        key_hash: &[u8],
        limits: &KeyLimits,
    ) -> Result<()> {
        sqlx::query(sql!("insert_api_key"))
            .bind(id)
            .bind(owner)
            .bind(key_hash)
            .bind(limits.max_active_bundles)
            .bind(limits.max_queued_jobs)
            .bind(limits.max_variants)
            .bind(limits.min_priority)
            .bind(limits.max_priority)
            .bind(limits.rate_limit)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Revokes a key; its owner, or `None` when no such live key exists.
    pub async fn revoke_api_key(&self, id: Uuid) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(sql!("revoke_api_key")).bind(id).fetch_optional(&self.pool).await?)
    }

    /// The live key with this SHA-256: its id, owner and limits.
    pub async fn api_key(&self, key_hash: &[u8]) -> Result<Option<LiveKey>> {
        Ok(sqlx::query_as::<_, LiveKey>(sql!("api_key")).bind(key_hash).fetch_optional(&self.pool).await?)
    }

    /// What `owner` has in the queue now: bundles and jobs not yet ended.
    pub async fn owner_usage(&self, owner: &str) -> Result<OwnerUsage> {
        Ok(sqlx::query_as::<_, OwnerUsage>(sql!("owner_usage")).bind(owner).fetch_one(&self.pool).await?)
    }

    /// Every key's record.
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>> {
        Ok(sqlx::query_as::<_, ApiKey>(sql!("list_api_keys")).fetch_all(&self.pool).await?)
    }

    /// Puts back running jobs whose worker is gone: nobody holds their lock
    /// now, nor did on an earlier pass at least `lock_grace` ago (the first
    /// pass that finds a lock missing only marks the job; a live worker whose
    /// connection was cut takes its locks again, and clears the mark, long
    /// before the next), or their heartbeat is older than `heartbeat_timeout`.
    /// Jobs at max attempts fail with the reason. Wakes the workers when jobs
    /// went back to pending. Runs only in the process that wins the leader
    /// lock: `None` elsewhere.
    pub async fn rescue(
        &self,
        heartbeat_timeout: Duration,
        lock_grace: Duration,
    ) -> Result<Option<Vec<Rescued>>> {
        let mut tx = self.pool.begin().await?;
        let leader = sqlx::query_scalar::<_, bool>(sql!("leader_lock")).fetch_one(&mut *tx).await?;
        if !leader {
            return Ok(None);
        }
        let rescued = sqlx::query_as::<_, Rescued>(sql!("rescue"))
            .bind(heartbeat_timeout.as_secs_f64())
            .bind(lock_grace.as_secs_f64())
            .fetch_all(&mut *tx)
            .await?;
        // The first look at jobs whose lock is missing (put back on a later
        // pass if it still is), and the mark taken off those whose lock is back.
        sqlx::query(sql!("mark_unlocked")).execute(&mut *tx).await?;
        sqlx::query(sql!("mark_started_bundles")).execute(&mut *tx).await?;
        if rescued.iter().any(|r| r.status == JobStatus::Pending) {
            // Wake every worker: the rescued jobs can run at once.
            sqlx::query(sql!("notify_jobs")).bind("rescued").execute(&mut *tx).await?;
        }
        tx.commit().await?;
        // Bundles whose last job just failed end now (each under its own lock,
        // after the jobs' locks are released: no lock-order inversion).
        let mut bundles: Vec<Uuid> =
            rescued.iter().filter(|r| r.status == JobStatus::Failed).map(|r| r.bundle_id).collect();
        bundles.sort();
        bundles.dedup();
        // Also any bundle a process left unfinished after its last job ended
        // (it died between the two transactions).
        let idle: Vec<Uuid> = sqlx::query_scalar(sql!("idle_bundles")).fetch_all(&self.pool).await?;
        bundles.extend(idle);
        bundles.sort();
        bundles.dedup();
        for b in bundles {
            let mut tx = self.pool.begin().await?;
            Self::lock_bundle(&mut tx, b).await?;
            Self::finish_bundle(&mut tx, b).await?;
            tx.commit().await?;
        }
        Ok(Some(rescued))
    }

    /// The spec a bundle was submitted with; `None` when no such bundle exists.
    pub async fn bundle_spec(&self, id: Uuid) -> Result<Option<serde_json::Value>> {
        Ok(sqlx::query_scalar(sql!("bundle_spec")).bind(id).fetch_optional(&self.pool).await?)
    }

    /// One page of a bundle's results in `ranking` (NaN last, ties by
    /// variant): at most `limit` rows after `after` (the first page when
    /// `None`). Pass the key of a page's last row ([`Ranking::key`]) to get
    /// the next one; a page costs the same at any depth.
    pub async fn results(
        &self,
        bundle: Uuid,
        ranking: &Ranking,
        after: Option<&RankKey>,
        limit: i64,
    ) -> Result<Vec<ResultRow>> {
        let text =
            sql!("results").replace("{metrics}", metric_columns()).replace("{key}", &ranking.key_sql());
        let (value, variant) = ranking.bounds(after);
        let q = sqlx::query_as::<_, ResultRow>(&text).bind(bundle);
        let q = match value {
            Bound::Float(x) => q.bind(x),
            Bound::Int(i) => q.bind(i),
        };
        Ok(q.bind(variant).bind(limit).fetch_all(&self.pool).await?)
    }

    /// A bundle with job counts and progress: an owner's (`None` for
    /// operator commands, which see every bundle).
    pub async fn bundle_status(&self, id: Uuid, owner: Option<&str>) -> Result<Option<BundleProgress>> {
        Ok(sqlx::query_as::<_, BundleProgress>(sql!("bundle_status"))
            .bind(id)
            .bind(owner)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Running jobs per worker, by worker id.
    pub async fn running_per_worker(&self) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as::<_, (String, i64)>(sql!("running_per_worker")).fetch_all(&self.pool).await?)
    }

    /// A listener subscribed to [`crate::JOBS_CHANNEL`]: `recv()` returns when
    /// a bundle is enqueued (the payload is its id). Workers wait on it, with
    /// polling as the fallback, since notifications sent while the listener
    /// reconnects are lost.
    pub async fn listen_for_jobs(&self) -> Result<sqlx::postgres::PgListener> {
        let mut l = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        l.listen(crate::JOBS_CHANNEL).await?;
        Ok(l)
    }

    /// Jobs per status and the oldest pending job's age.
    pub async fn queue_depth(&self) -> Result<QueueDepth> {
        let rows =
            sqlx::query_as::<_, (JobStatus, i64, f64)>(sql!("queue_depth")).fetch_all(&self.pool).await?;
        let mut d = QueueDepth::default();
        for (status, n, oldest) in rows {
            match status {
                JobStatus::Pending => {
                    d.pending = n;
                    d.oldest_pending_seconds = oldest;
                }
                JobStatus::Running => d.running = n,
                JobStatus::Completed => d.completed = n,
                JobStatus::Failed => d.failed = n,
                JobStatus::Cancelled => d.cancelled = n,
            }
        }
        Ok(d)
    }
}

/// Bytes of COPY data sent per message: results stream in chunks of this
/// size, so a job of any size stays far below PostgreSQL's 1 GiB message limit.
const COPY_CHUNK: usize = 1 << 20;

/// Writes results with `COPY ... FROM STDIN (FORMAT binary)` inside the
/// job's transaction: no statement size limit, and about 3x the rows per
/// second of an INSERT over arrays.
async fn copy_results(conn: &mut PgConnection, rows: &[(&Job, &ResultRow)]) -> Result<()> {
    static COPY: LazyLock<String> =
        LazyLock::new(|| sql!("copy_results").replace("{metrics}", metric_columns()));
    let mut copy = conn.copy_in_raw(&COPY).await?;
    let mut buf = Vec::with_capacity(COPY_CHUNK + 512);
    buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    buf.extend_from_slice(&0i32.to_be_bytes()); // flags
    buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
    for (job, r) in rows {
        crate::copy::encode_result(&mut buf, job.bundle_id, job.id, r);
        if buf.len() >= COPY_CHUNK {
            copy.send(std::mem::replace(&mut buf, Vec::with_capacity(COPY_CHUNK + 512))).await?;
        }
    }
    buf.extend_from_slice(&(-1i16).to_be_bytes()); // trailer
    copy.send(buf).await?;
    copy.finish().await?;
    Ok(())
}

/// Claims up to `n` jobs of `lanes` for `worker` on `conn` and marks their
/// bundles running, in one transaction; with `lock`, each job's session
/// advisory lock is taken in the claim statement (see `claim.sql`). Each job
/// comes with whether its lock was taken.
pub(crate) async fn claim_on(
    conn: &mut PgConnection,
    worker: &str,
    n: i64,
    lanes: &[Execution],
    lock: bool,
) -> Result<Vec<(Job, bool)>> {
    use sqlx::{Connection, FromRow, Row};
    let lanes: Vec<&str> = lanes.iter().map(|l| l.as_str()).collect();
    let mut tx = conn.begin().await?;
    let rows =
        sqlx::query(sql!("claim")).bind(worker).bind(n).bind(&lanes).bind(lock).fetch_all(&mut *tx).await?;
    let mut jobs = Vec::with_capacity(rows.len());
    for row in &rows {
        jobs.push((Job::from_row(row)?, row.try_get::<bool, _>("locked")?));
    }
    let mut bundles: Vec<Uuid> = jobs.iter().map(|(j, _)| j.bundle_id).collect();
    bundles.sort();
    bundles.dedup();
    if !bundles.is_empty() {
        sqlx::query(sql!("mark_bundles_running")).bind(&bundles).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(jobs)
}

/// A job's liveness lock, held by the session of `conn` until [`JobLock::release`]
/// or until the connection closes (a dead worker's locks vanish with it).
#[derive(Debug)]
pub struct JobLock {
    pub job_id: i64,
}

impl JobLock {
    pub async fn release(self, conn: &mut PgConnection) -> Result<()> {
        sqlx::query(sql!("job_unlock")).bind(self.job_id).execute(conn).await?;
        Ok(())
    }
}

/// Takes job `job_id`'s session advisory lock on `conn`; `None` if another
/// session holds it.
pub async fn lock_job(conn: &mut PgConnection, job_id: i64) -> Result<Option<JobLock>> {
    let got = sqlx::query_scalar::<_, bool>(sql!("job_lock")).bind(job_id).fetch_one(conn).await?;
    Ok(got.then_some(JobLock { job_id }))
}
