//! Refusals change nothing, and updates cannot rewrite what the engine derives identity and
//! state from. (Regression tests for the review of accord-engine; the scenarios are the
//! reviewer's reproducers, with the assertions turned into the behaviour now required.)

use accord_engine::{Applied, Refusal, Rejection, canonical};
use serde_json::{Value, json};

mod common;

use common::chain::{R, V, identity, process, response, scenario};

/// Review 2.1: a refused response whose first update created a new top-level key (`info`)
/// left `info: {}` behind.
#[test]
fn refused_step_leaves_no_created_top_level_object() {
    let mut r = R::new();
    r.ok(
        "node",
        scenario(json!({
            "id": "s",
            "actors": {"a": {"type": "object", "properties": {"n": {"type": ["string", "null"]}}}},
            "actions": {"go": {"actor": "a", "update": [
                {"select": "info.note", "data": "x"},
                {"select": "current.actor", "patch": true}
            ]}},
            "states": {"initial": {"action": "go", "transition": ":success"}}
        })),
    );
    r.ok("node", identity("a_id", "key-a"));
    r.ok("node", process("s", json!({"a": "a_id"})));
    // `n` must be text: the second update breaks the schema, the step is refused.
    let why = r.refused("key-a", response("go", json!({"n": 5})), None);
    assert!(
        matches!(why, Refusal::Response(Rejection::Schema { .. })),
        "{why:?}"
    );
    assert!(r.json().get("info").is_none());
    // The same step with good data goes through and writes both.
    r.ok("key-a", response("go", json!({"n": "five"})));
    let j = r.json();
    assert_eq!(j["info"], json!({"note": "x"}));
    assert_eq!(j["actors"]["a"]["n"], json!("five"));
}

fn deviation_with_timeout() -> R {
    let mut r = R::new();
    r.ok("node", scenario(json!({
        "id": "s",
        "actors": {"a": {"type": "object"}},
        "assets": {"c": {"type": "object", "properties": {"v": {"type": "number", "default": 0}}}},
        "actions": {"go": {"actor": "a"}, "finish": {"actor": "a"}, "set": {"actor": "a", "update": "assets.c"}},
        "states": {
            "initial": {"actions": ["go", "set"], "transitions": [{"action": "go", "transition": "b"}]},
            "b": {"title": {"<math>": "10 / x", "x": {"<ref>": "assets.c.v"}}, "action": "finish", "transition": ":success"}
        }
    })));
    r.ok("node", identity("a_id", "key-a"));
    r.ok("node", process("s", json!({"a": "a_id"})));
    let d = r.apply("key-a", json!({
        "$schema": "urn:accord:v1:deviation", "id": "dv", "from": "initial",
        "actions": {"wait": {"actor": "a"}, "done": {"actor": "a"}},
        "states": {"dwait": {"actions": ["done", "set"], "timeout": "PT1S", "transitions": [
            {"action": ":timeout", "transition": "b"}, {"action": "done", "transition": "initial"}]}},
        "open": ["wait"],
        "transitions": [{"action": "wait", "transition": "dwait"}]
    }));
    assert!(matches!(d, Applied::Deviation(true)), "{d:?}");
    r.ok("key-a", response("wait", Value::Null));
    assert_eq!(r.json()["current"]["key"], json!("dwait"));
    r
}

/// Review 2.2: a refused `:timeout` (the target state's title fails) dropped the deviation in
/// force and put the base scenario back, wedging the process in a state it lacks.
#[test]
fn refused_timeout_keeps_the_deviation() {
    let mut r = deviation_with_timeout();
    let timeout = json!({"$schema": format!("{V}response/schema.json#"), "action": ":timeout"});
    let why = r.refused("key-a", timeout.clone(), Some(1_000_000));
    assert!(
        matches!(why, Refusal::Response(Rejection::Instruction(_))),
        "{why:?}"
    );
    assert_eq!(r.json()["deviations"][0]["in_force"], json!(true));
    // The process is not stuck: the deviation's actions still exist ...
    r.ok("key-a", response("set", json!({"v": 2})));
    // ... and once the title can be evaluated, the time-out goes through.
    r.ok("key-a", timeout);
    let j = r.json();
    assert_eq!(j["current"]["key"], json!("b"));
    assert_eq!(j["current"]["title"], json!(5));
}

