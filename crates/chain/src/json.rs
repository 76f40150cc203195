//! The JSON forms of v1/v2 chains and events, as the reference client writes them:
//!
//! ```text
//! {"id": "…", "events": [{"hash": "…", "state": "…"}?,   ← stub, partial chains only
//!   {"timestamp": 1519862400000, "previous": "…", "signKey": {"keyType": "ed25519",
//!    "publicKey": "…"}, "signature": "…", "hash": "…", "mediaType": "application/json",
//!    "data": "base64:…", "attachments": [{"name": "…", "mediaType": "…", "data": "base64:…"}]}]}
//! ```
//!
//! Binary fields are base58; `data` is `base64:` followed by base64, or (as the reference client
//! also reads it) plain text taken as UTF-8. Unknown fields are ignored. An error names the
//! event by its index and the field by its path, with the line and column.

use std::fmt;

use accord_crypto::{KeyType, PublicKey, base58};
use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::chain::{Chain, PartialStart};
use crate::event::{Attachment, Event, MAX_FIELD, MAX_TIMESTAMP};
use crate::id::{ChainId, Version};

/// Why JSON could not be read as a chain.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct JsonError {
    /// The path of the offending value, such as `events[3].signKey`; empty for the document.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
    /// The line of the document (from 1), where known; 0 otherwise.
    pub line: usize,
    /// The column, where known; 0 otherwise.
    pub column: usize,
}

impl JsonError {
    pub(crate) fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        JsonError {
            path: path.into(),
            message: message.into(),
            line: 0,
            column: 0,
        }
    }

    /// The index of the event the error is in, if it is in one.
    pub fn event_index(&self) -> Option<usize> {
        let rest = self.path.strip_prefix("events[")?;
        rest[..rest.find(']')?].parse().ok()
    }

    pub(crate) fn from_serde(err: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = match err.path().to_string() {
            root if root == "." => String::new(),
            path => path,
        };
        let inner = err.into_inner();
        let (line, column) = (inner.line(), inner.column());
        let text = inner.to_string();
        let suffix = format!(" at line {line} column {column}");
        let message = text.strip_suffix(&suffix).unwrap_or(&text).to_owned();
        JsonError {
            path,
            message,
            line,
            column,
        }
    }
}

impl fmt::Display for JsonError {
    /// `events[3].signKey: publicKey: invalid base58 character '0' at position 5 (line 1,
    /// column 812)`: the JSON path names the entry and field exactly (on a partial chain,
    /// `events[0]` is the stub, so the event a report calls 2 is `events[3]`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)?;
        } else {
            write!(f, "{}: {}", self.path, self.message)?;
        }
        if self.line > 0 {
            write!(f, " (line {}, column {})", self.line, self.column)?;
        }
        Ok(())
    }
}

// Padding is optional on input (some writers drop it); output is always padded, as the
// reference client writes it.
const BASE64_IN: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes an event's `data` field value: `base64:…`, or text taken as UTF-8.
pub fn decode_data(text: &str) -> Result<Vec<u8>, String> {
    match text.strip_prefix("base64:") {
        Some(encoded) => BASE64_IN
            .decode(encoded)
            .map_err(|err| format!("invalid base64 after \"base64:\": {err}")),
        None => Ok(text.as_bytes().to_vec()),
    }
}

/// Encodes bytes as an event's `data` field value.
pub fn encode_data(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(7 + bytes.len().div_ceil(3) * 4);
    out.push_str("base64:");
    general_purpose::STANDARD.encode_string(bytes, &mut out);
    out
}

/// A base58 field of exactly `N` bytes; its errors say which rule it broke.
pub(crate) struct B58<const N: usize>(pub(crate) [u8; N]);

impl<'de, const N: usize> Deserialize<'de> for B58<N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<const N: usize>;
        impl<const N: usize> Visitor<'_> for V<N> {
            type Value = B58<N>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a base58 string of {N} bytes")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<B58<N>, E> {
                base58::decode_array::<N>(text).map(B58).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(V::<N>)
    }
}

