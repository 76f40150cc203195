//! ed25519 verification by Accord's rule, for one signature or many at once.
//!
//! # The rule
//!
//! A signature `R ‖ s` by public key `A` over message `M` is valid when
//!
//! 1. `A` and `R` are canonical encodings of curve points (`y < p`, and no "negative zero"),
//!    and `A` is not of small order (a small-order key "signs" every message);
//! 2. `s < ℓ` (RFC 8032 §5.1.7, which rules out the `s + ℓ` malleation);
//! 3. `[8]([s]B − R − [k]A) = 0` with `k = SHA-512(R ‖ A ‖ M) mod ℓ`: the cofactored equation,
//!    which RFC 8032 gives as the check.
//!
//! The cofactored equation is what makes batching exact: a random linear combination of many
//! cofactored equations holds (up to a 2⁻¹²⁸ chance) exactly when each does, so the batch and
//! the one-at-a-time answer never differ, however the events of a chain are grouped into
//! batches. With the cofactorless equation they can differ for a signature whose error is a
//! small-torsion point, and two nodes could then disagree about the same chain.
//!
//! The reference client (tweetnacl) checks the cofactorless equation and does not check
//! `s < ℓ`. Honest signers never produce a signature on which the two rules disagree; the
//! differences are listed in `docs/design/signatures.md`.
//!
//! # Batches
//!
//! [`verify_batch`] checks `[8](Σ zᵢ(sᵢB − Rᵢ − kᵢAᵢ)) = 0` with 128-bit `zᵢ` drawn from a hash of
//! every input (so the answer is deterministic and cannot be steered without breaking
//! SHA-512), grouping the terms of each distinct key into one. Where a batch fails, its
//! signatures are checked one by one to find the bad ones.

use std::collections::HashMap;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use sha2::{Digest, Sha512};

use crate::keys::Signature;

/// How many signatures one multi-scalar multiplication checks. Larger batches are cheaper per
/// signature, and make finding a bad signature, one by one, dearer.
const BATCH: usize = 256;

/// Decodes a public key by the rule: canonical, and not of small order.
pub(crate) fn decode_public_key(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
    let point = decode_point(bytes)?;
    (!point.is_small_order()).then_some(point)
}

/// Whether `bytes` is the canonical encoding of a field element `y < p = 2²⁵⁵ − 19`, without a
/// sign bit on a point whose `x` is zero (`y = ±1`).
fn is_canonical(bytes: &[u8; 32]) -> bool {
    let high = bytes[31] & 0x7f;
    let y_at_least_p =
        high == 0x7f && bytes[1..31].iter().all(|&byte| byte == 0xff) && bytes[0] >= 0xed;
    if y_at_least_p {
        return false;
    }
    let sign = bytes[31] & 0x80 != 0;
    if sign {
        let middle_zero = bytes[1..31].iter().all(|&byte| byte == 0);
        let middle_ones = bytes[1..31].iter().all(|&byte| byte == 0xff);
        let y_is_one = bytes[0] == 1 && middle_zero && high == 0;
        let y_is_minus_one = bytes[0] == 0xec && middle_ones && high == 0x7f;
        if y_is_one || y_is_minus_one {
            return false;
        }
    }
    true
}

fn decode_point(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
    if !is_canonical(bytes) {
        return None;
    }
    CompressedEdwardsY(*bytes).decompress()
}

/// One signature's parts, decoded and hashed.
struct Prepared {
    r_bytes: [u8; 32],
    r: EdwardsPoint,
    s: Scalar,
    k: Scalar,
}

fn prepare(public_key: &[u8; 32], message: &[u8], signature: &Signature) -> Option<Prepared> {
    let bytes = signature.as_bytes();
    let mut r_bytes = [0u8; 32];
    r_bytes.copy_from_slice(&bytes[..32]);
    let mut s_bytes = [0u8; 32];
    s_bytes.copy_from_slice(&bytes[32..]);
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))?;
    let r = decode_point(&r_bytes)?;
    let mut hasher = Sha512::new();
    hasher.update(r_bytes);
    hasher.update(public_key);
    hasher.update(message);
    let k = Scalar::from_hash(hasher);
    Some(Prepared { r_bytes, r, s, k })
}

