//! Between nodes, in process on loopback: three organisations' nodes, each user acting at
//! their own node, every event delivered to the other parties' nodes through their outboxes.

mod common;

use std::time::{Duration, Instant};

use accord_chain::Nonce;
use accord_crypto::KeyPair;
use accord_node::client::Client;
use accord_node::{Running, events};
use common::*;
use serde_json::Value;

/// Nodes with keys and ports fixed by a first start, restarted knowing each other.
struct Net {
    dirs: Vec<tempfile::TempDir>,
    nodes: Vec<Option<Running>>,
    configs: Vec<accord_node::Config>,
}

impl Net {
    fn node(&self, i: usize) -> &Running {
        self.nodes[i].as_ref().expect("the node runs")
    }

    async fn stop(&mut self, i: usize) {
        if let Some(node) = self.nodes[i].take() {
            node.stop().await;
        }
    }

    async fn restart(&mut self, i: usize) {
        let config = self.configs[i].clone();
        self.nodes[i] = Some(start_with(self.dirs[i].path(), |_| config).await);
    }
}

async fn net(n: usize, change: impl Fn(accord_node::Config) -> accord_node::Config) -> Net {
    let dirs: Vec<tempfile::TempDir> = (0..n).map(|_| tempfile::tempdir().unwrap()).collect();
    let known = first_start(&dirs).await;
    let mut net = Net {
        dirs,
        nodes: Vec::new(),
        configs: Vec::new(),
    };
    for i in 0..n {
        let config = change(accord_node::Config {
            listen: known[i].0,
            peers: peers_of(&known, i),
            admins: vec![user("operator").public_key().to_base58()],
            ..config(net.dirs[i].path())
        });
        net.configs.push(config);
        net.nodes.push(None);
        net.restart(i).await;
    }
    net
}

/// An actor's identity (`<actor>-identity`, `user(actor)`'s key) whose node is `node`.
fn identity_at(actor: &str, node: &str) -> Value {
    events::identity_at(
        &format!("{actor}-identity"),
        &user(actor).public_key().to_base58(),
        node,
    )
}

