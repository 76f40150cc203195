//! What validation finds wrong with a chain: every problem, each naming the event by its index
//! and hash.

use std::fmt;

use accord_crypto::PublicKey;
use accord_crypto::base58;

/// A hash, shown in base58.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hash(pub [u8; 32]);

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&base58::encode(&self.0))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

/// One thing wrong with a chain. Event problems carry the event's index on the chain (0 is the
/// first event of this copy; for a partial chain, the first event after its stub) and the hash
/// the event goes by: the one it claims, or else the hash of its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// A chain with no events (and no stub saying where it continues).
    NoEvents,
    /// An event without a signature or sign key.
    NotSigned {
        /// The event's index.
        index: usize,
        /// Its hash, where it claims one or has a sign key to compute it with.
        hash: Option<Hash>,
    },
    /// The claimed hash is not the hash of the event's content: some field was changed.
    HashMismatch {
        /// The event's index.
        index: usize,
        /// The hash the event claims.
        claimed: Hash,
        /// The hash of its content.
        computed: Hash,
    },
    /// The signature does not verify against the event's content and sign key.
    BadSignature {
        /// The event's index.
        index: usize,
        /// The event's hash.
        hash: Hash,
        /// The key it claims to be signed by.
        sign_key: PublicKey,
    },
    /// The event's `previous` is not the hash of the event before it (or, for the first event,
    /// the chain's initial hash or the stub's hash): an event is missing, moved or altered.
    BrokenLink {
        /// The event's index.
        index: usize,
        /// The event's hash.
        hash: Hash,
        /// What `previous` should be.
        expected: Hash,
        /// What it is.
        found: Hash,
    },
    /// The genesis event is not signed by the key whose hash is in the chain id.
    GenesisNotByCreator {
        /// The genesis event's hash.
        hash: Hash,
        /// The key that signed it.
        signer: PublicKey,
    },
    /// A stub that continues from the chain's initial hash (so the copy starts at genesis) but
    /// gives a state other than the initial state.
    StubState {
        /// The chain's initial state.
        expected: Hash,
        /// The state the stub gives.
        found: Hash,
    },
    /// The event is malformed: it cannot be put in binary form (too long a field, attachments
    /// on v1), so it cannot have been signed as it is; or (legacy chains) its body is not
    /// base58-encoded JSON, or the original event of a rebased one does not verify.
    Malformed {
        /// The event's index.
        index: usize,
        /// The event's claimed hash, if any.
        hash: Option<Hash>,
        /// What is wrong.
        reason: String,
    },
}

impl Problem {
    /// The index of the event the problem is about; `None` for problems of the whole chain.
    /// The genesis event is index 0.
    pub fn index(&self) -> Option<usize> {
        match self {
            Problem::NoEvents | Problem::StubState { .. } => None,
            Problem::GenesisNotByCreator { .. } => Some(0),
            Problem::NotSigned { index, .. }
            | Problem::HashMismatch { index, .. }
            | Problem::BadSignature { index, .. }
            | Problem::BrokenLink { index, .. }
            | Problem::Malformed { index, .. } => Some(*index),
        }
    }
}

fn event(f: &mut fmt::Formatter<'_>, index: usize, hash: Option<&Hash>) -> fmt::Result {
    match hash {
        Some(hash) => write!(f, "event {index} ({hash})"),
        None => write!(f, "event {index}"),
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NoEvents => f.write_str("the chain has no events"),
            Problem::StubState { expected, found } => write!(
                f,
                "the stub continues from the chain's initial hash but gives state {found}, not the initial state {expected}"
            ),
            Problem::NotSigned { index, hash } => {
                event(f, *index, hash.as_ref())?;
                f.write_str(": not signed")
            }
            Problem::HashMismatch {
                index,
                claimed,
                computed,
            } => {
                event(f, *index, Some(claimed))?;
                write!(
                    f,
                    ": hash does not match the event's content, which hashes to {computed} (a field was changed)"
                )
            }
            Problem::BadSignature {
                index,
                hash,
                sign_key,
            } => {
                event(f, *index, Some(hash))?;
                write!(
                    f,
                    ": signature does not verify for {} key {sign_key}",
                    sign_key.key_type()
                )
            }
            Problem::BrokenLink {
                index,
                hash,
                expected,
                found,
            } => {
                event(f, *index, Some(hash))?;
                if *index == 0 {
                    write!(
                        f,
                        ": previous is {found}, but the chain starts at {expected} (wrong chain, or events before it are missing)"
                    )
                } else {
                    write!(
                        f,
                        ": previous is {found}, but the event before it is {expected} (events missing, reordered or altered)"
                    )
                }
            }
            Problem::GenesisNotByCreator { hash, signer } => {
                event(f, 0, Some(hash))?;
                write!(
                    f,
                    ": genesis event signed by {signer}, which is not the creator named in the chain id"
                )
            }
            Problem::Malformed {
                index,
                hash,
                reason,
            } => {
                event(f, *index, hash.as_ref())?;
                write!(f, ": {reason}")
            }
        }
    }
}

/// Everything validation found. Empty when the chain is valid.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The problems, ordered by event index (chain-wide ones first).
    pub problems: Vec<Problem>,
}

impl Report {
    /// Whether no problem was found.
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }

    pub(crate) fn sort(&mut self) {
        // A stable sort keeps the order checks ran in for problems of one event.
        self.problems
            .sort_by_key(|problem| problem.index().map_or(0, |index| index + 1));
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.problems.is_empty() {
            return f.write_str("valid");
        }
        for (n, problem) in self.problems.iter().enumerate() {
            if n > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}
