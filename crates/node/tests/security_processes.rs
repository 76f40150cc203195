//! Issue 14, item 6: process ids. A process is addressed by its chain and its id. These are the
//! attacks as they were found, against nodes on loopback: two organisations that each start
//! `doc-1` (a user who is a party to both used to reach only one), a second start of an id a
//! node holds (answered 200, its process never reachable), and responses that went to
//! whichever chain the node found first.

mod common;

use accord_chain::{ChainId, Nonce};
use accord_crypto::KeyPair;
use accord_node::client::ClientError;
use accord_node::{Running, events};
use common::*;
use serde_json::{Value, json};

/// Two organisations' nodes, each configured with the other as its peer (as in
/// `tests/delivery.rs`): started once alone for their keys and ports, then again knowing each
/// other. `operator` administers both.
async fn two_nodes() -> (Vec<tempfile::TempDir>, Running, Running) {
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut nodes = peered(&dirs, |c| accord_node::Config {
        admins: vec![key("operator")],
        ..c
    })
    .await;
    let b = nodes.pop().unwrap();
    let a = nodes.pop().unwrap();
    (dirs, a, b)
}

/// A document-signing chain started by `drafter` (a test user), holding process `pid` with the
/// drafter's identity at node `drafter_node` and a reviewer (key `reviewer`) at node
/// `reviewer_node`. `tag` makes the chain id.
fn doc_chain(
    pid: &str,
    drafter: &str,
    drafter_node: &str,
    reviewer: &str,
    reviewer_node: &str,
    tag: &str,
) -> accord_chain::VerifiedChain {
    let scenario = scenario("document-signing.json");
    let sid = scenario["id"].as_str().unwrap().to_string();
    let creator = user(drafter);
    let bodies = [
        events::scenario(scenario, &sid),
        events::identity_at(
            "drafter-identity",
            &creator.public_key().to_base58(),
            drafter_node,
        ),
        events::identity_at("reviewer-identity", reviewer, reviewer_node),
        events::process(
            pid,
            &sid,
            &[
                ("drafter".into(), "drafter-identity".into()),
                ("reviewer".into(), "reviewer-identity".into()),
            ],
        ),
    ];
    let signed: Vec<(&Value, &KeyPair)> = bodies.iter().map(|b| (b, &creator)).collect();
    events::new_chain(&creator, b'T', &Nonce::from_text(tag), &signed, now_ms()).unwrap()
}

/// The problem document of a refusal.
fn problem(err: &ClientError) -> &Value {
    match err {
        ClientError::Problem { body, .. } => body,
        other => panic!("not a problem document: {other}"),
    }
}

