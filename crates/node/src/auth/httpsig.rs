//! HTTP request signatures.
//!
//! This module implements, as pure and I/O-free functions over a borrowed
//! [`Request`] description:
//!
//! * **RFC 9421 HTTP Message Signatures** for requests, algorithm `ed25519`
//!   only: [`sign`], [`verify`] and [`signature_base`]. The `Signature-Input`
//!   and `Signature` fields are RFC 8941 structured-field dictionaries; a
//!   small, bounded parser for the subset needed here lives in this module.
//!   Supported covered components: `@method`, `@target-uri`, `@authority`,
//!   `@scheme`, `@request-target`, `@path`, `@query` and ordinary header
//!   fields (lower-case names, no component parameters such as `;sf`).
//! * **RFC 9530 `Content-Digest`** with `sha-256` and `sha-512`:
//!   [`content_digest`] and [`verify_content_digest`].
//! * **draft-cavage-http-signatures-12**, in the dialect spoken by the LTO
//!   Network / LegalThings PHP services: [`cavage_sign`], [`cavage_verify`],
//!   plus the RFC 3230 `Digest` header ([`digest_header`],
//!   [`verify_digest_header`]) and base58 key ids ([`lto_key_id`],
//!   [`lto_verifying_key`]).
//!
//! No function panics on any input; every failure is an [`HttpSigError`]
//! whose message names what is wrong. Parsed header fields are bounded in
//! length and in the number of members, items and parameters.
//!
//! # How the LTO ecosystem uses draft-cavage signatures
//!
//! Findings from the public sources (repository, path):
//!
//! * The services verify with `jasny/http-signature`
//!   (`src/HttpSignature.php`, `src/ServerMiddleware.php`). It reads only the
//!   `Authorization` header with the `Signature` scheme
//!   (`Authorization: Signature keyId="…",algorithm="…",headers="…",signature="…"`),
//!   requires all four parameters, and builds the signing string as lines
//!   `name: value` joined by `"\n"` (no trailing newline), each value being
//!   PSR-7 `getHeaderLine()` (several values joined with `", "`).
//!   `(request-target)` is the lower-case method, a space, and the URI without
//!   scheme, host, port and user info, i.e. `path?query`. If `date` is listed
//!   and an `X-Date` header is present, the line used is
//!   `x-date: <X-Date value>`. The `X-Date` (else `Date`) header must be
//!   within ±300 s (`clockSkew`) of the server clock. Default required
//!   headers are `(request-target) date`. The signature is base64.
//! * The meaning of `algorithm` comes from the callbacks in
//!   `ltonetwork/lto-api.php` (`src/Account/SignCallback.php`,
//!   `src/Account/VerifyCallback.php`): the value is `ed25519` or
//!   `ed25519-<hash>`; with a hash the message is first replaced by
//!   `hash('sha256', $message, true)`, so **`ed25519-sha256` is Ed25519 over
//!   the raw 32-byte SHA-256 digest of the signing string**, and `ed25519` is
//!   Ed25519 over the signing string itself. `ltonetwork/lto-api.js`
//!   (`src/http/HTTPSignature.ts`) does the same (`crypto.sha256(bytes)`
//!   before `createSignature`) and defaults to `ed25519-sha256`.
//! * `keyId` is the **base58 (Bitcoin alphabet) encoding of the 32-byte
//!   Ed25519 public key**: `VerifyCallback` passes it to
//!   `AccountFactory::createPublic($keyId, null, 'base58')` (encoding
//!   defaults to `base58`); LTO's "Authentication" documentation page (a
//!   stored GitBook copy, marked out of date) says "The KeyId must be the
//!   base58 encoded public ED25519 key. The algorithm may be either ed25519
//!   or ed25519-sha256 … the signature string needs to be hashed".
//! * `ltonetwork/lto-api.js` builds `(request-target)` from the path only
//!   (`src/http/Request.ts`, `url.pathname`), while the verifying
//!   `jasny/http-signature` uses `path?query`; this module follows the
//!   verifier, so the two agree only for URIs without a query.
//! * Required headers, from `ltonetwork/event-chain`
//!   (`declarations/generic/http-signature.php`): algorithms
//!   `['ed25519', 'ed25519-sha256']`; `(request-target) date
//!   x-original-key-id` for every method, plus `content-type digest` for POST
//!   and PUT (`legalthings/workflow-engine`, same path, also adds
//!   `x-identity`). The body is bound by an RFC 3230 `Digest: SHA-256=<base64>`
//!   header (`declarations/generic/http-digest.php`: `jasny/http-digest` with
//!   `SHA-256`). `x-original-key-id` / `x-identity` are application headers
//!   and are not in [`CavagePolicy::default`]; add them where needed.
//! * Test vectors: `ltonetwork/lto-api.js` `test/http/HTTPSignature.spec.ts`
//!   signs `GET /test` / `POST /test` with a fixed key and date; that suite is
//!   marked `describe.skip`, but all of its signatures verify and re-sign
//!   byte-for-byte under the rules above, and they are used as tests here.
//!
//! Accepting the public key named by `keyId` (see [`lto_verifying_key`])
//! only proves possession of that key; the caller must still decide whether
//! that key is authorised.

use std::fmt::Write as _;

use accord_crypto::calendar;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_PAD_INDIFFERENT};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256, Sha512};
use thiserror::Error;

/// Default tolerated clock difference, in seconds.
pub const DEFAULT_MAX_SKEW: i64 = 300;

/// Longest `Signature-Input`, `Signature` or `Content-Digest` value parsed.
pub const MAX_STRUCTURED_FIELD_LEN: usize = 16 * 1024;

/// Longest draft-cavage signature parameter string or `Digest` value parsed.
pub const MAX_CAVAGE_FIELD_LEN: usize = 8 * 1024;

/// Longest value echoed back inside an error message.
const MAX_ECHO: usize = 64;

/// Every way signing or verifying can fail.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HttpSigError {
    /// A header needed for the operation is absent.
    #[error("missing `{0}` header")]
    MissingHeader(&'static str),
    /// A header is longer than this module is willing to parse.
    #[error("{field}: value is {len} bytes long, limit is {limit}")]
    FieldTooLong {
        /// Header name.
        field: &'static str,
        /// Actual length.
        len: usize,
        /// Accepted maximum.
        limit: usize,
    },
    /// A structured field (RFC 8941) has invalid syntax.
    #[error("{field}: invalid structured field at byte {offset}: {reason}")]
    Syntax {
        /// Header name.
        field: &'static str,
        /// Byte offset of the problem.
        offset: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// A header parsed but its content is not what is required.
    #[error("{field}: {reason}")]
    Malformed {
        /// Header name.
        field: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A mandatory signature parameter is absent.
    #[error("{field}: missing parameter `{param}`")]
    MissingParameter {
        /// Header name.
        field: &'static str,
        /// Parameter name.
        param: &'static str,
    },
    /// A signature parameter has the wrong type or value.
    #[error("{field}: parameter `{param}` must be {expected}")]
    InvalidParameter {
        /// Header name.
        field: &'static str,
        /// Parameter name.
        param: String,
        /// What it must be.
        expected: &'static str,
    },
    /// The requested signature label does not exist.
    #[error("{field}: no signature labelled `{label}`")]
    LabelNotFound {
        /// Header name.
        field: &'static str,
        /// Requested label.
        label: String,
    },
    /// `Signature-Input` holds no signature at all.
    #[error("Signature-Input: contains no signature")]
    NoSignature,
    /// The algorithm is not supported (or not allowed by the policy).
    #[error("unsupported signature algorithm `{0}`")]
    UnsupportedAlgorithm(String),
    /// A covered component is not supported by this implementation.
    #[error("covered component `{component}` is not supported: {reason}")]
    UnsupportedComponent {
        /// Component identifier.
        component: String,
        /// Why.
        reason: &'static str,
    },
    /// A component identifier is listed twice.
    #[error("covered component `{0}` is listed more than once")]
    DuplicateComponent(String),
    /// A covered component has no value in the request.
    #[error("covered component `{0}` is not present in the request")]
    ComponentMissing(String),
    /// A covered component's value contains a line break or control byte.
    #[error("covered component `{0}` contains a line break or control character")]
    InvalidComponentValue(String),
    /// A component required by the policy is not covered by the signature.
    #[error("required component `{0}` is not covered by the signature")]
    ComponentNotCovered(String),
    /// A value supplied to a signing function cannot be serialised.
    #[error("cannot sign: `{param}` {reason}")]
    InvalidSignInput {
        /// Which input.
        param: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The key lookup knows no key for this key id.
    #[error("no key known for keyid `{0}`")]
    UnknownKey(String),
    /// The signature has the wrong length for Ed25519.
    #[error("signature is {0} bytes long, expected 64")]
    SignatureLength(usize),
    /// The signature does not verify under the key.
    #[error("signature does not verify")]
    BadSignature,
    /// `created` lies further in the future than the allowed clock difference.
    #[error("`created` is {secs} s ahead of this node's clock; at most {skew} s is allowed")]
    CreatedInFuture {
        /// Seconds ahead of now.
        secs: i64,
        /// The clock difference allowed.
        skew: i64,
    },
    /// `expires` has passed (beyond the allowed clock difference).
    #[error("`expires` passed {secs} s ago; at most {skew} s of clock difference is allowed")]
    Expired {
        /// Seconds since `expires`.
        secs: i64,
        /// The clock difference allowed.
        skew: i64,
    },
    /// `created` is further in the past than the policy's maximum age plus the allowed clock
    /// difference.
    #[error("`created` is {age} s in the past; at most {limit} s is allowed")]
    TooOld {
        /// Age in seconds.
        age: i64,
        /// The age allowed: the maximum age plus the clock difference allowed.
        limit: i64,
    },
    /// `expires` is earlier than `created`.
    #[error("{field}: `expires` ({expires}) is before `created` ({created})")]
    ExpiresBeforeCreated {
        /// Header name.
        field: &'static str,
        /// `created`.
        created: i64,
        /// `expires`.
        expires: i64,
    },
    /// The signature's `tag` is not the one required by the policy.
    #[error("signature tag `{found}` does not match the required tag `{expected}`")]
    TagMismatch {
        /// Tag in the signature (empty when absent).
        found: String,
        /// Tag required by the policy.
        expected: String,
    },
    /// A digest header lists no algorithm this module supports.
    #[error("{field}: no supported digest algorithm ({supported})")]
    NoSupportedDigest {
        /// Header name.
        field: &'static str,
        /// Supported algorithm names.
        supported: &'static str,
    },
    /// A digest does not match the body.
    #[error("{field}: {algorithm} digest does not match the body")]
    DigestMismatch {
        /// Header name.
        field: &'static str,
        /// Algorithm whose digest differs.
        algorithm: &'static str,
    },
    /// A date header cannot be parsed.
    #[error("`{field}` header is not a valid date: `{value}`")]
    InvalidDate {
        /// Header name.
        field: &'static str,
        /// Offending value (shortened).
        value: String,
    },
    /// A date header lies too far in the future.
    #[error("`{field}` header is {secs} s in the future; at most {skew} s is allowed")]
    DateInFuture {
        /// Header name.
        field: &'static str,
        /// Seconds ahead of now.
        secs: i64,
        /// The clock difference allowed.
        skew: i64,
    },
    /// A date header lies too far in the past.
    #[error("`{field}` header is {secs} s in the past; at most {skew} s is allowed")]
    DateInPast {
        /// Header name.
        field: &'static str,
        /// Seconds behind now.
        secs: i64,
        /// The clock difference allowed.
        skew: i64,
    },
    /// No draft-cavage signature was found in the request.
    #[error("missing `Authorization: Signature …` or `Signature` header")]
    NoCavageSignature,
}

/// Shortens untrusted text before it is put into an error message.
fn echo(s: &str) -> String {
    let mut out: String = s.chars().take(MAX_ECHO).collect();
    if s.chars().nth(MAX_ECHO).is_some() {
        out.push('…');
    }
    out
}

// ---------------------------------------------------------------------------
// Request description
// ---------------------------------------------------------------------------

/// A borrowed, transport-independent description of an HTTP request.
///
/// Header names are matched case-insensitively; a header may appear several
/// times, in which case its values are combined in order with `", "`.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Method as sent, e.g. `"POST"`.
    pub method: &'a str,
    /// URI scheme, e.g. `"https"`.
    pub scheme: &'a str,
    /// Authority (host and optional port), e.g. `"example.com"`.
    pub authority: &'a str,
    /// Absolute path, e.g. `"/foo"`; empty means `/`.
    pub path: &'a str,
    /// Query without the leading `?`; `None` when the URI has no `?`.
    pub query: Option<&'a str>,
    /// Header fields as `(name, value)` pairs in message order.
    pub headers: &'a [(&'a str, &'a str)],
    /// Message content (empty when there is none).
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// Iterates over the values of every header line named `name`
    /// (case-insensitive), in order, untrimmed.
    pub fn header_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a str> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// Returns the combined value of header `name`: each line's value with
    /// leading and trailing spaces and tabs removed, joined with `", "`.
    /// `None` when the header is absent.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<String> {
        let mut values = self.header_values(name).map(trim_ows);
        let first = values.next()?;
        let mut out = first.to_owned();
        for v in values {
            out.push_str(", ");
            out.push_str(v);
        }
        Some(out)
    }

    fn path_or_root(&self) -> &'a str {
        if self.path.is_empty() { "/" } else { self.path }
    }
}

