//! Chains as read ([`Chain`]) and as verified ([`VerifiedChain`]).
//!
//! A `Chain` is whatever a file or a peer sent: nothing about it is trusted. Validation reports
//! every problem at once ([`Chain::validate`]); [`Chain::verify`] turns a chain without
//! problems into a `VerifiedChain`, the only way to get one besides building it by signing.
//! A `VerifiedChain` keeps its invariants as it grows: each appended or merged event is checked
//! against the tip, and appending costs the same however long the chain is.

use accord_crypto::hash::{sha256, sha256_concat};
use accord_crypto::{Address, KeyPair, PublicKey, Signature, SignatureCheck, verify_all};
use thiserror::Error;

use crate::event::{Draft, EncodeError, Event};
use crate::id::ChainId;
use crate::problem::{Hash, Problem, Report};

/// Where a partial chain continues: the hash of the last event before its first one, and the
/// chain's state after that event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartialStart {
    /// The hash of the event just before this copy's first event.
    pub hash: [u8; 32],
    /// The chain's state after that event.
    pub state: [u8; 32],
}

/// A chain as read from JSON or received: an id, maybe a stub, and events, none of it checked
/// beyond its shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    /// The chain's id.
    pub id: ChainId,
    /// Where a partial chain continues; `None` when it starts at the genesis event.
    pub start: Option<PartialStart>,
    /// The events, oldest first.
    pub events: Vec<Event>,
}

/// A chain with problems, given back with the report of them.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{report}")]
pub struct Invalid {
    /// The chain as it was.
    pub chain: Box<Chain>,
    /// Every problem found.
    pub report: Report,
}

impl Chain {
    /// An empty chain.
    pub fn new(id: ChainId) -> Self {
        Chain {
            id,
            start: None,
            events: Vec::new(),
        }
    }

    /// The hash the next event must name as `previous`: the last event's claimed (or else
    /// computed) hash, the stub's hash, or the initial hash.
    pub fn latest_hash(&self) -> [u8; 32] {
        self.events
            .last()
            .and_then(|event| event.label_hash(self.id.version()))
            .or(self.start.map(|start| start.hash))
            .unwrap_or_else(|| self.id.initial_hash())
    }

    /// Whether this copy starts after the genesis event: it has a stub, and the stub is not at
    /// the chain's initial hash. The events before it, and the creator, cannot be checked.
    pub fn is_partial(&self) -> bool {
        self.start
            .is_some_and(|start| start.hash != self.id.initial_hash())
    }

    /// Finds every problem: hashes, signatures (in batches), links, the genesis signer.
    pub fn validate(&self) -> Report {
        self.check().0
    }

    /// Validates, and on success gives the chain back as verified.
    pub fn verify(self) -> Result<VerifiedChain, Invalid> {
        let (report, hashes) = self.check();
        if !report.is_valid() {
            return Err(Invalid {
                chain: Box::new(self),
                report,
            });
        }
        // A stub at the initial hash is no stub: the copy starts at genesis (and validation
        // has checked that its state is the initial state).
        let start = self
            .start
            .filter(|start| start.hash != self.id.initial_hash());
        let mut state = start.map_or_else(|| self.id.initial_state(), |start| start.state);
        let mut events = Vec::with_capacity(self.events.len());
        for (mut event, hash) in self.events.into_iter().zip(hashes) {
            state = next_state(&state, &hash);
            event.hash = Some(hash);
            events.push(VerifiedEvent { event, hash });
        }
        Ok(VerifiedChain {
            id: self.id,
            start,
            events,
            state,
        })
    }

