//! Key types, public keys, signatures and key pairs.
//!
//! A [`KeyPair`] holds a secret: it is zeroized when dropped (the signing-key types of
//! ed25519-dalek, k256 and p256 all do this) and its `Debug` shows only the public half.
//!
//! Signatures follow the reference client: ed25519 signs the message itself; the ECDSA curves
//! sign `SHA-256(message)` and the signature is the 64-byte `r ‖ s`. secp256k1 signatures must
//! have a low `s` (as libsecp256k1 and noble-curves insist); secp256r1 ones need not.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::Signer as _;
use k256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use thiserror::Error;
use zeroize::Zeroizing;

use crate::address::Address;
use crate::base58::{self, Base58Error};
use crate::ed25519;
use crate::hash::sha256;

/// The key types of the LTO formats, with their one-byte ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyType {
    /// ed25519 (id 1), 32-byte public keys. Every Accord node supports it.
    Ed25519,
    /// secp256k1 ECDSA (id 2), 33-byte compressed public keys.
    Secp256k1,
    /// secp256r1 (NIST P-256) ECDSA (id 3), 33-byte compressed public keys.
    Secp256r1,
}

impl KeyType {
    /// Every key type, in id order.
    pub const ALL: [KeyType; 3] = [KeyType::Ed25519, KeyType::Secp256k1, KeyType::Secp256r1];

    /// The one-byte id used in binary formats.
    pub const fn id(self) -> u8 {
        match self {
            KeyType::Ed25519 => 1,
            KeyType::Secp256k1 => 2,
            KeyType::Secp256r1 => 3,
        }
    }

    /// The key type with a binary id.
    pub fn from_id(id: u8) -> Result<Self, KeyError> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.id() == id)
            .ok_or(KeyError::UnknownKeyTypeId(id))
    }

    /// The name used in JSON (`"ed25519"`, `"secp256k1"`, `"secp256r1"`).
    pub const fn name(self) -> &'static str {
        match self {
            KeyType::Ed25519 => "ed25519",
            KeyType::Secp256k1 => "secp256k1",
            KeyType::Secp256r1 => "secp256r1",
        }
    }

    /// The length of a public key of this type, in bytes.
    pub const fn public_key_len(self) -> usize {
        match self {
            KeyType::Ed25519 => 32,
            KeyType::Secp256k1 | KeyType::Secp256r1 => 33,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyType {
    type Err = KeyError;

    fn from_str(name: &str) -> Result<Self, KeyError> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| KeyError::UnknownKeyType(name.to_owned()))
    }
}