/// Review 2.3: a refused step into an updated scenario kept the new scenario id and its new
/// actors and assets.
#[test]
fn refused_scenario_update_leaves_the_old_scenario() {
    let mut r = R::new();
    r.ok(
        "node",
        scenario(json!({
            "id": "s1",
            "actors": {"a": {"type": "object"}},
            "actions": {"go": {"actor": "a"}},
            "states": {"initial": {"action": "go", "transition": ":success"}}
        })),
    );
    r.ok("node", scenario(json!({
        "id": "s2",
        "actors": {"a": {"type": "object"}, "newcomer": {"type": "object"}},
        "assets": {"extra": {"type": "object"}},
        "actions": {"go": {"actor": "a"}},
        "states": {
            "initial": {"action": "go", "transition": "next"},
            "next": {"title": {"<dateformat>": {"date": {"<ref>": "current.response.data.d"}}}, "action": "go", "transition": ":success"}
        }
    })));
    r.ok("node", identity("a_id", "key-a"));
    r.ok("node", process("s1", json!({"a": "a_id"})));
    let d = r.apply(
        "key-a",
        json!({
            "$schema": "urn:accord:v1:deviation", "id": "up", "from": "initial", "update": "s2",
            "actions": {"upd": {"actor": "a"}},
            "open": ["upd"],
            "transitions": [{"action": "upd", "transition": ":update:next"}]
        }),
    );
    assert!(matches!(d, Applied::Deviation(true)), "{d:?}");
    r.refused("key-a", response("upd", json!({"d": "not a date"})), None);
    let j = r.json();
    assert_eq!(j["scenario"], json!("s1"));
    assert!(j["actors"].get("newcomer").is_none());
    // With a date, the update goes through.
    r.ok("key-a", response("upd", json!({"d": "2024-01-02"})));
    let j = r.json();
    assert_eq!(j["scenario"], json!("s2"));
    assert_eq!(j["current"]["key"], json!("next"));
    assert!(j["actors"].get("newcomer").is_some());
    assert!(j["assets"].get("extra").is_some());
}

