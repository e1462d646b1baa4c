use crate::indicators::{IndicatorError, check_len, check_period, warmup};

/// Average directional index with +DI and -DI, TA-Lib `ADX`, `PLUS_DI`,
/// `MINUS_DI`:
/// - from the second bar: `up = h - h[-1]`, `down = l[-1] - l`;
///   +DM = `up` if `up > 0 && up > down`, -DM = `down` if `down > 0 && down > up`,
///   else 0; TR = max(h - l, |h - c[-1]|, |l - c[-1]|);
/// - Wilder sums seeded with the plain sums of the first `period - 1` values,
///   then `s = s - s / period + x` from bar `period` on;
/// - +DI = `100 * (+DM_s / TR_s)`, -DI likewise (0 when TR_s is 0), first at
///   `i = period`;
/// - DX = `100 * (|+DI - -DI| / (+DI + -DI))` (0 when the sum is 0); ADX is the mean
///   of the first `period` DX values, at `i = 2 * period - 1`, then
///   `adx = (adx * (period - 1) + dx) / period`. NaN before.
///
/// Every sum and quotient is taken in TA-Lib's order of operations (the
/// quotients before the factor 100), so the outputs equal TA-Lib's bit for
/// bit, except that a zero test is exact where TA-Lib's is a tiny threshold.
#[allow(clippy::too_many_arguments)]
pub fn adx(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    period: usize,
    adx_out: &mut [f64],
    plus_di: &mut [f64],
    minus_di: &mut [f64],
) -> Result<(), IndicatorError> {
    check_period("period", period, 1)?;
    let n = close.len();
    check_len("high", high.len(), n)?;
    check_len("low", low.len(), n)?;
    check_len("adx_out", adx_out.len(), n)?;
    check_len("plus_di", plus_di.len(), n)?;
    check_len("minus_di", minus_di.len(), n)?;
    warmup(adx_out, 2 * period - 1);
    warmup(plus_di, period);
    warmup(minus_di, period);
    if n <= period {
        return Ok(());
    }
    let p = period as f64;
    let dm_tr = |i: usize| {
        let up = high[i] - high[i - 1];
        let down = low[i - 1] - low[i];
        let pdm = if up > 0.0 && up > down { up } else { 0.0 };
        let mdm = if down > 0.0 && down > up { down } else { 0.0 };
        let pc = close[i - 1];
        let tr = (high[i] - low[i]).max((high[i] - pc).abs()).max((low[i] - pc).abs());
        (pdm, mdm, tr)
    };
    let (mut sp, mut sm, mut st) = (0.0, 0.0, 0.0);
    for i in 1..period {
        let (a, b, c) = dm_tr(i);
        sp += a;
        sm += b;
        st += c;
    }
    let mut dx_sum = 0.0;
    let mut adx = 0.0;
    for i in period..n {
        let (a, b, c) = dm_tr(i);
        sp = sp - sp / p + a;
        sm = sm - sm / p + b;
        st = st - st / p + c;
        let (pdi, mdi) = if st == 0.0 { (0.0, 0.0) } else { (100.0 * (sp / st), 100.0 * (sm / st)) };
        plus_di[i] = pdi;
        minus_di[i] = mdi;
        let s = pdi + mdi;
        let dx = if s == 0.0 { 0.0 } else { 100.0 * ((mdi - pdi).abs() / s) };
        let k = i - period; // DX index, 0-based
        if k < period {
            dx_sum += dx;
            if k == period - 1 {
                adx = dx_sum / p;
                adx_out[i] = adx;
            }
        } else {
            adx = (adx * (p - 1.0) + dx) / p;
            adx_out[i] = adx;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::reference::{assert_close, naive_adx, random_ohlc};

    #[test]
    fn hand_computed_period_two() {
        let h = [10.0, 11.0, 12.0, 11.5, 13.0];
        let l = [9.0, 9.5, 10.5, 10.0, 11.0];
        let c = [9.5, 10.5, 11.5, 10.5, 12.5];
        // bar1: up 1, down -0.5 -> +DM 1, -DM 0; TR max(1.5, 1.5, 0) = 1.5 (seed sums, period-1 = 1 bar)
        // bar2: up 1, down -1 -> +DM 1; TR max(1.5, 1.5, 0.5)=1.5. s+ = 1 - 0.5 + 1 = 1.5; s- = 0; TR = 1.5-0.75+1.5 = 2.25
        //   +DI = 100*1.5/2.25 = 66.67, -DI 0, DX 100.
        // bar3: up -0.5, down 0.5 -> -DM 0.5; TR max(1.5, 0, 1.5)=1.5. s+ = 0.75; s- = 0.5; TR = 1.125+1.5=2.625
        //   +DI = 28.571, -DI = 19.048, DX = 100*9.524/47.619 = 20. ADX(i=3) = (100+20)/2 = 60.
        // bar4: up 1.5, down -1 -> +DM 1.5; TR max(2, 2.5, 0.5)=2.5. s+ = 0.375+1.5=1.875; s- = 0.25; TR = 1.3125+2.5=3.8125
        let (mut a, mut p, mut m) = ([0.0; 5], [0.0; 5], [0.0; 5]);
        adx(&h, &l, &c, 2, &mut a, &mut p, &mut m).expect("adx");
        assert!(p[..2].iter().chain(&m[..2]).chain(&a[..3]).all(|v| v.is_nan()));
        let (p4, m4) = (100.0 * 1.875 / 3.8125, 100.0 * 0.25 / 3.8125);
        assert_close(&p[2..], &[100.0 * 1.5 / 2.25, 100.0 * 0.75 / 2.625, p4]);
        assert_close(&m[2..], &[0.0, 100.0 * 0.5 / 2.625, m4]);
        let dx4 = 100.0 * (p4 - m4) / (p4 + m4);
        assert_close(&a[3..], &[60.0, (60.0 + dx4) / 2.0]);
    }

    #[test]
    fn matches_naive_reference() {
        let (_, h, l, c) = random_ohlc(3_000, 8);
        for p in [1, 2, 14, 30] {
            let (mut a, mut pd, mut md) = (vec![0.0; c.len()], vec![0.0; c.len()], vec![0.0; c.len()]);
            adx(&h, &l, &c, p, &mut a, &mut pd, &mut md).expect("adx");
            let (ra, rp, rm) = naive_adx(&h, &l, &c, p);
            assert_close(&a, &ra);
            assert_close(&pd, &rp);
            assert_close(&md, &rm);
        }
    }
}
