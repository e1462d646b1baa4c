//! Momentum and trend-strength indicators.

mod adx;
mod macd;
mod roc;
mod rsi;
mod stoch;

pub use adx::adx;
pub use macd::macd;
pub use roc::roc;
pub use rsi::rsi;
pub use stoch::stoch;