/// A chain the buyer starts: the buyer's identity at node `a`, the supplier's at node `b`.
fn two_parties(a: &str, b: &str, tag: &str) -> accord_chain::VerifiedChain {
    let buyer = user("buyer");
    let bodies = [identity_at("buyer", a), identity_at("supplier", b)];
    let signed: Vec<(&Value, &KeyPair)> = bodies.iter().map(|b| (b, &buyer)).collect();
    events::new_chain(&buyer, b'T', &Nonce::from_text(tag), &signed, now_ms()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_run_biomass_to_identical_chains_and_projections() {
    let net = net(3, |c| c).await;
    let scenario = scenario("biomass.json");
    let actors: Vec<String> = scenario["actors"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    // Each actor belongs to one organisation's node, round robin.
    let home = |actor: &str| actors.iter().position(|a| a == actor).unwrap() % 3;
    for a in &actors {
        let node = net.node(home(a));
        client(node, a)
            .post("/identities", identity_at(a, &node.node_key).to_string())
            .await
            .unwrap();
    }

    // The buyer starts the process at its node.
    let creator = &actors[0];
    let (chain_json, chain_id, pid) = start_chain_at(&scenario, creator, "three-nodes", |a| {
        Some(net.node(home(a)).node_key.clone())
    });
    let id = chain_id.to_base58();
    client(net.node(home(creator)), creator)
        .post("/event-chains", chain_json)
        .await
        .unwrap();

    // Each step at the actor's own node, once every node holds what came before.
    let mut expected = 0;
    for (n, step) in steps("biomass.yaml").iter().enumerate() {
        let Some(action) = step.get("action").and_then(Value::as_str) else {
            continue;
        };
        let actor = step["actor"].as_str().unwrap();
        let node = net.node(home(actor));
        if expected == 0 {
            expected = length(net.node(home(creator)), creator, &id).await;
        }
        for (i, other) in net.nodes.iter().flatten().enumerate() {
            let who = actors.iter().find(|a| home(a) == i).unwrap();
            eventually(
                &format!("node {i} holds {expected} events before step {}", n + 1),
                || {
                    let (other, who, id) = (other, who.clone(), id.clone());
                    async move { length(other, &who, &id).await == expected }
                },
            )
            .await;
        }
        let result = act(
            node,
            &chain_id,
            &pid,
            actor,
            action,
            step.get("response").and_then(Value::as_str),
            step.get("data").cloned().unwrap_or(Value::Null),
        )
        .await;
        if step.get("reject").and_then(Value::as_bool) == Some(true) {
            let err = result.expect_err("a refused step");
            assert_eq!(err.status(), Some(422), "step {}: {err}", n + 1);
            expected += 2; // the refused event and the node's error event
        } else {
            result.unwrap_or_else(|e| panic!("step {} ({actor} {action}): {e}", n + 1));
            expected += 1;
        }
    }

    // Every node ends with the same events and the byte-identical projection.
    let mut chains = Vec::new();
    let mut projections = Vec::new();
    for (i, node) in net.nodes.iter().flatten().enumerate() {
        let who = actors.iter().find(|a| home(a) == i).unwrap();
        eventually(&format!("node {i} holds all {expected} events"), || {
            let (node, who, id) = (node, who.clone(), id.clone());
            async move { length(node, &who, &id).await == expected }
        })
        .await;
        let c = client(node, who);
        chains.push(c.get(&format!("/event-chains/{id}")).await.unwrap());
        let answer = c
            .send("GET", &format!("/processes/{pid}"), None)
            .await
            .unwrap();
        assert_eq!(answer.status, 200);
        projections.push(answer.body);
    }
    assert_eq!(
        chains[0]["events"].as_array().unwrap().len() as u64,
        expected
    );
    assert_eq!(chains[0], chains[1]);
    assert_eq!(chains[0], chains[2]);
    assert_eq!(projections[0], projections[1]);
    assert_eq!(projections[0], projections[2]);
    let done: Value = serde_json::from_slice(&projections[0]).unwrap();
    assert_eq!(done["current"]["key"], ":success");
    // One error event only: from the node the refused step went to.
    let whole = accord_chain::Chain::from_json(chains[0].to_string().as_bytes()).unwrap();
    let verified = whole.verify().unwrap();
    let errors: Vec<String> = verified
        .events()
        .iter()
        .filter(|e| {
            serde_json::from_slice::<Value>(&e.event().data)
                .is_ok_and(|b| b["$schema"] == accord_node::pipeline::ERROR_SCHEMA)
        })
        .map(|e| e.sign_key().to_base58())
        .collect();
    let buyer_home = &net.node(home("buyer")).node_key;
    assert_eq!(errors, vec![buyer_home.clone()]);

    // Every outbox row is done, and only administrators may look.
    for node in net.nodes.iter().flatten() {
        let outsider = client(node, "nobody").get("/outbox").await.unwrap_err();
        assert_eq!(outsider.status(), Some(403));
        let operator = client(node, "operator");
        eventually("the outbox is drained", || {
            let operator = operator.clone();
            async move {
                let rows = operator.get("/outbox").await.unwrap();
                let rows = rows["rows"].as_array().unwrap();
                !rows.is_empty() && rows.iter().all(|r| r["state"] == "done")
            }
        })
        .await;
    }
    drop(net.dirs);
}

/// What stands in for a broken peer on its address: the first `errors` connections get a 500,
/// later ones are read and never answered.
async fn broken_peer(addr: std::net::SocketAddr, errors: usize) -> tokio::task::JoinHandle<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    tokio::spawn(async move {
        let mut served = 0;
        let mut hanging = Vec::new();
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut buf = vec![0u8; 1 << 16];
            let _ = socket.read(&mut buf).await;
            if served < errors {
                served += 1;
                let _ = socket
                    .write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/problem+json\r\ncontent-length: 42\r\nconnection: close\r\n\r\n{\"type\":\"x\",\"detail\":\"the disk is broken\"}")
                    .await;
            } else {
                hanging.push(socket);
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_peer_backs_off_then_dead_letters_and_a_replay_delivers() {
    let mut net = net(2, |c| accord_node::Config {
        delivery: accord_node::config::Delivery {
            backoff_ms: 20,
            backoff_max_ms: 100,
            max_attempts: 4,
            timeout_ms: 300,
            concurrency: 4,
        },
        ..c
    })
    .await;
    let (a_key, b_key) = (net.node(0).node_key.clone(), net.node(1).node_key.clone());
    let b_addr = net.configs[1].listen;
    net.stop(1).await;
    let broken = broken_peer(b_addr, 2).await;

    // The buyer, at A, starts a process with the supplier, at B.
    client(net.node(0), "buyer")
        .post("/identities", identity_at("buyer", &a_key).to_string())
        .await
        .unwrap();
    let chain = two_parties(&a_key, &b_key, "broken peer");
    let id = chain.id().to_base58();
    client(net.node(0), "buyer")
        .post("/event-chains", chain.to_json())
        .await
        .unwrap();

    // Two 500s, then attempts that time out: dead after four, with the last reason.
    let operator = client(net.node(0), "operator");
    let started = Instant::now();
    eventually("the delivery is dead", || {
        let operator = operator.clone();
        async move {
            let dead = operator.get("/outbox?state=dead").await.unwrap();
            dead["rows"].as_array().unwrap().len() == 1
        }
    })
    .await;
    let dead = operator.get("/outbox?state=dead").await.unwrap();
    let row = &dead["rows"][0];
    assert_eq!(row["peer"], b_key.as_str());
    assert_eq!(row["chain"], id.as_str());
    assert_eq!(
        (row["sent"].as_u64(), row["wanted"].as_u64()),
        (Some(0), Some(2))
    );
    let error = row["error"].as_str().unwrap();
    assert!(
        error.contains("did not answer") && error.contains("gave up after 4 attempts"),
        "{error}"
    );
    // Two fast failures, then two timeouts of 300 ms each, with backoff between.
    assert!(started.elapsed() >= Duration::from_millis(600));
    let metrics = reqwest::get(format!("{}/metrics", url(net.node(0))))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "accord_outbox_rows{{peer=\"{b_key}\",state=\"dead\"}} 1"
        )),
        "{metrics}"
    );
    assert_eq!(
        operator
            .get("/outbox?state=sideways")
            .await
            .unwrap_err()
            .status(),
        Some(400)
    );

    // B comes back; a replay delivers the whole chain.
    broken.abort();
    let _ = broken.await;
    net.restart(1).await;
    let rid = row["id"].as_i64().unwrap();
    let replayed = operator
        .post(&format!("/outbox/{rid}/replay"), Vec::new())
        .await
        .unwrap();
    assert_eq!(replayed["state"], "pending");
    let again = operator
        .post(&format!("/outbox/{rid}/replay"), Vec::new())
        .await
        .unwrap_err();
    assert_eq!(again.status(), Some(404), "only a dead row can be replayed");
    let b = net.node(1);
    eventually("B holds the chain", || async {
        length(b, "supplier", &id).await == 2
    })
    .await;
    // B may hold the chain a moment before A has recorded its answer.
    eventually("A records the delivery as done", || async {
        let done = operator.get("/outbox?state=done").await.unwrap();
        done["rows"].as_array().unwrap().len() == 1
    })
    .await;
}

/// A node's own key, from its keystore.
fn node_pair(dir: &std::path::Path) -> KeyPair {
    let bytes = std::fs::read(dir.join("data").join("node-key.json")).unwrap();
    let store = accord_crypto::keystore::Keystore::from_json(&bytes).unwrap();
    store.open(PASSPHRASE.as_bytes()).unwrap().0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_after_a_gap_makes_the_receiver_fetch_what_it_lacks() {
    let mut net = net(2, |c| accord_node::Config {
        delivery: accord_node::config::Delivery {
            max_attempts: 1,
            timeout_ms: 2000,
            ..Default::default()
        },
        ..c
    })
    .await;
    let (a_key, b_key) = (net.node(0).node_key.clone(), net.node(1).node_key.clone());
    client(net.node(0), "buyer")
        .post("/identities", identity_at("buyer", &a_key).to_string())
        .await
        .unwrap();
    let buyer = user("buyer");
    let chain = two_parties(&a_key, &b_key, "gap");
    let (chain_id, id) = (*chain.id(), chain.id().to_base58());
    let at_a = client(net.node(0), "buyer");
    at_a.post("/event-chains", chain.to_json()).await.unwrap();
    let b = net.node(1);
    eventually("B holds the first two events", || async {
        length(b, "supplier", &id).await == 2
    })
    .await;

    // B is down while A takes two more events; A's delivery dies (one attempt allowed).
    net.stop(1).await;
    for n in 0..2 {
        let head = at_a.get(&format!("/event-chains/{id}/head")).await.unwrap();
        let b32 = |f: &str| -> [u8; 32] {
            accord_crypto::base58::decode(head[f].as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap()
        };
        let body = identity_at(&format!("extra{n}"), &a_key);
        let next = events::next_event(
            &chain_id,
            b32("tip"),
            b32("state"),
            &body,
            &buyer,
            now_ms() + n,
        )
        .unwrap();
        at_a.post("/event-chains", next.to_json()).await.unwrap();
    }
    let operator = client(net.node(0), "operator");
    eventually("A's delivery is dead", || {
        let operator = operator.clone();
        async move {
            let dead = operator.get("/outbox?state=dead").await.unwrap();
            dead["rows"].as_array().unwrap().len() == 1
        }
    })
    .await;
    net.restart(1).await;

    // A (its node key) sends B only the last event: B fetches the one before it from A.
    let last = at_a
        .get(&format!("/event-chains/{id}/events?from=3"))
        .await
        .unwrap();
    assert_eq!(
        last["events"].as_array().unwrap().len(),
        2,
        "a stub and one event"
    );
    let as_a = accord_node::client::Client::new(&url(net.node(1)), &node_pair(net.dirs[0].path()))
        .unwrap();
    let outcome = as_a.post("/event-chains", last.to_string()).await.unwrap();
    assert_eq!(outcome["length"], 4);
    assert_eq!(outcome["duplicates"], 1, "{outcome}");
    assert_eq!(length(net.node(1), "supplier", &id).await, 4);
    let whole_a = at_a.get(&format!("/event-chains/{id}")).await.unwrap();
    let whole_b = client(net.node(1), "supplier")
        .get(&format!("/event-chains/{id}"))
        .await
        .unwrap();
    assert_eq!(whole_a, whole_b);

    // A stranger's key gets nothing in, and a node not named on a new chain cannot bring it.
    let stranger = accord_node::client::Client::new(&url(net.node(1)), &user("mallory")).unwrap();
    let refused = stranger
        .post("/event-chains", last.to_string())
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(403));
    let other = events::new_chain(
        &buyer,
        b'T',
        &Nonce::from_text("not for B"),
        &[(&identity_at("buyer", &a_key), &buyer)],
        now_ms(),
    )
    .unwrap();
    let refused = as_a
        .post("/event-chains", other.to_json())
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(403), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_node_holding_the_system_key_runs_a_system_action() {
    let net = net(2, |c| c).await;
    let (a_key, b_key) = (net.node(0).node_key.clone(), net.node(1).node_key.clone());
    let nop = "https://specs.livecontracts.io/v0.2.0/action/nop/schema.json#";
    let scenario = serde_json::json!({
        "id": "system-at-b",
        "title": "A system action run by B",
        "actors": {"user": {}, "system": {}},
        "actions": {
            "note": {"$schema": nop, "actor": "system", "trigger_response": "ok", "data": "noted",
                     "responses": {"ok": {}}},
            "finish": {"actor": "user", "responses": {"ok": {}}}
        },
        "states": {
            "initial": {"action": "note", "transitions": [
                {"action": "note", "response": "ok", "transition": "finishing"}]},
            "finishing": {"action": "finish", "transitions": [
                {"action": "finish", "response": "ok", "transition": ":success"}]}
        }
    });
    let buyer = user("buyer");
    client(net.node(0), "buyer")
        .post("/identities", identity_at("buyer", &a_key).to_string())
        .await
        .unwrap();
    let mut system = events::identity(
        "system-identity",
        &user("operator").public_key().to_base58(),
        Some(&b_key),
    );
    system["node"] = Value::from(b_key.clone());
    // The system identity's user is B's own (registered there): B acts only for its users.
    client(net.node(1), "operator")
        .post("/identities", system.to_string())
        .await
        .unwrap();
    let bodies = [
        events::scenario(scenario.clone(), "system-at-b"),
        identity_at("buyer", &a_key),
        system,
        events::process(
            "p-system-at-b",
            "system-at-b",
            &[
                ("user".into(), "buyer-identity".into()),
                ("system".into(), "system-identity".into()),
            ],
        ),
    ];
    let signed: Vec<(&Value, &KeyPair)> = bodies.iter().map(|b| (b, &buyer)).collect();
    let chain = events::new_chain(
        &buyer,
        b'T',
        &Nonce::from_text("system at b"),
        &signed,
        now_ms(),
    )
    .unwrap();
    let id = chain.id().to_base58();
    client(net.node(0), "buyer")
        .post("/event-chains", chain.to_json())
        .await
        .unwrap();
    // B runs the nop; its response reaches A; nobody else answers.
    let at_a = client(net.node(0), "buyer");
    eventually("A sees the system action's response", || {
        let at_a = at_a.clone();
        async move {
            at_a.get("/processes/p-system-at-b")
                .await
                .is_ok_and(|p| p["current"]["key"] == "finishing")
        }
    })
    .await;
    // Give a wrong second runner time to show itself.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let p = at_a.get("/processes/p-system-at-b").await.unwrap();
    let previous = p["previous"].as_array().unwrap();
    assert_eq!(previous.len(), 1, "{previous:?}");
    assert_eq!(previous[0]["signkey"], b_key.as_str());
    assert_eq!(
        length(net.node(0), "buyer", &id).await,
        5,
        "no second response, no error event"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_over_a_peers_body_limit_reaches_it_in_several_deliveries() {
    big_chain_reaches_b(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_named_only_past_the_first_page_pulls_the_rest_and_takes_the_chain() {
    big_chain_reaches_b(true).await;
}

/// A 1.6 MB chain, owed to B at once, reaches it in pages under its 1.2 MB body limit. With
/// `named_last`, the identity naming B is the chain's last event, past the first page.
async fn big_chain_reaches_b(named_last: bool) {
    // Each node takes bodies up to 1.2 MB; the chain is 1.6 MB, sent to A in two parts.
    let mut net = net(2, |c| accord_node::Config {
        body_limit: 1_200_000,
        delivery: accord_node::config::Delivery {
            backoff_ms: 50,
            backoff_max_ms: 200,
            max_attempts: 1000,
            ..Default::default()
        },
        ..c
    })
    .await;
    let (a_key, b_key) = (net.node(0).node_key.clone(), net.node(1).node_key.clone());
    let at_a = client(net.node(0), "buyer");
    at_a.post("/identities", identity_at("buyer", &a_key).to_string())
        .await
        .unwrap();
    let buyer = user("buyer");
    let mut bodies = vec![identity_at("buyer", &a_key)];
    if !named_last {
        bodies.push(identity_at("supplier", &b_key));
    }
    for n in 0..40 {
        let mut extra = identity_at(&format!("extra{n}"), &a_key);
        extra["pad"] = Value::from("x".repeat(30_000));
        bodies.push(extra);
    }
    if named_last {
        bodies.push(identity_at("supplier", &b_key));
    }
    let signed: Vec<(&Value, &KeyPair)> = bodies.iter().map(|b| (b, &buyer)).collect();
    let chain =
        events::new_chain(&buyer, b'T', &Nonce::from_text("big"), &signed, now_ms()).unwrap();
    let id = chain.id().to_base58();
    let whole: Value = serde_json::from_str(&chain.to_json()).unwrap();
    let all = whole["events"].as_array().unwrap();
    assert!(chain.to_json().len() > 1_500_000);
    // B is down while A takes the whole chain, so A owes it 1.6 MB at once.
    net.stop(1).await;
    let first = serde_json::json!({"id": id, "events": all[..22]});
    at_a.post("/event-chains", first.to_string()).await.unwrap();
    let head = at_a.get(&format!("/event-chains/{id}/head")).await.unwrap();
    let mut rest = vec![serde_json::json!({"hash": head["tip"], "state": head["state"]})];
    rest.extend(all[22..].iter().cloned());
    let second = serde_json::json!({"id": id, "events": rest});
    at_a.post("/event-chains", second.to_string())
        .await
        .unwrap();

    let held = length(net.node(0), "buyer", &id).await;
    assert_eq!(held, 42, "no event refused");
    net.restart(1).await;
    let b = net.node(1);
    eventually("B holds every event", || async {
        length(b, "supplier", &id).await == held
    })
    .await;
    let whole_a = at_a.get(&format!("/event-chains/{id}")).await.unwrap();
    let whole_b = client(b, "supplier")
        .get(&format!("/event-chains/{id}"))
        .await
        .unwrap();
    assert_eq!(whole_a, whole_b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_peer_does_not_hold_up_a_healthy_one() {
    // Four attempts at once; a peer may have one under way.
    let mut net = net(3, |c| accord_node::Config {
        delivery: accord_node::config::Delivery {
            concurrency: 4,
            timeout_ms: 20_000,
            ..Default::default()
        },
        ..c
    })
    .await;
    let keys: Vec<String> = (0..3).map(|i| net.node(i).node_key.clone()).collect();
    let c_addr = net.configs[2].listen;
    net.stop(2).await;
    let hanging = broken_peer(c_addr, 0).await;
    client(net.node(0), "buyer")
        .post("/identities", identity_at("buyer", &keys[0]).to_string())
        .await
        .unwrap();
    // Ten chains, each naming B and C: ten rows for each, C's first in every claim.
    let buyer = user("buyer");
    let mut ids = Vec::new();
    for n in 0..10 {
        let bodies = [
            identity_at("buyer", &keys[0]),
            identity_at("carrier", &keys[2]),
            identity_at("supplier", &keys[1]),
        ];
        let signed: Vec<(&Value, &KeyPair)> = bodies.iter().map(|b| (b, &buyer)).collect();
        let chain = events::new_chain(
            &buyer,
            b'T',
            &Nonce::from_text(&format!("hang {n}")),
            &signed,
            now_ms(),
        )
        .unwrap();
        ids.push(chain.id().to_base58());
        client(net.node(0), "buyer")
            .post("/event-chains", chain.to_json())
            .await
            .unwrap();
    }
    // B gets every chain long before C's first attempt could time out.
    let started = Instant::now();
    let b = net.node(1);
    for id in &ids {
        eventually("B holds the chain", || async {
            length(b, "supplier", id).await == 3
        })
        .await;
    }
    assert!(started.elapsed() < Duration::from_secs(15));
    hanging.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_peer_sends_wrongly_is_refused_and_changes_nothing() {
    let net = net(2, |c| c).await;
    let (a_key, b_key) = (net.node(0).node_key.clone(), net.node(1).node_key.clone());
    let as_a = accord_node::client::Client::new(&url(net.node(1)), &node_pair(net.dirs[0].path()))
        .unwrap();
    let operator = client(net.node(1), "operator");

    // Garbage.
    let err = as_a.post("/event-chains", "{\"id\": 3,").await.unwrap_err();
    assert_eq!(
        (err.status(), err.kind()),
        (Some(400), Some("urn:accord:problem:malformed-json"))
    );

    // A forged event: a valid chain with an event's signature changed.
    let chain = two_parties(&a_key, &b_key, "forged");
    let id = chain.id().to_base58();
    let mut forged: Value = serde_json::from_str(&chain.to_json()).unwrap();
    let signature = forged["events"][1]["signature"]
        .as_str()
        .unwrap()
        .to_string();
    let other = events::new_chain(
        &user("mallory"),
        b'T',
        &Nonce::from_text("other"),
        &[(&identity_at("x", &a_key), &user("mallory"))],
        now_ms(),
    )
    .unwrap();
    let theirs: Value = serde_json::from_str(&other.to_json()).unwrap();
    assert_ne!(
        theirs["events"][0]["signature"].as_str().unwrap(),
        signature
    );
    forged["events"][1]["signature"] = theirs["events"][0]["signature"].clone();
    let err = as_a
        .post("/event-chains", forged.to_string())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");

    // A chain that does not name B.
    let buyer = user("buyer");
    let elsewhere = events::new_chain(
        &buyer,
        b'T',
        &Nonce::from_text("not for b"),
        &[(&identity_at("buyer", &a_key), &buyer)],
        now_ms(),
    )
    .unwrap();
    let err = as_a
        .post("/event-chains", elsewhere.to_json())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");

    // Nothing of it is on B.
    for id in [&id, &elsewhere.id().to_base58()] {
        let err = operator
            .get(&format!("/event-chains/{id}/head"))
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(404), "{err}");
    }
    // The real chain still goes through afterwards.
    as_a.post("/event-chains", chain.to_json()).await.unwrap();
    assert_eq!(length(net.node(1), "supplier", &id).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitee_joins_through_its_own_node_and_the_one_time_key_is_spent() {
    let net = net(3, |c| c).await;
    let (a, b, c) = (net.node(0), net.node(1), net.node(2));
    drafter_at_a_invitee_at_b(a, b).await;

    // The drafter starts document signing at A with the reviewer invited: an identity whose
    // only key is a one-time key, naming no node.
    let seed = [7u8; 32];
    let one_time = KeyPair::from_ed25519_seed(&seed);
    let pid = "invited-review";
    let chain = invited_review(a, &one_time, pid, &[]);
    let id = chain.id().to_base58();
    let chain_id = *chain.id();
    client(a, "drafter")
        .post("/event-chains", chain.to_json())
        .await
        .unwrap();
    assert_eq!(length(b, "invitee", &id).await, 0, "B is not a party yet");

    let acceptance = |key: &str, node: &str, chain: &str| {
        serde_json::json!({"chain": chain, "identity": "reviewer-identity", "key": key, "node": node})
            .to_string()
    };
    let key = accord_crypto::base58::encode(&seed);
    // What cannot be accepted, and says why.
    let err = client(b, "stranger")
        .post("/invitations", acceptance(&key, &a.node_key, &id))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    let not_peer = user("not a node").public_key().to_base58();
    let err = client(b, "invitee")
        .post("/invitations", acceptance(&key, &not_peer, &id))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    assert!(
        err.to_string().contains("not one of this node's peers"),
        "{err}"
    );
    let err = client(b, "invitee")
        .post("/invitations", acceptance("not-a-seed", &a.node_key, &id))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    let other = two_parties(&a.node_key, &c.node_key, "another chain");
    let err = client(b, "invitee")
        .post(
            "/invitations",
            acceptance(&key, &a.node_key, &other.id().to_base58()),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    assert_eq!(err.kind(), Some("urn:accord:problem:invitation-refused"));
    assert_eq!(length(a, "drafter", &id).await, 4, "nothing changed at A");

    // Accepted through B: the identity now holds the invitee's key and names B; the chain
    // comes to B whole.
    let accepted = client(b, "invitee")
        .post("/invitations", acceptance(&key, &a.node_key, &id))
        .await
        .unwrap();
    assert_eq!(accepted["held"], true, "{accepted}");
    assert_eq!(accepted["length"], 5, "{accepted}");
    assert_eq!(accepted["node"], a.node_key.as_str());
    let process = client(b, "invitee")
        .get(&format!("/processes/{pid}"))
        .await
        .unwrap();
    let reviewer = &process["actors"]["reviewer"]["identity"];
    assert_eq!(
        reviewer["signkeys"]["user"],
        user("invitee").public_key().to_base58().as_str(),
        "{process}"
    );
    assert_eq!(reviewer["node"], b.node_key.as_str(), "{process}");

    // Accepting again, as the same invitee through the same node (an answer lost on the way),
    // is done already; anyone else finds the invitation spent.
    let again = client(b, "invitee")
        .post("/invitations", acceptance(&key, &a.node_key, &id))
        .await
        .unwrap();
    assert_eq!(
        (again["held"].as_bool(), again["length"].as_u64()),
        (Some(true), Some(5))
    );
    client(c, "mallory")
        .post(
            "/identities",
            events::identity("mallory", &user("mallory").public_key().to_base58(), None)
                .to_string(),
        )
        .await
        .unwrap();
    let err = client(c, "mallory")
        .post("/invitations", acceptance(&key, &a.node_key, &id))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    assert!(err.to_string().contains("accepted already"), "{err}");
    assert_eq!(length(a, "drafter", &id).await, 5, "nothing changed at A");

    // The process runs across the two nodes: the drafter at A, the invitee at B.
    act(
        a,
        &chain_id,
        pid,
        "drafter",
        "request_review",
        None,
        serde_json::json!({"title": "the contract"}),
    )
    .await
    .unwrap();
    eventually("B holds the review request", || async {
        length(b, "invitee", &id).await == 6
    })
    .await;
    act(
        b,
        &chain_id,
        pid,
        "invitee",
        "review",
        Some("accept"),
        Value::Null,
    )
    .await
    .unwrap();
    eventually("A holds the review", || async {
        length(a, "drafter", &id).await == 7
    })
    .await;
    let at_a = client(a, "drafter")
        .get(&format!("/processes/{pid}"))
        .await
        .unwrap();
    assert_eq!(at_a["current"]["key"], "accepted", "{at_a}");

    // The one-time key acts for no one now.
    let head = client(a, "drafter")
        .get(&format!("/event-chains/{id}/head"))
        .await
        .unwrap();
    let b32 = |field: &str| -> [u8; 32] {
        accord_crypto::base58::decode(head[field].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    };
    let body = events::response("sign_b", None, Value::Null);
    let partial = events::next_event(
        &chain_id,
        b32("tip"),
        b32("state"),
        &body,
        &one_time,
        now_ms(),
    )
    .unwrap();
    let err = Client::new(&url(a), &one_time)
        .unwrap()
        .post(&format!("/processes/{pid}/responses"), partial.to_json())
        .await
        .unwrap_err();
    // Refused before it is placed (issue 14, item 8): a spent key holds no identity, so its
    // event is not stored, and no error event answers it (before: 422, and both on the chain).
    assert_eq!(err.status(), Some(403), "{err}");
    assert!(err.to_string().contains("holds no identity"), "{err}");
    assert_eq!(
        length(a, "drafter", &id).await,
        head["length"].as_u64().unwrap()
    );

    // Both nodes hold the same events; C, no party, holds nothing.
    let at_a = client(a, "drafter")
        .get(&format!("/event-chains/{id}"))
        .await
        .unwrap();
    eventually("B holds what A holds", || {
        let (b, id, want) = (
            b,
            id.clone(),
            at_a["events"].as_array().unwrap().len() as u64,
        );
        async move { length(b, "invitee", &id).await == want }
    })
    .await;
    let at_b = client(b, "invitee")
        .get(&format!("/event-chains/{id}"))
        .await
        .unwrap();
    assert_eq!(at_a["events"], at_b["events"]);
    assert_eq!(length(c, "drafter", &id).await, 0);
    assert_eq!(length(c, "invitee", &id).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_peer_is_rate_limited_and_its_deliveries_still_arrive() {
    // B allows each key 20 requests a second, 20 at once.
    let net = net(2, |c| accord_node::Config {
        rate_limit: 20,
        rate_burst: 20,
        delivery: accord_node::config::Delivery {
            backoff_ms: 50,
            backoff_max_ms: 1_000,
            max_attempts: 1000,
            ..Default::default()
        },
        ..c
    })
    .await;
    let (a_key, b_key) = (net.node(0).node_key.clone(), net.node(1).node_key.clone());
    let as_a = Client::new(&url(net.node(1)), &node_pair(net.dirs[0].path())).unwrap();
    // A flood of requests signed with A's node key, all at once: past the burst, 429 with
    // Retry-After. The limiter lets through its burst and what refilled while the flood went
    // on, and nothing more, however fast this machine sends it.
    let started = std::time::Instant::now();
    let mut flood = tokio::task::JoinSet::new();
    for _ in 0..60 {
        let as_a = as_a.clone();
        flood.spawn(async move { as_a.get("/event-chains").await });
    }
    let mut limited = 0u64;
    while let Some(answer) = flood.join_next().await {
        match answer.unwrap() {
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.status(), Some(429), "{e}");
                assert_eq!(e.kind(), Some("urn:accord:problem:rate-limited"));
                limited += 1;
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    // 20 at once, then 20 a second (and one for rounding).
    let budget = 20 + (20.0 * elapsed).ceil() as u64 + 1;
    assert!(
        60 - limited <= budget,
        "{} of 60 requests passed in {elapsed:.2} s, over the limit's {budget}",
        60 - limited
    );
    let metrics = client(net.node(1), "operator")
        .send("GET", "/metrics", None)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&metrics.body);
    let counted = text
        .lines()
        .find(|l| l.starts_with("accord_requests_rate_limited_total"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no limited-requests metric in {text}"));
    assert!(counted >= limited, "{counted} < {limited}");
    // A's real deliveries meet the same limit at B, for the key the flood has just spent;
    // a 429 is retried after its Retry-After, and they arrive.
    let at_a = client(net.node(0), "buyer");
    at_a.post("/identities", identity_at("buyer", &a_key).to_string())
        .await
        .unwrap();
    let mut ids = Vec::new();
    for n in 0..30 {
        let chain = two_parties(&a_key, &b_key, &format!("flood {n}"));
        ids.push(chain.id().to_base58());
        at_a.post("/event-chains", chain.to_json()).await.unwrap();
        // The buyer keeps under A's limit (the same settings).
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let b = net.node(1);
    for id in &ids {
        eventually("B holds every chain", || async {
            length(b, "supplier", id).await == 2
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identities_may_name_nodes_by_url_when_each_node_knows_its_own() {
    // Every node's `public_url` is the URL the others list it by.
    let net = net(2, |c| accord_node::Config {
        public_url: Some(format!("http://{}/", c.listen)),
        ..c
    })
    .await;
    let (a, b) = (net.node(0), net.node(1));
    let at_a = client(a, "buyer");
    at_a.post("/identities", identity_at("buyer", &url(a)).to_string())
        .await
        .unwrap();
    let chain = two_parties(&url(a), &url(b), "by url");
    let id = chain.id().to_base58();
    at_a.post("/event-chains", chain.to_json()).await.unwrap();
    eventually("B holds the chain", || async {
        length(b, "supplier", &id).await == 2
    })
    .await;
    // One row, to B: A's own URL is A, not a peer to deliver to.
    let rows = client(a, "operator").get("/outbox").await.unwrap();
    let peers: Vec<&str> = rows["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["peer"].as_str().unwrap())
        .collect();
    assert_eq!(peers, vec![b.node_key.as_str()], "{rows}");
}

/// The drafter registered at `a`; the invitee with a key of its own registered at its own
/// node `b`, and nothing else.
async fn drafter_at_a_invitee_at_b(a: &Running, b: &Running) {
    client(a, "drafter")
        .post(
            "/identities",
            identity_at("drafter", &a.node_key).to_string(),
        )
        .await
        .unwrap();
    let own = events::identity(
        "invitee-own",
        &user("invitee").public_key().to_base58(),
        None,
    );
    client(b, "invitee")
        .post("/identities", own.to_string())
        .await
        .unwrap();
}

/// A document-signing chain at `a` with the reviewer invited (a one-time key, no node), and
/// `more` identities before the process. Returns the chain.
fn invited_review(
    a: &Running,
    one_time: &KeyPair,
    pid: &str,
    more: &[Value],
) -> accord_chain::VerifiedChain {
    let doc = scenario("document-signing.json");
    let sid = doc["id"].as_str().unwrap().to_string();
    let drafter = user("drafter").public_key().to_base58();
    let mut bodies = vec![
        events::scenario(doc, &sid),
        events::identity_at("drafter-identity", &drafter, &a.node_key),
        events::identity(
            "reviewer-identity",
            &one_time.public_key().to_base58(),
            None,
        ),
    ];
    bodies.extend(more.iter().cloned());
    bodies.push(events::process(
        pid,
        &sid,
        &[
            ("drafter".into(), "drafter-identity".into()),
            ("reviewer".into(), "reviewer-identity".into()),
        ],
    ));
    let creator = user("drafter");
    let signed: Vec<(&Value, &KeyPair)> = bodies.iter().map(|b| (b, &creator)).collect();
    events::new_chain(&creator, b'T', &Nonce::from_text(pid), &signed, now_ms()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acceptance_follows_what_the_process_holds_not_what_the_chain_says() {
    let net = net(2, |c| c).await;
    let (a, b) = (net.node(0), net.node(1));
    drafter_at_a_invitee_at_b(a, b).await;
    let invitee = client(b, "invitee");
    let accept = |one_time: &KeyPair, chain: &str| {
        let body = serde_json::json!({"chain": chain, "identity": "reviewer-identity",
            "key": accord_crypto::base58::encode(&one_time.private_key_bytes()[..32]),
            "node": a.node_key})
        .to_string();
        let invitee = invitee.clone();
        async move { invitee.post("/invitations", body).await }
    };

    // A refused identity event (the drafter "changing" the reviewer) counts for nothing: the
    // invitation still holds.
    let one_time = KeyPair::from_ed25519_seed(&[11u8; 32]);
    let chain = invited_review(a, &one_time, "refused-change", &[]);
    let (id, chain_id) = (chain.id().to_base58(), *chain.id());
    client(a, "drafter")
        .post("/event-chains", chain.to_json())
        .await
        .unwrap();
    let head = client(a, "drafter")
        .get(&format!("/event-chains/{id}/head"))
        .await
        .unwrap();
    let b32 = |field: &str| -> [u8; 32] {
        accord_crypto::base58::decode(head[field].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    };
    let hijack = events::identity(
        "reviewer-identity",
        &user("mallory").public_key().to_base58(),
        None,
    );
    let partial = events::next_event(
        &chain_id,
        b32("tip"),
        b32("state"),
        &hijack,
        &user("drafter"),
        now_ms(),
    )
    .unwrap();
    let err = client(a, "drafter")
        .post("/event-chains", partial.to_json())
        .await;
    let refused_len = length(a, "drafter", &id).await;
    assert!(
        err.as_ref().map_or(true, |v| v["refused"]
            .as_array()
            .is_some_and(|r| !r.is_empty())),
        "the change is refused: {err:?}"
    );
    let accepted = accept(&one_time, &id).await.unwrap();
    assert_eq!(accepted["held"], true, "{accepted}");
    assert_eq!(accepted["length"].as_u64(), Some(refused_len + 1));

    // An acceptance the process would refuse (this node's key is another identity's system
    // key on the chain already) is refused here, and changes nothing there.
    let one_time = KeyPair::from_ed25519_seed(&[12u8; 32]);
    let mut colleague = events::identity_at(
        "colleague",
        &user("colleague").public_key().to_base58(),
        &b.node_key,
    );
    colleague["signkeys"]["system"] = Value::from(b.node_key.clone());
    let chain = invited_review(a, &one_time, "key-in-use", &[colleague]);
    let id = chain.id().to_base58();
    client(a, "drafter")
        .post("/event-chains", chain.to_json())
        .await
        .unwrap();
    let before = length(a, "drafter", &id).await;
    let err = accept(&one_time, &id).await.unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    assert_eq!(err.kind(), Some("urn:accord:problem:invitation-refused"));
    assert!(err.to_string().contains("would refuse"), "{err}");
    assert_eq!(
        length(a, "drafter", &id).await,
        before,
        "nothing added at A"
    );
}
