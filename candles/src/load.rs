//! Loading candle files (CSV, Parquet, Arrow IPC) through Polars lazy scans.
//!
//! The loader finds the six columns by name (case-insensitive, with common
//! aliases) or, for header-less CSV, by position; pushes a time range into the
//! scan; converts timestamps to UTC milliseconds; and validates. Every error
//! names the file, and where a value is at fault, the row and column.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use polars::prelude::*;

use crate::csv_fast;
use crate::error::{Error, Invalid, Problem, Result};
use crate::frame::{Candles, Columns, TimeRange};
use crate::time::{EpochUnit, parse_timestamp_text};

/// The on-disk formats the loader reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Parquet,
    Ipc,
}

impl FileFormat {
    /// By extension: `.csv`/`.txt`, `.parquet`/`.pq`, `.arrow`/`.ipc`/`.feather`.
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" | "txt" => Some(Self::Csv),
            "parquet" | "pq" => Some(Self::Parquet),
            "arrow" | "ipc" | "feather" => Some(Self::Ipc),
            _ => None,
        }
    }
}

/// How to load a file. `Default` loads everything, strictly.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    range: TimeRange,
    sort_dedup: bool,
    format: Option<FileFormat>,
}

impl LoadOptions {
    /// Only bars whose open time lies in `range` (pushed into the scan).
    pub fn with_range(mut self, range: TimeRange) -> Self {
        self.range = range;
        self
    }

    /// Sort rows by time and drop duplicate timestamps (keeping the last)
    /// instead of failing on them.
    pub fn with_sort_dedup(mut self, yes: bool) -> Self {
        self.sort_dedup = yes;
        self
    }

    /// Read as this format whatever the extension says.
    pub fn with_format(mut self, format: FileFormat) -> Self {
        self.format = Some(format);
        self
    }

    pub fn range(&self) -> TimeRange {
        self.range
    }
}

/// A loaded, validated dataset and what loading did.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub candles: Candles,
    /// Rows dropped as duplicate timestamps (only with `sort_dedup`).
    pub duplicates_removed: usize,
    /// Whether rows had to be sorted (only with `sort_dedup`).
    pub reordered: bool,
}

/// Loads and validates a candle file.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Loaded> {
    let format = opts
        .format
        .or_else(|| FileFormat::from_path(path))
        .ok_or_else(|| Error::UnknownFormat { file: path.to_owned() })?;
    if let Err(source) = std::fs::metadata(path) {
        return Err(Error::Io { file: path.to_owned(), source });
    }
    let raw = match format {
        FileFormat::Csv => read_csv(path, opts.range)?,
        FileFormat::Parquet | FileFormat::Ipc => read_columnar(path, format, opts.range)?,
    };
    finish(path, raw, opts.sort_dedup)
}

/// Columns as read, with the file row of each loaded row.
struct Raw {
    cols: Columns,
    rows: RowMap,
}

/// File row numbers (1-based, as a person counts them) of loaded rows.
enum RowMap {
    /// Row of index i is `first + i`.
    Offset(u64),
    Explicit(Vec<u64>),
}

impl RowMap {
    fn row(&self, index: usize) -> u64 {
        match self {
            Self::Offset(first) => first + index as u64,
            Self::Explicit(rows) => rows.get(index).copied().unwrap_or(0),
        }
    }
}

fn invalid(file: &Path, rows: &RowMap, e: Invalid) -> Error {
    Error::Invalid { file: file.to_owned(), row: rows.row(e.index), column: e.column, problem: e.problem }
}

