//! Where a copy of a chain's events goes on the copy a node holds: one pure decision, taken
//! alike by [`VerifiedChain::merge`](crate::VerifiedChain::merge) (both copies in memory) and by
//! a node's writer (its copy in a store), with a typed [`Placement`].
//!
//! A copy is described by hashes only: where it starts (its stub's hash, or the chain's
//! initial hash for a whole copy) and its events' hashes in order. What the holder has is a
//! [`Held`] and a lookup from an event hash to its position on the held copy. Positions count
//! from the first event the holder holds (0 is the genesis event for a copy that starts there).
//!
//! The rule, in order:
//! 1. A copy that starts at the held tip extends it.
//! 2. A copy whose start the holder does not know, but whose events pass the held copy's start,
//!    is read from there (its events before that point lie before what the holder keeps).
//! 3. Its leading events the holder holds are skipped; if that is all of them, it is a
//!    duplicate (a copy with no events is one only if the holder knows where it starts).
//! 4. The first event not held follows some hash. If that is the tip, the events from there
//!    extend the chain. Otherwise: a holder with nothing is missing the chain
//!    ([`Placement::UnknownChain`]); a hash the holder holds (an event, or the start of its
//!    copy) means the copies part there ([`Placement::Fork`]); a hash it does not know means it
//!    lacks the events between ([`Placement::MissingEvents`]).
//!
//! Verified copies are hash-linked, so the events the holder holds form a prefix of the copy
//! (from rule 2's point on): the lookup is asked about the copy's start, and then about its
//! events in order until the first it does not hold, and about nothing else. [`place`] awaits
//! its lookup (a node asks its store); [`place_now`] is the same decision for a lookup that
//! answers at once.

use crate::problem::Hash as HashText;

/// A SHA-256 event hash.
type EventHash = [u8; 32];

/// What the holder has of a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Held {
    /// Where the held copy starts: its stub's hash, or the chain's initial hash.
    pub start: EventHash,
    /// The hash the next event must follow (the start, when it holds no event).
    pub tip: EventHash,
    /// How many events it holds.
    pub length: u64,
    /// The chain's initial hash (what a whole copy's first event follows).
    pub initial: EventHash,
}

/// Where a copy's events go on the held copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// The copy's events from `skip` on follow the tip; those before are held already (or lie
    /// before the held copy's start).
    Extends {
        /// How many of the copy's leading events are not new.
        skip: usize,
    },
    /// Every event of the copy is held already.
    Duplicate,
    /// The first new event follows a hash the holder does not know: it lacks the events
    /// between its tip and that one.
    MissingEvents {
        /// The copy's first event the holder does not hold (none when the copy has no events
        /// and starts where the holder has never been).
        event: Option<EventHash>,
        /// What that event follows.
        after: EventHash,
    },
    /// The first new event follows a hash the holder holds, which is not its tip: the copies
    /// hold different events at `position`.
    Fork {
        /// The position on the held copy where they part (0 when at or before its start).
        position: u64,
        /// The copy's event at that position.
        theirs: EventHash,
        /// What both events follow.
        after: EventHash,
    },
    /// The holder holds nothing of the chain, and the copy does not start at its beginning.
    UnknownChain,
}

impl Placement {
    /// Whether the copy's events go on the chain (as new events or as duplicates).
    pub fn is_placed(&self) -> bool {
        matches!(self, Placement::Extends { .. } | Placement::Duplicate)
    }
}

impl std::fmt::Display for Placement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Placement::Extends { skip } => write!(f, "extends the tip after {skip} known events"),
            Placement::Duplicate => write!(f, "every event is held already"),
            Placement::MissingEvents {
                event: Some(event),
                after,
            } => write!(
                f,
                "event {} follows {}, which is not held",
                HashText(*event),
                HashText(*after)
            ),
            Placement::MissingEvents { event: None, after } => {
                write!(
                    f,
                    "the copy starts after {}, which is not held",
                    HashText(*after)
                )
            }
            Placement::Fork {
                position,
                theirs,
                after,
            } => write!(
                f,
                "event {} follows {}, but the held chain continues differently at position {position}",
                HashText(*theirs),
                HashText(*after)
            ),
            Placement::UnknownChain => write!(f, "the chain is not held"),
        }
    }
}

/// Where the copy starting at `start` with events `events` (hashes, in order) goes on `held`;
/// `position_of` answers where an event hash is on the held copy, if it is there. Changes
/// nothing; see the module documentation for the rule.
///
/// The lookup is awaited, so that a node can answer it from its store; nothing else is. For
/// a lookup that answers at once, [`place_now`] runs the same decision without an executor.
pub async fn place<E, F>(
    held: &Held,
    start: EventHash,
    events: &[EventHash],
    mut position_of: impl FnMut(EventHash) -> F,
) -> Result<Placement, E>
where
    F: std::future::Future<Output = Result<Option<u64>, E>>,
{
    if start == held.tip {
        return Ok(Placement::Extends { skip: 0 });
    }
    // Rule 2: a copy that starts before the held one is read from the held start on.
    let mut skip = 0;
    if start != held.start
        && held.start != held.initial
        && position_of(start).await?.is_none()
        && let Some(found) = events.iter().position(|hash| *hash == held.start)
    {
        skip = found + 1;
    }
    if events.is_empty() {
        // Nothing to place: a duplicate if the holder knows where the copy starts.
        let known =
            start == held.start || start == held.initial || position_of(start).await?.is_some();
        return Ok(if known {
            Placement::Duplicate
        } else if held.length == 0 {
            Placement::UnknownChain
        } else {
            Placement::MissingEvents {
                event: None,
                after: start,
            }
        });
    }
    while skip < events.len() && position_of(events[skip]).await?.is_some() {
        skip += 1;
    }
    if skip == events.len() {
        return Ok(Placement::Duplicate);
    }
    let after = if skip == 0 { start } else { events[skip - 1] };
    if after == held.tip {
        return Ok(Placement::Extends { skip });
    }
    if held.length == 0 {
        return Ok(Placement::UnknownChain);
    }
    let position = if after == held.start || after == held.initial {
        Some(0)
    } else {
        position_of(after).await?.map(|at| at + 1)
    };
    Ok(match position {
        Some(position) => Placement::Fork {
            position,
            theirs: events[skip],
            after,
        },
        None => Placement::MissingEvents {
            event: Some(events[skip]),
            after,
        },
    })
}

