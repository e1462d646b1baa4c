use std::time::Duration;

use bt_queue::{BundleStatus, CancelOutcome, JobStatus, Metrics, ResultRow, lock_job};
use sqlx::{Connection, PgPool};

use crate::{bundle, store};

fn result(variant: i64) -> ResultRow {
    ResultRow {
        variant,
        metrics: Metrics {
            final_equity: 10_500.0 + variant as f64,
            total_return: 0.05,
            cagr: 0.7,
            max_drawdown: 0.1,
            max_drawdown_duration_ms: 3_600_000,
            sharpe: 1.5,
            sortino: 2.0,
            calmar: 7.0,
            win_rate: 0.5,
            profit_factor: f64::INFINITY,
            expectancy: 12.5,
            avg_trade_return: 0.01,
            trades: 4,
            exposure: 0.3,
            fees: 20.0,
            buy_and_hold_return: 0.02,
            open_position: variant % 2 == 0,
            liquidated: false,
            ..Metrics::zero()
        },
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn stale_write_after_rescue_changes_nothing(pool: PgPool) {
    let s = store(pool.clone());
    let b = bundle("o", 1, 0, 3);
    s.enqueue_bundle(&b).await.expect("enqueue");
    let old = s.claim("w1", 1).await.expect("claim").remove(0);
    // w1 hangs: its heartbeat goes stale and the rescuer puts the job back.
    sqlx::query("UPDATE backtest_jobs SET heartbeat_at = now() - interval '10 minutes'")
        .execute(&pool)
        .await
        .expect("age");
    let rescued =
        s.rescue(Duration::from_secs(90), Duration::from_secs(15)).await.expect("rescue").expect("leader");
    assert_eq!(rescued.len(), 1);
    assert_eq!((rescued[0].status, rescued[0].attempt), (JobStatus::Pending, 1));
    let new = s.claim("w2", 1).await.expect("claim").remove(0);
    assert_eq!((new.id, new.attempt), (old.id, 2));
    // Every write of the old run is refused.
    let results: Vec<ResultRow> = (0..10).map(result).collect();
    assert_eq!(s.heartbeat(&old, Some(5)).await.expect("hb"), None);
    assert!(!s.complete(&old, &results).await.expect("complete"));
    assert_eq!(s.fail(&old, "late", true).await.expect("fail"), None);
    assert!(!s.release(&old).await.expect("release"));
    // The new run completes, and its results exist exactly once.
    assert_eq!(s.heartbeat(&new, Some(5)).await.expect("hb"), Some(false));
    assert!(s.complete(&new, &results).await.expect("complete"));
    assert!(!s.complete(&new, &results).await.expect("again"));
    let rows: Vec<(i64, f64, bool)> =
        sqlx::query_as("SELECT variant, profit_factor, open_position FROM backtest_results WHERE bundle_id = $1 ORDER BY variant")
            .bind(b.id)
            .fetch_all(&pool)
            .await
            .expect("results");
    assert_eq!(rows.len(), 10);
    assert_eq!(rows[3], (3, f64::INFINITY, false));
    let st = s.bundle_status(b.id, Some("o")).await.expect("status").expect("bundle");
    assert_eq!((st.status, st.completed, st.variants_done), (BundleStatus::Completed, 1, 10));
    assert!(st.finished_at.is_some());
    assert_eq!(st.fraction(), 1.0);
}

#[sqlx::test(migrations = "../migrations")]
async fn killed_worker_connection_is_rescued_and_run_once(pool: PgPool) {
    let s = store(pool.clone());
    let b = bundle("o", 2, 0, 3);
    s.enqueue_bundle(&b).await.expect("enqueue");
    let opts = pool.connect_options();
    let mut alive = sqlx::PgConnection::connect_with(&opts).await.expect("conn");
    let mut doomed = sqlx::PgConnection::connect_with(&opts).await.expect("conn");
    let jobs = s.claim("w", 2).await.expect("claim");
    let _l1 = lock_job(&mut alive, jobs[0].id).await.expect("lock").expect("free");
    let _l2 = lock_job(&mut doomed, jobs[1].id).await.expect("lock").expect("free");
    // A second session cannot take a held lock.
    assert!(lock_job(&mut alive, jobs[1].id).await.expect("lock").is_none());
    // Nothing to rescue while both locks are held.
    assert_eq!(
        s.rescue(Duration::from_secs(90), Duration::ZERO).await.expect("rescue").expect("leader").len(),
        0
    );
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut doomed).await.expect("pid");
    sqlx::query("SELECT pg_terminate_backend($1)").bind(pid).execute(&pool).await.expect("terminate");
    // The lock vanishes with the session (give the server a moment to clean up).
    let mut rescued = Vec::new();
    for _ in 0..50 {
        rescued = s.rescue(Duration::from_secs(90), Duration::ZERO).await.expect("rescue").expect("leader");
        if !rescued.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(rescued.iter().map(|r| r.id).collect::<Vec<_>>(), [jobs[1].id]);
    // Run to completion exactly once by another worker.
    let again = s.claim("w2", 5).await.expect("claim");
    assert_eq!(again.len(), 1);
    assert!(s.complete(&again[0], &[result(10)]).await.expect("complete"));
    assert!(s.complete(&jobs[0], &[result(0)]).await.expect("complete"));
    assert!(!s.complete(&jobs[1], &[result(10)]).await.expect("stale"));
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM backtest_results").fetch_one(&pool).await.expect("n");
    assert_eq!(n, 2);
    assert_eq!(
        s.bundle_status(b.id, Some("o")).await.expect("st").expect("b").status,
        BundleStatus::Completed
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn failures_retry_then_fail_the_bundle(pool: PgPool) {
    let s = store(pool.clone());
    let b = bundle("o", 2, 0, 2);
    s.enqueue_bundle(&b).await.expect("enqueue");
    let j = s.claim("w", 1).await.expect("claim").remove(0);
    assert_eq!(s.fail(&j, "flaky", true).await.expect("fail"), Some(JobStatus::Pending));
    let j = s.claim("w", 1).await.expect("claim").remove(0);
    assert_eq!(j.attempt, 2);
    // Attempts used up: failed for good, with the reason.
    assert_eq!(s.fail(&j, "dataset BTCUSD/1h missing", true).await.expect("fail"), Some(JobStatus::Failed));
    let other = s.claim("w", 1).await.expect("claim").remove(0);
    let st = s.bundle_status(b.id, Some("o")).await.expect("st").expect("b");
    assert_eq!((st.status, st.failed, st.running), (BundleStatus::Running, 1, 1));
    // The last job ending flips the bundle: failed, with the first failure's reason.
    assert!(s.complete(&other, &[]).await.expect("complete"));
    let st = s.bundle_status(b.id, Some("o")).await.expect("st").expect("b");
    assert_eq!(st.status, BundleStatus::Failed);
    assert_eq!(st.error.as_deref(), Some("dataset BTCUSD/1h missing"));
    // A stale heartbeat past max attempts: the rescuer fails it with the reason.
    let b2 = bundle("o", 1, 0, 1);
    s.enqueue_bundle(&b2).await.expect("enqueue");
    let _j = s.claim("w", 1).await.expect("claim").remove(0);
    sqlx::query("UPDATE backtest_jobs SET heartbeat_at = now() - interval '10 minutes' WHERE bundle_id = $1")
        .bind(b2.id)
        .execute(&pool)
        .await
        .expect("age");
    let r =
        s.rescue(Duration::from_secs(90), Duration::from_secs(15)).await.expect("rescue").expect("leader");
    assert_eq!(r[0].status, JobStatus::Failed);
    let st = s.bundle_status(b2.id, Some("o")).await.expect("st").expect("b");
    assert_eq!(st.status, BundleStatus::Failed);
    assert_eq!(st.error.as_deref(), Some("rescued: heartbeat older than 90 s"));
}

#[sqlx::test(migrations = "../migrations")]
async fn cancel_stops_pending_at_once_and_running_at_next_heartbeat(pool: PgPool) {
    let s = store(pool.clone());
    let b = bundle("alice", 3, 0, 3);
    s.enqueue_bundle(&b).await.expect("enqueue");
    let running = s.claim("w", 1).await.expect("claim").remove(0);
    // Another owner cannot see or cancel it.
    assert_eq!(s.cancel_bundle(b.id, "mallory").await.expect("cancel"), CancelOutcome::NotFound);
    assert!(s.bundle_status(b.id, Some("mallory")).await.expect("st").is_none());
    assert_eq!(s.cancel_bundle(b.id, "alice").await.expect("cancel"), CancelOutcome::Cancelled);
    let st = s.bundle_status(b.id, Some("alice")).await.expect("st").expect("b");
    assert_eq!((st.status, st.cancelled, st.running), (BundleStatus::Cancelled, 2, 1));
    assert_eq!(s.claim("w", 5).await.expect("claim").len(), 0);
    assert_eq!(s.heartbeat(&running, Some(3)).await.expect("hb"), Some(true));
    assert!(s.cancel_job(&running).await.expect("stop"));
    let st = s.bundle_status(b.id, Some("alice")).await.expect("st").expect("b");
    assert_eq!((st.cancelled, st.running), (3, 0));
    // Cancelling again leaves it as it is.
    assert_eq!(
        s.cancel_bundle(b.id, "alice").await.expect("cancel"),
        CancelOutcome::AlreadyEnded(BundleStatus::Cancelled)
    );
    assert_eq!(
        s.cancel_bundle(uuid::Uuid::new_v4(), "alice").await.expect("cancel"),
        CancelOutcome::NotFound
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn bundle_progress_and_eta(pool: PgPool) {
    let s = store(pool.clone());
    let b = bundle("o", 4, 0, 3);
    s.enqueue_bundle(&b).await.expect("enqueue");
    let st = s.bundle_status(b.id, Some("o")).await.expect("st").expect("b");
    assert_eq!(
        (st.status, st.pending, st.variants_done, st.job_count, st.variant_count),
        (BundleStatus::Pending, 4, 0, 4, 40)
    );
    assert_eq!(st.eta(), None);
    let jobs = s.claim("w", 2).await.expect("claim");
    assert!(s.complete(&jobs[0], &[]).await.expect("complete"));
    assert_eq!(s.heartbeat(&jobs[1], Some(5)).await.expect("hb"), Some(false));
    sqlx::query("UPDATE bundles SET started_at = now() - interval '15 seconds' WHERE id = $1")
        .bind(b.id)
        .execute(&pool)
        .await
        .expect("age");
    let st = s.bundle_status(b.id, Some("o")).await.expect("st").expect("b");
    assert_eq!((st.completed, st.running, st.pending, st.variants_done), (1, 1, 2, 15));
    assert_eq!(st.fraction(), 15.0 / 40.0);
    // 15 variants in ~15 s: 25 left take ~25 s.
    let eta = st.eta().expect("eta").as_secs_f64();
    assert!((24.0..26.5).contains(&eta), "{eta}");
}

#[sqlx::test(migrations = "../migrations")]
async fn complete_many_applies_only_current_runs(pool: PgPool) {
    let s = store(pool.clone());
    let (a, b) = (bundle("o", 2, 0, 3), bundle("o", 1, 0, 3));
    s.enqueue_bundle(&a).await.expect("enqueue");
    s.enqueue_bundle(&b).await.expect("enqueue");
    let jobs = s.claim("w", 3).await.expect("claim");
    assert_eq!(jobs.len(), 3);
    // jobs[0] is rescued and re-claimed: its old run is stale.
    sqlx::query("UPDATE backtest_jobs SET heartbeat_at = now() - interval '10 minutes' WHERE id = $1")
        .bind(jobs[0].id)
        .execute(&pool)
        .await
        .expect("age");
    s.rescue(Duration::from_secs(90), Duration::from_secs(15)).await.expect("rescue").expect("leader");
    let rerun = s.claim("w2", 1).await.expect("claim").remove(0);
    let (r0, r1, r2) = ([result(0)], [result(10)], [result(20)]);
    let ok = s
        .complete_many(&[(&jobs[0], &r0[..]), (&jobs[1], &r1[..]), (&jobs[2], &r2[..])])
        .await
        .expect("complete_many");
    assert_eq!(ok, [false, true, true]);
    let variants: Vec<i64> = sqlx::query_scalar("SELECT variant FROM backtest_results ORDER BY variant")
        .fetch_all(&pool)
        .await
        .expect("rows");
    assert_eq!(variants, [10, 20]);
    // Bundle b (one job) is done; a waits for the re-run.
    assert_eq!(
        s.bundle_status(b.id, Some("o")).await.expect("st").expect("b").status,
        BundleStatus::Completed
    );
    assert_eq!(s.bundle_status(a.id, Some("o")).await.expect("st").expect("a").status, BundleStatus::Running);
    assert!(s.complete(&rerun, &r0).await.expect("complete"));
    assert_eq!(
        s.bundle_status(a.id, Some("o")).await.expect("st").expect("a").status,
        BundleStatus::Completed
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_rescuer_ends_bundles_left_running(pool: PgPool) {
    let s = store(pool.clone());
    let b = bundle("o", 2, 0, 3);
    s.enqueue_bundle(&b).await.expect("enqueue");
    let jobs = s.claim("w", 2).await.expect("claim");
    // A process died between ending the jobs and ending the bundle.
    sqlx::query(
        "UPDATE backtest_jobs SET status = 'completed', finished_at = now(), assigned_worker = NULL,
         progress = variant_end - variant_start WHERE bundle_id = $1",
    )
    .bind(b.id)
    .execute(&pool)
    .await
    .expect("end jobs");
    assert_eq!(jobs.len(), 2);
    assert_eq!(s.bundle_status(b.id, None).await.expect("st").expect("b").status, BundleStatus::Running);
    s.rescue(Duration::from_secs(90), Duration::from_secs(15)).await.expect("rescue").expect("leader");
    let st = s.bundle_status(b.id, None).await.expect("st").expect("b");
    assert_eq!(st.status, BundleStatus::Completed);
    assert!(st.finished_at.is_some());
}

#[sqlx::test(migrations = false)]
async fn applied_migrations_are_listed(pool: PgPool) {
    let s = store(pool);
    assert_eq!(s.applied_migrations().await.expect("none"), Vec::<i64>::new());
    s.migrate().await.expect("up");
    let all: Vec<i64> =
        bt_queue::MIGRATOR.iter().filter(|m| m.migration_type.is_up_migration()).map(|m| m.version).collect();
    assert_eq!(s.applied_migrations().await.expect("all"), all);
    assert!(all.len() >= 4, "{all:?}");
    s.migrate_down(0).await.expect("down");
    assert_eq!(s.applied_migrations().await.expect("none again"), Vec::<i64>::new());
}
