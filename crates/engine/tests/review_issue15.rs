//! The second review of issue 15's change: each finding's reproducer, with the assertion turned
//! into the behaviour now required (each failed before its fix).

use accord_engine::{Applied, canonical, judge};
use serde_json::{Value, json};

mod common;

use common::chain::{R, V, identity, process, response, scenario};

fn errors(v: &accord_engine::Verdict) -> String {
    v.errors()
}

/// A: an actor schema whose additionalProperties is a schema (every extra property a string)
/// passes the verdict (identity starts null, and null is "not set"), but once an identity is
/// bound (an object), every update of the actor is refused.
#[test]
fn a_additional_properties_schema_passes_judge_then_refuses_every_update() {
    let s = scenario(json!({
        "id": "s",
        "actors": {"a": {"type": "object",
            "properties": {"name": {"type": "string"}},
            "additionalProperties": {"type": "string"}}},
        "actions": {"go": {"actor": "a", "update": "current.actor"}},
        "states": {"initial": {"action": "go", "transition": ":success"}}
    }));
    let v = judge(&s);
    assert!(v.compiled.is_some(), "judge: {}", errors(&v));
    let mut r = R::new();
    r.ok("node", s);
    r.ok("node", identity("a_id", "key-a"));
    r.ok("node", process("s", json!({"a": "a_id"})));
    let a = r.apply("key-a", response("go", json!({"name": "Alice"})));
    eprintln!("A: {a:?}");
    assert!(
        !matches!(a, Applied::Rejected(_)),
        "a valid update refused: {a:?}"
    );
}

/// A2: the same with actor data at start: the process start itself is refused.
#[test]
fn a2_additional_properties_schema_refuses_real_start_with_data() {
    let s = scenario(json!({
        "id": "s",
        "actors": {"a": {"type": "object",
            "properties": {"name": {"type": "string"}},
            "additionalProperties": {"type": "string"}}},
        "actions": {"go": {"actor": "a"}},
        "states": {"initial": {"action": "go", "transition": ":success"}}
    }));
    assert!(judge(&s).compiled.is_some());
    let mut r = R::new();
    r.ok("node", s);
    r.ok("node", identity("a_id", "key-a"));
    let a = r.apply(
        "node",
        process("s", json!({"a": {"identity": "a_id", "name": "Alice"}})),
    );
    eprintln!("A2: {a:?}");
    assert!(!matches!(a, Applied::Rejected(_)), "start refused: {a:?}");
}

/// A3: identity declared through a local $ref (the owns-rewrite sees only top-level
/// `properties`): passes the verdict, then the first update of a bound actor is refused.
#[test]
fn a3_identity_declared_via_local_ref() {
    let s = scenario(json!({
        "id": "s",
        "actors": {"a": {"$ref": "#/definitions/actor",
            "definitions": {"actor": {"type": "object", "properties": {
                "name": {"type": "string"}, "identity": {"type": "string"}}}}}},
        "actions": {"go": {"actor": "a", "update": "current.actor"}},
        "states": {"initial": {"action": "go", "transition": ":success"}}
    }));
    let v = judge(&s);
    assert!(v.compiled.is_some(), "judge: {}", errors(&v));
    let mut r = R::new();
    r.ok("node", s);
    r.ok("node", identity("a_id", "key-a"));
    r.ok("node", process("s", json!({"a": "a_id"})));
    let a = r.apply("key-a", response("go", json!({"name": "Alice"})));
    eprintln!("A3: {a:?}");
    assert!(
        !matches!(a, Applied::Rejected(_)),
        "a valid update refused: {a:?}"
    );
}

/// B: the trial start binds every actor and gives no data; a scenario whose initial state
/// reads actor data given at the start is taken, with a `start-refused` warning (a real start
/// with that data starts: B2).
#[test]
fn b_trial_start_refusal_is_a_warning() {
    let s = scenario(json!({
        "id": "s",
        "actors": {"a": {"type": "object", "properties": {"name": {"type": "string"}}}},
        "actions": {"go": {"actor": "a"}},
        "states": {"initial": {
            "title": {"<eval>": "join(' ', [actors.a.name, 'signs'])"},
            "action": "go", "transition": ":success"}}
    }));
    let v = judge(&s);
    assert!(v.compiled.is_some(), "refused: {}", errors(&v));
    assert!(
        v.diagnostics.iter().any(|d| d.code == "start-refused"
            && d.severity == accord_scenario::Severity::Warning
            && d.pointer == "/states/initial"),
        "{:?}",
        v.diagnostics
    );
}

