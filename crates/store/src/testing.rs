//! A store for tests that fails when told: [`Failing`] wraps a real store and, once a countdown
//! of the operations it watches reaches zero, answers each of them with a
//! [`StoreError::Database`] instead of passing it on, until it [`recovers`](Failing::recover).
//! A failed operation never reaches the store it wraps, so it changes nothing there: what a
//! database does when a statement fails before its transaction commits.
//!
//! For tests of the crash paths of what uses a store (the node's pipeline drops what it holds in
//! memory when a commit fails, and reloads it from the store).

use std::sync::Mutex;

use crate::{
    Append, Chains, Delivered, Delivery, Enrolment, EventRow, Hash, Head, Identities, Op, Outbox,
    ProcessRow, Processes, RowState, Scenarios, SeenSignatures, StoreError, WorkKind, WorkQueue,
    WorkRow,
};

/// The source of every error a [`Failing`] store makes up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the test store failed on purpose (its countdown reached zero)")]
pub struct Injected;

/// Which operations a [`Failing`] store watches.
pub type Watch = fn(&Op) -> bool;

/// Every operation.
pub fn every(_: &Op) -> bool {
    true
}

/// Commits only.
pub fn commits(op: &Op) -> bool {
    matches!(op, Op::Commit { .. })
}

/// A store that passes every operation to the one it wraps until told to fail (see the
/// module's documentation).
pub struct Failing<S> {
    inner: S,
    state: Mutex<State>,
}

struct State {
    /// The watched operations still to pass before they fail; `None`: none fails.
    countdown: Option<u64>,
    watch: Watch,
    /// Every operation asked of the store, in order, failed or not.
    log: Vec<(Op, bool)>,
}

impl<S> Failing<S> {
    /// A store that fails nothing until [`Failing::fail`] is called.
    pub fn new(inner: S) -> Failing<S> {
        Failing {
            inner,
            state: Mutex::new(State {
                countdown: None,
                watch: every,
                log: Vec::new(),
            }),
        }
    }

    /// Of the operations `watch` picks, lets the next `after` through and fails every one
    /// after them, until [`Failing::recover`]. Operations it does not pick always pass.
    pub fn fail(&self, after: u64, watch: Watch) {
        let mut state = self.lock();
        state.countdown = Some(after);
        state.watch = watch;
    }

    /// Fails nothing from now on.
    pub fn recover(&self) {
        self.lock().countdown = None;
    }

