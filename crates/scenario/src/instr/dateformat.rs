//! `<dateformat>`: parse an absolute date and print it with PHP `date()`
//! format letters, with no clock and no time-zone database.
//!
//! Accepted dates (surrounding whitespace is ignored):
//! - `@<unix seconds>`, optionally signed; always UTC (zone shown `+00:00`);
//! - `YYYY-MM-DD`, optionally followed by `T` (or `t`, or spaces) and
//!   `HH:MM[:SS[.fraction]]`, then optionally (after optional spaces) a zone:
//!   `Z`, `UTC`, `±HH`, `±HH:MM` or `±HHMM`;
//! - `DD-MM-YYYY`, with the same optional time and zone.
//!
//! Month and day take one or two digits. As in PHP, out-of-range values that
//! PHP's parser still accepts roll over: month 00 and day 00 to 31 (so
//! `2017-02-30` is 2 March), hour 24 and second 60.
//!
//! Relative dates (`now`, `today`, `+1 day`, `next monday`, the empty
//! string...) read the clock in PHP and are refused here.
//!
//! The `timezone` argument is `UTC`, `Z` or a fixed offset (`+02:00`,
//! `-0530`, `+01`). As in PHP it is used for a date that has no zone of its
//! own, and is then the zone shown; a date with its own zone (or `@...`)
//! keeps it. Time-zone names such as `Europe/Amsterdam` need a zone database
//! and are refused.
//!
//! Format letters follow PHP 7: `d D j l N S w z W F m M n t L o Y y a A B g G
//! h H i s u v e I O P p T Z c r U`, `\` escapes the next character, and any
//! other character is copied. `T` shows `GMT+0200` for an offset zone (PHP
//! before 8.2); `p` (PHP 8) shows `Z` for a zero offset; `I` is always `0`.

const DAY: i64 = 86_400;

const DAY_NAMES: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Words that only occur in relative date expressions.
const RELATIVE_WORDS: &[&str] = &[
    "now",
    "today",
    "tomorrow",
    "yesterday",
    "midnight",
    "noon",
    "next",
    "last",
    "previous",
    "this",
    "ago",
    "of",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "sec",
    "secs",
    "seconds",
    "min",
    "mins",
    "minute",
    "minutes",
    "hour",
    "hours",
    "day",
    "days",
    "week",
    "weeks",
    "fortnight",
    "fortnights",
    "forthnight",
    "month",
    "months",
    "year",
    "years",
    "weekday",
    "weekdays",
    "usec",
    "usecs",
    "msec",
    "msecs",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "mon",
    "tue",
    "tues",
    "wed",
    "thu",
    "thur",
    "thurs",
    "fri",
    "sat",
    "sun",
    "back",
    "front",
];

/// How a zone is named in output (`e`, `T`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ZoneName {
    /// The identifier `UTC` (from the `timezone` argument, a ` UTC` suffix,
    /// or the default).
    Utc,
    /// The abbreviation `Z`.
    Z,
    /// A plain offset.
    Offset,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Zone {
    name: ZoneName,
    /// Seconds east of UTC.
    offset: i64,
}

const UTC: Zone = Zone {
    name: ZoneName::Utc,
    offset: 0,
};

/// A parsed date: wall-clock time (seconds since 1970-01-01 00:00 of the
/// local calendar) and microseconds, and the zone if the text gave one.
struct Parsed {
    local: i64,
    micros: u32,
    zone: Option<Zone>,
}

// ---------------------------------------------------------------- calendar

use accord_crypto::calendar::{civil_from_days, days_from_civil, days_in_month, is_leap, weekday};

/// ISO 8601 weeks in year `y`: 53 when the year starts on a Thursday, or on
/// a Wednesday in a leap year.
fn iso_weeks_in_year(y: i64) -> i64 {
    let jan1 = weekday(days_from_civil(y, 1, 1));
    if jan1 == 4 || (jan1 == 3 && is_leap(y)) {
        53
    } else {
        52
    }
}

