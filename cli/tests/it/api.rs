//! `bt serve` over real HTTP, with a `bt work` process and PostgreSQL:
//! submit, poll to completion, read results and one variant's trades; and
//! `bt serve --workers 1` alone as a complete single-machine system.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::PgPool;

use crate::worker::{db_url, free_addr};
use crate::{Proc, repo_root};

pub fn spawn(url: &str, args: &[&str], log: std::path::PathBuf) -> Proc {
    let child = Command::new(env!("CARGO_BIN_EXE_bt"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("BT_CATALOG", repo_root().join("data"))
        .env("BT_THREADS", "1")
        .env("BT_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("spawn bt");
    Proc(child, log)
}

fn http(addr: SocketAddr, method: &str, path: &str, key: &str, body: &str) -> (u16, Value) {
    let (status, body) = crate::http(addr, method, path, key, body);
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

pub fn wait_ready(addr: SocketAddr, p: &Proc) {
    let t = Instant::now();
    loop {
        if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            let _ = write!(s, "GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut text = String::new();
            let _ = s.read_to_string(&mut text);
            if text.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        assert!(t.elapsed() < Duration::from_secs(30), "bt serve not ready:\n{}", p.logs());
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn mint(url: &str, owner: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_bt"))
        .args(["keys", "create", "--owner", owner])
        .env("DATABASE_URL", url)
        .output()
        .expect("bt keys");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

const SPEC: &str = r#"{"name":"e2e","datasets":{"tickers":["BTCUSD","ETHUSD"],"timeframes":["1h"]},"strategy":{"kind":"ema_cross","fast":[5,10,15],"slow":[30,60]},"money":{"stop_loss":[0,0.03],"direction":["both"]},"costs":{"fee_bps":10}}"#;

fn run_to_completion(addr: SocketAddr, key: &str, logs: &[&Proc]) -> (String, Value) {
    let (code, v) = http(addr, "POST", "/v1/bundles?priority=3", key, SPEC);
    assert_eq!(code, 202, "{v}");
    let id = v["id"].as_str().expect("id").to_owned();
    let t = Instant::now();
    let st = loop {
        let (code, st) = http(addr, "GET", &format!("/v1/bundles/{id}"), key, "");
        assert_eq!(code, 200, "{st}");
        if st["status"] == "completed" {
            break st;
        }
        let all: Vec<String> = logs.iter().map(|p| p.logs()).collect();
        assert!(t.elapsed() < Duration::from_secs(90), "{st}\n{}", all.join("\n---\n"));
        std::thread::sleep(Duration::from_millis(100));
    };
    (id, st)
}

#[sqlx::test(migrations = "../migrations")]
async fn submit_poll_results_and_trades_over_http(pool: PgPool) {
    let url = db_url(&pool);
    let dir = tempfile::tempdir().expect("tmp");
    let addr = free_addr();
    let serve = spawn(&url, &["serve", "--addr", &addr.to_string()], dir.path().join("serve.log"));
    let work = spawn(
        &url,
        &["work", "--http-addr", "off", "--job-poll-interval-seconds", "0.2"],
        dir.path().join("work.log"),
    );
    wait_ready(addr, &serve);
    let key = mint(&url, "alice");
    let (id, st) = tokio::task::spawn_blocking({
        let key = key.clone();
        move || run_to_completion(addr, &key, &[])
    })
    .await
    .expect("join");
    assert_eq!(
        (st["execution"].as_str(), st["variants"].as_i64(), st["variants_done"].as_i64()),
        (Some("queue"), Some(24), Some(24)),
        "{st}\n{}",
        work.logs()
    );
    let (code, r) =
        http(addr, "GET", &format!("/v1/bundles/{id}/results?sort=sharpe&order=desc&limit=3"), &key, "");
    assert_eq!(code, 200, "{r}");
    let top = &r["results"][0];
    assert_eq!(top["strategy"]["kind"], "ema_cross");
    let n = top["variant"].as_u64().expect("variant");
    let (code, d) = http(addr, "GET", &format!("/v1/bundles/{id}/variants/{n}"), &key, "");
    assert_eq!(code, 200);
    assert_eq!(d["metrics"], top["metrics"], "the detail path equals the sweep");
    assert!(!d["trades"].as_array().expect("trades").is_empty());
    assert!(
        d["trades"][0]["entry_time"].as_str().is_some_and(|t| t.starts_with("2024-")),
        "{}",
        d["trades"][0]
    );
    // A rules bundle: a bad rule is refused with its field and offset; a
    // good one runs, and its results show the rules with their values.
    let bad = r#"{"datasets":{"tickers":["BTCUSD"],"timeframes":["1h"]},"strategy":{"entry_long":"close > smaa(close, $p)","params":{"p":[10]}}}"#;
    let (code, e) = http(addr, "POST", "/v1/bundles", &key, bad);
    assert_eq!(code, 422, "{e}");
    assert_eq!(
        (&e["error"]["field"], &e["error"]["offset"], &e["error"]["message"]),
        (
            &Value::from("strategy.entry_long"),
            &Value::from(8),
            &Value::from("unknown function `smaa`; did you mean `sma`?")
        )
    );
    let rules = r#"{"datasets":{"tickers":["BTCUSD"],"timeframes":["1h"]},"strategy":{"entry_long":"cross_above(ema(close, $fast), ema(close, $slow))","exit_long":"rsi(close, 14) > $rsi_max","params":{"slow":[30,60],"fast":[5,10],"rsi_max":[70]}},"costs":{"fee_bps":10}}"#;
    let (code, v) = http(addr, "POST", "/v1/bundles", &key, rules);
    assert_eq!(code, 202, "{v}");
    let rid = v["id"].as_str().expect("id").to_owned();
    let t = Instant::now();
    while http(addr, "GET", &format!("/v1/bundles/{rid}"), &key, "").1["status"] != "completed" {
        assert!(t.elapsed() < Duration::from_secs(90), "{}", work.logs());
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, r) = http(addr, "GET", &format!("/v1/bundles/{rid}/results?limit=10"), &key, "");
    assert_eq!(code, 200, "{r}");
    assert_eq!(r["results"].as_array().map(Vec::len), Some(4), "{r}");
    // Declaration order: slow, fast, rsi_max; the last fastest.
    let row1 = r["results"].as_array().and_then(|a| a.iter().find(|x| x["variant"] == 1)).expect("variant 1");
    let s1 = &row1["strategy"];
    assert_eq!(
        (&s1["kind"], &s1["slow"], &s1["fast"], &s1["rsi_max"]),
        (&Value::from("rules"), &Value::from(30), &Value::from(10), &Value::from(70))
    );
    assert_eq!(s1["rules"]["entry_long"], "cross_above(ema(close, 10), ema(close, 30))");
    assert_eq!(s1["rules"]["exit_long"], "rsi(close, 14) > 70");
    let (code, d) = http(addr, "GET", &format!("/v1/bundles/{rid}/variants/1"), &key, "");
    assert_eq!(code, 200, "{d}");
    assert_eq!(d["metrics"], row1["metrics"], "the detail path equals the sweep");
    assert_eq!(d["strategy"], *s1);
    // Another owner sees nothing of it.
    let bob = mint(&url, "bob");
    assert_eq!(http(addr, "GET", &format!("/v1/bundles/{id}"), &bob, "").0, 404);
    drop(work);
    drop(serve);
}

#[sqlx::test(migrations = "../migrations")]
async fn serve_with_workers_alone_runs_inline_bundles(pool: PgPool) {
    let url = db_url(&pool);
    let dir = tempfile::tempdir().expect("tmp");
    let addr = free_addr();
    let mut serve = spawn(
        &url,
        &["serve", "--addr", &addr.to_string(), "--workers", "1", "--execution", "inline"],
        dir.path().join("serve.log"),
    );
    wait_ready(addr, &serve);
    let key = mint(&url, "alice");
    let (_, st) = tokio::task::spawn_blocking({
        let key = key.clone();
        move || run_to_completion(addr, &key, &[])
    })
    .await
    .expect("join");
    assert_eq!(st["execution"], "inline", "{}", serve.logs());
    let ok =
        Command::new("kill").args(["-TERM", &serve.0.id().to_string()]).status().expect("kill").success();
    assert!(ok);
    let t = Instant::now();
    let status = loop {
        if let Some(s) = serve.0.try_wait().expect("wait") {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "{}", serve.logs());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{}", serve.logs());
}

/// `bt keys ...`: exit success, stdout, stderr.
fn keys(url: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bt"))
        .arg("keys")
        .args(args)
        .env("DATABASE_URL", url)
        .output()
        .expect("bt keys");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// One raw HTTP/1.1 exchange: the whole response, head and body.
fn raw(addr: SocketAddr, method: &str, path: &str, key: &str) -> String {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    write!(s, "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .expect("request");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("response");
    text
}

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next()?;
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[sqlx::test(migrations = "../migrations")]
async fn keys_limits_rates_and_labels_over_http(pool: PgPool) {
    let url = db_url(&pool);
    let dir = tempfile::tempdir().expect("tmp");
    let addr = free_addr();
    let serve = spawn(
        &url,
        &["serve", "--addr", &addr.to_string(), "--anonymous-rate-limit", "6"],
        dir.path().join("serve.log"),
    );
    wait_ready(addr, &serve);
    // An ordinary key cannot jump the queue: the priority is clamped into its range.
    let mallory = mint(&url, "mallory");
    let (code, v) = http(addr, "POST", "/v1/bundles?priority=2147483647", &mallory, SPEC);
    assert_eq!((code, v["priority"].as_i64()), (202, Some(10)), "{v}\n{}", serve.logs());
    let (_, st) = http(addr, "GET", &format!("/v1/bundles/{}", v["id"].as_str().expect("id")), &mallory, "");
    assert_eq!(st["priority"], 10);
    let stored: Vec<i32> =
        sqlx::query_scalar("SELECT priority FROM bundles").fetch_all(&pool).await.expect("rows");
    assert_eq!(stored, vec![10]);
    // An operator's key, with limits of its own.
    let (ok, _, err) = keys(
        &url,
        &[
            "create",
            "--owner",
            "ops",
            "--max-priority",
            "1000",
            "--min-priority",
            "-5",
            "--max-active-bundles",
            "0",
            "--max-queued-jobs",
            "500",
            "--max-variants",
            "100000",
            "--rate-limit",
            "0",
        ],
    );
    assert!(ok, "{err}");
    let (ok, _, err) = keys(&url, &["create", "--owner", "x", "--min-priority", "5", "--max-priority", "1"]);
    assert!(!ok);
    assert!(err.contains("--min-priority 5 is above --max-priority 1"), "{err}");
    let (ok, list, err) = keys(&url, &["list"]);
    assert!(ok, "{err}");
    let lines: Vec<String> = list
        .lines()
        .map(|l| {
            l.split_once(" revoked - ")
                .map_or_else(|| l.to_owned(), |(a, b)| format!("{} {b}", a.split(' ').nth(1).unwrap_or("")))
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            "mallory active_bundles 20 queued_jobs 10000 variants none priority 0..10 rate server",
            "ops active_bundles none queued_jobs 500 variants 100000 priority -5..1000 rate none",
        ],
        "{list}"
    );
    // Unknown keys from one address: a 401, then 429s without a database lookup.
    let first = raw(addr, "GET", "/v1/bundles", "bt_guess1");
    assert!(first.starts_with("HTTP/1.1 401"), "{first}");
    let second = raw(addr, "GET", "/v1/bundles", "bt_guess2");
    assert!(second.starts_with("HTTP/1.1 429"), "{second}");
    assert_eq!(header(&second, "retry-after"), Some("10"), "{second}");
    let id = header(&second, "x-request-id").expect("x-request-id");
    assert!(second.contains(&format!("\"request_id\":\"{id}\"")), "{second}");
    // Invented methods do not become metric labels.
    for m in ["FOO", "BAR", "BAZQUUX"] {
        assert!(raw(addr, m, "/health", "").starts_with("HTTP/1.1 405"), "{m}");
    }
    let metrics = raw(addr, "GET", "/metrics", "");
    assert!(!metrics.contains("BAZQUUX"), "{metrics}");
    assert!(
        metrics.contains("bt_http_requests_total{route=\"/health\",method=\"other\",status=\"405\"} 3"),
        "{metrics}"
    );
}
