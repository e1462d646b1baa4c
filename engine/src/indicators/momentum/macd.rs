use crate::indicators::average::ema::ema_from;
use crate::indicators::{IndicatorError, check_len, check_period, warmup};

/// MACD, as TA-Lib's `MACD` function computes it (`k = 2 / (n + 1)` for all
/// three EMAs; `fast` and `slow` swapped if given the wrong way round):
/// - the slow EMA is seeded with the SMA of the first `slow` values, at
///   `i = slow - 1`;
/// - the fast EMA is started late, seeded with the SMA of the `fast` values
///   ending at `slow - 1`, so both begin on the same bar;
/// - line = fast - slow; signal = EMA(`signal`) of the line, seeded with the
///   SMA of its first `signal` values; histogram = line - signal;
/// - all three outputs begin where the signal does, at
///   `i = slow - 1 + signal - 1`, NaN before.
#[allow(clippy::too_many_arguments)]
pub fn macd(
    input: &[f64],
    fast: usize,
    slow: usize,
    signal: usize,
    line: &mut [f64],
    signal_out: &mut [f64],
    hist: &mut [f64],
) -> Result<(), IndicatorError> {
    check_period("fast", fast, 1)?;
    check_period("slow", slow, 1)?;
    check_period("signal", signal, 1)?;
    let n = input.len();
    check_len("line", line.len(), n)?;
    check_len("signal_out", signal_out.len(), n)?;
    check_len("hist", hist.len(), n)?;
    let (fast, slow) = if slow < fast { (slow, fast) } else { (fast, slow) };
    let first_line = slow - 1;
    let first = first_line + signal - 1;
    warmup(line, first);
    warmup(signal_out, first);
    warmup(hist, first);
    if n <= first {
        return Ok(());
    }
    // Slow EMA into `line`, fast EMA into `hist` (as scratch), both from `first_line`.
    ema_from(input, slow, first_line, line);
    ema_from(input, fast, first_line, hist);
    for i in first_line..n {
        line[i] = hist[i] - line[i];
    }
    ema_from(&line[..n], signal, first, signal_out);
    for i in first..n {
        hist[i] = line[i] - signal_out[i];
    }
    warmup(line, first);
    warmup(hist, first);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::reference::{assert_close, naive_macd, random_walk};

    #[test]
    fn hand_computed() {
        // fast 2, slow 3, signal 2 on 1, 2, 4, 8, 16.
        // slow EMA (k=0.5): seed mean(1,2,4)=7/3 at i=2; i=3: 7/3+0.5*(8-7/3)=31/6; i=4: 31/6+0.5*(16-31/6)=127/12.
        // fast EMA (k=2/3): seed mean(2,4)=3 at i=2; i=3: 3+2/3*5=19/3; i=4: 19/3+2/3*(16-19/3)=115/9.
        // line: i=2: 3-7/3=2/3; i=3: 19/3-31/6=7/6; i=4: 115/9-127/12=79/36.
        // signal (k=2/3): seed mean(2/3, 7/6)=11/12 at i=3; i=4: 11/12+2/3*(79/36-11/12)=...
        let x = [1.0, 2.0, 4.0, 8.0, 16.0];
        let (mut l, mut s, mut h) = ([0.0; 5], [0.0; 5], [0.0; 5]);
        macd(&x, 2, 3, 2, &mut l, &mut s, &mut h).expect("macd");
        assert!(l[..3].iter().chain(&s[..3]).chain(&h[..3]).all(|v| v.is_nan()));
        let sig4 = 11.0 / 12.0 + 2.0 / 3.0 * (79.0 / 36.0 - 11.0 / 12.0);
        assert_close(&l[3..], &[7.0 / 6.0, 79.0 / 36.0]);
        assert_close(&s[3..], &[11.0 / 12.0, sig4]);
        assert_close(&h[3..], &[7.0 / 6.0 - 11.0 / 12.0, 79.0 / 36.0 - sig4]);
        // Swapped fast/slow give the same.
        let (mut l2, mut s2, mut h2) = ([0.0; 5], [0.0; 5], [0.0; 5]);
        macd(&x, 3, 2, 2, &mut l2, &mut s2, &mut h2).expect("macd");
        assert_close(&l2, &l);
    }

    #[test]
    fn matches_naive_reference() {
        let x = random_walk(5_000, 6);
        for (f, sl, sg) in [(12, 26, 9), (3, 10, 16), (1, 2, 1), (5, 5, 5)] {
            let (mut l, mut s, mut h) = (vec![0.0; x.len()], vec![0.0; x.len()], vec![0.0; x.len()]);
            macd(&x, f, sl, sg, &mut l, &mut s, &mut h).expect("macd");
            let (rl, rs, rh) = naive_macd(&x, f, sl, sg);
            assert_close(&l, &rl);
            assert_close(&s, &rs);
            assert_close(&h, &rh);
        }
    }
}