/// (ISO year, ISO week) of a day.
fn iso_week(days: i64) -> (i64, i64) {
    let (y, _, _) = civil_from_days(days);
    let doy = days - days_from_civil(y, 1, 1) + 1; // 1-based
    let w = weekday(days);
    let iso_dow = if w == 0 { 7 } else { w };
    let week = (doy - iso_dow + 10) / 7;
    if week < 1 {
        (y - 1, iso_weeks_in_year(y - 1))
    } else if week > iso_weeks_in_year(y) {
        (y + 1, 1)
    } else {
        (y, week)
    }
}

// ----------------------------------------------------------------- parsing

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Reads between `min` and `max` digits.
    fn digits(&mut self, min: usize, max: usize) -> Option<i64> {
        let start = self.i;
        let mut v: i64 = 0;
        while self.i - start < max {
            match self.peek() {
                Some(c @ b'0'..=b'9') => {
                    v = v * 10 + i64::from(c - b'0');
                    self.i += 1;
                }
                _ => break,
            }
        }
        if self.i - start < min {
            self.i = start;
            None
        } else {
            Some(v)
        }
    }

    fn skip_spaces(&mut self) -> bool {
        let start = self.i;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
        self.i > start
    }

    fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }

    fn rest_is(&self, s: &str) -> bool {
        self.b
            .get(self.i..)
            .is_some_and(|r| r.eq_ignore_ascii_case(s.as_bytes()))
    }
}

/// `±HH`, `±HH:MM` or `±HHMM` (the sign already checked by the caller).
fn parse_offset(c: &mut Cursor) -> Option<i64> {
    let sign = match c.peek()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    c.i += 1;
    let h = c.digits(2, 2)?;
    let m = if c.eat(b':') {
        c.digits(2, 2)?
    } else {
        c.digits(2, 2).unwrap_or(0)
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

/// The date part, either `YYYY-M-D` or `D-M-YYYY`: (year, month, day).
fn parse_ymd(c: &mut Cursor) -> Option<(i64, i64, i64)> {
    let start = c.i;
    let first = c.digits(1, 4)?;
    let first_len = c.i - start;
    if !c.eat(b'-') {
        return None;
    }
    let (y, m, d) = if first_len == 4 {
        let m = c.digits(1, 2)?;
        c.eat(b'-').then_some(())?;
        let d = c.digits(1, 2)?;
        (first, m, d)
    } else if first_len <= 2 {
        let m = c.digits(1, 2)?;
        c.eat(b'-').then_some(())?;
        let y = c.digits(4, 4)?;
        (y, m, first)
    } else {
        return None;
    };
    // A further digit means a longer number than the forms allow.
    if matches!(c.peek(), Some(b'0'..=b'9')) || m > 12 || d > 31 {
        return None;
    }
    Some((y, m, d))
}

/// `HH:MM[:SS[.frac]]`: (seconds of the day, microseconds).
fn parse_time(c: &mut Cursor) -> Option<(i64, u32)> {
    let h = c.digits(1, 2)?;
    c.eat(b':').then_some(())?;
    let mi = c.digits(2, 2)?;
    let mut s = 0;
    let mut micros: u32 = 0;
    if c.eat(b':') {
        s = c.digits(2, 2)?;
        if c.eat(b'.') || c.eat(b',') {
            let start = c.i;
            let mut scale: u32 = 100_000;
            while let Some(d @ b'0'..=b'9') = c.peek() {
                micros += u32::from(d - b'0') * scale;
                scale /= 10;
                c.i += 1;
            }
            if c.i == start {
                return None;
            }
        }
    }
    if h > 24 || mi > 59 || s > 60 {
        return None;
    }
    Some((h * 3600 + mi * 60 + s, micros))
}

fn parse_absolute(text: &str) -> Option<Parsed> {
    let mut c = Cursor {
        b: text.as_bytes(),
        i: 0,
    };
    if c.eat(b'@') {
        let neg = if c.eat(b'-') {
            true
        } else {
            c.eat(b'+');
            false
        };
        let digits = text.get(c.i..)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v: i64 = digits.parse().ok()?;
        return Some(Parsed {
            local: if neg { v.checked_neg()? } else { v },
            micros: 0,
            zone: Some(Zone {
                name: ZoneName::Offset,
                offset: 0,
            }),
        });
    }
    let (y, m, d) = parse_ymd(&mut c)?;
    // Month 0 is December of the year before (PHP rolls it over).
    let (y, m) = if m == 0 { (y - 1, 12) } else { (y, m) };
    let days = days_from_civil(y, m, 1) + d - 1;
    let mut secs = 0;
    let mut micros = 0;
    let save = c.i;
    let sep = c.eat(b'T') || c.eat(b't') || c.skip_spaces();
    if sep {
        match parse_time(&mut c) {
            Some((s, u)) => {
                secs = s;
                micros = u;
            }
            None => c.i = save,
        }
    }
    c.skip_spaces();
    let zone = if c.at_end() {
        None
    } else if c.rest_is("z") {
        c.i += 1;
        Some(Zone {
            name: ZoneName::Z,
            offset: 0,
        })
    } else if c.rest_is("utc") {
        c.i += 3;
        Some(UTC)
    } else {
        let off = parse_offset(&mut c)?;
        Some(Zone {
            name: ZoneName::Offset,
            offset: off,
        })
    };
    c.skip_spaces();
    if !c.at_end() {
        return None;
    }
    Some(Parsed {
        local: days * DAY + secs,
        micros,
        zone,
    })
}

fn looks_relative(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower
        .split(|c: char| !c.is_ascii_alphabetic())
        .any(|w| RELATIVE_WORDS.contains(&w))
}

fn parse_timezone(tz: &str) -> Result<Zone, String> {
    let t = tz.trim();
    if t.eq_ignore_ascii_case("utc") {
        return Ok(UTC);
    }
    if t.eq_ignore_ascii_case("z") {
        return Ok(Zone {
            name: ZoneName::Z,
            offset: 0,
        });
    }
    let mut c = Cursor {
        b: t.as_bytes(),
        i: 0,
    };
    if let Some(off) = parse_offset(&mut c)
        && c.at_end()
    {
        return Ok(Zone {
            name: ZoneName::Offset,
            offset: off,
        });
    }
    if t.bytes().any(|b| b.is_ascii_alphabetic() || b == b'/') {
        Err(format!(
            "time-zone names are not supported; give an offset such as +01:00 (got `{tz}`)"
        ))
    } else {
        Err(format!(
            "`{tz}` is not a valid time zone; give UTC or an offset such as +01:00"
        ))
    }
}

// -------------------------------------------------------------- formatting

fn offset_text(offset: i64, colon: bool) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let a = offset.unsigned_abs();
    let (h, m) = (a / 3600, (a % 3600) / 60);
    if colon {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}")
    }
}