    /// The store it wraps, to look at what was stored without failing.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// How many operations `which` picks were asked of this store so far, and how many of
    /// them failed.
    pub fn asked(&self, which: Watch) -> (usize, usize) {
        let state = self.lock();
        let picked = state.log.iter().filter(|(op, _)| which(op));
        picked.fold((0, 0), |(n, failed), (_, f)| {
            (n + 1, failed + usize::from(*f))
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts `op` down; its error when it is to fail.
    fn check(&self, op: Op) -> Result<(), StoreError> {
        let mut state = self.lock();
        let watched = (state.watch)(&op);
        let fails = match &mut state.countdown {
            Some(0) if watched => true,
            Some(n) if watched => {
                *n -= 1;
                false
            }
            _ => false,
        };
        state.log.push((op.clone(), fails));
        if fails {
            return Err(StoreError::Database {
                op: Box::new(op),
                source: Box::new(Injected),
            });
        }
        Ok(())
    }
}

impl<S: Chains> Chains for Failing<S> {
    async fn head(&self, chain: &str) -> Result<Option<Head>, StoreError> {
        self.check(Op::Head {
            chain: chain.into(),
        })?;
        self.inner.head(chain).await
    }

    async fn events(
        &self,
        chain: &str,
        from: u64,
        limit: u32,
    ) -> Result<Vec<EventRow>, StoreError> {
        self.check(Op::Events {
            chain: chain.into(),
            from,
        })?;
        self.inner.events(chain, from, limit).await
    }

    async fn find_event(&self, chain: &str, hash: &Hash) -> Result<Option<u64>, StoreError> {
        self.check(Op::FindEvent {
            chain: chain.into(),
        })?;
        self.inner.find_event(chain, hash).await
    }

    async fn commit(&self, appends: &[Append], now: u64) -> Result<(), StoreError> {
        self.check(Op::commit(appends))?;
        self.inner.commit(appends, now).await
    }

    async fn is_party(&self, chain: &str, key: &str) -> Result<bool, StoreError> {
        self.check(Op::IsParty {
            chain: chain.into(),
            key: key.into(),
        })?;
        self.inner.is_party(chain, key).await
    }

    async fn chains_of(
        &self,
        key: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Head>, StoreError> {
        self.check(Op::ChainsOf { key: key.into() })?;
        self.inner.chains_of(key, after, limit).await
    }
}

impl<S: Processes> Processes for Failing<S> {
    async fn process(&self, chain: &str, id: &str) -> Result<Option<ProcessRow>, StoreError> {
        self.check(Op::Process {
            chain: chain.into(),
            id: id.into(),
        })?;
        self.inner.process(chain, id).await
    }

    async fn process_chains(&self, id: &str) -> Result<Vec<String>, StoreError> {
        self.check(Op::ProcessChains { id: id.into() })?;
        self.inner.process_chains(id).await
    }

    async fn processes_on(&self, chain: &str) -> Result<Vec<ProcessRow>, StoreError> {
        self.check(Op::ProcessesOn {
            chain: chain.into(),
        })?;
        self.inner.processes_on(chain).await
    }

    async fn processes_of(
        &self,
        key: &str,
        after: Option<(&str, &str)>,
        limit: u32,
    ) -> Result<Vec<ProcessRow>, StoreError> {
        self.check(Op::ProcessesOf { key: key.into() })?;
        self.inner.processes_of(key, after, limit).await
    }
}

impl<S: Scenarios> Scenarios for Failing<S> {
    async fn put_scenario(&self, id: &str, json: &str, now: u64) -> Result<bool, StoreError> {
        self.check(Op::PutScenario { id: id.into() })?;
        self.inner.put_scenario(id, json, now).await
    }

    async fn scenario(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.check(Op::Scenario { id: id.into() })?;
        self.inner.scenario(id).await
    }
}

impl<S: Identities> Identities for Failing<S> {
    async fn put_identity(
        &self,
        id: &str,
        json: &str,
        keys: &[String],
        enrolment: Enrolment,
        now: u64,
    ) -> Result<bool, StoreError> {
        self.check(Op::PutIdentity { id: id.into() })?;
        self.inner
            .put_identity(id, json, keys, enrolment, now)
            .await
    }

    async fn enrolled_identities_of_key(&self, key: &str) -> Result<Vec<String>, StoreError> {
        self.check(Op::EnrolledIdentitiesOfKey { key: key.into() })?;
        self.inner.enrolled_identities_of_key(key).await
    }

    async fn count_identities(&self, enrolment: Enrolment) -> Result<u64, StoreError> {
        self.check(Op::CountIdentities { enrolment })?;
        self.inner.count_identities(enrolment).await
    }

    async fn identities_of_key(&self, key: &str) -> Result<Vec<String>, StoreError> {
        self.check(Op::IdentitiesOfKey { key: key.into() })?;
        self.inner.identities_of_key(key).await
    }

    async fn identity(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.check(Op::Identity { id: id.into() })?;
        self.inner.identity(id).await
    }

    async fn identities(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.check(Op::Identities)?;
        self.inner.identities(after, limit).await
    }

    async fn delete_identity(&self, id: &str) -> Result<bool, StoreError> {
        self.check(Op::DeleteIdentity { id: id.into() })?;
        self.inner.delete_identity(id).await
    }
}

impl<S: SeenSignatures> SeenSignatures for Failing<S> {
    async fn remember_signature(
        &self,
        signature: &[u8],
        expires_at: u64,
    ) -> Result<bool, StoreError> {
        self.check(Op::RememberSignature)?;
        self.inner.remember_signature(signature, expires_at).await
    }

    async fn remembered_signatures(&self, now: u64) -> Result<Vec<(Vec<u8>, u64)>, StoreError> {
        self.check(Op::RememberedSignatures)?;
        self.inner.remembered_signatures(now).await
    }

    async fn forget_signatures(&self, now: u64) -> Result<u64, StoreError> {
        self.check(Op::ForgetSignatures)?;
        self.inner.forget_signatures(now).await
    }
}

impl<S: WorkQueue> WorkQueue for Failing<S> {
    async fn claim_work(
        &self,
        kind: WorkKind,
        now: u64,
        limit: u32,
        retry_at: u64,
    ) -> Result<Vec<WorkRow>, StoreError> {
        self.check(Op::ClaimWork { kind })?;
        self.inner.claim_work(kind, now, limit, retry_at).await
    }

    async fn finish_work(&self, id: i64, state: RowState) -> Result<(), StoreError> {
        self.check(Op::FinishWork { id, state })?;
        self.inner.finish_work(id, state).await
    }

    async fn work_of(&self, chain: &str) -> Result<Vec<WorkRow>, StoreError> {
        self.check(Op::WorkOf {
            chain: chain.into(),
        })?;
        self.inner.work_of(chain).await
    }
}

impl<S: Outbox> Outbox for Failing<S> {
    async fn claim_deliveries(
        &self,
        now: u64,
        limit: u32,
        lease_until: u64,
        skip: &[String],
    ) -> Result<Vec<Delivery>, StoreError> {
        self.check(Op::ClaimDeliveries)?;
        self.inner
            .claim_deliveries(now, limit, lease_until, skip)
            .await
    }

    async fn release_delivery(&self, claimed: &Delivery, now: u64) -> Result<(), StoreError> {
        self.check(Op::ReleaseDelivery { id: claimed.id })?;
        self.inner.release_delivery(claimed, now).await
    }

    async fn release_delivery_leases(&self, now: u64) -> Result<u64, StoreError> {
        self.check(Op::ReleaseDeliveryLeases)?;
        self.inner.release_delivery_leases(now).await
    }

    async fn finish_delivery(
        &self,
        claimed: &Delivery,
        outcome: &Delivered,
        now: u64,
    ) -> Result<(), StoreError> {
        self.check(Op::FinishDelivery { id: claimed.id })?;
        self.inner.finish_delivery(claimed, outcome, now).await
    }

    async fn outbox(
        &self,
        state: Option<RowState>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.check(Op::Outbox { state })?;
        self.inner.outbox(state, after, limit).await
    }

    async fn replay_delivery(&self, id: i64, now: u64) -> Result<bool, StoreError> {
        self.check(Op::ReplayDelivery { id })?;
        self.inner.replay_delivery(id, now).await
    }

    async fn outbox_counts(&self) -> Result<Vec<(String, RowState, u64)>, StoreError> {
        self.check(Op::OutboxCounts)?;
        self.inner.outbox_counts().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqlStore;
    use crate::sql::Durability;

    /// The countdown counts only the operations watched; a failed one never reaches the store.
    #[tokio::test]
    async fn fails_on_a_countdown_of_what_it_watches_until_it_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("node.db").display());
        let store = Failing::new(SqlStore::open(&url, Durability::Process).await.unwrap());
        let put = |n: u64| store.put_scenario("s", "{}", n);
        store.fail(1, |op| matches!(op, Op::Scenario { .. }));
        // Not watched: always passes.
        assert!(put(1).await.unwrap());
        assert_eq!(store.scenario("s").await.unwrap().as_deref(), Some("{}"));
        let err = store.scenario("s").await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Database { op, source } if **op == Op::Scenario { id: "s".into() } && source.is::<Injected>()),
            "{err}"
        );
        assert!(
            store.scenario("s").await.is_err(),
            "it fails until it recovers"
        );
        store.fail(0, commits);
        assert!(store.commit(&[], 1).await.is_err());
        store.recover();
        assert_eq!(store.scenario("s").await.unwrap().as_deref(), Some("{}"));
        assert!(store.commit(&[], 1).await.is_ok());
        assert_eq!(store.asked(|op| matches!(op, Op::Scenario { .. })), (4, 2));
        assert_eq!(store.asked(commits), (2, 1));
        assert_eq!(store.asked(every), (7, 3));
    }
}
