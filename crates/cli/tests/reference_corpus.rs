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
const GAPS: &[(&str, &str)] = &[
    (
        "workflow-engine/tests/_data/scenarios/basic-user-and-system.update-instructions.json",
        "6: update instructions that write any path (`foo`, `bar`)",
    ),
    (
        "workflow-engine/tests/_data/scenarios/basic-user-and-system.update-instructions.not-pretty.json",
        "6: update instructions that write any path (`foo`, `bar`)",
    ),
    (
        "workflow-engine/tests/_data/scenarios/basic-user-and-system.yml",
        "a transition on a response the action does not declare (`error`)",
    ),
    (
        "lto-docs/tutorials/invitation-by-email.block02.yaml",
        "6: an update that writes an actor the scenario does not declare",
    ),
    (
        "lto-docs/tutorials/invitation-by-email.block03.json",
        "6: an update that writes an actor the scenario does not declare",
    ),
];

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
    let manifest: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(corpus().join("MANIFEST.json")).unwrap())
            .unwrap();
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
        accepted >= 17 && refused >= 8,
        "{accepted} accepted, {refused} refused"
    );
}
