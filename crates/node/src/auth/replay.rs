//! A signature is good once: the signatures of requests that change something are remembered
//! until they can no longer pass the time checks, and a request carrying one already seen is
//! refused.
//!
//! The cache holds a 16-byte digest of each signature and the last second it is good (24
//! bytes, plus the map's and the heap's overhead), is bounded, and never drops an entry
//! before it expires: when it is full, requests wait (fail closed) instead of letting a
//! replay through.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Mutex;

use sha2::{Digest as _, Sha256};

/// A signature as the cache knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignatureId {
    /// The first 16 bytes of the SHA-256 of the signature's bytes.
    pub digest: [u8; 16],
    /// The last second (Unix time) at which the signature passes the time checks; it is
    /// remembered until then.
    pub until: i64,
}

impl SignatureId {
    /// The id of a verified signature, good until `until`.
    pub fn of(signature: &[u8], until: i64) -> SignatureId {
        let hash = Sha256::digest(signature);
        let mut digest = [0u8; 16];
        digest.copy_from_slice(&hash[..16]);
        SignatureId { digest, until }
    }

    /// Milliseconds since the epoch until which the store keeps the signature (the end of
    /// its last second).
    pub fn until_ms(&self) -> u64 {
        u64::try_from(self.until)
            .unwrap_or(0)
            .saturating_mul(1000)
            .saturating_add(999)
    }
}

/// Why the cache did not take a request's signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The signature at this index was seen already.
    Replayed(usize),
    /// There is no room until the oldest entry expires, in this many seconds.
    Full {
        /// Seconds until an entry expires.
        retry_after: u64,
    },
}

/// The signatures seen, each until it expires.
pub struct ReplayCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    seen: HashMap<[u8; 16], i64>,
    /// The same entries by expiry, earliest first, so expired ones are swept in order.
    by_end: BinaryHeap<Reverse<(i64, [u8; 16])>>,
}

impl Inner {
    /// Forgets the entries that expired before `now`.
    fn sweep(&mut self, now: i64) {
        while let Some(Reverse((until, digest))) = self.by_end.peek().copied() {
            if until >= now {
                break;
            }
            self.by_end.pop();
            if self.seen.get(&digest) == Some(&until) {
                self.seen.remove(&digest);
            }
        }
    }

    fn insert(&mut self, id: SignatureId) {
        self.seen.insert(id.digest, id.until);
        self.by_end.push(Reverse((id.until, id.digest)));
    }
}

impl ReplayCache {
    /// An empty cache for at most `capacity` signatures.
    pub fn new(capacity: usize) -> ReplayCache {
        ReplayCache {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Takes a request's signatures at `now` (Unix seconds): all of them, or none when one was
    /// seen already (a replay, whichever label it now has) or when there is no room for them.
    pub fn spend(&self, ids: &[SignatureId], now: i64) -> Result<(), Refusal> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.sweep(now);
        if let Some(n) = ids
            .iter()
            .position(|id| inner.seen.contains_key(&id.digest))
        {
            return Err(Refusal::Replayed(n));
        }
        // The same signature twice in one request counts once.
        let mut new: Vec<SignatureId> = Vec::with_capacity(ids.len());
        for id in ids {
            if !new.iter().any(|n| n.digest == id.digest) {
                new.push(*id);
            }
        }
        if inner.seen.len() + new.len() > self.capacity {
            let oldest = inner
                .by_end
                .peek()
                .map_or(now, |Reverse((until, _))| *until);
            let retry_after = u64::try_from(oldest.saturating_sub(now).saturating_add(1))
                .unwrap_or(1)
                .max(1);
            return Err(Refusal::Full { retry_after });
        }
        for id in new {
            inner.insert(id);
        }
        Ok(())
    }

    /// Remembers signatures recorded by an earlier run (those still good at `now`), as far as
    /// there is room; how many were taken.
    pub fn load(&self, ids: impl IntoIterator<Item = SignatureId>, now: i64) -> usize {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut taken = 0;
        for id in ids {
            if id.until < now || inner.seen.contains_key(&id.digest) {
                continue;
            }
            if inner.seen.len() >= self.capacity {
                break;
            }
            inner.insert(id);
            taken += 1;
        }
        taken
    }

    /// Signatures remembered now.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .seen
            .len()
    }

    /// Whether none is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8, until: i64) -> SignatureId {
        SignatureId::of(&[n; 64], until)
    }

    #[test]
    fn a_signature_is_taken_once_until_it_expires() {
        let cache = ReplayCache::new(10);
        assert_eq!(cache.spend(&[id(1, 100)], 50), Ok(()));
        assert_eq!(cache.spend(&[id(1, 100)], 60), Err(Refusal::Replayed(0)));
        // Still remembered in its last second, forgotten after it (when the time checks
        // refuse it anyway).
        assert_eq!(cache.spend(&[id(1, 100)], 100), Err(Refusal::Replayed(0)));
        assert_eq!(cache.spend(&[id(1, 100)], 101), Ok(()));
    }

    #[test]
    fn every_signature_of_a_request_counts_and_all_or_none_are_taken() {
        let cache = ReplayCache::new(10);
        cache.spend(&[id(1, 100), id(2, 100)], 0).unwrap();
        // The cosigner's signature again, under another label or first: a replay.
        assert_eq!(
            cache.spend(&[id(2, 100), id(3, 100)], 0),
            Err(Refusal::Replayed(0))
        );
        assert_eq!(
            cache.spend(&[id(3, 100), id(1, 100)], 0),
            Err(Refusal::Replayed(1))
        );
        // Nothing of a refused request was taken.
        assert_eq!(cache.len(), 2);
        cache.spend(&[id(3, 100)], 0).unwrap();
        // One signature twice in a request is one entry.
        cache.spend(&[id(4, 100), id(4, 100)], 0).unwrap();
        assert_eq!(cache.len(), 4);
    }

    #[test]
    fn a_full_cache_refuses_until_its_oldest_entry_expires() {
        let cache = ReplayCache::new(2);
        cache.spend(&[id(1, 30)], 0).unwrap();
        cache.spend(&[id(2, 10)], 0).unwrap();
        assert_eq!(
            cache.spend(&[id(3, 50)], 5),
            Err(Refusal::Full { retry_after: 6 })
        );
        // Nothing unexpired was dropped to make room.
        assert_eq!(cache.spend(&[id(2, 10)], 10), Err(Refusal::Replayed(0)));
        assert_eq!(cache.spend(&[id(3, 50)], 11), Ok(()));
        assert_eq!(cache.spend(&[id(1, 30)], 11), Err(Refusal::Replayed(0)));
    }

    #[test]
    fn loaded_entries_count_as_seen() {
        let cache = ReplayCache::new(2);
        assert_eq!(
            cache.load([id(1, 100), id(2, 5), id(3, 100), id(4, 100)], 10),
            2
        );
        assert_eq!(cache.spend(&[id(1, 100)], 10), Err(Refusal::Replayed(0)));
        assert_eq!(cache.spend(&[id(3, 100)], 10), Err(Refusal::Replayed(0)));
        assert_eq!(id(1, 7).until_ms(), 7_999);
    }
}
