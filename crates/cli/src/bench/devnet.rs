//! `accord bench devnet`: biomass actions across a devnet of three organisations' nodes on
//! loopback, in this process: completed actions per second, and how long until an action is
//! applied on all three nodes; beside one node alone (`bench node`'s live mode, the same
//! clients) and the ID-Service paper's figure.
//!
//! The devnet is the one `accord devnet` starts ([`crate::devnet::start`]), with the per-key
//! rate limit off. Each biomass actor is an identity naming one of the three nodes, round
//! robin, so every process has parties at all three, and each action is submitted at the node
//! of the actor that takes it, as that actor's user would. The node commits it and delivers it
//! to the other two (its outbox). Per action, a client signs the event and the request, sends
//! it, and at the same time long-polls the other two nodes' head of the chain
//! (`GET /event-chains/{id}/head?min_length=N&wait_ms=T`); the action's latency runs until the
//! last of the three holds it, and the next action on that process starts only then.
//! Processes are started, and reach every node, before the clock; each client first walks one
//! process through every step untimed (a warm-up). At the end every chain's head must be the
//! same on all three nodes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use accord_chain::Nonce;
use accord_crypto::KeyPair;
use accord_node::client::Client;
use accord_node::events;
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::Outcome;
use crate::bench::node::{
    BIOMASS, Mode, PAPER_PER_SECOND, Step, Walk, b32, key, response_event, row_line, steps, summary,
};

#[derive(Args)]
pub struct DevnetBenchArgs {
    /// Concurrent clients to measure with (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = vec![1, 16])]
    clients: Vec<usize>,
    /// Actions (responses) per measurement.
    #[arg(long, default_value_t = 10_000)]
    actions: usize,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
}

/// Organisations in the devnet.
const NODES: usize = 3;
/// How long a client long-polls a node for an action (the node's cap).
const WAIT_MS: u64 = accord_node::api::MAX_HEAD_WAIT_MS;
/// Processes each client walks through every step before the clock runs.
const WARM_UP: usize = 1;

/// The devnet as the clients see it.
struct Net {
    /// Each actor's node (an index into the nodes).
    home: HashMap<String, usize>,
    /// Each actor's key, and a client of its node signing with it.
    actors: HashMap<String, (KeyPair, Client)>,
    /// For each node, a client of an actor at home there: a party to every process's chain,
    /// so it may read their heads.
    readers: Vec<Client>,
    /// Each node's key.
    node_keys: Vec<String>,
    /// The actors, in the scenario's order; the first starts every process.
    names: Vec<String>,
    scenario: Value,
    sid: String,
}

impl Net {
    /// Starts a process at its creator's node, and waits until every node holds it.
    async fn start(&self, pid: String) -> Result<Walk> {
        let creator = &self.names[0];
        let (creator_key, at_home) = &self.actors[creator];
        let mut bodies = vec![events::scenario(self.scenario.clone(), &self.sid)];
        for a in &self.names {
            bodies.push(events::identity_at(
                &format!("{a}-identity"),
                &key(a).public_key().to_base58(),
                &self.node_keys[self.home[a]],
            ));
        }
        let bindings: Vec<(String, String)> = self
            .names
            .iter()
            .map(|a| (a.clone(), format!("{a}-identity")))
            .collect();
        bodies.push(events::process(&pid, &self.sid, &bindings));
        let signed: Vec<(&Value, &KeyPair)> = bodies.iter().map(|b| (b, creator_key)).collect();
        let chain = events::new_chain(
            creator_key,
            b'T',
            &Nonce::from_text(&pid),
            &signed,
            crate::bench::node::wall_ms(),
        )
        .map_err(|e| anyhow!(e))?;
        let out = at_home
            .post("/event-chains", chain.to_json())
            .await
            .with_context(|| format!("starting {pid}"))?;
        let walk = Walk {
            pid,
            chain: *chain.id(),
            tip: b32(&out, "tip")?,
            state: b32(&out, "state")?,
            length: out["length"]
                .as_u64()
                .context("the node's answer has no length")?,
        };
        for node in 0..NODES {
            self.arrived(node, &walk).await?;
        }
        Ok(walk)
    }

