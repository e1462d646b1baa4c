//! Technical indicators as batch kernels over `&[f64]`, following TA-Lib's
//! conventions exactly (each function documents its own).
//!
//! Every kernel writes into caller-provided output slices of the input's
//! length, with `NaN` during the warm-up (TA-Lib's "lookback"): lengths and
//! periods are checked once at the boundary, then a loop that cannot fail runs.
//! Kernels allocate only where noted (the Donchian channel's window deques).

// Kernels index several equally long columns by bar number; iterator chains
// over four zipped slices read worse and compile to the same loop.
#![allow(clippy::needless_range_loop)]

pub mod average;
pub mod momentum;
pub mod spec;
pub mod volatility;

#[cfg(test)]
pub(crate) mod reference;

pub use average::{ema, sma, wma};
pub use momentum::{adx, macd, roc, rsi, stoch};
pub use volatility::{atr, bbands, donchian, supertrend, true_range};

/// Invalid arguments to an indicator kernel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndicatorError {
    #[error("{name} must be at least {min}, got {value}")]
    Period { name: &'static str, value: usize, min: usize },
    #[error("{name} has length {got}, expected {expected}")]
    Length { name: &'static str, got: usize, expected: usize },
    #[error("{name} must be finite, got {value}")]
    Parameter { name: &'static str, value: String },
}

pub(crate) fn check_period(name: &'static str, value: usize, min: usize) -> Result<(), IndicatorError> {
    if value < min { Err(IndicatorError::Period { name, value, min }) } else { Ok(()) }
}

pub(crate) fn check_len(name: &'static str, got: usize, expected: usize) -> Result<(), IndicatorError> {
    if got != expected { Err(IndicatorError::Length { name, got, expected }) } else { Ok(()) }
}

/// Fills `out[..n.min(out.len())]` with NaN (the warm-up).
pub(crate) fn warmup(out: &mut [f64], n: usize) {
    let n = n.min(out.len());
    out[..n].fill(f64::NAN);
}
