//! The node's API end to end, in process on loopback: processes run to their final states,
//! access rules, bad input, restarts.

mod common;

use accord_node::client::Client;
use accord_node::events;
use common::*;
use serde_json::{Value, json};

fn actors(scenario: &Value) -> Vec<String> {
    scenario["actors"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn biomass_runs_to_its_final_state_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let scenario = scenario("biomass.json");
    register(&node, &actors(&scenario)).await;
    let buyer = client(&node, "buyer");
    let stored = buyer
        .post("/scenarios", scenario.to_string())
        .await
        .unwrap();
    assert_eq!(stored["id"], scenario["id"]);
    let (chain_json, chain, pid) = start_chain(&scenario, "buyer", "restart");
    let outcome = buyer
        .post("/event-chains", chain_json.clone())
        .await
        .unwrap();
    assert_eq!(
        outcome["added"].as_array().unwrap().len(),
        2 + actors(&scenario).len()
    );
    // The same chain again changes nothing.
    let again = buyer.post("/event-chains", chain_json).await.unwrap();
    assert_eq!(again["added"], json!([]));
    assert_eq!(
        again["duplicates"],
        outcome["added"].as_array().unwrap().len()
    );
    assert_eq!(again["tip"], outcome["tip"]);

    let steps = steps("biomass.yaml");
    let (first, rest) = steps.split_at(5);
    drive(&node, &chain, &pid, first).await;
    let before = buyer.get(&format!("/processes/{pid}")).await.unwrap();
    node.stop().await;

    // A new node on the same data directory continues the process.
    let node = start(dir.path()).await;
    let buyer = client(&node, "buyer");
    let after = buyer.get(&format!("/processes/{pid}")).await.unwrap();
    assert_eq!(before, after);
    drive(&node, &chain, &pid, rest).await;
    let done = buyer.get(&format!("/processes/{pid}")).await.unwrap();
    assert_eq!(done["current"]["key"], ":success");
    let next = buyer.get(&format!("/processes/{pid}/next")).await.unwrap();
    assert_eq!(next["finished"], true);
    assert_eq!(next["actions"], json!({}));

    // The refused step is on the chain, answered by an error event signed by the node.
    let whole = buyer
        .get(&format!("/event-chains/{}", chain.to_base58()))
        .await
        .unwrap();
    let chain_back = accord_chain::Chain::from_json(whole.to_string().as_bytes()).unwrap();
    let verified = chain_back.verify().unwrap();
    let errors: Vec<Value> = verified
        .events()
        .iter()
        .filter_map(|e| serde_json::from_slice::<Value>(&e.event().data).ok())
        .filter(|b| b["$schema"] == accord_node::pipeline::ERROR_SCHEMA)
        .collect();
    assert_eq!(errors.len(), 1, "one refused step, one error event");
    assert!(
        errors[0]["message"][0]
            .as_str()
            .unwrap()
            .contains("take_over"),
        "{}",
        errors[0]
    );
    let error_signer = verified
        .events()
        .iter()
        .find(|e| {
            serde_json::from_slice::<Value>(&e.event().data)
                .is_ok_and(|b| b["$schema"] == accord_node::pipeline::ERROR_SCHEMA)
        })
        .unwrap()
        .sign_key()
        .to_base58();
    assert_eq!(error_signer, node.node_key);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_signing_both_paths_and_the_listing() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let scenario = scenario("document-signing.json");
    register(&node, &actors(&scenario)).await;
    let drafter = client(&node, "drafter");
    let mut pids = Vec::new();
    for tag in ["a", "b"] {
        let (chain_json, chain, pid) = start_chain(&scenario, "drafter", tag);
        drafter.post("/event-chains", chain_json).await.unwrap();
        let next = drafter
            .get(&format!("/processes/{pid}/next"))
            .await
            .unwrap();
        assert_eq!(
            next["actions"]["drafter"],
            json!(["request_review", "withdraw"]),
            "{next}"
        );
        pids.push((chain, pid));
    }
    let listed = drafter.get("/processes?limit=1").await.unwrap();
    assert_eq!(listed["processes"].as_array().unwrap().len(), 1);
    let next_page = listed["next"].as_str().unwrap();
    let rest = drafter
        .get(&format!("/processes?after={next_page}"))
        .await
        .unwrap();
    assert_eq!(rest["processes"].as_array().unwrap().len(), 1);
    let chains = drafter.get("/event-chains").await.unwrap();
    assert_eq!(chains["chains"].as_array().unwrap().len(), 2);
    // The reviewer is a party (its identity is on the chains) and sees them too.
    let reviewer = client(&node, "reviewer");
    assert_eq!(
        reviewer.get("/event-chains").await.unwrap()["chains"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_see_nothing_and_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let scenario = scenario("document-signing.json");
    register(&node, &actors(&scenario)).await;
    let drafter = client(&node, "drafter");
    let (chain_json, chain, pid) = start_chain(&scenario, "drafter", "private");
    drafter.post("/event-chains", chain_json).await.unwrap();
    let mallory = client(&node, "mallory");
    let id = chain.to_base58();
    // The same 404 for a chain that exists and one that does not.
    for path in [
        format!("/event-chains/{id}"),
        format!("/event-chains/{id}/head"),
        format!("/event-chains/{id}/events?after={id}"),
        format!("/processes/{pid}"),
        format!("/processes/{pid}/next"),
    ] {
        let err = mallory.get(&path).await.unwrap_err();
        assert_eq!(err.status(), Some(404), "{path}: {err}");
    }
    let missing = mallory.get("/processes/nope").await.unwrap_err();
    assert_eq!(missing.status(), Some(404));
    assert_eq!(
        mallory.get("/event-chains").await.unwrap()["chains"],
        json!([])
    );
    // Mallory cannot add to the chain, nor start chains before registering.
    let err = act(
        &node,
        &chain,
        &pid,
        "mallory",
        "request_review",
        None,
        Value::Null,
    )
    .await
    .unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");
    let (other, _, _) = start_chain(&scenario, "mallory", "m");
    let err = mallory.post("/event-chains", other).await.unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    // Mallory cannot register an identity with someone else's key.
    let body = accord_node::events::identity("x", &user("drafter").public_key().to_base58(), None);
    let err = mallory
        .post("/identities", body.to_string())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    // Unsigned requests are refused with a problem document.
    let raw = reqwest::get(format!("{}/processes", url(&node)))
        .await
        .unwrap();
    assert_eq!(raw.status(), 401);
    assert_eq!(
        raw.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let problem: Value = raw.json().await.unwrap();
    assert_eq!(problem["type"], "urn:accord:problem:unauthenticated");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_with(dir.path(), |c| accord_node::Config {
        body_limit: 64 * 1024,
        ..c
    })
    .await;
    let scenario = scenario("document-signing.json");
    register(&node, &actors(&scenario)).await;
    let drafter = client(&node, "drafter");
    // Malformed JSON: line and column.
    let err = drafter
        .post("/event-chains", "{\n  \"id\": ")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    let ClientError::Problem { body, .. } = &err else {
        panic!()
    };
    assert_eq!(body["line"], 2, "{body}");
    // A scenario with errors: every diagnostic with its pointer.
    let mut bad = scenario.clone();
    bad["states"]["initial"]["transitions"][0]["transition"] = json!("nowhere");
    bad["actions"]["review"]["actors"] = json!(["ghost"]);
    let err = drafter
        .post("/scenarios", bad.to_string())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    let ClientError::Problem { body, .. } = &err else {
        panic!()
    };
    let pointers: Vec<&str> = body["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["pointer"].as_str())
        .collect();
    assert!(
        pointers
            .iter()
            .any(|p| p.starts_with("/states/initial/transitions/0")),
        "{body}"
    );
    assert!(pointers.contains(&"/actions/review"), "{body}");
    // What would refuse a process at its start refuses the scenario when it is stored
    // (issue 15, one verdict): here an actor schema whose default breaks it.
    let mut bad = scenario.clone();
    bad["actors"]["drafter"] =
        json!({"properties": {"age": {"type": "integer", "default": "old"}}});
    let err = drafter
        .post("/scenarios", bad.to_string())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    let ClientError::Problem { body, .. } = &err else {
        panic!()
    };
    assert!(
        body["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["code"] == "default-breaks-schema" && d["pointer"] == "/actors/drafter"),
        "{body}"
    );
    // A tampered chain: the event named, nothing stored.
    let (chain_json, chain, pid) = start_chain(&scenario, "drafter", "t");
    let tampered = {
        let mut v: Value = serde_json::from_str(&chain_json).unwrap();
        let t = v["events"][1]["timestamp"].as_u64().unwrap();
        v["events"][1]["timestamp"] = Value::from(t + 8);
        v.to_string()
    };
    assert_ne!(tampered, chain_json);
    let err = drafter.post("/event-chains", tampered).await.unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    assert!(err.to_string().contains("event 1"), "{err}");
    let err = drafter.get(&format!("/processes/{pid}")).await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    // A fork: two different events on the same tip.
    drafter.post("/event-chains", chain_json).await.unwrap();
    let head = drafter
        .get(&format!("/event-chains/{}/head", chain.to_base58()))
        .await
        .unwrap();
    act(
        &node,
        &chain,
        &pid,
        "drafter",
        "request_review",
        None,
        Value::Null,
    )
    .await
    .unwrap();
    let b = |f: &str| -> [u8; 32] {
        accord_crypto::base58::decode(head[f].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    };
    let fork = accord_node::events::next_event(
        &chain,
        b("tip"),
        b("state"),
        &accord_node::events::response("withdraw", None, Value::Null),
        &user("drafter"),
        5,
    )
    .unwrap();
    let err = drafter
        .post("/event-chains", fork.to_json())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(409), "{err}");
    assert_eq!(err.kind(), Some("urn:accord:problem:fork"));
    // A bad query string is a problem document too.
    let err = drafter.get("/processes?limit=many").await.unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    assert_eq!(err.kind(), Some("urn:accord:problem:invalid-request"));
    assert!(err.to_string().contains("limit"), "{err}");
    // A body over the limit.
    let big = format!("{{\"id\": \"{}\"}}", "x".repeat(100 * 1024));
    let err = drafter.post("/event-chains", big).await.unwrap_err();
    assert_eq!(err.status(), Some(413), "{err}");
    // A refused response is answered with 422 and an error event; the chain grows by two.
    let before = drafter
        .get(&format!("/event-chains/{}/head", chain.to_base58()))
        .await
        .unwrap();
    let err = act(&node, &chain, &pid, "drafter", "sign_a", None, Value::Null)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    let ClientError::Problem { body, .. } = &err else {
        panic!()
    };
    assert!(body["errorEvent"].is_string(), "{body}");
    let after = drafter
        .get(&format!("/event-chains/{}/head", chain.to_base58()))
        .await
        .unwrap();
    assert_eq!(
        after["length"].as_u64().unwrap(),
        before["length"].as_u64().unwrap() + 2
    );
    // Paging: pages of one event link to the next, each a valid partial chain.
    let c = Client::new(&url(&node), &user("drafter")).unwrap();
    let page = c
        .send(
            "GET",
            &format!("/event-chains/{}?from=2&limit=1", chain.to_base58()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(page.status, 200);
    assert!(
        page.header("link").unwrap().contains("from=3"),
        "{:?}",
        page.headers
    );
    let partial = accord_chain::Chain::from_json(&page.body).unwrap();
    assert!(partial.start.is_some());
    partial.verify().unwrap();
    node.stop().await;
}

use accord_node::client::ClientError;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_and_the_openapi_document() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let base = url(&node);
    assert_eq!(
        reqwest::get(format!("{base}/healthz"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        reqwest::get(format!("{base}/readyz"))
            .await
            .unwrap()
            .status(),
        200
    );
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("accord_events_in_total 0"), "{metrics}");
    let served: Value = reqwest::get(format!("{base}/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let built: Value = serde_json::from_str(&accord_node::openapi_json()).unwrap();
    assert_eq!(served, built);
    // The committed copy of the document is the one the code builds.
    let committed_path = std::path::Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"),
    )
    .join("../../docs/design/openapi.json");
    if std::env::var("ACCORD_UPDATE_OPENAPI").is_ok() {
        std::fs::write(&committed_path, accord_node::openapi_json() + "\n").unwrap();
    }
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(&committed_path).unwrap()).unwrap();
    assert_eq!(
        committed, built,
        "docs/design/openapi.json is stale: rerun with ACCORD_UPDATE_OPENAPI=1"
    );
    // Every documented path answers (not the router's 404 for an unknown endpoint).
    for (path, item) in built["paths"].as_object().unwrap() {
        let concrete = path.replace("{id}", "x");
        for method in item.as_object().unwrap().keys() {
            let response = reqwest::Client::new()
                .request(
                    method.to_uppercase().parse().unwrap(),
                    format!("{base}{concrete}"),
                )
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            assert!(
                !(status == 404 && body["detail"] == "no such endpoint") && status != 405,
                "{method} {path}: {status}"
            );
        }
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custodial_user_acts_through_a_controller_and_the_node_signs() {
    let dir = tempfile::tempdir().unwrap();
    let admin = user("front end");
    let admin_key = admin.public_key().to_base58();
    let node = start_with(dir.path(), |mut c| {
        c.admins = vec![admin_key.clone()];
        c
    })
    .await;
    let front = client(&node, "front end");
    let device = user("reviewer's browser").public_key().to_base58();
    // Only administrators hold keys for users.
    let err = client(&node, "drafter")
        .post("/custody", "{}".to_string())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    let err = front
        .post("/custody", r#"{"controllers": ["nope"]}"#.to_string())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    assert!(err.to_string().contains("controllers[0]"), "{err}");
    let entry = front
        .post("/custody", json!({"controllers": [device]}).to_string())
        .await
        .unwrap();
    let held = entry["key"].as_str().unwrap().to_string();
    assert_ne!(held, node.node_key);
    // The custodial key is the reviewer's identity; the drafter brings their own.
    front
        .post(
            "/identities",
            events::identity("reviewer-identity", &held, None).to_string(),
        )
        .await
        .unwrap();
    register(&node, &["drafter".to_string()]).await;
    let scenario = scenario("document-signing.json");
    let sid = scenario["id"].as_str().unwrap().to_string();
    let drafter = user("drafter");
    let pid = "custody-1".to_string();
    let bodies = [
        events::scenario(scenario.clone(), &sid),
        events::identity("drafter-identity", &drafter.public_key().to_base58(), None),
        events::identity("reviewer-identity", &held, None),
        events::process(
            &pid,
            &sid,
            &[
                ("drafter".into(), "drafter-identity".into()),
                ("reviewer".into(), "reviewer-identity".into()),
            ],
        ),
    ];
    let signed: Vec<(&Value, &accord_crypto::KeyPair)> =
        bodies.iter().map(|b| (b, &drafter)).collect();
    let chain = events::new_chain(
        &drafter,
        b'T',
        &accord_chain::Nonce::from_text(&pid),
        &signed,
        now_ms(),
    )
    .unwrap();
    client(&node, "drafter")
        .post("/event-chains", chain.to_json())
        .await
        .unwrap();
    act(
        &node,
        chain.id(),
        &pid,
        "drafter",
        "request_review",
        None,
        json!({}),
    )
    .await
    .unwrap();
    let path = format!("/processes/{pid}/responses");
    let browser = client(&node, "reviewer's browser");
    // Someone who controls nothing gets the same answer for a held key and an unknown one.
    let stranger = client(&node, "stranger");
    for key in [
        held.as_str(),
        "4EcSxUkMxqxBEBUBL2oKz3ARVsbyRJTivWpNrYQGdguz",
    ] {
        let err = stranger
            .post(
                &path,
                json!({"key": key, "action": "review", "response": "accept"}).to_string(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(403), "{err}");
    }
    // A misspelt field is named.
    let err = browser
        .post(
            &path,
            json!({"key": held, "action": "review", "respons": "accept"}).to_string(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    assert!(err.to_string().contains("respons"), "{err}");
    // An action the reviewer may not take: refused, answered by an error event.
    let err = browser
        .post(&path, json!({"key": held, "action": "sign_a"}).to_string())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    // The controller acts; the node builds and signs the event with the custodial key.
    let out = browser
        .post(
            &path,
            json!({"key": held, "action": "review", "response": "accept", "data": {"note": "fine"}})
                .to_string(),
        )
        .await
        .unwrap();
    assert_eq!(out["added"].as_array().unwrap().len(), 1, "{out}");
    let p = client(&node, "drafter")
        .get(&format!("/processes/{pid}"))
        .await
        .unwrap();
    assert_eq!(p["current"]["key"], "accepted", "{p}");
    let events = client(&node, "drafter")
        .get(&format!("/event-chains/{}", chain.id().to_base58()))
        .await
        .unwrap();
    let last = events["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["signKey"]["publicKey"], held, "{last}");
    // The controller reads what its custodial key may read; a stranger still sees nothing.
    let seen = browser.get(&format!("/processes/{pid}")).await.unwrap();
    assert_eq!(seen["current"]["key"], "accepted");
    let err = stranger
        .get(&format!("/processes/{pid}"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");
    // The list is for administrators; the key survives a restart.
    let err = browser.get("/custody").await.unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    node.stop().await;
    let node = start_with(dir.path(), |mut c| {
        c.admins = vec![admin_key.clone()];
        c
    })
    .await;
    let listed = client(&node, "front end").get("/custody").await.unwrap();
    assert_eq!(listed["keys"][0]["key"], held, "{listed}");
    client(&node, "reviewer's browser")
        .post(&path, json!({"key": held, "action": "sign_b"}).to_string())
        .await
        .unwrap();
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_long_poll_answers_when_the_chain_reaches_the_length() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let scenario = scenario("document-signing.json");
    register(&node, &actors(&scenario)).await;
    let drafter = client(&node, "drafter");
    let (chain_json, chain, pid) = start_chain(&scenario, "drafter", "long-poll");
    drafter.post("/event-chains", chain_json).await.unwrap();
    let id = chain.to_base58();
    let head = drafter
        .get(&format!("/event-chains/{id}/head"))
        .await
        .unwrap();
    let length = head["length"].as_u64().unwrap();
    let poll = |min: u64, wait_ms: u64| {
        let (c, path) = (
            client(&node, "reviewer"),
            format!("/event-chains/{id}/head?min_length={min}&wait_ms={wait_ms}"),
        );
        tokio::spawn(async move {
            let t = Instant::now();
            (c.get(&path).await.unwrap(), t.elapsed())
        })
    };

    // A length already reached: answered at once, whatever the wait.
    let (now, took) = poll(length, 30_000).await.unwrap();
    assert_eq!(now, head);
    assert!(took < Duration::from_secs(10), "{took:?}");

    // Two waiters, for one and two more events: each answered when its length is reached.
    let one = poll(length + 1, 20_000);
    let two = poll(length + 2, 20_000);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !one.is_finished() && !two.is_finished(),
        "nothing committed yet"
    );
    let first = act(
        &node,
        &chain,
        &pid,
        "drafter",
        "request_review",
        None,
        Value::Null,
    )
    .await
    .unwrap();
    let (answer, took) = one.await.unwrap();
    assert_eq!(answer["length"], length + 1);
    assert_eq!(answer["tip"], first["tip"]);
    assert_eq!(answer["state"], first["state"]);
    assert!(
        took < Duration::from_secs(15),
        "answered before its wait ran out: {took:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!two.is_finished(), "one event is not two");
    let second = act(
        &node,
        &chain,
        &pid,
        "reviewer",
        "review",
        Some("accept"),
        Value::Null,
    )
    .await
    .unwrap();
    let (answer, took) = two.await.unwrap();
    assert_eq!(answer["length"], length + 2);
    assert_eq!(answer["tip"], second["tip"]);
    assert!(took < Duration::from_secs(15), "{took:?}");

    // A length not reached: the head as it stands when the wait runs out.
    let (answer, took) = poll(length + 10, 300).await.unwrap();
    assert_eq!(answer["length"], length + 2);
    assert!(took >= Duration::from_millis(300), "{took:?}");

    // The same 404 as without waiting, at once, for a stranger and for a missing chain.
    let mallory = client(&node, "mallory");
    let t = Instant::now();
    let err = mallory
        .get(&format!(
            "/event-chains/{id}/head?min_length=100&wait_ms=30000"
        ))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");
    let (other, missing, _) = start_chain(&scenario, "drafter", "never-sent");
    drop(other);
    let err = drafter
        .get(&format!(
            "/event-chains/{}/head?min_length=1&wait_ms=30000",
            missing.to_base58()
        ))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");
    assert!(t.elapsed() < Duration::from_secs(10));
    node.stop().await;
}
