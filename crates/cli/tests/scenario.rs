//! `accord scenario` end to end: check, graph and run on the example scenarios.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"))
        .join("../..")
}

fn accord(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_passes_the_examples_and_reports_every_problem_of_a_bad_one() {
    let out = accord(&[
        "scenario",
        "check",
        "examples/scenarios/biomass.json",
        "examples/scenarios/document-signing-extended.yaml",
    ]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("examples/scenarios/biomass.json: ok"));

    let dir = std::env::temp_dir().join(format!("accord-scenario-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "$schema: https://specs.livecontracts.io/v0.2.0/scenario/schema.json#\nactors: {a: {}}\nactions:\n  go: {actor: b, condition: {<src>: 'http://x'}}\nstates:\n  initial: {action: go, transition: nowhere}\n",
    )
    .unwrap();
    let out = accord(&["scenario", "check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let file = bad.display().to_string();
    for line in [
        // An action naming an undeclared actor is taken by the reference: a warning.
        format!("{file}:/actions/go/actor: warning[unknown-actor]"),
        format!("{file}:/actions/go/condition/<src>: error[refused-instruction]"),
        format!("{file}:/states/initial/transition: error[unknown-state]"),
    ] {
        assert!(stdout.contains(&line), "{line} not in\n{stdout}");
    }
    std::fs::write(&bad, "a: [1, 2\n").unwrap();
    let out = accord(&["scenario", "check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("not valid YAML at line"),
        "{}",
        text(&out.stdout)
    );
    let out = accord(&["scenario", "check", "does-not-exist.json"]);
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn graph_draws_dot_mermaid_and_svg() {
    for (format, starts) in [
        ("dot", "digraph"),
        ("mermaid", "stateDiagram-v2"),
        ("svg", "<svg"),
    ] {
        let out = accord(&[
            "scenario",
            "graph",
            "examples/scenarios/information-trade.json",
            "--format",
            format,
        ]);
        assert!(out.status.success(), "{format}: {}", text(&out.stderr));
        let drawn = text(&out.stdout);
        assert!(drawn.trim_start().starts_with(starts), "{format}: {drawn}");
        assert!(
            drawn.contains("Expired"),
            "{format} shows the expiry state by its title"
        );
    }
}

#[test]
fn run_drives_the_examples_to_their_end() {
    for (scenario, steps) in [
        (
            "examples/scenarios/biomass.json",
            "examples/steps/biomass.yaml",
        ),
        (
            "examples/scenarios/information-trade.json",
            "examples/steps/information-trade-expires.yaml",
        ),
        (
            "examples/scenarios/document-signing-extended.yaml",
            "examples/steps/document-signing-deviation.yaml",
        ),
    ] {
        let out = accord(&["scenario", "run", scenario, "--steps", steps]);
        assert!(
            out.status.success(),
            "{scenario}: {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    let out = accord(&[
        "scenario",
        "run",
        "examples/scenarios/biomass.json",
        "--steps",
        "examples/steps/biomass.yaml",
        "--json",
    ]);
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    let last: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(last["current"]["key"], ":success");
    assert_eq!(last["previous"].as_array().unwrap().len(), 11);
    let again = accord(&[
        "scenario",
        "run",
        "examples/scenarios/biomass.json",
        "--steps",
        "examples/steps/biomass.yaml",
        "--json",
    ]);
    assert_eq!(
        out.stdout, again.stdout,
        "the same run gives the same bytes"
    );
}

#[test]
fn run_fails_when_a_step_does_not_do_what_it_says() {
    let dir = std::env::temp_dir().join(format!("accord-scenario-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let steps = dir.join("steps.json");
    std::fs::write(
        &steps,
        r#"[{"actor": "sender", "action": "offer", "data": {"hash": "nothex"}}]"#,
    )
    .unwrap();
    let out = accord(&[
        "scenario",
        "run",
        "examples/scenarios/information-trade.json",
        "--steps",
        steps.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("/assets/offer/hash"),
        "{}",
        text(&out.stdout)
    );
    std::fs::write(&steps, r#"[{"actor": "sender", "acton": "offer"}]"#).unwrap();
    let out = accord(&[
        "scenario",
        "run",
        "examples/scenarios/information-trade.json",
        "--steps",
        steps.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unknown field `acton`"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Issue 15, "one verdict": what would refuse a process at its start is found by `scenario
/// check`: an error when every start is refused (a default that breaks its schema), a warning
/// when a start without actor data is (an instruction the data may satisfy), and `scenario
/// run` refuses both for the same reason.
#[test]
fn check_finds_what_would_refuse_a_start() {
    let dir = tempfile::tempdir().unwrap();
    let schema = "https://specs.livecontracts.io/v0.2.0/scenario/schema.json#";
    let cases = [
        (
            "default.json",
            serde_json::json!({"$schema": schema, "title": "t",
                "actors": {"a": {"properties": {"age": {"type": "integer", "default": "old"}}}},
                "actions": {"go": {"actor": "a"}},
                "states": {"initial": {"action": "go", "transition": ":success"}}}),
            "/actors/a: error[default-breaks-schema]",
            Some(1),
            "/age",
        ),
        (
            "title.json",
            serde_json::json!({"$schema": schema, "title": "t",
                "actors": {"a": {}},
                "actions": {"go": {"actor": "a"}},
                "states": {"initial": {"action": "go", "transition": ":success",
                    "title": {"<eval>": "length(`1`)"}}}}),
            "/states/initial: warning[start-refused]",
            Some(0),
            "/states/initial/title",
        ),
    ];
    let steps = dir.path().join("steps.json");
    std::fs::write(&steps, "[]").unwrap();
    for (name, doc, expected, code, reason) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, doc.to_string()).unwrap();
        let file = file.to_str().unwrap();
        let out = accord(&["scenario", "check", file]);
        assert_eq!(out.status.code(), code, "{name}: {}", text(&out.stdout));
        assert!(
            text(&out.stdout).contains(expected),
            "{name}: {}",
            text(&out.stdout)
        );
        let out = accord(&["scenario", "check", "--deny-warnings", file]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let out = accord(&["scenario", "run", file, "--steps", steps.to_str().unwrap()]);
        assert!(!out.status.success(), "{name}");
        assert!(
            text(&out.stderr).contains(reason),
            "{name}: {}",
            text(&out.stderr)
        );
    }
}

/// Issue 15, gap 4: the tutorial "Under one condition" written in YAML, with its `!eval` tags,
/// runs as the tutorial says. The action's condition (`!eval current.actor.name == null`) lets
/// each actor introduce itself once, and the transition's (`!eval actors.initiator.name != null
/// && actors.recipient.name != null`) waits for both: read as text, either would always hold.
#[test]
fn the_tutorials_yaml_tags_are_evaluated() {
    let dir = tempfile::tempdir().unwrap();
    let steps = dir.path().join("steps.yaml");
    std::fs::write(
        &steps,
        "- {actor: initiator, action: introduce, data: {name: Alice}, expect: initial}\n\
         - {actor: initiator, action: introduce, data: {name: Alice again}, reject: true}\n\
         - {actor: recipient, action: introduce, data: {name: Bob}, expect: \":success\"}\n",
    )
    .unwrap();
    let out = accord(&[
        "scenario",
        "run",
        "tests/data/reference-scenarios/lto-docs/tutorials/under-one-condition.block11.yaml",
        "--steps",
        steps.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    let last: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(last["current"]["key"], ":success");
    assert_eq!(last["actors"]["initiator"]["name"], "Alice");
    assert_eq!(last["actors"]["recipient"]["name"], "Bob");
}
