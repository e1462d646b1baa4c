use crate::indicators::{IndicatorError, check_len, check_period, warmup};

/// Weighted moving average, TA-Lib `WMA`: weights `1..=period`, the newest bar
/// weighted `period`, divided by `period * (period + 1) / 2`. NaN for
/// `i < period - 1`.
///
/// O(n): a running plain sum and weighted sum (`W' = W + period*x_new - S`),
/// both recomputed every 4096 bars to bound rounding drift.
pub fn wma(input: &[f64], period: usize, out: &mut [f64]) -> Result<(), IndicatorError> {
    check_period("period", period, 1)?;
    check_len("out", out.len(), input.len())?;
    let n = input.len();
    warmup(out, period - 1);
    if n < period {
        return Ok(());
    }
    let p = period as f64;
    let denom = p * (p + 1.0) / 2.0;
    let exact = |end: usize| -> (f64, f64) {
        let w = &input[end + 1 - period..=end];
        let s: f64 = w.iter().sum();
        let ws: f64 = w.iter().enumerate().map(|(j, v)| (j + 1) as f64 * v).sum();
        (s, ws)
    };
    let (mut s, mut ws) = exact(period - 1);
    out[period - 1] = ws / denom;
    for i in period..n {
        if (i - period) % 4096 == 4095 {
            (s, ws) = exact(i);
        } else {
            // Shift weights down by one (subtract the old sum), add the new bar at weight p.
            ws += p * input[i] - s;
            s += input[i] - input[i - period];
        }
        out[i] = ws / denom;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::reference::{assert_close, naive_wma, random_walk};

    #[test]
    fn hand_computed() {
        let mut out = [0.0; 4];
        wma(&[1.0, 2.0, 3.0, 6.0], 3, &mut out).expect("wma");
        // (1*1 + 2*2 + 3*3)/6 = 14/6; (1*2 + 2*3 + 3*6)/6 = 26/6.
        assert!(out[0].is_nan() && out[1].is_nan());
        assert_eq!(&out[2..], &[14.0 / 6.0, 26.0 / 6.0]);
    }

    #[test]
    fn matches_naive_reference() {
        let x = random_walk(10_000, 3);
        for p in [1, 2, 9, 30] {
            let mut out = vec![0.0; x.len()];
            wma(&x, p, &mut out).expect("wma");
            assert_close(&out, &naive_wma(&x, p));
        }
    }
}
