//! Checking scenarios: every problem reported, each at its JSON pointer.

use accord_scenario::{Format, Severity, check_text, check_value, doc, graph};
use serde_json::{Value, json};

fn base() -> Value {
    json!({
        "$schema": "https://specs.livecontracts.io/v0.2.0/scenario/schema.json#",
        "title": "Test",
        "actors": {"client": {"type": "object"}, "supplier": {}},
        "actions": {
            "order": {"actor": "client", "responses": {"ok": {}, "cancel": {}}},
            "deliver": {"actor": "supplier"}
        },
        "states": {
            "initial": {
                "action": "order",
                "transitions": [
                    {"response": "ok", "transition": "ordered"},
                    {"response": "cancel", "transition": ":cancelled"}
                ]
            },
            "ordered": {"action": "deliver", "transition": ":success"}
        }
    })
}

fn codes(doc: &Value) -> Vec<(String, &'static str, Severity)> {
    check_value(doc)
        .diagnostics
        .into_iter()
        .map(|d| (d.pointer, d.code, d.severity))
        .collect()
}

fn has(doc: &Value, pointer: &str, code: &str) -> bool {
    codes(doc)
        .iter()
        .any(|(p, c, _)| p == pointer && *c == code)
}

#[test]
fn a_good_scenario_has_no_diagnostics_and_is_built() {
    let checked = check_value(&base());
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    let s = checked.scenario.expect("built");
    assert_eq!(s.actions["order"].actors, vec!["client"]);
    assert_eq!(
        s.actions["deliver"].responses.keys().collect::<Vec<_>>(),
        vec!["ok"]
    );
    assert_eq!(s.states["ordered"].transitions[0].target, ":success");
    for f in [":success", ":failed", ":cancelled"] {
        assert!(s.states.contains_key(f), "{f} is always there");
    }
}

#[test]
fn every_problem_is_reported_at_once_with_its_pointer() {
    let mut d = base();
    d["actions"]["order"]["actor"] = json!("nobody");
    d["states"]["initial"]["transitions"][0]["transition"] = json!("nowhere");
    d["states"]["ordered"]["action"] = json!("ship");
    d["actions"]["deliver"]["condition"] = json!({"<eval>": "actors.client.name =="});
    let found = codes(&d);
    assert!(
        has(&d, "/actions/order/actor", "unknown-actor"),
        "{found:?}"
    );
    assert!(
        has(
            &d,
            "/states/initial/transitions/0/transition",
            "unknown-state"
        ),
        "{found:?}"
    );
    assert!(
        has(&d, "/states/ordered/action", "unknown-action"),
        "{found:?}"
    );
    assert!(
        has(&d, "/actions/deliver/condition/<eval>", "bad-jmespath"),
        "{found:?}"
    );
    assert!(
        check_value(&d).scenario.is_none(),
        "a scenario with errors is not handed out"
    );
}

#[test]
fn the_initial_state_is_required_and_a_wrong_schema_refused() {
    let d = json!({"$schema": "https://specs.livecontracts.io/v0.2.0/scenario/schema.json#", "title": "x", "states": {"start": {"action": "a", "transition": ":success"}}, "actions": {"a": {"actor": "p"}}, "actors": {"p": {}}});
    assert!(has(&d, "/states", "no-initial-state"));
    let mut wrong = base();
    wrong["$schema"] = json!("https://specs.livecontracts.io/v0.2.0/process/schema.json#");
    assert!(has(&wrong, "/$schema", "wrong-schema"));
}

/// The reference takes any `vX.Y.Z` of the scenario schema (`is_schema_link_valid`; its API
/// test posts v10.25.120) and reads it by one set of rules: Accord takes it with a warning,
/// and refuses what the reference's own unit test calls invalid.
#[test]
fn another_version_of_the_scenario_schema_is_a_warning() {
    for version in ["v10.25.120", "v1.0.0", "v0.2.1"] {
        let mut d = base();
        d["$schema"] = json!(format!(
            "https://specs.livecontracts.io/{version}/scenario/schema.json#"
        ));
        let checked = check_value(&d);
        assert_eq!(
            codes(&d),
            vec![("/$schema".to_string(), "schema-version", Severity::Warning)],
            "{version}"
        );
        assert!(checked.scenario.is_some(), "{version}");
    }
    for wrong in [
        "https://specs.livecontracts.io/0.2.0/scenario/schema.json#",
        "https://specs.livecontracts.io/v0.2.0a/scenario/schema.json#",
        "https://specs.livecontracts.io/scenario/schema.json#",
        "http://specs.livecontracts.io/v0.2.0/scenario/schema.json#",
        "https://foo/v0.2.0/scenario/schema.json#",
        "https://specs.letsflow.io/v0.3.0/scenario#",
        "https://specs.livecontracts.io/v1.0/scenario/schema.json#",
        // The reference's pattern is not anchored; Accord's is.
        "xhttps://specs.livecontracts.io/v0.2.0/scenario/schema.json#",
        "https://specs.livecontracts.io/v0.2.0/scenario/schema.json#x",
    ] {
        let mut d = base();
        d["$schema"] = json!(wrong);
        assert!(
            has(&d, "/$schema", "wrong-schema"),
            "{wrong}: {:?}",
            codes(&d)
        );
    }
}

