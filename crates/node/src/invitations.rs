//! Invitations across nodes: a party whose key the inviter does not know yet.
//!
//! The inviter puts an identity on the chain whose only key is a one-time key, with no node,
//! and hands the one-time key to the invitee out of band (`accord process start --invite`
//! writes it to an invitation file). The invitee gives the invitation to its own node
//! (`POST /invitations`, signed with the invitee's key, registered there). That node fetches
//! the chain from the inviting node, signing with the one-time key (a party while the identity
//! holds it), and sends the inviting node one event signed with the one-time key: the same
//! identity with the invitee's key as `user`, this node's key as `system`, and this node as
//! its `node`. The inviting node takes it as it takes any party's event (the engine lets an
//! identity change itself with a key it holds, so the one-time key replaces itself, once);
//! the identity now names this node, so the inviting node's outbox delivers the whole chain
//! here, and everything after. The one-time key then acts for no one.

use std::time::Duration;

use accord_chain::{Chain, ChainId};
use accord_crypto::{KeyPair, base58};
use accord_engine::replay::{Applied, EventIn, Replay};
use accord_store::Chains;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::app::App;
use crate::links::{PullError, PullLimits, pull};
use crate::problem::Problem;

/// An invitation handed to this node by its invitee.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Acceptance {
    /// The chain the invitation is for (base58).
    pub chain: String,
    /// The invited identity's id.
    pub identity: String,
    /// The one-time key: its ed25519 seed, base58 (32 bytes).
    pub key: String,
    /// The inviting node: its key (base58), or its URL as this node's `peers` list it.
    pub node: String,
}

/// An accepted invitation.
#[derive(Serialize, ToSchema)]
pub struct Accepted {
    /// The chain.
    pub chain: String,
    /// The identity, now with the invitee's key and naming this node.
    pub identity: String,
    /// The inviting node's key.
    pub node: String,
    /// Whether the chain has reached this node yet (it comes through the inviting node's
    /// outbox; `false` means it is on its way).
    pub held: bool,
    /// The chain's length on this node (0 until it arrives).
    pub length: u64,
}

/// Pages of a chain fetched at most (1,000 events each).
const MAX_PAGES: usize = 1000;

/// The most chain JSON an acceptance fetches and holds.
const MAX_BYTES: usize = 256 << 20;

/// How long an acceptance waits for the chain to arrive before answering without it.
const ARRIVAL: Duration = Duration::from_secs(10);

fn refused(detail: impl Into<String>) -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invitation-refused",
        "The invitation cannot be accepted",
        detail,
    )
}

fn peer_failed(detail: impl Into<String>) -> Problem {
    Problem::new(
        StatusCode::BAD_GATEWAY,
        "peer-failed",
        "The inviting node could not be reached or failed",
        detail,
    )
}

/// The detail of a peer's problem answer, or the start of its body.
fn detail_of(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("detail").and_then(Value::as_str).map(String::from))
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(300).collect())
}

