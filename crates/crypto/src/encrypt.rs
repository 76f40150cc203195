//! Encrypting a payload to an identity: libsodium's sealed box, as the reference client's
//! `account.encrypt` / `account.decrypt` use it.
//!
//! `seal(m, pk) = epk ‖ XSalsa20-Poly1305(key = X25519(esk, pk) through HSalsa20,
//! nonce = BLAKE2b-192(epk ‖ pk), m)`, where `(esk, epk)` is a fresh X25519 key pair and `pk`
//! the recipient's X25519 key (the Montgomery form of their ed25519 key). The output is 48
//! bytes longer than the payload. `docs/design/encryption.md` gives the construction and its
//! invariants.

use blake2::Blake2b;
use blake2::digest::Digest;
use blake2::digest::consts::U24;
use crypto_box::aead::Aead;
use crypto_box::aead::generic_array::GenericArray;
use thiserror::Error;
use zeroize::Zeroizing;

use crate::keys::KeyPair;

/// Bytes a sealed box adds to its payload: the ephemeral public key and the Poly1305 tag.
pub const SEAL_OVERHEAD: usize = 32 + 16;

/// Why a payload could not be encrypted or decrypted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncryptError {
    /// Only ed25519 identities have an X25519 encryption key.
    #[error("only ed25519 keys have an encryption key")]
    NotEd25519,
    /// The recipient key is of small order: every box to it would have an all-zero shared
    /// secret, readable by anyone.
    #[error(
        "the recipient's encryption key is of small order: a box to it would be readable by anyone"
    )]
    BadRecipient,
    /// Shorter than a sealed box can be.
    #[error("ciphertext is {0} bytes, shorter than the 48 bytes of an empty sealed box")]
    TooShort(usize),
    /// The tag does not verify: the ciphertext was changed, or is for another key.
    #[error("cannot decrypt: the ciphertext was altered or is for another key")]
    Decrypt,
    /// The operating system's random source failed.
    #[error("no randomness available: {0}")]
    Random(String),
}

/// Whether X25519 between `secret` and `public` is contributory: a small-order `public` gives
/// an all-zero shared secret for every `secret`, so the box key would be a public constant.
/// libsodium refuses such keys; so does Accord, on both sides.
fn contributory(secret: &[u8; 32], public: &[u8; 32]) -> bool {
    let shared = curve25519_dalek::MontgomeryPoint(*public).mul_clamped(*secret);
    shared.to_bytes() != [0u8; 32]
}

fn seal_nonce(ephemeral_public: &[u8; 32], recipient: &[u8; 32]) -> [u8; 24] {
    Blake2b::<U24>::new()
        .chain_update(ephemeral_public)
        .chain_update(recipient)
        .finalize()
        .into()
}

