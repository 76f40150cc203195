//! Accord's storage: what a node keeps, in SQLite (embedded, the default) or PostgreSQL.
//!
//! The node's event pipeline is the only writer of chains. It hands the store whole
//! [`Append`]s (a chain's new head, its new events, the parties it learned, the projections of
//! its processes, and the follow-up work the events asked for) and [`Chains::commit`] writes
//! them in one transaction or not at all. Besides it, only the queues' claims and outcomes and
//! the registries write.
//!
//! What a store does is split by concern, one trait each: [`Chains`] (heads, events, parties,
//! the commit), [`Processes`], [`Scenarios`], [`Identities`], [`SeenSignatures`] (the record
//! of spent request signatures), [`WorkQueue`] and [`Outbox`]. [`Store`] is all of them: the
//! node asks for `S: Store`, and anything that implements every concern is one.
//!
//! Row states and kinds are enums ([`WorkKind`], [`RowState`], [`Enrolment`]): their names
//! are the text the tables hold, read and written only in [`sql`]; a name this build does not
//! know, read from the database, is [`StoreError::Corrupt`]. A failed operation is a
//! [`StoreError`] naming the operation ([`Op`]) and what it was about.
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
//!
//! With the `testing` feature, `testing::Failing` wraps a store and fails its operations on a
//! countdown, for tests of what a node does when its database fails.

use std::future::Future;
use std::str::FromStr;

mod error;
pub mod sql;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::{Cause, Conflict, Op, StoreError};
pub use sql::SqlStore;

/// A SHA-256 hash or chain state.
pub type Hash = [u8; 32];

/// A name this build does not know for a [`WorkKind`] or a [`RowState`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {name:?}: one of {known}")]
pub struct UnknownName {
    /// What was named (`work kind`, `row state`).
    pub what: &'static str,
    /// The name given.
    pub name: String,
    /// The names known, for the message.
    pub known: &'static str,
}

/// Names for the values of a fieldless enum, as the tables hold them: `as_str` and `FromStr`
/// both come from the one list.
macro_rules! names {
    ($(#[$doc:meta])* $name:ident, $what:literal, $known:literal { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// Every value, in the order declared.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The name, as stored.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;

            fn from_str(name: &str) -> Result<$name, UnknownName> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == name)
                    .ok_or_else(|| UnknownName {
                        what: $what,
                        name: name.to_string(),
                        known: $known,
                    })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

names! {
    /// What a work row asks the node to do: the system actions of a process
    /// (`work.kind`).
    WorkKind, "work kind", "nop, http, event, broken, timer" {
        /// Answer with a response the scenario gives.
        Nop = "nop",
        /// Make an HTTP call and answer with its response.
        Http = "http",
        /// Add the events the scenario gives.
        Event = "event",
        /// Answer a step whose conditions failed with an error response.
        Broken = "broken",
        /// Answer a time-out, if the process is still in the state it was set for.
        Timer = "timer",
    }
}

names! {
    /// Where a queued row stands: a work row (`work.state`) or an outbox row
    /// (`outbox.state`).
    RowState, "row state", "pending, done, dead" {
        /// Still to do, now or when it is due.
        Pending = "pending",
        /// Done.
        Done = "done",
        /// Given up; kept for inspection (an outbox row can be replayed).
        Dead = "dead",
    }
}

/// Who registered an identity: whether an administrator did (enrolled it) or a user did for
/// itself (`identities.enrolled`, 1 or 0). A node runs system actions by default only for the
/// identities its operator enrolled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Enrolment {
    /// Registered by an administrator.
    Enrolled,
    /// Registered by a user, for itself.
    SelfRegistered,
}

impl Enrolment {
    /// An administrator's registration is an enrolment, anyone else's is not.
    pub fn by_administrator(admin: bool) -> Enrolment {
        if admin {
            Enrolment::Enrolled
        } else {
            Enrolment::SelfRegistered
        }
    }
}

impl std::fmt::Display for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Enrolment::Enrolled => "enrolled",
            Enrolment::SelfRegistered => "self-registered",
        })
    }
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
    /// What kind of work, for the worker that takes it.
    pub kind: WorkKind,
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
    pub kind: WorkKind,
    /// See [`NewWork::chain`].
    pub chain: String,
    /// See [`NewWork::payload`].
    pub payload: String,
    /// Pending, done or dead.
    pub state: RowState,
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
    /// Pending, done or dead.
    pub state: RowState,
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
    /// Checks that the append is consistent with itself: positions, lengths, processes.
    pub fn check(&self) -> Result<(), Conflict> {
        let chain = || self.head.chain.clone();
        let change =
            self.head
                .length
                .checked_sub(self.expected)
                .ok_or_else(|| Conflict::Shrinks {
                    chain: chain(),
                    length: self.head.length,
                    expected: self.expected,
                })?;
        if change != self.events.len() as u64 {
            return Err(Conflict::Count {
                chain: chain(),
                events: self.events.len(),
                change,
            });
        }
        for (n, e) in self.events.iter().enumerate() {
            if e.seq != self.expected + n as u64 {
                return Err(Conflict::Position {
                    chain: chain(),
                    n,
                    seq: e.seq,
                    expected: self.expected + n as u64,
                });
            }
        }
        if let Some(p) = self.processes.iter().find(|p| p.chain != self.head.chain) {
            return Err(Conflict::ProcessElsewhere {
                process: p.id.clone(),
                on: p.chain.clone(),
                chain: chain(),
            });
        }
        Ok(())
    }
}

