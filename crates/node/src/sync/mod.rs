//! The peer protocol's receiving half, and the answers both halves share: what a node does
//! with a chain sent to its `POST /event-chains` (by one of its users, or by a peer node's
//! delivery), and the refusals a sending node acts on. [`crate::deliver`] is the sending half.
//!
//! A chain sent here is decoded, authorized, verified off the writer and handed to the
//! pipeline, whose placement ([`accord_chain::place`]) answers with a typed
//! [`Refused`] when the events do not go on the chain. From a peer:
//! - a chain new to this node must come from its genesis event, and its identities must name
//!   both nodes (the rest of the chain is fetched from the peer when the page sent does not
//!   name this node yet);
//! - events that follow ones this node lacks (`missing-events`) are fetched from the peer,
//!   and the delivery placed again once.
//!
//! The HTTP handler only decodes the signature and hands the body over; `problem.rs` turns a
//! refusal into the problem the sender reads back as a [`PeerAnswer`].

use accord_chain::{Chain, Placement};
use accord_store::Chains;
use serde_json::Value;

use crate::app::App;
use crate::auth::Caller;
use crate::pipeline::{NotPlaced, Origin, Outcome, Refused};
use crate::problem::Problem;

mod answer;

pub use answer::{PeerAnswer, PeerProblem};

/// Chains with more events than this are verified on the blocking pool, not in the handler.
const VERIFY_INLINE: usize = 16;

/// Decodes, authorizes, verifies and places a chain sent by `caller` (a user of this node or
/// a peer node). `party` says the caller is known to be a party to it already.
pub async fn receive(
    app: &App,
    caller: &Caller,
    body: &[u8],
    party: bool,
) -> Result<Outcome, Problem> {
    let mut chain = Chain::from_json(body).map_err(|e| {
        let mut p = Problem::bad_json(e.to_string());
        if e.line > 0 {
            p = p.with("line", e.line).with("column", e.column);
        }
        if !e.path.is_empty() {
            p = p.with("path", e.path.clone());
        }
        p
    })?;
    let id = chain.id.to_base58();
    let origin = if app.peers.is_peer(&caller.key) {
        Origin::Peer
    } else {
        Origin::Local
    };
    // One query in the common case: the caller is a party (so the chain exists).
    let allowed = party
        || app.is_admin(&caller.key)
        || app.facts.is_party(&id, &caller.key)
        || if app.store.is_party(&id, &caller.key).await? {
            app.facts.remember_party(&id, &caller.key);
            true
        } else {
            false
        };
    if !allowed {
        if app.store.head(&id).await?.is_some() {
            return Err(Problem::forbidden(format!(
                "key {} is not a party to chain {id}",
                caller.key
            )));
        }
        if origin == Origin::Peer {
            // A peer brings a chain new to this node: from its start (the sender restarts
            // from there on this answer), and its identities must name both nodes.
            if chain.start.is_some() {
                return Err(Refused::from(NotPlaced {
                    chain: id,
                    placement: Placement::UnknownChain,
                    tip: chain.id.initial_hash(),
                    length: 0,
                })
                .into());
            }
            let (theirs, mut ours) =
                named_nodes(&chain.events, &app.peers, &caller.key, &app.node_key);
            if theirs && !ours {
                // A delivery carries one page: the event naming this node may come later on
                // the chain (an invitee's node is named by the last event). Fetch the rest
                // from the peer, where this node is a party, and look again.
                ours = rest_of(app, &caller.key, &mut chain).await?;
            }
            if !(theirs && ours) {
                return Err(Problem::forbidden(format!(
                    "node {} sent chain {id}, but no identity on it names {}",
                    caller.key,
                    if theirs {
                        "this node"
                    } else {
                        "the sending node"
                    }
                )));
            }
        } else if !app.is_registered(&caller.key).await? {
            return Err(Problem::forbidden(format!(
                "key {} may not start chains on this node: register an identity with this key first (POST /identities)",
                caller.key
            )));
        }
    }
    // Verify off the writer: hashes, links and signatures, in batches; long chains on the
    // blocking pool so they do not hold up other requests.
    let verified = if chain.events.len() <= VERIFY_INLINE {
        chain.verify()
    } else {
        tokio::task::spawn_blocking(move || chain.verify())
            .await
            .map_err(|e| Problem::internal(format!("verification task failed: {e}")))?
    }
    .map_err(|invalid| {
        let problems: Vec<Value> = invalid
            .report
            .problems
            .iter()
            .map(|p| Value::from(p.to_string()))
            .collect();
        Problem::invalid(format!("the chain is not valid: {}", invalid.report))
            .with("problems", problems)
    })?;
    if origin == Origin::Local {
        return match app
            .pipeline
            .submit(verified, caller.key.clone(), origin)
            .await
        {
            Err(Refused::ProcessExists { chain, process }) => {
                Err(name_taken(app, chain, process, &caller.key).await)
            }
            other => other.map_err(Problem::from),
        };
    }
    // From a peer: events that do not follow what this node holds are fetched from the peer,
    // and the delivery tried again once.
    match app
        .pipeline
        .submit(verified.clone(), caller.key.clone(), origin)
        .await
    {
        // Only for a chain this node holds: a chain new here comes whole, from its start,
        // and is authorized as such above.
        Err(Refused::NotPlaced(missing))
            if matches!(missing.placement, Placement::MissingEvents { .. }) =>
        {
            catch_up(app, &caller.key, &id, missing).await?;
            Ok(app
                .pipeline
                .submit(verified, caller.key.clone(), origin)
                .await?)
        }
        other => Ok(other?),
    }
}

