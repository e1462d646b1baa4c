use crate::indicators::average::sma::sma_unchecked;
use crate::indicators::{IndicatorError, check_len, check_period, warmup};

/// Stochastic oscillator, TA-Lib `STOCH` with SMA smoothing:
/// - fast %K = `(close - LL) / ((HH - LL) / 100)` over the last `fastk` bars,
///   in TA-Lib's order of operations (0 when that divisor is 0);
/// - slow %K = SMA(`slowk`) of fast %K; %D = SMA(`slowd`) of slow %K, both
///   [`sma`](crate::indicators::sma)'s running sum in TA-Lib's order, so the
///   outputs equal TA-Lib's bit for bit;
/// - both outputs begin where %D does, at `i = fastk - 1 + slowk - 1 + slowd - 1`,
///   NaN before.
#[allow(clippy::too_many_arguments)]
pub fn stoch(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    fastk: usize,
    slowk: usize,
    slowd: usize,
    k_out: &mut [f64],
    d_out: &mut [f64],
) -> Result<(), IndicatorError> {
    check_period("fastk", fastk, 1)?;
    check_period("slowk", slowk, 1)?;
    check_period("slowd", slowd, 1)?;
    let n = close.len();
    check_len("high", high.len(), n)?;
    check_len("low", low.len(), n)?;
    check_len("k_out", k_out.len(), n)?;
    check_len("d_out", d_out.len(), n)?;
    let first = fastk - 1 + slowk - 1 + slowd - 1;
    warmup(k_out, first);
    warmup(d_out, first);
    if n <= first {
        return Ok(());
    }
    // Fast %K into d_out (scratch), from fastk - 1.
    let f0 = fastk - 1;
    for i in f0..n {
        let w = i + 1 - fastk..=i;
        let hh = high[w.clone()].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let ll = low[w].iter().copied().fold(f64::INFINITY, f64::min);
        let diff = (hh - ll) / 100.0;
        d_out[i] = if diff == 0.0 { 0.0 } else { (close[i] - ll) / diff };
    }
    sma_unchecked(&d_out[f0..], slowk, &mut k_out[f0..]);
    let k0 = f0 + slowk - 1;
    sma_unchecked(&k_out[k0..], slowd, &mut d_out[k0..]);
    warmup(k_out, first);
    warmup(d_out, first);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::reference::{assert_close, naive_stoch, random_ohlc};

    #[test]
    fn hand_computed() {
        // fastk 2, slowk 2, slowd 1.
        let h = [10.0, 12.0, 11.0, 14.0];
        let l = [8.0, 9.0, 9.0, 10.0];
        let c = [9.0, 11.0, 10.0, 13.0];
        // fast %K: i1: (11-8)/(12-8)=75; i2: (10-9)/(12-9)=33.33; i3: (13-9)/(14-9)=80.
        let (mut k, mut d) = ([0.0; 4], [0.0; 4]);
        stoch(&h, &l, &c, 2, 2, 1, &mut k, &mut d).expect("stoch");
        assert!(k[..2].iter().chain(&d[..2]).all(|v| v.is_nan()));
        let f = [75.0, 100.0 / 3.0, 80.0];
        assert_close(&k[2..], &[(f[0] + f[1]) / 2.0, (f[1] + f[2]) / 2.0]);
        assert_close(&d[2..], &k[2..]);
    }

    #[test]
    fn matches_naive_reference() {
        let (_, h, l, c) = random_ohlc(3_000, 7);
        for (a, b, d) in [(14, 3, 3), (5, 1, 1), (1, 2, 4)] {
            let (mut k, mut dd) = (vec![0.0; c.len()], vec![0.0; c.len()]);
            stoch(&h, &l, &c, a, b, d, &mut k, &mut dd).expect("stoch");
            let (rk, rd) = naive_stoch(&h, &l, &c, a, b, d);
            assert_close(&k, &rk);
            assert_close(&dd, &rd);
        }
    }
}