/// Review 4.1: `select: current.actor` with the response data let an actor rewrite its own
/// `identity` (another party's id, a key of its choosing): consent bypass and signer hijack.
#[test]
fn an_update_cannot_rewrite_an_actors_identity() {
    let mut r = R::new();
    r.ok("node", scenario(json!({
        "id": "s",
        "actors": {"a": {"type": "object"}, "b": {"type": "object"}},
        "actions": {
            "profile": {"actor": "a", "update": {"select": "current.actor", "patch": true}},
            "replace": {"actor": "a", "update": {"select": "current.actor", "patch": false}},
            "all": {"actor": "a", "update": {"select": "actors", "patch": true}},
            "go": {"actor": "b"}
        },
        "states": {"initial": {"actions": ["profile", "replace", "all", "go"], "transitions": [{"action": "go", "transition": ":success"}]}}
    })));
    // Naming an identity in `select` is refused with the scenario, before any process.
    let why = r.refused(
        "node",
        scenario(json!({
            "id": "deep",
            "actors": {"a": {"type": "object"}, "b": {"type": "object"}},
            "actions": {"deep": {"actor": "a", "update": "actors.b.identity.signkeys"}},
            "states": {"initial": {"action": "deep", "transition": ":success"}}
        })),
        None,
    );
    assert!(
        matches!(&why, Refusal::BadScenario(m) if m.contains("bad-select") && m.contains("actors.b.identity")),
        "{why:?}"
    );
    r.ok("node", identity("a_id", "key-a"));
    r.ok("node", identity("b_id", "key-b"));
    r.ok("node", process("s", json!({"a": "a_id", "b": "b_id"})));
    let hijack = json!({"name": "A", "identity": {"id": "b_id", "signkeys": {"user": "key-a", "x": "key-mallory"}}});
    let why = r.refused("key-a", response("profile", hijack.clone()), None);
    assert!(
        matches!(&why, Refusal::Response(Rejection::ReadOnly { path }) if path == "actors.a.identity"),
        "{why:?}"
    );
    r.refused("key-a", response("replace", hijack), None);
    r.refused("key-a", response("profile", json!({"key": "b"})), None);
    r.refused(
        "key-a",
        response("all", json!({"b": {"identity": null}})),
        None,
    );
    // Ordinary data still goes in; replacing the actor's data keeps its identity and key.
    r.ok("key-a", response("profile", json!({"name": "A"})));
    r.ok("key-a", response("replace", json!({"name": "A2"})));
    let a = r.json()["actors"]["a"].clone();
    assert_eq!(a["name"], json!("A2"));
    assert_eq!(a["key"], json!("a"));
    assert_eq!(a["identity"]["id"], json!("a_id"));
    // Writing the identity as it is changes nothing, so it is not refused.
    let same = json!({"name": "A3", "identity": a["identity"].clone()});
    r.ok("key-a", response("replace", same));
    assert_eq!(r.json()["actors"]["a"]["identity"], a["identity"]);
    // A deviation proposed by a alone is not in force: b has not agreed.
    let d = r.apply(
        "key-a",
        json!({
            "$schema": "urn:accord:v1:deviation", "id": "dv", "from": "initial",
            "actions": {"grab": {"actor": "a"}}, "open": ["grab"],
            "transitions": [{"action": "grab", "transition": ":success"}]
        }),
    );
    assert!(matches!(d, Applied::Deviation(false)), "{d:?}");
    // And a key on no identity event acts as no one.
    let g = r.apply("key-mallory", response("go", Value::Null));
    assert!(
        matches!(
            g,
            Applied::Rejected(Refusal::Response(Rejection::UnknownSigner { .. }))
        ),
        "{g:?}"
    );
}

