//! bt's services around the engine and the job store: the compute worker
//! (`bt work`), bundle submission, and the health, readiness and metrics
//! endpoints every process serves.
//!
//! The worker is a thin tokio shell: claiming, heartbeats, progress, rescue
//! and shutdown are async; the backtests themselves run on a rayon pool,
//! never on tokio's threads.

pub mod config;
pub mod datasets;
pub mod detail;
pub mod http;
pub mod liveness;
pub mod memory;
pub mod metrics;
pub mod results;
pub mod submit;
pub mod worker;

pub use config::{WorkerArgs, WorkerConfig};
pub use worker::{Phase, Worker};

/// This machine's host name (for default worker ids), or `"localhost"`.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}
