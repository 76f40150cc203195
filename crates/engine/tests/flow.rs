//! The reference engine's flow tests (legalthings/workflow-engine `tests/flow`), written again
//! for Accord from what they check: the state after each step, the history, the expected path
//! (`next`), actor and asset data, and the rejections.

mod common;

use accord_engine::{Rejection, Request};
use common::Run;
use serde_json::{Value, json};

const SCENARIO: &str = "https://specs.livecontracts.io/v0.2.0/scenario/schema.json#";
const HTTP: &str = "https://specs.livecontracts.io/v0.2.0/action/http/schema.json#";
const NOP: &str = "https://specs.livecontracts.io/v0.2.0/action/nop/schema.json#";

fn start(mut doc: Value) -> Run {
    doc["$schema"] = json!(SCENARIO);
    common::start(doc)
}

fn key_of(actor: &str) -> String {
    common::key_of(actor)
}

fn basic_user() -> Value {
    json!({
        "title": "Basic user",
        "actors": {"user1": {"title": "User1"}},
        "actions": {"step1": {"title": "Step1", "actor": "user1", "display": "always", "responses": {"ok": {}, "cancel": {}}}},
        "states": {"initial": {"action": "step1", "transitions": [
            {"response": "ok", "transition": ":success"},
            {"response": "cancel", "transition": ":failed"}
        ]}}
    })
}

#[test]
fn basic_user_ok_and_cancel() {
    for (response, end) in [("ok", ":success"), ("cancel", ":failed")] {
        let mut r = start(basic_user());
        assert_eq!(r.state(), "initial");
        assert!(r.refs().is_empty());
        assert_eq!(r.default_action().as_deref(), Some("step1"));
        assert_eq!(r.next(), vec![":success"]);
        r.ok(
            "user1",
            "step1",
            Some(response),
            json!("the user says something"),
        );
        assert_eq!(r.state(), end);
        assert_eq!(r.refs(), vec![format!("step1.{response}")]);
        assert_eq!(r.last()["data"], "the user says something");
        assert!(r.next().is_empty());
        assert!(r.p.is_finished());
    }
}

fn system_and_user() -> Value {
    json!({
        "title": "Basic system and user",
        "actors": {"user": {}, "system": {}},
        "actions": {
            "step1": {"$schema": HTTP, "actor": "system", "url": "https://www.example.com", "responses": {"ok": {}, "error": {}}},
            "step2": {"$schema": NOP, "actor": "system", "trigger_response": "ok", "data": "second response", "responses": {"ok": {}, "error": {}}},
            "step3": {"actor": "user", "responses": {"ok": {}, "cancel": {}}}
        },
        "states": {
            "initial": {"action": "step1", "transitions": [
                {"action": "step1", "response": "ok", "transition": "step2"},
                {"action": "step1", "response": "error", "transition": ":failed"}]},
            "step2": {"action": "step2", "transitions": [
                {"action": "step2", "response": "ok", "transition": "step3"},
                {"action": "step2", "response": "error", "transition": ":failed"}]},
            "step3": {"action": "step3", "transitions": [
                {"action": "step3", "response": "ok", "transition": ":success"},
                {"action": "step3", "response": "cancel", "transition": ":failed"}]}
        }
    })
}

#[test]
fn basic_system_and_user_runs_system_actions_through_requests() {
    let mut r = start(system_and_user());
    assert_eq!(r.next(), vec!["step2", "step3", ":success"]);
    match &r.requests[..] {
        [
            Request::Http {
                action,
                method,
                url,
                ..
            },
        ] => {
            assert_eq!((action.as_str(), method.as_str()), ("step1", "GET"));
            assert_eq!(url, "https://www.example.com");
        }
        other => panic!("expected one HTTP request, got {other:?}"),
    }
    r.system("system", Some(("ok", json!("response body"))));
    assert_eq!(r.state(), "step2");
    assert_eq!(r.refs(), vec!["step1.ok"]);
    assert_eq!(r.last()["data"], "response body");
    assert_eq!(r.next(), vec!["step3", ":success"]);
    r.system("system", None);
    assert_eq!(r.state(), "step3");
    assert_eq!(r.last()["data"], "second response");
    assert_eq!(r.next(), vec![":success"]);
    assert!(
        r.requests.is_empty(),
        "a user action asks the node for nothing"
    );
    r.ok("user", "step3", Some("ok"), json!("the user says hi"));
    assert_eq!(r.refs(), vec!["step1.ok", "step2.ok", "step3.ok"]);
    assert_eq!(r.state(), ":success");
}

