//! API keys with their limits, owners' usage, and admission within the limits.

use bt_queue::{Admission, KeyLimits, OwnerUsage, QuotaExceeded};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{bundle, store};

#[sqlx::test(migrations = "../migrations")]
async fn keys_are_read_with_their_owner_and_limits(pool: PgPool) {
    let s = store(pool.clone());
    let ordinary = Uuid::new_v4();
    s.insert_api_key(ordinary, "alice", &[1; 32]).await.expect("insert");
    let operator = Uuid::new_v4();
    let wide = KeyLimits {
        max_active_bundles: 0,
        max_queued_jobs: 1_000_000,
        max_variants: 5_000,
        min_priority: -100,
        max_priority: 1_000,
        rate_limit: Some(0),
    };
    s.insert_api_key_with(operator, "ops", &[2; 32], &wide).await.expect("insert");
    let k = s.api_key(&[1; 32]).await.expect("read").expect("live");
    assert_eq!((k.id, k.owner.as_str(), k.limits), (ordinary, "alice", KeyLimits::default()));
    let k = s.api_key(&[2; 32]).await.expect("read").expect("live");
    assert_eq!((k.id, k.owner.as_str(), k.limits), (operator, "ops", wide));
    assert_eq!(s.api_key(&[3; 32]).await.expect("read"), None);
    // The columns' defaults (what keys minted before the limits got) are
    // KeyLimits::default().
    sqlx::query("INSERT INTO api_keys (id, owner, key_hash) VALUES ($1, 'old', $2)")
        .bind(Uuid::new_v4())
        .bind(&[4u8; 32][..])
        .execute(&pool)
        .await
        .expect("plain insert");
    assert_eq!(s.api_key(&[4; 32]).await.expect("read").expect("live").limits, KeyLimits::default());
    let listed: Vec<(String, KeyLimits)> =
        s.list_api_keys().await.expect("list").into_iter().map(|k| (k.owner, k.limits)).collect();
    assert_eq!(
        listed,
        vec![
            ("alice".to_owned(), KeyLimits::default()),
            ("ops".to_owned(), wide),
            ("old".to_owned(), KeyLimits::default())
        ]
    );
    // The database refuses limits that make no sense.
    let bad = KeyLimits { min_priority: 5, max_priority: 1, ..KeyLimits::default() };
    assert!(s.insert_api_key_with(Uuid::new_v4(), "x", &[5; 32], &bad).await.is_err());
    let bad = KeyLimits { max_queued_jobs: -1, ..KeyLimits::default() };
    assert!(s.insert_api_key_with(Uuid::new_v4(), "x", &[6; 32], &bad).await.is_err());
    s.revoke_api_key(ordinary).await.expect("revoke").expect("was live");
    assert_eq!(s.api_key(&[1; 32]).await.expect("read"), None);
}

#[sqlx::test(migrations = "../migrations")]
async fn owner_usage_counts_bundles_and_jobs_not_yet_ended(pool: PgPool) {
    let s = store(pool.clone());
    assert_eq!(s.owner_usage("alice").await.expect("usage"), OwnerUsage::default());
    let a1 = bundle("alice", 3, 0, 3);
    let a2 = bundle("alice", 2, 0, 3);
    let a3 = bundle("alice", 4, 0, 3);
    // Bob's bundle below Alice's priority, so the claim below takes hers.
    for b in [&a1, &a2, &a3, &bundle("bob", 7, -1, 3)] {
        s.enqueue_bundle(b).await.expect("enqueue");
    }
    assert_eq!(
        s.owner_usage("alice").await.expect("usage"),
        OwnerUsage { active_bundles: 3, queued_jobs: 9 }
    );
    // A running job still counts; a cancelled bundle does not.
    let job = s.claim("w", 1).await.expect("claim").remove(0);
    s.cancel_bundle(a3.id, "alice").await.expect("cancel");
    assert_eq!(
        s.owner_usage("alice").await.expect("usage"),
        OwnerUsage { active_bundles: 2, queued_jobs: 5 }
    );
    // A failed job does not.
    let done = if job.bundle_id == a3.id { s.claim("w", 1).await.expect("claim").remove(0) } else { job };
    assert_ne!(done.bundle_id, a3.id);
    assert!(s.fail(&done, "broken", false).await.expect("fail").is_some());
    assert_eq!(s.owner_usage("alice").await.expect("usage").queued_jobs, 4);
    assert_eq!(s.owner_usage("bob").await.expect("usage"), OwnerUsage { active_bundles: 1, queued_jobs: 7 });
}

#[sqlx::test(migrations = "../migrations")]
async fn enqueue_within_limits_refuses_and_writes_nothing(pool: PgPool) {
    let s = store(pool.clone());
    let limits = KeyLimits { max_active_bundles: 2, max_queued_jobs: 5, ..KeyLimits::default() };
    let within = |b| {
        let s = s.clone();
        async move { s.enqueue_bundle_within(&b, Some(&limits)).await.expect("enqueue") }
    };
    assert_eq!(within(bundle("alice", 2, 0, 3)).await, Admission::Enqueued);
    // 2 queued + 4 new > 5.
    assert_eq!(
        within(bundle("alice", 4, 0, 3)).await,
        Admission::Refused(QuotaExceeded { limit: "max_queued_jobs", allowed: 5, used: 2, adding: 4 })
    );
    assert_eq!(within(bundle("alice", 3, 0, 3)).await, Admission::Enqueued);
    assert_eq!(
        within(bundle("alice", 1, 0, 3)).await,
        Admission::Refused(QuotaExceeded { limit: "max_active_bundles", allowed: 2, used: 2, adding: 1 })
    );
    // Another owner has room of its own, and no limits means none.
    assert_eq!(within(bundle("bob", 1, 0, 3)).await, Admission::Enqueued);
    assert_eq!(
        s.enqueue_bundle_within(&bundle("alice", 9, 0, 3), None).await.expect("e"),
        Admission::Enqueued
    );
    let counts: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT b.owner, count(DISTINCT b.id), count(j.id) FROM bundles b JOIN backtest_jobs j ON j.bundle_id = b.id GROUP BY b.owner ORDER BY b.owner",
    )
    .fetch_all(&pool)
    .await
    .expect("counts");
    assert_eq!(counts, vec![("alice".to_owned(), 3, 14), ("bob".to_owned(), 1, 1)]);
}

#[sqlx::test(migrations = "../migrations")]
async fn concurrent_submissions_cannot_overshoot_a_quota(pool: PgPool) {
    let s = store(pool.clone());
    let limits = KeyLimits { max_active_bundles: 3, ..KeyLimits::default() };
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(
                async move { s.enqueue_bundle_within(&bundle("alice", 1, 0, 3), Some(&limits)).await },
            )
        })
        .collect();
    let mut enqueued = 0;
    for t in tasks {
        if t.await.expect("join").expect("enqueue") == Admission::Enqueued {
            enqueued += 1;
        }
    }
    assert_eq!(enqueued, 3);
    assert_eq!(
        s.owner_usage("alice").await.expect("usage"),
        OwnerUsage { active_bundles: 3, queued_jobs: 3 }
    );
}

#[test]
fn priorities_are_clamped_into_the_range() {
    let l = KeyLimits::default();
    assert_eq!([i32::MAX, 11, 10, 3, 0, -1, i32::MIN].map(|p| l.clamp_priority(p)), [10, 10, 10, 3, 0, 0, 0]);
    let any = KeyLimits::unlimited();
    assert_eq!([i32::MAX, i32::MIN].map(|p| any.clamp_priority(p)), [i32::MAX, i32::MIN]);
}
