//! The crate's error type: every error names the file, and where a row is at
//! fault, the row (1-based, as a person counts lines in the file) and column.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::time::format_ms;
use crate::timeframe::Timeframe;

/// What is wrong with one value or one row.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// The text could not be read as the column's type.
    Unparsable {
        value: String,
        /// What the value should look like (`a number`, `a timestamp`, `a
        /// time in the form %d.%m.%Y`).
        expected: std::borrow::Cow<'static, str>,
    },
    /// An empty field.
    Missing,
    NonFinite(f64),
    NonPositive(f64),
    /// `high < max(open, close)`.
    HighBelowBody {
        high: f64,
        body: f64,
    },
    /// `low > min(open, close)`.
    LowAboveBody {
        low: f64,
        body: f64,
    },
    NegativeVolume(f64),
    /// The timestamp is earlier than the previous row's.
    Unsorted {
        ts: i64,
        previous: i64,
    },
    /// The timestamp equals the previous row's.
    Duplicate {
        ts: i64,
    },
    /// The step from the previous bar is not a multiple of the dataset's step.
    MixedInterval {
        step_ms: i64,
        base_ms: i64,
    },
    /// An extra column whose length is not the number of rows.
    ExtraLength {
        name: String,
        len: usize,
        rows: usize,
    },
    /// Two extra columns of the same name.
    ExtraDuplicate {
        name: String,
    },
    /// An extra column with an empty name.
    ExtraUnnamed,
}

fn duration(ms: i64) -> String {
    match Timeframe::from_duration_ms(ms) {
        Some(tf) => tf.to_string(),
        None if ms % 1000 == 0 => format!("{}s", ms / 1000),
        None => format!("{ms}ms"),
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unparsable { value, expected } => {
                write!(f, "cannot parse {value:?} as {expected}")
            }
            Self::Missing => f.write_str("missing value"),
            Self::NonFinite(v) => write!(f, "value {v} is not finite"),
            Self::NonPositive(v) => write!(f, "price {v} is not positive"),
            Self::HighBelowBody { high, body } => {
                write!(f, "high {high} is below max(open, close) {body}")
            }
            Self::LowAboveBody { low, body } => {
                write!(f, "low {low} is above min(open, close) {body}")
            }
            Self::NegativeVolume(v) => write!(f, "volume {v} is negative"),
            Self::Unsorted { ts, previous } => write!(
                f,
                "timestamp {} is earlier than the previous row's {} (unsorted; --sort-dedup sorts)",
                format_ms(*ts),
                format_ms(*previous)
            ),
            Self::Duplicate { ts } => {
                write!(f, "duplicate timestamp {} (--sort-dedup keeps the last)", format_ms(*ts))
            }
            Self::MixedInterval { step_ms, base_ms } => write!(
                f,
                "step of {} from the previous bar is not a multiple of the dataset's {} step (mixed intervals; \
                 --timeframe irregular takes any increasing times)",
                duration(*step_ms),
                duration(*base_ms)
            ),
            Self::ExtraLength { name, len, rows } => {
                write!(f, "extra column {name:?} has {len} values for {rows} rows")
            }
            Self::ExtraDuplicate { name } => write!(f, "two extra columns are named {name:?}"),
            Self::ExtraUnnamed => f.write_str("an extra column has no name"),
        }
    }
}

/// A problem found in columns, before the file is known: `index` is 0-based in
/// the loaded columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub index: usize,
    pub column: &'static str,
    pub problem: Problem,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {}, column {}: {}", self.index + 1, self.column, self.problem)
    }
}

impl std::error::Error for Invalid {}

/// Errors of loading, writing and cataloguing candles.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", file.display())]
    Io {
        file: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Polars could not read or write the file.
    #[error("{}: {message}", file.display())]
    Format { file: PathBuf, message: String },
    #[error("{}: unsupported file type (expected .csv, .txt, .parquet, .arrow, .ipc or .feather)", file.display())]
    UnknownFormat { file: PathBuf },
    #[error("{}: no rows", file.display())]
    Empty { file: PathBuf },
    #[error("{}: missing column {column} (columns found: {found})", file.display())]
    MissingColumn { file: PathBuf, column: &'static str, found: String },
    /// Two columns of a file have the same name, and the loader would keep both.
    #[error("{}: two columns are named {column:?}", file.display())]
    DuplicateColumn { file: PathBuf, column: String },
    #[error("{}: row {row}, column {column}: {problem}", file.display())]
    Invalid {
        file: PathBuf,
        /// 1-based row as a person counts lines in the file (a CSV header is
        /// line 1); for Parquet and Arrow, the 1-based record number.
        row: u64,
        column: &'static str,
        problem: Problem,
    },
    #[error("no dataset {ticker}/{timeframe} in catalog {} (nor a lower timeframe to resample from)", root.display())]
    NotInCatalog { root: PathBuf, ticker: String, timeframe: Timeframe },
    #[error("invalid ticker {0:?}: use letters, digits, '-', '_' and '.'")]
    BadTicker(String),
    /// Why `from` does not resample to `to` ([`Timeframe::resample_check`]).
    #[error("cannot resample {from} to {to}: {reason}")]
    Resample { from: Timeframe, to: Timeframe, reason: &'static str },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
