//! `/health`, `/ready` and `/metrics`: what every bt process serves for
//! probes and Prometheus.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use bt_queue::Store;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

use crate::metrics::{BundleGauges, CONTENT_TYPE, QueueGauges, encode};
use crate::worker::Phase;

/// What the probe and metrics handlers read.
#[derive(Debug)]
pub struct Probes {
    pub store: Store,
    pub registry: Registry,
    pub queue: QueueGauges,
    /// Per-path bundle gauges (the API serves them; workers do not).
    pub bundles: Option<BundleGauges>,
    pub phase: watch::Receiver<Phase>,
}

/// `/health`, `/ready` and `/metrics` over `probes`.
pub fn router(probes: Arc<Probes>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(probes)
}

/// The process is alive and answering.
async fn health() -> &'static str {
    "ok\n"
}

/// Ready for work: not shutting down, and the database answers within 2 s.
async fn ready(State(p): State<Arc<Probes>>) -> (StatusCode, &'static str) {
    if *p.phase.borrow() != Phase::Running {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n");
    }
    let ping = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(p.store.pool());
    match tokio::time::timeout(Duration::from_secs(2), ping).await {
        Ok(Ok(_)) => (StatusCode::OK, "ready\n"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n"),
    }
}

async fn metrics(State(p): State<Arc<Probes>>) -> impl IntoResponse {
    p.queue.refresh(&p.store).await;
    if let Some(b) = &p.bundles {
        b.refresh(&p.store).await;
    }
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], encode(&p.registry))
}

/// Binds `addr` and serves `router` until `stop` resolves; returns the bound
/// address (port 0 picks a free one) and the server task.
pub async fn serve(
    addr: SocketAddr,
    router: Router,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).with_graceful_shutdown(stop).await {
            tracing::error!(error = %e, "HTTP server failed");
        }
    });
    Ok((bound, task))
}
