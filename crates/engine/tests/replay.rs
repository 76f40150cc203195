//! Replaying a chain's events: every kind of event, identities and their rules, refusals,
//! and the same bytes from the same events, checked over random response sequences.

mod common;

use accord_engine::{Applied, EventIn, Refusal, Rejection, Replay};
use proptest::prelude::*;
use serde_json::{Value, json};

const V: &str = "https://specs.livecontracts.io/v0.2.0/";

fn scenario() -> Value {
    let path = format!(
        "{}/../../examples/scenarios/document-signing-extended.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    accord_scenario::doc::parse(
        &std::fs::read_to_string(path).unwrap(),
        accord_scenario::Format::Yaml,
    )
    .unwrap()
}

struct Chain {
    r: Replay,
    t: u64,
}

impl Chain {
    fn new() -> Chain {
        Chain {
            r: Replay::new(Some("chain".into())),
            t: 1_000,
        }
    }
    fn apply(&mut self, signer: &str, body: Value) -> Applied {
        self.t += 1_000;
        let hash = format!("h{}", self.t);
        self.r.apply(EventIn {
            hash: &hash,
            timestamp: self.t,
            signer,
            body: &body,
        })
    }
    fn identity(&mut self, signer: &str, id: &str, key: &str) -> Applied {
        self.apply(signer, json!({"$schema": format!("{V}identity/schema.json#"), "id": id, "signkeys": {"user": key}}))
    }
    fn respond(&mut self, signer: &str, action: &str, key: Option<&str>, data: Value) -> Applied {
        let mut b =
            json!({"$schema": format!("{V}response/schema.json#"), "action": action, "data": data});
        if let Some(k) = key {
            b["key"] = json!(k);
        }
        self.apply(signer, b)
    }
}

fn started() -> Chain {
    let mut c = Chain::new();
    assert!(
        matches!(c.apply("node", scenario()), Applied::Scenario(id) if id == "accord-example-document-signing-extended")
    );
    assert!(matches!(
        c.identity("node", "alice", "key-alice"),
        Applied::Identity(_)
    ));
    assert!(matches!(
        c.identity("node", "bob", "key-bob"),
        Applied::Identity(_)
    ));
    let start = json!({"$schema": format!("{V}process/schema.json#"), "id": "p1", "scenario": "accord-example-document-signing-extended", "actors": {"drafter": "alice", "reviewer": {"identity": "bob", "name": "Bob"}}});
    assert!(matches!(c.apply("node", start), Applied::Started(_)));
    c
}

#[test]
fn a_process_runs_from_its_events() {
    let mut c = started();
    let p = c.r.process().unwrap();
    assert_eq!(
        p.doc()["actors"]["reviewer"]["name"],
        "Bob",
        "start data for an actor"
    );
    assert_eq!(p.doc()["actors"]["drafter"]["identity"]["id"], "alice");
    c.respond(
        "key-alice",
        "request_review",
        None,
        json!({"hash": common::sha("doc")}),
    );
    c.respond("key-bob", "review", Some("accept"), Value::Null);
    c.apply(
        "key-bob",
        json!({"$schema": format!("{V}comment/schema.json#"), "text": "looks fine"}),
    );
    c.respond("key-bob", "sign", None, Value::Null);
    c.respond("key-alice", "sign", None, Value::Null);
    let p = c.r.process().unwrap();
    assert_eq!(p.state(), ":success");
    assert_eq!(p.to_json()["comments"][0]["text"], "looks fine");
}

#[test]
fn refused_events_change_nothing_and_say_why() {
    let mut c = started();
    let before = c.r.process().unwrap().to_canonical();
    match c.respond("key-bob", "request_review", None, Value::Null) {
        Applied::Rejected(Refusal::Response(Rejection::NotAllowed { .. })) => {}
        other => panic!("{other:?}"),
    }
    match c.apply(
        "key-bob",
        json!({"$schema": "https://example.com/other", "x": 1}),
    ) {
        Applied::Rejected(Refusal::UnknownKind(_)) => {}
        other => panic!("{other:?}"),
    }
    match c.respond(
        "key-alice",
        "request_review",
        None,
        json!({"n": 9007199254740993u64}),
    ) {
        Applied::Rejected(Refusal::Malformed(m)) => assert!(m.contains("/data/n"), "{m}"),
        other => panic!("{other:?}"),
    }
    match c.apply("node", json!({"$schema": format!("{V}process/schema.json#"), "scenario": "accord-example-document-signing-extended"})) {
        Applied::Rejected(Refusal::Order(_)) => {}
        other => panic!("a second start: {other:?}"),
    }
    assert_eq!(c.r.process().unwrap().to_canonical(), before);
}

#[test]
fn identities_change_only_by_their_own_keys_and_an_invitee_takes_over() {
    let mut c = started();
    // Bob was invited with a one-time key ("key-bob"); he replaces it with his own.
    match c.identity("key-alice", "bob", "key-mallory") {
        Applied::Rejected(Refusal::NotOwnIdentity { id }) => assert_eq!(id, "bob"),
        other => panic!("alice may not change bob: {other:?}"),
    }
    assert!(matches!(
        c.identity("key-bob", "bob", "key-bob-own"),
        Applied::Identity(_)
    ));
    c.respond(
        "key-alice",
        "request_review",
        None,
        json!({"hash": common::sha("doc")}),
    );
    match c.respond("key-bob", "review", None, Value::Null) {
        Applied::Rejected(Refusal::Response(Rejection::UnknownSigner { .. })) => {}
        other => panic!("the one-time key is gone: {other:?}"),
    }
    assert!(matches!(
        c.respond("key-bob-own", "review", None, Value::Null),
        Applied::Stepped(_)
    ));
    // Removal clears the keys: bob can no longer act.
    assert!(matches!(
        c.apply(
            "key-bob-own",
            json!({"$schema": format!("{V}identity/schema.json#"), "id": "bob", "signkeys": {}})
        ),
        Applied::Identity(_)
    ));
    match c.respond("key-bob-own", "sign", None, Value::Null) {
        Applied::Rejected(Refusal::Response(Rejection::UnknownSigner { .. })) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.r.process().unwrap().doc()["actors"]["reviewer"]["identity"]["signkeys"],
        json!({})
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random sequences of responses, some refused, replayed twice, give the same bytes;
    /// a refused response never changes them.
    #[test]
    fn replay_is_deterministic(steps in proptest::collection::vec((0usize..3, 0usize..5, 0usize..3, any::<i32>()), 0..40)) {
        let actions = ["request_review", "review", "sign", "withdraw", "nonexistent"];
        let keys = ["key-alice", "key-bob", "key-eve"];
        let responses = [None, Some("accept"), Some("decline")];
        let play = || {
            let mut c = started();
            let mut out = Vec::new();
            for (who, what, resp, n) in &steps {
                let before = c.r.process().unwrap().to_canonical();
                let data = if *what == 0 { json!({"hash": common::sha(&n.to_string())}) } else { json!({"n": n}) };
                let applied = c.respond(keys[*who], actions[*what], responses[*resp], data);
                let after = c.r.process().unwrap().to_canonical();
                if matches!(applied, Applied::Rejected(_)) {
                    assert_eq!(before, after, "a refusal changed the process");
                }
                out.push(after);
            }
            out
        };
        prop_assert_eq!(play(), play());
    }
}