/// Seals `plaintext` to the X25519 key `recipient` with the given ephemeral secret, which must
/// be fresh random bytes used for nothing else. Deterministic, for tests and vectors; use
/// [`seal`] otherwise.
pub fn seal_with(
    recipient: &[u8; 32],
    plaintext: &[u8],
    ephemeral_secret: &[u8; 32],
) -> Result<Vec<u8>, EncryptError> {
    if !contributory(ephemeral_secret, recipient) {
        return Err(EncryptError::BadRecipient);
    }
    let secret = crypto_box::SecretKey::from(*ephemeral_secret);
    let ephemeral_public = *secret.public_key().as_bytes();
    let public = crypto_box::PublicKey::from(*recipient);
    let nonce = seal_nonce(&ephemeral_public, recipient);
    let sealed = crypto_box::SalsaBox::new(&public, &secret)
        .encrypt(GenericArray::from_slice(&nonce), plaintext)
        .map_err(|_| EncryptError::BadRecipient)?;
    let mut out = Vec::with_capacity(32 + sealed.len());
    out.extend_from_slice(&ephemeral_public);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Seals `plaintext` to the X25519 key `recipient`, with a fresh ephemeral key from the
/// operating system's random source.
pub fn seal(recipient: &[u8; 32], plaintext: &[u8]) -> Result<Vec<u8>, EncryptError> {
    let mut ephemeral = Zeroizing::new([0u8; 32]);
    getrandom::fill(ephemeral.as_mut()).map_err(|err| EncryptError::Random(err.to_string()))?;
    seal_with(recipient, plaintext, &ephemeral)
}

/// Opens a sealed box addressed to `keys` (an ed25519 key pair, whose X25519 form is used).
pub fn open(keys: &KeyPair, ciphertext: &[u8]) -> Result<Vec<u8>, EncryptError> {
    let (Some(secret), Some(own_public)) = (keys.x25519_secret(), keys.x25519_public()) else {
        return Err(EncryptError::NotEd25519);
    };
    if ciphertext.len() < SEAL_OVERHEAD {
        return Err(EncryptError::TooShort(ciphertext.len()));
    }
    let (ephemeral, sealed) = ciphertext.split_at(32);
    let mut ephemeral_public = [0u8; 32];
    ephemeral_public.copy_from_slice(ephemeral);
    if !contributory(&secret, &ephemeral_public) {
        return Err(EncryptError::Decrypt);
    }
    let nonce = seal_nonce(&ephemeral_public, &own_public);
    let secret = crypto_box::SecretKey::from(*secret);
    crypto_box::SalsaBox::new(&crypto_box::PublicKey::from(ephemeral_public), &secret)
        .decrypt(GenericArray::from_slice(&nonce), sealed)
        .map_err(|_| EncryptError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_x25519_secret_matches_the_x25519_public_key() {
        let keys = KeyPair::from_seed_phrase("test", 0);
        let secret = crypto_box::SecretKey::from(*keys.x25519_secret().unwrap());
        assert_eq!(
            secret.public_key().as_bytes(),
            &keys.x25519_public().unwrap()
        );
    }

    #[test]
    fn sealed_boxes_open_for_their_recipient_only() {
        let alice = KeyPair::from_seed_phrase("alice", 0);
        let bob = KeyPair::from_seed_phrase("bob", 0);
        let sealed = seal(&alice.x25519_public().unwrap(), b"for alice").unwrap();
        assert_eq!(sealed.len(), 9 + SEAL_OVERHEAD);
        assert_eq!(open(&alice, &sealed).unwrap(), b"for alice");
        assert_eq!(open(&bob, &sealed), Err(EncryptError::Decrypt));
        let mut altered = sealed.clone();
        altered[40] ^= 1;
        assert_eq!(open(&alice, &altered), Err(EncryptError::Decrypt));
        assert_eq!(open(&alice, &sealed[..47]), Err(EncryptError::TooShort(47)));
    }

    #[test]
    fn small_order_keys_are_refused_both_ways() {
        // u = 0 and u = 1 are of small order; X25519 with them is all zeros whatever the secret.
        for u in [[0u8; 32], {
            let mut one = [0u8; 32];
            one[0] = 1;
            one
        }] {
            assert_eq!(seal(&u, b"secret"), Err(EncryptError::BadRecipient));
            let alice = KeyPair::from_seed_phrase("alice", 0);
            let mut forged = u.to_vec();
            forged.extend_from_slice(&[0u8; 16]);
            assert_eq!(open(&alice, &forged), Err(EncryptError::Decrypt));
        }
    }

    #[test]
    fn the_nonce_is_blake2b_192_of_both_public_keys() {
        // Recompute one box by hand from the construction, independent of `seal_with`'s code
        // path for the nonce, so a change in either shows.
        let alice = KeyPair::from_seed_phrase("alice", 0);
        let pk = alice.x25519_public().unwrap();
        let esk = [3u8; 32];
        let sealed = seal_with(&pk, b"x", &esk).unwrap();
        let epk = *crypto_box::SecretKey::from(esk).public_key().as_bytes();
        assert_eq!(&sealed[..32], &epk);
        let mut h = Blake2b::<U24>::new();
        h.update(epk);
        h.update(pk);
        let nonce: [u8; 24] = h.finalize().into();
        let inner = crypto_box::SalsaBox::new(
            &crypto_box::PublicKey::from(pk),
            &crypto_box::SecretKey::from(esk),
        )
        .encrypt(GenericArray::from_slice(&nonce), &b"x"[..])
        .unwrap();
        assert_eq!(&sealed[32..], &inner[..]);
    }
}
