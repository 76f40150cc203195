//! What the node tests share: a node on loopback in a temporary directory, users with keys,
//! chains built and driven through the API.

#![allow(dead_code)]

mod net;
mod system;

// Each test file takes what it uses; a file that uses nothing of one would warn.
#[allow(unused_imports)]
pub use net::*;
#[allow(unused_imports)]
pub use system::*;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use accord_chain::{ChainId, Nonce};
use accord_crypto::{KeyPair, base58};
use accord_node::client::{Client, ClientError};
use accord_node::{Config, Running, events};
use serde_json::{Value, json};

pub const PASSPHRASE: &str = "accord node tests";

/// A configuration for a node on a free loopback port with its data in `dir`.
pub fn config(dir: &Path) -> Config {
    let pass = dir.join("passphrase");
    if !pass.exists() {
        std::fs::write(&pass, PASSPHRASE).unwrap();
    }
    Config {
        data_dir: dir.join("data"),
        listen: "127.0.0.1:0".parse().unwrap(),
        passphrase_file: Some(pass),
        ..Config::default()
    }
}

/// With `ACCORD_NODE_TESTS_ON_POSTGRES=1`, each data directory gets its own database on the
/// server `ACCORD_TEST_POSTGRES` names (created on first use, kept across restarts).
async fn database(dir: &Path) -> Option<String> {
    if std::env::var("ACCORD_NODE_TESTS_ON_POSTGRES").as_deref() != Ok("1") {
        return None;
    }
    let url = std::env::var("ACCORD_TEST_POSTGRES")
        .expect("ACCORD_NODE_TESTS_ON_POSTGRES=1 needs ACCORD_TEST_POSTGRES");
    let name: String = format!("accord_node_{}", dir.file_name().unwrap().to_string_lossy())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let admin = accord_store::SqlStore::open(&url, accord_store::sql::Durability::Process)
        .await
        .unwrap();
    let _ = admin.execute(&format!("CREATE DATABASE {name}")).await;
    admin.close().await;
    let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
    Some(format!("{base}/{name}"))
}

pub async fn start(dir: &Path) -> Running {
    start_with(dir, |c| c).await
}

pub async fn start_with(dir: &Path, change: impl FnOnce(Config) -> Config) -> Running {
    let mut config = change(config(dir));
    config.database = database(dir).await;
    accord_node::start(config).await.unwrap()
}

pub fn url(node: &Running) -> String {
    format!("http://{}", node.addr)
}

pub fn user(name: &str) -> KeyPair {
    KeyPair::from_seed_phrase(&format!("accord node test: {name}"), 0)
}

pub fn client(node: &Running, name: &str) -> Client {
    Client::new(&url(node), &user(name)).unwrap()
}

/// `user(name)`'s public key, in base58.
pub fn key(name: &str) -> String {
    user(name).public_key().to_base58()
}

/// An identity document naming `keys` by role.
pub fn identity(id: &str, keys: &[(&str, &str)]) -> Value {
    let signkeys: serde_json::Map<String, Value> = keys
        .iter()
        .map(|(role, key)| (role.to_string(), Value::from(*key)))
        .collect();
    json!({"$schema": format!("{}identity/schema.json#", events::LC), "id": id, "signkeys": signkeys})
}

pub fn examples() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"))
        .join("../../examples")
}

/// Reads an example scenario as JSON.
pub fn scenario(name: &str) -> Value {
    let path = examples().join("scenarios").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let format = accord_scenario::Format::from_path(&path.to_string_lossy())
        .unwrap_or(accord_scenario::Format::Json);
    accord_scenario::doc::parse(&text, format).unwrap()
}

/// Reads a steps file.
pub fn steps(name: &str) -> Vec<Value> {
    let path = examples().join("steps").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let v = accord_scenario::doc::parse(&text, accord_scenario::Format::Yaml).unwrap();
    v.as_array().unwrap().clone()
}

/// Registers an identity for each actor (`<actor>-identity`, keys from `user(actor)`).
pub async fn register(node: &Running, actors: &[String]) {
    for actor in actors {
        let c = client(node, actor);
        let body = events::identity(
            &format!("{actor}-identity"),
            &user(actor).public_key().to_base58(),
            None,
        );
        c.post("/identities", body.to_string()).await.unwrap();
    }
}

/// The chain for a new process of `scenario` created by `creator`, every actor bound to its
/// identity. Returns the chain JSON, its id and the process id.
pub fn start_chain(scenario: &Value, creator: &str, tag: &str) -> (String, ChainId, String) {
    start_chain_at(scenario, creator, tag, |_| None)
}

