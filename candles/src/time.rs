//! UTC timestamps as milliseconds since the UNIX epoch: parsing of the text and
//! number forms found in candle files, and printing.
//!
//! Hand-written rather than through a date library because the loader parses a
//! timestamp per row: the common fixed layouts parse here without allocation.

/// Milliseconds in one day.
pub const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `(year, month, day)` of a day number since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        _ => 28,
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<u32> {
        let s = self.b.get(self.i..self.i + n)?;
        let mut v = 0u32;
        for &c in s {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
        }
        self.i += n;
        Some(v)
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn done(&self) -> bool {
        self.i == self.b.len()
    }
}

/// Parses an ISO-8601 / RFC 3339 timestamp or a plain date into UTC milliseconds.
///
/// Accepted: `YYYY-MM-DD`, then optionally `T` or a space, `HH:MM`, `:SS`,
/// a fraction `.f` (any number of digits, truncated to milliseconds), and a zone
/// `Z`, `+HH:MM`, `+HHMM` or `+HH` (a missing zone means UTC).
/// Returns `None` for anything else, including impossible dates.
pub fn parse_timestamp_text(text: &str) -> Option<i64> {
    let mut c = Cursor { b: text.trim().as_bytes(), i: 0 };
    let year = i64::from(c.digits(4)?);
    if !c.eat(b'-') {
        return None;
    }
    let month = c.digits(2)?;
    if !c.eat(b'-') {
        return None;
    }
    let day = c.digits(2)?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let mut ms = days_from_civil(year, month, day) * DAY_MS;
    if c.done() {
        return Some(ms);
    }
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return None;
    }
    let hour = c.digits(2)?;
    if !c.eat(b':') {
        return None;
    }
    let minute = c.digits(2)?;
    let mut second = 0;
    if c.eat(b':') {
        second = c.digits(2)?;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    ms += i64::from(hour * 3_600_000 + minute * 60_000 + second * 1000);
    if c.eat(b'.') || c.eat(b',') {
        let mut scale = 100;
        let mut n = 0;
        while let Some(d) = c.peek().filter(u8::is_ascii_digit) {
            ms += i64::from(d - b'0') * scale;
            scale /= 10;
            n += 1;
            c.i += 1;
        }
        if n == 0 {
            return None;
        }
    }
    match c.peek() {
        None => Some(ms),
        Some(b'Z' | b'z') => {
            c.i += 1;
            c.done().then_some(ms)
        }
        Some(sign @ (b'+' | b'-')) => {
            c.i += 1;
            let oh = c.digits(2)?;
            let om = if c.done() {
                0
            } else {
                c.eat(b':');
                c.digits(2)?
            };
            if !c.done() || oh > 23 || om > 59 {
                return None;
            }
            let offset = i64::from(oh * 3_600_000 + om * 60_000);
            Some(if sign == b'+' { ms - offset } else { ms + offset })
        }
        Some(_) => None,
    }
}

/// Prints UTC milliseconds as RFC 3339 (`2024-01-31T23:59:00Z`, with `.sss` only
/// when the milliseconds are not zero).
pub fn format_ms(ms: i64) -> String {
    let days = ms.div_euclid(DAY_MS);
    let rem = ms.rem_euclid(DAY_MS);
    let (y, m, d) = civil_from_days(days);
    let (h, mi, s, frac) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    if frac == 0 {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:03}Z")
    }
}

/// The unit of an epoch number, told by its magnitude.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochUnit {
    Seconds,
    Milliseconds,
    Microseconds,
    Nanoseconds,
}

impl EpochUnit {
    /// Seconds below 1e11 (up to year 5138), milliseconds below 1e14,
    /// microseconds below 1e17, nanoseconds above.
    pub fn detect(magnitude: f64) -> Self {
        let a = magnitude.abs();
        if a < 1e11 {
            Self::Seconds
        } else if a < 1e14 {
            Self::Milliseconds
        } else if a < 1e17 {
            Self::Microseconds
        } else {
            Self::Nanoseconds
        }
    }

