//! Validation of candle columns: one pass, first failing row wins.

use crate::error::{Invalid, Problem};
use crate::frame::CandlesView;
use crate::time::{DAY_MS, civil_from_days, days_in_month};
use crate::timeframe::month_index;

/// How a dataset's bars are spaced in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Spacing {
    /// Fewer than two bars: nothing to tell.
    #[default]
    Unknown,
    /// Every step a multiple of this many milliseconds (the most common step).
    Fixed(i64),
    /// One bar per calendar month (UTC), each labelled by the start or the
    /// end of its month.
    Months(MonthLabel),
    /// Any strictly increasing times (only when asked for: see
    /// [`validate_irregular`]).
    Irregular,
}

/// Which day labels a month's bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonthLabel {
    /// The month's first day, or its first trading day (day 1 to 4).
    Start,
    /// The month's last day, or its last trading day (the last 4 days).
    End,
}

impl MonthLabel {
    /// `month start` or `month end`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "month start",
            Self::End => "month end",
        }
    }
}

/// What validation learnt about a valid dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quality {
    /// How the bars are spaced.
    pub spacing: Spacing,
    /// Number of places where one or more bars are missing (whole months
    /// for [`Spacing::Months`]; never any for [`Spacing::Irregular`], which
    /// has no step to miss).
    pub gaps: usize,
    /// The largest gap, as the time from one bar to the next (0 when none).
    pub largest_gap_ms: i64,
    /// For [`Spacing::Months`], the largest gap in months from one bar to the
    /// next (0 when none).
    pub largest_gap_months: i64,
}

impl Quality {
    /// The fixed step between bars, if the spacing is one.
    pub fn interval_ms(&self) -> Option<i64> {
        match self.spacing {
            Spacing::Fixed(ms) => Some(ms),
            _ => None,
        }
    }
}