/// Why a key could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    /// A key type name other than `ed25519`, `secp256k1` or `secp256r1`.
    #[error("unknown key type {0:?} (expected ed25519, secp256k1 or secp256r1)")]
    UnknownKeyType(String),
    /// A binary key type id other than 1, 2 or 3.
    #[error("unknown key type id {0} (expected 1 = ed25519, 2 = secp256k1, 3 = secp256r1)")]
    UnknownKeyTypeId(u8),
    /// A public key of the wrong length for its type.
    #[error("a {key_type} public key has {expected} bytes, found {found}")]
    PublicKeyLength {
        /// The key's type.
        key_type: KeyType,
        /// The length that type requires.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// A private key of the wrong length for its type.
    #[error("a {key_type} private key has {expected}, found {found} bytes")]
    PrivateKeyLength {
        /// The key's type.
        key_type: KeyType,
        /// The lengths that type accepts, in words.
        expected: &'static str,
        /// The length found.
        found: usize,
    },
    /// A 64-byte ed25519 private key whose second half is not the public key of its first.
    #[error("the ed25519 private key's second half is not the public key of its first half")]
    PrivateKeyMismatch,
    /// Bytes that are not a valid private key of the curve (zero, or not below its order).
    #[error("not a valid {0} private key")]
    InvalidPrivateKey(KeyType),
    /// A seed phrase that is not a valid BIP-39 mnemonic, as secp256k1 key derivation needs.
    #[error("not a valid BIP-39 mnemonic: {0}")]
    InvalidMnemonic(String),
    /// A BIP-32 derivation path that cannot be parsed or used.
    #[error("invalid derivation path {path:?}: {reason}")]
    InvalidDerivationPath {
        /// The path given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Key derivation from a seed phrase is defined for ed25519 and secp256k1 only.
    #[error("{0} keys cannot be derived from a seed phrase (the reference client refuses too)")]
    NoSeedDerivation(KeyType),
    /// A base58 field that does not decode.
    #[error("{0}")]
    Base58(#[from] Base58Error),
    /// A signature that is not 64 bytes.
    #[error("a signature has 64 bytes, found {0}")]
    SignatureLength(usize),
}

/// A public key with its type. Holds exactly the bytes of the type's length; whether they are
/// a point on the curve is checked when a signature is verified (an off-curve key verifies
/// nothing), or on request with [`PublicKey::check_point`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey {
    key_type: KeyType,
    bytes: [u8; 33],
}

impl PublicKey {
    /// A public key of the given type from its bytes (32 for ed25519, 33 compressed for ECDSA).
    pub fn new(key_type: KeyType, bytes: &[u8]) -> Result<Self, KeyError> {
        let expected = key_type.public_key_len();
        if bytes.len() != expected {
            return Err(KeyError::PublicKeyLength {
                key_type,
                expected,
                found: bytes.len(),
            });
        }
        let mut buf = [0u8; 33];
        buf[..expected].copy_from_slice(bytes);
        Ok(PublicKey {
            key_type,
            bytes: buf,
        })
    }

    /// An ed25519 public key.
    pub fn ed25519(bytes: [u8; 32]) -> Self {
        let mut buf = [0u8; 33];
        buf[..32].copy_from_slice(&bytes);
        PublicKey {
            key_type: KeyType::Ed25519,
            bytes: buf,
        }
    }

    /// A public key of the given type from base58.
    pub fn from_base58(key_type: KeyType, text: &str) -> Result<Self, KeyError> {
        match key_type {
            KeyType::Ed25519 => Ok(Self::ed25519(base58::decode_array::<32>(text)?)),
            _ => Self::new(key_type, &base58::decode_array::<33>(text)?),
        }
    }

    /// The key's type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.key_type.public_key_len()]
    }

    /// The key's bytes in base58.
    pub fn to_base58(&self) -> String {
        base58::encode(self.as_bytes())
    }

    /// The key's address on a network.
    pub fn address(&self, network: u8) -> Address {
        Address::from_public_key(self, network)
    }

    /// Whether the bytes are a valid point of the key's curve, in the encoding the formats use.
    pub fn check_point(&self) -> bool {
        match self.key_type {
            KeyType::Ed25519 => ed25519::decode_public_key(&self.ed25519_bytes()).is_some(),
            KeyType::Secp256k1 => k256::ecdsa::VerifyingKey::from_sec1_bytes(self.as_bytes())
                .is_ok_and(|_| self.bytes[0] == 2 || self.bytes[0] == 3),
            KeyType::Secp256r1 => p256::ecdsa::VerifyingKey::from_sec1_bytes(self.as_bytes())
                .is_ok_and(|_| self.bytes[0] == 2 || self.bytes[0] == 3),
        }
    }

    /// Verifies a signature of `message` by this key. ed25519 uses Accord's verification
    /// rule (see [`crate::ed25519`]); the ECDSA types verify `SHA-256(message)`.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> bool {
        match self.key_type {
            KeyType::Ed25519 => ed25519::verify(&self.ed25519_bytes(), message, signature),
            KeyType::Secp256k1 => {
                let Ok(key) = k256::ecdsa::VerifyingKey::from_sec1_bytes(self.as_bytes()) else {
                    return false;
                };
                let Ok(sig) = k256::ecdsa::Signature::from_slice(signature.as_bytes()) else {
                    return false;
                };
                key.verify_prehash(&sha256(message), &sig).is_ok()
            }
            KeyType::Secp256r1 => {
                let Ok(key) = p256::ecdsa::VerifyingKey::from_sec1_bytes(self.as_bytes()) else {
                    return false;
                };
                let Ok(sig) = p256::ecdsa::Signature::from_slice(signature.as_bytes()) else {
                    return false;
                };
                key.verify_prehash(&sha256(message), &sig).is_ok()
            }
        }
    }

    /// The X25519 public key of an ed25519 key (its Montgomery form, as libsodium's
    /// `crypto_sign_ed25519_pk_to_curve25519`): the key payloads are encrypted to. `None` for
    /// the ECDSA types and for bytes that are not an ed25519 point.
    pub fn x25519(&self) -> Option<[u8; 32]> {
        match self.key_type {
            KeyType::Ed25519 => ed25519_dalek::VerifyingKey::from_bytes(&self.ed25519_bytes())
                .ok()
                .map(|key| key.to_montgomery().to_bytes()),
            _ => None,
        }
    }

    pub(crate) fn ed25519_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(&self.bytes[..32]);
        out
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({}:{})", self.key_type, self.to_base58())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base58())
    }
}

/// A 64-byte signature: ed25519 `R ‖ s`, or ECDSA `r ‖ s`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature([u8; 64]);

impl Signature {
    /// A signature from its 64 bytes.
    pub const fn new(bytes: [u8; 64]) -> Self {
        Signature(bytes)
    }

