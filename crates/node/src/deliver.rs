//! Delivery: the outbox drained to the other parties' nodes over HTTP.
//!
//! The pipeline raises a peer's outbox row for a chain in the same transaction as the events
//! this node took first (see [`crate::pipeline::Origin`]). This task claims due rows, sends
//! each peer the chain's events it has not confirmed (a partial chain, from a stub, to the
//! peer's `POST /event-chains`, signed with this node's key) and records the answer:
//!
//! - stored: the peer holds the chain up to what was sent;
//! - `missing-events` or `unknown-chain`: the peer says where it is; the next attempt, at
//!   once, starts there (a peer new to a chain gets it whole);
//! - 5xx, 413, 429, a timeout or no connection: tried again after an exponential backoff
//!   with jitter (429: after its `Retry-After`, at most the longest backoff), and dead after
//!   `max_attempts`. A delivery carries at most 1 MiB of events, so a long chain goes in
//!   several;
//! - any other refusal (a fork, a bad signature, not a party): dead at once, with the peer's
//!   reason; retrying would not change it.
//!
//! Dead rows stay until `POST /outbox/{id}/replay`. Invariants: a row is sent by one attempt
//! at a time (claims lease it; a row that a confirmation makes done mid-attempt and a new
//! commit makes pending again may get a second, and only the attempt holding the lease
//! records its answer), so a peer receives each chain's events in order; rows are
//! independent, and one peer has at most a quarter of the `concurrency` attempts under way,
//! so a slow chain or peer holds up only its own rows; nothing is sent to a node that is not
//! a party (rows are raised only for the nodes of the chain's identities).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use accord_chain::PartialStart;
use accord_store::{Delivered, Delivery, MAX_PAGE, Store};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use crate::client::Answer;
use crate::clock::Clock;
use crate::links::Links;
use crate::peers::Peers;
use crate::sync::{PeerAnswer, PeerProblem};

/// The most event JSON one delivery carries (a peer's default body limit is 4 MiB).
const PAGE_BYTES: usize = 1 << 20;

/// How deliveries are retried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The first retry's delay; each later one doubles it.
    pub backoff: Duration,
    /// The longest delay between retries.
    pub backoff_max: Duration,
    /// Failed attempts in a row after which a delivery is dead.
    pub max_attempts: u32,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// Attempts under way at once, over all peers.
    pub concurrency: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            backoff: Duration::from_secs(1),
            backoff_max: Duration::from_secs(600),
            max_attempts: 16,
            timeout: Duration::from_secs(30),
            concurrency: 64,
        }
    }
}

impl From<&crate::config::Delivery> for Settings {
    fn from(c: &crate::config::Delivery) -> Settings {
        Settings {
            backoff: Duration::from_millis(c.backoff_ms),
            backoff_max: Duration::from_millis(c.backoff_max_ms),
            max_attempts: c.max_attempts,
            timeout: Duration::from_millis(c.timeout_ms),
            concurrency: c.concurrency,
        }
    }
}

/// The delay before retry number `attempts` (1 for the first): `backoff · 2^(attempts−1)`, at
/// most `backoff_max`, scaled by a random factor in [0.5, 1) so peers that failed together do
/// not retry together.
pub fn backoff(settings: &Settings, attempts: u32, jitter: f64) -> Duration {
    let doubling = 2u32.saturating_pow(attempts.saturating_sub(1).min(30));
    let full = settings
        .backoff
        .saturating_mul(doubling)
        .min(settings.backoff_max);
    full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// Starts the delivery task. It runs until the runtime stops.
pub fn start<S: Store>(
    store: Arc<S>,
    links: Arc<dyn Links>,
    peers: Arc<Peers>,
    outbox: Arc<Notify>,
    settings: Settings,
    clock: Clock,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(store, links, peers, outbox, settings, clock))
}

