//! Events of v1 and v2 chains, and their binary form (which is what is hashed and signed).
//!
//! v2: `previous[32] ‖ keyType u8 ‖ publicKey ‖ timestamp i64 ‖ u16 len ‖ mediaType ‖ u16 len ‖
//! data ‖ u16 count ‖ (u16 len ‖ name ‖ u16 len ‖ mediaType ‖ u16 len ‖ data)*`, big-endian.
//! v1: `previous ‖ keyType ‖ publicKey ‖ timestamp ‖ mediaType ‖ data`, with no lengths (so a v1
//! binary cannot be split back into fields) and no attachments.

use accord_crypto::hash::sha256;
use accord_crypto::{KeyPair, KeyType, PublicKey, Signature, base58};
use thiserror::Error;

use crate::id::Version;

/// The largest timestamp a JSON event may carry: JavaScript's `Number.MAX_SAFE_INTEGER`, so
/// that every event Accord accepts is one the reference client can rebuild byte for byte.
pub const MAX_TIMESTAMP: u64 = (1 << 53) - 1;

/// The largest media type, data, name or attachment count a v2 event can hold (`u16`).
pub const MAX_FIELD: usize = u16::MAX as usize;

/// A file attached to a v2 event, covered by its hash and signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// The attachment's name.
    pub name: String,
    /// Its media type.
    pub media_type: String,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// An event of a v1 or v2 chain, as read or about to be signed. Nothing about it has been
/// checked beyond its shape: [`crate::VerifiedEvent`] is the checked kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Milliseconds since the Unix epoch, when it was signed.
    pub timestamp: u64,
    /// The hash of the event before it, or the chain's initial hash for the genesis event.
    pub previous: [u8; 32],
    /// The key that signed it; `None` for an event not yet signed.
    pub sign_key: Option<PublicKey>,
    /// The signature of its binary form; `None` for an event not yet signed.
    pub signature: Option<Signature>,
    /// The hash it claims (from JSON); `None` where none was given.
    pub hash: Option<[u8; 32]>,
    /// The media type of `data`.
    pub media_type: String,
    /// The payload.
    pub data: Vec<u8>,
    /// Attachments (v2 only).
    pub attachments: Vec<Attachment>,
}

/// What an event says, before it is placed on a chain and signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    /// The media type of `data`.
    pub media_type: String,
    /// The payload.
    pub data: Vec<u8>,
    /// Attachments (v2 only).
    pub attachments: Vec<Attachment>,
}

impl Draft {
    /// A draft with a payload of the given media type.
    pub fn new(media_type: impl Into<String>, data: impl Into<Vec<u8>>) -> Self {
        Draft {
            media_type: media_type.into(),
            data: data.into(),
            attachments: Vec::new(),
        }
    }

    /// A draft with a JSON payload (`application/json`), serialized as `JSON.stringify` does
    /// for the same value (no spaces).
    pub fn json(value: &serde_json::Value) -> Self {
        Draft::new("application/json", value.to_string())
    }

    /// Adds an attachment.
    pub fn attach(
        mut self,
        name: impl Into<String>,
        media_type: impl Into<String>,
        data: impl Into<Vec<u8>>,
    ) -> Self {
        self.attachments.push(Attachment {
            name: name.into(),
            media_type: media_type.into(),
            data: data.into(),
        });
        self
    }
}

/// Why an event has no binary form.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// A field over the 65,535 bytes its `u16` length can say.
    #[error("{field} is {len} bytes, over the {MAX_FIELD} a v2 event can hold")]
    TooLong {
        /// The field: `mediaType`, `data`, `attachments`, or `attachments[i].name` and so on.
        field: String,
        /// Its length (for `attachments`, the count).
        len: usize,
    },
    /// v1 events have no attachments: v1's binary form, and so its signature, cannot cover them.
    #[error("v1 events cannot have attachments: the v1 signature does not cover them")]
    AttachmentsInV1,
    /// A timestamp beyond [`MAX_TIMESTAMP`].
    #[error("timestamp {0} is beyond 2^53 - 1")]
    Timestamp(u64),
    /// No key to sign with has been set.
    #[error("the event has no sign key")]
    Unsigned,
}