/// C: the trial binds every actor; a real start may bind some. A scenario whose initial state
/// reads an actor's identity is taken (the trial cannot know which actors a start binds), and
/// a start that binds every actor runs; one that leaves `b` unbound is refused with the reason.
#[test]
fn c_trial_binds_all_real_start_binds_some() {
    let s = scenario(json!({
        "id": "s",
        "actors": {"a": {"type": "object"}, "b": {"type": "object"}},
        "actions": {"go": {"actor": "a"}},
        "states": {"initial": {
            "title": {"<eval>": "join(', ', keys(actors.b.identity.signkeys))"},
            "action": "go", "transition": ":success"}}
    }));
    let v = judge(&s);
    assert!(v.compiled.is_some(), "judge: {}", errors(&v));
    assert!(v.diagnostics.iter().all(|d| d.code != "start-refused"));
    let mut r = R::new();
    r.ok("node", s);
    r.ok("node", identity("a_id", "key-a"));
    r.ok("node", identity("b_id", "key-b"));
    let a = r.apply("node", process("s", json!({"a": "a_id"})));
    assert!(matches!(a, Applied::Rejected(_)), "{a:?}");
    r.ok("node", process("s", json!({"a": "a_id", "b": "b_id"})));
    assert_eq!(r.json()["current"]["title"], json!("user"));
}

/// D: null is "not set" reaches into arrays: an item that must be a string may be null, and a
/// property whose schema says `not: {type: null}` / `const` / `enum` takes null.
#[test]
fn d_null_bypasses_item_schema_and_explicit_not_null() {
    let s = scenario(json!({
        "id": "s",
        "actors": {"a": {"type": "object"}},
        "assets": {"x": {"type": "object", "properties": {
            "list": {"type": "array", "items": {"type": "string"}},
            "must": {"not": {"type": "null"}, "default": "set"},
            "pick": {"enum": ["a", "b"], "default": "a"},
            "tuple": {"type": "array", "items": [{"type": "integer"}, {"type": "integer"}]}
        }}},
        "actions": {"go": {"actor": "a", "update": {"select": "assets.x", "patch": true}}},
        "states": {"initial": {"action": "go", "transition": ":success"}}
    }));
    let v = judge(&s);
    assert!(v.compiled.is_some(), "judge: {}", errors(&v));
    let mut r = R::new();
    r.ok("node", s);
    r.ok("node", identity("a_id", "key-a"));
    r.ok("node", process("s", json!({"a": "a_id"})));
    let a = r.apply(
        "key-a",
        response(
            "go",
            json!({"list": [null, null], "must": null, "pick": null, "tuple": [null, null]}),
        ),
    );
    eprintln!("D: {a:?} {}", r.json()["assets"]["x"]);
    assert!(
        matches!(a, Applied::Rejected(_)),
        "null items and an explicit not-null were taken"
    );
}

/// E: a sub-process's title may be written by an update (any path); the main projection
/// summarises sub-processes one level deeper than their own projection, so it can nest
/// deeper than serde_json reads back.
#[test]
fn e_subprocess_title_breaks_main_projection_nesting() {
    // 120 arrays in a row, then the eval's 3 → title nests 123 + ... in the sub-process.
    let mut deep = json!(0);
    for _ in 0..121 {
        deep = json!([deep]);
    }
    let main = scenario(json!({
        "id": "m",
        "actors": {"a": {"type": "object"}},
        "actions": {"go": {"actor": "a"}},
        "states": {"initial": {"action": "go", "transition": ":success"}}
    }));
    let sub = scenario(json!({
        "id": "sub",
        "actors": {"a": {"type": "object"}},
        "definitions": {"deep": deep},
        "actions": {"go": {"actor": "a", "update": {"select": "title", "data": {"<eval>": "[[[[definitions.deep]]]]"}}}},
        "states": {"initial": {"action": "go", "transition": ":success"}}
    }));
    let mut r = R::new();
    r.ok("node", main);
    r.ok("node", sub);
    r.ok("node", identity("a_id", "key-a"));
    r.ok("node", process("m", json!({"a": "a_id"})));
    r.ok("node", json!({"$schema": format!("{V}process/schema.json#"), "id": "q", "parent": "p", "scenario": "sub", "actors": {"a": "a_id"}}));
    let a = r.apply("key-a", json!({"$schema": format!("{V}response/schema.json#"), "process": "q", "action": "go", "data": null}));
    eprintln!("E step: {a:?}");
    assert!(!matches!(a, Applied::Rejected(_)));
    let bytes = r.r.to_canonical().unwrap();
    let back = serde_json::from_slice::<Value>(&bytes);
    eprintln!(
        "E: main projection reads back: {:?}",
        back.as_ref().map(|_| "ok")
    );
    let sub_bytes = r.r.processes()[1].to_canonical();
    eprintln!(
        "E: sub projection reads back: {:?}",
        serde_json::from_slice::<Value>(&sub_bytes).map(|_| "ok")
    );
    assert!(back.is_ok(), "the main projection does not read back");
    let _ = canonical(&json!(null));
}

