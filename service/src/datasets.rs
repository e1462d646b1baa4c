//! The worker's in-process dataset cache: the next job on the same dataset
//! and time range does not read it from disk again.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bt_candles::{Candles, Catalog, TimeRange, Timeframe};
use tokio::sync::OnceCell;

type Key = (String, Timeframe, Option<i64>, Option<i64>);
type Slot = Arc<OnceCell<Arc<Candles>>>;

/// Loaded datasets, least recently used dropped first. Concurrent jobs on
/// one dataset share a single load.
#[derive(Debug)]
pub struct DatasetCache {
    catalog: PathBuf,
    capacity: usize,
    slots: Mutex<VecDeque<(Key, Slot)>>,
    loads: std::sync::atomic::AtomicU64,
}

impl DatasetCache {
    pub fn new(catalog: PathBuf, capacity: usize) -> Self {
        Self { catalog, capacity: capacity.max(1), slots: Mutex::default(), loads: Default::default() }
    }

    /// Reads from disk so far (for tests and logs).
    pub fn loads(&self) -> u64 {
        self.loads.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn slot(&self, key: &Key) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(i) = slots.iter().position(|(k, _)| k == key) {
            let entry = slots.remove(i).unwrap_or_else(|| unreachable!("index from position"));
            let slot = entry.1.clone();
            slots.push_back(entry);
            return slot;
        }
        let slot = Slot::default();
        slots.push_back((key.clone(), slot.clone()));
        while slots.len() > self.capacity {
            slots.pop_front();
        }
        slot
    }

    fn forget(&self, key: &Key) {
        let mut slots = self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        slots.retain(|(k, s)| k != key || s.initialized());
    }

    /// The bars of `ticker`/`timeframe` in `range`, loaded on a blocking
    /// thread the first time. A failed load is not cached.
    pub async fn get(
        &self,
        ticker: &str,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<Arc<Candles>, bt_candles::Error> {
        let key: Key = (ticker.to_owned(), timeframe, range.start, range.end);
        let slot = self.slot(&key);
        let r = slot
            .get_or_try_init(|| async {
                let catalog = Catalog::new(&self.catalog);
                let name = ticker.to_owned();
                self.loads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let t = std::time::Instant::now();
                let loaded = tokio::task::spawn_blocking(move || catalog.load(&name, timeframe, range))
                    .await
                    .map_err(|e| bt_candles::Error::Io {
                        file: self.catalog.clone(),
                        source: std::io::Error::other(e.to_string()),
                    })??;
                tracing::info!(
                    dataset = %format!("{ticker}/{timeframe}"),
                    bars = loaded.candles.len(),
                    ms = t.elapsed().as_secs_f64() * 1e3,
                    "dataset loaded"
                );
                Ok::<_, bt_candles::Error>(Arc::new(loaded.candles))
            })
            .await
            .cloned();
        if r.is_err() {
            self.forget(&key);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bt_candles::{GenerateSpec, generate};

    #[tokio::test]
    async fn loads_once_and_evicts_the_least_recent() {
        let dir = tempfile::tempdir().expect("tmp");
        let catalog = Catalog::new(dir.path());
        let c = generate(&GenerateSpec { bars: 500, seed: 7, ..GenerateSpec::default() });
        for t in ["AAA", "BBB"] {
            catalog.write(t, Timeframe::M1, c.view()).expect("write");
        }
        let cache = DatasetCache::new(dir.path().to_owned(), 1);
        let all = TimeRange::default();
        let a = cache.get("AAA", Timeframe::M1, all).await.expect("load");
        assert_eq!(a.len(), 500);
        assert_eq!(a.close(), c.close());
        let a2 = cache.get("AAA", Timeframe::M1, all).await.expect("cached");
        assert!(Arc::ptr_eq(&a, &a2));
        assert_eq!(cache.loads(), 1);
        cache.get("BBB", Timeframe::M1, all).await.expect("load");
        cache.get("AAA", Timeframe::M1, all).await.expect("reload");
        assert_eq!(cache.loads(), 3, "capacity 1: AAA was evicted by BBB");
    }

    #[tokio::test]
    async fn a_missing_dataset_is_an_error_and_not_cached() {
        let dir = tempfile::tempdir().expect("tmp");
        let cache = DatasetCache::new(dir.path().to_owned(), 2);
        let e = cache.get("NOPE", Timeframe::H1, TimeRange::default()).await.expect_err("missing");
        assert!(e.to_string().contains("NOPE"), "{e}");
        assert!(cache.get("NOPE", Timeframe::H1, TimeRange::default()).await.is_err());
        assert_eq!(cache.loads(), 2);
    }
}