fn trim_ows(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

fn has_control(s: &str) -> bool {
    s.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

// ---------------------------------------------------------------------------
// RFC 8941 structured fields (the subset needed here)
// ---------------------------------------------------------------------------

mod sf {
    //! A bounded parser and serialiser for RFC 8941 dictionaries, inner
    //! lists, items and parameters. Decimals are rejected.

    use super::{STANDARD, STANDARD_PAD_INDIFFERENT};
    use base64::Engine as _;
    use std::fmt::Write as _;

    const MAX_MEMBERS: usize = 64;
    const MAX_INNER_ITEMS: usize = 64;
    const MAX_PARAMS: usize = 32;
    const MAX_INT_DIGITS: usize = 15;

    /// A bare item.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(super) enum BareItem {
        Integer(i64),
        String(String),
        Token(String),
        ByteSeq(Vec<u8>),
        Boolean(bool),
    }

    /// Parameters in order of first appearance.
    pub(super) type Params = Vec<(String, BareItem)>;

    /// An item with its parameters.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(super) struct Item {
        pub(super) bare: BareItem,
        pub(super) params: Params,
    }

    /// A dictionary member value.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(super) enum Member {
        Item(Item),
        InnerList { items: Vec<Item>, params: Params },
    }

    /// A dictionary in order of first appearance of each key.
    pub(super) type Dictionary = Vec<(String, Member)>;

    /// Where and why parsing failed.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) struct ParseError {
        pub(super) offset: usize,
        pub(super) reason: &'static str,
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
            while matches!(self.peek(), Some(c) if super::is_tchar(c) || c == b':' || c == b'/') {
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
    pub(super) fn parse_dictionary(input: &str) -> Result<Dictionary, ParseError> {
        Parser {
            input: input.as_bytes(),
            pos: 0,
        }
        .dictionary()
    }

    /// Whether `s` is a valid dictionary or parameter key.
    pub(super) fn is_key(s: &str) -> bool {
        let mut bytes = s.bytes();
        matches!(bytes.next(), Some(c) if c.is_ascii_lowercase() || c == b'*')
            && bytes.all(is_key_char)
    }

    /// Whether `s` can be serialised as a structured-field string.
    pub(super) fn is_string(s: &str) -> bool {
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
    pub(super) fn serialize_inner_list(items: &[Item], params: &Params) -> String {
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
    pub(super) fn serialize_bytes(bytes: &[u8]) -> String {
        let mut out = String::new();
        write_bare(&mut out, &BareItem::ByteSeq(bytes.to_vec()));
        out
    }
}

fn parse_sf_dictionary(field: &'static str, value: &str) -> Result<sf::Dictionary, HttpSigError> {
    if value.len() > MAX_STRUCTURED_FIELD_LEN {
        return Err(HttpSigError::FieldTooLong {
            field,
            len: value.len(),
            limit: MAX_STRUCTURED_FIELD_LEN,
        });
    }
    sf::parse_dictionary(value).map_err(|e| HttpSigError::Syntax {
        field,
        offset: e.offset,
        reason: e.reason,
    })
}

/// The most signatures one request may carry (each is verified).
pub const MAX_SIGNATURES: usize = 8;

/// The labels of the signatures a request's `Signature-Input` declares, in order.
///
/// # Errors
///
/// A missing or malformed `Signature-Input`, or more than [`MAX_SIGNATURES`] labels.
pub fn signature_labels(req: &Request) -> Result<Vec<String>, HttpSigError> {
    let input = req
        .header("signature-input")
        .ok_or(HttpSigError::MissingHeader(SIG_INPUT))?;
    let labels: Vec<String> = parse_sf_dictionary(SIG_INPUT, &input)?
        .into_iter()
        .map(|(label, _)| label)
        .collect();
    if labels.len() > MAX_SIGNATURES {
        return Err(HttpSigError::Malformed {
            field: SIG_INPUT,
            reason: format!(
                "{} signatures; at most {MAX_SIGNATURES} are taken",
                labels.len()
            ),
        });
    }
    Ok(labels)
}

// ---------------------------------------------------------------------------
// RFC 9421 components and signature base
// ---------------------------------------------------------------------------

const DERIVED_COMPONENTS: [&str; 7] = [
    "@method",
    "@target-uri",
    "@authority",
    "@scheme",
    "@request-target",
    "@path",
    "@query",
];

fn validate_component(name: &str) -> Result<(), HttpSigError> {
    let unsupported = |reason| {
        Err(HttpSigError::UnsupportedComponent {
            component: echo(name),
            reason,
        })
    };
    if name.starts_with('@') {
        if name == "@signature-params" {
            unsupported("`@signature-params` cannot be listed as a covered component")
        } else if DERIVED_COMPONENTS.contains(&name) {
            Ok(())
        } else {
            unsupported("unknown or unsupported derived component")
        }
    } else if name.is_empty() {
        unsupported("empty component name")
    } else if name.bytes().any(|b| b.is_ascii_uppercase()) {
        unsupported("field names must be lower-case")
    } else if !name.bytes().all(is_tchar) {
        unsupported("not a valid field name")
    } else {
        Ok(())
    }
}

fn normalized_authority(req: &Request) -> String {
    let authority = req.authority.to_ascii_lowercase();
    let default_port = match req.scheme.to_ascii_lowercase().as_str() {
        "http" => Some(":80"),
        "https" => Some(":443"),
        _ => None,
    };
    match default_port.and_then(|p| authority.strip_suffix(p)) {
        Some(stripped) if !stripped.is_empty() => stripped.to_owned(),
        _ => authority,
    }
}

fn query_suffix(query: Option<&str>) -> String {
    query.map(|q| format!("?{q}")).unwrap_or_default()
}

/// Value of one (already validated) component, or `None` when absent.
fn component_value(req: &Request, name: &str) -> Option<String> {
    match name {
        "@method" => (!req.method.is_empty()).then(|| req.method.to_owned()),
        "@target-uri" => (!req.scheme.is_empty() && !req.authority.is_empty()).then(|| {
            format!(
                "{}://{}{}{}",
                req.scheme.to_ascii_lowercase(),
                req.authority,
                req.path_or_root(),
                query_suffix(req.query)
            )
        }),
        "@authority" => (!req.authority.is_empty()).then(|| normalized_authority(req)),
        "@scheme" => (!req.scheme.is_empty()).then(|| req.scheme.to_ascii_lowercase()),
        "@request-target" => Some(format!("{}{}", req.path_or_root(), query_suffix(req.query))),
        "@path" => Some(req.path_or_root().to_owned()),
        "@query" => Some(format!("?{}", req.query.unwrap_or(""))),
        _ => req.header(name),
    }
}

/// Builds the RFC 9421 signature base from validated component names and
/// the serialised `@signature-params` value.
fn build_signature_base(
    req: &Request,
    components: &[String],
    signature_params: &str,
) -> Result<String, HttpSigError> {
    let mut base = String::new();
    for name in components {
        let value =
            component_value(req, name).ok_or_else(|| HttpSigError::ComponentMissing(echo(name)))?;
        if has_control(&value) {
            return Err(HttpSigError::InvalidComponentValue(echo(name)));
        }
        base.push('"');
        base.push_str(name);
        base.push_str("\": ");
        base.push_str(&value);
        base.push('\n');
    }
    base.push_str("\"@signature-params\": ");
    base.push_str(signature_params);
    Ok(base)
}

/// Parameters for an RFC 9421 signature created by [`sign`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignParams<'a> {
    /// Dictionary key for the signature, e.g. `"sig1"`.
    pub label: &'a str,
    /// Covered component identifiers in order, e.g. `["@method", "@path"]`.
    pub components: &'a [&'a str],
    /// Value of the `keyid` parameter.
    pub key_id: &'a str,
    /// `created` (Unix seconds); recommended.
    pub created: Option<i64>,
    /// `expires` (Unix seconds).
    pub expires: Option<i64>,
    /// `nonce` parameter.
    pub nonce: Option<&'a str>,
    /// `tag` parameter (application profile).
    pub tag: Option<&'a str>,
    /// Whether to emit `alg="ed25519"`.
    pub include_alg: bool,
}

impl<'a> SignParams<'a> {
    /// Parameters with a label, components, key id and `created` time and no
    /// optional parameters.
    #[must_use]
    pub fn new(label: &'a str, components: &'a [&'a str], key_id: &'a str, created: i64) -> Self {
        Self {
            label,
            components,
            key_id,
            created: Some(created),
            expires: None,
            nonce: None,
            tag: None,
            include_alg: false,
        }
    }

    fn inner_list(&self) -> Result<(Vec<sf::Item>, sf::Params), HttpSigError> {
        if !sf::is_key(self.label) {
            return Err(HttpSigError::InvalidSignInput {
                param: "label",
                reason: "is not a valid structured-field key",
            });
        }
        let mut items = Vec::with_capacity(self.components.len());
        for (i, &name) in self.components.iter().enumerate() {
            validate_component(name)?;
            if self.components.iter().take(i).any(|&n| n == name) {
                return Err(HttpSigError::DuplicateComponent(echo(name)));
            }
            items.push(sf::Item {
                bare: sf::BareItem::String(name.to_owned()),
                params: Vec::new(),
            });
        }
        let string = |param: &'static str, value: &str| {
            if sf::is_string(value) {
                Ok(sf::BareItem::String(value.to_owned()))
            } else {
                Err(HttpSigError::InvalidSignInput {
                    param,
                    reason: "must be printable ASCII",
                })
            }
        };
        let integer = |param: &'static str, value: i64| {
            if value.unsigned_abs() <= 999_999_999_999_999 {
                Ok(sf::BareItem::Integer(value))
            } else {
                Err(HttpSigError::InvalidSignInput {
                    param,
                    reason: "is out of range for a structured-field integer",
                })
            }
        };
        let mut params = sf::Params::new();
        if let Some(created) = self.created {
            params.push(("created".into(), integer("created", created)?));
        }
        if let Some(expires) = self.expires {
            params.push(("expires".into(), integer("expires", expires)?));
        }
        params.push(("keyid".into(), string("keyid", self.key_id)?));
        if self.include_alg {
            params.push(("alg".into(), sf::BareItem::String(ALG_ED25519.into())));
        }
        if let Some(nonce) = self.nonce {
            params.push(("nonce".into(), string("nonce", nonce)?));
        }
        if let Some(tag) = self.tag {
            params.push(("tag".into(), string("tag", tag)?));
        }
        Ok((items, params))
    }
}

const ALG_ED25519: &str = "ed25519";

/// The two header values produced by [`sign`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    /// Value for the `Signature-Input` header, e.g. `sig1=("@method");created=…`.
    pub signature_input: String,
    /// Value for the `Signature` header, e.g. `sig1=:…:`.
    pub signature: String,
}

/// Returns the RFC 9421 signature base that [`sign`] would sign.
///
/// # Errors
///
/// Invalid label, component or parameter values, or a covered component
/// that is absent from `req` or contains a control character.
pub fn signature_base(req: &Request, params: &SignParams) -> Result<String, HttpSigError> {
    let (items, sig_params) = params.inner_list()?;
    let names: Vec<String> = params.components.iter().map(|&c| c.to_owned()).collect();
    build_signature_base(req, &names, &sf::serialize_inner_list(&items, &sig_params))
}

/// Signs `req` with RFC 9421 / `ed25519` and returns the `Signature-Input`
/// and `Signature` header values for `params.label`.
///
/// Headers to be covered (such as `content-digest`, see [`content_digest`])
/// must already be present in `req.headers`.
///
/// # Errors
///
/// As [`signature_base`].
pub fn sign(
    req: &Request,
    key: &SigningKey,
    params: &SignParams,
) -> Result<SignatureHeaders, HttpSigError> {
    let (items, sig_params) = params.inner_list()?;
    let serialized = sf::serialize_inner_list(&items, &sig_params);
    let names: Vec<String> = params.components.iter().map(|&c| c.to_owned()).collect();
    let base = build_signature_base(req, &names, &serialized)?;
    let signature = key.sign(base.as_bytes());
    Ok(SignatureHeaders {
        signature_input: format!("{}={}", params.label, serialized),
        signature: format!(
            "{}={}",
            params.label,
            sf::serialize_bytes(&signature.to_bytes())
        ),
    })
}

/// What [`verify`] checks beyond the signature itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyPolicy {
    /// Signature to verify; `None` takes the first one in `Signature-Input`.
    pub label: Option<String>,
    /// Components that must be covered.
    pub required_components: Vec<String>,
    /// When the body is non-empty, require `content-digest` to be covered.
    /// A covered `content-digest` is always checked against the body.
    pub require_content_digest_with_body: bool,
    /// Require the `created` parameter.
    pub require_created: bool,
    /// Tolerated clock difference in seconds (negative counts as 0).
    pub max_skew: i64,
    /// Reject signatures whose `created` is older than this many seconds
    /// (plus `max_skew`); `Some(0)` holds `created` within `max_skew` of the
    /// clock both ways, so a signature is good only for a bounded time.
    pub max_age: Option<i64>,
    /// Require this exact `tag` parameter.
    pub tag: Option<String>,
}

impl Default for VerifyPolicy {
    /// First signature; `@method`, `@path`, `@authority` covered, plus
    /// `content-digest` when there is a body; `created` required, within
    /// 300 s of the clock both ways; any tag.
    fn default() -> Self {
        Self {
            label: None,
            required_components: vec!["@method".into(), "@path".into(), "@authority".into()],
            require_content_digest_with_body: true,
            require_created: true,
            max_skew: DEFAULT_MAX_SKEW,
            max_age: Some(0),
            tag: None,
        }
    }
}

/// Facts about a signature that [`verify`] accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Label of the verified signature.
    pub label: String,
    /// `keyid` parameter.
    pub key_id: String,
    /// Covered component identifiers, in order.
    pub components: Vec<String>,
    /// `created` parameter.
    pub created: Option<i64>,
    /// `expires` parameter.
    pub expires: Option<i64>,
    /// `nonce` parameter (replay detection is the caller's job).
    pub nonce: Option<String>,
    /// `tag` parameter.
    pub tag: Option<String>,
    /// The signature's bytes (ed25519 signatures verified strictly are not malleable, so
    /// these bytes identify the signature).
    pub signature: [u8; 64],
    /// The last second (Unix time) at which this signature passes the time checks of the
    /// policy it was verified with: `min(created, expires) + max_skew` of those present
    /// (`None`: neither is).
    pub valid_until: Option<i64>,
}

const SIG_INPUT: &str = "Signature-Input";
const SIG: &str = "Signature";

