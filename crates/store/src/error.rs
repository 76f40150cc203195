//! How a store operation fails: [`StoreError`] says which operation ([`Op`], with the chain,
//! id or key it was about), what went wrong, and keeps the database's own error as its
//! `source`.

use std::fmt;

use crate::{Enrolment, RowState, WorkKind};

/// The database's own error, kept as the [`StoreError::Database`] source (a `sqlx::Error` for
/// [`crate::SqlStore`]).
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The write contradicts what is stored (another writer moved a chain first, an event or
    /// a scenario is there already), or an append contradicts itself; nothing was written.
    #[error("{op}: {conflict}")]
    Conflict {
        /// What the store was doing (boxed: errors travel in `Result`s and should stay small).
        op: Box<Op>,
        /// What the write ran into.
        conflict: Conflict,
    },
    /// A stored value is not one this version of Accord writes.
    #[error("{op}: the stored data is corrupt: {column} is {value}, not {expected}")]
    Corrupt {
        /// What the store was doing (boxed: errors travel in `Result`s and should stay small).
        op: Box<Op>,
        /// The column, as `table.column`.
        column: &'static str,
        /// What it holds (text is quoted).
        value: String,
        /// What it should hold.
        expected: &'static str,
    },
    /// The database's schema is newer than this build knows; nothing was changed.
    #[error(
        "the database is at schema version {found}, newer than this build knows ({known}): use a newer Accord"
    )]
    NewerSchema {
        /// The database's version.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// The database URL names no database this build can use.
    #[error("unknown database URL {url:?}: use sqlite:PATH or postgres://…")]
    UnknownUrl {
        /// The URL as given.
        url: String,
    },
    /// The database could not be reached, or answered with an error.
    #[error("{op}: {source}")]
    Database {
        /// What the store was doing (boxed: errors travel in `Result`s and should stay small).
        op: Box<Op>,
        /// The database's error.
        #[source]
        source: Cause,
    },
}

impl StoreError {
    /// The operation that failed, when the failure is one operation's.
    pub fn op(&self) -> Option<&Op> {
        match self {
            StoreError::Conflict { op, .. }
            | StoreError::Corrupt { op, .. }
            | StoreError::Database { op, .. } => Some(op.as_ref()),
            StoreError::NewerSchema { .. } | StoreError::UnknownUrl { .. } => None,
        }
    }
}

/// What a write ran into. Its message is for the client whose write it was, so it names the
/// chain, event or scenario concerned.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// The chain is no longer at the length the append was built on.
    #[error("chain {chain} is no longer at length {expected}")]
    Moved {
        /// The chain.
        chain: String,
        /// The length the append expected.
        expected: u64,
    },
    /// An append that creates a chain, for a chain the store holds already.
    #[error("chain {chain} is stored already")]
    ChainExists {
        /// The chain.
        chain: String,
    },
    /// An event of the append, or one with its hash, is on the chain already.
    #[error(
        "chain {chain}: event {seq} of the append, or an event with its hash, is stored already"
    )]
    EventExists {
        /// The chain.
        chain: String,
        /// The event's position in the append's chain.
        seq: u64,
    },
    /// An append whose new length is below the length it was built on.
    #[error("chain {chain}: the new length {length} is below the expected {expected}")]
    Shrinks {
        /// The chain.
        chain: String,
        /// The new length.
        length: u64,
        /// The length it was built on.
        expected: u64,
    },
    /// An append whose events do not account for the change of length.
    #[error("chain {chain}: {events} events for a length change of {change}")]
    Count {
        /// The chain.
        chain: String,
        /// Events in the append.
        events: usize,
        /// The change of length.
        change: u64,
    },
    /// An event of the append is not at the next position.
    #[error("chain {chain}: event {n} of the append has position {seq}, expected {expected}")]
    Position {
        /// The chain.
        chain: String,
        /// The event's index in the append.
        n: usize,
        /// Its position.
        seq: u64,
        /// The position it should have.
        expected: u64,
    },
    /// A process of the append is on another chain.
    #[error("process {process} is on chain {on}, not {chain}")]
    ProcessElsewhere {
        /// The process id.
        process: String,
        /// The chain the process row names.
        on: String,
        /// The append's chain.
        chain: String,
    },
    /// A scenario id holds a different text.
    #[error("a different scenario with id {id:?} is stored already")]
    ScenarioDiffers {
        /// The scenario id.
        id: String,
    },
    /// A scenario went away while it was being stored.
    #[error("scenario {id:?} was removed while being stored")]
    ScenarioRemoved {
        /// The scenario id.
        id: String,
    },
}

