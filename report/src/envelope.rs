//! Long series drawn in a fixed number of pixel columns: each column keeps
//! the minimum, the maximum and the last value of the bars it covers (and a
//! price its OHLC), so a 1M-bar curve becomes a few thousand numbers and no
//! spike or dip disappears, however far it is reduced.

use std::ops::Range;

use bt_candles::CandlesView;

/// The bars of each of at most `width` columns of a series of `n` bars:
/// consecutive, non-empty, covering `0..n` (one bar each when they fit).
pub fn columns(n: usize, width: usize) -> Vec<Range<usize>> {
    let w = width.max(1).min(n);
    (0..w).map(|c| c * n / w..(c + 1) * n / w).collect()
}

/// Per column: the smallest, largest and last value (NaN values skipped; a
/// column of NaN only is NaN).
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub min: Vec<f64>,
    pub max: Vec<f64>,
    pub last: Vec<f64>,
}

pub fn envelope(values: &[f64], cols: &[Range<usize>]) -> Envelope {
    let mut e = Envelope {
        min: Vec::with_capacity(cols.len()),
        max: Vec::with_capacity(cols.len()),
        last: Vec::with_capacity(cols.len()),
    };
    for c in cols {
        let v = &values[c.clone()];
        // f64::min/max return the other operand for NaN.
        e.min.push(v.iter().copied().fold(f64::NAN, f64::min));
        e.max.push(v.iter().copied().fold(f64::NAN, f64::max));
        e.last.push(v.last().copied().unwrap_or(f64::NAN));
    }
    e
}

/// Price per column: the first open, the highest high, the lowest low and the
/// last close of its bars (the column's candle), and its first bar's time.
#[derive(Debug, Clone, PartialEq)]
pub struct Ohlc {
    pub ts: Vec<i64>,
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
}

pub fn ohlc(c: CandlesView<'_>, cols: &[Range<usize>]) -> Ohlc {
    let high = envelope(c.high, cols).max;
    let low = envelope(c.low, cols).min;
    Ohlc {
        ts: cols.iter().map(|r| c.ts[r.start]).collect(),
        open: cols.iter().map(|r| c.open[r.start]).collect(),
        high,
        low,
        close: cols.iter().map(|r| c.close[r.end - 1]).collect(),
    }
}

/// Drawdown at each bar: `equity / running peak - 1` (0 at a new peak).
pub fn drawdown(equity: &[f64]) -> Vec<f64> {
    let mut peak = f64::NEG_INFINITY;
    equity
        .iter()
        .map(|&e| {
            peak = peak.max(e);
            if peak > 0.0 { e / peak - 1.0 } else { 0.0 }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bt_candles::SplitMix64;

    #[test]
    fn columns_cover_every_bar_once() {
        for (n, w) in [(1_000_000, 1200), (1200, 1200), (5, 1200), (1201, 1200), (7, 3), (1, 1)] {
            let cols = columns(n, w);
            assert_eq!(cols.len(), n.min(w), "{n} {w}");
            assert_eq!(cols[0].start, 0);
            assert_eq!(cols[cols.len() - 1].end, n);
            assert!(cols.windows(2).all(|p| p[0].end == p[1].start && !p[0].is_empty()), "{n} {w}");
        }
        assert!(columns(0, 10).is_empty());
    }

    #[test]
    fn no_spike_or_dip_is_lost_in_a_million_bars() {
        let mut rng = SplitMix64(11);
        let n = 1_000_000;
        let mut values: Vec<f64> =
            (0..n).map(|_| 10_000.0 + (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 100.0).collect();
        // One-bar spikes and dips, far outside the noise, and a NaN.
        for (i, v) in [(3, 50_000.0), (654_321, 25_000.0), (123_457, 1.0), (999_999, 0.5)] {
            values[i] = v;
        }
        values[500_000] = f64::NAN;
        let cols = columns(n, 1200);
        let e = envelope(&values, &cols);
        for (k, c) in cols.iter().enumerate() {
            let finite = values[c.clone()].iter().copied().filter(|v| !v.is_nan());
            let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
            assert_eq!((e.min[k], e.max[k]), (lo, hi), "column {k}");
            assert_eq!(e.last[k], values[c.end - 1]);
        }
        for (i, v) in [(3, 50_000.0), (654_321, 25_000.0), (123_457, 1.0), (999_999, 0.5)] {
            let k = cols.iter().position(|c| c.contains(&i)).expect("column");
            assert!(e.max[k] == v || e.min[k] == v, "bar {i}'s {v} is drawn in column {k}");
        }
        assert_eq!(e.max.iter().copied().fold(f64::NAN, f64::max), 50_000.0);
        assert_eq!(e.min.iter().copied().fold(f64::NAN, f64::min), 0.5);
    }

    #[test]
    fn drawdown_from_the_running_peak() {
        let dd = drawdown(&[100.0, 110.0, 99.0, 121.0, 60.5]);
        assert_eq!(dd, [0.0, 0.0, 99.0 / 110.0 - 1.0, 0.0, -0.5]);
    }
}
