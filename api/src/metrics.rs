//! HTTP metrics: requests by route, method and status, and latency by route.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::AppState;

type RouteStatus = [(&'static str, String); 3];
type Route = [(&'static str, String); 2];
type PathLabel = [(&'static str, &'static str); 1];

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 33 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 17))
}

#[derive(Debug, Clone)]
pub struct HttpMetrics {
    pub requests: Family<RouteStatus, Counter>,
    pub latency: Family<Route, Histogram, fn() -> Histogram>,
    pub submitted: Family<PathLabel, Counter>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            submitted: Family::default(),
        }
    }
}

impl HttpMetrics {
    pub fn register(&self, r: &mut Registry) {
        r.register("bt_http_requests", "HTTP requests by route, method and status", self.requests.clone());
        r.register(
            "bt_http_request_duration_seconds",
            "HTTP request latency by route and method",
            self.latency.clone(),
        );
        r.register("bt_bundles_submitted", "Bundles accepted, by execution path", self.submitted.clone());
    }
}

/// The method as a label: one of a fixed set, so a client cannot create
/// series by inventing methods (the label is written before authentication).
pub fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts and times every routed request, labelled by the matched route
/// (the template, never the path itself) and [`method_label`].
pub async fn track(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |m| m.as_str()).to_owned();
    let method = method_label(req.method()).to_owned();
    let t = Instant::now();
    let resp = next.run(req).await;
    let secs = t.elapsed().as_secs_f64();
    let status = resp.status().as_u16().to_string();
    s.metrics
        .requests
        .get_or_create(&[("route", route.clone()), ("method", method.clone()), ("status", status)])
        .inc();
    s.metrics.latency.get_or_create(&[("route", route), ("method", method)]).observe(secs);
    resp
}
