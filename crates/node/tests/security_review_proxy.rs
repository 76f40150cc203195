//! The SSRF guard of system actions and the environment's proxy (issue 14's second review): the
//! node checks the address an HTTP trigger's URL names and pins the connection to it, but the
//! HTTP client also took a proxy from the environment (`http_proxy`, `HTTP_PROXY`,
//! `ALL_PROXY`), so with one set the call went to the proxy, which resolves the name again and
//! connects where it likes: the address checked was not the address called. A test binary of
//! its own, because it sets the process's environment.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accord_chain::Nonce;
use accord_crypto::KeyPair;
use accord_node::events;
use common::*;
use serde_json::{Value, json};

const HTTP: &str = "https://specs.livecontracts.io/v0.2.0/action/http/schema.json#";

/// A stand-in proxy: answers every request 200 and records its request line.
fn proxy(listener: std::net::TcpListener) -> Arc<Mutex<Vec<String>>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    listener.set_nonblocking(true).unwrap();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
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
            let body = r#"{"via":"proxy"}"#;
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    seen
}

#[test]
fn a_system_action_does_not_go_through_the_environments_proxy() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_url = format!("http://{}", listener.local_addr().unwrap());
    // SAFETY: set before the runtime (and any other thread of this test binary, which holds
    // only this test) starts, so nothing reads the environment meanwhile.
    unsafe {
        for name in ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"] {
            std::env::set_var(name, &proxy_url);
        }
        // The test's own requests to the node go straight to it.
        for name in ["no_proxy", "NO_PROXY"] {
            std::env::set_var(name, "127.0.0.1,localhost,::1");
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let seen = proxy(listener);
        let dir = tempfile::tempdir().unwrap();
        let node = start_with(dir.path(), |c| accord_node::Config {
            system: accord_node::config::System {
                timeout_ms: 1000,
                ..Default::default()
            },
            admins: vec![user("operator").public_key().to_base58()],
            ..c
        })
        .await;
        // A public address (TEST-NET-1, which routes nowhere): the guard lets it through.
        let url = "http://192.0.2.1:9/hook";
        let sid = "review-proxy";
        let scenario = json!({
            "id": sid,
            "title": "The system calls a service",
            "actors": {"user": {}, "system": {}},
            "actions": {
                "call": {"$schema": HTTP, "actor": "system", "url": url, "method": "POST",
                         "body": {"hello": "world"}, "responses": {"ok": {}, "error": {}}},
                "finish": {"actor": "user", "responses": {"ok": {}}}
            },
            "states": {
                "initial": {"action": "call", "transitions": [
                    {"action": "call", "response": "ok", "transition": "finishing"},
                    {"action": "call", "response": "error", "transition": ":failed"}]},
                "finishing": {"action": "finish", "transitions": [
                    {"action": "finish", "response": "ok", "transition": ":success"}]}
            }
        });
        register(&node, &["user".to_string()]).await;
        let operator = user("operator").public_key().to_base58();
        client(&node, "operator")
            .post(
                "/identities",
                events::identity("system-identity", &operator, Some(&node.node_key)).to_string(),
            )
            .await
            .unwrap();
        let me = user("user");
        let pid = "review-proxy-1";
        let bodies = [
            events::scenario(scenario, sid),
            events::identity("user-identity", &me.public_key().to_base58(), None),
            events::identity("system-identity", &operator, Some(&node.node_key)),
            events::process(
                pid,
                sid,
                &[
                    ("user".into(), "user-identity".into()),
                    ("system".into(), "system-identity".into()),
                ],
            ),
        ];
        let signed: Vec<(&Value, &KeyPair)> = bodies.iter().map(|b| (b, &me)).collect();
        let chain =
            events::new_chain(&me, b'T', &Nonce::from_text(pid), &signed, now_ms()).unwrap();
        client(&node, "user")
            .post("/event-chains", chain.to_json())
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let p = loop {
            let p = client(&node, "user")
                .get(&format!("/processes/{pid}"))
                .await
                .unwrap();
            if p["current"]["key"] != "initial" {
                break p;
            }
            assert!(Instant::now() < deadline, "the system never answered: {p}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        assert_eq!(
            seen.lock().unwrap().clone(),
            Vec::<String>::new(),
            "the call went to the environment's proxy: {p}"
        );
        assert_eq!(p["current"]["key"], ":failed", "{p}");
        node.stop().await;
    });
}
