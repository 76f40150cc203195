//! The vectors of docs/protocol/lto-formats.md §1, and the reference client's own.

use accord_crypto::{Address, KeyPair, KeyType, PublicKey, base58, hash};

fn check_seed(phrase: &str, public_key: &str, addresses: &[(u8, &str)]) {
    let keys = KeyPair::from_seed_phrase(phrase, 0);
    assert_eq!(keys.public_key().to_base58(), public_key, "seed {phrase:?}");
    for (network, address) in addresses {
        assert_eq!(
            keys.address(*network).to_base58(),
            *address,
            "seed {phrase:?}"
        );
        let parsed: Address = address.parse().unwrap();
        assert!(parsed.is_of(keys.public_key()));
    }
}

#[test]
fn seed_phrases_give_the_reference_keys_and_addresses() {
    check_seed(
        "test",
        "2KduZAmAKuXEL463udjCQkVfwJkBQhpciUC4gNiayjSJ",
        &[
            (b'T', "3N4mZ1qTrjWKnzBwAxscf7kfkoCs2HGQhJG"),
            (b'L', "3Jr4j8y5Z44cnSipUmWx7EkVTmAoUaXu3Fx"),
        ],
    );
    check_seed("seed", "2od6By8qGe5DLYj7LD9djxVLBWVx5Dsy3P1TMRWdBPX6", &[]);
    check_seed(
        "satisfy sustain shiver skill betray mother appear pupil coconut weasel firm top puzzle monkey seek",
        "3ct1eeZg1ryzz24VHk4CigJxW6Adxh7Syfm459CmGNv2",
        &[(b'T', "3N7RAo9eXFhJEdpPgbhsAFti8s1HDxxXiCW")],
    );
}

#[test]
fn private_and_encryption_keys_match_the_reference() {
    let keys = KeyPair::from_seed_phrase(
        "satisfy sustain shiver skill betray mother appear pupil coconut weasel firm top puzzle monkey seek",
        0,
    );
    assert_eq!(
        base58::encode(&keys.private_key_bytes()),
        "4LqWfpGAhZoKHk2c7MAfuHrrCsvM1Yt5gtjSkKDjgZiFJvkjDRo1Efs4PxMWPuZ39QgveHzqGMCqhNZzSkKuECCW"
    );
    assert_eq!(
        base58::encode(&keys.x25519_public().unwrap()),
        "43UwiXnVsrXZR96euf6B1myQJ7MX2hqJyDEz6Yz7nc4q"
    );
    // The reference's 64-byte private key form reads back to the same pair.
    let again = KeyPair::from_private_key(KeyType::Ed25519, &keys.private_key_bytes()).unwrap();
    assert_eq!(again.public_key(), keys.public_key());
    // The seed `test` has the encryption key the reference client prints for it.
    assert_eq!(
        base58::encode(
            &KeyPair::from_seed_phrase("test", 0)
                .x25519_public()
                .unwrap()
        ),
        "8GNG8pExbCTjQGHPgNRSan3xd4Q2tyY12VUFTQxTjmgJ"
    );
}

#[test]
fn secp256k1_keys_derive_from_bip39_mnemonics_like_the_reference() {
    // Printed by @ltonetwork/lto 0.16.15: `lto.account({keyType: 'secp256k1', seed})`.
    let keys = KeyPair::from_mnemonic(
        "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
        accord_crypto::DEFAULT_DERIVATION_PATH,
    )
    .unwrap();
    assert_eq!(
        keys.public_key().to_base58(),
        "dPzdMBXnErAwptFBMXQ5pqcj26m2WzMxaXTDu7pQu3fj"
    );
    assert_eq!(
        keys.address(b'T').to_base58(),
        "3MsAvWTY5CspXGQN6Na4WrofQHi5rrQhGpZ"
    );
    assert!(KeyPair::from_mnemonic("test", accord_crypto::DEFAULT_DERIVATION_PATH).is_err());
}

#[test]
fn secure_hash_is_sha256_of_blake2b() {
    assert_eq!(
        hash::secure_hash(b"x"),
        hash::sha256(&hash::blake2b256(b"x"))
    );
    assert_ne!(
        hash::secure_hash(b"x"),
        hash::blake2b256(&hash::sha256(b"x"))
    );
}

