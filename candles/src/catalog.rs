//! The on-disk dataset catalog: `<root>/<TICKER>/<timeframe>.parquet`.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::frame::{Candles, CandlesView, ExtraKind, TimeRange};
use crate::load::{self, FileFormat, LoadOptions};
use crate::resample::resample;
use crate::timeframe::Timeframe;

/// One dataset in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetInfo {
    pub ticker: String,
    pub timeframe: Timeframe,
    pub rows: usize,
    /// Open time of the first and last bar, UTC ms (`None` when empty).
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    pub path: PathBuf,
}

/// A dataset loaded from the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogLoad {
    pub candles: Candles,
    /// The stored timeframe it was resampled from, when the asked one is absent.
    pub resampled_from: Option<Timeframe>,
}

/// A catalog rooted at a folder.
#[derive(Debug, Clone)]
pub struct Catalog {
    root: PathBuf,
}

/// Tickers are folder names: letters, digits, `-`, `_` and `.` (not leading),
/// stored upper case.
pub fn normalise_ticker(ticker: &str) -> Result<String> {
    let t = ticker.trim();
    let ok = !t.is_empty()
        && !t.starts_with('.')
        && t.len() <= 64
        && t.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok { Ok(t.to_ascii_uppercase()) } else { Err(Error::BadTicker(ticker.to_owned())) }
}

impl Catalog {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a dataset is (or would be) stored.
    pub fn path(&self, ticker: &str, timeframe: Timeframe) -> Result<PathBuf> {
        Ok(self.root.join(normalise_ticker(ticker)?).join(format!("{timeframe}.parquet")))
    }

    /// Every dataset, sorted by ticker then timeframe. A missing root is an
    /// empty catalog; files that are not `<timeframe>.parquet` are ignored.
    pub fn list(&self) -> Result<Vec<DatasetInfo>> {
        let io = |file: &Path| {
            let file = file.to_owned();
            move |source| Error::Io { file, source }
        };
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&self.root)(e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io(&self.root))?;
            let dir = entry.path();
            if !dir.is_dir() {
                continue;
            }
            let Some(ticker) = dir.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
                continue;
            };
            if normalise_ticker(&ticker).ok().as_deref() != Some(ticker.as_str()) {
                continue;
            }
            for f in std::fs::read_dir(&dir).map_err(io(&dir))? {
                let path = f.map_err(io(&dir))?.path();
                let tf = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_suffix(".parquet"))
                    .and_then(|s| s.parse::<Timeframe>().ok());
                if let Some(timeframe) = tf {
                    let (rows, first_ms, last_ms) = time_extent(&path)?;
                    out.push(DatasetInfo {
                        ticker: ticker.clone(),
                        timeframe,
                        rows,
                        first_ms,
                        last_ms,
                        path,
                    });
                }
            }
        }
        out.sort_by(|a, b| (&a.ticker, a.timeframe).cmp(&(&b.ticker, b.timeframe)));
        Ok(out)
    }

    /// Loads a dataset and the bars in `range`. When the timeframe is not
    /// stored but a shorter one that resamples to it is (see
    /// [`Catalog::resample_source`]), resamples the longest such one on load
    /// (keeping an incomplete last bucket out). `irregular` is never
    /// resampled.
    pub fn load(&self, ticker: &str, timeframe: Timeframe, range: TimeRange) -> Result<CatalogLoad> {
        let path = self.path(ticker, timeframe)?;
        if path.exists() {
            let opts =
                LoadOptions::default().with_range(range).with_irregular(timeframe == Timeframe::Irregular);
            let loaded = load::load(&path, &opts)?;
            return Ok(CatalogLoad { candles: loaded.candles, resampled_from: None });
        }
        let source = self.resample_source(ticker, timeframe)?;
        let Some(source) = source else {
            return Err(Error::NotInCatalog {
                root: self.root.clone(),
                ticker: normalise_ticker(ticker)?,
                timeframe,
            });
        };
        // Widen the range to whole buckets of the target.
        let wide = TimeRange {
            start: range.start.map(|s| timeframe.bucket_start(s)),
            end: range.end.map(|e| timeframe.bucket_end(e - 1)),
        };
        let src_path = self.path(ticker, source)?;
        let loaded = load::load(&src_path, &LoadOptions::default().with_range(wide))?;
        let res = resample(loaded.candles.view(), source, timeframe, false)?;
        let candles = if range.is_all() {
            res
        } else {
            Candles::try_from_columns(res.range(range).to_columns())
                .map_err(|e| invalid_after_resample(&src_path, e))?
        };
        Ok(CatalogLoad { candles, resampled_from: Some(source) })
    }

    /// The extra column names of a dataset, in file order, reading only the
    /// file's schema. A timeframe served by resampling answers with the
    /// columns of the stored one it is resampled from (see
    /// [`Catalog::resample_source`]), which resampling keeps.
    pub fn columns(&self, ticker: &str, timeframe: Timeframe) -> Result<Vec<String>> {
        Ok(self.extra_columns(ticker, timeframe)?.into_iter().map(|(name, _)| name).collect())
    }

    /// [`Catalog::columns`] with each column's kind.
    pub fn extra_columns(&self, ticker: &str, timeframe: Timeframe) -> Result<Vec<(String, ExtraKind)>> {
        let mut path = self.path(ticker, timeframe)?;
        if !path.exists() {
            match self.resample_source(ticker, timeframe)? {
                Some(source) => path = self.path(ticker, source)?,
                None => {
                    return Err(Error::NotInCatalog {
                        root: self.root.clone(),
                        ticker: normalise_ticker(ticker)?,
                        timeframe,
                    });
                }
            }
        }
        load::schema_extras(&path, FileFormat::Parquet)
    }

    /// The longest stored timeframe of `ticker` that resamples to
    /// `timeframe` ([`Timeframe::resample_check`]: shorter and dividing it,
    /// or a day or less for `1M`): what `timeframe` can be resampled from.
    /// Never `1M` or `irregular`, and nothing for `irregular`.
    pub fn resample_source(&self, ticker: &str, timeframe: Timeframe) -> Result<Option<Timeframe>> {
        for s in Timeframe::FIXED.into_iter().rev() {
            if s.resample_check(timeframe).is_ok() && self.path(ticker, s)?.exists() {
                return Ok(Some(s));
            }
        }
        Ok(None)
    }

    /// Stores a dataset as zstd Parquet, replacing any previous one atomically.
    pub fn write(&self, ticker: &str, timeframe: Timeframe, candles: CandlesView<'_>) -> Result<PathBuf> {
        let path = self.path(ticker, timeframe)?;
        crate::write::write(candles, &path, FileFormat::Parquet)?;
        Ok(path)
    }
}

fn invalid_after_resample(file: &Path, e: crate::error::Invalid) -> Error {
    Error::Format { file: file.to_owned(), message: format!("resampled data invalid: {e}") }
}

/// Rows and first/last open time of a catalog file, reading only its time column.
fn time_extent(path: &Path) -> Result<(usize, Option<i64>, Option<i64>)> {
    let perr = |e: PolarsError| Error::Format { file: path.to_owned(), message: e.to_string() };
    let plpath = PlRefPath::new(path.to_string_lossy().as_ref());
    let df = LazyFrame::scan_parquet(plpath, ScanArgsParquet::default())
        .map_err(perr)?
        .select([col("ts").cast(DataType::Int64)])
        .collect()
        .map_err(perr)?;
    let ts = df.column("ts").map_err(perr)?.i64().map_err(perr)?;
    let n = ts.len();
    Ok((n, ts.get(0), n.checked_sub(1).and_then(|i| ts.get(i))))
}