fn finish(path: &Path, raw: Raw, sort_dedup: bool) -> Result<Loaded> {
    let Raw { mut cols, mut rows } = raw;
    if cols.is_empty() {
        return Err(Error::Empty { file: path.to_owned() });
    }
    let (mut duplicates_removed, mut reordered) = (0, false);
    if sort_dedup {
        let kept = cols.sort_dedup();
        duplicates_removed = kept.removed;
        reordered = kept.reordered;
        if let Some(kept) = kept.kept {
            rows = RowMap::Explicit(kept.iter().map(|&i| rows.row(i)).collect());
        }
    }
    let candles = Candles::try_from_columns(cols).map_err(|e| invalid(path, &rows, e))?;
    Ok(Loaded { candles, duplicates_removed, reordered })
}

fn polars_err(file: &Path, e: PolarsError) -> Error {
    Error::Format { file: file.to_owned(), message: e.to_string() }
}

const ROW_INDEX: &str = "__bt_row";

/// The six columns by name in a frame's schema.
struct Mapping {
    names: [PlSmallStr; 6],
}

const FIELDS: [&str; 6] = ["ts", "open", "high", "low", "close", "volume"];

/// Aliases per field, lower case, in order of preference.
const ALIASES: [&[&str]; 6] = [
    &[
        "ts",
        "timestamp",
        "time",
        "open_time",
        "opentime",
        "open time",
        "datetime",
        "date",
        "date_time",
        "t",
        "unix",
        "time_open",
    ],
    &["open", "o", "open_price", "openprice", "first"],
    &["high", "h", "high_price", "highprice", "max"],
    &["low", "l", "low_price", "lowprice", "min"],
    &["close", "c", "close_price", "closeprice", "last"],
    &["volume", "v", "vol", "base_volume", "volume_base", "qty", "quantity"],
];

fn normalise(name: &str) -> String {
    name.trim().trim_start_matches('\u{feff}').trim_matches('"').trim().to_ascii_lowercase()
}

/// Finds each field's column among `names`: aliases first; then, for the time,
/// an unnamed first column (what pandas writes for an index).
fn map_columns(file: &Path, names: &[String]) -> Result<[usize; 6]> {
    let norm: Vec<String> = names.iter().map(|n| normalise(n)).collect();
    let mut out = [usize::MAX; 6];
    for (f, aliases) in ALIASES.iter().enumerate() {
        out[f] = aliases.iter().find_map(|a| norm.iter().position(|n| n == a)).unwrap_or(usize::MAX);
    }
    if out[0] == usize::MAX && norm.first().is_some_and(|n| n.is_empty() || n == "unnamed: 0" || n == "index")
    {
        out[0] = 0;
    }
    for (f, &i) in out.iter().enumerate() {
        if i == usize::MAX {
            return Err(Error::MissingColumn {
                file: file.to_owned(),
                column: FIELDS[f],
                found: names.iter().map(|n| format!("{:?}", n.trim())).collect::<Vec<_>>().join(", "),
            });
        }
    }
    Ok(out)
}

/// What the first line of a CSV file tells.
struct CsvLayout {
    separator: u8,
    has_header: bool,
    /// Column positions of ts, open, high, low, close, volume.
    positions: [usize; 6],
    n_columns: usize,
}

fn sniff_csv(path: &Path) -> Result<CsvLayout> {
    let io = |source| Error::Io { file: path.to_owned(), source };
    let file = File::open(path).map_err(io)?;
    let mut first = String::new();
    BufReader::new(file).read_line(&mut first).map_err(io)?;
    let line = first.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return Err(Error::Empty { file: path.to_owned() });
    }
    let separator = [b',', b';', b'\t', b'|']
        .into_iter()
        .max_by_key(|&s| line.bytes().filter(|&b| b == s).count())
        .unwrap_or(b',');
    let fields: Vec<String> = line.split(separator as char).map(str::to_owned).collect();
    // A header is a first line whose second field is not a number.
    let has_header = fields.get(1).is_none_or(|f| f.trim().trim_matches('"').parse::<f64>().is_err());
    let positions = if has_header {
        map_columns(path, &fields)?
    } else if fields.len() >= 6 {
        // time, open, high, low, close, volume: plain OHLCV and the 12-column
        // exchange kline layout alike.
        [0, 1, 2, 3, 4, 5]
    } else {
        return Err(Error::Format {
            file: path.to_owned(),
            message: format!(
                "no header and {} columns: a header-less file needs time, open, high, low, close, volume",
                fields.len()
            ),
        });
    };
    Ok(CsvLayout { separator, has_header, positions, n_columns: fields.len() })
}