#[test]
fn every_key_type_signs_and_verifies_and_rejects_a_change() {
    let pairs = [
        KeyPair::from_seed_phrase("test", 0),
        KeyPair::from_private_key(KeyType::Secp256k1, &[7u8; 32]).unwrap(),
        KeyPair::from_private_key(KeyType::Secp256r1, &[7u8; 32]).unwrap(),
    ];
    for keys in &pairs {
        let message = b"an event's binary form";
        let signature = keys.sign(message);
        assert!(keys.public_key().verify(message, &signature), "{keys:?}");
        assert!(
            !keys
                .public_key()
                .verify(b"an event's binary forn", &signature),
            "{keys:?}"
        );
        assert!(keys.public_key().check_point());
        let round =
            PublicKey::from_base58(keys.key_type(), &keys.public_key().to_base58()).unwrap();
        assert_eq!(&round, keys.public_key());
        assert_eq!(
            keys.public_key().as_bytes().len(),
            keys.key_type().public_key_len()
        );
    }
    assert_eq!(pairs[1].public_key().as_bytes().len(), 33);
}

#[test]
fn secp256k1_rejects_high_s_like_libsecp256k1_and_secp256r1_accepts_it() {
    for key_type in [KeyType::Secp256k1, KeyType::Secp256r1] {
        let keys = KeyPair::from_private_key(key_type, &[9u8; 32]).unwrap();
        let message = b"message";
        let signature = keys.sign(message);
        let flipped = negate_s(key_type, signature.as_bytes());
        let accepted = keys
            .public_key()
            .verify(message, &accord_crypto::Signature::new(flipped));
        assert_eq!(accepted, key_type == KeyType::Secp256r1, "{key_type}");
    }
}

/// `(r, n − s)`: the other signature with the same `r`, valid for plain ECDSA.
fn negate_s(key_type: KeyType, sig: &[u8; 64]) -> [u8; 64] {
    let order: [u8; 32] = match key_type {
        KeyType::Secp256k1 => {
            hex_array("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")
        }
        _ => hex_array("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"),
    };
    let mut out = *sig;
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let v = order[i] as i16 - sig[32 + i] as i16 - borrow;
        out[32 + i] = v.rem_euclid(256) as u8;
        borrow = if v < 0 { 1 } else { 0 };
    }
    out
}

fn hex_array(text: &str) -> [u8; 32] {
    hex::decode(text).unwrap().try_into().unwrap()
}

#[test]
fn signatures_are_deterministic() {
    for key_type in KeyType::ALL {
        let keys = KeyPair::from_private_key(key_type, &[5u8; 32]).unwrap();
        assert_eq!(keys.sign(b"m"), keys.sign(b"m"));
    }
}

#[test]
fn secrets_never_reach_debug_output() {
    let keys = KeyPair::from_seed_phrase("test", 0);
    let shown = format!("{keys:?}");
    assert!(shown.contains("2KduZAmAKuXEL463udjCQkVfwJkBQhpciUC4gNiayjSJ"));
    let private = base58::encode(&keys.private_key_bytes());
    assert!(!shown.contains(&private[..20]));
    let phrase = accord_crypto::SeedPhrase::new("very secret words");
    assert!(!format!("{phrase:?}").contains("secret"));
}

#[test]
fn bad_key_input_is_named() {
    assert_eq!(
        "ed448".parse::<KeyType>().unwrap_err().to_string(),
        "unknown key type \"ed448\" (expected ed25519, secp256k1 or secp256r1)"
    );
    assert!(KeyType::from_id(4).is_err());
    let err = PublicKey::from_base58(
        KeyType::Ed25519,
        "2KduZAmAKuXEL463udjCQkVfwJkBQhpciUC4gNiayjSJ2",
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "expected 32 bytes, found 33");
    let err = PublicKey::from_base58(
        KeyType::Secp256k1,
        "2KduZAmAKuXEL463udjCQkVfwJkBQhpciUC4gNiayjSJ",
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "expected 33 bytes, found 32");
    assert!(KeyPair::from_private_key(KeyType::Secp256k1, &[0u8; 32]).is_err());
    assert!(KeyPair::from_private_key(KeyType::Ed25519, &[1u8; 31]).is_err());
    let mut bad = KeyPair::from_seed_phrase("test", 0)
        .private_key_bytes()
        .to_vec();
    bad[40] ^= 1;
    assert!(KeyPair::from_private_key(KeyType::Ed25519, &bad).is_err());
}
