//! `GET /v1/bundles/{id}/heatmap` and `/scatter`: a bundle's results
//! aggregated for charts in the database (`queue/queries/heatmap.sql`,
//! `scatter.sql`), so a chart of any number of variants costs one answer of
//! at most a few thousand cells. The axes are the bundle's (`bt_report::
//! axes`): ticker, timeframe, every strategy parameter and money field;
//! a long axis is binned into consecutive levels.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use bt_engine::metrics::{Better, MetricName};
use bt_queue::AxisBins;
use bt_report::aggregate::Agg;
use bt_report::axes::{Axes, Axis, bin_count, bin_label, bin_ranges};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::auth::Owner;
use crate::detail::num;
use crate::error::ApiError;
use crate::routes::{Answer, S, bundle_id, ok, owned, query, stored_bundle};

/// Bins per heatmap axis by default, and the most.
pub const DEFAULT_BINS: i64 = 60;
pub const MAX_BINS: i64 = 200;
/// The scatter's grid by default, and the most per side.
pub const DEFAULT_SCATTER: (i64, i64) = (200, 120);
pub const MAX_SCATTER_BINS: i64 = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeatmapQuery {
    x: Option<String>,
    y: Option<String>,
    metric: Option<String>,
    agg: Option<String>,
    bins: Option<i64>,
}

fn metric(name: Option<&str>, default: MetricName, field: &str) -> Result<MetricName, ApiError> {
    name.map_or(Ok(default), |n| {
        n.parse().map_err(|e| ApiError::bad_request(format!("{field}: {e}")).field(field))
    })
}

fn better(m: MetricName) -> &'static str {
    match m.better() {
        Better::Higher => "higher",
        Better::Lower => "lower",
    }
}

/// The axis `name` of `axes`, or a 400 naming `field` and the axes there are.
fn axis<'a>(axes: &'a Axes, name: &str, field: &str) -> Result<&'a Axis, ApiError> {
    axes.find(name).ok_or_else(|| {
        let names: Vec<&str> = axes.0.iter().map(|a| a.name.as_str()).collect();
        ApiError::bad_request(format!(
            "{field} {name:?} is not an axis of this bundle (one of {})",
            names.join(", ")
        ))
        .field(field)
    })
}

/// The axes a heatmap opens with: the first two varying strategy
/// parameters, else the first two varying axes.
fn default_axes(axes: &Axes) -> Option<(&Axis, &Axis)> {
    let strategy: Vec<&Axis> = axes.varying().map(|(_, a)| a).filter(|a| a.kind == "strategy").collect();
    let varying: Vec<&Axis> = axes.varying().map(|(_, a)| a).collect();
    let pick = if strategy.len() >= 2 { strategy } else { varying };
    (pick.len() >= 2).then(|| (pick[0], pick[1]))
}

fn labels(a: &Axis, bins: u64) -> Vec<String> {
    bin_ranges(a.radix(), bins).iter().map(|r| bin_label(a, r)).collect()
}

