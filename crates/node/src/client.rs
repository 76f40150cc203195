//! A client for a node's API that signs every request (RFC 9421, ed25519, `keyid` = the base58
//! public key; `content-digest` over the body; a random `nonce`): what the CLI, the tests and
//! the benchmark use.

use std::sync::Arc;

use accord_crypto::{KeyPair, KeyType};
use base64::Engine as _;
use serde_json::Value;

/// The largest answer read: a page of 1,000 events of the largest size a node takes.
pub const MAX_ANSWER: usize = 96 << 20;

/// Reads an answer's body, refusing one over `max` bytes without reading past it.
pub(crate) async fn read_capped(
    response: &mut reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > max {
            return Err(format!("the answer is over {max} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// What a request to a node came back with, when it was not a success.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The node could not be reached, or the answer could not be read.
    #[error("cannot reach the node at {url}: {message}")]
    Transport {
        /// Where.
        url: String,
        /// What happened.
        message: String,
    },
    /// The node answered with a problem (RFC 9457).
    #[error("{status}: {detail}")]
    Problem {
        /// The HTTP status.
        status: u16,
        /// The problem's `detail` (or the body, when it is not a problem document).
        detail: String,
        /// The whole problem document.
        body: Value,
    },
    /// The key cannot sign requests.
    #[error("{0}")]
    Key(String),
}

impl ClientError {
    /// The problem's `type` URN, when the node answered with one.
    pub fn kind(&self) -> Option<&str> {
        match self {
            ClientError::Problem { body, .. } => body.get("type").and_then(Value::as_str),
            _ => None,
        }
    }

    /// The HTTP status, when the node answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Problem { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// An answer: status, headers and body.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> Result<Value, ClientError> {
        serde_json::from_slice(&self.body).map_err(|e| ClientError::Transport {
            url: String::new(),
            message: format!("the answer is not JSON: {e}"),
        })
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A signing client for one node.
#[derive(Clone)]
pub struct Client {
    base: String,
    key: Arc<ed25519_dalek::SigningKey>,
    key_id: String,
    /// Keys that sign every request besides `key` (labels `sig2`, `sig3`, …): they consent to
    /// what it asks, e.g. to being named by an identity it registers.
    cosigners: Vec<(Arc<ed25519_dalek::SigningKey>, String)>,
    http: reqwest::Client,
    /// When its signatures are made (the system's clock, unless a node hands it its own).
    clock: crate::clock::Clock,
}

/// The ed25519 signing key of a key pair, for request signatures.
fn signing_key(key: &KeyPair) -> Result<ed25519_dalek::SigningKey, ClientError> {
    if key.key_type() != KeyType::Ed25519 {
        return Err(ClientError::Key(format!(
            "requests are signed with ed25519 keys; this key is {}",
            key.key_type().name()
        )));
    }
    let bytes = key.private_key_bytes();
    let seed: [u8; 32] = bytes
        .get(..32)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| ClientError::Key("the ed25519 key has no seed".into()))?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
}

impl Client {
    /// A client for the node at `base` (e.g. `http://127.0.0.1:4000`) signing with `key`.
    pub fn new(base: &str, key: &KeyPair) -> Result<Client, ClientError> {
        let signing = signing_key(key)?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            // A signed request goes where it was addressed, or nowhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ClientError::Transport {
                url: base.into(),
                message: e.to_string(),
            })?;
        Ok(Client {
            base: base.trim_end_matches('/').to_string(),
            key: Arc::new(signing),
            key_id: key.public_key().to_base58(),
            cosigners: Vec::new(),
            http,
            clock: crate::clock::Clock::system(),
        })
    }

    /// The same client, dating its signatures by `clock` (a node's own, when it is virtual).
    pub fn with_clock(mut self, clock: crate::clock::Clock) -> Client {
        self.clock = clock;
        self
    }

    /// The same client, with every request also signed by `keys` (one signature each, over
    /// the same components), so they consent to it.
    pub fn with_cosigners(&self, keys: &[&KeyPair]) -> Result<Client, ClientError> {
        let mut client = self.clone();
        for key in keys {
            client
                .cosigners
                .push((Arc::new(signing_key(key)?), key.public_key().to_base58()));
        }
        Ok(client)
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The same client (keys and connections) addressing the node at `base`: a signature
    /// covers the authority it is sent to, and a node takes only requests addressed to it.
    pub fn at(&self, base: &str) -> Client {
        Client {
            base: base.trim_end_matches('/').to_string(),
            ..self.clone()
        }
    }

    /// Sends a signed request; `target` is the path with its query.
    pub async fn send(
        &self,
        method: &str,
        target: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Answer, ClientError> {
        let request = self.prepare(method, target, body)?;
        self.execute(request).await
    }

    /// Builds and signs a request without sending it (the signature's `created` is now, so send
    /// it within the node's clock skew allowance). A node takes a request that changes
    /// something once: send it once, and prepare it again to repeat it.
    pub fn prepare(
        &self,
        method: &str,
        target: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<reqwest::Request, ClientError> {
        let url = format!("{}{target}", self.base);
        let transport = |message: String| ClientError::Transport {
            url: url.clone(),
            message,
        };
        let parsed = reqwest::Url::parse(&url).map_err(|e| transport(e.to_string()))?;
        let authority = match parsed.port() {
            Some(port) => format!("{}:{port}", parsed.host_str().unwrap_or("")),
            None => parsed.host_str().unwrap_or("").to_string(),
        };
        let (content_type, bytes) = body.unwrap_or(("", Vec::new()));
        let mut headers: Vec<(String, String)> = Vec::new();
        headers.push(("host".into(), authority.clone()));
        if !bytes.is_empty() {
            headers.push(("content-type".into(), content_type.to_string()));
            headers.push((
                "content-digest".into(),
                accord_httpsig::content_digest(&bytes, accord_httpsig::DigestAlgorithm::Sha256),
            ));
        }
        let mut components = vec!["@method", "@authority", "@path"];
        if parsed.query().is_some() {
            components.push("@query");
        }
        if !bytes.is_empty() {
            components.push("content-digest");
            components.push("content-type");
        }
        let now = self.clock.now_secs();
        // ed25519 is deterministic: without a nonce, the same request signed twice in one
        // second would carry the same signature, and a node takes a signature once.
        let mut random = [0u8; 16];
        getrandom::fill(&mut random)
            .map_err(|e| ClientError::Key(format!("cannot draw a nonce for the signature: {e}")))?;
        let nonce = base64::engine::general_purpose::STANDARD_NO_PAD.encode(random);
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let request = accord_httpsig::Request {
            method,
            scheme: parsed.scheme(),
            authority: &authority,
            path: parsed.path(),
            query: parsed.query(),
            headers: &pairs,
            body: &bytes,
        };
        let mut inputs = Vec::with_capacity(1 + self.cosigners.len());
        let mut signatures = Vec::with_capacity(1 + self.cosigners.len());
        let signers = std::iter::once((&self.key, &self.key_id))
            .chain(self.cosigners.iter().map(|(k, id)| (k, id)));
        for (n, (key, key_id)) in signers.enumerate() {
            let label = format!("sig{}", n + 1);
            let params = accord_httpsig::SignParams {
                nonce: Some(&nonce),
                ..accord_httpsig::SignParams::new(&label, &components, key_id, now)
            };
            let signed = accord_httpsig::sign(&request, key, &params)
                .map_err(|e| ClientError::Key(format!("cannot sign the request: {e}")))?;
            inputs.push(signed.signature_input);
            signatures.push(signed.signature);
        }
        let method =
            reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| transport(e.to_string()))?;
        let mut builder = self
            .http
            .request(method, parsed.clone())
            .header("signature-input", inputs.join(", "))
            .header("signature", signatures.join(", "));
        for (name, value) in &headers {
            if name != "host" {
                builder = builder.header(name.as_str(), value.as_str());
            }
        }
        if !bytes.is_empty() {
            builder = builder.body(bytes);
        }
        builder.build().map_err(|e| transport(e.to_string()))
    }

    /// Sends a request made by [`Client::prepare`].
    pub async fn execute(&self, request: reqwest::Request) -> Result<Answer, ClientError> {
        let url = request.url().to_string();
        let transport = |message: String| ClientError::Transport {
            url: url.clone(),
            message,
        };
        let response = self
            .http
            .execute(request)
            .await
            .map_err(|e| transport(e.to_string()))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(n, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (n.as_str().to_string(), v.to_string()))
            })
            .collect();
        let mut response = response;
        let body = read_capped(&mut response, MAX_ANSWER)
            .await
            .map_err(transport)?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// Sends a request and returns the JSON of a successful answer, or the problem.
    pub async fn call(
        &self,
        method: &str,
        target: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Value, ClientError> {
        let answer = self.send(method, target, body).await?;
        Self::json_or_problem(answer)
    }

    /// Sends a request made by [`Client::prepare`] and returns the JSON of a successful answer,
    /// or the problem.
    pub async fn call_prepared(&self, request: reqwest::Request) -> Result<Value, ClientError> {
        let answer = self.execute(request).await?;
        Self::json_or_problem(answer)
    }

    fn json_or_problem(answer: Answer) -> Result<Value, ClientError> {
        if (200..300).contains(&answer.status) {
            if answer.body.is_empty() {
                return Ok(Value::Null);
            }
            return answer.json();
        }
        let body: Value = serde_json::from_slice(&answer.body)
            .unwrap_or_else(|_| Value::from(String::from_utf8_lossy(&answer.body).into_owned()));
        let detail = body
            .get("detail")
            .and_then(Value::as_str)
            .map(String::from)
            .unwrap_or_else(|| body.to_string());
        Err(ClientError::Problem {
            status: answer.status,
            detail,
            body,
        })
    }

    /// GET, JSON back.
    pub async fn get(&self, target: &str) -> Result<Value, ClientError> {
        self.call("GET", target, None).await
    }

    /// POST a JSON text, JSON back.
    pub async fn post(&self, target: &str, json: impl Into<Vec<u8>>) -> Result<Value, ClientError> {
        self.call("POST", target, Some(("application/json", json.into())))
            .await
    }
}
