//! The self-contained HTML report: a bundle's results reduced (see
//! [`crate::aggregate`]) and one variant's curves downsampled (see
//! [`crate::envelope`]) into a JSON document, written into one HTML file
//! with the chart code and styles inline. Nothing is loaded from anywhere:
//! the file opens offline.
//!
//! Large arrays travel as base64 of little-endian `Float32`/`Uint32`
//! arrays (a 100,000-variant bundle's heatmaps are a few hundred thousand
//! numbers); the rest is plain JSON.

use std::fmt::Write as _;

use bt_candles::CandlesView;
use bt_engine::bundle::Bundle;
use bt_engine::metrics::{Better, MetricName, Metrics};
use bt_engine::sim::Detail;
use bt_engine::sweep::VariantResult;
use rayon::prelude::*;
use serde_json::{Value, json};

use crate::aggregate::{Grouping, density, histogram, top_rows};
use crate::axes::{Axes, bin_count, bin_label, bin_ranges};
use crate::envelope::{columns, drawdown, envelope, ohlc};
use crate::{CHARTS_JS, STYLE_CSS};

const REPORT_HTML: &str = include_str!("../assets/report.html");
const REPORT_JS: &str = include_str!("../assets/report.js");

/// Bytes the heatmaps may take before base64: axes with many levels are
/// binned until every pair's cells for every metric fit.
pub const HEATMAP_BYTES: usize = 2_000_000;
/// Most bins on a heatmap axis.
pub const MAX_AXIS_BINS: u64 = 60;
/// Pixel columns of the curves (the price, equity and drawdown panels).
pub const CURVE_COLUMNS: usize = 1600;
/// Trades drawn and listed at most (the rest: `bt run --variant N --trades`).
pub const MAX_TRADES: usize = 5000;
/// Rows kept per metric for the top table.
pub const TOP_PER_METRIC: usize = 25;
/// The scatter's density grid.
pub const SCATTER_BINS: (u64, u64) = (200, 120);
/// Histogram bins.
pub const HISTOGRAM_BINS: u64 = 40;

/// What the report says about one dataset of the bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetInfo {
    pub ticker: String,
    pub timeframe: String,
    pub bars: Option<u64>,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    /// How the annualisation resolved on its bars, or as given.
    pub annualization: String,
}

/// A bundle and its results.
#[derive(Debug, Clone)]
pub struct Summary<'a> {
    pub bundle: &'a Bundle,
    /// Every variant's metrics, in any order.
    pub results: &'a [VariantResult],
    pub datasets: Vec<DatasetInfo>,
    /// Wall time of the run, when known.
    pub run_seconds: Option<f64>,
    /// Where the results come from, e.g. `bt run examples/sma_cross.toml`.
    pub source: String,
    /// The metric the page opens with (heatmap colour, histogram, table order).
    pub metric: MetricName,
}

/// One variant in detail.
#[derive(Debug, Clone)]
pub struct Focus<'a> {
    pub variant: u64,
    /// Why this one: `best sharpe`, `--variant 17`.
    pub why: String,
    pub metrics: Metrics,
    pub detail: &'a Detail,
    /// The bars it ran on.
    pub candles: CandlesView<'a>,
    pub annualization: String,
}

/// The variant with the best finite `metric` (in its better direction; the
/// lowest number among equals).
pub fn best_variant(results: &[VariantResult], metric: MetricName) -> Option<u64> {
    results
        .iter()
        .filter(|r| r.metrics.get(metric).is_finite())
        .min_by(|a, b| {
            let (x, y) = (a.metrics.get(metric), b.metrics.get(metric));
            let c = match metric.better() {
                Better::Higher => y.total_cmp(&x),
                Better::Lower => x.total_cmp(&y),
            };
            c.then(a.index.cmp(&b.index))
        })
        .map(|r| r.index)
        .or_else(|| results.iter().map(|r| r.index).min())
}

