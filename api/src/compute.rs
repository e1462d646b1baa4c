//! CPU work of the API kept off the async runtime: [`Gate`] runs it on
//! tokio's blocking threads, a few at a time; [`BundleCache`] keeps parsed
//! bundles so reads do not expand a stored spec again.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::http::StatusCode;
use bt_engine::bundle::Bundle;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::ApiError;

/// Seconds a client turned away by a full [`Gate`] is asked to wait.
pub const BUSY_RETRY_SECONDS: u64 = 1;

/// Parsing and expanding bundles, planning and recomputing variants: CPU
/// work of unbounded cost per request (a few hundred bytes can ask for a
/// large grid), run on blocking threads so the runtime threads keep
/// answering (`/health` included), at most `slots` at once. A request that
/// finds every slot busy waits up to `wait`, then answers 503 with
/// `Retry-After`.
#[derive(Debug)]
pub struct Gate {
    slots: Arc<Semaphore>,
    wait: Duration,
}

impl Gate {
    pub fn new(slots: usize, wait: Duration) -> Self {
        Self { slots: Arc::new(Semaphore::new(slots)), wait }
    }

    /// Runs `f` on a blocking thread once a slot is free, within the
    /// request's id and span; `what` names the work in errors ("planning a
    /// bundle").
    pub async fn run<T, F>(&self, what: &'static str, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let permit = match tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => return Err(ApiError::internal(what, e)),
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    format!(
                        "the server is busy ({what}: every compute slot taken for {} ms); retry shortly",
                        self.wait.as_millis()
                    ),
                )
                .retry_after(BUSY_RETRY_SECONDS));
            }
        };
        // The permit goes with the work: a client that disconnects does not
        // free the slot before the work ends.
        let f = crate::request_id::carry(f);
        tokio::task::spawn_blocking(move || {
            let _slot = permit;
            f()
        })
        .await
        .map_err(|e| ApiError::internal(what, e))
    }
}

type Outcome = [(&'static str, &'static str); 1];

/// Parsed, expanded bundles by id, least recently used dropped first. A
/// bundle's spec never changes, so an entry is never stale; ownership is
/// checked by the caller on every request, not by the cache.
#[derive(Debug)]
pub struct BundleCache {
    capacity: usize,
    entries: Mutex<VecDeque<(Uuid, Arc<Bundle>)>>,
    /// `bt_api_bundle_cache_lookups{outcome="hit"|"miss"}`.
    pub lookups: Family<Outcome, Counter>,
}

impl BundleCache {
    pub fn new(capacity: usize) -> Self {
        Self { capacity, entries: Mutex::default(), lookups: Family::default() }
    }

    pub fn register(&self, r: &mut Registry) {
        r.register(
            "bt_api_bundle_cache_lookups",
            "Parsed bundle lookups of results and variant requests, by outcome (hit, miss)",
            self.lookups.clone(),
        );
    }

    pub fn get(&self, id: Uuid) -> Option<Arc<Bundle>> {
        let mut e = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let found = e.iter().position(|(k, _)| *k == id).and_then(|i| e.remove(i));
        let outcome = if found.is_some() { "hit" } else { "miss" };
        self.lookups.get_or_create(&[("outcome", outcome)]).inc();
        let (k, b) = found?;
        e.push_back((k, b.clone()));
        Some(b)
    }

    pub fn insert(&self, id: Uuid, bundle: Arc<Bundle>) {
        if self.capacity == 0 {
            return;
        }
        let mut e = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        e.retain(|(k, _)| *k != id);
        e.push_back((id, bundle));
        while e.len() > self.capacity {
            e.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bt_engine::bundle::{BundleSpec, Limits};

    fn bundle() -> Arc<Bundle> {
        let spec: BundleSpec = serde_json::from_str(
            r#"{"datasets":{"tickers":["BTCUSD"],"timeframes":["1h"]},"strategy":{"kind":"sma_cross","fast":[5],"slow":[20]}}"#,
        )
        .expect("spec");
        Arc::new(Bundle::new(spec, Limits::default()).expect("bundle"))
    }

    #[test]
    fn the_least_recently_used_bundle_goes_first() {
        let c = BundleCache::new(2);
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
        let b = bundle();
        c.insert(ids[0], b.clone());
        c.insert(ids[1], b.clone());
        assert!(c.get(ids[0]).is_some_and(|x| Arc::ptr_eq(&x, &b)));
        c.insert(ids[2], b.clone());
        assert!(c.get(ids[1]).is_none(), "1 was the least recently used");
        assert!(c.get(ids[0]).is_some() && c.get(ids[2]).is_some());
        assert_eq!(c.lookups.get_or_create(&[("outcome", "hit")]).get(), 3);
        assert_eq!(c.lookups.get_or_create(&[("outcome", "miss")]).get(), 1);
    }

    #[tokio::test]
    async fn a_full_gate_answers_503_with_retry_after() {
        let g = Gate::new(1, Duration::from_millis(20));
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let g = Arc::new(g);
        let busy = tokio::spawn({
            let g = g.clone();
            async move { g.run("holding", move || rx.recv().is_ok()).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let e = g.run("planning a bundle", || 1).await.expect_err("busy");
        assert_eq!((e.status, e.code, e.retry_after), (StatusCode::SERVICE_UNAVAILABLE, "busy", Some(1)));
        assert!(e.message.contains("planning a bundle"), "{}", e.message);
        tx.send(()).expect("release");
        assert!(busy.await.expect("join").expect("ran"));
        assert_eq!(g.run("after", || 7).await.expect("free again"), 7);
    }
}