async fn run<S: Store>(
    store: Arc<S>,
    links: Arc<dyn Links>,
    peers: Arc<Peers>,
    outbox: Arc<Notify>,
    settings: Settings,
    clock: Clock,
) {
    let settings = Arc::new(settings);
    let slots = Arc::new(Semaphore::new(settings.concurrency.max(1)));
    // Attempts under way per peer, at most a quarter of the slots each: a peer that hangs
    // holds up its own rows, not everyone's.
    let per_peer = (settings.concurrency / 4).max(1);
    let busy: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    // A claimed row is leased for longer than an attempt can take.
    let lease = settings.timeout.saturating_mul(2) + Duration::from_secs(5);
    loop {
        // Slots first, then as many rows as there are slots: a claimed row's lease runs from
        // when its attempt starts.
        let Some(mut permits) = free_slots(&slots).await else {
            return;
        };
        let now = clock.now_ms();
        let skip: Vec<String> = {
            let busy = busy.lock().unwrap_or_else(|e| e.into_inner());
            busy.iter()
                .filter(|(_, n)| **n >= per_peer)
                .map(|(p, _)| p.clone())
                .collect()
        };
        let claimed = match store
            .claim_deliveries(
                now,
                permits.len() as u32,
                now + lease.as_millis() as u64,
                &skip,
            )
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the outbox");
                Vec::new()
            }
        };
        if claimed.is_empty() {
            drop(permits);
            // Woken by a commit that raised rows, or a replay; else look again for retries.
            let _ = tokio::time::timeout(Duration::from_millis(250), outbox.notified()).await;
            continue;
        }
        for row in claimed {
            // One claim may take more of a peer's rows than it may have under way.
            let over = {
                let mut busy = busy.lock().unwrap_or_else(|e| e.into_inner());
                let n = busy.entry(row.peer.clone()).or_default();
                if *n >= per_peer {
                    true
                } else {
                    *n += 1;
                    false
                }
            };
            if over {
                if let Err(e) = store.release_delivery(&row, now).await {
                    tracing::warn!(error = %e, id = row.id, "cannot give a delivery back; it comes back when its lease ends");
                }
                continue;
            }
            let Some(slot) = permits.pop() else {
                break;
            };
            let (store, links, peers, settings, busy, outbox, clock) = (
                store.clone(),
                links.clone(),
                peers.clone(),
                settings.clone(),
                busy.clone(),
                outbox.clone(),
                clock.clone(),
            );
            tokio::spawn(async move {
                // The whole attempt, reads included, within the lease.
                let outcome = tokio::time::timeout(
                    settings.timeout + Duration::from_secs(2),
                    attempt(&*store, &*links, &peers, &settings, &row, &clock),
                )
                .await
                .unwrap_or_else(|_| {
                    retry(
                        &settings,
                        &row,
                        "the attempt took longer than its time-out".into(),
                        clock.now_ms(),
                        jitter(),
                    )
                });
                match &outcome {
                    Delivered::Reached { length } => {
                        tracing::debug!(peer = %row.peer, chain = %row.chain, length, "delivered")
                    }
                    Delivered::Retry { error, retry_at } => {
                        tracing::info!(peer = %row.peer, chain = %row.chain, attempts = row.attempts, %error, retry_at, "delivery failed; retrying later")
                    }
                    Delivered::Dead { error } => {
                        tracing::warn!(peer = %row.peer, chain = %row.chain, %error, "delivery is dead until replayed (POST /outbox/{}/replay)", row.id)
                    }
                }
                if let Err(e) = store.finish_delivery(&row, &outcome, clock.now_ms()).await {
                    tracing::warn!(error = %e, id = row.id, "cannot record a delivery; it is tried again when its lease ends");
                }
                {
                    let mut busy = busy.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(n) = busy.get_mut(&row.peer) {
                        *n = n.saturating_sub(1);
                        if *n == 0 {
                            busy.remove(&row.peer);
                        }
                    }
                }
                drop(slot);
                // The row may be due again at once (events committed during the attempt: the
                // commit's wake-up found it leased), and its peer may have been skipped as
                // busy: look again now, not when the 250 ms wait runs out.
                outbox.notify_one();
            });
        }
    }
}

/// Waits for a free slot, then takes every other free one: a task claims as many rows as it
/// can start at once. `None` once the semaphore is closed.
pub(crate) async fn free_slots(slots: &Arc<Semaphore>) -> Option<Vec<OwnedSemaphorePermit>> {
    let first = slots.clone().acquire_owned().await.ok()?;
    let mut permits = vec![first];
    while let Ok(p) = slots.clone().try_acquire_owned() {
        permits.push(p);
    }
    Some(permits)
}

