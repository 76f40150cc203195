//! `accord scenario`: check scenario documents and draw them.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Subcommand, ValueEnum};

use accord_engine::judge_text;
use accord_scenario::{Severity, graph};

use crate::Outcome;
use crate::io::write_output;
use crate::load::{DocFormat, format_of, load_checked, read_text};

#[derive(Subcommand)]
pub enum ScenarioCommand {
    /// Check scenarios and report every problem, one per line as `file:pointer: message`.
    ///
    /// Exits 1 if any file has an error (or, with --deny-warnings, a warning).
    Check {
        /// Scenario files (.json, .yml, .yaml; `-` for standard input).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Treat warnings as errors.
        #[arg(long)]
        deny_warnings: bool,
        /// The format of files whose name does not tell (standard input, say).
        #[arg(long, value_enum)]
        format: Option<DocFormat>,
    },
    /// Drive a process locally: generated identities, a real signed event chain, the
    /// projection after each step.
    ///
    /// STEPS is a JSON or YAML list; each item is one of:
    ///   {actor: A, action: X, response: R, data: D}   a response (response and data optional)
    ///   {actor: A, comment: TEXT}                       a comment
    ///   {actor: A, action: ":timeout"}                  a time-out (once the state is due)
    ///   {wait: P1D}                                     move the clock on (ISO 8601 duration)
    ///   {actor: A, deviation: {id, from, actions, states, open, transitions}}
    ///   {actor: A, accept: DEVIATION_ID}
    /// Any item may add `expect: STATE` (the state after it) or `reject: true` (the step must
    /// be refused). System actions with a nop trigger run by themselves.
    Run {
        /// The scenario file.
        file: PathBuf,
        /// The steps file (.json, .yml, .yaml).
        #[arg(long)]
        steps: PathBuf,
        /// Print each projection as canonical JSON, one per line, instead of a summary.
        #[arg(long)]
        json: bool,
        /// Also write the event chain (the reference's JSON form) to this file.
        #[arg(long)]
        chain_out: Option<PathBuf>,
    },
    /// Check a scenario, then store it on a node (POST /scenarios), signed with your key.
    Push {
        /// The scenario file (.json, .yml, .yaml).
        file: PathBuf,
        #[command(flatten)]
        client: crate::process::NodeClientArgs,
    },
    /// Draw a scenario: states as nodes, transitions as edges, final states marked.
    Graph {
        /// The scenario file.
        file: PathBuf,
        /// The drawing's format: Graphviz DOT, a Mermaid state diagram, or an SVG picture.
        #[arg(long, value_enum, default_value = "dot")]
        format: GraphFormat,
        /// Where to write it (standard output by default).
        #[arg(long, short, default_value = "-")]
        output: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
    Svg,
}

pub fn run(command: ScenarioCommand) -> Result<Outcome> {
    match command {
        ScenarioCommand::Check {
            files,
            deny_warnings,
            format,
        } => {
            let mut failed = false;
            let mut unreadable = false;
            for file in &files {
                let text = match read_text(file) {
                    Ok(t) => t,
                    Err(e) => {
                        eprintln!("{}: error: {e:#}", file.display());
                        unreadable = true;
                        continue;
                    }
                };
                let verdict = judge_text(&text, format_of(file, &text, format));
                let (mut errors, mut warnings) = (0, 0);
                for d in &verdict.diagnostics {
                    match d.severity {
                        Severity::Error => errors += 1,
                        Severity::Warning => warnings += 1,
                    }
                    let pointer = if d.pointer.is_empty() {
                        "/"
                    } else {
                        &d.pointer
                    };
                    outln!(
                        "{}:{pointer}: {}[{}]: {}",
                        file.display(),
                        d.severity,
                        d.code,
                        d.message
                    );
                }
                if errors > 0 || (deny_warnings && warnings > 0) {
                    failed = true;
                }
                if errors == 0 && warnings == 0 {
                    outln!("{}: ok", file.display());
                } else {
                    outln!(
                        "{}: {errors} error(s), {warnings} warning(s)",
                        file.display()
                    );
                }
            }
            Ok(if unreadable {
                Outcome::Failed
            } else if failed {
                Outcome::Invalid
            } else {
                Outcome::Success
            })
        }
        ScenarioCommand::Run {
            file,
            steps,
            json,
            chain_out,
        } => crate::run::run(&file, &steps, json, chain_out.as_deref()),
        ScenarioCommand::Push { file, client } => {
            load_checked(&file)?;
            crate::process::push(&file, &client)
        }
        ScenarioCommand::Graph {
            file,
            format,
            output,
        } => {
            let (compiled, _, _) = load_checked(&file)?;
            let g = graph::graph(&compiled.scenario);
            let drawn = match format {
                GraphFormat::Dot => graph::to_dot(&g),
                GraphFormat::Mermaid => graph::to_mermaid(&g),
                GraphFormat::Svg => accord_scenario::svg::to_svg(&g),
            };
            write_output(&output, drawn.as_bytes())?;
            Ok(Outcome::Success)
        }
    }
}