/// Why bytes are not the binary form of a v2 event.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BinaryError {
    /// The bytes end before a field does.
    #[error("truncated: {field} needs {needed} bytes at offset {offset}, only {available} left")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Where it starts.
        offset: usize,
        /// How many bytes it needs.
        needed: usize,
        /// How many bytes are left.
        available: usize,
    },
    /// A key type id other than 1, 2 or 3.
    #[error("unknown key type id {0} at offset 32")]
    KeyType(u8),
    /// A media type or name that is not UTF-8.
    #[error("{field} at offset {offset} is not UTF-8")]
    Utf8 {
        /// The field.
        field: &'static str,
        /// Where it starts.
        offset: usize,
    },
    /// A negative timestamp, or one beyond 2^53 − 1.
    #[error("timestamp {0} is out of range")]
    Timestamp(i64),
    /// Bytes after the last attachment.
    #[error("{0} bytes after the end of the event")]
    Trailing(usize),
    /// v1 binaries have no lengths, so they cannot be split into fields.
    #[error("a v1 event's binary form has no lengths and cannot be decoded")]
    V1,
}

impl Event {
    /// The binary form of an event of the given format, appended to `out`.
    pub fn write_binary(&self, version: Version, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let key = self.sign_key.as_ref().ok_or(EncodeError::Unsigned)?;
        if self.timestamp > MAX_TIMESTAMP {
            return Err(EncodeError::Timestamp(self.timestamp));
        }
        out.extend_from_slice(&self.previous);
        out.push(key.key_type().id());
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        match version {
            Version::V1 => {
                if !self.attachments.is_empty() {
                    return Err(EncodeError::AttachmentsInV1);
                }
                out.extend_from_slice(self.media_type.as_bytes());
                out.extend_from_slice(&self.data);
            }
            Version::V2 => {
                put_field(out, "mediaType", self.media_type.as_bytes())?;
                put_field(out, "data", &self.data)?;
                let count = self.attachments.len();
                put_len(out, "attachments", count)?;
                for (index, attachment) in self.attachments.iter().enumerate() {
                    let field = |name: &str| format!("attachments[{index}].{name}");
                    put_field_with(out, || field("name"), attachment.name.as_bytes())?;
                    put_field_with(out, || field("mediaType"), attachment.media_type.as_bytes())?;
                    put_field_with(out, || field("data"), &attachment.data)?;
                }
            }
        }
        Ok(())
    }

