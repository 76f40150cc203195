//! A hostile second review of issue 14's fixes, against nodes running in process on loopback.
//! Each test is a way around a fix (or a use the fixes broke) that the review found. Those
//! marked `#[ignore]` are findings left open: they assert what should hold, fail today, and
//! say why in their comments (run them with `--ignored` to see each fail).

mod common;

use std::time::{Duration, Instant};

use accord_chain::{ChainId, Nonce};
use accord_crypto::KeyPair;
use accord_node::client::{Client, ClientError};
use accord_node::{Running, events};
use common::*;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Item 8: only keys that hold an identity sign. The pipeline counted every key an identity event
// earlier in the submission named, whether or not the process would take that identity event.

/// A seller offers, a buyer accepts.
fn deal() -> Value {
    json!({
        "id": "review-deal",
        "title": "A deal",
        "actors": {"seller": {}, "buyer": {}},
        "actions": {
            "offer": {"actor": "seller", "responses": {"ok": {}}},
            "accept": {"actor": "buyer", "responses": {"ok": {}}}
        },
        "states": {
            "initial": {"action": "offer", "transitions": [
                {"action": "offer", "response": "ok", "transition": "open"}]},
            "open": {"action": "accept", "transitions": [
                {"action": "accept", "response": "ok", "transition": ":success"}]}
        }
    })
}

/// A partial chain of new events on the chain's head, each body signed by its key.
async fn next_events(
    node: &Running,
    chain: &ChainId,
    bodies: &[(Value, &KeyPair)],
) -> accord_chain::Chain {
    let (mut tip, mut state, at, _) = head(node, "seller", chain).await;
    let at = now_ms().max(at);
    let mut out: Option<accord_chain::Chain> = None;
    for (body, key) in bodies {
        let one = events::next_event(chain, tip, state, body, key, at).unwrap();
        let hash = one.events[0].hash.unwrap();
        state = accord_chain::chain::next_state(&state, &hash);
        tip = hash;
        match &mut out {
            None => out = Some(one),
            Some(c) => c.events.extend(one.events),
        }
    }
    out.unwrap()
}

