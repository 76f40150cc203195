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
//! # ed25519
//!
//! Signing is ed25519-dalek's (RFC 8032, deterministic). Verifying is Accord's one ed25519
//! rule, the one events are verified by: `accord_crypto::ed25519::verify`, written down in
//! `docs/design/signatures.md`. A signature `R ‖ s` by key `A` is valid when `A` and `R` are
//! canonical encodings, `A` is not of small order, `s < ℓ`, and the cofactored equation
//! `[8]([s]B − R − [k]A) = 0` holds.
//!
//! Until Accord had one rule, this code used ed25519-dalek's `verify_strict`, which checks the
//! cofactorless equation (`R` compared as encoded) and refuses a small-order `R`. The two
//! rules agree on every signature an honest signer makes and on every change a third party can
//! make to one. They differ only on signatures that take the key's secret to make, on purpose:
//! an `R` with a small-torsion component, an `R` of small order, a key `A` with a
//! small-torsion component (refused by `verify_strict`, the last unless `k` is a multiple of
//! the torsion's order; taken by Accord's rule); and on a non-canonical encoding of a key
//! (decoded by ed25519-dalek, refused by Accord's rule; no one can sign for one, as its
//! discrete log is unknown). The test `ed25519_is_accords_one_rule` shows each case.
//!
//! Accord's rule is the right one here because it is the rule: a key and a signature get one
//! answer in a request and in a chain, and its cofactored equation is what RFC 8032 gives and
//! what lets batches agree with single checks. What it takes beyond `verify_strict` needs the
//! secret key, so it opens no forgery; and no one but the signer can turn a valid signature
//! into another for the same message and key (`s < ℓ`, and a canonical `R`, which `k`
//! hashes), so a signature's bytes still name it ([`Verified::signature`]) for the node's
//! record of spent signatures.
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

use accord_crypto::{Signature, ed25519};
use ed25519_dalek::VerifyingKey;
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

