//! A bundle's results reduced to what its charts draw, whatever the number
//! of variants: heatmap cells (a metric's max, median and best variant per
//! pair of axis bins), a density grid of two metrics, histograms, and the
//! top rows of every metric.
//!
//! Statistics count only finite values (a variant with no trades has a NaN
//! Sharpe; a profit factor with no loss is infinite); a cell or bin with
//! none has no value. The API's SQL (`queue/queries/heatmap.sql`,
//! `scatter.sql`) computes the same numbers with the same arithmetic: the
//! median of an even count is `a + (b - a) * 0.5`, PostgreSQL's
//! `percentile_cont(0.5)`; a density bin is `min(floor((v - lo) / (hi - lo)
//! * n), n - 1)`.

use std::cmp::Ordering;

use bt_engine::metrics::{Better, MetricName};
use bt_engine::sweep::VariantResult;

use crate::axes::{Axis, bin_of};

/// How a heatmap cell sums up its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agg {
    Max,
    Median,
}

impl Agg {
    pub const ALL: [Agg; 2] = [Agg::Max, Agg::Median];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Max => "max",
            Self::Median => "median",
        }
    }
}

impl std::str::FromStr for Agg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "max" => Ok(Self::Max),
            "median" => Ok(Self::Median),
            _ => Err(format!("{s:?}: use max or median")),
        }
    }
}

/// One heatmap cell for one metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    /// Variants in the cell (finite values or not).
    pub count: u64,
    /// Largest finite value (NaN when none).
    pub max: f64,
    /// Median of the finite values (NaN when none).
    pub median: f64,
    /// The variant with the best finite value in the metric's better
    /// direction, the lowest number among equals.
    pub best: Option<u64>,
}

impl Cell {
    pub fn value(&self, agg: Agg) -> f64 {
        match agg {
            Agg::Max => self.max,
            Agg::Median => self.median,
        }
    }
}

/// Rows grouped by heatmap cell (`y * nx + x` over the bins of two axes),
/// computed once per pair of axes and reused for every metric.
#[derive(Debug, Clone)]
pub struct Grouping {
    pub nx: u64,
    pub ny: u64,
    /// Row indices, cell by cell.
    order: Vec<u32>,
    /// Cell `c`'s rows are `order[offsets[c]..offsets[c + 1]]`.
    offsets: Vec<u32>,
}

impl Grouping {
    /// Groups `rows` by their bins on `x` (`nx` bins) and `y` (`ny` bins).
    pub fn new(rows: &[VariantResult], x: &Axis, nx: u64, y: &Axis, ny: u64) -> Self {
        let cell = |r: &VariantResult| {
            let bx = bin_of(x.level(r.index) as u64, x.radix(), nx);
            let by = bin_of(y.level(r.index) as u64, y.radix(), ny);
            (by * nx + bx) as usize
        };
        let cells = (nx * ny) as usize;
        let mut offsets = vec![0u32; cells + 1];
        for r in rows {
            offsets[cell(r) + 1] += 1;
        }
        for c in 0..cells {
            offsets[c + 1] += offsets[c];
        }
        let mut next = offsets.clone();
        let mut order = vec![0u32; rows.len()];
        for (i, r) in rows.iter().enumerate() {
            let c = cell(r);
            order[next[c] as usize] = i as u32;
            next[c] += 1;
        }
        Self { nx, ny, order, offsets }
    }

    /// Every cell's statistics of `metric`, row by row (`y * nx + x`).
    pub fn cells(&self, rows: &[VariantResult], metric: MetricName) -> Vec<Cell> {
        let mut scratch: Vec<(f64, u64)> = Vec::new();
        (0..(self.nx * self.ny) as usize)
            .map(|c| {
                let members = &self.order[self.offsets[c] as usize..self.offsets[c + 1] as usize];
                scratch.clear();
                scratch.extend(
                    members
                        .iter()
                        .map(|&i| &rows[i as usize])
                        .map(|r| (r.metrics.get(metric), r.index))
                        .filter(|(v, _)| v.is_finite()),
                );
                let mut cell = stats(&mut scratch, metric.better());
                cell.count = members.len() as u64;
                cell
            })
            .collect()
    }
}