/// A node with the deal started by the seller and offered: the chain and process id.
async fn offered(node: &Running, tag: &str) -> (ChainId, String) {
    register(node, &["seller".to_string(), "buyer".to_string()]).await;
    let (chain_json, chain, pid) = start_chain(&deal(), "seller", tag);
    client(node, "seller")
        .post("/event-chains", chain_json)
        .await
        .unwrap();
    let offer = next_events(
        node,
        &chain,
        &[(
            events::response("offer", Some("ok"), Value::Null),
            &user("seller"),
        )],
    )
    .await;
    client(node, "seller")
        .post("/event-chains", offer.to_json())
        .await
        .unwrap();
    (chain, pid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_event_the_process_refuses_lets_no_stranger_sign_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let (chain, _) = offered(&node, "refused-identity").await;
    let (_, _, _, before) = head(&node, "seller", &chain).await;
    // The seller, a party, rewrites the buyer's identity to a stranger's key (the process
    // refuses it: only a key of an identity changes it) and lets the stranger accept after it.
    // Before: both placed, both refused by the process, and the node's error event after them
    // (three events on every party's chain, two signed by a key that holds no identity, and
    // the stranger a party that may read the chain).
    let stranger = user("stranger");
    let attack = next_events(
        &node,
        &chain,
        &[
            (
                identity("buyer-identity", &[("user", &key("stranger"))]),
                &user("seller"),
            ),
            (
                events::response("accept", Some("ok"), Value::Null),
                &stranger,
            ),
        ],
    )
    .await;
    let err = client(&node, "seller")
        .post("/event-chains", attack.to_json())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    assert!(
        err.to_string().contains("holds no identity") && err.to_string().contains(&key("stranger")),
        "{err}"
    );
    assert_eq!(
        head(&node, "seller", &chain).await.3,
        before,
        "nothing stored"
    );
    let read = client(&node, "stranger")
        .get(&format!("/event-chains/{}", chain.to_base58()))
        .await
        .unwrap_err();
    assert_eq!(read.status(), Some(404), "the stranger is no party: {read}");
    // An identity the process takes names a key that may sign after it, as before: a new
    // identity for a witness, who comments.
    let witness = user("witness");
    let comment = json!({"$schema": format!("{}comment/schema.json#", events::LC), "text": "seen"});
    let fine = next_events(
        &node,
        &chain,
        &[
            (
                identity("witness-identity", &[("user", &key("witness"))]),
                &user("seller"),
            ),
            (comment, &witness),
        ],
    )
    .await;
    let outcome = client(&node, "seller")
        .post("/event-chains", fine.to_json())
        .await
        .unwrap();
    assert_eq!(outcome["refused"], json!([]), "{outcome}");
    assert_eq!(head(&node, "seller", &chain).await.3, before + 2);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_replaced_earlier_in_a_submission_signs_nothing_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let (chain, pid) = offered(&node, "replaced-in-submission").await;
    let (_, _, _, before) = head(&node, "seller", &chain).await;
    // The buyer moves to a new key and, in the same submission, signs with the old one. Before:
    // the old key counted as held (the check read the chain as it was before the submission),
    // so the response was placed, refused by the process, and answered by an error event.
    let moved = next_events(
        &node,
        &chain,
        &[
            (
                identity("buyer-identity", &[("user", &key("buyer's new device"))]),
                &user("buyer"),
            ),
            (
                events::response("accept", Some("ok"), Value::Null),
                &user("buyer"),
            ),
        ],
    )
    .await;
    let err = client(&node, "buyer")
        .post(&format!("/processes/{pid}/responses"), moved.to_json())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    assert!(err.to_string().contains(&key("buyer")), "{err}");
    assert_eq!(
        head(&node, "seller", &chain).await.3,
        before,
        "nothing stored"
    );
    node.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Item 10 and the SSRF guard: an IPv6 address that carries an IPv4 one reaches that address.

/// Waits until the process is in `state`; its projection.
async fn reaches(node: &Running, pid: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let p = client(node, "user")
            .get(&format!("/processes/{pid}"))
            .await
            .unwrap();
        if p["current"]["key"] == state {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "the process never reached {state}: {p}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_and_private_ipv4_inside_ipv6_are_refused_without_allow_private() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_with(dir.path(), |c| accord_node::Config {
        system: accord_node::config::System {
            timeout_ms: 1000,
            ..Default::default()
        },
        admins: vec![key("operator")],
        ..c
    })
    .await;
    // NAT64 (64:ff9b::/96) to 127.0.0.1 and to the cloud metadata address, and the
    // IPv4-compatible form of 127.0.0.1. Before: each passed the guard as a public IPv6
    // address and the node tried to connect ("cannot call …"); with a NAT64 gateway on the
    // network (IPv6-only clouds), it reaches the IPv4 address inside.
    for (n, host) in ["[64:ff9b::7f00:1]", "[64:ff9b::a9fe:a9fe]", "[::7f00:1]"]
        .into_iter()
        .enumerate()
    {
        let url = format!("http://{host}:9/hook");
        let tag = format!("v4-in-v6-{n}");
        let scenario = calling(
            &format!("review-call-{tag}"),
            "The system calls a service",
            &url,
            "user",
        );
        let pid = start_process(&node, &scenario, &tag).await;
        let p = reaches(&node, &pid, ":failed").await;
        let error = p["previous"][0]["data"]["error"].as_str().unwrap_or("");
        assert!(
            error.contains("is a private or loopback address"),
            "{url}: {error}"
        );
    }
    node.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Open findings.

/// Item 7, with the default configuration (`identities.self_register = true`): the stranger
/// of the attack registers itself at node B with one request (any key may register an identity
/// naming only itself), then names B's key as the system key beside its own. Under
/// `system.accept = "registered"` B would run the action that organisation A's user asked for,
/// calling the service and signing the answer; the default, `"enrolled"`, counts only users an
/// administrator of B registered, so B does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_who_registers_itself_at_b_does_not_make_b_act() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let nodes = peered(&dirs, |c| accord_node::Config {
        system: accord_node::config::System {
            allow_private: true,
            timeout_ms: 2000,
            ..Default::default()
        },
        ..c
    })
    .await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let (service, seen) = service().await;
    let mut buyer = identity("buyer-identity", &[("user", &key("buyer"))]);
    buyer["node"] = Value::from(a.node_key.clone());
    client(a, "buyer")
        .post("/identities", buyer.to_string())
        .await
        .unwrap();
    // The one extra step: the stranger registers itself at B.
    client(b, "stranger")
        .post(
            "/identities",
            identity("stranger", &[("user", &key("stranger"))]).to_string(),
        )
        .await
        .unwrap();
    let scenario = calling(
        "review-call-at-b",
        "The system calls a service",
        &format!("{service}/attack"),
        "buyer",
    );
    start_process_with_system_at(a, b, scenario, "review-call-at-b-1", "stranger").await;
    // Time for B to receive the chain and, wrongly, act.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let calls = seen.lock().unwrap().clone();
    assert_eq!(
        calls,
        Vec::<String>::new(),
        "B called the service for a stranger who registered itself"
    );
    for node in nodes {
        node.stop().await;
    }
}