/// How the sorted times `ts` label calendar months, if they do: two bars or
/// more, each in a later month than the one before, all of them in the first
/// 4 days of their month ([`MonthLabel::Start`]) or all in the last 4
/// ([`MonthLabel::End`]), and at least half the steps one month (monthly
/// bars, perhaps with gaps; quarterly or yearly bars are not months). Stops
/// at the first bar that does not fit, so other data costs a few rows.
pub fn month_labels(ts: &[i64]) -> Option<MonthLabel> {
    if ts.len() < 2 {
        return None;
    }
    let label = |t: i64| {
        let (y, m, d) = civil_from_days(t.div_euclid(DAY_MS));
        if d <= 4 {
            Some(MonthLabel::Start)
        } else if d + 3 >= days_in_month(y, m) {
            Some(MonthLabel::End)
        } else {
            None
        }
    };
    let first = label(ts[0])?;
    let (mut prev, mut one_month) = (month_index(ts[0]), 0usize);
    for &t in &ts[1..] {
        let m = month_index(t);
        if m <= prev || label(t) != Some(first) {
            return None;
        }
        one_month += usize::from(m == prev + 1);
        prev = m;
    }
    (one_month * 2 >= ts.len() - 1).then_some(first)
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
/// timestamps, and bars that are calendar months ([`month_labels`]) or
/// steps that are multiples of one base interval. Gaps are counted, not
/// errors.
pub fn validate(c: CandlesView<'_>) -> Result<Quality, Invalid> {
    check(c, false)
}

/// [`validate`] without the spacing rule: any strictly increasing times, for
/// data imported as `irregular`.
pub fn validate_irregular(c: CandlesView<'_>) -> Result<Quality, Invalid> {
    check(c, true)
}

fn check(c: CandlesView<'_>, irregular: bool) -> Result<Quality, Invalid> {
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
    if n < 2 {
        return Ok(Quality::default());
    }
    if irregular {
        return Ok(Quality { spacing: Spacing::Irregular, ..Quality::default() });
    }
    if let Some(label) = month_labels(c.ts) {
        let mut q = Quality { spacing: Spacing::Months(label), ..Quality::default() };
        for w in c.ts.windows(2) {
            let months = month_index(w[1]) - month_index(w[0]);
            if months > 1 {
                q.gaps += 1;
                q.largest_gap_months = q.largest_gap_months.max(months);
                q.largest_gap_ms = q.largest_gap_ms.max(w[1] - w[0]);
            }
        }
        return Ok(q);
    }
    let Some(base) = base_interval(c.ts) else {
        return Ok(Quality::default());
    };
    let mut q = Quality { spacing: Spacing::Fixed(base), ..Quality::default() };
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

    /// UTC midnight of a date, in ms.
    fn date(y: i64, m: u32, d: u32) -> i64 {
        crate::time::days_from_civil(y, m, d) * DAY_MS
    }

    const OK: (i64, f64, f64, f64, f64, f64) = (0, 10.0, 11.0, 9.0, 10.5, 5.0);

    fn at(t: i64) -> (i64, f64, f64, f64, f64, f64) {
        (t, OK.1, OK.2, OK.3, OK.4, OK.5)
    }

    #[test]
    fn valid_with_gap_reports_it() {
        let q = check(&[at(0), at(60_000), at(300_000), at(360_000), at(420_000)]);
        assert_eq!(
            q,
            Ok(Quality {
                spacing: Spacing::Fixed(60_000),
                gaps: 1,
                largest_gap_ms: 240_000,
                largest_gap_months: 0
            })
        );
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

    #[test]
    fn calendar_months_by_start_or_end_with_gaps_in_months() {
        // Month ends 2023-11-30 .. 2024-03-31 with January missing.
        let ends = [date(2023, 11, 30), date(2023, 12, 31), date(2024, 2, 29), date(2024, 3, 31)];
        let q = check(&ends.map(at)).expect("months");
        assert_eq!(q.spacing, Spacing::Months(MonthLabel::End));
        assert_eq!((q.gaps, q.largest_gap_months, q.largest_gap_ms), (1, 2, 60 * DAY_MS));
        assert_eq!(q.interval_ms(), None);
        // Month starts, the first trading day where the 1st is a weekend or holiday.
        let starts =
            [date(2024, 1, 2), date(2024, 2, 1), date(2024, 3, 1), date(2024, 4, 1), date(2024, 6, 3)];
        let q = check(&starts.map(at)).expect("months");
        assert_eq!((q.spacing, q.gaps, q.largest_gap_months), (Spacing::Months(MonthLabel::Start), 1, 2));
        // Last trading days: 2024-03-29 was a Friday.
        assert_eq!(month_labels(&[date(2024, 2, 29), date(2024, 3, 29)]), Some(MonthLabel::End));
        // Not months: two bars in one month, mixed labels, quarters, mid-month days.
        assert_eq!(month_labels(&[date(2024, 1, 1), date(2024, 1, 2)]), None);
        assert_eq!(month_labels(&[date(2024, 1, 31), date(2024, 2, 1)]), None);
        assert_eq!(month_labels(&[date(2024, 1, 1), date(2024, 4, 1), date(2024, 7, 1)]), None);
        assert_eq!(month_labels(&[date(2024, 1, 15), date(2024, 2, 15)]), None);
        // Quarters are refused as mixed intervals (90, 91 and 92 days), at their row.
        let quarters = [date(2023, 1, 1), date(2023, 4, 1), date(2023, 7, 1), date(2023, 10, 1)];
        let e = check(&quarters.map(at)).expect_err("quarters");
        assert_eq!((e.index, e.column), (2, "ts"));
    }

    #[test]
    fn irregular_takes_any_increasing_times_but_still_checks_rows() {
        let c = cols(&[at(0), at(60_000), at(120_000), at(210_000), at(211_000)]);
        assert!(validate(c.view()).is_err());
        let q = validate_irregular(c.view()).expect("irregular");
        assert_eq!(q, Quality { spacing: Spacing::Irregular, ..Quality::default() });
        let c = cols(&[at(0), at(60_000), at(60_000)]);
        let e = validate_irregular(c.view()).expect_err("duplicate");
        assert_eq!((e.index, e.column, e.problem), (2, "ts", Problem::Duplicate { ts: 60_000 }));
    }
}