struct Moment {
    /// Wall-clock seconds since 1970-01-01 00:00 in the zone.
    local: i64,
    micros: u32,
    zone: Zone,
}

impl Moment {
    fn format(&self, fmt: &str) -> String {
        let days = self.local.div_euclid(DAY);
        let sod = self.local.rem_euclid(DAY);
        let (y, m, d) = civil_from_days(days);
        let (hour, minute, second) = (sod / 3600, (sod % 3600) / 60, sod % 60);
        let w = weekday(days);
        let utc = self.local - self.zone.offset;
        let month_name = MONTH_NAMES
            .get(usize::try_from(m - 1).unwrap_or(0))
            .copied()
            .unwrap_or("");
        let day_name = DAY_NAMES
            .get(usize::try_from(w).unwrap_or(0))
            .copied()
            .unwrap_or("");
        let year4 = |y: i64| {
            let sign = if y < 0 { "-" } else { "" };
            format!("{sign}{:04}", y.unsigned_abs())
        };
        let mut out = String::new();
        let mut chars = fmt.chars();
        while let Some(ch) = chars.next() {
            match ch {
                // Day.
                'd' => out.push_str(&format!("{d:02}")),
                'D' => out.push_str(day_name.get(..3).unwrap_or("")),
                'j' => out.push_str(&d.to_string()),
                'l' => out.push_str(day_name),
                'N' => out.push_str(&(if w == 0 { 7 } else { w }).to_string()),
                'S' => out.push_str(match d {
                    11..=13 => "th",
                    _ if d % 10 == 1 => "st",
                    _ if d % 10 == 2 => "nd",
                    _ if d % 10 == 3 => "rd",
                    _ => "th",
                }),
                'w' => out.push_str(&w.to_string()),
                'z' => out.push_str(&(days - days_from_civil(y, 1, 1)).to_string()),
                // Week.
                'W' => out.push_str(&format!("{:02}", iso_week(days).1)),
                // Month.
                'F' => out.push_str(month_name),
                'm' => out.push_str(&format!("{m:02}")),
                'M' => out.push_str(month_name.get(..3).unwrap_or("")),
                'n' => out.push_str(&m.to_string()),
                't' => out.push_str(&days_in_month(y, m).to_string()),
                // Year.
                'L' => out.push(if is_leap(y) { '1' } else { '0' }),
                'o' => out.push_str(&iso_week(days).0.to_string()),
                'Y' => out.push_str(&year4(y)),
                'y' => out.push_str(&format!("{:02}", y % 100)),
                // Time.
                'a' => out.push_str(if hour < 12 { "am" } else { "pm" }),
                'A' => out.push_str(if hour < 12 { "AM" } else { "PM" }),
                'B' => {
                    // Swatch Internet time: beats of Biel Mean Time (UTC+1).
                    let mut beats = ((utc % DAY) + 3600) * 10;
                    if beats < 0 {
                        beats += 864_000;
                    }
                    out.push_str(&format!("{:03}", (beats / 864) % 1000));
                }
                'g' => out.push_str(&(if hour % 12 == 0 { 12 } else { hour % 12 }).to_string()),
                'G' => out.push_str(&hour.to_string()),
                'h' => out.push_str(&format!(
                    "{:02}",
                    if hour % 12 == 0 { 12 } else { hour % 12 }
                )),
                'H' => out.push_str(&format!("{hour:02}")),
                'i' => out.push_str(&format!("{minute:02}")),
                's' => out.push_str(&format!("{second:02}")),
                'u' => out.push_str(&format!("{:06}", self.micros)),
                'v' => out.push_str(&format!("{:03}", self.micros / 1000)),
                // Zone.
                'e' => match self.zone.name {
                    ZoneName::Utc => out.push_str("UTC"),
                    ZoneName::Z => out.push('Z'),
                    ZoneName::Offset => out.push_str(&offset_text(self.zone.offset, true)),
                },
                'I' => out.push('0'),
                'O' => out.push_str(&offset_text(self.zone.offset, false)),
                'P' => out.push_str(&offset_text(self.zone.offset, true)),
                'p' => {
                    if self.zone.offset == 0 {
                        out.push('Z');
                    } else {
                        out.push_str(&offset_text(self.zone.offset, true));
                    }
                }
                'T' => match self.zone.name {
                    ZoneName::Utc => out.push_str("UTC"),
                    ZoneName::Z => out.push('Z'),
                    ZoneName::Offset => {
                        out.push_str("GMT");
                        out.push_str(&offset_text(self.zone.offset, false));
                    }
                },
                'Z' => out.push_str(&self.zone.offset.to_string()),
                // Full date/time.
                'c' => out.push_str(&self.format("Y-m-d\\TH:i:sP")),
                'r' => out.push_str(&self.format("D, d M Y H:i:s O")),
                'U' => out.push_str(&utc.to_string()),
                '\\' => {
                    if let Some(next) = chars.next() {
                        out.push(next);
                    }
                }
                other => out.push(other),
            }
        }
        out
    }
}

