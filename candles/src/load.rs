//! Loading candle files (CSV, Parquet, Arrow IPC) through Polars lazy scans.
//!
//! The loader finds the six columns by name (case-insensitive, with common
//! aliases) or, for header-less CSV, by position; pushes a time range into the
//! scan; converts timestamps to UTC milliseconds (the forms of
//! [`crate::time::parse_time_text`], `YYYYMMDD` and epoch numbers by
//! [`NumberTime`], or the user's [`TimePattern`]); reverses a file stored
//! newest first; and validates. Every error names the file, and where a value
//! is at fault, the row and column.
//!
//! Every other column is kept as an [`Extra`] when it holds numbers or
//! booleans (a signal computed elsewhere, stored with the candles), and
//! reported in [`Loaded::skipped_columns`] otherwise. Parquet and Arrow say a
//! column's type in the schema; a CSV column is a number column when every
//! non-empty field parses as a number, a boolean column when every one is
//! `true` or `false` (any case), judged over the rows read. Empty fields are
//! NaN. Header-less CSV has no extras: its columns have no names to use.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use polars::prelude::*;

use crate::csv_fast;
use crate::error::{Error, Invalid, Problem, Result};
use crate::frame::{Candles, Columns, Extra, ExtraKind, TimeRange};
use crate::time::{EpochUnit, NumberTime, TimePattern, parse_time_text};

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
    time_format: Option<TimePattern>,
    irregular: bool,
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

    /// Read a text (or integer) time column in this format instead of the
    /// forms the loader knows by itself (see [`crate::time::parse_time_text`]
    /// and [`NumberTime`]).
    pub fn with_time_format(mut self, format: Option<TimePattern>) -> Self {
        self.time_format = format;
        self
    }

    /// Accept any strictly increasing times (data of the `irregular`
    /// timeframe) instead of requiring one base step or calendar months.
    pub fn with_irregular(mut self, yes: bool) -> Self {
        self.irregular = yes;
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
    /// Whether the file was stored newest first (and was reversed): always
    /// accepted, unlike other disorder.
    pub newest_first: bool,
    /// Columns of the file that are neither a candle field nor kept as an
    /// extra, in file order.
    pub skipped_columns: Vec<SkippedColumn>,
}

/// A column of a file that the loader did not keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedColumn {
    /// The name in the file (`column N`, 1-based, for an unnamed CSV column).
    pub name: String,
    pub reason: SkipReason,
}

/// Why a column was not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// Neither numbers nor booleans: the type as Polars names it (`str`,
    /// `date`, ...; `null` for a CSV column with no values).
    Type(String),
    /// The name is an alias of this candle field, which another column of the
    /// file provides (`vol` next to `volume`).
    Alias(&'static str),
    /// A CSV column with an empty header.
    Unnamed,
}

impl std::fmt::Display for SkippedColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.reason {
            SkipReason::Type(dtype) => write!(f, "{} ({dtype})", self.name),
            SkipReason::Alias(field) => {
                write!(f, "{} (an alias of {field}, taken from another column)", self.name)
            }
            SkipReason::Unnamed => write!(f, "{} (no name)", self.name),
        }
    }
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
        FileFormat::Csv => read_csv(path, opts.range, opts.time_format.as_ref())?,
        FileFormat::Parquet | FileFormat::Ipc => {
            read_columnar(path, format, opts.range, opts.time_format.as_ref())?
        }
    };
    finish(path, raw, opts.sort_dedup, opts.irregular)
}

/// Columns as read, with the file row of each loaded row, and the columns
/// not kept with their positions in the file.
#[derive(Debug)]
struct Raw {
    cols: Columns,
    rows: RowMap,
    skipped: Skipped,
}

/// File row numbers (1-based, as a person counts them) of loaded rows.
#[derive(Debug)]
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