struct Timestamp(u64);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number of milliseconds since 1970")
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Timestamp, E> {
                if value > MAX_TIMESTAMP {
                    return Err(E::custom(format!(
                        "timestamp {value} is beyond 2^53 - 1, the largest the reference client can represent"
                    )));
                }
                Ok(Timestamp(value))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Timestamp, E> {
                u64::try_from(value)
                    .map_err(|_| E::custom(format!("negative timestamp {value}")))
                    .and_then(|value| self.visit_u64(value))
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Timestamp, E> {
                Err(E::custom(format!(
                    "timestamp {value} is not a whole number of milliseconds"
                )))
            }
        }
        deserializer.deserialize_any(V)
    }
}

struct Data(Vec<u8>);

impl<'de> Deserialize<'de> for Data {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Data;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string: \"base64:\" and base64, or text")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Data, E> {
                decode_data(text).map(Data).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(V)
    }
}

struct SignKey(PublicKey);

impl<'de> Deserialize<'de> for SignKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(rename = "keyType")]
            key_type: String,
            #[serde(rename = "publicKey")]
            public_key: String,
        }
        let raw = Raw::deserialize(deserializer)?;
        let key_type: KeyType = raw
            .key_type
            .parse()
            .map_err(|err| de::Error::custom(format!("keyType: {err}")))?;
        PublicKey::from_base58(key_type, &raw.public_key)
            .map(SignKey)
            .map_err(|err| de::Error::custom(format!("publicKey: {err}")))
    }
}

struct IdField(ChainId);

impl<'de> Deserialize<'de> for IdField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = IdField;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a chain id in base58")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<IdField, E> {
                text.parse::<ChainId>().map(IdField).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(V)
    }
}

#[derive(Deserialize)]
struct AttachmentJson {
    name: String,
    #[serde(rename = "mediaType")]
    media_type: String,
    data: Data,
}

#[derive(Deserialize)]
struct EventJson {
    timestamp: Option<Timestamp>,
    previous: Option<B58<32>>,
    #[serde(rename = "signKey")]
    sign_key: Option<SignKey>,
    signature: Option<B58<64>>,
    hash: Option<B58<32>>,
    state: Option<B58<32>>,
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    data: Option<Data>,
    attachments: Option<Vec<AttachmentJson>>,
}

#[derive(Deserialize)]
struct ChainJson {
    id: IdField,
    events: Vec<EventJson>,
}

enum Entry {
    Stub(PartialStart),
    Event(Event),
}

fn missing(index: usize, field: &str) -> JsonError {
    JsonError::at(
        format!("events[{index}]"),
        format!("missing field `{field}`"),
    )
}

fn convert(index: usize, json: EventJson, version: Version) -> Result<Entry, JsonError> {
    if let Some(state) = json.state {
        if index != 0 {
            return Err(JsonError::at(
                format!("events[{index}]"),
                "a stub ({hash, state}) can only be the first entry",
            ));
        }
        let hash = json.hash.ok_or_else(|| missing(index, "hash"))?;
        return Ok(Entry::Stub(PartialStart {
            hash: hash.0,
            state: state.0,
        }));
    }
    let timestamp = json.timestamp.ok_or_else(|| missing(index, "timestamp"))?.0;
    let previous = json.previous.ok_or_else(|| missing(index, "previous"))?.0;
    let media_type = json.media_type.ok_or_else(|| missing(index, "mediaType"))?;
    let data = json.data.ok_or_else(|| missing(index, "data"))?.0;
    let attachments: Vec<Attachment> = json
        .attachments
        .unwrap_or_default()
        .into_iter()
        .map(|a| Attachment {
            name: a.name,
            media_type: a.media_type,
            data: a.data.0,
        })
        .collect();

    let too_long = |field: String, len: usize| {
        JsonError::at(
            format!("events[{index}].{field}"),
            format!(
                "{len} bytes, over the {MAX_FIELD} a v2 event can hold (larger documents go beside the chain, referenced by hash)"
            ),
        )
    };
    match version {
        Version::V2 => {
            if media_type.len() > MAX_FIELD {
                return Err(too_long("mediaType".into(), media_type.len()));
            }
            if data.len() > MAX_FIELD {
                return Err(too_long("data".into(), data.len()));
            }
            if attachments.len() > MAX_FIELD {
                return Err(JsonError::at(
                    format!("events[{index}].attachments"),
                    format!(
                        "{} attachments, over the {MAX_FIELD} a v2 event can hold",
                        attachments.len()
                    ),
                ));
            }
            for (n, a) in attachments.iter().enumerate() {
                for (field, len) in [
                    ("name", a.name.len()),
                    ("mediaType", a.media_type.len()),
                    ("data", a.data.len()),
                ] {
                    if len > MAX_FIELD {
                        return Err(too_long(format!("attachments[{n}].{field}"), len));
                    }
                }
            }
        }
        Version::V1 => {
            if !attachments.is_empty() {
                return Err(JsonError::at(
                    format!("events[{index}].attachments"),
                    "v1 events cannot have attachments: the v1 signature does not cover them",
                ));
            }
        }
    }

    Ok(Entry::Event(Event {
        timestamp,
        previous,
        sign_key: json.sign_key.map(|key| key.0),
        signature: json
            .signature
            .map(|sig| accord_crypto::Signature::new(sig.0)),
        hash: json.hash.map(|hash| hash.0),
        media_type,
        data,
        attachments,
    }))
}

