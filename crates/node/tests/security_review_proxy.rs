//! The SSRF guard of system actions and the environment's proxy (issue 14's second review): the
//! node checks the address an HTTP trigger's URL names and pins the connection to it, but the
//! HTTP client also took a proxy from the environment (`http_proxy`, `HTTP_PROXY`,
//! `ALL_PROXY`), so with one set the call went to the proxy, which resolves the name again and
//! connects where it likes: the address checked was not the address called. A test binary of
//! its own, because it sets the process's environment.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

/// A stand-in proxy: answers every request 200 and records its request line.
fn proxy(listener: std::net::TcpListener) -> Arc<Mutex<Vec<String>>> {
    listener.set_nonblocking(true).unwrap();
    serve(
        tokio::net::TcpListener::from_std(listener).unwrap(),
        r#"{"via":"proxy"}"#,
    )
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
            admins: vec![key("operator")],
            ..c
        })
        .await;
        // A public address (TEST-NET-1, which routes nowhere): the guard lets it through.
        let url = "http://192.0.2.1:9/hook";
        let scenario = calling("review-proxy", "The system calls a service", url, "user");
        let pid = start_process(&node, &scenario, "1").await;
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
