//! Three organisations' `accord node` processes on loopback, each with its own data directory
//! and a configuration file naming the two others as peers. Users act only at their own
//! organisation's node; delivery carries every event to the other parties' nodes. At the end
//! every node that is a party to a chain holds the same events and serves byte-identical
//! projections, and no outbox owes anything. One node is killed (SIGKILL) while the others go
//! on without it, and catches up when it comes back on the same data directory and port. In
//! a stopped node's place, a peer that answers 500s and then hangs sends its delivery to dead
//! letters, which a replay delivers once the node is back. A system action's HTTP call is made
//! by the node that holds the system key, once, and the others see its answer (and the error
//! transition when the service fails).
//!
//! Every wait polls until a generous deadline; nothing asserts on how long anything took.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use accord_chain::{Chain, ChainId, Nonce};
use accord_crypto::{KeyPair, base58};
use accord_node::client::{Client, ClientError};
use accord_node::events;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_accord");

/// How long any one wait may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(60);

/// Delivery for loopback: retries come quickly and never give up, so a node that is down for
/// a while gets everything when it is back; a short attempt timeout keeps short the lease a
/// killed node's claim holds (twice the timeout, plus 5 s).
const DELIVERY: &str = "[delivery]
backoff_ms = 100
backoff_max_ms = 1000
max_attempts = 1000000
timeout_ms = 2000
";

/// A user's key; the CLI derives the same one from `ACCORD_SEED_PHRASE`.
fn seed(name: &str) -> String {
    format!("three nodes test: {name}")
}

fn user(name: &str) -> KeyPair {
    KeyPair::from_seed_phrase(&seed(name), 0)
}

/// Every node's administrator in these tests: it reads outboxes and any chain.
fn operator() -> KeyPair {
    user("operator")
}

fn examples() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"))
        .join("../../examples")
}