/// Max, median and best of finite `(value, variant)` pairs (reordered).
fn stats(values: &mut [(f64, u64)], better: Better) -> Cell {
    if values.is_empty() {
        return Cell { count: 0, max: f64::NAN, median: f64::NAN, best: None };
    }
    let max = values.iter().map(|v| v.0).fold(f64::NEG_INFINITY, f64::max);
    let best = values
        .iter()
        .min_by(|a, b| {
            let by_value = match better {
                Better::Higher => b.0.total_cmp(&a.0),
                Better::Lower => a.0.total_cmp(&b.0),
            };
            by_value.then(a.1.cmp(&b.1))
        })
        .map(|v| v.1);
    let n = values.len();
    let cmp = |a: &(f64, u64), b: &(f64, u64)| a.0.total_cmp(&b.0);
    let (_, upper, _) = values.select_nth_unstable_by(n / 2, cmp);
    let upper = upper.0;
    let median = if n % 2 == 1 {
        upper
    } else {
        // The largest of the lower half: after the selection, all of it is
        // at or below n / 2.
        let lower = values[..n / 2].iter().map(|v| v.0).fold(f64::NEG_INFINITY, f64::max);
        lower + (upper - lower) * 0.5
    };
    Cell { count: n as u64, max, median, best }
}

/// A metric's distribution over its finite values.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub min: f64,
    pub max: f64,
    /// `bins` equal bins from `min` to `max` (one when they are equal).
    pub counts: Vec<u64>,
    /// Variants whose value is NaN or infinite.
    pub non_finite: u64,
}

/// The bin of `v` among `n` equal bins of `lo..=hi` (the API's SQL uses the
/// same expression).
pub fn bin(v: f64, lo: f64, hi: f64, n: u64) -> u64 {
    if hi <= lo {
        return 0;
    }
    let b = ((v - lo) / (hi - lo) * n as f64).floor();
    (b.max(0.0) as u64).min(n - 1)
}

