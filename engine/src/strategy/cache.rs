//! The indicator cache of the hand-written strategies (the reference).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use bt_candles::CandlesView;

use crate::indicators;

/// An indicator with its parameters (f64 parameters by their bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IndicatorKey {
    Sma(usize),
    Ema(usize),
    Rsi(usize),
    /// fast, slow, signal -> [line, signal, histogram]
    Macd(usize, usize, usize),
    /// period, k bits -> [upper, middle, lower]
    Bbands(usize, u64),
    /// period, multiplier bits -> [line, direction]
    Supertrend(usize, u64),
    /// period -> [upper, middle, lower]
    Donchian(usize),
}

/// The outputs of one indicator over the close (or OHLC) columns.
pub type Outputs = Arc<Vec<Vec<f64>>>;

/// Computes each distinct indicator once, on first use, for one dataset.
/// Threads asking for the same indicator wait for the one computing it.
#[derive(Debug, Default)]
pub struct IndicatorCache {
    map: Mutex<HashMap<IndicatorKey, Arc<OnceLock<Outputs>>>>,
}

impl IndicatorCache {
    /// The indicator's outputs over `c` (which must be the cache's dataset).
    pub fn get(&self, c: CandlesView<'_>, key: IndicatorKey) -> Outputs {
        let cell = {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(map.entry(key).or_default())
        };
        Arc::clone(cell.get_or_init(|| Arc::new(compute(c, key))))
    }

    /// Number of distinct indicators computed or being computed.
    pub(crate) fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// Periods and multipliers were validated with the bundle; a rejected one here
/// would be a bug, and yields NaN columns (no signals) rather than a panic.
fn compute(c: CandlesView<'_>, key: IndicatorKey) -> Vec<Vec<f64>> {
    let n = c.len();
    let col = || vec![f64::NAN; n];
    match key {
        IndicatorKey::Sma(p) => {
            let mut o = col();
            let _ = indicators::sma(c.close, p, &mut o);
            vec![o]
        }
        IndicatorKey::Ema(p) => {
            let mut o = col();
            let _ = indicators::ema(c.close, p, &mut o);
            vec![o]
        }
        IndicatorKey::Rsi(p) => {
            let mut o = col();
            let _ = indicators::rsi(c.close, p, &mut o);
            vec![o]
        }
        IndicatorKey::Macd(f, s, g) => {
            let (mut a, mut b, mut h) = (col(), col(), col());
            let _ = indicators::macd(c.close, f, s, g, &mut a, &mut b, &mut h);
            vec![a, b, h]
        }
        IndicatorKey::Bbands(p, k) => {
            let (mut u, mut m, mut l) = (col(), col(), col());
            let _ = indicators::bbands(c.close, p, f64::from_bits(k), &mut u, &mut m, &mut l);
            vec![u, m, l]
        }
        IndicatorKey::Supertrend(p, m) => {
            let (mut s, mut d) = (col(), col());
            let _ = indicators::supertrend(c.high, c.low, c.close, p, f64::from_bits(m), &mut s, &mut d);
            vec![s, d]
        }
        IndicatorKey::Donchian(p) => {
            let (mut u, mut m, mut l) = (col(), col(), col());
            let _ = indicators::donchian(c.high, c.low, p, &mut u, &mut m, &mut l);
            vec![u, m, l]
        }
    }
}
