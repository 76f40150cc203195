//! The event pipeline: the one writer.
//!
//! Handlers decode and verify submitted chains in parallel (hashes, links, signatures in
//! batches), then queue them here. One task takes what is queued, places each chain's new
//! events on the stored tip, applies them to the chain's process (a [`Replay`] kept in memory,
//! rebuilt from the store on a miss), answers events the process refuses with an error event
//! signed by this node, and commits everything in one storage transaction (group commit: every
//! submission waiting when a transaction starts goes into it). Only then are the submitters
//! answered.
//!
//! Invariants:
//! - An acknowledged event is committed.
//! - The same event twice changes nothing (it is recognised by hash and counted as a
//!   duplicate).
//! - A submission that cannot be placed (a fork, missing events) changes nothing and is
//!   answered with a typed conflict.
//! - If a commit fails, every chain it touched is dropped from memory and reloaded from the
//!   store, so memory never runs ahead of storage.
//!
//! After each commit the writer hands the new heads to the clients waiting for their chains
//! to grow ([`HeadWaiters`], behind `GET /event-chains/{id}/head?min_length=N&wait_ms=T`):
//! one lock per commit, and only the waiters whose length is reached are woken.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use accord_chain::chain::next_state;
use accord_chain::time;
use accord_chain::{ChainId, Event, PartialStart, VerifiedChain};
use accord_crypto::{KeyPair, base58};
use accord_engine::process::{Assigned, Request};
use accord_engine::replay::{Applied, EventIn, Replay};
use accord_store::{Append, EventRow, Head, NewWork, ProcessRow, Store, WorkKind};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::peers::{Peers, is_key};
use crate::problem::Problem;

/// The `$schema` of the error event a node writes when the process refuses events
/// (`accord_engine::bodies`).
pub use accord_engine::bodies::ERROR_SCHEMA;

/// Submissions taken into one transaction at most.
const MAX_BATCH: usize = 256;
/// Chains kept in memory at most; beyond this the least recently used are dropped.
const MAX_LIVE: usize = 20_000;

/// What to add to a chain.
pub enum Work {
    /// A verified chain (whole, or partial with a stub) from a client or a peer.
    Chain(VerifiedChain),
    /// An event for the node to build on the chain's tip and sign with a key it holds (a
    /// custodial user's): linked and timestamped by the writer, so it never forks.
    Build {
        /// The chain.
        chain: ChainId,
        /// The event's body (JSON).
        body: Value,
        /// The key that signs it.
        key: Arc<KeyPair>,
    },
}

impl Work {
    fn chain_id(&self) -> &ChainId {
        match self {
            Work::Chain(c) => c.id(),
            Work::Build { chain, .. } => chain,
        }
    }
}

/// Where a submission comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A user's client, or this node itself: its new events are delivered to the other
    /// parties' nodes, and events the process refuses are answered by an error event.
    Local,
    /// A peer node delivering what it holds: nothing is forwarded, and refusals are left to
    /// the node that took the events first (its error event follows them).
    Peer,
}

/// Something to add to what the node holds.
pub struct Submission {
    /// What.
    pub work: Work,
    /// The key that sent it (base58), for the log.
    pub from: String,
    /// Where it comes from.
    pub origin: Origin,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Result<Outcome, Refused>>,
    /// When the handler queued it.
    pub queued: Instant,
}

/// An event the process refused.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct RefusedEvent {
    /// The event's hash (base58).
    pub hash: String,
    /// Why.
    pub reason: String,
}

/// What a submission did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// The chain id.
    pub id: String,
    /// Hashes of the events stored now, in order (an error event included).
    pub added: Vec<String>,
    /// Events the node held already.
    pub duplicates: usize,
    /// Events the process refused (stored, and answered by `errorEvent`).
    pub refused: Vec<RefusedEvent>,
    /// The error event this node added, when events were refused.
    pub error_event: Option<String>,
    /// Events on the chain now.
    pub length: u64,
    /// The hash the next event must name as `previous`.
    pub tip: String,
    /// The chain's state after its last event.
    pub state: String,
}

/// A chain in memory: its head, its processes, its parties.
struct Live {
    head: Head,
    replay: Replay,
    parties: HashSet<String>,
    used: u64,
}

impl Live {
    /// Whether a key is a sign key of an identity on the chain as the process holds it now.
    fn holds_identity(&self, key: &str) -> bool {
        self.replay.identities().iter().any(|i| i.has_key(key))
    }
}

