//! `Candles`: OHLCV as contiguous columns, and borrowed views of time ranges.

use crate::error::{Invalid, Problem};
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

/// What an [`Extra`] column held in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtraKind {
    /// Integers or floats.
    Number,
    /// Booleans, kept as 1.0 and 0.0 (written back as booleans).
    Bool,
}

impl ExtraKind {
    /// `"number"` or `"bool"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Number => "number",
            Self::Bool => "bool",
        }
    }
}

impl std::fmt::Display for ExtraKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An extra data column kept with the candles (a user's signal, a feature):
/// numbers as f64, booleans as 1.0/0.0, nulls as NaN. Extras are not
/// validated as prices; NaN is allowed anywhere.
///
/// Equality treats NaN as equal to NaN (a missing value equals a missing
/// value), so datasets with gaps in a signal compare equal to their copies.
#[derive(Debug, Clone)]
pub struct Extra {
    /// The name as in the file, matched exactly.
    pub name: String,
    pub kind: ExtraKind,
    /// One value per row.
    pub values: Vec<f64>,
}

impl Extra {
    pub fn new(name: impl Into<String>, kind: ExtraKind, values: Vec<f64>) -> Self {
        Self { name: name.into(), kind, values }
    }

    /// Rows of the column that hold a value (are not NaN).
    pub fn count_values(&self) -> usize {
        self.values.iter().filter(|v| !v.is_nan()).count()
    }
}

/// Values equal, or both NaN.
fn same_values(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
}

impl PartialEq for Extra {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.kind == other.kind && same_values(&self.values, &other.values)
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
    /// Extra data columns, in file order, each as long as `ts`.
    pub extra: Vec<Extra>,
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
            extra: Vec::new(),
        }
    }

    /// Appends a bar. Extras are left alone: a builder pushing rows either has
    /// no extras or pushes each extra's value itself (NaN when it has none),
    /// or the columns differ in length and [`Candles::try_from_columns`]
    /// refuses them.
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
        assert!(
            self.extra.iter().all(|e| e.values.len() == n),
            "extra columns differ in length from the candles"
        );
        CandlesView {
            ts: &self.ts,
            open: &self.open,
            high: &self.high,
            low: &self.low,
            close: &self.close,
            volume: &self.volume,
            extra: Extras { cols: &self.extra, from: 0, to: n },
        }
    }

    /// Checks what validation of the bars cannot: every extra column is as
    /// long as `ts`, and extra names are unique and not empty.
    pub(crate) fn check_extras(&self) -> Result<(), Invalid> {
        let n = self.len();
        let bad = |problem| Err(Invalid { index: 0, column: "extra", problem });
        for (k, e) in self.extra.iter().enumerate() {
            if e.name.is_empty() {
                return bad(Problem::ExtraUnnamed);
            }
            if e.values.len() != n {
                return bad(Problem::ExtraLength { name: e.name.clone(), len: e.values.len(), rows: n });
            }
            if self.extra[..k].iter().any(|p| p.name == e.name) {
                return bad(Problem::ExtraDuplicate { name: e.name.clone() });
            }
        }
        Ok(())
    }

    /// Keeps the rows at `idx` (in that order), extras included.
    pub(crate) fn pick(&self, idx: &[usize]) -> Columns {
        fn pick<T: Copy>(v: &[T], idx: &[usize]) -> Vec<T> {
            idx.iter().map(|&i| v[i]).collect()
        }
        Columns {
            ts: pick(&self.ts, idx),
            open: pick(&self.open, idx),
            high: pick(&self.high, idx),
            low: pick(&self.low, idx),
            close: pick(&self.close, idx),
            volume: pick(&self.volume, idx),
            extra: self
                .extra
                .iter()
                .map(|e| Extra { name: e.name.clone(), kind: e.kind, values: pick(&e.values, idx) })
                .collect(),
        }
    }

    /// Sorts by time (stable) and removes duplicate timestamps, keeping the last
    /// row of each. Extras move with their rows.
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
        *self = self.pick(&keep);
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
/// volume finite and non-negative, and one base step between bars or one bar
/// per calendar month (any increasing times when made by
/// [`Candles::try_from_columns_irregular`]). Extra columns ride along
/// unvalidated beyond their length and names.
#[derive(Debug, Clone, PartialEq)]
pub struct Candles {
    cols: Columns,
    quality: Quality,
}

