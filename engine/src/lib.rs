//! The bt engine: indicators over candle columns (and, as issues land, signal
//! rules, the position simulator, metrics, bundles and the parallel sweep).
//!
//! This crate does no IO and reads no environment: it takes slices and specs
//! and returns values.

pub mod indicators;
pub mod metrics;
pub mod sim;
