//! Live Contracts processes: the projection of a process by replaying its events against its
//! scenario, the step function, what may happen next, and the work (HTTP calls, timers) the
//! engine asks the node to do.
//!
//! Pure: no I/O, no clock, no randomness. Time enters only as event timestamps.

#![warn(missing_docs)]

pub mod bodies;
pub mod canonical;
pub mod deviation;
pub mod patch;
pub mod process;
pub mod replay;
pub mod schema;
pub mod verdict;

pub use process::{Candidate, Compiled, Identity, Process, Rejection, Request, Start};
pub use replay::{Applied, EventIn, Kind, Refusal, Replay};
pub use verdict::{Verdict, compile, judge, judge_text};

/// A JSON value as canonical JSON (RFC 8785).
pub fn canonical(value: &serde_json::Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    canonical::write(value, &mut out);
    out
}