impl Candles {
    /// Validates columns into a dataset.
    pub fn try_from_columns(cols: Columns) -> Result<Self, Invalid> {
        cols.check_extras()?;
        let quality = validate::validate(cols.view())?;
        Ok(Self { cols, quality })
    }

    /// Validates columns whose times need only increase (`irregular` data):
    /// every rule but the spacing one.
    pub fn try_from_columns_irregular(cols: Columns) -> Result<Self, Invalid> {
        cols.check_extras()?;
        let quality = validate::validate_irregular(cols.view())?;
        Ok(Self { cols, quality })
    }

    /// Columns known to be valid (resampling a valid dataset).
    pub(crate) fn from_valid(cols: Columns) -> Self {
        Self::from_valid_as(cols, false)
    }

    /// [`Candles::from_valid`], of irregular data when `irregular`.
    pub(crate) fn from_valid_as(cols: Columns, irregular: bool) -> Self {
        debug_assert_eq!(cols.check_extras(), Ok(()));
        let quality = if irregular {
            validate::validate_irregular(cols.view())
        } else {
            validate::validate(cols.view())
        };
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

    /// What validation found: spacing (base step, months) and gaps.
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
    /// The extra data columns, in file order.
    pub fn extra(&self) -> &[Extra] {
        &self.cols.extra
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
    /// The extra data columns over the same rows.
    pub extra: Extras<'a>,
}

/// The extra columns of a view: whole columns and the rows `[from, to)` the
/// view covers, so that slicing a view costs nothing per column.
///
/// Two `Extras` are equal when they have the same columns (names, kinds) and
/// the same values over their rows, NaN equal to NaN.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras<'a> {
    cols: &'a [Extra],
    from: usize,
    to: usize,
}

impl<'a> Extras<'a> {
    /// The values of the column named exactly `name` over the view's rows.
    pub fn get(&self, name: &str) -> Option<&'a [f64]> {
        self.cols.iter().find(|e| e.name == name).map(|e| &e.values[self.from..self.to])
    }

    /// Column names in file order.
    pub fn names(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.cols.iter().map(|e| e.name.as_str())
    }

    /// Number of extra columns.
    pub fn len(&self) -> usize {
        self.cols.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cols.is_empty()
    }

    /// Each column with its values over the view's rows.
    pub fn iter(&self) -> impl Iterator<Item = (&'a Extra, &'a [f64])> + use<'a> {
        let (from, to) = (self.from, self.to);
        self.cols.iter().map(move |e| (e, &e.values[from..to]))
    }

    /// Rows `[from, to)` relative to these extras' rows.
    fn slice(&self, from: usize, to: usize) -> Extras<'a> {
        assert!(from <= to && self.from + to <= self.to, "extras slice {from}..{to} out of range");
        Extras { cols: self.cols, from: self.from + from, to: self.from + to }
    }
}

