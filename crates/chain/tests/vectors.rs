//! Every vector of docs/protocol/lto-formats.md §2 and §3.

use accord_chain::legacy::{IdHash, LegacyChainId};
use accord_chain::{
    AnyChain, Chain, ChainId, DerivedId, Draft, Event, LegacyChain, Nonce, VerifiedChain, Version,
};
use accord_crypto::base58;
use accord_crypto::hash::sha256;
use accord_crypto::{KeyPair, KeyType, PublicKey, Signature};

const PREVIOUS: &str = "72gRWx4C1Egqz9xvUBCYVdgh7uLc5kmGbjXFhiknNCTW";
const FKU1: &str = "FkU1XyfrCftc4pQKXCrrDyRLSnifX1SMvmx1CYiiyB3Y";

fn b58_32(text: &str) -> [u8; 32] {
    base58::decode_array::<32>(text).unwrap()
}

fn event(media_type: &str, data: &[u8], key: PublicKey) -> Event {
    Event {
        timestamp: 1519862400,
        previous: b58_32(PREVIOUS),
        sign_key: Some(key),
        signature: None,
        hash: None,
        media_type: media_type.into(),
        data: data.to_vec(),
        attachments: vec![],
    }
}

#[test]
fn v2_binary_form_and_hash() {
    let key = PublicKey::from_base58(KeyType::Ed25519, FKU1).unwrap();
    let event = event("application/octet-stream", b"test", key);
    let binary = event.to_binary(Version::V2).unwrap();
    assert_eq!(
        hex::encode(&binary),
        "5994471abb01112afcc18159f6cc74b4f511b99806da59b3caf5a9c173cacfc501db262194419da2c83b4190bffe189b1e26753079369bb8e9fc46d47857730e2b000000005a97428000186170706c69636174696f6e2f6f637465742d73747265616d0004746573740000"
    );
    assert_eq!(
        base58::encode(&event.compute_hash(Version::V2).unwrap()),
        "8NFiTPwvFzFsvHnhMgQGyWY9L51m1JSpwUf5hAgwAyR3"
    );
    // And back: the binary form reads to the same event.
    assert_eq!(Event::from_binary(Version::V2, &binary).unwrap(), event);
}