/// Refuses a document that is valid JSON but not an object before serde sees it: serde reads
/// a struct from an array too (by position), which would give confusing errors.
pub(crate) fn expect_object(json: &[u8]) -> Result<(), JsonError> {
    let Some(position) = json.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Ok(()); // empty: serde reports the end of input
    };
    if json[position] == b'{' {
        return Ok(());
    }
    let line = 1 + json[..position].iter().filter(|&&b| b == b'\n').count();
    let column = 1 + position
        - json[..position]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |n| n + 1);
    let found = match json[position] {
        b'[' => "an array",
        b'"' => "a string",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        b'-' | b'0'..=b'9' => "a number",
        _ => "something that is not JSON",
    };
    Err(JsonError {
        path: String::new(),
        message: format!("a chain is a JSON object {{\"id\": …, \"events\": […]}}, found {found}"),
        line,
        column,
    })
}

/// Reads a whole JSON document as `T`: an object, with nothing after it, errors carrying the
/// path of the bad value and its position.
pub(crate) fn parse_document<'de, T: Deserialize<'de>>(json: &'de [u8]) -> Result<T, JsonError> {
    expect_object(json)?;
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let parsed: T =
        serde_path_to_error::deserialize(&mut deserializer).map_err(JsonError::from_serde)?;
    deserializer.end().map_err(|err| JsonError {
        path: String::new(),
        message: "trailing characters after the chain".into(),
        line: err.line(),
        column: err.column(),
    })?;
    Ok(parsed)
}

impl Chain {
    /// Reads a v1 or v2 chain from its JSON.
    pub fn from_json(json: &[u8]) -> Result<Chain, JsonError> {
        let parsed: ChainJson = parse_document(json)?;
        let id = parsed.id.0;
        let mut chain = Chain::new(id);
        chain.events.reserve(parsed.events.len());
        for (index, json) in parsed.events.into_iter().enumerate() {
            match convert(index, json, id.version())? {
                Entry::Stub(start) => chain.start = Some(start),
                Entry::Event(event) => chain.events.push(event),
            }
        }
        Ok(chain)
    }

    /// The chain as JSON, in the reference client's layout.
    pub fn to_json(&self) -> String {
        to_json(&self.id, self.start.as_ref(), self.events.iter(), false)
    }

    /// The chain as indented JSON.
    pub fn to_json_pretty(&self) -> String {
        to_json(&self.id, self.start.as_ref(), self.events.iter(), true)
    }
}

impl Event {
    /// One event as a JSON object, in the reference client's layout (as it appears in a
    /// chain's `events`).
    pub fn to_json(&self) -> String {
        serde_json::to_string(&event_out(self))
            .unwrap_or_else(|err| unreachable!("event JSON serializes: {err}"))
    }
}