/// G: `current.actions` / `current.response` are refused as selects, but a whole-`current`
/// write puts them into the document; instructions then read the written `current.actions`
/// (the view does not overlay it), while the projection hides it.
#[test]
fn g_whole_current_write_plants_current_actions_seen_by_instructions() {
    let s = scenario(json!({
        "id": "s",
        "actors": {"a": {"type": "object"}},
        "actions": {
            "plant": {"actor": "a", "update": {"select": "current", "patch": true}},
            "go": {"actor": "a"}
        },
        "states": {
            "initial": {"actions": ["plant", "go"], "transitions": [
                {"action": "go", "transition": "b"}
            ]},
            "b": {"action": "go", "title": {"<eval>": "to_string(current.actions)"}, "transition": ":success"}
        }
    }));
    let mut r = R::new();
    r.ok("node", s);
    r.ok("node", identity("a_id", "key-a"));
    r.ok("node", process("s", json!({"a": "a_id"})));
    // Naming a computed field of `current` in a whole-`current` write is refused.
    let a = r.apply("key-a", response("plant", json!({"actions": ["forged"]})));
    assert!(
        matches!(&a, Applied::Rejected(accord_engine::Refusal::Response(accord_engine::Rejection::ReadOnly { path })) if path == "current.actions"),
        "{a:?}"
    );
    r.ok("key-a", response("plant", json!({"note": "fine"})));
    let doc = r.r.process().unwrap().doc().clone();
    assert!(
        doc["current"].get("actions").is_none(),
        "a protected field was written into the document"
    );
    r.ok("key-a", response("go", json!(null)));
    assert_ne!(r.json()["current"]["title"], json!("[\"forged\"]"));
}

/// H: a select of `subprocesses` (what the main projection overlays) is not refused.
#[test]
fn h_subprocesses_is_writable() {
    let s = scenario(json!({
        "id": "s",
        "actors": {"a": {"type": "object"}},
        "actions": {"go": {"actor": "a", "update": {"select": "subprocesses", "data": [{"id": "fake", "state": ":success"}]}}},
        "states": {"initial": {"action": "go", "transition": ":success"}}
    }));
    let v = judge(&s);
    eprintln!(
        "H: {:?}",
        v.diagnostics
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
    );
    assert!(
        v.compiled.is_none(),
        "`subprocesses` is derived by the projection but may be written"
    );
}

/// I: an asset's defaults are held to its schema when the scenario is judged, as an actor's
/// are (before, the scenario was taken and the first update of the asset refused).
#[test]
fn i_asset_default_breaking_schema_is_refused_by_the_verdict() {
    let s = scenario(json!({
        "id": "s",
        "actors": {"a": {"type": "object"}},
        "assets": {"x": {"type": "object", "properties": {
            "n": {"type": "number", "default": "not a number"},
            "m": {"type": "string"}}}},
        "actions": {"go": {"actor": "a", "update": {"select": "assets.x.m"}}},
        "states": {"initial": {"action": "go", "transition": ":success"}}
    }));
    let v = judge(&s);
    assert!(v.compiled.is_none());
    assert!(
        v.diagnostics
            .iter()
            .any(|d| d.code == "default-breaks-schema" && d.pointer == "/assets/x"),
        "{}",
        errors(&v)
    );
}

