//! Row types and the store's error.

use bt_metrics::{Metrics, Value};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A job's state: the PostgreSQL enum `backtest_job_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(type_name = "backtest_job_status", rename_all = "lowercase")]
pub enum JobStatus {
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
}

/// A bundle's state: the PostgreSQL enum `bundle_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(type_name = "bundle_status", rename_all = "lowercase")]
pub enum BundleStatus {
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
}

/// A bundle's execution path, and the lane of its jobs: `Queue` jobs run on
/// any worker, `Inline` ones only on the API process's own workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Execution {
    #[default]
    Queue,
    Inline,
}

impl Execution {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queue => "queue",
            Self::Inline => "inline",
        }
    }
}

impl BundleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Completed, failed or cancelled.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("a bundle needs at least one job")]
    NoJobs,
    #[error("cannot rank results by {0:?}: not a metric column")]
    BadSort(String),
    #[error("job {index}: variant range {start}..{end} is empty or negative")]
    BadRange { index: usize, start: i64, end: i64 },
    /// A call that did not finish in time (a frozen network path).
    #[error("the database did not answer within {0:?}")]
    Timeout(std::time::Duration),
}

impl StoreError {
    /// Worth retrying as it is: the connection or the server's state, not
    /// the statement. By SQLSTATE for errors the server reports: connection
    /// exceptions (class 08), an administrator's shutdown or a server that
    /// cannot take connections yet (57P01-57P03, as after a restart or a
    /// failover), serialization failures and deadlocks (40001, 40P01), too
    /// many connections (53300); and every error of the link itself (IO,
    /// TLS, a pool timeout, a protocol error from a cut connection).
    pub fn is_transient(&self) -> bool {
        let e = match self {
            Self::Db(e) => e,
            Self::Timeout(_) => return true,
            _ => return false,
        };
        match e {
            sqlx::Error::Database(d) => d.code().is_some_and(|c| transient_sqlstate(&c)),
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            _ => false,
        }
    }
}

/// See [`StoreError::is_transient`].
pub fn transient_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "40001" | "40P01" | "53300")
}

/// One job to enqueue: a dataset and a range `[variant_start, variant_end)` of
/// the bundle's variants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub dataset_index: i32,
    pub ticker: String,
    pub timeframe: String,
    pub variant_start: i64,
    pub variant_end: i64,
}

/// A bundle and its jobs, enqueued in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBundle {
    pub id: Uuid,
    pub owner: String,
    pub name: String,
    pub spec: serde_json::Value,
    pub variant_count: i64,
    /// Higher runs first.
    pub priority: i32,
    pub max_attempts: i32,
    pub execution: Execution,
    pub jobs: Vec<NewJob>,
}

/// A claimed job. `attempt` fences every later write of this run.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Job {
    pub id: i64,
    pub bundle_id: Uuid,
    pub dataset_index: i32,
    pub ticker: String,
    pub timeframe: String,
    pub variant_start: i64,
    pub variant_end: i64,
    pub priority: i32,
    pub attempt: i32,
    pub max_attempts: i32,
    pub created_at: DateTime<Utc>,
}

/// One variant's metrics, as stored in `backtest_results`: a column per
/// [`MetricName`] (declared once, in `bt-metrics`), and the two flags.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResultRow {
    pub variant: i64,
    pub metrics: Metrics,
}

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for ResultRow {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row;
        let metrics = Metrics::try_from_values(
            |m| match m.is_integer() {
                true => row.try_get::<i64, _>(m.as_str()).map(Value::Int),
                false => row.try_get::<f64, _>(m.as_str()).map(Value::Float),
            },
            row.try_get("open_position")?,
            row.try_get("liquidated")?,
        )?;
        Ok(Self { variant: row.try_get("variant")?, metrics })
    }
}

/// A job the rescuer put back (or failed, at max attempts).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Rescued {
    pub id: i64,
    pub bundle_id: Uuid,
    pub attempt: i32,
    pub status: JobStatus,
}

/// A bundle's state, job counts and progress.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct BundleProgress {
    pub id: Uuid,
    pub owner: String,
    pub name: String,
    pub status: BundleStatus,
    pub execution: Execution,
    pub variant_count: i64,
    pub job_count: i32,
    pub priority: i32,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub pending: i64,
    pub running: i64,
    pub completed: i64,
    pub failed: i64,
    pub cancelled: i64,
    pub variants_done: i64,
    /// The database's clock when read (for the ETA).
    pub now: DateTime<Utc>,
}

impl BundleProgress {
    /// Variants done as a fraction of all (1 for an empty bundle).
    pub fn fraction(&self) -> f64 {
        if self.variant_count == 0 { 1.0 } else { self.variants_done as f64 / self.variant_count as f64 }
    }

