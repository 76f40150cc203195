//! Legacy chains (id version `0x40`), as the 2018–2021 Live Contracts servers wrote them: read
//! and verify only. Accord never writes them.
//!
//! An event is `{origin?, body, timestamp, previous, signkey, signature, hash, receipt?,
//! original?}`: `body` is base58 of UTF-8 JSON, `timestamp` an integer (seconds from the PHP
//! servers, milliseconds from the old JavaScript client). The signed and hashed message is the
//! UTF-8 text `body "\n" timestamp "\n" previous "\n" signkey`, plus `"\n" original.hash` for a
//! rebased event; `hash = base58(SHA-256(message))`; the signature is ed25519 over the message.
//!
//! Ids are `0x40 ‖ nonce[20] ‖ keyHash[20] ‖ checksum[4]` (45 bytes). Ids made before March 2019
//! hash with Keccak-256 where later ones use SHA-256 (both over BLAKE2b-256), and the first ones
//! (April 2018) had an 8-byte nonce (33 bytes): all three are read. The PHP service never
//! checked the checksum; Accord does, with the hash family the id was made with.
//!
//! A legacy chain has no stub: a copy whose first event does not follow the id's initial hash
//! is partial, and its genesis signer cannot be checked.

use std::fmt;

use accord_crypto::hash::{blake2b256, sha256};
use accord_crypto::{KeyPair, KeyType, PublicKey, Signature, SignatureCheck, base58, verify_all};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};

use crate::id::{IdError, Nonce};
use crate::json::{B58, JsonError};
use crate::problem::{Hash, Problem, Report};

/// The version byte of legacy chain ids.
pub const LEGACY: u8 = 0x40;
/// The version byte of legacy resource ids.
pub const LEGACY_RESOURCE: u8 = 0x50;

/// The hash a legacy id was made with: `H(BLAKE2b-256(x))` for the key hash and checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdHash {
    /// SHA-256, from March 2019 (the spec's form).
    Sha256,
    /// Keccak-256 (original padding), before March 2019.
    Keccak256,
}

impl IdHash {
    fn hash(self, data: &[u8]) -> [u8; 32] {
        let inner = blake2b256(data);
        match self {
            IdHash::Sha256 => sha256(&inner),
            IdHash::Keccak256 => Keccak256::digest(inner).into(),
        }
    }
}

/// A legacy chain id whose checksum holds.
#[derive(Clone, PartialEq, Eq)]
pub struct LegacyChainId {
    bytes: Vec<u8>,
    family: IdHash,
}

impl LegacyChainId {
    /// The id of a new legacy chain (SHA-256 family, 45 bytes). Accord reads legacy chains
    /// only; this exists for tests and vectors.
    pub fn new(creator: &PublicKey, nonce: &Nonce) -> Self {
        LegacyChainId {
            bytes: build_legacy(LEGACY, &nonce.0, creator.as_bytes()),
            family: IdHash::Sha256,
        }
    }

    /// The hash family the id was made with.
    pub fn family(&self) -> IdHash {
        self.family
    }

    /// The id's bytes (45, or 33 for the earliest ids).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The id in base58.
    pub fn to_base58(&self) -> String {
        base58::encode(&self.bytes)
    }

    fn key_hash(&self) -> &[u8] {
        let end = self.bytes.len() - 4;
        &self.bytes[end - 20..end]
    }

    /// Whether `key` is the creator's: the key whose hash the id carries.
    pub fn is_created_by(&self, key: &[u8; 32]) -> bool {
        self.family.hash(key)[..20] == *self.key_hash()
    }

    /// The genesis event's `previous`: `SHA-256(id bytes)`.
    pub fn initial_hash(&self) -> [u8; 32] {
        sha256(&self.bytes)
    }

    /// The id of a resource in this chain: `0x50 ‖ nonce ‖ secureHash(chain id bytes)[0..20] ‖
    /// checksum`.
    pub fn resource_id(&self, nonce: &Nonce) -> String {
        base58::encode(&build_legacy(LEGACY_RESOURCE, &nonce.0, &self.bytes))
    }
}

fn build_legacy(version: u8, nonce: &[u8; 20], group: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(45);
    bytes.push(version);
    bytes.extend_from_slice(nonce);
    bytes.extend_from_slice(&IdHash::Sha256.hash(group)[..20]);
    let checksum = IdHash::Sha256.hash(&bytes);
    bytes.extend_from_slice(&checksum[..4]);
    bytes
}