/// The pipeline's `process-exists` refusal of a start on chain `id`, with the chains holding
/// the process that the caller may read (`chains`; none named if it may read none of them:
/// the id's being taken is all a caller learns of a chain it may not read).
async fn name_taken(app: &App, id: String, process: String, caller: &str) -> Problem {
    let taken = Problem::from(Refused::ProcessExists {
        chain: id.clone(),
        process: process.clone(),
    });
    let id = id.as_str();
    let chains: Vec<String> = match app.readable_process_chains(&process, caller).await {
        Ok(chains) => chains.into_iter().filter(|c| c != id).collect(),
        // The refusal stands; only the particulars are missing.
        Err(_) => Vec::new(),
    };
    if chains.is_empty() {
        return taken;
    }
    let suffix = format!("; the {process} it holds is on chain {}", chains.join(", "));
    taken.with_detail_suffix(&suffix).with("chains", chains)
}

/// What a node fetches from a peer at most to fill a gap or to find the event naming it (held
/// in memory whole, to be placed in one submission; past it, the sender's own pages, from
/// where this node stands, close the gap).
fn pull_limits(app: &App) -> crate::links::PullLimits {
    crate::links::PullLimits {
        pages: 100,
        bytes: 64 << 20,
        timeout: std::time::Duration::from_millis(app.config.delivery.timeout_ms),
    }
}

/// Adds to `chain` (a peer's first page of a chain new here) the events the peer holds after
/// it, fetched page by page (signed with this node's key) until one names this node (the rest
/// comes with the peer's next deliveries). Whether one does.
async fn rest_of(app: &App, peer: &str, chain: &mut Chain) -> Result<bool, Problem> {
    // Each page's events are read once.
    let (mut seen, mut named) = (chain.events.len(), false);
    crate::links::pull(
        &*app.links,
        peer,
        None,
        chain,
        None,
        &pull_limits(app),
        |c| {
            named |= named_nodes(&c.events[seen..], &app.peers, peer, &app.node_key).1;
            seen = c.events.len();
            named
        },
    )
    .await
    .map_err(|why| {
        Problem::forbidden(format!(
            "node {peer} sent chain {}, but no identity in what it sent names this node, and fetching the rest of the chain from it failed: {why}",
            chain.id.to_base58()
        ))
    })?;
    Ok(named)
}

