//! System actions, in process on loopback: HTTP and nop triggers run by the node that holds
//! the acting identity's system key, answered by events it signs, with the error transition
//! when the call fails or is refused.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use accord_node::Running;
use common::*;
use serde_json::{Value, json};

const NOP: &str = "https://specs.livecontracts.io/v0.2.0/action/nop/schema.json#";

/// A service on loopback answering every request with `status` and `body`; it counts them.
async fn service(
    status: u16,
    body: &'static str,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = calls.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = vec![0u8; 1 << 16];
            let _ = socket.read(&mut buf).await;
            let answer = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    (url, calls)
}

/// A service answering every request with `status` and `body` on the IPv6 loopback, or `None`
/// when this machine has none.
async fn service_v6(status: u16, body: &'static str) -> Option<(String, Arc<AtomicUsize>)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("[::1]:0").await.ok()?;
    let url = format!("http://{}/hook", listener.local_addr().ok()?);
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            counted.fetch_add(1, Ordering::SeqCst);
            let mut buf = vec![0u8; 1 << 16];
            let _ = socket.read(&mut buf).await;
            let answer = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    Some((url, calls))
}

/// A scenario: the system calls `url`, then answers a nop, then the user finishes.
fn scenario(url: &str, tag: &str) -> Value {
    json!({
        "id": format!("system-actions-{tag}"),
        "title": "System actions",
        "actors": {"user": {}, "system": {}},
        "actions": {
            "call": {"$schema": HTTP, "actor": "system", "url": url, "method": "POST",
                     "body": {"hello": "world"}, "responses": {"ok": {}, "error": {}}},
            "note": {"$schema": NOP, "actor": "system", "trigger_response": "ok", "data": "noted",
                     "responses": {"ok": {}, "error": {}}},
            "finish": {"actor": "user", "responses": {"ok": {}}}
        },
        "states": {
            "initial": {"action": "call", "transitions": [
                {"action": "call", "response": "ok", "transition": "noting"},
                {"action": "call", "response": "error", "transition": ":failed"}]},
            "noting": {"action": "note", "transitions": [
                {"action": "note", "response": "ok", "transition": "finishing"}]},
            "finishing": {"action": "finish", "transitions": [
                {"action": "finish", "response": "ok", "transition": ":success"}]}
        }
    })
}