    /// Converts an integer epoch value to milliseconds (truncating toward
    /// negative infinity below a millisecond).
    pub fn int_to_ms(self, v: i64) -> i64 {
        match self {
            Self::Seconds => v.saturating_mul(1000),
            Self::Milliseconds => v,
            Self::Microseconds => v.div_euclid(1000),
            Self::Nanoseconds => v.div_euclid(1_000_000),
        }
    }

    /// Converts a fractional epoch value to milliseconds, rounded.
    pub fn float_to_ms(self, v: f64) -> i64 {
        let ms = match self {
            Self::Seconds => v * 1e3,
            Self::Milliseconds => v,
            Self::Microseconds => v / 1e3,
            Self::Nanoseconds => v / 1e6,
        };
        ms.round() as i64
    }

    /// Milliseconds expressed in this unit (for pushing a range into a scan).
    pub fn ms_to_unit(self, ms: i64) -> i64 {
        match self {
            Self::Seconds => ms.div_euclid(1000),
            Self::Milliseconds => ms,
            Self::Microseconds => ms.saturating_mul(1000),
            Self::Nanoseconds => ms.saturating_mul(1_000_000),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_over_four_centuries() {
        for days in (-200_000..200_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
    }

    #[test]
    fn parses_iso_forms() {
        let base = 1_704_067_200_000; // 2024-01-01T00:00:00Z
        assert_eq!(parse_timestamp_text("2024-01-01"), Some(base));
        assert_eq!(parse_timestamp_text("2024-01-01 00:00:00"), Some(base));
        assert_eq!(parse_timestamp_text("2024-01-01T00:00Z"), Some(base));
        assert_eq!(parse_timestamp_text("2024-01-01T01:02:03.456Z"), Some(base + 3_723_456));
        assert_eq!(parse_timestamp_text("2024-01-01T01:02:03.4567891"), Some(base + 3_723_456));
        assert_eq!(parse_timestamp_text("2024-01-01 02:00:00+02:00"), Some(base));
        assert_eq!(parse_timestamp_text("2023-12-31T22:00:00-0200"), Some(base));
        assert_eq!(parse_timestamp_text("2024-01-01T05:30:00+05"), Some(base + 1_800_000));
        assert_eq!(parse_timestamp_text(" 2024-02-29 "), Some(base + 59 * DAY_MS));
    }

    #[test]
    fn rejects_impossible_and_malformed() {
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-01-32",
            "2024-01-01T24:00",
            "2024-01-01T00:60",
            "2024-1-01",
            "20240101",
            "2024-01-01T00:00:00.",
            "2024-01-01T00:00:00X",
            "2024-01-01T00:00:00+5",
            "abc",
            "",
        ] {
            assert_eq!(parse_timestamp_text(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(format_ms(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_ms(1_704_067_200_000 + 3_723_456), "2024-01-01T01:02:03.456Z");
        assert_eq!(format_ms(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn epoch_units_by_magnitude() {
        assert_eq!(EpochUnit::detect(1.7e9), EpochUnit::Seconds);
        assert_eq!(EpochUnit::detect(1.7e12), EpochUnit::Milliseconds);
        assert_eq!(EpochUnit::detect(1.7e15), EpochUnit::Microseconds);
        assert_eq!(EpochUnit::detect(1.7e18), EpochUnit::Nanoseconds);
        assert_eq!(EpochUnit::Seconds.int_to_ms(1_700_000_000), 1_700_000_000_000);
        assert_eq!(EpochUnit::Microseconds.int_to_ms(1_700_000_000_123_456), 1_700_000_000_123);
        assert_eq!(EpochUnit::Seconds.float_to_ms(1_700_000_000.5), 1_700_000_000_500);
        assert_eq!(EpochUnit::Seconds.ms_to_unit(1_700_000_000_999), 1_700_000_000);
    }
}