/// As the reference's model does, a scenario without `$schema` is a v0.2.0 one: a warning.
#[test]
fn a_missing_schema_is_read_as_v0_2_0_with_a_warning() {
    let mut d = base();
    d.as_object_mut().unwrap().remove("$schema");
    let checked = check_value(&d);
    assert!(checked.scenario.is_some(), "{:?}", checked.diagnostics);
    assert_eq!(
        codes(&d),
        vec![(String::new(), "missing-schema", Severity::Warning)]
    );
}

/// `:initial` for `initial`, `success` for `:success`: the message says which was meant.
#[test]
fn a_colon_too_many_or_too_few_gets_a_suggestion() {
    let mut d = base();
    let initial = d["states"]
        .as_object_mut()
        .unwrap()
        .remove("initial")
        .unwrap();
    d["states"][":initial"] = initial;
    let message = |d: &Value, code: &str| {
        check_value(d)
            .diagnostics
            .into_iter()
            .find(|x| x.code == code)
            .map(|x| x.message)
            .unwrap_or_default()
    };
    assert!(
        message(&d, "no-initial-state").contains("did you mean to name `:initial` `initial`?"),
        "{}",
        message(&d, "no-initial-state")
    );
    let mut d = base();
    d["states"]["ordered"]["transition"] = json!("success");
    assert!(
        message(&d, "unknown-state").contains("did you mean `:success`?"),
        "{}",
        message(&d, "unknown-state")
    );
    let mut d = base();
    d["states"]["ordered"]["transition"] = json!(":ordered");
    assert!(message(&d, "unknown-state").contains("did you mean `ordered`?"));
}

/// Another action type (a form) is an ordinary action in the reference: its actor performs
/// it. A warning says so.
#[test]
fn a_custom_action_type_is_an_ordinary_action() {
    let mut d = base();
    d["actions"]["order"]["$schema"] =
        json!("https://specs.livecontracts.io/v0.2.0/action/form/schema.json#");
    let checked = check_value(&d);
    let s = checked.scenario.expect("built");
    assert!(matches!(
        s.actions["order"].trigger,
        accord_scenario::model::Trigger::User
    ));
    assert_eq!(
        codes(&d),
        vec![(
            "/actions/order/$schema".to_string(),
            "custom-action-schema",
            Severity::Warning
        )]
    );
}

/// `display: true`/`false` (the reference's flow tests write them) read as `always`/`never`
/// with a warning, once where it is written; a bad value shared by an action's responses is
/// reported once, not once per response.
#[test]
fn display_booleans_are_read_leniently_and_each_problem_is_reported_once() {
    use accord_scenario::model::Display;
    let mut d = base();
    d["actions"]["order"]["display"] = json!(false);
    d["actions"]["deliver"]["responses"] = json!({"ok": {"display": true}});
    let checked = check_value(&d);
    let s = checked.scenario.expect("built");
    assert_eq!(s.actions["order"].responses["ok"].display, Display::Never);
    assert_eq!(
        s.actions["order"].responses["cancel"].display,
        Display::Never
    );
    assert_eq!(
        s.actions["deliver"].responses["ok"].display,
        Display::Always
    );
    assert_eq!(
        codes(&d),
        vec![
            (
                "/actions/order/display".to_string(),
                "display-boolean",
                Severity::Warning
            ),
            (
                "/actions/deliver/responses/ok/display".to_string(),
                "display-boolean",
                Severity::Warning
            )
        ]
    );
    let mut d = base();
    d["actions"]["order"]["display"] = json!("sometimes");
    d["actions"]["order"]["update"] = json!({"select": "assets.x", "projection": "[["});
    let found = codes(&d);
    let count = |code: &str| found.iter().filter(|(_, c, _)| *c == code).count();
    assert_eq!(count("bad-display"), 1, "{found:?}");
    assert_eq!(count("bad-jmespath"), 1, "{found:?}");
}