impl std::str::FromStr for LegacyChainId {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, IdError> {
        if text.len() > 2 * 45 + 2 {
            return Err(IdError::TooLong(text.len()));
        }
        let bytes = base58::decode(text)?;
        if bytes.len() != 45 && bytes.len() != 33 {
            return Err(IdError::Length(bytes.len()));
        }
        if bytes[0] != LEGACY {
            return Err(IdError::WrongKind {
                expected: LEGACY,
                found: bytes[0],
            });
        }
        let (body, checksum) = bytes.split_at(bytes.len() - 4);
        let family = [IdHash::Sha256, IdHash::Keccak256]
            .into_iter()
            .find(|family| family.hash(body)[..4] == *checksum)
            .ok_or(IdError::Checksum)?;
        Ok(LegacyChainId { bytes, family })
    }
}

impl fmt::Display for LegacyChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base58())
    }
}

impl fmt::Debug for LegacyChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LegacyChainId({}, {:?})", self.to_base58(), self.family)
    }
}

/// The original of a rebased event. Its body may be left out, as lto-api.php wrote it: it is
/// then the rebased event's body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Original {
    /// The original body, where given.
    pub body: Option<String>,
    /// The original timestamp.
    pub timestamp: i64,
    /// The original `previous`.
    pub previous: [u8; 32],
    /// The original signer.
    pub signkey: [u8; 32],
    /// The original signature.
    pub signature: Signature,
    /// The original hash.
    pub hash: [u8; 32],
    /// The original's own original is not followed: rebasing keeps one level.
    pub original_hash: Option<[u8; 32]>,
}

/// A legacy event as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyEvent {
    /// The URL of the node it came from; not signed.
    pub origin: Option<String>,
    /// base58 of the UTF-8 JSON body, as given (it is hashed as this text).
    pub body: String,
    /// Seconds (or, from the old JavaScript client, milliseconds) since 1970.
    pub timestamp: i64,
    /// The hash of the event before it.
    pub previous: [u8; 32],
    /// The ed25519 key that signed it.
    pub signkey: [u8; 32],
    /// Its signature.
    pub signature: Signature,
    /// The hash it claims.
    pub hash: [u8; 32],
    /// For a rebased event, the event it was rebased from.
    pub original: Option<Box<Original>>,
}

fn message(
    body: &str,
    timestamp: i64,
    previous: &[u8; 32],
    signkey: &[u8; 32],
    original: Option<&[u8; 32]>,
) -> Vec<u8> {
    let mut text = format!(
        "{body}\n{timestamp}\n{}\n{}",
        base58::encode(previous),
        base58::encode(signkey)
    );
    if let Some(original) = original {
        text.push('\n');
        text.push_str(&base58::encode(original));
    }
    text.into_bytes()
}

impl LegacyEvent {
    /// A new event signed by `keys` (ed25519), as the legacy servers made them. Accord does not
    /// write legacy chains; this exists for tests and vectors.
    pub fn signed(
        keys: &KeyPair,
        body: impl Into<String>,
        timestamp: i64,
        previous: [u8; 32],
    ) -> Option<LegacyEvent> {
        let signkey: [u8; 32] = keys.public_key().as_bytes().try_into().ok()?;
        if keys.key_type() != KeyType::Ed25519 {
            return None;
        }
        let mut event = LegacyEvent {
            origin: None,
            body: body.into(),
            timestamp,
            previous,
            signkey,
            signature: Signature::new([0; 64]),
            hash: [0; 32],
            original: None,
        };
        let message = event.message();
        event.hash = sha256(&message);
        event.signature = keys.sign(&message);
        Some(event)
    }

    /// The signed and hashed message.
    pub fn message(&self) -> Vec<u8> {
        message(
            &self.body,
            self.timestamp,
            &self.previous,
            &self.signkey,
            self.original.as_ref().map(|o| &o.hash),
        )
    }

    /// The body, decoded from base58 and parsed as JSON.
    pub fn body_json(&self) -> Result<serde_json::Value, String> {
        decode_body(&self.body)
    }
}

