//! A bounded parser and serialiser for RFC 8941 dictionaries, inner
//! lists, items and parameters. Decimals are rejected.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_PAD_INDIFFERENT};

use crate::HttpSigError;

const MAX_MEMBERS: usize = 64;
const MAX_INNER_ITEMS: usize = 64;
const MAX_PARAMS: usize = 32;
const MAX_INT_DIGITS: usize = 15;

/// A bare item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BareItem {
    Integer(i64),
    String(String),
    Token(String),
    ByteSeq(Vec<u8>),
    Boolean(bool),
}

/// Parameters in order of first appearance.
pub(crate) type Params = Vec<(String, BareItem)>;

/// An item with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    pub(crate) bare: BareItem,
    pub(crate) params: Params,
}

/// A dictionary member value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Member {
    Item(Item),
    InnerList { items: Vec<Item>, params: Params },
}

/// A dictionary in order of first appearance of each key.
pub(crate) type Dictionary = Vec<(String, Member)>;

/// Where and why parsing failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ParseError {
    pub(crate) offset: usize,
    pub(crate) reason: &'static str,
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn since(&self, start: usize) -> &[u8] {
        self.input.get(start..self.pos).unwrap_or_default()
    }

    fn fail<T>(&self, reason: &'static str) -> Result<T, ParseError> {
        Err(ParseError {
            offset: self.pos,
            reason,
        })
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn skip_sp(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn dictionary(&mut self) -> Result<Dictionary, ParseError> {
        let mut dict: Dictionary = Vec::new();
        self.skip_sp();
        if self.peek().is_none() {
            return Ok(dict);
        }
        loop {
            let key = self.key()?;
            let member = if self.eat(b'=') {
                if self.peek() == Some(b'(') {
                    self.inner_list()?
                } else {
                    Member::Item(self.item()?)
                }
            } else {
                Member::Item(Item {
                    bare: BareItem::Boolean(true),
                    params: self.parameters()?,
                })
            };
            if let Some(slot) = dict.iter_mut().find(|(k, _)| *k == key) {
                slot.1 = member;
            } else if dict.len() >= MAX_MEMBERS {
                return self.fail("too many dictionary members");
            } else {
                dict.push((key, member));
            }
            self.skip_ows();
            match self.peek() {
                None => return Ok(dict),
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ows();
                    if self.peek().is_none() {
                        return self.fail("trailing comma");
                    }
                }
                Some(_) => return self.fail("expected `,` after dictionary member"),
            }
        }
    }

    fn inner_list(&mut self) -> Result<Member, ParseError> {
        self.pos += 1; // the opening parenthesis
        let mut items = Vec::new();
        loop {
            self.skip_sp();
            if self.eat(b')') {
                let params = self.parameters()?;
                return Ok(Member::InnerList { items, params });
            }
            if self.peek().is_none() {
                return self.fail("unterminated inner list");
            }
            if items.len() >= MAX_INNER_ITEMS {
                return self.fail("too many items in inner list");
            }
            items.push(self.item()?);
            match self.peek() {
                Some(b' ' | b')') => {}
                None => return self.fail("unterminated inner list"),
                Some(_) => return self.fail("expected space or `)` after inner list item"),
            }
        }
    }

    fn item(&mut self) -> Result<Item, ParseError> {
        let bare = self.bare_item()?;
        let params = self.parameters()?;
        Ok(Item { bare, params })
    }

    fn parameters(&mut self) -> Result<Params, ParseError> {
        let mut params: Params = Vec::new();
        while self.eat(b';') {
            self.skip_sp();
            let key = self.key()?;
            let value = if self.eat(b'=') {
                self.bare_item()?
            } else {
                BareItem::Boolean(true)
            };
            if let Some(slot) = params.iter_mut().find(|(k, _)| *k == key) {
                slot.1 = value;
            } else if params.len() >= MAX_PARAMS {
                return self.fail("too many parameters");
            } else {
                params.push((key, value));
            }
        }
        Ok(params)
    }

    fn key(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        match self.peek() {
            Some(c) if c.is_ascii_lowercase() || c == b'*' => self.pos += 1,
            _ => return self.fail("expected a key (starting with a lower-case letter or `*`)"),
        }
        while matches!(self.peek(), Some(c) if is_key_char(c)) {
            self.pos += 1;
        }
        Ok(ascii(self.since(start)))
    }

    fn bare_item(&mut self) -> Result<BareItem, ParseError> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => self.integer(),
            Some(b'"') => self.string(),
            Some(b':') => self.byte_seq(),
            Some(b'?') => self.boolean(),
            Some(c) if c.is_ascii_alphabetic() || c == b'*' => Ok(self.token()),
            Some(_) => self.fail("unexpected character at start of item"),
            None => self.fail("unexpected end of input, expected an item"),
        }
    }

    fn integer(&mut self) -> Result<BareItem, ParseError> {
        let negative = self.eat(b'-');
        let start = self.pos;
        let mut value: i64 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            if self.pos - start >= MAX_INT_DIGITS {
                return self.fail("integer has more than 15 digits");
            }
            value = value * 10 + i64::from(c - b'0');
            self.pos += 1;
        }
        if self.pos == start {
            return self.fail("expected a digit");
        }
        if self.peek() == Some(b'.') {
            return self.fail("decimal numbers are not supported");
        }
        Ok(BareItem::Integer(if negative { -value } else { value }))
    }

    fn string(&mut self) -> Result<BareItem, ParseError> {
        self.pos += 1; // the opening quote
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return self.fail("unterminated string"),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(BareItem::String(out));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => {
                            out.push(char::from(c));
                            self.pos += 1;
                        }
                        _ => return self.fail("invalid escape in string"),
                    }
                }
                Some(c @ 0x20..=0x7e) => {
                    out.push(char::from(c));
                    self.pos += 1;
                }
                Some(_) => return self.fail("invalid character in string"),
            }
        }
    }

    fn token(&mut self) -> BareItem {
        let start = self.pos;
        self.pos += 1;
        while matches!(self.peek(), Some(c) if crate::is_tchar(c) || c == b':' || c == b'/') {
            self.pos += 1;
        }
        BareItem::Token(ascii(self.since(start)))
    }

    fn byte_seq(&mut self) -> Result<BareItem, ParseError> {
        self.pos += 1; // the opening colon
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='))
        {
            self.pos += 1;
        }
        let encoded = self.since(start);
        let decoded = STANDARD_PAD_INDIFFERENT.decode(encoded);
        if !self.eat(b':') {
            return self.fail("unterminated byte sequence");
        }
        match decoded {
            Ok(bytes) => Ok(BareItem::ByteSeq(bytes)),
            Err(_) => Err(ParseError {
                offset: start,
                reason: "invalid base64 in byte sequence",
            }),
        }
    }

    fn boolean(&mut self) -> Result<BareItem, ParseError> {
        self.pos += 1; // the question mark
        if self.eat(b'1') {
            Ok(BareItem::Boolean(true))
        } else if self.eat(b'0') {
            Ok(BareItem::Boolean(false))
        } else {
            self.fail("invalid boolean, expected `?0` or `?1`")
        }
    }
}

