//! Transactions against the reference's own vectors (`../shared/docs/protocol/lto-formats.md`,
//! from the reference tests), and decoding that never panics.

use accord_crypto::{KeyPair, hash::sha256};
use accord_ledger::tx::{Body, Header, Transaction};
use proptest::prelude::*;

fn anchor_of_nothing() -> Transaction {
    let key = KeyPair::from_seed_phrase("test", 0);
    Transaction {
        header: Header {
            version: 3,
            network: b'T',
            timestamp: 1_519_862_400_000,
            sender: *key.public_key(),
            fee: 35_000_000,
        },
        body: Body::Anchor {
            anchors: vec![sha256(b"").to_vec()],
        },
        sponsor: None,
        proofs: Vec::new(),
    }
}

/// The anchor v3 vector: seed `test`, the SHA-256 of nothing, timestamp 1519862400000, fee
/// 0.35 LTO: the reference's body bytes and proof.
#[test]
fn the_reference_anchor_v3_reads_writes_and_signs_the_same() {
    let mut tx = anchor_of_nothing();
    assert_eq!(
        hex::encode(tx.body_bytes().unwrap()),
        "0f035400000161dedbc4000113a1df11d971debe13fc1b7bcb42473de28074da7595c302e20f57708b75cdd30000000002160ec000010020e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    tx.sign(&KeyPair::from_seed_phrase("test", 0)).unwrap();
    assert_eq!(
        accord_crypto::base58::encode(&tx.proofs[0]),
        "5L1N7h7jxSeG7gATTqRibDwHvuHBW57uy78WDxHivybEhdVXKN5F7tBSbytgWqTwXbqWEMaD2J3qmTFALyDAwyrJ"
    );
    assert!(tx.verify_sender());
    // The whole bytes read back to the same transaction, and the id is the body's BLAKE2b-256.
    let bytes = tx.to_bytes().unwrap();
    assert_eq!(Transaction::from_bytes(&bytes).unwrap(), tx);
    assert_eq!(
        tx.id().unwrap(),
        accord_crypto::hash::blake2b256(&tx.body_bytes().unwrap())
    );
    // Another fee is another body: the proof no longer holds.
    tx.header.fee += 1;
    assert!(!tx.verify_sender());
}

/// The expected value `field` of the first vector of `kind` and `version` in
/// `tests/data/ledger-vectors/<file>.json` (copied from the reference's tests, with provenance).
fn vector(file: &str, kind: &str, version: u64, field: &str) -> String {
    let path = format!(
        "{}/../../tests/data/ledger-vectors/{file}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let vectors: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    vectors
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["kind"] == kind && v["version"] == version)
        .and_then(|v| v["expected"][field].as_str())
        .unwrap_or_else(|| panic!("no {kind} v{version} vector with {field} in {path}"))
        .to_string()
}

/// The npm client's transfer v3 test: seed `test` on `T`, 1 LTO to
/// `3NACnKFVN2DeFYjspHKfa2kvDqnPkhjGCD2` with attachment `hello`, at 2018-03-01, fee 1 LTO.
#[test]
fn the_reference_transfer_v3_body_is_the_same() {
    let key = KeyPair::from_seed_phrase("test", 0);
    let recipient =
        accord_crypto::Address::parse_on("3NACnKFVN2DeFYjspHKfa2kvDqnPkhjGCD2", b'T').unwrap();
    let tx = Transaction {
        header: Header {
            version: 3,
            network: b'T',
            timestamp: 1_519_862_400_000,
            sender: *key.public_key(),
            fee: 100_000_000,
        },
        body: Body::Transfer {
            recipient: *recipient.as_bytes(),
            amount: 100_000_000,
            attachment: b"hello".to_vec(),
        },
        sponsor: None,
        proofs: Vec::new(),
    };
    assert_eq!(
        hex::encode(tx.body_bytes().unwrap()),
        vector("transfer", "toBinary", 3, "binary_hex")
    );
    // And the anchor vector of lto-formats.md is the npm client's own.
    assert_eq!(
        hex::encode(anchor_of_nothing().body_bytes().unwrap()),
        vector("anchor", "toBinary", 3, "binary_hex")
    );
}

#[test]
fn a_transfer_with_a_sponsor_round_trips() {
    let sender = KeyPair::from_seed_phrase("test", 0);
    let sponsor = KeyPair::from_seed_phrase("seed", 0);
    let mut tx = Transaction {
        header: Header {
            version: 3,
            network: b'T',
            timestamp: 1_519_862_400_000,
            sender: *sender.public_key(),
            fee: 100_000_000,
        },
        body: Body::Transfer {
            recipient: *sponsor.address(b'T').as_bytes(),
            amount: 12_345,
            attachment: b"hello".to_vec(),
        },
        sponsor: Some(*sponsor.public_key()),
        proofs: Vec::new(),
    };
    tx.sign(&sender).unwrap();
    tx.sign(&sponsor).unwrap();
    let bytes = tx.to_bytes().unwrap();
    assert_eq!(Transaction::from_bytes(&bytes).unwrap(), tx);
    assert!(tx.verify_sender());
}

#[test]
fn bad_bytes_say_where() {
    let mut tx = anchor_of_nothing();
    tx.sign(&KeyPair::from_seed_phrase("test", 0)).unwrap();
    let bytes = tx.to_bytes().unwrap();
    let cut = Transaction::from_bytes(&bytes[..50]).unwrap_err();
    assert_eq!(cut.at, 45, "{cut}");
    assert!(cut.what.contains("fee"), "{cut}");
    let mut trailing = bytes.clone();
    trailing.push(7);
    let err = Transaction::from_bytes(&trailing).unwrap_err();
    assert!(err.what.contains("after the proofs"), "{err}");
    let mut unknown = bytes;
    unknown[1] = 99;
    let err = Transaction::from_bytes(&unknown).unwrap_err();
    assert_eq!(err.at, 1, "{err}");
}

proptest! {
    /// Any bytes: a transaction or an error, never a panic; what reads writes back the same.
    #[test]
    fn decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(tx) = Transaction::from_bytes(&bytes) {
            prop_assert_eq!(tx.to_bytes().unwrap(), bytes);
        }
    }
}