    /// The validation proper. Also returns each event's computed hash (valid only where the
    /// report is empty).
    fn check(&self) -> (Report, Vec<[u8; 32]>) {
        let version = self.id.version();
        let mut report = Report::default();
        if self.events.is_empty() && self.start.is_none() {
            report.problems.push(Problem::NoEvents);
        }
        // A stub that continues from the initial hash says the copy starts at genesis: it is
        // then held to everything a whole chain is (its creator is checked), and its state must
        // be the initial state rather than whatever the sender wrote.
        let partial = self.is_partial();
        if let Some(start) = &self.start
            && !partial
            && start.state != self.id.initial_state()
        {
            report.problems.push(Problem::StubState {
                expected: Hash(self.id.initial_state()),
                found: Hash(start.state),
            });
        }

        // Every binary goes into one buffer: one allocation for the whole chain, not one per
        // event, and the signature checks borrow their messages from it.
        let capacity = self.events.iter().map(Event::binary_len_hint).sum();
        let mut binaries: Vec<u8> = Vec::with_capacity(capacity);
        let mut spans: Vec<(usize, usize, usize)> = Vec::with_capacity(self.events.len());
        let mut hashes: Vec<[u8; 32]> = Vec::with_capacity(self.events.len());

        // What the next event's `previous` must be; `None` after an event whose hash cannot be
        // known (no hash given, no key to compute it with), where the link cannot be checked.
        let mut expected = Some(
            self.start
                .map_or_else(|| self.id.initial_hash(), |start| start.hash),
        );
        for (index, event) in self.events.iter().enumerate() {
            let begin = binaries.len();
            let computed = match event.write_binary(version, &mut binaries) {
                Ok(()) => Some(sha256(&binaries[begin..])),
                Err(err) => {
                    binaries.truncate(begin);
                    if !matches!(err, EncodeError::Unsigned) {
                        report.problems.push(Problem::Malformed {
                            index,
                            hash: event.hash.map(Hash),
                            reason: err.to_string(),
                        });
                    }
                    None
                }
            };
            let label = event.hash.or(computed);
            hashes.push(computed.unwrap_or_default());

            if let (Some(claimed), Some(computed)) = (event.hash, computed)
                && claimed != computed
            {
                report.problems.push(Problem::HashMismatch {
                    index,
                    claimed: Hash(claimed),
                    computed: Hash(computed),
                });
            }
            if let (Some(label), Some(expected)) = (label, expected)
                && event.previous != expected
            {
                report.problems.push(Problem::BrokenLink {
                    index,
                    hash: Hash(label),
                    expected: Hash(expected),
                    found: Hash(event.previous),
                });
            }
            match (&event.sign_key, &event.signature, computed) {
                (Some(_), Some(_), Some(_)) => spans.push((index, begin, binaries.len())),
                (None, _, _) | (_, None, _) => report.problems.push(Problem::NotSigned {
                    index,
                    hash: label.map(Hash),
                }),
                _ => {}
            }
            // Link the next event to the hash this one claims: a changed event is then reported
            // once, as a hash mismatch, and not again as a broken link after it.
            expected = label;
        }

        if !partial
            && let Some(genesis) = self.events.first()
            && let Some(signer) = &genesis.sign_key
            && !self.id.is_created_by(signer)
        {
            report.problems.push(Problem::GenesisNotByCreator {
                hash: Hash(genesis.label_hash(version).unwrap_or_default()),
                signer: *signer,
            });
        }

        let checks: Vec<SignatureCheck<'_>> = spans
            .iter()
            .filter_map(|&(index, begin, end)| {
                let event = &self.events[index];
                Some(SignatureCheck {
                    public_key: event.sign_key.as_ref()?,
                    message: &binaries[begin..end],
                    signature: event.signature.as_ref()?,
                })
            })
            .collect();
        for failed in verify_all(&checks) {
            let (index, _, _) = spans[failed];
            let event = &self.events[index];
            if let Some(sign_key) = event.sign_key {
                report.problems.push(Problem::BadSignature {
                    index,
                    hash: Hash(event.hash.unwrap_or(hashes[index])),
                    sign_key,
                });
            }
        }

        report.sort();
        (report, hashes)
    }
}