/// Empty `actions`/`transitions` on a final state say nothing: no warning.
#[test]
fn empty_lists_on_a_final_state_are_no_definition() {
    let mut d = base();
    d["states"][":success"] = json!({"actions": [], "transitions": []});
    assert!(codes(&d).is_empty(), "{:?}", codes(&d));
    d["states"][":success"] = json!({"actions": ["deliver"]});
    assert!(has(&d, "/states/:success", "final-state-defined"));
}

#[test]
fn reachability_and_paths_to_a_final_state() {
    let mut d = base();
    d["states"]["orphan"] = json!({"action": "deliver", "transition": ":success"});
    d["states"]["ordered"] = json!({"action": "deliver", "transition": "stuck"});
    d["states"]["stuck"] = json!({"action": "deliver", "transition": "ordered"});
    let found = codes(&d);
    assert!(
        found.iter().any(|(p, c, s)| p == "/states/orphan"
            && *c == "unreachable-state"
            && *s == Severity::Warning),
        "{found:?}"
    );
    assert!(has(&d, "/states/ordered", "no-path-to-final"), "{found:?}");
    assert!(has(&d, "/states/stuck", "no-path-to-final"), "{found:?}");
    assert!(
        !has(&d, "/states/initial", "no-path-to-final"),
        "initial can still cancel"
    );
}

#[test]
fn the_passive_test_finds_a_cycle_of_system_actions_and_says_it_may_be_false() {
    let mut d = base();
    d["actions"]["ping"] = json!({"$schema": "https://specs.livecontracts.io/v0.2.0/action/nop/schema.json#", "actor": "supplier"});
    d["actions"]["pong"] = json!({"$schema": "https://specs.livecontracts.io/v0.2.0/action/http/schema.json#", "actor": "supplier", "url": "https://example.com", "responses": {"ok": {}, "error": {}}});
    d["states"]["ordered"] = json!({"actions": ["ping", "deliver"], "transitions": [{"action": "ping", "transition": "polling"}, {"action": "deliver", "transition": ":success"}]});
    d["states"]["polling"] = json!({"action": "pong", "transitions": [{"response": "ok", "transition": "ordered", "condition": {"<eval>": "assets.x == null"}}, {"response": "error", "transition": "-"}]});
    let checked = check_value(&d);
    let cycle: Vec<_> = checked
        .diagnostics
        .iter()
        .filter(|d| d.code == "system-cycle")
        .collect();
    assert_eq!(cycle.len(), 1, "{:?}", checked.diagnostics);
    assert_eq!(cycle[0].severity, Severity::Warning);
    assert!(
        cycle[0].message.contains("ordered → polling → ordered"),
        "{}",
        cycle[0].message
    );
    assert!(cycle[0].message.contains("false positive"));
    // A stay ("-") re-enters nothing, so a system action that stays is not a cycle.
    d["states"]["polling"]["transitions"][0]["transition"] = json!(":success");
    assert!(
        !check_value(&d)
            .diagnostics
            .iter()
            .any(|d| d.code == "system-cycle")
    );
}

#[test]
fn instructions_that_read_the_world_are_refused_with_the_reason() {
    let mut d = base();
    d["actions"]["order"]["title"] = json!({"<src>": "https://example.com/title"});
    d["actions"]["deliver"]["condition"] = json!({"<transformation>": "strtotime", "input": "now"});
    let checked = check_value(&d);
    let src = checked
        .diagnostics
        .iter()
        .find(|x| x.pointer == "/actions/order/title/<src>")
        .expect("src refused");
    assert!(src.message.contains("network"), "{}", src.message);
    let tr = checked
        .diagnostics
        .iter()
        .find(|x| x.pointer == "/actions/deliver/condition/<transformation>")
        .expect("transformation refused");
    assert!(tr.message.contains("clock"), "{}", tr.message);
}

#[test]
fn shorthands_are_normalised() {
    let mut d = base();
    d["actions"]["order"]["update"] = json!("assets.order");
    d["actions"]["order"]["display"] = json!("never");
    d["assets"] = json!({"order": {"type": "object"}});
    let s = check_value(&d).scenario.expect("valid");
    for r in s.actions["order"].responses.values() {
        assert_eq!(
            r.update.len(),
            1,
            "the action's update applies to every response"
        );
        assert_eq!(r.update[0].select.to_string(), "assets.order");
        assert!(r.update[0].patch);
        assert_eq!(r.display.as_str(), "never");
    }
    assert_eq!(s.states["ordered"].actions, vec!["deliver"]);
}