#[test]
fn basic_system_error_transition() {
    let mut r = start(system_and_user());
    r.system("system", Some(("error", json!("error response"))));
    assert_eq!(r.state(), ":failed");
    assert_eq!(r.refs(), vec!["step1.error"]);
    assert_eq!(r.last()["data"], "error response");
}

fn handshake() -> Value {
    json!({
        "title": "A handshake",
        "actors": {"initiator": {}, "recipient": {}},
        "actions": {
            "greet": {"actor": "initiator", "responses": {"ok": {"title": "Hi, how are you?"}}},
            "reply": {"actor": "recipient", "responses": {"ok": {"title": "Fine. How about you?"}, "not_good": {"title": "Not so good."}}},
            "ignore": {"actor": "recipient"},
            "sympathize": {"actor": "initiator", "responses": {"ok": {"title": "Sorry to hear that. Please tell me more."}}},
            "elaborate": {"actor": "recipient"},
            "complete": {"actor": "initiator"}
        },
        "states": {
            "initial": {"action": "greet", "transition": "wait_on_recipient"},
            "wait_on_recipient": {
                "title": "Waiting on the recipient to respond",
                "instructions": {"recipient": "You've been greeted."},
                "actions": ["reply", "ignore"],
                "transitions": [
                    {"action": "reply", "response": "ok", "transition": "wait_on_initiator"},
                    {"action": "reply", "response": "not_good", "transition": "expect_sympathy"},
                    {"action": "ignore", "transition": ":cancelled"}
                ]
            },
            "expect_sympathy": {"actions": ["sympathize", "complete"], "transitions": [
                {"action": "sympathize", "transition": "recipient_can_elaborate"},
                {"action": "complete", "transition": ":success"}]},
            "recipient_can_elaborate": {"action": "elaborate", "transitions": [{"action": "elaborate", "transition": "expect_sympathy"}]},
            "wait_on_initiator": {"action": "complete", "transitions": [{"action": "complete", "transition": ":success"}]}
        }
    })
}

#[test]
fn handshake_long_conversation_loops_in_next() {
    let mut r = start(handshake());
    assert_eq!(
        r.next(),
        vec!["wait_on_recipient", "wait_on_initiator", ":success"]
    );
    r.ok("initiator", "greet", Some("ok"), Value::Null);
    assert_eq!(r.state(), "wait_on_recipient");
    assert_eq!(r.last()["title"], "Hi, how are you?");
    assert_eq!(r.next(), vec!["wait_on_initiator", ":success"]);
    r.ok("recipient", "reply", Some("not_good"), Value::Null);
    assert_eq!(r.state(), "expect_sympathy");
    assert_eq!(r.last()["title"], "Not so good.");
    let from_expect = vec![
        "recipient_can_elaborate",
        "expect_sympathy",
        "recipient_can_elaborate",
        ":loop",
    ];
    let from_elaborate = vec![
        "expect_sympathy",
        "recipient_can_elaborate",
        "expect_sympathy",
        ":loop",
    ];
    assert_eq!(r.next(), from_expect);
    for line in [
        "My cat is stealing my boyfriend.",
        "She always comes in to cuddle with him.",
        "Misty has a mean purr.",
    ] {
        r.ok("initiator", "sympathize", Some("ok"), Value::Null);
        assert_eq!(r.state(), "recipient_can_elaborate");
        assert_eq!(
            r.last()["title"],
            "Sorry to hear that. Please tell me more."
        );
        assert_eq!(r.next(), from_elaborate);
        r.ok("recipient", "elaborate", None, json!(line));
        assert_eq!(r.state(), "expect_sympathy");
        assert_eq!(r.last()["key"], "ok", "no response key means the default");
        assert_eq!(r.last()["data"], line);
        assert_eq!(r.next(), from_expect);
    }
    r.ok("initiator", "complete", None, json!("I understand"));
    assert_eq!(r.state(), ":success");
    assert_eq!(r.refs().len(), 9);
    assert_eq!(r.refs().last().unwrap(), "complete.ok");
    assert!(r.next().is_empty());
}

fn person(id: &str) -> Value {
    json!({"type": "object", "properties": {"name": {"type": ["string", "null"]}, "organization": {"type": ["string", "null"]}, "id_hint": {"type": "string", "default": id}}})
}