/// A chain's state after an event: `SHA-256(state before ‖ event hash)`.
pub fn next_state(state: &[u8; 32], hash: &[u8; 32]) -> [u8; 32] {
    sha256_concat(&[state, hash])
}

/// An event that verified: its hash is the hash of its content, its signature verifies, and it
/// links to the event before it. Only verification and signing make one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedEvent {
    event: Event,
    hash: [u8; 32],
}

impl VerifiedEvent {
    /// The event.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// Its hash.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }

    /// The key that signed it.
    pub fn sign_key(&self) -> &PublicKey {
        // Verification refuses unsigned events, so both are set.
        self.event
            .sign_key
            .as_ref()
            .unwrap_or_else(|| unreachable!("verified events are signed"))
    }

    /// Its signature.
    pub fn signature(&self) -> &Signature {
        self.event
            .signature
            .as_ref()
            .unwrap_or_else(|| unreachable!("verified events are signed"))
    }
}

/// One entry of a chain's anchor map: what is anchored for an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Anchor {
    /// The chain's state before the event: the anchor's key.
    pub key: [u8; 32],
    /// The event's hash: the anchor's value.
    pub value: [u8; 32],
    /// The address of the event's signer, on the chain's network.
    pub signer: Address,
}

/// A chain every event of which verified, from the genesis event or from a stub.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedChain {
    id: ChainId,
    start: Option<PartialStart>,
    events: Vec<VerifiedEvent>,
    state: [u8; 32],
}

/// Why an event cannot be added to a verified chain.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AppendError {
    /// The event cannot be put in binary form.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The event does not verify on top of the chain.
    #[error("{0}")]
    Invalid(Problem),
}

/// Why two copies of a chain cannot be merged.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MergeError {
    /// The copies are of different chains.
    #[error("chain ids differ: {ours} and {theirs}")]
    IdMismatch {
        /// This chain's id.
        ours: ChainId,
        /// The other's id.
        theirs: ChainId,
    },
    /// The other copy continues from an event this one does not have.
    #[error("the other copy continues after {0}, which is not on this chain")]
    NotFound(Hash),
    /// The copies hold different events at the same position: the chain forked there.
    #[error(transparent)]
    Conflict(Box<MergeConflict>),
    /// The other copy's new events do not verify.
    #[error("the other copy's events are not valid: {0}")]
    Invalid(Report),
}

/// Two copies of a chain that hold different events at the same position.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "merge conflict at event {position}: this chain has {}, the other has {}, both after {}",
    Hash(self.ours.hash()),
    Hash(self.theirs_hash),
    Hash(self.ours.event().previous)
)]
pub struct MergeConflict {
    /// The position on the chain (0 is the genesis event for a chain that starts there).
    pub position: usize,
    /// This chain's event at that position.
    pub ours: VerifiedEvent,
    /// The other copy's event at that position, unverified.
    pub theirs: Event,
    /// The hash of the other copy's event (claimed, or computed).
    pub theirs_hash: [u8; 32],
}

impl VerifiedChain {
    /// A new chain with no events yet. Its first event must be signed by its creator.
    pub fn new(id: ChainId) -> Self {
        VerifiedChain {
            id,
            start: None,
            events: Vec::new(),
            state: id.initial_state(),
        }
    }

    /// The chain's id.
    pub fn id(&self) -> &ChainId {
        &self.id
    }

    /// Where this copy starts, if it is partial.
    pub fn start(&self) -> Option<&PartialStart> {
        self.start.as_ref()
    }

    /// The events, oldest first.
    pub fn events(&self) -> &[VerifiedEvent] {
        &self.events
    }

    /// The state after the last event.
    pub fn state(&self) -> [u8; 32] {
        self.state
    }