/// [`place`] with a lookup that answers at once (a copy in memory).
pub fn place_now(
    held: &Held,
    start: EventHash,
    events: &[EventHash],
    mut position_of: impl FnMut(&EventHash) -> Option<u64>,
) -> Placement {
    let decision = place::<std::convert::Infallible, _>(held, start, events, |hash| {
        std::future::ready(Ok(position_of(&hash)))
    });
    // Every await in `place` is on a lookup that is ready, so one poll finishes it.
    let mut decision = std::pin::pin!(decision);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match std::future::Future::poll(decision.as_mut(), &mut context) {
        std::task::Poll::Ready(Ok(placement)) => placement,
        std::task::Poll::Ready(Err(never)) => match never {},
        std::task::Poll::Pending => unreachable!("a ready lookup never leaves placement pending"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A held copy of events `first..first+length` of the line 1, 2, 3, … (event n has hash
    /// [n; 32], the initial hash is [0; 32]).
    fn held(first: u8, length: u8) -> (Held, impl Fn(&EventHash) -> Option<u64>) {
        let start = [first - 1; 32];
        let tip = [first - 1 + length; 32];
        let at = move |hash: &EventHash| {
            let n = hash[0];
            (hash.iter().all(|b| *b == n) && n >= first && n < first + length)
                .then(|| u64::from(n - first))
        };
        let held = Held {
            start,
            tip,
            length: u64::from(length),
            initial: [0; 32],
        };
        (held, at)
    }

    fn line(from: u8, to: u8) -> Vec<EventHash> {
        (from..=to).map(|n| [n; 32]).collect()
    }

    #[test]
    fn every_outcome() {
        let (whole, at) = held(1, 5); // events 1..=5
        // From the tip.
        assert_eq!(
            place_now(&whole, [5; 32], &line(6, 7), &at),
            Placement::Extends { skip: 0 }
        );
        // Overlapping the held events.
        assert_eq!(
            place_now(&whole, [0; 32], &line(1, 8), &at),
            Placement::Extends { skip: 5 }
        );
        assert_eq!(
            place_now(&whole, [2; 32], &line(3, 5), &at),
            Placement::Duplicate
        );
        // After an event the holder lacks.
        assert_eq!(
            place_now(&whole, [7; 32], &line(8, 9), &at),
            Placement::MissingEvents {
                event: Some([8; 32]),
                after: [7; 32]
            }
        );
        // Empty copies: from a known start, or from nowhere the holder has been.
        assert_eq!(place_now(&whole, [3; 32], &[], &at), Placement::Duplicate);
        assert_eq!(
            place_now(&whole, [9; 32], &[], &at),
            Placement::MissingEvents {
                event: None,
                after: [9; 32]
            }
        );
        // A different event after a held one, and after the start.
        let theirs = [[3; 32], [3; 32], [99; 32]];
        assert_eq!(
            place_now(&whole, [2; 32], &theirs[2..], &at),
            Placement::Fork {
                position: 2,
                theirs: [99; 32],
                after: [2; 32]
            }
        );
        assert_eq!(
            place_now(&whole, [0; 32], &[[42; 32]], &at),
            Placement::Fork {
                position: 0,
                theirs: [42; 32],
                after: [0; 32]
            }
        );
        // Nothing held.
        let (empty, none) = held(1, 0);
        assert_eq!(
            place_now(&empty, [0; 32], &line(1, 2), &none),
            Placement::Extends { skip: 0 }
        );
        assert_eq!(
            place_now(&empty, [4; 32], &line(5, 6), &none),
            Placement::UnknownChain
        );
    }

    #[test]
    fn a_copy_that_starts_before_a_partial_one_is_read_from_its_start() {
        let (partial, at) = held(4, 3); // events 4, 5, 6 after a stub at 3
        assert_eq!(
            place_now(&partial, [1; 32], &line(2, 9), &at),
            Placement::Extends { skip: 5 }
        );
        assert_eq!(
            place_now(&partial, [1; 32], &line(2, 5), &at),
            Placement::Duplicate
        );
        // Different events right after the stub: a fork at the held copy's first position.
        assert_eq!(
            place_now(&partial, [3; 32], &[[77; 32]], &at),
            Placement::Fork {
                position: 0,
                theirs: [77; 32],
                after: [3; 32]
            }
        );
        // A whole copy that never passes the stub parts from it at or before its start.
        assert_eq!(
            place_now(&partial, [0; 32], &[[55; 32]], &at),
            Placement::Fork {
                position: 0,
                theirs: [55; 32],
                after: [0; 32]
            }
        );
    }

    #[test]
    fn the_lookup_is_asked_only_about_the_start_and_the_held_prefix() {
        let (whole, at) = held(1, 5);
        let mut asked = Vec::new();
        let events = line(3, 9);
        let placement = place_now(&whole, [2; 32], &events, |hash| {
            asked.push(hash[0]);
            at(hash)
        });
        assert_eq!(placement, Placement::Extends { skip: 3 });
        assert_eq!(asked, [3, 4, 5, 6]);
    }
}
