//! Moving averages.

pub(crate) mod ema;
pub(crate) mod sma;
mod wma;

pub use ema::ema;
pub use sma::sma;
pub use wma::wma;
