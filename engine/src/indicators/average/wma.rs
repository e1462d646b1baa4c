use crate::indicators::{IndicatorError, check_len, check_period, warmup};

/// Weighted moving average, TA-Lib `WMA`: weights `1..=period`, the newest bar
/// weighted `period`, divided by `period * (period + 1) / 2`. NaN for
/// `i < period - 1`.
///
/// O(n), in TA-Lib's order of operations so that every output equals
/// TA-Lib's bit for bit: a running plain sum `S` and weighted sum `W`, both
/// seeded left to right with the first `period - 1` values (weights
/// `1..period`); on each bar the new value is added to `S` and the value that
/// left the window on the previous bar subtracted from it, `period * new` is
/// added to `W`, the output is `W / denom`, and then `S` is subtracted from `W`
/// (every weight drops by one). Period 1 copies the input, as TA-Lib does.
pub fn wma(input: &[f64], period: usize, out: &mut [f64]) -> Result<(), IndicatorError> {
    check_period("period", period, 1)?;
    check_len("out", out.len(), input.len())?;
    let n = input.len();
    warmup(out, period - 1);
    if period == 1 {
        out.copy_from_slice(input);
        return Ok(());
    }
    if n < period {
        return Ok(());
    }
    let p = period as f64;
    let denom = p * (p + 1.0) / 2.0;
    let (mut s, mut ws) = (0.0, 0.0);
    for (j, &x) in input[..period - 1].iter().enumerate() {
        s += x;
        ws += x * (j + 1) as f64;
    }
    let mut trailing = 0.0;
    for i in period - 1..n {
        let x = input[i];
        s += x;
        s -= trailing;
        ws += x * p;
        trailing = input[i + 1 - period];
        out[i] = ws / denom;
        ws -= s;
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