    /// A signature from a slice, which must be 64 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        <[u8; 64]>::try_from(bytes)
            .map(Signature)
            .map_err(|_| KeyError::SignatureLength(bytes.len()))
    }

    /// A signature from base58.
    pub fn from_base58(text: &str) -> Result<Self, KeyError> {
        Ok(Signature(base58::decode_array::<64>(text)?))
    }

    /// The signature's bytes.
    pub fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }

    /// The signature in base58.
    pub fn to_base58(&self) -> String {
        base58::encode(&self.0)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_base58())
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base58())
    }
}

enum Secret {
    Ed25519(ed25519_dalek::SigningKey),
    Secp256k1(k256::ecdsa::SigningKey),
    Secp256r1(p256::ecdsa::SigningKey),
}

/// A private key and its public key. Zeroized on drop; `Debug` never shows the secret.
pub struct KeyPair {
    secret: Secret,
    public: PublicKey,
}

/// The BIP-32 path the reference client derives secp256k1 keys on (LTO's SLIP-44 coin 742).
pub const DEFAULT_DERIVATION_PATH: &str = "m/44'/742'/0'/0/0";

impl KeyPair {
    /// The ed25519 key pair of an LTO seed phrase:
    /// `seed = SHA-256(secureHash(u32be(nonce) ‖ utf8(phrase)))`, then the key pair of that seed.
    /// Any text is a valid phrase, as in the reference client.
    pub fn from_seed_phrase(phrase: &str, nonce: u32) -> Self {
        let mut input = Zeroizing::new(Vec::with_capacity(4 + phrase.len()));
        input.extend_from_slice(&nonce.to_be_bytes());
        input.extend_from_slice(phrase.as_bytes());
        let seed = Zeroizing::new(sha256(&crate::hash::secure_hash(&input)));
        Self::from_ed25519_seed(&seed)
    }

    /// The ed25519 key pair of a 32-byte seed (RFC 8032 secret key).
    pub fn from_ed25519_seed(seed: &[u8; 32]) -> Self {
        let key = ed25519_dalek::SigningKey::from_bytes(seed);
        let public = PublicKey::ed25519(key.verifying_key().to_bytes());
        KeyPair {
            secret: Secret::Ed25519(key),
            public,
        }
    }

    /// A secp256k1 key pair from a BIP-39 mnemonic (empty passphrase) and a BIP-32 path, as the
    /// reference client derives them; it uses [`DEFAULT_DERIVATION_PATH`] by default.
    pub fn from_mnemonic(phrase: &str, path: &str) -> Result<Self, KeyError> {
        let mnemonic = bip39::Mnemonic::parse_in(bip39::Language::English, phrase)
            .map_err(|err| KeyError::InvalidMnemonic(err.to_string()))?;
        let seed = Zeroizing::new(mnemonic.to_seed(""));
        let parsed: bip32::DerivationPath =
            path.parse()
                .map_err(|err: bip32::Error| KeyError::InvalidDerivationPath {
                    path: path.to_owned(),
                    reason: err.to_string(),
                })?;
        let child = bip32::XPrv::derive_from_path(&*seed, &parsed).map_err(|err| {
            KeyError::InvalidDerivationPath {
                path: path.to_owned(),
                reason: err.to_string(),
            }
        })?;
        let secret = Zeroizing::new(child.private_key().to_bytes());
        Self::from_private_key(KeyType::Secp256k1, secret.as_slice())
    }

    /// A key pair from private key bytes. ed25519 takes the 64-byte form of the reference
    /// client (seed ‖ public key, checked for consistency) or the 32-byte seed; ECDSA takes the
    /// 32-byte scalar.
    pub fn from_private_key(key_type: KeyType, bytes: &[u8]) -> Result<Self, KeyError> {
        match key_type {
            KeyType::Ed25519 => match bytes.len() {
                32 => {
                    let mut seed = Zeroizing::new([0u8; 32]);
                    seed.copy_from_slice(bytes);
                    Ok(Self::from_ed25519_seed(&seed))
                }
                64 => {
                    let mut seed = Zeroizing::new([0u8; 32]);
                    seed.copy_from_slice(&bytes[..32]);
                    let pair = Self::from_ed25519_seed(&seed);
                    if pair.public.as_bytes() != &bytes[32..] {
                        return Err(KeyError::PrivateKeyMismatch);
                    }
                    Ok(pair)
                }
                found => Err(KeyError::PrivateKeyLength {
                    key_type,
                    expected: "32 or 64",
                    found,
                }),
            },
            KeyType::Secp256k1 => {
                check_scalar_len(key_type, bytes)?;
                let key = k256::ecdsa::SigningKey::from_slice(bytes)
                    .map_err(|_| KeyError::InvalidPrivateKey(key_type))?;
                let point = key.verifying_key().to_sec1_point(true);
                let public = PublicKey::new(key_type, point.as_bytes())?;
                Ok(KeyPair {
                    secret: Secret::Secp256k1(key),
                    public,
                })
            }
            KeyType::Secp256r1 => {
                check_scalar_len(key_type, bytes)?;
                let key = p256::ecdsa::SigningKey::from_slice(bytes)
                    .map_err(|_| KeyError::InvalidPrivateKey(key_type))?;
                let point = key.verifying_key().to_sec1_point(true);
                let public = PublicKey::new(key_type, point.as_bytes())?;
                Ok(KeyPair {
                    secret: Secret::Secp256r1(key),
                    public,
                })
            }
        }
    }

