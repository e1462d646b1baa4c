//! The monitoring files of `deploy/` against live processes: every metric
//! name that the Grafana dashboards (`deploy/grafana/dashboards/*.json`) and
//! the Prometheus alert rules (`deploy/prometheus/alerts.yml`) use is one that
//! a running `bt serve` or `bt work` exports on `/metrics`. (The full
//! compose-shaped run is `deploy/compose_run.py`, called by
//! `deploy/check.sh`.)

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::PgPool;

use crate::worker::{db_url, free_addr};
use crate::{Proc, http, repo_root};

/// Series that Prometheus makes itself.
const PROMETHEUS_SERIES: &[&str] = &["up", "scrape_duration_seconds", "scrape_samples_scraped", "ALERTS"];

/// PromQL words that are not metric names (aggregations too: `sum by (..) (..)`
/// puts a label list between the word and its parentheses).
const PROMQL_WORDS: &str = "and or unless by without on ignoring group_left group_right offset bool inf nan \
    sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio";

/// Words after which a parenthesised label list follows.
const LABEL_LIST_WORDS: &[&str] = &["by", "without", "on", "ignoring", "group_left", "group_right"];

fn spawn(args: &[&str], env: &[(&str, String)], log: PathBuf) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bt"));
    cmd.args(args)
        .env("BT_CATALOG", repo_root().join("data"))
        .env("BT_THREADS", "1")
        .env("BT_LOG", "info")
        .env("BT_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    Proc(cmd.spawn().expect("spawn bt"), log)
}

fn wait_ready(addr: SocketAddr, p: &Proc) {
    let t = Instant::now();
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            let (code, _) = http(addr, "GET", "/ready", "", "");
            if code == 200 {
                return;
            }
        }
        assert!(t.elapsed() < Duration::from_secs(30), "not ready:\n{}", p.logs());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Metric names a PromQL expression selects: a small lexer that drops
/// strings, label matchers, ranges, label lists after `by`/`without`/...,
/// function calls, keywords, numbers and Grafana variables.
fn promql_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let mut skip_next_parens = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => {
                i += 1;
                while i < chars.len() && chars[i] != c {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                while i < chars.len() && chars[i] != close {
                    i += 1;
                }
                i += 1;
            }
            '(' if skip_next_parens => {
                while i < chars.len() && chars[i] != ')' {
                    i += 1;
                }
                i += 1;
                skip_next_parens = false;
            }
            '$' => {
                i += 1;
                while i < chars.len() && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '{' | '}')) {
                    i += 1;
                }
            }
            _ if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) => {
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '.') {
                    if matches!(chars[i], 'e' | 'E') && matches!(chars.get(i + 1).copied(), Some('-' | '+')) {
                        i += 1;
                    }
                    i += 1;
                }
            }
            _ if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let mut j = i;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                let call = chars.get(j) == Some(&'(');
                let lower = word.to_ascii_lowercase();
                if LABEL_LIST_WORDS.contains(&lower.as_str()) {
                    skip_next_parens = true;
                } else if !call && !PROMQL_WORDS.split_whitespace().any(|w| w == lower) {
                    names.insert(word);
                }
            }
            _ => i += 1,
        }
    }
    names
}

/// Every `expr` string in a dashboard, with the panel title.
fn dashboard_exprs(v: &Value, title: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            let title = m.get("title").and_then(Value::as_str).unwrap_or(title);
            if let Some(Value::String(e)) = m.get("expr") {
                out.push((title.to_owned(), e.clone()));
            }
            for x in m.values() {
                dashboard_exprs(x, title, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                dashboard_exprs(x, title, out);
            }
        }
        _ => {}
    }
}

/// The `expr:` values of a rules file: inline, quoted, or block scalars.
fn rule_exprs(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if let Some(v) = trimmed.strip_prefix("expr:") {
            let v = v.trim();
            if v.is_empty() || v.starts_with('|') || v.starts_with('>') {
                let mut block = String::new();
                i += 1;
                while i < lines.len() {
                    let l = lines[i];
                    let t = l.trim_start();
                    if !t.is_empty() && l.len() - t.len() <= indent {
                        break;
                    }
                    block.push_str(t);
                    block.push('\n');
                    i += 1;
                }
                out.push(block);
                continue;
            }
            out.push(v.trim_matches(|c| c == '"' || c == '\'').to_owned());
        }
        i += 1;
    }
    out
}

/// Sample names a scrape can hold: from `# TYPE` lines (counters carry
/// `_total`, histograms `_bucket`/`_sum`/`_count`) and from the samples.
fn exported_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (Some(name), Some(kind)) = (parts.next(), parts.next()) else { continue };
            let suffixes: &[&str] = match kind {
                "counter" => &["_total", "_created"],
                "histogram" => &["_bucket", "_sum", "_count", "_created"],
                "summary" => &["", "_sum", "_count", "_created"],
                "info" => &["_info"],
                _ => &[""],
            };
            for s in suffixes {
                names.insert(format!("{name}{s}"));
            }
        } else if !line.starts_with('#') && !line.is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            names.insert(line[..end].to_owned());
        }
    }
    names
}

