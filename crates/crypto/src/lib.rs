//! Keys, signatures, hashes, addresses and encryption in the LTO Network formats.
//!
//! A tour:
//! - [`hash`]: SHA-256, BLAKE2b-256 and LTO's `secureHash` (SHA-256 of BLAKE2b-256).
//! - [`base58`]: the Bitcoin alphabet, with errors that name the bad character and where.
//! - [`calendar`]: the proleptic Gregorian calendar on day counts, the one calendar of the
//!   scenarios' date formats, the engine's durations and the HTTP dates of request signatures.
//!   It is here, with base58, because this is the crate all of them depend on.
//! - [`KeyType`], [`PublicKey`], [`Signature`], [`KeyPair`]: ed25519, secp256k1 and
//!   secp256r1 keys. A `KeyPair` comes from an LTO seed phrase (ed25519), a BIP-39 mnemonic
//!   (secp256k1) or private key bytes; it is zeroized on drop and its `Debug` hides the secret.
//! - [`ed25519`]: Accord's ed25519 verification rule, and batch verification that gives the
//!   same answers as checking one signature at a time.
//! - [`verify_all`]: checks many signatures of any key types at once, batching the ed25519 ones.
//! - [`Address`]: `0x01 ‖ network ‖ hash ‖ checksum`, for any network byte.
//! - [`SeedPhrase`]: new 15-word phrases as the reference client makes them.
//! - [`encrypt`]: sealed boxes to an identity's X25519 key, which the reference client opens.
//! - [`keystore`]: a key's secret encrypted with a passphrase (Argon2id, XChaCha20-Poly1305).
//!
//! This crate does no I/O. The only outside input it takes by itself is randomness, in the
//! functions that say so (`generate`, `seal`); each has a twin that takes the random bytes.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod address;
pub mod base58;
pub mod calendar;
pub mod ed25519;
pub mod encrypt;
pub mod hash;
pub mod keys;
pub mod keystore;
pub mod seed;

pub use address::{Address, AddressError};
pub use base58::Base58Error;
pub use keys::{DEFAULT_DERIVATION_PATH, KeyError, KeyPair, KeyType, PublicKey, Signature};
pub use seed::SeedPhrase;

/// One signature to check with [`verify_all`].
#[derive(Clone, Copy, Debug)]
pub struct SignatureCheck<'a> {
    /// The signer's public key.
    pub public_key: &'a PublicKey,
    /// The signed message.
    pub message: &'a [u8],
    /// The signature.
    pub signature: &'a Signature,
}

/// Checks many signatures and returns the indices (ascending) of those that are not valid.
/// ed25519 signatures are verified in batches; the ECDSA ones one at a time. The answer is the
/// same as calling [`PublicKey::verify`] on each.
pub fn verify_all(checks: &[SignatureCheck<'_>]) -> Vec<usize> {
    let mut ed_keys: Vec<[u8; 32]> = Vec::new();
    let mut ed_index: Vec<usize> = Vec::new();
    let mut failed = Vec::new();
    for (index, check) in checks.iter().enumerate() {
        if check.public_key.key_type() == KeyType::Ed25519 {
            ed_keys.push(check.public_key.ed25519_bytes());
            ed_index.push(index);
        } else if !check.public_key.verify(check.message, check.signature) {
            failed.push(index);
        }
    }
    let items: Vec<ed25519::BatchItem<'_>> = ed_index
        .iter()
        .zip(&ed_keys)
        .map(|(&index, key)| ed25519::BatchItem {
            public_key: key,
            message: checks[index].message,
            signature: checks[index].signature,
        })
        .collect();
    failed.extend(
        ed25519::verify_batch(&items)
            .into_iter()
            .map(|position| ed_index[position]),
    );
    failed.sort_unstable();
    failed
}