fn finish(path: &Path, raw: Raw, sort_dedup: bool, irregular: bool) -> Result<Loaded> {
    let Raw { mut cols, mut rows, mut skipped } = raw;
    if cols.is_empty() {
        return Err(Error::Empty { file: path.to_owned() });
    }
    // Newest first (non-increasing, first after last): reversed, so that
    // validation still names the file row of a duplicate.
    let newest_first =
        cols.len() > 1 && cols.ts[0] > cols.ts[cols.len() - 1] && cols.ts.windows(2).all(|w| w[0] >= w[1]);
    if newest_first {
        let n = cols.len();
        let back: Vec<usize> = (0..n).rev().collect();
        cols = cols.pick(&back);
        rows = RowMap::Explicit(back.iter().map(|&i| rows.row(i)).collect());
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
    let candles =
        if irregular { Candles::try_from_columns_irregular(cols) } else { Candles::try_from_columns(cols) };
    let candles = candles.map_err(|e| invalid(path, &rows, e))?;
    skipped.sort_by_key(|&(pos, _)| pos);
    let skipped_columns = skipped.into_iter().map(|(_, s)| s).collect();
    Ok(Loaded { candles, duplicates_removed, reordered, newest_first, skipped_columns })
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

/// A header field without surrounding blanks, quotes and byte-order mark.
fn clean(name: &str) -> &str {
    name.trim().trim_start_matches('\u{feff}').trim_matches('"').trim()
}

fn normalise(name: &str) -> String {
    clean(name).to_ascii_lowercase()
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

/// Columns not kept, with their positions in the file (to report them in file order).
type Skipped = Vec<(usize, SkippedColumn)>;

/// A column that may become an extra: its position and name in the file.
#[derive(Debug, Clone)]
struct Candidate {
    pos: usize,
    name: String,
}

/// The columns besides the six mapped ones: candidates for extras, and those
/// skipped for their name. `names` are the names to keep (cleaned header
/// fields for CSV, exact schema names for Parquet and Arrow). Two candidates
/// of one name are an error: a rule could not tell them apart.
fn plan_extras(file: &Path, names: &[String], mapped: &[usize; 6]) -> Result<(Vec<Candidate>, Skipped)> {
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut skipped = Vec::new();
    for (pos, name) in names.iter().enumerate() {
        if mapped.contains(&pos) {
            continue;
        }
        let norm = normalise(name);
        let skip = |reason| (pos, SkippedColumn { name: name.clone(), reason });
        if norm.is_empty() {
            skipped.push((
                pos,
                SkippedColumn { name: format!("column {}", pos + 1), reason: SkipReason::Unnamed },
            ));
        } else if let Some(f) = ALIASES.iter().position(|a| a.contains(&norm.as_str())) {
            skipped.push(skip(SkipReason::Alias(FIELDS[f])));
        } else if candidates.iter().any(|c| c.name == *name) {
            return Err(Error::DuplicateColumn { file: file.to_owned(), column: name.clone() });
        } else {
            candidates.push(Candidate { pos, name: name.clone() });
        }
    }
    Ok((candidates, skipped))
}

/// How a kept column is read from a scan.
#[derive(Debug, Clone)]
enum ExtraRead {
    /// A typed column (Parquet, Arrow), cast to f64.
    Cast(ExtraKind),
    /// CSV text, classified by what its values look like.
    Text,
}

/// An extra column to read: its column in the scan, its name and how to read it.
#[derive(Debug, Clone)]
struct ExtraCol {
    scan_name: PlSmallStr,
    pos: usize,
    name: String,
    read: ExtraRead,
}

/// Kind of a typed column that is kept, or `None`.
fn dtype_kind(dtype: &DataType) -> Option<ExtraKind> {
    if dtype.is_primitive_numeric() {
        Some(ExtraKind::Number)
    } else if dtype.is_bool() {
        Some(ExtraKind::Bool)
    } else {
        None
    }
}

/// A CSV column's values, read as text, into an extra or a skipped column.
fn classify_text(
    pos: usize,
    name: String,
    values: Vec<f64>,
    seen: csv_fast::Seen,
) -> std::result::Result<Extra, (usize, SkippedColumn)> {
    match seen.kind() {
        Ok(kind) => Ok(Extra { name, kind, values }),
        Err(dtype) => Err((pos, SkippedColumn { name, reason: SkipReason::Type(dtype.to_owned()) })),
    }
}

/// What the first line of a CSV file tells.
struct CsvLayout {
    separator: u8,
    has_header: bool,
    /// Column positions of ts, open, high, low, close, volume.
    positions: [usize; 6],
    n_columns: usize,
    /// Header fields, cleaned (empty without a header).
    names: Vec<String>,
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
    let names = if has_header { fields.iter().map(|f| clean(f).to_owned()).collect() } else { Vec::new() };
    Ok(CsvLayout { separator, has_header, positions, n_columns: fields.len(), names })
}

fn csv_name(pos: usize) -> PlSmallStr {
    format!("column_{}", pos + 1).into()
}

fn csv_scan(
    path: &Path,
    layout: &CsvLayout,
    extras: &[Candidate],
    all_text: bool,
    row_index: bool,
    time_as_text: bool,
) -> Result<LazyFrame> {
    let mut overwrite = Schema::default();
    if time_as_text {
        overwrite.with_column(csv_name(layout.positions[0]), DataType::String);
    }
    for &p in &layout.positions[1..] {
        overwrite.with_column(csv_name(p), DataType::Float64);
    }
    // Extras as text: classified in Rust over every row, never failing on a
    // value past Polars' inference window.
    for c in extras {
        overwrite.with_column(csv_name(c.pos), DataType::String);
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

fn read_csv(path: &Path, range: TimeRange, pattern: Option<&TimePattern>) -> Result<Raw> {
    let layout = sniff_csv(path)?;
    let (extras, skipped) = plan_extras(path, &layout.names, &layout.positions)?;
    let first_row = 1 + u64::from(layout.has_header);
    let small = std::fs::metadata(path).is_ok_and(|m| m.len() <= FAST_CSV_MAX_BYTES);
    if small {
        let bytes = std::fs::read(path).map_err(|source| Error::Io { file: path.to_owned(), source })?;
        if let Some(raw) = read_csv_fast(&bytes, &layout, &extras, skipped.clone(), pattern) {
            return Ok(if range.is_all() { raw } else { keep_range(raw, range) });
        }
    }
    read_csv_polars(path, &layout, &extras, skipped, range, first_row, pattern)
}

/// The fast path, or `None` where the file needs Polars.
fn read_csv_fast(
    bytes: &[u8],
    layout: &CsvLayout,
    extras: &[Candidate],
    mut skipped: Skipped,
    pattern: Option<&TimePattern>,
) -> Option<Raw> {
    let extra_pos: Vec<usize> = extras.iter().map(|c| c.pos).collect();
    let parsed =
        csv_fast::parse(bytes, layout.has_header, layout.separator, &layout.positions, &extra_pos, pattern)?;
    let mut cols = parsed.cols;
    for (c, (values, seen)) in extras.iter().zip(parsed.extras) {
        match classify_text(c.pos, c.name.clone(), values, seen) {
            Ok(e) => cols.extra.push(e),
            Err(s) => skipped.push(s),
        }
    }
    Some(Raw { cols, rows: RowMap::Offset(1 + u64::from(layout.has_header)), skipped })
}

/// Every CSV dialect, through Polars' lazy CSV scan.
fn read_csv_polars(
    path: &Path,
    layout: &CsvLayout,
    extras: &[Candidate],
    skipped: Skipped,
    range: TimeRange,
    first_row: u64,
    pattern: Option<&TimePattern>,
) -> Result<Raw> {
    let names: Vec<PlSmallStr> = layout.positions.iter().map(|&p| csv_name(p)).collect();
    let mapping = Mapping { names: [0, 1, 2, 3, 4, 5].map(|i| names[i].clone()) };
    let extra_cols: Vec<ExtraCol> = extras
        .iter()
        .map(|c| ExtraCol {
            scan_name: csv_name(c.pos),
            pos: c.pos,
            name: c.name.clone(),
            read: ExtraRead::Text,
        })
        .collect();
    let typed = csv_scan(path, layout, extras, false, !range.is_all(), pattern.is_some())
        .and_then(|lf| scan_to_raw(path, lf, &mapping, &extra_cols, skipped, range, first_row, pattern));
    match typed {
        Ok(raw) => Ok(raw),
        // Polars says what failed but not where: find the row ourselves.
        Err(Error::Format { message, .. }) => {
            let text = csv_scan(path, layout, &[], true, false, false)?;
            match first_unparsable(path, text, &mapping, first_row, pattern)? {
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
fn first_unparsable(
    path: &Path,
    lf: LazyFrame,
    m: &Mapping,
    first_row: u64,
    pattern: Option<&TimePattern>,
) -> Result<Option<Error>> {
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
                match pattern {
                    Some(p) => p.parse(v).is_some(),
                    None => v.parse::<f64>().is_ok() || parse_time_text(v).is_some(),
                }
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
                        expected: match (f, pattern) {
                            (0, Some(p)) => pattern_expected(p),
                            (0, None) => "a timestamp".into(),
                            _ => "a number".into(),
                        },
                    },
                }));
            }
        }
    }
    Ok(None)
}

/// What a value in the user's time format looks like, for errors.
fn pattern_expected(p: &TimePattern) -> std::borrow::Cow<'static, str> {
    format!("a time in the form {p}").into()
}

fn read_columnar(
    path: &Path,
    format: FileFormat,
    range: TimeRange,
    pattern: Option<&TimePattern>,
) -> Result<Raw> {
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
    let (mapping, extras, skipped) = plan_columnar(path, &schema)?;
    scan_to_raw(path, lf, &mapping, &extras, skipped, range, 1, pattern)
}

type ColumnarPlan = (Mapping, Vec<ExtraCol>, Skipped);

/// The six columns and the extras of a Parquet or Arrow schema.
fn plan_columnar(path: &Path, schema: &Schema) -> Result<ColumnarPlan> {
    let fields: Vec<(&PlSmallStr, &DataType)> =
        schema.iter().filter(|(n, _)| n.as_str() != ROW_INDEX).collect();
    let names: Vec<String> = fields.iter().map(|(n, _)| n.to_string()).collect();
    let pos = map_columns(path, &names)?;
    let mapping = Mapping { names: pos.map(|p| PlSmallStr::from(names[p].as_str())) };
    let (candidates, mut skipped) = plan_extras(path, &names, &pos)?;
    let mut extras = Vec::new();
    for c in candidates {
        let (scan_name, dtype) = fields[c.pos];
        match dtype_kind(dtype) {
            Some(kind) => extras.push(ExtraCol {
                scan_name: scan_name.clone(),
                pos: c.pos,
                name: c.name,
                read: ExtraRead::Cast(kind),
            }),
            None => skipped
                .push((c.pos, SkippedColumn { name: c.name, reason: SkipReason::Type(dtype.to_string()) })),
        }
    }
    Ok((mapping, extras, skipped))
}

/// The extra columns of a Parquet or Arrow file, reading only its schema.
pub(crate) fn schema_extras(path: &Path, format: FileFormat) -> Result<Vec<(String, ExtraKind)>> {
    let plpath = PlRefPath::new(path.to_string_lossy().as_ref());
    let lf = match format {
        FileFormat::Ipc => LazyFrame::scan_ipc(plpath, Default::default(), Default::default()),
        _ => LazyFrame::scan_parquet(plpath, ScanArgsParquet::default()),
    };
    let schema = lf.and_then(|mut lf| lf.collect_schema()).map_err(|e| polars_err(path, e))?;
    let (_, extras, _) = plan_columnar(path, &schema)?;
    Ok(extras
        .into_iter()
        .filter_map(|e| match e.read {
            ExtraRead::Cast(kind) => Some((e.name, kind)),
            ExtraRead::Text => None,
        })
        .collect())
}

/// Selects and converts the mapped columns and the extras of a scan, with
/// `range` pushed into it (not for a time in the user's `pattern`).
#[allow(clippy::too_many_arguments)] // the CSV and the columnar path's pieces, each used once
fn scan_to_raw(
    path: &Path,
    lf: LazyFrame,
    m: &Mapping,
    extras: &[ExtraCol],
    mut skipped: Skipped,
    range: TimeRange,
    first_row: u64,
    pattern: Option<&TimePattern>,
) -> Result<Raw> {
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
    for e in extras {
        let is_f64 = schema.get(&e.scan_name) == Some(&DataType::Float64);
        exprs.push(match e.read {
            ExtraRead::Cast(_) if !is_f64 => col(e.scan_name.clone()).cast(DataType::Float64),
            _ => col(e.scan_name.clone()),
        });
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
            t if t.is_primitive_numeric() && pattern.is_none() => {
                let head = lf.clone().select([col(ts_name.clone()).strict_cast(DataType::Float64)]).limit(1);
                let df = head.collect().map_err(perr)?;
                let first = df.columns().first().and_then(|c| c.f64().ok()?.get(0));
                // `YYYYMMDD` numbers are filtered after conversion.
                first.map(NumberTime::detect).and_then(|n| match n {
                    NumberTime::Epoch(unit) => Some(unit),
                    NumberTime::Yyyymmdd => None,
                })
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
    cols.ts = ts_to_ms(path, df.column(&ts_name).map_err(perr)?.as_materialized_series(), &rows, pattern)?;
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
    for e in extras {
        let s = df.column(&e.scan_name).map_err(perr)?.as_materialized_series();
        match e.read {
            ExtraRead::Cast(kind) => {
                let ca = s.f64().map_err(perr)?;
                let values = if ca.null_count() == 0 {
                    contiguous(ca)
                } else {
                    ca.iter().map(|v| v.unwrap_or(f64::NAN)).collect()
                };
                cols.extra.push(Extra { name: e.name.clone(), kind, values });
            }
            ExtraRead::Text => {
                let ca = s.str().map_err(perr)?;
                let mut seen = csv_fast::Seen::default();
                let values = ca.iter().map(|v| v.map_or(f64::NAN, |t| seen.parse(t.as_bytes()))).collect();
                match classify_text(e.pos, e.name.clone(), values, seen) {
                    Ok(x) => cols.extra.push(x),
                    Err(s) => skipped.push(s),
                }
            }
        }
    }
    let raw = Raw { cols, rows, skipped };
    Ok(match text_filter {
        Some(r) => keep_range(raw, r),
        None => raw,
    })
}

/// Keeps the rows whose time lies in `r`, with their file row numbers.
fn keep_range(raw: Raw, r: TimeRange) -> Raw {
    let Raw { cols, rows, skipped } = raw;
    let n = cols.len();
    let keep: Vec<usize> = (0..n).filter(|&i| r.contains(cols.ts[i])).collect();
    if keep.len() == n {
        return Raw { cols, rows, skipped };
    }
    Raw {
        cols: cols.pick(&keep),
        rows: RowMap::Explicit(keep.iter().map(|&i| rows.row(i)).collect()),
        skipped,
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

/// Converts the time column, whatever its type, to UTC milliseconds: a
/// datetime as it is; text in the user's format when given, else in the forms
/// [`parse_time_text`] reads or as numbers; numbers by [`NumberTime`], decided
/// by the first value.
fn ts_to_ms(path: &Path, s: &Series, rows: &RowMap, pattern: Option<&TimePattern>) -> Result<Vec<i64>> {
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
    if let Some(p) = pattern.filter(|_| s.dtype().is_integer() || s.dtype().is_string()) {
        let text = s.cast(&DataType::String).map_err(perr)?;
        let ca = text.str().map_err(perr)?;
        let mut out = Vec::with_capacity(ca.len());
        for (i, v) in ca.iter().enumerate() {
            let t = v.unwrap_or_default().trim();
            match p.parse(t) {
                Some(ms) => out.push(ms),
                None => {
                    return Err(bad(
                        i,
                        Problem::Unparsable { value: t.to_owned(), expected: pattern_expected(p) },
                    ));
                }
            }
        }
        return Ok(out);
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
                let ms = if let Some(ms) = parse_time_text(t) {
                    Some(ms)
                } else if let Ok(x) = t.parse::<f64>() {
                    unit.get_or_insert(NumberTime::detect(x)).float_to_ms(x)
                } else {
                    None
                };
                match ms {
                    Some(ms) => out.push(ms),
                    None => {
                        let expected = unit.map_or("a timestamp", NumberTime::expected).into();
                        return Err(bad(i, Problem::Unparsable { value: t.to_owned(), expected }));
                    }
                }
            }
            Ok(out)
        }
        t if t.is_integer() => {
            let ca = s.cast(&DataType::Int64).map_err(perr)?;
            let ca = ca.i64().map_err(perr)?;
            match NumberTime::detect(ca.get(0).unwrap_or(0) as f64) {
                NumberTime::Epoch(unit) => {
                    let mut v = contiguous(ca);
                    to_ms_in_place(&mut v, unit);
                    Ok(v)
                }
                ymd => {
                    let mut out = Vec::with_capacity(ca.len());
                    for (i, v) in ca.into_no_null_iter().enumerate() {
                        match ymd.int_to_ms(v) {
                            Some(ms) => out.push(ms),
                            None => {
                                let expected = ymd.expected().into();
                                return Err(bad(i, Problem::Unparsable { value: v.to_string(), expected }));
                            }
                        }
                    }
                    Ok(out)
                }
            }
        }
        t if t.is_float() => {
            let ca = s.cast(&DataType::Float64).map_err(perr)?;
            let ca = ca.f64().map_err(perr)?;
            let mut out = Vec::with_capacity(ca.len());
            let unit = NumberTime::detect(ca.get(0).unwrap_or(0.0));
            for (i, v) in ca.into_no_null_iter().enumerate() {
                if !v.is_finite() {
                    return Err(bad(i, Problem::NonFinite(v)));
                }
                match unit.float_to_ms(v) {
                    Some(ms) => out.push(ms),
                    None => {
                        let expected = unit.expected().into();
                        return Err(bad(i, Problem::Unparsable { value: v.to_string(), expected }));
                    }
                }
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
            let (extras, skipped) = plan_extras(&path, &layout.names, &layout.positions).expect("plan");
            let fast = read_csv_fast(&bytes, &layout, &extras, skipped.clone(), None)
                .unwrap_or_else(|| panic!("{name}: fast path declined"));
            let slow = read_csv_polars(&path, &layout, &extras, skipped, TimeRange::ALL, first_row, None)
                .expect("polars");
            assert_eq!(fast.cols, slow.cols, "{name}");
            checked += 1;
        }
        assert_eq!(checked, 10);
    }

    /// Both paths read extras alike: numbers, booleans, empties, and the text
    /// column that makes a column be skipped.
    #[test]
    fn fast_and_polars_csv_paths_agree_on_extras() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("e.csv");
        std::fs::write(
            &path,
            "ts;open;high;low;close;volume;sig;flag;note;n2\n\
             1704067200000;1;2;0.5;1.5;10;1.25;TRUE;a;\n\
             1704067260000;1;2;0.5;1.5;10;;false;;7\n\
             1704067320000;1;2;0.5;1.5;10;-3e2;;b;nan\n",
        )
        .expect("write");
        let layout = sniff_csv(&path).expect("sniff");
        let (extras, skipped) = plan_extras(&path, &layout.names, &layout.positions).expect("plan");
        let bytes = std::fs::read(&path).expect("read");
        let fast = read_csv_fast(&bytes, &layout, &extras, skipped.clone(), None).expect("fast path");
        let slow =
            read_csv_polars(&path, &layout, &extras, skipped, TimeRange::ALL, 2, None).expect("polars");
        assert_eq!(fast.cols, slow.cols);
        assert_eq!(fast.skipped, slow.skipped);
        let nan = f64::NAN;
        assert_eq!(
            fast.cols.extra,
            [
                Extra::new("sig", ExtraKind::Number, vec![1.25, nan, -300.0]),
                Extra::new("flag", ExtraKind::Bool, vec![1.0, 0.0, nan]),
                Extra::new("n2", ExtraKind::Number, vec![nan, 7.0, nan]),
            ]
        );
        assert_eq!(
            fast.skipped,
            [(8, SkippedColumn { name: "note".into(), reason: SkipReason::Type("str".into()) })]
        );
    }
}
