//! The node's one clock: every task and handler that needs the time of day asks the
//! [`Clock`] it was handed, never the system directly, so that the simulation and the tests
//! can run a node on a virtual clock they move themselves.
//!
//! What reads the clock: the writer (timestamps it checks, rows it stamps), delivery (when a
//! row is due, its backoff), system actions (due work, time-outs), request signatures (their
//! age), the replay record of spent signatures, invitations (the identity event's timestamp)
//! and the API's own records (scenarios, custodial keys, replayed outbox rows). Durations a
//! task waits for (timeouts, rate limiters' refill, intervals) are measured on the monotonic
//! clock of the runtime, not here: they are not times of day and never reach a record.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Milliseconds since the epoch, from the system or from a virtual clock.
#[derive(Clone, Debug)]
pub struct Clock(Source);

#[derive(Clone, Debug)]
enum Source {
    System,
    Virtual(Arc<AtomicU64>),
}

impl Clock {
    /// The system's clock.
    pub fn system() -> Clock {
        Clock(Source::System)
    }

    /// A virtual clock standing at `ms` until it is moved ([`Clock::set`]); its clones move
    /// with it.
    pub fn at(ms: u64) -> Clock {
        Clock(Source::Virtual(Arc::new(AtomicU64::new(ms))))
    }

    /// Milliseconds since the epoch (0 before 1970).
    pub fn now_ms(&self) -> u64 {
        match &self.0 {
            Source::System => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            Source::Virtual(ms) => ms.load(Ordering::Relaxed),
        }
    }

    /// Whole seconds since the epoch (request signatures count in seconds).
    pub fn now_secs(&self) -> i64 {
        (self.now_ms() / 1000) as i64
    }

    /// Moves a virtual clock to `ms` (it never goes back: an earlier time is ignored). The
    /// system's clock is not moved: this does nothing to it.
    pub fn set(&self, ms: u64) {
        if let Source::Virtual(now) = &self.0 {
            now.fetch_max(ms, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_virtual_clock_moves_only_forward_and_with_its_clones() {
        let clock = Clock::at(5_000);
        let seen_by_a_task = clock.clone();
        assert_eq!(seen_by_a_task.now_ms(), 5_000);
        clock.set(7_500);
        assert_eq!(seen_by_a_task.now_ms(), 7_500);
        assert_eq!(seen_by_a_task.now_secs(), 7);
        clock.set(6_000);
        assert_eq!(clock.now_ms(), 7_500);
    }

    #[test]
    fn the_system_clock_is_the_time_of_day_and_is_not_moved() {
        let clock = Clock::system();
        let before = clock.now_ms();
        clock.set(1);
        // 2015-01-01 or later, and not set back to 1.
        assert!(before > 1_420_070_400_000, "{before}");
        assert!(clock.now_ms() >= before);
    }
}