fn used_metric_names(deploy: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut used: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let dashboards = deploy.join("grafana").join("dashboards");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dashboards)
        .expect("deploy/grafana/dashboards")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no dashboard in {}", dashboards.display());
    for f in &files {
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(f).expect("dashboard")).expect("dashboard JSON");
        let mut exprs = Vec::new();
        dashboard_exprs(&v, "", &mut exprs);
        assert!(!exprs.is_empty(), "{}: no expressions", f.display());
        for (title, e) in exprs {
            for n in promql_names(&e) {
                used.entry(n).or_default().insert(format!("dashboard panel {title:?}"));
            }
        }
    }
    let alerts = std::fs::read_to_string(deploy.join("prometheus").join("alerts.yml")).expect("alerts.yml");
    let exprs = rule_exprs(&alerts);
    assert!(exprs.len() >= 5, "alerts.yml: {} expressions", exprs.len());
    for e in exprs {
        for n in promql_names(&e) {
            used.entry(n).or_default().insert("alerts.yml".to_owned());
        }
    }
    used
}

#[test]
fn promql_lexer_finds_metric_names() {
    let e = r#"histogram_quantile(0.95, sum by (le, route) (rate(bt_http_request_duration_seconds_bucket{job="bt-api",status=~"5.."}[$__rate_interval])))
        / clamp_min(sum(rate(bt_jobs_failed_total[15m])) + 1e-9, 1) > 0.05 and (sum(up{job="bt-worker"}) or vector(0)) == 0"#;
    let got: Vec<String> = promql_names(e).into_iter().collect();
    assert_eq!(got, ["bt_http_request_duration_seconds_bucket", "bt_jobs_failed_total", "up"]);
    let rules = "      - alert: A\n        expr: |\n          sum(rate(x_total[5m]))\n            /\n          sum(rate(y_total[5m]))\n        for: 5m\n      - alert: B\n        expr: max(z) > 1\n";
    assert_eq!(rule_exprs(rules).len(), 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn dashboards_and_alerts_use_only_exported_metrics(pool: PgPool) {
    let url = db_url(&pool);
    let dir = tempfile::tempdir().expect("tempdir");
    let api_addr = free_addr();
    let work_addr = free_addr();
    let db = ("DATABASE_URL", url.clone());
    let api =
        spawn(&["serve"], &[db.clone(), ("BT_API_ADDR", api_addr.to_string())], dir.path().join("serve.log"));
    let worker = spawn(
        &["work"],
        &[db, ("BT_HTTP_ADDR", work_addr.to_string()), ("BT_JOB_POLL_INTERVAL_SECONDS", "0.2".into())],
        dir.path().join("work.log"),
    );
    wait_ready(api_addr, &api);
    wait_ready(work_addr, &worker);

    // A bundle through both, so that every series has samples.
    let out = Command::new(env!("CARGO_BIN_EXE_bt"))
        .args(["keys", "create", "--owner", "deploy"])
        .env("DATABASE_URL", &url)
        .output()
        .expect("bt keys");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let spec = r#"{"name":"deploy","datasets":{"tickers":["BTCUSD","ETHUSD"],"timeframes":["1h"]},"strategy":{"kind":"sma_cross","fast":[5,10],"slow":[20,40]},"costs":{"fee_bps":10}}"#;
    let (code, body) = http(api_addr, "POST", "/v1/bundles", &key, spec);
    assert_eq!(code, 202, "{body}");
    let v: Value = serde_json::from_str(&body).expect("JSON");
    let id = v["id"].as_str().expect("id").to_owned();
    let t = Instant::now();
    loop {
        let (code, body) = http(api_addr, "GET", &format!("/v1/bundles/{id}"), &key, "");
        assert_eq!(code, 200, "{body}");
        let st: Value = serde_json::from_str(&body).expect("JSON");
        if st["status"] == "completed" {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "{st}\n{}\n---\n{}", api.logs(), worker.logs());
        std::thread::sleep(Duration::from_millis(100));
    }

    let mut exported = BTreeSet::new();
    for (name, addr) in [("bt serve", api_addr), ("bt work", work_addr)] {
        let (code, text) = http(addr, "GET", "/metrics", "", "");
        assert_eq!(code, 200, "{name} /metrics");
        assert!(text.contains("# EOF"), "{name} /metrics is not OpenMetrics:\n{text}");
        exported.extend(exported_names(&text));
    }
    let used = used_metric_names(&repo_root().join("deploy"));
    assert!(used.keys().any(|n| n.starts_with("bt_")), "no bt metric used: {used:?}");
    let missing: Vec<String> = used
        .iter()
        .filter(|(n, _)| !exported.contains(n.as_str()) && !PROMETHEUS_SERIES.contains(&n.as_str()))
        .map(|(n, w)| format!("{n} (used in {})", w.iter().cloned().collect::<Vec<_>>().join(", ")))
        .collect();
    assert!(missing.is_empty(), "used but not exported:\n{}\nexported: {exported:?}", missing.join("\n"));
}
