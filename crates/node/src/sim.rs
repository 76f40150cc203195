//! The simulation: several nodes in one process, a simulated network between them, on a
//! virtual clock, over many seeds.
//!
//! Each node is a real one (its own SQLite database, pipeline and HTTP router, opened by
//! [`crate::open`]) without a listener or delivery task: the simulation drives delivery itself
//! with the delivery task's own parts ([`deliver::partial_chain`], [`deliver::judge`] and the
//! store's outbox), and carries every request between nodes (deliveries, their answers, the
//! receivers' catch-up fetches) as signed HTTP requests through the receiving node's router,
//! after a random delay, or not at all (loss), or twice (duplication); independent delays
//! reorder them. A request is signed once, when it is sent, and addressed to its receiver
//! (each node answers to its own `public_url`), so a duplicate is the same signed bytes: the
//! receiver carries out the copy that reaches it first, and the other adds nothing (a chain
//! submission is idempotent by event hash); the sender hears only the first copy's answer, as a
//! client on one connection would. A node may be cut off for a while (everything to and from
//! it is lost, it sends nothing), or stopped and opened again from its data directory (the attempts it had
//! under way forgotten; opening makes their rows due again). Users act at their own node, only on a chain whose tip that node holds (forks are
//! another matter).
//!
//! When the actions stop the network heals, and the run goes on until nothing is pending.
//! Then every party node holds every chain with all its events, the same as the others, and
//! byte-identical process projections; no other node holds it; no delivery is dead.
//!
//! Virtual time starts a day ahead of the wall clock, so what the pipeline stamps with the
//! wall clock (outbox rows raised by a commit) is always due; everything the simulation
//! decides (attempts, leases, backoff) uses virtual time, and randomness comes from the seed:
//! a failing seed runs the same way again.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use accord_chain::{ChainId, Nonce};
use accord_crypto::KeyPair;
use accord_crypto::keystore::{KdfParams, Keystore};
use accord_store::{Chains, Delivered, Delivery, Outbox};
use axum::Router;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::client::{Answer, Client};
use crate::clock::Clock;
use crate::config::{Config, Peer};
use crate::deliver::{self, Settings};
use crate::events;
use crate::links::{Links, Sending};

/// splitmix64: small, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// In [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// In [0, n).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// What one run simulates.
#[derive(Clone, Debug)]
struct Params {
    nodes: usize,
    processes: usize,
    actions: usize,
    /// Chance that a message is lost.
    loss: f64,
    /// Chance that a message arrives twice.
    duplication: f64,
    /// Delays are uniform in [1, max_delay] milliseconds.
    max_delay: u64,
    /// What befalls one node for a while in the middle.
    outage: Outage,
}

/// One node's time away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outage {
    None,
    /// Cut off: everything to and from it is lost.
    Cut,
    /// Stopped (its attempts under way forgotten, its database closed), then opened again
    /// from its data directory.
    Restart,
}

/// What went through the network in a run (summed over the seeds, to show each path ran).
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    sent: u64,
    lost: u64,
    duplicated: u64,
    /// Copies of a delivery that reached the receiver already, answered with success and
    /// nothing added (a chain submission is idempotent by event hash).
    copies_added_nothing: u64,
    timeouts: u64,
    missing_events: u64,
    catch_ups: u64,
    actions: u64,
    restarts: u64,
}

impl std::ops::AddAssign for Stats {
    fn add_assign(&mut self, o: Stats) {
        self.sent += o.sent;
        self.lost += o.lost;
        self.duplicated += o.duplicated;
        self.copies_added_nothing += o.copies_added_nothing;
        self.timeouts += o.timeouts;
        self.missing_events += o.missing_events;
        self.catch_ups += o.catch_ups;
        self.actions += o.actions;
        self.restarts += o.restarts;
    }
}

/// The network's shared state: the nodes' routers and URLs (by node key), who is down, and
/// the dice.
struct Net {
    routers: HashMap<String, Router>,
    urls: HashMap<String, String>,
    down: HashSet<String>,
    rng: Rng,
    loss: f64,
    catch_ups: u64,
}

/// Where node `n` is reached: its `public_url`, which its peers list it by and the signatures
/// of requests to it cover (never resolved).
fn url_of(n: usize) -> String {
    format!("http://n{n}.sim.invalid")
}

