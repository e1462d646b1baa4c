//! A variant's detail as `GET /v1/bundles/{id}/variants/{n}` serves it:
//! the trades a page at a time and the equity curve downsampled, so one
//! answer stays small whatever the dataset's length. The full data is the
//! `trades.csv`/`equity.csv` downloads.

use std::ops::Range;

use bt_engine::sim::Trade;
use serde_json::{Value, json};

use crate::ApiError;

/// Equity points by default, and the bounds of `points`.
pub const DEFAULT_POINTS: i64 = 1000;
pub const MIN_POINTS: i64 = 4;
pub const MAX_POINTS: i64 = 10_000;

/// Trades per page by default, and the most.
pub const DEFAULT_TRADES_LIMIT: i64 = 1000;
pub const MAX_TRADES_LIMIT: i64 = 10_000;

/// `points` checked: 400 naming it when out of range.
pub fn points(points: i64) -> Result<usize, ApiError> {
    if !(MIN_POINTS..=MAX_POINTS).contains(&points) {
        return Err(ApiError::bad_request(format!("points {points}: use {MIN_POINTS} to {MAX_POINTS}"))
            .field("points"));
    }
    Ok(points as usize)
}

/// `trades_limit` checked: 400 naming it when out of range.
pub fn trades_limit(limit: i64) -> Result<usize, ApiError> {
    if !(1..=MAX_TRADES_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!("trades_limit {limit}: use 1 to {MAX_TRADES_LIMIT}"))
            .field("trades_limit"));
    }
    Ok(limit as usize)
}

/// The first trade a `trades_cursor` points at (the token is the index of
/// the page's first trade; opaque to clients).
pub fn trades_start(cursor: Option<&str>) -> Result<usize, ApiError> {
    let Some(c) = cursor else { return Ok(0) };
    c.parse().map_err(|_| {
        ApiError::bad_request(format!("trades_cursor {c:?} is not a cursor this endpoint returned"))
            .field("trades_cursor")
    })
}

/// The trades of one page out of `total`, and the cursor of the next (none
/// after the last).
pub fn trades_page(
    total: usize,
    start: usize,
    limit: usize,
) -> Result<(Range<usize>, Option<String>), ApiError> {
    if start > total {
        return Err(ApiError::bad_request(format!("trades_cursor {start}: the variant has {total} trades"))
            .field("trades_cursor"));
    }
    let end = total.min(start.saturating_add(limit));
    Ok((start..end, (end < total).then(|| end.to_string())))
}

/// The indices of `values` to draw with at most `points` (>= 4) points,
/// increasing: all of them when they fit; otherwise the first and the last,
/// and for each of `(points - 2) / 2` equal buckets of the points between,
/// the bucket's minimum and maximum (in their order), so no spike or dip is
/// lost however far the curve is reduced.
pub fn downsample(values: &[f64], points: usize) -> Vec<usize> {
    let n = values.len();
    if n <= points {
        return (0..n).collect();
    }
    let buckets = buckets(n, points);
    let mut out = Vec::with_capacity(points);
    out.push(0);
    for b in buckets {
        let (mut lo, mut hi) = (b.start, b.start);
        for i in b {
            if values[i] < values[lo] {
                lo = i;
            }
            if values[i] > values[hi] {
                hi = i;
            }
        }
        out.push(lo.min(hi));
        if lo != hi {
            out.push(lo.max(hi));
        }
    }
    out.push(n - 1);
    out
}

/// The buckets of [`downsample`]: `(points - 2) / 2` contiguous, non-empty
/// ranges covering `1..n - 1` (`n > points >= 4`).
fn buckets(n: usize, points: usize) -> impl Iterator<Item = Range<usize>> {
    let inner = n - 2;
    let count = ((points - 2) / 2).min(inner);
    (0..count).map(move |b| 1 + inner * b / count..1 + inner * (b + 1) / count)
}