/// Verifies by Accord's one ed25519 rule (`accord_crypto::ed25519::verify`; see "ed25519" in
/// the crate's documentation) and returns the signature's bytes. The key is taken as it was
/// encoded (`key.as_bytes()`), so a non-canonical encoding is refused here, not repaired.
fn verify_ed25519(
    key: &VerifyingKey,
    message: &[u8],
    signature: &[u8],
) -> Result<[u8; 64], HttpSigError> {
    let bytes: [u8; 64] = signature
        .try_into()
        .map_err(|_| HttpSigError::SignatureLength(signature.len()))?;
    if ed25519::verify(key.as_bytes(), message, &Signature::new(bytes)) {
        Ok(bytes)
    } else {
        Err(HttpSigError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sfv;
    use crate::testutil::*;
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
    use curve25519_dalek::edwards::EdwardsPoint;
    use curve25519_dalek::scalar::Scalar;
    use curve25519_dalek::traits::{Identity as _, IsIdentity as _};
    use ed25519_dalek::Signer as _;
    use sha2::{Digest as _, Sha512};

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

    // ----- ed25519: one rule ---------------------------------------------------

    /// A signature by the key whose secret scalar is `a` (its public key encoded as `public`),
    /// made by hand: `R = [r]B + extra`, `s = r + k·a`. With `extra` the identity and a random
    /// `r`, it is what every signer makes.
    fn crafted(
        a: &Scalar,
        public: &[u8; 32],
        message: &[u8],
        r: Scalar,
        extra: EdwardsPoint,
    ) -> [u8; 64] {
        let big_r = (ED25519_BASEPOINT_POINT * r + extra).compress().to_bytes();
        let k = challenge(&big_r, public, message);
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&big_r);
        out[32..].copy_from_slice((r + k * a).as_bytes());
        out
    }

    /// `k = SHA-512(R ‖ A ‖ M) mod ℓ`.
    fn challenge(big_r: &[u8], public: &[u8; 32], message: &[u8]) -> Scalar {
        Scalar::from_hash(
            Sha512::new()
                .chain_update(big_r)
                .chain_update(public)
                .chain_update(message),
        )
    }

    /// The rule this crate verified with before it took Accord's: ed25519-dalek's
    /// `verify_strict`.
    fn strict(public: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
        VerifyingKey::from_bytes(public).is_ok_and(|key| {
            key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature))
                .is_ok()
        })
    }

    /// Accord's rule, as [`verify`] and [`cavage_verify`] apply it to the key a lookup gives.
    fn accord(public: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
        VerifyingKey::from_bytes(public)
            .is_ok_and(|key| verify_ed25519(&key, message, signature).is_ok())
    }

    /// Request signatures are verified by `accord_crypto::ed25519::verify`, as events are. The
    /// rule it replaced, `verify_strict`, agrees on every signature a signer makes and on every
    /// change a third party can make to one; it differs on signatures only the key's owner
    /// can make, on purpose, and on keys nobody can sign for. Accord's rule is the right one
    /// here because it is the rule: a key and a signature get one answer in a request and in
    /// a chain; its cofactored equation is what RFC 8032 §5.1.7 gives, and what makes batches
    /// agree with single checks; and what it takes in addition needs the secret key, so it
    /// opens no forgery, and no one but the signer can make a second signature from one (the
    /// replay record names signatures by their bytes).
    #[test]
    fn ed25519_is_accords_one_rule() {
        let owner = key(7);
        let a = owner.to_scalar();
        let public = owner.verifying_key().to_bytes();
        let message = b"\"@method\": POST";
        let nonce = Scalar::from_bytes_mod_order([42; 32]);

        // Agreed: what signers make verifies under both rules.
        let honest = owner.sign(message).to_bytes();
        assert!(accord(&public, message, &honest));
        assert!(strict(&public, message, &honest));
        let by_hand = crafted(&a, &public, message, nonce, EdwardsPoint::identity());
        assert!(accord(&public, message, &by_hand));
        assert!(strict(&public, message, &by_hand));

        // Agreed: a changed bit, another message, another key are refused by both.
        let mut flipped = honest;
        flipped[40] ^= 1;
        assert!(!accord(&public, message, &flipped) && !strict(&public, message, &flipped));
        assert!(!accord(&public, b"other", &honest) && !strict(&public, b"other", &honest));
        let other = key(8).verifying_key().to_bytes();
        assert!(!accord(&other, message, &honest) && !strict(&other, message, &honest));

        // Agreed: `s + ℓ` (the one change anyone can make to a signature) is refused by both.
        let ell: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut malleated = honest;
        let mut carry = 0u16;
        for (byte, l) in malleated[32..].iter_mut().zip(ell) {
            let sum = u16::from(*byte) + u16::from(l) + carry;
            *byte = sum.to_le_bytes()[0];
            carry = sum >> 8;
        }
        assert!(!accord(&public, message, &malleated));
        assert!(!strict(&public, message, &malleated));

        // Agreed: a small-order key, with which `R` = identity and `s` = 0 would "sign" every
        // message, is refused by both.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut universal = [0u8; 64];
        universal[0] = 1;
        assert!(!accord(&identity, message, &universal));
        assert!(!strict(&identity, message, &universal));

        // Different: an `R` with a small-torsion component. The cofactorless equation is off
        // by it, the cofactored one holds.
        for (t, torsion) in EIGHT_TORSION.iter().enumerate().skip(1) {
            let sig = crafted(&a, &public, message, nonce, *torsion);
            assert!(accord(&public, message, &sig), "torsion {t} in R");
            assert!(!strict(&public, message, &sig), "torsion {t} in R");
        }
        // Different: an `R` of small order (the nonce is 0): `verify_strict` refuses it
        // outright, even when the cofactorless equation holds too (`R` = identity).
        for (t, torsion) in EIGHT_TORSION.iter().enumerate() {
            let sig = crafted(&a, &public, message, Scalar::ZERO, *torsion);
            assert!(accord(&public, message, &sig), "R = torsion {t}");
            assert!(!strict(&public, message, &sig), "R = torsion {t}");
        }
        // Different: a key with a small-torsion component, `A = [a]B + T` (T of order 8),
        // which its owner made so. Signing as usual leaves `[k]T` in the cofactorless
        // equation, so `verify_strict` takes such a signature only when `[k]T` is the
        // identity (`k` a multiple of 8, one message in eight); the cofactored one holds.
        let mixed = (ED25519_BASEPOINT_POINT * a + EIGHT_TORSION[1])
            .compress()
            .to_bytes();
        let mut refused = 0;
        for n in 0..32u8 {
            let message = [n; 4];
            let sig = crafted(&a, &mixed, &message, nonce, EdwardsPoint::identity());
            let k = challenge(&sig[..32], &mixed, &message);
            assert!(accord(&mixed, &message, &sig), "message {n}");
            let off = !(EIGHT_TORSION[1] * k).is_identity();
            assert_eq!(strict(&mixed, &message, &sig), !off, "message {n}");
            refused += usize::from(off);
        }
        assert!(refused > 16, "{refused} of 32");

        // Different, with no signature to show it: a non-canonical encoding of a key (here
        // y = p + 3, the point y = 3). ed25519-dalek decodes it, so the lookup hands it over,
        // and Accord's rule refuses it. No one can sign for it: its discrete log is unknown.
        let mut non_canonical = [0xffu8; 32];
        non_canonical[0] = 0xf0;
        non_canonical[31] = 0x7f;
        let decoded = VerifyingKey::from_bytes(&non_canonical).unwrap();
        assert!(!decoded.is_weak());
        assert_eq!(lto_verifying_key(&lto_key_id(&decoded)), Some(decoded));
        assert!(!accord(&non_canonical, message, &honest));
        assert!(!strict(&non_canonical, message, &honest));
    }

    /// End to end: an RFC 9421 signature whose `R` has a torsion component verifies, as it
    /// would on an event (`PublicKey::verify`); `verify_strict` refused it.
    #[test]
    fn a_request_signature_gets_the_answer_an_event_signature_gets() {
        let owner = key(7);
        let params = full_params();
        let mut req = signed_request(b"{\"x\":1}", &params);
        let base = req.with(|r| signature_base(r, &params)).unwrap();
        let public = owner.verifying_key().to_bytes();
        let sig = crafted(
            &owner.to_scalar(),
            &public,
            base.as_bytes(),
            Scalar::from_bytes_mod_order([9; 32]),
            EIGHT_TORSION[3],
        );
        req.set_header("Signature", &format!("sig1={}", sfv::serialize_bytes(&sig)));
        let verified = check(&req, NOW, &VerifyPolicy::default()).unwrap();
        assert_eq!(verified.signature, sig);
        assert!(
            accord_crypto::PublicKey::ed25519(public)
                .verify(base.as_bytes(), &accord_crypto::Signature::new(sig))
        );
        assert!(!strict(&public, base.as_bytes(), &sig));
    }
}