    /// Waits until `node` holds `walk`'s chain as far as the walk has gone (a chain new to a
    /// node is not there until its first delivery: 404 until then).
    async fn arrived(&self, node: usize, walk: &Walk) -> Result<()> {
        let id = walk.chain.to_base58();
        let path = format!(
            "/event-chains/{id}/head?min_length={}&wait_ms={WAIT_MS}",
            walk.length
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.readers[node].get(&path).await {
                Ok(head) if head["length"].as_u64() >= Some(walk.length) => return Ok(()),
                Ok(_) => {}
                Err(e) if e.status() == Some(404) => {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                Err(e) => return Err(anyhow!("{}: node {node}: {e}", walk.pid)),
            }
            if Instant::now() > deadline {
                bail!("{}: node {node} did not get the process in 60 s", walk.pid);
            }
        }
    }

    /// One action, signed and sent at its actor's node while the other two nodes are
    /// long-polled for it: the time until all three hold it.
    async fn act(&self, walk: &mut Walk, step: &Step) -> Result<Duration> {
        let home = self.home[&step.actor];
        let (signer, client) = &self.actors[&step.actor];
        let t = Instant::now();
        let partial = response_event(walk, step, walk.tip, walk.state, signer)?;
        let want = walk.length + 1;
        let path = format!(
            "/event-chains/{}/head?min_length={want}&wait_ms={WAIT_MS}",
            walk.chain.to_base58()
        );
        let others: Vec<usize> = (0..NODES).filter(|j| *j != home).collect();
        let target = format!("/processes/{}/responses", walk.pid);
        let (sent, first, second) = tokio::join!(
            client.post(&target, partial.to_json()),
            self.readers[others[0]].get(&path),
            self.readers[others[1]].get(&path),
        );
        let elapsed = t.elapsed();
        let what = || format!("{} {}", walk.pid, step.action);
        let sent = sent.map_err(|e| anyhow!("{}: {e}", what()))?;
        let tip = b32(&sent, "tip")?;
        if sent["length"].as_u64() != Some(want) {
            bail!(
                "{}: the node's chain is not one event longer: {sent}",
                what()
            );
        }
        for (node, head) in [(others[0], first), (others[1], second)] {
            let head = head.map_err(|e| anyhow!("{}: node {node}: {e}", what()))?;
            if head["length"].as_u64() != Some(want) || b32(&head, "tip")? != tip {
                bail!(
                    "{}: node {node} does not hold the event after {WAIT_MS} ms: {head}",
                    what()
                );
            }
        }
        walk.tip = tip;
        walk.state = b32(&sent, "state")?;
        walk.length = want;
        Ok(elapsed)
    }

    /// Fails unless every node holds each chain with the same head as the walk.
    async fn same_everywhere(&self, walks: &[Walk]) -> Result<()> {
        for walk in walks {
            let id = walk.chain.to_base58();
            for (node, reader) in self.readers.iter().enumerate() {
                let head = reader
                    .get(&format!("/event-chains/{id}/head"))
                    .await
                    .map_err(|e| anyhow!("{} at node {node}: {e}", walk.pid))?;
                let same = head["length"].as_u64() == Some(walk.length)
                    && b32(&head, "tip")? == walk.tip
                    && b32(&head, "state")? == walk.state;
                if !same {
                    bail!(
                        "{}: the chains differ: node {node} holds {head}, the process's walk ended at length {} tip {}",
                        walk.pid,
                        walk.length,
                        accord_crypto::base58::encode(&walk.tip)
                    );
                }
            }
        }
        Ok(())
    }
}

/// What a client did: each action's latency, and its processes as they ended.
type Walked = (Vec<Duration>, Vec<Walk>);

/// A client: its processes walked through the steps in order, `per_client` actions in all
/// (`None`: every step of every process). The latency of each action, and the walks.
async fn walk(
    net: Arc<Net>,
    steps: Arc<Vec<Step>>,
    mut mine: Vec<Walk>,
    per_client: Option<usize>,
) -> Result<Walked> {
    let mut latencies = Vec::new();
    'outer: for w in &mut mine {
        for step in steps.iter() {
            if Some(latencies.len()) == per_client {
                break 'outer;
            }
            latencies.push(net.act(w, step).await?);
        }
    }
    Ok((latencies, mine))
}

/// Joins the clients' tasks.
async fn join(tasks: Vec<tokio::task::JoinHandle<Result<Walked>>>) -> Result<Walked> {
    let (mut latencies, mut walks) = (Vec::new(), Vec::new());
    for t in tasks {
        let (l, w) = t.await.map_err(|e| anyhow!("client task: {e}"))??;
        latencies.extend(l);
        walks.extend(w);
    }
    Ok((latencies, walks))
}