/// Item 2's memory once was shared by every key and failed closed: any key, even one that
/// may do nothing on this node, spent a place in it with each request that might change
/// something, and keys cost nothing, so strangers kept it full and every user's writes were
/// 503. Signatures are now recorded only when a handler carries a request out: strangers'
/// refused requests record nothing, and are refused for what they are (not as replays) when
/// sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_keys_record_nothing_and_lock_no_user_out() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    register(&node, &["alice".to_string()]).await;
    // 40 keys no one registered, each posting something this node refuses (403 or 400).
    for n in 0..40 {
        let stranger = Client::new(
            &url(&node),
            &KeyPair::from_seed_phrase(&format!("review flood {n}"), 0),
        )
        .unwrap();
        let captured = stranger
            .prepare(
                "POST",
                "/scenarios",
                Some(("application/json", b"{}".to_vec())),
            )
            .unwrap();
        for _ in 0..2 {
            let answer = reqwest::Client::new()
                .execute(captured.try_clone().unwrap())
                .await
                .unwrap();
            assert_eq!(answer.status().as_u16(), 403, "{:?}", answer.text().await);
        }
    }
    // Alice, a registered user, starts a chain.
    let me = user("alice");
    let body = identity("alice-chain", &[("user", &key("alice"))]);
    let chain = events::new_chain(
        &me,
        b'T',
        &Nonce::from_text("flooded"),
        &[(&body, &me)],
        now_ms(),
    )
    .unwrap();
    let result = client(&node, "alice")
        .post("/event-chains", chain.to_json())
        .await;
    assert!(
        result.is_ok(),
        "a registered user is locked out by strangers: {:?}",
        result.err()
    );
    node.stop().await;
}

/// Reads are not remembered ("a replayed read tells the replayer nothing it did not see"), but
/// every replay of a captured signed read takes a token of the signer's rate limit, and answers
/// what the signer may read now, not then: whoever saw one GET can keep its signer at 429 for
/// the signature's life (up to 2 · `max_clock_skew`), and watch the resource change meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "open finding: replaying a captured read spends its signer's rate limit (429 for the victim)"]
async fn a_replayed_read_spends_its_signers_rate_limit() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_with(dir.path(), |c| accord_node::Config {
        rate_limit: 1,
        rate_burst: 4,
        ..c
    })
    .await;
    let alice = client(&node, "alice");
    let captured = alice.prepare("GET", "/event-chains", None).unwrap();
    let replayer = reqwest::Client::new();
    for _ in 0..6 {
        let copy = captured.try_clone().unwrap();
        let _ = replayer.execute(copy).await.unwrap();
    }
    let own: Result<Value, ClientError> = alice.get("/event-chains").await;
    assert!(
        own.is_ok(),
        "alice's own request, signed now, is refused because of the replays: {:?}",
        own.err()
    );
    node.stop().await;
}

