//! The seven strategies as they were hand-written before rules: the
//! reference the presets' rule forms must equal bit for bit. Each turns
//! indicator columns into one signal per bar, +1 (bullish), -1 (bearish) or
//! 0, decided at the bar's close.
//!
//! A cross is strict on both bars: `a` crosses above `b` at `t` when
//! `a[t-1] < b[t-1]` and `a[t] > b[t]` (below: the mirror). Comparisons with
//! NaN are false, so no signal fires during an indicator's warm-up.

use bt_candles::CandlesView;

use super::cache::{IndicatorCache, IndicatorKey};

/// Bollinger band rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BandMode {
    /// Bullish when the close crosses above the upper band, bearish below the lower.
    Breakout,
    /// Bullish when the close crosses below the lower band, bearish above the upper.
    Reversion,
}

/// A strategy with concrete parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Strategy {
    /// Fast SMA of the close crossing the slow one.
    SmaCross {
        fast: usize,
        slow: usize,
    },
    EmaCross {
        fast: usize,
        slow: usize,
    },
    /// Bullish when RSI crosses up through `lower`, bearish when it crosses down through `upper`.
    Rsi {
        period: usize,
        lower: f64,
        upper: f64,
    },
    /// MACD line crossing its signal line.
    MacdCross {
        fast: usize,
        slow: usize,
        signal: usize,
    },
    Bollinger {
        period: usize,
        k: f64,
        mode: BandMode,
    },
    /// Bullish when the SuperTrend direction flips up, bearish when it flips down.
    Supertrend {
        period: usize,
        multiplier: f64,
    },
    /// Bullish when the close exceeds the previous bar's `period`-bar high,
    /// bearish when it falls below the previous bar's `period`-bar low.
    Donchian {
        period: usize,
    },
}

impl Strategy {
    /// Writes the signal of every bar into `out` (length of the candles).
    pub fn signals(&self, c: CandlesView<'_>, cache: &IndicatorCache, out: &mut [i8]) {
        let n = c.len().min(out.len());
        out[..n].fill(0);
        match *self {
            Self::SmaCross { fast, slow } => {
                let (a, b) = (cache.get(c, IndicatorKey::Sma(fast)), cache.get(c, IndicatorKey::Sma(slow)));
                cross(&a[0], &b[0], out);
            }
            Self::EmaCross { fast, slow } => {
                let (a, b) = (cache.get(c, IndicatorKey::Ema(fast)), cache.get(c, IndicatorKey::Ema(slow)));
                cross(&a[0], &b[0], out);
            }
            Self::Rsi { period, lower, upper } => {
                let r = cache.get(c, IndicatorKey::Rsi(period));
                let r = &r[0];
                for t in 1..n {
                    if r[t - 1] < lower && r[t] > lower {
                        out[t] = 1;
                    } else if r[t - 1] > upper && r[t] < upper {
                        out[t] = -1;
                    }
                }
            }
            Self::MacdCross { fast, slow, signal } => {
                let m = cache.get(c, IndicatorKey::Macd(fast, slow, signal));
                cross(&m[0], &m[1], out);
            }
            Self::Bollinger { period, k, mode } => {
                let b = cache.get(c, IndicatorKey::Bbands(period, k.to_bits()));
                let (upper, lower) = (&b[0], &b[2]);
                for t in 1..n {
                    let (p, x) = (c.close[t - 1], c.close[t]);
                    let above = p < upper[t - 1] && x > upper[t];
                    let below = p > lower[t - 1] && x < lower[t];
                    out[t] = match mode {
                        BandMode::Breakout => i8::from(above) - i8::from(below),
                        BandMode::Reversion => i8::from(below) - i8::from(above),
                    };
                }
            }
            Self::Supertrend { period, multiplier } => {
                let s = cache.get(c, IndicatorKey::Supertrend(period, multiplier.to_bits()));
                let d = &s[1];
                for t in 1..n {
                    if d[t - 1] < 0.0 && d[t] > 0.0 {
                        out[t] = 1;
                    } else if d[t - 1] > 0.0 && d[t] < 0.0 {
                        out[t] = -1;
                    }
                }
            }
            Self::Donchian { period } => {
                let ch = cache.get(c, IndicatorKey::Donchian(period));
                let (upper, lower) = (&ch[0], &ch[2]);
                for t in 1..n {
                    if c.close[t] > upper[t - 1] {
                        out[t] = 1;
                    } else if c.close[t] < lower[t - 1] {
                        out[t] = -1;
                    }
                }
            }
        }
    }
}