/// `GET /v1/bundles/{id}/heatmap`: a metric's max or median (and best
/// variant) per pair of levels of two axes, over the other axes.
pub async fn heatmap(
    State(s): S,
    Owner(owner): Owner,
    p: Result<Path<Uuid>, PathRejection>,
    q: Result<Query<HeatmapQuery>, QueryRejection>,
) -> Answer {
    let id = bundle_id(p)?;
    let q = query(q)?;
    let m = metric(q.metric.as_deref(), MetricName::Sharpe, "metric")?;
    let agg: Agg = match q.agg.as_deref() {
        None => Agg::Max,
        Some(a) => a.parse().map_err(|e| ApiError::bad_request(format!("agg {e}")).field("agg"))?,
    };
    let bins = q.bins.unwrap_or(DEFAULT_BINS);
    if !(1..=MAX_BINS).contains(&bins) {
        return Err(ApiError::bad_request(format!("bins {bins}: use 1 to {MAX_BINS}")).field("bins"));
    }
    let st = owned(&s, id, &owner).await?;
    let bundle = stored_bundle(&s, id).await?;
    let axes = Axes::of(&bundle);
    let pair = match (q.x.as_deref(), q.y.as_deref()) {
        (None, None) => default_axes(&axes),
        (x, y) => {
            let (dx, dy) = default_axes(&axes).map_or((None, None), |(a, b)| (Some(a), Some(b)));
            let x = match x {
                Some(n) => Some(axis(&axes, n, "x")?),
                None => dy.filter(|d| Some(d.name.as_str()) != y).or(dx),
            };
            let y = match y {
                Some(n) => Some(axis(&axes, n, "y")?),
                None => dy.filter(|d| Some(d.name.as_str()) != q.x.as_deref()).or(dx),
            };
            x.zip(y)
        }
    };
    if let Some((x, y)) = pair
        && x.name == y.name
    {
        return Err(ApiError::bad_request(format!("x and y are both {:?}: pick two axes", x.name)).field("y"));
    }
    let axes_json: Vec<Value> =
        axes.0.iter().map(|a| json!({ "name": a.name, "kind": a.kind, "levels": a.radix() })).collect();
    let mut out = json!({
        "bundle": id, "status": st.status.as_str(), "variants": st.variant_count, "stored": st.variants_done,
        "metric": m.as_str(), "better": better(m), "agg": agg.as_str(),
        "metrics": MetricName::ALL.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        "axes": axes_json, "x": Value::Null, "y": Value::Null, "x_labels": [], "y_labels": [], "cells": [],
    });
    let Some((x, y)) = pair else { return ok(out) };
    let (nx, ny) = (bin_count(x.radix(), bins as u64), bin_count(y.radix(), bins as u64));
    let spec =
        |a: &Axis, n: u64| AxisBins { stride: a.stride as i64, radix: a.radix() as i64, bins: n as i64 };
    let cells = s.store.heatmap(id, m, spec(x, nx), spec(y, ny)).await?;
    let cells: Vec<Value> = cells
        .iter()
        .map(|c| {
            let v = match agg {
                Agg::Max => c.max,
                Agg::Median => c.median,
            };
            json!({ "x": c.x, "y": c.y, "count": c.count, "value": v.map_or(Value::Null, num), "best": c.best })
        })
        .collect();
    out["x"] = x.name.clone().into();
    out["y"] = y.name.clone().into();
    out["x_labels"] = labels(x, nx).into();
    out["y_labels"] = labels(y, ny).into();
    out["cells"] = cells.into();
    ok(out)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScatterQuery {
    x: Option<String>,
    y: Option<String>,
    nx: Option<i64>,
    ny: Option<i64>,
}

/// `GET /v1/bundles/{id}/scatter`: every variant by two metrics, counted on
/// a grid (a scatter plot of any number of points).
pub async fn scatter(
    State(s): S,
    Owner(owner): Owner,
    p: Result<Path<Uuid>, PathRejection>,
    q: Result<Query<ScatterQuery>, QueryRejection>,
) -> Answer {
    let id = bundle_id(p)?;
    let q = query(q)?;
    let x = metric(q.x.as_deref(), MetricName::MaxDrawdown, "x")?;
    let y = metric(q.y.as_deref(), MetricName::TotalReturn, "y")?;
    let side = |v: Option<i64>, d: i64, field: &str| -> Result<i64, ApiError> {
        let v = v.unwrap_or(d);
        if (1..=MAX_SCATTER_BINS).contains(&v) {
            Ok(v)
        } else {
            Err(ApiError::bad_request(format!("{field} {v}: use 1 to {MAX_SCATTER_BINS}")).field(field))
        }
    };
    let nx = side(q.nx, DEFAULT_SCATTER.0, "nx")?;
    let ny = side(q.ny, DEFAULT_SCATTER.1, "ny")?;
    let st = owned(&s, id, &owner).await?;
    let r = s.store.scatter_range(id, x, y).await?;
    let bins = match r.x.zip(r.y) {
        Some(range) => s.store.scatter(id, x, y, (nx, ny), range).await?,
        None => Vec::new(),
    };
    let range = |v: Option<(f64, f64)>| v.map_or(Value::Null, |(a, b)| json!([num(a), num(b)]));
    ok(json!({
        "bundle": id, "status": st.status.as_str(), "stored": st.variants_done,
        "x": x.as_str(), "y": y.as_str(), "nx": nx, "ny": ny,
        "x_range": range(r.x), "y_range": range(r.y), "excluded": r.excluded,
        "bins": bins.iter().map(|b| json!([b.bx, b.by, b.count, b.best])).collect::<Vec<_>>(),
    }))
}
