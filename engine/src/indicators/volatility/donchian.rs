use std::collections::VecDeque;

use crate::indicators::{IndicatorError, check_len, check_period, warmup};

/// Donchian channel: upper = highest high and lower = lowest low of the last
/// `period` bars including the current one, middle = their mean. NaN for
/// `i < period - 1`. (Breakout rules compare a close with the previous bar's
/// channel.)
///
/// O(n) with monotonic deques of indices (the one allocation of this module).
pub fn donchian(
    high: &[f64],
    low: &[f64],
    period: usize,
    upper: &mut [f64],
    middle: &mut [f64],
    lower: &mut [f64],
) -> Result<(), IndicatorError> {
    check_period("period", period, 1)?;
    let n = high.len();
    check_len("low", low.len(), n)?;
    check_len("upper", upper.len(), n)?;
    check_len("middle", middle.len(), n)?;
    check_len("lower", lower.len(), n)?;
    for o in [&mut *upper, &mut *middle, &mut *lower] {
        warmup(o, period - 1);
    }
    let mut maxq: VecDeque<usize> = VecDeque::with_capacity(period + 1);
    let mut minq: VecDeque<usize> = VecDeque::with_capacity(period + 1);
    for i in 0..n {
        while maxq.back().is_some_and(|&j| high[j] <= high[i]) {
            maxq.pop_back();
        }
        maxq.push_back(i);
        while minq.back().is_some_and(|&j| low[j] >= low[i]) {
            minq.pop_back();
        }
        minq.push_back(i);
        if i + 1 >= period {
            let start = i + 1 - period;
            while maxq.front().is_some_and(|&j| j < start) {
                maxq.pop_front();
            }
            while minq.front().is_some_and(|&j| j < start) {
                minq.pop_front();
            }
            let (hi, lo) = (high[maxq[0]], low[minq[0]]);
            upper[i] = hi;
            lower[i] = lo;
            middle[i] = (hi + lo) / 2.0;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::reference::{assert_close, naive_donchian, random_ohlc};

    #[test]
    fn hand_computed() {
        let h = [5.0, 7.0, 6.0, 4.0, 8.0];
        let l = [1.0, 3.0, 2.0, 0.5, 4.0];
        let (mut u, mut m, mut lo) = ([0.0; 5], [0.0; 5], [0.0; 5]);
        donchian(&h, &l, 3, &mut u, &mut m, &mut lo).expect("donchian");
        assert!(u[0].is_nan() && u[1].is_nan());
        assert_eq!(&u[2..], &[7.0, 7.0, 8.0]);
        assert_eq!(&lo[2..], &[1.0, 0.5, 0.5]);
        assert_eq!(&m[2..], &[4.0, 3.75, 4.25]);
    }

    #[test]
    fn matches_naive_reference() {
        let (_, h, l, _) = random_ohlc(3_000, 12);
        for p in [1, 2, 20, 55] {
            let (mut u, mut m, mut lo) = (vec![0.0; h.len()], vec![0.0; h.len()], vec![0.0; h.len()]);
            donchian(&h, &l, p, &mut u, &mut m, &mut lo).expect("donchian");
            let (ru, rm, rl) = naive_donchian(&h, &l, p);
            assert_close(&u, &ru);
            assert_close(&m, &rm);
            assert_close(&lo, &rl);
        }
    }
}