/// The longest body, in base58 characters, that Accord decodes (about 190 KB of JSON). Decoding
/// base58 takes time quadratic in its length; a longer body is reported, not decoded, so that a
/// chain cannot stall its reader. Its hash and signature are still checked.
pub const MAX_BODY: usize = 256 * 1024;

fn decode_body(body: &str) -> Result<serde_json::Value, String> {
    if body.len() > MAX_BODY {
        return Err(format!(
            "body is {} characters of base58, over the {MAX_BODY} Accord decodes",
            body.len()
        ));
    }
    let bytes = base58::decode(body).map_err(|err| format!("body is not base58: {err}"))?;
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(value @ serde_json::Value::Object(_)) => Ok(value),
        Ok(_) => Err("body is not a JSON object".into()),
        Err(err) => Err(format!("body is not base58-encoded JSON: {err}")),
    }
}

/// A legacy chain as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyChain {
    /// The chain's id.
    pub id: LegacyChainId,
    /// The events, oldest first.
    pub events: Vec<LegacyEvent>,
}

impl LegacyChain {
    /// Whether this copy lacks the genesis event: its first event does not follow the id's
    /// initial hash.
    pub fn is_partial(&self) -> bool {
        self.events
            .first()
            .is_some_and(|first| first.previous != self.id.initial_hash())
    }

    /// Finds every problem: hashes, signatures, links, originals, the genesis signer. Bodies are
    /// not decoded: their hashes and signatures cover them, and what they say is for the
    /// scenario engine (and `accord chain show`) to read.
    pub fn validate(&self) -> Report {
        let mut report = Report::default();
        if self.events.is_empty() {
            report.problems.push(Problem::NoEvents);
        }
        let partial = self.is_partial();
        let mut messages = Vec::with_capacity(self.events.len());
        let mut keys = Vec::with_capacity(self.events.len());
        let mut expected = self
            .events
            .first()
            .filter(|_| partial)
            .map_or_else(|| self.id.initial_hash(), |first| first.previous);

        for (index, event) in self.events.iter().enumerate() {
            let message = event.message();
            let computed = sha256(&message);
            if computed != event.hash {
                report.problems.push(Problem::HashMismatch {
                    index,
                    claimed: Hash(event.hash),
                    computed: Hash(computed),
                });
            }
            if event.previous != expected {
                report.problems.push(Problem::BrokenLink {
                    index,
                    hash: Hash(event.hash),
                    expected: Hash(expected),
                    found: Hash(event.previous),
                });
            }
            if let Some(original) = &event.original
                && let Err(reason) = check_original(event, original)
            {
                report.problems.push(Problem::Malformed {
                    index,
                    hash: Some(Hash(event.hash)),
                    reason,
                });
            }
            messages.push(message);
            keys.push(PublicKey::ed25519(event.signkey));
            expected = event.hash;
        }

        if !partial
            && let Some(genesis) = self.events.first()
            && !self.id.is_created_by(&genesis.signkey)
        {
            report.problems.push(Problem::GenesisNotByCreator {
                hash: Hash(genesis.hash),
                signer: PublicKey::ed25519(genesis.signkey),
            });
        }

        let checks: Vec<SignatureCheck<'_>> = self
            .events
            .iter()
            .zip(&messages)
            .zip(&keys)
            .map(|((event, message), key)| SignatureCheck {
                public_key: key,
                message,
                signature: &event.signature,
            })
            .collect();
        for index in verify_all(&checks) {
            report.problems.push(Problem::BadSignature {
                index,
                hash: Hash(self.events[index].hash),
                sign_key: keys[index],
            });
        }
        report.sort();
        report
    }
}

fn check_original(event: &LegacyEvent, original: &Original) -> Result<(), String> {
    let body = original.body.as_deref().unwrap_or(&event.body);
    let message = message(
        body,
        original.timestamp,
        &original.previous,
        &original.signkey,
        original.original_hash.as_ref(),
    );
    let label = Hash(original.hash);
    if sha256(&message) != original.hash {
        return Err(format!(
            "original event {label}: hash does not match its content"
        ));
    }
    if !PublicKey::ed25519(original.signkey).verify(&message, &original.signature) {
        return Err(format!("original event {label}: signature does not verify"));
    }
    Ok(())
}

// ---- JSON ----