/// Accepts an invitation for the invitee `caller` (a key registered on this node: the handler
/// checks that before it spends the request).
pub(crate) async fn accept(app: &App, caller: &str, a: Acceptance) -> Result<Accepted, Problem> {
    let peer = app.peers.resolve(&a.node);
    if !app.peers.is_peer(&peer) {
        return Err(Problem::invalid(format!(
            "node {} is not one of this node's peers: add it to `peers` in the configuration first",
            a.node
        ))
        .with("node", a.node.clone()));
    }
    let seed: [u8; 32] = base58::decode(&a.key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| Problem::invalid("`key` must be a base58 ed25519 seed (32 bytes)"))?;
    let one_time = KeyPair::from_ed25519_seed(&seed);
    let one_time_key = one_time.public_key().to_base58();
    let chain_id: ChainId = a
        .chain
        .parse()
        .map_err(|e| Problem::invalid(format!("`chain` {:?}: {e}", a.chain)))?;
    let timeout = Duration::from_millis(app.config.delivery.timeout_ms);
    // The whole chain, as the one-time key may see it at the inviting node.
    let mut whole = Chain {
        id: chain_id,
        start: None,
        events: Vec::new(),
    };
    let limits = PullLimits {
        pages: MAX_PAGES,
        bytes: MAX_BYTES,
        timeout,
    };
    pull(&*app.links, &peer, Some(&one_time), &mut whole, None, &limits, |_| false)
        .await
        .map_err(|e| match e {
            PullError::NotFound => refused(format!(
                "node {peer} shows no chain {} to the invitation's key: it was accepted already, or the invitation is for another chain or node",
                a.chain
            )),
            PullError::TooLarge(_) => refused(format!(
                "chain {}: {e}, too large to take through an invitation",
                a.chain
            )),
            PullError::Failed(why) => peer_failed(format!("node {peer}: {why}")),
        })?;
    let verified = tokio::task::spawn_blocking(move || whole.verify())
        .await
        .map_err(|e| Problem::internal(format!("verification task failed: {e}")))?
        .map_err(|invalid| {
            peer_failed(format!(
                "node {peer} sent a chain that does not verify: {}",
                invalid.report
            ))
        })?;
    // The identity as the process has it now: replayed by the engine, so an identity event
    // the chain refused counts for nothing.
    let mut replay = Replay::new(Some(a.chain.clone()));
    let mut current: Option<Value> = None;
    for e in verified.events() {
        let Ok(body) = serde_json::from_slice::<Value>(&e.event().data) else {
            continue;
        };
        let applied = replay.apply(EventIn {
            hash: &base58::encode(&e.hash()),
            timestamp: e.event().timestamp,
            signer: &e.sign_key().to_base58(),
            body: &body,
        });
        if matches!(&applied, Applied::Identity(id) if *id == a.identity) {
            current = Some(body);
        }
    }
    let Some(mut identity) = current else {
        return Err(refused(format!(
            "chain {} has no identity {}",
            a.chain, a.identity
        )));
    };
    let holds = replay
        .identities()
        .iter()
        .any(|i| i.id == a.identity && i.has_key(&one_time_key));
    if !holds {
        // Accepted already: by this caller through this node (an answer lost on the way, a
        // retry), which is done; or by someone else.
        let ours = identity.pointer("/signkeys/user").and_then(Value::as_str) == Some(caller)
            && identity.get("node").and_then(Value::as_str) == Some(app.node_key.as_str());
        if ours {
            let length = verified.events().len() as u64;
            return arrived(app, a, peer, length).await;
        }
        return Err(refused(format!(
            "identity {} no longer holds the invitation's key: the invitation was accepted already",
            a.identity
        )));
    }
    let mut signkeys = Map::new();
    signkeys.insert("user".into(), Value::from(caller));
    signkeys.insert("system".into(), Value::from(app.node_key.clone()));
    identity["signkeys"] = Value::Object(signkeys);
    identity["node"] = Value::from(app.node_key.clone());
    // The inviting node would refuse what its process refuses (a key another identity on
    // the chain holds already): try it here first, and say why.
    if let Applied::Rejected(why) = replay.apply(EventIn {
        hash: "",
        timestamp: app.clock.now_ms(),
        signer: &one_time_key,
        body: &identity,
    }) {
        return Err(refused(format!(
            "the process would refuse identity {} with this node and key: {why}",
            a.identity
        )));
    }
    let next = crate::events::next_event(
        &chain_id,
        verified.latest_hash(),
        verified.state(),
        &identity,
        &one_time,
        // Never before the event it follows, which the inviting node may have stamped with a
        // clock ahead of this one.
        accord_chain::time::stamp(
            app.clock.now_ms(),
            verified.events().last().map_or(0, |e| e.event().timestamp),
        ),
    )
    .map_err(Problem::internal)?;
    let length = verified.events().len() as u64 + 1;
    let answer = tokio::time::timeout(
        timeout,
        app.links.send_as(
            &peer,
            Some(&one_time),
            "POST",
            "/event-chains",
            Some(next.to_json().into_bytes()),
        ),
    )
    .await
    .map_err(|_| peer_failed(format!("node {peer} did not take the new identity in time")))?
    .map_err(peer_failed)?;
    if answer.status == 409 {
        return Err(Problem::conflict(
            "chain-moved",
            format!(
                "chain {} moved on at node {peer} while this node accepted the invitation: try again",
                a.chain
            ),
        ));
    }
    if !(200..300).contains(&answer.status) {
        let detail = detail_of(&answer.body);
        return Err(if answer.status >= 500 {
            peer_failed(format!("node {peer} answered {}: {detail}", answer.status))
        } else {
            refused(format!(
                "node {peer} refused the new identity ({}): {detail}",
                answer.status
            ))
            .with("peerStatus", answer.status)
        });
    }
    // Stored but refused by the process (the answer's `refused`): not accepted.
    let taken: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    if let Some(refusals) = taken
        .get("refused")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
    {
        return Err(refused(format!(
            "node {peer}'s process refused the new identity: {}",
            Value::Array(refusals.clone())
        )));
    }
    tracing::info!(chain = %a.chain, identity = %a.identity, inviter = %peer, by = %caller, "accepted an invitation");
    arrived(app, a, peer, length).await
}

/// The acceptance's answer, once the chain has reached `length` here (it comes through the
/// inviting node's outbox), or after [`ARRIVAL`] without it.
async fn arrived(app: &App, a: Acceptance, peer: String, length: u64) -> Result<Accepted, Problem> {
    let deadline = tokio::time::Instant::now() + ARRIVAL;
    let mut held = 0;
    loop {
        if let Some(head) = app.store.head(&a.chain).await? {
            held = head.length;
            if held >= length {
                break;
            }
        }
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(Accepted {
        chain: a.chain,
        identity: a.identity,
        node: peer,
        held: held >= length,
        length: held,
    })
}