/// Review 4.2: `select: assets` (one segment) skipped the schema check that
/// `select: assets.document` gets.
#[test]
fn whole_collection_select_is_schema_checked() {
    let mut r = R::new();
    r.ok("node", scenario(json!({
        "id": "s",
        "actors": {"a": {"type": "object", "properties": {"n": {"type": ["number", "null"]}}}},
        "assets": {"document": {"type": "object", "properties": {"hash": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"}}}},
        "actions": {
            "one": {"actor": "a", "update": "assets.document"},
            "all": {"actor": "a", "update": "assets"},
            "actors": {"actor": "a", "update": "actors"},
            "end": {"actor": "a"}
        },
        "states": {"initial": {"actions": ["one", "all", "actors", "end"], "transitions": [{"action": "end", "transition": ":success"}]}}
    })));
    r.ok("node", identity("a_id", "key-a"));
    r.ok("node", process("s", json!({"a": "a_id"})));
    let why = r.refused("key-a", response("one", json!({"hash": "not hex"})), None);
    assert!(
        matches!(&why, Refusal::Response(Rejection::Schema { pointer, .. }) if pointer == "/assets/document/hash"),
        "{why:?}"
    );
    let why = r.refused(
        "key-a",
        response("all", json!({"document": {"hash": "not hex"}})),
        None,
    );
    assert!(
        matches!(&why, Refusal::Response(Rejection::Schema { pointer, .. }) if pointer == "/assets/document/hash"),
        "{why:?}"
    );
    let why = r.refused(
        "key-a",
        response("actors", json!({"a": {"n": "text"}})),
        None,
    );
    assert!(
        matches!(&why, Refusal::Response(Rejection::Schema { pointer, .. }) if pointer == "/actors/a/n"),
        "{why:?}"
    );
    let good = "0".repeat(64);
    r.ok(
        "key-a",
        response("all", json!({"document": {"hash": good}})),
    );
    r.ok("key-a", response("actors", json!({"a": {"n": 3}})));
    let j = r.json();
    assert_eq!(j["assets"]["document"]["hash"], json!(good));
    assert_eq!(j["actors"]["a"]["n"], json!(3));
}

/// Review 4.3: `select: current` let a response set `current.key` and jump to any state.
#[test]
fn an_update_cannot_move_the_state() {
    let mut r = R::new();
    r.ok("node", scenario(json!({
        "id": "s",
        "actors": {"a": {"type": "object"}, "b": {"type": "object"}},
        "actions": {
            "note": {"actor": "a", "update": {"select": "current", "patch": true}},
            "replace": {"actor": "a", "update": {"select": "current", "patch": false}},
            "approve": {"actor": "b"}
        },
        "states": {"initial": {"actions": ["note", "replace", "approve"], "transitions": [{"action": "approve", "transition": ":success"}]}}
    })));
    // Naming `current.due_date` (or `current.key`) in `select` is refused with the scenario.
    for select in ["current.due_date", "current.key"] {
        let why = r.refused(
            "node",
            scenario(json!({
                "id": "due",
                "actors": {"a": {"type": "object"}},
                "actions": {"due": {"actor": "a", "update": select}},
                "states": {"initial": {"action": "due", "transition": ":success"}}
            })),
            None,
        );
        assert!(
            matches!(&why, Refusal::BadScenario(m) if m.contains("bad-select") && m.contains(select)),
            "{why:?}"
        );
    }
    r.ok("node", identity("a_id", "key-a"));
    r.ok("node", identity("b_id", "key-b"));
    r.ok("node", process("s", json!({"a": "a_id", "b": "b_id"})));
    let why = r.refused("key-a", response("note", json!({"key": ":success"})), None);
    assert!(
        matches!(&why, Refusal::Response(Rejection::ReadOnly { path }) if path == "current.key"),
        "{why:?}"
    );
    r.refused("key-a", response("note", json!({"key": "nowhere"})), None);
    r.refused("key-a", response("note", json!({"due_date": 5})), None);
    r.refused("key-a", response("replace", json!("gone")), None);
    // Other fields of `current` may be written, and the state stays.
    r.ok("key-a", response("note", json!({"remark": "hello"})));
    r.ok("key-a", response("replace", json!({"remark": "again"})));
    let j = r.json();
    assert_eq!(j["current"]["key"], json!("initial"));
    assert_eq!(j["current"]["remark"], json!("again"));
    r.ok("key-b", response("approve", Value::Null));
    assert_eq!(r.json()["current"]["key"], json!(":success"));
}

/// Review 4.4: an identity could list another party's key, and that party's responses were
/// then booked to the claimer's actor.
#[test]
fn an_identity_cannot_claim_another_identitys_key() {
    let mut r = R::new();
    r.ok("node", scenario(json!({
        "id": "s",
        "actors": {"a": {"type": "object", "properties": {"signed": {"type": ["boolean", "null"]}}},
                   "b": {"type": "object", "properties": {"signed": {"type": ["boolean", "null"]}}}},
        "actions": {"sign": {"actors": ["a", "b"], "update": {"select": "current.actor", "data": {"signed": true}}}, "end": {"actor": "a"}},
        "states": {"initial": {"actions": ["sign", "end"], "transitions": [{"action": "end", "transition": ":success"}]}}
    })));
    r.ok("node", identity("a_id", "key-a"));
    r.ok("node", identity("b_id", "key-b"));
    // A new identity with b's key is refused as well.
    let why = r.refused("node", identity("c_id", "key-b"), None);
    assert!(
        matches!(&why, Refusal::KeyInUse { key, holder } if key == "key-b" && holder == "b_id"),
        "{why:?}"
    );
    r.ok("node", process("s", json!({"a": "a_id", "b": "b_id"})));
    // a's identity, changed by a itself, may not list b's key.
    let claim = json!({"$schema": format!("{V}identity/schema.json#"), "id": "a_id", "signkeys": {"user": "key-a", "other": "key-b"}});
    let why = r.refused("key-a", claim, None);
    assert!(
        matches!(&why, Refusal::KeyInUse { holder, .. } if holder == "b_id"),
        "{why:?}"
    );
    // a may still add a key of its own; b's response is b's.
    r.ok("key-a", json!({"$schema": format!("{V}identity/schema.json#"), "id": "a_id", "signkeys": {"user": "key-a", "other": "key-a2"}}));
    r.ok("key-b", response("sign", Value::Null));
    let j = r.json();
    assert_eq!(j["actors"]["b"]["signed"], json!(true));
    assert_eq!(j["actors"]["a"]["signed"], Value::Null);
}

/// Values built at run time may not nest the process past the depth limit (each step could
/// otherwise wrap a value one level deeper, until serialising it overflows the stack).
#[test]
fn an_update_cannot_nest_the_process_without_bound() {
    let mut r = R::new();
    r.ok("node", scenario(json!({
        "id": "s",
        "actors": {"a": {"type": "object"}},
        "assets": {"c": {"type": "object"}},
        "actions": {
            "wrap": {"actor": "a", "update": {"select": "assets.c", "patch": false, "data": {"w": {"<ref>": "assets.c"}}}},
            "end": {"actor": "a"}
        },
        "states": {"initial": {"actions": ["wrap", "end"], "transitions": [{"action": "end", "transition": ":success"}]}}
    })));
    r.ok("node", identity("a_id", "key-a"));
    r.ok("node", process("s", json!({"a": "a_id"})));
    let mut refused = None;
    for i in 0..200 {
        match r.apply("key-a", response("wrap", Value::Null)) {
            Applied::Rejected(why) => {
                refused = Some((i, why));
                break;
            }
            other => assert!(matches!(other, Applied::Stepped(_)), "{other:?}"),
        }
    }
    let (i, why) = refused.expect("refused before 200 levels");
    assert!(
        matches!(why, Refusal::Response(Rejection::TooDeep { .. })),
        "{why:?}"
    );
    assert!(i > 100, "{i}");
    // What is there serialises (within the limit every reader accepts), and reads back.
    accord_scenario::doc::check_i_json(&r.json()).unwrap();
    let bytes = canonical(&r.json());
    serde_json::from_slice::<Value>(&bytes).expect("serde_json reads the projection back");
}

/// A projection always reads back with serde_json (its default limit of nesting, which a node
/// relies on when it reads a stored projection to act for its system actors): a response's
/// data lands two levels deeper in the projection than in its event, so an event body may nest
/// two levels less than a document. (Before, data nested 126 deep gave a projection no
/// serde_json reader could read.)
#[test]
fn deeply_nested_data_cannot_make_a_projection_unreadable() {
    let max = accord_scenario::doc::MAX_DEPTH;
    let nested = |n: usize| {
        let mut v = json!(1);
        for _ in 0..n {
            v = json!([v]);
        }
        v
    };
    let mut r = R::new();
    r.ok("node", scenario(json!({
        "id": "s",
        "actors": {"a": {"type": "object"}},
        "actions": {"say": {"actor": "a"}, "comment": {"actor": "a"}, "end": {"actor": "a"}},
        "states": {"initial": {"actions": ["say", "end"], "transitions": [{"action": "end", "transition": ":success"}]}}
    })));
    r.ok("node", identity("a_id", "key-a"));
    r.ok("node", process("s", json!({"a": "a_id"})));
    // The body is one object, the data inside it.
    let why = r.refused("key-a", response("say", nested(max - 2)), None);
    assert!(
        matches!(&why, Refusal::Malformed(m) if m.contains("nested in one another")),
        "{why:?}"
    );
    r.ok("key-a", response("say", nested(max - 3)));
    let bytes = canonical(&r.json());
    serde_json::from_slice::<Value>(&bytes).expect("serde_json reads the projection back");
}

/// A state's instruction that copies a value into `current.instructions` one level deeper
/// than the value sits may not take the process past the limit: the step is refused.
#[test]
fn a_state_instruction_cannot_nest_the_process_past_the_limit() {
    let max = accord_scenario::doc::MAX_DEPTH;
    let mut deep = json!(1);
    for _ in 0..max - 3 {
        deep = json!([deep]);
    }
    let mut r = R::new();
    r.ok("node", scenario(json!({
        "id": "s",
        "actors": {"a": {"type": "object"}},
        "assets": {"c": {"type": "object"}},
        "actions": {
            "keep": {"actor": "a", "update": {"select": "assets.c", "patch": false, "data": {"w": {"<ref>": "current.response.data"}}}},
            "end": {"actor": "a"}
        },
        "states": {
            "initial": {"actions": ["keep", "end"], "transitions": [{"action": "keep", "transition": "shown"}, {"action": "end", "transition": ":success"}]},
            "shown": {"action": "end", "instructions": {"a": {"<ref>": "assets.c"}}, "transition": ":success"}
        }
    })));
    r.ok("node", identity("a_id", "key-a"));
    r.ok("node", process("s", json!({"a": "a_id"})));
    // `assets.c` is `{w: data}`: within the limit where it is, one level past it as an
    // instruction of the next state.
    let why = r.refused("key-a", response("keep", deep.clone()), None);
    assert!(
        matches!(&why, Refusal::Response(Rejection::TooDeep { path }) if path == "current.instructions.a"),
        "{why:?}"
    );
    r.ok("key-a", response("keep", deep[0].clone()));
    assert_eq!(r.json()["current"]["key"], json!("shown"));
    serde_json::from_slice::<Value>(&canonical(&r.json())).expect("reads back");
}

/// Review 4: an update that copies the document into itself (`<ref>`) grew the process
/// geometrically, one signed response per doubling. A reference now copies at most the
/// instruction budget, so the step that would pass it is refused and the process stays small.
#[test]
fn self_copying_updates_stop_at_the_budget() {
    let mut r = R::new();
    let pad = "x".repeat(1000);
    r.ok(
        "node",
        scenario(json!({
            "id": "s",
            "actors": {"a": {"type": "object"}},
            "actions": {"go": {"actor": "a", "update": [
                {"select": "info.pad", "data": pad},
                {"select": "info.a", "data": {"<ref>": "info"}},
                {"select": "info.b", "data": {"<ref>": "info"}}
            ]}, "end": {"actor": "a"}},
            "states": {"initial": {"actions": ["go", "end"], "transitions": [
                {"action": "go", "transition": "initial"},
                {"action": "end", "transition": ":success"}
            ]}}
        })),
    );
    r.ok("node", identity("a_id", "key-a"));
    r.ok("node", process("s", json!({"a": "a_id"})));
    let mut steps = 0;
    let why = loop {
        // What is kept is what passed the budget: a few copies of it, not 3^steps.
        let size = r.bytes().len();
        assert!(size < 8 << 20, "{size} bytes after {steps} steps");
        match r.apply("key-a", response("go", Value::Null)) {
            Applied::Rejected(why) => break why,
            _ => steps += 1,
        }
    };
    assert!(
        why.to_string().contains("referenced value is larger"),
        "{why}"
    );
    assert!((5..20).contains(&steps), "{steps} steps");
    // The refusal changed nothing, and is the same the next time.
    let before = r.bytes();
    assert!(matches!(
        r.apply("key-a", response("go", Value::Null)),
        Applied::Rejected(_)
    ));
    assert_eq!(before, r.bytes());
}
