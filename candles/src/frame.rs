//! `Candles`: OHLCV as contiguous columns, and borrowed views of time ranges.

use crate::error::Invalid;
use crate::validate::{self, Quality};

/// A half-open time range `[start, end)` in UTC milliseconds; `None` is unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeRange {
    pub start: Option<i64>,
    pub end: Option<i64>,
}

impl TimeRange {
    /// Everything.
    pub const ALL: TimeRange = TimeRange { start: None, end: None };

    pub fn new(start: Option<i64>, end: Option<i64>) -> Self {
        Self { start, end }
    }

    /// Whether `ts` lies in the range.
    pub fn contains(&self, ts: i64) -> bool {
        self.start.is_none_or(|s| ts >= s) && self.end.is_none_or(|e| ts < e)
    }

    pub fn is_all(&self) -> bool {
        self.start.is_none() && self.end.is_none()
    }
}

/// Unvalidated columns, as a loader or generator builds them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Columns {
    pub ts: Vec<i64>,
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
    pub volume: Vec<f64>,
}

impl Columns {
    pub fn with_capacity(n: usize) -> Self {
        Self {
            ts: Vec::with_capacity(n),
            open: Vec::with_capacity(n),
            high: Vec::with_capacity(n),
            low: Vec::with_capacity(n),
            close: Vec::with_capacity(n),
            volume: Vec::with_capacity(n),
        }
    }

    pub fn push(&mut self, ts: i64, open: f64, high: f64, low: f64, close: f64, volume: f64) {
        self.ts.push(ts);
        self.open.push(open);
        self.high.push(high);
        self.low.push(low);
        self.close.push(close);
        self.volume.push(volume);
    }

    /// Number of rows (the length of `ts`; all columns must match).
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// A view of the columns. Panics if the columns differ in length, which
    /// only a bug in the code that built them can cause.
    pub fn view(&self) -> CandlesView<'_> {
        let n = self.ts.len();
        assert!(
            [&self.open, &self.high, &self.low, &self.close, &self.volume].iter().all(|c| c.len() == n),
            "candle columns differ in length"
        );
        CandlesView {
            ts: &self.ts,
            open: &self.open,
            high: &self.high,
            low: &self.low,
            close: &self.close,
            volume: &self.volume,
        }
    }

    /// Sorts by time (stable) and removes duplicate timestamps, keeping the last
    /// row of each.
    pub fn sort_dedup(&mut self) -> SortDedup {
        let n = self.len();
        let sorted = self.ts.windows(2).all(|w| w[0] <= w[1]);
        let mut order: Vec<usize> = (0..n).collect();
        if !sorted {
            order.sort_by_key(|&i| self.ts[i]);
        }
        // Keep the last of each run of equal timestamps (the stable sort keeps
        // file order within a run).
        let keep: Vec<usize> = (0..n)
            .filter(|&k| k + 1 == n || self.ts[order[k]] != self.ts[order[k + 1]])
            .map(|k| order[k])
            .collect();
        let removed = n - keep.len();
        if removed == 0 && sorted {
            return SortDedup { removed: 0, reordered: false, kept: None };
        }
        fn pick<T: Copy>(v: &[T], idx: &[usize]) -> Vec<T> {
            idx.iter().map(|&i| v[i]).collect()
        }
        *self = Columns {
            ts: pick(&self.ts, &keep),
            open: pick(&self.open, &keep),
            high: pick(&self.high, &keep),
            low: pick(&self.low, &keep),
            close: pick(&self.close, &keep),
            volume: pick(&self.volume, &keep),
        };
        SortDedup { removed, reordered: !sorted, kept: Some(keep) }
    }
}

/// What [`Columns::sort_dedup`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortDedup {
    /// Rows removed as duplicates.
    pub removed: usize,
    /// Whether rows were out of order.
    pub reordered: bool,
    /// The original index of each remaining row, when anything changed.
    pub kept: Option<Vec<usize>>,
}

/// A validated candle dataset: bar open times (`ts`, UTC ms) strictly
/// increasing, prices finite and positive with `low <= open, close <= high`,
/// volume finite and non-negative, and one base step between bars.
#[derive(Debug, Clone, PartialEq)]
pub struct Candles {
    cols: Columns,
    quality: Quality,
}

impl Candles {
    /// Validates columns into a dataset.
    pub fn try_from_columns(cols: Columns) -> Result<Self, Invalid> {
        let quality = validate::validate(cols.view())?;
        Ok(Self { cols, quality })
    }

