//! draft-cavage-http-signatures-12 as the LTO Network services speak it (see the crate's
//! documentation), and LTO key ids: the base58 of an ed25519 public key.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_PAD_INDIFFERENT};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

use crate::date::parse_http_date;
use crate::digest::verify_digest_header;
use crate::rfc9421::{SIG, VerifyPolicy, check_times, query_suffix, valid_until};
use crate::{
    DEFAULT_MAX_SKEW, HttpSigError, Request, echo, has_control, is_tchar, trim_ows, verify_ed25519,
};

/// Longest draft-cavage signature parameter string or `Digest` value parsed.
pub const MAX_CAVAGE_FIELD_LEN: usize = 8 * 1024;

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
/// Headers to be signed (e.g. `date`, `digest` from
/// [`digest_header`](crate::digest_header)) must already be present in `req.headers`.
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
    /// The signature's bytes (see [`Verified::signature`](crate::Verified::signature)).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::{DigestAlgorithm, digest_header, http_date};

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
}