    /// The binary form of an event of the given format.
    pub fn to_binary(&self, version: Version) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(self.binary_len_hint());
        self.write_binary(version, &mut out)?;
        Ok(out)
    }

    /// The hash of the event's binary form: `SHA-256(binary)`.
    pub fn compute_hash(&self, version: Version) -> Result<[u8; 32], EncodeError> {
        Ok(sha256(&self.to_binary(version)?))
    }

    /// Reads the binary form of a v2 event. The binary form has no signature or hash: the
    /// event comes back unsigned, with its sign key set.
    pub fn from_binary(version: Version, bytes: &[u8]) -> Result<Event, BinaryError> {
        if version == Version::V1 {
            return Err(BinaryError::V1);
        }
        let mut reader = Reader { bytes, offset: 0 };
        let previous: [u8; 32] = reader.array("previous")?;
        let [key_type_id] = reader.array::<1>("keyType")?;
        let key_type =
            KeyType::from_id(key_type_id).map_err(|_| BinaryError::KeyType(key_type_id))?;
        let key_bytes = reader.take("publicKey", key_type.public_key_len())?;
        let sign_key =
            PublicKey::new(key_type, key_bytes).map_err(|_| BinaryError::KeyType(key_type_id))?;
        let timestamp = i64::from_be_bytes(reader.array("timestamp")?);
        let timestamp = u64::try_from(timestamp)
            .ok()
            .filter(|t| *t <= MAX_TIMESTAMP)
            .ok_or(BinaryError::Timestamp(timestamp))?;
        let media_type = reader.string("mediaType")?;
        let data = reader.sized("data")?.to_vec();
        let count = u16::from_be_bytes(reader.array("attachments")?);
        let mut attachments = Vec::with_capacity(usize::from(count).min(1024));
        for _ in 0..count {
            attachments.push(Attachment {
                name: reader.string("attachment name")?,
                media_type: reader.string("attachment mediaType")?,
                data: reader.sized("attachment data")?.to_vec(),
            });
        }
        let rest = bytes.len() - reader.offset;
        if rest > 0 {
            return Err(BinaryError::Trailing(rest));
        }
        Ok(Event {
            timestamp,
            previous,
            sign_key: Some(sign_key),
            signature: None,
            hash: None,
            media_type,
            data,
            attachments,
        })
    }

    /// A new event holding `draft`, on `previous` (the tip it follows), stamped `timestamp`
    /// (milliseconds) and signed with `keys`; with its hash. The one way Accord makes an event.
    pub fn signed_on(
        draft: Draft,
        previous: [u8; 32],
        timestamp: u64,
        version: Version,
        keys: &KeyPair,
    ) -> Result<(Event, [u8; 32]), EncodeError> {
        let mut event = Event {
            timestamp,
            previous,
            sign_key: None,
            signature: None,
            hash: None,
            media_type: draft.media_type,
            data: draft.data,
            attachments: draft.attachments,
        };
        let hash = event.sign(version, keys)?;
        Ok((event, hash))
    }

    /// Sets the sign key, signs the binary form with `keys` and records the hash.
    pub fn sign(&mut self, version: Version, keys: &KeyPair) -> Result<[u8; 32], EncodeError> {
        self.sign_key = Some(*keys.public_key());
        let binary = self.to_binary(version)?;
        let hash = sha256(&binary);
        self.signature = Some(keys.sign(&binary));
        self.hash = Some(hash);
        Ok(hash)
    }

    /// The hash to call this event by in messages: the one it claims, or else the one of its
    /// content, or else (unsigned, with no claimed hash) none.
    pub fn label_hash(&self, version: Version) -> Option<[u8; 32]> {
        self.hash.or_else(|| self.compute_hash(version).ok())
    }

    pub(crate) fn binary_len_hint(&self) -> usize {
        32 + 1
            + 33
            + 8
            + 2
            + self.media_type.len()
            + 2
            + self.data.len()
            + 2
            + self
                .attachments
                .iter()
                .map(|a| 6 + a.name.len() + a.media_type.len() + a.data.len())
                .sum::<usize>()
    }
}

/// Shows a 32-byte hash in base58, as every format does.
pub fn show_hash(hash: &[u8; 32]) -> String {
    base58::encode(hash)
}

fn put_len(out: &mut Vec<u8>, field: &str, len: usize) -> Result<(), EncodeError> {
    let len16 = u16::try_from(len).map_err(|_| EncodeError::TooLong {
        field: field.to_owned(),
        len,
    })?;
    out.extend_from_slice(&len16.to_be_bytes());
    Ok(())
}

fn put_field(out: &mut Vec<u8>, field: &str, bytes: &[u8]) -> Result<(), EncodeError> {
    put_len(out, field, bytes.len())?;
    out.extend_from_slice(bytes);
    Ok(())
}

fn put_field_with(
    out: &mut Vec<u8>,
    field: impl FnOnce() -> String,
    bytes: &[u8],
) -> Result<(), EncodeError> {
    let len = u16::try_from(bytes.len()).map_err(|_| EncodeError::TooLong {
        field: field(),
        len: bytes.len(),
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, field: &'static str, needed: usize) -> Result<&'a [u8], BinaryError> {
        let available = self.bytes.len() - self.offset;
        if needed > available {
            return Err(BinaryError::Truncated {
                field,
                offset: self.offset,
                needed,
                available,
            });
        }
        let slice = &self.bytes[self.offset..self.offset + needed];
        self.offset += needed;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], BinaryError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(field, N)?);
        Ok(out)
    }

    fn sized(&mut self, field: &'static str) -> Result<&'a [u8], BinaryError> {
        let len = u16::from_be_bytes(self.array(field)?);
        self.take(field, usize::from(len))
    }

    fn string(&mut self, field: &'static str) -> Result<String, BinaryError> {
        let offset = self.offset;
        let bytes = self.sized(field)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| BinaryError::Utf8 { field, offset })
    }
}
