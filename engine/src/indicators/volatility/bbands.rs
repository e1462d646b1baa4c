use crate::indicators::average::sma::sma_unchecked;
use crate::indicators::{IndicatorError, check_len, check_period, warmup};

/// Bollinger bands, TA-Lib `BBANDS` with an SMA middle and equal deviations up
/// and down: middle = SMA(`period`), upper/lower = middle ± `k` × the
/// population standard deviation of the same window. NaN for `i < period - 1`.
///
/// The middle band is [`sma`](crate::indicators::sma), TA-Lib's running sum in
/// its order of operations, so it equals TA-Lib's middle band and an `sma` of
/// the same period bit for bit. The deviation departs from TA-Lib on purpose:
/// TA-Lib takes `sqrt(sum(x²)/period - mean²)` from a running sum of squares
/// (and 0 below 1e-8), which leaves a residual of about 1e-15 × price² in flat
/// windows, a spurious band width of 1e-7 × price at high prices; here each
/// window's deviation from that middle is summed in a second pass (O(n ×
/// period)), within about 1e-15 relative of TA-Lib elsewhere. The bands are
/// `middle ± sd × k`, as TA-Lib adds them.
#[allow(clippy::too_many_arguments)]
pub fn bbands(
    input: &[f64],
    period: usize,
    k: f64,
    upper: &mut [f64],
    middle: &mut [f64],
    lower: &mut [f64],
) -> Result<(), IndicatorError> {
    check_period("period", period, 1)?;
    if !k.is_finite() {
        return Err(IndicatorError::Parameter { name: "k", value: k.to_string() });
    }
    let n = input.len();
    check_len("upper", upper.len(), n)?;
    check_len("middle", middle.len(), n)?;
    check_len("lower", lower.len(), n)?;
    for o in [&mut *upper, &mut *middle, &mut *lower] {
        warmup(o, period - 1);
    }
    if n < period {
        return Ok(());
    }
    let p = period as f64;
    sma_unchecked(input, period, middle);
    for i in period - 1..n {
        let w = &input[i + 1 - period..=i];
        let mean = middle[i];
        let var = w.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / p;
        let d = var.sqrt() * k;
        upper[i] = mean + d;
        lower[i] = mean - d;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::reference::{assert_close, naive_bbands, random_walk};

    #[test]
    fn hand_computed() {
        // window (2, 4, 4, 4, 5, 5, 7, 9): mean 5, population sd 2.
        let x = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let (mut u, mut m, mut l) = ([0.0; 8], [0.0; 8], [0.0; 8]);
        bbands(&x, 8, 2.0, &mut u, &mut m, &mut l).expect("bbands");
        assert!(u[..7].iter().all(|v| v.is_nan()));
        assert_eq!((u[7], m[7], l[7]), (9.0, 5.0, 1.0));
    }

    #[test]
    fn matches_naive_reference_at_high_prices() {
        for (seed, level) in [(10, 1.0), (11, 40_000.0)] {
            let x: Vec<f64> = random_walk(5_000, seed).iter().map(|v| v * level).collect();
            for (p, k) in [(1, 2.0), (2, 1.5), (20, 2.0), (100, 3.0)] {
                let (mut u, mut m, mut l) = (vec![0.0; x.len()], vec![0.0; x.len()], vec![0.0; x.len()]);
                bbands(&x, p, k, &mut u, &mut m, &mut l).expect("bbands");
                let (ru, rm, rl) = naive_bbands(&x, p, k);
                assert_close(&m, &rm);
                assert_close(&u, &ru);
                assert_close(&l, &rl);
            }
        }
    }
}