/// A number in [0, 1), from the system's randomness (0.5 if it has none).
fn jitter() -> f64 {
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

/// A failure worth retrying (at `now` plus the backoff, scaled by `jitter` in [0, 1)), or
/// dead when the attempts are spent.
pub(crate) fn retry(
    settings: &Settings,
    row: &Delivery,
    error: String,
    now: u64,
    jitter: f64,
) -> Delivered {
    if row.attempts >= settings.max_attempts {
        return Delivered::Dead {
            error: format!("{error} (gave up after {} attempts)", row.attempts),
        };
    }
    let delay = backoff(settings, row.attempts, jitter);
    Delivered::Retry {
        error,
        retry_at: now.saturating_add(delay.as_millis() as u64),
    }
}

/// One attempt to bring a peer up to date on one chain.
async fn attempt<S: Store>(
    store: &S,
    links: &dyn Links,
    peers: &Peers,
    settings: &Settings,
    row: &Delivery,
    clock: &Clock,
) -> Delivered {
    let Some(url) = peers.url(&row.peer) else {
        return Delivered::Dead {
            error: format!(
                "no URL for node {}: add it to `peers` in the configuration, restart, then replay",
                row.peer
            ),
        };
    };
    let (json, upto) = match partial_chain(store, row).await {
        Ok(Some(page)) => page,
        Ok(None) => return Delivered::Reached { length: row.sent },
        Err(e) => {
            return retry(
                settings,
                row,
                format!("cannot read the chain: {e}"),
                clock.now_ms(),
                jitter(),
            );
        }
    };
    let reply = tokio::time::timeout(
        settings.timeout,
        links.send(&row.peer, "POST", "/event-chains", Some(json.into_bytes())),
    )
    .await
    .unwrap_or_else(|_| {
        Err(format!(
            "{url} did not answer within {:?}",
            settings.timeout
        ))
    });
    judge(settings, row, upto, url, reply, clock.now_ms(), jitter())
}

/// What an attempt that sent the row's events up to `upto` comes to, from the peer's answer
/// (or why there was none) at `now`; `jitter` in [0, 1) scales a backoff.
pub(crate) fn judge(
    settings: &Settings,
    row: &Delivery,
    upto: u64,
    url: &str,
    reply: Result<Answer, String>,
    now: u64,
    jitter: f64,
) -> Delivered {
    let answer = match reply {
        Ok(answer) => answer,
        Err(error) => return retry(settings, row, error, now, jitter),
    };
    if (200..300).contains(&answer.status) {
        return Delivered::Reached { length: upto };
    }
    let problem = PeerAnswer::read(&answer.body);
    let kind = problem.as_ref().map_or(PeerProblem::Other, |p| p.kind);
    let detail = problem
        .as_ref()
        .and_then(|p| p.detail.clone())
        .unwrap_or_else(|| {
            String::from_utf8_lossy(&answer.body)
                .chars()
                .take(300)
                .collect()
        });
    let error = format!("{url} answered {}: {detail}", answer.status);
    match (answer.status, kind) {
        (409, PeerProblem::MissingEvents) => {
            let theirs = problem.and_then(|p| p.length).unwrap_or(0);
            if theirs < row.sent {
                Delivered::Reached { length: theirs }
            } else {
                retry(settings, row, error, now, jitter)
            }
        }
        (409, PeerProblem::UnknownChain) if row.sent > 0 => Delivered::Reached { length: 0 },
        // Rate-limited, or events stamped ahead of the peer's clock (it takes them once its
        // clock is there): after the peer's Retry-After.
        (429, _) | (503, PeerProblem::TooEarly) => {
            // The peer's Retry-After, at most the longest backoff.
            let asked = answer
                .header("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map_or(Duration::from_secs(1), Duration::from_secs)
                .min(settings.backoff_max);
            if row.attempts >= settings.max_attempts {
                return retry(settings, row, error, now, jitter);
            }
            Delivered::Retry {
                error,
                retry_at: now.saturating_add(asked.as_millis() as u64),
            }
        }
        (status, _) if status >= 500 || status == 413 => retry(settings, row, error, now, jitter),
        _ => Delivered::Dead { error },
    }
}

/// The chain's events from the peer's confirmed length on (a page at most), as a partial
/// chain, and the length the peer reaches with them; `None` when there is nothing to send.
pub(crate) async fn partial_chain<S: Store>(
    store: &S,
    row: &Delivery,
) -> Result<Option<(String, u64)>, accord_store::StoreError> {
    // `wanted` never passes the chain's length (it is raised to it in the commit that adds
    // the events), so the head is read only for a first delivery, which may start from a stub.
    let (upto, start) = if row.sent == 0 {
        let Some(head) = store.head(&row.chain).await? else {
            return Ok(None);
        };
        (row.wanted.min(head.length), head.start)
    } else {
        (row.wanted, None)
    };
    if row.sent >= upto {
        return Ok(None);
    }
    // The event before the first one sent gives the stub.
    let from = row.sent.saturating_sub(1);
    let count = (upto - from).min(u64::from(MAX_PAGE)) as u32;
    let events = store.events(&row.chain, from, count).await?;
    let (stub, events) = if row.sent == 0 {
        let start = start.map(|(hash, state)| PartialStart { hash, state });
        (start, &events[..])
    } else {
        match events.split_first() {
            Some((before, rest)) => (
                Some(PartialStart {
                    hash: before.hash,
                    state: before.state,
                }),
                rest,
            ),
            None => return Ok(None),
        }
    };
    if events.is_empty() {
        return Ok(None);
    }
    // At most PAGE_BYTES of events (at least one), well under a peer's default body limit.
    let mut bytes = 0;
    let mut take = 0;
    for e in events {
        bytes += e.json.len() + 1;
        if take > 0 && bytes > PAGE_BYTES {
            break;
        }
        take += 1;
    }
    let events = &events[..take];
    let reached = events.last().map_or(row.sent, |e| e.seq + 1);
    let json = accord_chain::json::chain_json(
        &row.chain,
        stub.as_ref(),
        events.iter().map(|e| e.json.as_str()),
    );
    Ok(Some((json, reached)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_below_it() {
        let s = Settings {
            backoff: Duration::from_millis(100),
            backoff_max: Duration::from_secs(2),
            ..Settings::default()
        };
        assert_eq!(backoff(&s, 1, 1.0), Duration::from_millis(100));
        assert_eq!(backoff(&s, 2, 1.0), Duration::from_millis(200));
        assert_eq!(backoff(&s, 4, 1.0), Duration::from_millis(800));
        assert_eq!(backoff(&s, 6, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(&s, 60, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(&s, 3, 0.0), Duration::from_millis(200));
        assert!(backoff(&s, 3, 0.5) < Duration::from_millis(400));
    }

    fn row() -> Delivery {
        Delivery {
            id: 1,
            peer: "peer".into(),
            chain: "chain".into(),
            wanted: 5,
            sent: 2,
            state: accord_store::RowState::Pending,
            attempts: 1,
            due_at: 0,
            error: None,
        }
    }

    fn answer(status: u16, kind: &str, retry_after: Option<&str>) -> Result<Answer, String> {
        let body = serde_json::json!({"type": format!("urn:accord:problem:{kind}"), "detail": "d"});
        Ok(Answer {
            status,
            headers: retry_after
                .map(|r| vec![("retry-after".to_string(), r.to_string())])
                .unwrap_or_default(),
            body: body.to_string().into_bytes(),
        })
    }

    #[test]
    fn events_stamped_ahead_of_the_peer_wait_for_its_clock_and_bad_timestamps_are_dead() {
        let s = Settings::default();
        let now = 1_000_000;
        // Too early: after the peer's Retry-After, not the backoff.
        let early = judge(
            &s,
            &row(),
            5,
            "u",
            answer(503, "too-early", Some("7")),
            now,
            0.5,
        );
        assert_eq!(
            early,
            Delivered::Retry {
                error: "u answered 503: d".into(),
                retry_at: now + 7_000
            }
        );
        // Any other 503 backs off as before.
        let down = judge(
            &s,
            &row(),
            5,
            "u",
            answer(503, "unavailable", Some("7")),
            now,
            0.5,
        );
        assert!(matches!(down, Delivered::Retry { retry_at, .. } if retry_at != now + 7_000));
        // A timestamp the peer cannot believe will not change: dead.
        let bad = judge(
            &s,
            &row(),
            5,
            "u",
            answer(422, "invalid-timestamp", None),
            now,
            0.5,
        );
        assert!(matches!(bad, Delivered::Dead { .. }), "{bad:?}");
    }
}