/// The devnet's rows, one per client count, and how many chains were compared.
fn measure_devnet(clients: &[usize], actions: usize) -> Result<(Vec<Value>, usize)> {
    let steps = Arc::new(steps()?);
    let dir = tempfile::tempdir().context("cannot make a temporary directory")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let devnet = crate::devnet::start(dir.path(), NODES, 0, |c| accord_node::Config {
            rate_limit: 0,
            ..c
        })
        .await?;
        let scenario: Value = serde_json::from_str(BIOMASS)?;
        let sid = scenario["id"].as_str().context("scenario id")?.to_string();
        let names: Vec<String> = scenario["actors"]
            .as_object()
            .context("actors")?
            .keys()
            .cloned()
            .collect();
        // Each actor at one organisation's node, round robin, registered there.
        let home: HashMap<String, usize> = names
            .iter()
            .enumerate()
            .map(|(i, a)| (a.clone(), i % NODES))
            .collect();
        let node_keys: Vec<String> = devnet.nodes.iter().map(|n| n.node_key.clone()).collect();
        let mut actors = HashMap::new();
        for a in &names {
            let url = devnet.url(home[a]);
            let client = Client::new(&url, &key(a))?;
            let identity = events::identity_at(
                &format!("{a}-identity"),
                &key(a).public_key().to_base58(),
                &node_keys[home[a]],
            );
            client
                .post("/identities", identity.to_string())
                .await
                .with_context(|| format!("registering {a} at {url}"))?;
            actors.insert(a.clone(), (key(a), client));
        }
        let mut readers = Vec::new();
        for node in 0..NODES {
            let a = names
                .iter()
                .find(|a| home[*a] == node)
                .context("an actor at every node")?;
            readers.push(Client::new(&devnet.url(node), &key(a))?);
        }
        let net = Arc::new(Net {
            home,
            actors,
            readers,
            node_keys,
            names,
            scenario,
            sid,
        });
        let mut rows = Vec::new();
        let mut checked = 0;
        for (round, &clients) in clients.iter().enumerate() {
            let per_client = actions.div_ceil(clients);
            let processes = per_client.div_ceil(steps.len());
            // Start every process, and the warm-up's, at once per client (not timed).
            let mut starting = Vec::new();
            for c in 0..clients {
                let net = net.clone();
                starting.push(tokio::spawn(async move {
                    let mut warm = Vec::new();
                    for p in 0..WARM_UP {
                        warm.push(net.start(format!("devnet-{round}-{c}-warm-{p}")).await?);
                    }
                    let mut timed = Vec::new();
                    for p in 0..processes {
                        timed.push(net.start(format!("devnet-{round}-{c}-{p}")).await?);
                    }
                    anyhow::Ok((warm, timed))
                }));
            }
            let mut warm = Vec::new();
            let mut timed = Vec::new();
            for s in starting {
                let (w, t) = s.await.map_err(|e| anyhow!("starting processes: {e}"))??;
                warm.push(w);
                timed.push(t);
            }
            // Warm-up: every client walks its first processes through every step.
            let tasks = warm
                .into_iter()
                .map(|mine| tokio::spawn(walk(net.clone(), steps.clone(), mine, None)))
                .collect();
            let (_, mut walked) = join(tasks).await?;
            // The timed part.
            let started = Instant::now();
            let tasks = timed
                .into_iter()
                .map(|mine| tokio::spawn(walk(net.clone(), steps.clone(), mine, Some(per_client))))
                .collect();
            let (latencies, timed) = join(tasks).await?;
            let elapsed = started.elapsed();
            walked.extend(timed);
            net.same_everywhere(&walked).await?;
            checked += walked.len();
            let mut row = summary(latencies, elapsed);
            row["nodes"] = NODES.into();
            row["clients"] = clients.into();
            rows.push(row);
        }
        devnet.stop().await;
        anyhow::Ok((rows, checked))
    })
}

pub fn run(args: DevnetBenchArgs) -> Result<Outcome> {
    if args.clients.is_empty() || args.clients.contains(&0) {
        bail!("--clients needs at least one count, each above 0");
    }
    let (devnet, checked) = measure_devnet(&args.clients, args.actions)?;
    let single = crate::bench::node::measure(None, &[Mode::Live], &args.clients, args.actions)?;
    if args.json {
        outln!(
            "{}",
            json!({
                "database": "sqlite",
                "nodes": NODES,
                "devnet": devnet,
                "one_node": single.runs,
                "chains_identical_on_every_node": checked,
                "paper_actions_per_second": PAPER_PER_SECOND,
                "paper_nodes": "1–3",
            })
        );
    } else {
        outln!(
            "accord bench devnet: biomass responses across {NODES} nodes on loopback (SQLite each), each submitted at its actor's node and timed until all {NODES} hold it"
        );
        for r in &devnet {
            outln!(
                "  {NODES} nodes, {:>2} client(s): {}",
                r["clients"],
                row_line(r)
            );
        }
        for r in &single.runs {
            outln!(
                "  one node,  {:>2} client(s): {}",
                r["clients"],
                row_line(r)
            );
        }
        outln!("  every chain identical on all {NODES} nodes: {checked} chains, heads compared");
        outln!(
            "  the ID-Service paper: 180–200 requests a minute = {PAPER_PER_SECOND:.1}/s, with 1–3 nodes"
        );
    }
    Ok(Outcome::Success)
}
