//! Bar timeframes: `1m 3m 5m 15m 30m 1h 2h 4h 6h 12h 1d 1w`.

use std::fmt;
use std::str::FromStr;

/// The length of one bar. Buckets of every timeframe are aligned to the UNIX
/// epoch in UTC, except `1w`, whose buckets start on Monday 00:00 UTC.
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
}

const MINUTE: i64 = 60_000;

impl Timeframe {
    /// Every timeframe, shortest first.
    pub const ALL: [Timeframe; 12] = [
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

    /// Bar length in milliseconds.
    pub const fn duration_ms(self) -> i64 {
        match self {
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
            Self::D1 => 1440 * MINUTE,
            Self::W1 => 7 * 1440 * MINUTE,
        }
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
        }
    }

    /// The timeframe whose bar length is exactly `ms`, if any.
    pub fn from_duration_ms(ms: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|tf| tf.duration_ms() == ms)
    }

    /// Infers the timeframe of sorted bar open times: the most common step
    /// between consecutive bars (gaps are multiples of it). `None` when there
    /// are fewer than two bars or the step is not a known timeframe.
    pub fn infer(ts: &[i64]) -> Option<Self> {
        crate::validate::base_interval(ts).and_then(Self::from_duration_ms)
    }

    /// Start of the bucket containing `ts` (ms, UTC).
    pub fn bucket_start(self, ts: i64) -> i64 {
        // 1970-01-01 was a Thursday; Monday buckets start 4 days later.
        let offset = if self == Self::W1 { 4 * 1440 * MINUTE } else { 0 };
        let d = self.duration_ms();
        (ts - offset).div_euclid(d) * d + offset
    }
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not one of the known timeframes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown timeframe {0:?} (expected one of 1m 3m 5m 15m 30m 1h 2h 4h 6h 12h 1d 1w)")]
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
            assert_eq!(Timeframe::from_duration_ms(tf.duration_ms()), Some(tf));
        }
        assert_eq!(Timeframe::H4.duration_ms(), 14_400_000);
        assert!(matches!("1M".parse::<Timeframe>(), Err(ParseTimeframeError(s)) if s == "1M"));
        assert_eq!(
            "2d".parse::<Timeframe>().map_err(|e| e.to_string()),
            Err("unknown timeframe \"2d\" (expected one of 1m 3m 5m 15m 30m 1h 2h 4h 6h 12h 1d 1w)".into())
        );
    }

    #[test]
    fn buckets_align_to_utc_and_monday() {
        // 2024-01-03 (a Wednesday) 13:45 UTC.
        let ts = 1_704_289_500_000;
        assert_eq!(Timeframe::H4.bucket_start(ts), 1_704_283_200_000); // 12:00
        assert_eq!(Timeframe::D1.bucket_start(ts), 1_704_240_000_000); // 00:00
        assert_eq!(Timeframe::W1.bucket_start(ts), 1_704_067_200_000); // Mon 2024-01-01
        assert_eq!(Timeframe::W1.bucket_start(1_704_067_200_000), 1_704_067_200_000);
        assert_eq!(Timeframe::M15.bucket_start(-1), -900_000);
    }

    #[test]
    fn infers_from_steps_with_gaps() {
        let ts = [0, 60_000, 120_000, 300_000, 360_000];
        assert_eq!(Timeframe::infer(&ts), Some(Timeframe::M1));
        assert_eq!(Timeframe::infer(&[0]), None);
        assert_eq!(Timeframe::infer(&[0, 7_000, 14_000]), None);
    }
}
