//! One verdict on a scenario: what `accord scenario check`, `accord scenario run`, a node's
//! `POST /scenarios` and the replay of a scenario event all ask, so that a scenario one of
//! them takes is never refused by another when a process starts with it.
//!
//! A scenario is taken when (1) it reads and checks (`accord_scenario::check_value`: the model,
//! names, reachability), (2) its actor and asset schemas compile and the value a process
//! starts with fits them ([`Compiled::new`]), and (3) a process starts with it: a trial start
//! with one made-up identity per actor and no actor data enters `initial` and evaluates its
//! title, description and instructions, as every real start does.

use std::sync::Arc;

use accord_scenario::{Checked, Diagnostic, Format, Pointer, Severity};
use serde_json::Value;

use crate::process::{Compiled, Identity, Process, Start};

/// What the verdict found: the compiled scenario when it has no error, and every diagnostic.
#[derive(Debug)]
pub struct Verdict {
    /// The scenario, compiled; `None` when any diagnostic is an error.
    pub compiled: Option<Arc<Compiled>>,
    /// Errors and warnings, in the order found.
    pub diagnostics: Vec<Diagnostic>,
}

impl Verdict {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }

    /// The errors as one line (`pointer: error[code]: message; …`).
    pub fn errors(&self) -> String {
        let errors: Vec<Diagnostic> = self
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .cloned()
            .collect();
        crate::process::join(&errors)
    }
}

/// Judges a scenario held as JSON.
pub fn judge(doc: &Value) -> Verdict {
    finish(accord_scenario::check_value(doc))
}

/// Reads and judges a scenario document; one that cannot be read gives one `syntax` error.
pub fn judge_text(text: &str, format: Format) -> Verdict {
    finish(accord_scenario::check_text(text, format))
}

fn finish(checked: Checked) -> Verdict {
    let mut diagnostics = checked.diagnostics;
    let Some(scenario) = checked.scenario else {
        return Verdict {
            compiled: None,
            diagnostics,
        };
    };
    let compiled = match Compiled::new(scenario) {
        Ok(c) => Arc::new(c),
        Err(errors) => {
            diagnostics.extend(errors);
            return Verdict {
                compiled: None,
                diagnostics,
            };
        }
    };
    if let Err(e) = Process::start(compiled.clone(), trial_start(&compiled)) {
        diagnostics.push(Diagnostic {
            severity: Severity::Error,
            pointer: Pointer::root().join("states").join("initial").to_string(),
            code: "start-refused",
            message: format!(
                "a process cannot start with this scenario (one identity per actor, no actor data): {e}"
            ),
        });
        return Verdict {
            compiled: None,
            diagnostics,
        };
    }
    Verdict {
        compiled: Some(compiled),
        diagnostics,
    }
}

/// A start as plain as a real one can be: every actor bound to an identity of its own, no data.
fn trial_start(compiled: &Compiled) -> Start {
    Start {
        id: "trial".into(),
        chain: None,
        title: None,
        actors: compiled
            .scenario
            .actors
            .keys()
            .map(|a| {
                (
                    a.clone(),
                    Identity {
                        id: format!("trial-{a}"),
                        node: None,
                        signkeys: vec![("user".into(), format!("trial-key-{a}"))],
                        encryptkey: None,
                    },
                )
            })
            .collect(),
        actor_data: Vec::new(),
        timestamp: 0,
    }
}