/// Verifies an RFC 9421 `ed25519` signature on `req`.
///
/// `key_lookup` maps the `keyid` parameter to a public key; `now` is the
/// current Unix time in seconds. `created`, `expires`, the required
/// components and a covered `Content-Digest` are checked as described on
/// [`VerifyPolicy`].
///
/// # Errors
///
/// Any syntax, policy, time, key, signature or digest failure, each as its
/// own [`HttpSigError`] variant.
pub fn verify<F>(
    req: &Request,
    key_lookup: F,
    now: i64,
    policy: &VerifyPolicy,
) -> Result<Verified, HttpSigError>
where
    F: Fn(&str) -> Option<VerifyingKey>,
{
    let input_value = req
        .header("signature-input")
        .ok_or(HttpSigError::MissingHeader(SIG_INPUT))?;
    let signature_value = req
        .header("signature")
        .ok_or(HttpSigError::MissingHeader(SIG))?;
    let inputs = parse_sf_dictionary(SIG_INPUT, &input_value)?;
    let signatures = parse_sf_dictionary(SIG, &signature_value)?;

    let (label, member) =
        match &policy.label {
            Some(label) => inputs.iter().find(|(k, _)| k == label).ok_or_else(|| {
                HttpSigError::LabelNotFound {
                    field: SIG_INPUT,
                    label: echo(label),
                }
            })?,
            None => inputs.first().ok_or(HttpSigError::NoSignature)?,
        };
    let sf::Member::InnerList { items, params } = member else {
        return Err(HttpSigError::Malformed {
            field: SIG_INPUT,
            reason: format!("`{label}` is not an inner list of components"),
        });
    };

    let signature_bytes = match signatures.iter().find(|(k, _)| k == label) {
        None => {
            return Err(HttpSigError::LabelNotFound {
                field: SIG,
                label: label.clone(),
            });
        }
        Some((
            _,
            sf::Member::Item(sf::Item {
                bare: sf::BareItem::ByteSeq(bytes),
                ..
            }),
        )) => bytes,
        Some(_) => {
            return Err(HttpSigError::Malformed {
                field: SIG,
                reason: format!("`{label}` is not a byte sequence"),
            });
        }
    };

    // Covered components.
    let mut components: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let sf::BareItem::String(name) = &item.bare else {
            return Err(HttpSigError::Malformed {
                field: SIG_INPUT,
                reason: "component identifiers must be strings".into(),
            });
        };
        if !item.params.is_empty() {
            return Err(HttpSigError::UnsupportedComponent {
                component: echo(name),
                reason: "component parameters are not supported",
            });
        }
        validate_component(name)?;
        if components.contains(name) {
            return Err(HttpSigError::DuplicateComponent(echo(name)));
        }
        components.push(name.clone());
    }

    // Signature parameters.
    let mut sig = SigParamsSeen::default();
    for (key, value) in params {
        sig.take(key, value)?;
    }
    if let Some(alg) = &sig.alg
        && alg != ALG_ED25519
    {
        return Err(HttpSigError::UnsupportedAlgorithm(echo(alg)));
    }
    let key_id = sig.keyid.ok_or(HttpSigError::MissingParameter {
        field: SIG_INPUT,
        param: "keyid",
    })?;
    if policy.require_created && sig.created.is_none() {
        return Err(HttpSigError::MissingParameter {
            field: SIG_INPUT,
            param: "created",
        });
    }
    if let Some(expected) = &policy.tag
        && sig.tag.as_deref() != Some(expected.as_str())
    {
        return Err(HttpSigError::TagMismatch {
            found: echo(sig.tag.as_deref().unwrap_or("")),
            expected: expected.clone(),
        });
    }

    // Coverage policy.
    for required in &policy.required_components {
        if !components.contains(required) {
            return Err(HttpSigError::ComponentNotCovered(required.clone()));
        }
    }
    let digest_covered = components.iter().any(|c| c == "content-digest");
    if policy.require_content_digest_with_body && !req.body.is_empty() && !digest_covered {
        return Err(HttpSigError::ComponentNotCovered("content-digest".into()));
    }
    check_times(SIG_INPUT, sig.created, sig.expires, now, policy)?;

    // Signature.
    let base = build_signature_base(req, &components, &sf::serialize_inner_list(items, params))?;
    let key = key_lookup(&key_id).ok_or_else(|| HttpSigError::UnknownKey(echo(&key_id)))?;
    let signature = verify_ed25519(&key, base.as_bytes(), signature_bytes)?;

    if digest_covered {
        let value = req
            .header("content-digest")
            .ok_or_else(|| HttpSigError::ComponentMissing("content-digest".into()))?;
        verify_content_digest(&value, req.body)?;
    }

    Ok(Verified {
        label: label.clone(),
        key_id,
        components,
        created: sig.created,
        expires: sig.expires,
        nonce: sig.nonce,
        tag: sig.tag,
        signature,
        valid_until: valid_until(
            [sig.created, sig.expires].into_iter().flatten(),
            policy.max_skew,
        ),
    })
}

/// The last second at which a signature whose covered times are `times` passes the time
/// checks: the earliest of them plus the skew (`None` when there is none).
fn valid_until(times: impl Iterator<Item = i64>, max_skew: i64) -> Option<i64> {
    times.min().map(|t| t.saturating_add(max_skew.max(0)))
}

#[derive(Default)]
struct SigParamsSeen {
    created: Option<i64>,
    expires: Option<i64>,
    keyid: Option<String>,
    alg: Option<String>,
    nonce: Option<String>,
    tag: Option<String>,
}

impl SigParamsSeen {
    fn take(&mut self, key: &str, value: &sf::BareItem) -> Result<(), HttpSigError> {
        let wrong = |expected| HttpSigError::InvalidParameter {
            field: SIG_INPUT,
            param: key.to_owned(),
            expected,
        };
        let int = || match value {
            sf::BareItem::Integer(i) => Ok(*i),
            _ => Err(wrong("an integer")),
        };
        let string = || match value {
            sf::BareItem::String(s) => Ok(s.clone()),
            _ => Err(wrong("a string")),
        };
        match key {
            "created" => self.created = Some(int()?),
            "expires" => self.expires = Some(int()?),
            "keyid" => self.keyid = Some(string()?),
            "alg" => self.alg = Some(string()?),
            "nonce" => self.nonce = Some(string()?),
            "tag" => self.tag = Some(string()?),
            // Unknown parameters are signed (they are part of
            // `@signature-params`) but otherwise ignored.
            _ => {}
        }
        Ok(())
    }
}

/// `created` within the skew of `now` ahead, and within the maximum age plus the skew behind;
/// `expires` not passed by more than the skew, and not before `created`. `field` names the
/// header the parameters came from.
fn check_times(
    field: &'static str,
    created: Option<i64>,
    expires: Option<i64>,
    now: i64,
    policy: &VerifyPolicy,
) -> Result<(), HttpSigError> {
    let skew = policy.max_skew.max(0);
    if let (Some(created), Some(expires)) = (created, expires)
        && expires < created
    {
        return Err(HttpSigError::ExpiresBeforeCreated {
            field,
            created,
            expires,
        });
    }
    if let Some(created) = created {
        let ahead = created.saturating_sub(now);
        if ahead > skew {
            return Err(HttpSigError::CreatedInFuture { secs: ahead, skew });
        }
    }
    // A signature past its own `expires` says so, before its age is looked at.
    if let Some(expires) = expires {
        let past = now.saturating_sub(expires);
        if past > skew {
            return Err(HttpSigError::Expired { secs: past, skew });
        }
    }
    if let (Some(created), Some(max_age)) = (created, policy.max_age) {
        let age = now.saturating_sub(created);
        let limit = max_age.max(0).saturating_add(skew);
        if age > limit {
            return Err(HttpSigError::TooOld { age, limit });
        }
    }
    Ok(())
}

/// Verifies strictly (canonical `s`, no small-order `R` or key, `R` compared as encoded), so
/// one message and key have no second valid encoding of a signature; the signature's bytes.
fn verify_ed25519(
    key: &VerifyingKey,
    message: &[u8],
    signature: &[u8],
) -> Result<[u8; 64], HttpSigError> {
    let bytes: [u8; 64] = signature
        .try_into()
        .map_err(|_| HttpSigError::SignatureLength(signature.len()))?;
    key.verify_strict(message, &Signature::from_bytes(&bytes))
        .map_err(|_| HttpSigError::BadSignature)?;
    Ok(bytes)
}

// ---------------------------------------------------------------------------
// Digests: RFC 9530 Content-Digest and RFC 3230 Digest
// ---------------------------------------------------------------------------

/// Hash algorithms supported for body digests, ordered by strength.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DigestAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-512.
    Sha512,
}

impl DigestAlgorithm {
    /// Key used in RFC 9530 `Content-Digest` (`sha-256`, `sha-512`).
    #[must_use]
    pub fn content_digest_key(self) -> &'static str {
        match self {
            Self::Sha256 => "sha-256",
            Self::Sha512 => "sha-512",
        }
    }

    /// Name used in the RFC 3230 `Digest` header (`SHA-256`, `SHA-512`).
    #[must_use]
    pub fn digest_header_name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA-256",
            Self::Sha512 => "SHA-512",
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => Sha256::digest(data).to_vec(),
            Self::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn from_content_digest_key(key: &str) -> Option<Self> {
        match key {
            "sha-256" => Some(Self::Sha256),
            "sha-512" => Some(Self::Sha512),
            _ => None,
        }
    }

    fn from_digest_header_name(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("sha-256") {
            Some(Self::Sha256)
        } else if name.eq_ignore_ascii_case("sha-512") {
            Some(Self::Sha512)
        } else {
            None
        }
    }
}

const CONTENT_DIGEST: &str = "Content-Digest";
const DIGEST: &str = "Digest";

/// Returns an RFC 9530 `Content-Digest` value for `body`, e.g.
/// `sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:`.
#[must_use]
pub fn content_digest(body: &[u8], algorithm: DigestAlgorithm) -> String {
    format!(
        "{}={}",
        algorithm.content_digest_key(),
        sf::serialize_bytes(&algorithm.hash(body))
    )
}

/// Checks an RFC 9530 `Content-Digest` value against `body`.
///
/// Every `sha-256` / `sha-512` member must match; other algorithms are
/// ignored; at least one supported member is required. Returns the strongest
/// algorithm that was checked.
///
/// # Errors
///
/// Invalid syntax, no supported member, or a digest that differs.
pub fn verify_content_digest(
    field_value: &str,
    body: &[u8],
) -> Result<DigestAlgorithm, HttpSigError> {
    let dict = parse_sf_dictionary(CONTENT_DIGEST, field_value)?;
    let mut strongest = None;
    for (key, member) in &dict {
        let Some(algorithm) = DigestAlgorithm::from_content_digest_key(key) else {
            continue;
        };
        let sf::Member::Item(sf::Item {
            bare: sf::BareItem::ByteSeq(expected),
            ..
        }) = member
        else {
            return Err(HttpSigError::Malformed {
                field: CONTENT_DIGEST,
                reason: format!("`{key}` is not a byte sequence"),
            });
        };
        if algorithm.hash(body) != *expected {
            return Err(HttpSigError::DigestMismatch {
                field: CONTENT_DIGEST,
                algorithm: algorithm.content_digest_key(),
            });
        }
        strongest = strongest.max(Some(algorithm));
    }
    strongest.ok_or(HttpSigError::NoSupportedDigest {
        field: CONTENT_DIGEST,
        supported: "sha-256, sha-512",
    })
}

/// Returns an RFC 3230 `Digest` value for `body`, e.g. `SHA-256=<base64>`.
#[must_use]
pub fn digest_header(body: &[u8], algorithm: DigestAlgorithm) -> String {
    format!(
        "{}={}",
        algorithm.digest_header_name(),
        STANDARD.encode(algorithm.hash(body))
    )
}

/// Checks an RFC 3230 `Digest` value (`SHA-256=<base64>`, possibly several
/// comma-separated entries) against `body`.
///
/// Every `SHA-256` / `SHA-512` entry (case-insensitive) must match; other
/// algorithms are ignored; at least one supported entry is required.
/// Returns the strongest algorithm that was checked.
///
/// # Errors
///
/// A malformed entry, no supported entry, or a digest that differs.
pub fn verify_digest_header(
    field_value: &str,
    body: &[u8],
) -> Result<DigestAlgorithm, HttpSigError> {
    if field_value.len() > MAX_CAVAGE_FIELD_LEN {
        return Err(HttpSigError::FieldTooLong {
            field: DIGEST,
            len: field_value.len(),
            limit: MAX_CAVAGE_FIELD_LEN,
        });
    }
    let mut strongest = None;
    for entry in field_value.split(',') {
        let entry = trim_ows(entry);
        let Some((name, value)) = entry.split_once('=') else {
            return Err(HttpSigError::Malformed {
                field: DIGEST,
                reason: format!("entry `{}` is not `algorithm=value`", echo(entry)),
            });
        };
        let Some(algorithm) = DigestAlgorithm::from_digest_header_name(trim_ows(name)) else {
            continue;
        };
        let expected = STANDARD_PAD_INDIFFERENT
            .decode(trim_ows(value))
            .map_err(|_| HttpSigError::Malformed {
                field: DIGEST,
                reason: format!(
                    "{} value is not valid base64",
                    algorithm.digest_header_name()
                ),
            })?;
        if algorithm.hash(body) != expected {
            return Err(HttpSigError::DigestMismatch {
                field: DIGEST,
                algorithm: algorithm.digest_header_name(),
            });
        }
        strongest = strongest.max(Some(algorithm));
    }
    strongest.ok_or(HttpSigError::NoSupportedDigest {
        field: DIGEST,
        supported: "SHA-256, SHA-512",
    })
}

// ---------------------------------------------------------------------------
// draft-cavage-http-signatures-12 (LTO dialect)
// ---------------------------------------------------------------------------

/// `algorithm` values of the LTO draft-cavage dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CavageAlgorithm {
    /// `ed25519`: Ed25519 over the signing string.
    Ed25519,
    /// `ed25519-sha256`: Ed25519 over the raw 32-byte SHA-256 digest of the
    /// signing string.
    Ed25519Sha256,
}

impl CavageAlgorithm {
    /// The `algorithm` parameter value.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Ed25519 => "ed25519",
            Self::Ed25519Sha256 => "ed25519-sha256",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "ed25519" => Some(Self::Ed25519),
            "ed25519-sha256" => Some(Self::Ed25519Sha256),
            _ => None,
        }
    }

    fn message(self, signing_string: &str) -> Vec<u8> {
        match self {
            Self::Ed25519 => signing_string.as_bytes().to_vec(),
            Self::Ed25519Sha256 => Sha256::digest(signing_string.as_bytes()).to_vec(),
        }
    }
}

/// Inputs for [`cavage_sign`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CavageSignParams<'a> {
    /// `keyId`; for LTO the base58 public key (see [`lto_key_id`]).
    pub key_id: &'a str,
    /// Signature algorithm.
    pub algorithm: CavageAlgorithm,
    /// Signed headers in order, lower-case; pseudo-headers
    /// `(request-target)`, `(created)`, `(expires)` are allowed.
    pub headers: &'a [&'a str],
    /// `created` parameter (Unix seconds), needed for `(created)`.
    pub created: Option<i64>,
    /// `expires` parameter (Unix seconds), needed for `(expires)`.
    pub expires: Option<i64>,
}

impl<'a> CavageSignParams<'a> {
    /// LTO defaults: `ed25519-sha256` and the given headers, no
    /// `created`/`expires`.
    #[must_use]
    pub fn new(key_id: &'a str, headers: &'a [&'a str]) -> Self {
        Self {
            key_id,
            algorithm: CavageAlgorithm::Ed25519Sha256,
            headers,
            created: None,
            expires: None,
        }
    }
}

/// A draft-cavage signature produced by [`cavage_sign`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CavageSignature {
    /// Parameter list, e.g.
    /// `keyId="…",algorithm="ed25519-sha256",headers="(request-target) date",signature="…"`;
    /// this is the value of a `Signature` header.
    pub params: String,
}

