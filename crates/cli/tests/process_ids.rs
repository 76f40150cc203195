//! Issue 14, item 6, through the CLI: `accord process start --id doc-1` when the node holds
//! `doc-1` fails (it used to say "started process doc-1" with a chain that never became a
//! process), and a process id two organisations both use is reached with `--chain`. Two nodes
//! in the test's process, each the other's peer; the `accord` binary talks to them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use accord_crypto::KeyPair;
use accord_node::client::Client;
use accord_node::config::Peer;
use accord_node::{Config, Running};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_accord");

fn examples() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"))
        .join("../../examples")
}

fn seed(name: &str) -> String {
    format!("process id test: {name}")
}

fn user(name: &str) -> KeyPair {
    KeyPair::from_seed_phrase(&seed(name), 0)
}

fn config(dir: &Path) -> Config {
    let pass = dir.join("passphrase");
    std::fs::write(&pass, "process id tests").unwrap();
    Config {
        data_dir: dir.join("data"),
        listen: "127.0.0.1:0".parse().unwrap(),
        passphrase_file: Some(pass),
        ..Config::default()
    }
}

/// Two nodes that know each other: started once alone for their keys and ports, then again
/// with the other as a peer.
async fn two_nodes(dirs: &[tempfile::TempDir]) -> (Running, Running) {
    let mut known = Vec::new();
    for dir in dirs {
        let node = accord_node::start(config(dir.path())).await.unwrap();
        known.push((node.addr, node.node_key.clone()));
        node.stop().await;
    }
    let mut nodes = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let (addr, key) = known[1 - i].clone();
        let config = Config {
            listen: known[i].0,
            peers: vec![Peer {
                url: format!("http://{addr}"),
                key,
            }],
            ..config(dir.path())
        };
        nodes.push(accord_node::start(config).await.unwrap());
    }
    let b = nodes.pop().unwrap();
    (nodes.pop().unwrap(), b)
}

/// `accord ARGS` against the node at `url`, as the user `name`.
fn cli(url: &str, name: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("ACCORD_NODE", url)
        .env("ACCORD_SEED_PHRASE", seed(name))
        .env_remove("ACCORD_PASSPHRASE")
        .output()
        .unwrap()
}

fn ok(out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "exit {}: {stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The chain a `process start` printed (`chain <id>`).
fn chain_of(started: &str) -> String {
    started
        .lines()
        .find_map(|l| l.strip_prefix("chain "))
        .unwrap_or_else(|| panic!("no chain in {started:?}"))
        .to_string()
}

#[test]
fn a_second_start_of_an_id_fails_and_a_shared_id_is_reached_by_chain() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let (a, b) = rt.block_on(two_nodes(&dirs));
    let (url_a, url_b) = (format!("http://{}", a.addr), format!("http://{}", b.addr));
    let file = examples().join("scenarios/document-signing.json");
    let file = file.to_str().unwrap();
    // Carol reviews for both organisations, at node B.
    let reviewer = format!(
        "reviewer={}@{}",
        user("carol").public_key().to_base58(),
        b.node_key
    );
    let start = |url: &str, who: &str| {
        cli(
            url,
            who,
            &[
                "process",
                "start",
                file,
                "--actor",
                "drafter=me",
                "--actor",
                &reviewer,
                "--id",
                "doc-1",
            ],
        )
    };
    let bobs = chain_of(&ok(start(&url_b, "bob")));

    // Bob starts doc-1 again: refused, said so, and no second chain.
    let again = start(&url_b, "bob");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&again.stdout),
        String::from_utf8_lossy(&again.stderr),
    );
    assert_eq!(again.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(!stdout.contains("started"), "{stdout}");
    assert!(stderr.contains("409"), "{stderr}");
    assert!(
        stderr.contains("process doc-1 exists on this node already: choose another --id"),
        "{stderr}"
    );
    assert!(stderr.contains(&bobs), "Bob may read his chain: {stderr}");
    let bob = Client::new(&url_b, &user("bob")).unwrap();
    let chains = rt.block_on(bob.get("/event-chains")).unwrap();
    assert_eq!(
        chains["chains"].as_array().unwrap().len(),
        1,
        "no new chain: {chains}"
    );

    // Alice, at node A (which holds no doc-1), starts hers; it reaches node B.
    let alices = chain_of(&ok(start(&url_a, "alice")));
    let carol = Client::new(&url_b, &user("carol")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while rt
        .block_on(carol.get(&format!("/event-chains/{alices}/head")))
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "Alice's chain never reached node B"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // Carol is a party to both: without a chain, told which there are and how to name one.
    let shown = cli(&url_b, "carol", &["process", "show", "doc-1"]);
    let stderr = String::from_utf8_lossy(&shown.stderr);
    assert_eq!(shown.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("409"), "{stderr}");
    assert!(
        stderr.contains(&alices) && stderr.contains(&bobs),
        "{stderr}"
    );
    assert!(stderr.contains("--chain CHAIN"), "{stderr}");
    for chain in [&alices, &bobs] {
        let out = ok(cli(
            &url_b,
            "carol",
            &["process", "show", "doc-1", "--chain", chain],
        ));
        assert!(out.contains(&format!("chain: {chain}")), "{out}");
    }
    let err = cli(
        &url_b,
        "carol",
        &["process", "next", "doc-1", "--chain", "nope"],
    );
    assert_eq!(err.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&err.stderr).contains("--chain \"nope\" is not a chain id"),
        "{}",
        String::from_utf8_lossy(&err.stderr)
    );

    // Each drafter acts on its own without a chain; Carol reviews each by its chain.
    ok(cli(
        &url_a,
        "alice",
        &["process", "act", "doc-1", "request_review"],
    ));
    ok(cli(
        &url_b,
        "bob",
        &["process", "act", "doc-1", "request_review"],
    ));
    let out = ok(cli(
        &url_b,
        "carol",
        &["process", "act", "doc-1", "review", "--chain", &bobs],
    ));
    assert!(out.contains("state: accepted"), "{out}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = ok(cli(
            &url_b,
            "carol",
            &["process", "next", "doc-1", "--chain", &alices],
        ));
        if out.contains("reviewer may: review") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Alice's request never reached B: {out}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = ok(cli(
        &url_b,
        "carol",
        &[
            "process",
            "act",
            "doc-1",
            "review",
            "--response",
            "decline",
            "--chain",
            &alices,
        ],
    ));
    assert!(out.contains("state: initial"), "{out}");
    let p: Value = serde_json::from_str(&ok(cli(
        &url_b,
        "carol",
        &["process", "show", "doc-1", "--chain", &bobs, "--json"],
    )))
    .unwrap();
    assert_eq!(p["current"]["key"], "accepted");
    rt.block_on(async {
        a.stop().await;
        b.stop().await;
    });
}
