//! Live Contracts processes: the projection of a process by replaying its events against its
//! scenario, the step function, what may happen next, and the work (HTTP calls, timers) the
//! engine asks the node to do.
//!
//! Pure: no I/O, no clock, no randomness. Time enters only as event timestamps.

#![warn(missing_docs)]

pub mod deviation;
pub mod patch;
pub mod process;
pub mod replay;
pub mod schema;

pub use process::{Candidate, Compiled, Identity, Process, Rejection, Request, Start};
pub use replay::{Applied, EventIn, Kind, Refusal, Replay};

/// A JSON value as canonical JSON (RFC 8785).
pub fn canonical(value: &serde_json::Value) -> Vec<u8> {
    serde_jcs::to_vec(value).expect("a serde_json value with finite numbers always serialises")
}
