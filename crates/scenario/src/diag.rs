//! Diagnostics: every problem in a document, each at a JSON pointer, with a plain message.

use std::fmt;

/// How bad a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth knowing; the scenario still runs.
    Warning,
    /// The scenario cannot be used until this is fixed.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One problem, at a place in the document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// How bad it is.
    pub severity: Severity,
    /// A JSON pointer (RFC 6901) into the document; empty for the whole document.
    pub pointer: String,
    /// A short stable name for the kind of problem, e.g. `unknown-state`.
    pub code: &'static str,
    /// What is wrong, in plain words.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(
            f,
            "{pointer}: {}[{}]: {}",
            self.severity, self.code, self.message
        )
    }
}

/// A growing list of diagnostics.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Records an error.
    pub fn error(&mut self, pointer: &Pointer, code: &'static str, message: impl Into<String>) {
        self.push(Severity::Error, pointer, code, message);
    }

    /// Records a warning.
    pub fn warning(&mut self, pointer: &Pointer, code: &'static str, message: impl Into<String>) {
        self.push(Severity::Warning, pointer, code, message);
    }

    fn push(
        &mut self,
        severity: Severity,
        pointer: &Pointer,
        code: &'static str,
        message: impl Into<String>,
    ) {
        self.items.push(Diagnostic {
            severity,
            pointer: pointer.0.clone(),
            code,
            message: message.into(),
        });
    }

    /// Whether any error (not just warnings) was recorded.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// The diagnostics, in the order they were found.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }

    /// The diagnostics so far.
    pub fn as_slice(&self) -> &[Diagnostic] {
        &self.items
    }
}

/// A JSON pointer under construction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Pointer(String);

impl Pointer {
    /// The whole document.
    pub fn root() -> Pointer {
        Pointer(String::new())
    }

    /// The pointer one object key or array index further down.
    pub fn join(&self, token: impl fmt::Display) -> Pointer {
        let token = token.to_string();
        let mut s = String::with_capacity(self.0.len() + token.len() + 1);
        s.push_str(&self.0);
        s.push('/');
        for c in token.chars() {
            match c {
                '~' => s.push_str("~0"),
                '/' => s.push_str("~1"),
                c => s.push(c),
            }
        }
        Pointer(s)
    }

    /// The pointer as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
