//! Canonical JSON (RFC 8785) for projections, written straight into one buffer.
//!
//! The same bytes as `serde_jcs` (a property test holds them equal), at a fraction of the
//! allocations: object keys are sorted by reference (by UTF-16 code units, as RFC 8785 says,
//! which for keys without surrogate pairs is the order of their `char`s), strings are escaped
//! as serde_json escapes them, integers are written as they are, and only non-integer numbers
//! go through `serde_jcs`'s ECMAScript number formatting.
//!
//! [`Layer`] writes a value made of borrowed parts with some keys replaced, so a projection is
//! written without first copying the document it is built on.

use serde_json::{Map, Value};

/// A JSON value to write, made of borrowed and owned parts.
pub enum Layer<'a> {
    /// A borrowed value.
    Ref(&'a Value),
    /// A borrowed array's items.
    Items(&'a [Value]),
    /// An owned value.
    Own(Value),
    /// An object: `base`'s entries, with those named in `set` replaced (or added).
    Object {
        /// The entries kept unless replaced.
        base: Option<&'a Map<String, Value>>,
        /// The entries replaced or added; each key at most once.
        set: Vec<(&'a str, Layer<'a>)>,
    },
}

impl Layer<'_> {
    /// The canonical form of the value this layer stands for.
    pub fn to_canonical(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4096);
        write_layer(self, &mut out);
        out
    }

    /// The value this layer stands for, copied: keys the layer replaces keep their place in
    /// the base object, keys it adds come after, in order.
    pub fn to_value(&self) -> Value {
        match self {
            Layer::Ref(v) => (*v).clone(),
            Layer::Items(items) => Value::Array(items.to_vec()),
            Layer::Own(v) => v.clone(),
            Layer::Object { base, set } => {
                let mut m = base.cloned().unwrap_or_default();
                for (k, l) in set {
                    m.insert((*k).to_string(), l.to_value());
                }
                Value::Object(m)
            }
        }
    }
}

/// Appends the canonical form of `layer` to `out`: the same bytes as [`write()`] of the value it
/// stands for.
pub fn write_layer<'a>(layer: &Layer<'a>, out: &mut Vec<u8>) {
    match layer {
        Layer::Ref(v) => write(v, out),
        Layer::Own(v) => write(v, out),
        Layer::Items(items) => array(items, out),
        Layer::Object { base, set } => {
            enum Entry<'e, 'a> {
                Base(&'e Value),
                Set(&'e Layer<'a>),
            }
            let mut entries: Vec<(&str, Entry<'_, 'a>)> = Vec::new();
            if let Some(base) = base {
                entries.extend(
                    base.iter()
                        .filter(|(k, _)| !set.iter().any(|(s, _)| s == k))
                        .map(|(k, v)| (k.as_str(), Entry::Base(v))),
                );
            }
            entries.extend(set.iter().map(|(k, l)| (*k, Entry::Set(l))));
            entries.sort_unstable_by(|a, b| utf16_cmp(a.0, b.0));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(k, out);
                out.push(b':');
                match v {
                    Entry::Base(v) => write(v, out),
                    Entry::Set(l) => write_layer(l, out),
                }
            }
            out.push(b'}');
        }
    }
}

/// Appends the canonical form of `value` to `out`.
pub fn write(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if n.is_i64() || n.is_u64() {
                // Integers are written as they are (serde_json's own integer formatting).
                if serde_json::to_writer(&mut *out, n).is_err() {
                    out.extend_from_slice(b"null");
                }
            } else {
                // ECMAScript formatting of a double: serde_jcs's, number by number.
                match serde_jcs::to_vec(value) {
                    Ok(bytes) => out.extend_from_slice(&bytes),
                    Err(_) => out.extend_from_slice(b"null"),
                }
            }
        }
        Value::String(s) => string(s, out),
        Value::Array(items) => array(items, out),
        Value::Object(map) => write_layer(
            &Layer::Object {
                base: Some(map),
                set: Vec::new(),
            },
            out,
        ),
    }
}

fn array(items: &[Value], out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(item, out);
    }
    out.push(b']');
}

/// The canonical form of `value`.
pub fn to_string(value: &Value) -> String {
    let mut out = Vec::with_capacity(1024);
    write(value, &mut out);
    // Only valid UTF-8 is ever written.
    String::from_utf8(out).unwrap_or_default()
}

/// Orders two strings by their UTF-16 code units.
fn utf16_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// A JSON string as RFC 8785 (and serde_json) writes it: `"` and `\` escaped, control
/// characters as `\b \f \n \r \t` or `\u00XX`, everything else as it is.
fn string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            // Projections are I-JSON: integers stay within ±(2^53 − 1), where serde_jcs is
            // exact (beyond it, it rounds through f64).
            (-(1i64 << 53) + 1..(1i64 << 53)).prop_map(Value::from),
            (-1e20f64..1e20).prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            ".{0,12}".prop_map(Value::from),
            "[\\x00-\\x1f\"\\\\a-z\u{e9}\u{1F600}\u{FFFF}]{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec(("[a-zA-Z\u{e9}\u{1F600}\u{FF61}_]{0,6}", inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn the_same_bytes_as_serde_jcs(v in value()) {
            let ours = to_string(&v);
            let theirs = serde_jcs::to_string(&v).unwrap();
            prop_assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn surrogate_pairs_sort_by_utf16() {
        // U+1F600 is D83D DE00 in UTF-16, which sorts before U+FF61; by code point it is after.
        let v: Value = serde_json::from_str(r#"{"\uff61":1,"😀":2,"a":3}"#).unwrap();
        assert_eq!(to_string(&v), serde_jcs::to_string(&v).unwrap());
        assert_eq!(to_string(&v), r#"{"a":3,"😀":2,"｡":1}"#);
    }
}
