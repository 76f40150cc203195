//! Body digests: RFC 9530 `Content-Digest` (for RFC 9421) and RFC 3230 `Digest` (for
//! draft-cavage), with SHA-256 and SHA-512.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_PAD_INDIFFERENT};
use sha2::{Digest as _, Sha256, Sha512};

use crate::sfv::{self, parse_sf_dictionary};
use crate::{HttpSigError, MAX_CAVAGE_FIELD_LEN, echo, trim_ows};

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
        sfv::serialize_bytes(&algorithm.hash(body))
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
        let sfv::Member::Item(sfv::Item {
            bare: sfv::BareItem::ByteSeq(expected),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

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
}