/// Why the pipeline took nothing of a submission: the writer's decisions, typed. The HTTP
/// edge (`problem.rs`) says them as problems; the peer protocol (`sync`) acts on them.
#[derive(Clone, Debug)]
pub enum Refused {
    /// The events do not go on the chain where this node holds it (missing events, a fork,
    /// or a chain it does not hold sent from past its start).
    NotPlaced(Box<NotPlaced>),
    /// The node is asked to sign an event on a chain it does not hold.
    NotHeld {
        /// The chain (base58).
        chain: String,
    },
    /// A user of this node starts a process whose id the node holds on another chain.
    ProcessExists {
        /// The chain of the submission (base58).
        chain: String,
        /// The process id.
        process: String,
    },
    /// An event is signed by a key that holds no identity on the chain.
    NoIdentity {
        /// The chain (base58).
        chain: String,
        /// The signing key (base58).
        signer: String,
        /// The event's hash (base58), when the event exists yet.
        event: Option<String>,
    },
    /// An event's timestamp cannot be believed (`accord_chain::time`), or is early.
    Timestamp {
        /// The chain (base58).
        chain: String,
        /// The event's hash (base58).
        event: String,
        /// Its place among the submission's new events, from 1.
        nth: usize,
        /// Its timestamp.
        timestamp: u64,
        /// Why it cannot be placed.
        why: time::TimestampError,
        /// How the event reached this node.
        receipt: time::Receipt,
        /// This node's clock when it looked.
        now: u64,
    },
    /// Anything else: the store, the pipeline stopped, an internal error.
    Failed(Problem),
}

/// A placement that puts nothing on the chain, and where this node stands.
#[derive(Clone, Debug)]
pub struct NotPlaced {
    /// The chain (base58).
    pub chain: String,
    /// The decision: never `Extends` or `Duplicate`.
    pub placement: accord_chain::Placement,
    /// This node's tip of the chain.
    pub tip: [u8; 32],
    /// How many events of it this node holds.
    pub length: u64,
}

impl From<NotPlaced> for Refused {
    fn from(not: NotPlaced) -> Refused {
        Refused::NotPlaced(Box::new(not))
    }
}

impl From<Problem> for Refused {
    fn from(problem: Problem) -> Refused {
        Refused::Failed(problem)
    }
}

impl From<accord_store::StoreError> for Refused {
    fn from(err: accord_store::StoreError) -> Refused {
        Refused::Failed(Problem::from(err))
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", Problem::from(self.clone()))
    }
}

/// Work one batch does for one chain.
struct Pending {
    append: Append,
}

/// The handle handlers queue submissions through.
#[derive(Clone)]
pub struct Pipeline {
    tx: mpsc::Sender<Submission>,
    /// Clients waiting for chains to reach a length.
    pub heads: Arc<HeadWaiters>,
}

/// Clients waiting for chains to reach a length. The writer calls [`HeadWaiters::committed`]
/// after each commit with the heads it wrote, and each waiter whose length is reached gets its
/// chain's head through a channel of its own: a wake costs no database read, and waiters on
/// other chains (or waiting for more) are not woken at all.
#[derive(Default)]
pub struct HeadWaiters {
    next: std::sync::atomic::AtomicU64,
    waiting: std::sync::Mutex<HashMap<String, Vec<Waiter>>>,
}

struct Waiter {
    id: u64,
    min_length: u64,
    tx: oneshot::Sender<Head>,
}

/// A registered wait; dropping it (answered, timed out, or the client gone) unregisters it.
pub struct Waiting {
    waiters: Arc<HeadWaiters>,
    chain: String,
    id: u64,
    rx: oneshot::Receiver<Head>,
}

impl HeadWaiters {
    /// Waits for `chain` to hold at least `min_length` events. Register before reading the
    /// stored head: a commit between the two is then seen by one or the other.
    pub fn wait(self: &Arc<Self>, chain: &str, min_length: u64) -> Waiting {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.lock()
            .entry(chain.to_string())
            .or_default()
            .push(Waiter { id, min_length, tx });
        Waiting {
            waiters: self.clone(),
            chain: chain.to_string(),
            id,
            rx,
        }
    }

