//! The `/v1` handlers.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bt_candles::{Candles, Catalog};
use bt_engine::bundle::{Bundle, BundleSpec, Limits, Money};
use bt_engine::metrics::{MetricName, Metrics, Value as MetricValue};
use bt_engine::sim::Detail;
use bt_engine::strategy::{Strategy, Value as StrategyValue};
use bt_queue::{Admission, BundleProgress, CancelOutcome, KeyLimits, NewBundle, Ranking};
use bt_service::submit::{SubmitError, SubmitOptions, plan};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::AppState;
use crate::auth::{Caller, Owner};
use crate::detail::{self, num};
use crate::error::ApiError;

pub(crate) type S = State<Arc<AppState>>;
pub(crate) type Answer = Result<(StatusCode, Json<Value>), ApiError>;

pub(crate) fn ok(v: Value) -> Answer {
    Ok((StatusCode::OK, Json(v)))
}

pub(crate) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t).map_err(|e| ApiError::bad_request(e.body_text()))
}

pub(crate) fn bundle_id(p: Result<Path<Uuid>, PathRejection>) -> Result<Uuid, ApiError> {
    p.map(|Path(id)| id).map_err(|e| ApiError::bad_request(format!("invalid bundle id: {}", e.body_text())))
}

pub async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route {method} {}", uri.path()))
}

pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitQuery {
    #[serde(default)]
    priority: i32,
}

/// A planning error as the client sees it: never the server's paths
/// (a missing dataset is named by ticker and timeframe only).
fn submit_error(e: SubmitError) -> ApiError {
    match e {
        SubmitError::MissingDataset { ticker, timeframe, .. } => ApiError::invalid(
            "datasets",
            format!(
                "dataset {ticker}/{timeframe} is not in the catalog (nor a shorter timeframe to resample)"
            ),
        ),
        SubmitError::EmptyRange { .. } => ApiError::invalid("datasets", e.to_string()),
        SubmitError::TooManyJobs { .. } | SubmitError::TooLarge { .. } => {
            ApiError::invalid("bundle", e.to_string())
        }
        SubmitError::MissingColumn { .. } => ApiError::invalid("strategy", e.to_string()),
        e => ApiError::internal("planning a bundle", e),
    }
}

/// The variants one bundle of a key with `limits` may have: the server's
/// limit, or the key's when that is lower.
fn variant_limit(server: u64, limits: &KeyLimits) -> u64 {
    match u64::try_from(limits.max_variants) {
        Ok(key) if key > 0 => server.min(key),
        _ => server,
    }
}

/// 429 when the caller's owner is already at a quota (before any parsing or
/// planning: a refused submission costs one count).
async fn quota_left(s: &AppState, caller: &Caller) -> Result<(), ApiError> {
    let l = &caller.limits;
    if l.max_active_bundles == 0 && l.max_queued_jobs == 0 {
        return Ok(());
    }
    l.admit(s.store.owner_usage(&caller.owner).await?, 1).map_err(ApiError::quota)
}

/// Enqueues `new` within the caller's quotas (counted again under the
/// owner's lock): 429 when it does not fit now, 422 when it never could.
async fn enqueue(s: &AppState, caller: &Caller, new: &NewBundle) -> Result<(), ApiError> {
    let max_jobs = caller.limits.max_queued_jobs;
    let jobs = new.jobs.len() as i64;
    if max_jobs > 0 && jobs > max_jobs {
        return Err(ApiError::invalid(
            "bundle",
            format!("the bundle would be {jobs} jobs, more than this key's limit of {max_jobs} queued jobs"),
        )
        .with_limit("max_queued_jobs", max_jobs, None));
    }
    match s.store.enqueue_bundle_within(new, Some(&caller.limits)).await? {
        Admission::Enqueued => Ok(()),
        Admission::Refused(e) => Err(ApiError::quota(e)),
    }
}

/// A submission's body parsed (malformed JSON 400, an invalid spec 422
/// naming the field), expanded within `max_variants` and planned into jobs.
fn prepare(
    body: &[u8],
    max_variants: u64,
    catalog: &Catalog,
    opts: &SubmitOptions,
) -> Result<(NewBundle, Bundle), ApiError> {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", format!("malformed JSON: {e}"))
    })?;
    // Straight from the text, not through a `Value` (whose maps sort their
    // keys): rule parameters number the variants in declaration order.
    // A wrong value is named by its field (`money.stop_loss`), not `bundle`.
    let spec = BundleSpec::from_json_slice(body).map_err(ApiError::spec)?;
    let bundle = Bundle::new(spec, Limits { max_variants }).map_err(ApiError::spec)?;
    let new = plan(&bundle, catalog, opts).map_err(submit_error)?;
    Ok((new, bundle))
}

