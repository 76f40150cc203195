//! Reading scenario documents for the commands that take them (`scenario`, `process`,
//! `run`): the file, its syntax, and the one verdict on it. Its own module so that those
//! commands import it and not each other.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;

use accord_engine::{Compiled, judge_text};
use accord_scenario::{Format, Severity};

use crate::io::read_input;

#[derive(Clone, Copy, ValueEnum)]
pub enum DocFormat {
    Json,
    Yaml,
}

pub fn format_of(path: &std::path::Path, text: &str, forced: Option<DocFormat>) -> Format {
    match forced {
        Some(DocFormat::Json) => Format::Json,
        Some(DocFormat::Yaml) => Format::Yaml,
        None => Format::from_path(&path.to_string_lossy()).unwrap_or_else(|| Format::sniff(text)),
    }
}

/// Reads and judges a scenario file for a command that needs a valid one (the verdict every
/// part of Accord gives, `accord_engine::verdict`): its errors go to stderr as
/// `file:pointer: message`, and the command fails.
pub fn load_checked(file: &std::path::Path) -> Result<(Arc<Compiled>, String, Format)> {
    let text = read_text(file)?;
    let format = format_of(file, &text, None);
    let verdict = judge_text(&text, format);
    let Some(compiled) = verdict.compiled else {
        for d in verdict
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
        {
            let pointer = if d.pointer.is_empty() {
                "/"
            } else {
                &d.pointer
            };
            eprintln!("{}:{pointer}: {}", file.display(), d.message);
        }
        bail!(
            "{} has errors; run `accord scenario check` for all of them",
            file.display()
        );
    };
    Ok((compiled, text, format))
}

pub fn read_text(path: &std::path::Path) -> Result<String> {
    let bytes = read_input(path)?;
    String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8 text", path.display()))
}
