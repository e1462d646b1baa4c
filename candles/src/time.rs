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

pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
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

const MONTHS: [&[u8]; 12] = [
    b"january",
    b"february",
    b"march",
    b"april",
    b"may",
    b"june",
    b"july",
    b"august",
    b"september",
    b"october",
    b"november",
    b"december",
];

impl Cursor<'_> {
    /// One or two digits (`9` or `09`).
    fn digits_1_2(&mut self) -> Option<u32> {
        let first = self.digits(1)?;
        Some(match self.peek() {
            Some(d) if d.is_ascii_digit() => {
                self.i += 1;
                first * 10 + u32::from(d - b'0')
            }
            _ => first,
        })
    }

    /// An English month name, full or its first three letters, any case.
    fn month_name(&mut self) -> Option<u32> {
        let rest = &self.b[self.i..];
        for (k, full) in MONTHS.iter().enumerate() {
            if rest.len() >= full.len() && rest[..full.len()].eq_ignore_ascii_case(full) {
                self.i += full.len();
                return Some(k as u32 + 1);
            }
        }
        for (k, full) in MONTHS.iter().enumerate() {
            if rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(&full[..3]) {
                self.i += 3;
                return Some(k as u32 + 1);
            }
        }
        None
    }
}

/// A two-digit year as POSIX `strptime` reads it: 69-99 are 19xx, 00-68 20xx.
pub fn century_of(yy: u32) -> i64 {
    i64::from(yy) + if yy >= 69 { 1900 } else { 2000 }
}

/// UTC milliseconds of a date and time of day, `None` for an impossible one.
fn civil_ms(year: i64, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> Option<i64> {
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some(
        days_from_civil(year, month, day) * DAY_MS
            + i64::from(hour * 3_600_000 + minute * 60_000 + second * 1000),
    )
}

/// What may follow a date in the day-first and month-first forms: nothing, or
/// a space and `H:MM` with optional `:SS`.
fn time_tail(c: &mut Cursor<'_>) -> Option<(u32, u32, u32)> {
    if c.done() {
        return Some((0, 0, 0));
    }
    if !c.eat(b' ') {
        return None;
    }
    let hour = c.digits_1_2()?;
    if !c.eat(b':') {
        return None;
    }
    let minute = c.digits(2)?;
    let second = if c.eat(b':') { c.digits(2)? } else { 0 };
    c.done().then_some((hour, minute, second))
}

/// `19-Sep-03` (`%d-%b-%y`, the day may be one digit, the year four digits).
fn parse_day_month_name(text: &[u8]) -> Option<i64> {
    let mut c = Cursor { b: text, i: 0 };
    let day = c.digits_1_2()?;
    if !c.eat(b'-') {
        return None;
    }
    let month = c.month_name()?;
    if !c.eat(b'-') {
        return None;
    }
    let year = match c.digits(4) {
        Some(y) => i64::from(y),
        None => century_of(c.digits(2)?),
    };
    let (h, mi, s) = time_tail(&mut c)?;
    civil_ms(year, month, day, h, mi, s)
}

/// `09/19/2003` (`%m/%d/%Y`, month and day may be one digit).
fn parse_month_day_year(text: &[u8]) -> Option<i64> {
    let mut c = Cursor { b: text, i: 0 };
    let month = c.digits_1_2()?;
    if !c.eat(b'/') {
        return None;
    }
    let day = c.digits_1_2()?;
    if !c.eat(b'/') {
        return None;
    }
    let year = i64::from(c.digits(4)?);
    let (h, mi, s) = time_tail(&mut c)?;
    civil_ms(year, month, day, h, mi, s)
}

/// Parses a time as written in published datasets: ISO 8601 / RFC 3339 (as
/// [`parse_timestamp_text`]), `19-Sep-03` (`%d-%b-%y`, two-digit years as
/// [`century_of`]) and `09/19/2003` (`%m/%d/%Y`), the last two optionally
/// followed by ` HH:MM[:SS]`. Numbers are not read here (see [`NumberTime`]).
pub fn parse_time_text(text: &str) -> Option<i64> {
    let t = text.trim();
    parse_timestamp_text(t)
        .or_else(|| parse_day_month_name(t.as_bytes()))
        .or_else(|| parse_month_day_year(t.as_bytes()))
}

/// A time column of numbers: epoch values in a unit told by magnitude, or
/// dates written as `YYYYMMDD` integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberTime {
    Epoch(EpochUnit),
    /// `20030919`.
    Yyyymmdd,
}