/// +1 where `a` crosses above `b`, -1 where it crosses below (strict on both bars).
pub fn cross(a: &[f64], b: &[f64], out: &mut [i8]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 was just detected.
        return unsafe { cross_avx2(a, b, out) };
    }
    cross_with(a, b, out)
}

/// [`cross`] compiled for AVX2 (4 lanes of f64 instead of SSE2's 2).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn cross_avx2(a: &[f64], b: &[f64], out: &mut [i8]) {
    cross_with(a, b, out)
}

#[inline(always)]
fn cross_with(a: &[f64], b: &[f64], out: &mut [i8]) {
    let n = a.len().min(b.len()).min(out.len());
    if n < 2 {
        return;
    }
    // Equal-length slices and `&` (not `&&`): no bounds checks, no branches,
    // so the loop vectorises (a sweep computes this once per strategy).
    let (a0, a1, b0, b1, out) = (&a[..n - 1], &a[1..n], &b[..n - 1], &b[1..n], &mut out[1..n]);
    for t in 0..n - 1 {
        let up = (a0[t] < b0[t]) & (a1[t] > b1[t]);
        let down = (a0[t] > b0[t]) & (a1[t] < b1[t]);
        out[t] = i8::from(up) - i8::from(down);
    }
}

#[cfg(test)]
mod tests {
    use bt_candles::Columns;

    use super::*;

    #[test]
    fn cross_is_strict_on_both_bars() {
        let a = [1.0, 3.0, 3.0, 4.0, 1.0, f64::NAN, 5.0];
        let b = [2.0, 2.0, 3.0, 3.0, 2.0, 2.0, 2.0];
        let mut out = [9i8; 7];
        cross(&a, &b, &mut out[..]);
        // t1: 1<2 and 3>2 -> +1; t2: equal -> 0; t3: 3==3 before -> 0; t4: 4>3, 1<2 -> -1; NaN -> 0.
        assert_eq!(&out[1..], &[1, 0, 0, -1, 0, 0]);
    }

    fn closes(v: &[f64]) -> Columns {
        let mut c = Columns::default();
        for (i, &x) in v.iter().enumerate() {
            c.push(i as i64 * 60_000, x, x, x, x, 1.0);
        }
        c
    }

