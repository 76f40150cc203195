//! HTTP request signatures.
//!
//! This crate implements, as pure functions over a borrowed [`Request`]
//! description:
//!
//! * **RFC 9421 HTTP Message Signatures** for requests, algorithm `ed25519`
//!   only: [`sign`], [`verify`] and [`signature_base`]. The `Signature-Input`
//!   and `Signature` fields are RFC 8941 structured-field dictionaries; a
//!   small, bounded parser for the subset needed here lives in this crate.
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
//! * HTTP dates ([`http_date`], [`parse_http_date`]) on Accord's one calendar,
//!   `accord_crypto::calendar`.
//!
//! **Rule:** pure. No I/O, no clock, no randomness: the time is an argument
//! (`now`, Unix seconds), and so is whatever a signature covers, its nonce
//! included. No function panics on any input; every failure is an
//! [`HttpSigError`] whose message names what is wrong. Parsed header fields
//! are bounded in length and in the number of members, items and parameters.
//!
//! The modules, by concern: `sfv` (the RFC 8941 subset), `rfc9421`
//! (components, signature base, signing and verifying, the time checks),
//! `digest` (RFC 9530 and RFC 3230), `cavage` (draft-cavage and LTO key ids),
//! `date`; this root holds the [`Request`] description and [`HttpSigError`].
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
//!   `jasny/http-signature` uses `path?query`; this crate follows the
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

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cavage;
mod date;
mod digest;
mod rfc9421;
mod sfv;
#[cfg(test)]
mod testutil;

pub use cavage::{
    CavageAlgorithm, CavagePolicy, CavageSignParams, CavageSignature, CavageVerified,
    MAX_CAVAGE_FIELD_LEN, cavage_sign, cavage_verify, lto_key_id, lto_verifying_key,
};
pub use date::{http_date, parse_http_date};
pub use digest::{
    DigestAlgorithm, content_digest, digest_header, verify_content_digest, verify_digest_header,
};
pub use rfc9421::{
    MAX_SIGNATURES, SignParams, SignatureHeaders, Verified, VerifyPolicy, sign, signature_base,
    signature_labels, verify,
};
pub use sfv::MAX_STRUCTURED_FIELD_LEN;

use ed25519_dalek::{Signature, VerifyingKey};
use thiserror::Error;

/// Default tolerated clock difference, in seconds.
pub const DEFAULT_MAX_SKEW: i64 = 300;

/// Longest value echoed back inside an error message.
const MAX_ECHO: usize = 64;

/// Every way signing or verifying can fail.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HttpSigError {
    /// A header needed for the operation is absent.
    #[error("missing `{0}` header")]
    MissingHeader(&'static str),
    /// A header is longer than this crate is willing to parse.
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
    /// A digest header lists no algorithm this crate supports.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sfv;
    use crate::testutil::*;

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
            let _ = sfv::parse_dictionary(&a);
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