/// Bob (organisation B) starts `pid` at node B, then Alice (organisation A) starts `pid` at
/// node A, the reviewer (key `reviewer`) at node B on both, so node B holds both chains (Alice's
/// from its peer). Returns (Alice's chain, Bob's chain) once node B holds both.
async fn both_start(
    a: &Running,
    b: &Running,
    pid: &str,
    reviewer: &str,
    reader: &str,
) -> (ChainId, ChainId) {
    register(a, &["alice".to_string()]).await;
    register(b, &["bob".to_string()]).await;
    let bobs = doc_chain(
        pid,
        "bob",
        &b.node_key,
        reviewer,
        &b.node_key,
        &format!("{pid} at B"),
    );
    client(b, "bob")
        .post("/event-chains", bobs.to_json())
        .await
        .unwrap();
    // Node A holds no `pid`: Alice's start there is no duplicate.
    let alices = doc_chain(
        pid,
        "alice",
        &a.node_key,
        reviewer,
        &b.node_key,
        &format!("{pid} at A"),
    );
    client(a, "alice")
        .post("/event-chains", alices.to_json())
        .await
        .unwrap();
    let (chain_a, chain_b) = (*alices.id(), *bobs.id());
    // A peer's chain is never refused for its process id: node B keeps both.
    eventually("node B holds Alice's chain", || async {
        length(b, reader, &chain_a).await == 4
    })
    .await;
    (chain_a, chain_b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_organisations_each_start_doc_1_and_every_party_reaches_its_own() {
    let (_dirs, a, b) = two_nodes().await;
    let carol_key = user("carol").public_key().to_base58();
    let (chain_a, chain_b) = both_start(&a, &b, "doc-1", &carol_key, "carol").await;
    let (ca, cb) = (chain_a.to_base58(), chain_b.to_base58());
    let mut both = vec![ca.clone(), cb.clone()];
    both.sort();

    // Carol, the reviewer on both, asks node B without a chain: ambiguous, both named.
    let carol = client(&b, "carol");
    for path in ["/processes/doc-1", "/processes/doc-1/next"] {
        let err = carol.get(path).await.unwrap_err();
        assert_eq!(err.status(), Some(409), "{path}: {err}");
        let body = problem(&err);
        assert_eq!(
            body["type"], "urn:accord:problem:ambiguous-process",
            "{body}"
        );
        assert_eq!(body["chains"], json!(both), "{body}");
        assert!(
            body["detail"].as_str().unwrap().contains("?chain="),
            "{body}"
        );
    }
    // With `?chain=`, each process, kept whole.
    for (chain, drafter) in [(&ca, "alice"), (&cb, "bob")] {
        let p = carol
            .get(&format!("/processes/doc-1?chain={chain}"))
            .await
            .unwrap();
        assert_eq!(p["chain"], chain.as_str(), "{p}");
        assert_eq!(p["id"], "doc-1");
        assert_eq!(
            p["actors"]["drafter"]["identity"]["signkeys"]["user"],
            user(drafter).public_key().to_base58(),
            "{p}"
        );
        let next = carol
            .get(&format!("/processes/doc-1/next?chain={chain}"))
            .await
            .unwrap();
        assert_eq!(next["chain"], chain.as_str(), "{next}");
        assert_eq!(
            next["actions"]["drafter"],
            json!(["request_review", "withdraw"])
        );
    }
    // Each owner reaches its own without a chain: the only one it may read.
    let p = client(&b, "bob").get("/processes/doc-1").await.unwrap();
    assert_eq!(p["chain"], cb.as_str(), "{p}");
    for node in [&a, &b] {
        let p = client(node, "alice").get("/processes/doc-1").await.unwrap();
        assert_eq!(p["chain"], ca.as_str(), "{p}");
    }
    // A chain the caller may not read answers as a missing process; a chain it may read that
    // holds no such process too; a chain that is not a chain id is named.
    let err = client(&b, "bob")
        .get(&format!("/processes/doc-1?chain={ca}"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");
    let err = carol
        .get(&format!("/processes/doc-2?chain={ca}"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");
    let err = carol
        .get("/processes/doc-1?chain=not-a-chain")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    assert_eq!(problem(&err)["parameter"], "chain");
    // A stranger learns nothing: the 404 of a missing process, not the 409.
    let err = client(&b, "mallory")
        .get("/processes/doc-1")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");
    // Node A holds Alice's chain only, and names only it.
    let err = client(&a, "carol")
        .get(&format!("/processes/doc-1?chain={cb}"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");

    // The listing pages past two processes with one id: each (id, chain) once.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            None => "/processes?limit=1".to_string(),
            Some(cursor) => format!("/processes?limit=1&after={cursor}"),
        };
        let page = carol.get(&path).await.unwrap();
        for p in page["processes"].as_array().unwrap() {
            seen.push((
                p["id"].as_str().unwrap().to_string(),
                p["chain"].as_str().unwrap().to_string(),
            ));
        }
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_string()),
            None => break,
        }
        assert!(seen.len() <= 3, "the listing does not end: {seen:?}");
    }
    let expected: Vec<(String, String)> = both
        .iter()
        .map(|c| ("doc-1".to_string(), c.clone()))
        .collect();
    assert_eq!(seen, expected);
    let err = carol.get("/processes?after=doc-1").await.unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    assert_eq!(problem(&err)["parameter"], "after");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_go_to_the_process_on_the_chain_they_name() {
    let (_dirs, a, b) = two_nodes().await;
    let carol_key = user("carol").public_key().to_base58();
    let (chain_a, chain_b) = both_start(&a, &b, "doc-1", &carol_key, "carol").await;
    let (ca, cb) = (chain_a.to_base58(), chain_b.to_base58());
    // Each drafter asks for a review at its own node; node B holds both.
    act(
        &a,
        &chain_a,
        "doc-1",
        "alice",
        "request_review",
        None,
        json!({}),
    )
    .await
    .unwrap();
    act(
        &b,
        &chain_b,
        "doc-1",
        "bob",
        "request_review",
        None,
        json!({}),
    )
    .await
    .unwrap();
    eventually("node B holds Alice's request", || async {
        length(&b, "carol", &chain_a).await == 5
    })
    .await;
    let state = |chain: String| {
        let carol = client(&b, "carol");
        async move {
            carol
                .get(&format!("/processes/doc-1?chain={chain}"))
                .await
                .unwrap()["current"]["key"]
                .clone()
        }
    };
    // Carol accepts Bob's document: a chain body names its chain, which decides.
    act(
        &b,
        &chain_b,
        "doc-1",
        "carol",
        "review",
        Some("accept"),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(state(cb.clone()).await, "accepted");
    assert_eq!(state(ca.clone()).await, "review");
    // And declines Alice's.
    act(
        &b,
        &chain_a,
        "doc-1",
        "carol",
        "review",
        Some("decline"),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(state(ca.clone()).await, "initial");
    assert_eq!(state(cb.clone()).await, "accepted");
    // `?chain=` may only agree with the body's chain.
    let carol = client(&b, "carol");
    let head = carol
        .get(&format!("/event-chains/{cb}/head"))
        .await
        .unwrap();
    let b32 = |f: &str| -> [u8; 32] {
        accord_crypto::base58::decode(head[f].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    };
    let partial = events::next_event(
        &chain_b,
        b32("tip"),
        b32("state"),
        &events::response("sign_b", None, Value::Null),
        &user("carol"),
        now_ms(),
    )
    .unwrap();
    let err = carol
        .post(
            &format!("/processes/doc-1/responses?chain={ca}"),
            partial.to_json(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    assert_eq!(problem(&err)["parameter"], "chain");
    // A chain holding no such process: the 404 of a missing process, nothing stored.
    let err = carol
        .post("/processes/doc-9/responses", partial.to_json())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");
    assert_eq!(length(&b, "carol", &chain_b).await, 6);

    // A custodial reviewer at node B on both organisations' `doc-k`: the body's `chain`
    // decides; without it, the node names the chains.
    let operator = client(&b, "operator");
    let entry = operator
        .post(
            "/custody",
            json!({"controllers": [user("browser").public_key().to_base58()]}).to_string(),
        )
        .await
        .unwrap();
    let held = entry["key"].as_str().unwrap().to_string();
    let (ka, kb) = both_start(&a, &b, "doc-k", &held, "operator").await;
    act(&a, &ka, "doc-k", "alice", "request_review", None, json!({}))
        .await
        .unwrap();
    act(&b, &kb, "doc-k", "bob", "request_review", None, json!({}))
        .await
        .unwrap();
    eventually("node B holds Alice's request on doc-k", || async {
        length(&b, "operator", &ka).await == 5
    })
    .await;
    let browser = client(&b, "browser");
    let review = |chain: Option<&ChainId>| {
        let mut body = json!({"key": held, "action": "review", "response": "accept"});
        if let Some(chain) = chain {
            body["chain"] = Value::from(chain.to_base58());
        }
        body.to_string()
    };
    let err = browser
        .post("/processes/doc-k/responses", review(None))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(409), "{err}");
    let body = problem(&err);
    assert_eq!(
        body["type"], "urn:accord:problem:ambiguous-process",
        "{body}"
    );
    let mut chains = vec![ka.to_base58(), kb.to_base58()];
    chains.sort();
    assert_eq!(body["chains"], json!(chains), "{body}");
    browser
        .post("/processes/doc-k/responses", review(Some(&ka)))
        .await
        .unwrap();
    let custodial_state = |chain: &ChainId| {
        let path = format!("/processes/doc-k?chain={}", chain.to_base58());
        let browser = client(&b, "browser");
        async move { browser.get(&path).await.unwrap()["current"]["key"].clone() }
    };
    assert_eq!(custodial_state(&ka).await, "accepted");
    assert_eq!(custodial_state(&kb).await, "review");
    // The query may name it too, but not a different chain from the body.
    browser
        .post(
            &format!("/processes/doc-k/responses?chain={}", kb.to_base58()),
            review(None),
        )
        .await
        .unwrap();
    assert_eq!(custodial_state(&kb).await, "accepted");
    let err = browser
        .post(
            &format!("/processes/doc-k/responses?chain={}", kb.to_base58()),
            review(Some(&ka)),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_start_of_a_held_process_id_is_refused_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    register(&node, &["drafter".to_string(), "mallory".to_string()]).await;
    let reviewer = user("reviewer").public_key().to_base58();
    let first = doc_chain(
        "doc-1",
        "drafter",
        &node.node_key,
        &reviewer,
        &node.node_key,
        "first",
    );
    let drafter = client(&node, "drafter");
    drafter
        .post("/event-chains", first.to_json())
        .await
        .unwrap();
    let first_id = first.id().to_base58();

    // The same user starts doc-1 again: refused whole, the existing chain named (it may read
    // it), and nothing of the new chain stored.
    let again = doc_chain(
        "doc-1",
        "drafter",
        &node.node_key,
        &reviewer,
        &node.node_key,
        "again",
    );
    let err = drafter
        .post("/event-chains", again.to_json())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(409), "{err}");
    let body = problem(&err);
    assert_eq!(body["type"], "urn:accord:problem:process-exists", "{body}");
    assert_eq!(body["process"], "doc-1");
    assert_eq!(body["chains"], json!([first_id]), "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains(&first_id),
        "{body}"
    );
    let err = drafter
        .get(&format!("/event-chains/{}/head", again.id().to_base58()))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");

    // Someone who may not read the existing chain is refused too, and not told where it is.
    let squat = doc_chain(
        "doc-1",
        "mallory",
        &node.node_key,
        &reviewer,
        &node.node_key,
        "squat",
    );
    let err = client(&node, "mallory")
        .post("/event-chains", squat.to_json())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(409), "{err}");
    let body = problem(&err);
    assert_eq!(body["type"], "urn:accord:problem:process-exists", "{body}");
    assert!(body.get("chains").is_none(), "{body}");
    assert!(!body.to_string().contains(&first_id), "{body}");
    let err = client(&node, "mallory")
        .get(&format!("/event-chains/{}/head", squat.id().to_base58()))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");

    // A sub-process is a start too: on a chain of its own, doc-2 may not start a doc-1.
    let second = doc_chain(
        "doc-2",
        "drafter",
        &node.node_key,
        &reviewer,
        &node.node_key,
        "second",
    );
    drafter
        .post("/event-chains", second.to_json())
        .await
        .unwrap();
    let head = drafter
        .get(&format!("/event-chains/{}/head", second.id().to_base58()))
        .await
        .unwrap();
    let b32 = |f: &str| -> [u8; 32] {
        accord_crypto::base58::decode(head[f].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    };
    let mut sub = events::process(
        "doc-1",
        "accord-example-document-signing",
        &[("drafter".into(), "drafter-identity".into())],
    );
    sub["parent"] = Value::from("doc-2");
    // The chain's events are stamped a millisecond apart from its start: the next one may not
    // be earlier than its last, however fast this test runs.
    let after = second.events().last().unwrap().event().timestamp + 1;
    let partial = events::next_event(
        second.id(),
        b32("tip"),
        b32("state"),
        &sub,
        &user("drafter"),
        now_ms().max(after),
    )
    .unwrap();
    let err = drafter
        .post("/event-chains", partial.to_json())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(409), "{err}");
    assert_eq!(problem(&err)["type"], "urn:accord:problem:process-exists");
    assert_eq!(length(&node, "drafter", second.id()).await, 4);
    // Under an id of its own, the same sub-process starts.
    sub["id"] = Value::from("doc-2-part");
    let partial = events::next_event(
        second.id(),
        b32("tip"),
        b32("state"),
        &sub,
        &user("drafter"),
        now_ms().max(after),
    )
    .unwrap();
    drafter
        .post("/event-chains", partial.to_json())
        .await
        .unwrap();
    drafter.get("/processes/doc-2-part").await.unwrap();

    // Starts of one id raced from many clients: the one writer lets exactly one stand, however
    // they fall into batches.
    let racers: Vec<_> = (0..8)
        .map(|n| {
            let chain = doc_chain(
                "doc-race",
                "drafter",
                &node.node_key,
                &reviewer,
                &node.node_key,
                &format!("race {n}"),
            );
            let c = client(&node, "drafter");
            tokio::spawn(
                async move { (*chain.id(), c.post("/event-chains", chain.to_json()).await) },
            )
        })
        .collect();
    let mut won = Vec::new();
    for racer in racers {
        let (chain, answer) = racer.await.unwrap();
        match answer {
            Ok(_) => won.push(chain),
            Err(err) => {
                assert_eq!(
                    err.kind(),
                    Some("urn:accord:problem:process-exists"),
                    "{err}"
                );
                assert_eq!(length(&node, "drafter", &chain).await, 0);
            }
        }
    }
    assert_eq!(
        won.len(),
        1,
        "exactly one start of doc-race stands: {won:?}"
    );
    let p = drafter.get("/processes/doc-race").await.unwrap();
    assert_eq!(p["chain"], won[0].to_base58());

    // The first doc-1 is untouched and still answers without a chain.
    let p = drafter.get("/processes/doc-1").await.unwrap();
    assert_eq!(p["chain"], first_id.as_str());
    assert_eq!(p["current"]["key"], "initial");
    let chains = drafter.get("/event-chains").await.unwrap();
    assert_eq!(chains["chains"].as_array().unwrap().len(), 3, "{chains}");
    node.stop().await;
}