    /// Time left at the throughput so far (variants done since the start);
    /// `None` before any progress or once finished.
    pub fn eta(&self) -> Option<std::time::Duration> {
        let started = self.started_at?;
        if self.finished_at.is_some() || self.variants_done <= 0 {
            return None;
        }
        let elapsed = (self.now - started).to_std().ok()?.as_secs_f64();
        let rate = self.variants_done as f64 / elapsed.max(1e-3);
        let left = (self.variant_count - self.variants_done).max(0) as f64;
        Some(std::time::Duration::from_secs_f64(left / rate))
    }
}

/// Jobs per status and the oldest pending job's age, for monitoring.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueueDepth {
    pub pending: i64,
    pub running: i64,
    pub completed: i64,
    pub failed: i64,
    pub cancelled: i64,
    pub oldest_pending_seconds: f64,
}

/// A bundle in a listing (no job counts).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct BundleSummary {
    pub id: Uuid,
    pub name: String,
    pub status: BundleStatus,
    pub execution: Execution,
    pub variant_count: i64,
    pub job_count: i32,
    pub priority: i32,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

/// What cancelling a bundle did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// No such bundle of this owner.
    NotFound,
    /// Cancelled now: pending jobs at once, running ones at their next heartbeat.
    Cancelled,
    /// It had already ended with this status; nothing changed.
    AlreadyEnded(BundleStatus),
}

/// Bundles of one execution path and status, with run times of those that
/// ended in the last hour.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct BundleStat {
    pub execution: Execution,
    pub status: BundleStatus,
    pub bundles: i64,
    pub p50_seconds: f64,
    pub p95_seconds: f64,
}

/// An API key's record (the key itself is never stored).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ApiKey {
    pub id: Uuid,
    pub owner: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    #[sqlx(flatten)]
    pub limits: KeyLimits,
}

/// The limits stored with an API key (columns of `api_keys`, migration 0003).
/// Counts use 0 for "no limit".
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct KeyLimits {
    /// Bundles of the owner not yet ended (pending or running).
    pub max_active_bundles: i32,
    /// Jobs of the owner not yet ended, the new bundle's included.
    pub max_queued_jobs: i64,
    /// Variants of one bundle (0: only the server's limit).
    pub max_variants: i64,
    /// The priorities the owner may submit at (a request is clamped into them).
    pub min_priority: i32,
    pub max_priority: i32,
    /// Requests per minute; `None`: the server's default, `Some(0)`: no limit.
    pub rate_limit: Option<i32>,
}

impl Default for KeyLimits {
    /// An ordinary key's: also the columns' defaults in migration 0003.
    fn default() -> Self {
        Self {
            max_active_bundles: 20,
            max_queued_jobs: 10_000,
            max_variants: 0,
            min_priority: 0,
            max_priority: 10,
            rate_limit: None,
        }
    }
}

impl KeyLimits {
    /// No limit on counts, any priority, no rate limit: an operator's key.
    pub fn unlimited() -> Self {
        Self {
            max_active_bundles: 0,
            max_queued_jobs: 0,
            max_variants: 0,
            min_priority: i32::MIN,
            max_priority: i32::MAX,
            rate_limit: Some(0),
        }
    }

    /// `priority` moved into `[min_priority, max_priority]`.
    pub fn clamp_priority(&self, priority: i32) -> i32 {
        priority.clamp(self.min_priority, self.max_priority.max(self.min_priority))
    }

    /// Whether a new bundle of `new_jobs` jobs fits beside what the owner
    /// already has (`new_jobs` = 1 asks whether any bundle could).
    pub fn admit(&self, usage: OwnerUsage, new_jobs: i64) -> Result<(), QuotaExceeded> {
        let over = |limit: &'static str, allowed: i64, used: i64, adding: i64| {
            (allowed > 0 && used + adding > allowed).then_some(QuotaExceeded { limit, allowed, used, adding })
        };
        match over("max_active_bundles", self.max_active_bundles.into(), usage.active_bundles, 1)
            .or_else(|| over("max_queued_jobs", self.max_queued_jobs, usage.queued_jobs, new_jobs))
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// A live key's owner and limits (what the API's key cache holds).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LiveKey {
    pub id: Uuid,
    pub owner: String,
    #[sqlx(flatten)]
    pub limits: KeyLimits,
}

/// What an owner has in the queue now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct OwnerUsage {
    /// Bundles pending or running.
    pub active_bundles: i64,
    /// Jobs pending or running.
    pub queued_jobs: i64,
}

/// A submission over one of its owner's limits: `limit` allows `allowed`,
/// `used` are in use and the submission would add `adding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{limit}: {used} in use + {adding} new would be more than the {allowed} allowed")]
pub struct QuotaExceeded {
    pub limit: &'static str,
    pub allowed: i64,
    pub used: i64,
    pub adding: i64,
}

/// What [`crate::Store::enqueue_bundle_within`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Enqueued,
    Refused(QuotaExceeded),
}
