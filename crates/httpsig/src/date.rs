//! HTTP dates: IMF-fixdate written and read, and the ISO 8601 form LTO clients send, on
//! `accord_crypto::calendar`.

use accord_crypto::calendar;

use crate::trim_ows;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// Formats Unix seconds as an IMF-fixdate, e.g.
/// `Tue, 20 Apr 2021 02:07:55 GMT`, for a `Date` header.
#[must_use]
pub fn http_date(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let (year, month, day) = calendar::civil_from_days(days);
    let weekday = WEEKDAYS
        .get(usize::try_from(calendar::weekday(days)).unwrap_or(0))
        .copied()
        .unwrap_or("Sun");
    let month_name = MONTHS
        .get(usize::try_from(month - 1).unwrap_or(0))
        .copied()
        .unwrap_or("Jan");
    format!(
        "{weekday}, {day:02} {month_name} {year:04} {:02}:{:02}:{:02} GMT",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Parses exactly `n` ASCII digits.
fn digits(s: &str, n: usize) -> Option<i64> {
    if s.len() != n || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn to_unix(year: i64, month: i64, day: i64, h: i64, m: i64, s: i64) -> Option<i64> {
    let valid = (1..=12).contains(&month)
        && (1..=calendar::days_in_month(year, month)).contains(&day)
        && (0..24).contains(&h)
        && (0..60).contains(&m)
        && (0..=60).contains(&s);
    valid.then(|| calendar::days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

fn parse_hms(s: &str) -> Option<(i64, i64, i64)> {
    let mut parts = s.split(':');
    let h = digits(parts.next()?, 2)?;
    let m = digits(parts.next()?, 2)?;
    let sec = digits(parts.next()?, 2)?;
    parts.next().is_none().then_some((h, m, sec))
}

/// Parses an HTTP date to Unix seconds: IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`) or ISO 8601 / RFC 3339
/// (`2018-04-01T12:00:00.000Z`, `…+02:00`), the latter because LTO clients
/// have sent `Date` in that form.
#[must_use]
pub fn parse_http_date(value: &str) -> Option<i64> {
    let value = trim_ows(value);
    if value.len() > 64 {
        return None;
    }
    parse_imf_fixdate(value).or_else(|| parse_iso8601(value))
}

fn parse_imf_fixdate(value: &str) -> Option<i64> {
    let mut parts = value.split(' ');
    let weekday = parts.next()?.strip_suffix(',')?;
    if !WEEKDAYS.contains(&weekday) {
        return None;
    }
    let day = digits(parts.next()?, 2)?;
    let month_name = parts.next()?;
    let month = MONTHS.iter().position(|&m| m == month_name)?;
    let year = digits(parts.next()?, 4)?;
    let (h, m, s) = parse_hms(parts.next()?)?;
    if parts.next()? != "GMT" || parts.next().is_some() {
        return None;
    }
    to_unix(year, i64::try_from(month).ok()? + 1, day, h, m, s)
}

fn parse_iso8601(value: &str) -> Option<i64> {
    let year = digits(value.get(0..4)?, 4)?;
    let month = digits(value.get(5..7)?, 2)?;
    let day = digits(value.get(8..10)?, 2)?;
    if value.get(4..5)? != "-" || value.get(7..8)? != "-" {
        return None;
    }
    if !matches!(value.get(10..11)?, "T" | "t" | " ") {
        return None;
    }
    let (h, m, s) = parse_hms(value.get(11..19)?)?;
    let mut rest = value.get(19..)?;
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = fraction.get(n..)?;
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.get(0..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let oh = digits(rest.get(1..3)?, 2)?;
            let om = digits(rest.get(4..6)?, 2)?;
            if rest.get(3..4)? != ":" || rest.len() != 6 || oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(to_unix(year, month, day, h, m, s)? - offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    #[test]
    fn http_dates() {
        assert_eq!(http_date(1_618_884_475), "Tue, 20 Apr 2021 02:07:55 GMT");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(http_date(-1), "Wed, 31 Dec 1969 23:59:59 GMT");
        for t in [
            0,
            1,
            951_782_400,
            1_618_884_475,
            4_102_444_800,
            253_402_300_799,
        ] {
            assert_eq!(parse_http_date(&http_date(t)), Some(t), "{t}");
        }
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date(LTO_ISO_DATE), Some(LTO_NOW));
        assert_eq!(parse_http_date("2018-04-01T14:00:00+02:00"), Some(LTO_NOW));
        assert_eq!(parse_http_date("2018-04-01 12:00:00z"), Some(LTO_NOW));
        for bad in [
            "",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "2018-04-01T12:00:00",
            "2018-04-01T12:00:00.Z",
            "2018-13-01T12:00:00Z",
            "2018-04-01T12:00:00+2:00",
            "2018-04-01T12:00:00+02:00x",
            "2018-04-01T12:00:00\u{e9}",
            "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }
}
