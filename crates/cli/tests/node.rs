//! `accord node` as a real process on loopback: the example processes run to their final
//! states through the CLI and the HTTP API, a restart mid-process, and `kill -9` during a burst
//! of actions losing no acknowledged event. On SQLite, and on PostgreSQL when
//! `ACCORD_TEST_POSTGRES` names a server (`scripts/test` starts one).

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use accord_chain::{Chain, ChainId, Nonce};
use accord_crypto::{KeyPair, base58};
use accord_node::client::Client;
use accord_node::events;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_accord");

fn examples() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"))
        .join("../../examples")
}

/// A node process.
struct Node {
    child: Child,
    url: String,
    dir: PathBuf,
    database: Option<String>,
}

impl Node {
    fn start(dir: &Path, database: Option<&str>) -> Node {
        std::fs::write(dir.join("passphrase"), "node process tests").unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args([
            "node",
            "--listen",
            "127.0.0.1:0",
            "--log",
            "info",
            "--data-dir",
        ])
        .arg(dir.join("data"))
        .arg("--passphrase-file")
        .arg(dir.join("passphrase"))
        .env_remove("ACCORD_PASSPHRASE")
        .env("ACCORD_RATE_LIMIT", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        if let Some(db) = database {
            cmd.arg("--database").arg(db);
        }
        let started = Instant::now();
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent && let Some(i) = line.find("listening on http://") {
                    let addr: String = line[i + "listening on http://".len()..]
                        .chars()
                        .take_while(|c| !c.is_whitespace())
                        .collect();
                    let _ = tx.send(addr);
                    sent = true;
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(e) => {
                // Not left running when it never comes up.
                let _ = child.kill();
                let _ = child.wait();
                panic!("the node never said where it listens: {e}");
            }
        };
        eprintln!("node up in {} ms at {addr}", started.elapsed().as_millis());
        Node {
            child,
            url: format!("http://{addr}"),
            dir: dir.to_path_buf(),
            database: database.map(String::from),
        }
    }

    /// SIGTERM, and wait for a clean exit.
    fn stop(mut self) -> (PathBuf, Option<String>) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "the node exits cleanly on SIGTERM: {exit}");
        (self.dir.clone(), self.database.clone())
    }

    /// SIGKILL.
    fn kill(mut self) -> (PathBuf, Option<String>) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        (self.dir.clone(), self.database.clone())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh database on the test server, when there is one.
fn postgres(name: &str) -> Option<String> {
    let url = std::env::var("ACCORD_TEST_POSTGRES").ok()?;
    let db = format!("accord_cli_{name}_{}", std::process::id());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let admin = accord_store::SqlStore::open(&url, accord_store::sql::Durability::Process)
            .await
            .unwrap();
        admin
            .execute(&format!("DROP DATABASE IF EXISTS {db}"))
            .await
            .unwrap();
        admin
            .execute(&format!("CREATE DATABASE {db}"))
            .await
            .unwrap();
        admin.close().await;
    });
    let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
    Some(format!("{base}/{db}"))
}

fn require_postgres() -> bool {
    if std::env::var("ACCORD_TEST_POSTGRES").is_ok() {
        return true;
    }
    assert_ne!(
        std::env::var("ACCORD_REQUIRE_POSTGRES").as_deref(),
        Ok("1"),
        "ACCORD_REQUIRE_POSTGRES=1 but ACCORD_TEST_POSTGRES is not set"
    );
    eprintln!("skipping PostgreSQL: ACCORD_TEST_POSTGRES is not set");
    false
}

