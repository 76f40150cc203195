//! Accord's storage: what a node keeps, behind one trait, in SQLite (embedded, the default) or
//! PostgreSQL.
//!
//! The node's event pipeline is the only writer. It hands the store whole [`Append`]s (a chain's
//! new head, its new events, the parties it learned, the projections of its processes, and the
//! follow-up work the events asked for) and [`Store::commit`] writes them in one transaction or
//! not at all. Everything else is a read.
//!
//! Invariants every implementation keeps (the shared suite in `tests/suite.rs` checks them):
//! - **All or nothing.** A commit that fails leaves no trace: no event, head, projection, party
//!   or work row of it is visible.
//! - **Heads move forward only from where the writer saw them.** An append names the length it
//!   expects the chain to have; if another writer moved the chain first, the commit fails with
//!   [`StoreError::Conflict`] and writes nothing.
//! - **One event, one place.** An event hash appears at most once per chain.
//! - **Appending costs the same however long the chain is.** Nothing in a commit reads the
//!   chain's events; reads of events are paged.

use std::future::Future;

pub mod sql;

pub use sql::SqlStore;

/// A SHA-256 hash or chain state.
pub type Hash = [u8; 32];

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer changed what this write was based on; nothing was written.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The stored data is not what this version of Accord wrote.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database's schema is newer than this build, or it cannot be migrated.
    #[error("database schema: {0}")]
    Schema(String),
    /// The database could not be opened or answered with an error.
    #[error("database: {0}")]
    Database(String),
}

/// What a store holds about one chain: how far it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// The chain id (base58).
    pub chain: String,
    /// How many events this node holds.
    pub length: u64,
    /// The hash the next event must name as `previous`.
    pub tip: Hash,
    /// The chain's state after the last event.
    pub state: Hash,
    /// For a copy that starts after the genesis event: the hash and state it continues from.
    pub start: Option<(Hash, Hash)>,
    /// The timestamp of the last event this node holds (milliseconds since the epoch; 0 when
    /// it holds none): the earliest the next event may carry.
    pub timestamp: u64,
}

/// An event as stored: its position in this node's copy and its JSON (the reference layout).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRow {
    /// Position in this node's copy of the chain, from 0.
    pub seq: u64,
    /// The event's hash.
    pub hash: Hash,
    /// The chain's state after it.
    pub state: Hash,
    /// Its timestamp (milliseconds since the epoch).
    pub timestamp: u64,
    /// The signer's public key (base58).
    pub signer: String,
    /// The event as a JSON object, as the reference client writes it.
    pub json: String,
}

/// A process's projection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessRow {
    /// The process id.
    pub id: String,
    /// The chain it lives on.
    pub chain: String,
    /// The projection (canonical JSON).
    pub json: String,
}

/// Work to do after a commit (a delivery, a system action, a timer), queued in the same
/// transaction as the events that asked for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewWork {
    /// What kind of work (`deliver`, `http`, `timer`, …), for the worker that takes it.
    pub kind: String,
    /// The chain it is about.
    pub chain: String,
    /// What the worker needs, as JSON.
    pub payload: String,
    /// When it is due (milliseconds since the epoch).
    pub due_at: u64,
}

/// A queued piece of work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkRow {
    /// Its id, increasing in the order rows were queued.
    pub id: i64,
    /// See [`NewWork::kind`].
    pub kind: String,
    /// See [`NewWork::chain`].
    pub chain: String,
    /// See [`NewWork::payload`].
    pub payload: String,
    /// `pending`, `done` or `dead`.
    pub state: String,
    /// When it is due.
    pub due_at: u64,
    /// How often it was tried.
    pub attempts: u32,
}

/// A row of the outbox: what one peer node should receive of one chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Its id, increasing in the order rows were first queued.
    pub id: i64,
    /// The peer node's key (base58).
    pub peer: String,
    /// The chain.
    pub chain: String,
    /// The length the peer should reach.
    pub wanted: u64,
    /// The length the peer confirmed (it holds the events before it).
    pub sent: u64,
    /// `pending`, `done` or `dead`.
    pub state: String,
    /// Attempts since the last one that got through.
    pub attempts: u32,
    /// When it is due (milliseconds since the epoch).
    pub due_at: u64,
    /// Why the last attempt failed.
    pub error: Option<String>,
}

