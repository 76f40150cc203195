//! Keystore files: a key's secret (its seed phrase, or its private key) encrypted with a
//! passphrase. The format is Accord's own; `docs/design/keystore.md` specifies it.
//!
//! The passphrase is stretched with Argon2id (RFC 9106; 64 MiB, 3 passes, 1 lane by default)
//! and the secret sealed with XChaCha20-Poly1305. Every header field (key type, public key,
//! KDF parameters and salt) is bound as associated data, so none can be changed without the
//! file failing to open; and after opening, the key derived from the secret must have the
//! public key the header names.

use argon2::{Algorithm, Argon2, Params};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use zeroize::Zeroizing;

use crate::keys::{KeyError, KeyPair, KeyType, PublicKey};
use crate::{base58, keys::DEFAULT_DERIVATION_PATH};

/// The format version this code writes and reads.
pub const VERSION: u32 = 1;

/// What a keystore keeps secret: how to rebuild the key pair.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Secret {
    /// An LTO seed phrase (ed25519, with its nonce) or a BIP-39 mnemonic (secp256k1, with its
    /// derivation path).
    SeedPhrase {
        /// The phrase.
        phrase: String,
        /// The ed25519 nonce.
        #[serde(default, skip_serializing_if = "is_zero")]
        nonce: u32,
        /// The secp256k1 derivation path.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
    },
    /// Private key bytes, in base58, as [`KeyPair::from_private_key`] takes them.
    PrivateKey(String),
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(hidden)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        match self {
            Secret::SeedPhrase { phrase, .. } => phrase.zeroize(),
            Secret::PrivateKey(key) => key.zeroize(),
        }
    }
}

impl Secret {
    /// Rebuilds the key pair of a given type.
    pub fn key_pair(&self, key_type: KeyType) -> Result<KeyPair, KeyError> {
        match (self, key_type) {
            (Secret::SeedPhrase { phrase, nonce, .. }, KeyType::Ed25519) => {
                Ok(KeyPair::from_seed_phrase(phrase, *nonce))
            }
            (Secret::SeedPhrase { phrase, path, .. }, KeyType::Secp256k1) => {
                KeyPair::from_mnemonic(phrase, path.as_deref().unwrap_or(DEFAULT_DERIVATION_PATH))
            }
            (Secret::SeedPhrase { .. }, KeyType::Secp256r1) => {
                Err(KeyError::NoSeedDerivation(KeyType::Secp256r1))
            }
            (Secret::PrivateKey(text), key_type) => {
                let bytes = Zeroizing::new(base58::decode(text)?);
                KeyPair::from_private_key(key_type, &bytes)
            }
        }
    }
}

