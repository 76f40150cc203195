//! System actions: a scenario whose system actor calls a service, processes whose system
//! actor's identity names a node's key, and services on loopback for them to call.

use std::sync::{Arc, Mutex};

use accord_chain::Nonce;
use accord_crypto::KeyPair;
use accord_node::{Running, events};
use serde_json::{Value, json};

use super::{client, identity, key, now_ms, user};

/// The schema of an HTTP action.
pub const HTTP: &str = "https://specs.livecontracts.io/v0.2.0/action/http/schema.json#";

/// Answers every request `listener` accepts with 200 and `body` (JSON); the request lines it
/// saw.
pub fn serve(listener: tokio::net::TcpListener, body: &'static str) -> Arc<Mutex<Vec<String>>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut buf = vec![0u8; 1 << 16];
            let n = socket.read(&mut buf).await.unwrap_or(0);
            let line = String::from_utf8_lossy(&buf[..n])
                .lines()
                .next()
                .unwrap_or_default()
                .to_string();
            log.lock().unwrap().push(line);
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    seen
}

/// A service on loopback answering 200 to every request: its URL and the request lines it saw.
pub async fn service() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (url, serve(listener, r#"{"received":true}"#))
}

/// A scenario `id` whose `system` actor calls `url` (a POST), then `finisher` finishes; a call
/// that fails ends it `:failed`.
pub fn calling(id: &str, title: &str, url: &str, finisher: &str) -> Value {
    json!({
        "id": id,
        "title": title,
        "actors": {finisher: {}, "system": {}},
        "actions": {
            "call": {"$schema": HTTP, "actor": "system", "url": url, "method": "POST",
                     "body": {"hello": "world"}, "responses": {"ok": {}, "error": {}}},
            "finish": {"actor": finisher, "responses": {"ok": {}}}
        },
        "states": {
            "initial": {"action": "call", "transitions": [
                {"action": "call", "response": "ok", "transition": "finishing"},
                {"action": "call", "response": "error", "transition": ":failed"}]},
            "finishing": {"action": "finish", "transitions": [
                {"action": "finish", "response": "ok", "transition": ":success"}]}
        }
    })
}

/// Starts a process of `scenario` (actors `user` and `system`) at `node`, the system actor's
/// identity holding the node's key as its system key (and the operator's as its user key,
/// enrolled at the node by the operator, its administrator). Returns the process id,
/// `<scenario id>-<tag>`.
pub async fn start_process(node: &Running, scenario: &Value, tag: &str) -> String {
    start_process_at(node, scenario, tag, now_ms()).await
}

/// As [`start_process`], the events stamped from `timestamp`.
pub async fn start_process_at(
    node: &Running,
    scenario: &Value,
    tag: &str,
    timestamp: u64,
) -> String {
    let user_key = user("user");
    let sid = scenario["id"].as_str().unwrap();
    client(node, "user")
        .post(
            "/identities",
            events::identity("user-identity", &key("user"), None).to_string(),
        )
        .await
        .unwrap();
    let operator = key("operator");
    // The system actor's user is enrolled here by the node's administrator: a node runs
    // system actions only for users its operator enrolled (`system.accept = "enrolled"`).
    client(node, "operator")
        .post(
            "/identities",
            events::identity("system-identity", &operator, Some(&node.node_key)).to_string(),
        )
        .await
        .unwrap();
    let pid = format!("{sid}-{tag}");
    let bodies = [
        events::scenario(scenario.clone(), sid),
        events::identity("user-identity", &key("user"), None),
        events::identity("system-identity", &operator, Some(&node.node_key)),
        events::process(
            &pid,
            sid,
            &[
                ("user".into(), "user-identity".into()),
                ("system".into(), "system-identity".into()),
            ],
        ),
    ];
    let signed: Vec<(&Value, &KeyPair)> = bodies.iter().map(|b| (b, &user_key)).collect();
    let chain =
        events::new_chain(&user_key, b'T', &Nonce::from_text(&pid), &signed, timestamp).unwrap();
    client(node, "user")
        .post("/event-chains", chain.to_json())
        .await
        .unwrap();
    pid
}

/// Starts process `pid` of `scenario` (actors `buyer` and `system`) at node `a`, its chain
/// signed by the buyer: the buyer's identity names node `a`; the system actor's names
/// `system_user`'s key as its user, and node `b`'s key as its system key and as its node.
/// Returns the chain's id.
pub async fn start_process_with_system_at(
    a: &Running,
    b: &Running,
    scenario: Value,
    pid: &str,
    system_user: &str,
) -> String {
    let sid = scenario["id"].as_str().unwrap().to_string();
    let buyer = user("buyer");
    let mut system = identity(
        "system-identity",
        &[("user", &key(system_user)), ("system", &b.node_key)],
    );
    system["node"] = Value::from(b.node_key.clone());
    let mut own = identity("buyer-identity", &[("user", &key("buyer"))]);
    own["node"] = Value::from(a.node_key.clone());
    let bodies = [
        events::scenario(scenario, &sid),
        own,
        system,
        events::process(
            pid,
            &sid,
            &[
                ("buyer".into(), "buyer-identity".into()),
                ("system".into(), "system-identity".into()),
            ],
        ),
    ];
    let signed: Vec<(&Value, &KeyPair)> = bodies.iter().map(|b| (b, &buyer)).collect();
    let chain = events::new_chain(&buyer, b'T', &Nonce::from_text(pid), &signed, now_ms()).unwrap();
    client(a, "buyer")
        .post("/event-chains", chain.to_json())
        .await
        .unwrap();
    chain.id().to_base58()
}