/// As [`start_chain`], each actor's identity naming the node `node_of(actor)` gives.
pub fn start_chain_at(
    scenario: &Value,
    creator: &str,
    tag: &str,
    node_of: impl Fn(&str) -> Option<String>,
) -> (String, ChainId, String) {
    let sid = scenario["id"].as_str().unwrap().to_string();
    let actors: Vec<String> = scenario["actors"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let creator_key = user(creator);
    let pid = format!("{sid}-{tag}");
    let mut bodies = vec![events::scenario(scenario.clone(), &sid)];
    for a in &actors {
        let (id, key) = (format!("{a}-identity"), user(a).public_key().to_base58());
        bodies.push(match node_of(a) {
            Some(node) => events::identity_at(&id, &key, &node),
            None => events::identity(&id, &key, None),
        });
    }
    let bindings: Vec<(String, String)> = actors
        .iter()
        .map(|a| (a.clone(), format!("{a}-identity")))
        .collect();
    bodies.push(events::process(&pid, &sid, &bindings));
    let signed: Vec<(&Value, &KeyPair)> = bodies.iter().map(|b| (b, &creator_key)).collect();
    let chain = events::new_chain(
        &creator_key,
        b'T',
        &Nonce::from_text(&pid),
        &signed,
        now_ms(),
    )
    .unwrap();
    (chain.to_json(), *chain.id(), pid)
}

/// One response by `actor`, on the chain's current head.
pub async fn act(
    node: &Running,
    chain: &ChainId,
    process: &str,
    actor: &str,
    action: &str,
    key: Option<&str>,
    data: Value,
) -> Result<Value, ClientError> {
    let c = client(node, actor);
    let head = c
        .get(&format!("/event-chains/{}/head", chain.to_base58()))
        .await?;
    let b32 = |field: &str| -> [u8; 32] {
        base58::decode(head[field].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    };
    let body = events::response(action, key, data);
    // Never before the event it follows (whose node's clock may be ahead of this one).
    let now = now_ms().max(head["timestamp"].as_u64().unwrap_or(0));
    let partial =
        events::next_event(chain, b32("tip"), b32("state"), &body, &user(actor), now).unwrap();
    c.post(
        &format!("/processes/{process}/responses"),
        partial.to_json(),
    )
    .await
}

/// Runs a steps file's response steps; `reject: true` steps must be refused (422).
pub async fn drive(node: &Running, chain: &ChainId, process: &str, steps: &[Value]) {
    for (n, step) in steps.iter().enumerate() {
        let Some(action) = step.get("action").and_then(Value::as_str) else {
            continue;
        };
        let actor = step["actor"].as_str().unwrap();
        let result = act(
            node,
            chain,
            process,
            actor,
            action,
            step.get("response").and_then(Value::as_str),
            step.get("data").cloned().unwrap_or(Value::Null),
        )
        .await;
        if step.get("reject").and_then(Value::as_bool) == Some(true) {
            let err = result.expect_err(&format!("step {} should be refused", n + 1));
            assert_eq!(err.status(), Some(422), "step {}: {err}", n + 1);
        } else {
            result.unwrap_or_else(|e| panic!("step {} ({actor} {action}): {e}", n + 1));
        }
        if let Some(expect) = step.get("expect").and_then(Value::as_str) {
            let p = client(node, actor)
                .get(&format!("/processes/{process}"))
                .await
                .unwrap();
            assert_eq!(p["current"]["key"], expect, "after step {}", n + 1);
        }
    }
}

/// The wall clock in milliseconds: events a node takes from its users are stamped within its
/// clock skew (`accord_chain::time`).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// The chain's head as `who` reads it: tip, state, timestamp and length.
pub async fn head(node: &Running, who: &str, chain: &ChainId) -> ([u8; 32], [u8; 32], u64, u64) {
    let head = client(node, who)
        .get(&format!("/event-chains/{}/head", chain.to_base58()))
        .await
        .unwrap();
    let b32 = |f: &str| -> [u8; 32] {
        base58::decode(head[f].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    };
    (
        b32("tip"),
        b32("state"),
        head["timestamp"].as_u64().unwrap(),
        head["length"].as_u64().unwrap(),
    )
}

/// The chain's length at a node, as `who` sees it (0 when it cannot see it, or not yet).
pub async fn length(node: &Running, who: &str, chain: impl std::fmt::Display) -> u64 {
    client(node, who)
        .get(&format!("/event-chains/{chain}/head"))
        .await
        .map_or(0, |h| h["length"].as_u64().unwrap_or(0))
}

/// Waits until `check` holds, for at most ten seconds.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