    /// Hands each committed head to the waiters it satisfies.
    pub fn committed<'h>(&self, heads: impl IntoIterator<Item = &'h Head>) {
        let mut waiting = self.lock();
        if waiting.is_empty() {
            return;
        }
        for head in heads {
            let Some(list) = waiting.get_mut(&head.chain) else {
                continue;
            };
            let mut i = 0;
            while i < list.len() {
                if list[i].min_length <= head.length {
                    let _ = list.swap_remove(i).tx.send(head.clone());
                } else {
                    i += 1;
                }
            }
            if list.is_empty() {
                waiting.remove(&head.chain);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Waiter>>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Waiting {
    /// The head once the chain reaches the length, or `None` when `within` runs out first.
    pub async fn until(&mut self, within: std::time::Duration) -> Option<Head> {
        tokio::time::timeout(within, &mut self.rx).await.ok()?.ok()
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let mut waiting = self.waiters.lock();
        if let Some(list) = waiting.get_mut(&self.chain) {
            list.retain(|w| w.id != self.id);
            if list.is_empty() {
                waiting.remove(&self.chain);
            }
        }
    }
}

/// The tasks the writer wakes after a commit.
pub struct Wakes {
    /// Delivery, after a commit that raised outbox rows.
    pub outbox: Arc<tokio::sync::Notify>,
    /// System actions, after a commit that queued work (system actions, timers).
    pub queued: Arc<tokio::sync::Notify>,
}

impl Pipeline {
    /// Starts the writer task. `skew_ms` is the clock difference allowed on event timestamps
    /// (`max_clock_skew`; see `accord_chain::time`).
    pub fn start<S: Store>(
        store: Arc<S>,
        key: Arc<KeyPair>,
        metrics: Arc<Metrics>,
        peers: Arc<Peers>,
        wakes: Wakes,
        skew_ms: u64,
        clock: Clock,
    ) -> (Pipeline, tokio::task::JoinHandle<()>) {
        let Wakes { outbox, queued } = wakes;
        let (tx, rx) = mpsc::channel(4096);
        let heads = Arc::new(HeadWaiters::default());
        let writer = Writer {
            store,
            own: key.public_key().to_base58(),
            key,
            metrics,
            peers,
            outbox,
            queued,
            live: HashMap::new(),
            recency: 0,
            heads: heads.clone(),
            skew: skew_ms,
            clock,
        };
        let task = tokio::spawn(writer.run(rx));
        (Pipeline { tx, heads }, task)
    }

    /// Queues a verified chain and waits for the outcome.
    pub async fn submit(
        &self,
        chain: VerifiedChain,
        from: String,
        origin: Origin,
    ) -> Result<Outcome, Refused> {
        self.queue(Work::Chain(chain), from, origin).await
    }

    /// Queues work and waits for the outcome.
    pub async fn queue(
        &self,
        work: Work,
        from: String,
        origin: Origin,
    ) -> Result<Outcome, Refused> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Submission {
                work,
                from,
                origin,
                reply,
                queued: Instant::now(),
            })
            .await
            .map_err(|_| Problem::unavailable("the event pipeline has stopped"))?;
        answer
            .await
            .map_err(|_| Problem::unavailable("the event pipeline stopped before answering"))?
    }
}

/// The body of an event as JSON, when its media type says JSON.
fn json_body(event: &Event) -> Option<Result<Value, String>> {
    let media = event.media_type.split(';').next().unwrap_or("").trim();
    if media != "application/json" && !media.ends_with("+json") {
        return None;
    }
    Some(serde_json::from_slice(&event.data).map_err(|e| {
        format!(
            "the data is not JSON (line {}, column {}): {e}",
            e.line(),
            e.column()
        )
    }))
}

/// The id of the process an event starts (main or sub-process), if it starts one with an id
/// it names. A main process without an id is named by its event's hash, which no other chain
/// can hold, so it is left out.
fn started_id(event: &Event) -> Option<String> {
    // The two fields alone, without building the body (a response's data may be large);
    // a body this cannot read (a key given twice, say) is read as the engine reads it.
    #[derive(serde::Deserialize)]
    struct Fields {
        #[serde(rename = "$schema", default)]
        schema: Option<Value>,
        #[serde(default)]
        id: Option<Value>,
    }
    let media = event.media_type.split(';').next().unwrap_or("").trim();
    if media != "application/json" && !media.ends_with("+json") {
        return None;
    }
    match serde_json::from_slice::<Fields>(&event.data) {
        Ok(f) if event.data.trim_ascii_start().starts_with(b"{") => {
            is_start(f.schema.as_ref()?.as_str()?)
                .then(|| f.id?.as_str().map(String::from))
                .flatten()
        }
        _ => start_of(&json_body(event)?.ok()?),
    }
}

/// The id of the process an event body starts, as [`started_id`].
fn start_of(body: &Value) -> Option<String> {
    let schema = body.get("$schema")?.as_str()?;
    is_start(schema)
        .then(|| body.get("id")?.as_str().map(String::from))
        .flatten()
}

/// Whether a `$schema` is a process start's, as the engine reads it.
fn is_start(schema: &str) -> bool {
    accord_engine::replay::Kind::of(schema) == Some(accord_engine::replay::Kind::Process)
}

/// A work row for a request the engine made. `signkeys` are those of the identity it is
/// carried out for, as the process holds it now: the system task checks them against this
/// node's `system.accept` before it calls or signs anything.
fn work_for(chain: &str, process: &str, request: &Request, signkeys: Value, now: u64) -> NewWork {
    let (kind, due) = match request {
        Request::Http { .. } => (WorkKind::Http, now),
        Request::Nop { .. } => (WorkKind::Nop, now),
        Request::Event { .. } => (WorkKind::Event, now),
        Request::Broken { .. } => (WorkKind::Broken, now),
        Request::Timer { due, .. } => (WorkKind::Timer, *due),
    };
    let queued = crate::system::Queued {
        process: process.to_string(),
        request: request.clone(),
        signkeys: Some(signkeys),
    };
    NewWork {
        kind,
        chain: chain.into(),
        payload: queued.to_json(),
        due_at: due,
    }
}

struct Writer<S> {
    store: Arc<S>,
    key: Arc<KeyPair>,
    /// This node's key, base58.
    own: String,
    metrics: Arc<Metrics>,
    peers: Arc<Peers>,
    /// Woken after a commit that raised outbox rows.
    outbox: Arc<tokio::sync::Notify>,
    /// Woken after a commit that queued work (system actions, timers).
    queued: Arc<tokio::sync::Notify>,
    live: HashMap<String, Live>,
    /// A counter of uses, not time: the chain used longest ago is dropped from `live` first.
    recency: u64,
    /// Told the new heads after each commit.
    heads: Arc<HeadWaiters>,
    /// The clock difference allowed on event timestamps, in milliseconds.
    skew: u64,
    /// The node's clock: the time each batch is placed and stamped at.
    clock: Clock,
}

impl<S: Store> Writer<S> {
    async fn run(mut self, mut rx: mpsc::Receiver<Submission>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            self.commit_batch(std::mem::take(&mut batch)).await;
        }
    }

    /// Loads a chain into memory: its head and a replay of its events, page by page.
    async fn load(&mut self, id: &str) -> Result<(), Problem> {
        if self.live.contains_key(id) {
            return Ok(());
        }
        let (head, replay, parties) = match self.store.head(id).await? {
            None => {
                let chain_id: accord_chain::ChainId = id
                    .parse()
                    .map_err(|e| Problem::invalid(format!("chain id {id}: {e}")))?;
                (
                    Head {
                        chain: id.to_string(),
                        length: 0,
                        tip: chain_id.initial_hash(),
                        state: chain_id.initial_state(),
                        start: None,
                        timestamp: 0,
                    },
                    Replay::new(Some(id.to_string())),
                    HashSet::new(),
                )
            }
            Some(head) => {
                let mut replay = Replay::new(Some(id.to_string()));
                let mut parties = HashSet::new();
                let mut from = 0;
                loop {
                    let page = self.store.events(id, from, accord_store::MAX_PAGE).await?;
                    let Some(last) = page.last() else { break };
                    from = last.seq + 1;
                    for row in &page {
                        parties.insert(row.signer.clone());
                        let event = row_event(id, row)?;
                        if let Some(Ok(body)) = json_body(&event) {
                            replay.apply(EventIn {
                                hash: &base58::encode(&row.hash),
                                timestamp: row.timestamp,
                                signer: &row.signer,
                                body: &body,
                            });
                        }
                    }
                }
                if from != head.length {
                    return Err(Problem::internal(format!(
                        "chain {id}: the store holds {from} events but its head says {}",
                        head.length
                    )));
                }
                add_identity_keys(&replay, &mut parties);
                (head, replay, parties)
            }
        };
        if self.live.len() >= MAX_LIVE {
            // Drop the least recently used tenth.
            let mut used: Vec<u64> = self.live.values().map(|l| l.used).collect();
            used.sort_unstable();
            let cut = used[used.len() / 10];
            self.live.retain(|_, l| l.used > cut);
        }
        self.live.insert(
            id.to_string(),
            Live {
                head,
                replay,
                parties,
                used: 0,
            },
        );
        Ok(())
    }

    /// Where an event is on the chain: in the store, or earlier in this batch.
    async fn position(
        &self,
        id: &str,
        pending: Option<&Pending>,
        hash: [u8; 32],
    ) -> Result<Option<u64>, Problem> {
        if let Some(row) = pending.and_then(|p| p.append.events.iter().find(|e| e.hash == hash)) {
            return Ok(Some(row.seq));
        }
        Ok(self.store.find_event(id, &hash).await?)
    }

    /// Places, applies and commits a batch of submissions in one transaction, then answers
    /// each submitter.
    async fn commit_batch(&mut self, batch: Vec<Submission>) {
        let mut pending: Vec<Pending> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut answers: Vec<(Submission, Outcome)> = Vec::with_capacity(batch.len());
        let now = self.clock.now_ms();
        for sub in batch {
            let id = sub.work.chain_id().to_base58();
            let slot = index.get(&id).copied();
            match self.place(&id, &sub, slot.map(|i| &pending[i]), now).await {
                Err(refused) => {
                    tracing::debug!(chain = %id, from = %sub.from, %refused, "submission refused");
                    let _ = sub.reply.send(Err(refused));
                }
                Ok(Placed::Duplicates(n)) => {
                    let live = &self.live[&id];
                    let outcome = Outcome {
                        id: id.clone(),
                        added: Vec::new(),
                        duplicates: n,
                        refused: Vec::new(),
                        error_event: None,
                        length: live.head.length,
                        tip: base58::encode(&live.head.tip),
                        state: base58::encode(&live.head.state),
                    };
                    answers.push((sub, outcome));
                }
                Ok(Placed::New { skip }) => {
                    if sub.origin == Origin::Local
                        && let Err(refused) =
                            self.refuse_taken_ids(&id, &sub.work, skip, &pending).await
                    {
                        tracing::debug!(chain = %id, from = %sub.from, %refused, "submission refused");
                        let _ = sub.reply.send(Err(refused));
                        continue;
                    }
                    let i = *index.entry(id.clone()).or_insert_with(|| {
                        let head = self.live[&id].head.clone();
                        pending.push(Pending {
                            append: Append {
                                expected: head.length,
                                head,
                                events: Vec::new(),
                                parties: Vec::new(),
                                processes: Vec::new(),
                                work: Vec::new(),
                                deliveries: Vec::new(),
                                confirmed: Vec::new(),
                            },
                        });
                        pending.len() - 1
                    });
                    let version = sub.work.chain_id().version();
                    let outcome = match &sub.work {
                        Work::Chain(chain) => {
                            let new = chain.events()[skip..].iter().map(|v| {
                                (
                                    std::borrow::Cow::Borrowed(v.event()),
                                    v.hash(),
                                    v.sign_key().to_base58(),
                                )
                            });
                            let how = How {
                                version,
                                skip,
                                now,
                                origin: sub.origin,
                            };
                            self.apply(&id, new, &mut pending[i], how)
                        }
                        Work::Build { body, key, .. } => {
                            let head = &self.live[&id].head;
                            let (tip, at) = (head.tip, time::stamp(now, head.timestamp));
                            match build(body, tip, version, key, at) {
                                Ok((event, hash)) => {
                                    let signer = key.public_key().to_base58();
                                    let new = std::iter::once((
                                        std::borrow::Cow::Owned(event),
                                        hash,
                                        signer,
                                    ));
                                    let how = How {
                                        version,
                                        skip: 0,
                                        now,
                                        origin: Origin::Local,
                                    };
                                    self.apply(&id, new, &mut pending[i], how)
                                }
                                Err(problem) => {
                                    let _ = sub.reply.send(Err(problem.into()));
                                    continue;
                                }
                            }
                        }
                    };
                    answers.push((sub, outcome));
                }
            }
        }
        if pending.is_empty() {
            self.answer(answers, Ok(()));
            return;
        }
        // Projections of every process on each chain, once per chain per batch.
        for p in &mut pending {
            let id = p.append.head.chain.clone();
            if let Some(live) = self.live.get(&id) {
                p.append.processes = projections(&id, &live.replay);
            }
        }
        let appends: Vec<Append> = pending.into_iter().map(|p| p.append).collect();
        let result = self.store.commit(&appends, now).await;
        if result.is_err() {
            for a in &appends {
                self.live.remove(&a.head.chain);
            }
        } else {
            self.metrics.batch_size.observe(appends.len() as f64);
            self.heads.committed(appends.iter().map(|a| &a.head));
            if appends.iter().any(|a| !a.deliveries.is_empty()) {
                self.outbox.notify_one();
            }
            if appends.iter().any(|a| !a.work.is_empty()) {
                self.queued.notify_one();
            }
        }
        self.answer(answers, result.map_err(Problem::from));
    }

    fn answer(&self, answers: Vec<(Submission, Outcome)>, result: Result<(), Problem>) {
        for (sub, outcome) in answers {
            let reply = match &result {
                Ok(()) => {
                    let m = &self.metrics;
                    m.events_in.fetch_add(
                        outcome.added.len() as u64,
                        std::sync::atomic::Ordering::Relaxed,
                    );
                    m.events_refused.fetch_add(
                        outcome.refused.len() as u64,
                        std::sync::atomic::Ordering::Relaxed,
                    );
                    m.events_duplicate.fetch_add(
                        outcome.duplicates as u64,
                        std::sync::atomic::Ordering::Relaxed,
                    );
                    m.pipeline_seconds
                        .observe(sub.queued.elapsed().as_secs_f64());
                    Ok(outcome)
                }
                Err(p) => Err(Refused::Failed(p.clone())),
            };
            let _ = sub.reply.send(reply);
        }
    }

    /// Refuses a local submission (`skip`: the events at its start the node holds) whose new
    /// events start a process, main or sub-process, with an id this node holds on another
    /// chain: in the store, or on a chain an earlier submission of this batch (`pending`)
    /// started it on. A process is addressed by its chain and its id, so two chains may hold
    /// the same id; but a user of this node who starts an id the node holds already would
    /// make every lookup of it here without a chain ambiguous, and would most likely be
    /// talking about the process that exists. Called before anything of the submission is
    /// applied, by the one writer, so of two starts of one id in a batch only the first
    /// stands. Chains from peers never come here: two organisations may each have a `doc-1`.
    /// The problem names no other chain: the caller may not be allowed to read it.
    async fn refuse_taken_ids(
        &self,
        id: &str,
        work: &Work,
        skip: usize,
        pending: &[Pending],
    ) -> Result<(), Refused> {
        let started: Vec<String> = match work {
            Work::Chain(chain) => chain.events()[skip..]
                .iter()
                .filter_map(|v| started_id(v.event()))
                .collect(),
            Work::Build { body, .. } => start_of(body).into_iter().collect(),
        };
        for process in started {
            let in_batch = pending.iter().any(|p| {
                p.append.head.chain != id
                    && self
                        .live
                        .get(&p.append.head.chain)
                        .is_some_and(|l| l.replay.process_by_id(&process).is_some())
            });
            if in_batch
                || self
                    .store
                    .process_chains(&process)
                    .await?
                    .iter()
                    .any(|c| c != id)
            {
                return Err(Refused::ProcessExists {
                    chain: id.to_string(),
                    process,
                });
            }
        }
        Ok(())
    }

    /// Decides where a submission's events go (`accord_chain::place`), changing nothing.
    async fn place(
        &mut self,
        id: &str,
        sub: &Submission,
        pending: Option<&Pending>,
        now: u64,
    ) -> Result<Placed, Refused> {
        self.load(id).await?;
        self.recency += 1;
        // Copied out (no allocation): the placement below borrows the writer to look events up.
        let (tip, length, stub) = {
            let live = self.live.get_mut(id).expect("loaded above");
            live.used = self.recency;
            (live.head.tip, live.head.length, live.head.start)
        };
        let chain = match &sub.work {
            Work::Chain(chain) => chain,
            Work::Build { .. } if length == 0 => {
                return Err(Refused::NotHeld {
                    chain: id.to_string(),
                });
            }
            Work::Build { key, .. } => {
                // A key the node holds for a user signs only while it holds an identity on
                // the chain (the node's own key signs its error events and system answers).
                let signer = key.public_key().to_base58();
                if signer != self.own && !self.live[id].holds_identity(&signer) {
                    return Err(Refused::NoIdentity {
                        chain: id.to_string(),
                        signer,
                        event: None,
                    });
                }
                return Ok(Placed::New { skip: 0 });
            }
        };
        let initial = chain.id().initial_hash();
        let held = accord_chain::Held {
            start: stub.map_or(initial, |(hash, _)| hash),
            tip,
            length,
            initial,
        };
        let start = chain.start().map_or(initial, |s: &PartialStart| s.hash);
        let events = chain.events();
        let hashes: Vec<[u8; 32]> = events.iter().map(|e| e.hash()).collect();
        let this = &*self;
        let placement = accord_chain::place::place(&held, start, &hashes, |hash| {
            this.position(id, pending, hash)
        })
        .await?;
        let skip = match placement {
            accord_chain::Placement::Extends { skip } => skip,
            accord_chain::Placement::Duplicate => return Ok(Placed::Duplicates(events.len())),
            placement => {
                return Err(NotPlaced {
                    chain: id.to_string(),
                    placement,
                    tip,
                    length,
                }
                .into());
            }
        };
        let new = &events[skip..];
        self.check_times(id, new, sub.origin, now)?;
        if sub.origin == Origin::Local && length > 0 {
            self.check_signers(id, new)?;
        }
        Ok(Placed::New { skip })
    }

    /// Refuses a placed submission whose new events' timestamps cannot be believed
    /// (`accord_chain::time`): before the event they follow, from the future, or, from this
    /// node's own users, outside the skew of its clock.
    fn check_times(
        &self,
        id: &str,
        new: &[accord_chain::VerifiedEvent],
        origin: Origin,
        now: u64,
    ) -> Result<(), Refused> {
        let receipt = match origin {
            Origin::Local => time::Receipt::Author,
            Origin::Peer => time::Receipt::Relay,
        };
        let head = &self.live[id].head;
        let mut previous = (head.length > 0).then_some(head.timestamp);
        for (n, event) in new.iter().enumerate() {
            let timestamp = event.event().timestamp;
            if let Err(why) = time::check(timestamp, previous, now, self.skew, receipt) {
                return Err(Refused::Timestamp {
                    chain: id.to_string(),
                    event: base58::encode(&event.hash()),
                    nth: n + 1,
                    timestamp,
                    why,
                    receipt,
                    now,
                });
            }
            previous = Some(timestamp);
        }
        Ok(())
    }

    /// Refuses a user's submission to a chain this node holds when one of its new events is
    /// signed by a key that holds no identity on the chain (a spent invitation key, a replaced
    /// key, or one never named), before anything is placed: such events would be refused by
    /// the process anyway, and would only grow every party's chain. Identity events earlier in
    /// the same submission count as the process takes them (`take_identity`, the engine's own
    /// rule): one the process would refuse (another's identity, a key held already) names no
    /// one, and one that replaces a key spends it for the events after it. This node's own key
    /// is exempt.
    fn check_signers(&self, id: &str, new: &[accord_chain::VerifiedEvent]) -> Result<(), Refused> {
        let live = &self.live[id];
        // The chain's identities as the process will hold them before each event, copied
        // only once the submission holds an identity event with events after it.
        let mut identities: Option<Vec<accord_engine::process::Identity>> = None;
        for (n, event) in new.iter().enumerate() {
            let signer = event.sign_key().to_base58();
            let holds = match &identities {
                Some(now) => now.iter().any(|i| i.has_key(&signer)),
                None => live.holds_identity(&signer),
            };
            if signer != self.own && !holds {
                return Err(Refused::NoIdentity {
                    chain: id.to_string(),
                    signer,
                    event: Some(base58::encode(&event.hash())),
                });
            }
            // An identity event changes who signs the events after it (read only when some
            // follow), as the process would take it: an I-JSON body it does not refuse.
            if n + 1 < new.len()
                && let Some(Ok(body)) = json_body(event.event())
                && body
                    .get("$schema")
                    .and_then(Value::as_str)
                    .and_then(accord_engine::replay::Kind::of)
                    == Some(accord_engine::replay::Kind::Identity)
                && accord_engine::replay::check_body(&body).is_ok()
            {
                let now = identities.get_or_insert_with(|| live.replay.identities().to_vec());
                // A refused identity event changes nothing, here as in the process.
                let _ = accord_engine::replay::take_identity(now, &body, &signer);
            }
        }
        Ok(())
    }

    /// Appends a placed submission's new events, applies them, and answers refusals.
    fn apply<'e>(
        &mut self,
        id: &str,
        new: impl Iterator<Item = (std::borrow::Cow<'e, Event>, [u8; 32], String)>,
        pending: &mut Pending,
        how: How,
    ) -> Outcome {
        let How {
            version,
            skip,
            now,
            origin,
        } = how;
        let ctx = Ctx {
            now,
            origin,
            own: &self.own,
        };
        let live = self.live.get_mut(id).expect("placed chains are loaded");
        let mut added = Vec::new();
        let mut refused = Vec::new();
        let mut refused_hashes = Vec::new();
        for (event, hash, signer) in new {
            let event = event.as_ref();
            let hash58 = base58::encode(&hash);
            push(live, pending, event, hash, &signer);
            if let Some(reason) = apply_one(live, pending, id, event, &hash58, &signer, &ctx) {
                refused_hashes.push(hash58.clone());
                refused.push(RefusedEvent {
                    hash: hash58.clone(),
                    reason,
                });
            }
            added.push(hash58);
        }
        let mut error_event = None;
        if !refused.is_empty() && origin == Origin::Local {
            let body = accord_engine::bodies::error(
                refused.iter().map(|r| r.reason.clone()).collect(),
                refused_hashes,
            );
            let at = time::stamp(now, live.head.timestamp);
            match build(&body, live.head.tip, version, &self.key, at) {
                Ok((event, hash)) => {
                    let hash58 = base58::encode(&hash);
                    let signer = self.key.public_key().to_base58();
                    push(live, pending, &event, hash, &signer);
                    apply_one(live, pending, id, &event, &hash58, &signer, &ctx);
                    added.push(hash58.clone());
                    error_event = Some(hash58);
                }
                Err(e) => tracing::error!(chain = %id, error = %e, "cannot sign an error event"),
            }
        }
        // Parties: signers, the keys of every identity on the chain and their nodes' keys.
        let mut keys = HashSet::new();
        add_identity_keys(&live.replay, &mut keys);
        let nodes = identity_nodes(&live.replay, &self.peers);
        keys.extend(nodes.iter().filter(|n| is_key(n)).cloned());
        for key in keys {
            if live.parties.insert(key.clone()) {
                pending.append.parties.push(key);
            }
        }
        // What this node took first goes to every other party's node. What came from a peer,
        // every other party's node has or will have from the events' authors: no one sends it
        // to them again (a node that lacks it says so, and is sent it).
        for node in nodes {
            if node == self.own {
                continue;
            }
            match origin {
                Origin::Local => {
                    if !pending.append.deliveries.contains(&node) {
                        pending.append.deliveries.push(node);
                    }
                }
                Origin::Peer if !added.is_empty() => {
                    let length = live.head.length;
                    match pending
                        .append
                        .confirmed
                        .iter_mut()
                        .find(|(n, _)| *n == node)
                    {
                        Some((_, l)) => *l = (*l).max(length),
                        None => pending.append.confirmed.push((node, length)),
                    }
                }
                Origin::Peer => {}
            }
        }
        pending.append.head = live.head.clone();
        Outcome {
            id: id.to_string(),
            added,
            duplicates: skip,
            refused,
            error_event,
            length: live.head.length,
            tip: base58::encode(&live.head.tip),
            state: base58::encode(&live.head.state),
        }
    }
}