/// A request as signed by its sender: the same bytes however often the network carries it.
#[derive(Clone)]
struct Wire {
    method: String,
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

/// Signs a request as `client` would send it (to the node at the client's base URL).
fn sign(client: &Client, method: &str, target: &str, body: Option<Vec<u8>>) -> Wire {
    let prepared = client
        .prepare(method, target, body.map(|b| ("application/json", b)))
        .expect("a request the simulation builds can be signed");
    let url = prepared.url();
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or("")),
        None => url.host_str().unwrap_or("").to_string(),
    };
    let mut headers = vec![("host".to_string(), host.into_bytes())];
    for (name, value) in prepared.headers() {
        headers.push((name.as_str().to_string(), value.as_bytes().to_vec()));
    }
    let body = prepared
        .body()
        .and_then(|b| b.as_bytes())
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    Wire {
        method: method.to_string(),
        target: target.to_string(),
        headers,
        body,
    }
}

/// A signed request through `router`, as the node would get it over HTTP.
async fn call(
    router: &Router,
    client: &Client,
    method: &str,
    target: &str,
    body: Option<Vec<u8>>,
) -> Answer {
    deliver(router, sign(client, method, target, body)).await
}

/// A request as it was signed, through `router`.
async fn deliver(router: &Router, wire: Wire) -> Answer {
    let mut request = axum::http::Request::builder()
        .method(wire.method.as_str())
        .uri(wire.target.as_str());
    for (name, value) in &wire.headers {
        request = request.header(name.as_str(), value.as_slice());
    }
    let response = router
        .clone()
        .oneshot(request.body(axum::body::Body::from(wire.body)).unwrap())
        .await
        .unwrap_or_else(|e| match e {});
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("a response body in memory")
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

/// A node's links in the simulation: a catch-up fetch reaches the peer at once, or is lost.
struct SimLinks {
    net: Arc<Mutex<Net>>,
    own: String,
    client: Client,
    /// The network's one virtual clock.
    clock: Clock,
}

impl Links for SimLinks {
    fn send_as<'a>(
        &'a self,
        peer: &'a str,
        signer: Option<&'a KeyPair>,
        method: &'a str,
        target: &'a str,
        body: Option<Vec<u8>>,
    ) -> Sending<'a> {
        Box::pin(async move {
            let (router, base) = {
                let mut net = self.net.lock().unwrap();
                let loss = net.loss;
                let lost =
                    net.down.contains(peer) || net.down.contains(&self.own) || net.rng.chance(loss);
                if !lost {
                    net.catch_ups += 1;
                }
                let base = net.urls.get(peer).cloned().unwrap_or_default();
                match net.routers.get(peer) {
                    Some(r) if !lost => (r.clone(), base),
                    _ => return Err(format!("{base}{target}: lost")),
                }
            };
            let client = match signer {
                Some(key) => Client::new(&base, key)
                    .map_err(|e| e.to_string())?
                    .with_clock(self.clock.clone()),
                None => self.client.at(&base),
            };
            Ok(call(&router, &client, method, target, body).await)
        })
    }
}

struct Node {
    key: String,
    /// How it is opened again after a restart.
    config: Config,
    links: Arc<SimLinks>,
    app: Arc<crate::app::App>,
    router: Router,
    /// Signs this node's requests.
    client: Client,
    /// This node's user: identity `u{n}`, actor `p{n}`.
    user: KeyPair,
    user_client: Client,
    /// Attempts under way, by outbox row id.
    in_flight: HashMap<i64, InFlight>,
}

struct InFlight {
    attempt: u64,
    upto: u64,
    deadline: u64,
    row: Delivery,
}

#[derive(Clone)]
enum Message {
    /// A delivery, signed when it was sent; `attempt` is unique to it, and shared by its
    /// copies.
    Request {
        from: usize,
        to: usize,
        row: i64,
        attempt: u64,
        wire: Wire,
    },
    Reply {
        to: usize,
        row: i64,
        attempt: u64,
        answer: Answer,
    },
}

/// A process of the run: its chain, its parties (node indexes) and how many events it has.
struct Proc {
    id: String,
    chain: ChainId,
    parties: Vec<usize>,
    length: u64,
}

