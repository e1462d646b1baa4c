//! Claims on a worker's liveness session, the rescuer's two looks, fair
//! claim order across owners, and result writes of any size.

use std::io::Write;
use std::time::{Duration, Instant};

use bt_queue::{BundleStatus, Execution, JobStatus, Metrics, ResultRow, Session, StoreError};
use sqlx::PgPool;

use crate::{bundle, store};

const GRACE: Duration = Duration::from_millis(200);

async fn locks_held(pool: &PgPool) -> i64 {
    // This test's database only: other tests hold locks of their own.
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(pool)
    .await
    .expect("locks")
}

async fn terminate(pool: &PgPool, pid: i32) {
    sqlx::query("SELECT pg_terminate_backend($1)").bind(pid).execute(pool).await.expect("terminate");
    // The server drops the session's locks as the backend exits.
    for _ in 0..100 {
        let alive: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)")
            .bind(pid)
            .fetch_one(pool)
            .await
            .expect("activity");
        if !alive {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("backend {pid} did not exit");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_session_claim_holds_every_lock_so_nothing_is_rescued(pool: PgPool) {
    let s = store(pool.clone());
    s.enqueue_bundle(&bundle("o", 3, 0, 3)).await.expect("enqueue");
    let mut session = Session::connect(&pool.connect_options()).await.expect("session");
    let jobs = session.claim("w", 2, &[Execution::Queue]).await.expect("claim");
    assert_eq!(jobs.len(), 2);
    assert!(jobs.iter().all(|(_, locked)| *locked));
    // The locks exist the moment the claim returns: no window without them.
    assert_eq!(locks_held(&pool).await, 2);
    for _ in 0..3 {
        let r = s.rescue(Duration::from_secs(90), Duration::ZERO).await.expect("rescue").expect("leader");
        assert!(r.is_empty(), "{r:?}");
    }
    let marked: i64 =
        sqlx::query_scalar("SELECT count(*) FROM backtest_jobs WHERE unlocked_since IS NOT NULL")
            .fetch_one(&pool)
            .await
            .expect("marked");
    assert_eq!(marked, 0);
    session.unlock(jobs[0].0.id).await.expect("unlock");
    assert_eq!(locks_held(&pool).await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_dead_workers_jobs_are_rescued_on_the_second_look(pool: PgPool) {
    let s = store(pool.clone());
    s.enqueue_bundle(&bundle("o", 2, 0, 3)).await.expect("enqueue");
    let mut session = Session::connect(&pool.connect_options()).await.expect("session");
    let jobs = session.claim("w", 2, &[Execution::Queue]).await.expect("claim");
    let pid = session.backend_pid().await.expect("pid");
    let killed = Instant::now();
    terminate(&pool, pid).await;
    // First look: marked, not yet rescued.
    let r = s.rescue(Duration::from_secs(90), GRACE).await.expect("rescue").expect("leader");
    assert!(r.is_empty());
    tokio::time::sleep(GRACE).await;
    let r = s.rescue(Duration::from_secs(90), GRACE).await.expect("rescue").expect("leader");
    let mut ids: Vec<i64> = r.iter().map(|x| x.id).collect();
    ids.sort();
    assert_eq!(ids, jobs.iter().map(|(j, _)| j.id).collect::<Vec<_>>());
    assert!(r.iter().all(|x| x.status == JobStatus::Pending));
    assert!(killed.elapsed() < Duration::from_secs(2), "{:?}", killed.elapsed());
    // Another worker runs them at once.
    assert_eq!(s.claim("w2", 5).await.expect("claim").len(), 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_cut_session_that_takes_its_locks_again_keeps_its_jobs(pool: PgPool) {
    let s = store(pool.clone());
    s.enqueue_bundle(&bundle("o", 1, 0, 3)).await.expect("enqueue");
    let opts = pool.connect_options();
    let mut session = Session::connect(&opts).await.expect("session");
    let jobs = session.claim("w", 1, &[Execution::Queue]).await.expect("claim");
    let id = jobs[0].0.id;
    terminate(&pool, session.backend_pid().await.expect("pid")).await;
    // The old session is gone: its calls fail with a transient error.
    let e = session.ping().await.expect_err("cut");
    assert!(e.is_transient(), "{e:?}");
    // The rescuer's first look marks the job...
    assert!(s.rescue(Duration::from_secs(90), GRACE).await.expect("rescue").expect("leader").is_empty());
    // ...the worker reconnects and takes its lock again, clearing the mark...
    let mut again = Session::connect(&opts).await.expect("session");
    assert_eq!(again.relock(&[id]).await.expect("relock"), [(id, true)]);
    let mark: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT unlocked_since FROM backtest_jobs WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("mark");
    assert_eq!(mark, None);
    // ...so however many passes follow, the job stays this run's.
    for _ in 0..3 {
        tokio::time::sleep(GRACE).await;
        assert!(s.rescue(Duration::from_secs(90), GRACE).await.expect("rescue").expect("leader").is_empty());
    }
    assert!(s.complete(&jobs[0].0, &[]).await.expect("complete"));
    // A cut between two looks with no relock in between is a dead worker.
    s.enqueue_bundle(&bundle("o", 1, 0, 3)).await.expect("enqueue");
    let j2 = again.claim("w", 1, &[Execution::Queue]).await.expect("claim");
    terminate(&pool, again.backend_pid().await.expect("pid")).await;
    assert!(s.rescue(Duration::from_secs(90), GRACE).await.expect("rescue").expect("leader").is_empty());
    tokio::time::sleep(GRACE).await;
    let r = s.rescue(Duration::from_secs(90), GRACE).await.expect("rescue").expect("leader");
    assert_eq!(r.iter().map(|x| x.id).collect::<Vec<_>>(), [j2[0].0.id]);
}

#[sqlx::test(migrations = "../migrations")]
async fn rescued_jobs_wake_every_worker(pool: PgPool) {
    let s = store(pool.clone());
    s.enqueue_bundle(&bundle("o", 1, 0, 3)).await.expect("enqueue");
    let mut session = Session::connect(&pool.connect_options()).await.expect("session");
    session.claim("w", 1, &[Execution::Queue]).await.expect("claim");
    let mut listener = s.listen_for_jobs().await.expect("listen");
    terminate(&pool, session.backend_pid().await.expect("pid")).await;
    s.rescue(Duration::from_secs(90), Duration::ZERO).await.expect("rescue");
    let r = s.rescue(Duration::from_secs(90), Duration::ZERO).await.expect("rescue").expect("leader");
    assert_eq!(r.len(), 1);
    let note = tokio::time::timeout(Duration::from_secs(5), listener.recv())
        .await
        .expect("notified in time")
        .expect("notification");
    assert_eq!(note.payload(), "rescued");
}

#[sqlx::test(migrations = "../migrations")]
async fn one_owners_thousand_jobs_do_not_starve_anothers_ten(pool: PgPool) {
    let s = store(pool.clone());
    let big1 = bundle("big", 500, 0, 3);
    let big2 = bundle("big", 500, 0, 3);
    s.enqueue_bundle(&big1).await.expect("enqueue");
    s.enqueue_bundle(&big2).await.expect("enqueue");
    // Some of the big owner's work is already under way.
    assert_eq!(s.claim("w", 30).await.expect("claim").len(), 30);
    let small = bundle("small", 10, 0, 3);
    s.enqueue_bundle(&small).await.expect("enqueue");
    // The small owner's ten interleave with what is queued: all of them
    // within the next twenty claims, alternating with the big owner's.
    let next = s.claim("w", 20).await.expect("claim");
    let owners: Vec<bool> = next.iter().map(|j| j.bundle_id == small.id).collect();
    assert_eq!(owners.iter().filter(|x| **x).count(), 10, "{owners:?}");
    // One owner's own bundles keep their order: big1 before big2.
    let rest = s.claim("w", 2_000).await.expect("claim");
    let first_big2 = rest.iter().position(|j| j.bundle_id == big2.id).expect("big2");
    assert!(rest[..first_big2].iter().all(|j| j.bundle_id == big1.id));
    assert!(rest[first_big2..].iter().all(|j| j.bundle_id == big2.id));
    // Priority still comes first.
    let urgent = bundle("big", 2, 5, 3);
    s.enqueue_bundle(&urgent).await.expect("enqueue");
    s.enqueue_bundle(&bundle("small", 2, 0, 3)).await.expect("enqueue");
    let head = s.claim("w", 2).await.expect("claim");
    assert!(head.iter().all(|j| j.bundle_id == urgent.id));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_claim_does_not_wait_for_a_bundle_row_another_transaction_holds(pool: PgPool) {
    let s = store(pool.clone());
    let b = bundle("o", 2, 0, 3);
    s.enqueue_bundle(&b).await.expect("enqueue");
    // Another writer (a cancel, a job end) holds the bundle's row.
    let mut other = pool.begin().await.expect("tx");
    sqlx::query("SELECT id FROM bundles WHERE id = $1 FOR UPDATE")
        .bind(b.id)
        .execute(&mut *other)
        .await
        .expect("lock");
    let jobs = tokio::time::timeout(Duration::from_secs(3), s.claim("w", 2))
        .await
        .expect("the claim waited for the bundle row")
        .expect("claim");
    assert_eq!(jobs.len(), 2);
    other.commit().await.expect("commit");
    assert_eq!(s.bundle_status(b.id, None).await.expect("st").expect("b").status, BundleStatus::Pending);
    // The rescuer marks a bundle whose marking was skipped.
    s.rescue(Duration::from_secs(90), GRACE).await.expect("rescue").expect("leader");
    let st = s.bundle_status(b.id, None).await.expect("st").expect("b");
    assert_eq!(st.status, BundleStatus::Running);
    assert!(st.started_at.is_some());
}

fn row(variant: i64) -> ResultRow {
    ResultRow {
        variant,
        metrics: Metrics {
            final_equity: 10_000.0 + variant as f64 * 0.25,
            total_return: variant as f64 * 1e-6,
            cagr: f64::NAN,
            max_drawdown: 0.125,
            max_drawdown_duration_ms: variant * 60_000,
            sharpe: -1.0 / (1 + variant) as f64,
            sortino: f64::INFINITY,
            calmar: f64::NEG_INFINITY,
            win_rate: 0.5,
            profit_factor: 1.5,
            expectancy: 2.5,
            avg_trade_return: 0.001,
            trades: (variant % 97) as u64,
            exposure: 0.75,
            fees: 3.0,
            buy_and_hold_return: -0.1,
            open_position: variant % 3 == 0,
            liquidated: variant % 5 == 0,
            best_trade: 0.5 + variant as f64,
            max_trade_duration_ms: variant * 1_000,
            sqn: f64::NAN,
            kelly: -0.25,
            ..Metrics::zero()
        },
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_million_results_of_one_job_commit_exactly_once(pool: PgPool) {
    let s = store(pool.clone());
    let mut b = bundle("o", 1, 0, 3);
    const N: i64 = 1_000_000;
    b.variant_count = N;
    b.jobs[0].variant_end = N;
    s.enqueue_bundle(&b).await.expect("enqueue");
    let job = s.claim("w", 1).await.expect("claim").remove(0);
    let rows: Vec<ResultRow> = (0..N).map(row).collect();
    let t = Instant::now();
    assert!(s.complete(&job, &rows).await.expect("complete"));
    let took = t.elapsed();
    let _ = writeln!(
        std::io::stderr(),
        "1,000,000 results of one job stored and committed in {:.2} s",
        took.as_secs_f64()
    );
    let (n, distinct, sum): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT variant), sum(trades)::bigint FROM backtest_results WHERE bundle_id = $1",
    )
    .bind(b.id)
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!((n, distinct), (N, N));
    assert_eq!(sum, (0..N).map(|v| v % 97).sum::<i64>());
    // Every value travels exactly, NaN and infinities included.
    for v in [0, 1, 77_777, N - 1] {
        let got: ResultRow = sqlx::query_as(&format!(
            "SELECT variant, {}, open_position, liquidated FROM backtest_results WHERE bundle_id = $1 AND variant = $2",
            Metrics::NAMES.join(", ")
        ))
        .bind(b.id)
        .bind(v)
        .fetch_one(&pool)
        .await
        .expect("row");
        assert_eq!(format!("{got:?}"), format!("{:?}", row(v)));
    }
    // A second write of the same results is refused by the fence, and a
    // duplicate variant by the primary key: never stored twice.
    assert!(!s.complete(&job, &rows[..10]).await.expect("stale"));
    assert_eq!(s.bundle_status(b.id, None).await.expect("st").expect("b").status, BundleStatus::Completed);
}

#[test]
fn server_errors_are_classified_by_sqlstate() {
    for code in ["08006", "08003", "57P01", "57P02", "57P03", "40001", "40P01", "53300"] {
        assert!(bt_queue::transient_sqlstate(code), "{code}");
    }
    for code in ["23505", "42P01", "22P02", "XX000", "57014"] {
        assert!(!bt_queue::transient_sqlstate(code), "{code}");
    }
    assert!(StoreError::Timeout(Duration::from_secs(1)).is_transient());
    assert!(StoreError::Db(sqlx::Error::PoolTimedOut).is_transient());
    assert!(!StoreError::Db(sqlx::Error::RowNotFound).is_transient());
    assert!(!StoreError::NoJobs.is_transient());
}

#[sqlx::test(migrations = "../migrations")]
async fn a_claim_whose_reply_was_lost_is_adopted_by_its_worker(pool: PgPool) {
    let s = store(pool.clone());
    s.enqueue_bundle(&bundle("o", 3, 0, 3)).await.expect("enqueue");
    // Claimed on a session that died before the reply came: running, assigned
    // to "w", nobody holds the lock.
    let lost = s.claim("w", 2).await.expect("claim");
    let mut session = Session::connect(&pool.connect_options()).await.expect("session");
    // Another worker id finds nothing; "w" finds both, minus those it knows.
    assert!(session.adopt("w2", &[], 10).await.expect("adopt").is_empty());
    let got = session.adopt("w", &[lost[0].id], 10).await.expect("adopt");
    assert_eq!(got, [lost[1].clone()]);
    assert_eq!(locks_held(&pool).await, 1);
    // A job whose lock another session holds is left to that session.
    let mut other = Session::connect(&pool.connect_options()).await.expect("session");
    assert_eq!(other.relock(&[lost[0].id]).await.expect("lock"), [(lost[0].id, true)]);
    assert!(session.adopt("w", &[lost[1].id], 10).await.expect("adopt").is_empty());
    // The adopted run completes under its original attempt.
    assert!(s.complete(&got[0], &[]).await.expect("complete"));
}
