//! Transactions against the reference's own vectors (`../shared/docs/protocol/lto-formats.md`,
//! from the reference tests), and decoding that never panics.

use accord_crypto::{KeyPair, hash::sha256};
use accord_ledger::tx::{Body, Header, Transaction, Value};
use proptest::prelude::*;

/// A v3 transaction on `T` at 2018-03-01 (the reference tests' time), unsigned.
fn v3(sender: &KeyPair, fee: u64, body: Body) -> Transaction {
    Transaction {
        header: Header {
            version: 3,
            network: b'T',
            timestamp: 1_519_862_400_000,
            sender: *sender.public_key(),
            fee,
        },
        body,
        sponsor: None,
        proofs: Vec::new(),
    }
}

fn anchor_of_nothing() -> Transaction {
    let key = KeyPair::from_seed_phrase("test", 0);
    let anchors = vec![sha256(b"").to_vec()];
    v3(&key, 35_000_000, Body::Anchor { anchors })
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
    let transfer = Body::Transfer {
        recipient: *recipient.as_bytes(),
        amount: 100_000_000,
        attachment: b"hello".to_vec(),
    };
    let tx = v3(&key, 100_000_000, transfer);
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
    let transfer = Body::Transfer {
        recipient: *sponsor.address(b'T').as_bytes(),
        amount: 12_345,
        attachment: b"hello".to_vec(),
    };
    let mut tx = v3(&sender, 100_000_000, transfer);
    tx.sponsor = Some(*sponsor.public_key());
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

/// The npm client's fee for a type (`MANIFEST.json`), when it is a number.
fn manifest_fee(kind: &str) -> Option<u64> {
    let path = format!(
        "{}/../../tests/data/ledger-vectors/MANIFEST.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    manifest["types"][kind]["npm"]["fee"].as_u64()
}

/// The npm client's v3 `toBinary` tests of every type built so far: seed `test` on `T` at
/// 2018-03-01, the client's default fee (the data test's fee is a formula of its bytes: read
/// from the expected bytes, every other byte is checked).
#[test]
fn the_reference_v3_bodies_of_every_type_built_are_the_same() {
    let key = KeyPair::from_seed_phrase("test", 0);
    let to = *accord_crypto::Address::parse_on("3NACnKFVN2DeFYjspHKfa2kvDqnPkhjGCD2", b'T')
        .unwrap()
        .as_bytes();
    let hex32 = |h: &str| hex::decode(h).unwrap();
    let cases: Vec<(&str, Body)> = vec![
        (
            "lease",
            Body::Lease {
                recipient: to,
                amount: 100_000_000,
            },
        ),
        (
            "cancel-lease",
            Body::CancelLease {
                lease: accord_crypto::base58::decode_array(
                    "ELtXhrFTCRJSEweYAAaVTuv9wGjNzwHYUDnH6UT1JxmB",
                )
                .unwrap(),
            },
        ),
        (
            "burn",
            Body::Burn {
                amount: 100_000_000,
            },
        ),
        ("sponsorship", Body::Sponsorship { recipient: to }),
        (
            "cancel-sponsorship",
            Body::CancelSponsorship { recipient: to },
        ),
        (
            "mass-transfer",
            Body::MassTransfer {
                transfers: vec![(to, 100_000_000), (to, 200_000_000)],
                attachment: b"hello".to_vec(),
            },
        ),
        (
            "mapped-anchor",
            Body::MappedAnchor {
                anchors: vec![(
                    hex32("2c70e12b7a0646f92279f427c7b38e7334d8e5389cff167a1dc30e73f826b683"),
                    hex32("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
                )],
            },
        ),
        (
            "register",
            Body::Register {
                keys: vec![
                    *KeyPair::from_seed_phrase("A", 0).public_key(),
                    *KeyPair::from_seed_phrase("B", 0).public_key(),
                ],
            },
        ),
        (
            "data",
            Body::Data {
                entries: vec![
                    ("test".into(), Value::Integer(1)),
                    ("second".into(), Value::Boolean(true)),
                    ("third".into(), Value::Binary(b"foo".to_vec())),
                    ("fourth".into(), Value::String("hello".into())),
                ],
            },
        ),
    ];
    for (kind, body) in cases {
        let expected =
            accord_crypto::base58::decode(&vector(kind, "toBinary", 3, "binary_base58")).unwrap();
        let fee = manifest_fee(kind)
            .unwrap_or_else(|| u64::from_be_bytes(expected[44..52].try_into().unwrap()));
        let mut tx = v3(&key, fee, body);
        assert_eq!(
            hex::encode(tx.body_bytes().unwrap()),
            hex::encode(&expected),
            "{kind}"
        );
        tx.sign(&key).unwrap();
        assert_eq!(
            Transaction::from_bytes(&tx.to_bytes().unwrap()).unwrap(),
            tx,
            "{kind}"
        );
    }
}