#[test]
fn v2_signature_by_seed_phrase() {
    let keys = KeyPair::from_seed_phrase("seed", 0);
    let mut event = event(
        "application/json",
        br#"{"foo":"bar","color":"red"}"#,
        *keys.public_key(),
    );
    event.sign(Version::V2, &keys).unwrap();
    assert_eq!(
        event.signature.unwrap().to_base58(),
        "65x5nx5Hqfh3RSMYFwpRM7hXurJR8JkECBF5RRQWE4C1cMQTm6RVUQAnTNj2pVYqwsSC64PJ3CdsvMriysmKdj79"
    );
    // The JSON payload is what `Draft::json` makes of the same value, key order kept.
    let value: serde_json::Value = serde_json::from_str(r#"{"foo":"bar","color":"red"}"#).unwrap();
    assert_eq!(Draft::json(&value).data, event.data);
}

#[test]
fn chain_ids_and_initial_hashes() {
    let keys = KeyPair::from_seed_phrase("test", 0);
    let id = ChainId::new(
        Version::V2,
        b'T',
        keys.public_key(),
        &Nonce::from_text("foo"),
    );
    assert_eq!(
        id.to_base58(),
        "8F94V9UxaX2J66XF7fxCX4jAJ73Atg7ntX9ACiWkqAm9WuxA37muigAvBCvNfiY"
    );
    assert_eq!(
        base58::encode(&id.initial_hash()),
        "EJBLjZagHQHc9rfiaUjccypes8EfSnLAuAYdekiRPGmY"
    );
    assert!(id.is_created_by(keys.public_key()));
    assert!(!id.is_created_by(KeyPair::from_seed_phrase("seed", 0).public_key()));

    let v1 = ChainId::new(Version::V1, b'T', keys.public_key(), &Nonce::from_text(""));
    assert_eq!(
        v1.to_base58(),
        "88phxa3aSjJFBTGQcxDVZ6gZJZ8vdj6hDAGymACg8Wd13yoenT2gwdsZkw4gZua"
    );
    assert_eq!(v1.version(), Version::V1);
    let parsed: ChainId = v1.to_base58().parse().unwrap();
    assert_eq!(parsed, v1);
}

#[test]
fn initial_state_and_derived_id_of_any_id_bytes() {
    let bytes = base58::decode("L1hGimV7Pp2CFNUnTCitqWDbk9Zng3r3uc66dAG6hLwEx").unwrap();
    assert_eq!(
        base58::encode(&accord_chain::id::initial_state(&bytes)),
        "CxDM9oFvWGf2uFAhH7fhPNqVxyN3LqX1s2WSVkEwdceN"
    );
    let derived = DerivedId::for_id_bytes(&bytes, &Nonce::from_text("foo"));
    assert_eq!(
        derived.to_base58(),
        "9r5FmjeMuRguMc9NxAD6GkYGpWLPYhmnFqzRBgJ6F1NYWBD9CyuLFogjtuEVGQc"
    );
    let parsed: DerivedId = derived.to_base58().parse().unwrap();
    assert_eq!(parsed, derived);
}

#[test]
fn two_events_hashes_anchor_map_and_final_state() {
    let keys = KeyPair::from_seed_phrase("test", 0);
    let id = ChainId::new(Version::V2, b'T', keys.public_key(), &Nonce::from_text(""));
    assert_eq!(
        id.to_base58(),
        "8FA6AKpWHmLsobTmMRDhrQXfNMdXLz6KEsDZHHftzoWriVj5BPrCYnwRLJfA9aL"
    );
    let mut chain = VerifiedChain::new(id);
    let empty = serde_json::json!({});
    chain
        .sign_and_append(Draft::json(&empty), &keys, 1519862400)
        .unwrap();
    chain
        .sign_and_append(Draft::json(&empty), &keys, 1519882600)
        .unwrap();
    let hashes: Vec<String> = chain
        .events()
        .iter()
        .map(|e| base58::encode(&e.hash()))
        .collect();
    assert_eq!(
        hashes,
        [
            "4QL7jGLS1L73gu9at525mMfQTNtEZyvp5FEHTHaFap83",
            "91czNEv5hemAmxa5PtMHR3MZGAimWtnSRqmfwZ6CQVmF"
        ]
    );
    let keys_of_map: Vec<String> = chain
        .anchor_map()
        .iter()
        .map(|a| base58::encode(&a.key))
        .collect();
    assert_eq!(
        keys_of_map,
        [
            "4jjqqdAyZzM5576EUDtJP6HXC8SpimT8aLEXCutdwaje",
            "33a54p4ZidADPpPzQvDyYATn9azxxwpQzx5ZE8nNKBQx"
        ]
    );
    assert!(
        chain
            .anchor_map()
            .iter()
            .all(|a| a.signer.to_base58() == "3N4mZ1qTrjWKnzBwAxscf7kfkoCs2HGQhJG")
    );
    assert_eq!(
        base58::encode(&chain.state()),
        "3q7jchLkWkcCnWnGUtb9tw2hYAyrdVAvuXuvajLr2pwB"
    );

    // The same chain, written to JSON and read back, verifies to the same state.
    let json = chain.to_json();
    let again = Chain::from_json(json.as_bytes()).unwrap().verify().unwrap();
    assert_eq!(again.state(), chain.state());
    assert_eq!(again, chain);
}

// ---- §3, legacy ----

#[test]
fn legacy_body_message_hash_and_signature() {
    let body = base58::encode(br#"{"foo":"bar","color":"red"}"#);
    assert_eq!(body, "HeFMDcuveZQYtBePVUugLyWtsiwsW4xp7xKdv");
    let message = format!("{body}\n1519862400\n{PREVIOUS}\n{FKU1}");
    let event = accord_chain::LegacyEvent {
        origin: None,
        body: body.clone(),
        timestamp: 1519862400,
        previous: b58_32(PREVIOUS),
        signkey: b58_32(FKU1),
        signature: Signature::from_base58(
            "258KnaZxcx4cA9DUWSPw8QwBokRGzFDQmB4BH9MRJhoPJghsXoAZ7KnQ2DWR7ihtjXzUjbsXtSeup4UDcQ2L6RDL",
        )
        .unwrap(),
        hash: b58_32("Bpq9rZt12Gv44dkXFw8RmLYzbaH2HBwPQJ6KihdLe5LG"),
        original: None,
    };
    assert_eq!(event.message(), message.as_bytes());
    assert_eq!(
        base58::encode(&sha256(message.as_bytes())),
        "Bpq9rZt12Gv44dkXFw8RmLYzbaH2HBwPQJ6KihdLe5LG"
    );
    let key = PublicKey::ed25519(b58_32(FKU1));
    assert!(key.verify(message.as_bytes(), &event.signature));
    // The same signature over another timestamp does not verify.
    let other = format!("{body}\n1519084800\n{PREVIOUS}\n{FKU1}");
    assert!(!key.verify(other.as_bytes(), &event.signature));
}

#[test]
fn legacy_ids_and_initial_hashes() {
    let key = PublicKey::from_base58(
        KeyType::Ed25519,
        "GjSacB6a5DFNEHjDSmn724QsrRStKYzkahPH67wyrhAY",
    )
    .unwrap();
    let id = LegacyChainId::new(&key, &Nonce::from_text("foo"));
    assert_eq!(
        id.to_base58(),
        "2b6QYLttL2R3CLGL4fUB9vaXXX4c5PRhHhCS51CZQodgu7ay9BpMNdJ6mZ8hyF"
    );
    assert_eq!(
        base58::encode(&id.initial_hash()),
        "5S5qWhWs228toGUXX9DULHLF8Xfr7Xd8R2Lc4zQd4krj"
    );
    let zero = LegacyChainId::new(&key, &Nonce([0; 20]));
    assert_eq!(
        zero.to_base58(),
        "2ar3wSjTm1fA33qgckZ5Kxn1x89gKRPpbR2EE61c5rRMnNk4cedDhYQxBE1E7k"
    );
    assert_eq!(
        base58::encode(&zero.initial_hash()),
        "3mG9WaAizdw15Xouv4adFGY131Bims8m5BTQVyv1YU7n"
    );
    let parsed: LegacyChainId = id.to_base58().parse().unwrap();
    assert_eq!(parsed.family(), IdHash::Sha256);
    assert!(parsed.is_created_by(&b58_32("GjSacB6a5DFNEHjDSmn724QsrRStKYzkahPH67wyrhAY")));

    // The 33-byte id of April 2018 (Keccak family).
    let early: LegacyChainId = "L1hGimV7Pp2CFNUnTCitqWDbk9Zng3r3uc66dAG6hLwEx"
        .parse()
        .unwrap();
    assert_eq!(early.family(), IdHash::Keccak256);
    assert_eq!(
        base58::encode(&early.initial_hash()),
        "9HM1ykH7AxLgdCqBBeUhvoTH4jkq3zsZe4JGTrjXVENg"
    );
}

#[test]
fn legacy_keccak_era_ids_are_read_with_their_hash() {
    // lto-api.php v0.1.12's ids for key 8MeRTc… with nonces `foo` and 20 zero bytes: the key
    // hash and checksum use Keccak-256 over BLAKE2b-256.
    let key = b58_32("8MeRTc26xZqPmQ3Q29RJBwtgtXDPwR7P9QNArymjPLVQ");
    for text in [
        "2b6QYLttL2R3CLGL4fUB9vaXXX4c5HJanjV5QecmAYLCrD52o6is1fRMGShUUF",
        "2ar3wSjTm1fA33qgckZ5Kxn1x89gKKGi6TJsZjRoqb7sjUE8GZXjLaYCbCa2GX",
    ] {
        let id: LegacyChainId = text.parse().unwrap();
        assert_eq!(id.family(), IdHash::Keccak256);
        assert!(id.is_created_by(&key));
    }
    // Its resource id with nonce `foo` (SHA-256 family over the raw chain id bytes).
    let id: LegacyChainId = "2b6QYLttL2R3CLGL4fUB9vaXXX4c5HJanjV5QecmAYLCrD52o6is1fRMGShUUF"
        .parse()
        .unwrap();
    assert_eq!(
        id.resource_id(&Nonce::from_text("foo")),
        "2z4AmxL122aaTLyVy6rhEfXHGJMGuUnViUhw3D7XC4VcycnkEwkHXXdxg73vLb"
    );
    // One changed character breaks the checksum under both hashes.
    assert!(
        "2b6QYLttL2R3CLGL4fUB9vaXXX4c5HJanjV5QecmAYLCrD52o6is1fRMGShUUG"
            .parse::<LegacyChainId>()
            .is_err()
    );
}

fn legacy_event(
    keys: &KeyPair,
    body: &str,
    timestamp: i64,
    previous: [u8; 32],
) -> accord_chain::LegacyEvent {
    accord_chain::LegacyEvent::signed(keys, body, timestamp, previous).unwrap()
}

#[test]
fn legacy_chain_json_reads_and_validates() {
    let keys = KeyPair::from_seed_phrase("legacy", 0);
    let id = LegacyChainId::new(keys.public_key(), &Nonce::from_text("chain"));
    let body = base58::encode(
        br#"{"$schema":"https://specs.livecontracts.io/v0.2.0/identity/schema.json#","id":"x"}"#,
    );
    let first = legacy_event(&keys, &body, 1553376189, id.initial_hash());
    let second = legacy_event(&keys, &body, 1553376190, first.hash);
    let events: Vec<serde_json::Value> = [&first, &second]
        .iter()
        .map(|e| {
            serde_json::json!({
                "origin": "https://node.example",
                "body": e.body,
                "timestamp": e.timestamp,
                "previous": base58::encode(&e.previous),
                "signkey": base58::encode(&e.signkey),
                "signature": e.signature.to_base58(),
                "hash": base58::encode(&e.hash),
                "receipt": null,
                "original": null,
            })
        })
        .collect();
    let json = serde_json::json!({
        "id": id.to_base58(),
        "events": events,
        "identities": [],
        "resources": [],
        "latestHash": base58::encode(&second.hash),
    })
    .to_string();
    let AnyChain::Legacy(chain) = AnyChain::from_json(json.as_bytes()).unwrap() else {
        panic!("a 0x40 id is a legacy chain");
    };
    assert!(chain.validate().is_valid(), "{}", chain.validate());
    assert!(!chain.is_partial());
    // Written back in the service's layout, it reads to the same chain.
    assert_eq!(
        LegacyChain::from_json(chain.to_json().as_bytes()).unwrap(),
        chain
    );

    // Signed by someone else: the genesis check fails and says who signed.
    let intruder = KeyPair::from_seed_phrase("intruder", 0);
    let bad = LegacyChain {
        id: id.clone(),
        events: vec![legacy_event(
            &intruder,
            &body,
            1553376189,
            id.initial_hash(),
        )],
    };
    let report = bad.validate();
    assert_eq!(report.problems.len(), 1, "{report}");
    assert!(report.to_string().contains("not the creator"), "{report}");

    // A body that is not base58 of JSON is not a chain problem (hash and signature cover it);
    // reading it says what is wrong.
    let not_json = LegacyChain {
        id: id.clone(),
        events: vec![legacy_event(
            &keys,
            &base58::encode(b"not json"),
            1,
            id.initial_hash(),
        )],
    };
    assert!(not_json.validate().is_valid());
    let err = not_json.events[0].body_json().unwrap_err();
    assert!(err.starts_with("body is not base58-encoded JSON"), "{err}");

    // A body too long to decode cheaply is not decoded, and validation never decodes bodies,
    // so a chain of them cannot stall its reader.
    let huge = LegacyChain {
        id: id.clone(),
        events: vec![legacy_event(
            &keys,
            &"2".repeat(300_000),
            1,
            id.initial_hash(),
        )],
    };
    assert!(huge.validate().is_valid());
    assert_eq!(
        huge.events[0].body_json().unwrap_err(),
        "body is 300000 characters of base58, over the 262144 Accord decodes"
    );
}

#[test]
fn legacy_rebased_event_signs_the_original_hash() {
    // The original is signed by the key of seed SHA-256("a seed"), the rebased event by the
    // key FkU1…; values computed independently of this code.
    let original_keys = KeyPair::from_ed25519_seed(&sha256(b"a seed"));
    assert_eq!(
        original_keys.public_key().to_base58(),
        "8TxFbgGPKVhuauHJ47vn3C74eVugAghTGou35Wtd51Mj"
    );
    let body = "pvabUdSJtsf1ftYbgmNjUrMbnScRk2fJhGR3jk9t8td9xPJJzLqNFm8pr6ZpA7UQv1CVSHjKuarH8cNCDc524gh1WU";
    let original = legacy_event(&original_keys, body, 1514764800, b58_32(PREVIOUS));
    assert_eq!(
        base58::encode(&original.hash),
        "H3gbBd2sUczYCEqPK6LUPvVLqKqHdRNFEaaqAQe83mRQ"
    );
    assert_eq!(
        original.signature.to_base58(),
        "5x7H4KjCVLPF6z1voNjRHguHPefk3Dt8MjnWiax3E6jWmHfve435Vthv7fQJfALNwEsAkTH43xjVcxUtTf1njt13"
    );
    let rebaser = KeyPair::from_private_key(
        KeyType::Ed25519,
        &base58::decode("wJ4WH8dD88fSkNdFQRjaAhjFUZzZhV5yiDLDwNUnp6bYwRXrvWV8MJhQ9HL9uqMDG1n7XpTGZx7PafqaayQV8Rp").unwrap(),
    )
    .unwrap();
    assert_eq!(rebaser.public_key().to_base58(), FKU1);
    let mut rebased = accord_chain::LegacyEvent {
        origin: None,
        body: body.into(),
        timestamp: 1519862400,
        previous: b58_32("BRhevpwYsXv7LD1N4kodG7P6fJrRhPPxqFe4RDq8MwJv"),
        signkey: b58_32(FKU1),
        signature: Signature::new([0; 64]),
        hash: [0; 32],
        original: Some(Box::new(accord_chain::legacy::Original {
            body: None,
            timestamp: original.timestamp,
            previous: original.previous,
            signkey: original.signkey,
            signature: original.signature,
            hash: original.hash,
            original_hash: None,
        })),
    };
    let message = rebased.message();
    assert!(message.ends_with(b"\nH3gbBd2sUczYCEqPK6LUPvVLqKqHdRNFEaaqAQe83mRQ"));
    rebased.hash = sha256(&message);
    rebased.signature = rebaser.sign(&message);
    assert_eq!(
        base58::encode(&rebased.hash),
        "HvnfAMXSxLPcwVLyj38McZy2b2YgNhKfx3uAE5jRY84q"
    );
    // A chain holding it verifies, original included, and survives a JSON round trip; an
    // original with an altered signature is reported.
    let id: LegacyChainId = "2b6QYLttL2R3CLGL4fUB9vaXXX4c5HJanjV5QecmAYLCrD52o6is1fRMGShUUF"
        .parse()
        .unwrap();
    let mut tail = LegacyChain {
        id,
        events: vec![rebased.clone()],
    };
    assert!(tail.is_partial());
    assert!(tail.validate().is_valid(), "{}", tail.validate());
    assert_eq!(
        LegacyChain::from_json(tail.to_json().as_bytes()).unwrap(),
        tail
    );
    let mut broken = *tail.events[0].original.clone().unwrap();
    broken.signature = Signature::new([1; 64]);
    tail.events[0].original = Some(Box::new(broken));
    let report = tail.validate();
    assert_eq!(report.problems.len(), 1, "{report}");
    assert!(
        report.to_string().contains(
            "original event H3gbBd2sUczYCEqPK6LUPvVLqKqHdRNFEaaqAQe83mRQ: signature does not verify"
        ),
        "{report}"
    );
    assert_eq!(
        rebased.signature.to_base58(),
        "3xJZ8Csj8raFJANqqpa2RCQgPNjGyz8YKLXQH2A4SX8Xukor49GTRYCbofPQPNNSYVhy56CK9di95FCD24w1EjK3"
    );
}