/// An event with `body`, on `tip`, signed by `key`.
fn build(
    body: &Value,
    tip: [u8; 32],
    version: accord_chain::Version,
    key: &KeyPair,
    now: u64,
) -> Result<(Event, [u8; 32]), Problem> {
    Event::signed_on(accord_chain::Draft::json(body), tip, now, version, key)
        .map_err(|e| Problem::internal(format!("cannot sign the event: {e}")))
}

/// The projection rows of every process on a chain: the main one with its sub-processes'
/// summary, then each sub-process.
fn projections(chain: &str, replay: &Replay) -> Vec<ProcessRow> {
    let mut rows = Vec::new();
    for (n, p) in replay.processes().iter().enumerate() {
        let Some(pid) = p.doc().get("id").and_then(Value::as_str) else {
            continue;
        };
        let bytes = if n == 0 {
            replay.to_canonical().unwrap_or_else(|| b"null".to_vec())
        } else {
            p.to_canonical()
        };
        rows.push(ProcessRow {
            id: pid.to_string(),
            chain: chain.to_string(),
            // Canonical JSON is only ever valid UTF-8.
            json: String::from_utf8(bytes).unwrap_or_default(),
        });
    }
    rows
}

/// How a placed submission is applied.
struct How {
    /// The chain's version (for the error event).
    version: accord_chain::Version,
    /// Events at the start of the submission the node held already.
    skip: usize,
    /// The writer's clock for this batch.
    now: u64,
    /// Where the submission comes from.
    origin: Origin,
}

