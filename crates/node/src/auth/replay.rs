//! A signature is good once: the signatures of a request that changes something are recorded
//! in the store (`seen_signatures`) when the node carries it out, until they can no longer pass
//! the time checks, and a request carrying one recorded already is refused. This module names
//! a signature as the store records it.

use sha2::{Digest as _, Sha256};

/// A signature as the store records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignatureId {
    /// The first 16 bytes of the SHA-256 of the signature's bytes.
    pub digest: [u8; 16],
    /// The last second (Unix time) at which the signature passes the time checks; it is
    /// remembered until then.
    pub until: i64,
}

impl SignatureId {
    /// The id of a verified signature, good until `until`.
    pub fn of(signature: &[u8], until: i64) -> SignatureId {
        let hash = Sha256::digest(signature);
        let mut digest = [0u8; 16];
        digest.copy_from_slice(&hash[..16]);
        SignatureId { digest, until }
    }

    /// Milliseconds since the epoch until which the store keeps the signature (the end of
    /// its last second).
    pub fn until_ms(&self) -> u64 {
        u64::try_from(self.until)
            .unwrap_or(0)
            .saturating_mul(1000)
            .saturating_add(999)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_named_by_its_digest_and_kept_to_the_end_of_its_last_second() {
        let a = SignatureId::of(&[1; 64], 7);
        assert_eq!(a.until_ms(), 7_999);
        assert_eq!(a.digest, SignatureId::of(&[1; 64], 9).digest);
        assert_ne!(a.digest, SignatureId::of(&[2; 64], 7).digest);
        assert_eq!(SignatureId::of(&[1; 64], -5).until_ms(), 999);
    }
}
