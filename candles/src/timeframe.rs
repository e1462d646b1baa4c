//! Bar timeframes: the fixed steps `1m 3m 5m 15m 30m 1h 2h 4h 6h 12h 1d 1w`,
//! calendar months `1M`, and `irregular` (any increasing times).

use std::fmt;
use std::str::FromStr;

use crate::time::{DAY_MS, civil_from_days, days_from_civil};

/// The length of one bar. Buckets of every fixed-step timeframe are aligned to
/// the UNIX epoch in UTC, except `1w`, whose buckets start on Monday 00:00
/// UTC; `1M` buckets are calendar months in UTC. `irregular` bars have no
/// length: they are stored and run as they are, but nothing that needs a
/// fixed step (resampling, gap checks, annualisation by bar length) takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timeframe {
    M1,
    M3,
    M5,
    M15,
    M30,
    H1,
    H2,
    H4,
    H6,
    H12,
    D1,
    W1,
    /// Calendar months (`1M`), labelled in the data by month start or month end.
    Month,
    /// Strictly increasing times with no fixed step (`irregular`).
    Irregular,
}

const MINUTE: i64 = 60_000;

/// A calendar month's nominal length: 365 days / 12, so that 365 days are
/// exactly 12 of them.
const NOMINAL_MONTH_MS: i64 = 365 * DAY_MS / 12;

/// The names `FromStr` takes, for messages.
const NAMES: &str = "1m 3m 5m 15m 30m 1h 2h 4h 6h 12h 1d 1w 1M irregular";

impl Timeframe {
    /// Every timeframe: the fixed steps shortest first, then `1M`, then `irregular`.
    pub const ALL: [Timeframe; 14] = [
        Self::M1,
        Self::M3,
        Self::M5,
        Self::M15,
        Self::M30,
        Self::H1,
        Self::H2,
        Self::H4,
        Self::H6,
        Self::H12,
        Self::D1,
        Self::W1,
        Self::Month,
        Self::Irregular,
    ];

    /// The timeframes with a fixed step, shortest first.
    pub const FIXED: [Timeframe; 12] = [
        Self::M1,
        Self::M3,
        Self::M5,
        Self::M15,
        Self::M30,
        Self::H1,
        Self::H2,
        Self::H4,
        Self::H6,
        Self::H12,
        Self::D1,
        Self::W1,
    ];

    /// The fixed bar length in milliseconds; `None` for `1M` (months differ
    /// in length) and `irregular`.
    pub const fn step_ms(self) -> Option<i64> {
        Some(match self {
            Self::M1 => MINUTE,
            Self::M3 => 3 * MINUTE,
            Self::M5 => 5 * MINUTE,
            Self::M15 => 15 * MINUTE,
            Self::M30 => 30 * MINUTE,
            Self::H1 => 60 * MINUTE,
            Self::H2 => 120 * MINUTE,
            Self::H4 => 240 * MINUTE,
            Self::H6 => 360 * MINUTE,
            Self::H12 => 720 * MINUTE,
            Self::D1 => DAY_MS,
            Self::W1 => 7 * DAY_MS,
            Self::Month | Self::Irregular => return None,
        })
    }

    /// The bar length for estimates and annualisation: the fixed step, or
    /// for `1M` 365 days / 12 (so 365 days / this is exactly 12 bars a year);
    /// `None` for `irregular`.
    pub const fn nominal_ms(self) -> Option<i64> {
        match self {
            Self::Month => Some(NOMINAL_MONTH_MS),
            _ => self.step_ms(),
        }
    }

    /// Whether bars are a fixed step apart.
    pub const fn is_fixed(self) -> bool {
        self.step_ms().is_some()
    }