    /// Columns known to be valid (resampling a valid dataset).
    pub(crate) fn from_valid(cols: Columns) -> Self {
        let quality = validate::validate(cols.view());
        debug_assert!(quality.is_ok(), "{quality:?}");
        let quality = quality.unwrap_or_default();
        Self { cols, quality }
    }

    pub fn len(&self) -> usize {
        self.cols.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cols.is_empty()
    }

    /// What validation found: base step and gaps.
    pub fn quality(&self) -> Quality {
        self.quality
    }

    pub fn ts(&self) -> &[i64] {
        &self.cols.ts
    }
    pub fn open(&self) -> &[f64] {
        &self.cols.open
    }
    pub fn high(&self) -> &[f64] {
        &self.cols.high
    }
    pub fn low(&self) -> &[f64] {
        &self.cols.low
    }
    pub fn close(&self) -> &[f64] {
        &self.cols.close
    }
    pub fn volume(&self) -> &[f64] {
        &self.cols.volume
    }

    /// The whole dataset as a view.
    pub fn view(&self) -> CandlesView<'_> {
        self.cols.view()
    }

    /// The bars whose open time lies in `range`, found by binary search, without copying.
    pub fn range(&self, range: TimeRange) -> CandlesView<'_> {
        self.view().range(range)
    }

    /// Gives the columns back.
    pub fn into_columns(self) -> Columns {
        self.cols
    }
}

/// Borrowed, equally long candle columns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CandlesView<'a> {
    pub ts: &'a [i64],
    pub open: &'a [f64],
    pub high: &'a [f64],
    pub low: &'a [f64],
    pub close: &'a [f64],
    pub volume: &'a [f64],
}

impl<'a> CandlesView<'a> {
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Rows `[from, to)` of the view.
    pub fn slice(&self, from: usize, to: usize) -> CandlesView<'a> {
        CandlesView {
            ts: &self.ts[from..to],
            open: &self.open[from..to],
            high: &self.high[from..to],
            low: &self.low[from..to],
            close: &self.close[from..to],
            volume: &self.volume[from..to],
        }
    }

    /// The bars whose open time lies in `range` (timestamps must be sorted).
    pub fn range(&self, range: TimeRange) -> CandlesView<'a> {
        let from = range.start.map_or(0, |s| self.ts.partition_point(|&t| t < s));
        let to = range.end.map_or(self.len(), |e| self.ts.partition_point(|&t| t < e));
        self.slice(from, to.max(from))
    }

    /// Copies the view into owned columns.
    pub fn to_columns(&self) -> Columns {
        Columns {
            ts: self.ts.to_vec(),
            open: self.open.to_vec(),
            high: self.high.to_vec(),
            low: self.low.to_vec(),
            close: self.close.to_vec(),
            volume: self.volume.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ts: &[i64]) -> Columns {
        let mut c = Columns::default();
        for (i, &t) in ts.iter().enumerate() {
            let p = 100.0 + i as f64;
            c.push(t, p, p + 1.0, p - 1.0, p + 0.5, i as f64);
        }
        c
    }

    #[test]
    fn range_view_by_binary_search() {
        let c = Candles::try_from_columns(sample(&[0, 60, 120, 180, 240])).expect("valid");
        let v = c.range(TimeRange::new(Some(60), Some(180)));
        assert_eq!(v.ts, &[60, 120]);
        assert_eq!(v.open, &[101.0, 102.0]);
        assert_eq!(c.range(TimeRange::new(Some(61), None)).ts, &[120, 180, 240]);
        assert_eq!(c.range(TimeRange::new(None, Some(0))).len(), 0);
        assert_eq!(c.range(TimeRange::new(Some(500), Some(10))).len(), 0);
        assert_eq!(c.range(TimeRange::ALL).len(), 5);
        // A view points into the dataset's own memory.
        assert!(std::ptr::eq(v.close.as_ptr(), &c.close()[1]));
    }

    #[test]
    fn sort_dedup_keeps_last_of_equal_timestamps() {
        let mut c = sample(&[120, 0, 60, 60, 180]);
        // Rows: 120->100, 0->101, 60->102, 60->103, 180->104 (open prices).
        let r = c.sort_dedup();
        assert_eq!((r.removed, r.reordered), (1, true));
        assert_eq!(r.kept, Some(vec![1, 3, 0, 4]));
        assert_eq!(c.ts, vec![0, 60, 120, 180]);
        assert_eq!(c.open, vec![101.0, 103.0, 100.0, 104.0]);
        let mut sorted = sample(&[0, 60]);
        assert_eq!(sorted.sort_dedup(), SortDedup { removed: 0, reordered: false, kept: None });
    }
}