    #[test]
    fn sma_cross_signals_on_the_crossing_bar() {
        // SMA(1) is the close; SMA(3) lags: the close crosses it upward at t=4, downward at t=7.
        let c = closes(&[10.0, 9.0, 8.0, 7.0, 12.0, 13.0, 14.0, 5.0, 4.0]);
        let cache = IndicatorCache::default();
        let mut out = vec![0i8; 9];
        Strategy::SmaCross { fast: 1, slow: 3 }.signals(c.view(), &cache, &mut out);
        assert_eq!(out, [0, 0, 0, 0, 1, 0, 0, -1, 0]);
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn rsi_thresholds() {
        // Down, down, then up: RSI(1) is 0 after a fall and 100 after a rise.
        let c = closes(&[10.0, 9.0, 8.0, 9.0, 10.0, 9.0]);
        let mut out = vec![0i8; 6];
        Strategy::Rsi { period: 1, lower: 30.0, upper: 70.0 }.signals(
            c.view(),
            &IndicatorCache::default(),
            &mut out,
        );
        assert_eq!(out, [0, 0, 0, 1, 0, -1]);
    }

    fn ohlc(rows: &[(f64, f64, f64)]) -> Columns {
        let mut c = Columns::default();
        for (i, &(h, l, cl)) in rows.iter().enumerate() {
            c.push(i as i64 * 60_000, cl, h.max(cl), l.min(cl), cl, 1.0);
        }
        c
    }

    #[test]
    fn donchian_breaks_the_previous_bars_channel() {
        // period 2: bar 3 closes above max(high[1], high[2]) = 11; bar 5 below min(low[3], low[4]) = 9.
        let c = ohlc(&[
            (10.0, 9.0, 9.5),
            (11.0, 9.5, 10.0),
            (10.5, 9.8, 10.0),
            (12.0, 10.0, 11.5),
            (12.0, 9.0, 10.0),
            (10.0, 8.0, 8.5),
        ]);
        let mut out = vec![0i8; 6];
        Strategy::Donchian { period: 2 }.signals(c.view(), &IndicatorCache::default(), &mut out);
        assert_eq!(out, [0, 0, 0, 1, 0, -1]);
    }

    #[test]
    fn bollinger_modes_are_mirror_images() {
        // period 3, k 1: a jump far above the band, then a fall far below it.
        let c = closes(&[10.0, 10.2, 9.9, 10.1, 20.0, 20.3, 20.0, 5.0]);
        let cache = IndicatorCache::default();
        let (mut b, mut r) = (vec![0i8; 8], vec![0i8; 8]);
        Strategy::Bollinger { period: 3, k: 1.0, mode: BandMode::Breakout }.signals(c.view(), &cache, &mut b);
        Strategy::Bollinger { period: 3, k: 1.0, mode: BandMode::Reversion }.signals(
            c.view(),
            &cache,
            &mut r,
        );
        // Bar 4: close 20 > upper (mean 13.33 + sd 4.71); bar 7: close 5 < lower (mean 15 - sd 7.07).
        assert_eq!(b, [0, 0, 0, 0, 1, 0, 0, -1]);
        assert_eq!(r, [0, 0, 0, 0, -1, 0, 0, 1]);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn supertrend_and_macd_signal_on_flips_and_crosses() {
        let mut v: Vec<f64> = (0..40).map(|i| 100.0 - i as f64).collect();
        v.extend((0..40).map(|i| 60.0 + 2.0 * i as f64));
        let c = closes(&v);
        let cache = IndicatorCache::default();
        let mut st = vec![0i8; v.len()];
        Strategy::Supertrend { period: 3, multiplier: 1.0 }.signals(c.view(), &cache, &mut st);
        let ups: Vec<usize> = (0..v.len()).filter(|&t| st[t] == 1).collect();
        assert_eq!(ups.len(), 1, "{st:?}");
        assert!(ups[0] > 40 && ups[0] < 46, "flip up soon after the turn at bar 40: {ups:?}");
        assert!(st.iter().all(|&x| x >= 0));
        // MACD: an accelerating fall keeps the line below its signal, the
        // rebound crosses it (a straight line would keep them equal: no strict cross).
        let mut v: Vec<f64> = (0..40).map(|i| 100.0 - 0.02 * (i * i) as f64).collect();
        v.extend((0..40).map(|i| 68.8 + 2.0 * i as f64));
        let c = closes(&v);
        let mut m = vec![0i8; v.len()];
        Strategy::MacdCross { fast: 3, slow: 6, signal: 3 }.signals(
            c.view(),
            &IndicatorCache::default(),
            &mut m,
        );
        let ups: Vec<usize> = (0..v.len()).filter(|&t| m[t] == 1).collect();
        // The fall slows at bar 40 (-0.78 after -1.54): the line turns up through its signal there.
        assert_eq!(ups, [40], "{m:?}");
        assert!(m.iter().all(|&x| x >= 0));
    }
}