#[test]
fn introduction_updates_actors() {
    let mut r = start(json!({
        "title": "A proper introduction",
        "actors": {"initiator": person("foo_id"), "recipient": person("bar_id")},
        "actions": {
            "introduce_initiator": {"actor": "initiator", "update": {"select": "actors.initiator"}},
            "introduce_recipient": {"actor": "recipient", "update": {"select": "actors.recipient"}}
        },
        "states": {
            "initial": {"action": "introduce_initiator", "transition": "wait_on_recipient"},
            "wait_on_recipient": {"action": "introduce_recipient", "transition": ":success"}
        }
    }));
    assert_eq!(
        r.actor("initiator")["name"],
        Value::Null,
        "properties start as null"
    );
    assert_eq!(
        r.actor("initiator")["id_hint"],
        "foo_id",
        "or as their default"
    );
    assert_eq!(r.next(), vec!["wait_on_recipient", ":success"]);
    r.ok(
        "initiator",
        "introduce_initiator",
        Some("ok"),
        json!({"name": "Joe Smith", "organization": "LTO Network"}),
    );
    assert_eq!(r.actor("initiator")["name"], "Joe Smith");
    assert_eq!(r.actor("initiator")["organization"], "LTO Network");
    assert_eq!(r.next(), vec![":success"]);
    r.ok(
        "recipient",
        "introduce_recipient",
        Some("ok"),
        json!({"name": "Jane Wong", "organization": "Acme Inc"}),
    );
    assert_eq!(r.state(), ":success");
    assert_eq!(r.actor("recipient")["name"], "Jane Wong");
}

fn current_actor(condition: bool) -> Value {
    let mut action = json!({"actors": ["initiator", "recipient"], "update": "current.actor"});
    if condition {
        action["condition"] = json!({"<eval>": "current.actor.name == null"});
    }
    json!({
        "title": "Introduction through current.actor",
        "actors": {"initiator": person("foo_id"), "recipient": person("bar_id")},
        "actions": {"introduce": action},
        "states": {
            "initial": {"action": "introduce", "transition": "wait_on_recipient"},
            "wait_on_recipient": {"action": "introduce", "transition": ":success"}
        }
    })
}

#[test]
fn current_actor_update_writes_the_acting_actor() {
    for with_condition in [false, true] {
        let mut r = start(current_actor(with_condition));
        assert_eq!(r.default_action().as_deref(), Some("introduce"));
        r.ok(
            "initiator",
            "introduce",
            None,
            json!({"name": "Joe Smith", "organization": "LTO Network"}),
        );
        assert_eq!(r.state(), "wait_on_recipient");
        assert_eq!(
            r.actor("initiator")["name"],
            "Joe Smith",
            "current.actor is the actor itself"
        );
        assert_eq!(r.actor("recipient")["name"], Value::Null);
        if with_condition {
            let open = r.p.open_actions().unwrap();
            assert_eq!(
                open,
                vec![("introduce".to_string(), vec!["recipient".to_string()])],
                "the condition is per actor"
            );
            let e = r
                .act("initiator", "introduce", None, json!({"name": "again"}))
                .unwrap_err();
            assert!(matches!(e, Rejection::NotAllowed { .. }), "{e}");
        }
        r.ok(
            "recipient",
            "introduce",
            Some("ok"),
            json!({"name": "Jane Wong", "organization": "Acme Inc"}),
        );
        assert_eq!(r.state(), ":success");
        assert_eq!(r.refs(), vec!["introduce.ok", "introduce.ok"]);
        assert_eq!(r.actor("recipient")["organization"], "Acme Inc");
    }
}

