//! Who is asking: HTTP request signatures, and a rate limit per key.
//!
//! A request is signed with HTTP Message Signatures (RFC 9421, `ed25519`, `keyid` = the base58
//! public key) covering `@method`, `@authority`, `@path` (and `@query` when there is one) and
//! `content-digest` when there is a body; or, as the reference clients do, with a
//! draft-cavage `Signature` (`Authorization: Signature keyId=…`) covering `(request-target)`
//! and `date`, plus `digest` and `content-type` when there is a body. Either way the key is an
//! ed25519 key and the caller is its base58 form. What a key may see is decided by the
//! handlers: parties of a chain, the node's own key and configured administrators.

pub mod httpsig;

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

/// Checks a request's signature. `authority` is the `Host` the request was sent to; `now` is
/// in seconds since the epoch.
pub fn authenticate(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
    max_skew: i64,
) -> Result<Caller, Problem> {
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(name, value)| value.to_str().ok().map(|v| (name.as_str(), v)))
        .collect();
    let authority = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .unwrap_or("");
    let request = httpsig::Request {
        method: method.as_str(),
        scheme: uri.scheme_str().unwrap_or("http"),
        authority,
        path: uri.path(),
        query: uri.query(),
        headers: &pairs,
        body,
    };
    let fail = |e: httpsig::HttpSigError| Problem::unauthenticated(e.to_string());
    if headers.contains_key("signature-input") {
        let mut policy = httpsig::VerifyPolicy {
            max_skew,
            ..httpsig::VerifyPolicy::default()
        };
        if uri.query().is_some() {
            policy.required_components.push("@query".into());
        }
        // Every signature the request carries must verify: the first is the caller's, the
        // others are keys that consent to the request (an identity naming several keys).
        let labels = httpsig::signature_labels(&request).map_err(fail)?;
        let mut keys: Vec<String> = Vec::with_capacity(labels.len());
        for label in labels {
            policy.label = Some(label.clone());
            let verified = httpsig::verify(&request, httpsig::lto_verifying_key, now, &policy)
                .map_err(|e| Problem::unauthenticated(format!("signature `{label}`: {e}")))?;
            if !keys.contains(&verified.key_id) {
                keys.push(verified.key_id);
            }
        }
        let mut keys = keys.into_iter();
        let key = keys
            .next()
            .ok_or_else(|| Problem::unauthenticated("`Signature-Input` declares no signature"))?;
        return Ok(Caller {
            key,
            cosigners: keys.collect(),
        });
    }
    let cavage = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|v| v.starts_with("Signature "))
        || headers.contains_key("signature");
    if cavage {
        let policy = httpsig::CavagePolicy {
            max_skew,
            ..httpsig::CavagePolicy::default()
        };
        let verified = httpsig::cavage_verify(&request, httpsig::lto_verifying_key, now, &policy)
            .map_err(fail)?;
        return Ok(Caller {
            key: verified.key_id,
            cosigners: Vec::new(),
        });
    }
    Err(Problem::unauthenticated(
        "the request is not signed: sign it with HTTP Message Signatures (RFC 9421, ed25519, keyid = the base58 public key) or a draft-cavage `Authorization: Signature` header",
    ))
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Headers of a GET to `http://node.test/x` signed by each key in turn (`sig1`, `sig2`, …).
    fn signed_by(keys: &[ed25519_dalek::SigningKey], now: i64) -> HeaderMap {
        let headers = [("host", "node.test")];
        let request = httpsig::Request {
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
            let id = httpsig::lto_key_id(&key.verifying_key());
            let label = format!("sig{}", n + 1);
            let params = httpsig::SignParams::new(&label, &components, &id, now);
            let signed = httpsig::sign(&request, key, &params).unwrap();
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
        let caller =
            authenticate(&Method::GET, &uri, &signed_by(&keys, now), b"", now, 300).unwrap();
        let id = |k: &ed25519_dalek::SigningKey| httpsig::lto_key_id(&k.verifying_key());
        assert_eq!(caller.key, id(&keys[0]));
        assert_eq!(caller.cosigners, [id(&keys[1]), id(&keys[2])]);
        // One signature that does not verify refuses the request, naming it.
        let mut headers = signed_by(&keys, now);
        let tampered = headers["signature"]
            .to_str()
            .unwrap()
            .replacen("sig2=:", "sig2=:AAAA", 1);
        headers.insert("signature", tampered.parse().unwrap());
        let err = authenticate(&Method::GET, &uri, &headers, b"", now, 300).unwrap_err();
        assert!(err.detail.contains("sig2"), "{}", err.detail);
        // At most MAX_SIGNATURES.
        let many: Vec<_> = (1..=9u8)
            .map(|n| ed25519_dalek::SigningKey::from_bytes(&[n; 32]))
            .collect();
        let err =
            authenticate(&Method::GET, &uri, &signed_by(&many, now), b"", now, 300).unwrap_err();
        assert!(err.detail.contains("at most 8"), "{}", err.detail);
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
    fn zero_means_no_limit() {
        let limiter = RateLimiter::new(0, 0);
        let t = Instant::now();
        for _ in 0..10_000 {
            assert!(limiter.check("k", t).is_ok());
        }
    }
}