/// The scenario every process follows: one state in which any actor `p{n}` may say
/// something, as often as it likes.
fn scenario(nodes: usize) -> Value {
    let mut actors = serde_json::Map::new();
    let mut actions = serde_json::Map::new();
    let mut names = Vec::new();
    let mut transitions = Vec::new();
    for n in 0..nodes {
        actors.insert(format!("p{n}"), json!({"title": format!("party {n}")}));
        actions.insert(
            format!("say{n}"),
            json!({"title": format!("party {n} says something"), "actor": format!("p{n}")}),
        );
        names.push(format!("say{n}"));
        transitions.push(json!({"action": format!("say{n}"), "transition": "initial"}));
    }
    actions.insert("close".into(), json!({"title": "close", "actor": "p0"}));
    names.push("close".into());
    transitions.push(json!({"action": "close", "transition": ":success"}));
    json!({
        "title": "Talk",
        "actors": actors,
        "actions": actions,
        "states": {"initial": {"title": "Open", "actions": names, "transitions": transitions}},
    })
}

const SETTINGS: Settings = Settings {
    backoff: std::time::Duration::from_millis(50),
    backoff_max: std::time::Duration::from_millis(2_000),
    // Nothing may die of bad luck: a dead row would be a failure to converge.
    max_attempts: 10_000,
    timeout: std::time::Duration::from_millis(500),
    concurrency: 8,
};

/// Runs one seed; panics with the seed when the nodes do not converge.
async fn run(seed: u64, p: &Params) -> Stats {
    let tag = format!("seed {seed} ({p:?})");
    // Every node, client and event of the network runs on one virtual clock, moved a step
    // each tick.
    let start = Clock::system().now_ms() + 86_400_000;
    let clock = Clock::at(start);
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("passphrase");
    std::fs::write(&pass, "sim").unwrap();
    // Node keys first (cheap key stretching: these keystores protect nothing).
    let cheap = KdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
    let mut keys = Vec::new();
    for n in 0..p.nodes {
        let data = dir.path().join(format!("n{n}"));
        std::fs::create_dir_all(&data).unwrap();
        let (pair, _, store) = Keystore::new_ed25519(b"sim", cheap).unwrap();
        std::fs::write(data.join("node-key.json"), store.to_json()).unwrap();
        keys.push(pair);
    }
    let key_of: Vec<String> = keys.iter().map(|k| k.public_key().to_base58()).collect();
    let net = Arc::new(Mutex::new(Net {
        routers: HashMap::new(),
        urls: (0..p.nodes)
            .map(|n| (key_of[n].clone(), url_of(n)))
            .collect(),
        down: HashSet::new(),
        rng: Rng(seed ^ 0x5eed),
        loss: p.loss,
        catch_ups: 0,
    }));
    let mut nodes = Vec::new();
    for (n, pair) in keys.iter().enumerate() {
        let peers = (0..p.nodes)
            .filter(|m| *m != n)
            .map(|m| Peer {
                url: url_of(m),
                key: key_of[m].clone(),
            })
            .collect();
        let config = Config {
            data_dir: dir.path().join(format!("n{n}")),
            passphrase_file: Some(pass.clone()),
            peers,
            // The name its peers reach it by: the only one it answers to (it has no listener).
            public_url: Some(url_of(n)),
            rate_limit: 1_000_000,
            rate_burst: 1_000_000,
            ..Config::default()
        };
        let client = Client::new(&url_of(n), pair)
            .unwrap()
            .with_clock(clock.clone());
        let links = Arc::new(SimLinks {
            net: net.clone(),
            own: key_of[n].clone(),
            client: client.clone(),
            clock: clock.clone(),
        });
        let opened = crate::open(config.clone(), Some(links.clone()), None, clock.clone())
            .await
            .expect("a sim node opens");
        let (router, _) = crate::api::router(opened.app.clone());
        net.lock()
            .unwrap()
            .routers
            .insert(key_of[n].clone(), router.clone());
        let user = KeyPair::from_seed_phrase(&format!("sim user {n}"), 0);
        let user_client = Client::new(&url_of(n), &user)
            .unwrap()
            .with_clock(clock.clone());
        let identity =
            events::identity_at(&format!("u{n}"), &user.public_key().to_base58(), &key_of[n]);
        let answer = call(
            &router,
            &user_client,
            "POST",
            "/identities",
            Some(identity.to_string().into_bytes()),
        )
        .await;
        assert!(
            (200..300).contains(&answer.status),
            "{tag}: registering u{n}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        nodes.push(Node {
            key: key_of[n].clone(),
            config,
            links,
            app: opened.app,
            router,
            client,
            user,
            user_client,
            in_flight: HashMap::new(),
        });
    }
    let mut rng = Rng(seed);
    let outage_node = rng.below(p.nodes as u64) as usize;
    let mut world = World {
        tag,
        p,
        seed,
        key_of,
        net,
        clock,
        nodes,
        scenario: events::scenario(scenario(p.nodes), "accord-sim-talk"),
        outage_node,
        rng,
        procs: Vec::new(),
        queue: BinaryHeap::new(),
        messages: BTreeMap::new(),
        stats: Stats::default(),
        seq: 0,
        attempts: 0,
        reached: HashSet::new(),
        start,
        t: start,
        made: 0,
    };
    // Actions spread over this many ticks; then the network heals and drains.
    let acting = (p.actions as u64 * 2).max(200);
    let mut tick = 0u64;
    loop {
        tick += 1;
        world.t += STEP;
        world.clock.set(world.t);
        world.faults(tick, acting).await;
        if tick < acting {
            world.act(tick).await;
        }
        world.send().await;
        world.receive().await;
        world.time_out().await;
        if tick > acting && world.drained().await {
            break;
        }
        assert!(
            world.t - world.start < 3_600_000,
            "{}: not converged after an hour of virtual time",
            world.tag
        );
    }
    world.stats.catch_ups = world.net.lock().unwrap().catch_ups;
    world.converged().await;
    for node in world.nodes {
        node.app.store.close().await;
    }
    eprintln!("SEED {}: {:?}", world.seed, world.stats);
    world.stats
}