    /// The string form, as parsed by `FromStr`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::M1 => "1m",
            Self::M3 => "3m",
            Self::M5 => "5m",
            Self::M15 => "15m",
            Self::M30 => "30m",
            Self::H1 => "1h",
            Self::H2 => "2h",
            Self::H4 => "4h",
            Self::H6 => "6h",
            Self::H12 => "12h",
            Self::D1 => "1d",
            Self::W1 => "1w",
            Self::Month => "1M",
            Self::Irregular => "irregular",
        }
    }

    /// The fixed-step timeframe whose bar length is exactly `ms`, if any.
    pub fn from_duration_ms(ms: i64) -> Option<Self> {
        Self::FIXED.into_iter().find(|tf| tf.step_ms() == Some(ms))
    }

    /// Infers the timeframe of sorted bar open times: `1M` when they are
    /// calendar months (see [`crate::Spacing::Months`]), else the most common
    /// step between consecutive bars (gaps are multiples of it). `None` when
    /// there are fewer than two bars or the step is not a known timeframe.
    pub fn infer(ts: &[i64]) -> Option<Self> {
        if crate::validate::month_labels(ts).is_some() {
            return Some(Self::Month);
        }
        crate::validate::base_interval(ts).and_then(Self::from_duration_ms)
    }

    /// Start of the bucket containing `ts` (ms, UTC): the calendar month's
    /// first millisecond for `1M`, `ts` itself for `irregular`.
    pub fn bucket_start(self, ts: i64) -> i64 {
        match self {
            Self::Month => month_start(month_index(ts)),
            Self::Irregular => ts,
            _ => {
                // 1970-01-01 was a Thursday; Monday buckets start 4 days later.
                let offset = if self == Self::W1 { 4 * DAY_MS } else { 0 };
                let d = self.step_ms().unwrap_or(1);
                (ts - offset).div_euclid(d) * d + offset
            }
        }
    }

    /// End (exclusive) of the bucket containing `ts`: the next bucket's start.
    pub fn bucket_end(self, ts: i64) -> i64 {
        match self {
            Self::Month => month_start(month_index(ts) + 1),
            Self::Irregular => ts + 1,
            _ => self.bucket_start(ts) + self.step_ms().unwrap_or(1),
        }
    }

    /// Whether bars of `self` can be resampled to `to`, and if not, why:
    /// fixed steps to a longer multiple (`1w` only from steps that divide 4
    /// days, as its buckets start on Monday), and steps of a day or less to
    /// calendar months. Nothing resamples from `1M` or to or from `irregular`.
    pub fn resample_check(self, to: Self) -> Result<(), &'static str> {
        let (from_step, to_step) = match (self, to) {
            (Self::Irregular, _) => {
                return Err("irregular bars have no fixed step, and resampling needs one");
            }
            (_, Self::Irregular) => return Err("irregular is not a bar length to resample to"),
            (Self::Month, _) => {
                return Err("1M bars are calendar months, which have no fixed length: no other \
                            timeframe is made of whole months");
            }
            (Self::W1, Self::Month) => return Err("a calendar month is not a whole number of weeks"),
            (_, Self::Month) => return Ok(()),
            (f, t) => (f.step_ms().unwrap_or(1), t.step_ms().unwrap_or(1)),
        };
        let aligned = to != Self::W1 || (4 * DAY_MS) % from_step == 0;
        if to_step > from_step && to_step % from_step == 0 && aligned {
            Ok(())
        } else {
            Err("the target must be a longer timeframe that is a multiple of the source")
        }
    }
}

/// Months since January 1970 of `ts` (UTC): `year * 12 + month - 1`, less 1970's.
pub(crate) fn month_index(ts: i64) -> i64 {
    let (y, m, _) = civil_from_days(ts.div_euclid(DAY_MS));
    (y - 1970) * 12 + i64::from(m) - 1
}

