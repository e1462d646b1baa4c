use crate::indicators::{IndicatorError, check_len, check_period, warmup};

/// Simple moving average, TA-Lib `SMA`: `out[i]` is the mean of
/// `input[i+1-period..=i]`, NaN for `i < period - 1`.
///
/// A running sum in TA-Lib's order of operations, so that every output equals
/// TA-Lib's bit for bit: the first `period - 1` values summed left to right,
/// then on each bar the new value is added, the sum divided by `period`, and
/// only then the value leaving the window subtracted. (Updating the sum as
/// `sum += new - old` rounds differently: on prices on a tick grid two SMAs
/// that TA-Lib makes exactly equal came out one ulp apart, and a strict cross
/// fired on the noise.) Not resynchronised: the rounding error of a running
/// sum grows like the square root of the bar count, about 1e-13 relative
/// after a million bars.
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
    let mut sum = 0.0;
    for &x in &input[..period - 1] {
        sum += x;
    }
    for i in period - 1..n {
        sum += input[i];
        out[i] = sum / p;
        sum -= input[i + 1 - period];
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

    /// Tick-grid closes where the SMA(2) touches the SMA(4) twice (10.015 at
    /// bars 4 and 6) between moves: a strict cross needs the two apart on both
    /// bars, so none fires, as with TA-Lib. Updated as `sum += new - old`, the
    /// SMA(4) read 10.014999999999999 at bar 4 and 10.015000000000001 at bar 6,
    /// and the noise made a cross up at bar 4 and down at bar 7: one trade.
    #[test]
    fn tick_grid_ties_are_exact_and_sma_cross_takes_no_trade() {
        use bt_candles::Columns;

        use crate::bundle::{Bundle, Limits};
        use crate::sweep::{SweepControl, run_variant, sweep};

        let x = [10.01, 10.02, 10.01, 10.01, 10.02, 10.03, 10.0, 9.97, 9.95];
        let (mut fast, mut slow) = ([0.0; 9], [0.0; 9]);
        sma(&x, 2, &mut fast).expect("sma");
        sma(&x, 4, &mut slow).expect("sma");
        assert_eq!((fast[4], slow[4], fast[6], slow[6]), (10.015, 10.015, 10.015, 10.015));
        assert!(fast[3] < slow[3] && fast[5] > slow[5] && fast[7] < slow[7]);

        let mut c = Columns::default();
        for (i, &v) in x.iter().enumerate() {
            c.push(i as i64 * 60_000, v, v, v, v, 1.0);
        }
        let b = Bundle::from_toml(
            r#"
            [datasets]
            tickers = ["A"]
            timeframes = ["1m"]
            [strategy]
            kind = "sma_cross"
            fast = 2
            slow = 4
            [money]
            direction = ["long", "short", "both"]
            "#,
            Limits::default(),
        )
        .expect("bundle");
        for i in 0..b.count() {
            let (m, d) = run_variant(&b, i, c.view()).expect("variant");
            assert_eq!((m.trades, d.trades.len()), (0, 0), "variant {i}");
        }
        let all = sweep(&b, 0, c.view(), 0..b.count(), &SweepControl::default()).expect("sweep");
        assert!(all.iter().all(|r| r.metrics.trades == 0));
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
