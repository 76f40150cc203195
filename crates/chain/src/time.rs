//! When an event's timestamp may be believed: the rules a node applies before it places an
//! event on a chain.
//!
//! An event's timestamp is whatever its signer wrote, and the process engine reads time only
//! from timestamps (a state's `due_date` counts from the event that entered it, and a
//! `:timeout` is accepted once an event stamped past it arrives). Without rules, a party could
//! stamp a `:timeout` a week ahead and cancel an offer at once, or stamp the event that enters a
//! state a week back. So a node places an event only when:
//!
//! 1. it is stamped no earlier than [`EARLIEST`] (deterministic);
//! 2. it is stamped no earlier than the event before it on the chain (deterministic: every
//!    node holding the chain decides alike, so no one back-dates past what came before);
//! 3. it is stamped at most the clock skew ahead of the node's clock when the node receives it
//!    (every node, for every event: an event cannot come from the future, however it travels);
//! 4. and, when the node takes it from its own user (not from a peer node), it is stamped
//!    within the skew of the node's clock both ways: the user's node stands behind the time.
//!
//! Rules 1 and 2 depend on the chain alone. Rules 3 and 4 depend on the node's clock at
//! receipt, which is why they are checked where events enter (never on replay): an event
//! refused by rule 3 is not refused for good, only too early (it is taken once the clock
//! reaches it). A peer node that colludes with its user can still stamp an event back, but
//! never before the event it follows; anchoring bounds that later.
//!
//! Nothing here reads the clock: `now` comes in as an argument.

/// The earliest timestamp placed: 2015-01-01T00:00:00Z in milliseconds. LTO's event chains
/// are younger, so anything earlier is a mistake (seconds for milliseconds) or an attack.
pub const EARLIEST: u64 = 1_420_070_400_000;

/// How the node came to hold an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Receipt {
    /// From its author through this node (a user of this node): the node's clock stands
    /// behind the timestamp.
    Author,
    /// From another node, which took it from its author earlier (delivery, catch-up).
    Relay,
}

/// Why an event's timestamp is refused. Times are milliseconds since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    /// Before [`EARLIEST`].
    #[error(
        "it is stamped {timestamp}, before the earliest time a node places ({EARLIEST}, 2015-01-01T00:00:00Z; milliseconds, not seconds)"
    )]
    TooEarly {
        /// The event's timestamp.
        timestamp: u64,
    },
    /// Before the event it follows on the chain.
    #[error("it is stamped {timestamp}, {} ms before the event it follows ({previous}): an event is never earlier than the one before it", previous - timestamp)]
    BeforePrevious {
        /// The event's timestamp.
        timestamp: u64,
        /// The timestamp of the event before it.
        previous: u64,
    },
    /// Further ahead of the node's clock than the skew allows.
    #[error("it is stamped {timestamp}, {} ms ahead of this node's clock ({now}); at most {skew} ms are allowed", timestamp - now)]
    Ahead {
        /// The event's timestamp.
        timestamp: u64,
        /// The node's clock.
        now: u64,
        /// The skew allowed.
        skew: u64,
    },
    /// Further behind the node's clock than the skew allows, for an event from its author.
    #[error("it is stamped {timestamp}, {} ms behind this node's clock ({now}); an event a node takes from its author must be within {skew} ms of its clock", now - timestamp)]
    Behind {
        /// The event's timestamp.
        timestamp: u64,
        /// The node's clock.
        now: u64,
        /// The skew allowed.
        skew: u64,
    },
}

impl TimestampError {
    /// Whether the event may be taken later without change: only an event ahead of the
    /// node's clock that it relays from another node (the clock catches up with it).
    pub fn is_early(&self, receipt: Receipt) -> bool {
        matches!(self, TimestampError::Ahead { .. }) && receipt == Receipt::Relay
    }

    /// When an early event may be taken, by the node's clock: its timestamp less the skew.
    pub fn taken_from(&self) -> Option<u64> {
        match *self {
            TimestampError::Ahead {
                timestamp, skew, ..
            } => Some(timestamp.saturating_sub(skew)),
            _ => None,
        }
    }
}