/// The first millisecond of month `index` (see [`month_index`]).
pub(crate) fn month_start(index: i64) -> i64 {
    let (y, m) = (1970 + index.div_euclid(12), index.rem_euclid(12) as u32 + 1);
    days_from_civil(y, m, 1) * DAY_MS
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not one of the known timeframes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown timeframe {0:?} (expected one of {NAMES})")]
pub struct ParseTimeframeError(pub String);

impl FromStr for Timeframe {
    type Err = ParseTimeframeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Self::ALL.into_iter().find(|tf| tf.as_str() == t).ok_or_else(|| ParseTimeframeError(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_every_timeframe() {
        for tf in Timeframe::ALL {
            assert_eq!(tf.as_str().parse::<Timeframe>(), Ok(tf));
            assert_eq!(tf.to_string(), tf.as_str());
        }
        for tf in Timeframe::FIXED {
            assert_eq!(Timeframe::from_duration_ms(tf.step_ms().expect("fixed")), Some(tf));
        }
        assert_eq!(Timeframe::H4.step_ms(), Some(14_400_000));
        assert_eq!("1M".parse::<Timeframe>(), Ok(Timeframe::Month));
        assert_eq!("1m".parse::<Timeframe>(), Ok(Timeframe::M1));
        assert_eq!("irregular".parse::<Timeframe>(), Ok(Timeframe::Irregular));
        assert_eq!((Timeframe::Month.step_ms(), Timeframe::Irregular.nominal_ms()), (None, None));
        assert_eq!(
            "2d".parse::<Timeframe>().map_err(|e| e.to_string()),
            Err("unknown timeframe \"2d\" (expected one of 1m 3m 5m 15m 30m 1h 2h 4h 6h 12h 1d 1w 1M irregular)"
                .into())
        );
    }

    #[test]
    fn a_nominal_month_is_a_twelfth_of_365_days() {
        let month = Timeframe::Month.nominal_ms().expect("nominal");
        assert_eq!(month, 2_628_000_000);
        // What annualisation computes for bars of a week or longer.
        assert_eq!(365.0 * DAY_MS as f64 / month as f64, 12.0);
    }

    #[test]
    fn buckets_align_to_utc_monday_and_calendar_months() {
        // 2024-01-03 (a Wednesday) 13:45 UTC.
        let ts = 1_704_289_500_000;
        assert_eq!(Timeframe::H4.bucket_start(ts), 1_704_283_200_000); // 12:00
        assert_eq!(Timeframe::D1.bucket_start(ts), 1_704_240_000_000); // 00:00
        assert_eq!(Timeframe::W1.bucket_start(ts), 1_704_067_200_000); // Mon 2024-01-01
        assert_eq!(Timeframe::W1.bucket_start(1_704_067_200_000), 1_704_067_200_000);
        assert_eq!(Timeframe::M15.bucket_start(-1), -900_000);
        assert_eq!(Timeframe::W1.bucket_end(ts), 1_704_672_000_000); // Mon 2024-01-08
        // 2024-02-29 23:59:59.999 is in February, which ends at 2024-03-01.
        let feb29 = 1_709_251_199_999;
        assert_eq!(Timeframe::Month.bucket_start(feb29), 1_706_745_600_000); // 2024-02-01
        assert_eq!(Timeframe::Month.bucket_end(feb29), 1_709_251_200_000); // 2024-03-01
        assert_eq!(Timeframe::Month.bucket_start(-1), -2_678_400_000); // 1969-12-01
        assert_eq!(Timeframe::Month.bucket_end(1_703_980_800_000), 1_704_067_200_000); // 2023-12-31 -> 2024-01-01
    }

    #[test]
    fn infers_from_steps_with_gaps() {
        let ts = [0, 60_000, 120_000, 300_000, 360_000];
        assert_eq!(Timeframe::infer(&ts), Some(Timeframe::M1));
        assert_eq!(Timeframe::infer(&[0]), None);
        assert_eq!(Timeframe::infer(&[0, 7_000, 14_000]), None);
        // 2024-01-31, 2024-02-29, 2024-03-31.
        let ends = [1_706_659_200_000, 1_709_164_800_000, 1_711_843_200_000];
        assert_eq!(Timeframe::infer(&ends), Some(Timeframe::Month));
    }

    #[test]
    fn resampling_rules_name_the_reason() {
        use Timeframe::*;
        assert_eq!(M15.resample_check(H1), Ok(()));
        assert_eq!(D1.resample_check(W1), Ok(()));
        assert_eq!(D1.resample_check(Month), Ok(()));
        assert_eq!(H4.resample_check(Month), Ok(()));
        assert_eq!(
            H1.resample_check(M30),
            Err("the target must be a longer timeframe that is a multiple of the source")
        );
        assert_eq!(W1.resample_check(Month), Err("a calendar month is not a whole number of weeks"));
        assert!(Month.resample_check(W1).is_err_and(|r| r.contains("calendar months")));
        assert!(Irregular.resample_check(H1).is_err_and(|r| r.contains("no fixed step")));
        assert!(M1.resample_check(Irregular).is_err_and(|r| r.contains("not a bar length")));
    }
}
