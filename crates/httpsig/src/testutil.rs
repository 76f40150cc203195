//! What the tests of several modules share: an owned request, the RFC 9421 Appendix B
//! material, a signed request with every component, and the lto-api.js key pair.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::*;

/// An owned request for tests; `with` lends it as a [`Request`].
#[derive(Clone)]
pub(crate) struct Req {
    pub(crate) method: String,
    pub(crate) scheme: String,
    pub(crate) authority: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Req {
    pub(crate) fn new(method: &str, uri_path: &str, query: Option<&str>) -> Self {
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

    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub(crate) fn body(mut self, body: &[u8]) -> Self {
        self.body = body.to_vec();
        self
    }

    pub(crate) fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.into(), value.into()));
    }

    pub(crate) fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(&Request) -> R) -> R {
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

/// Seed of `test-key-ed25519` (RFC 9421 B.1.4): the last 32 bytes of the
/// PKCS#8 key `MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF`.
pub(crate) fn rfc_signing_key() -> SigningKey {
    let der = STANDARD
        .decode("MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF")
        .unwrap();
    let seed: [u8; 32] = der[der.len() - 32..].try_into().unwrap();
    SigningKey::from_bytes(&seed)
}

/// Public `test-key-ed25519` from its SPKI form in RFC 9421 B.1.4.
pub(crate) fn rfc_verifying_key() -> VerifyingKey {
    let der = STANDARD
        .decode("MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=")
        .unwrap();
    let raw: [u8; 32] = der[der.len() - 32..].try_into().unwrap();
    VerifyingKey::from_bytes(&raw).unwrap()
}

pub(crate) const RFC_BODY: &[u8] = br#"{"hello": "world"}"#;
pub(crate) const RFC_SHA512: &str = "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:";
pub(crate) const RFC_SHA256: &str = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";
pub(crate) const B26_COMPONENTS: [&str; 6] = [
    "date",
    "@method",
    "@path",
    "@authority",
    "content-type",
    "content-length",
];
pub(crate) const B26_CREATED: i64 = 1_618_884_473;
pub(crate) const B26_INPUT: &str = r#"sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519""#;
pub(crate) const B26_SIGNATURE: &str = "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:";
pub(crate) const B26_BASE: &str = concat!(
    "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n",
    "\"@method\": POST\n",
    "\"@path\": /foo\n",
    "\"@authority\": example.com\n",
    "\"content-type\": application/json\n",
    "\"content-length\": 18\n",
    "\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" \"content-length\");created=1618884473;keyid=\"test-key-ed25519\"",
);

/// The test request of RFC 9421 Appendix B.2.
pub(crate) fn rfc_request() -> Req {
    Req::new("POST", "/foo", Some("param=Value&Pet=dog"))
        .header("Host", "example.com")
        .header("Date", "Tue, 20 Apr 2021 02:07:55 GMT")
        .header("Content-Type", "application/json")
        .header("Content-Digest", RFC_SHA512)
        .header("Content-Length", "18")
        .body(RFC_BODY)
}

pub(crate) fn rfc_lookup(key_id: &str) -> Option<VerifyingKey> {
    (key_id == "test-key-ed25519").then(rfc_verifying_key)
}

pub(crate) const ALL_COMPONENTS: [&str; 10] = [
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
pub(crate) const NOW: i64 = 1_700_000_000;

pub(crate) fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

pub(crate) fn signed_request(body: &[u8], params: &SignParams) -> Req {
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

pub(crate) fn lookup(key_id: &str) -> Option<VerifyingKey> {
    (key_id == "node-1").then(|| key(7).verifying_key())
}

pub(crate) fn full_params() -> SignParams<'static> {
    SignParams {
        expires: Some(NOW + 60),
        nonce: Some("n-123"),
        tag: Some("accord"),
        include_alg: true,
        ..SignParams::new("sig1", &ALL_COMPONENTS, "node-1", NOW)
    }
}

pub(crate) fn check(req: &Req, now: i64, policy: &VerifyPolicy) -> Result<Verified, HttpSigError> {
    req.with(|r| verify(r, lookup, now, policy))
}

pub(crate) fn check_rfc(req: &Req, policy: &VerifyPolicy) -> Result<Verified, HttpSigError> {
    req.with(|r| verify(r, rfc_lookup, B26_CREATED, policy))
}

/// Key pair used by `ltonetwork/lto-api.js` `test/http/HTTPSignature.spec.ts`.
pub(crate) const LTO_SECRET: &str =
    "wJ4WH8dD88fSkNdFQRjaAhjFUZzZhV5yiDLDwNUnp6bYwRXrvWV8MJhQ9HL9uqMDG1n7XpTGZx7PafqaayQV8Rp";
pub(crate) const LTO_PUBLIC: &str = "FkU1XyfrCftc4pQKXCrrDyRLSnifX1SMvmx1CYiiyB3Y";
/// `new Date("April 1, 2018 12:00:00Z")` in seconds.
pub(crate) const LTO_NOW: i64 = 1_522_584_000;
pub(crate) const LTO_ISO_DATE: &str = "2018-04-01T12:00:00.000Z";

pub(crate) fn lto_key() -> SigningKey {
    let bytes: [u8; 64] = accord_crypto::base58::decode_array(LTO_SECRET).unwrap();
    SigningKey::from_keypair_bytes(&bytes).unwrap()
}
