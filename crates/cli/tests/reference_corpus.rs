//! Scenario documents written by the reference's own authors (`tests/data/reference-scenarios`,
//! with provenance and the reference's verdict for each in `MANIFEST.json`): Accord gives the
//! reference's verdict, or the document is listed below under the gap of issue 15 that still
//! stands between them. The list is exact both ways: a listed document that Accord now handles
//! as the reference does fails this test until it is taken off, so the list only shrinks.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_accord");

/// Documents the reference accepts that Accord does not yet, each with the gap (issue 15).
const GAPS: &[(&str, &str)] = &[];

fn manifest() -> Vec<Value> {
    serde_json::from_str(&std::fs::read_to_string(corpus().join("MANIFEST.json")).unwrap()).unwrap()
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/reference-scenarios")
}

/// Whether `accord scenario check` passes (warnings allowed) and a process starts with the
/// document (`scenario run` with no steps); the first error otherwise.
fn accord_takes(file: &Path, empty_steps: &Path) -> Result<(), String> {
    let check = Command::new(BIN)
        .args(["scenario", "check"])
        .arg(file)
        .output()
        .unwrap();
    if !check.status.success() {
        return Err(format!(
            "check: {}",
            String::from_utf8_lossy(&check.stdout)
                .lines()
                .next()
                .unwrap_or("")
        ));
    }
    let run = Command::new(BIN)
        .args(["scenario", "run"])
        .arg(file)
        .arg("--steps")
        .arg(empty_steps)
        .output()
        .unwrap();
    if !run.status.success() {
        return Err(format!(
            "run: {}",
            String::from_utf8_lossy(&run.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    Ok(())
}

#[test]
fn accord_gives_the_references_verdicts_but_for_the_listed_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("no-steps.yaml");
    std::fs::write(&empty, "[]\n").unwrap();
    let manifest = manifest();
    let mut wrong = Vec::new();
    let (mut accepted, mut refused) = (0, 0);
    for entry in &manifest {
        let Some(file) = entry["file"].as_str() else {
            continue; // listed, not copied (no licence to redistribute)
        };
        let path = corpus().join(file);
        assert!(
            path.exists(),
            "{file} is in the manifest but not in the corpus"
        );
        let takes = accord_takes(&path, &empty);
        let gap = GAPS.iter().find(|(f, _)| *f == file);
        match (entry["verdict"].as_str(), &takes, gap) {
            (Some("accepts"), Ok(()), None) => accepted += 1,
            (Some("accepts"), Err(_), Some(_)) => {}
            (Some("accepts"), Ok(()), Some((_, why))) => {
                wrong.push(format!("{file}: taken now; take it off the gaps ({why})"))
            }
            (Some("accepts"), Err(e), None) => wrong.push(format!(
                "{file}: the reference accepts it, Accord does not: {e}"
            )),
            (Some("refuses"), Err(_), None) => refused += 1,
            (Some("refuses"), Ok(()), _) => wrong.push(format!(
                "{file}: the reference refuses it ({}), Accord takes it",
                entry["reason"]
            )),
            (verdict, _, _) => wrong.push(format!("{file}: verdict {verdict:?} with gap {gap:?}")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Every listed gap names a document of the corpus.
    for (file, _) in GAPS {
        assert!(
            manifest.iter().any(|e| e["file"].as_str() == Some(file)),
            "{file} is listed as a gap but is not in the manifest"
        );
    }
    assert!(
        accepted >= 42 && refused >= 8,
        "{accepted} accepted, {refused} refused"
    );
}

/// Why Accord refuses each document the reference refuses: the codes its check must give,
/// matching the reason the manifest records for the reference.
const REFUSED_FOR: &[(&str, &[&str])] = &[
    (
        "workflow-engine/history/3409e974/tests/flow/BasicUser/scenario-v1.json",
        &["no-initial-state"],
    ),
    (
        "workflow-engine/history/8b079a14/tests/flow/BasicSystem/scenario-v0.3.json",
        &["wrong-schema"],
    ),
    (
        "lto-docs/specs/7025d5b5/02-scenario/example.json",
        &["wrong-schema", "no-initial-state"],
    ),
    (
        "lto-docs/specs/0723cd30/03-scenario/example.json",
        &["wrong-schema", "no-initial-state"],
    ),
    (
        "lto-docs/specs/c757aa0c/04-scenario/example.json",
        &["wrong-schema", "no-initial-state"],
    ),
    (
        "lto-docs/tutorials/under-one-condition.block03.json",
        &["syntax"],
    ),
    (
        "lto-docs/tutorials/under-one-condition.block06.json",
        &["syntax"],
    ),
    (
        "lto-docs/tutorials/under-one-condition.block09.json",
        &["syntax"],
    ),
];

#[test]
fn documents_the_reference_refuses_are_refused_for_its_reason() {
    let manifest = manifest();
    let mut seen = 0;
    for entry in &manifest {
        let (Some("refuses"), Some(file)) = (entry["verdict"].as_str(), entry["file"].as_str())
        else {
            continue;
        };
        let (_, codes) = REFUSED_FOR
            .iter()
            .find(|(f, _)| *f == file)
            .unwrap_or_else(|| {
                panic!("{file}: refused by the reference; say why Accord refuses it")
            });
        let out = Command::new(BIN)
            .args(["scenario", "check"])
            .arg(corpus().join(file))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{file}: {text}");
        for code in *codes {
            assert!(
                text.contains(&format!("error[{code}]")),
                "{file}: the reference refuses it because {}; Accord should say `{code}`:\n{text}",
                entry["reason"]
            );
        }
        seen += 1;
    }
    assert_eq!(
        seen,
        REFUSED_FOR.len(),
        "every listed refusal is in the corpus"
    );
}

/// Each document the reference's flow tests drive to a final state is driven there by
/// `accord scenario run`, with the steps those tests take (`steps` in the manifest). A step
/// of a nop action is left out: its trigger answers it by itself, in the reference as here.
#[test]
fn the_reference_flow_tests_reach_their_final_states() {
    let dir = tempfile::tempdir().unwrap();
    let mut driven = 0;
    for entry in &manifest() {
        let (Some(file), Some(end), Some(steps)) = (
            entry["file"].as_str(),
            entry["final_state"].as_str(),
            entry["steps"].as_array(),
        ) else {
            continue;
        };
        assert!(file.ends_with(".json"), "{file}: a driven document is JSON");
        let path = corpus().join(file);
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let is_nop = |action: &str| {
            doc["actions"][action]["$schema"]
                .as_str()
                .is_some_and(|s| s.contains("/action/nop/"))
        };
        let mut ours: Vec<Value> = steps
            .iter()
            .filter(|s| !is_nop(s["action"].as_str().unwrap_or("")))
            .map(|s| {
                let mut step = serde_json::Map::new();
                for (k, v) in s.as_object().unwrap() {
                    if !v.is_null() {
                        step.insert(k.clone(), v.clone());
                    }
                }
                Value::Object(step)
            })
            .collect();
        ours.last_mut().unwrap()["expect"] = Value::from(end);
        let steps_file = dir.path().join("steps.json");
        std::fs::write(&steps_file, Value::Array(ours).to_string()).unwrap();
        let out = Command::new(BIN)
            .args(["scenario", "run", "--json"])
            .arg(&path)
            .arg("--steps")
            .arg(&steps_file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{file}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let last: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        assert_eq!(last["current"]["key"], Value::from(end), "{file}");
        driven += 1;
    }
    assert!(
        driven >= 13,
        "{driven} documents driven to their final states"
    );
}
