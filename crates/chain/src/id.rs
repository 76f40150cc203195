//! Chain ids and derived ids.
//!
//! A current chain id (v2 `0x42`, v1 `0x41`) is 46 bytes:
//! `version ‖ network ‖ nonce[20] ‖ secureHash(creatorPublicKey)[0..20] ‖ checksum[4]`, with
//! `checksum = secureHash(first 42 bytes)[0..4]`. A derived id (`0x51`), for a resource inside a
//! chain, has the chain id's bytes where the public key was. Legacy ids (`0x40`) live in
//! [`crate::legacy`].
//!
//! A [`ChainId`] value always has a known version and a checksum that holds: parsing checks
//! both, so code that holds one never has to.

use std::fmt;
use std::str::FromStr;

use accord_crypto::hash::{secure_hash, sha256};
use accord_crypto::{PublicKey, base58};
use thiserror::Error;

/// The version byte of v1 chain ids.
pub const V1: u8 = 0x41;
/// The version byte of v2 chain ids (the default).
pub const V2: u8 = 0x42;
/// The version byte of derived ids.
pub const DERIVED: u8 = 0x51;

/// The event format of a chain, given by its id's first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// `0x41`: events without length prefixes or attachments.
    V1,
    /// `0x42`: the current format.
    V2,
}

impl Version {
    /// The id version byte.
    pub const fn byte(self) -> u8 {
        match self {
            Version::V1 => V1,
            Version::V2 => V2,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
        })
    }
}

/// Why text is not a valid chain id or derived id.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    /// Not base58.
    #[error("not base58: {0}")]
    Base58(#[from] base58::Base58Error),
    /// The wrong number of bytes for any id.
    #[error("an id has 46 bytes (45 or 33 for legacy ids), found {0}")]
    Length(usize),
    /// Text far longer than any id.
    #[error("{0} characters is far longer than any id")]
    TooLong(usize),
    /// A first byte that is no known id version.
    #[error(
        "unknown id version byte 0x{0:02x} (expected 0x41 or 0x42 for chains, 0x51 for derived ids, 0x40 for legacy chains)"
    )]
    UnknownVersion(u8),
    /// A known id of another kind than the one asked for.
    #[error("id version byte 0x{found:02x} where 0x{expected:02x} is needed")]
    WrongKind {
        /// The version byte asked for.
        expected: u8,
        /// The version byte found.
        found: u8,
    },
    /// The last four bytes are not the checksum of the rest: the id was mistyped or altered.
    #[error("id checksum does not match (mistyped or altered id)")]
    Checksum,
}

/// A nonce: the 20 bytes that make ids of the same creator differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Nonce(pub [u8; 20]);

impl Nonce {
    /// The nonce of a text, as the reference client makes it: `SHA-256(utf8(text))[0..20]`.
    pub fn from_text(text: &str) -> Self {
        Self::from_seed_bytes(text.as_bytes())
    }

    /// The nonce of arbitrary bytes: `SHA-256(bytes)[0..20]`.
    pub fn from_seed_bytes(bytes: &[u8]) -> Self {
        let mut nonce = [0u8; 20];
        nonce.copy_from_slice(&sha256(bytes)[..20]);
        Nonce(nonce)
    }
}

fn build(version: u8, network: u8, nonce: &Nonce, group: &[u8]) -> [u8; 46] {
    let mut bytes = [0u8; 46];
    bytes[0] = version;
    bytes[1] = network;
    bytes[2..22].copy_from_slice(&nonce.0);
    bytes[22..42].copy_from_slice(&secure_hash(group)[..20]);
    let checksum = secure_hash(&bytes[..42]);
    bytes[42..].copy_from_slice(&checksum[..4]);
    bytes
}

fn parse46(text: &str) -> Result<[u8; 46], IdError> {
    let bytes = match base58::decode_array::<46>(text) {
        Ok(bytes) => bytes,
        Err(base58::Base58Error::WrongLength { found, .. }) => return Err(IdError::Length(found)),
        Err(base58::Base58Error::TooLong { length, .. }) => return Err(IdError::TooLong(length)),
        Err(err) => return Err(err.into()),
    };
    check46(bytes)
}