impl PartialEq for Extras<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|((a, va), (b, vb))| a.name == b.name && a.kind == b.kind && same_values(va, vb))
    }
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
            extra: self.extra.slice(from, to),
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
            extra: self
                .extra
                .iter()
                .map(|(e, v)| Extra { name: e.name.clone(), kind: e.kind, values: v.to_vec() })
                .collect(),
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

    /// `sample` with a number extra `sig` (10 * row, NaN on row 2) and a bool `up`.
    fn with_extras(ts: &[i64]) -> Columns {
        let mut c = sample(ts);
        let sig = (0..ts.len()).map(|i| if i == 2 { f64::NAN } else { 10.0 * i as f64 }).collect();
        c.extra.push(Extra::new("sig", ExtraKind::Number, sig));
        c.extra.push(Extra::new("up", ExtraKind::Bool, (0..ts.len()).map(|i| (i % 2) as f64).collect()));
        c
    }

    #[test]
    fn extras_of_a_sliced_view_are_the_sliced_values() {
        let c = Candles::try_from_columns(with_extras(&[0, 60, 120, 180, 240])).expect("valid");
        let v = c.range(TimeRange::new(Some(60), Some(240)));
        assert_eq!(v.extra.get("up"), Some(&[1.0, 0.0, 1.0][..]));
        let sig = v.extra.get("sig").expect("sig");
        assert_eq!((sig.len(), sig[0], sig[2]), (3, 10.0, 30.0));
        assert!(sig[1].is_nan());
        // A slice of a slice, and a pointer into the dataset's own memory.
        let w = v.slice(1, 3);
        assert_eq!(w.extra.get("up"), Some(&[0.0, 1.0][..]));
        assert!(std::ptr::eq(w.extra.get("sig").expect("sig").as_ptr(), &c.extra()[0].values[2]));
        assert_eq!(v.slice(3, 3).extra.get("up"), Some(&[][..]));
        assert_eq!(v.extra.get("SIG"), None);
        assert_eq!(v.extra.names().collect::<Vec<_>>(), ["sig", "up"]);
        assert_eq!((v.extra.len(), v.extra.is_empty()), (2, false));
        let kinds: Vec<(&str, usize)> =
            v.extra.iter().map(|(e, vals)| (e.kind.as_str(), vals.len())).collect();
        assert_eq!(kinds, [("number", 3), ("bool", 3)]);
        // Copying a view copies its rows of each extra; NaN equals NaN.
        let copy = v.to_columns();
        assert_eq!(copy.extra[1], Extra::new("up", ExtraKind::Bool, vec![1.0, 0.0, 1.0]));
        assert_eq!(copy.view(), v);
        assert_ne!(c.range(TimeRange::new(Some(0), Some(180))), v);
        assert!(Candles::try_from_columns(sample(&[0])).expect("valid").view().extra.is_empty());
    }

    #[test]
    fn sort_dedup_moves_extras_with_their_rows() {
        let mut c = with_extras(&[120, 0, 60, 60, 180]);
        c.sort_dedup();
        assert_eq!(c.ts, vec![0, 60, 120, 180]);
        // Rows kept: 1, 3, 0, 4.
        assert_eq!(c.extra[0], Extra::new("sig", ExtraKind::Number, vec![10.0, 30.0, 0.0, 40.0]));
        assert_eq!(c.extra[1].values, vec![1.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn extras_must_match_the_rows_and_have_unique_names() {
        let mut c = with_extras(&[0, 60, 120]);
        c.extra[1].values.pop();
        let e = Candles::try_from_columns(c).expect_err("short");
        assert_eq!(e.to_string(), "row 1, column extra: extra column \"up\" has 2 values for 3 rows");
        let mut c = with_extras(&[0, 60, 120]);
        c.extra[1].name = "sig".into();
        let e = Candles::try_from_columns(c).expect_err("duplicate");
        assert_eq!(e.problem, Problem::ExtraDuplicate { name: "sig".into() });
        let mut c = with_extras(&[0, 60, 120]);
        c.extra[0].name.clear();
        assert_eq!(Candles::try_from_columns(c).expect_err("unnamed").problem, Problem::ExtraUnnamed);
        // NaN and any value are fine: extras are not prices.
        let mut c = with_extras(&[0, 60, 120]);
        c.extra[0].values = vec![f64::NAN, -1e300, f64::INFINITY];
        assert_eq!(Candles::try_from_columns(c).expect("valid").extra()[0].count_values(), 2);
    }
}
