//! Validation of candle columns: one pass, first failing row wins.

use crate::error::{Invalid, Problem};
use crate::frame::CandlesView;

/// What validation learnt about a valid dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quality {
    /// The dataset's step between bars (the most common one), if it has two bars.
    pub interval_ms: Option<i64>,
    /// Number of places where one or more bars are missing.
    pub gaps: usize,
    /// The largest gap, as the time from one bar to the next (0 when none).
    pub largest_gap_ms: i64,
}

/// The most common positive step between consecutive timestamps.
///
/// Boyer-Moore majority vote first (no allocation; the answer for any real
/// dataset, where most steps are the bar length), a full count otherwise.
pub fn base_interval(ts: &[i64]) -> Option<i64> {
    let steps = || ts.windows(2).map(|w| w[1] - w[0]).filter(|&d| d > 0);
    let (mut candidate, mut votes) = (0i64, 0usize);
    let mut total = 0usize;
    for d in steps() {
        total += 1;
        if votes == 0 {
            candidate = d;
            votes = 1;
        } else if d == candidate {
            votes += 1;
        } else {
            votes -= 1;
        }
    }
    if total == 0 {
        return None;
    }
    if steps().filter(|&d| d == candidate).count() * 2 > total {
        return Some(candidate);
    }
    let mut counts = std::collections::HashMap::<i64, usize>::new();
    for d in steps() {
        *counts.entry(d).or_default() += 1;
    }
    // Ties go to the shorter step, so the answer does not depend on hashing.
    counts.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0))).map(|(d, _)| d)
}

fn check_price(column: &'static str, v: f64, index: usize) -> Result<(), Invalid> {
    if !v.is_finite() {
        return Err(Invalid { index, column, problem: Problem::NonFinite(v) });
    }
    if v <= 0.0 {
        return Err(Invalid { index, column, problem: Problem::NonPositive(v) });
    }
    Ok(())
}

