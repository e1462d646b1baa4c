//! Shared fixtures for bt's criterion benches: deterministic synthetic data,
//! written once per run to a temporary folder in the formats users load.

use std::path::{Path, PathBuf};

use bt_candles::{FileFormat, GenerateSpec, Timeframe, generate};

/// Files holding the same `bars` one-minute bars (seed 42).
#[derive(Debug)]
pub struct LoadFixture {
    pub bars: usize,
    pub parquet: PathBuf,
    pub csv: PathBuf,
    pub ipc: PathBuf,
}

/// Writes the fixture files into `dir`.
pub fn load_fixture(dir: &Path, bars: usize) -> bt_candles::Result<LoadFixture> {
    let spec = GenerateSpec {
        bars,
        seed: 42,
        timeframe: Timeframe::M1,
        start_price: 30_000.0,
        ..Default::default()
    };
    let candles = generate(&spec);
    let fx = LoadFixture {
        bars,
        parquet: dir.join("bench.parquet"),
        csv: dir.join("bench.csv"),
        ipc: dir.join("bench.arrow"),
    };
    bt_candles::write(candles.view(), &fx.parquet, FileFormat::Parquet)?;
    bt_candles::write(candles.view(), &fx.csv, FileFormat::Csv)?;
    bt_candles::write(candles.view(), &fx.ipc, FileFormat::Ipc)?;
    Ok(fx)
}
