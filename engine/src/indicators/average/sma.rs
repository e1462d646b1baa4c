use crate::indicators::{IndicatorError, check_len, check_period, warmup};

/// Simple moving average, TA-Lib `SMA`: `out[i]` is the mean of
/// `input[i+1-period..=i]`, NaN for `i < period - 1`.
///
/// A running sum (as TA-Lib keeps), recomputed from scratch every 4096 bars so
/// that rounding cannot drift over millions of bars.
pub fn sma(input: &[f64], period: usize, out: &mut [f64]) -> Result<(), IndicatorError> {
    check_period("period", period, 1)?;
    check_len("out", out.len(), input.len())?;
    sma_unchecked(input, period, out);
    Ok(())
}

pub(crate) fn sma_unchecked(input: &[f64], period: usize, out: &mut [f64]) {
    let n = input.len();
    warmup(out, period - 1);
    if n < period {
        return;
    }
    let p = period as f64;
    let mut sum: f64 = input[..period].iter().sum();
    out[period - 1] = sum / p;
    for i in period..n {
        if (i - period) % 4096 == 4095 {
            sum = input[i + 1 - period..=i].iter().sum();
        } else {
            sum += input[i] - input[i - period];
        }
        out[i] = sum / p;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::reference::{assert_close, naive_sma, random_walk};

    #[test]
    fn hand_computed() {
        let mut out = [0.0; 5];
        sma(&[1.0, 2.0, 3.0, 4.0, 10.0], 3, &mut out).expect("sma");
        assert!(out[0].is_nan() && out[1].is_nan());
        assert_eq!(&out[2..], &[2.0, 3.0, 17.0 / 3.0]);
    }

    #[test]
    fn matches_naive_reference() {
        let x = random_walk(10_000, 1);
        for p in [1, 2, 7, 50] {
            let mut out = vec![0.0; x.len()];
            sma(&x, p, &mut out).expect("sma");
            assert_close(&out, &naive_sma(&x, p));
        }
    }

    #[test]
    fn short_input_and_bad_arguments() {
        let mut out = [0.0; 2];
        sma(&[1.0, 2.0], 3, &mut out).expect("sma");
        assert!(out.iter().all(|v| v.is_nan()));
        assert_eq!(
            sma(&[1.0], 0, &mut [0.0]).map_err(|e| e.to_string()),
            Err("period must be at least 1, got 0".to_owned())
        );
        assert_eq!(
            sma(&[1.0, 2.0], 1, &mut [0.0]).map_err(|e| e.to_string()),
            Err("out has length 1, expected 2".to_owned())
        );
    }
}
