//! Validation finds every problem and names each event; merging and partial copies; bad JSON.

use accord_chain::{
    AnyChain, AppendError, Chain, ChainId, Draft, Event, MergeError, Nonce, PartialStart, Problem,
    VerifiedChain, Version,
};
use accord_crypto::{KeyPair, Signature, base58};

fn keys(name: &str) -> KeyPair {
    KeyPair::from_seed_phrase(name, 0)
}

/// A chain of `n` events by alice (the creator) and bob in turn, with JSON, binary data and
/// attachments.
fn chain(version: Version, n: usize) -> VerifiedChain {
    let alice = keys("alice");
    let bob = keys("bob");
    let id = ChainId::new(
        version,
        b'T',
        alice.public_key(),
        &Nonce::from_text("validation"),
    );
    let mut chain = VerifiedChain::new(id);
    for i in 0..n {
        let mut draft = if i % 2 == 0 {
            Draft::json(&serde_json::json!({"step": i, "note": "ünïcödé"}))
        } else {
            Draft::new("application/octet-stream", vec![i as u8; i * 10])
        };
        if version == Version::V2 && i % 3 == 1 {
            draft = draft.attach("scan.pdf", "application/pdf", vec![0xAB; 100]);
        }
        let signer = if i % 2 == 0 { &alice } else { &bob };
        chain
            .sign_and_append(draft, signer, 1_700_000_000_000 + i as u64)
            .unwrap();
    }
    chain
}

/// A genesis event for `id` (on its initial hash), signed by `keys`, whoever they are.
fn genesis_signed_by(id: &ChainId, keys: &KeyPair) -> Event {
    let mut event = Event {
        timestamp: 1,
        previous: id.initial_hash(),
        sign_key: None,
        signature: None,
        hash: None,
        media_type: "text/plain".into(),
        data: b"mine".to_vec(),
        attachments: vec![],
    };
    event.sign(Version::V2, keys).unwrap();
    event
}

fn lines(chain: &Chain) -> Vec<String> {
    chain
        .validate()
        .problems
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn hash_of(chain: &Chain, index: usize) -> String {
    base58::encode(&chain.events[index].hash.unwrap())
}

#[test]
fn an_untouched_chain_is_valid_in_both_versions() {
    for version in [Version::V1, Version::V2] {
        let chain = chain(version, 12).to_chain();
        assert_eq!(lines(&chain), Vec::<String>::new(), "{version}");
        let json = chain.to_json();
        let read = Chain::from_json(json.as_bytes()).unwrap();
        assert_eq!(read, chain);
        assert!(read.verify().is_ok());
    }
}

#[test]
fn a_flipped_data_bit_is_a_hash_mismatch_and_a_bad_signature_of_that_event() {
    let mut chain = chain(Version::V2, 6).to_chain();
    chain.events[3].data[0] ^= 1;
    let hash = hash_of(&chain, 3);
    let found = lines(&chain);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].starts_with(&format!("event 3 ({hash}): hash does not match")),
        "{found:#?}"
    );
    assert!(
        found[1].starts_with(&format!("event 3 ({hash}): signature does not verify")),
        "{found:#?}"
    );
}

#[test]
fn a_changed_timestamp_and_a_dropped_attachment_are_caught() {
    let mut chain = chain(Version::V2, 6).to_chain();
    chain.events[2].timestamp += 1;
    assert!(!chain.events[4].attachments.is_empty());
    chain.events[4].attachments.clear();
    let problems = chain.validate().problems;
    let indices: Vec<_> = problems.iter().map(|p| p.index()).collect();
    assert_eq!(
        indices,
        [Some(2), Some(2), Some(4), Some(4)],
        "{problems:#?}"
    );
    assert!(matches!(
        problems[0],
        Problem::HashMismatch { index: 2, .. }
    ));
    assert!(matches!(
        problems[3],
        Problem::BadSignature { index: 4, .. }
    ));
}

