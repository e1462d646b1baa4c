//! Writing command output files: atomically, and as Parquet or CSV frames.

use std::path::Path;

use anyhow::{Context, Result, bail};
use polars::prelude::*;

/// Writes through a temporary file in the same folder, renamed on success.
pub fn write_atomic(path: &Path, f: impl FnOnce(&mut std::fs::File) -> Result<()>) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".bt-out-")
        .tempfile_in(dir)
        .with_context(|| format!("{}: cannot create", path.display()))?;
    f(tmp.as_file_mut()).with_context(|| format!("{}: cannot write", path.display()))?;
    tmp.persist(path).with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(())
}

/// Writes a frame as zstd Parquet or CSV, by extension.
pub fn write_frame(path: &Path, df: &mut DataFrame) -> Result<()> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "parquet" => write_atomic(path, |f| {
            ParquetWriter::new(f).with_compression(ParquetCompression::Zstd(None)).finish(df)?;
            Ok(())
        }),
        "csv" => write_atomic(path, |f| {
            CsvWriter::new(f).include_header(true).finish(df)?;
            Ok(())
        }),
        _ => bail!("{}: unknown output format (use .parquet or .csv)", path.display()),
    }
}