/// A page of results and where the next one starts.
pub const MAX_PAGE: u32 = 1000;

/// Everything a node keeps: every concern's trait. Implemented for whatever implements them
/// all ([`SqlStore`]; in tests, `testing::Failing` around one), so the node's code asks for
/// `S: Store` and a store is written concern by concern.
///
/// Every method is safe to call concurrently; [`Chains::commit`] is all or nothing.
pub trait Store:
    Chains + Processes + Scenarios + Identities + SeenSignatures + WorkQueue + Outbox
{
}

impl<S> Store for S where
    S: Chains + Processes + Scenarios + Identities + SeenSignatures + WorkQueue + Outbox
{
}

/// Chains: their heads, events and parties, and the commit that adds to them (writing, with
/// a chain's events, the rows of the other concerns its [`Append`] carries).
pub trait Chains: Send + Sync + 'static {
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

    /// Writes every append in one transaction, or nothing: events, heads, parties,
    /// projections, work and outbox rows. `now` stamps the rows. An append that contradicts
    /// itself or what is stored is a [`StoreError::Conflict`].
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
}

/// Processes' projections, as the commits of their chains left them.
pub trait Processes: Send + Sync + 'static {
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
}

/// Scenarios pushed to the node: immutable once stored.
pub trait Scenarios: Send + Sync + 'static {
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
}

/// The identities registered on the node, with the keys they name.
pub trait Identities: Send + Sync + 'static {
    /// Stores or replaces an identity and the keys it names (which replace the keys it named
    /// before), in one transaction; `enrolment` says who registered it (a replacement sets it
    /// anew). `Ok(true)` when it is new.
    fn put_identity(
        &self,
        id: &str,
        json: &str,
        keys: &[String],
        enrolment: Enrolment,
        now: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The ids of the enrolled identities (registered by an administrator) that name a key,
    /// ordered by id.
    fn enrolled_identities_of_key(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// How many identities are registered with this enrolment.
    fn count_identities(
        &self,
        enrolment: Enrolment,
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
}

/// The record of request signatures spent, so a replay is refused, also after a restart.
pub trait SeenSignatures: Send + Sync + 'static {
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
}

/// The work queue: system actions and timers the commits queued, claimed under a lease.
pub trait WorkQueue: Send + Sync + 'static {
    /// Pending work of a kind due at `now`, oldest first, at most `limit` rows; each is
    /// marked as tried and leased until `retry_at` (due again then, if not finished before).
    fn claim_work(
        &self,
        kind: WorkKind,
        now: u64,
        limit: u32,
        retry_at: u64,
    ) -> impl Future<Output = Result<Vec<WorkRow>, StoreError>> + Send;

    /// Sets a work row's state (done or dead when it is finished).
    fn finish_work(
        &self,
        id: i64,
        state: RowState,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Work rows of a chain, oldest first (for inspection and tests).
    fn work_of(&self, chain: &str)
    -> impl Future<Output = Result<Vec<WorkRow>, StoreError>> + Send;
}

/// The outbox: what each peer node should receive of each chain, claimed under a lease.
pub trait Outbox: Send + Sync + 'static {
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
        state: Option<RowState>,
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
    ) -> impl Future<Output = Result<Vec<(String, RowState, u64)>, StoreError>> + Send;
}