#[test]
fn swapped_events_break_the_links_around_them() {
    let mut chain = chain(Version::V2, 6).to_chain();
    chain.events.swap(2, 3);
    let problems = chain.validate().problems;
    let links: Vec<usize> = problems
        .iter()
        .filter_map(|p| match p {
            Problem::BrokenLink { index, .. } => Some(*index),
            _ => None,
        })
        .collect();
    assert_eq!(links, [2, 3, 4], "{problems:#?}");
    // Nothing else is wrong: each event on its own is intact.
    assert_eq!(problems.len(), 3, "{problems:#?}");
}

#[test]
fn a_missing_event_breaks_the_link_of_the_next() {
    let mut chain = chain(Version::V2, 6).to_chain();
    let removed = chain.events.remove(2);
    let found = lines(&chain);
    let hash = hash_of(&chain, 2);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        found[0],
        format!(
            "event 2 ({hash}): previous is {}, but the event before it is {} (events missing, reordered or altered)",
            base58::encode(&removed.hash.unwrap()),
            base58::encode(&removed.previous),
        )
    );
}

#[test]
fn a_wrong_previous_is_reported() {
    let mut chain = chain(Version::V2, 4).to_chain();
    chain.events[1].previous = [7; 32];
    let problems = chain.validate().problems;
    // The event's content changed too, so its hash and signature fail as well.
    assert!(
        problems
            .iter()
            .any(|p| matches!(p, Problem::BrokenLink { index: 1, .. }))
    );
    assert!(
        problems.iter().all(|p| p.index() == Some(1)),
        "{problems:#?}"
    );
}

#[test]
fn a_genesis_not_signed_by_the_creator_is_named() {
    let mallory = keys("mallory");
    let alice = keys("alice");
    let id = ChainId::new(
        Version::V2,
        b'T',
        alice.public_key(),
        &Nonce::from_text("x"),
    );
    let event = genesis_signed_by(&id, &mallory);
    let chain = Chain {
        id,
        start: None,
        events: vec![event.clone()],
    };
    let found = lines(&chain);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0],
        format!(
            "event 0 ({}): genesis event signed by {}, which is not the creator named in the chain id",
            base58::encode(&event.hash.unwrap()),
            mallory.public_key()
        )
    );
    // A verified chain refuses it too.
    let mut verified = VerifiedChain::new(id);
    assert!(matches!(
        verified.append(event),
        Err(AppendError::Invalid(Problem::GenesisNotByCreator { .. }))
    ));
    assert!(
        verified
            .sign_and_append(Draft::new("text/plain", "x"), &mallory, 1)
            .is_err()
    );
}

#[test]
fn a_bad_signature_alone_is_reported_alone() {
    let mut chain = chain(Version::V2, 300).to_chain();
    for index in [5, 250] {
        let mut bytes = *chain.events[index].signature.unwrap().as_bytes();
        bytes[10] ^= 0x40;
        chain.events[index].signature = Some(Signature::new(bytes));
    }
    let problems = chain.validate().problems;
    let bad: Vec<_> = problems.iter().map(|p| p.index()).collect();
    assert_eq!(bad, [Some(5), Some(250)]);
    assert!(
        problems
            .iter()
            .all(|p| matches!(p, Problem::BadSignature { .. }))
    );
}

#[test]
fn many_problems_are_all_reported_in_order() {
    let mut chain = chain(Version::V2, 10).to_chain();
    chain.events[1].data.push(1);
    chain.events[8].signature = None;
    chain.events[5].media_type = "text/plain".into();
    let indices: Vec<_> = chain
        .validate()
        .problems
        .iter()
        .map(|p| p.index())
        .collect();
    assert_eq!(indices, [Some(1), Some(1), Some(5), Some(5), Some(8)]);
}

#[test]
fn an_event_with_no_hash_and_no_key_breaks_no_link_after_it() {
    // Its hash cannot be known, so the next event's link cannot be judged either way.
    let mut chain = chain(Version::V2, 4).to_chain();
    chain.events[1].sign_key = None;
    chain.events[1].hash = None;
    let problems = chain.validate().problems;
    assert_eq!(
        problems,
        [Problem::NotSigned {
            index: 1,
            hash: None
        }]
    );
}