/// What became of an attempt to deliver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivered {
    /// The peer holds the chain up to `length` (an answer to the delivery, or the length it
    /// named when it refused events that did not follow its tip). The row is done when that
    /// reaches what is wanted by then, and due again at once otherwise.
    Reached {
        /// The peer's length.
        length: u64,
    },
    /// Try again at `retry_at`.
    Retry {
        /// Why it failed.
        error: String,
        /// When to try again.
        retry_at: u64,
    },
    /// Stop trying until it is replayed.
    Dead {
        /// Why.
        error: String,
    },
}

/// Everything one chain gains in a commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Append {
    /// The chain's head after the commit.
    pub head: Head,
    /// The length the writer saw before (0 for a chain new to this node).
    pub expected: u64,
    /// The new events, at positions `expected..head.length`.
    pub events: Vec<EventRow>,
    /// Public keys (base58) that became parties to the chain; known ones are skipped.
    pub parties: Vec<String>,
    /// Projections of the chain's processes that changed (replacing the stored ones).
    pub processes: Vec<ProcessRow>,
    /// Follow-up work.
    pub work: Vec<NewWork>,
    /// Peer nodes (keys, base58) that should hold the chain up to `head.length`: their outbox
    /// rows are raised (and created, from position 0, for a peer new to the chain).
    pub deliveries: Vec<String>,
    /// Peer nodes (keys, base58) taken to hold the chain up to a length: events that came from
    /// a peer are held by that peer, and each event's author delivers it to every party. Their
    /// rows' `sent` rise to it (a row is created, done, for a peer new to the chain), so no
    /// one sends a peer what it has; a peer that lacks them after all says so
    /// (`missing-events`), and its row goes back to where it is.
    pub confirmed: Vec<(String, u64)>,
}

impl Append {
    /// Checks that the append is consistent with itself: positions, lengths.
    pub fn check(&self) -> Result<(), StoreError> {
        let added = self.head.length.checked_sub(self.expected).ok_or_else(|| {
            StoreError::Conflict(format!(
                "chain {}: the new length {} is below the expected {}",
                self.head.chain, self.head.length, self.expected
            ))
        })?;
        if added != self.events.len() as u64 {
            return Err(StoreError::Conflict(format!(
                "chain {}: {} events for a length change of {added}",
                self.head.chain,
                self.events.len()
            )));
        }
        for (n, e) in self.events.iter().enumerate() {
            if e.seq != self.expected + n as u64 {
                return Err(StoreError::Conflict(format!(
                    "chain {}: event {n} of the append has position {}, expected {}",
                    self.head.chain,
                    e.seq,
                    self.expected + n as u64
                )));
            }
        }
        if let Some(p) = self.processes.iter().find(|p| p.chain != self.head.chain) {
            return Err(StoreError::Conflict(format!(
                "process {} is on chain {}, not {}",
                p.id, p.chain, self.head.chain
            )));
        }
        Ok(())
    }
}

/// A page of results and where the next one starts.
pub const MAX_PAGE: u32 = 1000;

