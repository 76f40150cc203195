//! Live Contracts scenarios: reading them (JSON or YAML), the model, data instructions,
//! checks that report every problem at once, and graphs.
//!
//! Pure: no I/O, no clock, no randomness.

#![warn(missing_docs)]

pub mod check;
pub mod diag;
pub mod doc;
pub mod graph;
pub mod instr;
pub mod model;
pub mod svg;

pub use diag::{Diagnostic, Diagnostics, Pointer, Severity};
pub use doc::Format;
pub use model::Scenario;

use serde_json::Value;

/// The result of checking a scenario document.
#[derive(Debug)]
pub struct Checked {
    /// The scenario, when it has no errors.
    pub scenario: Option<Scenario>,
    /// Every problem found, errors and warnings.
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

/// Checks a scenario held as JSON: the model, references, reachability and the passive test.
pub fn check_value(doc: &Value) -> Checked {
    let mut diags = Diagnostics::default();
    let scenario = model::build(doc, &mut diags);
    if let Some(s) = &scenario {
        check::check(s, &mut diags);
    }
    let failed = diags.has_errors();
    Checked {
        scenario: if failed { None } else { scenario },
        diagnostics: diags.into_vec(),
    }
}

/// Reads and checks a scenario document. A document that cannot be read at all gives one
/// error, with its line and column in the message.
pub fn check_text(text: &str, format: Format) -> Checked {
    match doc::parse(text, format) {
        Ok(value) => check_value(&value),
        Err(e) => Checked {
            scenario: None,
            diagnostics: vec![Diagnostic {
                severity: Severity::Error,
                pointer: String::new(),
                code: "syntax",
                message: format!(
                    "{} at line {}, column {}: {}",
                    match format {
                        Format::Json => "not valid JSON",
                        Format::Yaml => "not valid YAML",
                    },
                    e.line,
                    e.column,
                    e.message
                ),
            }],
        },
    }
}