#[test]
fn updates_to_assets_with_projection() {
    let mut r = start(json!({
        "title": "Introduction with assets",
        "actors": {"initiator": person("foo_id"), "recipient": person("bar_id")},
        "assets": {"initiator_info": {}, "meeting_data": {}, "archive": {}},
        "actions": {
            "introduce_initiator": {"actor": "initiator", "update": ["actors.initiator", "assets.initiator_info"]},
            "introduce_recipient": {"actor": "recipient", "update": "actors.recipient"},
            "save_meeting_data": {"actor": "initiator", "update": ["assets.archive", {"select": "assets.meeting_data", "projection": "{date: meeting.date}"}]}
        },
        "states": {
            "initial": {"action": "introduce_initiator", "transition": "wait_on_recipient"},
            "wait_on_recipient": {"action": "introduce_recipient", "transition": "wait_on_meeting_data"},
            "wait_on_meeting_data": {"action": "save_meeting_data", "transition": ":success"}
        }
    }));
    assert_eq!(
        r.next(),
        vec!["wait_on_recipient", "wait_on_meeting_data", ":success"]
    );
    r.ok(
        "initiator",
        "introduce_initiator",
        Some("ok"),
        json!({"name": "Joe Smith", "organization": "LTO Network"}),
    );
    assert_eq!(r.p.doc()["assets"]["initiator_info"]["name"], "Joe Smith");
    assert_eq!(r.actor("initiator")["organization"], "LTO Network");
    r.ok(
        "recipient",
        "introduce_recipient",
        Some("ok"),
        json!({"name": "Jane Wong", "organization": "Acme Inc"}),
    );
    r.ok(
        "initiator",
        "save_meeting_data",
        Some("ok"),
        json!({"meeting": {"date": "2018-06-25", "comment": "Foo"}}),
    );
    assert_eq!(r.state(), ":success");
    assert_eq!(
        r.p.doc()["assets"]["archive"]["meeting"],
        json!({"date": "2018-06-25", "comment": "Foo"})
    );
    assert_eq!(r.p.doc()["assets"]["meeting_data"]["date"], "2018-06-25");
    assert_eq!(
        r.refs(),
        vec![
            "introduce_initiator.ok",
            "introduce_recipient.ok",
            "save_meeting_data.ok"
        ]
    );
}

#[test]
fn transition_conditions_keep_the_process_in_place_until_true() {
    let mut r = start(json!({
        "title": "Introduction with transition condition",
        "actors": {"initiator": person("foo_id")},
        "actions": {"introduce": {"actors": ["initiator"], "update": "actors.initiator"}},
        "states": {"initial": {"action": "introduce", "transitions": [
            {"transition": ":success", "condition": {"<eval>": "actors.initiator.name != null"}}]}}
    }));
    assert!(
        r.next().is_empty(),
        "the condition is false, so there is no expected path"
    );
    r.ok(
        "initiator",
        "introduce",
        Some("ok"),
        json!({"organization": "LTO Network"}),
    );
    assert_eq!(r.state(), "initial");
    assert_eq!(r.actor("initiator")["organization"], "LTO Network");
    r.ok(
        "initiator",
        "introduce",
        Some("ok"),
        json!({"nonsense": "chatter"}),
    );
    assert_eq!(
        r.actor("initiator")["nonsense"],
        "chatter",
        "extra properties are merged in"
    );
    r.ok("initiator", "introduce", None, Value::Null);
    assert_eq!(
        r.actor("initiator")["organization"],
        "LTO Network",
        "null on a whole actor changes nothing"
    );
    assert_eq!(r.refs().len(), 3);
    r.ok(
        "initiator",
        "introduce",
        Some("ok"),
        json!({"name": "Joe Smith"}),
    );
    assert_eq!(r.state(), ":success");
    assert_eq!(r.refs().len(), 4);
    assert_eq!(r.actor("initiator")["organization"], "LTO Network");
}

#[test]
fn the_full_introduction_with_per_actor_conditions() {
    let mut r = start(json!({
        "title": "A proper introduction",
        "actors": {"initiator": person("foo_id"), "recipient": person("bar_id")},
        "actions": {"introduce": {"actors": ["initiator", "recipient"], "condition": {"<eval>": "current.actor.name == null"}, "update": "current.actor"}},
        "states": {
            "initial": {"action": "introduce", "transitions": [{"transition": "wait_on_recipient", "condition": {"<eval>": "current.actor.name != null"}}]},
            "wait_on_recipient": {"action": "introduce", "transitions": [{"transition": ":success", "condition": {"<eval>": "actors.initiator.name != null && actors.recipient.name != null"}}]}
        }
    }));
    assert!(r.next().is_empty());
    r.ok(
        "initiator",
        "introduce",
        Some("ok"),
        json!({"organization": "LTO Network"}),
    );
    assert_eq!(r.state(), "initial");
    r.ok(
        "initiator",
        "introduce",
        Some("ok"),
        json!({"name": "Joe Smith"}),
    );
    assert_eq!(r.state(), "wait_on_recipient");
    r.ok(
        "recipient",
        "introduce",
        Some("ok"),
        json!({"organization": "Acme Inc"}),
    );
    assert_eq!(r.state(), "wait_on_recipient");
    r.ok(
        "recipient",
        "introduce",
        Some("ok"),
        json!({"name": "Jane Wong"}),
    );
    assert_eq!(r.state(), ":success");
    assert_eq!(r.actor("recipient")["organization"], "Acme Inc");
    assert_eq!(r.refs().len(), 4);
}