/// What a node keeps. Implementations: [`SqlStore`] (SQLite or PostgreSQL).
///
/// Every method is safe to call concurrently; [`Store::commit`] is all or nothing.
pub trait Store: Send + Sync + 'static {
    /// The head of a chain, if this node holds it.
    fn head(&self, chain: &str) -> impl Future<Output = Result<Option<Head>, StoreError>> + Send;

    /// Up to `limit` (at most [`MAX_PAGE`]) events of a chain from position `from`, in order.
    fn events(
        &self,
        chain: &str,
        from: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<EventRow>, StoreError>> + Send;

    /// The position of the event with this hash on a chain.
    fn find_event(
        &self,
        chain: &str,
        hash: &Hash,
    ) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;

    /// Writes every append in one transaction, or nothing. `now` stamps the rows.
    fn commit(
        &self,
        appends: &[Append],
        now: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Whether a public key is a party to a chain.
    fn is_party(
        &self,
        chain: &str,
        key: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The heads of the chains a key is party to, ordered by chain id, after `after`.
    fn chains_of(
        &self,
        key: &str,
        after: Option<&str>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Head>, StoreError>> + Send;

    /// A process's projection. A process is addressed by its chain and its id: two chains
    /// may hold processes with the same id.
    fn process(
        &self,
        chain: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<ProcessRow>, StoreError>> + Send;

    /// The chains holding a process with this id, ordered by chain id.
    fn process_chains(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// The processes on a chain, ordered by id.
    fn processes_on(
        &self,
        chain: &str,
    ) -> impl Future<Output = Result<Vec<ProcessRow>, StoreError>> + Send;

    /// The processes on chains a key is party to, ordered by process id and then chain id,
    /// after `after` (a process id and a chain id).
    fn processes_of(
        &self,
        key: &str,
        after: Option<(&str, &str)>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<ProcessRow>, StoreError>> + Send;

    /// Stores a scenario. `Ok(true)` when it is new, `Ok(false)` when the same text is there
    /// already; a different text under the same id is a [`StoreError::Conflict`].
    fn put_scenario(
        &self,
        id: &str,
        json: &str,
        now: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// A scenario's JSON.
    fn scenario(&self, id: &str)
    -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Stores or replaces an identity and the keys it names (which replace the keys it named
    /// before), in one transaction; `enrolled` says an administrator registered it (a
    /// replacement sets it anew). `Ok(true)` when it is new.
    fn put_identity(
        &self,
        id: &str,
        json: &str,
        keys: &[String],
        enrolled: bool,
        now: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The ids of the enrolled identities (registered by an administrator) that name a key,
    /// ordered by id.
    fn enrolled_identities_of_key(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// How many identities are registered, enrolled (by an administrator) or not.
    fn count_identities(
        &self,
        enrolled: bool,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The ids of the registered identities that name a key, ordered by id.
    fn identities_of_key(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// An identity's JSON.
    fn identity(&self, id: &str)
    -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Identities as (id, JSON), ordered by id, after `after`.
    fn identities(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<(String, String)>, StoreError>> + Send;

    /// Removes an identity and its keys (another identity's keys stay as they are);
    /// `Ok(false)` when there was none.
    fn delete_identity(&self, id: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records a request signature until `expires_at`: `Ok(true)` when it was not recorded
    /// already (the request is new), `Ok(false)` when it was (a replay).
    fn remember_signature(
        &self,
        signature: &[u8],
        expires_at: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The recorded signatures that have not expired at `now`, with their expiry.
    fn remembered_signatures(
        &self,
        now: u64,
    ) -> impl Future<Output = Result<Vec<(Vec<u8>, u64)>, StoreError>> + Send;

    /// Forgets the signatures that expired before `now`; how many.
    fn forget_signatures(&self, now: u64) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Pending work due at `now`, oldest first, at most `limit` rows; each is marked as tried.
    fn claim_work(
        &self,
        kind: &str,
        now: u64,
        limit: u32,
        retry_at: u64,
    ) -> impl Future<Output = Result<Vec<WorkRow>, StoreError>> + Send;

    /// Marks work as `done` or `dead`.
    fn finish_work(
        &self,
        id: i64,
        state: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Work rows of a chain, oldest first (for inspection and tests).
    fn work_of(&self, chain: &str)
    -> impl Future<Output = Result<Vec<WorkRow>, StoreError>> + Send;

    /// Pending deliveries due at `now`, oldest first, at most `limit`, none to a peer in
    /// `skip`; each is leased until `lease_until` (due again then, if not finished before) and
    /// counted as an attempt.
    fn claim_deliveries(
        &self,
        now: u64,
        limit: u32,
        lease_until: u64,
        skip: &[String],
    ) -> impl Future<Output = Result<Vec<Delivery>, StoreError>> + Send;

    /// Gives back a claimed delivery (`claimed`, as the claim returned it) that was not
    /// attempted: due at `now`, its claim not counted. Nothing happens if the row was claimed
    /// again since (its lease, `due_at`, differs).
    fn release_delivery(
        &self,
        claimed: &Delivery,
        now: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Makes every pending delivery due at `now`: for a node starting, whose last run may
    /// have left rows leased to attempts that died with it (a backoff under way is cut short
    /// too: a start retries once). Only for the node that owns the database, before it
    /// claims. Returns how many rows it changed.
    fn release_delivery_leases(
        &self,
        now: u64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Records what became of a claimed delivery (`claimed`, as the claim returned it). The
    /// claim's lease (`due_at`) is the token: an attempt whose row was claimed again since
    /// (its lease ran out), or replayed, records nothing.
    fn finish_delivery(
        &self,
        claimed: &Delivery,
        outcome: &Delivered,
        now: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Outbox rows in `state` (any state when `None`) with ids above `after`, by id.
    fn outbox(
        &self,
        state: Option<&str>,
        after: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Delivery>, StoreError>> + Send;

    /// Makes a dead delivery pending again, due at `now`, its attempts reset. `Ok(false)` when
    /// there is no dead row with this id.
    fn replay_delivery(
        &self,
        id: i64,
        now: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Outbox rows by peer and state: (peer, state, count).
    fn outbox_counts(
        &self,
    ) -> impl Future<Output = Result<Vec<(String, String, u64)>, StoreError>> + Send;
}