impl NumberTime {
    /// Decided by the column's first value: an integer from 19000101 to
    /// 21001231 that is a valid date is `YYYYMMDD` (as epoch seconds it would
    /// be a moment between August 9 and September 1, 1970); anything else is
    /// an epoch value ([`EpochUnit::detect`]).
    pub fn detect(first: f64) -> Self {
        if first.fract() == 0.0 && yyyymmdd_to_ms(first as i64).is_some() {
            Self::Yyyymmdd
        } else {
            Self::Epoch(EpochUnit::detect(first))
        }
    }

    /// An integer in this form as milliseconds; `None` for a `YYYYMMDD` value
    /// that is not a date.
    pub fn int_to_ms(self, v: i64) -> Option<i64> {
        match self {
            Self::Epoch(unit) => Some(unit.int_to_ms(v)),
            Self::Yyyymmdd => yyyymmdd_to_ms(v),
        }
    }

    /// A float in this form as milliseconds; `None` for a `YYYYMMDD` value
    /// that is not a whole date.
    pub fn float_to_ms(self, v: f64) -> Option<i64> {
        match self {
            Self::Epoch(unit) => Some(unit.float_to_ms(v)),
            Self::Yyyymmdd if v.fract() == 0.0 => yyyymmdd_to_ms(v as i64),
            Self::Yyyymmdd => None,
        }
    }

    /// What a value of this form looks like, for error messages.
    pub fn expected(self) -> &'static str {
        match self {
            Self::Epoch(_) => "a timestamp",
            Self::Yyyymmdd => "a date YYYYMMDD (as the first row)",
        }
    }
}

/// `20030919` as milliseconds, `None` outside 19000101..=21001231 or for an
/// impossible date.
pub fn yyyymmdd_to_ms(v: i64) -> Option<i64> {
    if !(19_000_101..=21_001_231).contains(&v) {
        return None;
    }
    let (year, month, day) = (v / 10_000, (v / 100 % 100) as u32, (v % 100) as u32);
    civil_ms(year, month, day, 0, 0, 0)
}

/// One piece of a [`TimePattern`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    Literal(u8),
    Year4,
    Year2,
    Month,
    MonthName,
    Day,
    Hour,
    Minute,
    Second,
}

/// A strftime-like time format given by the user (`--time-format`),
/// compiled once and applied to every row without allocating.
///
/// Specifiers: `%Y` (four-digit year), `%y` (two-digit year, as
/// [`century_of`]), `%m` (month, one or two digits), `%d` (day), `%b` / `%B`
/// (month name, full or three letters, any case), `%H`, `%M`, `%S` (hour,
/// minute, second, one or two digits) and `%%`; any other character is
/// literal text. A missing month or day is 1, a missing time of day is
/// midnight; times are UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimePattern {
    text: String,
    pieces: Vec<Piece>,
}

impl TimePattern {
    /// Compiles a format; the error names an unknown specifier and lists the
    /// supported ones.
    pub fn new(format: &str) -> Result<Self, String> {
        let supported = "supported: %Y %y %m %d %b %B %H %M %S %%";
        let mut pieces = Vec::new();
        let mut bytes = format.bytes();
        while let Some(b) = bytes.next() {
            if b != b'%' {
                pieces.push(Piece::Literal(b));
                continue;
            }
            pieces.push(match bytes.next() {
                Some(b'Y') => Piece::Year4,
                Some(b'y') => Piece::Year2,
                Some(b'm') => Piece::Month,
                Some(b'b' | b'B') => Piece::MonthName,
                Some(b'd') => Piece::Day,
                Some(b'H') => Piece::Hour,
                Some(b'M') => Piece::Minute,
                Some(b'S') => Piece::Second,
                Some(b'%') => Piece::Literal(b'%'),
                Some(other) => {
                    let spec = format[format.len() - bytes.len() - 1..]
                        .chars()
                        .next()
                        .map_or_else(|| char::from(other).to_string(), |c| c.to_string());
                    return Err(format!("time format {format:?}: unknown specifier %{spec} ({supported})"));
                }
                None => return Err(format!("time format {format:?} ends with a lone % ({supported})")),
            });
        }
        if !pieces.iter().any(|p| matches!(p, Piece::Year4 | Piece::Year2)) {
            return Err(format!("time format {format:?} has no year (%Y or %y)"));
        }
        Ok(Self { text: format.to_owned(), pieces })
    }