#[test]
fn rejections_are_typed_and_leave_the_process_unchanged() {
    let mut doc = basic_user();
    doc["actors"]["manager"] = json!({"title": "Manager"});
    doc["actions"]["other"] = json!({"actor": "user1"});
    let mut r = start(doc);
    let before = r.p.to_canonical();
    let e = r
        .act("user1", "non_existent", None, Value::Null)
        .unwrap_err();
    assert_eq!(
        e,
        Rejection::UnknownAction {
            action: "non_existent".into()
        }
    );
    let e = r.act("user1", "other", None, Value::Null).unwrap_err();
    assert!(
        matches!(&e, Rejection::NotOpen { action, state, open } if action == "other" && state == "initial" && open == &vec!["step1".to_string()]),
        "{e}"
    );
    let e = r.act("robot", "step1", None, Value::Null).unwrap_err();
    assert_eq!(
        e,
        Rejection::UnknownSigner {
            signer: key_of("robot")
        }
    );
    let e = r
        .act("manager", "step1", Some("yo"), Value::Null)
        .unwrap_err();
    assert!(
        matches!(&e, Rejection::NotAllowed { actors, allowed, .. } if actors == &vec!["manager".to_string()] && allowed == &vec!["user1".to_string()]),
        "the actor check comes before the response check: {e}"
    );
    let e = r
        .act("user1", "step1", Some("yo"), Value::Null)
        .unwrap_err();
    assert!(
        matches!(&e, Rejection::InvalidResponse { response, valid, .. } if response == "yo" && valid == &vec!["ok".to_string(), "cancel".to_string()]),
        "{e}"
    );
    assert_eq!(r.p.to_canonical(), before, "nothing changed");
}

#[test]
fn data_that_breaks_a_schema_is_rejected_with_its_pointer() {
    let mut r = start(json!({
        "title": "Typed",
        "actors": {"client": {"type": "object", "properties": {"age": {"type": ["integer", "null"], "minimum": 18}}}},
        "actions": {"tell": {"actor": "client", "update": "actors.client"}},
        "states": {"initial": {"action": "tell", "transition": ":success"}}
    }));
    let e = r
        .act("client", "tell", None, json!({"age": "old"}))
        .unwrap_err();
    match e {
        Rejection::Schema { pointer, .. } => assert_eq!(pointer, "/actors/client/age"),
        other => panic!("{other}"),
    }
    assert_eq!(r.state(), "initial");
    assert!(r.refs().is_empty());
    r.ok("client", "tell", None, json!({"age": 30}));
    assert_eq!(r.state(), ":success");
}

/// Issue 15, gaps 1 and 2: a property without a `default` starts null and the process starts
/// (the reference's Introduction flow); null is "not set", anything written is held to the
/// schema; an actor schema's word on `identity` (the reference's Handshake flow declares it a
/// string with a made-up default) does not stand against the identity the engine binds.
#[test]
fn unset_properties_start_null_and_written_ones_are_held_to_the_schema() {
    let mut r = start(json!({
        "title": "Introduction",
        "actors": {"client": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "minLength": 2},
            "identity": {"type": "string", "default": "foo_id"}
        }}},
        "actions": {"tell": {"actor": "client", "update": "actors.client"}},
        "states": {"initial": {"action": "tell", "transition": ":success"}}
    }));
    let client = &r.p.doc()["actors"]["client"];
    assert_eq!(client["name"], Value::Null);
    assert_eq!(client["identity"]["id"], json!("client_id"), "{client}");
    for bad in [json!({"name": 5}), json!({"name": "x"})] {
        match r.act("client", "tell", None, bad.clone()).unwrap_err() {
            Rejection::Schema { pointer, .. } => assert_eq!(pointer, "/actors/client/name"),
            other => panic!("{bad}: {other}"),
        }
    }
    r.ok("client", "tell", None, json!({"name": "Ann"}));
    assert_eq!(r.state(), ":success");
    assert_eq!(r.p.doc()["actors"]["client"]["name"], json!("Ann"));
}