fn csv_name(pos: usize) -> PlSmallStr {
    format!("column_{}", pos + 1).into()
}

fn csv_scan(path: &Path, layout: &CsvLayout, all_text: bool, row_index: bool) -> Result<LazyFrame> {
    let mut overwrite = Schema::default();
    for &p in &layout.positions[1..] {
        overwrite.with_column(csv_name(p), DataType::Float64);
    }
    let mut reader = LazyCsvReader::new(PlRefPath::new(path.to_string_lossy().as_ref()))
        .with_has_header(false)
        .with_skip_rows(usize::from(layout.has_header))
        .with_separator(layout.separator)
        .with_truncate_ragged_lines(true);
    if all_text {
        reader = reader.with_infer_schema_length(Some(0));
    } else {
        reader = reader.with_dtype_overwrite(Some(Arc::new(overwrite)));
    }
    if row_index {
        let first = 1 + u32::from(layout.has_header);
        reader = reader.with_row_index(Some(RowIndex { name: ROW_INDEX.into(), offset: first }));
    }
    reader.finish().map_err(|e| polars_err(path, e))
}

/// Files up to this size are tried on the fast path (read whole into memory).
const FAST_CSV_MAX_BYTES: u64 = 4 << 30;

fn read_csv(path: &Path, range: TimeRange) -> Result<Raw> {
    let layout = sniff_csv(path)?;
    let first_row = 1 + u64::from(layout.has_header);
    let small = std::fs::metadata(path).is_ok_and(|m| m.len() <= FAST_CSV_MAX_BYTES);
    if small {
        let bytes = std::fs::read(path).map_err(|source| Error::Io { file: path.to_owned(), source })?;
        if let Some(cols) = csv_fast::parse(&bytes, layout.has_header, layout.separator, &layout.positions) {
            let raw = Raw { cols, rows: RowMap::Offset(first_row) };
            return Ok(if range.is_all() { raw } else { keep_range(raw, range) });
        }
    }
    read_csv_polars(path, &layout, range, first_row)
}

/// Every CSV dialect, through Polars' lazy CSV scan.
fn read_csv_polars(path: &Path, layout: &CsvLayout, range: TimeRange, first_row: u64) -> Result<Raw> {
    let names: Vec<PlSmallStr> = layout.positions.iter().map(|&p| csv_name(p)).collect();
    let mapping = Mapping { names: [0, 1, 2, 3, 4, 5].map(|i| names[i].clone()) };
    let typed = csv_scan(path, layout, false, !range.is_all())
        .and_then(|lf| scan_to_raw(path, lf, &mapping, range, first_row));
    match typed {
        Ok(raw) => Ok(raw),
        // Polars says what failed but not where: find the row ourselves.
        Err(Error::Format { message, .. }) => {
            let text = csv_scan(path, layout, true, false)?;
            match first_unparsable(path, text, &mapping, first_row)? {
                Some(e) => Err(e),
                None => Err(Error::Format {
                    file: path.to_owned(),
                    message: format!("{message} (file has {} columns)", layout.n_columns),
                }),
            }
        }
        Err(e) => Err(e),
    }
}