enum Placed {
    /// Every event is held already.
    Duplicates(usize),
    /// The events from `skip` on are new and extend the tip.
    New { skip: usize },
}

/// Puts an event on the in-memory head and into the pending append.
fn push(live: &mut Live, pending: &mut Pending, event: &Event, hash: [u8; 32], signer: &str) {
    let seq = live.head.length;
    live.head.length += 1;
    live.head.state = next_state(&live.head.state, &hash);
    live.head.tip = hash;
    live.head.timestamp = event.timestamp;
    let mut stored = event.clone();
    stored.hash = Some(hash);
    pending.append.events.push(EventRow {
        seq,
        hash,
        state: live.head.state,
        timestamp: event.timestamp,
        signer: signer.to_string(),
        json: stored.to_json(),
    });
    if live.parties.insert(signer.to_string()) {
        pending.append.parties.push(signer.to_string());
    }
}

/// Applies one event to the chain's processes; `Some(reason)` when the process refused it.
fn apply_one(
    live: &mut Live,
    pending: &mut Pending,
    chain: &str,
    event: &Event,
    hash: &str,
    signer: &str,
    ctx: &Ctx<'_>,
) -> Option<String> {
    let body = match json_body(event)? {
        Ok(body) => body,
        Err(reason) => return Some(reason),
    };
    match live.replay.apply(EventIn {
        hash,
        timestamp: event.timestamp,
        signer,
        body: &body,
    }) {
        Applied::Rejected(r) => Some(r.to_string()),
        Applied::Started(moved) | Applied::Stepped(moved) => {
            // Only what this node runs is queued here: every node applies the same events.
            for assigned in moved.requests.iter().filter(|a| runs_here(a, ctx)) {
                let keys = assigned
                    .carrier
                    .as_ref()
                    .map_or(Value::Null, |c| c.identity.signkeys_json());
                pending.append.work.push(work_for(
                    chain,
                    &moved.process,
                    &assigned.request,
                    keys,
                    ctx.now,
                ));
            }
            None
        }
        _ => None,
    }
}