    /// The hash the next event must name as `previous`.
    pub fn latest_hash(&self) -> [u8; 32] {
        self.events
            .last()
            .map(VerifiedEvent::hash)
            .or(self.start.map(|start| start.hash))
            .unwrap_or_else(|| self.id.initial_hash())
    }

    /// Checks `event` against the tip and appends it. Costs the same however long the chain is.
    pub fn append(&mut self, event: Event) -> Result<&VerifiedEvent, AppendError> {
        let index = self.events.len();
        let binary = event.to_binary(self.id.version())?;
        let hash = sha256(&binary);
        let label = Hash(event.hash.unwrap_or(hash));
        if let Some(claimed) = event.hash
            && claimed != hash
        {
            return Err(AppendError::Invalid(Problem::HashMismatch {
                index,
                claimed: Hash(claimed),
                computed: Hash(hash),
            }));
        }
        let expected = self.latest_hash();
        if event.previous != expected {
            return Err(AppendError::Invalid(Problem::BrokenLink {
                index,
                hash: label,
                expected: Hash(expected),
                found: Hash(event.previous),
            }));
        }
        let (Some(sign_key), Some(signature)) = (&event.sign_key, &event.signature) else {
            return Err(AppendError::Invalid(Problem::NotSigned {
                index,
                hash: Some(label),
            }));
        };
        if self.events.is_empty() && self.start.is_none() && !self.id.is_created_by(sign_key) {
            return Err(AppendError::Invalid(Problem::GenesisNotByCreator {
                hash: label,
                signer: *sign_key,
            }));
        }
        if !sign_key.verify(&binary, signature) {
            return Err(AppendError::Invalid(Problem::BadSignature {
                index,
                hash: label,
                sign_key: *sign_key,
            }));
        }
        Ok(self.push(event, hash))
    }

    /// Puts `draft` on the tip, signs it with `keys` at `timestamp` (milliseconds), and appends
    /// it.
    pub fn sign_and_append(
        &mut self,
        draft: Draft,
        keys: &KeyPair,
        timestamp: u64,
    ) -> Result<&VerifiedEvent, AppendError> {
        let (event, _) = Event::signed_on(
            draft,
            self.latest_hash(),
            timestamp,
            self.id.version(),
            keys,
        )?;
        // Check it as any other event: this catches a genesis event signed by someone other
        // than the creator, which signing alone would not.
        self.append(event)
    }

    fn push(&mut self, mut event: Event, hash: [u8; 32]) -> &VerifiedEvent {
        event.hash = Some(hash);
        self.state = next_state(&self.state, &hash);
        self.events.push(VerifiedEvent { event, hash });
        let last = self.events.len() - 1;
        &self.events[last]
    }

    /// The anchor map: for each event, the state before it, its hash and its signer's address.
    pub fn anchor_map(&self) -> Vec<Anchor> {
        let mut state = self
            .start
            .map_or_else(|| self.id.initial_state(), |start| start.state);
        self.events
            .iter()
            .map(|event| {
                let anchor = Anchor {
                    key: state,
                    value: event.hash,
                    signer: event.sign_key().address(self.id.network()),
                };
                state = next_state(&state, &event.hash);
                anchor
            })
            .collect()
    }

    /// The events after the one with hash `after` (or all of them, when `after` is where this
    /// copy starts), as a partial chain with its stub: what to send a party that has the chain
    /// up to `after`. `None` when no event has that hash.
    pub fn partial_after(&self, after: &[u8; 32]) -> Option<Chain> {
        let own_start = self
            .start
            .map_or_else(|| self.id.initial_hash(), |start| start.hash);
        if *after == own_start {
            return Some(self.to_chain());
        }
        let begin = self.events.iter().position(|event| event.hash == *after)? + 1;
        let mut state = self
            .start
            .map_or_else(|| self.id.initial_state(), |start| start.state);
        for event in &self.events[..begin] {
            state = next_state(&state, &event.hash);
        }
        Some(Chain {
            id: self.id,
            start: Some(PartialStart {
                hash: *after,
                state,
            }),
            events: self.events[begin..]
                .iter()
                .map(|event| event.event.clone())
                .collect(),
        })
    }