fn cli(node: &Node, seed: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("ACCORD_NODE", &node.url)
        .env("ACCORD_SEED_PHRASE", seed)
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

fn user(name: &str) -> KeyPair {
    KeyPair::from_seed_phrase(&format!("node process test: {name}"), 0)
}

fn b32(v: &Value, field: &str) -> [u8; 32] {
    base58::decode(v[field].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

/// The document-signing process through the CLI, with a restart in the middle.
fn document_signing_through_the_cli(dir: &Path, database: Option<&str>) {
    let node = Node::start(dir, database);
    let drafter = "node process test: drafter";
    let reviewer = "node process test: reviewer";
    let reviewer_key = user("reviewer").public_key().to_base58();
    let file = examples().join("scenarios/document-signing.json");
    let out = ok(cli(
        &node,
        drafter,
        &["scenario", "push", file.to_str().unwrap()],
    ));
    assert!(out.contains("accord-example-document-signing"), "{out}");
    // The YAML example too.
    let yaml = examples().join("scenarios/document-signing-extended.yaml");
    ok(cli(
        &node,
        drafter,
        &["scenario", "push", yaml.to_str().unwrap()],
    ));
    let reviewer_actor = format!("reviewer={reviewer_key}");
    let out = ok(cli(
        &node,
        drafter,
        &[
            "process",
            "start",
            "accord-example-document-signing",
            "--actor",
            "drafter=me",
            "--actor",
            &reviewer_actor,
            "--id",
            "doc-1",
        ],
    ));
    assert!(out.contains("state: initial"), "{out}");
    ok(cli(
        &node,
        drafter,
        &["process", "act", "doc-1", "request_review"],
    ));
    let (dir, database) = node.stop();
    let node = Node::start(&dir, database.as_deref());
    let out = ok(cli(&node, reviewer, &["process", "next", "doc-1"]));
    assert!(out.contains("reviewer may: review"), "{out}");
    // Someone else's action is refused, and says why.
    let refused = cli(&node, drafter, &["process", "act", "doc-1", "review"]);
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("422"), "{err}");
    ok(cli(
        &node,
        reviewer,
        &["process", "act", "doc-1", "review", "--response", "accept"],
    ));
    ok(cli(&node, drafter, &["process", "act", "doc-1", "sign_a"]));
    ok(cli(&node, reviewer, &["process", "act", "doc-1", "sign_b"]));
    let out = ok(cli(&node, drafter, &["process", "show", "doc-1", "--json"]));
    let p: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(p["current"]["key"], ":success");
    // A reviewer whose key the node holds (custody), acting through a controller key (their
    // browser's); the node's own key administers it.
    let admin = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .arg("--keystore")
            .arg(dir.join("data/node-key.json"))
            .arg("--passphrase-file")
            .arg(dir.join("passphrase"))
            .env("ACCORD_NODE", &node.url)
            .env_remove("ACCORD_SEED_PHRASE")
            .output()
            .unwrap()
    };
    let browser = "node process test: browser";
    let browser_key = user("browser").public_key().to_base58();
    let held = ok(admin(&["custody", "add", "--controller", &browser_key]))
        .trim()
        .to_string();
    let listed = ok(admin(&["custody", "list"]));
    assert!(
        listed.contains(&held) && listed.contains(&browser_key),
        "{listed}"
    );
    let held_actor = format!("reviewer={held}");
    ok(cli(
        &node,
        drafter,
        &[
            "process",
            "start",
            "accord-example-document-signing",
            "--actor",
            "drafter=me",
            "--actor",
            &held_actor,
            "--id",
            "doc-2",
        ],
    ));
    ok(cli(
        &node,
        drafter,
        &["process", "act", "doc-2", "request_review"],
    ));
    let review = [
        "process",
        "act",
        "doc-2",
        "review",
        "--response",
        "accept",
        "--for",
        &held,
    ];
    // Not a controller: refused.
    let refused = cli(&node, reviewer, &review);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("403"));
    let out = ok(cli(&node, browser, &review));
    assert!(out.contains("state: accepted"), "{out}");
    node.stop();
}

