//! One verdict on a scenario: what `accord scenario check`, `accord scenario run`, a node's
//! `POST /scenarios` and the replay of a scenario event all ask, so that a scenario one of
//! them takes is taken by all, and what would refuse every start is found before any process.
//!
//! [`compile`]: a scenario is taken when (1) it reads and checks (`accord_scenario::check_value`:
//! the model, names, reachability) and (2) its actor and asset schemas compile and the value a
//! process starts with fits them ([`Compiled::new`]). The replay of a chain asks this.
//!
//! [`judge`] adds (3) a trial start with one made-up identity per actor and no actor data,
//! which enters `initial` and evaluates its title, description and instructions. Its refusal is
//! a warning (`start-refused`), not an error: a real start may give the data an instruction
//! reads, or bind fewer actors, so the trial can neither promise nor forbid a start; it tells
//! the author that a start like it is refused, and why. The replay does not run it, so whether
//! a chain's scenario is taken never depends on it.

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

/// Whether a scenario held as JSON is taken: the model's check and its schemas.
pub fn compile(doc: &Value) -> Verdict {
    finish(accord_scenario::check_value(doc))
}

/// [`compile`], then a trial start whose refusal is a warning.
pub fn judge(doc: &Value) -> Verdict {
    trial(compile(doc))
}

/// Reads and judges a scenario document; one that cannot be read gives one `syntax` error.
pub fn judge_text(text: &str, format: Format) -> Verdict {
    trial(finish(accord_scenario::check_text(text, format)))
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
    Verdict {
        compiled: Some(compiled),
        diagnostics,
    }
}

fn trial(mut verdict: Verdict) -> Verdict {
    if let Some(compiled) = &verdict.compiled
        && let Err(e) = Process::start(compiled.clone(), trial_start(compiled))
    {
        verdict.diagnostics.push(Diagnostic {
            severity: Severity::Warning,
            pointer: Pointer::root().join("states").join("initial").to_string(),
            code: "start-refused",
            message: format!(
                "a process started with one identity per actor and no actor data is refused: {e}; a start that gives the data this reads may pass"
            ),
        });
    }
    verdict
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
