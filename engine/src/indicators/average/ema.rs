use crate::indicators::{IndicatorError, check_len, check_period, warmup};

/// Exponential moving average, TA-Lib `EMA`: seeded at `i = period - 1` with the
/// SMA of the first `period` values, then `prev + k * (x - prev)` with
/// `k = 2 / (period + 1)` (TA-Lib's form of `k*x + (1-k)*prev`). NaN before.
pub fn ema(input: &[f64], period: usize, out: &mut [f64]) -> Result<(), IndicatorError> {
    check_period("period", period, 1)?;
    check_len("out", out.len(), input.len())?;
    warmup(out, period - 1);
    if input.len() >= period {
        ema_from(input, period, period - 1, out);
    }
    Ok(())
}

/// EMA whose first output is at `first` (>= period - 1), seeded with the mean of
/// the `period` values ending there; `out[first..]` is written. TA-Lib's MACD
/// starts its fast EMA late this way.
pub(crate) fn ema_from(input: &[f64], period: usize, first: usize, out: &mut [f64]) {
    let k = 2.0 / (period as f64 + 1.0);
    let seed: f64 = input[first + 1 - period..=first].iter().sum::<f64>() / period as f64;
    let mut prev = seed;
    out[first] = prev;
    for i in first + 1..input.len() {
        prev += k * (input[i] - prev);
        out[i] = prev;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::reference::{assert_close, naive_ema, random_walk};

    #[test]
    fn hand_computed() {
        let mut out = [0.0; 5];
        ema(&[2.0, 4.0, 6.0, 8.0, 12.0], 3, &mut out).expect("ema");
        // seed = (2+4+6)/3 = 4; k = 0.5: 4 + 0.5*(8-4) = 6; 6 + 0.5*(12-6) = 9.
        assert!(out[0].is_nan() && out[1].is_nan());
        assert_eq!(&out[2..], &[4.0, 6.0, 9.0]);
    }

    #[test]
    fn matches_naive_reference() {
        let x = random_walk(5_000, 2);
        for p in [1, 3, 12, 26, 200] {
            let mut out = vec![0.0; x.len()];
            ema(&x, p, &mut out).expect("ema");
            assert_close(&out, &naive_ema(&x, p, p - 1));
        }
    }
}