/// A number, or null (JSON has no NaN or infinity).
pub fn num(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

pub fn trade_json(t: &Trade) -> Value {
    json!({
        "side": bt_service::detail::side(t),
        "entry_bar": t.entry_bar, "entry_time": bt_candles::time::format_ms(t.entry_ts), "entry_price": num(t.entry_price),
        "exit_bar": t.exit_bar, "exit_time": bt_candles::time::format_ms(t.exit_ts), "exit_price": num(t.exit_price),
        "quantity": num(t.quantity), "fees": num(t.fees), "pnl": num(t.pnl),
        "return_on_margin": num(t.return_on_margin), "reason": t.reason.as_str(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bt_candles::SplitMix64;

    #[test]
    fn downsampling_keeps_the_min_and_max_of_every_bucket() {
        let mut rng = SplitMix64(7);
        for (n, points) in [(10_000, 1000), (1_000_003, 1000), (5_000, 4), (777, 9), (1001, 1000), (12, 11)] {
            let values: Vec<f64> =
                (0..n).map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 100.0 - 50.0).collect();
            let kept = downsample(&values, points);
            assert!(kept.len() <= points, "{n} {points}: {}", kept.len());
            assert_eq!((kept[0], kept[kept.len() - 1]), (0, n - 1), "first and last");
            assert!(kept.windows(2).all(|w| w[0] < w[1]), "increasing");
            let mut covered = 1;
            for b in buckets(n, points) {
                assert_eq!(b.start, covered, "contiguous");
                covered = b.end;
                let in_bucket: Vec<usize> = kept.iter().copied().filter(|i| b.contains(i)).collect();
                let min = b.clone().map(|i| values[i]).fold(f64::INFINITY, f64::min);
                let max = b.clone().map(|i| values[i]).fold(f64::NEG_INFINITY, f64::max);
                assert!(in_bucket.iter().any(|&i| values[i] == min), "{n} {points} {b:?}: min");
                assert!(in_bucket.iter().any(|&i| values[i] == max), "{n} {points} {b:?}: max");
                assert!(in_bucket.len() <= 2);
            }
            assert_eq!(covered, n - 1, "the buckets cover every point between the ends");
        }
    }

    #[test]
    fn a_single_spike_survives_any_reduction() {
        let mut values = vec![10_000.0; 1_000_000];
        values[654_321] = 25_000.0;
        values[123_457] = 1.0;
        for points in [4, 10, 1000] {
            let kept = downsample(&values, points);
            assert!(kept.contains(&654_321) && kept.contains(&123_457), "{points}: {kept:?}");
        }
        assert_eq!(downsample(&[1.0, 2.0, 3.0], 4), [0, 1, 2], "short curves whole");
        assert_eq!(downsample(&[], 4), Vec::<usize>::new());
    }

    #[test]
    fn parameters_are_bounded_and_named() {
        for (p, ok) in [(3, false), (4, true), (10_000, true), (10_001, false), (-1, false)] {
            assert_eq!(points(p).is_ok(), ok, "{p}");
        }
        assert_eq!(points(0).expect_err("0").field.as_deref(), Some("points"));
        assert_eq!(trades_limit(0).expect_err("0").field.as_deref(), Some("trades_limit"));
        assert_eq!(trades_limit(10_001).expect_err("big").field.as_deref(), Some("trades_limit"));
        assert_eq!(trades_start(Some("x")).expect_err("x").field.as_deref(), Some("trades_cursor"));
        assert_eq!(trades_page(5, 0, 2).expect("page"), (0..2, Some("2".to_owned())));
        assert_eq!(trades_page(5, 4, 2).expect("page"), (4..5, None));
        assert_eq!(trades_page(0, 0, 2).expect("page"), (0..0, None));
        assert_eq!(trades_page(5, 6, 2).expect_err("beyond").field.as_deref(), Some("trades_cursor"));
    }
}
