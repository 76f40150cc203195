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
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
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

fn deviation_d1() -> Value {
    json!({
        "$schema": "urn:accord:v1:deviation", "id": "d1", "from": "review",
        "actions": {"ask_expert": {"actor": "reviewer", "title": "Ask an expert"}, "expert_done": {"actor": "reviewer"}},
        "states": {"with_expert": {"title": "With an expert", "action": "expert_done", "transition": "review"}},
        "open": ["ask_expert"],
        "transitions": [{"action": "ask_expert", "transition": "with_expert"}]
    })
}

fn accept(c: &mut Chain, signer: &str, id: &str) -> Applied {
    c.apply(
        signer,
        json!({"$schema": "urn:accord:v1:deviation-acceptance", "deviation": id}),
    )
}

#[test]
fn a_deviation_is_in_force_once_everyone_accepts_and_gone_once_left() {
    let mut c = started();
    c.respond(
        "key-alice",
        "request_review",
        None,
        json!({"hash": common::sha("doc")}),
    );
    assert!(
        matches!(
            c.apply("key-alice", deviation_d1()),
            Applied::Deviation(false)
        ),
        "bob has not accepted yet"
    );
    match c.respond("key-bob", "ask_expert", None, Value::Null) {
        Applied::Rejected(Refusal::Response(Rejection::UnknownAction { .. })) => {}
        other => panic!("not in force yet: {other:?}"),
    }
    match accept(&mut c, "key-eve", "d1") {
        Applied::Rejected(Refusal::Deviation(m)) => assert!(m.contains("not a party"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        accept(&mut c, "key-bob", "d1"),
        Applied::Deviation(true)
    ));
    let p = c.r.process().unwrap();
    assert_eq!(p.to_json()["deviations"][0]["in_force"], true);
    assert_eq!(
        p.open_actions()
            .unwrap()
            .iter()
            .map(|(a, _)| a.as_str())
            .collect::<Vec<_>>(),
        vec!["review", "ask_expert"]
    );
    assert!(matches!(
        c.respond("key-bob", "ask_expert", None, Value::Null),
        Applied::Stepped(_)
    ));
    assert_eq!(c.r.process().unwrap().state(), "with_expert");
    assert_eq!(
        c.r.process().unwrap().doc()["current"]["title"],
        "With an expert"
    );
    assert!(matches!(
        c.respond("key-bob", "expert_done", None, Value::Null),
        Applied::Stepped(_)
    ));
    assert_eq!(c.r.process().unwrap().state(), "review");
    assert_eq!(
        c.r.process().unwrap().deviations().count(),
        0,
        "back in the main flow: the deviation is gone"
    );
    match c.respond("key-bob", "ask_expert", None, Value::Null) {
        Applied::Rejected(Refusal::Response(Rejection::UnknownAction { .. })) => {}
        other => panic!("used once: {other:?}"),
    }
    c.respond("key-bob", "review", Some("accept"), Value::Null);
    c.respond("key-bob", "sign", None, Value::Null);
    c.respond("key-alice", "sign", None, Value::Null);
    assert_eq!(c.r.process().unwrap().state(), ":success");
}

#[test]
fn deviations_that_do_not_fit_are_refused_and_unaccepted_ones_lapse() {
    let mut c = started();
    c.respond(
        "key-alice",
        "request_review",
        None,
        json!({"hash": common::sha("doc")}),
    );
    let mut bad = deviation_d1();
    bad["states"]["with_expert"]["transition"] = json!("nowhere");
    match c.apply("key-alice", bad) {
        Applied::Rejected(Refusal::Deviation(m)) => {
            assert!(m.contains("unknown-state") && m.contains("nowhere"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    let mut elsewhere = deviation_d1();
    elsewhere["from"] = json!("signing");
    match c.apply("key-alice", elsewhere) {
        Applied::Rejected(Refusal::Deviation(m)) => {
            assert!(m.contains("the process is in `review`"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        c.apply("key-alice", deviation_d1()),
        Applied::Deviation(false)
    ));
    c.respond("key-bob", "review", Some("accept"), Value::Null);
    assert_eq!(
        c.r.process().unwrap().deviations().count(),
        0,
        "the process left `review` before bob accepted"
    );
    match accept(&mut c, "key-bob", "d1") {
        Applied::Rejected(Refusal::Deviation(m)) => assert!(m.contains("gone"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_scenario_update_is_carried_by_a_deviation() {
    let mut c = started();
    let mut v2 = scenario();
    v2["id"] = json!("signing-v2");
    v2["states"]["notarise"] =
        json!({"title": "At the notary", "action": "notarise", "transition": ":success"});
    v2["actions"]["notarise"] = json!({"actor": "drafter"});
    v2["assets"]["deed"] =
        json!({"type": "object", "properties": {"number": {"type": ["string", "null"]}}});
    assert!(matches!(c.apply("node", v2), Applied::Scenario(_)));
    c.respond(
        "key-alice",
        "request_review",
        None,
        json!({"hash": common::sha("doc")}),
    );
    c.respond("key-bob", "review", Some("accept"), Value::Null);
    c.respond("key-bob", "sign", None, Value::Null);
    let update = json!({
        "$schema": "urn:accord:v1:deviation", "id": "law-2027", "from": "signing", "update": "signing-v2",
        "actions": {"move_to_notary": {"actor": "drafter"}},
        "open": ["move_to_notary"],
        "transitions": [{"action": "move_to_notary", "transition": ":update:notarise"}]
    });
    assert!(matches!(
        c.apply("key-alice", update),
        Applied::Deviation(false)
    ));
    assert!(matches!(
        accept(&mut c, "key-bob", "law-2027"),
        Applied::Deviation(true)
    ));
    assert!(matches!(
        c.respond("key-alice", "move_to_notary", None, Value::Null),
        Applied::Stepped(_)
    ));
    let p = c.r.process().unwrap();
    assert_eq!(p.state(), "notarise");
    assert_eq!(p.doc()["scenario"], "signing-v2");
    assert_eq!(
        p.doc()["assets"]["deed"]["number"],
        Value::Null,
        "the new scenario's assets start empty"
    );
    assert_eq!(
        p.doc()["assets"]["document"]["hash"],
        common::sha("doc"),
        "data is kept"
    );
    assert_eq!(p.doc()["actors"]["reviewer"]["signed"], true);
    assert!(matches!(
        c.respond("key-alice", "notarise", None, Value::Null),
        Applied::Stepped(_)
    ));
    assert_eq!(c.r.process().unwrap().state(), ":success");
}

#[test]
fn sub_processes_share_the_chain_but_not_the_state() {
    let mut c = started();
    let plain = std::fs::read_to_string(format!(
        "{}/../../examples/scenarios/document-signing.json",
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let plain: Value = serde_json::from_str(&plain).unwrap();
    assert!(matches!(c.apply("node", plain), Applied::Scenario(_)));
    let sub = json!({"$schema": format!("{V}process/schema.json#"), "id": "annex", "parent": "p1", "scenario": "accord-example-document-signing", "actors": {"drafter": "bob", "reviewer": "alice"}});
    assert!(matches!(c.apply("node", sub.clone()), Applied::Started(_)));
    match c.apply("node", sub) {
        Applied::Rejected(Refusal::Order(m)) => assert!(m.contains("already"), "{m}"),
        other => panic!("{other:?}"),
    }
    let mut r = json!({"$schema": format!("{V}response/schema.json#"), "process": "annex", "action": "request_review", "data": {"hash": common::sha("annex")}});
    assert!(
        matches!(c.apply("key-bob", r.clone()), Applied::Stepped(_)),
        "bob drafts the annex"
    );
    assert_eq!(c.r.process_by_id("annex").unwrap().state(), "review");
    assert_eq!(
        c.r.process().unwrap().state(),
        "initial",
        "the main process did not move"
    );
    r["process"] = json!("nope");
    assert!(matches!(
        c.apply("key-bob", r),
        Applied::Rejected(Refusal::Order(_))
    ));
    let projection = c.r.to_json().unwrap();
    assert_eq!(
        projection["subprocesses"],
        json!([{"id": "annex", "scenario": "accord-example-document-signing", "title": "Document review and signing", "state": "review"}])
    );
    // What the node stores: the same bytes as the copied projection, written from borrowed parts.
    assert_eq!(
        String::from_utf8(c.r.to_canonical().unwrap()).unwrap(),
        String::from_utf8(accord_engine::canonical(&projection)).unwrap()
    );
}

/// Event kinds are read from `$schema` as the reference reads them: any `vX.Y.Z`.
#[test]
fn any_version_of_a_live_contracts_schema_names_its_kind() {
    use accord_engine::Kind;
    for (schema, kind) in [
        (
            "https://specs.livecontracts.io/v0.2.0/identity/schema.json#",
            Some(Kind::Identity),
        ),
        (
            "https://specs.livecontracts.io/v10.465.3/identity/schema.json#",
            Some(Kind::Identity),
        ),
        (
            "https://specs.livecontracts.io/v1.0.0/scenario/schema.json#",
            Some(Kind::Scenario),
        ),
        (
            "https://specs.livecontracts.io/v0.2.0a/identity/schema.json#",
            None,
        ),
        (
            "https://specs.livecontracts.io/0.2.0/identity/schema.json#",
            None,
        ),
        (
            "http://specs.livecontracts.io/v0.2.0/identity/schema.json#",
            None,
        ),
        (
            "https://specs.livecontracts.io/v0.2.0/thing/schema.json#",
            None,
        ),
    ] {
        assert_eq!(Kind::of(schema), kind, "{schema}");
    }
}

/// A step says which process it moved and, for each request, who carries it out: the actor's
/// identity (whose `system` key names the node), for a time-out the first actor by name with
/// a `system` key.
#[test]
fn a_step_names_the_process_it_moved_and_who_carries_out_each_request() {
    let scenario = json!({
        "$schema": format!("{V}scenario/schema.json#"),
        "id": "carriers",
        "title": "Carriers",
        "actors": {"user": {}, "service": {}},
        "actions": {
            "ask": {"actor": "user", "responses": {"ok": {}}},
            "answer": {"$schema": format!("{V}action/nop/schema.json#"), "actor": "service", "trigger_response": "ok", "responses": {"ok": {}}}
        },
        "states": {
            "initial": {"action": "ask", "transition": "answering"},
            "answering": {"action": "answer", "timeout": "PT1H", "transition": ":success"}
        }
    });
    let mut c = Chain::new();
    assert!(matches!(c.apply("node", scenario), Applied::Scenario(_)));
    c.identity("node", "u", "key-u");
    c.apply(
        "node",
        json!({"$schema": format!("{V}identity/schema.json#"), "id": "s", "signkeys": {"user": "key-s", "system": "node-s"}}),
    );
    let start = |id: &str| json!({"$schema": format!("{V}process/schema.json#"), "id": id, "scenario": "carriers", "actors": {"user": "u", "service": "s"}});
    let mut sub = start("second");
    sub["parent"] = json!("main");
    match c.apply("node", start("main")) {
        Applied::Started(moved) => {
            assert_eq!(moved.process, "main");
            assert!(moved.requests.is_empty(), "{moved:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(c.apply("node", sub), Applied::Started(m) if m.process == "second"));
    // The user of the sub-process asks: the sub-process moves, not the main one.
    let ask = json!({"$schema": format!("{V}response/schema.json#"), "process": "second", "action": "ask", "key": "ok"});
    let moved = match c.apply("key-u", ask) {
        Applied::Stepped(moved) => moved,
        other => panic!("{other:?}"),
    };
    assert_eq!(moved.process, "second");
    assert_eq!(c.r.process_by_id("main").unwrap().state(), "initial");
    let nop = moved
        .requests
        .iter()
        .find(|a| matches!(a.request, accord_engine::Request::Nop { .. }))
        .expect("the service's nop action is asked for");
    let carrier = nop.carrier.as_ref().expect("the service carries it out");
    assert_eq!(carrier.actor, "service");
    assert_eq!(carrier.identity.id, "s");
    assert_eq!(carrier.identity.key("system"), Some("node-s"));
    let timer = moved
        .requests
        .iter()
        .find(|a| matches!(a.request, accord_engine::Request::Timer { .. }))
        .expect("the state's time-out is asked for");
    // The only actor with a system key runs the time-out.
    assert_eq!(
        timer.carrier.as_ref().map(|c| c.actor.as_str()),
        Some("service")
    );
}