/// Reads the mapped columns as text and returns the first value (by row, then
/// column) that does not parse.
fn first_unparsable(path: &Path, lf: LazyFrame, m: &Mapping, first_row: u64) -> Result<Option<Error>> {
    let exprs: Vec<Expr> = m.names.iter().map(|n| col(n.clone())).collect();
    let df = lf.select(exprs).collect().map_err(|e| polars_err(path, e))?;
    let mut columns = Vec::with_capacity(6);
    for n in &m.names {
        let s = df.column(n).map_err(|e| polars_err(path, e))?.as_materialized_series();
        columns.push(s.str().map_err(|e| polars_err(path, e))?.clone());
    }
    for i in 0..df.height() {
        for (f, ca) in columns.iter().enumerate() {
            let Some(v) = ca.get(i) else { continue };
            let v = v.trim();
            let ok = if f == 0 {
                v.parse::<f64>().is_ok() || parse_timestamp_text(v).is_some()
            } else {
                v.parse::<f64>().is_ok()
            };
            if !ok {
                return Ok(Some(Error::Invalid {
                    file: path.to_owned(),
                    row: first_row + i as u64,
                    column: FIELDS[f],
                    problem: Problem::Unparsable {
                        value: v.to_owned(),
                        expected: if f == 0 { "a timestamp" } else { "a number" },
                    },
                }));
            }
        }
    }
    Ok(None)
}

fn read_columnar(path: &Path, format: FileFormat, range: TimeRange) -> Result<Raw> {
    let scan = |row_index: bool| {
        let plpath = PlRefPath::new(path.to_string_lossy().as_ref());
        let ri = row_index.then(|| RowIndex { name: ROW_INDEX.into(), offset: 1 });
        let lf = match format {
            FileFormat::Parquet => {
                LazyFrame::scan_parquet(plpath, ScanArgsParquet { row_index: ri, ..Default::default() })
            }
            _ => LazyFrame::scan_ipc(
                plpath,
                Default::default(),
                UnifiedScanArgs { row_index: ri, ..Default::default() },
            ),
        };
        lf.map_err(|e| polars_err(path, e))
    };
    let mut lf = scan(!range.is_all())?;
    let schema = lf.collect_schema().map_err(|e| polars_err(path, e))?;
    let names: Vec<String> =
        schema.iter_names().filter(|n| n.as_str() != ROW_INDEX).map(|n| n.to_string()).collect();
    let pos = map_columns(path, &names)?;
    let mapping = Mapping { names: pos.map(|p| PlSmallStr::from(names[p].as_str())) };
    scan_to_raw(path, lf, &mapping, range, 1)
}