/// A store operation, with what it was about: one for each method of the store's traits, and
/// the SQL store's own (opening, migrating). Errors carry it; the test double
/// (`testing::Failing`) picks the operations it fails by it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Opening the database.
    Open,
    /// Bringing the schema up to date (the steps around the migrations).
    Migrate,
    /// Running one migration.
    Migration {
        /// The schema version it brings the database to.
        version: i64,
    },
    /// Running an administration statement ([`crate::SqlStore::execute`]).
    Execute,
    /// [`crate::Chains::head`].
    Head {
        /// The chain.
        chain: String,
    },
    /// [`crate::Chains::events`].
    Events {
        /// The chain.
        chain: String,
        /// The first position asked for.
        from: u64,
    },
    /// [`crate::Chains::find_event`].
    FindEvent {
        /// The chain.
        chain: String,
    },
    /// [`crate::Chains::commit`].
    Commit {
        /// The chains of the appends, in order.
        chains: Vec<String>,
    },
    /// [`crate::Chains::is_party`].
    IsParty {
        /// The chain.
        chain: String,
        /// The key.
        key: String,
    },
    /// [`crate::Chains::chains_of`].
    ChainsOf {
        /// The key.
        key: String,
    },
    /// [`crate::Processes::process`].
    Process {
        /// The chain.
        chain: String,
        /// The process id.
        id: String,
    },
    /// [`crate::Processes::process_chains`].
    ProcessChains {
        /// The process id.
        id: String,
    },
    /// [`crate::Processes::processes_on`].
    ProcessesOn {
        /// The chain.
        chain: String,
    },
    /// [`crate::Processes::processes_of`].
    ProcessesOf {
        /// The key.
        key: String,
    },
    /// [`crate::Scenarios::put_scenario`].
    PutScenario {
        /// The scenario id.
        id: String,
    },
    /// [`crate::Scenarios::scenario`].
    Scenario {
        /// The scenario id.
        id: String,
    },
    /// [`crate::Identities::put_identity`].
    PutIdentity {
        /// The identity id.
        id: String,
    },
    /// [`crate::Identities::enrolled_identities_of_key`].
    EnrolledIdentitiesOfKey {
        /// The key.
        key: String,
    },
    /// [`crate::Identities::count_identities`].
    CountIdentities {
        /// Which identities.
        enrolment: Enrolment,
    },
    /// [`crate::Identities::identities_of_key`].
    IdentitiesOfKey {
        /// The key.
        key: String,
    },
    /// [`crate::Identities::identity`].
    Identity {
        /// The identity id.
        id: String,
    },
    /// [`crate::Identities::identities`].
    Identities,
    /// [`crate::Identities::delete_identity`].
    DeleteIdentity {
        /// The identity id.
        id: String,
    },
    /// [`crate::SeenSignatures::remember_signature`].
    RememberSignature,
    /// [`crate::SeenSignatures::remembered_signatures`].
    RememberedSignatures,
    /// [`crate::SeenSignatures::forget_signatures`].
    ForgetSignatures,
    /// [`crate::WorkQueue::claim_work`].
    ClaimWork {
        /// The kind claimed.
        kind: WorkKind,
    },
    /// [`crate::WorkQueue::finish_work`].
    FinishWork {
        /// The row.
        id: i64,
        /// The state it was to get.
        state: RowState,
    },
    /// [`crate::WorkQueue::work_of`].
    WorkOf {
        /// The chain.
        chain: String,
    },
    /// [`crate::Outbox::claim_deliveries`].
    ClaimDeliveries,
    /// [`crate::Outbox::release_delivery`].
    ReleaseDelivery {
        /// The row.
        id: i64,
    },
    /// [`crate::Outbox::release_delivery_leases`].
    ReleaseDeliveryLeases,
    /// [`crate::Outbox::finish_delivery`].
    FinishDelivery {
        /// The row.
        id: i64,
    },
    /// [`crate::Outbox::outbox`].
    Outbox {
        /// The state listed, if one.
        state: Option<RowState>,
    },
    /// [`crate::Outbox::replay_delivery`].
    ReplayDelivery {
        /// The row.
        id: i64,
    },
    /// [`crate::Outbox::outbox_counts`].
    OutboxCounts,
}