fn check46(bytes: [u8; 46]) -> Result<[u8; 46], IdError> {
    if !matches!(bytes[0], V1 | V2 | DERIVED) {
        return Err(IdError::UnknownVersion(bytes[0]));
    }
    if secure_hash(&bytes[..42])[..4] != bytes[42..] {
        return Err(IdError::Checksum);
    }
    Ok(bytes)
}

/// The state before the first event of the chain with these id bytes:
/// `SHA-256(reverse(id bytes))`.
pub fn initial_state(id: &[u8]) -> [u8; 32] {
    let mut reversed = id.to_vec();
    reversed.reverse();
    sha256(&reversed)
}

/// A v1 or v2 chain id whose checksum holds.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChainId([u8; 46]);

impl ChainId {
    /// The id of a new chain created by `creator` on `network`.
    pub fn new(version: Version, network: u8, creator: &PublicKey, nonce: &Nonce) -> Self {
        ChainId(build(version.byte(), network, nonce, creator.as_bytes()))
    }

    /// A chain id from its 46 bytes, checked.
    pub fn from_bytes(bytes: [u8; 46]) -> Result<Self, IdError> {
        match check46(bytes)? {
            bytes if bytes[0] == DERIVED => Err(IdError::WrongKind {
                expected: V2,
                found: DERIVED,
            }),
            bytes => Ok(ChainId(bytes)),
        }
    }

    /// The event format of the chain.
    pub fn version(&self) -> Version {
        if self.0[0] == V1 {
            Version::V1
        } else {
            Version::V2
        }
    }

    /// The network byte.
    pub fn network(&self) -> u8 {
        self.0[1]
    }

    /// The 46 bytes.
    pub fn as_bytes(&self) -> &[u8; 46] {
        &self.0
    }

    /// The id in base58.
    pub fn to_base58(&self) -> String {
        base58::encode(&self.0)
    }

    /// Whether `key` is the key whose hash the id carries: the chain's creator, who must sign
    /// its genesis event.
    pub fn is_created_by(&self, key: &PublicKey) -> bool {
        secure_hash(key.as_bytes())[..20] == self.0[22..42]
    }

    /// The `previous` of the genesis event: `SHA-256(id bytes)`.
    pub fn initial_hash(&self) -> [u8; 32] {
        sha256(&self.0)
    }

    /// The state before the first event: `SHA-256(reverse(id bytes))`.
    pub fn initial_state(&self) -> [u8; 32] {
        initial_state(&self.0)
    }

    /// The id of a resource inside this chain.
    pub fn derive(&self, nonce: &Nonce) -> DerivedId {
        DerivedId::for_id_bytes(&self.0, nonce)
    }
}

impl FromStr for ChainId {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, IdError> {
        let bytes = parse46(text)?;
        match bytes[0] {
            V1 | V2 => Ok(ChainId(bytes)),
            found => Err(IdError::WrongKind {
                expected: V2,
                found,
            }),
        }
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base58())
    }
}

impl fmt::Debug for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainId({})", self.to_base58())
    }
}

/// A derived id (`0x51`) whose checksum holds.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DerivedId([u8; 46]);

impl DerivedId {
    /// The derived id for any id's bytes, on the network named by its second byte, as the
    /// reference client computes it (it does not check the id first).
    pub fn for_id_bytes(id: &[u8], nonce: &Nonce) -> Self {
        let network = id.get(1).copied().unwrap_or(0);
        DerivedId(build(DERIVED, network, nonce, id))
    }

    /// Whether this id was derived from `chain`.
    pub fn is_derived_from(&self, chain: &ChainId) -> bool {
        self.0[1] == chain.network() && secure_hash(chain.as_bytes())[..20] == self.0[22..42]
    }

    /// The id in base58.
    pub fn to_base58(&self) -> String {
        base58::encode(&self.0)
    }
}

impl FromStr for DerivedId {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, IdError> {
        let bytes = parse46(text)?;
        match bytes[0] {
            DERIVED => Ok(DerivedId(bytes)),
            found => Err(IdError::WrongKind {
                expected: DERIVED,
                found,
            }),
        }
    }
}

impl fmt::Display for DerivedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base58())
    }
}

impl fmt::Debug for DerivedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DerivedId({})", self.to_base58())
    }
}
