//! Writing candles as Parquet (zstd) and Arrow IPC, atomically: a temporary
//! file in the target folder, renamed into place, so a failed write leaves
//! nothing behind and readers never see half a file.

use std::io::Write;
use std::path::Path;

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::frame::{CandlesView, ExtraKind};
use crate::load::FileFormat;

/// The columns as a Polars frame: `ts` as a UTC datetime in milliseconds (so
/// that Polars and pandas show times), prices and volume as f64, then the
/// extra columns in order: numbers as f64, booleans as booleans, NaN as null.
pub fn to_dataframe(c: CandlesView<'_>) -> PolarsResult<DataFrame> {
    let ts = Column::new("ts".into(), c.ts).cast(&DataType::Datetime(TimeUnit::Milliseconds, None))?;
    let mut columns = vec![
        ts,
        Column::new("open".into(), c.open),
        Column::new("high".into(), c.high),
        Column::new("low".into(), c.low),
        Column::new("close".into(), c.close),
        Column::new("volume".into(), c.volume),
    ];
    for (e, values) in c.extra.iter() {
        let name = PlSmallStr::from(e.name.as_str());
        columns.push(match e.kind {
            ExtraKind::Number if !values.iter().any(|v| v.is_nan()) => Column::new(name, values),
            ExtraKind::Number => {
                Column::new(name, values.iter().map(|&v| (!v.is_nan()).then_some(v)).collect::<Vec<_>>())
            }
            ExtraKind::Bool => Column::new(
                name,
                values.iter().map(|&v| (!v.is_nan()).then_some(v != 0.0)).collect::<Vec<_>>(),
            ),
        });
    }
    DataFrame::new(c.len(), columns)
}

/// Writes `c` to `path` as Parquet (zstd) or Arrow IPC, creating the folder.
pub fn write(c: CandlesView<'_>, path: &Path, format: FileFormat) -> Result<()> {
    let io = |source| Error::Io { file: path.to_owned(), source };
    let fmt_err = |e: PolarsError| Error::Format { file: path.to_owned(), message: e.to_string() };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut df = to_dataframe(c).map_err(fmt_err)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".bt-write-");
    // Temporary files are private (0600); the dataset is an ordinary file.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let mut tmp = builder.tempfile_in(dir).map_err(io)?;
    match format {
        FileFormat::Parquet => {
            ParquetWriter::new(tmp.as_file_mut())
                .with_compression(ParquetCompression::Zstd(None))
                .finish(&mut df)
                .map_err(fmt_err)?;
        }
        FileFormat::Ipc => {
            IpcWriter::new(tmp.as_file_mut()).finish(&mut df).map_err(fmt_err)?;
        }
        FileFormat::Csv => {
            let mut w = std::io::BufWriter::new(tmp.as_file_mut());
            write_csv(c, &mut w).map_err(io)?;
            w.flush().map_err(io)?;
        }
    }
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// Plain CSV: `ts,open,high,low,close,volume` with `ts` in epoch
/// milliseconds, then the extra columns: numbers, `true`/`false`, and an
/// empty field for NaN.
fn write_csv(c: CandlesView<'_>, w: &mut impl Write) -> std::io::Result<()> {
    write!(w, "ts,open,high,low,close,volume")?;
    for name in c.extra.names() {
        write!(w, ",{}", csv_field(name))?;
    }
    writeln!(w)?;
    let extras: Vec<_> = c.extra.iter().collect();
    for i in 0..c.len() {
        write!(w, "{},{},{},{},{},{}", c.ts[i], c.open[i], c.high[i], c.low[i], c.close[i], c.volume[i])?;
        for (e, values) in &extras {
            let v = values[i];
            match e.kind {
                _ if v.is_nan() => write!(w, ",")?,
                ExtraKind::Number => write!(w, ",{v}")?,
                ExtraKind::Bool => write!(w, ",{}", v != 0.0)?,
            }
        }
        writeln!(w)?;
    }
    Ok(())
}

/// A header field, quoted (RFC 4180) when it holds a comma, a quote or a line break.
fn csv_field(name: &str) -> std::borrow::Cow<'_, str> {
    if name.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", name.replace('"', "\"\"")).into()
    } else {
        name.into()
    }
}