/// Checks every rule of a candle dataset: finite positive prices, `low <=
/// open, close <= high`, finite non-negative volume, strictly increasing
/// timestamps, and steps that are multiples of one base interval. Gaps are
/// counted, not errors.
pub fn validate(c: CandlesView<'_>) -> Result<Quality, Invalid> {
    let n = c.len();
    // Fast path: one branch-free pass the compiler vectorises; the row-by-row
    // loop below runs only to name the first bad row.
    let rows_ok = (0..n).fold(true, |ok, i| {
        let (o, h, l, cl, v) = (c.open[i], c.high[i], c.low[i], c.close[i], c.volume[i]);
        // `x > 0.0 && x < INF` is false for NaN, zero, negatives and infinities.
        let finite_pos = |x: f64| (x > 0.0) & (x < f64::INFINITY);
        ok & finite_pos(o)
            & finite_pos(h)
            & finite_pos(l)
            & finite_pos(cl)
            & (0.0..f64::INFINITY).contains(&v)
            & (h >= o.max(cl))
            & (l <= o.min(cl))
    });
    let sorted = c.ts.windows(2).fold(true, |ok, w| ok & (w[0] < w[1]));
    let first_bad = if rows_ok && sorted { n } else { 0 };
    for i in first_bad..n {
        let (o, h, l, cl, v) = (c.open[i], c.high[i], c.low[i], c.close[i], c.volume[i]);
        check_price("open", o, i)?;
        check_price("high", h, i)?;
        check_price("low", l, i)?;
        check_price("close", cl, i)?;
        if !v.is_finite() {
            return Err(Invalid { index: i, column: "volume", problem: Problem::NonFinite(v) });
        }
        if v < 0.0 {
            return Err(Invalid { index: i, column: "volume", problem: Problem::NegativeVolume(v) });
        }
        let body_hi = o.max(cl);
        if h < body_hi {
            return Err(Invalid {
                index: i,
                column: "high",
                problem: Problem::HighBelowBody { high: h, body: body_hi },
            });
        }
        let body_lo = o.min(cl);
        if l > body_lo {
            return Err(Invalid {
                index: i,
                column: "low",
                problem: Problem::LowAboveBody { low: l, body: body_lo },
            });
        }
        if i > 0 {
            let (prev, t) = (c.ts[i - 1], c.ts[i]);
            if t < prev {
                return Err(Invalid {
                    index: i,
                    column: "ts",
                    problem: Problem::Unsorted { ts: t, previous: prev },
                });
            }
            if t == prev {
                return Err(Invalid { index: i, column: "ts", problem: Problem::Duplicate { ts: t } });
            }
        }
    }
    let Some(base) = base_interval(c.ts) else {
        return Ok(Quality::default());
    };
    let mut q = Quality { interval_ms: Some(base), gaps: 0, largest_gap_ms: 0 };
    for i in 1..n {
        let step = c.ts[i] - c.ts[i - 1];
        if step != base {
            if step % base != 0 {
                return Err(Invalid {
                    index: i,
                    column: "ts",
                    problem: Problem::MixedInterval { step_ms: step, base_ms: base },
                });
            }
            q.gaps += 1;
            q.largest_gap_ms = q.largest_gap_ms.max(step);
        }
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Columns;

    fn cols(rows: &[(i64, f64, f64, f64, f64, f64)]) -> Columns {
        let mut c = Columns::default();
        for &(t, o, h, l, cl, v) in rows {
            c.push(t, o, h, l, cl, v);
        }
        c
    }

    fn check(rows: &[(i64, f64, f64, f64, f64, f64)]) -> Result<Quality, Invalid> {
        let c = cols(rows);
        validate(c.view())
    }

    const OK: (i64, f64, f64, f64, f64, f64) = (0, 10.0, 11.0, 9.0, 10.5, 5.0);

    fn at(t: i64) -> (i64, f64, f64, f64, f64, f64) {
        (t, OK.1, OK.2, OK.3, OK.4, OK.5)
    }

    #[test]
    fn valid_with_gap_reports_it() {
        let q = check(&[at(0), at(60_000), at(300_000), at(360_000), at(420_000)]);
        assert_eq!(q, Ok(Quality { interval_ms: Some(60_000), gaps: 1, largest_gap_ms: 240_000 }));
        assert_eq!(check(&[at(0)]), Ok(Quality::default()));
    }

    fn problem(rows: &[(i64, f64, f64, f64, f64, f64)]) -> (usize, &'static str, Problem) {
        let e = check(rows).expect_err("invalid");
        (e.index, e.column, e.problem)
    }

    #[test]
    fn each_rule_names_row_and_column() {
        let mut r = at(60_000);
        r.1 = f64::NAN;
        assert!(matches!(problem(&[at(0), r]), (1, "open", Problem::NonFinite(v)) if v.is_nan()));
        r = at(60_000);
        r.3 = 0.0;
        assert_eq!(problem(&[at(0), r]), (1, "low", Problem::NonPositive(0.0)));
        r = at(60_000);
        r.4 = f64::INFINITY;
        assert_eq!(problem(&[at(0), r]), (1, "close", Problem::NonFinite(f64::INFINITY)));
        r = at(60_000);
        r.2 = 10.2;
        assert_eq!(problem(&[at(0), r]), (1, "high", Problem::HighBelowBody { high: 10.2, body: 10.5 }));
        r = at(60_000);
        r.3 = 10.1;
        assert_eq!(problem(&[at(0), r]), (1, "low", Problem::LowAboveBody { low: 10.1, body: 10.0 }));
        r = at(60_000);
        r.5 = -1.0;
        assert_eq!(problem(&[at(0), r]), (1, "volume", Problem::NegativeVolume(-1.0)));
        assert_eq!(
            problem(&[at(0), at(120_000), at(60_000)]),
            (2, "ts", Problem::Unsorted { ts: 60_000, previous: 120_000 })
        );
        assert_eq!(problem(&[at(0), at(60_000), at(60_000)]), (2, "ts", Problem::Duplicate { ts: 60_000 }));
        assert_eq!(
            problem(&[at(0), at(60_000), at(120_000), at(150_000), at(210_000)]),
            (3, "ts", Problem::MixedInterval { step_ms: 30_000, base_ms: 60_000 })
        );
    }

    #[test]
    fn base_interval_without_majority_takes_the_mode() {
        // steps: 60, 60, 120, 180, 240 -> no majority; mode is 60.
        assert_eq!(base_interval(&[0, 60, 120, 240, 420, 660]), Some(60));
        assert_eq!(base_interval(&[5]), None);
    }
}
