//! `bt work` as real processes against a real PostgreSQL: results equal to
//! `bt run`, two workers sharing a bundle, priority, SIGKILL rescue, SIGTERM
//! drain, terminated connections, cancellation, failing jobs, and the
//! health, readiness and metrics endpoints. Each test gets its own database
//! (`#[sqlx::test]`) and its own workers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use uuid::Uuid;

use crate::repo_root;

/// The child processes' URL of this test's database.
pub fn db_url(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let db = pool.connect_options().get_database().expect("database name").to_owned();
    let cut = base.rfind('/').expect("a path in DATABASE_URL");
    format!("{}/{db}", &base[..cut])
}

pub fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

fn catalog() -> String {
    repo_root().join("data").to_str().expect("utf-8").to_owned()
}

/// A `bt work` process, killed when dropped.
struct Worker {
    child: Child,
    id: String,
    log: PathBuf,
    http: SocketAddr,
}

impl Worker {
    fn start(url: &str, id: &str, dir: &Path, env: &[(&str, &str)]) -> Self {
        let log = dir.join(format!("{id}.log"));
        let http = free_addr();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bt"));
        cmd.arg("work")
            .env("DATABASE_URL", url)
            .env("BT_WORKER_ID", id)
            .env("BT_CATALOG", catalog())
            .env("BT_HTTP_ADDR", http.to_string())
            .env("BT_THREADS", "1")
            .env("BT_MAX_CONCURRENT_BACKTESTS", "1")
            .env("BT_JOB_POLL_INTERVAL_SECONDS", "0.2")
            .env("BT_HEARTBEAT_INTERVAL_SECONDS", "0.2")
            .env("BT_HEARTBEAT_TIMEOUT_SECONDS", "20")
            .env("BT_SHUTDOWN_GRACE_SECONDS", "30")
            .env("BT_LOG_FORMAT", "json")
            .env("BT_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start bt work");
        Self { child, id: id.to_owned(), log, http }
    }

    fn signal(&self, sig: &str) {
        let ok =
            Command::new("kill").args([sig, &self.child.id().to_string()]).status().expect("kill").success();
        assert!(ok, "kill {sig}");
    }

    fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let t = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                return s;
            }
            assert!(t.elapsed() < timeout, "{} did not exit in {timeout:?}:\n{}", self.id, self.logs());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Log lines (JSON objects) whose message is `msg`.
    fn events(&self, msg: &str) -> Vec<serde_json::Value> {
        self.logs()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["fields"]["message"] == msg)
            .collect()
    }

    /// Waits (a few seconds at most) until `n` events `msg` are logged: a log
    /// line is written just after the database change a test waits for.
    fn wait_events(&self, msg: &str, n: usize) -> Vec<serde_json::Value> {
        let t = Instant::now();
        loop {
            let e = self.events(msg);
            if e.len() >= n || t.elapsed() > Duration::from_secs(5) {
                return e;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn get(&self, path: &str) -> (u16, String) {
        http_get(self.http, path)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").expect("request");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("response");
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).expect("status code");
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

/// Waits until `addr` answers /health.
fn wait_http(w: &Worker) {
    let t = Instant::now();
    while TcpStream::connect_timeout(&w.http, Duration::from_millis(200)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(20), "{} never listened:\n{}", w.id, w.logs());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A bundle over both sample tickers at 1m: `fast` SMA periods (5, 10, ...)
/// x slow {60, 80} x the stop losses given (x the take profits, if any).
fn bundle_file(dir: &Path, name: &str, fast: usize, stops: &str) -> PathBuf {
    bundle_file_tp(dir, name, fast, stops, "")
}

fn bundle_file_tp(dir: &Path, name: &str, fast: usize, stops: &str, targets: &str) -> PathBuf {
    let tp = if targets.is_empty() { String::new() } else { format!("take_profit = [{targets}]\n") };
    let text = format!(
        r#"name = "{name}"
[datasets]
tickers = ["BTCUSD", "ETHUSD"]
timeframes = ["1m"]
[strategy]
kind = "sma_cross"
fast = {{ start = 5, stop = {}, step = 5 }}
slow = {{ start = 60, stop = 80, step = 20 }}
[money]
stop_loss = [{stops}]
{tp}[costs]
fee_bps = 10
"#,
        5 * fast
    );
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, text).expect("write bundle");
    p
}

pub fn bt_with_db(url: &str, args: &[&str]) -> crate::Run {
    let out = Command::new(env!("CARGO_BIN_EXE_bt"))
        .args(args)
        .env("DATABASE_URL", url)
        .env_remove("BT_LOG")
        .env_remove("BT_CATALOG")
        .output()
        .expect("run bt");
    crate::Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `bt submit`; returns the bundle id.
fn submit(url: &str, bundle: &Path, extra: &[&str]) -> Uuid {
    let mut args = vec!["submit", bundle.to_str().expect("utf-8"), "--catalog"];
    let cat = catalog();
    args.push(&cat);
    args.extend_from_slice(extra);
    let r = bt_with_db(url, &args);
    assert!(r.ok, "{r:?}");
    r.stdout.trim().parse().expect("bundle id on stdout")
}

async fn bundle_status(pool: &PgPool, id: Uuid) -> String {
    sqlx::query_scalar("SELECT status::text FROM bundles WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("status")
}

async fn wait_for(pool: &PgPool, id: Uuid, status: &str, timeout: Duration, workers: &[&Worker]) {
    let t = Instant::now();
    loop {
        let s = bundle_status(pool, id).await;
        if s == status {
            return;
        }
        if t.elapsed() > timeout {
            let logs: Vec<String> = workers.iter().map(|w| format!("--- {}\n{}", w.id, w.logs())).collect();
            panic!("bundle {id} is {s}, not {status}, after {timeout:?}\n{}", logs.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every variant stored exactly once (the primary key rules out duplicates;
/// this checks none is missing or stray).
pub async fn assert_all_results(pool: &PgPool, id: Uuid) {
    let (n, distinct, lo, hi, want): (i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT variant), min(variant), max(variant),
                (SELECT variant_count FROM bundles WHERE id = $1)
         FROM backtest_results WHERE bundle_id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .expect("results");
    assert_eq!((n, distinct, lo, hi), (want, want, 0, want - 1));
}

/// `bt results --out` equals `bt run --out` on the same bundle, byte for byte
/// (so every metric, bit for bit, in the same rows).
fn assert_equals_bt_run(url: &str, id: Uuid, bundle: &Path, dir: &Path) {
    assert_equals_bt_run_on(url, id, bundle, dir, &catalog());
}

fn assert_equals_bt_run_on(url: &str, id: Uuid, bundle: &Path, dir: &Path, cat: &str) {
    let ours = dir.join(format!("{id}.json"));
    let r = bt_with_db(url, &["results", &id.to_string(), "--out", ours.to_str().expect("utf-8")]);
    assert!(r.ok, "{r:?}");
    let theirs = dir.join(format!("{id}-run.json"));
    let r = bt_with_db(
        url,
        &["run", bundle.to_str().expect("utf-8"), "--catalog", cat, "--out", theirs.to_str().expect("utf-8")],
    );
    assert!(r.ok, "{r:?}");
    let (a, b) =
        (std::fs::read_to_string(&ours).expect("ours"), std::fs::read_to_string(&theirs).expect("run"));
    assert!(a.lines().count() > 2, "{a}");
    assert!(a == b, "bt results and bt run differ:\n{a}\n---\n{b}");
}

#[sqlx::test(migrations = "../migrations")]
async fn results_equal_bt_run_for_one_job_and_many(pool: PgPool) {
    let url = db_url(&pool);
    let dir = tempfile::tempdir().expect("tmp");
    let w = Worker::start(&url, "w1", dir.path(), &[("BT_MAX_CONCURRENT_BACKTESTS", "2")]);
    let bundle = bundle_file(dir.path(), "eq", 2, "0.01, 0.03");
    // 2 fast x 2 slow x 2 stops = 8 variants per ticker.
    let one = submit(&url, &bundle, &["--job-size", "1000000000"]);
    let many = submit(&url, &bundle, &["--job-size", "43200"]);
    let jobs = |id: Uuid| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM backtest_jobs WHERE bundle_id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .expect("jobs")
        }
    };
    assert_eq!(jobs(one).await, 2, "one job per dataset");
    assert_eq!(jobs(many).await, 16, "one variant per job");
    for id in [one, many] {
        wait_for(&pool, id, "completed", Duration::from_secs(120), &[&w]).await;
        assert_all_results(&pool, id).await;
        assert_equals_bt_run(&url, id, &bundle, dir.path());
    }
    let status = bt_with_db(&url, &["status", &many.to_string()]);
    assert!(status.ok, "{status:?}");
    assert!(status.stdout.contains("status   completed"), "{}", status.stdout);
    assert!(
        status.stdout.contains("jobs     0 pending, 0 running, 16 completed, 0 failed, 0 cancelled (of 16)"),
        "{}",
        status.stdout
    );
    assert!(status.stdout.contains("progress 16/16 variants (100.0%)"), "{}", status.stdout);
    // The dataset cache: each of the two datasets read once for 18 jobs.
    assert_eq!(w.events("job claimed").len(), 18);
    assert_eq!(w.events("dataset loaded").len(), 2, "{}", w.logs());
}

/// A rules bundle reading a data column: `bt submit` + `bt work` store what
/// `bt run` computes, and a bundle naming a column the data lacks is refused
/// at submission.
#[sqlx::test(migrations = "../migrations")]
async fn a_rules_bundle_with_a_data_column_equals_bt_run(pool: PgPool) {
    let url = db_url(&pool);
    let dir = tempfile::tempdir().expect("tmp");
    let cat = dir.path().join("cat");
    std::fs::create_dir_all(cat.join("BTCUSD")).expect("mkdir");
    std::fs::copy(repo_root().join("data/BTCUSD/1h.parquet"), cat.join("BTCUSD/1h.parquet")).expect("copy");
    let cat = cat.to_str().expect("utf-8").to_owned();
    let csv = repo_root().join("examples/btc_signal.csv");
    let r = bt_with_db(
        &url,
        &["data", "import", csv.to_str().expect("utf-8"), "--ticker", "BTCSIG", "--catalog", &cat],
    );
    assert!(r.ok, "{r:?}");
    let w = Worker::start(&url, "rules", dir.path(), &[("BT_CATALOG", &cat)]);
    let bundle = dir.path().join("rules.toml");
    std::fs::write(
        &bundle,
        r#"name = "rules"
[datasets]
tickers = ["BTCSIG"]
timeframes = ["1h"]
[strategy]
entry_long = "col('signal') > $t and rsi(close, 14) < $r"
exit_long = "col('signal') < 0 or cross_below(sma(close, 5), sma(close, 20))"
[strategy.params]
t = [0, 0.5, 1]
r = [60, 80]
[money]
stop_loss = [0, 0.02]
[costs]
fee_bps = 10
"#,
    )
    .expect("write");
    let sub = |file: &Path| {
        bt_with_db(&url, &["submit", file.to_str().expect("utf-8"), "--catalog", &cat, "--job-size", "2000"])
    };
    let r = sub(&bundle);
    assert!(r.ok, "{r:?}");
    let id: Uuid = r.stdout.trim().parse().expect("id");
    wait_for(&pool, id, "completed", Duration::from_secs(120), &[&w]).await;
    assert_all_results(&pool, id).await;
    assert_equals_bt_run_on(&url, id, &bundle, dir.path(), &cat);
    let results = std::fs::read_to_string(dir.path().join(format!("{id}.json"))).expect("results");
    assert!(results.contains("col('signal') > 0.5 and rsi(close, 14) < 80"), "{results}");
    // A column the dataset lacks: refused at submission, naming it.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&bundle).expect("read").replace("col('signal') >", "col('signals') >"),
    )
    .expect("write");
    let r = sub(&bad);
    assert!(!r.ok);
    assert!(r.stderr.contains("col(\"signals\"), which BTCSIG/1h does not have (its data columns: signal); did you mean `signal`?"), "{r:?}");
}

#[sqlx::test(migrations = "../migrations")]
async fn two_workers_share_a_bundle(pool: PgPool) {
    let url = db_url(&pool);
    let dir = tempfile::tempdir().expect("tmp");
    let bundle = bundle_file(dir.path(), "share", 4, "0.01, 0.02, 0.03");
    let id = submit(&url, &bundle, &["--job-size", "43200"]);
    let a = Worker::start(&url, "wa", dir.path(), &[]);
    let b = Worker::start(&url, "wb", dir.path(), &[]);
    wait_for(&pool, id, "completed", Duration::from_secs(120), &[&a, &b]).await;
    assert_all_results(&pool, id).await;
    let done = |w: &Worker| -> Vec<i64> {
        w.events("job completed").iter().map(|e| e["span"]["job"].as_i64().expect("job id")).collect()
    };
    let (da, db) = (done(&a), done(&b));
    assert!(!da.is_empty() && !db.is_empty(), "a: {da:?}, b: {db:?}");
    let mut all: Vec<i64> = da.iter().chain(&db).copied().collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), da.len() + db.len(), "no job completed twice");
    assert_eq!(all.len(), 48, "4 fast x 2 slow x 3 stops on 2 tickers, one variant per job");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_later_high_priority_bundle_runs_first(pool: PgPool) {
    let url = db_url(&pool);
    let dir = tempfile::tempdir().expect("tmp");
    let w = Worker::start(&url, "w1", dir.path(), &[]);
    // 40 jobs of 1,200 variants each.
    let low = submit(&url, &long_bundle(dir.path()), &["--job-size", "51840000"]);
    // Once the low bundle is under way, a high-priority one arrives.
    let t = Instant::now();
    while sqlx::query_scalar::<_, i64>(
        "SELECT count(*) FROM backtest_jobs WHERE bundle_id = $1 AND status = 'completed'",
    )
    .bind(low)
    .fetch_one(&pool)
    .await
    .expect("count")
        < 2
    {
        assert!(t.elapsed() < Duration::from_secs(60), "{}", w.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let high = submit(
        &url,
        &bundle_file(dir.path(), "high", 2, "0.01"),
        &["--job-size", "43200", "--priority", "10"],
    );
    wait_for(&pool, high, "completed", Duration::from_secs(60), &[&w]).await;
    // With one slot, no low job started between the high bundle's first and last.
    let (between, low_left): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE l.started_at > h.first AND l.started_at < h.last),
                count(*) FILTER (WHERE l.started_at > h.last OR l.status = 'pending')
         FROM backtest_jobs l,
              (SELECT min(started_at) AS first, max(started_at) AS last FROM backtest_jobs WHERE bundle_id = $2) h
         WHERE l.bundle_id = $1",
    )
    .bind(low)
    .bind(high)
    .fetch_one(&pool)
    .await
    .expect("order");
    assert_eq!(between, 0);
    assert!(low_left > 0, "the low bundle should still have had jobs to run");
    wait_for(&pool, low, "completed", Duration::from_secs(120), &[&w]).await;
}

/// Jobs of `id` running with some progress written.
async fn running_with_progress(pool: &PgPool, id: Uuid) -> Vec<i64> {
    sqlx::query_scalar(
        "SELECT id FROM backtest_jobs WHERE bundle_id = $1 AND status = 'running' AND progress > 0 ORDER BY id",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .expect("running")
}

async fn wait_running(pool: &PgPool, id: Uuid, w: &Worker) -> Vec<i64> {
    let t = Instant::now();
    loop {
        let r = running_with_progress(pool, id).await;
        if !r.is_empty() {
            return r;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "no job ran:\n{}", w.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A bundle whose jobs (with `--job-size LONG_JOB`: one per ticker, 24,000
/// variants, 1.04e9 bar-variants) run for 3 s or more even at the sweep's
/// full single-thread speed (3.4e8 bar-variants/s in the test profile), so
/// that a signal sent once progress shows (after 0.5 s) lands mid-run.
fn long_bundle(dir: &Path) -> PathBuf {
    let stops: Vec<String> = (1..=60).map(|i| format!("{}", f64::from(i) * 0.001)).collect();
    let targets: Vec<String> = (1..=20).map(|i| format!("{}", f64::from(i) * 0.004)).collect();
    bundle_file_tp(dir, "long", 10, &stops.join(", "), &targets.join(", "))
}

const LONG_JOB: &str = "1036800000";

#[sqlx::test(migrations = "../migrations")]
async fn a_killed_workers_jobs_are_rescued_and_run_once(pool: PgPool) {
    let url = db_url(&pool);
    let dir = tempfile::tempdir().expect("tmp");
    let bundle = long_bundle(dir.path());
    let id = submit(&url, &bundle, &["--job-size", LONG_JOB]);
    let mut doomed = Worker::start(&url, "doomed", dir.path(), &[("BT_MAX_CONCURRENT_BACKTESTS", "2")]);
    wait_running(&pool, id, &doomed).await;
    doomed.signal("-KILL");
    let killed = Instant::now();
    doomed.wait_exit(Duration::from_secs(10));
    // The jobs the dead worker left running (its connections are gone, so
    // its advisory locks are too).
    let taken: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM backtest_jobs WHERE status = 'running' AND assigned_worker = 'doomed'",
    )
    .fetch_all(&pool)
    .await
    .expect("orphans");
    assert!(!taken.is_empty(), "{}", doomed.logs());
    let rescuer = Worker::start(&url, "rescuer", dir.path(), &[("BT_MAX_CONCURRENT_BACKTESTS", "2")]);
    // Kill to the first of the doomed worker's jobs running again elsewhere.
    let rescue_time = loop {
        let again: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM backtest_jobs WHERE id = ANY($1) AND attempt >= 2 AND status IN ('running', 'completed')",
        )
        .bind(&taken)
        .fetch_one(&pool)
        .await
        .expect("again");
        if again > 0 {
            break killed.elapsed();
        }
        assert!(killed.elapsed() < Duration::from_secs(30), "not rescued:\n{}", rescuer.logs());
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // Straight to stderr (not the captured print macros): shown in every test run's output.
    let _ = writeln!(
        std::io::stderr(),
        "rescue time (SIGKILL to the job running again on another worker, default settings): {:.2} s",
        rescue_time.as_secs_f64()
    );
    // With the default lock grace and rescue interval (a fresh worker
    // started after the kill does the rescue): two passes a second apart.
    assert!(rescue_time < Duration::from_secs(3), "{rescue_time:?}");
    wait_for(&pool, id, "completed", Duration::from_secs(180), &[&rescuer]).await;
    assert_all_results(&pool, id).await;
    assert!(!rescuer.wait_events("job rescued", 1).is_empty(), "{}", rescuer.logs());
    assert_equals_bt_run(&url, id, &bundle, dir.path());
}

#[sqlx::test(migrations = "../migrations")]
async fn sigterm_drains_running_jobs_and_exits_zero(pool: PgPool) {
    let url = db_url(&pool);
    let dir = tempfile::tempdir().expect("tmp");
    let id = submit(&url, &long_bundle(dir.path()), &["--job-size", LONG_JOB]);
    // Generous grace: the running job finishes, nothing new is claimed.
    let mut w = Worker::start(&url, "drain", dir.path(), &[]);
    let running = wait_running(&pool, id, &w).await;
    w.signal("-TERM");
    assert!(w.wait_exit(Duration::from_secs(60)).success(), "{}", w.logs());
    let states: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, status::text FROM backtest_jobs WHERE bundle_id = $1 AND status <> 'pending'",
    )
    .bind(id)
    .fetch_all(&pool)
    .await
    .expect("states");
    assert_eq!(states, vec![(running[0], "completed".to_owned())], "{}", w.logs());
    // No grace: the running job is released, not left running.
    let mut w = Worker::start(&url, "quick", dir.path(), &[("BT_SHUTDOWN_GRACE_SECONDS", "0")]);
    let running = wait_running(&pool, id, &w).await;
    w.signal("-TERM");
    assert!(w.wait_exit(Duration::from_secs(30)).success(), "{}", w.logs());
    let (status, attempt): (String, i32) =
        sqlx::query_as("SELECT status::text, attempt FROM backtest_jobs WHERE id = $1")
            .bind(running[0])
            .fetch_one(&pool)
            .await
            .expect("job");
    assert_eq!((status.as_str(), attempt), ("pending", 1), "{}", w.logs());
    assert_eq!(w.wait_events("job released back to pending", 1).len(), 1, "{}", w.logs());
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM backtest_jobs WHERE status = 'running'")
        .fetch_one(&pool)
        .await
        .expect("running");
    assert_eq!(n, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn terminated_connections_do_not_lose_or_repeat_work(pool: PgPool) {
    let url = db_url(&pool);
    let dir = tempfile::tempdir().expect("tmp");
    let bundle = long_bundle(dir.path());
    let id = submit(&url, &bundle, &["--job-size", LONG_JOB]);
    let w = Worker::start(&url, "w1", dir.path(), &[("BT_MAX_CONCURRENT_BACKTESTS", "2")]);
    wait_running(&pool, id, &w).await;
    let db = pool.connect_options().get_database().expect("db").to_owned();
    // Cut every connection of the worker (its liveness session included),
    // six times, a second apart.
    let mut rounds_cut = 0;
    for _ in 0..6 {
        let cut: Vec<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'bt-work %'",
        )
        .bind(&db)
        .fetch_all(&pool)
        .await
        .expect("pids");
        let mut killed = 0;
        for pid in cut {
            let ok: Option<bool> = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
                .bind(pid)
                .fetch_one(&pool)
                .await
                .expect("terminate");
            killed += usize::from(ok == Some(true));
        }
        rounds_cut += usize::from(killed > 0);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // The worker reconnects between rounds (its liveness session within a
    // tenth of a second): the cuts really cut something (on a loaded machine
    // a round may find the worker between connections).
    assert!(rounds_cut >= 2, "only {rounds_cut} of 6 rounds found a connection to cut\n{}", w.logs());
    wait_for(&pool, id, "completed", Duration::from_secs(180), &[&w]).await;
    assert_all_results(&pool, id).await;
    // No work thrown away: no job needed a second attempt (before the
    // SQLSTATE classification, a completion cut with 57P01 failed the
    // attempt; before claims took their locks, a cut liveness session let
    // the rescuer take the job).
    let attempts: Vec<(i64, i32)> = sqlx::query_as(
        "SELECT id, attempt FROM backtest_jobs WHERE bundle_id = $1 AND attempt <> 1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&pool)
    .await
    .expect("attempts");
    assert!(attempts.is_empty(), "jobs run more than once: {attempts:?}\n{}", w.logs());
    assert_equals_bt_run(&url, id, &bundle, dir.path());
}

#[sqlx::test(migrations = "../migrations")]
async fn a_cancelled_bundle_stops_within_seconds(pool: PgPool) {
    let url = db_url(&pool);
    let dir = tempfile::tempdir().expect("tmp");
    let id = submit(&url, &long_bundle(dir.path()), &["--job-size", LONG_JOB]);
    let w = Worker::start(&url, "w1", dir.path(), &[]);
    wait_running(&pool, id, &w).await;
    let store = bt_queue::Store::new(pool.clone());
    let t = Instant::now();
    assert_eq!(store.cancel_bundle(id, "local").await.expect("cancel"), bt_queue::CancelOutcome::Cancelled);
    // The bundle is cancelled at once; its running job stops at the worker's next heartbeat.
    assert_eq!(bundle_status(&pool, id).await, "cancelled");
    loop {
        let running: i64 = sqlx::query_scalar("SELECT count(*) FROM backtest_jobs WHERE status = 'running'")
            .fetch_one(&pool)
            .await
            .expect("running");
        if running == 0 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "{}", w.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stopped = t.elapsed();
    let _ = writeln!(std::io::stderr(), "cancel to the running job stopped: {:.2} s", stopped.as_secs_f64());
    assert!(stopped < Duration::from_secs(5), "{stopped:?}");
    assert_eq!(w.wait_events("job cancelled", 1).len(), 1, "{}", w.logs());
}

#[sqlx::test(migrations = "../migrations")]
async fn a_failing_job_fails_clearly_and_the_worker_goes_on(pool: PgPool) {
    let url = db_url(&pool);
    let dir = tempfile::tempdir().expect("tmp");
    // A bundle whose dataset is not in the worker's catalog (enqueued directly,
    // since `bt submit` would refuse it).
    let spec = serde_json::json!({
        "name": "missing",
        "datasets": { "tickers": ["NOPE"], "timeframes": ["1h"] },
        "strategy": { "kind": "sma_cross", "fast": 5, "slow": 20 }
    });
    let store = bt_queue::Store::new(pool.clone());
    let bad = Uuid::new_v4();
    store
        .enqueue_bundle(&bt_queue::NewBundle {
            id: bad,
            owner: "local".into(),
            name: "missing".into(),
            spec,
            variant_count: 1,
            priority: 5,
            max_attempts: 3,
            execution: bt_queue::Execution::Queue,
            jobs: vec![bt_queue::NewJob {
                dataset_index: 0,
                ticker: "NOPE".into(),
                timeframe: "1h".into(),
                variant_start: 0,
                variant_end: 1,
            }],
        })
        .await
        .expect("enqueue");
    let good = submit(&url, &bundle_file(dir.path(), "good", 1, "0.01"), &[]);
    let w = Worker::start(&url, "w1", dir.path(), &[]);
    wait_for(&pool, bad, "failed", Duration::from_secs(60), &[&w]).await;
    wait_for(&pool, good, "completed", Duration::from_secs(60), &[&w]).await;
    let (error, attempts): (String, i32) = sqlx::query_as(
        "SELECT b.error, j.attempt FROM bundles b JOIN backtest_jobs j ON j.bundle_id = b.id WHERE b.id = $1",
    )
    .bind(bad)
    .fetch_one(&pool)
    .await
    .expect("error");
    assert!(error.contains("NOPE") && error.contains("1h"), "{error}");
    assert_eq!(attempts, 1, "a missing dataset is not retried");
    let failed = w.wait_events("job failed", 1);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["fields"]["retryable"], false);
    assert_eq!(failed[0]["span"]["bundle"], bad.to_string());
    assert_eq!(failed[0]["span"]["worker"], "w1");
}

#[sqlx::test(migrations = "../migrations")]
async fn health_ready_and_metrics_answer(pool: PgPool) {
    let url = db_url(&pool);
    let dir = tempfile::tempdir().expect("tmp");
    let mut w = Worker::start(&url, "w1", dir.path(), &[]);
    wait_http(&w);
    assert_eq!(w.get("/health"), (200, "ok\n".to_owned()));
    assert_eq!(w.get("/ready"), (200, "ready\n".to_owned()));
    let id = submit(&url, &bundle_file(dir.path(), "m", 2, "0.01"), &["--job-size", "43200"]);
    wait_for(&pool, id, "completed", Duration::from_secs(60), &[&w]).await;
    let (code, text) = w.get("/metrics");
    assert_eq!(code, 200);
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("{name} missing from\n{text}"))
            .parse()
            .expect("number")
    };
    assert_eq!(value("bt_jobs_claimed_total"), 8.0);
    assert_eq!(value("bt_jobs_completed_total"), 8.0);
    assert_eq!(value("bt_jobs_failed_total"), 0.0);
    assert_eq!(value("bt_jobs_rescued_total"), 0.0);
    assert_eq!(value("bt_jobs_running"), 0.0);
    assert_eq!(value("bt_bar_variants_total"), 8.0 * 43_200.0);
    assert_eq!(value("bt_job_duration_seconds_count"), 8.0);
    assert_eq!(value("bt_job_queue_wait_seconds_count"), 8.0);
    assert_eq!(value("bt_queue_jobs{status=\"completed\"}"), 8.0);
    assert_eq!(value("bt_queue_jobs{status=\"pending\"}"), 0.0);
    value("bt_queue_oldest_pending_seconds");
    w.signal("-TERM");
    assert!(w.wait_exit(Duration::from_secs(30)).success());
}

#[sqlx::test(migrations = false)]
async fn migrate_up_down_and_up(pool: PgPool) {
    let url = db_url(&pool);
    let r = bt_with_db(&url, &["migrate"]);
    assert!(r.ok, "{r:?}");
    let all: Vec<i64> =
        bt_queue::MIGRATOR.iter().filter(|m| m.migration_type.is_up_migration()).map(|m| m.version).collect();
    assert_eq!(r.stdout.trim(), format!("applied migrations: {all:?} (before: [])"));
    let back = (all.len() - 1).to_string();
    let r = bt_with_db(&url, &["migrate", "--down", &back]);
    assert!(r.ok, "{r:?}");
    assert_eq!(r.stdout.trim(), format!("applied migrations: [1] (before: {all:?})"));
    let r = bt_with_db(&url, &["migrate", "--down", "1"]);
    assert!(r.ok, "{r:?}");
    assert_eq!(r.stdout.trim(), "applied migrations: [] (before: [1])");
    let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'backtest_jobs'")
        .fetch_one(&pool)
        .await
        .expect("tables");
    assert_eq!(tables, 0);
    let r = bt_with_db(&url, &["migrate", "--down", "1"]);
    assert!(!r.ok);
    assert!(r.stderr.contains("--down 1: only 0 migrations are applied"), "{}", r.stderr);
    assert!(bt_with_db(&url, &["migrate"]).ok);
}

#[test]
fn bad_settings_and_ids_are_one_clear_line() {
    let r = bt_with_db(
        "postgres://postgres@127.0.0.1:5432/postgres",
        &["work", "--max-concurrent-backtests", "0", "--catalog", "."],
    );
    assert!(!r.ok);
    assert!(
        r.stderr.contains("error: BT_MAX_CONCURRENT_BACKTESTS: 0 is out of range (1 to 1024)"),
        "{}",
        r.stderr
    );
    let r = bt_with_db("postgres://postgres@127.0.0.1:5432/postgres", &["status", "not-a-uuid"]);
    assert!(!r.ok);
    assert!(r.stderr.contains("invalid value 'not-a-uuid'"), "{}", r.stderr);
}

#[sqlx::test(migrations = "../migrations")]
async fn unknown_bundles_are_named(pool: PgPool) {
    let url = db_url(&pool);
    let missing = Uuid::new_v4();
    for cmd in ["results", "status"] {
        let r = bt_with_db(&url, &[cmd, &missing.to_string()]);
        assert!(!r.ok);
        assert!(r.stderr.contains(&format!("bundle {missing} does not exist")), "{cmd}: {}", r.stderr);
    }
    let r = bt_with_db(&url, &["results", &missing.to_string(), "--sort", "luck"]);
    assert!(r.stderr.contains("\"luck\" is not a metric (one of final_equity,"), "{}", r.stderr);
}

/// Peak resident memory (VmHWM) of a live process, bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .expect("VmHWM");
    kb * 1024
}

/// Two bundles of distinct indicators, run together by one worker under a
/// 1 GB limit: the 166-byte bundle of issue 13 (4,629 donchian periods on
/// 43,200 1m bars) and 4,629 SMA periods whose rules signal on every bar.
/// Every column used to stay in the job's cache (up to 512 MiB) and every
/// strategy's fill events to the end of the job: 5.8 GB for `bt run` of the
/// second alone. Both complete, every variant once, and the worker's peak RSS
/// stays under 1.2 GB.
#[sqlx::test(migrations = "../migrations")]
async fn a_grid_of_distinct_indicators_runs_within_the_memory_limit(pool: PgPool) {
    let url = db_url(&pool);
    let dir = tempfile::tempdir().expect("tmp");
    let datasets = r#""datasets":{"tickers":["BTCUSD"],"timeframes":["1m"]}"#;
    let bundles = [
        ("bomb", r#""strategy":{"kind":"donchian","period":{"start":1,"stop":4629,"step":1}}"#),
        (
            "flips",
            r#""strategy":{"entry_long":"close > sma(close, $p)","exit_long":"close < sma(close, $p)",
                "params":{"p":{"start":2,"stop":4630,"step":1}}}"#,
        ),
    ];
    let mut ids = Vec::new();
    for (name, strategy) in bundles {
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, format!(r#"{{"name":"{name}",{datasets},{strategy}}}"#)).expect("write");
        ids.push(submit(&url, &path, &["--memory-limit", "1GB"]));
    }
    let w = Worker::start(
        &url,
        "mem",
        dir.path(),
        &[("BT_MEMORY_LIMIT", "1GB"), ("BT_THREADS", "2"), ("BT_MAX_CONCURRENT_BACKTESTS", "2")],
    );
    let t = Instant::now();
    for &id in &ids {
        wait_for(&pool, id, "completed", Duration::from_secs(600), &[&w]).await;
    }
    let peak = peak_rss(w.child.id());
    let secs = t.elapsed().as_secs_f64();
    let _ = writeln!(std::io::stderr(), "both bundles: {secs:.2} s, worker peak RSS {} MB", peak / 1_000_000);
    assert!(peak < 1_200_000_000, "peak RSS {peak} bytes:\n{}", w.logs());
    for id in ids {
        assert_all_results(&pool, id).await;
    }
}

/// A bundle one variant of which cannot fit the memory limit is refused by
/// `bt submit` and `bt run` before anything runs, with both numbers.
#[sqlx::test(migrations = "../migrations")]
async fn a_variant_larger_than_the_memory_limit_is_refused(pool: PgPool) {
    let url = db_url(&pool);
    let dir = tempfile::tempdir().expect("tmp");
    // 120 averages and 119 sums: 239 columns of 8 bytes a bar, 79.5 MiB on 43,200 bars.
    let sum: Vec<String> = (1..=120).map(|p| format!("sma(close, {p})")).collect();
    let path = dir.path().join("wide.toml");
    let text = format!(
        "name = \"wide\"\n[datasets]\ntickers = [\"BTCUSD\"]\ntimeframes = [\"1m\"]\n[strategy]\nentry_long = \"{} > 0\"\n",
        sum.join(" + ")
    );
    std::fs::write(&path, text).expect("write");
    let file = path.to_str().expect("utf-8");
    let want = "one variant on BTCUSD/1m needs about 81.5 MiB (43200 bars: 2.0 MiB of candles, 79.5 MiB of \
                indicators and signals), more than the memory limit of 64.0 MiB";
    let r = bt_with_db(&url, &["submit", file, "--catalog", &catalog(), "--memory-limit", "64MiB"]);
    assert!(!r.ok && r.stderr.contains(want), "{r:?}");
    let r = bt_with_db(&url, &["run", file, "--catalog", &catalog(), "--memory-limit", "64MiB"]);
    assert!(!r.ok && r.stderr.contains(want), "{r:?}");
    let r = bt_with_db(&url, &["run", file, "--catalog", &catalog(), "--memory-limit", "1XB"]);
    assert!(!r.ok && r.stderr.contains("BT_MEMORY_LIMIT: \"1XB\" is not a size"), "{r:?}");
    let bundles: i64 =
        sqlx::query_scalar("SELECT count(*) FROM bundles").fetch_one(&pool).await.expect("count");
    assert_eq!(bundles, 0);
}

/// A 258-byte bundle of 5M variants on one daily-sized dataset used to make
/// one job whose results went into one INSERT: past about 4.4M rows that
/// exceeds PostgreSQL's 1 GiB message limit, the connection resets and the
/// job is recomputed until it fails. Now jobs are capped in variants and
/// results stream with COPY in 1 MiB messages: it completes, every result
/// exactly once.
#[sqlx::test(migrations = "../migrations")]
async fn a_five_million_variant_bundle_completes_with_every_result_once(pool: PgPool) {
    let url = db_url(&pool);
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("wide.json");
    std::fs::write(
        &p,
        r#"{"name":"wide","datasets":{"tickers":["BTCUSD"],"timeframes":["1h"]},
            "strategy":{"kind":"sma_cross","fast":10,"slow":30},
            "money":{"stop_loss":{"start":0.0005,"stop":0.5,"step":0.0005},
                     "take_profit":{"start":0.001,"stop":5.0,"step":0.001}}}"#,
    )
    .expect("write");
    let id = submit(&url, &p, &[]);
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM backtest_jobs WHERE bundle_id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .expect("jobs");
    let w = Worker::start(&url, "wide", dir.path(), &[("BT_THREADS", "2")]);
    let t = Instant::now();
    wait_for(&pool, id, "completed", Duration::from_secs(900), &[&w]).await;
    let _ = writeln!(
        std::io::stderr(),
        "5,000,000 variants x 720 bars in {jobs} jobs: computed and stored in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    assert_all_results(&pool, id).await;
    let (variants, bad_jobs, attempts): (i64, i64, i32) = sqlx::query_as(
        "SELECT (SELECT variant_count FROM bundles WHERE id = $1),
                (SELECT count(*) FROM backtest_jobs j WHERE j.bundle_id = $1
                   AND (SELECT count(*) FROM backtest_results r WHERE r.bundle_id = $1 AND r.job_id = j.id)
                       <> j.variant_end - j.variant_start),
                (SELECT max(attempt) FROM backtest_jobs WHERE bundle_id = $1)",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .expect("jobs");
    assert_eq!((variants, bad_jobs, attempts), (5_000_000, 0, 1), "{}", w.logs());
}

/// A job whose results the database refuses (here a trigger raising an
/// error with text of its own) fails after its attempts; the bundle's error,
/// which users read through the API, says what failed without the
/// database's text, which stays in the worker's log.
#[sqlx::test(migrations = "../migrations")]
async fn database_text_stays_in_the_log_not_in_the_bundles_error(pool: PgPool) {
    let url = db_url(&pool);
    let dir = tempfile::tempdir().expect("tmp");
    sqlx::raw_sql(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN RAISE EXCEPTION 'internal table backtest_results_secret is full'; END $$;
         CREATE TRIGGER refuse BEFORE INSERT ON backtest_results FOR EACH ROW EXECUTE FUNCTION refuse();",
    )
    .execute(&pool)
    .await
    .expect("trigger");
    let id = submit(&url, &bundle_file(dir.path(), "refused", 1, "0.01"), &["--max-attempts", "1"]);
    let w = Worker::start(&url, "w1", dir.path(), &[]);
    wait_for(&pool, id, "failed", Duration::from_secs(60), &[&w]).await;
    let error: String = sqlx::query_scalar("SELECT error FROM bundles WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .expect("error");
    assert!(error.contains("storing the results failed"), "{error}");
    assert!(!error.contains("secret") && !error.contains("backtest_results"), "{error}");
    assert!(w.logs().contains("backtest_results_secret is full"), "{}", w.logs());
}