/// The Argon2id cost of a keystore.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KdfParams {
    /// Memory, in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// RFC 9106's second recommended setting: 64 MiB, 3 passes, and one lane (the
    /// implementation here runs lanes one after another, so more would only cost time).
    fn default() -> Self {
        KdfParams {
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 1,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Kdf {
    name: String,
    #[serde(flatten)]
    params: KdfParams,
    salt: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cipher {
    name: String,
    nonce: String,
}

/// A keystore file's content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Keystore {
    accord_keystore: u32,
    key_type: String,
    public_key: String,
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

/// Why a keystore could not be written or opened.
#[derive(Debug, Error)]
pub enum KeystoreError {
    /// Not keystore JSON.
    #[error("not a keystore: {0}")]
    Json(String),
    /// A keystore of a format version this build does not know.
    #[error("keystore format version {0} is not supported (this build reads version 1)")]
    Version(u32),
    /// An algorithm this build does not know.
    #[error("unsupported {what} {name:?}")]
    Algorithm {
        /// `kdf` or `cipher`.
        what: &'static str,
        /// The name found.
        name: String,
    },
    /// A field that does not decode.
    #[error("field {field}: {reason}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// KDF parameters out of range (or too large to be honest).
    #[error("bad key derivation parameters: {0}")]
    Params(String),
    /// Wrong passphrase, or a changed file.
    #[error("wrong passphrase, or the keystore file was altered")]
    Decrypt,
    /// The secret opens to a key other than the header's.
    #[error("the keystore's secret does not give the public key it names")]
    KeyMismatch,
    /// The secret does not make a key.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// The most memory a keystore may ask for (1 GiB, 16 times the default): more is taken as a
/// file meant to exhaust memory.
const MAX_MEMORY_KIB: u32 = 1024 * 1024;
/// The most passes a keystore may ask for.
const MAX_ITERATIONS: u32 = 16;
/// The most lanes a keystore may ask for.
const MAX_PARALLELISM: u32 = 8;

fn stretch(
    passphrase: &[u8],
    salt: &[u8],
    params: KdfParams,
) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
    if params.memory_kib > MAX_MEMORY_KIB
        || params.iterations > MAX_ITERATIONS
        || params.parallelism > MAX_PARALLELISM
    {
        return Err(KeystoreError::Params(format!(
            "{params:?} is beyond what Accord will spend"
        )));
    }
    let argon_params = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(32),
    )
    .map_err(|err| KeystoreError::Params(err.to_string()))?;
    let argon = Argon2::new(Algorithm::Argon2id, argon2::Version::V0x13, argon_params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase, salt, key.as_mut())
        .map_err(|err| KeystoreError::Params(err.to_string()))?;
    Ok(key)
}

fn associated_data(key_type: &str, public_key: &str, kdf: &Kdf) -> Vec<u8> {
    format!(
        "accord-keystore-v1\n{key_type}\n{public_key}\n{}\n{}\n{}\n{}\n{}",
        kdf.name, kdf.params.memory_kib, kdf.params.iterations, kdf.params.parallelism, kdf.salt
    )
    .into_bytes()
}

impl Keystore {
    /// Encrypts `secret` (which must rebuild `key_type` keys) under `passphrase`, with the given
    /// random salt (16 bytes) and nonce (24 bytes).
    pub fn seal_with(
        secret: &Secret,
        key_type: KeyType,
        passphrase: &[u8],
        params: KdfParams,
        salt: [u8; 16],
        nonce: [u8; 24],
    ) -> Result<Keystore, KeystoreError> {
        let public_key = secret.key_pair(key_type)?.public_key().to_base58();
        let kdf = Kdf {
            name: "argon2id".into(),
            params,
            salt: BASE64.encode(salt),
        };
        let key = stretch(passphrase, &salt, params)?;
        let plaintext = Zeroizing::new(
            serde_json::to_vec(secret).map_err(|err| KeystoreError::Json(err.to_string()))?,
        );
        let aad = associated_data(key_type.name(), &public_key, &kdf);
        let ciphertext = XChaCha20Poly1305::new((&*key).into())
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| KeystoreError::Decrypt)?;
        Ok(Keystore {
            accord_keystore: VERSION,
            key_type: key_type.name().into(),
            public_key,
            kdf,
            cipher: Cipher {
                name: "xchacha20poly1305".into(),
                nonce: BASE64.encode(nonce),
            },
            ciphertext: BASE64.encode(ciphertext),
        })
    }

    /// Encrypts `secret` under `passphrase` with fresh random salt and nonce.
    pub fn seal(
        secret: &Secret,
        key_type: KeyType,
        passphrase: &[u8],
        params: KdfParams,
    ) -> Result<Keystore, KeystoreError> {
        let mut salt = [0u8; 16];
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut salt)
            .and_then(|()| getrandom::fill(&mut nonce))
            .map_err(|err| KeystoreError::Params(format!("no randomness: {err}")))?;
        Self::seal_with(secret, key_type, passphrase, params, salt, nonce)
    }

    /// A new ed25519 key from a fresh 15-word seed phrase (nonce 0, the reference client's
    /// default), sealed under `passphrase`: the key, its secret and the keystore.
    pub fn new_ed25519(
        passphrase: &[u8],
        params: KdfParams,
    ) -> Result<(KeyPair, Secret, Keystore), KeystoreError> {
        let phrase = crate::SeedPhrase::generate(15)
            .map_err(|err| KeystoreError::Params(format!("no randomness: {err}")))?;
        let pair = KeyPair::from_seed_phrase(phrase.as_str(), 0);
        let secret = Secret::SeedPhrase {
            phrase: phrase.as_str().to_owned(),
            nonce: 0,
            path: None,
        };
        let store = Self::seal(&secret, KeyType::Ed25519, passphrase, params)?;
        Ok((pair, secret, store))
    }

    /// Reads a keystore file's JSON (without opening it).
    pub fn from_json(json: &[u8]) -> Result<Keystore, KeystoreError> {
        let keystore: Keystore =
            serde_json::from_slice(json).map_err(|err| KeystoreError::Json(err.to_string()))?;
        if keystore.accord_keystore != VERSION {
            return Err(KeystoreError::Version(keystore.accord_keystore));
        }
        Ok(keystore)
    }

    /// The keystore as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|err| unreachable!("a keystore serializes: {err}"))
    }

    /// The key type, as named in the header.
    pub fn key_type(&self) -> Result<KeyType, KeystoreError> {
        self.key_type.parse().map_err(KeystoreError::Key)
    }

    /// The public key, as named in the header (not checked until the keystore is opened).
    pub fn public_key(&self) -> Result<PublicKey, KeystoreError> {
        PublicKey::from_base58(self.key_type()?, &self.public_key).map_err(KeystoreError::Key)
    }

    /// Decrypts the secret with `passphrase` and rebuilds the key pair, checking it is the one
    /// the header names.
    pub fn open(&self, passphrase: &[u8]) -> Result<(KeyPair, Secret), KeystoreError> {
        if self.kdf.name != "argon2id" {
            return Err(KeystoreError::Algorithm {
                what: "kdf",
                name: self.kdf.name.clone(),
            });
        }
        if self.cipher.name != "xchacha20poly1305" {
            return Err(KeystoreError::Algorithm {
                what: "cipher",
                name: self.cipher.name.clone(),
            });
        }
        let key_type = self.key_type()?;
        let field = |field: &'static str, reason: String| KeystoreError::Field { field, reason };
        let salt = BASE64
            .decode(&self.kdf.salt)
            .map_err(|err| field("kdf.salt", err.to_string()))?;
        let nonce: [u8; 24] = BASE64
            .decode(&self.cipher.nonce)
            .map_err(|err| field("cipher.nonce", err.to_string()))?
            .try_into()
            .map_err(|bytes: Vec<u8>| {
                field(
                    "cipher.nonce",
                    format!("{} bytes, expected 24", bytes.len()),
                )
            })?;
        let ciphertext = BASE64
            .decode(&self.ciphertext)
            .map_err(|err| field("ciphertext", err.to_string()))?;
        let key = stretch(passphrase, &salt, self.kdf.params)?;
        let aad = associated_data(&self.key_type, &self.public_key, &self.kdf);
        let plaintext = Zeroizing::new(
            XChaCha20Poly1305::new((&*key).into())
                .decrypt(
                    &XNonce::from(nonce),
                    Payload {
                        msg: &ciphertext,
                        aad: &aad,
                    },
                )
                .map_err(|_| KeystoreError::Decrypt)?,
        );
        let secret: Secret = serde_json::from_slice(&plaintext)
            .map_err(|err| KeystoreError::Json(err.to_string()))?;
        let pair = secret.key_pair(key_type)?;
        if pair.public_key().to_base58() != self.public_key {
            return Err(KeystoreError::KeyMismatch);
        }
        Ok((pair, secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_ed25519_keystore_opens_to_its_key() {
        let (pair, secret, store) = Keystore::new_ed25519(b"pass", cheap()).unwrap();
        let (opened, opened_secret) = store.open(b"pass").unwrap();
        assert_eq!(opened.public_key(), pair.public_key());
        assert!(matches!(
            (&secret, &opened_secret),
            (Secret::SeedPhrase { phrase: a, nonce: 0, .. }, Secret::SeedPhrase { phrase: b, .. }) if a == b && a.split(' ').count() == 15
        ));
        let (other, _, _) = Keystore::new_ed25519(b"pass", cheap()).unwrap();
        assert_ne!(other.public_key(), pair.public_key());
    }

    fn cheap() -> KdfParams {
        KdfParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn phrase(text: &str) -> Secret {
        Secret::SeedPhrase {
            phrase: text.into(),
            nonce: 0,
            path: None,
        }
    }

    #[test]
    fn opens_with_the_passphrase_only() {
        let store = Keystore::seal(&phrase("test"), KeyType::Ed25519, b"pass", cheap()).unwrap();
        let read = Keystore::from_json(store.to_json().as_bytes()).unwrap();
        let (pair, secret) = read.open(b"pass").unwrap();
        assert_eq!(
            pair.public_key().to_base58(),
            "2KduZAmAKuXEL463udjCQkVfwJkBQhpciUC4gNiayjSJ"
        );
        assert!(secret == phrase("test"));
        assert!(matches!(read.open(b"wrong"), Err(KeystoreError::Decrypt)));
        assert!(!store.to_json().contains("test\""));
    }

    #[test]
    fn every_header_field_is_bound() {
        let store = Keystore::seal(&phrase("test"), KeyType::Ed25519, b"pass", cheap()).unwrap();
        let json: serde_json::Value = serde_json::from_str(&store.to_json()).unwrap();
        let other = KeyPair::from_seed_phrase("other", 0)
            .public_key()
            .to_base58();
        for (path, value) in [
            ("/publicKey", serde_json::Value::from(other)),
            ("/kdf/iterations", 2.into()),
            ("/kdf/salt", BASE64.encode([1u8; 16]).into()),
        ] {
            let mut changed = json.clone();
            *changed.pointer_mut(path).unwrap() = value;
            let store = Keystore::from_json(changed.to_string().as_bytes()).unwrap();
            assert!(
                matches!(store.open(b"pass"), Err(KeystoreError::Decrypt)),
                "{path}"
            );
        }
    }

    #[test]
    fn ecdsa_keys_keep_their_private_key() {
        let pair = KeyPair::from_private_key(KeyType::Secp256r1, &[3u8; 32]).unwrap();
        let secret = Secret::PrivateKey(base58::encode(&pair.private_key_bytes()));
        let store = Keystore::seal(&secret, KeyType::Secp256r1, b"p", cheap()).unwrap();
        let (opened, _) = store.open(b"p").unwrap();
        assert_eq!(opened.public_key(), pair.public_key());
    }

    #[test]
    fn absurd_parameters_are_refused_before_any_work() {
        let mut store = Keystore::seal(&phrase("x"), KeyType::Ed25519, b"p", cheap()).unwrap();
        store.kdf.params.memory_kib = u32::MAX;
        assert!(matches!(store.open(b"p"), Err(KeystoreError::Params(_))));
    }
}
