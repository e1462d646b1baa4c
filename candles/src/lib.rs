//! Columnar OHLCV candles for bt.
//!
//! - [`Candles`]: validated columns (`ts` in UTC ms, open, high, low, close,
//!   volume), extra data columns ([`Extra`]: a user's signal kept with the
//!   bars), with zero-copy time-range views ([`CandlesView`]).
//! - [`load()`]: CSV, Parquet and Arrow IPC through Polars lazy scans, with the
//!   time range pushed into the scan; errors name file, row and column.
//! - [`resample()`], [`Timeframe`], the on-disk [`Catalog`], atomic
//!   [`write()`] of Parquet and Arrow IPC, and a deterministic [`generate()`].
//!
//! This crate does no network IO and reads no environment variables.

mod catalog;
mod csv_fast;
mod error;
mod frame;
mod generate;
mod load;
mod resample;
pub mod time;
mod timeframe;
mod validate;
mod write;

pub use catalog::{Catalog, CatalogLoad, DatasetInfo, normalise_ticker};
pub use error::{Error, Invalid, Problem, Result};
pub use frame::{Candles, CandlesView, Columns, Extra, ExtraKind, Extras, SortDedup, TimeRange};
pub use generate::{GenerateSpec, SplitMix64, generate};
pub use load::{FileFormat, LoadOptions, Loaded, SkipReason, SkippedColumn, load};
pub use resample::resample;
pub use timeframe::{ParseTimeframeError, Timeframe};
pub use validate::{MonthLabel, Quality, Spacing, base_interval, month_labels, validate, validate_irregular};
pub use write::{to_dataframe, write};
