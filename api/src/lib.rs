//! bt's HTTP API (`bt serve`): bundles in, status and results out, over the
//! same job store as the workers. See `openapi.rs` (served at
//! `/openapi.json`) for every endpoint.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use bt_candles::Catalog;
use bt_queue::{Execution, Store};
use bt_service::datasets::DatasetCache;
use bt_service::http::Probes;
use bt_service::metrics::{BundleGauges, QueueGauges};
use bt_service::worker::Phase;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

pub mod auth;
mod charts;
pub mod compute;
mod dashboard;
mod detail;
pub mod error;
pub mod limit;
pub mod metrics;
pub mod openapi;
pub mod request_id;
mod routes;

pub use error::ApiError;

/// Where new bundles run: the `--execution` switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionPolicy {
    /// On the compute workers.
    Queue,
    /// On the API process's own workers.
    Inline,
    /// This percentage of new bundles inline, the rest queued.
    Split(u8),
}

impl std::str::FromStr for ExecutionPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "queue" => Ok(Self::Queue),
            "inline" => Ok(Self::Inline),
            _ => {
                let p = s
                    .strip_prefix("split:")
                    .ok_or_else(|| format!("{s:?}: use queue, inline or split:PERCENT"))?;
                match p.trim_end_matches('%').parse::<u8>() {
                    Ok(v) if v <= 100 => Ok(Self::Split(v)),
                    _ => Err(format!("{s:?}: the split percentage must be a whole number from 0 to 100")),
                }
            }
        }
    }
}

impl ExecutionPolicy {
    /// The path of bundle `id` (a split decides by the id, so evenly and reproducibly).
    pub fn decide(self, id: uuid::Uuid) -> Execution {
        match self {
            Self::Queue => Execution::Queue,
            Self::Inline => Execution::Inline,
            Self::Split(p) => {
                if (id.as_u128() % 100) < u128::from(p) {
                    Execution::Inline
                } else {
                    Execution::Queue
                }
            }
        }
    }
}

/// API settings.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub catalog: PathBuf,
    pub execution: ExecutionPolicy,
    pub max_body_bytes: usize,
    pub max_variants: u64,
    pub job_bar_variants: u64,
    /// Most variants per job.
    pub max_job_variants: u64,
    /// A worker's memory (`BT_MEMORY_LIMIT`): a bundle one variant of which
    /// needs more answers 422. `None`: not checked.
    pub memory_limit: Option<u64>,
    pub max_attempts: i32,
    pub key_cache: Duration,
    /// Requests per minute per key (its default) and per address without a key.
    pub rate_limits: limit::RateLimits,
    /// CPU work (parsing, expanding and planning bundles, recomputing
    /// variants) run at once on blocking threads; see [`compute::Gate`].
    pub compute_slots: usize,
    /// How long a request waits for a compute slot before it answers 503.
    pub compute_wait: Duration,
    /// Parsed bundles kept for results and variant requests.
    pub bundle_cache: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            catalog: PathBuf::from("data"),
            execution: ExecutionPolicy::Queue,
            max_body_bytes: 1 << 20,
            max_variants: 10_000_000,
            job_bar_variants: bt_service::submit::DEFAULT_JOB_BAR_VARIANTS,
            max_job_variants: bt_queue::MAX_JOB_VARIANTS,
            memory_limit: None,
            max_attempts: 3,
            key_cache: Duration::from_secs(5),
            rate_limits: limit::RateLimits::default(),
            compute_slots: 4,
            compute_wait: Duration::from_secs(2),
            bundle_cache: 64,
        }
    }
}

/// What every handler reads.
#[derive(Debug)]
pub struct AppState {
    pub store: Store,
    pub cfg: ApiConfig,
    pub catalog: Catalog,
    pub datasets: DatasetCache,
    pub keys: auth::KeyCache,
    pub limiter: limit::Limiter,
    pub metrics: metrics::HttpMetrics,
    pub gate: compute::Gate,
    pub bundles: compute::BundleCache,
}

/// The API router over `store`, with `/health`, `/ready` and `/metrics`.
/// `extra` registers more metrics in the same registry (in-process workers).
pub fn router(
    store: Store,
    cfg: ApiConfig,
    phase: watch::Receiver<Phase>,
    extra: impl FnOnce(&mut Registry),
) -> Router {
    let http = metrics::HttpMetrics::default();
    let mut registry = Registry::default();
    http.register(&mut registry);
    let parsed = compute::BundleCache::new(cfg.bundle_cache);
    parsed.register(&mut registry);
    let queue = QueueGauges::new(Duration::from_secs(5));
    queue.register(&mut registry);
    let bundles = BundleGauges::new(Duration::from_secs(5));
    bundles.register(&mut registry);
    extra(&mut registry);
    let probes = Arc::new(Probes { store: store.clone(), registry, queue, bundles: Some(bundles), phase });
    let state = Arc::new(AppState {
        catalog: Catalog::new(&cfg.catalog),
        datasets: DatasetCache::new(cfg.catalog.clone(), 4),
        keys: auth::KeyCache::new(cfg.key_cache),
        limiter: limit::Limiter::new(cfg.rate_limits),
        metrics: http,
        gate: compute::Gate::new(cfg.compute_slots, cfg.compute_wait),
        bundles: parsed,
        store,
        cfg,
    });
    let v1 = Router::new()
        .route("/v1/bundles", post(routes::submit).get(routes::list))
        .route("/v1/bundles/{id}", get(routes::status))
        .route("/v1/bundles/{id}/cancel", post(routes::cancel))
        .route("/v1/bundles/{id}/results", get(routes::results))
        .route("/v1/bundles/{id}/heatmap", get(charts::heatmap))
        .route("/v1/bundles/{id}/scatter", get(charts::scatter))
        .route("/v1/bundles/{id}/variants/{n}", get(routes::variant))
        .route("/v1/bundles/{id}/variants/{n}/equity.csv", get(routes::equity_csv))
        .route("/v1/bundles/{id}/variants/{n}/trades.csv", get(routes::trades_csv))
        .route("/v1/datasets", get(routes::datasets))
        .route("/openapi.json", get(openapi::serve))
        .route("/", get(dashboard::index))
        .layer(DefaultBodyLimit::max(state.cfg.max_body_bytes))
        .method_not_allowed_fallback(routes::method_not_allowed)
        .with_state(state.clone());
    v1.merge(bt_service::http::router(probes))
        .fallback(routes::not_found)
        .route_layer(axum::middleware::from_fn_with_state(state, metrics::track))
        .layer(axum::middleware::from_fn(request_id::layer))
}