/// Waits until the process is in `state`; its projection.
async fn reaches(node: &Running, pid: &str, state: &str) -> Value {
    let c = client(node, "user");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let p = c.get(&format!("/processes/{pid}")).await.unwrap();
        if p["current"]["key"] == state {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "the process never reached {state}: it is in {}",
            p["current"]["key"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A node whose administrator is the operator, who enrols the system actor's user (a node
/// runs system actions only for users its operator enrolled: `system.accept = "enrolled"`).
fn operated(c: accord_node::Config) -> accord_node::Config {
    accord_node::Config {
        admins: vec![key("operator")],
        ..c
    }
}

fn allow_private(c: accord_node::Config) -> accord_node::Config {
    operated(accord_node::Config {
        system: accord_node::config::System {
            allow_private: true,
            timeout_ms: 2000,
            ..Default::default()
        },
        ..c
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_trigger_and_a_nop_run_and_the_user_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_with(dir.path(), allow_private).await;
    let (url, calls) = service(200, r#"{"received": true}"#).await;
    let pid = start_process(&node, &scenario(&url, "ok"), "ok").await;
    let p = reaches(&node, &pid, "finishing").await;
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    let previous = p["previous"].as_array().unwrap();
    assert_eq!(previous.len(), 2, "{previous:?}");
    assert_eq!(
        (previous[0]["action"].as_str(), previous[0]["key"].as_str()),
        (Some("call"), Some("ok"))
    );
    assert_eq!(previous[0]["data"], json!({"received": true}));
    assert_eq!(previous[1]["data"], "noted");
    // Signed by the node: its key is the system identity's.
    assert_eq!(previous[0]["signkey"], node.node_key.as_str());
    act_on_process(&node, &pid, "user", "finish").await;
    let done = reaches(&node, &pid, ":success").await;
    assert_eq!(done["previous"].as_array().unwrap().len(), 3);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_call_takes_the_error_transition() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_with(dir.path(), allow_private).await;
    let (url, _) = service(500, r#"{"oops": 1}"#).await;
    let pid = start_process(&node, &scenario(&url, "err"), "err").await;
    let p = reaches(&node, &pid, ":failed").await;
    let last = &p["previous"][0];
    assert_eq!(last["key"], "error");
    assert_eq!(last["data"], json!({"status": 500, "body": {"oops": 1}}));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_the_action_lists_is_its_response() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_with(dir.path(), allow_private).await;
    let (url, _) = service(404, r#"{"no": "such thing"}"#).await;
    let mut doc = scenario(&url, "404");
    doc["actions"]["call"]["responses"]["404"] = json!({"title": "Not there"});
    doc["states"]["initial"]["transitions"]
        .as_array_mut()
        .unwrap()
        .push(json!({"action": "call", "response": "404", "transition": "missing"}));
    doc["states"]["missing"] = json!({"action": "finish", "transitions": [
        {"action": "finish", "response": "ok", "transition": ":cancelled"}]});
    let pid = start_process(&node, &doc, "404").await;
    let p = reaches(&node, &pid, "missing").await;
    let last = &p["previous"][0];
    assert_eq!(last["key"], "404");
    assert_eq!(last["data"], json!({"no": "such thing"}));
    // A status it does not list is an error, as before.
    let (url, _) = service(403, r#"{"not": "yours"}"#).await;
    let mut doc = scenario(&url, "403");
    doc["actions"]["call"]["responses"]["404"] = json!({"title": "Not there"});
    let pid = start_process(&node, &doc, "403").await;
    let p = reaches(&node, &pid, ":failed").await;
    assert_eq!(p["previous"][0]["key"], "error");
    assert_eq!(
        p["previous"][0]["data"],
        json!({"status": 403, "body": {"not": "yours"}})
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_with(dir.path(), operated).await;
    let (url, calls) = service(200, "{}").await;
    let pid = start_process(&node, &scenario(&url, "private"), "private").await;
    let p = reaches(&node, &pid, ":failed").await;
    let error = p["previous"][0]["data"]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.contains("private or loopback"), "{error}");
    assert_eq!(
        calls.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "never called"
    );
    node.stop().await;
}

/// The user's response to `action` on the process's current head; the node's outcome.
async fn act_on_process(node: &Running, pid: &str, actor: &str, action: &str) -> Value {
    let c = client(node, actor);
    let p = c.get(&format!("/processes/{pid}")).await.unwrap();
    let chain: accord_chain::ChainId = p["chain"].as_str().unwrap().parse().unwrap();
    act(node, &chain, pid, actor, action, Some("ok"), Value::Null)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_time_out_fires_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_with(dir.path(), operated).await;
    let doc = json!({
        "id": "system-actions-timeout",
        "title": "A time-out",
        "actors": {"user": {}, "system": {}},
        "actions": {"finish": {"actor": "user", "responses": {"ok": {}}}},
        "states": {
            "initial": {"action": "finish", "timeout": "PT2S", "transitions": [
                {"action": "finish", "response": "ok", "transition": ":success"},
                {"action": ":timeout", "transition": ":failed"}]}
        }
    });
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let pid = start_process_at(&node, &doc, "timeout", now).await;
    let p = client(&node, "user")
        .get(&format!("/processes/{pid}"))
        .await
        .unwrap();
    assert_eq!(p["current"]["key"], "initial");
    // The node stops before the time-out is due; the timer is a stored row.
    node.stop().await;
    let node = start_with(dir.path(), operated).await;
    let p = reaches(&node, &pid, ":failed").await;
    assert!(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            >= now + 2000
    );
    let last = &p["previous"][0];
    assert_eq!(last["action"], ":timeout");
    assert_eq!(last["signkey"], node.node_key.as_str());
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_trigger_adds_its_events_then_answers() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_with(dir.path(), operated).await;
    let added = user("added").public_key().to_base58();
    let doc = json!({
        "id": "system-actions-event",
        "title": "An event trigger",
        "actors": {"user": {}, "system": {}},
        "actions": {
            "record": {"$schema": "https://specs.livecontracts.io/v0.2.0/action/event/schema.json#",
                       "actor": "system",
                       "body": [{"$schema": "https://specs.livecontracts.io/v0.2.0/identity/schema.json#",
                                 "id": "added-by-the-system", "signkeys": {"user": added}}],
                       "responses": {"ok": {}}}
        },
        "states": {
            "initial": {"action": "record", "transitions": [
                {"action": "record", "response": "ok", "transition": ":success"}]}
        }
    });
    let pid = start_process(&node, &doc, "event").await;
    let p = reaches(&node, &pid, ":success").await;
    assert_eq!(p["previous"][0]["action"], "record");
    let chain = p["chain"].as_str().unwrap().to_string();
    let whole = client(&node, "user")
        .get(&format!("/event-chains/{chain}"))
        .await
        .unwrap();
    let parsed = accord_chain::Chain::from_json(whole.to_string().as_bytes()).unwrap();
    let verified = parsed.verify().unwrap();
    let bodies: Vec<(Value, String)> = verified
        .events()
        .iter()
        .map(|e| {
            (
                serde_json::from_slice(&e.event().data).unwrap(),
                e.sign_key().to_base58(),
            )
        })
        .collect();
    // The start (4 events), the identity the system added, its response.
    assert_eq!(bodies.len(), 6, "{bodies:?}");
    assert_eq!(bodies[4].0["id"], "added-by-the-system");
    assert_eq!(bodies[4].1, node.node_key);
    assert_eq!(bodies[5].0["action"], "record");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipv6_literal_is_called_where_private_addresses_are_allowed_and_refused_elsewhere() {
    let Some((url, calls)) = service_v6(200, r#"{"received": true}"#).await else {
        eprintln!("skipped: this machine has no IPv6 loopback ([::1] cannot be bound)");
        return;
    };
    assert!(url.starts_with("http://[::1]:"), "{url}");
    let dir = tempfile::tempdir().unwrap();
    let node = start_with(dir.path(), allow_private).await;
    let pid = start_process(&node, &scenario(&url, "v6"), "v6").await;
    let p = reaches(&node, &pid, "finishing").await;
    assert_eq!(p["previous"][0]["data"], json!({"received": true}));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    node.stop().await;
    // Without allow_private, [::1] is loopback, refused before any connection.
    let dir = tempfile::tempdir().unwrap();
    let node = start_with(dir.path(), operated).await;
    let pid = start_process(&node, &scenario(&url, "v6-private"), "v6-private").await;
    let p = reaches(&node, &pid, ":failed").await;
    let error = p["previous"][0]["data"]["error"].as_str().unwrap();
    assert!(
        error.contains("::1 is a private or loopback address"),
        "{error}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1, "not called again");
    node.stop().await;
}