/// The finite range of `values` (`None` when none is finite).
fn range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.filter(|v| v.is_finite()).fold(None, |r, v| match r {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

pub fn histogram(rows: &[VariantResult], metric: MetricName, bins: u64) -> Histogram {
    let Some((min, max)) = range(rows.iter().map(|r| r.metrics.get(metric))) else {
        return Histogram { min: f64::NAN, max: f64::NAN, counts: Vec::new(), non_finite: rows.len() as u64 };
    };
    let n = if max > min { bins } else { 1 };
    let mut counts = vec![0u64; n as usize];
    let mut non_finite = 0;
    for r in rows {
        let v = r.metrics.get(metric);
        if v.is_finite() {
            counts[bin(v, min, max, n) as usize] += 1;
        } else {
            non_finite += 1;
        }
    }
    Histogram { min, max, counts, non_finite }
}

/// Variants by two metrics, counted on a grid: a scatter plot of any number
/// of variants in the size of its pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Density {
    pub x: MetricName,
    pub y: MetricName,
    pub x_range: (f64, f64),
    pub y_range: (f64, f64),
    pub nx: u64,
    pub ny: u64,
    /// The non-empty bins: `(bx, by, count, variant with the best y)`, by
    /// `(by, bx)`.
    pub bins: Vec<(u64, u64, u64, u64)>,
    /// Variants with a non-finite x or y (not drawn).
    pub excluded: u64,
}

pub fn density(rows: &[VariantResult], x: MetricName, y: MetricName, nx: u64, ny: u64) -> Density {
    let finite = |r: &&VariantResult| r.metrics.get(x).is_finite() && r.metrics.get(y).is_finite();
    let xr = range(rows.iter().filter(finite).map(|r| r.metrics.get(x))).unwrap_or((f64::NAN, f64::NAN));
    let yr = range(rows.iter().filter(finite).map(|r| r.metrics.get(y))).unwrap_or((f64::NAN, f64::NAN));
    let mut cells: std::collections::BTreeMap<(u64, u64), (u64, u64, f64)> = Default::default();
    let mut excluded = 0;
    for r in rows {
        let (vx, vy) = (r.metrics.get(x), r.metrics.get(y));
        if !(vx.is_finite() && vy.is_finite()) {
            excluded += 1;
            continue;
        }
        let key = (bin(vy, yr.0, yr.1, ny), bin(vx, xr.0, xr.1, nx));
        let e = cells.entry(key).or_insert((0, r.index, vy));
        e.0 += 1;
        if better(y.better(), (vy, r.index), (e.2, e.1)) {
            (e.1, e.2) = (r.index, vy);
        }
    }
    Density {
        x,
        y,
        x_range: xr,
        y_range: yr,
        nx,
        ny,
        bins: cells.into_iter().map(|((by, bx), (count, best, _))| (bx, by, count, best)).collect(),
        excluded,
    }
}

/// `a` ranks before `b` (value in the better direction, then lower variant).
fn better(dir: Better, a: (f64, u64), b: (f64, u64)) -> bool {
    let by_value = match dir {
        Better::Higher => b.0.total_cmp(&a.0),
        Better::Lower => a.0.total_cmp(&b.0),
    };
    by_value.then(a.1.cmp(&b.1)) == Ordering::Less
}

/// The rows among the first `k` of any metric (in its better direction,
/// NaN last, ties by variant), by variant: a table sorted on any column in
/// the page shows that metric's true top `k`.
pub fn top_rows(rows: &[VariantResult], k: usize) -> Vec<usize> {
    let mut keep: Vec<usize> = Vec::new();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    for &m in MetricName::ALL {
        let key = |i: usize| {
            let v = rows[i].metrics.get(m);
            (v.is_nan(), v)
        };
        let cmp = |a: &usize, b: &usize| {
            let ((na, va), (nb, vb)) = (key(*a), key(*b));
            let by_value = match m.better() {
                Better::Higher => vb.total_cmp(&va),
                Better::Lower => va.total_cmp(&vb),
            };
            na.cmp(&nb).then(by_value).then(rows[*a].index.cmp(&rows[*b].index))
        };
        let take = k.min(order.len());
        if take == 0 {
            break;
        }
        if take < order.len() {
            order.select_nth_unstable_by(take - 1, cmp);
        }
        keep.extend_from_slice(&order[..take]);
    }
    keep.sort_by_key(|&i| rows[i].index);
    keep.dedup();
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use bt_engine::metrics::Metrics;

    fn row(index: u64, sharpe: f64, dd: f64) -> VariantResult {
        let mut m = Metrics::zero();
        m.sharpe = sharpe;
        m.max_drawdown = dd;
        m.total_return = index as f64 / 100.0;
        VariantResult { index, metrics: m }
    }

    fn axis(name: &str, levels: u64, stride: u64) -> Axis {
        Axis {
            name: name.into(),
            labels: (0..levels).map(|l| l.to_string()).collect(),
            kind: "strategy",
            stride,
        }
    }

    #[test]
    fn cells_hold_max_median_and_best_of_their_variants() {
        // 3 x-levels (stride 1), 2 y-levels (stride 3), 4 repetitions (stride 6): 24 variants.
        let sharpe = |n: u64| match n {
            7 => f64::NAN,
            13 => f64::INFINITY,
            _ => (n as f64 * 7.0) % 5.0 - 1.0,
        };
        let rows: Vec<VariantResult> =
            (0..24).rev().map(|n| row(n, sharpe(n), (n % 4) as f64 / 10.0)).collect();
        let (x, y) = (axis("x", 3, 1), axis("y", 2, 3));
        let g = Grouping::new(&rows, &x, 3, &y, 2);
        let cells = g.cells(&rows, MetricName::Sharpe);
        assert_eq!(cells.len(), 6);
        for (c, cell) in cells.iter().enumerate() {
            let (cx, cy) = (c as u64 % 3, c as u64 / 3);
            let members: Vec<u64> = (0..24).filter(|n| n % 3 == cx && n / 3 % 2 == cy).collect();
            let mut finite: Vec<(f64, u64)> =
                members.iter().map(|&n| (sharpe(n), n)).filter(|v| v.0.is_finite()).collect();
            finite.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let vals: Vec<f64> = finite.iter().map(|v| v.0).collect();
            let mut asc = vals.clone();
            asc.reverse();
            let median = if asc.len() % 2 == 1 {
                asc[asc.len() / 2]
            } else {
                asc[asc.len() / 2 - 1] + (asc[asc.len() / 2] - asc[asc.len() / 2 - 1]) * 0.5
            };
            assert_eq!(cell.count, 4, "{c}");
            assert_eq!(cell.max, vals[0], "{c}");
            assert_eq!(cell.median, median, "{c}");
            assert_eq!(cell.best, Some(finite[0].1), "{c}");
        }
        // x 1, y 0: variants 1 (sharpe 1), 7 (NaN), 13 (inf), 19 (2): two finite values.
        assert_eq!(cells[1], Cell { count: 4, max: 2.0, median: 1.5, best: Some(19) });
        // A lower-is-better metric's best is its smallest value.
        let dd = g.cells(&rows, MetricName::MaxDrawdown);
        assert_eq!((dd[0].best, dd[0].max), (Some(0), 0.2), "0, 6, 12, 18 -> dd 0, .2, 0, .2");
    }

    #[test]
    fn binned_axes_pool_their_levels() {
        let rows: Vec<VariantResult> = (0..10).map(|n| row(n, n as f64, 0.0)).collect();
        let x = axis("x", 10, 1);
        let y = axis("y", 1, 10);
        let g = Grouping::new(&rows, &x, 3, &y, 1);
        let cells = g.cells(&rows, MetricName::Sharpe);
        // Levels 0..4, 4..7, 7..10.
        let got: Vec<(u64, f64, f64)> = cells.iter().map(|c| (c.count, c.max, c.median)).collect();
        assert_eq!(got, [(4, 3.0, 1.5), (3, 6.0, 5.0), (3, 9.0, 8.0)]);
    }

    #[test]
    fn histograms_density_and_top_rows() {
        let rows: Vec<VariantResult> = (0..100)
            .map(|n| row(n, if n == 50 { f64::NAN } else { n as f64 }, (99 - n) as f64 / 100.0))
            .collect();
        let h = histogram(&rows, MetricName::Sharpe, 10);
        assert_eq!((h.min, h.max, h.non_finite), (0.0, 99.0, 1));
        assert_eq!(h.counts, [10, 10, 10, 10, 10, 9, 10, 10, 10, 10]);
        assert_eq!(bin(99.0, 0.0, 99.0, 10), 9, "the maximum is in the last bin");
        let d = density(&rows, MetricName::MaxDrawdown, MetricName::TotalReturn, 4, 2);
        assert_eq!(d.bins.iter().map(|b| b.2).sum::<u64>(), 100);
        assert_eq!(d.excluded, 0);
        // Highest return in the bin of the lowest drawdown and return ... 0.99 -> (3, 1).
        assert!(d.bins.contains(&(0, 1, 25, 99)), "{:?}", d.bins);
        let top = top_rows(&rows, 3);
        // sharpe 99, 98, 97; max_drawdown lowest: 99, 98, 97; trades (all 0): 0, 1, 2;
        // total_return: 99 ..; the metrics equal for all: variants 0, 1, 2.
        assert!(top.contains(&99) && top.contains(&0) && !top.contains(&50), "{top:?}");
        assert!(top.windows(2).all(|w| rows[w[0]].index < rows[w[1]].index));
    }
}
