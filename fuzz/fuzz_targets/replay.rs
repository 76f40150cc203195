//! The engine on arbitrary events: a fixed scenario and identities, then whatever JSON event
//! bodies the input holds (a JSON array of `[signer index, body]` pairs). Nothing panics, and an
//! event that is refused leaves the projection byte for byte as it was.
#![no_main]

use accord_engine::{Applied, EventIn, Replay};
use accord_scenario::{Format, doc};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const SCENARIO: &str = include_str!("../../examples/scenarios/document-signing-extended.yaml");
const V: &str = "https://specs.livecontracts.io/v0.2.0/";
const KEYS: [&str; 3] = ["key-a", "key-b", "key-c"];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(Value::Array(events)) = doc::parse_json(text) else { return };
    let mut r = Replay::new(Some("chain".into()));
    let setup = [
        doc::parse(SCENARIO, Format::Yaml).expect("the example reads"),
        json!({"$schema": format!("{V}identity/schema.json#"), "id": "a", "signkeys": {"user": "key-a"}}),
        json!({"$schema": format!("{V}identity/schema.json#"), "id": "b", "signkeys": {"user": "key-b"}}),
        json!({"$schema": format!("{V}process/schema.json#"), "id": "p", "scenario": "accord-example-document-signing-extended", "actors": {"drafter": "a", "reviewer": "b"}}),
    ];
    for (i, body) in setup.iter().enumerate() {
        let hash = format!("setup{i}");
        let applied = r.apply(EventIn { hash: &hash, timestamp: i as u64, signer: "node", body });
        assert!(!matches!(applied, Applied::Rejected(_)), "setup event {i}: {applied:?}");
    }
    for (i, e) in events.iter().take(64).enumerate() {
        let signer = KEYS[e.get(0).and_then(Value::as_u64).unwrap_or(0) as usize % 3];
        let body = e.get(1).cloned().unwrap_or(Value::Null);
        let before = r.to_json().map(|v| accord_engine::canonical(&v));
        let hash = format!("e{i}");
        let applied = r.apply(EventIn { hash: &hash, timestamp: 100 + i as u64, signer, body: &body });
        if matches!(applied, Applied::Rejected(_)) {
            assert_eq!(before, r.to_json().map(|v| accord_engine::canonical(&v)), "a refused event changed the projection");
        }
    }
});
