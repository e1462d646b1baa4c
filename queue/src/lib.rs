//! bt's durable job queue in PostgreSQL: bundles, their jobs and results, and
//! every state change a worker or the API makes.
//!
//! This is the only crate with SQL: one statement per file in `queries/`,
//! one function each on [`Store`]. Every write to a running job is fenced by
//! its attempt number (`WHERE id = $1 AND status = 'running' AND attempt = $2`)
//! and says whether it applied, so a worker whose job was rescued can never
//! overwrite the new run.
//!
//! Liveness: a worker holds a session advisory lock (key = job id) per running
//! job on a connection it keeps open ([`Session`], whose claim takes the locks
//! in the claim statement itself); [`Store::rescue`] (one process at a time,
//! under a leader lock) puts back running jobs whose lock nobody holds on two
//! looks a grace apart, or whose heartbeat is older than a timeout.

/// A statement of `queries/` by file name.
macro_rules! sql {
    ($name:literal) => {
        include_str!(concat!("../queries/", $name, ".sql"))
    };
}

mod charts;
mod copy;
mod plan;
mod rank;
mod session;
mod store;
mod types;

pub use bt_metrics::{MetricName, Metrics};
pub use charts::{AxisBins, HeatCell, ScatterBin, ScatterRange};
pub use plan::{MAX_JOB_VARIANTS, job_variants, plan_jobs};
pub use rank::{BadCursor, RankKey, Ranking};
pub use session::Session;
pub use store::{DEFAULT_HEARTBEAT_TIMEOUT, DEFAULT_LOCK_GRACE, JobLock, Store, StoreConfig, lock_job};
pub use types::{
    Admission, ApiKey, BundleProgress, BundleStat, BundleStatus, BundleSummary, CancelOutcome, Execution,
    Job, JobStatus, KeyLimits, LiveKey, NewBundle, NewJob, OwnerUsage, QueueDepth, QuotaExceeded, Rescued,
    ResultRow, StoreError, transient_sqlstate,
};

/// The migrations in `migrations/` at the workspace root, embedded.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// The channel `enqueue_bundle` notifies and workers listen on.
pub const JOBS_CHANNEL: &str = "bt_jobs";