/// Standard base64 (with padding).
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(A[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn f32s(v: impl Iterator<Item = f64>) -> String {
    base64(&v.flat_map(|x| (x as f32).to_le_bytes()).collect::<Vec<u8>>())
}

fn u32s(v: impl Iterator<Item = u64>) -> String {
    base64(&v.flat_map(|x| (x.min(u64::from(u32::MAX)) as u32).to_le_bytes()).collect::<Vec<u8>>())
}

/// A number, or null (JSON has no NaN or infinity).
fn num(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

fn metric_list() -> Value {
    MetricName::ALL
        .iter()
        .map(|m| {
            json!({
                "name": m.as_str(), "about": m.describe(), "integer": m.is_integer(),
                "better": match m.better() { Better::Higher => "higher", Better::Lower => "lower" },
            })
        })
        .collect()
}

/// The most bins per axis such that every pair of `radices` (varying
/// axes) fits [`HEATMAP_BYTES`] for every metric.
fn axis_bins(radices: &[u64]) -> u64 {
    let per_cell = 4 + MetricName::ALL.len() * 12;
    let bytes = |max: u64| -> usize {
        let mut total = 0usize;
        for (i, &a) in radices.iter().enumerate() {
            for &b in &radices[i + 1..] {
                total += (bin_count(a, max) * bin_count(b, max)) as usize * per_cell;
            }
        }
        total
    };
    let mut max = MAX_AXIS_BINS;
    while max > 2 && bytes(max) > HEATMAP_BYTES {
        max = max * 4 / 5;
    }
    max
}

/// Every pair of varying axes: per cell the count, and per metric the max,
/// median and best variant.
fn heatmaps(axes: &Axes, rows: &[VariantResult]) -> Value {
    let varying: Vec<usize> = axes.varying().map(|(i, _)| i).collect();
    let radices: Vec<u64> = varying.iter().map(|&i| axes.0[i].radix()).collect();
    let max_bins = axis_bins(&radices);
    let pairs: Vec<(usize, usize)> = varying
        .iter()
        .enumerate()
        .flat_map(|(k, &i)| varying[k + 1..].iter().map(move |&j| (i, j)))
        .collect();
    let out: Vec<Value> = pairs
        .par_iter()
        .map(|&(i, j)| {
            let (x, y) = (&axes.0[i], &axes.0[j]);
            let (nx, ny) = (bin_count(x.radix(), max_bins), bin_count(y.radix(), max_bins));
            let g = Grouping::new(rows, x, nx, y, ny);
            let mut count = Vec::new();
            let per_metric: Vec<(&str, Value)> = MetricName::ALL
                .iter()
                .map(|&m| {
                    let cells = g.cells(rows, m);
                    if count.is_empty() {
                        count = cells.iter().map(|c| c.count).collect();
                    }
                    let v = json!({
                        "max": f32s(cells.iter().map(|c| c.max)),
                        "median": f32s(cells.iter().map(|c| c.median)),
                        // u32::MAX: no finite value.
                        "best": u32s(cells.iter().map(|c| c.best.unwrap_or(u64::MAX))),
                    });
                    (m.as_str(), v)
                })
                .collect();
            let labels = |a: &crate::axes::Axis, n: u64| -> Vec<String> {
                bin_ranges(a.radix(), n).iter().map(|r| bin_label(a, r)).collect()
            };
            json!({
                "x": i, "y": j, "nx": nx, "ny": ny,
                "x_labels": labels(x, nx), "y_labels": labels(y, ny),
                "count": u32s(count.into_iter()),
                "metrics": per_metric.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<serde_json::Map<String, Value>>(),
            })
        })
        .collect();
    json!({ "pairs": out, "max_bins": max_bins })
}

fn histograms(rows: &[VariantResult]) -> Value {
    let m: serde_json::Map<String, Value> = MetricName::ALL
        .par_iter()
        .map(|&m| {
            let h = histogram(rows, m, HISTOGRAM_BINS);
            (
                m.as_str().to_owned(),
                json!({ "min": num(h.min), "max": num(h.max), "counts": h.counts, "non_finite": h.non_finite }),
            )
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    Value::Object(m)
}

fn scatter(rows: &[VariantResult]) -> Value {
    let d = density(rows, MetricName::MaxDrawdown, MetricName::TotalReturn, SCATTER_BINS.0, SCATTER_BINS.1);
    json!({
        "x": d.x.as_str(), "y": d.y.as_str(), "nx": d.nx, "ny": d.ny,
        "x_range": [num(d.x_range.0), num(d.x_range.1)], "y_range": [num(d.y_range.0), num(d.y_range.1)],
        "bx": u32s(d.bins.iter().map(|b| b.0)), "by": u32s(d.bins.iter().map(|b| b.1)),
        "count": u32s(d.bins.iter().map(|b| b.2)), "best": u32s(d.bins.iter().map(|b| b.3)),
        "excluded": d.excluded,
    })
}

fn metric_values(m: &Metrics) -> Vec<Value> {
    MetricName::ALL.iter().map(|&n| num(m.get(n))).collect()
}

fn top(rows: &[VariantResult]) -> Value {
    let keep = top_rows(rows, TOP_PER_METRIC);
    let out: Vec<Value> = keep
        .iter()
        .map(|&i| {
            let mut row = vec![Value::from(rows[i].index)];
            row.extend(metric_values(&rows[i].metrics));
            Value::Array(row)
        })
        .collect();
    json!({ "per_metric": TOP_PER_METRIC, "rows": out })
}

fn focus_json(bundle: &Bundle, f: &Focus<'_>) -> Value {
    let c = f.candles;
    let n = c.ts.len().min(f.detail.equity.len());
    let cols = columns(n, CURVE_COLUMNS);
    let eq = envelope(&f.detail.equity[..n], &cols);
    let dd = envelope(&drawdown(&f.detail.equity[..n]), &cols);
    let px = ohlc(c, &cols);
    let v = bundle.variant(f.variant);
    let d = v.as_ref().map(|v| &bundle.datasets[v.dataset]);
    let trades: Vec<Value> = f
        .detail
        .trades
        .iter()
        .take(MAX_TRADES)
        .map(|t| {
            json!([
                t.side,
                t.entry_ts,
                num(t.entry_price),
                t.exit_ts,
                num(t.exit_price),
                num(t.quantity),
                num(t.pnl),
                num(t.return_on_margin),
                t.reason.as_str()
            ])
        })
        .collect();
    let rules: Vec<Value> = v
        .as_ref()
        .map(|v| v.strategy.rules().into_iter().map(|(r, t)| json!([r, t])).collect())
        .unwrap_or_default();
    json!({
        "variant": f.variant, "why": f.why,
        "dataset": d.map(|d| format!("{}/{}", d.ticker, d.timeframe)),
        "strategy": v.as_ref().map(|v| v.strategy.to_string()),
        "rules": rules,
        "stop_loss": v.as_ref().and_then(|v| v.money.stop_loss),
        "take_profit": v.as_ref().and_then(|v| v.money.take_profit),
        "metrics": metric_values(&f.metrics),
        "open_position": f.metrics.open_position, "liquidated": f.metrics.liquidated,
        "annualization": f.annualization,
        "bars": n, "columns": cols.len(),
        "initial_balance": num(bundle.spec.initial_balance),
        "ts": px.ts,
        "open": px.open.into_iter().map(num).collect::<Vec<_>>(),
        "high": px.high.into_iter().map(num).collect::<Vec<_>>(),
        "low": px.low.into_iter().map(num).collect::<Vec<_>>(),
        "close": px.close.into_iter().map(num).collect::<Vec<_>>(),
        "eq_min": eq.min.into_iter().map(num).collect::<Vec<_>>(),
        "eq_max": eq.max.into_iter().map(num).collect::<Vec<_>>(),
        "eq_last": eq.last.into_iter().map(num).collect::<Vec<_>>(),
        "dd_min": dd.min.into_iter().map(num).collect::<Vec<_>>(),
        "first_close": c.close.first().copied().map_or(Value::Null, num),
        "trades": trades, "trades_total": f.detail.trades.len(),
    })
}

/// The report's data: what the page draws.
pub fn data(s: &Summary<'_>, focus: Option<&Focus<'_>>) -> Value {
    let b = s.bundle;
    let axes = Axes::of(b);
    let datasets: Vec<Value> = s
        .datasets
        .iter()
        .map(|d| {
            json!({
                "ticker": d.ticker, "timeframe": d.timeframe, "bars": d.bars,
                "first": d.first_ms.map(bt_candles::time::format_ms), "last": d.last_ms.map(bt_candles::time::format_ms),
                "annualization": d.annualization,
            })
        })
        .collect();
    let rows = s.results;
    let ((heat, hist), (scat, top)) = rayon::join(
        || rayon::join(|| heatmaps(&axes, rows), || histograms(rows)),
        || rayon::join(|| scatter(rows), || top(rows)),
    );
    let rules = b.spec.strategy.rule_text();
    let rule_lines: Vec<Value> = rules
        .all()
        .iter()
        .zip(bt_engine::rules::RULES)
        .filter_map(|(t, name)| t.as_ref().map(|t| json!([name, t])))
        .collect();
    json!({
        "source": s.source,
        "version": env!("CARGO_PKG_VERSION"),
        "bundle": {
            "name": b.spec.name, "variants": b.count(), "results": rows.len(),
            "run_seconds": s.run_seconds.map(num),
            "datasets": datasets,
            "strategy": b.strategies.kind.map_or("rules", |k| k.name()),
            "rules": if b.spec.strategy.kind.is_none() { rule_lines } else { Vec::new() },
            "initial_balance": num(b.spec.initial_balance),
            "fee_bps": num(b.spec.costs.fee_bps), "slippage_bps": num(b.spec.costs.slippage_bps),
            "annualization": b.spec.annualization.as_text(),
            "execution": b.spec.execution.resolve().to_string(),
        },
        "metric": s.metric.as_str(),
        "metrics": metric_list(),
        "axes": axes.0.iter().map(|a| json!({ "name": a.name, "kind": a.kind, "labels": a.labels, "stride": a.stride })).collect::<Vec<_>>(),
        "heatmap": heat,
        "histograms": hist,
        "scatter": scat,
        "top": top,
        "focus": focus.map(|f| focus_json(b, f)),
    })
}

/// JSON safe inside a `<script>` element: `<` escaped, so no `</script>`
/// or `<!--` in a bundle's name ends it.
fn script_json(v: &Value) -> String {
    v.to_string().replace('<', "\\u003c")
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// The report as one HTML document.
pub fn render(s: &Summary<'_>, focus: Option<&Focus<'_>>) -> String {
    let data = script_json(&data(s, focus));
    let mut title = String::from("bt report");
    if !s.bundle.spec.name.is_empty() {
        let _ = write!(title, ": {}", s.bundle.spec.name);
    }
    REPORT_HTML
        .replace("{{TITLE}}", &html_escape(&title))
        .replace("{{STYLE}}", STYLE_CSS)
        .replace("{{CHARTS}}", CHARTS_JS)
        .replace("{{REPORT}}", REPORT_JS)
        .replacen("{{DATA}}", &data, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o, "{i}");
        }
        assert_eq!(f32s([1.0, f64::NAN].into_iter()), base64(&[0, 0, 0x80, 0x3f, 0, 0, 0xc0, 0x7f]));
    }

    #[test]
    fn script_json_cannot_end_the_script() {
        let v = json!({ "name": "</script><script>alert(1)</script>" });
        let s = script_json(&v);
        assert!(!s.contains("</"), "{s}");
        assert_eq!(serde_json::from_str::<Value>(&s).ok(), Some(v));
    }

    #[test]
    fn axes_are_binned_until_the_heatmaps_fit() {
        let per_cell = 4 + MetricName::ALL.len() * 12;
        let bytes = |r: &[u64], m: u64| -> usize {
            let mut t = 0;
            for (i, &a) in r.iter().enumerate() {
                for &b in &r[i + 1..] {
                    t += (a.min(m) * b.min(m)) as usize * per_cell;
                }
            }
            t
        };
        assert_eq!(axis_bins(&[10, 10, 3]), MAX_AXIS_BINS);
        // 50 x 200 x 10 = 100,000 variants: 200 levels in 60 bins fit.
        assert_eq!(axis_bins(&[50, 200, 10]), MAX_AXIS_BINS);
        assert!(bytes(&[50, 200, 10], MAX_AXIS_BINS) <= HEATMAP_BYTES);
        // Four axes of 60 (13M variants): six 60 x 60 pairs do not fit; binned until they do.
        let m = axis_bins(&[60; 4]);
        assert!(m < MAX_AXIS_BINS && bytes(&[60; 4], m) <= HEATMAP_BYTES, "{m}");
        assert!(bytes(&[60; 4], m * 5 / 4 + 1) > HEATMAP_BYTES, "{m} is about the most that fits");
        // Many axes: down to the floor, never zero.
        assert!(axis_bins(&[1000; 40]) >= 2);
    }
}
