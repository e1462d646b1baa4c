//! The API router against a real PostgreSQL (one database per test), driven
//! with `oneshot`: every endpoint, status code and error shape, auth, and bad
//! input that must be a 4xx with a message and never a 5xx.

use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use bt_api::{ApiConfig, ExecutionPolicy};
use bt_queue::{MetricName, Metrics, Store};
use bt_service::worker::Phase;
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt;

fn catalog() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data")
}

fn config() -> ApiConfig {
    ApiConfig {
        catalog: catalog(),
        key_cache: Duration::ZERO,
        max_body_bytes: 4096,
        max_variants: 100_000,
        ..ApiConfig::default()
    }
}

fn app(pool: &PgPool, cfg: ApiConfig) -> Router {
    let (_tx, rx) = tokio::sync::watch::channel(Phase::Running);
    std::mem::forget(_tx);
    bt_api::router(Store::new(pool.clone()), cfg, rx, |_| {})
}

async fn key(pool: &PgPool, owner: &str) -> (uuid::Uuid, String) {
    let (id, key) = bt_api::auth::mint();
    Store::new(pool.clone()).insert_api_key(id, owner, &bt_api::auth::hash(&key)).await.expect("key");
    (id, key)
}

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    let req = req.body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned()))).expect("request");
    let resp = app.clone().oneshot(req).await.expect("response");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20).await.expect("body");
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, v)
}

const SPEC: &str = r#"{
  "name": "api test",
  "datasets": { "tickers": ["BTCUSD", "ETHUSD"], "timeframes": ["1h"] },
  "strategy": { "kind": "sma_cross", "fast": [5, 10], "slow": [20, 40] },
  "money": { "stop_loss": [0, 0.02] },
  "costs": { "fee_bps": 10 }
}"#;

fn assert_error(v: &Value, code: &str, field: Option<&str>) {
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert_eq!(v["error"]["field"].as_str(), field, "{v}");
}

