//! Who is asking: HTTP request signatures, the authorities a node answers to, replays, and a
//! rate limit per key.
//!
//! A request is signed with HTTP Message Signatures (RFC 9421, `ed25519`, `keyid` = the base58
//! public key) covering `@method`, `@authority`, `@path` (and `@query` when there is one) and
//! `content-digest` when there is a body; or, as the reference clients do, with a
//! draft-cavage `Signature` (`Authorization: Signature keyId=…`) covering `(request-target)`,
//! `host` and `date`, plus `digest` and `content-type` when there is a body. Either way the key
//! is an ed25519 key and the caller is its base58 form; the signatures themselves are checked
//! by the pure `accord_httpsig`, and this module decides the policy. A signature is good for `max_clock_skew`
//! around its `created` (or date), and once for a request that changes something ([`replay`]); the authority it covers must be one
//! this node answers to ([`authority`]). What a key may see is decided by the handlers:
//! parties of a chain, the node's own key and configured administrators.

pub mod authority;
pub mod replay;

pub use authority::Authorities;
pub use replay::SignatureId;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use axum::http::{HeaderMap, Method, Uri};

use crate::problem::Problem;

/// A caller whose signature verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The caller's public key, base58.
    pub key: String,
    /// Every other key whose signature on the request verified (RFC 9421 allows several
    /// signatures on one request), base58: they consent to what the request asks.
    pub cosigners: Vec<String>,
}

/// A request whose signatures verified, addressed to this node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated {
    /// Who signed it.
    pub caller: Caller,
    /// Each distinct signature it carries, with the last second it is good.
    pub signatures: Vec<SignatureId>,
    /// Their labels (`sig1`, …; `cavage` for a draft-cavage signature), for messages.
    pub labels: Vec<String>,
}

impl Authenticated {
    fn add(&mut self, label: String, signature: &[u8; 64], until: i64) {
        let id = SignatureId::of(signature, until);
        if !self.signatures.iter().any(|s| s.digest == id.digest) {
            self.signatures.push(id);
            self.labels.push(label);
        }
    }
}

/// Checks a request's signatures, their times and the authority they were made for. The
/// authority is the `Host` the request was sent to (or the URI's, over HTTP/2); `now` is in
/// seconds since the epoch; `authorities` are the names this node answers to.
pub fn authenticate(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
    max_skew: i64,
    authorities: &Authorities,
) -> Result<Authenticated, Problem> {
    let mut pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(name, value)| value.to_str().ok().map(|v| (name.as_str(), v)))
        .collect();
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok());
    let authority = host
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .unwrap_or("");
    if host.is_none() && !authority.is_empty() {
        // HTTP/2 carries the authority in the URI: a cavage `host` line signs the same value.
        pairs.push(("host", authority));
    }
    // Checked once the signatures verified, so the answer can say what they were made for.
    let addressed_here = || {
        if authorities.answers_to(authority) {
            Ok(())
        } else {
            Err(Problem::misdirected(
                &signed_authority(authority),
                authorities.names(),
            ))
        }
    };
    let request = accord_httpsig::Request {
        method: method.as_str(),
        scheme: uri.scheme_str().unwrap_or("http"),
        authority,
        path: uri.path(),
        query: uri.query(),
        headers: &pairs,
        body,
    };
    let fail = |e: accord_httpsig::HttpSigError| Problem::unauthenticated(e.to_string());
    if headers.contains_key("signature-input") {
        let mut policy = accord_httpsig::VerifyPolicy {
            max_skew,
            ..accord_httpsig::VerifyPolicy::default()
        };
        if uri.query().is_some() {
            policy.required_components.push("@query".into());
        }
        // Every signature the request carries must verify: the first is the caller's, the
        // others are keys that consent to the request (an identity naming several keys).
        let labels = accord_httpsig::signature_labels(&request).map_err(fail)?;
        let mut keys: Vec<String> = Vec::with_capacity(labels.len());
        let mut out = Authenticated {
            caller: Caller {
                key: String::new(),
                cosigners: Vec::new(),
            },
            signatures: Vec::with_capacity(labels.len()),
            labels: Vec::with_capacity(labels.len()),
        };
        for label in labels {
            policy.label = Some(label.clone());
            let verified =
                accord_httpsig::verify(&request, accord_httpsig::lto_verifying_key, now, &policy)
                    .map_err(|e| Problem::unauthenticated(format!("signature `{label}`: {e}")))?;
            if !keys.contains(&verified.key_id) {
                keys.push(verified.key_id);
            }
            out.add(
                label,
                &verified.signature,
                valid_until(verified.valid_until, now, max_skew),
            );
        }
        let mut keys = keys.into_iter();
        out.caller.key = keys
            .next()
            .ok_or_else(|| Problem::unauthenticated("`Signature-Input` declares no signature"))?;
        out.caller.cosigners = keys.collect();
        addressed_here()?;
        return Ok(out);
    }
    let cavage = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|v| v.starts_with("Signature "))
        || headers.contains_key("signature");
    if cavage {
        let mut policy = accord_httpsig::CavagePolicy {
            max_skew,
            ..accord_httpsig::CavagePolicy::default()
        };
        // The authority is what ties a request to this node: it must be signed.
        policy.required_headers.push("host".into());
        let verified = accord_httpsig::cavage_verify(
            &request,
            accord_httpsig::lto_verifying_key,
            now,
            &policy,
        )
        .map_err(fail)?;
        let until = valid_until(verified.valid_until, now, max_skew);
        let mut out = Authenticated {
            caller: Caller {
                key: verified.key_id,
                cosigners: Vec::new(),
            },
            signatures: Vec::with_capacity(1),
            labels: Vec::with_capacity(1),
        };
        out.add("cavage".into(), &verified.signature, until);
        addressed_here()?;
        return Ok(out);
    }
    Err(Problem::unauthenticated(
        "the request is not signed: sign it with HTTP Message Signatures (RFC 9421, ed25519, keyid = the base58 public key) or a draft-cavage `Authorization: Signature` header",
    ))
}