/// An update naming an undeclared asset is a warning (the reference takes it; the update
/// creates the asset), and the scenario is built.
#[test]
fn updates_naming_unknown_actors_and_assets_are_warned_of() {
    let mut d = base();
    d["actions"]["order"]["update"] = json!(["assets.nothing", {"select": "actors.client"}]);
    let checked = check_value(&d);
    let w = checked
        .diagnostics
        .iter()
        .find(|x| x.code == "unknown-select")
        .unwrap_or_else(|| panic!("{:?}", checked.diagnostics));
    assert_eq!(w.pointer, "/actions/order/update/0");
    assert_eq!(w.severity, Severity::Warning);
    assert!(w.message.contains("creates it"), "{}", w.message);
    assert!(checked.scenario.is_some(), "{:?}", checked.diagnostics);
    d["actions"]["order"]["update"] = json!({"select": "assets.x", "projection": "{a: b"});
    assert!(
        has(&d, "/actions/order/update/projection", "bad-jmespath"),
        "{:?}",
        codes(&d)
    );
}

#[test]
fn yaml_and_json_give_the_same_document() {
    let yaml = r#"
$schema: https://specs.livecontracts.io/v0.2.0/scenario/schema.json#
title: Test
n: 12
f: 1.5
t: true
z: ~
q: "12"
200: two hundred
list: [a, 'b', 3]
"#;
    let v = doc::parse(yaml, Format::Yaml).expect("reads");
    assert_eq!(
        v,
        json!({"$schema": "https://specs.livecontracts.io/v0.2.0/scenario/schema.json#", "title": "Test", "n": 12, "f": 1.5, "t": true, "z": null, "q": "12", "200": "two hundred", "list": ["a", "b", 3]})
    );
    for f in ["document-signing.json", "document-signing-extended.yaml"] {
        let path = format!(
            "{}/../../examples/scenarios/{f}",
            std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).expect("example");
        let checked = check_text(&text, Format::from_path(&path).expect("known extension"));
        assert!(
            checked.diagnostics.is_empty(),
            "{f}: {:?}",
            checked.diagnostics
        );
    }
}

#[test]
fn documents_outside_i_json_are_refused_with_a_position() {
    let dup = doc::parse_json("{\n  \"a\": 1,\n  \"a\": 2\n}").expect_err("duplicate key");
    assert!(dup.message.contains("appears twice"), "{dup}");
    assert_eq!(dup.line, 3);
    let big = doc::parse_json("{\"n\": 9007199254740993}").expect_err("beyond 2^53");
    assert!(big.message.contains("2^53"), "{big}");
    assert!(doc::parse_json("{\"n\": 9007199254740991}").is_ok());
    let ydup = doc::parse_yaml("a: 1\nb: 2\na: 3\n").expect_err("duplicate key");
    assert_eq!((ydup.line, ydup.column), (3, 1), "{ydup}");
    assert!(doc::parse_yaml("x: .inf\n").is_err());
    assert!(doc::parse_yaml("x: !custom 3\n").is_err());
    assert!(doc::parse_yaml("x: {[1]: 2}\n").is_err(), "collection keys");
    let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
    let e = doc::parse_yaml(bomb).expect_err("alias bomb");
    assert!(e.message.contains("expands"), "{e}");
    let deep = "[".repeat(10_000);
    assert!(doc::parse_json(&deep).is_err());
    assert!(doc::parse_yaml(&deep).is_err());
    let checked = check_text("{\"$schema\": ", Format::Json);
    assert_eq!(checked.diagnostics.len(), 1);
    assert!(
        checked.diagnostics[0]
            .message
            .starts_with("not valid JSON at line 1"),
        "{}",
        checked.diagnostics[0].message
    );
}

#[test]
fn graphs_mark_final_states_and_label_conditions() {
    let path = format!(
        "{}/../../examples/scenarios/document-signing-extended.yaml",
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).expect("example");
    let s = check_text(&text, Format::Yaml).scenario.expect("valid");
    let g = graph::graph(&s);
    let dot = graph::to_dot(&g);
    assert!(
        dot.contains("\":success\" [label=\":success\", shape=doublecircle"),
        "{dot}"
    );
    assert!(
        !dot.contains(":failed"),
        "unused implicit final states are not drawn: {dot}"
    );
    assert!(dot.contains("\"signing\" -> \":success\" [label=\"sign [actors.drafter.signed == `true` && actors.reviewer.signed == `true`]\"]"), "{dot}");
    assert!(
        dot.contains("\"review\" -> \"initial\" [label=\"review: decline\"]"),
        "{dot}"
    );
    let mermaid = graph::to_mermaid(&g);
    assert!(mermaid.starts_with("stateDiagram-v2\n"));
    assert!(mermaid.contains("[*] --> s0"));
    assert!(
        mermaid.contains("s2 --> s3: sign #91;actors.drafter.signed"),
        "{mermaid}"
    );
}

