use crate::indicators::volatility::atr::atr_unchecked;
use crate::indicators::{IndicatorError, check_len, check_period, warmup};

/// SuperTrend (not in TA-Lib; this follows TradingView's `ta.supertrend`, with
/// the ATR computed as TA-Lib's `ATR`):
/// - basic bands `hl2 ± multiplier * ATR(period)`;
/// - the final upper band only moves down (or resets when the previous close
///   broke above it), the final lower band only moves up (or resets when the
///   previous close broke below it);
/// - on the first bar (`i = period`, where the ATR begins) the trend is down;
///   after that a down trend flips up when the close ends above the final upper
///   band, an up trend flips down when the close ends below the final lower band;
/// - `line` is the final lower band in an up trend and the final upper band in a
///   down trend; `direction` is +1 (up) or -1 (down). NaN before `i = period`.
#[allow(clippy::too_many_arguments)]
pub fn supertrend(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    period: usize,
    multiplier: f64,
    line: &mut [f64],
    direction: &mut [f64],
) -> Result<(), IndicatorError> {
    check_period("period", period, 1)?;
    if !multiplier.is_finite() {
        return Err(IndicatorError::Parameter { name: "multiplier", value: multiplier.to_string() });
    }
    let n = close.len();
    check_len("high", high.len(), n)?;
    check_len("low", low.len(), n)?;
    check_len("line", line.len(), n)?;
    check_len("direction", direction.len(), n)?;
    // The ATR goes into `line` first; each bar reads its own ATR before overwriting it.
    atr_unchecked(high, low, close, period, line);
    warmup(direction, period);
    if n <= period {
        return Ok(());
    }
    let (mut fu, mut fl, mut up) = (0.0, 0.0, false);
    for i in period..n {
        let hl2 = (high[i] + low[i]) / 2.0;
        let a = line[i];
        let (bu, bl) = (hl2 + multiplier * a, hl2 - multiplier * a);
        if i == period {
            fu = bu;
            fl = bl;
            up = false;
        } else {
            let pc = close[i - 1];
            fu = if bu < fu || pc > fu { bu } else { fu };
            fl = if bl > fl || pc < fl { bl } else { fl };
            up = if up { close[i] >= fl } else { close[i] > fu };
        }
        line[i] = if up { fl } else { fu };
        direction[i] = if up { 1.0 } else { -1.0 };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::reference::{assert_close, naive_supertrend, random_ohlc};

    #[test]
    fn hand_computed_flip() {
        // period 1, multiplier 1: ATR(1) = TR.
        let h = [10.0, 11.0, 11.0, 14.0, 13.0];
        let l = [9.0, 10.0, 10.0, 12.0, 10.0];
        let c = [9.5, 10.5, 10.5, 13.5, 10.5];
        // i1: TR 1.5, hl2 10.5: bands 12 / 9 -> down, line 12.
        // i2: TR 1, hl2 10.5: bu 11.5 < 12 -> fu 11.5; bl 9.5 > 9 -> fl 9.5; close 10.5 <= 11.5: down, line 11.5.
        // i3: TR 3.5, hl2 13: bu 16.5, pc 10.5 not > 11.5, 16.5 !< 11.5 -> fu 11.5; bl 9.5 -> fl 9.5;
        //     close 13.5 > 11.5: flip up, line 9.5.
        // i4: TR 3.5, hl2 11.5: bl 8 < 9.5, pc 13.5 !< 9.5 -> fl 9.5; close 10.5 >= 9.5: up, line 9.5.
        let (mut s, mut d) = ([0.0; 5], [0.0; 5]);
        supertrend(&h, &l, &c, 1, 1.0, &mut s, &mut d).expect("supertrend");
        assert!(s[0].is_nan() && d[0].is_nan());
        assert_eq!(&s[1..], &[12.0, 11.5, 9.5, 9.5]);
        assert_eq!(&d[1..], &[-1.0, -1.0, 1.0, 1.0]);
    }

    #[test]
    fn matches_naive_reference() {
        let (_, h, l, c) = random_ohlc(3_000, 13);
        for (p, m) in [(1, 1.0), (10, 3.0), (7, 2.0)] {
            let (mut s, mut d) = (vec![0.0; c.len()], vec![0.0; c.len()]);
            supertrend(&h, &l, &c, p, m, &mut s, &mut d).expect("supertrend");
            let (rs, rd) = naive_supertrend(&h, &l, &c, p, m);
            assert_close(&s, &rs);
            assert_close(&d, &rd);
            assert!(d[p..].contains(&1.0) && d[p..].contains(&-1.0));
        }
    }
}