/// What applying an event needs to know besides the event.
struct Ctx<'a> {
    /// The writer's clock for this batch.
    now: u64,
    /// Where the event came from.
    origin: Origin,
    /// This node's key, base58.
    own: &'a str,
}

/// Whether this node runs a request of the engine. An actor's system actions are run by the
/// node whose key is that actor's identity's `system` key; a time-out by the node whose key is
/// the system key of the first actor (by name) that has one; a broken step with no actor by
/// the node that took the event. Every node applies the same events, so each decides the same,
/// and exactly one runs each request.
fn runs_here(assigned: &Assigned, ctx: &Ctx<'_>) -> bool {
    match (&assigned.request, &assigned.carrier) {
        (Request::Broken { actor, .. }, _) if actor.is_empty() => ctx.origin == Origin::Local,
        (_, Some(carrier)) => carrier.identity.key("system") == Some(ctx.own),
        (_, None) => false,
    }
}

/// The nodes of the identities on a chain, resolved through the configured peers, in the
/// order the identities appear.
fn identity_nodes(replay: &Replay, peers: &Peers) -> Vec<String> {
    let mut nodes: Vec<String> = Vec::new();
    for identity in replay.identities() {
        if let Some(node) = identity.node.as_deref().filter(|n| !n.is_empty()) {
            let node = peers.resolve(node);
            if !nodes.contains(&node) {
                nodes.push(node);
            }
        }
    }
    nodes
}

fn add_identity_keys(replay: &Replay, keys: &mut HashSet<String>) {
    for identity in replay.identities() {
        for (_, key) in &identity.signkeys {
            keys.insert(key.clone());
        }
    }
}

/// Reads a stored event back.
pub fn row_event(chain: &str, row: &EventRow) -> Result<Event, Problem> {
    let json = accord_chain::json::chain_json(chain, None, [row.json.as_str()]);
    let mut parsed = accord_chain::Chain::from_json(json.as_bytes())
        .map_err(|e| Problem::internal(format!("stored event {} of {chain}: {e}", row.seq)))?;
    parsed
        .events
        .pop()
        .ok_or_else(|| Problem::internal(format!("stored event {} of {chain} is empty", row.seq)))
}
