use bt_queue::MIGRATOR;
use sqlx::PgPool;

async fn tables(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' AND tablename <> '_sqlx_migrations' ORDER BY 1")
        .fetch_all(pool)
        .await
        .expect("tables")
}

#[sqlx::test(migrations = false)]
async fn migrations_go_up_down_and_up_again(pool: PgPool) {
    MIGRATOR.run(&pool).await.expect("up");
    assert_eq!(
        tables(&pool).await,
        ["api_keys", "backtest_jobs", "backtest_results", "bundles", "owner_queue"]
    );
    MIGRATOR.undo(&pool, 0).await.expect("down");
    assert_eq!(tables(&pool).await, Vec::<String>::new());
    let types: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_type WHERE typname IN ('backtest_job_status', 'bundle_status')",
    )
    .fetch_one(&pool)
    .await
    .expect("types");
    assert_eq!(types, 0);
    MIGRATOR.run(&pool).await.expect("up again");
    assert_eq!(tables(&pool).await.len(), 5);
}

#[sqlx::test(migrations = "../migrations")]
async fn claim_query_uses_the_partial_index(pool: PgPool) {
    let store = crate::store(pool.clone());
    for _ in 0..20 {
        store.enqueue_bundle(&crate::bundle("o", 500, 0, 3)).await.expect("enqueue");
    }
    sqlx::query("ANALYZE backtest_jobs").execute(&pool).await.expect("analyze");
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN SELECT id FROM backtest_jobs WHERE status = 'pending' AND run_after <= now() AND lane = ANY('{queue}') ORDER BY priority DESC, fair_key, id LIMIT 16 FOR UPDATE SKIP LOCKED",
    )
    .fetch_all(&pool)
    .await
    .expect("explain");
    assert!(plan.iter().any(|l| l.contains("idx_status_priority")), "{plan:#?}");
}
