//! Prometheus metrics of a worker (and the queue gauges every bt process
//! serves), in the OpenMetrics text format. Names are documented in
//! `docs/operations.md`; a test scrapes a live worker for each.

use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use bt_queue::Store;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::sync::Mutex;

/// Job-status label of `bt_queue_jobs`.
pub type StatusLabel = [(&'static str, &'static str); 1];

/// What a worker counts.
#[derive(Debug, Clone)]
pub struct WorkerMetrics {
    pub claimed: Counter,
    pub completed: Counter,
    pub failed: Counter,
    pub rescued: Counter,
    pub released: Counter,
    pub cancelled: Counter,
    pub running: Gauge,
    pub job_duration: Histogram,
    pub queue_wait: Histogram,
    pub bar_variants: Counter,
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        Self {
            claimed: Counter::default(),
            completed: Counter::default(),
            failed: Counter::default(),
            rescued: Counter::default(),
            released: Counter::default(),
            cancelled: Counter::default(),
            running: Gauge::default(),
            // 10 ms to about 23 hours.
            job_duration: Histogram::new(exponential_buckets(0.01, 2.5, 16)),
            queue_wait: Histogram::new(exponential_buckets(0.01, 2.5, 16)),
            bar_variants: Counter::default(),
        }
    }
}

impl WorkerMetrics {
    pub fn register(&self, r: &mut Registry) {
        r.register("bt_jobs_claimed", "Jobs this worker claimed", self.claimed.clone());
        r.register("bt_jobs_completed", "Jobs this worker completed", self.completed.clone());
        r.register("bt_jobs_failed", "Job runs that failed on this worker", self.failed.clone());
        r.register(
            "bt_jobs_rescued",
            "Jobs of dead workers this worker's rescuer put back",
            self.rescued.clone(),
        );
        r.register("bt_jobs_released", "Jobs released back to pending on shutdown", self.released.clone());
        r.register(
            "bt_jobs_cancelled",
            "Running jobs stopped because their bundle was cancelled",
            self.cancelled.clone(),
        );
        r.register("bt_jobs_running", "Jobs running on this worker now", self.running.clone());
        r.register("bt_job_duration_seconds", "Claim to end of a job run", self.job_duration.clone());
        r.register("bt_job_queue_wait_seconds", "Enqueue to claim of a job", self.queue_wait.clone());
        r.register(
            "bt_bar_variants",
            "Bars x variants simulated by completed jobs",
            self.bar_variants.clone(),
        );
    }
}

/// Queue depth gauges, read from the store at most every `max_age`.
#[derive(Debug)]
pub struct QueueGauges {
    pub jobs: Family<StatusLabel, Gauge>,
    pub oldest_pending: Gauge<f64, AtomicU64>,
    max_age: Duration,
    last: Mutex<Option<Instant>>,
}

impl QueueGauges {
    pub fn new(max_age: Duration) -> Self {
        Self { jobs: Family::default(), oldest_pending: Gauge::default(), max_age, last: Mutex::new(None) }
    }

    pub fn register(&self, r: &mut Registry) {
        r.register("bt_queue_jobs", "Jobs in the queue by status", self.jobs.clone());
        r.register(
            "bt_queue_oldest_pending_seconds",
            "Age of the oldest pending job",
            self.oldest_pending.clone(),
        );
    }

    /// Refreshes from the store unless read less than `max_age` ago; a failed
    /// read keeps the old values (and is logged).
    pub async fn refresh(&self, store: &Store) {
        let mut last = self.last.lock().await;
        if last.is_some_and(|t| t.elapsed() < self.max_age) {
            return;
        }
        match tokio::time::timeout(Duration::from_secs(2), store.queue_depth()).await {
            Ok(Ok(d)) => {
                for (status, n) in [
                    ("pending", d.pending),
                    ("running", d.running),
                    ("completed", d.completed),
                    ("failed", d.failed),
                    ("cancelled", d.cancelled),
                ] {
                    self.jobs.get_or_create(&[("status", status)]).set(n);
                }
                self.oldest_pending.set(d.oldest_pending_seconds);
                *last = Some(Instant::now());
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "reading the queue depth failed"),
            Err(_) => tracing::warn!("reading the queue depth timed out"),
        }
    }
}

/// Path and status label of `bt_bundles`; path and quantile of `bt_bundle_duration_seconds`.
pub type PairLabel = [(&'static str, &'static str); 2];

/// Bundles per execution path: counts by status and recent run times, read
/// from the store at most every `max_age` (the API serves them, so the two
/// paths can be compared before moving traffic).
#[derive(Debug)]
pub struct BundleGauges {
    pub bundles: Family<PairLabel, Gauge>,
    pub duration: Family<PairLabel, Gauge<f64, AtomicU64>>,
    max_age: Duration,
    last: Mutex<Option<Instant>>,
}

impl BundleGauges {
    pub fn new(max_age: Duration) -> Self {
        Self { bundles: Family::default(), duration: Family::default(), max_age, last: Mutex::new(None) }
    }

    pub fn register(&self, r: &mut Registry) {
        r.register("bt_bundles", "Bundles by execution path and status", self.bundles.clone());
        r.register(
            "bt_bundle_duration_seconds",
            "Run time (start to end) of bundles that ended in the last hour, by path and quantile",
            self.duration.clone(),
        );
    }

    pub async fn refresh(&self, store: &Store) {
        let mut last = self.last.lock().await;
        if last.is_some_and(|t| t.elapsed() < self.max_age) {
            return;
        }
        match tokio::time::timeout(Duration::from_secs(2), store.bundle_stats()).await {
            Ok(Ok(stats)) => {
                for s in stats {
                    let path = s.execution.as_str();
                    self.bundles
                        .get_or_create(&[("path", path), ("status", s.status.as_str())])
                        .set(s.bundles);
                    if s.status == bt_queue::BundleStatus::Completed {
                        self.duration
                            .get_or_create(&[("path", path), ("quantile", "0.5")])
                            .set(s.p50_seconds);
                        self.duration
                            .get_or_create(&[("path", path), ("quantile", "0.95")])
                            .set(s.p95_seconds);
                    }
                }
                *last = Some(Instant::now());
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "reading bundle statistics failed"),
            Err(_) => tracing::warn!("reading bundle statistics timed out"),
        }
    }
}

/// The text a `/metrics` request answers with.
pub fn encode(r: &Registry) -> String {
    let mut s = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut s, r);
    s
}

/// The content type of [`encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_are_exposed() {
        let m = WorkerMetrics::default();
        let q = QueueGauges::new(Duration::from_secs(5));
        let mut r = Registry::default();
        m.register(&mut r);
        q.register(&mut r);
        m.claimed.inc_by(3);
        m.running.set(2);
        m.job_duration.observe(0.5);
        m.bar_variants.inc_by(43_200);
        q.jobs.get_or_create(&[("status", "pending")]).set(7);
        let text = encode(&r);
        for line in [
            "bt_jobs_claimed_total 3",
            "bt_jobs_running 2",
            "bt_job_duration_seconds_count 1",
            "bt_bar_variants_total 43200",
            "bt_queue_jobs{status=\"pending\"} 7",
            "# EOF",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} missing from\n{text}");
        }
    }
}