/// Fetches the events of chain `id` that this node lacks from the peer `peer` (its
/// `GET /event-chains/{id}/events?after=`, signed with this node's key) and adds them as the
/// peer's. `missing` is the pipeline's answer that showed the gap: its `tip` is where this
/// node stands.
async fn catch_up(app: &App, peer: &str, id: &str, missing: Box<NotPlaced>) -> Result<(), Problem> {
    let tip = accord_crypto::base58::encode(&missing.tip);
    let missing = Problem::from(Refused::NotPlaced(missing));
    let fail = |why: String| {
        missing
            .clone()
            .with("catchUp", why.clone())
            .with_detail_suffix(&format!("; fetching them from node {peer} failed: {why}"))
    };
    let chain_id: accord_chain::ChainId = id.parse().map_err(|e| fail(format!("{e}")))?;
    let mut gap = Chain {
        id: chain_id,
        start: None,
        events: Vec::new(),
    };
    crate::links::pull(
        &*app.links,
        peer,
        None,
        &mut gap,
        Some(tip.as_str()),
        &pull_limits(app),
        |_| false,
    )
    .await
    .map_err(|why| fail(why.to_string()))?;
    if gap.events.is_empty() {
        return Ok(());
    }
    let verified = tokio::task::spawn_blocking(move || gap.verify())
        .await
        .map_err(|e| Problem::internal(format!("verification task failed: {e}")))?
        .map_err(|invalid| fail(format!("it sent invalid events: {}", invalid.report)))?;
    let outcome = app
        .pipeline
        .submit(verified, peer.to_string(), Origin::Peer)
        .await?;
    tracing::info!(chain = %id, %peer, added = outcome.added.len(), "caught up from a peer");
    Ok(())
}

/// Whether identity events among `events` name the node `theirs` and the node `ours` (by key, or
/// by a URL the configured peers map to the key).
fn named_nodes(
    events: &[accord_chain::Event],
    peers: &crate::peers::Peers,
    theirs: &str,
    ours: &str,
) -> (bool, bool) {
    let (mut found_theirs, mut found_ours) = (false, false);
    for event in events {
        let Ok(body) = serde_json::from_slice::<Value>(&event.data) else {
            continue;
        };
        // The engine's reading of `$schema`, so only what it takes as an identity counts.
        let is_identity = body
            .get("$schema")
            .and_then(Value::as_str)
            .and_then(accord_engine::replay::Kind::of)
            == Some(accord_engine::replay::Kind::Identity);
        if let (true, Some(node)) = (is_identity, body.get("node").and_then(Value::as_str)) {
            let node = peers.resolve(node);
            found_theirs |= node == theirs;
            found_ours |= node == ours;
        }
    }
    (found_theirs, found_ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the receiver says (through `problem.rs`) is what the sender reads.
    #[test]
    fn a_refusal_reads_back_as_the_peer_answer_it_was() {
        let tip = [7; 32];
        let said = |placement| {
            let problem = Problem::from(Refused::from(NotPlaced {
                chain: "chain".into(),
                placement,
                tip,
                length: 12,
            }));
            PeerAnswer::read(problem.to_json().to_string().as_bytes()).unwrap()
        };
        let missing = said(Placement::MissingEvents {
            event: Some([1; 32]),
            after: [2; 32],
        });
        assert_eq!(missing.kind, PeerProblem::MissingEvents);
        assert_eq!(missing.length, Some(12));
        assert_eq!(
            missing.tip.as_deref(),
            Some(accord_crypto::base58::encode(&tip).as_str())
        );
        let fork = said(Placement::Fork {
            position: 3,
            theirs: [1; 32],
            after: [2; 32],
        });
        assert_eq!(fork.kind, PeerProblem::Fork);
        assert_eq!(
            said(Placement::UnknownChain).kind,
            PeerProblem::UnknownChain
        );
        // Any other kind, and a body that is no problem at all.
        let other =
            PeerAnswer::read(br#"{"type":"urn:accord:problem:forbidden","detail":"no"}"#).unwrap();
        assert_eq!(other.kind, PeerProblem::Other);
        assert_eq!(other.detail.as_deref(), Some("no"));
        assert_eq!(PeerAnswer::read(b"{}").unwrap().kind, PeerProblem::Other);
        assert_eq!(PeerAnswer::read(b"<html>"), None);
    }
}