impl CavageSignature {
    /// Value for the `Authorization` header: `Signature <params>` (the form
    /// the LTO services read).
    #[must_use]
    pub fn authorization_value(&self) -> String {
        format!("Signature {}", self.params)
    }
}

fn validate_cavage_header_name(name: &str) -> Result<(), HttpSigError> {
    let ok = matches!(name, "(request-target)" | "(created)" | "(expires)")
        || (!name.is_empty() && name.bytes().all(|b| is_tchar(b) && !b.is_ascii_uppercase()));
    if ok {
        Ok(())
    } else {
        Err(HttpSigError::UnsupportedComponent {
            component: echo(name),
            reason: "not a lower-case header name or supported pseudo-header",
        })
    }
}

/// Builds the draft-cavage signing string for the given lower-case header
/// list, with `field` naming the header the signature came from (for errors).
fn cavage_signing_string(
    req: &Request,
    headers: &[String],
    created: Option<i64>,
    expires: Option<i64>,
    field: &'static str,
) -> Result<String, HttpSigError> {
    let mut lines: Vec<String> = Vec::with_capacity(headers.len());
    for name in headers {
        let line = match name.as_str() {
            "(request-target)" => {
                // PSR-7 drops an empty query, so `?` appears only with content.
                let query = req.query.filter(|q| !q.is_empty());
                format!(
                    "(request-target): {} {}{}",
                    req.method.to_ascii_lowercase(),
                    req.path_or_root(),
                    query_suffix(query)
                )
            }
            "(created)" => format!(
                "(created): {}",
                created.ok_or(HttpSigError::MissingParameter {
                    field,
                    param: "created"
                })?
            ),
            "(expires)" => format!(
                "(expires): {}",
                expires.ok_or(HttpSigError::MissingParameter {
                    field,
                    param: "expires"
                })?
            ),
            other => {
                // jasny/http-signature: a listed `date` is replaced by
                // `x-date` when an X-Date header is present.
                let actual = if other == "date" && req.header_values("x-date").next().is_some() {
                    "x-date"
                } else {
                    other
                };
                let value = req
                    .header(actual)
                    .ok_or_else(|| HttpSigError::ComponentMissing(echo(other)))?;
                format!("{actual}: {value}")
            }
        };
        if has_control(&line) {
            return Err(HttpSigError::InvalidComponentValue(echo(name)));
        }
        lines.push(line);
    }
    Ok(lines.join("\n"))
}

/// Signs `req` in the LTO draft-cavage dialect.
///
/// Headers to be signed (e.g. `date`, `digest` from [`digest_header`]) must
/// already be present in `req.headers`.
///
/// # Errors
///
/// An unusable key id or header name, or a signed header that is absent
/// from `req` or contains a control character.
pub fn cavage_sign(
    req: &Request,
    key: &SigningKey,
    params: &CavageSignParams,
) -> Result<CavageSignature, HttpSigError> {
    if params.key_id.is_empty() || params.key_id.contains('"') || has_control(params.key_id) {
        return Err(HttpSigError::InvalidSignInput {
            param: "keyId",
            reason: "must be non-empty without `\"` or control characters",
        });
    }
    if params.headers.is_empty() {
        return Err(HttpSigError::InvalidSignInput {
            param: "headers",
            reason: "must list at least one header",
        });
    }
    let mut headers: Vec<String> = Vec::with_capacity(params.headers.len());
    for &name in params.headers {
        validate_cavage_header_name(name)?;
        if headers.iter().any(|h| h == name) {
            return Err(HttpSigError::DuplicateComponent(echo(name)));
        }
        headers.push(name.to_owned());
    }
    let signing_string = cavage_signing_string(req, &headers, params.created, params.expires, SIG)?;
    let signature = key.sign(&params.algorithm.message(&signing_string));

    let mut out = format!(
        "keyId=\"{}\",algorithm=\"{}\"",
        params.key_id,
        params.algorithm.name()
    );
    if let Some(created) = params.created {
        let _ = write!(out, ",created={created}");
    }
    if let Some(expires) = params.expires {
        let _ = write!(out, ",expires={expires}");
    }
    let _ = write!(
        out,
        ",headers=\"{}\",signature=\"{}\"",
        headers.join(" "),
        STANDARD.encode(signature.to_bytes())
    );
    Ok(CavageSignature { params: out })
}

/// What [`cavage_verify`] checks beyond the signature itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CavagePolicy {
    /// Headers that must be signed for every request. `x-date` satisfies
    /// `date`.
    pub required_headers: Vec<String>,
    /// Additional headers that must be signed for POST, PUT and PATCH
    /// requests and for any request with a non-empty body.
    pub required_headers_with_body: Vec<String>,
    /// Accepted algorithms.
    pub algorithms: Vec<CavageAlgorithm>,
    /// Check the `X-Date` (else `Date`) header against the clock; the
    /// header is then mandatory.
    pub check_date: bool,
    /// Tolerated clock difference in seconds (negative counts as 0).
    pub max_skew: i64,
}

impl Default for CavagePolicy {
    /// As `ltonetwork/event-chain` minus its application header:
    /// `(request-target) date` always, `content-type digest` with a body,
    /// both algorithms, date checked with 300 s skew.
    fn default() -> Self {
        Self {
            required_headers: vec!["(request-target)".into(), "date".into()],
            required_headers_with_body: vec!["content-type".into(), "digest".into()],
            algorithms: vec![CavageAlgorithm::Ed25519, CavageAlgorithm::Ed25519Sha256],
            check_date: true,
            max_skew: DEFAULT_MAX_SKEW,
        }
    }
}

/// Facts about a signature that [`cavage_verify`] accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CavageVerified {
    /// `keyId` parameter.
    pub key_id: String,
    /// Algorithm used.
    pub algorithm: CavageAlgorithm,
    /// Signed headers, lower-case, in order.
    pub headers: Vec<String>,
    /// The signature's bytes (see [`Verified::signature`]).
    pub signature: [u8; 64],
    /// The last second (Unix time) at which this signature passes the time checks: the
    /// earliest of the checked date and the signed `(created)` and `(expires)`, plus the
    /// skew (`None` when none of them is checked and signed). Parameters the signature does
    /// not cover are checked but do not count here: whoever replays the request could
    /// strip them.
    pub valid_until: Option<i64>,
}

const MAX_CAVAGE_PARAMS: usize = 16;
const MAX_CAVAGE_HEADERS: usize = 32;

/// Parses `name="value"` / `name=123` pairs separated by commas.
fn parse_cavage_params(
    field: &'static str,
    input: &str,
) -> Result<Vec<(String, String)>, HttpSigError> {
    let malformed = |reason: String| HttpSigError::Malformed { field, reason };
    if input.len() > MAX_CAVAGE_FIELD_LEN {
        return Err(HttpSigError::FieldTooLong {
            field,
            len: input.len(),
            limit: MAX_CAVAGE_FIELD_LEN,
        });
    }
    let mut params: Vec<(String, String)> = Vec::new();
    let mut rest = trim_ows(input);
    while !rest.is_empty() {
        let name_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
            .count();
        let (name, after) = rest.split_at_checked(name_len).unwrap_or((rest, ""));
        if name.is_empty() {
            return Err(malformed(format!(
                "expected a parameter name at `{}`",
                echo(rest)
            )));
        }
        let Some(after) = trim_ows(after).strip_prefix('=') else {
            return Err(malformed(format!("parameter `{}` has no `=`", echo(name))));
        };
        let after = trim_ows(after);
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            let Some(end) = quoted.find('"') else {
                return Err(malformed(format!(
                    "unterminated quoted value for `{}`",
                    echo(name)
                )));
            };
            (
                quoted.get(..end).unwrap_or(""),
                quoted.get(end + 1..).unwrap_or(""),
            )
        } else {
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(malformed(format!(
                    "value of `{}` must be quoted or an integer",
                    echo(name)
                )));
            }
            after.split_at_checked(digits).unwrap_or((after, ""))
        };
        if params.iter().any(|(n, _)| n == name) {
            return Err(malformed(format!(
                "parameter `{}` appears twice",
                echo(name)
            )));
        }
        if params.len() >= MAX_CAVAGE_PARAMS {
            return Err(malformed("too many parameters".into()));
        }
        params.push((name.to_owned(), value.to_owned()));
        let after = trim_ows(after);
        rest = match after.strip_prefix(',') {
            Some(next) => {
                let next = trim_ows(next);
                if next.is_empty() {
                    return Err(malformed("trailing comma".into()));
                }
                next
            }
            None if after.is_empty() => after,
            None => {
                return Err(malformed(format!(
                    "expected `,` after parameter `{}`",
                    echo(name)
                )));
            }
        };
    }
    Ok(params)
}

/// Finds the draft-cavage parameter string: `Authorization: Signature …`
/// first, else a `Signature` header.
fn find_cavage_params(req: &Request) -> Option<(&'static str, String)> {
    for value in req.header_values("authorization") {
        let value = trim_ows(value);
        let scheme_len = value
            .bytes()
            .take_while(|b| !matches!(b, b' ' | b'\t'))
            .count();
        if let Some((scheme, rest)) = value.split_at_checked(scheme_len)
            && scheme.eq_ignore_ascii_case("signature")
            && !rest.is_empty()
        {
            return Some(("Authorization", trim_ows(rest).to_owned()));
        }
    }
    req.header("signature").map(|v| (SIG, v))
}

fn parse_param_int(field: &'static str, name: &str, value: &str) -> Result<i64, HttpSigError> {
    if value.is_empty() || value.len() > 15 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HttpSigError::InvalidParameter {
            field,
            param: name.to_owned(),
            expected: "a non-negative integer of at most 15 digits",
        });
    }
    value
        .parse::<i64>()
        .map_err(|_| HttpSigError::InvalidParameter {
            field,
            param: name.to_owned(),
            expected: "a non-negative integer of at most 15 digits",
        })
}

/// Verifies an LTO-dialect draft-cavage signature on `req`.
///
/// The signature is read from `Authorization: Signature …` or, failing
/// that, from a `Signature` header. `key_lookup` maps `keyId` to a public
/// key (for LTO, [`lto_verifying_key`] decodes the base58 key id itself);
/// `now` is the current Unix time in seconds. A signed `digest` header is
/// checked against the body.
///
/// # Errors
///
/// Any syntax, policy, date, key, signature or digest failure, each as its
/// own [`HttpSigError`] variant.
pub fn cavage_verify<F>(
    req: &Request,
    key_lookup: F,
    now: i64,
    policy: &CavagePolicy,
) -> Result<CavageVerified, HttpSigError>
where
    F: Fn(&str) -> Option<VerifyingKey>,
{
    let (field, raw) = find_cavage_params(req).ok_or(HttpSigError::NoCavageSignature)?;
    let params = parse_cavage_params(field, &raw)?;
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let missing = |param| HttpSigError::MissingParameter { field, param };

    let key_id = get("keyId").ok_or(missing("keyId"))?;
    let algorithm_name = get("algorithm").ok_or(missing("algorithm"))?;
    let signature_b64 = get("signature").ok_or(missing("signature"))?;
    let algorithm = CavageAlgorithm::from_name(algorithm_name)
        .filter(|a| policy.algorithms.contains(a))
        .ok_or_else(|| HttpSigError::UnsupportedAlgorithm(echo(algorithm_name)))?;
    let created = get("created")
        .map(|v| parse_param_int(field, "created", v))
        .transpose()?;
    let expires = get("expires")
        .map(|v| parse_param_int(field, "expires", v))
        .transpose()?;

    // Signed header list; draft-cavage-12 defaults to `(created)`.
    let mut headers: Vec<String> = Vec::new();
    for name in get("headers")
        .unwrap_or("(created)")
        .split(' ')
        .filter(|s| !s.is_empty())
    {
        let name = name.to_ascii_lowercase();
        validate_cavage_header_name(&name)?;
        if headers.contains(&name) {
            return Err(HttpSigError::DuplicateComponent(echo(&name)));
        }
        if headers.len() >= MAX_CAVAGE_HEADERS {
            return Err(HttpSigError::Malformed {
                field,
                reason: "too many signed headers".into(),
            });
        }
        headers.push(name);
    }
    if headers.is_empty() {
        return Err(HttpSigError::Malformed {
            field,
            reason: "`headers` is empty".into(),
        });
    }

    // Required headers.
    let has_body = !req.body.is_empty()
        || ["POST", "PUT", "PATCH"]
            .iter()
            .any(|m| m.eq_ignore_ascii_case(req.method));
    let covered = |name: &str| {
        headers.iter().any(|h| h == name)
            || (name == "date" && headers.iter().any(|h| h == "x-date"))
    };
    let required = policy.required_headers.iter().chain(
        policy
            .required_headers_with_body
            .iter()
            .filter(|_| has_body),
    );
    for name in required {
        if !covered(name) {
            return Err(HttpSigError::ComponentNotCovered(name.clone()));
        }
    }

    // Time checks.
    let time_policy = VerifyPolicy {
        max_skew: policy.max_skew,
        ..VerifyPolicy::default()
    };
    check_times(field, created, expires, now, &time_policy)?;
    let date = if policy.check_date {
        Some(check_date_header(req, now, policy.max_skew.max(0))?)
    } else {
        None
    };

    // Signature.
    let signing_string = cavage_signing_string(req, &headers, created, expires, field)?;
    let signature = STANDARD_PAD_INDIFFERENT
        .decode(signature_b64)
        .map_err(|_| HttpSigError::InvalidParameter {
            field,
            param: "signature".into(),
            expected: "base64",
        })?;
    let key = key_lookup(key_id).ok_or_else(|| HttpSigError::UnknownKey(echo(key_id)))?;
    let signature = verify_ed25519(&key, &algorithm.message(&signing_string), &signature)?;

    if headers.iter().any(|h| h == "digest") {
        let value = req
            .header("digest")
            .ok_or_else(|| HttpSigError::ComponentMissing("digest".into()))?;
        verify_digest_header(&value, req.body)?;
    }

    let signed = |name: &str| headers.iter().any(|h| h == name);
    let covered_times = [
        date.filter(|_| signed("date") || signed("x-date")),
        created.filter(|_| signed("(created)")),
        expires.filter(|_| signed("(expires)")),
    ];
    Ok(CavageVerified {
        key_id: key_id.to_owned(),
        algorithm,
        signature,
        valid_until: valid_until(covered_times.into_iter().flatten(), policy.max_skew),
        headers,
    })
}

