//! Pictures, tested in a real browser (headless Chromium, `browser.rs`):
//! the HTML report of `bt run --report` and `bt report`, and the dashboard
//! of a live `bt serve` with a worker. The tests read what a person would
//! see: heatmap cells, the equity path and trade markers, progress reaching
//! 100 %, the key prompt, a refused key's error, and no console errors.
//! The aggregated endpoints are checked against the Rust aggregation over
//! real HTTP and PostgreSQL.

use std::time::{Duration, Instant};

use bt_engine::bundle::{Bundle, Limits};
use bt_engine::metrics::MetricName;
use bt_engine::sweep::VariantResult;
use bt_report::aggregate::Grouping;
use bt_report::axes::{Axes, bin_count};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::api::{mint, spawn, wait_ready};
use crate::browser::{Browser, screenshot_dir, skip};
use crate::worker::{db_url, free_addr};
use crate::{bt, repo_root};

/// The JSON a report file carries (its `#bt-data` element).
fn report_data(html: &str) -> Value {
    let start = html.find(r#"<script type="application/json" id="bt-data">"#).expect("data element");
    let rest = &html[start..];
    let body = &rest[rest.find('>').expect(">") + 1..rest.find("</script>").expect("end")];
    serde_json::from_str(body).expect("report data is JSON")
}

/// Clicks the middle of the first element matching `selector`, with the mouse.
fn click(b: &mut Browser, selector: &str) {
    let r = b.eval(&format!(
        "(() => {{ const e = document.querySelector({sel}); e.scrollIntoView({{block: 'center'}}); \
         const r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; }})()",
        sel = json!(selector)
    ));
    let (x, y) = (r[0].as_f64().expect("x"), r[1].as_f64().expect("y"));
    for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
        b.call(
            "Input.dispatchMouseEvent",
            json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
        );
    }
}