    /// The format as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// UTC milliseconds of a value in this format (surrounding blanks
    /// ignored), `None` when it does not match or is not a possible time.
    pub fn parse(&self, text: &str) -> Option<i64> {
        let mut c = Cursor { b: text.trim().as_bytes(), i: 0 };
        let (mut year, mut month, mut day, mut hour, mut minute, mut second) = (1970i64, 1, 1, 0, 0, 0);
        for &p in &self.pieces {
            match p {
                Piece::Literal(b) => {
                    if !c.eat(b) {
                        return None;
                    }
                }
                Piece::Year4 => year = i64::from(c.digits(4)?),
                Piece::Year2 => year = century_of(c.digits(2)?),
                Piece::Month => month = c.digits_1_2()?,
                Piece::MonthName => month = c.month_name()?,
                Piece::Day => day = c.digits_1_2()?,
                Piece::Hour => hour = c.digits_1_2()?,
                Piece::Minute => minute = c.digits_1_2()?,
                Piece::Second => second = c.digits_1_2()?,
            }
        }
        if !c.done() {
            return None;
        }
        civil_ms(year, month, day, hour, minute, second)
    }
}

impl std::fmt::Display for TimePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for TimePattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::new(s)
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
    fn parses_published_dataset_forms() {
        let sep19 = days_from_civil(2003, 9, 19) * DAY_MS;
        assert_eq!(parse_time_text("19-Sep-03"), Some(sep19));
        assert_eq!(parse_time_text("19-SEP-2003"), Some(sep19));
        assert_eq!(parse_time_text("9-Sep-03"), Some(sep19 - 10 * DAY_MS));
        assert_eq!(parse_time_text("01-Jan-69"), Some(days_from_civil(1969, 1, 1) * DAY_MS));
        assert_eq!(parse_time_text("31-Dec-68"), Some(days_from_civil(2068, 12, 31) * DAY_MS));
        assert_eq!(parse_time_text("09/19/2003"), Some(sep19));
        assert_eq!(parse_time_text("9/19/2003 16:30"), Some(sep19 + 59_400_000));
        assert_eq!(parse_time_text("2003-09-19"), Some(sep19));
        for bad in
            ["19-Sept-03", "31-Sep-03", "19/09/2003", "13/01/2003", "19-Sep-3", "20030919", "19-Sep-03 x"]
        {
            assert_eq!(parse_time_text(bad), None, "{bad}");
        }
    }

    #[test]
    fn number_times_tell_yyyymmdd_from_epochs() {
        let sep19 = days_from_civil(2003, 9, 19) * DAY_MS;
        assert_eq!(NumberTime::detect(20_030_919.0), NumberTime::Yyyymmdd);
        assert_eq!(NumberTime::Yyyymmdd.int_to_ms(20_030_919), Some(sep19));
        assert_eq!(NumberTime::Yyyymmdd.int_to_ms(20_030_931), None);
        assert_eq!(NumberTime::Yyyymmdd.float_to_ms(20_030_919.5), None);
        // Not a date, or out of 1900..=2100: epoch values by magnitude.
        assert_eq!(NumberTime::detect(20_031_319.0), NumberTime::Epoch(EpochUnit::Seconds));
        assert_eq!(NumberTime::detect(1_063_929_600.0), NumberTime::Epoch(EpochUnit::Seconds));
        assert_eq!(NumberTime::detect(18_991_231.0), NumberTime::Epoch(EpochUnit::Seconds));
        assert_eq!(NumberTime::detect(1.7e12), NumberTime::Epoch(EpochUnit::Milliseconds));
        assert_eq!(NumberTime::Epoch(EpochUnit::Seconds).int_to_ms(1_063_929_600), Some(sep19));
    }

    #[test]
    fn time_patterns_parse_what_they_say() {
        let sep19 = days_from_civil(2003, 9, 19) * DAY_MS;
        let p = TimePattern::new("%d.%m.%Y %H:%M:%S").expect("pattern");
        assert_eq!(p.parse("19.09.2003 01:02:03"), Some(sep19 + 3_723_000));
        assert_eq!(p.parse("19.9.2003 1:02:03"), Some(sep19 + 3_723_000));
        assert_eq!(p.parse("19.09.2003"), None);
        assert_eq!(p.parse("31.09.2003 00:00:00"), None);
        let p = TimePattern::new("%Y%m%d").expect("pattern");
        assert_eq!(p.parse("20030919"), Some(sep19));
        let p = TimePattern::new("%b %d, %y").expect("pattern");
        assert_eq!(p.parse("september 19, 03"), Some(sep19));
        assert_eq!(p.parse("Sep 19, 03"), Some(sep19));
        let p = TimePattern::new("100%% %Y-%m").expect("pattern");
        assert_eq!(p.parse("100% 2003-09"), Some(days_from_civil(2003, 9, 1) * DAY_MS));
        let e = TimePattern::new("%Y-%m-%dT%H:%M:%S%z").expect_err("unknown");
        assert!(e.contains("unknown specifier %z") && e.contains("%Y %y %m"), "{e}");
        assert!(TimePattern::new("%Y %").expect_err("lone").contains("lone %"));
        assert!(TimePattern::new("%d/%m").expect_err("no year").contains("no year"));
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