/// `POST /v1/bundles`: validate, plan and enqueue; 202 at once.
pub async fn submit(
    State(s): S,
    caller: Caller,
    q: Result<Query<SubmitQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let q = query(q)?;
    quota_left(&s, &caller).await?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body is larger than {} bytes", s.cfg.max_body_bytes),
            )
        } else {
            ApiError::bad_request(e.body_text())
        }
    })?;
    let max_variants = variant_limit(s.cfg.max_variants, &caller.limits);
    let opts = SubmitOptions {
        owner: caller.owner.clone(),
        priority: caller.limits.clamp_priority(q.priority),
        max_attempts: s.cfg.max_attempts,
        job_bar_variants: s.cfg.job_bar_variants,
        max_job_variants: s.cfg.max_job_variants,
        memory_limit: s.cfg.memory_limit,
        execution: bt_queue::Execution::Queue,
    };
    let catalog = s.catalog.clone();
    let policy = s.cfg.execution;
    // Parsing, expanding and planning cost CPU by the grid, not by the body's
    // size: on a blocking thread, a few requests at a time.
    let (mut new, bundle) =
        s.gate.run("planning a bundle", move || prepare(&body, max_variants, &catalog, &opts)).await??;
    new.execution = policy.decide(new.id);
    enqueue(&s, &caller, &new).await?;
    s.metrics.submitted.get_or_create(&[("path", new.execution.as_str())]).inc();
    tracing::info!(bundle = %new.id, owner = %new.owner, variants = new.variant_count, jobs = new.jobs.len(),
        execution = new.execution.as_str(), "bundle submitted");
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "id": new.id,
            "name": bundle.spec.name,
            "annualization": bundle.spec.annualization,
            "variants": new.variant_count,
            "jobs": new.jobs.len(),
            "priority": new.priority,
            "execution": new.execution.as_str(),
            "status_url": format!("/v1/bundles/{}", new.id),
        })),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    #[serde(default = "default_limit")]
    limit: i64,
    #[serde(default)]
    offset: i64,
}

fn default_limit() -> i64 {
    50
}

fn check_page(limit: i64, offset: i64) -> Result<(), ApiError> {
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(format!("limit {limit}: use 1 to 1000")).field("limit"));
    }
    if offset < 0 {
        return Err(ApiError::bad_request(format!("offset {offset}: must not be negative")).field("offset"));
    }
    Ok(())
}

/// `GET /v1/bundles`: the caller's bundles, newest first.
pub async fn list(State(s): S, Owner(owner): Owner, q: Result<Query<Page>, QueryRejection>) -> Answer {
    let p = query(q)?;
    check_page(p.limit, p.offset)?;
    let rows = s.store.list_bundles(&owner, p.limit, p.offset).await?;
    let bundles: Vec<Value> = rows
        .iter()
        .map(|b| {
            json!({
                "id": b.id, "name": b.name, "status": b.status.as_str(), "execution": b.execution.as_str(),
                "variants": b.variant_count, "jobs": b.job_count, "priority": b.priority,
                "created_at": b.created_at, "started_at": b.started_at, "finished_at": b.finished_at,
                "error": b.error,
            })
        })
        .collect();
    ok(json!({ "bundles": bundles, "limit": p.limit, "offset": p.offset }))
}

pub(crate) async fn owned(s: &AppState, id: Uuid, owner: &str) -> Result<BundleProgress, ApiError> {
    s.store
        .bundle_status(id, Some(owner))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("bundle {id} does not exist")))
}

fn status_json(b: &BundleProgress) -> Value {
    json!({
        "id": b.id, "name": b.name, "status": b.status.as_str(), "execution": b.execution.as_str(),
        "priority": b.priority, "variants": b.variant_count, "variants_done": b.variants_done,
        "progress": num(b.fraction()), "eta_seconds": b.eta().map(|d| num(d.as_secs_f64())),
        "jobs": { "total": b.job_count, "pending": b.pending, "running": b.running, "completed": b.completed,
                  "failed": b.failed, "cancelled": b.cancelled },
        "created_at": b.created_at, "started_at": b.started_at, "finished_at": b.finished_at, "error": b.error,
    })
}

/// `GET /v1/bundles/{id}`.
pub async fn status(State(s): S, Owner(owner): Owner, p: Result<Path<Uuid>, PathRejection>) -> Answer {
    let id = bundle_id(p)?;
    ok(status_json(&owned(&s, id, &owner).await?))
}

