//! RFC 9421 HTTP Message Signatures on requests, algorithm `ed25519`: the covered components
//! and the signature base, [`sign`], [`verify`], and the time checks draft-cavage shares.

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};

use crate::digest::verify_content_digest;
use crate::sfv::{self, parse_sf_dictionary};
use crate::{DEFAULT_MAX_SKEW, HttpSigError, Request, echo, has_control, is_tchar, verify_ed25519};

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

pub(crate) fn query_suffix(query: Option<&str>) -> String {
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

    fn inner_list(&self) -> Result<(Vec<sfv::Item>, sfv::Params), HttpSigError> {
        if !sfv::is_key(self.label) {
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
            items.push(sfv::Item {
                bare: sfv::BareItem::String(name.to_owned()),
                params: Vec::new(),
            });
        }
        let string = |param: &'static str, value: &str| {
            if sfv::is_string(value) {
                Ok(sfv::BareItem::String(value.to_owned()))
            } else {
                Err(HttpSigError::InvalidSignInput {
                    param,
                    reason: "must be printable ASCII",
                })
            }
        };
        let integer = |param: &'static str, value: i64| {
            if value.unsigned_abs() <= 999_999_999_999_999 {
                Ok(sfv::BareItem::Integer(value))
            } else {
                Err(HttpSigError::InvalidSignInput {
                    param,
                    reason: "is out of range for a structured-field integer",
                })
            }
        };
        let mut params = sfv::Params::new();
        if let Some(created) = self.created {
            params.push(("created".into(), integer("created", created)?));
        }
        if let Some(expires) = self.expires {
            params.push(("expires".into(), integer("expires", expires)?));
        }
        params.push(("keyid".into(), string("keyid", self.key_id)?));
        if self.include_alg {
            params.push(("alg".into(), sfv::BareItem::String(ALG_ED25519.into())));
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
    build_signature_base(req, &names, &sfv::serialize_inner_list(&items, &sig_params))
}

/// Signs `req` with RFC 9421 / `ed25519` and returns the `Signature-Input`
/// and `Signature` header values for `params.label`.
///
/// Headers to be covered (such as `content-digest`, see
/// [`content_digest`](crate::content_digest)) must already be present in `req.headers`.
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
    let serialized = sfv::serialize_inner_list(&items, &sig_params);
    let names: Vec<String> = params.components.iter().map(|&c| c.to_owned()).collect();
    let base = build_signature_base(req, &names, &serialized)?;
    let signature = key.sign(base.as_bytes());
    Ok(SignatureHeaders {
        signature_input: format!("{}={}", params.label, serialized),
        signature: format!(
            "{}={}",
            params.label,
            sfv::serialize_bytes(&signature.to_bytes())
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
    /// The signature's bytes. Accord's ed25519 rule takes only `s < ℓ` and a canonical `R`, so
    /// no one but the signer can make another valid signature from this one: these bytes
    /// identify the signature.
    pub signature: [u8; 64],
    /// The last second (Unix time) at which this signature passes the time checks of the
    /// policy it was verified with: `min(created, expires) + max_skew` of those present
    /// (`None`: neither is).
    pub valid_until: Option<i64>,
}

pub(crate) const SIG_INPUT: &str = "Signature-Input";
pub(crate) const SIG: &str = "Signature";

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
    let sfv::Member::InnerList { items, params } = member else {
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
            sfv::Member::Item(sfv::Item {
                bare: sfv::BareItem::ByteSeq(bytes),
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
        let sfv::BareItem::String(name) = &item.bare else {
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
    let base = build_signature_base(req, &components, &sfv::serialize_inner_list(items, params))?;
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
pub(crate) fn valid_until(times: impl Iterator<Item = i64>, max_skew: i64) -> Option<i64> {
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
    fn take(&mut self, key: &str, value: &sfv::BareItem) -> Result<(), HttpSigError> {
        let wrong = |expected| HttpSigError::InvalidParameter {
            field: SIG_INPUT,
            param: key.to_owned(),
            expected,
        };
        let int = || match value {
            sfv::BareItem::Integer(i) => Ok(*i),
            _ => Err(wrong("an integer")),
        };
        let string = || match value {
            sfv::BareItem::String(s) => Ok(s.clone()),
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
pub(crate) fn check_times(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::{DigestAlgorithm, MAX_STRUCTURED_FIELD_LEN, content_digest, http_date};
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

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
}