/// The virtual milliseconds a tick moves the clock.
const STEP: u64 = 5;

/// A run under way: the network, its nodes and processes, the messages in flight, the clock.
struct World<'p> {
    tag: String,
    p: &'p Params,
    seed: u64,
    /// The node the outage takes down.
    outage_node: usize,
    key_of: Vec<String>,
    net: Arc<Mutex<Net>>,
    clock: Clock,
    nodes: Vec<Node>,
    /// The scenario every process follows (its event body).
    scenario: Value,
    rng: Rng,
    procs: Vec<Proc>,
    /// Messages by arrival time, then by their number in `messages`.
    queue: BinaryHeap<Reverse<(u64, u64)>>,
    messages: BTreeMap<u64, Message>,
    stats: Stats,
    seq: u64,
    attempts: u64,
    /// Deliveries (by attempt) a copy of which reached the receiver.
    reached: HashSet<u64>,
    start: u64,
    t: u64,
    /// Responses the users made.
    made: usize,
}

impl World<'_> {
    fn is_down(&self, n: usize) -> bool {
        self.net.lock().unwrap().down.contains(&self.key_of[n])
    }

    /// Takes one node down between a quarter and a half of the acting ticks (and, for a
    /// restart, closes its store and opens it again); stops losing messages once the users
    /// are done.
    async fn faults(&mut self, tick: u64, acting: u64) {
        let p = self.p;
        let (from, to) = (acting / 4, acting / 2);
        let n = self.outage_node;
        if p.outage != Outage::None && tick == from {
            self.net.lock().unwrap().down.insert(self.key_of[n].clone());
            if p.outage == Outage::Restart {
                let node = &mut self.nodes[n];
                node.in_flight.clear();
                node.app.store.close().await;
            }
        }
        if p.outage != Outage::None && tick == to {
            if p.outage == Outage::Restart {
                let node = &mut self.nodes[n];
                let opened = crate::open(
                    node.config.clone(),
                    Some(node.links.clone()),
                    None,
                    self.clock.clone(),
                )
                .await
                .unwrap_or_else(|e| panic!("{}: reopening n{n}: {e}", self.tag));
                let (router, _) = crate::api::router(opened.app.clone());
                node.app = opened.app;
                node.router = router.clone();
                self.net
                    .lock()
                    .unwrap()
                    .routers
                    .insert(node.key.clone(), router);
                self.stats.restarts += 1;
            }
            self.net.lock().unwrap().down.remove(&self.key_of[n]);
        }
        if tick == acting {
            self.net.lock().unwrap().loss = 0.0;
        }
    }

    /// Users act: start processes first, then respond where the tip is held.
    async fn act(&mut self, tick: u64) {
        let p = self.p;
        if self.procs.len() < p.processes && self.rng.chance(0.2) {
            let creator = self.rng.below(p.nodes as u64) as usize;
            if !self.is_down(creator) {
                self.start_process(creator).await;
            }
        }
        if self.made < p.actions && !self.procs.is_empty() && self.rng.chance(0.5) {
            self.respond(tick).await;
        }
    }

    /// A user of node `creator` starts a process with some of the other nodes' users.
    async fn start_process(&mut self, creator: usize) {
        let p = self.p;
        let mut parties = vec![creator];
        for n in 0..p.nodes {
            if n != creator && self.rng.chance(0.6) {
                parties.push(n);
            }
        }
        if parties.len() == 1 {
            parties.push((creator + 1) % p.nodes);
        }
        parties.sort_unstable();
        let pid = format!("sim-{}-{}", self.seed, self.procs.len());
        let mut bodies = vec![self.scenario.clone()];
        let mut bindings = Vec::new();
        for (n, node) in self.nodes.iter().enumerate() {
            let id = format!("u{n}");
            let key = node.user.public_key().to_base58();
            bodies.push(if parties.contains(&n) {
                events::identity_at(&id, &key, &node.key)
            } else {
                events::identity(&id, &key, None)
            });
            bindings.push((format!("p{n}"), id));
        }
        bodies.push(events::process(&pid, "accord-sim-talk", &bindings));
        let signer = &self.nodes[creator].user;
        let signed: Vec<(&Value, &KeyPair)> = bodies.iter().map(|b| (b, signer)).collect();
        let chain = events::new_chain(
            signer,
            b'T',
            &Nonce::from_text(&pid),
            &signed,
            self.clock.now_ms(),
        )
        .unwrap();
        let answer = call(
            &self.nodes[creator].router,
            &self.nodes[creator].user_client,
            "POST",
            "/event-chains",
            Some(chain.to_json().into_bytes()),
        )
        .await;
        assert_eq!(
            answer.status,
            200,
            "{}: starting {pid} at n{creator}: {}",
            self.tag,
            String::from_utf8_lossy(&answer.body)
        );
        self.procs.push(Proc {
            id: pid,
            chain: *chain.id(),
            parties,
            length: bodies.len() as u64,
        });
    }

    /// A user of a node that holds a process's tip says something on it.
    async fn respond(&mut self, tick: u64) {
        let which = self.rng.below(self.procs.len() as u64) as usize;
        let chain = self.procs[which].chain.to_base58();
        let mut holders = Vec::new();
        for &n in &self.procs[which].parties {
            if self.is_down(n) {
                continue;
            }
            if let Some(h) = self.nodes[n].app.store.head(&chain).await.unwrap()
                && h.length == self.procs[which].length
            {
                holders.push((n, h));
            }
        }
        if holders.is_empty() {
            return;
        }
        let (n, head) = holders.swap_remove(self.rng.below(holders.len() as u64) as usize);
        let proc = &mut self.procs[which];
        let body = events::response(
            &format!("say{n}"),
            None,
            json!({"seq": self.made, "tick": tick}),
        );
        let partial = events::next_event(
            &proc.chain,
            head.tip,
            head.state,
            &body,
            &self.nodes[n].user,
            accord_chain::time::stamp(self.clock.now_ms(), head.timestamp),
        )
        .unwrap();
        let answer = call(
            &self.nodes[n].router,
            &self.nodes[n].user_client,
            "POST",
            &format!("/processes/{}/responses", proc.id),
            Some(partial.to_json().into_bytes()),
        )
        .await;
        assert_eq!(
            answer.status,
            200,
            "{}: u{n} on {}: {}",
            self.tag,
            proc.id,
            String::from_utf8_lossy(&answer.body)
        );
        proc.length += 1;
        self.made += 1;
        self.stats.actions += 1;
    }

    /// Each node that is up claims its due rows and sends them.
    async fn send(&mut self) {
        let t = self.t;
        for n in 0..self.p.nodes {
            if self.is_down(n) {
                continue;
            }
            let lease = t + 2 * SETTINGS.timeout.as_millis() as u64 + 5_000;
            let free = SETTINGS
                .concurrency
                .saturating_sub(self.nodes[n].in_flight.len()) as u32;
            if free == 0 {
                continue;
            }
            let claimed = self.nodes[n]
                .app
                .store
                .claim_deliveries(t, free, lease, &[])
                .await
                .unwrap();
            for row in claimed {
                let store = &*self.nodes[n].app.store;
                let Some((json, upto)) = deliver::partial_chain(store, &row).await.unwrap() else {
                    let length = row.sent;
                    store
                        .finish_delivery(&row, &Delivered::Reached { length }, t)
                        .await
                        .unwrap();
                    continue;
                };
                let to = self
                    .key_of
                    .iter()
                    .position(|k| *k == row.peer)
                    .unwrap_or_else(|| {
                        panic!("{}: a row for an unknown node {}", self.tag, row.peer)
                    });
                self.attempts += 1;
                let message = Message::Request {
                    from: n,
                    to,
                    row: row.id,
                    attempt: self.attempts,
                    wire: sign(
                        &self.nodes[n].client.at(&url_of(to)),
                        "POST",
                        "/event-chains",
                        Some(json.into_bytes()),
                    ),
                };
                self.stats.sent += 1;
                self.post(message);
                let deadline = t + SETTINGS.timeout.as_millis() as u64;
                let attempt = self.attempts;
                self.nodes[n].in_flight.insert(
                    row.id,
                    InFlight {
                        attempt,
                        upto,
                        deadline,
                        row,
                    },
                );
            }
        }
    }

    /// Messages that have arrived: requests are answered by their receiver, answers judged by
    /// their sender.
    async fn receive(&mut self) {
        while let Some(Reverse((at, id))) = self.queue.peek().copied() {
            if at > self.t {
                break;
            }
            self.queue.pop();
            let message = self.messages.remove(&id).expect("a queued message");
            match message {
                Message::Request {
                    from,
                    to,
                    row,
                    attempt,
                    wire,
                } => self.answer(from, to, row, attempt, wire).await,
                Message::Reply {
                    to,
                    row,
                    attempt,
                    answer,
                } => self.judge(to, row, attempt, answer).await,
            }
        }
    }

    /// Node `to` answers a delivery from node `from`; the answer goes back over the network.
    async fn answer(&mut self, from: usize, to: usize, row: i64, attempt: u64, wire: Wire) {
        if self.is_down(to) {
            self.stats.lost += 1;
            return;
        }
        let answer = deliver(&self.nodes[to].router, wire).await;
        if !self.reached.insert(attempt) {
            // A copy of a request that reached the receiver already: it adds nothing (the
            // events are held), and nobody hears the answer.
            let added = serde_json::from_slice::<serde_json::Value>(&answer.body)
                .ok()
                .and_then(|v| v.get("added").and_then(|a| a.as_array()).map(Vec::len));
            if answer.status == 200 && added == Some(0) {
                self.stats.copies_added_nothing += 1;
            }
            return;
        }
        self.post(Message::Reply {
            to: from,
            row,
            attempt,
            answer,
        });
    }

    /// Node `to` hears the answer to its attempt `attempt` on outbox row `row`.
    async fn judge(&mut self, to: usize, row: i64, attempt: u64, answer: Answer) {
        if self.is_down(to) {
            self.stats.lost += 1;
            return;
        }
        let Some(flight) = self.nodes[to].in_flight.get(&row) else {
            return;
        };
        if flight.attempt != attempt {
            return;
        }
        let flight = self.nodes[to].in_flight.remove(&row).unwrap();
        if answer.status == 409
            && crate::sync::PeerAnswer::read(&answer.body)
                .is_some_and(|a| a.kind == crate::sync::PeerProblem::MissingEvents)
        {
            self.stats.missing_events += 1;
        }
        let outcome = deliver::judge(
            &SETTINGS,
            &flight.row,
            flight.upto,
            &format!("node n{to}'s peer"),
            Ok(answer),
            self.t,
            self.rng.unit(),
        );
        if let Delivered::Dead { error } = &outcome {
            panic!("{}: a delivery died: {error}", self.tag);
        }
        self.nodes[to]
            .app
            .store
            .finish_delivery(&flight.row, &outcome, self.t)
            .await
            .unwrap();
    }

    /// Attempts that got no answer in time.
    async fn time_out(&mut self) {
        let t = self.t;
        for node in &mut self.nodes {
            // In row order, so that a seed draws its jitters in the same order every run.
            let mut late: Vec<i64> = node
                .in_flight
                .iter()
                .filter(|(_, f)| f.deadline <= t)
                .map(|(id, _)| *id)
                .collect();
            late.sort_unstable();
            for id in late {
                let flight = node.in_flight.remove(&id).unwrap();
                self.stats.timeouts += 1;
                let outcome = deliver::judge(
                    &SETTINGS,
                    &flight.row,
                    flight.upto,
                    "a peer",
                    Err("no answer in time".into()),
                    t,
                    self.rng.unit(),
                );
                node.app
                    .store
                    .finish_delivery(&flight.row, &outcome, t)
                    .await
                    .unwrap();
            }
        }
    }

    /// Whether nothing is on its way and no node owes a delivery (none died).
    async fn drained(&self) -> bool {
        if !self.queue.is_empty() || self.nodes.iter().any(|n| !n.in_flight.is_empty()) {
            return false;
        }
        let mut pending = 0;
        for node in &self.nodes {
            for (_, state, count) in node.app.store.outbox_counts().await.unwrap() {
                if state == accord_store::RowState::Pending {
                    pending += count;
                }
                assert_ne!(
                    state,
                    accord_store::RowState::Dead,
                    "{}: a dead delivery",
                    self.tag
                );
            }
        }
        pending == 0
    }

    /// Every party holds every event, the same; projections are byte-identical; no one else
    /// holds the chain.
    async fn converged(&self) {
        let tag = &self.tag;
        for proc in &self.procs {
            let chain = proc.chain.to_base58();
            let mut first: Option<(Vec<String>, Vec<u8>)> = None;
            for (n, node) in self.nodes.iter().enumerate() {
                let head = node.app.store.head(&chain).await.unwrap();
                if !proc.parties.contains(&n) {
                    assert!(head.is_none(), "{tag}: n{n} holds {chain}, not a party");
                    continue;
                }
                let head = head.unwrap_or_else(|| panic!("{tag}: party n{n} lacks {}", proc.id));
                assert_eq!(
                    head.length, proc.length,
                    "{tag}: n{n}'s length of {}",
                    proc.id
                );
                let events: Vec<String> = node
                    .app
                    .store
                    .events(&chain, 0, u32::try_from(proc.length).unwrap())
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|e| e.json)
                    .collect();
                let projection = call(
                    &node.router,
                    &node.user_client,
                    "GET",
                    &format!("/processes/{}?chain={chain}", proc.id),
                    None,
                )
                .await;
                assert_eq!(
                    projection.status, 200,
                    "{tag}: n{n}'s projection of {}",
                    proc.id
                );
                match &first {
                    None => first = Some((events, projection.body)),
                    Some((e, b)) => {
                        assert!(*e == events, "{tag}: n{n}'s events of {} differ", proc.id);
                        assert!(
                            *b == projection.body,
                            "{tag}: n{n}'s projection of {} differs",
                            proc.id
                        );
                    }
                }
            }
        }
    }

    /// Puts a message on the network: lost, or arriving after a delay, perhaps twice.
    fn post(&mut self, message: Message) {
        let mut net = self.net.lock().unwrap();
        let loss = net.loss;
        if net.rng.chance(loss) {
            self.stats.lost += 1;
            return;
        }
        let copies = if net.rng.chance(self.p.duplication) {
            2
        } else {
            1
        };
        if copies == 2 {
            self.stats.duplicated += 1;
        }
        for _ in 0..copies {
            let at = self.t + 1 + net.rng.below(self.p.max_delay);
            self.seq += 1;
            self.messages.insert(self.seq, message.clone());
            self.queue.push(Reverse((at, self.seq)));
        }
    }
}

/// Seeds to run: `ACCORD_SIM_SEEDS` (a count) or the default.
fn seeds(default: u64) -> u64 {
    std::env::var("ACCORD_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "current_thread")]
async fn nodes_converge_over_a_lossy_duplicating_reordering_network() {
    let mut total = Stats::default();
    for seed in 0..seeds(24) {
        let p = Params {
            nodes: 3 + (seed / 3 % 3) as usize,
            processes: 4,
            actions: 40,
            loss: 0.2,
            duplication: 0.2,
            max_delay: 300,
            outage: [Outage::None, Outage::Cut, Outage::Restart][(seed % 3) as usize],
        };
        total += run(seed, &p).await;
    }
    eprintln!("simulation: {total:?}");
    // Every path the simulation is for ran somewhere.
    assert!(
        total.lost > 0
            && total.duplicated > 0
            && total.copies_added_nothing > 0
            && total.timeouts > 0
            && total.actions > 0
            && total.restarts > 0,
        "{total:?}"
    );
}