/// The `X-Date` (else `Date`) header, checked to be within `skew` of `now`.
fn check_date_header(req: &Request, now: i64, skew: i64) -> Result<i64, HttpSigError> {
    let (field, value) = match req.header("x-date") {
        Some(v) => ("X-Date", v),
        None => (
            "Date",
            req.header("date")
                .ok_or(HttpSigError::MissingHeader("Date"))?,
        ),
    };
    let date = parse_http_date(&value).ok_or_else(|| HttpSigError::InvalidDate {
        field,
        value: echo(&value),
    })?;
    let offset = date.saturating_sub(now);
    if offset > skew {
        Err(HttpSigError::DateInFuture {
            field,
            secs: offset,
            skew,
        })
    } else if offset < -skew {
        Err(HttpSigError::DateInPast {
            field,
            secs: offset.saturating_neg(),
            skew,
        })
    } else {
        Ok(date)
    }
}

// ---------------------------------------------------------------------------
// LTO key ids (base58)
// ---------------------------------------------------------------------------

/// The LTO `keyId` for a public key: its 32 bytes in base58.
#[must_use]
pub fn lto_key_id(key: &VerifyingKey) -> String {
    accord_crypto::base58::encode(key.as_bytes())
}

/// Decodes an LTO `keyId` (base58 of a 32-byte Ed25519 public key).
/// Usable directly as the key lookup of [`cavage_verify`] when any
/// self-identified key is acceptable.
#[must_use]
pub fn lto_verifying_key(key_id: &str) -> Option<VerifyingKey> {
    // Fixed size: text longer than any encoding of 32 bytes is refused before decoding.
    let bytes: [u8; 32] = accord_crypto::base58::decode_array(key_id).ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

// ---------------------------------------------------------------------------
// HTTP dates
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    /// An owned request for tests; `with` lends it as a [`Request`].
    #[derive(Clone)]
    struct Req {
        method: String,
        scheme: String,
        authority: String,
        path: String,
        query: Option<String>,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Req {
        fn new(method: &str, uri_path: &str, query: Option<&str>) -> Self {
            Self {
                method: method.into(),
                scheme: "https".into(),
                authority: "example.com".into(),
                path: uri_path.into(),
                query: query.map(Into::into),
                headers: Vec::new(),
                body: Vec::new(),
            }
        }

        fn header(mut self, name: &str, value: &str) -> Self {
            self.headers.push((name.into(), value.into()));
            self
        }

        fn body(mut self, body: &[u8]) -> Self {
            self.body = body.to_vec();
            self
        }

        fn set_header(&mut self, name: &str, value: &str) {
            self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            self.headers.push((name.into(), value.into()));
        }

        fn remove_header(&mut self, name: &str) {
            self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        }

        fn with<R>(&self, f: impl FnOnce(&Request) -> R) -> R {
            let headers: Vec<(&str, &str)> = self
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let req = Request {
                method: &self.method,
                scheme: &self.scheme,
                authority: &self.authority,
                path: &self.path,
                query: self.query.as_deref(),
                headers: &headers,
                body: &self.body,
            };
            f(&req)
        }
    }

    // ----- RFC 9421 Appendix B material ------------------------------------

    /// Seed of `test-key-ed25519` (RFC 9421 B.1.4): the last 32 bytes of the
    /// PKCS#8 key `MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF`.
    fn rfc_signing_key() -> SigningKey {
        let der = STANDARD
            .decode("MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF")
            .unwrap();
        let seed: [u8; 32] = der[der.len() - 32..].try_into().unwrap();
        SigningKey::from_bytes(&seed)
    }

    /// Public `test-key-ed25519` from its SPKI form in RFC 9421 B.1.4.
    fn rfc_verifying_key() -> VerifyingKey {
        let der = STANDARD
            .decode("MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=")
            .unwrap();
        let raw: [u8; 32] = der[der.len() - 32..].try_into().unwrap();
        VerifyingKey::from_bytes(&raw).unwrap()
    }

    const RFC_BODY: &[u8] = br#"{"hello": "world"}"#;
    const RFC_SHA512: &str = "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:";
    const RFC_SHA256: &str = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";
    const B26_COMPONENTS: [&str; 6] = [
        "date",
        "@method",
        "@path",
        "@authority",
        "content-type",
        "content-length",
    ];
    const B26_CREATED: i64 = 1_618_884_473;
    const B26_INPUT: &str = r#"sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519""#;
    const B26_SIGNATURE: &str = "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:";
    const B26_BASE: &str = concat!(
        "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n",
        "\"@method\": POST\n",
        "\"@path\": /foo\n",
        "\"@authority\": example.com\n",
        "\"content-type\": application/json\n",
        "\"content-length\": 18\n",
        "\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" \"content-length\");created=1618884473;keyid=\"test-key-ed25519\"",
    );

    /// The test request of RFC 9421 Appendix B.2.
    fn rfc_request() -> Req {
        Req::new("POST", "/foo", Some("param=Value&Pet=dog"))
            .header("Host", "example.com")
            .header("Date", "Tue, 20 Apr 2021 02:07:55 GMT")
            .header("Content-Type", "application/json")
            .header("Content-Digest", RFC_SHA512)
            .header("Content-Length", "18")
            .body(RFC_BODY)
    }

    fn rfc_lookup(key_id: &str) -> Option<VerifyingKey> {
        (key_id == "test-key-ed25519").then(rfc_verifying_key)
    }

    #[test]
    fn rfc_test_key_pair_is_consistent() {
        assert_eq!(rfc_signing_key().verifying_key(), rfc_verifying_key());
    }

    #[test]
    fn rfc_b26_signature_base_and_signature() {
        let params = SignParams::new("sig-b26", &B26_COMPONENTS, "test-key-ed25519", B26_CREATED);
        rfc_request().with(|req| {
            assert_eq!(signature_base(req, &params).unwrap(), B26_BASE);
            let headers = sign(req, &rfc_signing_key(), &params).unwrap();
            assert_eq!(headers.signature_input, B26_INPUT);
            assert_eq!(headers.signature, B26_SIGNATURE);
        });
    }

    #[test]
    fn rfc_b26_verifies() {
        let req = rfc_request()
            .header("Signature-Input", B26_INPUT)
            .header("Signature", B26_SIGNATURE);
        let policy = VerifyPolicy {
            // The RFC example does not cover Content-Digest.
            require_content_digest_with_body: false,
            ..VerifyPolicy::default()
        };
        let verified = req
            .with(|r| verify(r, rfc_lookup, B26_CREATED + 5, &policy))
            .unwrap();
        assert_eq!(verified.label, "sig-b26");
        assert_eq!(verified.key_id, "test-key-ed25519");
        assert_eq!(verified.created, Some(B26_CREATED));
        assert_eq!(verified.components, B26_COMPONENTS);

        // With the default policy the uncovered body is refused.
        let err = req
            .with(|r| verify(r, rfc_lookup, B26_CREATED, &VerifyPolicy::default()))
            .unwrap_err();
        assert_eq!(
            err,
            HttpSigError::ComponentNotCovered("content-digest".into())
        );
        assert_eq!(
            err.to_string(),
            "required component `content-digest` is not covered by the signature"
        );
    }

    #[test]
    fn rfc_b26_verifies_with_folded_whitespace_and_other_signatures() {
        let input = format!(
            "other=(\"@method\");keyid=\"x\",  {}",
            B26_INPUT.replace(" \"@path\"", "   \"@path\"")
        );
        let signature = format!("other=:AAAA:, {B26_SIGNATURE}");
        let req = rfc_request()
            .header("Signature-Input", &input)
            .header("Signature", &signature);
        let policy = VerifyPolicy {
            label: Some("sig-b26".into()),
            require_content_digest_with_body: false,
            ..VerifyPolicy::default()
        };
        req.with(|r| verify(r, rfc_lookup, B26_CREATED, &policy))
            .unwrap();

        // Split over two header lines, as RFC 8941 allows.
        let (first, second) = input.split_once(",  ").unwrap();
        let req = rfc_request()
            .header("Signature-Input", first)
            .header("signature-input", second)
            .header("Signature", &signature);
        req.with(|r| verify(r, rfc_lookup, B26_CREATED, &policy))
            .unwrap();
    }

    // ----- RFC 9421 round trips and failures -------------------------------

    const ALL_COMPONENTS: [&str; 10] = [
        "@method",
        "@target-uri",
        "@authority",
        "@scheme",
        "@request-target",
        "@path",
        "@query",
        "content-type",
        "date",
        "content-digest",
    ];
    const NOW: i64 = 1_700_000_000;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn signed_request(body: &[u8], params: &SignParams) -> Req {
        let mut req = Req::new("POST", "/api/v1/things", Some("a=1&b=two"))
            .header("Content-Type", "application/json")
            .header("Date", &http_date(NOW))
            .header(
                "Content-Digest",
                &content_digest(body, DigestAlgorithm::Sha256),
            )
            .body(body);
        let headers = req.with(|r| sign(r, &key(7), params)).unwrap();
        req.set_header("Signature-Input", &headers.signature_input);
        req.set_header("Signature", &headers.signature);
        req
    }

    fn lookup(key_id: &str) -> Option<VerifyingKey> {
        (key_id == "node-1").then(|| key(7).verifying_key())
    }

    fn full_params() -> SignParams<'static> {
        SignParams {
            expires: Some(NOW + 60),
            nonce: Some("n-123"),
            tag: Some("accord"),
            include_alg: true,
            ..SignParams::new("sig1", &ALL_COMPONENTS, "node-1", NOW)
        }
    }

    fn check(req: &Req, now: i64, policy: &VerifyPolicy) -> Result<Verified, HttpSigError> {
        req.with(|r| verify(r, lookup, now, policy))
    }

    #[test]
    fn round_trip_all_components() {
        let req = signed_request(b"{\"x\":1}", &full_params());
        let verified = check(&req, NOW, &VerifyPolicy::default()).unwrap();
        assert_eq!(verified.key_id, "node-1");
        assert_eq!(verified.nonce.as_deref(), Some("n-123"));
        assert_eq!(verified.tag.as_deref(), Some("accord"));
        assert_eq!(verified.expires, Some(NOW + 60));
        assert_eq!(verified.components, ALL_COMPONENTS);
        let input = req.with(|r| r.header("signature-input")).unwrap();
        assert!(input.starts_with("sig1=(\"@method\" \"@target-uri\""));
        assert!(input.ends_with(
            ";created=1700000000;expires=1700000060;keyid=\"node-1\";alg=\"ed25519\";nonce=\"n-123\";tag=\"accord\""
        ));
    }

    #[test]
    fn derived_component_values() {
        let req = Req::new("GET", "", Some("q=1"));
        let mut req = req.header("X-Multi", " a ").header("x-multi", "b\t");
        req.authority = "Example.COM:443".into();
        req.scheme = "HTTPS".into();
        let params = SignParams::new(
            "s",
            &[
                "@method",
                "@target-uri",
                "@authority",
                "@scheme",
                "@request-target",
                "@path",
                "@query",
                "x-multi",
            ],
            "k",
            1,
        );
        let base = req.with(|r| signature_base(r, &params)).unwrap();
        let expected = concat!(
            "\"@method\": GET\n",
            "\"@target-uri\": https://Example.COM:443/?q=1\n",
            "\"@authority\": example.com\n",
            "\"@scheme\": https\n",
            "\"@request-target\": /?q=1\n",
            "\"@path\": /\n",
            "\"@query\": ?q=1\n",
            "\"x-multi\": a, b\n",
        );
        assert!(base.starts_with(expected), "{base}");

        req.query = None;
        let base = req
            .with(|r| signature_base(r, &SignParams::new("s", &["@query"], "k", 1)))
            .unwrap();
        assert!(base.starts_with("\"@query\": ?\n"));
    }

    type Tamper = Box<dyn Fn(&mut Req)>;

    #[test]
    fn tampering_any_covered_component_fails() {
        let original = signed_request(b"{\"x\":1}", &full_params());
        let policy = VerifyPolicy::default();
        let tampers: Vec<(&str, Tamper)> = vec![
            ("@method", Box::new(|r| r.method = "PUT".into())),
            ("@scheme", Box::new(|r| r.scheme = "http".into())),
            (
                "@authority",
                Box::new(|r| r.authority = "evil.example".into()),
            ),
            ("@path", Box::new(|r| r.path = "/api/v1/other".into())),
            ("@query", Box::new(|r| r.query = Some("a=1&b=three".into()))),
            ("@query absent", Box::new(|r| r.query = None)),
            (
                "content-type",
                Box::new(|r| r.set_header("Content-Type", "text/plain")),
            ),
            (
                "date",
                Box::new(|r| r.set_header("Date", &http_date(NOW + 1))),
            ),
            (
                "content-digest",
                Box::new(|r| {
                    r.set_header(
                        "Content-Digest",
                        &content_digest(b"other", DigestAlgorithm::Sha256),
                    )
                }),
            ),
            (
                "extra header line",
                Box::new(|r| r.headers.push(("content-type".into(), "x".into()))),
            ),
        ];
        for (what, tamper) in tampers {
            let mut req = original.clone();
            tamper(&mut req);
            assert_eq!(
                check(&req, NOW, &policy).unwrap_err(),
                HttpSigError::BadSignature,
                "tampering {what}"
            );
        }

        // A changed body is caught by the covered Content-Digest.
        let mut req = original.clone();
        req.body = b"{\"x\":2}".to_vec();
        let err = check(&req, NOW, &policy).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Content-Digest: sha-256 digest does not match the body"
        );

        // A changed signature or parameter list is caught too.
        let mut req = original.clone();
        let input = req.with(|r| r.header("signature-input")).unwrap();
        req.set_header("Signature-Input", &input.replace("n-123", "n-124"));
        assert_eq!(
            check(&req, NOW, &policy).unwrap_err(),
            HttpSigError::BadSignature
        );

        let mut req = original;
        let sig = req.with(|r| r.header("signature")).unwrap();
        let mut bytes = STANDARD
            .decode(sig.trim_start_matches("sig1=:").trim_end_matches(':'))
            .unwrap();
        bytes[10] ^= 1;
        req.set_header("Signature", &format!("sig1=:{}:", STANDARD.encode(&bytes)));
        assert_eq!(
            check(&req, NOW, &policy).unwrap_err(),
            HttpSigError::BadSignature
        );
    }

    #[test]
    fn missing_covered_component() {
        let mut req = signed_request(b"{}", &full_params());
        req.remove_header("content-digest");
        let err = check(&req, NOW, &VerifyPolicy::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "covered component `content-digest` is not present in the request"
        );

        let mut req = signed_request(b"{}", &full_params());
        req.authority.clear();
        assert_eq!(
            check(&req, NOW, &VerifyPolicy::default()).unwrap_err(),
            HttpSigError::ComponentMissing("@target-uri".into())
        );

        // Signing also refuses absent components.
        let params = SignParams::new("sig1", &["x-absent"], "node-1", NOW);
        let err = Req::new("GET", "/", None)
            .with(|r| sign(r, &key(7), &params))
            .unwrap_err();
        assert_eq!(err, HttpSigError::ComponentMissing("x-absent".into()));
    }

    #[test]
    fn required_components_are_enforced() {
        let params = SignParams::new("sig1", &["@method", "@path"], "node-1", NOW);
        let req = signed_request(b"", &params);
        let err = check(&req, NOW, &VerifyPolicy::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "required component `@authority` is not covered by the signature"
        );

        let params = SignParams::new("sig1", &["@method", "@path", "@authority"], "node-1", NOW);
        let req = signed_request(b"", &params);
        check(&req, NOW, &VerifyPolicy::default()).unwrap();
        let req = signed_request(b"body", &params);
        assert_eq!(
            check(&req, NOW, &VerifyPolicy::default()).unwrap_err(),
            HttpSigError::ComponentNotCovered("content-digest".into())
        );
    }

    #[test]
    fn missing_and_mistyped_parameters() {
        let base = rfc_request().header("Signature", B26_SIGNATURE);
        let policy = VerifyPolicy {
            require_content_digest_with_body: false,
            ..VerifyPolicy::default()
        };
        let cases = [
            (
                r#"sig-b26=("@method");created=1618884473"#,
                "Signature-Input: missing parameter `keyid`",
            ),
            (
                r#"sig-b26=("@method" "@path" "@authority");keyid="test-key-ed25519""#,
                "Signature-Input: missing parameter `created`",
            ),
            (
                r#"sig-b26=("@method");created="now";keyid="k""#,
                "Signature-Input: parameter `created` must be an integer",
            ),
            (
                r#"sig-b26=("@method");created=1;keyid=k"#,
                "Signature-Input: parameter `keyid` must be a string",
            ),
            (
                r#"sig-b26=("@method");created=1618884473;keyid="k";alg="rsa-pss-sha512""#,
                "unsupported signature algorithm `rsa-pss-sha512`",
            ),
            (
                r#"sig-b26="@method";created=1;keyid="k""#,
                "Signature-Input: `sig-b26` is not an inner list of components",
            ),
            (
                r#"sig-b26=(method);created=1;keyid="k""#,
                "Signature-Input: component identifiers must be strings",
            ),
            (
                r#"sig-b26=("content-type";sf);created=1;keyid="k""#,
                "covered component `content-type` is not supported: component parameters are not supported",
            ),
            (
                r#"sig-b26=("@status");created=1;keyid="k""#,
                "covered component `@status` is not supported: unknown or unsupported derived component",
            ),
            (
                r#"sig-b26=("Content-Type");created=1;keyid="k""#,
                "covered component `Content-Type` is not supported: field names must be lower-case",
            ),
            (
                r#"sig-b26=("@signature-params");created=1;keyid="k""#,
                "covered component `@signature-params` is not supported: `@signature-params` cannot be listed as a covered component",
            ),
            (
                r#"sig-b26=("@method" "@method");created=1;keyid="k""#,
                "covered component `@method` is listed more than once",
            ),
            (
                r#"sig-b26=("@method");created=1;keyid="k""#,
                "required component `@path` is not covered by the signature",
            ),
            ("", "Signature-Input: contains no signature"),
            (
                r#"other=("@method");created=1;keyid="k""#,
                "Signature: no signature labelled `other`",
            ),
        ];
        for (input, message) in cases {
            let req = base.clone().header("Signature-Input", input);
            let err = check_rfc(&req, &policy).unwrap_err();
            assert_eq!(err.to_string(), message, "input {input}");
        }

        let req = rfc_request().header("Signature-Input", B26_INPUT);
        assert_eq!(
            check_rfc(&req, &policy).unwrap_err().to_string(),
            "missing `Signature` header"
        );
        let req = rfc_request().header("Signature", B26_SIGNATURE);
        assert_eq!(
            check_rfc(&req, &policy).unwrap_err().to_string(),
            "missing `Signature-Input` header"
        );
        let req = rfc_request()
            .header("Signature-Input", B26_INPUT)
            .header("Signature", "sig-b26=\"abc\"");
        assert_eq!(
            check_rfc(&req, &policy).unwrap_err().to_string(),
            "Signature: `sig-b26` is not a byte sequence"
        );
        let req = rfc_request()
            .header("Signature-Input", B26_INPUT)
            .header("Signature", "sig-b26=:AAAA:");
        assert_eq!(
            check_rfc(&req, &policy).unwrap_err().to_string(),
            "signature is 3 bytes long, expected 64"
        );
        let policy = VerifyPolicy {
            label: Some("nope".into()),
            ..policy
        };
        let req = rfc_request()
            .header("Signature-Input", B26_INPUT)
            .header("Signature", B26_SIGNATURE);
        assert_eq!(
            check_rfc(&req, &policy).unwrap_err().to_string(),
            "Signature-Input: no signature labelled `nope`"
        );
    }

    fn check_rfc(req: &Req, policy: &VerifyPolicy) -> Result<Verified, HttpSigError> {
        req.with(|r| verify(r, rfc_lookup, B26_CREATED, policy))
    }

    #[test]
    fn bad_structured_field_syntax() {
        let cases = [
            r#"sig1=("@method""#,
            r#"sig1=("@method" "@path""#,
            r#"sig1=("@method")"@path";keyid="k""#,
            r#"sig1=("@method);created=1"#,
            r#"sig1=("@method");created=1.5;keyid="k""#,
            r#"sig1=("@method");created=1234567890123456;keyid="k""#,
            r#"sig1=("@method");created=;keyid="k""#,
            r#"sig1=("@method");keyid="a\b""#,
            "sig1=(\"@method\");keyid=\"caf\u{e9}\"",
            r#"Sig1=("@method");keyid="k""#,
            r#"sig1=("@method");keyid="k","#,
            r#"sig1=("@method");keyid="k" sig2=("@path")"#,
            r#"sig1=("@method");;keyid="k""#,
            r#"sig1=("@method");keyid=?2"#,
            "sig1=(\"@method\"\t\"@path\");keyid=\"k\"",
            "1sig=()",
            "sig1=)",
            "sig1=(",
            "=",
        ];
        for input in cases {
            let req = rfc_request()
                .header("Signature-Input", input)
                .header("Signature", B26_SIGNATURE);
            let err = check_rfc(&req, &VerifyPolicy::default()).unwrap_err();
            assert!(
                matches!(
                    err,
                    HttpSigError::Syntax {
                        field: "Signature-Input",
                        ..
                    }
                ),
                "{input}: {err}"
            );
            assert!(
                err.to_string()
                    .starts_with("Signature-Input: invalid structured field at byte")
            );
        }
        for input in ["sig-b26=:not base64!:", "sig-b26=:QUJD", "sig-b26=:QQ=Q:"] {
            let req = rfc_request()
                .header("Signature-Input", B26_INPUT)
                .header("Signature", input);
            let err = check_rfc(&req, &VerifyPolicy::default()).unwrap_err();
            assert!(
                matches!(
                    err,
                    HttpSigError::Syntax {
                        field: "Signature",
                        ..
                    }
                ),
                "{input}: {err}"
            );
        }
        let long = format!("sig1=(\"{}\")", "a".repeat(MAX_STRUCTURED_FIELD_LEN));
        let req = rfc_request()
            .header("Signature-Input", &long)
            .header("Signature", B26_SIGNATURE);
        assert!(matches!(
            check_rfc(&req, &VerifyPolicy::default()).unwrap_err(),
            HttpSigError::FieldTooLong { .. }
        ));
    }

    #[test]
    fn structured_field_parser_details() {
        let dict = sf::parse_dictionary(
            r#"  a=(  "x"   "y";p  );q=-5, b, c=tok/en:1;d=?0, e=:AQID:, a=1"#,
        )
        .unwrap();
        assert_eq!(dict.len(), 4);
        // A repeated key overwrites in place.
        assert_eq!(dict[0].0, "a");
        assert!(matches!(
            dict[0].1,
            sf::Member::Item(sf::Item {
                bare: sf::BareItem::Integer(1),
                ..
            })
        ));
        assert!(matches!(
            dict[1].1,
            sf::Member::Item(sf::Item {
                bare: sf::BareItem::Boolean(true),
                ..
            })
        ));
        let sf::Member::Item(c) = &dict[2].1 else {
            panic!()
        };
        assert_eq!(c.bare, sf::BareItem::Token("tok/en:1".into()));
        assert_eq!(c.params, vec![("d".into(), sf::BareItem::Boolean(false))]);
        let sf::Member::Item(e) = &dict[3].1 else {
            panic!()
        };
        assert_eq!(e.bare, sf::BareItem::ByteSeq(vec![1, 2, 3]));

        let dict = sf::parse_dictionary(r#"a=(  "x"   "y";p  );q=-5;s="\"\\""#).unwrap();
        let sf::Member::InnerList { items, params } = &dict[0].1 else {
            panic!()
        };
        assert_eq!(
            sf::serialize_inner_list(items, params),
            r#"("x" "y";p);q=-5;s="\"\\""#
        );
        // Unpadded base64 is accepted in byte sequences.
        assert!(sf::parse_dictionary("a=:AQI:").is_ok());
        assert!(sf::parse_dictionary("a=()").is_ok());
    }

    #[test]
    fn created_and_expires_are_checked() {
        // `created` = NOW, `expires` = NOW + 60; the default allows 300 s of clock difference
        // both ways around `created`, so the signature is good from NOW - 300 to NOW + 300.
        let req = signed_request(b"{}", &full_params());
        let policy = VerifyPolicy::default();
        let err = check(&req, NOW - 400, &policy).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`created` is 400 s ahead of this node's clock; at most 300 s is allowed"
        );
        check(&req, NOW - 300, &policy).unwrap();
        let verified = check(&req, NOW + 300, &policy).unwrap();
        assert_eq!(verified.valid_until, Some(NOW + 300));
        let err = check(&req, NOW + 301, &policy).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`created` is 301 s in the past; at most 300 s is allowed"
        );
        // A passed `expires` (with the skew as tolerance) is named before the age.
        let soon = signed_request(
            b"{}",
            &SignParams {
                expires: Some(NOW + 10),
                ..full_params()
            },
        );
        let verified = check(&soon, NOW + 300, &policy).unwrap();
        assert_eq!(verified.valid_until, Some(NOW + 300));
        assert_eq!(
            check(&soon, NOW + 305, &policy).unwrap_err(),
            HttpSigError::TooOld {
                age: 305,
                limit: 300
            }
        );
        let err = check(&soon, NOW + 311, &policy).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`expires` passed 301 s ago; at most 300 s of clock difference is allowed"
        );
        // `expires` before `created` is malformed.
        let backwards = signed_request(
            b"{}",
            &SignParams {
                expires: Some(NOW - 1),
                ..full_params()
            },
        );
        assert_eq!(
            check(&backwards, NOW, &policy).unwrap_err().to_string(),
            format!(
                "Signature-Input: `expires` ({}) is before `created` ({NOW})",
                NOW - 1
            )
        );
        // Without a maximum age, only `expires` ends a signature.
        let ageless = VerifyPolicy {
            max_age: None,
            ..VerifyPolicy::default()
        };
        check(&req, NOW + 60 + 300, &ageless).unwrap();
        assert_eq!(
            check(&req, NOW + 60 + 301, &ageless).unwrap_err(),
            HttpSigError::Expired {
                secs: 301,
                skew: 300
            }
        );

        let strict = VerifyPolicy {
            max_skew: 0,
            max_age: Some(30),
            ..VerifyPolicy::default()
        };
        assert_eq!(
            check(&req, NOW - 1, &strict).unwrap_err(),
            HttpSigError::CreatedInFuture { secs: 1, skew: 0 }
        );
        assert_eq!(
            check(&req, NOW + 31, &strict).unwrap_err().to_string(),
            "`created` is 31 s in the past; at most 30 s is allowed"
        );
        check(&req, NOW + 30, &strict).unwrap();
    }

    #[test]
    fn tag_policy() {
        let req = signed_request(b"{}", &full_params());
        let policy = VerifyPolicy {
            tag: Some("other-app".into()),
            ..VerifyPolicy::default()
        };
        assert_eq!(
            check(&req, NOW, &policy).unwrap_err().to_string(),
            "signature tag `accord` does not match the required tag `other-app`"
        );
    }

    #[test]
    fn wrong_or_unknown_key() {
        let req = signed_request(b"{}", &full_params());
        let wrong = |_: &str| Some(key(8).verifying_key());
        assert_eq!(
            req.with(|r| verify(r, wrong, NOW, &VerifyPolicy::default()))
                .unwrap_err(),
            HttpSigError::BadSignature
        );
        let none = |_: &str| None;
        assert_eq!(
            req.with(|r| verify(r, none, NOW, &VerifyPolicy::default()))
                .unwrap_err()
                .to_string(),
            "no key known for keyid `node-1`"
        );
    }

    #[test]
    fn sign_rejects_bad_inputs() {
        let req = Req::new("GET", "/", None);
        let cases: [(SignParams, &str); 5] = [
            (
                SignParams::new("Sig", &["@method"], "k", 1),
                "cannot sign: `label` is not a valid structured-field key",
            ),
            (
                SignParams::new("sig", &["@method"], "k\u{e9}", 1),
                "cannot sign: `keyid` must be printable ASCII",
            ),
            (
                SignParams::new("sig", &["@method", "@method"], "k", 1),
                "covered component `@method` is listed more than once",
            ),
            (
                SignParams::new("sig", &["@status"], "k", 1),
                "covered component `@status` is not supported: unknown or unsupported derived component",
            ),
            (
                SignParams::new("sig", &["@method"], "k", i64::MAX),
                "cannot sign: `created` is out of range for a structured-field integer",
            ),
        ];
        for (params, message) in cases {
            let err = req.with(|r| sign(r, &key(1), &params)).unwrap_err();
            assert_eq!(err.to_string(), message);
        }
        let req = Req::new("GET", "/", None).header("x-evil", "a\r\nb");
        let err = req
            .with(|r| sign(r, &key(1), &SignParams::new("s", &["x-evil"], "k", 1)))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "covered component `x-evil` contains a line break or control character"
        );
    }

    // ----- Content-Digest ----------------------------------------------------

    #[test]
    fn content_digest_rfc_values() {
        assert_eq!(
            content_digest(RFC_BODY, DigestAlgorithm::Sha256),
            RFC_SHA256
        );
        assert_eq!(
            content_digest(RFC_BODY, DigestAlgorithm::Sha512),
            RFC_SHA512
        );
        assert_eq!(
            verify_content_digest(RFC_SHA256, RFC_BODY),
            Ok(DigestAlgorithm::Sha256)
        );
        assert_eq!(
            verify_content_digest(&format!("{RFC_SHA256}, {RFC_SHA512}, md5=:AAAA:"), RFC_BODY),
            Ok(DigestAlgorithm::Sha512)
        );
    }

    #[test]
    fn content_digest_failures() {
        let err = verify_content_digest(RFC_SHA256, b"{\"hello\": \"world!\"}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Content-Digest: sha-256 digest does not match the body"
        );
        let err = verify_content_digest(
            &format!(
                "{RFC_SHA512}, {}",
                content_digest(b"x", DigestAlgorithm::Sha256)
            ),
            RFC_BODY,
        )
        .unwrap_err();
        assert!(matches!(
            err,
            HttpSigError::DigestMismatch {
                algorithm: "sha-256",
                ..
            }
        ));
        assert_eq!(
            verify_content_digest("md5=:AAAA:", RFC_BODY)
                .unwrap_err()
                .to_string(),
            "Content-Digest: no supported digest algorithm (sha-256, sha-512)"
        );
        assert_eq!(
            verify_content_digest("sha-256=\"abc\"", RFC_BODY)
                .unwrap_err()
                .to_string(),
            "Content-Digest: `sha-256` is not a byte sequence"
        );
        assert!(matches!(
            verify_content_digest("sha-256=:abc", RFC_BODY).unwrap_err(),
            HttpSigError::Syntax { .. }
        ));
        assert!(verify_content_digest("", RFC_BODY).is_err());
    }

    // ----- draft-cavage / LTO --------------------------------------------------

    /// Key pair used by `ltonetwork/lto-api.js` `test/http/HTTPSignature.spec.ts`.
    const LTO_SECRET: &str =
        "wJ4WH8dD88fSkNdFQRjaAhjFUZzZhV5yiDLDwNUnp6bYwRXrvWV8MJhQ9HL9uqMDG1n7XpTGZx7PafqaayQV8Rp";
    const LTO_PUBLIC: &str = "FkU1XyfrCftc4pQKXCrrDyRLSnifX1SMvmx1CYiiyB3Y";
    /// `new Date("April 1, 2018 12:00:00Z")` in seconds.
    const LTO_NOW: i64 = 1_522_584_000;
    const LTO_ISO_DATE: &str = "2018-04-01T12:00:00.000Z";

    fn lto_key() -> SigningKey {
        let bytes: [u8; 64] = accord_crypto::base58::decode_array(LTO_SECRET).unwrap();
        SigningKey::from_keypair_bytes(&bytes).unwrap()
    }

    fn lto_policy() -> CavagePolicy {
        CavagePolicy {
            // The lto-api.js vectors sign no content-type.
            required_headers_with_body: vec!["digest".into()],
            ..CavagePolicy::default()
        }
    }

    fn cavage_check(
        req: &Req,
        now: i64,
        policy: &CavagePolicy,
    ) -> Result<CavageVerified, HttpSigError> {
        req.with(|r| cavage_verify(r, lto_verifying_key, now, policy))
    }

    #[test]
    fn lto_key_ids_are_base58_public_keys() {
        let key = lto_key();
        assert_eq!(lto_key_id(&key.verifying_key()), LTO_PUBLIC);
        assert_eq!(lto_verifying_key(LTO_PUBLIC), Some(key.verifying_key()));

        // Key pair from ltonetwork/lto-api.php tests/Account/SignCallbackTest.php.
        let secret: [u8; 64] = accord_crypto::base58::decode_array(
            "4zsR9xoFpxfnNwLcY4hdRUarwf5xWtLj6FpKGDFBgscPxecPj2qgRNx4kJsFCpe9YDxBRNoeBWTh2SDAdwTySomS",
        )
        .unwrap();
        let key = SigningKey::from_keypair_bytes(&secret).unwrap();
        assert_eq!(
            lto_key_id(&key.verifying_key()),
            "GjSacB6a5DFNEHjDSmn724QsrRStKYzkahPH67wyrhAY"
        );

        // The one base58 of Accord (`accord_crypto::base58`), as key ids use it.
        use accord_crypto::base58;
        assert_eq!(base58::encode(&[0, 0, 1]), "112");
        assert_eq!(base58::decode("112").ok(), Some(vec![0, 0, 1]));
        assert_eq!(base58::decode("").ok(), Some(vec![]));
        assert_eq!(base58::decode("0OIl").ok(), None);
        assert_eq!(lto_verifying_key("1111"), None);
        assert_eq!(lto_verifying_key(&"z".repeat(200)), None);
    }

    /// `ltonetwork/lto-api.js` `test/http/HTTPSignature.spec.ts`: the exact
    /// header strings it expects, for signing and for verifying.
    #[test]
    fn lto_api_js_vectors() {
        let utc = "Sun, 01 Apr 2018 12:00:00 GMT";
        let body = br#"{"foo":"bar"}"#;
        let digest = "SHA-256=eji/gfOD9pQzrW6QDTWz4jhVk/dqe3q11DVbi6Qe4ks=";
        assert_eq!(digest_header(body, DigestAlgorithm::Sha256), digest);
        let cases: [(Req, &[&str], CavageAlgorithm, &str); 5] = [
            (
                Req::new("GET", "/test", None).header("date", LTO_ISO_DATE),
                &["(request-target)", "date"],
                CavageAlgorithm::Ed25519,
                r#"keyId="FkU1XyfrCftc4pQKXCrrDyRLSnifX1SMvmx1CYiiyB3Y",algorithm="ed25519",headers="(request-target) date",signature="EATYkJPy+NmqbfBy/rdwUMQvLOb9VilfsP1b4DgIpDjj3lWd5fSMcuQ3YuRUjOv9r8e+iW+3BLdBe3JLvqrYBw==""#,
            ),
            (
                Req::new("GET", "/test", None).header("date", LTO_ISO_DATE),
                &["(request-target)", "date"],
                CavageAlgorithm::Ed25519Sha256,
                r#"keyId="FkU1XyfrCftc4pQKXCrrDyRLSnifX1SMvmx1CYiiyB3Y",algorithm="ed25519-sha256",headers="(request-target) date",signature="SUh9qFhP8PYJqoaVMfcYqgSMxBRS74J7LLsNtlzCpagLOY12+pgHB4ujVfyMy1Lr8saPStBmIFhvwh9k9qz8DA==""#,
            ),
            (
                Req::new("GET", "/test", None).header("x-date", LTO_ISO_DATE),
                &["(request-target)", "x-date"],
                CavageAlgorithm::Ed25519Sha256,
                r#"keyId="FkU1XyfrCftc4pQKXCrrDyRLSnifX1SMvmx1CYiiyB3Y",algorithm="ed25519-sha256",headers="(request-target) x-date",signature="c8aNCR01h8K5PtPCc76tduy0cGuzWbxSvJ6Ew4wlfaRcpJapPwdBun0CQ5PjXhpDnJsiGIV5IHRttukC5k02Cg==""#,
            ),
            (
                Req::new("POST", "/test", None)
                    .header("date", LTO_ISO_DATE)
                    .header("digest", digest)
                    .body(body),
                &["(request-target)", "date", "digest"],
                CavageAlgorithm::Ed25519Sha256,
                r#"keyId="FkU1XyfrCftc4pQKXCrrDyRLSnifX1SMvmx1CYiiyB3Y",algorithm="ed25519-sha256",headers="(request-target) date digest",signature="40/Nn+ANS+Hqx89N6sffVvqF4Fb0kUgrZWghpCMLNy4i5Eo/TYQA3fhwQgEvD4UjgFOCtkQYKUO2f2RxN9QuBA==""#,
            ),
            (
                Req::new("GET", "/test", None).header("date", utc),
                &["(request-target)", "date"],
                CavageAlgorithm::Ed25519Sha256,
                r#"keyId="FkU1XyfrCftc4pQKXCrrDyRLSnifX1SMvmx1CYiiyB3Y",algorithm="ed25519-sha256",headers="(request-target) date",signature="jeC2SlauEhphefx/YVAIM33hEne6s3pb9Op9eNp31sIgkHHGS9LfrdtMtmYkKYRmneClwPl+qP/E+0pNlgFhAQ==""#,
            ),
        ];
        for (req, headers, algorithm, expected) in cases {
            let params = CavageSignParams {
                algorithm,
                ..CavageSignParams::new(LTO_PUBLIC, headers)
            };
            let signed = req.with(|r| cavage_sign(r, &lto_key(), &params)).unwrap();
            assert_eq!(signed.params, expected);

            // The verifier accepts it as `Authorization: signature …` (the
            // spec's lower-case scheme) and as a `Signature` header.
            let via_auth = req
                .clone()
                .header("authorization", &format!("signature {expected}"));
            let verified = cavage_check(&via_auth, LTO_NOW, &lto_policy()).unwrap();
            assert_eq!(verified.key_id, LTO_PUBLIC);
            assert_eq!(verified.algorithm, algorithm);
            let via_sig = req.clone().header("Signature", expected);
            cavage_check(&via_sig, LTO_NOW, &lto_policy()).unwrap();
        }

        // "should throw an error when the time send is 1 second over due".
        let req = Req::new("GET", "/test", None)
            .header("date", utc)
            .header("authorization", &format!("Signature {}", r#"keyId="FkU1XyfrCftc4pQKXCrrDyRLSnifX1SMvmx1CYiiyB3Y",algorithm="ed25519-sha256",headers="(request-target) date",signature="jeC2SlauEhphefx/YVAIM33hEne6s3pb9Op9eNp31sIgkHHGS9LfrdtMtmYkKYRmneClwPl+qP/E+0pNlgFhAQ==""#));
        assert_eq!(
            cavage_check(&req, LTO_NOW + 301, &lto_policy())
                .unwrap_err()
                .to_string(),
            "`Date` header is 301 s in the past; at most 300 s is allowed"
        );
        cavage_check(&req, LTO_NOW + 300, &lto_policy()).unwrap();

        // "should throw an error if the signature is invalid".
        let req = Req::new("GET", "/test", None)
            .header("date", LTO_ISO_DATE)
            .header("authorization", r#"signature keyId="FkU1XyfrCftc4pQKXCrrDyRLSnifX1SMvmx1CYiiyB3Y",algorithm="ed25519-sha256",headers="(request-target) date",signature="sLApJJMHN6/z8nSTk2UGLvpuk+piD7bX+gdM+NsZr7HY6XvEXtLWc7sJHRIMdzFtoioWYbFBnVXhJUSBISbxDg==""#);
        assert_eq!(
            cavage_check(&req, LTO_NOW, &lto_policy()).unwrap_err(),
            HttpSigError::BadSignature
        );
    }

    /// `ltonetwork/lto-api.php` `tests/HTTPSignatureTest.php`: the signing
    /// string and its SHA-256 (which `ed25519-sha256` signs).
    #[test]
    fn lto_api_php_signing_string() {
        let req = Req::new("POST", "/foo", None)
            .header("Date", "Tue, 07 Jun 2014 20:51:35 GMT")
            .header(
                "Digest",
                "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
            )
            .header("Content-Length", "18");
        let headers: Vec<String> = ["(request-target)", "date", "digest", "content-length"]
            .map(String::from)
            .to_vec();
        let s = req
            .with(|r| cavage_signing_string(r, &headers, None, None, SIG))
            .unwrap();
        assert_eq!(
            s,
            "(request-target): post /foo\ndate: Tue, 07 Jun 2014 20:51:35 GMT\ndigest: SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=\ncontent-length: 18"
        );
        let hash: String = CavageAlgorithm::Ed25519Sha256
            .message(&s)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hash,
            "0b50f70b241111e3233c84279697f7d80efae4303b54a8959c1ac68a54fe7736"
        );
        // That digest is the body digest of RFC 9421's example body.
        assert_eq!(
            verify_digest_header(
                "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
                RFC_BODY
            ),
            Ok(DigestAlgorithm::Sha256)
        );
    }

    fn cavage_signed(method: &str, body: &[u8], headers: &[&str]) -> Req {
        let mut req = Req::new(method, "/events", Some("x=1"))
            .header("Date", &http_date(LTO_NOW))
            .header("Content-Type", "application/json")
            .header("Digest", &digest_header(body, DigestAlgorithm::Sha256))
            .body(body);
        let signed = req
            .with(|r| cavage_sign(r, &lto_key(), &CavageSignParams::new(LTO_PUBLIC, headers)))
            .unwrap();
        req.set_header("Authorization", &signed.authorization_value());
        req
    }

    const WRITE_HEADERS: [&str; 4] = ["(request-target)", "date", "content-type", "digest"];

    #[test]
    fn cavage_round_trip_and_tampering() {
        let req = cavage_signed("POST", b"{\"a\":1}", &WRITE_HEADERS);
        let verified = cavage_check(&req, LTO_NOW, &CavagePolicy::default()).unwrap();
        assert_eq!(verified.headers, WRITE_HEADERS);
        assert_eq!(verified.algorithm, CavageAlgorithm::Ed25519Sha256);

        // Tampered body: the digest no longer matches.
        let mut bad = req.clone();
        bad.body = b"{\"a\":2}".to_vec();
        assert_eq!(
            cavage_check(&bad, LTO_NOW, &CavagePolicy::default())
                .unwrap_err()
                .to_string(),
            "Digest: SHA-256 digest does not match the body"
        );
        // Tampered digest header (matching the tampered body): signature fails.
        bad.set_header("Digest", &digest_header(&bad.body, DigestAlgorithm::Sha256));
        assert_eq!(
            cavage_check(&bad, LTO_NOW, &CavagePolicy::default()).unwrap_err(),
            HttpSigError::BadSignature
        );
        // Tampered request target.
        for tamper in [
            |r: &mut Req| r.path = "/other".into(),
            |r: &mut Req| r.query = Some("x=2".into()),
            |r: &mut Req| r.method = "PUT".into(),
            |r: &mut Req| r.set_header("Content-Type", "text/plain"),
        ] {
            let mut bad = req.clone();
            tamper(&mut bad);
            assert_eq!(
                cavage_check(&bad, LTO_NOW, &CavagePolicy::default()).unwrap_err(),
                HttpSigError::BadSignature
            );
        }
        // Wrong key for the key id.
        let other = |_: &str| Some(key(3).verifying_key());
        assert_eq!(
            req.with(|r| cavage_verify(r, other, LTO_NOW, &CavagePolicy::default()))
                .unwrap_err(),
            HttpSigError::BadSignature
        );
    }

    #[test]
    fn cavage_policy_checks() {
        // POST without digest signed.
        let req = cavage_signed("POST", b"{}", &["(request-target)", "date", "content-type"]);
        assert_eq!(
            cavage_check(&req, LTO_NOW, &CavagePolicy::default())
                .unwrap_err()
                .to_string(),
            "required component `digest` is not covered by the signature"
        );
        // GET needs only (request-target) and date.
        let req = cavage_signed("GET", b"", &["(request-target)", "date"]);
        cavage_check(&req, LTO_NOW, &CavagePolicy::default()).unwrap();
        let req = cavage_signed("GET", b"", &["date"]);
        assert_eq!(
            cavage_check(&req, LTO_NOW, &CavagePolicy::default()).unwrap_err(),
            HttpSigError::ComponentNotCovered("(request-target)".into())
        );
        // Only one algorithm allowed.
        let req = cavage_signed("GET", b"", &["(request-target)", "date"]);
        let policy = CavagePolicy {
            algorithms: vec![CavageAlgorithm::Ed25519],
            ..CavagePolicy::default()
        };
        assert_eq!(
            cavage_check(&req, LTO_NOW, &policy)
                .unwrap_err()
                .to_string(),
            "unsupported signature algorithm `ed25519-sha256`"
        );
        // Date skew.
        assert_eq!(
            cavage_check(&req, LTO_NOW - 400, &CavagePolicy::default())
                .unwrap_err()
                .to_string(),
            "`Date` header is 400 s in the future; at most 300 s is allowed"
        );
        let mut bad = req.clone();
        bad.set_header("Date", "yesterday");
        assert_eq!(
            cavage_check(&bad, LTO_NOW, &CavagePolicy::default())
                .unwrap_err()
                .to_string(),
            "`Date` header is not a valid date: `yesterday`"
        );
        bad.remove_header("Date");
        assert!(matches!(
            cavage_check(
                &bad,
                LTO_NOW,
                &CavagePolicy {
                    check_date: false,
                    ..CavagePolicy::default()
                }
            )
            .unwrap_err(),
            HttpSigError::ComponentMissing(_)
        ));
        assert_eq!(
            cavage_check(&bad, LTO_NOW, &CavagePolicy::default()).unwrap_err(),
            HttpSigError::MissingHeader("Date")
        );
    }

    #[test]
    fn cavage_x_date_replaces_date() {
        // jasny/http-signature: `date` listed, X-Date present → `x-date:` line.
        let mut req = Req::new("GET", "/", None)
            .header("Date", "Sun, 01 Apr 2018 11:00:00 GMT")
            .header("X-Date", &http_date(LTO_NOW));
        let headers = ["(request-target)".to_string(), "date".to_string()];
        let s = req
            .with(|r| cavage_signing_string(r, &headers, None, None, SIG))
            .unwrap();
        assert_eq!(
            s,
            "(request-target): get /\nx-date: Sun, 01 Apr 2018 12:00:00 GMT"
        );
        let signed = req
            .with(|r| {
                cavage_sign(
                    r,
                    &lto_key(),
                    &CavageSignParams::new(LTO_PUBLIC, &["(request-target)", "date"]),
                )
            })
            .unwrap();
        req.set_header("Authorization", &signed.authorization_value());
        // The X-Date header is the one checked against the clock.
        cavage_check(&req, LTO_NOW, &CavagePolicy::default()).unwrap();
    }

    #[test]
    fn cavage_created_expires_pseudo_headers() {
        let mut req = Req::new("GET", "/", None).header("Date", &http_date(LTO_NOW));
        let params = CavageSignParams {
            created: Some(LTO_NOW),
            expires: Some(LTO_NOW + 10),
            ..CavageSignParams::new(
                LTO_PUBLIC,
                &["(request-target)", "(created)", "(expires)", "date"],
            )
        };
        let signed = req.with(|r| cavage_sign(r, &lto_key(), &params)).unwrap();
        assert!(
            signed
                .params
                .contains(",created=1522584000,expires=1522584010,")
        );
        req.set_header("Signature", &signed.params);
        let verified = cavage_check(&req, LTO_NOW, &CavagePolicy::default()).unwrap();
        // The earliest of the signed date, `(created)` and `(expires)`, plus the skew.
        assert_eq!(verified.valid_until, Some(LTO_NOW + 300));
        let dateless = CavagePolicy {
            check_date: false,
            ..CavagePolicy::default()
        };
        assert_eq!(
            cavage_check(&req, LTO_NOW + 311, &dateless).unwrap_err(),
            HttpSigError::Expired {
                secs: 301,
                skew: 300
            }
        );
        // `created` is held to the skew in the past as in RFC 9421.
        let dateless = CavagePolicy {
            required_headers: vec!["(request-target)".into()],
            ..dateless
        };
        let mut old = Req::new("GET", "/", None);
        let params = CavageSignParams {
            created: Some(LTO_NOW - 301),
            ..CavageSignParams::new(LTO_PUBLIC, &["(request-target)", "(created)"])
        };
        let signed = old.with(|r| cavage_sign(r, &lto_key(), &params)).unwrap();
        old.set_header("Signature", &signed.params);
        assert_eq!(
            cavage_check(&old, LTO_NOW, &dateless)
                .unwrap_err()
                .to_string(),
            "`created` is 301 s in the past; at most 300 s is allowed"
        );
        // `created` and `expires` that the signature does not cover are checked, but do not
        // count for how long it is good: a replayer could strip them.
        let mut loose = Req::new("GET", "/", None).header("Date", &http_date(LTO_NOW));
        let params = CavageSignParams {
            created: Some(LTO_NOW - 100),
            ..CavageSignParams::new(LTO_PUBLIC, &["(request-target)", "date"])
        };
        let signed = loose.with(|r| cavage_sign(r, &lto_key(), &params)).unwrap();
        loose.set_header("Signature", &signed.params);
        let verified = cavage_check(&loose, LTO_NOW, &CavagePolicy::default()).unwrap();
        assert_eq!(verified.valid_until, Some(LTO_NOW + 300));
        assert_eq!(
            cavage_check(&loose, LTO_NOW + 201, &CavagePolicy::default()).unwrap_err(),
            HttpSigError::TooOld {
                age: 301,
                limit: 300
            }
        );
    }

    #[test]
    fn cavage_parameter_errors() {
        let base = Req::new("GET", "/", None).header("Date", &http_date(LTO_NOW));
        let cases = [
            (
                r#"Signature algorithm="ed25519",headers="date",signature="AA==""#,
                "Authorization: missing parameter `keyId`",
            ),
            (
                r#"Signature keyId="k",headers="date",signature="AA==""#,
                "Authorization: missing parameter `algorithm`",
            ),
            (
                r#"Signature keyId="k",algorithm="ed25519",headers="date""#,
                "Authorization: missing parameter `signature`",
            ),
            (
                r#"Signature keyId="k",algorithm="hmac-sha256",headers="date",signature="AA==""#,
                "unsupported signature algorithm `hmac-sha256`",
            ),
            (
                r#"Signature keyId="k",keyId="j",algorithm="ed25519""#,
                "Authorization: parameter `keyId` appears twice",
            ),
            (
                r#"Signature keyId="k,algorithm="ed25519""#,
                "Authorization: expected `,` after parameter `keyId`",
            ),
            (
                r#"Signature keyId="k""#.trim_end_matches('"'),
                "Authorization: unterminated quoted value for `keyId`",
            ),
            (
                r#"Signature keyId=k"#,
                "Authorization: value of `keyId` must be quoted or an integer",
            ),
            (r#"Signature keyId="k","#, "Authorization: trailing comma"),
            (
                r#"Signature ="k""#,
                "Authorization: expected a parameter name at `=\"k\"`",
            ),
            (
                r#"Signature keyId"k""#,
                "Authorization: parameter `keyId` has no `=`",
            ),
            (
                r#"Signature keyId="k",algorithm="ed25519",headers="(request-target) date",signature="!!""#,
                "Authorization: parameter `signature` must be base64",
            ),
            (
                r#"Signature keyId="k",algorithm="ed25519",headers="(request-target) date",signature="AAAA""#,
                "no key known for keyid `k`",
            ),
            (
                r#"Signature keyId="k",algorithm="ed25519",headers="(request-target) date date",signature="AAAA""#,
                "covered component `date` is listed more than once",
            ),
            (
                r#"Signature keyId="k",algorithm="ed25519",headers="(request-target) date (foo)",signature="AAAA""#,
                "covered component `(foo)` is not supported: not a lower-case header name or supported pseudo-header",
            ),
            (
                r#"Signature keyId="k",algorithm="ed25519",headers="(request-target) date x-missing",signature="AAAA""#,
                "covered component `x-missing` is not present in the request",
            ),
            (
                r#"Signature keyId="k",algorithm="ed25519",headers="(request-target) date",created=1x,signature="AAAA""#,
                "Authorization: expected `,` after parameter `created`",
            ),
            (
                r#"Signature keyId="k",algorithm="ed25519",headers="(request-target) date",created="soon",signature="AAAA""#,
                "Authorization: parameter `created` must be a non-negative integer of at most 15 digits",
            ),
            (
                r#"Signature keyId="k",algorithm="ed25519",headers="  ",signature="AAAA""#,
                "Authorization: `headers` is empty",
            ),
            (
                r#"Signature keyId="k",algorithm="ed25519",signature="AAAA""#,
                "required component `(request-target)` is not covered by the signature",
            ),
        ];
        for (auth, message) in cases {
            let req = base.clone().header("Authorization", auth);
            let err = cavage_check(&req, LTO_NOW, &CavagePolicy::default()).unwrap_err();
            assert_eq!(err.to_string(), message, "{auth}");
        }
        let err = cavage_check(&base, LTO_NOW, &CavagePolicy::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "missing `Authorization: Signature …` or `Signature` header"
        );
        let req = base.clone().header("Authorization", "Bearer abc");
        assert_eq!(
            cavage_check(&req, LTO_NOW, &CavagePolicy::default()).unwrap_err(),
            HttpSigError::NoCavageSignature
        );
    }

    #[test]
    fn cavage_sign_rejects_bad_inputs() {
        let req = Req::new("GET", "/", None);
        let bad_key = CavageSignParams::new("a\"b", &["(request-target)"]);
        assert!(matches!(
            req.with(|r| cavage_sign(r, &lto_key(), &bad_key)),
            Err(HttpSigError::InvalidSignInput { param: "keyId", .. })
        ));
        let upper = CavageSignParams::new("k", &["Date"]);
        assert!(matches!(
            req.with(|r| cavage_sign(r, &lto_key(), &upper)),
            Err(HttpSigError::UnsupportedComponent { .. })
        ));
        let created = CavageSignParams::new("k", &["(created)"]);
        assert_eq!(
            req.with(|r| cavage_sign(r, &lto_key(), &created))
                .unwrap_err()
                .to_string(),
            "Signature: missing parameter `created`"
        );
    }

    #[test]
    fn digest_header_checks() {
        let body = b"hello";
        let both = format!(
            "{}, sha-512={}",
            digest_header(body, DigestAlgorithm::Sha256),
            STANDARD.encode(Sha512::digest(body))
        );
        assert_eq!(
            verify_digest_header(&both, body),
            Ok(DigestAlgorithm::Sha512)
        );
        assert_eq!(
            verify_digest_header("MD5=abc, unixsum=12", body)
                .unwrap_err()
                .to_string(),
            "Digest: no supported digest algorithm (SHA-256, SHA-512)"
        );
        assert_eq!(
            verify_digest_header("SHA-256=###", body)
                .unwrap_err()
                .to_string(),
            "Digest: SHA-256 value is not valid base64"
        );
        assert_eq!(
            verify_digest_header("SHA-256", body)
                .unwrap_err()
                .to_string(),
            "Digest: entry `SHA-256` is not `algorithm=value`"
        );
    }

    // ----- Dates -----------------------------------------------------------

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

    // ----- Robustness --------------------------------------------------------

    /// A small deterministic generator (xorshift) for fuzz-style inputs.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn string(&mut self, alphabet: &[&str], max: usize) -> String {
            let len = (self.next() as usize) % max;
            (0..len)
                .map(|_| alphabet[(self.next() as usize) % alphabet.len()])
                .collect()
        }
    }

    #[test]
    fn random_inputs_never_panic() {
        let alphabet = [
            "sig1",
            "=",
            "(",
            ")",
            "\"",
            "\\",
            ";",
            ",",
            " ",
            "\t",
            ":",
            "?",
            "1",
            "0",
            "-",
            ".",
            "@method",
            "created",
            "keyid",
            "alg",
            "expires",
            "a",
            "Z",
            "*",
            "/",
            "+",
            "é",
            "\u{0}",
            "\n",
            "AAAA",
            "==",
            "keyId",
            "signature",
            "headers",
            "algorithm",
            "ed25519",
            "(request-target)",
            "date",
            "Signature ",
            "99999999999999999",
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let lookup_any = |_: &str| Some(key(9).verifying_key());
        for _ in 0..4000 {
            let a = rng.string(&alphabet, 40);
            let b = rng.string(&alphabet, 40);
            let req = Req::new("POST", "/p", Some("q"))
                .header("Signature-Input", &a)
                .header("Signature", &b)
                .header("Authorization", &b)
                .header("Date", &a)
                .header("Digest", &a)
                .header("Content-Digest", &b)
                .body(b"x");
            let _ = req.with(|r| verify(r, lookup_any, NOW, &VerifyPolicy::default()));
            let _ = req.with(|r| cavage_verify(r, lookup_any, NOW, &CavagePolicy::default()));
            let _ = verify_content_digest(&a, b"x");
            let _ = verify_digest_header(&b, b"x");
            let _ = parse_http_date(&a);
            let _ = lto_verifying_key(&a);
            let _ = sf::parse_dictionary(&a);
        }
        // Mutations of valid headers.
        let valid = rfc_request()
            .header("Signature-Input", B26_INPUT)
            .header("Signature", B26_SIGNATURE);
        for i in 0..B26_INPUT.len() {
            for replacement in ["", "\"", "(", ")", ";", ",", " ", "é"] {
                let mut input = B26_INPUT.to_string();
                if input.is_char_boundary(i) && input.is_char_boundary(i + 1) {
                    input.replace_range(i..i + 1, replacement);
                }
                let mut req = valid.clone();
                req.set_header("Signature-Input", &input);
                let _ = check_rfc(&req, &VerifyPolicy::default());
            }
        }
        // Extreme times do not overflow.
        let req = signed_request(b"{}", &full_params());
        for now in [i64::MIN, -1, 0, i64::MAX] {
            let _ = check(
                &req,
                now,
                &VerifyPolicy {
                    max_age: Some(i64::MAX),
                    max_skew: i64::MAX,
                    ..VerifyPolicy::default()
                },
            );
            let _ = check(
                &req,
                now,
                &VerifyPolicy {
                    max_skew: i64::MIN,
                    ..VerifyPolicy::default()
                },
            );
        }
        let _ = http_date(i64::MAX);
        let _ = http_date(i64::MIN);
    }
}
