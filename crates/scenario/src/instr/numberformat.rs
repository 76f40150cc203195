//! `<numberformat>`: locale-aware number formatting in the manner of ICU's
//! `NumberFormatter` (PHP intl), for a fixed table of locales and currencies.
//!
//! DECIMAL style (no currency): at most `decimals` (default 3) fraction
//! digits, no trailing zeros, rounding half-even.
//! CURRENCY style: the currency's minor digits (2, or 0 for JPY) as both the
//! minimum and maximum number of fraction digits; `decimals` sets the maximum
//! (and lowers the minimum if it is smaller), as ICU's `MAX_FRACTION_DIGITS`.
//!
//! A float is formatted from its shortest round-trip decimal representation
//! (as ICU does), and that decimal is then rounded half-even, so 0.0005 with
//! 3 digits gives "0" and 0.0015 gives "0.002". Integers are exact.
//!
//! Separators, symbols and patterns follow CLDR data as ICU prints them:
//! grouping "," / "." / U+202F (fr), minimum grouping digits 2 for es and it
//! (so "1234,5" but "12.345"), the currency symbol per locale (e.g. "US$" in
//! en_GB and nl_NL, "$US" in fr_FR, "JPY" in fr/es/it), and a no-break space
//! U+00A0 between a symbol and the number where the locale's pattern has a
//! space, or where a letter symbol such as "CHF" touches a digit.
//! A negative value that rounds to zero keeps its sign ("-0"), as ICU does.

use serde_json::Value;

const NBSP: char = '\u{00A0}';
const NNBSP: char = '\u{202F}';

/// The locales accepted, as `language_REGION`.
pub const LOCALES: [&str; 7] = [
    "en_US", "en_GB", "nl_NL", "de_DE", "fr_FR", "es_ES", "it_IT",
];