    /// The chain as a plain [`Chain`] (for writing out).
    pub fn to_chain(&self) -> Chain {
        Chain {
            id: self.id,
            start: self.start,
            events: self.events.iter().map(|e| e.event.clone()).collect(),
        }
    }

    /// Merges another copy of this chain (whole, or partial with a stub), placed as
    /// [`place`](crate::place) decides: events both hold must be the same; events only the
    /// other holds are verified and appended.
    /// Returns how many events were added. On a conflict or an invalid event nothing is added.
    pub fn merge(&mut self, other: &Chain) -> Result<usize, MergeError> {
        if other.id != self.id {
            return Err(MergeError::IdMismatch {
                ours: self.id,
                theirs: other.id,
            });
        }
        let version = self.id.version();
        let held = crate::place::Held {
            start: self
                .start
                .map_or_else(|| self.id.initial_hash(), |s| s.hash),
            tip: self.latest_hash(),
            length: self.events.len() as u64,
            initial: self.id.initial_hash(),
        };
        let their_start = other
            .start
            .map_or_else(|| self.id.initial_hash(), |start| start.hash);
        let hashes: Vec<[u8; 32]> = other
            .events
            .iter()
            .map(|event| event.label_hash(version).unwrap_or_default())
            .collect();
        let placement = crate::place::place_now(&held, their_start, &hashes, |hash| {
            self.events
                .iter()
                .position(|event| event.hash == *hash)
                .map(|at| at as u64)
        });
        let skip = match placement {
            crate::place::Placement::Extends { skip } => skip,
            crate::place::Placement::Duplicate => return Ok(0),
            crate::place::Placement::Fork {
                position, theirs, ..
            } => {
                let ours = self.events.get(position as usize);
                let at = hashes.iter().position(|hash| *hash == theirs);
                return Err(match (ours, at) {
                    (Some(ours), Some(at)) => MergeError::Conflict(Box::new(MergeConflict {
                        position: position as usize,
                        ours: ours.clone(),
                        theirs: other.events[at].clone(),
                        theirs_hash: theirs,
                    })),
                    _ => MergeError::NotFound(Hash(their_start)),
                });
            }
            crate::place::Placement::MissingEvents { .. }
            | crate::place::Placement::UnknownChain => {
                return Err(MergeError::NotFound(Hash(their_start)));
            }
        };
        let new = &other.events[skip..];
        if new.is_empty() {
            return Ok(0);
        }
        // Verify the new events on our tip, all at once (batched), before touching this
        // chain. On an empty chain that starts at genesis they are validated as a whole chain,
        // so that the genesis signer is checked.
        let start = if self.events.is_empty() && self.start.is_none() {
            None
        } else {
            Some(PartialStart {
                hash: self.latest_hash(),
                state: self.state,
            })
        };
        let tail = Chain {
            id: self.id,
            start,
            events: new.to_vec(),
        };
        let verified = tail
            .verify()
            .map_err(|invalid| MergeError::Invalid(shift(invalid.report, self.events.len())))?;
        let added = verified.events.len();
        for event in verified.events {
            self.push(event.event, event.hash);
        }
        Ok(added)
    }
}

/// Renumbers a report made on a tail so its indices are positions on the whole chain.
fn shift(mut report: Report, by: usize) -> Report {
    for problem in &mut report.problems {
        match problem {
            Problem::NotSigned { index, .. }
            | Problem::HashMismatch { index, .. }
            | Problem::BadSignature { index, .. }
            | Problem::BrokenLink { index, .. }
            | Problem::Malformed { index, .. } => *index += by,
            Problem::NoEvents | Problem::GenesisNotByCreator { .. } | Problem::StubState { .. } => {
            }
        }
    }
    report
}
