use crate::indicators::{IndicatorError, check_len, check_period, warmup};

/// Relative strength index, TA-Lib `RSI`: changes start at the second bar; the
/// first average gain and loss are the simple means of the first `period`
/// changes, then Wilder smoothing `avg = (avg * (period - 1) + x) / period`.
/// `RSI = 100 * (gain / (gain + loss))` in TA-Lib's order of operations (the
/// quotient first), so the outputs equal TA-Lib's bit for bit; 0 when both are
/// 0 (TA-Lib tests the sum against a tiny threshold instead). First value at
/// `i = period`, NaN before.
pub fn rsi(input: &[f64], period: usize, out: &mut [f64]) -> Result<(), IndicatorError> {
    check_period("period", period, 1)?;
    check_len("out", out.len(), input.len())?;
    let n = input.len();
    warmup(out, period);
    if n <= period {
        return Ok(());
    }
    let p = period as f64;
    let (mut gain, mut loss) = (0.0, 0.0);
    for i in 1..=period {
        let d = input[i] - input[i - 1];
        if d > 0.0 {
            gain += d;
        } else {
            loss -= d;
        }
    }
    gain /= p;
    loss /= p;
    let value = |g: f64, l: f64| if g + l == 0.0 { 0.0 } else { 100.0 * (g / (g + l)) };
    out[period] = value(gain, loss);
    for i in period + 1..n {
        let d = input[i] - input[i - 1];
        let (up, down) = if d > 0.0 { (d, 0.0) } else { (0.0, -d) };
        gain = (gain * (p - 1.0) + up) / p;
        loss = (loss * (p - 1.0) + down) / p;
        out[i] = value(gain, loss);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::reference::{assert_close, naive_rsi, random_walk};

    #[test]
    fn hand_computed() {
        // changes: +1, -2, +3, +1; period 2: gain (1+0)/2 = 0.5, loss (0+2)/2 = 1 -> 100*0.5/1.5.
        let x = [10.0, 11.0, 9.0, 12.0, 13.0];
        let mut out = [0.0; 5];
        rsi(&x, 2, &mut out).expect("rsi");
        assert!(out[0].is_nan() && out[1].is_nan());
        assert_eq!(out[2], 100.0 * (0.5 / 1.5));
        // next: gain (0.5 + 3)/2 = 1.75, loss (1 + 0)/2 = 0.5
        assert_eq!(out[3], 100.0 * (1.75 / 2.25));
        // next: gain (1.75 + 1)/2 = 1.375, loss 0.25
        assert_eq!(out[4], 100.0 * (1.375 / 1.625));
        let mut flat = [0.0; 4];
        rsi(&[5.0; 4], 2, &mut flat).expect("rsi");
        assert_eq!(&flat[2..], &[0.0, 0.0]);
    }

    #[test]
    fn matches_naive_reference() {
        let x = random_walk(5_000, 4);
        for p in [1, 2, 14, 50] {
            let mut out = vec![0.0; x.len()];
            rsi(&x, p, &mut out).expect("rsi");
            assert_close(&out, &naive_rsi(&x, p));
        }
    }
}