fn check_one(a: &EdwardsPoint, p: &Prepared) -> bool {
    // [s]B − [k]A, then subtract R and clear the cofactor.
    let sb_minus_ka = EdwardsPoint::vartime_double_scalar_mul_basepoint(&p.k, &-a, &p.s);
    (sb_minus_ka - p.r).mul_by_cofactor().is_identity()
}

/// Verifies one signature by the rule in the module documentation.
pub fn verify(public_key: &[u8; 32], message: &[u8], signature: &Signature) -> bool {
    let Some(a) = decode_public_key(public_key) else {
        return false;
    };
    prepare(public_key, message, signature).is_some_and(|p| check_one(&a, &p))
}

/// One signature to check in a batch.
#[derive(Clone, Copy, Debug)]
pub struct BatchItem<'a> {
    /// The signer's ed25519 public key.
    pub public_key: &'a [u8; 32],
    /// The signed message.
    pub message: &'a [u8],
    /// The signature.
    pub signature: &'a Signature,
}

/// Verifies many signatures and returns the indices (into `items`, ascending) of those that
/// are not valid. Gives the same answer as calling [`verify`] on each item.
pub fn verify_batch(items: &[BatchItem<'_>]) -> Vec<usize> {
    let mut failed = Vec::new();
    // Chains have few signers and many events: decode each key once.
    let mut keys: HashMap<[u8; 32], Option<EdwardsPoint>> = HashMap::new();
    let mut chunk: Vec<(usize, EdwardsPoint, [u8; 32], Prepared)> = Vec::with_capacity(BATCH);

    for (index, item) in items.iter().enumerate() {
        let point = *keys
            .entry(*item.public_key)
            .or_insert_with(|| decode_public_key(item.public_key));
        let prepared = point
            .and_then(|a| prepare(item.public_key, item.message, item.signature).map(|p| (a, p)));
        match prepared {
            Some((a, p)) => chunk.push((index, a, *item.public_key, p)),
            None => failed.push(index),
        }
        if chunk.len() == BATCH {
            check_chunk(&chunk, &mut failed);
            chunk.clear();
        }
    }
    check_chunk(&chunk, &mut failed);
    failed.sort_unstable();
    failed
}

fn check_chunk(chunk: &[(usize, EdwardsPoint, [u8; 32], Prepared)], failed: &mut Vec<usize>) {
    match chunk {
        [] => {}
        [(index, a, _, p)] => {
            if !check_one(a, p) {
                failed.push(*index);
            }
        }
        _ => {
            if !batch_holds(chunk) {
                for (index, a, _, p) in chunk {
                    if !check_one(a, p) {
                        failed.push(*index);
                    }
                }
            }
        }
    }
}

fn batch_holds(chunk: &[(usize, EdwardsPoint, [u8; 32], Prepared)]) -> bool {
    let zs = weights(chunk);

    let mut b_coefficient = Scalar::ZERO;
    let mut scalars: Vec<Scalar> = Vec::with_capacity(chunk.len() + 8);
    let mut points: Vec<EdwardsPoint> = Vec::with_capacity(chunk.len() + 8);
    // One term per distinct key: Σ over its signatures of zᵢkᵢ.
    let mut key_terms: Vec<([u8; 32], EdwardsPoint, Scalar)> = Vec::new();

    for ((_, a, a_bytes, p), z) in chunk.iter().zip(&zs) {
        b_coefficient += z * p.s;
        scalars.push(-z);
        points.push(p.r);
        let zk = z * p.k;
        match key_terms.iter_mut().find(|(bytes, _, _)| bytes == a_bytes) {
            Some((_, _, sum)) => *sum += zk,
            None => key_terms.push((*a_bytes, *a, zk)),
        }
    }
    for (_, a, sum) in key_terms {
        scalars.push(-sum);
        points.push(a);
    }
    scalars.push(b_coefficient);
    points.push(ED25519_BASEPOINT_POINT);

    EdwardsPoint::vartime_multiscalar_mul(scalars, points)
        .mul_by_cofactor()
        .is_identity()
}

/// The 128-bit weights zᵢ, from SHA-512 over every signature's `k` and `s` (which between them
/// bind `R`, `A`, the message and `s`), four weights per further hash.
fn weights(chunk: &[(usize, EdwardsPoint, [u8; 32], Prepared)]) -> Vec<Scalar> {
    let mut transcript = Sha512::new();
    transcript.update(b"accord ed25519 batch v1");
    for (_, _, a_bytes, p) in chunk {
        transcript.update(a_bytes);
        transcript.update(p.r_bytes);
        transcript.update(p.k.as_bytes());
        transcript.update(p.s.as_bytes());
    }
    let seed = transcript.finalize();

    let mut zs = Vec::with_capacity(chunk.len());
    let mut counter: u64 = 0;
    while zs.len() < chunk.len() {
        let block = Sha512::new()
            .chain_update(seed)
            .chain_update(counter.to_le_bytes())
            .finalize();
        counter += 1;
        for part in block.chunks_exact(16) {
            if zs.len() == chunk.len() {
                break;
            }
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(part);
            zs.push(Scalar::from(u128::from_le_bytes(bytes)));
        }
    }
    zs
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::EIGHT_TORSION;

    fn keypair(n: u8) -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&[n; 32])
    }

    fn sign(key: &ed25519_dalek::SigningKey, message: &[u8]) -> Signature {
        use ed25519_dalek::Signer;
        Signature::new(key.sign(message).to_bytes())
    }

    /// A signature by `key` whose `R` carries a torsion component `t`: the cofactorless
    /// equation fails (its error is −t), the cofactored one holds.
    fn torsion_signature(key: &ed25519_dalek::SigningKey, message: &[u8], t: usize) -> Signature {
        let a = key.verifying_key().to_bytes();
        let secret = Scalar::from_bytes_mod_order(clamp(key.to_scalar_bytes()));
        let nonce = Scalar::from_bytes_mod_order([42u8; 32]);
        let r = ED25519_BASEPOINT_POINT * nonce + EIGHT_TORSION[t];
        let r_bytes = r.compress().to_bytes();
        let k = Scalar::from_hash(
            Sha512::new()
                .chain_update(r_bytes)
                .chain_update(a)
                .chain_update(message),
        );
        let s = nonce + k * secret;
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(&r_bytes);
        bytes[32..].copy_from_slice(s.as_bytes());
        Signature::new(bytes)
    }

    fn clamp(mut bytes: [u8; 32]) -> [u8; 32] {
        bytes[0] &= 248;
        bytes[31] &= 127;
        bytes[31] |= 64;
        bytes
    }

    #[test]
    fn honest_signatures_verify_alone_and_in_batches() {
        let keys: Vec<_> = (1..=3).map(keypair).collect();
        let messages: Vec<Vec<u8>> = (0..700u32)
            .map(|i| i.to_be_bytes().repeat(i as usize % 7))
            .collect();
        let sigs: Vec<Signature> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| sign(&keys[i % 3], m))
            .collect();
        let pks: Vec<[u8; 32]> = keys.iter().map(|k| k.verifying_key().to_bytes()).collect();
        let items: Vec<BatchItem<'_>> = messages
            .iter()
            .zip(&sigs)
            .enumerate()
            .map(|(i, (m, s))| BatchItem {
                public_key: &pks[i % 3],
                message: m,
                signature: s,
            })
            .collect();
        assert!(
            items
                .iter()
                .all(|item| verify(item.public_key, item.message, item.signature))
        );
        assert_eq!(verify_batch(&items), Vec::<usize>::new());
    }

    #[test]
    fn a_batch_names_exactly_the_bad_signatures() {
        let key = keypair(9);
        let pk = key.verifying_key().to_bytes();
        let messages: Vec<Vec<u8>> = (0..600u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let mut sigs: Vec<Signature> = messages.iter().map(|m| sign(&key, m)).collect();
        for bad in [3usize, 300, 599] {
            let mut bytes = *sigs[bad].as_bytes();
            bytes[40] ^= 1;
            sigs[bad] = Signature::new(bytes);
        }
        let items: Vec<BatchItem<'_>> = messages
            .iter()
            .zip(&sigs)
            .map(|(m, s)| BatchItem {
                public_key: &pk,
                message: m,
                signature: s,
            })
            .collect();
        assert_eq!(verify_batch(&items), vec![3, 300, 599]);
    }

    #[test]
    fn torsion_in_r_is_judged_alike_alone_and_in_every_batch() {
        // The case where cofactorless batches and single checks disagree: both of Accord's
        // paths accept it, whichever batch it lands in; the cofactorless check rejects it.
        let key = keypair(5);
        let pk = key.verifying_key().to_bytes();
        for t in 1..8 {
            let message = [t as u8; 10];
            let sig = torsion_signature(&key, &message, t);
            assert!(verify(&pk, &message, &sig), "torsion {t}");
            let dalek = ed25519_dalek::VerifyingKey::from_bytes(&pk).unwrap();
            let dalek_sig = ed25519_dalek::Signature::from_bytes(sig.as_bytes());
            assert!(dalek.verify_strict(&message, &dalek_sig).is_err());

            let honest: Vec<([u8; 4], Signature)> = (0..t as u32 * 3)
                .map(|i| (i.to_be_bytes(), sign(&key, &i.to_be_bytes())))
                .collect();
            let mut items: Vec<BatchItem<'_>> = honest
                .iter()
                .map(|(m, s)| BatchItem {
                    public_key: &pk,
                    message: m,
                    signature: s,
                })
                .collect();
            items.push(BatchItem {
                public_key: &pk,
                message: &message,
                signature: &sig,
            });
            assert_eq!(verify_batch(&items), Vec::<usize>::new(), "torsion {t}");
        }
    }

    #[test]
    fn malleated_s_and_non_canonical_points_are_rejected() {
        let key = keypair(7);
        let pk = key.verifying_key().to_bytes();
        let message = b"accord";
        let sig = sign(&key, message);
        assert!(verify(&pk, message, &sig));

        // s + ℓ: the same point equation, but s is not reduced.
        let s = Scalar::from_canonical_bytes(sig.as_bytes()[32..].try_into().unwrap()).unwrap();
        let ell: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut sum = [0u8; 32];
        let mut carry = 0u16;
        for i in 0..32 {
            let v = s.as_bytes()[i] as u16 + ell[i] as u16 + carry;
            sum[i] = v as u8;
            carry = v >> 8;
        }
        let mut malleated = *sig.as_bytes();
        malleated[32..].copy_from_slice(&sum);
        assert!(!verify(&pk, message, &Signature::new(malleated)));

        // The identity as a public key, with R = identity and s = 0, "signs" anything.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut universal = [0u8; 64];
        universal[0] = 1;
        assert!(!verify(&identity, message, &Signature::new(universal)));

        // y = p + 1 is a non-canonical encoding of y = 1.
        let mut non_canonical = [0xffu8; 32];
        non_canonical[0] = 0xee;
        non_canonical[31] = 0x7f;
        assert!(!is_canonical(&non_canonical));
        let mut negative_zero = [0u8; 32];
        negative_zero[0] = 1;
        negative_zero[31] = 0x80;
        assert!(!is_canonical(&negative_zero));
        assert!(is_canonical(&pk));
    }
}
