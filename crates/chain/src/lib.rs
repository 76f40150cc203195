//! LTO event chains: the private, signed, hash-linked history of one process.
//!
//! A tour:
//! - [`id`]: chain ids (v2 `0x42`, v1 `0x41`) and derived ids (`0x51`); a [`ChainId`] always
//!   has a valid checksum.
//! - [`event`]: an [`Event`] and its binary form, which is hashed (SHA-256) and signed.
//! - [`json`]: the reference client's JSON form, with errors that name the event and field.
//! - [`chain`]: a [`Chain`] as read, its validation ([`Report`] of every [`Problem`]), and the
//!   [`VerifiedChain`] that only verification or signing can make: state, anchor map, partial
//!   copies, merging by position with a typed [`MergeConflict`].
//! - [`legacy`]: reading and verifying the `0x40` chains of the 2018–2021 servers.
//! - [`AnyChain`]: a chain of any of these formats, told apart by its id.
//! - [`place`]: where a copy of a chain's events goes on the copy one holds (extends, duplicate,
//!   missing events, fork, unknown chain): the one decision for merging and for a node's writer.
//! - [`time`]: when an event's timestamp may be believed: the rules a node applies before
//!   it places an event (never before the event it follows; never from the future).
//!
//! Signatures are checked in batches where the key type allows (ed25519), with the same
//! answer as one at a time; see `accord_crypto::ed25519`. Nothing here does I/O or reads the
//! clock: times come in as arguments.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod chain;
pub mod event;
pub mod id;
pub mod json;
pub mod legacy;
pub mod place;
pub mod problem;
pub mod time;

pub use chain::{
    Anchor, AppendError, Chain, Invalid, MergeConflict, MergeError, PartialStart, VerifiedChain,
    VerifiedEvent,
};
pub use event::{Attachment, BinaryError, Draft, EncodeError, Event};
pub use id::{ChainId, DerivedId, IdError, Nonce, Version};
pub use json::JsonError;
pub use legacy::{LegacyChain, LegacyChainId, LegacyEvent};
pub use place::{Held, Placement};
pub use problem::{Hash, Problem, Report};

use serde::Deserialize;

/// A chain of any format, told apart by the first byte of its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnyChain {
    /// A v1 or v2 chain.
    Lto(Chain),
    /// A legacy (`0x40`) chain.
    Legacy(LegacyChain),
}

impl AnyChain {
    /// Reads chain JSON of any format.
    pub fn from_json(json: &[u8]) -> Result<AnyChain, JsonError> {
        #[derive(Deserialize)]
        struct IdOnly<'a> {
            #[serde(borrow)]
            id: std::borrow::Cow<'a, str>,
        }
        // Look at the id alone first (serde skips the events without building them).
        let peek: Result<IdOnly<'_>, _> =
            serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(json));
        let legacy = match peek {
            // Base58 decoding is quadratic: look only at ids short enough to be one (a longer
            // one is refused, with its position, by the full parse).
            Ok(peek) if peek.id.len() <= 2 * 46 + 2 => {
                accord_crypto::base58::decode(&peek.id)
                    .ok()
                    .and_then(|bytes| bytes.first().copied())
                    == Some(legacy::LEGACY)
            }
            // Let the full parse report the error, with its position.
            _ => false,
        };
        if legacy {
            LegacyChain::from_json(json).map(AnyChain::Legacy)
        } else {
            Chain::from_json(json).map(AnyChain::Lto)
        }
    }

    /// Finds every problem.
    pub fn validate(&self) -> Report {
        match self {
            AnyChain::Lto(chain) => chain.validate(),
            AnyChain::Legacy(chain) => chain.validate(),
        }
    }

    /// The id in base58.
    pub fn id(&self) -> String {
        match self {
            AnyChain::Lto(chain) => chain.id.to_base58(),
            AnyChain::Legacy(chain) => chain.id.to_base58(),
        }
    }

    /// The number of events in this copy.
    pub fn len(&self) -> usize {
        match self {
            AnyChain::Lto(chain) => chain.events.len(),
            AnyChain::Legacy(chain) => chain.events.len(),
        }
    }

    /// Whether this copy has no events.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