/// Types `text` into the element `selector` and presses Enter.
fn type_and_enter(b: &mut Browser, selector: &str, text: &str) {
    b.eval(&format!(
        "(() => {{ const e = document.querySelector({s}); e.value = ''; e.focus(); }})()",
        s = json!(selector)
    ));
    b.call("Input.insertText", json!({ "text": text }));
    for kind in ["keyDown", "keyUp"] {
        b.call(
            "Input.dispatchKeyEvent",
            json!({ "type": kind, "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "text": "\r" }),
        );
    }
}

fn count(b: &mut Browser, selector: &str) -> u64 {
    b.eval(&format!("document.querySelectorAll({}).length", json!(selector))).as_u64().expect("count")
}

fn no_errors(b: &mut Browser, what: &str) {
    let shown = b.eval("document.body.dataset.errors || ''");
    let box_text = b.eval("document.getElementById('errors').textContent");
    assert!(
        b.errors.is_empty() && shown == "" && box_text == "",
        "{what}: {:?} / {shown} / {box_text}",
        b.errors
    );
}

#[test]
fn run_report_of_the_sma_example_draws_in_chromium() {
    let dir = tempfile::tempdir().expect("tmp");
    let cwd = dir.path();
    let catalog = repo_root().join("data");
    let spec = repo_root().join("examples/sma_cross.toml");
    let (spec_s, cat) = (spec.to_str().expect("utf-8"), catalog.to_str().expect("utf-8"));
    let r = bt(
        &["run", spec_s, "--catalog", cat, "--report", "r.html", "--out", "all.parquet", "--top", "1"],
        cwd,
    );
    assert!(r.ok, "{r:?}");
    let line = r.stdout.lines().find(|l| l.starts_with("report -> r.html")).expect("report line");
    assert!(line.contains("3600 variants, variant 995 in detail"), "{line}");
    let html = std::fs::read_to_string(cwd.join("r.html")).expect("report");
    assert!(html.len() < 5_000_000, "{} bytes", html.len());
    for network in ["src=\"http", "src=\"//", "href=\"http", "href=\"//", "@import", "url(http"] {
        assert!(!html.contains(network), "the report loads something: {network}");
    }
    let data = report_data(&html);
    assert_eq!(data["bundle"]["variants"], 3600);
    assert_eq!(data["focus"]["variant"], 995, "the best Sharpe (bt run's rank 1)");
    assert_eq!(data["focus"]["why"], "the best sharpe");
    let trades = data["focus"]["trades"].as_array().expect("trades").len();
    assert_eq!(data["focus"]["trades_total"], trades);
    // Every pair of the 6 varying axes (ticker, timeframe, fast, slow, stop_loss, take_profit).
    assert_eq!(data["heatmap"]["pairs"].as_array().map(Vec::len), Some(15));

    // The same report from the results file: the same pictures.
    let r2 = bt(&["report", "all.parquet", "--spec", spec_s, "--catalog", cat, "-o", "r2.html"], cwd);
    assert!(r2.ok, "{r2:?}");
    let data2 = report_data(&std::fs::read_to_string(cwd.join("r2.html")).expect("report 2"));
    for k in ["heatmap", "scatter", "histograms", "top", "focus", "axes"] {
        assert_eq!(data[k], data2[k], "{k}");
    }
    assert_eq!(data2["bundle"]["run_seconds"], Value::Null);
    let wrong = bt(
        &[
            "report",
            "all.parquet",
            "--spec",
            &repo_root().join("examples/rsi_both.json").to_string_lossy(),
            "--catalog",
            cat,
        ],
        cwd,
    );
    assert!(
        !wrong.ok
            && wrong
                .stderr
                .contains("is not in the bundle (864 variants): is --spec the bundle it was run from?"),
        "{wrong:?}"
    );

    let Some(mut b) = Browser::launch() else {
        return skip("run_report_of_the_sma_example_draws_in_chromium");
    };
    b.goto(&format!("file://{}", cwd.join("r.html").display()));
    b.wait_for("document.body.dataset.ready === '1'", Duration::from_secs(30));
    no_errors(&mut b, "report");
    // The heatmap opens on fast x slow: one cell per pair of their values.
    assert_eq!(count(&mut b, "#heatmap rect.cell"), 10 * 10);
    assert_eq!(b.eval("document.querySelector('#pick-x').selectedOptions[0].text"), "fast");
    // The cell fast=10, slow=60 holds the best Sharpe of the bundle, variant 995's.
    b.eval("document.querySelector('#heatmap rect.cell[data-x=\"1\"][data-y=\"0\"]').dispatchEvent(new MouseEvent('mousemove', {bubbles: true, clientX: 10, clientY: 10}))");
    let tip = b.eval("document.querySelector('#heatmap .tip').textContent");
    let tip = tip.as_str().expect("tip");
    assert!(
        tip.contains("fast 10, slow 60")
            && tip.contains("max sharpe: 11.52")
            && tip.contains("best: variant 995"),
        "{tip}"
    );
    // Other axes and the median: 2 tickers x 3 stop losses.
    b.eval("(() => { const s = (id, v) => { const e = document.getElementById(id); e.value = [...e.options].find(o => o.text === v).value; e.dispatchEvent(new Event('change')); }; s('pick-x', 'ticker'); s('pick-y', 'stop_loss'); s('pick-aggregate', 'median'); })()");
    assert_eq!(count(&mut b, "#heatmap rect.cell"), 2 * 3);
    click(&mut b, "#heatmap rect.cell");
    let picked = b.eval("document.getElementById('picked').textContent");
    assert!(
        picked.as_str().is_some_and(|t| t.starts_with("variant ") && t.contains("ticker=BTCUSD")),
        "{picked}"
    );
    // Scatter, histogram, table.
    assert!(count(&mut b, "#scatter rect.point") > 50);
    assert_eq!(count(&mut b, "#histogram rect.bar"), 40);
    assert_eq!(count(&mut b, "#top tbody tr"), 25);
    // The variant in detail: the equity path over every one of its 720 bars,
    // drawdown, and a marker per entry and exit.
    let d = b.eval("document.querySelector('#curves path.line.equity').getAttribute('d')");
    assert_eq!(d.as_str().map(|d| d.matches('L').count()), Some(719), "720 points");
    assert!(count(&mut b, "#curves path.area.drawdown") == 1);
    let markers = count(&mut b, "#curves path.marker");
    assert_eq!(markers, 2 * trades as u64, "an entry and an exit per closed trade");
    assert_eq!(count(&mut b, "#curves path.marker.exit"), trades as u64);
    assert_eq!(count(&mut b, "#curves line.level.stop"), trades as u64);
    assert_eq!(count(&mut b, "#trades tbody tr"), trades as u64);
    let drawn = b.eval("performance.getEntriesByName('bt-drawn').length");
    assert_eq!(drawn, 1);
    no_errors(&mut b, "report after clicks");
    if let Some(dir) = screenshot_dir() {
        b.goto(&format!("file://{}", cwd.join("r.html").display()));
        b.wait_for("document.body.dataset.ready === '1'", Duration::from_secs(30));
        b.screenshot(&dir.join("report.png"));
    }
}

/// A bundle of 60,000 variants over 2 x 43,200 one-minute bars (2.6e9
/// bar-variants): seconds for the one worker thread, so its progress can be
/// watched.
const WATCHED: &str = r#"{"name":"dashboard","datasets":{"tickers":["BTCUSD","ETHUSD"],"timeframes":["1m"]},"strategy":{"kind":"sma_cross","fast":{"start":5,"stop":50,"step":5},"slow":{"start":60,"stop":240,"step":20}},"money":{"stop_loss":{"start":0.01,"stop":0.1,"step":0.01},"take_profit":{"start":0.02,"stop":0.2,"step":0.02},"direction":["long","short","both"]},"costs":{"fee_bps":10}}"#;
/// Large enough to be cancelled before it ends.
const LONG: &str = r#"{"name":"long","datasets":{"tickers":["BTCUSD","ETHUSD"],"timeframes":["1m"]},"strategy":{"kind":"ema_cross","fast":{"start":2,"stop":60,"step":1},"slow":{"start":61,"stop":400,"step":1}},"money":{"stop_loss":[0.01,0.02,0.05]}}"#;

fn http(addr: std::net::SocketAddr, path: &str, key: &str) -> Value {
    let (status, body) = crate::http(addr, "GET", path, key, "");
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).expect("json")
}

/// Every stored result of a bundle, through the API's keyset pages.
fn all_results(addr: std::net::SocketAddr, id: &str, key: &str) -> Vec<VariantResult> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let c = cursor.as_ref().map_or_else(String::new, |c| format!("&cursor={c}"));
        let page = http(addr, &format!("/v1/bundles/{id}/results?sort=trades&order=asc&limit=1000{c}"), key);
        for r in page["results"].as_array().expect("results") {
            let m = &r["metrics"];
            let metrics = bt_engine::metrics::Metrics::try_from_values(
                |n| -> Result<bt_engine::metrics::Value, ()> {
                    let v = &m[n.as_str()];
                    Ok(if n.is_integer() {
                        bt_engine::metrics::Value::Int(v.as_i64().unwrap_or(0))
                    } else {
                        bt_engine::metrics::Value::Float(v.as_f64().unwrap_or(f64::NAN))
                    })
                },
                m["open_position"] == true,
                m["liquidated"] == true,
            )
            .expect("metrics");
            out.push(VariantResult { index: r["variant"].as_u64().expect("variant"), metrics });
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn dashboard_in_chromium_with_a_live_server_and_worker(pool: PgPool) {
    let url = db_url(&pool);
    let dir = tempfile::tempdir().expect("tmp");
    let addr = free_addr();
    let serve = spawn(
        &url,
        &["serve", "--addr", &addr.to_string(), "--workers", "1", "--execution", "inline"],
        dir.path().join("serve.log"),
    );
    wait_ready(addr, &serve);
    let key = mint(&url, "alice");
    let logs = move || serve.logs();
    tokio::task::spawn_blocking(move || dashboard(addr, &key, &url, &logs)).await.expect("join");
}

fn dashboard(addr: std::net::SocketAddr, key: &str, url: &str, logs: &dyn Fn() -> String) {
    // The page itself: text/html from the binary, without a key.
    let (status, page) = crate::http(addr, "GET", "/", "", "");
    assert_eq!(status, 200);
    assert!(
        page.starts_with("<!DOCTYPE html>") && page.contains("bt dashboard"),
        "{}",
        &page[..100.min(page.len())]
    );

    let Some(mut b) = Browser::launch() else {
        skip("dashboard_in_chromium_with_a_live_server_and_worker (browser part)");
        return;
    };
    let base = format!("http://{addr}/");
    b.goto(&base);
    b.wait_for("document.body.dataset.ready === '1'", Duration::from_secs(30));
    // Asked for a key, nothing else shown.
    assert_eq!(count(&mut b, "#key-form"), 1);
    assert_eq!(count(&mut b, "#bundles"), 0);
    // A wrong key: the API's 401 is shown, and the prompt again.
    type_and_enter(&mut b, "#key-input", "bt_not_a_key");
    let err = b.wait_for("document.getElementById('key-error')?.textContent", Duration::from_secs(20));
    assert!(err.as_str().is_some_and(|e| e.starts_with("The API refused the key (401: ")), "{err}");
    assert_eq!(b.eval("sessionStorage.getItem('bt-api-key')"), Value::Null);
    // The right one: the (empty) bundle list, which shows a bundle
    // submitted meanwhile.
    type_and_enter(&mut b, "#key-input", key);
    b.wait_for(
        "document.getElementById('bundles')?.textContent.startsWith('No bundles yet')",
        Duration::from_secs(20),
    );
    let (code, v) = crate::http(addr, "POST", "/v1/bundles", key, WATCHED);
    assert_eq!(code, 202, "{v}");
    let id = serde_json::from_str::<Value>(&v).expect("json")["id"].as_str().expect("id").to_owned();
    b.wait_for(&format!("document.querySelector('tr[data-id=\"{id}\"]')"), Duration::from_secs(20));
    assert_eq!(b.eval("sessionStorage.getItem('bt-api-key')"), Value::from(key));
    assert_eq!(b.eval("localStorage.length"), 0, "the key stays in this tab only");
    // The bundle's page: progress as it runs, to 100 %.
    click(&mut b, &format!("tr[data-id=\"{id}\"] a"));
    let mut seen: Vec<String> = Vec::new();
    let t = Instant::now();
    loop {
        let v = b.eval("[document.getElementById('state')?.textContent, document.querySelector('#status .pct')?.textContent]");
        let shown = format!("{} {}", v[0].as_str().unwrap_or(""), v[1].as_str().unwrap_or("").trim());
        if v[0].is_string() && seen.last() != Some(&shown) {
            seen.push(shown.clone());
        }
        if v[0] == "completed" {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(120), "{seen:?}\n{}", logs());
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::io::Write::write_fmt(&mut std::io::stderr(), format_args!("progress seen: {seen:?}\n"));
    // Followed live, without a reload: an unfinished state first, then 100 %.
    assert!(seen.len() >= 2 && !seen[0].starts_with("completed"), "{seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some("completed 100 %"), "{seen:?}");
    // Its heatmap: fast x slow, one cell per pair, as the API says.
    b.wait_for("document.querySelectorAll('#heatmap rect.cell').length", Duration::from_secs(30));
    let h = http(addr, &format!("/v1/bundles/{id}/heatmap"), key);
    assert_eq!((h["x"].as_str(), h["y"].as_str()), (Some("fast"), Some("slow")));
    assert_eq!(count(&mut b, "#heatmap rect.cell"), 10 * 10);
    b.wait_for("document.querySelectorAll('#scatter rect.point').length", Duration::from_secs(30));
    b.wait_for("document.querySelectorAll('#top tbody tr').length === 25", Duration::from_secs(30));
    if let Some(dir) = screenshot_dir() {
        b.screenshot(&dir.join("dashboard-bundle.png"));
    }
    // A cell opens its best variant: equity, drawdown, trade markers.
    let best =
        h["cells"].as_array().and_then(|c| c.iter().find(|c| c["x"] == 0 && c["y"] == 0)).expect("cell 0,0")
            ["best"]
            .clone();
    click(&mut b, "#heatmap rect.cell[data-x=\"0\"][data-y=\"0\"]");
    b.wait_for(&format!("location.hash === '#/b/{id}/v/{best}'"), Duration::from_secs(10));
    b.wait_for("document.querySelector('#curves path.line.equity')", Duration::from_secs(30));
    let d = b.eval("document.querySelector('#curves path.line.equity').getAttribute('d').length");
    assert!(d.as_u64().is_some_and(|n| n > 1000), "{d}");
    let v = http(addr, &format!("/v1/bundles/{id}/variants/{best}?trades_limit=1000"), key);
    let closed =
        v["trades"].as_array().expect("trades").iter().filter(|t| t["reason"] != "open").count() as u64;
    let trades = v["trades"].as_array().map_or(0, Vec::len) as u64;
    assert!(trades > 0, "{v}");
    assert_eq!(count(&mut b, "#curves path.marker"), trades + closed);
    assert_eq!(count(&mut b, "#trades tbody tr"), trades);
    if let Some(dir) = screenshot_dir() {
        b.screenshot(&dir.join("dashboard-variant.png"));
    }
    // Reloaded in the same tab: no prompt, the key is still there.
    b.goto(&format!("{base}#/"));
    b.wait_for(
        &format!("document.querySelector('tr[data-id=\"{id}\"] .pct')?.textContent === ' 100 %'"),
        Duration::from_secs(20),
    );
    assert_eq!(count(&mut b, "#key-form"), 0);
    // Cancel a long bundle from its page.
    let (code, v) = crate::http(addr, "POST", "/v1/bundles", key, LONG);
    assert_eq!(code, 202, "{v}");
    let long = serde_json::from_str::<Value>(&v).expect("json")["id"].as_str().expect("id").to_owned();
    b.goto(&format!("{base}#/b/{long}"));
    b.wait_for("document.getElementById('cancel')", Duration::from_secs(20));
    click(&mut b, "#cancel");
    b.wait_for("document.getElementById('state')?.textContent === 'cancelled'", Duration::from_secs(30));
    no_errors(&mut b, "dashboard");

    // The endpoints' numbers are the Rust aggregation's, exactly.
    let spec: bt_engine::bundle::BundleSpec = serde_json::from_str(WATCHED).expect("spec");
    let bundle = Bundle::new(spec, Limits::default()).expect("bundle");
    let axes = Axes::of(&bundle);
    let rows = all_results(addr, &id, key);
    assert_eq!(rows.len(), 60_000);
    for (x, y, metric, agg) in
        [("fast", "slow", "sharpe", "median"), ("stop_loss", "ticker", "max_drawdown", "max")]
    {
        let h = http(addr, &format!("/v1/bundles/{id}/heatmap?x={x}&y={y}&metric={metric}&agg={agg}"), key);
        let (ax, ay) = (axes.find(x).expect("x"), axes.find(y).expect("y"));
        let (nx, ny) = (bin_count(ax.radix(), 60), bin_count(ay.radix(), 60));
        let m: MetricName = metric.parse().expect("metric");
        let cells = Grouping::new(&rows, ax, nx, ay, ny).cells(&rows, m);
        let got = h["cells"].as_array().expect("cells");
        assert_eq!(got.len() as u64, nx * ny);
        for c in got {
            let k = (c["y"].as_u64().expect("y") * nx + c["x"].as_u64().expect("x")) as usize;
            let want = &cells[k];
            let value = if agg == "max" { want.max } else { want.median };
            assert_eq!(c["count"].as_u64(), Some(want.count), "{x} {y} {c}");
            assert_eq!(
                c["value"].as_f64(),
                Some(value).filter(|v| v.is_finite()),
                "{x} {y} {metric} {agg} {c}"
            );
            assert_eq!(c["best"].as_u64(), want.best, "{x} {y} {c}");
        }
    }
    // bt report --bundle: the stored results, the same pictures as from the rows themselves.
    let dir = tempfile::tempdir().expect("tmp");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bt"))
        .args([
            "report",
            "--bundle",
            &id,
            "--catalog",
            &repo_root().join("data").to_string_lossy(),
            "-o",
            "b.html",
        ])
        .env("DATABASE_URL", url)
        .current_dir(dir.path())
        .output()
        .expect("bt report");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let data = report_data(&std::fs::read_to_string(dir.path().join("b.html")).expect("report"));
    assert_eq!(
        (data["bundle"]["variants"].as_u64(), data["bundle"]["results"].as_u64()),
        (Some(60_000), Some(60_000))
    );
    assert!(data["bundle"]["run_seconds"].as_f64().is_some_and(|s| s > 0.0), "{}", data["bundle"]);
    assert_eq!(data["focus"]["variant"].as_u64(), bt_report::page::best_variant(&rows, MetricName::Sharpe));
    let s = http(addr, &format!("/v1/bundles/{id}/scatter?nx=50&ny=30"), key);
    let d = bt_report::aggregate::density(&rows, MetricName::MaxDrawdown, MetricName::TotalReturn, 50, 30);
    let want: Vec<Value> = d.bins.iter().map(|b| json!([b.0, b.1, b.2, b.3])).collect();
    assert_eq!(s["bins"], Value::from(want));
    assert_eq!(s["excluded"], d.excluded);
}