fn is_key_char(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-' | b'.' | b'*')
}

fn ascii(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Parses a dictionary field value.
pub(crate) fn parse_dictionary(input: &str) -> Result<Dictionary, ParseError> {
    Parser {
        input: input.as_bytes(),
        pos: 0,
    }
    .dictionary()
}

/// Whether `s` is a valid dictionary or parameter key.
pub(crate) fn is_key(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(c) if c.is_ascii_lowercase() || c == b'*') && bytes.all(is_key_char)
}

/// Whether `s` can be serialised as a structured-field string.
pub(crate) fn is_string(s: &str) -> bool {
    s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

fn write_bare(out: &mut String, item: &BareItem) {
    match item {
        BareItem::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        BareItem::String(s) => write_string(out, s),
        BareItem::Token(t) => out.push_str(t),
        BareItem::ByteSeq(b) => {
            out.push(':');
            out.push_str(&STANDARD.encode(b));
            out.push(':');
        }
        BareItem::Boolean(true) => out.push_str("?1"),
        BareItem::Boolean(false) => out.push_str("?0"),
    }
}

fn write_params(out: &mut String, params: &Params) {
    for (key, value) in params {
        out.push(';');
        out.push_str(key);
        if *value != BareItem::Boolean(true) {
            out.push('=');
            write_bare(out, value);
        }
    }
}

/// Serialises an inner list with its parameters.
pub(crate) fn serialize_inner_list(items: &[Item], params: &Params) -> String {
    let mut out = String::from("(");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_bare(&mut out, &item.bare);
        write_params(&mut out, &item.params);
    }
    out.push(')');
    write_params(&mut out, params);
    out
}

/// Serialises a byte sequence item.
pub(crate) fn serialize_bytes(bytes: &[u8]) -> String {
    let mut out = String::new();
    write_bare(&mut out, &BareItem::ByteSeq(bytes.to_vec()));
    out
}

/// Longest `Signature-Input`, `Signature` or `Content-Digest` value parsed.
pub const MAX_STRUCTURED_FIELD_LEN: usize = 16 * 1024;

/// Parses a dictionary-valued header field, bounded in length; `field` names it in errors.
pub(crate) fn parse_sf_dictionary(
    field: &'static str,
    value: &str,
) -> Result<Dictionary, HttpSigError> {
    if value.len() > MAX_STRUCTURED_FIELD_LEN {
        return Err(HttpSigError::FieldTooLong {
            field,
            len: value.len(),
            limit: MAX_STRUCTURED_FIELD_LEN,
        });
    }
    parse_dictionary(value).map_err(|e| HttpSigError::Syntax {
        field,
        offset: e.offset,
        reason: e.reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_field_parser_details() {
        let dict =
            parse_dictionary(r#"  a=(  "x"   "y";p  );q=-5, b, c=tok/en:1;d=?0, e=:AQID:, a=1"#)
                .unwrap();
        assert_eq!(dict.len(), 4);
        // A repeated key overwrites in place.
        assert_eq!(dict[0].0, "a");
        assert!(matches!(
            dict[0].1,
            Member::Item(Item {
                bare: BareItem::Integer(1),
                ..
            })
        ));
        assert!(matches!(
            dict[1].1,
            Member::Item(Item {
                bare: BareItem::Boolean(true),
                ..
            })
        ));
        let Member::Item(c) = &dict[2].1 else {
            panic!()
        };
        assert_eq!(c.bare, BareItem::Token("tok/en:1".into()));
        assert_eq!(c.params, vec![("d".into(), BareItem::Boolean(false))]);
        let Member::Item(e) = &dict[3].1 else {
            panic!()
        };
        assert_eq!(e.bare, BareItem::ByteSeq(vec![1, 2, 3]));

        let dict = parse_dictionary(r#"a=(  "x"   "y";p  );q=-5;s="\"\\""#).unwrap();
        let Member::InnerList { items, params } = &dict[0].1 else {
            panic!()
        };
        assert_eq!(
            serialize_inner_list(items, params),
            r#"("x" "y";p);q=-5;s="\"\\""#
        );
        // Unpadded base64 is accepted in byte sequences.
        assert!(parse_dictionary("a=:AQI:").is_ok());
        assert!(parse_dictionary("a=()").is_ok());
    }
}
