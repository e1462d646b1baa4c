//! The store against a real PostgreSQL (each test in its own database, made by
//! `#[sqlx::test]` from `DATABASE_URL`).

mod claim;
mod keys;
mod lifecycle;
mod liveness;
mod migrations;
mod results;

use bt_queue::{NewBundle, NewJob, Store, StoreConfig};
use uuid::Uuid;

/// A bundle of `jobs` jobs of 10 variants each on one dataset.
pub fn bundle(owner: &str, jobs: usize, priority: i32, max_attempts: i32) -> NewBundle {
    NewBundle {
        id: Uuid::new_v4(),
        owner: owner.to_owned(),
        name: format!("{jobs} jobs"),
        spec: serde_json::json!({ "test": true }),
        variant_count: 10 * jobs as i64,
        priority,
        max_attempts,
        execution: Default::default(),
        jobs: (0..jobs as i64)
            .map(|k| NewJob {
                dataset_index: 0,
                ticker: "BTCUSD".into(),
                timeframe: "1h".into(),
                variant_start: 10 * k,
                variant_end: 10 * (k + 1),
            })
            .collect(),
    }
}

pub fn store(pool: sqlx::PgPool) -> Store {
    Store::new(pool).with_config(StoreConfig { retry_backoff: std::time::Duration::ZERO })
}