/// Selects and converts the mapped columns of a scan, with `range` pushed into it.
fn scan_to_raw(path: &Path, lf: LazyFrame, m: &Mapping, range: TimeRange, first_row: u64) -> Result<Raw> {
    let perr = |e| polars_err(path, e);
    let mut lf = lf;
    let schema = lf.collect_schema().map_err(perr)?;
    let ts_name = m.names[0].clone();
    let ts_type = schema.get(&ts_name).cloned().unwrap_or(DataType::Null);
    let with_rows = schema.get(ROW_INDEX).is_some();
    // Select the mapped columns under their own names; cast only what is not
    // already f64 (a no-op cast still costs a pass in the query engine).
    let mut exprs: Vec<Expr> = vec![col(ts_name.clone())];
    for n in m.names.iter().skip(1) {
        if exprs.iter().any(|e| matches!(e, Expr::Column(c) if c == n)) {
            continue;
        }
        let is_f64 = schema.get(n) == Some(&DataType::Float64);
        exprs.push(if is_f64 { col(n.clone()) } else { col(n.clone()).strict_cast(DataType::Float64) });
    }
    if with_rows {
        exprs.push(col(ROW_INDEX));
    }
    // Push the range into the scan where the file's time is a number.
    let mut text_filter = None;
    if !range.is_all() {
        let unit = match &ts_type {
            DataType::Datetime(tu, _) => Some(match tu {
                TimeUnit::Milliseconds => EpochUnit::Milliseconds,
                TimeUnit::Microseconds => EpochUnit::Microseconds,
                TimeUnit::Nanoseconds => EpochUnit::Nanoseconds,
            }),
            t if t.is_primitive_numeric() => {
                let head = lf.clone().select([col(ts_name.clone()).strict_cast(DataType::Float64)]).limit(1);
                let df = head.collect().map_err(perr)?;
                let first = df.columns().first().and_then(|c| c.f64().ok()?.get(0));
                first.map(EpochUnit::detect)
            }
            _ => None,
        };
        match unit {
            Some(unit) => {
                let t = if matches!(ts_type, DataType::Datetime(..)) {
                    col(ts_name.clone()).cast(DataType::Int64)
                } else {
                    col(ts_name.clone())
                };
                // One unit wider on both sides (floats round to the nearest ms,
                // `ms_to_unit` floors); the exact bounds are applied after conversion.
                let mut pred = lit(true);
                if let Some(s) = range.start {
                    pred = pred.and(t.clone().gt_eq(lit(unit.ms_to_unit(s) - 1)));
                }
                if let Some(e) = range.end {
                    pred = pred.and(t.clone().lt_eq(lit(unit.ms_to_unit(e) + 1)));
                }
                lf = lf.filter(pred);
                text_filter = Some(range); // exact bounds re-applied after conversion
            }
            None => text_filter = Some(range),
        }
    }
    let df = lf.select(exprs).collect().map_err(perr)?;
    let rows = if with_rows {
        let c = df.column(ROW_INDEX).map_err(perr)?.as_materialized_series();
        let ca = c.idx().map_err(perr)?;
        RowMap::Explicit(ca.into_no_null_iter().map(u64::from).collect())
    } else {
        RowMap::Offset(first_row)
    };
    let mut cols = Columns::with_capacity(0);
    cols.ts = ts_to_ms(path, df.column(&ts_name).map_err(perr)?.as_materialized_series(), &rows)?;
    for (f, name) in m.names.iter().enumerate().skip(1) {
        let s = df.column(name).map_err(perr)?.as_materialized_series();
        let ca = s.f64().map_err(perr)?;
        if ca.null_count() > 0 {
            let i = ca.iter().position(|v| v.is_none()).unwrap_or(0);
            return Err(Error::Invalid {
                file: path.to_owned(),
                row: rows.row(i),
                column: FIELDS[f],
                problem: Problem::Missing,
            });
        }
        let v = contiguous(ca);
        match f {
            1 => cols.open = v,
            2 => cols.high = v,
            3 => cols.low = v,
            4 => cols.close = v,
            _ => cols.volume = v,
        }
    }
    let raw = Raw { cols, rows };
    Ok(match text_filter {
        Some(r) => keep_range(raw, r),
        None => raw,
    })
}

/// Keeps the rows whose time lies in `r`, with their file row numbers.
fn keep_range(raw: Raw, r: TimeRange) -> Raw {
    let Raw { cols, rows } = raw;
    let n = cols.len();
    let keep: Vec<usize> = (0..n).filter(|&i| r.contains(cols.ts[i])).collect();
    if keep.len() == n {
        return Raw { cols, rows };
    }
    let pick = |v: &[f64]| keep.iter().map(|&i| v[i]).collect::<Vec<f64>>();
    Raw {
        cols: Columns {
            ts: keep.iter().map(|&i| cols.ts[i]).collect(),
            open: pick(&cols.open),
            high: pick(&cols.high),
            low: pick(&cols.low),
            close: pick(&cols.close),
            volume: pick(&cols.volume),
        },
        rows: RowMap::Explicit(keep.iter().map(|&i| rows.row(i)).collect()),
    }
}

/// The values of a null-free column, copied chunk by chunk (memcpy).
fn contiguous<T: PolarsNumericType>(ca: &ChunkedArray<T>) -> Vec<T::Native> {
    let mut v = Vec::with_capacity(ca.len());
    for arr in ca.downcast_iter() {
        v.extend_from_slice(arr.values().as_slice());
    }
    v
}