/// Starts `n` biomass processes through the API; returns (pid, chain, tip, state) for each.
async fn start_biomass(
    client: &Client,
    n: usize,
    tag: &str,
) -> Vec<(String, ChainId, [u8; 32], [u8; 32])> {
    let scenario: Value = serde_json::from_str(
        &std::fs::read_to_string(examples().join("scenarios/biomass.json")).unwrap(),
    )
    .unwrap();
    let sid = scenario["id"].as_str().unwrap();
    let actors: Vec<String> = scenario["actors"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    for a in &actors {
        let c = Client::new(client.base(), &user(a)).unwrap();
        c.post(
            "/identities",
            events::identity(
                &format!("{a}-identity"),
                &user(a).public_key().to_base58(),
                None,
            )
            .to_string(),
        )
        .await
        .unwrap();
    }
    let creator = user("buyer");
    let mut out = Vec::new();
    for i in 0..n {
        let pid = format!("biomass-{tag}-{i}");
        let mut bodies = vec![events::scenario(scenario.clone(), sid)];
        for a in &actors {
            bodies.push(events::identity(
                &format!("{a}-identity"),
                &user(a).public_key().to_base58(),
                None,
            ));
        }
        let bindings: Vec<(String, String)> = actors
            .iter()
            .map(|a| (a.clone(), format!("{a}-identity")))
            .collect();
        bodies.push(events::process(&pid, sid, &bindings));
        let signed: Vec<(&Value, &KeyPair)> = bodies.iter().map(|b| (b, &creator)).collect();
        let chain =
            events::new_chain(&creator, b'T', &Nonce::from_text(&pid), &signed, now_ms()).unwrap();
        let o = client.post("/event-chains", chain.to_json()).await.unwrap();
        out.push((pid, *chain.id(), b32(&o, "tip"), b32(&o, "state")));
    }
    out
}

fn biomass_steps() -> Vec<Value> {
    let text = std::fs::read_to_string(examples().join("steps/biomass.yaml")).unwrap();
    let v = accord_scenario::doc::parse(&text, accord_scenario::Format::Yaml).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .filter(|s| s.get("reject").is_none())
        .cloned()
        .collect()
}

/// 91 biomass processes, 16 clients, 1,001 actions; the node is killed with SIGKILL part-way.
/// After a restart every acknowledged event is on its chain, the chains verify, and the
/// processes continue to their end.
fn kill_9_during_a_burst(dir: &Path, database: Option<&str>) {
    let node = Node::start(dir, database);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = node.url.clone();
    let walks = rt.block_on(async {
        let client = Client::new(&url, &user("buyer")).unwrap();
        // 91 processes × 11 responses: a burst of 1,001 actions.
        start_biomass(&client, 91, "burst").await
    });
    let steps = Arc::new(biomass_steps());
    assert_eq!(steps.len(), 11);
    let acked = Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let count = Arc::new(AtomicUsize::new(0));
    // The killer: once 400 actions are acknowledged.
    let killer = {
        let count = count.clone();
        let pid = node.child.id();
        std::thread::spawn(move || {
            let t = Instant::now();
            while count.load(Ordering::SeqCst) < 400 && t.elapsed() < Duration::from_secs(120) {
                std::thread::sleep(Duration::from_millis(1));
            }
            Command::new("kill")
                .arg("-9")
                .arg(pid.to_string())
                .status()
                .unwrap();
        })
    };
    let progress: Vec<(String, ChainId, usize)> = rt.block_on(async {
        let mut tasks = Vec::new();
        for (c, mine) in walks.chunks(walks.len().div_ceil(16)).enumerate() {
            let mine = mine.to_vec();
            let (steps, acked, count, url) =
                (steps.clone(), acked.clone(), count.clone(), url.clone());
            tasks.push(tokio::spawn(async move {
                let mut done = Vec::new();
                let mut failed = false;
                for (pid, chain, mut tip, mut state) in mine {
                    let mut n = 0;
                    for step in steps.iter() {
                        if failed {
                            break;
                        }
                        let actor = step["actor"].as_str().unwrap();
                        let key = user(actor);
                        let client = Client::new(&url, &key).unwrap();
                        let body = events::response(
                            step["action"].as_str().unwrap(),
                            step.get("response").and_then(Value::as_str),
                            step.get("data").cloned().unwrap_or(Value::Null),
                        );
                        let partial = events::next_event(
                            &chain,
                            tip,
                            state,
                            &body,
                            &key,
                            now_ms() + c as u64,
                        )
                        .unwrap();
                        let hash = base58::encode(&partial.events[0].hash.unwrap());
                        match client
                            .post(&format!("/processes/{pid}/responses"), partial.to_json())
                            .await
                        {
                            Ok(o) => {
                                tip = b32(&o, "tip");
                                state = b32(&o, "state");
                                acked.lock().unwrap().push((chain.to_base58(), hash));
                                count.fetch_add(1, Ordering::SeqCst);
                                n += 1;
                            }
                            Err(_) => failed = true,
                        }
                    }
                    done.push((pid, chain, n));
                }
                done
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    });
    killer.join().unwrap();
    let (dir, database) = node.kill();
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 400,
        "{} actions acknowledged before the kill",
        acked.len()
    );
    assert!(acked.len() < 1001, "the kill came before the burst ended");

    let node = Node::start(&dir, database.as_deref());
    let url = node.url.clone();
    rt.block_on(async {
        let client = Client::new(&url, &user("buyer")).unwrap();
        let mut held: HashSet<(String, String)> = HashSet::new();
        for (_, chain, _) in &progress {
            let json = client
                .get(&format!("/event-chains/{}", chain.to_base58()))
                .await
                .unwrap();
            let chain_back = Chain::from_json(json.to_string().as_bytes()).unwrap();
            let verified = chain_back.verify().expect("every stored chain verifies");
            for e in verified.events() {
                held.insert((chain.to_base58(), base58::encode(&e.hash())));
            }
        }
        let lost: Vec<_> = acked.iter().filter(|a| !held.contains(*a)).collect();
        assert!(
            lost.is_empty(),
            "{} acknowledged events lost: {:?}",
            lost.len(),
            &lost[..lost.len().min(5)]
        );
        // And the processes go on: finish one that was interrupted.
        let (pid, chain, n) = progress
            .iter()
            .find(|(_, _, n)| *n < 11)
            .expect("an interrupted process");
        let steps = biomass_steps();
        for step in &steps[*n..] {
            let key = user(step["actor"].as_str().unwrap());
            let c = Client::new(&url, &key).unwrap();
            let head = c
                .get(&format!("/event-chains/{}/head", chain.to_base58()))
                .await
                .unwrap();
            let body = events::response(
                step["action"].as_str().unwrap(),
                step.get("response").and_then(Value::as_str),
                step.get("data").cloned().unwrap_or(Value::Null),
            );
            let partial = events::next_event(
                chain,
                b32(&head, "tip"),
                b32(&head, "state"),
                &body,
                &key,
                now_ms().max(head["timestamp"].as_u64().unwrap_or(0)),
            )
            .unwrap();
            let r = c
                .post(&format!("/processes/{pid}/responses"), partial.to_json())
                .await;
            // The event in flight when the node died may or may not have been committed: if it
            // was, this step is already done and is refused as not open; go on.
            if let Err(e) = r {
                assert_eq!(e.status(), Some(422), "{e}");
            }
        }
        let p = client.get(&format!("/processes/{pid}")).await.unwrap();
        assert_eq!(p["current"]["key"], ":success", "{}", p["current"]);
    });
    node.stop();
}

/// A SIGTERM that comes as soon as the node says it listens (it already answers then) stops it
/// cleanly: the signal handler is in place before the node listens, not after.
#[test]
fn sigterm_as_soon_as_the_node_listens_stops_it_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    // The window is short: try several times.
    for _ in 0..10 {
        let node = Node::start(dir.path(), None);
        node.stop();
    }
}

#[test]
fn sqlite_document_signing_through_the_cli_with_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    document_signing_through_the_cli(dir.path(), None);
}

#[test]
fn sqlite_kill_9_during_a_burst_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    kill_9_during_a_burst(dir.path(), None);
}

#[test]
fn postgres_document_signing_through_the_cli_with_a_restart() {
    if !require_postgres() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = postgres("doc").unwrap();
    document_signing_through_the_cli(dir.path(), Some(&db));
}

#[test]
fn postgres_kill_9_during_a_burst_loses_no_acknowledged_event() {
    if !require_postgres() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = postgres("burst").unwrap();
    kill_9_during_a_burst(dir.path(), Some(&db));
}

/// The wall clock in milliseconds: a node takes events from its users only within its clock
/// skew.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}
