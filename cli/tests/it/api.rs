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

fn spawn(url: &str, args: &[&str], log: std::path::PathBuf) -> Proc {
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

fn wait_ready(addr: SocketAddr, p: &Proc) {
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

fn mint(url: &str, owner: &str) -> String {
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