struct Seconds(i64);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Seconds;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer timestamp")
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Seconds, E> {
                Ok(Seconds(value))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Seconds, E> {
                i64::try_from(value)
                    .map(Seconds)
                    .map_err(|_| E::custom(format!("timestamp {value} is out of range")))
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Seconds, E> {
                Err(E::custom(format!("timestamp {value} is not an integer")))
            }
        }
        deserializer.deserialize_any(V)
    }
}

struct IdField(LegacyChainId);

impl<'de> Deserialize<'de> for IdField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map(IdField).map_err(de::Error::custom)
    }
}

#[derive(Deserialize)]
struct OriginalJson {
    body: Option<String>,
    timestamp: Seconds,
    previous: B58<32>,
    signkey: B58<32>,
    signature: B58<64>,
    hash: B58<32>,
    /// The original's own original is identified by its hash alone.
    original: Option<HashJson>,
}

#[derive(Deserialize)]
struct HashJson {
    hash: B58<32>,
}

#[derive(Deserialize)]
struct EventJson {
    origin: Option<String>,
    body: String,
    timestamp: Seconds,
    previous: B58<32>,
    signkey: B58<32>,
    signature: B58<64>,
    hash: B58<32>,
    original: Option<OriginalJson>,
}

#[derive(Deserialize)]
struct ChainJson {
    id: IdField,
    events: Vec<EventJson>,
}

impl LegacyChain {
    /// Reads a legacy chain from the JSON the Live Contracts servers wrote. Their projections
    /// (`identities`, `resources`) and `latestHash`/`latest_hash` are ignored.
    pub fn from_json(json: &[u8]) -> Result<LegacyChain, JsonError> {
        let parsed: ChainJson = crate::json::parse_document(json)?;
        let events = parsed
            .events
            .into_iter()
            .map(|event| LegacyEvent {
                origin: event.origin,
                body: event.body,
                timestamp: event.timestamp.0,
                previous: event.previous.0,
                signkey: event.signkey.0,
                signature: Signature::new(event.signature.0),
                hash: event.hash.0,
                original: event.original.map(|o| {
                    Box::new(Original {
                        body: o.body,
                        timestamp: o.timestamp.0,
                        previous: o.previous.0,
                        signkey: o.signkey.0,
                        signature: Signature::new(o.signature.0),
                        hash: o.hash.0,
                        original_hash: o.original.map(|inner| inner.hash.0),
                    })
                }),
            })
            .collect();
        Ok(LegacyChain {
            id: parsed.id.0,
            events,
        })
    }
}

#[derive(Serialize)]
struct OriginalOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    timestamp: i64,
    previous: String,
    signkey: String,
    signature: String,
    hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    original: Option<HashOnly>,
}

#[derive(Serialize)]
struct HashOnly {
    hash: String,
}

#[derive(Serialize)]
struct EventOut {
    origin: Option<String>,
    body: String,
    timestamp: i64,
    previous: String,
    signkey: String,
    signature: String,
    hash: String,
    receipt: Option<()>,
    original: Option<OriginalOut>,
}

#[derive(Serialize)]
struct ChainOut {
    id: String,
    events: Vec<EventOut>,
}

impl LegacyChain {
    /// The chain as JSON, in the event-chain service's layout (every field, nulls kept). Only
    /// `id` and `events` are written: the service's projections are not part of the chain.
    pub fn to_json(&self) -> String {
        let out = ChainOut {
            id: self.id.to_base58(),
            events: self
                .events
                .iter()
                .map(|event| EventOut {
                    origin: event.origin.clone(),
                    body: event.body.clone(),
                    timestamp: event.timestamp,
                    previous: base58::encode(&event.previous),
                    signkey: base58::encode(&event.signkey),
                    signature: event.signature.to_base58(),
                    hash: base58::encode(&event.hash),
                    receipt: None,
                    original: event.original.as_ref().map(|o| OriginalOut {
                        body: o.body.clone(),
                        timestamp: o.timestamp,
                        previous: base58::encode(&o.previous),
                        signkey: base58::encode(&o.signkey),
                        signature: o.signature.to_base58(),
                        hash: base58::encode(&o.hash),
                        original: o.original_hash.map(|hash| HashOnly {
                            hash: base58::encode(&hash),
                        }),
                    }),
                })
                .collect(),
        };
        serde_json::to_string(&out)
            .unwrap_or_else(|err| unreachable!("legacy chain JSON serializes: {err}"))
    }
}