/// A chain's JSON from its id, an optional stub and events already in JSON (each as
/// [`Event::to_json`] writes them): how a node serves a stored chain without decoding it.
pub fn chain_json<'a>(
    id: &str,
    start: Option<&PartialStart>,
    events: impl IntoIterator<Item = &'a str>,
) -> String {
    let mut out = String::with_capacity(256);
    out.push_str("{\"id\":");
    out.push_str(&serde_json::Value::from(id).to_string());
    out.push_str(",\"events\":[");
    let mut first = true;
    if let Some(start) = start {
        out.push_str(&format!(
            "{{\"hash\":\"{}\",\"state\":\"{}\"}}",
            base58::encode(&start.hash),
            base58::encode(&start.state)
        ));
        first = false;
    }
    for event in events {
        if !first {
            out.push(',');
        }
        out.push_str(event);
        first = false;
    }
    out.push_str("]}");
    out
}

impl crate::chain::VerifiedChain {
    /// The chain as JSON, in the reference client's layout.
    pub fn to_json(&self) -> String {
        to_json(
            self.id(),
            self.start(),
            self.events().iter().map(|e| e.event()),
            false,
        )
    }

    /// The chain as indented JSON.
    pub fn to_json_pretty(&self) -> String {
        to_json(
            self.id(),
            self.start(),
            self.events().iter().map(|e| e.event()),
            true,
        )
    }
}

#[derive(Serialize)]
struct SignKeyOut {
    #[serde(rename = "keyType")]
    key_type: &'static str,
    #[serde(rename = "publicKey")]
    public_key: String,
}

#[derive(Serialize)]
struct AttachmentOut<'a> {
    name: &'a str,
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    data: String,
}

#[derive(Serialize)]
struct EventOut<'a> {
    timestamp: u64,
    previous: String,
    #[serde(rename = "signKey", skip_serializing_if = "Option::is_none")]
    sign_key: Option<SignKeyOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hash: Option<String>,
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    data: String,
    attachments: Vec<AttachmentOut<'a>>,
}

#[derive(Serialize)]
struct StubOut {
    hash: String,
    state: String,
}

#[derive(Serialize)]
#[serde(untagged)]
enum EntryOut<'a> {
    Stub(StubOut),
    Event(EventOut<'a>),
}

#[derive(Serialize)]
struct ChainOut<'a> {
    id: String,
    events: Vec<EntryOut<'a>>,
}

fn event_out(event: &Event) -> EventOut<'_> {
    EventOut {
        timestamp: event.timestamp,
        previous: base58::encode(&event.previous),
        sign_key: event.sign_key.map(|key| SignKeyOut {
            key_type: key.key_type().name(),
            public_key: key.to_base58(),
        }),
        signature: event.signature.map(|sig| sig.to_base58()),
        hash: event.hash.map(|hash| base58::encode(&hash)),
        media_type: &event.media_type,
        data: encode_data(&event.data),
        attachments: event
            .attachments
            .iter()
            .map(|a| AttachmentOut {
                name: &a.name,
                media_type: &a.media_type,
                data: encode_data(&a.data),
            })
            .collect(),
    }
}

fn to_json<'a>(
    id: &ChainId,
    start: Option<&PartialStart>,
    events: impl Iterator<Item = &'a Event>,
    pretty: bool,
) -> String {
    let mut entries: Vec<EntryOut<'a>> = Vec::new();
    if let Some(start) = start {
        entries.push(EntryOut::Stub(StubOut {
            hash: base58::encode(&start.hash),
            state: base58::encode(&start.state),
        }));
    }
    entries.extend(events.map(|event| EntryOut::Event(event_out(event))));
    let out = ChainOut {
        id: id.to_base58(),
        events: entries,
    };
    // Serializing plain strings, numbers and vectors cannot fail.
    let result = if pretty {
        serde_json::to_string_pretty(&out)
    } else {
        serde_json::to_string(&out)
    };
    result.unwrap_or_else(|err| unreachable!("chain JSON serializes: {err}"))
}
