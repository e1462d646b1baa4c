//! Integration tests of `bt-candles`: one binary, one module per topic.

mod calendar;
mod catalog;
mod csv_formats;
mod errors;
mod extras;
mod round_trip;

use std::path::PathBuf;

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// 2024-01-01T00:00:00Z in ms.
pub const JAN1: i64 = 1_704_067_200_000;