#[test]
fn durations_that_overflow_are_diagnostics() {
    let mut d = base();
    d["states"]["initial"]["timeout"] = json!("PT5124095576030431H18446744073709551615S");
    assert!(
        has(&d, "/states/initial/timeout", "bad-timeout"),
        "{:?}",
        codes(&d)
    );
    d["states"]["initial"]["timeout"] = json!("P1Y2M3W4DT5H6M7S");
    assert!(check_value(&d).diagnostics.is_empty());
}

/// A state box shows its key beside its title (two states may share a title), and the final
/// states are drawn by how they end the process: `:failed` and `:cancelled` unlike
/// `:success`, in every format.
#[test]
fn graphs_show_keys_and_tell_the_outcomes_apart() {
    let mut d = base();
    d["states"]["initial"]["title"] = json!("Waiting");
    d["states"]["ordered"]["title"] = json!("Waiting");
    d["states"]["ordered"]
        .as_object_mut()
        .unwrap()
        .remove("transition");
    d["states"]["ordered"]["transitions"] = json!([
        {"action": "deliver", "response": "ok", "transition": ":success"}
    ]);
    d["actions"]["deliver"]["responses"] = json!({"ok": {}, "fail": {}});
    d["states"]["ordered"]["transitions"]
        .as_array_mut()
        .unwrap()
        .push(json!({"action": "deliver", "response": "fail", "transition": ":failed"}));
    let s = check_value(&d).scenario.expect("valid");
    let g = graph::graph(&s);
    let labels: Vec<&str> = g.nodes.iter().map(|n| n.label.as_str()).collect();
    assert!(labels.contains(&"Waiting (initial)"), "{labels:?}");
    assert!(labels.contains(&"Waiting (ordered)"), "{labels:?}");
    let outcome = |key: &str| g.nodes.iter().find(|n| n.key == key).unwrap().outcome;
    assert_eq!(outcome(":success"), Some("success"));
    assert_eq!(outcome(":failed"), Some("failed"));
    assert_eq!(outcome(":cancelled"), Some("cancelled"));
    assert_eq!(outcome("ordered"), None);
    let svg = accord_scenario::svg::to_svg(&g);
    for class in [
        "node final success",
        "node final failed",
        "node final cancelled",
    ] {
        assert!(svg.contains(&format!("class=\"{class}\"")), "{class}");
    }
    let dot = graph::to_dot(&g);
    let line = |key: &str| {
        dot.lines()
            .find(|l| l.trim_start().starts_with(&format!("\"{key}\" [")))
            .unwrap()
            .to_string()
    };
    assert!(line(":failed").contains("#b3261e") && !line(":success").contains("#b3261e"));
    assert!(line(":cancelled").contains("style=dashed"));
    let mermaid = graph::to_mermaid(&g);
    assert!(mermaid.contains("classDef failed") && mermaid.contains("classDef success"));
}

/// A transition on a response no open action declares never applies: a warning, as the
/// reference takes such a scenario (its fixture `basic-user-and-system.yml`).
#[test]
fn a_transition_on_an_undeclared_response_is_a_warning() {
    let mut d = base();
    d["states"]["initial"]["transitions"][1]["response"] = json!("error");
    let checked = check_value(&d);
    let w = checked
        .diagnostics
        .iter()
        .find(|x| x.code == "unknown-response")
        .unwrap_or_else(|| panic!("{:?}", checked.diagnostics));
    assert_eq!(w.pointer, "/states/initial/transitions/1/response");
    assert_eq!(w.severity, Severity::Warning);
    assert!(w.message.contains("never applies"), "{}", w.message);
    assert!(checked.scenario.is_some());
}

/// An actor schema's `$ref` is never fetched: a Live Contracts one (any version; the
/// reference's hackathon and playground scenarios use v0.1.0) names a kind of thing, another
/// is warned of as not applied. The reference applies none.
#[test]
fn remote_refs_are_documentation() {
    let mut d = base();
    d["actors"]["client"] =
        json!({"$ref": "https://specs.livecontracts.io/v0.1.0/actor/schema.json#organization"});
    assert_eq!(codes(&d), vec![], "{:?}", codes(&d));
    d["actors"]["client"] = json!({"$ref": "https://example.com/person.json"});
    assert_eq!(
        codes(&d),
        vec![(
            "/actors/client/$ref".to_string(),
            "remote-ref",
            Severity::Warning
        )]
    );
    assert!(check_value(&d).scenario.is_some());
}