/// The currencies accepted.
pub const CURRENCIES: [&str; 5] = ["EUR", "USD", "GBP", "JPY", "CHF"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CurrencyPlacement {
    /// `¤#,##0.00` and `-¤#,##0.00` (English).
    Prefix,
    /// `¤ #,##0.00` and `¤ -#,##0.00` (Dutch), with a no-break space.
    PrefixSpaced,
    /// `#,##0.00 ¤` and `-#,##0.00 ¤`, with a no-break space.
    SuffixSpaced,
}

struct Locale {
    group: char,
    decimal: char,
    /// CLDR minimumGroupingDigits: a number is grouped only when its integer
    /// part has at least 3 + this many digits.
    min_grouping: usize,
    placement: CurrencyPlacement,
    /// Symbols for EUR, USD, GBP, JPY, CHF, in the order of [`CURRENCIES`].
    symbols: [&'static str; 5],
}

fn locale(name: &str) -> Result<Locale, String> {
    let norm = name.replace('-', "_");
    let (lang, region) = match norm.split_once('_') {
        Some((l, r)) => (l.to_ascii_lowercase(), r.to_ascii_uppercase()),
        None => (norm.to_ascii_lowercase(), String::new()),
    };
    let key = match (lang.as_str(), region.as_str()) {
        ("en", "US" | "") => "en_US",
        ("en", "GB") => "en_GB",
        ("nl", "NL" | "") => "nl_NL",
        ("de", "DE" | "") => "de_DE",
        ("fr", "FR" | "") => "fr_FR",
        ("es", "ES" | "") => "es_ES",
        ("it", "IT" | "") => "it_IT",
        _ => {
            return Err(format!(
                "unsupported locale `{name}`; supported: {}",
                LOCALES.join(", ")
            ));
        }
    };
    use CurrencyPlacement::*;
    let l = match key {
        "en_US" => Locale {
            group: ',',
            decimal: '.',
            min_grouping: 1,
            placement: Prefix,
            symbols: ["€", "$", "£", "¥", "CHF"],
        },
        "en_GB" => Locale {
            group: ',',
            decimal: '.',
            min_grouping: 1,
            placement: Prefix,
            symbols: ["€", "US$", "£", "JP¥", "CHF"],
        },
        "nl_NL" => Locale {
            group: '.',
            decimal: ',',
            min_grouping: 1,
            placement: PrefixSpaced,
            symbols: ["€", "US$", "£", "JP¥", "CHF"],
        },
        "de_DE" => Locale {
            group: '.',
            decimal: ',',
            min_grouping: 1,
            placement: SuffixSpaced,
            symbols: ["€", "$", "£", "¥", "CHF"],
        },
        "fr_FR" => Locale {
            group: NNBSP,
            decimal: ',',
            min_grouping: 1,
            placement: SuffixSpaced,
            symbols: ["€", "$US", "£GB", "JPY", "CHF"],
        },
        "es_ES" => Locale {
            group: '.',
            decimal: ',',
            min_grouping: 2,
            placement: SuffixSpaced,
            symbols: ["€", "US$", "GBP", "JPY", "CHF"],
        },
        _ => Locale {
            group: '.',
            decimal: ',',
            min_grouping: 2,
            placement: SuffixSpaced,
            symbols: ["€", "USD", "£", "JPY", "CHF"],
        },
    };
    Ok(l)
}

/// A non-negative decimal: `0.d1d2d3... × 10^point`, with `digits` 0..=9.
#[derive(Debug, Clone, PartialEq)]
struct Decimal {
    negative: bool,
    digits: Vec<u8>,
    point: i64,
}

impl Decimal {
    fn from_i128(v: i128) -> Decimal {
        let s = v.unsigned_abs().to_string();
        let digits: Vec<u8> = s.bytes().map(|b| b - b'0').collect();
        let point = digits.len() as i64;
        Decimal {
            negative: v < 0,
            digits,
            point,
        }
    }

    /// Reads Rust's `{:e}` form ("1.2345e8") of a non-negative float.
    fn from_sci(negative: bool, sci: &str) -> Result<Decimal, String> {
        let (mant, exp) = sci
            .split_once('e')
            .ok_or_else(|| format!("cannot read the number {sci}"))?;
        let exp: i64 = exp
            .parse()
            .map_err(|_| format!("cannot read the number {sci}"))?;
        let mut digits: Vec<u8> = mant
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect();
        while digits.len() > 1 && digits.last() == Some(&0) {
            digits.pop();
        }
        Ok(Decimal {
            negative,
            digits,
            point: exp + 1,
        })
    }

    fn to_f64(&self) -> Option<f64> {
        let digits: String = self.digits.iter().map(|d| char::from(b'0' + d)).collect();
        format!("0.{digits}e{}", self.point).parse().ok()
    }

    /// The shortest decimal that reads back as `v` (finite `v` only), with
    /// ties between equally short candidates broken as ICU's
    /// double-conversion does: the one closest to the exact binary value,
    /// and on an exact tie the even one. (Rust's own shortest form can pick
    /// the other candidate, e.g. 188327789306640.63 for ...640.625.)
    fn from_f64(v: f64) -> Result<Decimal, String> {
        if !v.is_finite() {
            return Err("the number is not finite".into());
        }
        let negative = v.is_sign_negative();
        let a = v.abs();
        let short = Decimal::from_sci(negative, &format!("{a:e}"))?;
        if a == 0.0 {
            return Ok(short);
        }
        // Every f64 has at most 767 significant decimal digits, so this is exact.
        let mut closest = Decimal::from_sci(negative, &format!("{a:.800e}"))?;
        let n = short.digits.len() as i64;
        closest.round(n - closest.point);
        while closest.digits.len() > 1 && closest.digits.last() == Some(&0) {
            closest.digits.pop();
        }
        if closest != short && closest.to_f64() == Some(a) {
            Ok(closest)
        } else {
            Ok(short)
        }
    }

    /// Rounds half-even to at most `max_frac` fraction digits.
    fn round(&mut self, max_frac: i64) {
        let len = self.digits.len() as i64;
        let keep = self.point + max_frac;
        if keep >= len {
            return;
        }
        if keep < 0 {
            self.digits.clear();
            return;
        }
        let k = keep as usize;
        let first = self.digits.get(k).copied().unwrap_or(0);
        let rest_nonzero = self.digits.iter().skip(k + 1).any(|d| *d != 0);
        let prev_odd = k
            .checked_sub(1)
            .and_then(|i| self.digits.get(i))
            .is_some_and(|d| d % 2 == 1);
        let up = first > 5 || (first == 5 && (rest_nonzero || prev_odd));
        self.digits.truncate(k);
        if up {
            let mut carry = true;
            for d in self.digits.iter_mut().rev() {
                if *d == 9 {
                    *d = 0;
                } else {
                    *d += 1;
                    carry = false;
                    break;
                }
            }
            if carry {
                self.digits.insert(0, 1);
                self.point += 1;
            }
        }
    }

    /// The integer digits and the fraction digits (trailing zeros removed,
    /// then padded to `min_frac`).
    fn parts(&self, min_frac: usize) -> (String, String) {
        let mut int = String::new();
        let mut frac = String::new();
        let len = self.digits.len() as i64;
        // Integer part: positions 0..point.
        if self.point <= 0 {
            int.push('0');
        } else {
            for i in 0..self.point {
                let d = if i < len {
                    self.digits.get(i as usize).copied().unwrap_or(0)
                } else {
                    0
                };
                int.push(char::from(b'0' + d));
            }
        }
        // Fraction part: positions point..len.
        let mut i = self.point.min(len);
        if self.point < 0 {
            for _ in self.point..0 {
                frac.push('0');
            }
            i = 0;
        }
        while i < len {
            let d = self.digits.get(i as usize).copied().unwrap_or(0);
            frac.push(char::from(b'0' + d));
            i += 1;
        }
        while frac.ends_with('0') {
            frac.pop();
        }
        while frac.len() < min_frac {
            frac.push('0');
        }
        // Strip leading zeros of the integer part (e.g. "00" never arises,
        // but keep at least one digit).
        let trimmed = int.trim_start_matches('0');
        let int = if trimmed.is_empty() {
            "0".to_string()
        } else {
            trimmed.to_string()
        };
        (int, frac)
    }
}

fn group(int: &str, sep: char, min_grouping: usize) -> String {
    let n = int.len();
    if n < 3 + min_grouping {
        return int.to_string();
    }
    let mut out = String::with_capacity(n + n / 3 * 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (n - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// A strict numeric string: optional sign, digits with an optional fraction
/// (or a fraction alone), optional exponent; surrounding whitespace allowed.
fn parse_numeric_string(s: &str) -> Result<Decimal, String> {
    let t = s.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{0B}' | '\u{0C}'));
    let b = t.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    let int_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    let mut is_int = true;
    if b.get(i) == Some(&b'.') {
        is_int = false;
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
            frac_digits += 1;
        }
    }
    let mut ok = int_digits + frac_digits > 0;
    if ok && matches!(b.get(i), Some(b'e' | b'E')) {
        is_int = false;
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        ok = i > start;
    }
    if !ok || i != b.len() {
        return Err(format!("`{s}` is not a number"));
    }
    if is_int && let Ok(v) = t.parse::<i64>() {
        return Ok(Decimal::from_i128(i128::from(v)));
    }
    let v: f64 = t.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if !v.is_finite() {
        return Err(format!("`{s}` is out of range"));
    }
    Decimal::from_f64(v)
}

fn decimal_of(input: &Value) -> Result<Decimal, String> {
    match input {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(Decimal::from_i128(i128::from(i)))
            } else if let Some(f) = n.as_f64() {
                // u64 values above i64::MAX reach PHP as floats.
                Decimal::from_f64(f)
            } else {
                Err(format!("cannot read the number {n}"))
            }
        }
        Value::String(s) => parse_numeric_string(s),
        Value::Null => Err("the input is null, not a number".into()),
        Value::Bool(_) => Err("the input is a boolean, not a number".into()),
        Value::Array(_) => Err("the input is a list, not a number".into()),
        Value::Object(_) => Err("the input is an object, not a number".into()),
    }
}

/// Formats `input` (a JSON number or a numeric string) for `locale`
/// (default en_US), with at most `decimals` fraction digits, as an amount of
/// `currency` if one is given.
pub fn format_number(
    input: &Value,
    locale_name: Option<&str>,
    decimals: Option<u32>,
    currency: Option<&str>,
) -> Result<String, String> {
    let loc = locale(locale_name.unwrap_or("en_US"))?;
    let cur = match currency {
        None => None,
        Some(c) => {
            let upper = c.to_ascii_uppercase();
            let idx = CURRENCIES.iter().position(|k| *k == upper).ok_or_else(|| {
                format!(
                    "unsupported currency `{c}`; supported: {}",
                    CURRENCIES.join(", ")
                )
            })?;
            Some(idx)
        }
    };
    let mut dec = decimal_of(input)?;
    // ICU caps fraction digits well below this; it only bounds the work.
    let decimals = decimals.map(|d| d.min(340) as usize);
    let (min_frac, max_frac) = match cur {
        None => (0, decimals.unwrap_or(3)),
        Some(idx) => {
            let minor = if CURRENCIES.get(idx) == Some(&"JPY") {
                0
            } else {
                2
            };
            match decimals {
                None => (minor, minor),
                Some(d) => (minor.min(d), d),
            }
        }
    };
    dec.round(max_frac as i64);
    let (int, frac) = dec.parts(min_frac);
    let mut number = group(&int, loc.group, loc.min_grouping);
    if !frac.is_empty() {
        number.push(loc.decimal);
        number.push_str(&frac);
    }
    let minus = if dec.negative { "-" } else { "" };
    let Some(idx) = cur else {
        return Ok(format!("{minus}{number}"));
    };
    let symbol = loc.symbols.get(idx).copied().unwrap_or("");
    Ok(match loc.placement {
        CurrencyPlacement::Prefix => {
            // ICU's currency spacing: a symbol ending in a letter is kept
            // apart from the digits by a no-break space.
            let sep = if symbol.chars().last().is_some_and(char::is_alphabetic) {
                NBSP.to_string()
            } else {
                String::new()
            };
            format!("{minus}{symbol}{sep}{number}")
        }
        CurrencyPlacement::PrefixSpaced => format!("{symbol}{NBSP}{minus}{number}"),
        CurrencyPlacement::SuffixSpaced => format!("{minus}{number}{NBSP}{symbol}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dec(v: Value, locale: Option<&str>, d: Option<u32>) -> String {
        format_number(&v, locale, d, None).unwrap()
    }

    fn cur(v: Value, locale: Option<&str>, d: Option<u32>, c: &str) -> String {
        format_number(&v, locale, d, Some(c)).unwrap()
    }

    #[test]
    fn spec_cases() {
        let n = json!(123456789.01234);
        assert_eq!(dec(n.clone(), None, None), "123,456,789.012");
        assert_eq!(dec(n.clone(), None, Some(2)), "123,456,789.01");
        assert_eq!(dec(n.clone(), Some("nl_NL"), None), "123.456.789,012");
        assert_eq!(cur(n, None, None, "EUR"), "€123,456,789.01");
    }

    #[test]
    fn decimal_style() {
        assert_eq!(dec(json!(-1234.5), None, None), "-1,234.5");
        assert_eq!(dec(json!(0), None, None), "0");
        assert_eq!(dec(json!(0.0), None, None), "0");
        assert_eq!(dec(json!(1.0), None, None), "1");
        assert_eq!(dec(json!(999), None, None), "999");
        assert_eq!(dec(json!(1000), None, None), "1,000");
        assert_eq!(dec(json!(0.1), None, None), "0.1");
        assert_eq!(dec(json!(0.1 + 0.2), None, None), "0.3");
        assert_eq!(dec(json!(1.23456), None, Some(0)), "1");
        assert_eq!(dec(json!(1.23456), None, Some(10)), "1.23456");
        assert_eq!(dec(json!(0.000123), None, Some(5)), "0.00012");
        assert_eq!(dec(json!(-0.0001), None, None), "-0");
        assert_eq!(dec(json!(1e-7), None, None), "0");
    }

    #[test]
    fn half_even_rounding() {
        assert_eq!(dec(json!(0.0005), None, Some(3)), "0");
        assert_eq!(dec(json!(0.0015), None, Some(3)), "0.002");
        assert_eq!(dec(json!(0.0025), None, Some(3)), "0.002");
        assert_eq!(dec(json!(0.00251), None, Some(3)), "0.003");
        assert_eq!(dec(json!(2.5), None, Some(0)), "2");
        assert_eq!(dec(json!(3.5), None, Some(0)), "4");
        assert_eq!(dec(json!(-2.5), None, Some(0)), "-2");
        assert_eq!(dec(json!(0.5), None, Some(0)), "0");
        assert_eq!(dec(json!(1.5), None, Some(0)), "2");
        assert_eq!(dec(json!(999.9996), None, None), "1,000");
        assert_eq!(dec(json!(9.9995), None, None), "10");
        // 1.005 is really 1.00499999999999989...; its shortest form is "1.005",
        // which is what ICU rounds.
        assert_eq!(dec(json!(1.005), None, Some(2)), "1");
        assert_eq!(dec(json!(1.015), None, Some(2)), "1.02");
        assert_eq!(dec(json!(0.6), None, Some(0)), "1");
        assert_eq!(dec(json!(0.05), None, Some(0)), "0");
        assert_eq!(cur(json!(1234.5), None, None, "JPY"), "¥1,234");
        assert_eq!(cur(json!(1235.5), None, None, "JPY"), "¥1,236");
    }

    #[test]
    fn large_numbers() {
        assert_eq!(
            dec(json!(9223372036854775807i64), None, None),
            "9,223,372,036,854,775,807"
        );
        assert_eq!(
            dec(json!(-9223372036854775808i64), None, None),
            "-9,223,372,036,854,775,808"
        );
        assert_eq!(
            dec(json!(18446744073709551615u64), None, None),
            "18,446,744,073,709,552,000"
        );
        assert_eq!(dec(json!(1e20), None, None), "100,000,000,000,000,000,000");
        assert_eq!(dec(json!(1.5e300), None, None).len(), 301 + 100);
        assert_eq!(dec(json!(5e-324), None, None), "0");
        // These doubles are exactly ...640.625 and ...198.25: a tie between
        // two shortest forms, which goes to the even digit as in ICU
        // (Rust's own `{:e}` would print ...640.63 and ...198.3).
        assert_eq!(
            dec(json!(-188327789306640.62), None, None),
            "-188,327,789,306,640.62"
        );
        assert_eq!(
            dec(json!(1990622282028198.2), Some("fr_FR"), None),
            "1\u{202F}990\u{202F}622\u{202F}282\u{202F}028\u{202F}198,2"
        );
        assert_eq!(dec(json!(5e-324), None, Some(u32::MAX)).len(), 2 + 323 + 1);
    }

    #[test]
    fn locales() {
        let n = json!(-1234567.891);
        assert_eq!(dec(n.clone(), Some("en_GB"), None), "-1,234,567.891");
        assert_eq!(dec(n.clone(), Some("de_DE"), None), "-1.234.567,891");
        assert_eq!(
            dec(n.clone(), Some("fr_FR"), None),
            "-1\u{202F}234\u{202F}567,891"
        );
        assert_eq!(dec(n.clone(), Some("es_ES"), None), "-1.234.567,891");
        assert_eq!(dec(n, Some("it_IT"), None), "-1.234.567,891");
        // es and it do not group four-digit numbers.
        assert_eq!(dec(json!(1234.5), Some("es_ES"), None), "1234,5");
        assert_eq!(dec(json!(1234.5), Some("it_IT"), None), "1234,5");
        assert_eq!(dec(json!(12345), Some("es_ES"), None), "12.345");
        assert_eq!(dec(json!(1234.5), Some("de_DE"), None), "1.234,5");
        // Spelling variants.
        assert_eq!(dec(json!(1234.5), Some("nl-NL"), None), "1.234,5");
        assert_eq!(dec(json!(1234.5), Some("de"), None), "1.234,5");
        assert_eq!(dec(json!(1234.5), Some("en"), None), "1,234.5");
        let e = format_number(&json!(1), Some("ja_JP"), None, None).unwrap_err();
        assert!(e.contains("ja_JP") && e.contains("en_US, en_GB"), "{e}");
        assert!(format_number(&json!(1), Some("en_NL"), None, None).is_err());
        assert!(format_number(&json!(1), Some(""), None, None).is_err());
    }

    #[test]
    fn currencies() {
        let n = json!(123456789.01234);
        assert_eq!(
            cur(n.clone(), Some("nl_NL"), None, "EUR"),
            "€\u{A0}123.456.789,01"
        );
        assert_eq!(
            cur(n.clone(), Some("de_DE"), None, "EUR"),
            "123.456.789,01\u{A0}€"
        );
        assert_eq!(
            cur(n.clone(), Some("fr_FR"), None, "EUR"),
            "123\u{202F}456\u{202F}789,01\u{A0}€"
        );
        assert_eq!(cur(json!(1), None, None, "USD"), "$1.00");
        assert_eq!(cur(json!(1), Some("en_GB"), None, "USD"), "US$1.00");
        assert_eq!(cur(json!(1), Some("en_GB"), None, "GBP"), "£1.00");
        assert_eq!(cur(json!(-1234.5), None, None, "USD"), "-$1,234.50");
        assert_eq!(cur(json!(1234.5), None, None, "CHF"), "CHF\u{A0}1,234.50");
        assert_eq!(cur(json!(-1234.5), None, None, "CHF"), "-CHF\u{A0}1,234.50");
        assert_eq!(
            cur(json!(-1234.5), Some("nl_NL"), None, "EUR"),
            "€\u{A0}-1.234,50"
        );
        assert_eq!(
            cur(json!(-1234.5), Some("de_DE"), None, "USD"),
            "-1.234,50\u{A0}$"
        );
        assert_eq!(
            cur(json!(1234.5), Some("fr_FR"), None, "USD"),
            "1\u{202F}234,50\u{A0}$US"
        );
        assert_eq!(
            cur(json!(1234.5), Some("es_ES"), None, "EUR"),
            "1234,50\u{A0}€"
        );
        assert_eq!(
            cur(json!(1234.5), Some("it_IT"), None, "USD"),
            "1234,50\u{A0}USD"
        );
        assert_eq!(
            cur(json!(1234.5), Some("nl_NL"), None, "JPY"),
            "JP¥\u{A0}1.234"
        );
        assert_eq!(cur(json!(0), None, None, "EUR"), "€0.00");
        assert_eq!(cur(json!(7), None, None, "eur"), "€7.00");
        // decimals sets the maximum; the minimum follows it down.
        assert_eq!(cur(json!(1.5), None, Some(0), "EUR"), "€2");
        assert_eq!(cur(json!(1.5), None, Some(4), "EUR"), "€1.50");
        assert_eq!(cur(json!(1.23456), None, Some(4), "EUR"), "€1.2346");
        assert_eq!(cur(json!(1.5), None, Some(2), "JPY"), "¥1.5");
        let e = format_number(&json!(1), None, None, Some("XYZ")).unwrap_err();
        assert!(e.contains("XYZ") && e.contains("EUR, USD"), "{e}");
    }

    #[test]
    fn inputs() {
        assert_eq!(dec(json!("1234.5"), None, None), "1,234.5");
        assert_eq!(dec(json!(" -12 "), None, None), "-12");
        assert_eq!(dec(json!("1e3"), None, None), "1,000");
        assert_eq!(dec(json!(".5"), None, None), "0.5");
        assert_eq!(
            dec(json!("123456789012345678901234"), None, None),
            "123,456,789,012,345,690,000,000"
        );
        for bad in [
            json!("abc"),
            json!("10%"),
            json!(""),
            json!("."),
            json!("1e"),
            json!("1e999"),
            json!(true),
            json!(null),
            json!([1]),
            json!({"a": 1}),
        ] {
            assert!(
                format_number(&bad, None, None, None).is_err(),
                "{bad} should be refused"
            );
        }
    }
}