/// Issue 15, gap 6: an update may write any path but the engine's own (the reference's
/// update-instructions fixture writes `foo`, `baz` and `bar`); an update may create an actor
/// the scenario does not declare (LTO's invitation tutorial), which has no identity.
#[test]
fn updates_write_any_path_but_the_engines_own() {
    let mut r = start(json!({
        "title": "Anywhere",
        "actors": {"client": {}},
        "actions": {"tell": {"actor": "client", "update": [
            "foo",
            {"select": "bar", "patch": false},
            {"select": "info.notes", "data": {"<ref>": "current.response.data.note"}},
            {"select": "actors.guest", "data": {"name": "Guest"}}
        ]}},
        "states": {"initial": {"action": "tell", "transition": ":success"}}
    }));
    r.ok("client", "tell", None, json!({"a": 1, "note": "hello"}));
    let doc = r.p.to_json();
    assert_eq!(doc["foo"], json!({"a": 1, "note": "hello"}), "{doc}");
    assert_eq!(doc["bar"], json!({"a": 1, "note": "hello"}));
    assert_eq!(doc["info"]["notes"], json!("hello"));
    assert_eq!(doc["actors"]["guest"]["name"], json!("Guest"));
    assert_eq!(doc["actors"]["guest"].get("identity"), None);
    assert_eq!(r.state(), ":success");

    for select in [
        "id",
        "previous",
        "chain",
        "current.key",
        "current.actions",
        "actors.client.identity",
        "current.actor.key",
    ] {
        let doc = json!({
            "$schema": SCENARIO,
            "title": "Protected",
            "actors": {"client": {}},
            "actions": {"tell": {"actor": "client", "update": select}},
            "states": {"initial": {"action": "tell", "transition": ":success"}}
        });
        let checked = accord_scenario::check_value(&doc);
        let d = checked
            .diagnostics
            .iter()
            .find(|d| d.code == "bad-select")
            .unwrap_or_else(|| panic!("{select}: {:?}", checked.diagnostics));
        assert!(d.message.contains("may write any path except"), "{d}");
        assert!(checked.scenario.is_none(), "{select}");
    }
}

#[test]
fn a_default_that_breaks_its_own_schema_is_refused() {
    let doc = json!({
        "$schema": SCENARIO,
        "title": "Bad default",
        "actors": {"client": {"properties": {"age": {"type": "integer", "default": "old"}}}},
        "actions": {"tell": {"actor": "client"}},
        "states": {"initial": {"action": "tell", "transition": ":success"}}
    });
    let scenario = accord_scenario::check_value(&doc).scenario.expect("reads");
    let errors = accord_engine::Compiled::new(scenario).unwrap_err();
    assert!(
        errors.iter().any(|e| e.code == "default-breaks-schema"
            && e.pointer == "/actors/client"
            && e.message.contains("/age")),
        "{errors:?}"
    );
}

#[test]
fn timeouts_set_a_due_date_and_ask_for_a_timer() {
    let mut doc = basic_user();
    doc["states"]["initial"]["timeout"] = json!("P1DT2H");
    let r = start(doc);
    let due = 1_000 + (26 * 3600 * 1000);
    assert_eq!(r.p.doc()["current"]["due_date"], json!(due));
    assert!(r.requests.contains(&Request::Timer {
        state: "initial".into(),
        due
    }));
}

#[test]
fn replaying_gives_the_same_bytes() {
    let play = || {
        let mut r = start(handshake());
        r.ok("initiator", "greet", Some("ok"), Value::Null);
        r.ok(
            "recipient",
            "reply",
            Some("not_good"),
            json!({"mood": "low", "n": 1.5}),
        );
        r.ok("initiator", "complete", None, json!("I understand"));
        r.p.to_canonical()
    };
    let a = play();
    assert_eq!(a, play());
    let text = String::from_utf8(a).unwrap();
    assert!(
        text.starts_with("{\"$schema\":"),
        "canonical JSON sorts keys: {text}"
    );
}

#[test]
fn enormous_timeouts_saturate_instead_of_overflowing() {
    let mut doc = basic_user();
    doc["states"]["initial"]["timeout"] =
        json!("P4000000000Y4000000000M4000000000DT18446744073709551615S");
    let r = start(doc);
    assert_eq!(r.p.doc()["current"]["due_date"], json!((1u64 << 53) - 1));
}