/// `POST /v1/bundles/{id}/cancel`.
pub async fn cancel(State(s): S, Owner(owner): Owner, p: Result<Path<Uuid>, PathRejection>) -> Answer {
    let id = bundle_id(p)?;
    match s.store.cancel_bundle(id, &owner).await? {
        CancelOutcome::NotFound => Err(ApiError::not_found(format!("bundle {id} does not exist"))),
        CancelOutcome::AlreadyEnded(st) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_ended",
            format!("bundle {id} already ended: {}", st.as_str()),
        )),
        CancelOutcome::Cancelled => ok(status_json(&owned(&s, id, &owner).await?)),
    }
}

/// Bundle `id` parsed and expanded: from the cache, or from its stored spec
/// (on a blocking thread, through the gate) and then cached.
pub(crate) async fn stored_bundle(s: &AppState, id: Uuid) -> Result<Arc<Bundle>, ApiError> {
    if let Some(b) = s.bundles.get(id) {
        return Ok(b);
    }
    let spec = s
        .store
        .bundle_spec(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("bundle {id} does not exist")))?;
    let bundle = s
        .gate
        .run("expanding a stored bundle", move || {
            let spec: BundleSpec =
                serde_json::from_value(spec).map_err(|e| ApiError::internal("stored bundle spec", e))?;
            Bundle::new(spec, Limits { max_variants: u64::MAX })
                .map_err(|e| ApiError::internal("stored bundle spec", e))
        })
        .await??;
    let bundle = Arc::new(bundle);
    s.bundles.insert(id, bundle.clone());
    Ok(bundle)
}

/// `{"kind": "sma_cross" | "rules", <parameter>: <value>..., "rules": {"entry_long": ...}}`:
/// the parameters typed, the rules with them in place of `$names`.
fn strategy_json(st: &Strategy) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("kind".into(), st.kind_name().into());
    for (k, v) in &st.params {
        let val = match v {
            StrategyValue::Int(i) => (*i).into(),
            StrategyValue::Num(x) => num(*x),
            StrategyValue::Text(t) => t.clone().into(),
        };
        m.insert(k.clone(), val);
    }
    let rules: serde_json::Map<String, Value> =
        st.rules().into_iter().map(|(r, t)| (r.to_owned(), t.into())).collect();
    m.insert("rules".into(), Value::Object(rules));
    Value::Object(m)
}

fn money_json(m: &Money) -> Value {
    json!({
        "stop_loss": m.stop_loss, "take_profit": m.take_profit,
        "trailing_stop": m.trailing_stop, "max_bars": m.max_bars, "leverage": m.leverage,
        "size": m.size, "direction": m.direction.as_str(),
    })
}

fn metrics_json(m: &Metrics) -> Value {
    let mut o = serde_json::Map::new();
    for &name in MetricName::ALL {
        let v = match m.value(name) {
            MetricValue::Int(i) => i.into(),
            MetricValue::Float(x) => num(x),
        };
        o.insert(name.as_str().into(), v);
    }
    o.insert("open_position".into(), m.open_position.into());
    o.insert("liquidated".into(), m.liquidated.into());
    Value::Object(o)
}

