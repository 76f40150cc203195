//! Issue 14, items 4 and 8, as an attacker tried them against a running node: event
//! timestamps that a signer chose to cancel an offer early or remove its deadline, and events
//! signed by keys that no longer hold an identity. Each test failed on the code before the
//! rules of `accord_chain::time` and the pipeline's signer check.

mod common;

use accord_chain::ChainId;
use accord_crypto::{KeyPair, base58};
use accord_node::client::{Client, ClientError};
use accord_node::events;
use common::*;
use serde_json::{Value, json};

const DAY: u64 = 86_400_000;

/// An offer the buyer may accept for a week; then it lapses.
fn offer() -> Value {
    json!({
        "id": "security-offer",
        "title": "An offer open for a week",
        "actors": {"seller": {}, "buyer": {}},
        "actions": {
            "offer": {"actor": "seller", "responses": {"ok": {}}},
            "accept": {"actor": "buyer", "responses": {"ok": {}}}
        },
        "states": {
            "initial": {"action": "offer", "transitions": [
                {"action": "offer", "response": "ok", "transition": "open"}]},
            "open": {"action": "accept", "timeout": "P7D", "transitions": [
                {"action": "accept", "response": "ok", "transition": ":success"},
                {"action": ":timeout", "transition": ":cancelled"}]}
        }
    })
}

/// A node with the offer started by the seller (events stamped now): the chain and process.
async fn offered(node: &accord_node::Running, tag: &str) -> (ChainId, String) {
    let scenario = offer();
    register(node, &["seller".to_string(), "buyer".to_string()]).await;
    let (chain_json, chain, pid) = start_chain(&scenario, "seller", tag);
    client(node, "seller")
        .post("/event-chains", chain_json)
        .await
        .unwrap();
    (chain, pid)
}

/// `actor`'s response to `action` on the chain's head, stamped `timestamp` (`None`: now, and
/// never before the head), signed with `key` (default: the actor's own).
async fn respond_at(
    node: &accord_node::Running,
    chain: &ChainId,
    pid: &str,
    actor: &str,
    action: &str,
    timestamp: impl FnOnce(u64) -> u64,
    key: Option<&KeyPair>,
) -> Result<Value, ClientError> {
    let own = user(actor);
    let signer = key.unwrap_or(&own);
    let c = Client::new(&url(node), signer).unwrap();
    let (tip, chain_state, at, _) = head(node, "seller", chain).await;
    let body = events::response(action, Some("ok"), Value::Null);
    let at = timestamp(at);
    let partial = events::next_event(chain, tip, chain_state, &body, signer, at).unwrap();
    c.post(&format!("/processes/{pid}/responses"), partial.to_json())
        .await
}

async fn state(node: &accord_node::Running, pid: &str) -> Value {
    client(node, "seller")
        .get(&format!("/processes/{pid}"))
        .await
        .unwrap()["current"]["key"]
        .clone()
}

async fn length(node: &accord_node::Running, chain: &ChainId) -> u64 {
    client(node, "seller")
        .get(&format!("/event-chains/{}/head", chain.to_base58()))
        .await
        .unwrap()["length"]
        .as_u64()
        .unwrap()
}