#[test]
fn an_empty_chain_has_no_events_to_show() {
    let id = ChainId::new(
        Version::V2,
        b'T',
        keys("a").public_key(),
        &Nonce::from_text(""),
    );
    assert_eq!(lines(&Chain::new(id)), ["the chain has no events"]);
}

#[test]
fn partial_copies_verify_and_merge_back() {
    let full = chain(Version::V2, 10);
    let after = full.events()[3].hash();
    let partial = full.partial_after(&after).unwrap();
    assert_eq!(partial.events.len(), 6);
    assert_eq!(partial.start.unwrap().hash, after);
    let json = partial.to_json();
    assert!(json.contains(r#""events":[{"hash":"#), "{json}");
    let partial = Chain::from_json(json.as_bytes()).unwrap();
    let verified_partial = partial.clone().verify().unwrap();
    assert_eq!(verified_partial.state(), full.state());

    // Merge the tail into a copy that stops at event 3.
    let mut short = full.partial_after(&full.id().initial_hash()).unwrap();
    short.events.truncate(4);
    let mut short = short.verify().unwrap();
    assert_eq!(short.merge(&partial).unwrap(), 6);
    assert_eq!(short, full);
    // Merging again adds nothing.
    assert_eq!(short.merge(&partial).unwrap(), 0);
    // A whole copy merges into a partial one.
    let mut from_partial = partial.clone().verify().unwrap();
    assert_eq!(from_partial.merge(&full.to_chain()).unwrap(), 0);
}

#[test]
fn a_fork_is_a_typed_conflict_at_its_position() {
    let base = chain(Version::V2, 5);
    let alice = keys("alice");
    let mut ours = base.clone();
    ours.sign_and_append(Draft::new("text/plain", "ours"), &alice, 9)
        .unwrap();
    let mut theirs = base.clone();
    theirs
        .sign_and_append(Draft::new("text/plain", "theirs"), &alice, 9)
        .unwrap();
    let err = ours.merge(&theirs.to_chain()).unwrap_err();
    let MergeError::Conflict(conflict) = err else {
        panic!("expected a conflict, got {err}");
    };
    assert_eq!(conflict.position, 5);
    assert_eq!(conflict.ours.event().data, b"ours");
    assert_eq!(conflict.theirs.data, b"theirs");
    assert_eq!(conflict.theirs_hash, theirs.events()[5].hash());
    assert!(
        conflict
            .to_string()
            .starts_with("merge conflict at event 5")
    );
}

#[test]
fn merging_refuses_invalid_events_and_unknown_starts() {
    let full = chain(Version::V2, 6);
    let mut short = full.to_chain();
    short.events.truncate(3);
    let mut short = short.verify().unwrap();
    let mut tampered = full.to_chain();
    tampered.events[4].data.push(0);
    let err = short.merge(&tampered).unwrap_err();
    let MergeError::Invalid(report) = err else {
        panic!("{err}")
    };
    assert_eq!(report.problems[0].index(), Some(4), "{report}");
    assert_eq!(short.events().len(), 3, "nothing added on failure");

    let stray = Chain {
        id: *full.id(),
        start: Some(PartialStart {
            hash: [9; 32],
            state: [9; 32],
        }),
        events: vec![],
    };
    assert!(matches!(short.merge(&stray), Err(MergeError::NotFound(_))));
}

#[test]
fn appending_costs_no_more_on_a_long_chain() {
    // The tip's hash and state are kept, not recomputed: appending to a long chain checks one
    // event. (Measured by what is touched, not by time: the state after n appends equals the
    // state of a fresh verification.)
    let long = chain(Version::V2, 200);
    let again = long.to_chain().verify().unwrap();
    assert_eq!(again.state(), long.state());
    assert_eq!(again.latest_hash(), long.latest_hash());
}

fn json_error(json: &str) -> String {
    match AnyChain::from_json(json.as_bytes()) {
        Ok(_) => panic!("accepted: {json}"),
        Err(err) => err.to_string(),
    }
}

fn valid_json() -> serde_json::Value {
    serde_json::from_str(&chain(Version::V2, 3).to_json()).unwrap()
}

#[test]
fn bad_json_names_the_event_and_the_field() {
    type Mutation = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Mutation, &str)> = vec![
        (
            "malformed base58",
            Box::new(|v| v["events"][1]["signKey"]["publicKey"] = "0OIl".into()),
            "events[1].signKey: publicKey: invalid base58 character '0' at position 0",
        ),
        (
            "wrong length",
            Box::new(|v| v["events"][2]["signature"] = base58::encode(&[1; 63]).into()),
            "events[2].signature: expected 64 bytes, found 63",
        ),
        (
            "unknown key type",
            Box::new(|v| v["events"][0]["signKey"]["keyType"] = "rsa".into()),
            "events[0].signKey: keyType: unknown key type \"rsa\"",
        ),
        (
            "missing field",
            Box::new(|v| {
                v["events"][2].as_object_mut().unwrap().remove("mediaType");
            }),
            "events[2]: missing field `mediaType`",
        ),
        (
            "wrong type",
            Box::new(|v| v["events"][1]["timestamp"] = "yesterday".into()),
            "events[1].timestamp: invalid type: string \"yesterday\", expected a whole number of milliseconds",
        ),
        (
            "float timestamp",
            Box::new(|v| v["events"][1]["timestamp"] = 1.5.into()),
            "events[1].timestamp: timestamp 1.5 is not a whole number",
        ),
        (
            "data over 65,535 bytes",
            Box::new(|v| {
                v["events"][0]["data"] = format!("base64:{}", "AAAA".repeat(21846)).into()
            }),
            "events[0].data: 65538 bytes, over the 65535 a v2 event can hold",
        ),
        (
            "bad base64",
            Box::new(|v| v["events"][0]["data"] = "base64:!!!".into()),
            "events[0].data: invalid base64",
        ),
        (
            "bad id checksum",
            Box::new(|v| {
                let id = v["id"].as_str().unwrap().to_owned();
                let mut bytes = base58::decode(&id).unwrap();
                bytes[10] ^= 1;
                v["id"] = base58::encode(&bytes).into();
            }),
            "id: id checksum does not match",
        ),
        (
            "events not a list",
            Box::new(|v| v["events"] = 5.into()),
            "events: invalid type: integer `5`, expected a sequence",
        ),
        (
            "stub not first",
            Box::new(
                |v| v["events"][1] = serde_json::json!({"hash": base58::encode(&[1; 32]), "state": base58::encode(&[2; 32])}),
            ),
            "events[1]: a stub ({hash, state}) can only be the first entry",
        ),
    ];
    for (name, mutate, expected) in cases {
        let mut value = valid_json();
        mutate(&mut value);
        let message = json_error(&value.to_string());
        assert!(message.starts_with(expected), "{name}: {message}");
    }
    assert!(
        json_error("{\"id\": 5").starts_with("id: invalid type: integer `5`, expected a chain id")
    );
    assert!(json_error("{\"events\": [").contains("EOF while parsing a list (line 1, column 12)"));
    assert!(json_error("").starts_with("EOF while parsing"));
    assert!(json_error("{}").starts_with("missing field `id`"));
}

#[test]
fn v1_events_cannot_carry_attachments() {
    let mut value: serde_json::Value =
        serde_json::from_str(&chain(Version::V1, 2).to_json()).unwrap();
    value["events"][1]["attachments"] =
        serde_json::json!([{"name": "a", "mediaType": "text/plain", "data": "base64:"}]);
    let message = json_error(&value.to_string());
    assert_eq!(
        message,
        "events[1].attachments: v1 events cannot have attachments: the v1 signature does not cover them"
    );
}

#[test]
fn data_without_the_base64_prefix_is_text() {
    let mut value = valid_json();
    value["events"][0]["data"] = r#"{"step":0,"note":"ünïcödé"}"#.into();
    let chain = Chain::from_json(value.to_string().as_bytes()).unwrap();
    assert!(chain.validate().is_valid(), "{}", chain.validate());
}

#[test]
fn binary_decoding_names_what_is_missing() {
    let chain = chain(Version::V2, 2);
    let event = chain.events()[1].event();
    let binary = event.to_binary(Version::V2).unwrap();
    for cut in [0, 10, 32, 33, 70, binary.len() - 1] {
        let err = Event::from_binary(Version::V2, &binary[..cut]).unwrap_err();
        assert!(err.to_string().starts_with("truncated: "), "{cut}: {err}");
    }
    let mut extra = binary.clone();
    extra.push(0);
    assert_eq!(
        Event::from_binary(Version::V2, &extra)
            .unwrap_err()
            .to_string(),
        "1 bytes after the end of the event"
    );
    let mut bad_key = binary.clone();
    bad_key[32] = 9;
    assert_eq!(
        Event::from_binary(Version::V2, &bad_key)
            .unwrap_err()
            .to_string(),
        "unknown key type id 9 at offset 32"
    );
    assert!(Event::from_binary(Version::V1, &binary).is_err());
}

#[test]
fn a_stub_at_the_initial_hash_is_held_to_a_whole_chain() {
    // Such a stub claims "this copy starts at genesis": the creator is then checked, and the
    // state must be the initial state.
    let mallory = keys("mallory");
    let alice = keys("alice");
    let id = ChainId::new(
        Version::V2,
        b'T',
        alice.public_key(),
        &Nonce::from_text("stub"),
    );
    let event = genesis_signed_by(&id, &mallory);
    let forged = Chain {
        id,
        start: Some(PartialStart {
            hash: id.initial_hash(),
            state: [7; 32],
        }),
        events: vec![event],
    };
    assert!(!forged.is_partial());
    let problems = forged.validate().problems;
    assert!(
        matches!(problems[0], Problem::StubState { .. }),
        "{problems:#?}"
    );
    assert!(
        matches!(problems[1], Problem::GenesisNotByCreator { .. }),
        "{problems:#?}"
    );

    // With the creator's genesis and the true initial state it verifies, as a whole chain.
    let whole = chain(Version::V2, 3);
    let mut with_stub = whole.to_chain();
    with_stub.start = Some(PartialStart {
        hash: whole.id().initial_hash(),
        state: whole.id().initial_state(),
    });
    let verified = with_stub.verify().unwrap();
    assert_eq!(verified.start(), None);
    assert_eq!(verified, whole);
}

#[test]
fn a_copy_whose_stub_lies_before_ours_merges() {
    let full = chain(Version::V2, 10);
    let hashes: Vec<[u8; 32]> = full.events().iter().map(|e| e.hash()).collect();
    let mut ours = full.partial_after(&hashes[3]).unwrap();
    ours.events.truncate(3); // events 4, 5, 6
    let mut ours = ours.verify().unwrap();
    let theirs = full.partial_after(&hashes[1]).unwrap(); // events 2..=9
    assert_eq!(ours.merge(&theirs).unwrap(), 3);
    assert_eq!(ours.latest_hash(), full.latest_hash());
    assert_eq!(ours.state(), full.state());
}

#[test]
fn verification_records_every_hash() {
    // JSON may leave hashes out; once verified, every event has its hash, as the reference
    // writes them.
    let mut chain = chain(Version::V2, 4).to_chain();
    for event in &mut chain.events {
        event.hash = None;
    }
    let verified = chain.verify().unwrap();
    let json: serde_json::Value = serde_json::from_str(&verified.to_json()).unwrap();
    for event in json["events"].as_array().unwrap() {
        assert!(event["hash"].is_string(), "{event}");
    }
}

#[test]
fn a_chain_assembled_from_event_json_is_the_chain_json() {
    for version in [Version::V1, Version::V2] {
        let chain = chain(version, 7);
        let events: Vec<String> = chain.events().iter().map(|e| e.event().to_json()).collect();
        let whole = accord_chain::json::chain_json(
            &chain.id().to_base58(),
            None,
            events.iter().map(String::as_str),
        );
        assert_eq!(whole, chain.to_json());
        let partial = chain.partial_after(&chain.events()[2].hash()).unwrap();
        let tail: Vec<String> = partial.events.iter().map(Event::to_json).collect();
        assert_eq!(
            accord_chain::json::chain_json(
                &partial.id.to_base58(),
                partial.start.as_ref(),
                tail.iter().map(String::as_str)
            ),
            partial.to_json()
        );
    }
}
