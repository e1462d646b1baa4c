use crate::indicators::{IndicatorError, check_len, check_period, warmup};

/// True range, TA-Lib `TRANGE`: `max(h - l, |h - c[-1]|, |l - c[-1]|)` from the
/// second bar on; `out[0]` is NaN.
pub fn true_range(high: &[f64], low: &[f64], close: &[f64], out: &mut [f64]) -> Result<(), IndicatorError> {
    let n = close.len();
    check_len("high", high.len(), n)?;
    check_len("low", low.len(), n)?;
    check_len("out", out.len(), n)?;
    warmup(out, 1);
    for i in 1..n {
        out[i] = tr(high, low, close, i);
    }
    Ok(())
}

#[inline]
pub(crate) fn tr(high: &[f64], low: &[f64], close: &[f64], i: usize) -> f64 {
    let pc = close[i - 1];
    (high[i] - low[i]).max((high[i] - pc).abs()).max((low[i] - pc).abs())
}

/// Average true range, TA-Lib `ATR`: the true range starts at the second bar;
/// the first ATR, at `i = period`, is the mean of the first `period` true
/// ranges; then Wilder smoothing `atr = (atr * (period - 1) + tr) / period`.
/// NaN before.
pub fn atr(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    period: usize,
    out: &mut [f64],
) -> Result<(), IndicatorError> {
    check_period("period", period, 1)?;
    let n = close.len();
    check_len("high", high.len(), n)?;
    check_len("low", low.len(), n)?;
    check_len("out", out.len(), n)?;
    atr_unchecked(high, low, close, period, out);
    Ok(())
}

pub(crate) fn atr_unchecked(high: &[f64], low: &[f64], close: &[f64], period: usize, out: &mut [f64]) {
    let n = close.len();
    warmup(out, period);
    if n <= period {
        return;
    }
    let p = period as f64;
    let mut a = (1..=period).map(|i| tr(high, low, close, i)).sum::<f64>() / p;
    out[period] = a;
    for i in period + 1..n {
        a = (a * (p - 1.0) + tr(high, low, close, i)) / p;
        out[i] = a;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::reference::{assert_close, naive_atr, random_ohlc};

    #[test]
    fn hand_computed() {
        let h = [10.0, 11.0, 12.0, 11.5];
        let l = [9.0, 9.5, 10.5, 10.0];
        let c = [9.5, 10.5, 11.5, 10.5];
        // TR: -, 1.5, 1.5, 1.5 -> period 2: ATR(2) = 1.5, ATR(3) = (1.5 + 1.5)/2.
        let mut t = [0.0; 4];
        true_range(&h, &l, &c, &mut t).expect("tr");
        assert!(t[0].is_nan());
        assert_eq!(&t[1..], &[1.5, 1.5, 1.5]);
        let h2 = [10.0, 11.0, 14.0, 11.5];
        // TR with a wide bar: i2 = max(3.5, 3.5, 0) = 3.5; i3 = max(1.5, |11.5-11.5|, |10-11.5|) = 1.5
        let mut a = [0.0; 4];
        atr(&h2, &l, &c, 2, &mut a).expect("atr");
        assert!(a[0].is_nan() && a[1].is_nan());
        assert_eq!(&a[2..], &[(1.5 + 3.5) / 2.0, (2.5 + 1.5) / 2.0]);
    }

    #[test]
    fn matches_naive_reference() {
        let (_, h, l, c) = random_ohlc(3_000, 9);
        for p in [1, 2, 14, 60] {
            let mut out = vec![0.0; c.len()];
            atr(&h, &l, &c, p, &mut out).expect("atr");
            assert_close(&out, &naive_atr(&h, &l, &c, p));
        }
    }
}