impl Op {
    /// The commit of these appends' chains.
    pub fn commit(appends: &[crate::Append]) -> Op {
        Op::Commit {
            chains: appends.iter().map(|a| a.head.chain.clone()).collect(),
        }
    }
}

/// Chain ids named at most in a commit's message; the rest are counted.
const NAMED_CHAINS: usize = 3;

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Open => write!(f, "opening the database"),
            Op::Migrate => write!(f, "bringing the schema up to date"),
            Op::Migration { version } => write!(f, "migration {version}"),
            Op::Execute => write!(f, "running a statement"),
            Op::Head { chain } => write!(f, "reading the head of chain {chain}"),
            Op::Events { chain, from } => {
                write!(
                    f,
                    "reading the events of chain {chain} from position {from}"
                )
            }
            Op::FindEvent { chain } => write!(f, "looking up an event on chain {chain}"),
            Op::Commit { chains } => {
                write!(f, "committing chain")?;
                if chains.len() != 1 {
                    write!(f, "s")?;
                }
                for (n, chain) in chains.iter().take(NAMED_CHAINS).enumerate() {
                    write!(f, "{} {chain}", if n == 0 { "" } else { "," })?;
                }
                if chains.len() > NAMED_CHAINS {
                    write!(f, " and {} more", chains.len() - NAMED_CHAINS)?;
                }
                Ok(())
            }
            Op::IsParty { chain, key } => {
                write!(f, "asking whether key {key} is a party to chain {chain}")
            }
            Op::ChainsOf { key } => write!(f, "listing the chains of key {key}"),
            Op::Process { chain, id } => write!(f, "reading process {id} on chain {chain}"),
            Op::ProcessChains { id } => write!(f, "listing the chains holding process {id}"),
            Op::ProcessesOn { chain } => write!(f, "listing the processes on chain {chain}"),
            Op::ProcessesOf { key } => write!(f, "listing the processes of key {key}"),
            Op::PutScenario { id } => write!(f, "storing scenario {id}"),
            Op::Scenario { id } => write!(f, "reading scenario {id}"),
            Op::PutIdentity { id } => write!(f, "storing identity {id}"),
            Op::EnrolledIdentitiesOfKey { key } => {
                write!(f, "listing the enrolled identities naming key {key}")
            }
            Op::CountIdentities { enrolment } => {
                write!(f, "counting the {enrolment} identities")
            }
            Op::IdentitiesOfKey { key } => write!(f, "listing the identities naming key {key}"),
            Op::Identity { id } => write!(f, "reading identity {id}"),
            Op::Identities => write!(f, "listing the identities"),
            Op::DeleteIdentity { id } => write!(f, "removing identity {id}"),
            Op::RememberSignature => write!(f, "recording a request signature"),
            Op::RememberedSignatures => write!(f, "reading the recorded request signatures"),
            Op::ForgetSignatures => write!(f, "forgetting expired request signatures"),
            Op::ClaimWork { kind } => write!(f, "claiming {kind} work"),
            Op::FinishWork { id, state } => write!(f, "marking work {id} as {state}"),
            Op::WorkOf { chain } => write!(f, "listing the work of chain {chain}"),
            Op::ClaimDeliveries => write!(f, "claiming deliveries"),
            Op::ReleaseDelivery { id } => write!(f, "giving back delivery {id}"),
            Op::ReleaseDeliveryLeases => write!(f, "making the pending deliveries due"),
            Op::FinishDelivery { id } => write!(f, "recording the outcome of delivery {id}"),
            Op::Outbox { state: Some(state) } => write!(f, "listing the {state} outbox rows"),
            Op::Outbox { state: None } => write!(f, "listing the outbox"),
            Op::ReplayDelivery { id } => write!(f, "replaying delivery {id}"),
            Op::OutboxCounts => write!(f, "counting the outbox rows"),
        }
    }
}