fn assert_bad_timestamp(result: Result<Value, ClientError>, says: &str) {
    let err = result.expect_err("the event must be refused");
    assert_eq!(err.status(), Some(422), "{err}");
    assert_eq!(
        err.kind(),
        Some("urn:accord:problem:invalid-timestamp"),
        "{err}"
    );
    assert!(err.to_string().contains(says), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_out_stamped_a_week_ahead_does_not_cancel_the_offer() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let (chain, pid) = offered(&node, "ahead").await;
    respond_at(&node, &chain, &pid, "seller", "offer", |_| now_ms(), None)
        .await
        .unwrap();
    assert_eq!(state(&node, &pid).await, "open");
    let before = length(&node, &chain).await;
    // The attack: the buyer stamps its `:timeout` eight days ahead.
    let r = respond_at(
        &node,
        &chain,
        &pid,
        "buyer",
        ":timeout",
        |_| now_ms() + 8 * DAY,
        None,
    )
    .await;
    assert_bad_timestamp(r, "ahead of this node's clock");
    assert_eq!(state(&node, &pid).await, "open");
    assert_eq!(length(&node, &chain).await, before, "nothing stored");
    // Stamped now, the time-out is not due yet: the process refuses it (as before).
    let err = respond_at(&node, &chain, &pid, "buyer", ":timeout", |_| now_ms(), None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    assert_eq!(err.kind(), Some("urn:accord:problem:refused"), "{err}");
    assert_eq!(state(&node, &pid).await, "open");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entering_event_stamped_a_week_back_does_not_start_the_clock_early() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let (chain, pid) = offered(&node, "back").await;
    let before = length(&node, &chain).await;
    // The attack: the offer is stamped eight days back, so its week is over at once.
    let r = respond_at(
        &node,
        &chain,
        &pid,
        "seller",
        "offer",
        |_| now_ms() - 8 * DAY,
        None,
    )
    .await;
    // It is before the event it follows, too; the first rule broken is named.
    assert_bad_timestamp(r, "before the event it follows");
    assert_eq!(state(&node, &pid).await, "initial");
    assert_eq!(length(&node, &chain).await, before);
    // A millisecond before the event it follows is as wrong, though within the clock skew.
    let r = respond_at(&node, &chain, &pid, "seller", "offer", |tip| tip - 1, None).await;
    assert_bad_timestamp(r, "1 ms before the event it follows");
    // Stamped now, the offer opens and its week starts now.
    respond_at(&node, &chain, &pid, "seller", "offer", |_| now_ms(), None)
        .await
        .unwrap();
    let p = client(&node, "seller")
        .get(&format!("/processes/{pid}"))
        .await
        .unwrap();
    let due = p["current"]["due_date"].as_u64().unwrap();
    assert!(due >= now_ms() + 7 * DAY - 60_000, "{p}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entering_event_stamped_a_century_ahead_does_not_remove_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let (chain, pid) = offered(&node, "century").await;
    let r = respond_at(
        &node,
        &chain,
        &pid,
        "seller",
        "offer",
        |_| now_ms() + 36_525 * DAY,
        None,
    )
    .await;
    assert_bad_timestamp(r, "ahead of this node's clock");
    assert_eq!(state(&node, &pid).await, "initial");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_stamps_within_the_skew_of_the_node_clock() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    register(&node, &["seller".to_string(), "buyer".to_string()]).await;
    let scenario = offer();
    let seller = user("seller");
    // Whole new chains stamped 0, 2^52, an hour back and ten minutes ahead: none is taken,
    // and none leaves a trace.
    for (tag, at, says) in [
        ("zero", 0, "before the earliest time"),
        ("far", 1 << 52, "ahead of this node's clock"),
        ("hour", now_ms() - 3_600_000, "behind this node's clock"),
        ("ahead", now_ms() + 600_000, "ahead of this node's clock"),
    ] {
        let sid = "security-offer";
        let pid = format!("{sid}-{tag}");
        let bodies = [
            events::scenario(scenario.clone(), sid),
            events::identity("seller-identity", &seller.public_key().to_base58(), None),
            events::process(&pid, sid, &[("seller".into(), "seller-identity".into())]),
        ];
        let signed: Vec<(&Value, &KeyPair)> = bodies.iter().map(|b| (b, &seller)).collect();
        let chain = events::new_chain(
            &seller,
            b'T',
            &accord_chain::Nonce::from_text(&pid),
            &signed,
            at,
        )
        .unwrap();
        let r = client(&node, "seller")
            .post("/event-chains", chain.to_json())
            .await;
        assert_bad_timestamp(r, says);
        let err = client(&node, "seller")
            .get(&format!("/event-chains/{}/head", chain.id().to_base58()))
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(404), "{tag}: {err}");
    }
    node.stop().await;
}

/// A node whose only peer is the key `peer` (at an address nothing listens on), with a clock
/// skew of `skew` seconds: requests signed with `peer` are deliveries.
async fn node_with_peer(dir: &std::path::Path, peer: &KeyPair, skew: u64) -> accord_node::Running {
    let key = peer.public_key().to_base58();
    start_with(dir, |mut c| {
        c.peers = vec![accord_node::config::Peer {
            url: "http://127.0.0.1:9".into(),
            key,
        }];
        c.max_clock_skew = skew;
        c
    })
    .await
}

/// A chain of the offer naming this node for the seller and the peer node for the buyer,
/// its events stamped from `at`, as the peer would deliver it.
fn delivered_chain(node: &accord_node::Running, peer: &KeyPair, tag: &str, at: u64) -> String {
    let scenario = offer();
    let seller = user("seller");
    let sid = "security-offer";
    let pid = format!("{sid}-{tag}");
    let bodies = [
        events::scenario(scenario, sid),
        events::identity_at(
            "seller-identity",
            &seller.public_key().to_base58(),
            &node.node_key,
        ),
        events::identity_at(
            "buyer-identity",
            &user("buyer").public_key().to_base58(),
            &peer.public_key().to_base58(),
        ),
        events::process(
            &pid,
            sid,
            &[
                ("seller".into(), "seller-identity".into()),
                ("buyer".into(), "buyer-identity".into()),
            ],
        ),
    ];
    let signed: Vec<(&Value, &KeyPair)> = bodies.iter().map(|b| (b, &seller)).collect();
    events::new_chain(
        &seller,
        b'T',
        &accord_chain::Nonce::from_text(&pid),
        &signed,
        at,
    )
    .unwrap()
    .to_json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_delivers_late_events_but_none_from_the_future_or_stamped_back() {
    let dir = tempfile::tempdir().unwrap();
    let peer = user("peer node");
    let node = node_with_peer(dir.path(), &peer, 2).await;
    let as_peer = Client::new(&url(&node), &peer).unwrap();
    // Late is fine from a peer: it took the events from their author a day ago.
    let late = delivered_chain(&node, &peer, "late", now_ms() - DAY);
    as_peer.post("/event-chains", late).await.unwrap();
    // Ahead of this node's clock by more than the skew: too early, not wrong. The sender is
    // told when to try again, and the same delivery is taken once the clock is there.
    let early = delivered_chain(&node, &peer, "early", now_ms() + 4_000);
    let err = as_peer
        .post("/event-chains", early.clone())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503), "{err}");
    assert_eq!(err.kind(), Some("urn:accord:problem:too-early"), "{err}");
    let ClientError::Problem { body, .. } = &err else {
        unreachable!()
    };
    let wait = body["retryAfter"].as_u64().unwrap();
    assert!((1..=3).contains(&wait), "{body}");
    tokio::time::sleep(std::time::Duration::from_millis(wait * 1000 + 200)).await;
    as_peer.post("/event-chains", early).await.unwrap();
    // Stamped before the event it follows: refused for good, whoever sends it.
    let chain_json = delivered_chain(&node, &peer, "back", now_ms());
    let chain = accord_chain::Chain::from_json(chain_json.as_bytes()).unwrap();
    as_peer.post("/event-chains", chain_json).await.unwrap();
    let head = as_peer
        .get(&format!("/event-chains/{}/head", chain.id.to_base58()))
        .await
        .unwrap();
    let b32 = |f: &str| -> [u8; 32] {
        base58::decode(head[f].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    };
    let back = events::next_event(
        &chain.id,
        b32("tip"),
        b32("state"),
        &events::response("offer", Some("ok"), Value::Null),
        &user("seller"),
        head["timestamp"].as_u64().unwrap() - 1,
    )
    .unwrap();
    let r = as_peer.post("/event-chains", back.to_json()).await;
    assert_bad_timestamp(r, "before the event it follows");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_key_adds_nothing_to_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let (chain, pid) = offered(&node, "replaced").await;
    // The buyer moves its identity to a new key, signing with the old one.
    let old = user("buyer");
    let new = user("buyer's new device");
    let (tip, chain_state, _, _) = head(&node, "buyer", &chain).await;
    let moved = events::next_event(
        &chain,
        tip,
        chain_state,
        &events::identity("buyer-identity", &new.public_key().to_base58(), None),
        &old,
        now_ms(),
    )
    .unwrap();
    client(&node, "buyer")
        .post("/event-chains", moved.to_json())
        .await
        .unwrap();
    respond_at(&node, &chain, &pid, "seller", "offer", |_| now_ms(), None)
        .await
        .unwrap();
    let before = length(&node, &chain).await;
    // The attack: the replaced key still signs. Refused before it is placed: nothing on the
    // chain, no error event (before: both stored, growing every party's chain).
    let err = respond_at(&node, &chain, &pid, "buyer", "accept", |_| now_ms(), None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    assert!(err.to_string().contains("holds no identity"), "{err}");
    assert_eq!(length(&node, &chain).await, before);
    // The new key acts.
    respond_at(
        &node,
        &chain,
        &pid,
        "buyer",
        "accept",
        |_| now_ms(),
        Some(&new),
    )
    .await
    .unwrap();
    assert_eq!(state(&node, &pid).await, ":success");
    node.stop().await;
}