/// Parses `date` (an absolute date, see the module documentation) and prints
/// it with the PHP `date()` format `format` (default `Y-m-d`). `timezone`
/// applies to a date that has no zone of its own.
pub fn format_date(
    date: &str,
    format: Option<&str>,
    timezone: Option<&str>,
) -> Result<String, String> {
    let default_zone = match timezone {
        None => UTC,
        Some(tz) => parse_timezone(tz)?,
    };
    let text = date.trim_matches(|c: char| c.is_ascii_whitespace());
    if text.is_empty() {
        return Err(
            "an empty date means \"now\" in PHP; relative dates read the clock and are not allowed"
                .into(),
        );
    }
    let parsed = match parse_absolute(text) {
        Some(p) => p,
        None if looks_relative(text) => {
            return Err(format!(
                "`{date}` is a relative date; relative dates read the clock and are not allowed"
            ));
        }
        None => {
            return Err(format!(
                "cannot read the date `{date}`; give @<unix seconds>, YYYY-MM-DD or DD-MM-YYYY, \
                 optionally with a time HH:MM[:SS] and an offset"
            ));
        }
    };
    // `parsed.local` is wall-clock time in the date's zone; for "@..." that
    // zone is UTC, so it is also the Unix time.
    let zone = parsed.zone.unwrap_or(default_zone);
    // Keep years printable and every derived value far from overflow:
    // about ±292 million years either way leaves ample i64 headroom.
    const LIMIT: i64 = i64::MAX / 1024;
    if !(-LIMIT..=LIMIT).contains(&parsed.local) {
        return Err(format!("the date `{date}` is out of range"));
    }
    let m = Moment {
        local: parsed.local,
        micros: parsed.micros,
        zone,
    };
    Ok(m.format(format.unwrap_or("Y-m-d")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(date: &str, format: &str) -> String {
        format_date(date, Some(format), None).unwrap()
    }

    fn ft(date: &str, format: &str, tz: &str) -> String {
        format_date(date, Some(format), Some(tz)).unwrap()
    }

    #[test]
    fn spec_cases() {
        assert_eq!(f("@1501106400", "Y-m-d"), "2017-07-26");
        assert_eq!(f("26-07-2017", "Y-m-d H:i:s"), "2017-07-26 00:00:00");
        assert_eq!(ft("26-07-2017", "c", "UTC"), "2017-07-26T00:00:00+00:00");
        assert_eq!(f("2017-07-27T00:00:00+0200", "Y-m-d"), "2017-07-27");
        assert_eq!(format_date("2017-07-27", None, None).unwrap(), "2017-07-27");
    }

    #[test]
    fn iso_weeks() {
        assert_eq!(f("2021-01-03", "o-\\WW N"), "2020-W53 7");
        assert_eq!(f("2021-01-04", "o-\\WW N"), "2021-W01 1");
        assert_eq!(f("2020-12-31", "o-\\WW"), "2020-W53");
        assert_eq!(f("2019-12-30", "o-\\WW Y"), "2020-W01 2019");
        assert_eq!(f("2018-12-31", "o-\\WW"), "2019-W01");
        assert_eq!(f("2016-01-03", "o-\\WW"), "2015-W53");
        assert_eq!(f("2017-01-01", "o-\\WW"), "2016-W52");
        assert_eq!(f("2015-12-31", "o-\\WW"), "2015-W53");
        assert_eq!(f("2017-07-26", "W"), "30");
        assert_eq!(f("2008-12-29", "o W"), "2009 01");
    }

    #[test]
    fn leap_years() {
        assert_eq!(f("2000-02-01", "L t"), "1 29");
        assert_eq!(f("1900-02-01", "L t"), "0 28");
        assert_eq!(f("2024-02-29", "L t z"), "1 29 59");
        assert_eq!(f("2023-12-31", "z"), "364");
        assert_eq!(f("2024-12-31", "z"), "365");
        // PHP rolls impossible days over.
        assert_eq!(f("2023-02-29", "Y-m-d"), "2023-03-01");
        assert_eq!(f("2017-02-30", "Y-m-d"), "2017-03-02");
        assert_eq!(f("2017-00-00", "Y-m-d"), "2016-11-30");
        assert_eq!(f("2017-01-31T24:00", "Y-m-d H:i"), "2017-02-01 00:00");
    }

    #[test]
    fn letters() {
        let d = "2017-07-04T15:05:09.123456";
        assert_eq!(f(d, "d D j l N S w z"), "04 Tue 4 Tuesday 2 th 2 184");
        assert_eq!(f(d, "F m M n t"), "July 07 Jul 7 31");
        assert_eq!(f(d, "Y y"), "2017 17");
        assert_eq!(
            f(d, "a A g G h H i s u v"),
            "pm PM 3 15 03 15 05 09 123456 123"
        );
        assert_eq!(f(d, "e T O P p Z I"), "UTC UTC +0000 +00:00 Z 0 0");
        assert_eq!(f(d, "U"), "1499180709");
        assert_eq!(f("2017-07-04T00:30", "g h a"), "12 12 am");
        assert_eq!(f("2017-07-04T12:30", "g h a"), "12 12 pm");
        assert_eq!(f("2017-07-01", "jS"), "1st");
        assert_eq!(f("2017-07-02", "jS"), "2nd");
        assert_eq!(f("2017-07-03", "jS"), "3rd");
        assert_eq!(f("2017-07-11", "jS"), "11th");
        assert_eq!(f("2017-07-12", "jS"), "12th");
        assert_eq!(f("2017-07-13", "jS"), "13th");
        assert_eq!(f("2017-07-21", "jS"), "21st");
        assert_eq!(f("2017-07-22", "jS"), "22nd");
        assert_eq!(f("2017-07-23", "jS"), "23rd");
        assert_eq!(f("2017-07-30", "jS"), "30th");
        assert_eq!(f("2017-07-04", "\\Y\\-\\m: Y \\\\ ü q"), "Y-m: 2017 \\ ü q");
        assert_eq!(f("2017-07-04", ""), "");
        assert_eq!(f("2017-07-04", "Y\\"), "2017");
        assert_eq!(f("2017-07-04 12:00", "B"), "541");
        assert_eq!(f("2017-07-04 23:00", "B"), "000");
        assert_eq!(f("0005-01-01", "Y y"), "0005 05");
    }

    #[test]
    fn r_and_c() {
        assert_eq!(
            f("2017-07-26T10:20:30+02:00", "r"),
            "Wed, 26 Jul 2017 10:20:30 +0200"
        );
        assert_eq!(
            f("2017-07-26T10:20:30+02:00", "c"),
            "2017-07-26T10:20:30+02:00"
        );
        assert_eq!(f("@0", "r"), "Thu, 01 Jan 1970 00:00:00 +0000");
    }

    #[test]
    fn unix_times() {
        assert_eq!(
            f("@0", "Y-m-d H:i:s e T U"),
            "1970-01-01 00:00:00 +00:00 GMT+0000 0"
        );
        assert_eq!(f("@-1", "Y-m-d H:i:s U"), "1969-12-31 23:59:59 -1");
        assert_eq!(f("@-86401", "Y-m-d H:i:s"), "1969-12-30 23:59:59");
        assert_eq!(f("@-2208988800", "Y-m-d l"), "1900-01-01 Monday");
        assert_eq!(f("@+86400", "Y-m-d"), "1970-01-02");
        // "@..." keeps UTC even when a zone is given.
        assert_eq!(
            ft("@1501106400", "c", "+02:00"),
            "2017-07-26T22:00:00+00:00"
        );
        assert_eq!(f("@253402300799", "Y-m-d H:i:s"), "9999-12-31 23:59:59");
        assert_eq!(f("@253402300800", "Y-m-d"), "10000-01-01");
        assert!(f("@-62167219201", "Y").starts_with("-0001"));
        assert!(format_date("@9223372036854775807", None, None).is_err());
        assert!(format_date("@-9223372036854775808", None, None).is_err());
        assert!(format_date("@99999999999999999999", None, None).is_err());
        assert!(format_date("@", None, None).is_err());
        assert!(format_date("@1.5", None, None).is_err());
        assert!(format_date("@12abc", None, None).is_err());
    }

    #[test]
    fn offsets_and_zones() {
        // The date's own offset is kept, whatever `timezone` says.
        assert_eq!(
            ft("2017-07-27T00:00:00+0200", "c U", "-05:00"),
            "2017-07-27T00:00:00+02:00 1501106400"
        );
        assert_eq!(
            f("2017-07-27T00:00:00-05:30", "O P Z e T"),
            "-0530 -05:30 -19800 -05:30 GMT-0530"
        );
        assert_eq!(
            f("2017-07-27T00:00:00Z", "c e T p"),
            "2017-07-27T00:00:00+00:00 Z Z Z"
        );
        assert_eq!(
            f("2017-07-27 10:00 UTC", "c e"),
            "2017-07-27T10:00:00+00:00 UTC"
        );
        assert_eq!(f("2017-07-27 10:00 +01", "c"), "2017-07-27T10:00:00+01:00");
        assert_eq!(
            f("2017-07-27T10:00:00 +01:00", "c"),
            "2017-07-27T10:00:00+01:00"
        );
        // A date without an offset is read in `timezone`.
        assert_eq!(
            ft("2017-07-27 10:00", "c U", "+02:00"),
            "2017-07-27T10:00:00+02:00 1501142400"
        );
        assert_eq!(
            ft("2017-07-27", "c e T", "-0530"),
            "2017-07-27T00:00:00-05:30 -05:30 GMT-0530"
        );
        assert_eq!(ft("2017-07-27", "e T P", "Z"), "Z Z +00:00");
        assert_eq!(ft("2017-07-27", "e T", "utc"), "UTC UTC");
        assert_eq!(f("2017-07-27", "e T"), "UTC UTC");
        assert_eq!(ft("2017-07-27", "p", "+01:00"), "+01:00");
    }

    #[test]
    fn zone_errors() {
        let e = format_date("2017-07-27", None, Some("Europe/Amsterdam")).unwrap_err();
        assert!(
            e.starts_with("time-zone names are not supported; give an offset such as +01:00"),
            "{e}"
        );
        assert!(e.contains("+01:00"), "{e}");
        assert!(format_date("2017-07-27", None, Some("CET")).is_err());
        assert!(format_date("2017-07-27", None, Some("+25:00")).is_err());
        assert!(format_date("2017-07-27", None, Some("+01:60")).is_err());
        assert!(format_date("2017-07-27", None, Some("")).is_err());
        assert!(format_date("2017-07-27", None, Some("+1")).is_err());
    }

    #[test]
    fn relative_dates_are_refused() {
        for rel in [
            "now",
            "today",
            "tomorrow",
            "yesterday",
            "+1 day",
            "-2 weeks",
            "next monday",
            "last day of next month",
            "",
            "   ",
            "Monday",
            "2017-07-26 +1 day",
            "noon",
            "3 days ago",
        ] {
            let e = format_date(rel, None, None).unwrap_err();
            assert!(e.contains("relative dates read the clock"), "{rel:?}: {e}");
        }
    }

    #[test]
    fn unparsable_dates() {
        for bad in [
            "garbage",
            "2017-13-01",
            "2017-01-32",
            "2017/07/26",
            "17-07-26x",
            "26-07-17",
            "2017-07-26T25:00",
            "2017-07-26T10:60",
            "2017-07-26T10:00:61",
            "2017-07-26T10",
            "2017-07-26T10:00:00+2",
            "2017-07-26T10:00:00.",
            "2017-07-26 10:00 CEST",
            "12017-07-26",
            "2017-07-266",
            "26-07-20170",
            "é",
            "2017-07-26\u{0}",
        ] {
            let e = format_date(bad, None, None).unwrap_err();
            assert!(e.contains("cannot read the date"), "{bad:?}: {e}");
            assert!(e.contains(bad), "{bad:?}: {e}");
        }
    }

    #[test]
    fn accepted_variants() {
        assert_eq!(f("2017-7-6", "Y-m-d"), "2017-07-06");
        assert_eq!(f("6-7-2017", "Y-m-d"), "2017-07-06");
        assert_eq!(f("26-07-2017 13:14:15", "c"), "2017-07-26T13:14:15+00:00");
        assert_eq!(f("  2017-07-26t09:08  ", "c"), "2017-07-26T09:08:00+00:00");
        assert_eq!(f("2017-07-26 9:08", "H:i"), "09:08");
        assert_eq!(f("2017-07-26T09:08:07,5", "s.u v"), "07.500000 500");
        assert_eq!(f("2017-07-26T09:08:07.1234567", "u"), "123456");
        assert_eq!(
            f("2017-07-26T23:59:60", "Y-m-d H:i:s"),
            "2017-07-27 00:00:00"
        );
    }

    #[test]
    fn never_panics_on_odd_input() {
        let weird = [
            "@-",
            "@+",
            "--",
            "-",
            "9999-99-99",
            "0000-00-00",
            "0000-01-01T00:00:00-23:59",
            "@-9223372036854775807",
            "@9223372036854775806",
            "1-1-0000",
            "\u{202F}",
        ];
        for w in weird {
            for fmt in ["c r U W o B z t L", "Y y S N"] {
                let _ = format_date(w, Some(fmt), Some("+23:59"));
                let _ = format_date(w, Some(fmt), None);
            }
        }
        assert_eq!(f("0000-00-00", "Y-m-d"), "-0001-11-30");
        assert_eq!(f("0000-01-01", "Y-m-d L o W"), "0000-01-01 1 -1 52");
    }
}