fn scenario(name: &str) -> Value {
    let text = std::fs::read_to_string(examples().join("scenarios").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The response steps of a steps file.
fn steps(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(examples().join("steps").join(name)).unwrap();
    let v = accord_scenario::doc::parse(&text, accord_scenario::Format::Yaml).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .filter(|s| s.get("action").is_some())
        .cloned()
        .collect()
}

/// A command without the caller's `ACCORD_*` settings, so only what the test says applies.
fn command() -> Command {
    let mut cmd = Command::new(BIN);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("ACCORD_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// A process that is killed (SIGKILL) when dropped: whatever fails, no node outlives its test.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A node process starting: its log goes to `node.log` in its directory (kept across
/// restarts), and the address it listens on comes through `addr`.
struct Starting {
    child: Process,
    addr: Receiver<String>,
    dir: PathBuf,
}

fn spawn(dir: &Path, args: &[&std::ffi::OsStr]) -> Starting {
    let mut child = command()
        .arg("node")
        .args(args)
        .args(["--log", "info"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("node.log"))
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = writeln!(log, "{line}");
            if let Some(i) = line.find("listening on http://") {
                let addr: String = line[i + "listening on http://".len()..]
                    .chars()
                    .take_while(|c| !c.is_whitespace())
                    .collect();
                let _ = tx.send(addr);
            }
        }
    });
    Starting {
        child: Process(child),
        addr: rx,
        dir: dir.to_path_buf(),
    }
}

impl Starting {
    /// Waits until the node listens; returns the process and its URL.
    fn wait(self) -> (Process, String) {
        match self.addr.recv_timeout(DEADLINE) {
            Ok(addr) => (self.child, format!("http://{addr}")),
            Err(e) => {
                drop(self.child);
                let why = match e {
                    RecvTimeoutError::Timeout => "did not listen in time",
                    RecvTimeoutError::Disconnected => "exited before listening",
                };
                panic!(
                    "the node in {} {why}; its log:\n{}",
                    self.dir.display(),
                    log_tail(&self.dir, 40)
                );
            }
        }
    }
}

fn log_tail(dir: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(dir.join("node.log")).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// SIGTERM, and a clean exit.
fn terminate(mut process: Process) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(process.0.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = process.0.wait().unwrap();
    assert!(exit.success(), "a node exits cleanly on SIGTERM: {exit}");
}

/// One organisation's node.
struct Node {
    dir: PathBuf,
    url: String,
    key: String,
    /// The process, while it runs.
    child: Option<Process>,
}

impl Node {
    /// Starts the node from its configuration file, on the address it names.
    fn spawn(&self) -> Starting {
        spawn(
            &self.dir,
            &["--config".as_ref(), self.dir.join("node.toml").as_os_str()],
        )
    }

    fn start(&mut self) {
        assert!(self.child.is_none(), "{} already runs", self.url);
        let (child, url) = self.spawn().wait();
        assert_eq!(url, self.url, "the node is back on its own port");
        self.child = Some(child);
    }

    /// SIGKILL: no clean stop, whatever it was doing.
    fn kill(&mut self) {
        let mut process = self.child.take().expect("the node runs");
        process.0.kill().unwrap();
        process.0.wait().unwrap();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // The process first, so the log is complete.
        drop(self.child.take());
        if std::thread::panicking() {
            eprintln!(
                "--- the end of {}'s log ({}):\n{}",
                self.url,
                self.dir.display(),
                log_tail(&self.dir, 30)
            );
        }
    }
}

/// Three organisations' nodes, each knowing the two others.
struct Net {
    nodes: Vec<Node>,
    rt: tokio::runtime::Runtime,
    // Dropped last: the nodes are killed before their directories go.
    _dir: tempfile::TempDir,
}

impl Net {
    /// First each node alone, to make its key and take a free port (as `accord devnet` does);
    /// then each from a configuration file naming the others as peers, on the same port.
    fn start() -> Net {
        Net::start_with(DELIVERY)
    }

    /// As [`Net::start`], with `settings` (TOML tables) in each node's configuration.
    fn start_with(settings: &str) -> Net {
        let dir = tempfile::tempdir().unwrap();
        let passphrase = dir.path().join("passphrase");
        std::fs::write(&passphrase, "three nodes test").unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dirs: Vec<PathBuf> = (1..=3)
            .map(|n| dir.path().join(format!("org{n}")))
            .collect();
        let alone: Vec<Starting> = dirs
            .iter()
            .map(|d| {
                std::fs::create_dir_all(d).unwrap();
                let data = d.join("data");
                spawn(
                    d,
                    &[
                        "--listen".as_ref(),
                        "127.0.0.1:0".as_ref(),
                        "--data-dir".as_ref(),
                        data.as_os_str(),
                        "--passphrase-file".as_ref(),
                        passphrase.as_os_str(),
                    ],
                )
            })
            .collect();
        let mut nodes = Vec::new();
        for (d, starting) in dirs.iter().zip(alone) {
            let (child, url) = starting.wait();
            let ready = rt
                .block_on(Client::new(&url, &operator()).unwrap().get("/readyz"))
                .unwrap();
            let key = ready["node"].as_str().unwrap().to_string();
            terminate(child);
            nodes.push(Node {
                dir: d.clone(),
                url,
                key,
                child: None,
            });
        }
        for node in &nodes {
            let quoted = |s: &str| serde_json::to_string(s).unwrap();
            let mut toml = format!(
                "data_dir = {}\nlisten = {}\npassphrase_file = {}\nadmins = [{}]\n",
                quoted(&node.dir.join("data").to_string_lossy()),
                quoted(node.url.trim_start_matches("http://")),
                quoted(&passphrase.to_string_lossy()),
                quoted(&operator().public_key().to_base58()),
            );
            for peer in nodes.iter().filter(|p| p.key != node.key) {
                toml.push_str(&format!(
                    "[[peers]]\nurl = {}\nkey = {}\n",
                    quoted(&peer.url),
                    quoted(&peer.key)
                ));
            }
            toml.push_str(settings);
            std::fs::write(node.dir.join("node.toml"), toml).unwrap();
        }
        let starting: Vec<Starting> = nodes.iter().map(Node::spawn).collect();
        for (node, starting) in nodes.iter_mut().zip(starting) {
            let (child, url) = starting.wait();
            assert_eq!(url, node.url);
            node.child = Some(child);
        }
        Net {
            nodes,
            rt,
            _dir: dir,
        }
    }

    /// Stops every node with SIGTERM; each must exit cleanly.
    fn stop(mut self) {
        for node in &mut self.nodes {
            if let Some(child) = node.child.take() {
                terminate(child);
            }
        }
    }

    fn client(&self, node: usize, who: &KeyPair) -> Client {
        Client::new(&self.nodes[node].url, who).unwrap()
    }

    fn get(&self, node: usize, who: &KeyPair, path: &str) -> Result<Value, ClientError> {
        self.rt.block_on(self.client(node, who).get(path))
    }

    fn post(&self, node: usize, who: &KeyPair, path: &str, body: String) -> Value {
        self.rt
            .block_on(self.client(node, who).post(path, body))
            .unwrap_or_else(|e| panic!("POST {path} at node {node}: {e}"))
    }

    /// The chain's length at a node, as its administrator sees it (0: not held).
    fn length(&self, node: usize, chain: &str) -> u64 {
        self.get(node, &operator(), &format!("/event-chains/{chain}/head"))
            .map_or(0, |h| h["length"].as_u64().unwrap_or(0))
    }

    /// Outbox rows at a node in `state`.
    fn outbox(&self, node: usize, state: &str) -> Vec<Value> {
        let rows = self
            .get(
                node,
                &operator(),
                &format!("/outbox?state={state}&limit=1000"),
            )
            .unwrap();
        rows["rows"].as_array().unwrap().clone()
    }

    /// Waits until no node owes anything: no pending rows, and no dead ones.
    fn drained(&self) {
        for i in 0..self.nodes.len() {
            eventually(&format!("node {i}'s outbox drains"), || {
                self.outbox(i, "pending").is_empty()
            });
            assert_eq!(self.outbox(i, "dead"), Vec::<Value>::new(), "node {i}");
        }
    }

    /// Waits until each of `nodes` holds `length` events of the process's chain; then checks
    /// they hold the same chain, which verifies, and serve the process byte for byte alike.
    /// Returns the projection.
    fn converged(&self, nodes: &[usize], p: &Proc, length: u64) -> Value {
        let id = p.chain.to_base58();
        for &i in nodes {
            eventually(
                &format!("node {i} holds {length} events of {}", p.pid),
                || self.length(i, &id) == length,
            );
        }
        let mut first: Option<(Value, Vec<u8>)> = None;
        for &i in nodes {
            let chain = self
                .get(i, &operator(), &format!("/event-chains/{id}"))
                .unwrap();
            assert_eq!(chain["events"].as_array().unwrap().len() as u64, length);
            Chain::from_json(chain.to_string().as_bytes())
                .unwrap()
                .verify()
                .unwrap_or_else(|e| panic!("node {i}'s copy of {} verifies: {e:?}", p.pid));
            let answer = self
                .rt
                .block_on(self.client(i, &operator()).send(
                    "GET",
                    &format!("/processes/{}", p.pid),
                    None,
                ))
                .unwrap();
            assert_eq!(answer.status, 200, "node {i}");
            match &first {
                None => first = Some((chain, answer.body)),
                Some((chain0, projection0)) => {
                    assert_eq!(&chain, chain0, "node {i}'s chain and node {}'s", nodes[0]);
                    assert!(
                        answer.body == *projection0,
                        "node {i}'s projection of {} differs from node {}'s:\n{}\n{}",
                        p.pid,
                        nodes[0],
                        String::from_utf8_lossy(&answer.body),
                        String::from_utf8_lossy(projection0)
                    );
                }
            }
        }
        serde_json::from_slice(&first.unwrap().1).unwrap()
    }

    /// That a node holds nothing of the process's chain.
    fn holds_nothing(&self, node: usize, p: &Proc) {
        let id = p.chain.to_base58();
        for path in [
            format!("/event-chains/{id}"),
            format!("/processes/{}", p.pid),
        ] {
            let err = self.get(node, &operator(), &path).unwrap_err();
            assert_eq!(err.status(), Some(404), "node {node}, {path}: {err}");
        }
    }
}

/// Waits until `check` holds, polling.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "waited {DEADLINE:?}, and still not: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A scenario with each actor's identity at one node.
struct Flow {
    scenario: Value,
    homes: Vec<(String, usize)>,
}

/// A process under way: its chain and id, and how many events it should have by now.
struct Proc {
    chain: ChainId,
    pid: String,
    length: u64,
}

impl Flow {
    /// `scenario`'s actors, each at `home(actor)`; each registers its identity there.
    fn new(net: &Net, file: &str, home: impl Fn(usize, &str) -> usize) -> Flow {
        let scenario = scenario(file);
        let homes: Vec<(String, usize)> = scenario["actors"]
            .as_object()
            .unwrap()
            .keys()
            .enumerate()
            .map(|(n, a)| (a.clone(), home(n, a)))
            .collect();
        let flow = Flow { scenario, homes };
        for (actor, _) in &flow.homes {
            let at = flow.home(actor);
            net.post(
                at,
                &user(actor),
                "/identities",
                flow.identity(net, actor).to_string(),
            );
        }
        flow
    }

    fn home(&self, actor: &str) -> usize {
        self.homes.iter().find(|(a, _)| a == actor).unwrap().1
    }

    fn identity(&self, net: &Net, actor: &str) -> Value {
        events::identity_at(
            &format!("{actor}-identity"),
            &user(actor).public_key().to_base58(),
            &net.nodes[self.home(actor)].key,
        )
    }

    /// `creator` starts a process at its node: the scenario, every actor's identity naming
    /// its node, the process.
    fn start(&self, net: &Net, creator: &str, pid: &str) -> Proc {
        let sid = self.scenario["id"].as_str().unwrap();
        let mut bodies = vec![events::scenario(self.scenario.clone(), sid)];
        bodies.extend(self.homes.iter().map(|(a, _)| self.identity(net, a)));
        let bindings: Vec<(String, String)> = self
            .homes
            .iter()
            .map(|(a, _)| (a.clone(), format!("{a}-identity")))
            .collect();
        bodies.push(events::process(pid, sid, &bindings));
        let key = user(creator);
        let signed: Vec<(&Value, &KeyPair)> = bodies.iter().map(|b| (b, &key)).collect();
        let chain =
            events::new_chain(&key, b'T', &Nonce::from_text(pid), &signed, now_ms()).unwrap();
        let answer = net.post(self.home(creator), &key, "/event-chains", chain.to_json());
        Proc {
            chain: *chain.id(),
            pid: pid.to_string(),
            length: answer["length"].as_u64().unwrap(),
        }
    }

    /// Each step by its actor at the actor's node, once that node holds every event before
    /// it. A `reject: true` step must be refused (422): the node stores it with its error
    /// event. An `expect`ed state is checked at the acting node.
    fn run(&self, net: &Net, p: &mut Proc, steps: &[Value]) {
        let id = p.chain.to_base58();
        for step in steps {
            let actor = step["actor"].as_str().unwrap();
            let action = step["action"].as_str().unwrap();
            let at = self.home(actor);
            eventually(
                &format!(
                    "node {at} holds {} events of {} before {action}",
                    p.length, p.pid
                ),
                || net.length(at, &id) == p.length,
            );
            let key = user(actor);
            let head = net
                .get(at, &key, &format!("/event-chains/{id}/head"))
                .unwrap();
            let body = events::response(
                action,
                step.get("response").and_then(Value::as_str),
                step.get("data").cloned().unwrap_or(Value::Null),
            );
            let partial = events::next_event(
                &p.chain,
                b32(&head, "tip"),
                b32(&head, "state"),
                &body,
                &key,
                now_ms(),
            )
            .unwrap();
            let result = net.rt.block_on(net.client(at, &key).post(
                &format!("/processes/{}/responses", p.pid),
                partial.to_json(),
            ));
            if step.get("reject").and_then(Value::as_bool) == Some(true) {
                let err = result.expect_err(&format!("{actor} {action} is refused"));
                assert_eq!(err.status(), Some(422), "{actor} {action}: {err}");
                p.length += 2; // the refused event, and the error event of the node that took it
            } else {
                result.unwrap_or_else(|e| panic!("{actor} {action} at node {at}: {e}"));
                p.length += 1;
            }
            if let Some(state) = step.get("expect") {
                let now = net.get(at, &key, &format!("/processes/{}", p.pid)).unwrap();
                assert_eq!(&now["current"]["key"], state, "after {actor} {action}");
            }
        }
    }
}

fn b32(v: &Value, field: &str) -> [u8; 32] {
    base58::decode(v[field].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// The biomass actors, round robin over the three nodes in the scenario's order: buyer and
/// landowner at the first, supplier and company at the second, logistics at the third.
fn biomass(net: &Net) -> Flow {
    let flow = Flow::new(net, "biomass.json", |n, _| n % 3);
    assert_eq!(
        flow.homes
            .iter()
            .map(|(a, n)| format!("{a}@{n}"))
            .collect::<Vec<_>>(),
        [
            "buyer@0",
            "supplier@1",
            "logistics@2",
            "landowner@0",
            "company@1"
        ]
    );
    flow
}

#[test]
fn biomass_with_actors_at_three_nodes_ends_with_identical_chains_and_projections() {
    let net = Net::start();
    let flow = biomass(&net);
    let mut p = flow.start(&net, "buyer", "biomass-three-nodes");
    let steps = steps("biomass.yaml");
    assert_eq!(steps.len(), 12);
    flow.run(&net, &mut p, &steps);
    assert_eq!(
        p.length,
        7 + 11 + 2,
        "start, 11 responses, a refusal and its error"
    );

    let done = net.converged(&[0, 1, 2], &p, p.length);
    assert_eq!(done["current"]["key"], ":success");
    assert_eq!(done["previous"].as_array().unwrap().len(), 11);
    // One error event, signed by the node the refused step went to (the buyer's).
    let chain = net
        .get(
            0,
            &operator(),
            &format!("/event-chains/{}", p.chain.to_base58()),
        )
        .unwrap();
    let verified = Chain::from_json(chain.to_string().as_bytes())
        .unwrap()
        .verify()
        .unwrap();
    let errors: Vec<String> = verified
        .events()
        .iter()
        .filter(|e| {
            serde_json::from_slice::<Value>(&e.event().data)
                .is_ok_and(|b| b["$schema"] == accord_node::pipeline::ERROR_SCHEMA)
        })
        .map(|e| e.sign_key().to_base58())
        .collect();
    assert_eq!(errors, [net.nodes[flow.home("buyer")].key.clone()]);

    // Every node delivered what it took to both others, and owes nothing.
    net.drained();
    for (i, node) in net.nodes.iter().enumerate() {
        let done = net.outbox(i, "done");
        for peer in net.nodes.iter().filter(|n| n.key != node.key) {
            assert!(
                done.iter().any(|r| r["peer"] == peer.key.as_str()),
                "node {i} delivered to {}: {done:?}",
                peer.url
            );
        }
    }
    net.stop();
}

/// The `accord` CLI as a user at `node` with `who`'s key.
fn cli(net: &Net, node: usize, who: &str, args: &[&str]) -> Output {
    command()
        .args(args)
        .arg("--node")
        .arg(&net.nodes[node].url)
        .env("ACCORD_SEED_PHRASE", seed(who))
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

/// Waits until `accord process next`, run by `who` at `node`, says `line` (e.g. "state:
/// review").
fn wait_for(net: &Net, node: usize, who: &str, pid: &str, line: &str) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let out = cli(net, node, who, &["process", "next", pid]);
        let last = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        if out.status.success() && last.lines().any(|l| l == line) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "waited {DEADLINE:?} for `{line}` in {pid} at node {node}; last: {last}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn document_signing_through_the_cli_across_three_nodes() {
    let net = Net::start();
    // Three processes, one started at each node by its organisation's user, with the next
    // organisation's user as reviewer at that user's node.
    let org = |i: usize| format!("org{}", i % 3 + 1);
    let file = examples().join("scenarios/document-signing.json");
    let mut procs = Vec::new();
    for i in 0..3 {
        let out = ok(cli(
            &net,
            i,
            &org(i),
            &["scenario", "push", file.to_str().unwrap()],
        ));
        assert!(out.contains("accord-example-document-signing"), "{out}");
        let reviewer = format!(
            "reviewer={}@{}",
            user(&org(i + 1)).public_key().to_base58(),
            net.nodes[(i + 1) % 3].key
        );
        let pid = format!("doc-{i}");
        let out = ok(cli(
            &net,
            i,
            &org(i),
            &[
                "process",
                "start",
                "accord-example-document-signing",
                "--actor",
                "drafter=me",
                "--actor",
                &reviewer,
                "--id",
                &pid,
            ],
        ));
        assert!(out.contains("state: initial"), "{out}");
        let chain: ChainId = out
            .lines()
            .find_map(|l| l.strip_prefix("chain "))
            .expect("the chain id")
            .parse()
            .unwrap();
        let out = ok(cli(
            &net,
            i,
            &org(i),
            &["process", "act", &pid, "request_review"],
        ));
        assert!(out.contains("state: review"), "{out}");
        procs.push(Proc {
            chain,
            pid,
            length: 5,
        });
    }
    // Each reviewer, at their own node, once the review is open there.
    for (i, p) in procs.iter().enumerate() {
        let r = (i + 1) % 3;
        wait_for(&net, r, &org(r), &p.pid, "state: review");
        let out = ok(cli(
            &net,
            r,
            &org(r),
            &["process", "act", &p.pid, "review", "--response", "accept"],
        ));
        assert!(out.contains("state: accepted"), "{out}");
    }
    // The drafter signs first; the reviewer signs once that is in at their node (signing
    // both at once at two nodes would fork the chain).
    for (i, p) in procs.iter().enumerate() {
        wait_for(&net, i, &org(i), &p.pid, "state: accepted");
        ok(cli(&net, i, &org(i), &["process", "act", &p.pid, "sign_a"]));
    }
    for (i, p) in procs.iter().enumerate() {
        let r = (i + 1) % 3;
        wait_for(&net, r, &org(r), &p.pid, "state: a_signed");
        let out = ok(cli(&net, r, &org(r), &["process", "act", &p.pid, "sign_b"]));
        assert!(out.contains("state: :success"), "{out}");
    }
    for (i, p) in procs.iter().enumerate() {
        let done = net.converged(&[i, (i + 1) % 3], p, p.length + 3);
        assert_eq!(done["current"]["key"], ":success");
        // The organisation not named has nothing of it.
        net.holds_nothing((i + 2) % 3, p);
    }
    net.drained();
    net.stop();
}

#[test]
fn a_node_killed_for_a_while_catches_up_with_nothing_lost() {
    let mut net = Net::start();
    let flow = biomass(&net);
    let down = flow.home("logistics");
    assert_eq!(down, 2);
    let steps = steps("biomass.yaml");
    // The first six steps are the company's and the landowner's, at the running nodes.
    assert!(
        steps[..6]
            .iter()
            .all(|s| flow.home(s["actor"].as_str().unwrap()) != down)
    );

    // A process naming all three, one step in, held by the node that will go down.
    let mut before = flow.start(&net, "buyer", "biomass-before");
    flow.run(&net, &mut before, &steps[..1]);
    let id = before.chain.to_base58();
    eventually("the third node holds the first step", || {
        net.length(down, &id) == before.length
    });
    // A document the third node's user drafts there, asked for review by the first node's
    // user; killed right after the node acknowledged the request (delivered or not). A
    // delivery the kill cut short comes back when its claim's lease ends (9 s here).
    let docs = Flow::new(&net, "document-signing.json", |_, a| {
        if a == "drafter" { down } else { 0 }
    });
    let mut doc = docs.start(&net, "drafter", "doc-killed");
    docs.run(
        &net,
        &mut doc,
        &[json!({"actor": "drafter", "action": "request_review"})],
    );
    net.nodes[down].kill();

    // The others go on: the rest of the first process up to the logistics' turn, and a new
    // process naming the stopped node, started while it is down.
    flow.run(&net, &mut before, &steps[1..6]);
    let mut during = flow.start(&net, "buyer", "biomass-during");
    flow.run(&net, &mut during, &steps[..3]);
    let down_key = net.nodes[down].key.clone();
    for i in [0, 1] {
        let pending = net.outbox(i, "pending");
        assert!(
            pending.iter().any(|r| r["peer"] == down_key.as_str()),
            "node {i} owes the stopped node: {pending:?}"
        );
    }

    // Back on the same data directory and port: it catches up, and nobody owes anything.
    net.nodes[down].start();
    net.drained();
    net.converged(&[0, 1, 2], &before, before.length);
    net.converged(&[0, 1, 2], &during, during.length);
    net.converged(&[0, down], &doc, doc.length);
    net.holds_nothing(1, &doc);

    // And it takes part again: the logistics act at the restarted node, the first process
    // runs to its end, and the document is reviewed and signed.
    flow.run(&net, &mut before, &steps[6..]);
    docs.run(
        &net,
        &mut doc,
        &[
            json!({"actor": "reviewer", "action": "review", "response": "accept"}),
            json!({"actor": "drafter", "action": "sign_a"}),
            json!({"actor": "reviewer", "action": "sign_b", "expect": ":success"}),
        ],
    );
    let done = net.converged(&[0, 1, 2], &before, before.length);
    assert_eq!(done["current"]["key"], ":success");
    net.converged(&[0, 1, 2], &during, during.length);
    net.converged(&[0, down], &doc, doc.length);
    net.drained();
    net.stop();
}

/// A stand-in on a stopped node's address: it answers the first `errors` requests with a 500,
/// then takes requests and never answers. It counts them; it is gone when dropped.
struct BrokenPeer {
    requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BrokenPeer {
    fn at(url: &str, errors: usize) -> BrokenPeer {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind(url.trim_start_matches("http://")).unwrap();
        listener.set_nonblocking(true).unwrap();
        let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (counted, stopping) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut hanging = Vec::new();
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut socket, _)) => {
                        socket.set_nonblocking(false).unwrap();
                        let n = counted.fetch_add(1, Ordering::SeqCst);
                        if n < errors {
                            let mut buf = [0u8; 65536];
                            let _ = std::io::Read::read(&mut socket, &mut buf);
                            let _ = socket.write_all(
                                b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                            );
                        } else {
                            hanging.push(socket);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        BrokenPeer {
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn requests(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for BrokenPeer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Delivery that gives up: four attempts, one second each at most.
const GIVING_UP: &str = "[delivery]
backoff_ms = 100
backoff_max_ms = 400
max_attempts = 4
timeout_ms = 1000
";

#[test]
fn a_peer_answering_500s_then_hanging_goes_dead_and_a_replay_delivers() {
    let mut net = Net::start_with(GIVING_UP);
    let flow = biomass(&net);
    // Node 2 stops; in its place, something that fails twice and then hangs.
    net.nodes[2].kill();
    let broken = BrokenPeer::at(&net.nodes[2].url, 2);
    let mut p = flow.start(&net, "buyer", "biomass-broken-peer");
    let id = p.chain.to_base58();
    net.converged(&[0, 1], &p, p.length);
    let node2 = net.nodes[2].key.clone();
    eventually("node 0's delivery to node 2 is dead", || {
        net.outbox(0, "dead")
            .iter()
            .any(|r| r["peer"] == node2.as_str() && r["chain"] == id.as_str())
    });
    let dead: Vec<Value> = net
        .outbox(0, "dead")
        .into_iter()
        .filter(|r| r["peer"] == node2.as_str())
        .collect();
    assert_eq!(dead.len(), 1, "{dead:?}");
    let error = dead[0]["error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("gave up after 4 attempts"), "{error}");
    assert_eq!(
        broken.requests(),
        4,
        "two 500s, then two attempts that hung"
    );
    // Node 1 delivered nothing to node 2: it took nothing from its users.
    assert!(net.outbox(1, "dead").is_empty());

    // Node 2 is back; an administrator replays the dead delivery.
    drop(broken);
    net.nodes[2].start();
    let row = dead[0]["id"].as_i64().unwrap();
    net.post(
        0,
        &operator(),
        &format!("/outbox/{row}/replay"),
        String::new(),
    );
    net.converged(&[0, 1, 2], &p, p.length);
    net.drained();
    // And the process goes on at node 2.
    flow.run(&net, &mut p, &steps("biomass.yaml")[..1]);
    net.converged(&[0, 1, 2], &p, p.length);
    net.stop();
}

#[test]
fn a_system_action_at_one_node_calls_a_local_service_and_the_others_see_its_answer() {
    let net = Net::start_with(&format!(
        "{DELIVERY}[system]\nallow_private = true\ntimeout_ms = 2000\n"
    ));
    // A service on loopback: 200 for `/ok`, 500 for anything else; it counts calls.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let service = format!("http://{}", listener.local_addr().unwrap());
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = calls.clone();
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { return };
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 65536];
            let n = std::io::Read::read(&mut socket, &mut buf).unwrap_or(0);
            let ok = String::from_utf8_lossy(&buf[..n]).starts_with("POST /ok ");
            let (status, body) = if ok {
                ("200 OK", r#"{"received":true}"#)
            } else {
                ("500 Internal Server Error", r#"{"oops":1}"#)
            };
            let _ = socket.write_all(
                format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    const HTTP: &str = "https://specs.livecontracts.io/v0.2.0/action/http/schema.json#";
    // The user at node 0; the system actor's identity names node 1, whose key runs it.
    let scenario = |path: &str| {
        json!({
            "id": format!("system-at-node-1{}", path.replace('/', "-")),
            "title": "A call",
            "actors": {"user": {}, "system": {}},
            "actions": {
                "call": {"$schema": HTTP, "actor": "system", "url": format!("{service}{path}"),
                         "method": "POST", "body": {"hello": "world"},
                         "responses": {"ok": {}, "error": {}}},
                "finish": {"actor": "user", "responses": {"ok": {}}}
            },
            "states": {
                "initial": {"action": "call", "transitions": [
                    {"action": "call", "response": "ok", "transition": "finishing"},
                    {"action": "call", "response": "error", "transition": ":failed"}]},
                "finishing": {"action": "finish", "transitions": [
                    {"action": "finish", "response": "ok", "transition": ":success"}]}
            }
        })
    };
    let user_key = user("user");
    net.post(
        0,
        &user_key,
        "/identities",
        events::identity_at(
            "user-identity",
            &user_key.public_key().to_base58(),
            &net.nodes[0].key,
        )
        .to_string(),
    );
    // The system identity's user is node 1's own (enrolled there by its administrator): a
    // node runs system actions only for users its operator enrolled.
    let mut system = events::identity(
        "system-identity",
        &operator().public_key().to_base58(),
        Some(&net.nodes[1].key),
    );
    system["node"] = Value::from(net.nodes[1].key.clone());
    net.post(1, &operator(), "/identities", system.to_string());
    let start = |doc: Value, pid: &str| -> Proc {
        let sid = doc["id"].as_str().unwrap().to_string();
        let mut system = events::identity(
            "system-identity",
            &operator().public_key().to_base58(),
            Some(&net.nodes[1].key),
        );
        system["node"] = Value::from(net.nodes[1].key.clone());
        let bodies = [
            events::scenario(doc, &sid),
            events::identity_at(
                "user-identity",
                &user_key.public_key().to_base58(),
                &net.nodes[0].key,
            ),
            system,
            events::process(
                pid,
                &sid,
                &[
                    ("user".into(), "user-identity".into()),
                    ("system".into(), "system-identity".into()),
                ],
            ),
        ];
        let signed: Vec<(&Value, &KeyPair)> = bodies.iter().map(|b| (b, &user_key)).collect();
        let chain =
            events::new_chain(&user_key, b'T', &Nonce::from_text(pid), &signed, now_ms()).unwrap();
        let answer = net.post(0, &user_key, "/event-chains", chain.to_json());
        Proc {
            chain: *chain.id(),
            pid: pid.to_string(),
            length: answer["length"].as_u64().unwrap(),
        }
    };
    let state_at = |node: usize, pid: &str| {
        net.get(node, &operator(), &format!("/processes/{pid}"))
            .map(|p| p["current"]["key"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    };
    // The call answers 200: node 1 signs `ok`, node 0 sees it; the user finishes.
    let mut good = start(scenario("/ok"), "system-call-ok");
    eventually("node 0 sees the call answered", || {
        state_at(0, "system-call-ok") == "finishing"
    });
    good.length += 1;
    let p = net.converged(&[0, 1], &good, good.length);
    let answer = &p["previous"][0];
    assert_eq!(
        (answer["key"].as_str(), answer["signkey"].as_str()),
        (Some("ok"), Some(net.nodes[1].key.as_str()))
    );
    assert_eq!(answer["data"], json!({"received": true}));
    // The call answers 500: the error transition, with the status and body.
    let mut bad = start(scenario("/fail"), "system-call-fails");
    eventually("node 0 sees the call fail", || {
        state_at(0, "system-call-fails") == ":failed"
    });
    bad.length += 1;
    let p = net.converged(&[0, 1], &bad, bad.length);
    assert_eq!(p["previous"][0]["key"], "error");
    assert_eq!(
        p["previous"][0]["data"],
        json!({"status": 500, "body": {"oops": 1}})
    );
    // One call each: node 0, which took the processes, did not call too; node 2 holds nothing.
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    net.holds_nothing(2, &good);
    net.drained();
    net.stop();
}