/// Epoch integers to milliseconds, in place (nothing to do for milliseconds).
fn to_ms_in_place(v: &mut [i64], unit: EpochUnit) {
    if unit != EpochUnit::Milliseconds {
        for x in v.iter_mut() {
            *x = unit.int_to_ms(*x);
        }
    }
}

/// Converts the time column, whatever its type, to UTC milliseconds.
fn ts_to_ms(path: &Path, s: &Series, rows: &RowMap) -> Result<Vec<i64>> {
    let perr = |e| polars_err(path, e);
    let bad = |i: usize, problem: Problem| Error::Invalid {
        file: path.to_owned(),
        row: rows.row(i),
        column: "ts",
        problem,
    };
    if s.null_count() > 0 {
        let i = s.is_null().iter().position(|v| v == Some(true)).unwrap_or(0);
        return Err(bad(i, Problem::Missing));
    }
    match s.dtype() {
        DataType::Datetime(tu, _) => {
            let unit = match tu {
                TimeUnit::Milliseconds => EpochUnit::Milliseconds,
                TimeUnit::Microseconds => EpochUnit::Microseconds,
                TimeUnit::Nanoseconds => EpochUnit::Nanoseconds,
            };
            let mut v = contiguous(s.datetime().map_err(perr)?.physical());
            to_ms_in_place(&mut v, unit);
            Ok(v)
        }
        DataType::String => {
            let ca = s.str().map_err(perr)?;
            let mut out = Vec::with_capacity(ca.len());
            let mut unit = None;
            for (i, v) in ca.iter().enumerate() {
                let t = v.unwrap_or_default().trim();
                let ms = if let Some(ms) = parse_timestamp_text(t) {
                    Some(ms)
                } else if let Ok(x) = t.parse::<f64>() {
                    let u = *unit.get_or_insert(EpochUnit::detect(x));
                    Some(u.float_to_ms(x))
                } else {
                    None
                };
                match ms {
                    Some(ms) => out.push(ms),
                    None => {
                        return Err(bad(
                            i,
                            Problem::Unparsable { value: t.to_owned(), expected: "a timestamp" },
                        ));
                    }
                }
            }
            Ok(out)
        }
        t if t.is_integer() => {
            let ca = s.cast(&DataType::Int64).map_err(perr)?;
            let ca = ca.i64().map_err(perr)?;
            let unit = EpochUnit::detect(ca.get(0).unwrap_or(0) as f64);
            let mut v = contiguous(ca);
            to_ms_in_place(&mut v, unit);
            Ok(v)
        }
        t if t.is_float() => {
            let ca = s.cast(&DataType::Float64).map_err(perr)?;
            let ca = ca.f64().map_err(perr)?;
            let mut out = Vec::with_capacity(ca.len());
            let unit = EpochUnit::detect(ca.get(0).unwrap_or(0.0));
            for (i, v) in ca.into_no_null_iter().enumerate() {
                if !v.is_finite() {
                    return Err(bad(i, Problem::NonFinite(v)));
                }
                out.push(unit.float_to_ms(v));
            }
            Ok(out)
        }
        other => Err(Error::Format {
            file: path.to_owned(),
            message: format!("time column has type {other}, expected integers, floats, text or datetimes"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path and the Polars path read every fixture identically.
    #[test]
    fn fast_and_polars_csv_paths_agree() {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).expect("fixtures") {
            let path = entry.expect("entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            if !name.starts_with("ok_") {
                continue;
            }
            let layout = sniff_csv(&path).expect("sniff");
            let first_row = 1 + u64::from(layout.has_header);
            let bytes = std::fs::read(&path).expect("read");
            let fast = csv_fast::parse(&bytes, layout.has_header, layout.separator, &layout.positions)
                .unwrap_or_else(|| panic!("{name}: fast path declined"));
            let slow = read_csv_polars(&path, &layout, TimeRange::ALL, first_row).expect("polars");
            assert_eq!(fast, slow.cols, "{name}");
            checked += 1;
        }
        assert_eq!(checked, 9);
    }
}