/// J: what "null is not set" lets through, and what it does not: an object's null property
/// passes its schema and meets `required`; a null list item, a closed object's null extra
/// property and a null under a key its schema forbids are still errors; keys with `/` and `~`
/// are found where the validator points.
#[test]
fn j_null_is_not_set_only_as_an_objects_property() {
    use accord_engine::schema::Schema;
    let cases = [
        (
            json!({"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}),
            json!({"a":"x","extra":null}),
            false,
        ),
        (
            json!({"type":"object","propertyNames":{"maxLength":3}}),
            json!({"toolong":null}),
            false,
        ),
        (
            json!({"type":"object","required":["a"],"properties":{"a":{"type":"string"}}}),
            json!({"a":null}),
            true,
        ),
        (
            json!({"type":"object","properties":{"l":{"type":"array","items":{"type":"object","required":["x"]}}}}),
            json!({"l":[null]}),
            false,
        ),
        (
            json!({"type":"object","properties":{"l":{"type":"array","items":{"type":"string"}}}}),
            json!({"l":[null, "x"]}),
            false,
        ),
        (
            json!({"type":"object","properties":{"o":{"type":"object","properties":{"n":{"type":"number","minimum":0}}}}}),
            json!({"o":{"n":null}}),
            true,
        ),
        (
            json!({"type":"object","patternProperties":{"^p":{"type":"integer"}}}),
            json!({"p1":null}),
            true,
        ),
        (
            json!({"type":"object","properties":{"a/b":{"type":"string"}}}),
            json!({"a/b":null}),
            true,
        ),
        (
            json!({"type":"object","properties":{"a~b":{"type":"string"}}}),
            json!({"a~b":5}),
            false,
        ),
    ];
    for (s, v, passes) in cases {
        let c = Schema::compile(&s, &[]).unwrap();
        assert_eq!(
            c.problems(&v).is_empty(),
            passes,
            "{s} | {v}: {:?}",
            c.problems(&v)
        );
    }
}

/// B2: the chain a party writes with such a scenario (name given at the start): the replay now
/// refuses the scenario event (the trial has no data), so the start is refused too. Before
/// this change the replay took the scenario (check_value + Compiled::new) and the process ran.
#[test]
fn b2_replay_refuses_scenario_that_starts_with_data() {
    let s = scenario(json!({
        "id": "s",
        "actors": {"a": {"type": "object", "properties": {"name": {}}}},
        "actions": {"go": {"actor": "a"}},
        "states": {"initial": {
            "title": {"<eval>": "join(' ', [actors.a.name, 'signs'])"},
            "action": "go", "transition": ":success"}}
    }));
    let mut r = R::new();
    let a = r.apply("node", s);
    eprintln!("B2 scenario: {a:?}");
    r.ok("node", identity("a_id", "key-a"));
    let a = r.apply(
        "node",
        process("s", json!({"a": {"identity": "a_id", "name": "Alice"}})),
    );
    eprintln!("B2 start: {a:?}");
    assert!(!matches!(a, Applied::Rejected(_)));
}

/// K: `patch: true` on a list appends the value as one element, one level below the path;
/// the nesting check counts the path and the value only, so a party's response data (within
/// the 125 an event body may nest) makes a projection serde_json cannot read back.
#[test]
fn k_patch_append_to_list_exceeds_nesting() {
    let s = scenario(json!({
        "id": "s",
        "actors": {"a": {"type": "object"}},
        "assets": {"x": {"type": "object", "properties": {"list": {"type": "array"}}}},
        "actions": {"add": {"actor": "a", "update": {"select": "assets.x.list", "patch": true}}, "done": {"actor": "a"}},
        "states": {"initial": {"actions": ["add", "done"], "transitions": [{"action": "add", "transition": "-"}, {"action": "done", "transition": ":success"}]}}
    }));
    let mut r = R::new();
    r.ok("node", s);
    r.ok("node", identity("a_id", "key-a"));
    r.ok("node", process("s", json!({"a": "a_id"})));
    // Data nesting 124: the body (1 + 124 = 125) is within what an event may nest.
    let mut data = json!(0);
    for _ in 0..124 {
        data = json!([data]);
    }
    let a = r.apply("key-a", response("add", data));
    eprintln!(
        "K step: {}",
        if matches!(a, Applied::Rejected(_)) {
            format!("{a:?}")
        } else {
            "taken".into()
        }
    );
    let bytes = r.r.to_canonical().unwrap();
    let back = serde_json::from_slice::<Value>(&bytes);
    eprintln!(
        "K: projection reads back: {:?}",
        back.as_ref().map(|_| "ok")
    );
    assert!(back.is_ok());
}
