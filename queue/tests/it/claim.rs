use std::collections::HashSet;

use bt_queue::JobStatus;
use sqlx::PgPool;

use crate::{bundle, store};

#[sqlx::test(migrations = "../migrations")]
async fn priority_then_age_and_run_after(pool: PgPool) {
    let s = store(pool.clone());
    let low = bundle("o", 2, 0, 3);
    let high = bundle("o", 2, 5, 3);
    s.enqueue_bundle(&low).await.expect("low");
    s.enqueue_bundle(&high).await.expect("high");
    let jobs = s.claim("w1", 3).await.expect("claim");
    let order: Vec<(uuid::Uuid, i64)> = jobs.iter().map(|j| (j.bundle_id, j.variant_start)).collect();
    assert_eq!(order, [(high.id, 0), (high.id, 10), (low.id, 0)]);
    assert!(jobs.iter().all(|j| j.attempt == 1));
    // A retry pushed into the future is not claimable until then.
    sqlx::query("UPDATE backtest_jobs SET run_after = now() + interval '1 hour' WHERE status = 'pending'")
        .execute(&pool)
        .await
        .expect("delay");
    assert_eq!(s.claim("w2", 10).await.expect("claim").len(), 0);
    sqlx::query("UPDATE backtest_jobs SET run_after = now() WHERE status = 'pending'")
        .execute(&pool)
        .await
        .expect("undelay");
    let last = s.claim("w2", 10).await.expect("claim");
    assert_eq!(last.len(), 1);
    assert_eq!((last[0].bundle_id, last[0].variant_start), (low.id, 10));
    let status = s.bundle_status(low.id, Some("o")).await.expect("status").expect("bundle");
    assert_eq!((status.running, status.pending), (2, 0));
    assert_eq!(status.status, bt_queue::BundleStatus::Running);
}

#[sqlx::test(migrations = "../migrations")]
async fn eight_concurrent_claimers_get_disjoint_jobs(pool: PgPool) {
    let s = store(pool.clone());
    for _ in 0..10 {
        s.enqueue_bundle(&bundle("o", 1_000, 0, 3)).await.expect("enqueue");
    }
    let mut tasks = Vec::new();
    for w in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let jobs = s.claim(&format!("w{w}"), 16).await.expect("claim");
                if jobs.is_empty() {
                    return mine;
                }
                for j in &jobs {
                    assert!(s.complete(j, &[]).await.expect("complete"));
                }
                mine.extend(jobs.into_iter().map(|j| j.id));
            }
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for t in tasks {
        for id in t.await.expect("task") {
            assert!(seen.insert(id), "job {id} claimed twice");
            total += 1;
        }
    }
    assert_eq!(total, 10_000);
    let d = s.queue_depth().await.expect("depth");
    assert_eq!((d.completed, d.pending, d.running), (10_000, 0, 0));
    let attempts: i64 = sqlx::query_scalar("SELECT count(*) FROM backtest_jobs WHERE attempt <> 1")
        .fetch_one(&pool)
        .await
        .expect("attempts");
    assert_eq!(attempts, 0);
    let _ = JobStatus::Completed;
}

#[sqlx::test(migrations = "../migrations")]
async fn enqueue_notifies_listeners_and_monitoring_counts(pool: PgPool) {
    let s = store(pool.clone());
    let mut listener = s.listen_for_jobs().await.expect("listen");
    let b = bundle("o", 3, 0, 3);
    s.enqueue_bundle(&b).await.expect("enqueue");
    let note = tokio::time::timeout(std::time::Duration::from_secs(5), listener.recv())
        .await
        .expect("notified in time")
        .expect("notification");
    assert_eq!((note.channel(), note.payload()), (bt_queue::JOBS_CHANNEL, b.id.to_string().as_str()));
    s.claim("w-a", 2).await.expect("claim");
    s.claim("w-b", 1).await.expect("claim");
    assert_eq!(
        s.running_per_worker().await.expect("per worker"),
        [("w-a".to_owned(), 2), ("w-b".to_owned(), 1)]
    );
    let d = s.queue_depth().await.expect("depth");
    assert_eq!((d.pending, d.running), (0, 3));
}