fn variant_json(bundle: &Bundle, index: u64, m: &Metrics) -> Result<Value, ApiError> {
    let v = bundle
        .variant(index)
        .ok_or_else(|| ApiError::internal("result variant", format!("{index} out of range")))?;
    let d = &bundle.datasets[v.dataset];
    Ok(json!({
        "variant": index,
        "dataset": { "ticker": d.ticker, "timeframe": d.timeframe.as_str() },
        "strategy": strategy_json(&v.strategy),
        "money": money_json(&v.money),
        "metrics": metrics_json(m),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultsQuery {
    #[serde(default = "default_sort")]
    sort: String,
    #[serde(default = "default_order")]
    order: String,
    #[serde(default = "default_limit")]
    limit: i64,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

fn default_sort() -> String {
    "sharpe".into()
}

fn default_order() -> String {
    "desc".into()
}

/// The most results one page holds.
const MAX_RESULTS_LIMIT: i64 = 1000;

/// `GET /v1/bundles/{id}/results`: ranked variants with parameters and
/// metrics, a page at a time: `next_cursor` continues after the page's last
/// row (keyset paging, so every page costs the same; there is no offset).
pub async fn results(
    State(s): S,
    Owner(owner): Owner,
    p: Result<Path<Uuid>, PathRejection>,
    q: Result<Query<ResultsQuery>, QueryRejection>,
) -> Answer {
    let id = bundle_id(p)?;
    let q = query(q)?;
    if !(1..=MAX_RESULTS_LIMIT).contains(&q.limit) {
        return Err(
            ApiError::bad_request(format!("limit {}: use 1 to {MAX_RESULTS_LIMIT}", q.limit)).field("limit")
        );
    }
    if let Err(e) = q.sort.parse::<MetricName>() {
        return Err(ApiError::bad_request(format!("sort: {e}")).field("sort"));
    }
    let descending = match q.order.as_str() {
        "desc" => true,
        "asc" => false,
        o => return Err(ApiError::bad_request(format!("order {o:?}: asc or desc")).field("order")),
    };
    let ranking =
        Ranking::new(&q.sort, descending).map_err(|e| ApiError::bad_request(e.to_string()).field("sort"))?;
    let after = match q.cursor.as_deref() {
        Some(c) => Some(
            ranking.after(c).map_err(|e| ApiError::bad_request(format!("cursor: {e}")).field("cursor"))?,
        ),
        None => None,
    };
    let st = owned(&s, id, &owner).await?;
    let bundle = stored_bundle(&s, id).await?;
    // One row more than the page tells whether another page follows.
    let mut rows = s.store.results(id, &ranking, after.as_ref(), q.limit + 1).await?;
    let next_cursor = if rows.len() as i64 > q.limit {
        rows.truncate(q.limit as usize);
        rows.last().map(|r| ranking.cursor(&ranking.key(r)))
    } else {
        None
    };
    let results = rows
        .iter()
        .map(|r| {
            let (index, m) = bt_service::results::from_row(r);
            variant_json(&bundle, index, &m)
        })
        .collect::<Result<Vec<_>, _>>()?;
    ok(json!({
        "bundle": id, "status": st.status.as_str(), "stored": st.variants_done, "variants": st.variant_count,
        "sort": q.sort, "order": q.order, "limit": q.limit, "annualization": bundle.spec.annualization,
        "results": results, "next_cursor": next_cursor,
    }))
}

fn variant_path(p: Result<Path<(Uuid, u64)>, PathRejection>) -> Result<(Uuid, u64), ApiError> {
    p.map(|Path(v)| v).map_err(|e| ApiError::bad_request(e.body_text()))
}

/// What recomputing variant `n` of the caller's bundle `id` needs: the
/// bundle and the variant's dataset (404 for another owner's bundle or a
/// variant out of range).
async fn variant_inputs(
    s: &AppState,
    owner: &str,
    id: Uuid,
    n: u64,
) -> Result<(Arc<Bundle>, Arc<Candles>), ApiError> {
    owned(s, id, owner).await?;
    let bundle = stored_bundle(s, id).await?;
    let Some(v) = bundle.variant(n) else {
        return Err(ApiError::not_found(format!(
            "bundle {id} has {} variants (0..{})",
            bundle.count(),
            bundle.count()
        )));
    };
    let d = &bundle.datasets[v.dataset];
    let candles = s
        .datasets
        .get(&d.ticker, d.timeframe, bundle.range)
        .await
        .map_err(|e| ApiError::internal("loading a dataset", e))?;
    Ok((bundle, candles))
}

/// Variant `n`'s metrics and detail, recomputed with the engine's detail path.
fn recompute(bundle: &Bundle, n: u64, candles: &Candles) -> Result<(Metrics, Detail), ApiError> {
    bt_engine::sweep::run_variant(bundle, n, candles.view())
        .ok_or_else(|| ApiError::not_found(format!("variant {n} does not exist")))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantQuery {
    #[serde(default = "default_points")]
    points: i64,
    #[serde(default = "default_trades_limit")]
    trades_limit: i64,
    /// The `next_trades_cursor` of the previous answer.
    trades_cursor: Option<String>,
}

fn default_points() -> i64 {
    detail::DEFAULT_POINTS
}

fn default_trades_limit() -> i64 {
    detail::DEFAULT_TRADES_LIMIT
}

/// `GET /v1/bundles/{id}/variants/{n}`: one variant's metrics, a page of its
/// trades and its equity curve downsampled to `points` (each bucket's
/// minimum and maximum kept), recomputed with the engine's detail path.
pub async fn variant(
    State(s): S,
    Owner(owner): Owner,
    p: Result<Path<(Uuid, u64)>, PathRejection>,
    q: Result<Query<VariantQuery>, QueryRejection>,
) -> Answer {
    let (id, n) = variant_path(p)?;
    let q = query(q)?;
    let points = detail::points(q.points)?;
    let limit = detail::trades_limit(q.trades_limit)?;
    let start = detail::trades_start(q.trades_cursor.as_deref())?;
    let (bundle, candles) = variant_inputs(&s, &owner, id, n).await?;
    let out = s
        .gate
        .run("recomputing a variant", move || -> Result<Value, ApiError> {
            let (m, d) = recompute(&bundle, n, &candles)?;
            let (page, next) = detail::trades_page(d.trades.len(), start, limit)?;
            let ts = candles.ts();
            let equity: Vec<Value> = detail::downsample(&d.equity, points)
                .into_iter()
                .map(|i| json!([bt_candles::time::format_ms(ts[i]), num(d.equity[i])]))
                .collect();
            let mut out = variant_json(&bundle, n, &m)?;
            out["trades"] = d.trades[page].iter().map(detail::trade_json).collect();
            out["trades_total"] = d.trades.len().into();
            out["next_trades_cursor"] = next.into();
            out["equity"] = equity.into();
            out["equity_bars"] = d.equity.len().into();
            let period = bundle.period(bundle.variant(n).map_or(0, |v| v.dataset), candles.view());
            out["annualization"] = json!({
                "given": bundle.spec.annualization, "resolved": period.basis,
                "bars_per_year": num(period.bars_per_year), "years": num(period.years()),
            });
            Ok(out)
        })
        .await??;
    ok(out)
}

/// A CSV download named `{bundle}-{variant}-{what}.csv`.
fn csv(id: Uuid, n: u64, what: &str, body: Vec<u8>) -> Response {
    let headers = [
        (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
        (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{id}-{n}-{what}.csv\"")),
    ];
    (StatusCode::OK, headers, body).into_response()
}

/// `GET /v1/bundles/{id}/variants/{n}/equity.csv`: every bar's time, close
/// and equity (what `bt run --variant N --equity` writes).
pub async fn equity_csv(
    State(s): S,
    Owner(owner): Owner,
    p: Result<Path<(Uuid, u64)>, PathRejection>,
) -> Result<Response, ApiError> {
    let (id, n) = variant_path(p)?;
    let (bundle, candles) = variant_inputs(&s, &owner, id, n).await?;
    let body = s
        .gate
        .run("writing a variant's equity", move || -> Result<Vec<u8>, ApiError> {
            let (_, d) = recompute(&bundle, n, &candles)?;
            let mut out = Vec::with_capacity(d.equity.len() * 48);
            bt_service::detail::write_equity_csv(&mut out, candles.ts(), candles.close(), &d.equity)
                .map_err(|e| ApiError::internal("writing a variant's equity", e))?;
            Ok(out)
        })
        .await??;
    Ok(csv(id, n, "equity", body))
}

/// `GET /v1/bundles/{id}/variants/{n}/trades.csv`: every trade (what
/// `bt run --variant N --trades` writes).
pub async fn trades_csv(
    State(s): S,
    Owner(owner): Owner,
    p: Result<Path<(Uuid, u64)>, PathRejection>,
) -> Result<Response, ApiError> {
    let (id, n) = variant_path(p)?;
    let (bundle, candles) = variant_inputs(&s, &owner, id, n).await?;
    let body = s
        .gate
        .run("writing a variant's trades", move || -> Result<Vec<u8>, ApiError> {
            let (_, d) = recompute(&bundle, n, &candles)?;
            let mut out = Vec::with_capacity(d.trades.len() * 160 + 128);
            bt_service::detail::write_trades_csv(&mut out, &d.trades)
                .map_err(|e| ApiError::internal("writing a variant's trades", e))?;
            Ok(out)
        })
        .await??;
    Ok(csv(id, n, "trades", body))
}

/// `GET /v1/datasets`: the catalog.
pub async fn datasets(State(s): S, Owner(_): Owner) -> Answer {
    let catalog = s.catalog.clone();
    let list = tokio::task::spawn_blocking(move || catalog.list())
        .await
        .map_err(|e| ApiError::internal("listing the catalog", e))?
        .map_err(|e| ApiError::internal("listing the catalog", e))?;
    let rows: Vec<Value> = list
        .iter()
        .map(|d| {
            json!({
                "ticker": d.ticker, "timeframe": d.timeframe.as_str(), "bars": d.rows,
                "first": d.first_ms.map(bt_candles::time::format_ms), "last": d.last_ms.map(bt_candles::time::format_ms),
            })
        })
        .collect();
    ok(json!({ "datasets": rows }))
}