#[sqlx::test(migrations = "../migrations")]
async fn auth_is_required_and_owners_are_separate(pool: PgPool) {
    let app = app(&pool, config());
    let (status, v) = call(&app, "GET", "/v1/bundles", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&v, "unauthorized", None);
    let (status, v) = call(&app, "GET", "/v1/bundles", Some("bt_nope"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"]["message"], "unknown or revoked key");
    let (alice_id, alice) = key(&pool, "alice").await;
    let (_, bob) = key(&pool, "bob").await;
    let (status, v) = call(&app, "POST", "/v1/bundles", Some(&alice), Some(SPEC)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    let id = v["id"].as_str().expect("id").to_owned();
    // Bob sees exactly what he would for a bundle that does not exist.
    let missing = uuid::Uuid::new_v4().to_string();
    for path in ["", "/results", "/variants/0"] {
        let (s1, v1) = call(&app, "GET", &format!("/v1/bundles/{id}{path}"), Some(&bob), None).await;
        let (s2, v2) = call(&app, "GET", &format!("/v1/bundles/{missing}{path}"), Some(&bob), None).await;
        assert_eq!((s1, s2), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND), "{path}");
        assert_eq!(
            v1["error"]["message"].as_str().map(|m| m.replace(&id, "X")),
            v2["error"]["message"].as_str().map(|m| m.replace(&missing, "X"))
        );
    }
    let (s, _) = call(&app, "POST", &format!("/v1/bundles/{id}/cancel"), Some(&bob), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = call(&app, "GET", "/v1/bundles", Some(&bob), None).await;
    assert_eq!(list["bundles"], json!([]));
    // A revoked key stops working.
    Store::new(pool.clone()).revoke_api_key(alice_id).await.expect("revoke").expect("live");
    let (status, _) = call(&app, "GET", &format!("/v1/bundles/{id}"), Some(&alice), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_input_is_a_4xx_with_a_message(pool: PgPool) {
    let app = app(&pool, config());
    let (_, k) = key(&pool, "alice").await;
    let cases: Vec<(String, StatusCode, &str, Option<&str>)> = vec![
        ("{ not json".into(), StatusCode::BAD_REQUEST, "malformed_json", None),
        ("".into(), StatusCode::BAD_REQUEST, "malformed_json", None),
        (
            SPEC.replace("\"fast\": [5, 10]", "\"fast\": \"five\""),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_spec",
            Some("strategy.fast"),
        ),
        (
            SPEC.replace("\"fast\": [5, 10]", "\"fast\": 1e300"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_spec",
            Some("strategy.fast"),
        ),
        (
            SPEC.replace("\"fast\": [5, 10]", "\"fast\": { \"start\": 50, \"stop\": 10, \"step\": 5 }"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_spec",
            Some("strategy.fast"),
        ),
        (
            SPEC.replace("\"fast\": [5, 10]", "\"fast\": -5"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_spec",
            Some("strategy.fast"),
        ),
        (
            SPEC.replace("\"name\"", "\"colour\": 1, \"name\""),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_spec",
            Some("bundle"),
        ),
        (
            SPEC.replace("[\"BTCUSD\", \"ETHUSD\"]", "[\"NOPE\"]"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_spec",
            Some("datasets"),
        ),
        (
            SPEC.replace("\"fee_bps\": 10", "\"fee_bps\": -10"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_spec",
            Some("costs.fee_bps"),
        ),
        (
            SPEC.replace("\"fast\": [5, 10]", "\"fast\": { \"start\": 1, \"stop\": 1000, \"step\": 1 }")
                .replace("\"slow\": [20, 40]", "\"slow\": { \"start\": 1001, \"stop\": 2000, \"step\": 1 }"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_spec",
            Some("bundle"),
        ),
        // A value of the wrong type is named by its field, not `bundle`
        // (found by engine/tests/it/parser_props.rs).
        (
            SPEC.replace("\"stop_loss\": [0, 0.02]", "\"stop_loss\": true"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_spec",
            Some("money.stop_loss"),
        ),
        (
            SPEC.replace("[\"BTCUSD\", \"ETHUSD\"]", "\"BTCUSD\""),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_spec",
            Some("datasets.tickers"),
        ),
        (
            SPEC.replace("\"sma_cross\"", "\"SMA\""),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_spec",
            Some("strategy.kind"),
        ),
        (
            format!("{{\"name\": \"{}\"}}", "x".repeat(5000)),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            None,
        ),
    ];
    for (body, status, code, field) in cases {
        let (s, v) = call(&app, "POST", "/v1/bundles", Some(&k), Some(&body)).await;
        assert_eq!(s, status, "{body:.120}: {v}");
        assert_error(&v, code, field);
    }
    for uri in ["/v1/bundles?priority=high", "/v1/bundles?colour=red"] {
        let (s, v) = call(&app, "POST", uri, Some(&k), Some(SPEC)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}: {v}");
        assert_error(&v, "bad_request", None);
    }
    for uri in
        ["/v1/bundles?limit=0", "/v1/bundles?limit=5000", "/v1/bundles?offset=-1", "/v1/bundles?limit=abc"]
    {
        let (s, v) = call(&app, "GET", uri, Some(&k), None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}: {v}");
    }
    let (s, v) = call(&app, "GET", "/v1/bundles/not-a-uuid", Some(&k), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = call(&app, "GET", "/v1/nothing", Some(&k), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&v, "not_found", None);
    let (s, v) = call(&app, "DELETE", "/v1/bundles", Some(&k), None).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_error(&v, "method_not_allowed", None);
    // Nothing was enqueued by any of it.
    let (_, list) = call(&app, "GET", "/v1/bundles", Some(&k), None).await;
    assert_eq!(list["bundles"], json!([]));
}

#[sqlx::test(migrations = "../migrations")]
async fn submit_list_status_cancel(pool: PgPool) {
    let app = app(&pool, config());
    let (_, k) = key(&pool, "alice").await;
    let mut ids = Vec::new();
    for p in [0, 5, 1] {
        let (s, v) = call(&app, "POST", &format!("/v1/bundles?priority={p}"), Some(&k), Some(SPEC)).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        assert_eq!(
            (v["variants"].as_i64(), v["jobs"].as_i64(), v["execution"].as_str()),
            (Some(16), Some(2), Some("queue"))
        );
        assert_eq!(v["status_url"], format!("/v1/bundles/{}", v["id"].as_str().expect("id")));
        ids.push(v["id"].as_str().expect("id").to_owned());
    }
    let (_, page) = call(&app, "GET", "/v1/bundles?limit=2", Some(&k), None).await;
    let got: Vec<&str> =
        page["bundles"].as_array().expect("list").iter().map(|b| b["id"].as_str().expect("id")).collect();
    assert_eq!(got, vec![ids[2].as_str(), ids[1].as_str()], "newest first");
    let (_, page) = call(&app, "GET", "/v1/bundles?limit=2&offset=2", Some(&k), None).await;
    assert_eq!(page["bundles"][0]["id"], ids[0].as_str());
    let (s, st) = call(&app, "GET", &format!("/v1/bundles/{}", ids[1]), Some(&k), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(st["status"], "pending");
    assert_eq!(st["priority"], 5);
    assert_eq!(
        st["jobs"],
        json!({ "total": 2, "pending": 2, "running": 0, "completed": 0, "failed": 0, "cancelled": 0 })
    );
    assert_eq!((st["variants"].as_i64(), st["variants_done"].as_i64()), (Some(16), Some(0)));
    assert_eq!(st["eta_seconds"], Value::Null);
    let (s, c) = call(&app, "POST", &format!("/v1/bundles/{}/cancel", ids[1]), Some(&k), None).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!((c["status"].as_str(), c["jobs"]["cancelled"].as_i64()), (Some("cancelled"), Some(2)));
    let (s, v) = call(&app, "POST", &format!("/v1/bundles/{}/cancel", ids[1]), Some(&k), None).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_error(&v, "already_ended", None);
    let (s, d) = call(&app, "GET", "/v1/datasets", Some(&k), None).await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<String> = d["datasets"]
        .as_array()
        .expect("datasets")
        .iter()
        .map(|x| {
            format!(
                "{}/{}/{}",
                x["ticker"].as_str().unwrap_or(""),
                x["timeframe"].as_str().unwrap_or(""),
                x["bars"]
            )
        })
        .collect();
    assert_eq!(names, vec!["BTCUSD/1m/43200", "BTCUSD/1h/720", "ETHUSD/1m/43200", "ETHUSD/1h/720"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn results_and_variants_after_a_worker_ran_the_bundle(pool: PgPool) {
    let app = app(&pool, config());
    let (_, k) = key(&pool, "alice").await;
    let (_, v) = call(&app, "POST", "/v1/bundles", Some(&k), Some(SPEC)).await;
    let id = v["id"].as_str().expect("id").to_owned();
    // Results before the run: an empty page, not an error.
    let (s, r) = call(&app, "GET", &format!("/v1/bundles/{id}/results"), Some(&k), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["results"], json!([]));
    // An in-process worker runs it.
    let db = pool.connect_options().get_database().expect("db").to_owned();
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let url = format!("{}/{db}", &base[..base.rfind('/').expect("path")]);
    let args = bt_service::WorkerArgs {
        database_url: url,
        worker_id: Some("t".into()),
        max_concurrent_backtests: 2,
        job_poll_interval_seconds: 0.1,
        heartbeat_interval_seconds: 1.0,
        threads: Some(1),
        catalog: catalog(),
        http_addr: "off".into(),
        shutdown_grace_seconds: 5.0,
        heartbeat_timeout_seconds: 30.0,
        lock_grace_seconds: 5.0,
        rescue_interval_seconds: 1.0,
        dataset_cache: 2,
        memory_limit: None,
    };
    let worker =
        bt_service::Worker::new(bt_service::WorkerConfig::from_args(&args).expect("cfg")).expect("worker");
    let stop = worker.shutdown();
    let task = tokio::spawn(worker.run());
    let t = std::time::Instant::now();
    loop {
        let (_, st) = call(&app, "GET", &format!("/v1/bundles/{id}"), Some(&k), None).await;
        if st["status"] == "completed" {
            assert_eq!(st["progress"], 1.0);
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "{st}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.stop();
    task.await.expect("join").expect("worker");
    let (s, r) = call(
        &app,
        "GET",
        &format!("/v1/bundles/{id}/results?sort=total_return&order=desc&limit=5"),
        Some(&k),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let rows = r["results"].as_array().expect("rows");
    assert_eq!(rows.len(), 5);
    let tr: Vec<f64> = rows.iter().map(|x| x["metrics"]["total_return"].as_f64().expect("tr")).collect();
    assert!(tr.windows(2).all(|w| w[0] >= w[1]), "{tr:?}");
    assert_eq!(r["stored"], 16);
    let top = &rows[0];
    assert_eq!(top["strategy"]["kind"], "sma_cross");
    assert!(top["strategy"]["fast"].is_number() && top["money"]["direction"] == "long", "{top}");
    let cursor = r["next_cursor"].as_str().expect("a next page");
    let (_, page2) = call(
        &app,
        "GET",
        &format!("/v1/bundles/{id}/results?sort=total_return&order=desc&limit=5&cursor={cursor}"),
        Some(&k),
        None,
    )
    .await;
    assert!(page2["results"][0]["metrics"]["total_return"].as_f64().expect("tr") <= tr[4]);
    // The detail path gives the metrics the sweep stored.
    let n = top["variant"].as_u64().expect("n");
    let (s, d) = call(&app, "GET", &format!("/v1/bundles/{id}/variants/{n}"), Some(&k), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(d["metrics"], top["metrics"]);
    assert_eq!(
        d["trades"].as_array().expect("trades").len() as u64,
        top["metrics"]["trades"].as_u64().expect("n") + u64::from(top["metrics"]["open_position"] == true)
    );
    assert_eq!(d["equity"].as_array().expect("equity").len(), 720);
    let (s, v) = call(&app, "GET", &format!("/v1/bundles/{id}/variants/16"), Some(&k), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    for q in ["sort=luck", "order=sideways", "limit=0"] {
        let (s, v) = call(&app, "GET", &format!("/v1/bundles/{id}/results?{q}"), Some(&k), None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {v}");
    }
    let (s, v) = call(&app, "POST", &format!("/v1/bundles/{id}/cancel"), Some(&k), None).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
}

#[sqlx::test(migrations = "../migrations")]
async fn execution_split_is_recorded_and_counted(pool: PgPool) {
    let app = app(&pool, ApiConfig { execution: ExecutionPolicy::Split(50), ..config() });
    // 40 bundles: more than an ordinary key may have pending.
    let k = key_with(&pool, "alice", bt_queue::KeyLimits::unlimited()).await;
    let mut paths = Vec::new();
    for _ in 0..40 {
        let (_, v) = call(&app, "POST", "/v1/bundles", Some(&k), Some(SPEC)).await;
        let (_, st) =
            call(&app, "GET", &format!("/v1/bundles/{}", v["id"].as_str().expect("id")), Some(&k), None)
                .await;
        assert_eq!(st["execution"], v["execution"]);
        paths.push(v["execution"].as_str().expect("path").to_owned());
    }
    let inline = paths.iter().filter(|p| *p == "inline").count();
    assert!((8..=32).contains(&inline), "{inline} of 40 inline");
    let lanes: Vec<(String, i64)> =
        sqlx::query_as("SELECT lane, count(*) FROM backtest_jobs GROUP BY lane ORDER BY lane")
            .fetch_all(&pool)
            .await
            .expect("lanes");
    assert_eq!(
        lanes,
        vec![("inline".to_owned(), 2 * inline as i64), ("queue".to_owned(), 2 * (40 - inline) as i64)]
    );
    let (s, text) = call(&app, "GET", "/metrics", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let text = text.as_str().expect("text").to_owned();
    for line in [
        format!("bt_bundles_submitted_total{{path=\"inline\"}} {inline}"),
        format!("bt_bundles_submitted_total{{path=\"queue\"}} {}", 40 - inline),
        format!("bt_bundles{{path=\"inline\",status=\"pending\"}} {inline}"),
        "bt_queue_jobs{status=\"pending\"} 80".to_owned(),
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing from\n{text}");
    }
    assert!(
        text.contains("bt_http_requests_total{route=\"/v1/bundles\",method=\"POST\",status=\"202\"} 40"),
        "{text}"
    );
    assert!(
        text.contains("bt_http_request_duration_seconds_count{route=\"/v1/bundles/{id}\",method=\"GET\"} 40"),
        "{text}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn openapi_health_and_ready(pool: PgPool) {
    let app = app(&pool, config());
    let (s, doc) = call(&app, "GET", "/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    for (method, path) in bt_api::openapi::ROUTES {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} not documented");
    }
    let documented: usize =
        doc["paths"].as_object().expect("paths").values().map(|p| p.as_object().map_or(0, |m| m.len())).sum();
    assert_eq!(documented, bt_api::openapi::ROUTES.len());
    let (s, v) = call(&app, "GET", "/health", None, None).await;
    assert_eq!((s, v), (StatusCode::OK, Value::String("ok\n".into())));
    let (s, _) = call(&app, "GET", "/ready", None, None).await;
    assert_eq!(s, StatusCode::OK);
}

#[test]
fn execution_policies_parse_and_split_evenly() {
    assert_eq!("queue".parse::<ExecutionPolicy>(), Ok(ExecutionPolicy::Queue));
    assert_eq!("inline".parse::<ExecutionPolicy>(), Ok(ExecutionPolicy::Inline));
    assert_eq!("split:25".parse::<ExecutionPolicy>(), Ok(ExecutionPolicy::Split(25)));
    assert!("split:101".parse::<ExecutionPolicy>().is_err());
    assert!("half".parse::<ExecutionPolicy>().is_err());
    let ids: Vec<uuid::Uuid> = (0..10_000).map(|_| uuid::Uuid::new_v4()).collect();
    let inline = |p| {
        ids.iter().filter(|id| ExecutionPolicy::Split(p).decide(**id) == bt_queue::Execution::Inline).count()
    };
    assert_eq!(inline(0), 0);
    assert_eq!(inline(100), 10_000);
    let half = inline(30);
    assert!((2_700..=3_300).contains(&half), "{half}");
    assert_eq!(ExecutionPolicy::Split(30).decide(ids[0]), ExecutionPolicy::Split(30).decide(ids[0]));
}

// ---------------------------------------------------------------- limits, request ids, metrics labels

async fn key_with(pool: &PgPool, owner: &str, limits: bt_queue::KeyLimits) -> String {
    let (id, key) = bt_api::auth::mint();
    Store::new(pool.clone())
        .insert_api_key_with(id, owner, &bt_api::auth::hash(&key), &limits)
        .await
        .expect("key");
    key
}

/// A request from `addr` (what `bt serve` records per connection); the
/// status, headers and body.
async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    key: Option<&str>,
    body: Option<&str>,
    addr: &str,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    let mut req = req.body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned()))).expect("request");
    let addr: std::net::SocketAddr = addr.parse().expect("addr");
    req.extensions_mut().insert(axum::extract::ConnectInfo(addr));
    let resp = app.clone().oneshot(req).await.expect("response");
    let (status, headers) = (resp.status(), resp.headers().clone());
    let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20).await.expect("body");
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, headers, v)
}

const HERE: &str = "192.0.2.1:4000";

#[sqlx::test(migrations = "../migrations")]
async fn priority_is_clamped_into_the_keys_range(pool: PgPool) {
    let app = app(&pool, config());
    let (_, k) = key(&pool, "mallory").await;
    let wide = key_with(
        &pool,
        "ops",
        bt_queue::KeyLimits { min_priority: -100, max_priority: 100, ..bt_queue::KeyLimits::default() },
    )
    .await;
    for (key, asked, stored) in [
        (&k, "2147483647", 10),
        (&k, "-2147483648", 0),
        (&k, "7", 7),
        (&wide, "2147483647", 100),
        (&wide, "-50", -50),
    ] {
        let (s, v) =
            call(&app, "POST", &format!("/v1/bundles?priority={asked}"), Some(key), Some(SPEC)).await;
        assert_eq!((s, v["priority"].as_i64()), (StatusCode::ACCEPTED, Some(stored)), "{asked}: {v}");
        let (_, st) =
            call(&app, "GET", &format!("/v1/bundles/{}", v["id"].as_str().expect("id")), Some(key), None)
                .await;
        assert_eq!(st["priority"], stored);
    }
    let jobs: Vec<i32> = sqlx::query_scalar("SELECT DISTINCT priority FROM backtest_jobs ORDER BY 1")
        .fetch_all(&pool)
        .await
        .expect("jobs");
    assert_eq!(jobs, vec![-50, 0, 7, 10, 100]);
}

#[sqlx::test(migrations = "../migrations")]
async fn quotas_answer_429_with_retry_after_and_the_numbers(pool: PgPool) {
    use bt_queue::KeyLimits;
    let app = app(&pool, config());
    // SPEC is 16 variants in 2 jobs.
    let k = key_with(&pool, "alice", KeyLimits { max_active_bundles: 2, ..KeyLimits::default() }).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (s, _, v) = send(&app, "POST", "/v1/bundles", Some(&k), Some(SPEC), HERE).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        ids.push(v["id"].as_str().expect("id").to_owned());
    }
    let (s, h, v) = send(&app, "POST", "/v1/bundles", Some(&k), Some(SPEC), HERE).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(h.get("retry-after").and_then(|v| v.to_str().ok()), Some("30"));
    let e = &v["error"];
    assert_eq!(
        (&e["code"], &e["limit"], &e["allowed"], &e["used"], &e["retry_after_seconds"]),
        (&json!("quota_exceeded"), &json!("max_active_bundles"), &json!(2), &json!(2), &json!(30))
    );
    assert_eq!(e["message"], "max_active_bundles: this key allows 2; 2 in use, and this bundle would add 1");
    // A bundle that ends makes room.
    let (s, _) = call(&app, "POST", &format!("/v1/bundles/{}/cancel", ids[0]), Some(&k), None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = call(&app, "POST", "/v1/bundles", Some(&k), Some(SPEC)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");

    let k = key_with(&pool, "bob", KeyLimits { max_queued_jobs: 3, ..KeyLimits::default() }).await;
    let (s, v) = call(&app, "POST", "/v1/bundles", Some(&k), Some(SPEC)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let (s, h, v) = send(&app, "POST", "/v1/bundles", Some(&k), Some(SPEC), HERE).await;
    assert_eq!((s, h.get("retry-after").is_some()), (StatusCode::TOO_MANY_REQUESTS, true), "{v}");
    assert_eq!(
        (&v["error"]["limit"], &v["error"]["allowed"], &v["error"]["used"]),
        (&json!("max_queued_jobs"), &json!(3), &json!(2))
    );
    // A bundle that could never fit is a 422, not a 429 to retry.
    let k = key_with(&pool, "carol", KeyLimits { max_queued_jobs: 1, ..KeyLimits::default() }).await;
    let (s, h, v) = send(&app, "POST", "/v1/bundles", Some(&k), Some(SPEC), HERE).await;
    assert_eq!((s, h.get("retry-after")), (StatusCode::UNPROCESSABLE_ENTITY, None), "{v}");
    assert_eq!(
        v["error"]["message"],
        "the bundle would be 2 jobs, more than this key's limit of 1 queued jobs"
    );
    assert_eq!((&v["error"]["field"], &v["error"]["limit"]), (&json!("bundle"), &json!("max_queued_jobs")));
    // Variants per bundle: the key's limit when below the server's.
    let k = key_with(&pool, "dave", KeyLimits { max_variants: 10, ..KeyLimits::default() }).await;
    let (s, v) = call(&app, "POST", "/v1/bundles", Some(&k), Some(SPEC)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(
        (&v["error"]["field"], &v["error"]["message"]),
        (&json!("bundle"), &json!("16 variants, more than the limit of 10"))
    );
    let counts: Vec<(String, i64)> =
        sqlx::query_as("SELECT owner, count(*) FROM bundles GROUP BY owner ORDER BY owner")
            .fetch_all(&pool)
            .await
            .expect("counts");
    assert_eq!(counts, vec![("alice".to_owned(), 3), ("bob".to_owned(), 1)]);
}

#[sqlx::test(migrations = "../migrations")]
async fn duplicate_datasets_and_long_names_are_refused(pool: PgPool) {
    let app = app(&pool, config());
    let (_, k) = key(&pool, "alice").await;
    let cases = [
        (
            SPEC.replace("[\"BTCUSD\", \"ETHUSD\"]", "[\"BTCUSD\", \"btcusd\", \"BTCUSD\"]"),
            "datasets.tickers",
            "\"BTCUSD\" is listed 3 times",
        ),
        (
            SPEC.replace("[\"1h\"]", "[\"1h\", \"1m\", \"1h\"]"),
            "datasets.timeframes",
            "\"1h\" is listed 2 times",
        ),
        (
            SPEC.replace("\"api test\"", &format!("\"{}\"", "n".repeat(201))),
            "name",
            "201 characters, more than 200",
        ),
    ];
    for (body, field, message) in cases {
        let (s, v) = call(&app, "POST", "/v1/bundles", Some(&k), Some(&body)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(
            (v["error"]["field"].as_str(), v["error"]["message"].as_str()),
            (Some(field), Some(message))
        );
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn rate_limits_per_key_and_per_address(pool: PgPool) {
    use bt_queue::KeyLimits;
    // 6 a minute per address without a key and per key: a burst of 1, then one per 10 s.
    let rates = bt_api::limit::RateLimits { key_per_minute: 6, anonymous_per_minute: 6 };
    let app = app(&pool, ApiConfig { rate_limits: rates, ..config() });
    let alice = key_with(&pool, "alice", KeyLimits { rate_limit: Some(0), ..KeyLimits::default() }).await;
    let (_, bob) = key(&pool, "bob").await;
    let get = |key: Option<&str>, addr: &'static str| {
        let (app, key) = (app.clone(), key.map(str::to_owned));
        async move { send(&app, "GET", "/v1/bundles", key.as_deref(), None, addr).await }
    };
    assert_eq!(get(Some(&alice), HERE).await.0, StatusCode::OK);
    assert_eq!(get(Some("bt_guess1"), HERE).await.0, StatusCode::UNAUTHORIZED);
    let (s, h, v) = get(Some("bt_guess2"), HERE).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(h.get("retry-after").and_then(|v| v.to_str().ok()), Some("10"));
    assert_eq!(
        (&v["error"]["code"], &v["error"]["limit"], &v["error"]["allowed"], &v["error"]["message"]),
        (
            &json!("rate_limited"),
            &json!("anonymous_rate_limit"),
            &json!(6),
            &json!("more than 6 requests per minute from this address without a valid key; retry in 10 s")
        )
    );
    // No key at all counts the same.
    assert_eq!(get(None, HERE).await.0, StatusCode::TOO_MANY_REQUESTS);
    // A key already seen valid still works from that address; one never seen
    // is not looked up until the address has a token again.
    assert_eq!(get(Some(&alice), HERE).await.0, StatusCode::OK);
    assert_eq!(get(Some(&bob), HERE).await.0, StatusCode::TOO_MANY_REQUESTS);
    // Other addresses have buckets of their own (IPv6 per /64).
    assert_eq!(get(Some(&bob), "[2001:db8::1]:1").await.0, StatusCode::OK);
    assert_eq!(get(Some("bt_x"), "[2001:db8::2]:1").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(get(Some("bt_y"), "[2001:db8::3]:1").await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(get(Some("bt_z"), "[2001:db8:0:1::3]:1").await.0, StatusCode::UNAUTHORIZED);
    // Per key: the server's rate for keys without their own (bob used his burst) ...
    let (s, h, v) = get(Some(&bob), "[2001:db8::1]:1").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(h.get("retry-after").and_then(|v| v.to_str().ok()), Some("10"));
    assert_eq!(
        (&v["error"]["limit"], &v["error"]["allowed"], &v["error"]["message"]),
        (
            &json!("rate_limit"),
            &json!(6),
            &json!("more than 6 requests per minute with this key; retry in 10 s")
        )
    );
    // ... or the key's own (12 a minute: a burst of 2, one per 5 s), 0 for none.
    let carol = key_with(&pool, "carol", KeyLimits { rate_limit: Some(12), ..KeyLimits::default() }).await;
    assert_eq!(get(Some(&carol), "192.0.2.9:1").await.0, StatusCode::OK);
    assert_eq!(get(Some(&carol), "192.0.2.9:1").await.0, StatusCode::OK);
    let (s, h, _) = get(Some(&carol), "192.0.2.9:1").await;
    assert_eq!(
        (s, h.get("retry-after").and_then(|v| v.to_str().ok())),
        (StatusCode::TOO_MANY_REQUESTS, Some("5"))
    );
    for _ in 0..30 {
        assert_eq!(get(Some(&alice), HERE).await.0, StatusCode::OK);
    }
    // The probes are never limited.
    for _ in 0..20 {
        assert_eq!(send(&app, "GET", "/health", None, None, HERE).await.0, StatusCode::OK);
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn metrics_label_methods_from_a_fixed_set(pool: PgPool) {
    let app = app(&pool, config());
    for m in ["FOO", "BAR", "BAZQUUX"] {
        let (s, _) = call(&app, m, "/health", None, None).await;
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED, "{m}");
    }
    let (_, text) = call(&app, "GET", "/metrics", None, None).await;
    let text = text.as_str().expect("text");
    assert!(!text.contains("BAZQUUX") && !text.contains("FOO"), "{text}");
    assert!(
        text.contains("bt_http_requests_total{route=\"/health\",method=\"other\",status=\"405\"} 3"),
        "{text}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn errors_carry_the_request_id_and_no_server_details(pool: PgPool) {
    let app = app(&pool, config());
    let (_, k) = key(&pool, "alice").await;
    let missing = SPEC.replace("[\"BTCUSD\", \"ETHUSD\"]", "[\"NOPE\"]");
    let (s, h, v) = send(&app, "POST", "/v1/bundles", Some(&k), Some(&missing), HERE).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        v["error"]["message"],
        "dataset NOPE/1h is not in the catalog (nor a shorter timeframe to resample)"
    );
    let id = h.get("x-request-id").and_then(|v| v.to_str().ok()).expect("x-request-id").to_owned();
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    assert_eq!(v["error"]["request_id"], id);
    // Every response has one, a new one each time; a plain one of the client's is kept.
    let (_, h2, _) = send(&app, "GET", "/health", None, None, HERE).await;
    assert_ne!(h2.get("x-request-id").and_then(|v| v.to_str().ok()), Some(id.as_str()));
    let req = Request::builder()
        .uri("/v1/nothing")
        .header("x-request-id", "trace-42")
        .body(Body::empty())
        .expect("req");
    let resp = app.clone().oneshot(req).await.expect("resp");
    assert_eq!(resp.headers().get("x-request-id").and_then(|v| v.to_str().ok()), Some("trace-42"));
    let body: Value =
        serde_json::from_slice(&axum::body::to_bytes(resp.into_body(), 1 << 20).await.expect("body"))
            .expect("json");
    assert_eq!(body["error"]["request_id"], "trace-42");
    // A database error: a generic message and the id, no SQL text.
    let (_, v) = call(&app, "POST", "/v1/bundles", Some(&k), Some(SPEC)).await;
    let bundle = v["id"].as_str().expect("id").to_owned();
    sqlx::query("ALTER TABLE backtest_results RENAME TO results_gone").execute(&pool).await.expect("rename");
    let (s, h, v) = send(&app, "GET", &format!("/v1/bundles/{bundle}/results"), Some(&k), None, HERE).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{v}");
    let id = h.get("x-request-id").and_then(|v| v.to_str().ok()).expect("x-request-id");
    assert_eq!(
        v,
        json!({ "error": { "code": "internal", "request_id": id,
                           "message": "internal error; the server log has the details under this request_id" } })
    );
}

// ---------------------------------------------------------------- cheap reads

/// Submits SPEC (16 variants) and stores results for it directly, with
/// sharpe ties and NaNs; the bundle id.
async fn bundle_with_results(app: &Router, pool: &PgPool, k: &str) -> String {
    let (s, v) = call(app, "POST", "/v1/bundles", Some(k), Some(SPEC)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let id = v["id"].as_str().expect("id").to_owned();
    let sharpe: Vec<f64> = (0..16)
        .map(|v| match v % 5 {
            0 => f64::NAN,
            1 => 1.0,
            _ => f64::from(v) / 10.0,
        })
        .collect();
    // Every declared metric column: sharpe and trades from the arrays,
    // final_equity 10,000, the rest 0.
    let values: Vec<&str> = MetricName::ALL
        .iter()
        .map(|m| match m {
            MetricName::Sharpe => "s",
            MetricName::Trades => "v",
            MetricName::FinalEquity => "10000",
            _ => "0",
        })
        .collect();
    sqlx::query(&format!(
        "INSERT INTO backtest_results (bundle_id, variant, job_id, {}, open_position, liquidated)
         SELECT $1::uuid, v - 1, 1, {}, false, false
         FROM UNNEST($2::float8[]) WITH ORDINALITY AS u(s, v)",
        Metrics::NAMES.join(", "),
        values.join(", ")
    ))
    .bind(uuid::Uuid::parse_str(&id).expect("uuid"))
    .bind(&sharpe)
    .execute(pool)
    .await
    .expect("results");
    id
}

#[sqlx::test(migrations = "../migrations")]
async fn results_page_by_cursor_every_row_once_nan_last(pool: PgPool) {
    let app = app(&pool, config());
    let (_, k) = key(&pool, "alice").await;
    let id = bundle_with_results(&app, &pool, &k).await;
    for order in ["desc", "asc"] {
        let mut seen: Vec<(u64, Option<f64>)> = Vec::new();
        let mut uri = format!("/v1/bundles/{id}/results?sort=sharpe&order={order}&limit=5");
        let mut pages = 0;
        loop {
            let (s, r) = call(&app, "GET", &uri, Some(&k), None).await;
            assert_eq!(s, StatusCode::OK, "{r}");
            pages += 1;
            let rows = r["results"].as_array().expect("rows");
            seen.extend(
                rows.iter().map(|x| (x["variant"].as_u64().expect("n"), x["metrics"]["sharpe"].as_f64())),
            );
            match r["next_cursor"].as_str() {
                Some(c) => {
                    assert_eq!(rows.len(), 5);
                    uri = format!("/v1/bundles/{id}/results?sort=sharpe&order={order}&limit=5&cursor={c}");
                }
                None => break,
            }
        }
        assert_eq!(pages, 4, "16 rows in pages of 5; the last one says so");
        let mut variants: Vec<u64> = seen.iter().map(|x| x.0).collect();
        let in_order = variants.clone();
        variants.sort_unstable();
        assert_eq!(variants, (0..16).collect::<Vec<u64>>(), "every row exactly once");
        // NaN (null in JSON) last, numbers in order, ties by variant.
        let numbers: Vec<(u64, f64)> = seen.iter().filter_map(|&(v, x)| x.map(|x| (v, x))).collect();
        assert!(seen[numbers.len()..].iter().all(|x| x.1.is_none()), "{order}: {seen:?}");
        assert_eq!(in_order[numbers.len()..], [0, 5, 10, 15]);
        let mut want = numbers.clone();
        want.sort_by(|a, b| {
            let c = a.1.total_cmp(&b.1);
            (if order == "desc" { c.reverse() } else { c }).then(a.0.cmp(&b.0))
        });
        assert_eq!(numbers, want, "{order}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn results_refuse_oversize_limits_and_bad_cursors_naming_the_parameter(pool: PgPool) {
    let app = app(&pool, config());
    let (_, k) = key(&pool, "alice").await;
    let id = bundle_with_results(&app, &pool, &k).await;
    let (_, first) = call(&app, "GET", &format!("/v1/bundles/{id}/results?limit=3"), Some(&k), None).await;
    let good = first["next_cursor"].as_str().expect("cursor").to_owned();
    for (q, field) in [
        ("limit=1001".to_owned(), Some("limit")),
        ("limit=0".to_owned(), Some("limit")),
        ("cursor=nonsense".to_owned(), Some("cursor")),
        ("cursor=sharpe.d.f3ff0000000000000.x".to_owned(), Some("cursor")),
        (format!("order=asc&cursor={good}"), Some("cursor")),
        (format!("sort=trades&cursor={good}"), Some("cursor")),
        ("offset=1000000".to_owned(), None),
    ] {
        let (s, v) = call(&app, "GET", &format!("/v1/bundles/{id}/results?{q}"), Some(&k), None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {v}");
        assert_error(&v, "bad_request", field);
        if field.is_none() {
            assert!(v["error"]["message"].as_str().is_some_and(|m| m.contains("offset")), "{v}");
        }
    }
}

fn metric(text: &str, series: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok())).unwrap_or(0.0)
}

#[sqlx::test(migrations = "../migrations")]
async fn a_bundle_is_expanded_once_for_all_its_reads(pool: PgPool) {
    let app = app(&pool, config());
    let (_, k) = key(&pool, "alice").await;
    let id = bundle_with_results(&app, &pool, &k).await;
    for path in ["results", "results?sort=trades", "variants/3", "variants/3/trades.csv"] {
        let (s, v) = call(&app, "GET", &format!("/v1/bundles/{id}/{path}"), Some(&k), None).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
    }
    let (_, m) = call(&app, "GET", "/metrics", None, None).await;
    let m = m.as_str().expect("text");
    assert_eq!(metric(m, "bt_api_bundle_cache_lookups_total{outcome=\"miss\"}"), 1.0, "{m}");
    assert_eq!(metric(m, "bt_api_bundle_cache_lookups_total{outcome=\"hit\"}"), 3.0, "{m}");
}

/// CSV text as rows of fields, without the header (checked).
fn csv_rows(text: &Value, header: &str) -> Vec<Vec<String>> {
    let text = text.as_str().expect("csv text");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(header));
    lines.map(|l| l.split(',').map(str::to_owned).collect()).collect()
}

fn f(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("{s:?} is not a number"))
}

#[sqlx::test(migrations = "../migrations")]
async fn variant_detail_pages_trades_downsamples_equity_and_equals_the_downloads(pool: PgPool) {
    let app = app(&pool, config());
    let (_, k) = key(&pool, "alice").await;
    let (_, v) = call(&app, "POST", "/v1/bundles", Some(&k), Some(SPEC)).await;
    let id = v["id"].as_str().expect("id").to_owned();
    let base = format!("/v1/bundles/{id}/variants/3");
    // The downloads: every bar and every trade.
    let (s, h, eq) = send(&app, "GET", &format!("{base}/equity.csv"), Some(&k), None, HERE).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["content-type"], "text/csv; charset=utf-8");
    assert_eq!(h["content-disposition"], format!("attachment; filename=\"{id}-3-equity.csv\"").as_str());
    let equity = csv_rows(&eq, "time,close,equity");
    assert_eq!(equity.len(), 720);
    let (s, tr) = call(&app, "GET", &format!("{base}/trades.csv"), Some(&k), None).await;
    assert_eq!(s, StatusCode::OK);
    let trades = csv_rows(&tr, bt_service::detail::TRADES_HEADER);
    assert!(trades.len() >= 3, "a variant that trades: {}", trades.len());
    // The detail with every point equals the download.
    let (s, full) = call(&app, "GET", &format!("{base}?points=10000"), Some(&k), None).await;
    assert_eq!(s, StatusCode::OK, "{full}");
    assert_eq!(full["equity_bars"], 720);
    let points = full["equity"].as_array().expect("equity");
    assert_eq!(points.len(), 720);
    for (p, row) in points.iter().zip(&equity) {
        assert_eq!(p[0].as_str(), Some(row[0].as_str()));
        assert_eq!(p[1].as_f64(), Some(f(&row[2])));
    }
    // The trades, two a page, equal the download.
    let mut paged = Vec::new();
    let mut uri = format!("{base}?trades_limit=2");
    loop {
        let (s, d) = call(&app, "GET", &uri, Some(&k), None).await;
        assert_eq!(s, StatusCode::OK, "{d}");
        assert_eq!(d["trades_total"], trades.len());
        assert_eq!(d["metrics"], full["metrics"]);
        paged.extend(d["trades"].as_array().expect("trades").iter().cloned());
        match d["next_trades_cursor"].as_str() {
            Some(c) => uri = format!("{base}?trades_limit=2&trades_cursor={c}"),
            None => break,
        }
    }
    assert_eq!(paged.len(), trades.len());
    for (t, row) in paged.iter().zip(&trades) {
        assert_eq!(
            (t["side"].as_str(), t["entry_bar"].as_u64(), t["entry_time"].as_str(), t["exit_time"].as_str()),
            (
                Some(row[0].as_str()),
                Some(row[1].parse().expect("bar")),
                Some(row[2].as_str()),
                Some(row[5].as_str())
            )
        );
        assert_eq!((t["entry_price"].as_f64(), t["pnl"].as_f64()), (Some(f(&row[3])), Some(f(&row[9]))));
        assert_eq!(t["reason"].as_str(), Some(row[11].as_str()));
    }
    // Downsampled: at most `points`, first and last bar, the extremes kept.
    let (_, small) = call(&app, "GET", &format!("{base}?points=20&trades_limit=1"), Some(&k), None).await;
    let pts = small["equity"].as_array().expect("equity");
    assert!(pts.len() <= 20 && pts.len() >= 10, "{}", pts.len());
    assert_eq!(pts[0][0].as_str(), Some(equity[0][0].as_str()));
    assert_eq!(pts[pts.len() - 1][0].as_str(), Some(equity[719][0].as_str()));
    let values: Vec<f64> = equity.iter().map(|r| f(&r[2])).collect();
    let kept: Vec<f64> = pts.iter().map(|p| p[1].as_f64().expect("number")).collect();
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(kept.contains(&max) && kept.contains(&min), "{min} {max} {kept:?}");
    assert_eq!(small["trades"].as_array().map(Vec::len), Some(1));
    // Bounds, each error naming its parameter.
    for (q, field) in [
        ("points=3", "points"),
        ("points=10001", "points"),
        ("trades_limit=0", "trades_limit"),
        ("trades_limit=10001", "trades_limit"),
        ("trades_cursor=abc", "trades_cursor"),
        ("trades_cursor=100000", "trades_cursor"),
    ] {
        let (s, v) = call(&app, "GET", &format!("{base}?{q}"), Some(&k), None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {v}");
        assert_error(&v, "bad_request", Some(field));
    }
    // Another owner's variant downloads answer 404 like a missing bundle's.
    let (_, bob) = key(&pool, "bob").await;
    for what in ["equity.csv", "trades.csv"] {
        let (s, _) = call(&app, "GET", &format!("{base}/{what}"), Some(&bob), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    let (s, _) = call(&app, "GET", &format!("/v1/bundles/{id}/variants/16/equity.csv"), Some(&k), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "../migrations")]
async fn cpu_work_waits_for_a_slot_then_answers_503_with_retry_after(pool: PgPool) {
    // No slot at all: every request with CPU work waits its time and is turned away.
    let cfg = ApiConfig { compute_slots: 0, compute_wait: Duration::from_millis(50), ..config() };
    let app = app(&pool, cfg);
    let (_, k) = key(&pool, "alice").await;
    let t = std::time::Instant::now();
    let (s, h, v) = send(&app, "POST", "/v1/bundles", Some(&k), Some(SPEC), HERE).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert!(t.elapsed() >= Duration::from_millis(50));
    assert_eq!(h["retry-after"], "1");
    assert_error(&v, "busy", None);
    assert!(v["error"]["message"].as_str().is_some_and(|m| m.contains("planning a bundle")), "{v}");
    let (_, list) = call(&app, "GET", "/v1/bundles", Some(&k), None).await;
    assert_eq!(list["bundles"], json!([]), "nothing was enqueued");
    // The probes still answer.
    let (s, _) = call(&app, "GET", "/health", None, None).await;
    assert_eq!(s, StatusCode::OK);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_bundle_one_variant_of_which_cannot_fit_the_memory_limit_is_a_422(pool: PgPool) {
    let small = app(&pool, ApiConfig { memory_limit: Some(20_000), ..config() });
    let (_, k) = key(&pool, "alice").await;
    let (s, v) = call(&small, "POST", "/v1/bundles", Some(&k), Some(SPEC)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "bundle", "{v}");
    let m = v["error"]["message"].as_str().expect("message");
    assert!(
        m.starts_with("one variant on BTCUSD/1h needs about ")
            && m.contains("more than the memory limit of 19.5 KiB"),
        "{m}"
    );
    // Within the limit it is accepted.
    let large = app(&pool, ApiConfig { memory_limit: Some(1 << 30), ..config() });
    let (s, v) = call(&large, "POST", "/v1/bundles", Some(&k), Some(SPEC)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
}

#[sqlx::test(migrations = "../migrations")]
async fn heatmap_and_scatter_aggregate_in_the_database_and_name_bad_parameters(pool: PgPool) {
    let app = app(&pool, config());
    let (_, k) = key(&pool, "alice").await;
    let id = bundle_with_results(&app, &pool, &k).await;
    // SPEC's axes: ticker (2, stride 8), fast (2, stride 4), slow (2, stride 2),
    // stop_loss (2, stride 1). Sharpe by variant: NaN for 0, 5, 10, 15; 1 for
    // 1, 6, 11; else variant / 10.
    let (s, h) = call(&app, "GET", &format!("/v1/bundles/{id}/heatmap?agg=median"), Some(&k), None).await;
    assert_eq!(s, StatusCode::OK, "{h}");
    assert_eq!(
        (h["x"].as_str(), h["y"].as_str(), h["metric"].as_str()),
        (Some("fast"), Some("slow"), Some("sharpe"))
    );
    assert_eq!(h["x_labels"], json!(["5", "10"]));
    assert_eq!(h["y_labels"], json!(["20", "40"]));
    let levels: Vec<(&str, u64)> = h["axes"]
        .as_array()
        .expect("axes")
        .iter()
        .map(|a| (a["name"].as_str().expect("name"), a["levels"].as_u64().expect("levels")))
        .collect();
    assert_eq!(&levels[..5], [("ticker", 2), ("timeframe", 1), ("fast", 2), ("slow", 2), ("stop_loss", 2)]);
    // Cell (fast 5, slow 20): variants 0, 1, 8, 9 -> NaN, 1, .8, .9.
    type Cell = (i64, i64, i64, Option<f64>, Option<i64>);
    let cells = |h: &Value| -> Vec<Cell> {
        h["cells"]
            .as_array()
            .expect("cells")
            .iter()
            .map(|c| {
                (
                    c["x"].as_i64().expect("x"),
                    c["y"].as_i64().expect("y"),
                    c["count"].as_i64().expect("count"),
                    c["value"].as_f64(),
                    c["best"].as_i64(),
                )
            })
            .collect()
    };
    assert_eq!(
        cells(&h),
        [
            (0, 0, 4, Some(0.9), Some(1)),
            (1, 0, 4, Some(1.2), Some(13)),
            (0, 1, 4, Some(0.3), Some(11)),
            (1, 1, 4, Some(1.0), Some(14))
        ]
    );
    let (_, h) =
        call(&app, "GET", &format!("/v1/bundles/{id}/heatmap?x=fast&y=slow&agg=max"), Some(&k), None).await;
    let max: Vec<Option<f64>> = cells(&h).iter().map(|c| c.3).collect();
    assert_eq!(max, [Some(1.0), Some(1.3), Some(1.0), Some(1.4)]);
    // trades = variant + 1, over stop_loss x ticker; then both pooled into one bin.
    let (s, h) = call(
        &app,
        "GET",
        &format!("/v1/bundles/{id}/heatmap?x=stop_loss&y=ticker&metric=trades"),
        Some(&k),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{h}");
    assert_eq!(
        cells(&h),
        [
            (0, 0, 4, Some(7.0), Some(6)),
            (1, 0, 4, Some(8.0), Some(7)),
            (0, 1, 4, Some(15.0), Some(14)),
            (1, 1, 4, Some(16.0), Some(15))
        ]
    );
    let (_, h) = call(
        &app,
        "GET",
        &format!("/v1/bundles/{id}/heatmap?x=stop_loss&y=ticker&metric=trades&bins=1"),
        Some(&k),
        None,
    )
    .await;
    assert_eq!(
        (h["x_labels"].clone(), h["y_labels"].clone()),
        (json!(["none..0.02"]), json!(["BTCUSD..ETHUSD"]))
    );
    assert_eq!(cells(&h), [(0, 0, 16, Some(16.0), Some(15))]);
    // The density grid: the 12 variants with a finite sharpe in one bin; the best trades is 15's.
    let (s, d) =
        call(&app, "GET", &format!("/v1/bundles/{id}/scatter?x=sharpe&y=trades&nx=1&ny=1"), Some(&k), None)
            .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!((d["bins"].clone(), d["excluded"].clone()), (json!([[0, 0, 12, 14]]), json!(4)));
    assert_eq!(d["x_range"], json!([0.2, 1.4]));
    let (_, d) =
        call(&app, "GET", &format!("/v1/bundles/{id}/scatter?x=sharpe&y=trades&nx=2&ny=1"), Some(&k), None)
            .await;
    // sharpe 0.2 .. 1.4: bin 0 below 0.8, bin 1 from 0.8 (8, 9, 1, 6, 11, 12, 13, 14).
    assert_eq!(d["bins"], json!([[0, 0, 4, 7], [1, 0, 8, 14]]));
    // Bad parameters are 400s naming the parameter.
    for (q, field) in [
        ("metric=sharp", "metric"),
        ("agg=mean", "agg"),
        ("x=nope", "x"),
        ("x=fast&y=fast", "y"),
        ("bins=0", "bins"),
        ("bins=201", "bins"),
        ("colour=red", ""),
    ] {
        let (s, e) = call(&app, "GET", &format!("/v1/bundles/{id}/heatmap?{q}"), Some(&k), None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {e}");
        if !field.is_empty() {
            assert_error(&e, "bad_request", Some(field));
        }
    }
    let (_, e) = call(&app, "GET", &format!("/v1/bundles/{id}/heatmap?x=nope"), Some(&k), None).await;
    assert!(
        e["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("one of ticker, timeframe, fast, slow, stop_loss")),
        "{e}"
    );
    for (q, field) in [("x=sharp", "x"), ("y=variant", "y"), ("nx=0", "nx"), ("ny=501", "ny")] {
        let (s, e) = call(&app, "GET", &format!("/v1/bundles/{id}/scatter?{q}"), Some(&k), None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {e}");
        assert_error(&e, "bad_request", Some(field));
    }
    // Another owner's bundle is a 404, as a missing one.
    let (_, other) = key(&pool, "bob").await;
    for path in ["heatmap", "scatter"] {
        let (s, _) = call(&app, "GET", &format!("/v1/bundles/{id}/{path}"), Some(&other), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = call(&app, "GET", &format!("/v1/bundles/{id}/{path}"), None, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    // The dashboard: HTML, no key needed, nothing from elsewhere.
    let resp = app
        .clone()
        .oneshot(Request::builder().uri("/").body(Body::empty()).expect("req"))
        .await
        .expect("resp");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
    assert!(
        resp.headers()["content-security-policy"].to_str().is_ok_and(|c| c.starts_with("default-src 'none'"))
    );
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.expect("body");
    let html = String::from_utf8_lossy(&body);
    assert!(html.contains("<title>bt dashboard</title>") && !html.contains("src=\"http"), "{}", &html[..200]);
}