    /// A new random key pair of the given type, from the operating system's random source.
    /// (For ed25519 and secp256k1, keys made from a new [`crate::SeedPhrase`] can be written
    /// down; these cannot.)
    pub fn generate(key_type: KeyType) -> Result<Self, getrandom::Error> {
        loop {
            let mut bytes = Zeroizing::new([0u8; 32]);
            getrandom::fill(bytes.as_mut())?;
            // Any 32 bytes are an ed25519 seed. For the ECDSA curves, the bytes must be a
            // non-zero scalar below the group order: they fail with a chance of about 2^-32
            // (P-256) or 2^-128 (secp256k1), and are drawn again.
            if let Ok(pair) = Self::from_private_key(key_type, bytes.as_ref()) {
                return Ok(pair);
            }
        }
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The key type.
    pub fn key_type(&self) -> KeyType {
        self.public.key_type
    }

    /// The address of the public key on a network.
    pub fn address(&self, network: u8) -> Address {
        self.public.address(network)
    }

    /// Signs a message. ECDSA signatures are deterministic (RFC 6979) over `SHA-256(message)`;
    /// secp256k1 ones are low-`s`.
    pub fn sign(&self, message: &[u8]) -> Signature {
        match &self.secret {
            Secret::Ed25519(key) => Signature(key.sign(message).to_bytes()),
            Secret::Secp256k1(key) => {
                let sig: k256::ecdsa::Signature = sign_prehash(key, &sha256(message));
                let sig = sig.normalize_s();
                Signature(sig.to_bytes().into())
            }
            Secret::Secp256r1(key) => {
                let sig: p256::ecdsa::Signature = sign_prehash(key, &sha256(message));
                Signature(sig.to_bytes().into())
            }
        }
    }

    /// The private key bytes in the reference client's form: 64 bytes (seed ‖ public key) for
    /// ed25519, the 32-byte scalar for ECDSA.
    pub fn private_key_bytes(&self) -> Zeroizing<Vec<u8>> {
        match &self.secret {
            Secret::Ed25519(key) => Zeroizing::new(key.to_keypair_bytes().to_vec()),
            Secret::Secp256k1(key) => Zeroizing::new(key.to_bytes().to_vec()),
            Secret::Secp256r1(key) => Zeroizing::new(key.to_bytes().to_vec()),
        }
    }

    /// The X25519 public key payloads for this key are encrypted to (ed25519 only).
    pub fn x25519_public(&self) -> Option<[u8; 32]> {
        self.public.x25519()
    }

    /// The X25519 secret matching [`KeyPair::x25519_public`], as libsodium's
    /// `crypto_sign_ed25519_sk_to_curve25519` derives it (clamped when used).
    pub(crate) fn x25519_secret(&self) -> Option<Zeroizing<[u8; 32]>> {
        match &self.secret {
            Secret::Ed25519(key) => Some(Zeroizing::new(key.to_scalar_bytes())),
            _ => None,
        }
    }
}

fn check_scalar_len(key_type: KeyType, bytes: &[u8]) -> Result<(), KeyError> {
    if bytes.len() == 32 {
        Ok(())
    } else {
        Err(KeyError::PrivateKeyLength {
            key_type,
            expected: "32",
            found: bytes.len(),
        })
    }
}

fn sign_prehash<S, K: PrehashSigner<S>>(key: &K, prehash: &[u8; 32]) -> S {
    // A 32-byte prehash is the size both curves sign, so this cannot fail; the `expect`
    // documents that rather than hides an input error.
    #[allow(clippy::expect_used)]
    key.sign_prehash(prehash)
        .expect("a 32-byte prehash is always signable")
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("key_type", &self.public.key_type)
            .field("public_key", &self.public.to_base58())
            .finish_non_exhaustive()
    }
}