/// The last second a verified signature passes the time checks: as verified; or, were it to
/// sign no time (both schemes' policies here require one), the longest any signature can
/// (created at most the skew ahead, plus the skew).
fn valid_until(said: Option<i64>, now: i64, max_skew: i64) -> i64 {
    said.unwrap_or_else(|| now.saturating_add(max_skew.max(0).saturating_mul(2)))
}

/// The authority a request was signed for, as its signature covers it (RFC 9421 normal form),
/// shortened for a message when it does not read.
fn signed_authority(authority: &str) -> String {
    crate::config::normal_authority(authority, "http").unwrap_or_else(|_| {
        let mut short: String = authority.chars().take(64).collect();
        if authority.chars().nth(64).is_some() {
            short.push('…');
        }
        format!("{short:?}")
    })
}

/// Token buckets per key: `rate` requests a second sustained, `burst` at once.
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

/// Keys tracked at most; beyond this, buckets that have refilled are forgotten.
const MAX_BUCKETS: usize = 100_000;

impl RateLimiter {
    /// A limiter; a `rate` of 0 lets everything through.
    pub fn new(rate: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            rate: f64::from(rate),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// A limiter of `count` requests a minute per key, all of them at once if need be (for
    /// rare requests, such as registrations); a `count` of 0 lets everything through.
    pub fn per_minute(count: u32) -> RateLimiter {
        RateLimiter {
            rate: f64::from(count) / 60.0,
            burst: f64::from(count.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request's token for `key`; `Err(seconds)` to wait when there is none.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), u64> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_BUCKETS {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = buckets.entry(key.to_string()).or_insert((self.burst, now));
        let refill = now.saturating_duration_since(*at).as_secs_f64() * self.rate;
        *tokens = (*tokens + refill).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }

    /// Gives back the token a request took for `key`, when the request turned out to be
    /// refused for a reason the limit is not about (a replay).
    pub fn refund(&self, key: &str) {
        if self.rate <= 0.0 {
            return;
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((tokens, _)) = buckets.get_mut(key) {
            *tokens = (*tokens + 1.0).min(self.burst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The authorities of the node the tests' requests are sent to.
    fn here() -> Authorities {
        Authorities::new(None, Some("http://node.test"), &[])
    }

    /// Headers of a GET to `http://node.test/x` signed by each key in turn (`sig1`, `sig2`, …).
    fn signed_by(keys: &[ed25519_dalek::SigningKey], now: i64) -> HeaderMap {
        let headers = [("host", "node.test")];
        let request = accord_httpsig::Request {
            method: "GET",
            scheme: "http",
            authority: "node.test",
            path: "/x",
            query: None,
            headers: &headers,
            body: b"",
        };
        let components = ["@method", "@authority", "@path"];
        let (mut inputs, mut signatures) = (Vec::new(), Vec::new());
        for (n, key) in keys.iter().enumerate() {
            let id = accord_httpsig::lto_key_id(&key.verifying_key());
            let label = format!("sig{}", n + 1);
            let params = accord_httpsig::SignParams::new(&label, &components, &id, now);
            let signed = accord_httpsig::sign(&request, key, &params).unwrap();
            inputs.push(signed.signature_input);
            signatures.push(signed.signature);
        }
        let mut map = HeaderMap::new();
        map.insert("host", "node.test".parse().unwrap());
        map.insert("signature-input", inputs.join(", ").parse().unwrap());
        map.insert("signature", signatures.join(", ").parse().unwrap());
        map
    }

    #[test]
    fn every_signature_on_a_request_is_verified_and_the_others_are_cosigners() {
        let keys: Vec<_> = (1..=3u8)
            .map(|n| ed25519_dalek::SigningKey::from_bytes(&[n; 32]))
            .collect();
        let uri: Uri = "/x".parse().unwrap();
        let now = 1_800_000_000;
        let done = authenticate(
            &Method::GET,
            &uri,
            &signed_by(&keys, now),
            b"",
            now,
            300,
            &here(),
        )
        .unwrap();
        let id = |k: &ed25519_dalek::SigningKey| accord_httpsig::lto_key_id(&k.verifying_key());
        assert_eq!(done.caller.key, id(&keys[0]));
        assert_eq!(done.caller.cosigners, [id(&keys[1]), id(&keys[2])]);
        // Each signature is remembered until `created` + the skew.
        assert_eq!(done.labels, ["sig1", "sig2", "sig3"]);
        assert!(done.signatures.iter().all(|s| s.until == now + 300));
        // One signature that does not verify refuses the request, naming it.
        let mut headers = signed_by(&keys, now);
        let tampered = headers["signature"]
            .to_str()
            .unwrap()
            .replacen("sig2=:", "sig2=:AAAA", 1);
        headers.insert("signature", tampered.parse().unwrap());
        let err = authenticate(&Method::GET, &uri, &headers, b"", now, 300, &here()).unwrap_err();
        assert!(err.detail.contains("sig2"), "{}", err.detail);
        // At most MAX_SIGNATURES.
        let many: Vec<_> = (1..=9u8)
            .map(|n| ed25519_dalek::SigningKey::from_bytes(&[n; 32]))
            .collect();
        let err = authenticate(
            &Method::GET,
            &uri,
            &signed_by(&many, now),
            b"",
            now,
            300,
            &here(),
        )
        .unwrap_err();
        assert!(err.detail.contains("at most 8"), "{}", err.detail);
    }

    #[test]
    fn a_signature_is_good_within_the_skew_of_its_created_time_only() {
        let keys = [ed25519_dalek::SigningKey::from_bytes(&[1; 32])];
        let uri: Uri = "/x".parse().unwrap();
        let signed = 1_800_000_000;
        let at = |now| {
            authenticate(
                &Method::GET,
                &uri,
                &signed_by(&keys, signed),
                b"",
                now,
                300,
                &here(),
            )
        };
        at(signed + 300).unwrap();
        let err = at(signed + 3600).unwrap_err();
        assert_eq!(err.status, 401);
        assert_eq!(
            err.detail,
            "signature `sig1`: `created` is 3600 s in the past; at most 300 s is allowed"
        );
        let err = at(signed - 301).unwrap_err();
        assert_eq!(
            err.detail,
            "signature `sig1`: `created` is 301 s ahead of this node's clock; at most 300 s is allowed"
        );
    }

    #[test]
    fn a_request_signed_for_another_authority_is_misdirected() {
        let keys = [ed25519_dalek::SigningKey::from_bytes(&[1; 32])];
        let uri: Uri = "/x".parse().unwrap();
        let now = 1_800_000_000;
        let elsewhere = Authorities::new(Some("127.0.0.1:4001".parse().unwrap()), None, &[]);
        let err = authenticate(
            &Method::GET,
            &uri,
            &signed_by(&keys, now),
            b"",
            now,
            300,
            &elsewhere,
        )
        .unwrap_err();
        assert_eq!(err.status, 421);
        assert_eq!(err.kind, "misdirected-request");
        assert_eq!(
            err.detail,
            "the request is signed for node.test, but this node answers only to 127.0.0.1:4001, localhost:4001: sign the request for the node it is sent to"
        );
        // The Host rewritten to this node's after signing: the signature no longer verifies.
        let mut headers = signed_by(&keys, now);
        headers.insert("host", "127.0.0.1:4001".parse().unwrap());
        let err =
            authenticate(&Method::GET, &uri, &headers, b"", now, 300, &elsewhere).unwrap_err();
        assert_eq!(err.status, 401, "{err}");
        assert!(err.detail.contains("does not verify"), "{err}");
    }

    /// A draft-cavage GET to `http://node.test/x` signed with `headers`.
    fn cavage_by(key: &ed25519_dalek::SigningKey, now: i64, headers: &[&str]) -> HeaderMap {
        let date = accord_httpsig::http_date(now);
        let pairs = [("host", "node.test"), ("date", date.as_str())];
        let request = accord_httpsig::Request {
            method: "GET",
            scheme: "http",
            authority: "node.test",
            path: "/x",
            query: None,
            headers: &pairs,
            body: b"",
        };
        let id = accord_httpsig::lto_key_id(&key.verifying_key());
        let signed = accord_httpsig::cavage_sign(
            &request,
            key,
            &accord_httpsig::CavageSignParams::new(&id, headers),
        )
        .unwrap();
        let mut map = HeaderMap::new();
        map.insert("host", "node.test".parse().unwrap());
        map.insert("date", date.parse().unwrap());
        map.insert(
            "authorization",
            signed.authorization_value().parse().unwrap(),
        );
        map
    }

    #[test]
    fn a_cavage_signature_must_cover_the_host() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
        let uri: Uri = "/x".parse().unwrap();
        let now = 1_800_000_000;
        let err = authenticate(
            &Method::GET,
            &uri,
            &cavage_by(&key, now, &["(request-target)", "date"]),
            b"",
            now,
            300,
            &here(),
        )
        .unwrap_err();
        assert_eq!(err.status, 401);
        assert_eq!(
            err.detail,
            "required component `host` is not covered by the signature"
        );
        let done = authenticate(
            &Method::GET,
            &uri,
            &cavage_by(&key, now, &["(request-target)", "host", "date"]),
            b"",
            now,
            300,
            &here(),
        )
        .unwrap();
        assert_eq!(done.labels, ["cavage"]);
        assert_eq!(done.signatures[0].until, now + 300);
        let elsewhere = Authorities::new(None, Some("http://other.test"), &[]);
        let err = authenticate(
            &Method::GET,
            &uri,
            &cavage_by(&key, now, &["(request-target)", "host", "date"]),
            b"",
            now,
            300,
            &elsewhere,
        )
        .unwrap_err();
        assert_eq!(err.status, 421, "{err}");
    }

    #[test]
    fn the_bucket_empties_and_refills() {
        let limiter = RateLimiter::new(10, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check("k", t0).is_ok());
        }
        assert_eq!(limiter.check("k", t0), Err(1));
        // Another key has its own bucket.
        assert!(limiter.check("other", t0).is_ok());
        // A tenth of a second later, one token is back.
        let t1 = t0 + Duration::from_millis(100);
        assert!(limiter.check("k", t1).is_ok());
        assert!(limiter.check("k", t1).is_err());
    }

    #[test]
    fn a_refund_gives_one_token_back_up_to_the_burst() {
        let limiter = RateLimiter::new(1, 2);
        let t = Instant::now();
        limiter.check("k", t).unwrap();
        limiter.check("k", t).unwrap();
        assert!(limiter.check("k", t).is_err());
        limiter.refund("k");
        assert!(limiter.check("k", t).is_ok());
        assert!(limiter.check("k", t).is_err());
        // Never past the burst, and a key without a bucket gets none.
        limiter.refund("k");
        limiter.refund("k");
        limiter.refund("k");
        assert!(limiter.check("k", t).is_ok());
        assert!(limiter.check("k", t).is_ok());
        assert!(limiter.check("k", t).is_err());
        limiter.refund("unknown");
    }

    #[test]
    fn zero_means_no_limit() {
        let limiter = RateLimiter::new(0, 0);
        let t = Instant::now();
        for _ in 0..10_000 {
            assert!(limiter.check("k", t).is_ok());
        }
    }
}
