//! Volatility indicators and price channels.

pub(crate) mod atr;
mod bbands;
mod donchian;
mod supertrend;

pub use atr::{atr, true_range};
pub use bbands::bbands;
pub use donchian::donchian;
pub use supertrend::supertrend;
