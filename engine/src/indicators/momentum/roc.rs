use crate::indicators::{IndicatorError, check_len, check_period, warmup};

/// Rate of change, TA-Lib `ROC`: `100 * (x[i] / x[i - period] - 1)`, 0 where
/// `x[i - period]` is 0. First value at `i = period`, NaN before.
pub fn roc(input: &[f64], period: usize, out: &mut [f64]) -> Result<(), IndicatorError> {
    check_period("period", period, 1)?;
    check_len("out", out.len(), input.len())?;
    warmup(out, period);
    for i in period..input.len() {
        let prev = input[i - period];
        out[i] = if prev == 0.0 { 0.0 } else { (input[i] / prev - 1.0) * 100.0 };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::reference::{assert_close, naive_roc, random_walk};

    #[test]
    fn hand_computed() {
        let mut out = [0.0; 4];
        roc(&[100.0, 50.0, 110.0, 100.0], 2, &mut out).expect("roc");
        assert!(out[0].is_nan() && out[1].is_nan());
        assert_close(&out[2..], &[10.000000000000009, 100.0]);
    }

    #[test]
    fn matches_naive_reference() {
        let x = random_walk(3_000, 5);
        for p in [1, 10, 100] {
            let mut out = vec![0.0; x.len()];
            roc(&x, p, &mut out).expect("roc");
            assert_close(&out, &naive_roc(&x, p));
        }
    }
}
