//! The three hashes of the LTO formats.
//!
//! `secure_hash` is SHA-256 *of* BLAKE2b-256 (one of LTO's own API documents has the order
//! backwards; the reference code and its vectors have it this way round).

use blake2::Blake2b256;
use sha2::{Digest, Sha256};

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// SHA-256 over several slices, as if they were concatenated.
pub fn sha256_concat(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// BLAKE2b with a 32-byte output (LTO's `fastHash`).
pub fn blake2b256(data: &[u8]) -> [u8; 32] {
    Blake2b256::digest(data).into()
}

/// LTO's `secureHash`: `SHA-256(BLAKE2b-256(data))`.
pub fn secure_hash(data: &[u8]) -> [u8; 32] {
    sha256(&blake2b256(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_inputs_match_the_published_digests() {
        assert_eq!(
            hex::encode(sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex::encode(blake2b256(b"")),
            "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"
        );
        assert_eq!(secure_hash(b"abc"), sha256(&blake2b256(b"abc")));
        assert_eq!(sha256_concat(&[b"ab", b"c"]), sha256(b"abc"));
    }
}