/// Checks one event's timestamp. `previous` is the timestamp of the event it follows on the
/// chain (`None` for a chain's first event, or the first after a partial copy's start, whose
/// time is not known); `now` is the node's clock at receipt; `skew` the clock difference
/// allowed, in milliseconds.
pub fn check(
    timestamp: u64,
    previous: Option<u64>,
    now: u64,
    skew: u64,
    receipt: Receipt,
) -> Result<(), TimestampError> {
    if timestamp < EARLIEST {
        return Err(TimestampError::TooEarly { timestamp });
    }
    if let Some(previous) = previous
        && timestamp < previous
    {
        return Err(TimestampError::BeforePrevious {
            timestamp,
            previous,
        });
    }
    if timestamp > now.saturating_add(skew) {
        return Err(TimestampError::Ahead {
            timestamp,
            now,
            skew,
        });
    }
    if receipt == Receipt::Author && timestamp < now.saturating_sub(skew) {
        return Err(TimestampError::Behind {
            timestamp,
            now,
            skew,
        });
    }
    Ok(())
}

/// The timestamp for an event a node builds itself on a chain whose last event is stamped
/// `previous` (an error event, a system action's answer, a custodial user's response): its
/// clock, or the last event's time when that is ahead of it (within the skew a peer's clock
/// may be ahead), so the event never goes before the one it follows.
pub fn stamp(now: u64, previous: u64) -> u64 {
    now.max(previous)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000_000;
    const SKEW: u64 = 300_000;

    #[test]
    fn the_rules_in_order() {
        use Receipt::*;
        use TimestampError::*;
        assert_eq!(check(NOW, Some(NOW - 1), NOW, SKEW, Author), Ok(()));
        assert_eq!(check(NOW, Some(NOW), NOW, SKEW, Author), Ok(()));
        // The edges of the window are inside it.
        assert_eq!(check(NOW + SKEW, None, NOW, SKEW, Author), Ok(()));
        assert_eq!(check(NOW - SKEW, None, NOW, SKEW, Author), Ok(()));
        assert_eq!(
            check(NOW + SKEW + 1, None, NOW, SKEW, Relay),
            Err(Ahead {
                timestamp: NOW + SKEW + 1,
                now: NOW,
                skew: SKEW
            })
        );
        // An old event is fine from a peer, not from its author.
        assert_eq!(check(NOW - 86_400_000, None, NOW, SKEW, Relay), Ok(()));
        assert!(matches!(
            check(NOW - SKEW - 1, None, NOW, SKEW, Author),
            Err(Behind { .. })
        ));
        // Never before the event it follows, however it came.
        for receipt in [Author, Relay] {
            assert_eq!(
                check(NOW - 1, Some(NOW), NOW, SKEW, receipt),
                Err(BeforePrevious {
                    timestamp: NOW - 1,
                    previous: NOW
                })
            );
        }
        assert_eq!(
            check(0, None, NOW, SKEW, Relay),
            Err(TooEarly { timestamp: 0 })
        );
        assert_eq!(
            check(1_519_862_400, None, NOW, SKEW, Relay),
            Err(TooEarly {
                timestamp: 1_519_862_400
            })
        );
        assert!(matches!(
            check(1 << 52, None, NOW, SKEW, Relay),
            Err(Ahead { .. })
        ));
        assert!(matches!(
            check(u64::MAX, Some(0), u64::MAX - 1, u64::MAX, Author),
            Ok(())
        ));
    }

    #[test]
    fn only_a_relayed_event_ahead_is_early() {
        let ahead = check(NOW + SKEW + 5_000, None, NOW, SKEW, Receipt::Relay).unwrap_err();
        assert!(ahead.is_early(Receipt::Relay));
        assert!(!ahead.is_early(Receipt::Author));
        assert_eq!(ahead.taken_from(), Some(NOW + 5_000));
        let back = check(NOW - 1, Some(NOW), NOW, SKEW, Receipt::Relay).unwrap_err();
        assert!(!back.is_early(Receipt::Relay));
        assert_eq!(back.taken_from(), None);
        // The messages say by how much.
        assert!(ahead.to_string().contains("305000 ms ahead"), "{ahead}");
        assert!(back.to_string().contains("1 ms before"), "{back}");
    }

    #[test]
    fn a_node_stamps_its_own_events_no_earlier_than_the_last() {
        assert_eq!(stamp(NOW, NOW - 5), NOW);
        assert_eq!(stamp(NOW, NOW + 5), NOW + 5);
    }
}
