//! The answers both halves of the peer protocol share: the members of a receiver's refusal a
//! sending node acts on. Pure (serde only), so the fuzz target `peer_answer` includes it from
//! source.

use serde::{Deserialize, Serialize};

/// The kinds of refusal a sending node acts on (`urn:accord:problem:<kind>`); any other is
/// [`PeerProblem::Other`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerProblem {
    /// The receiver lacks events before the ones sent: it says its `length` and `tip`.
    #[serde(rename = "urn:accord:problem:missing-events")]
    MissingEvents,
    /// The receiver does not hold the chain: send it from its genesis event.
    #[serde(rename = "urn:accord:problem:unknown-chain")]
    UnknownChain,
    /// The receiver's chain continues differently.
    #[serde(rename = "urn:accord:problem:fork")]
    Fork,
    /// An event is stamped ahead of the receiver's clock: send again after `Retry-After`.
    #[serde(rename = "urn:accord:problem:too-early")]
    TooEarly,
    /// Any other problem.
    #[default]
    #[serde(other)]
    Other,
}

impl PeerProblem {
    /// The kind, as `problem.rs` names it.
    pub fn kind(self) -> &'static str {
        match self {
            PeerProblem::MissingEvents => "missing-events",
            PeerProblem::UnknownChain => "unknown-chain",
            PeerProblem::Fork => "fork",
            PeerProblem::TooEarly => "too-early",
            PeerProblem::Other => "other",
        }
    }
}

/// The members of a receiver's refusal (an RFC 9457 body) that a sending node reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerAnswer {
    /// The kind.
    #[serde(rename = "type", default)]
    pub kind: PeerProblem,
    /// What went wrong, in words.
    #[serde(default)]
    pub detail: Option<String>,
    /// `missing-events`: how many events of the chain the receiver holds.
    #[serde(default)]
    pub length: Option<u64>,
    /// `missing-events`, `fork`: the receiver's tip (base58).
    #[serde(default)]
    pub tip: Option<String>,
}

impl PeerAnswer {
    /// Reads a refusal's body; `None` when it is not a JSON object of this shape (a missing
    /// or unknown `type` is [`PeerProblem::Other`]).
    pub fn read(body: &[u8]) -> Option<PeerAnswer> {
        serde_json::from_slice(body).ok()
    }
}