/// Item 3 holds for names only one node answers to. A loopback name is the same on every
/// machine, and every node listening on a port of a loopback or unspecified address answers to
/// `localhost:<port>` (and `127.0.0.1:<port>`): a request signed for one such node is taken by
/// another that listens on the same port, reached with that `Host` (here two nodes on
/// 127.0.0.2 and 127.0.0.3; between machines, a node on `0.0.0.0:4000` or behind a proxy that
/// passes any `Host`, against a user's CLI talking to its own node at `localhost:4000`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "open finding: loopback names are shared by every node on the same port"]
async fn a_request_signed_for_localhost_at_one_node_is_refused_by_another() {
    // A free port, then both nodes on it, on two loopback addresses.
    let port = std::net::TcpListener::bind("127.0.0.2:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let at = |ip: &str| -> std::net::SocketAddr { format!("{ip}:{port}").parse().unwrap() };
    let a = start_with(dirs[0].path(), |c| accord_node::Config {
        listen: at("127.0.0.2"),
        ..c
    })
    .await;
    let b = start_with(dirs[1].path(), |c| accord_node::Config {
        listen: at("127.0.0.3"),
        ..c
    })
    .await;
    // Alice registers at A through `localhost`, as a CLI on A's machine would.
    let for_a = Client::new(&format!("http://localhost:{port}"), &user("alice"))
        .unwrap()
        .prepare(
            "POST",
            "/identities",
            Some((
                "application/json",
                identity("alice-identity", &[("user", &key("alice"))])
                    .to_string()
                    .into_bytes(),
            )),
        )
        .unwrap();
    // Whoever saw it sends it to B (the `Host` stays `localhost:<port>`, as signed).
    let mut to_b = for_a.try_clone().unwrap();
    *to_b.url_mut() = format!("http://127.0.0.3:{port}/identities")
        .parse()
        .unwrap();
    to_b.headers_mut()
        .insert("host", format!("localhost:{port}").parse().unwrap());
    let answer = reqwest::Client::new().execute(to_b).await.unwrap();
    let status = answer.status().as_u16();
    let body = answer.text().await.unwrap_or_default();
    assert_eq!(status, 421, "B took a request signed for A: {body}");
    a.stop().await;
    b.stop().await;
}

/// Item 9's quotas are per key, and keys cost nothing: 32 keys no one knows each store 8
/// identities of 16 KiB, 4 MiB in all, in a few seconds; with more keys, as much as the disk
/// holds. Nothing bounds the registry as a whole, or registrations from keys the node has never
/// seen.
///
/// Now the registrations users make for themselves share one node-wide bucket
/// (`identities.self_register_per_minute`, 60) and a ceiling (`max_self_registered`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_new_keys_store_no_more_than_the_nodes_bound() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let began = Instant::now();
    let (mut taken, mut bytes) = (0, 0);
    for k in 0..32 {
        let me = KeyPair::from_seed_phrase(&format!("review registry {k}"), 0);
        let c = Client::new(&url(&node), &me).unwrap();
        for n in 0..8 {
            let mut doc = identity(
                &format!("filler-{k}-{n}"),
                &[("user", &me.public_key().to_base58())],
            );
            // Up to the document limit (16 KiB) with a field no one reads.
            let pad = 16 * 1024 - doc.to_string().len() - 16;
            doc["padding"] = Value::from("x".repeat(pad));
            let text = doc.to_string();
            if c.post("/identities", text.clone()).await.is_ok() {
                taken += 1;
                bytes += text.len();
            }
        }
    }
    // The bucket's 60, and one more for each second the run took (its refill).
    let bound = 60 + began.elapsed().as_secs() + 1;
    assert!(
        taken < 32 * 8 && taken as u64 <= bound,
        "{taken} identities ({} KiB) stored by 32 keys this node never saw before (bound {bound})",
        bytes / 1024
    );
    node.stop().await;
}
