//! `accord bench node`: actions per second and latency through one node's HTTP API, for the
//! biomass scenario, sequential and with concurrent clients, beside the raw signature floor and
//! the ID-Service paper's figure.
//!
//! The node runs in this process on loopback (its own runtime threads), with a fresh SQLite
//! file (or the PostgreSQL database given). Processes are started before the clock runs; the
//! timed part is responses only: each client walks its processes through the biomass steps,
//! one signed request per action, and measures each request's latency. In `live` mode a client
//! signs each event and request as it goes, sharing the cores with the node; in `prepared` mode
//! everything is chained and signed client-side before the clock, and the clients only send.

use std::sync::Arc;
use std::time::{Duration, Instant};

use accord_chain::chain::next_state;
use accord_chain::{ChainId, Nonce};
use accord_crypto::{KeyPair, base58};
use accord_node::client::Client;
use accord_node::events;
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::Outcome;

#[derive(Args)]
pub struct NodeBenchArgs {
    /// Concurrent clients to measure with (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = vec![1, 16])]
    clients: Vec<usize>,
    /// Actions (responses) per measurement.
    #[arg(long, default_value_t = 20_000)]
    actions: usize,
    /// The database: a PostgreSQL URL (an empty database), or nothing for a fresh SQLite file.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// How the clients make their requests (comma-separated): `live` signs each event and each
    /// request just before sending it, on the same cores as the node; `prepared` signs them all
    /// before the clock runs (the events are chained client-side), so the clients only send,
    /// as a load generator does.
    #[arg(long, value_delimiter = ',', default_values_t = vec![Mode::Live, Mode::Prepared])]
    modes: Vec<Mode>,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
}

/// How clients make their requests.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Sign as they go.
    Live,
    /// Signed before the clock runs.
    Prepared,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::Prepared => "prepared",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

pub(crate) const BIOMASS: &str = include_str!("../../../../examples/scenarios/biomass.json");
const STEPS: &str = include_str!("../../../../examples/steps/biomass.yaml");
/// The ID-Service paper's throughput for the same kind of request: 180–200 a minute.
pub(crate) const PAPER_PER_SECOND: f64 = 190.0 / 60.0;

/// One response of the biomass walk.
pub(crate) struct Step {
    /// Who takes it.
    pub(crate) actor: String,
    /// The action.
    pub(crate) action: String,
    /// The response key, when not the default.
    pub(crate) response: Option<String>,
    /// The response's data.
    pub(crate) data: Value,
}

/// The biomass steps that the process accepts (the refused one left out), in order.
pub(crate) fn steps() -> Result<Vec<Step>> {
    let v = accord_scenario::doc::parse(STEPS, accord_scenario::Format::Yaml)
        .map_err(|e| anyhow!("biomass steps: {e}"))?;
    let mut out = Vec::new();
    for s in v.as_array().context("steps are a list")? {
        if s.get("reject").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        out.push(Step {
            actor: s["actor"].as_str().context("actor")?.to_string(),
            action: s["action"].as_str().context("action")?.to_string(),
            response: s.get("response").and_then(Value::as_str).map(String::from),
            data: s.get("data").cloned().unwrap_or(Value::Null),
        });
    }
    Ok(out)
}

/// An actor's key.
pub(crate) fn key(actor: &str) -> KeyPair {
    KeyPair::from_seed_phrase(&format!("accord bench node: {actor}"), 0)
}

/// One process a client drives: its chain and where the chain is.
pub(crate) struct Walk {
    /// The process id.
    pub(crate) pid: String,
    /// Its chain.
    pub(crate) chain: ChainId,
    /// The chain's tip.
    pub(crate) tip: [u8; 32],
    /// The chain's state.
    pub(crate) state: [u8; 32],
    /// Events on the chain.
    pub(crate) length: u64,
}

/// A 32-byte base58 field of a node's answer.
pub(crate) fn b32(v: &Value, field: &str) -> Result<[u8; 32]> {
    v[field]
        .as_str()
        .and_then(|s| base58::decode(s).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow!("the node's answer has no `{field}`: {v}"))
}

/// The `p` quantile (0–1) of sorted latencies.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// ed25519 verifications per second on one core: an action costs two (the request's signature
/// and the event's).
fn verify_floor() -> f64 {
    let k = key("floor");
    let message = [7u8; 200];
    let signature = k.sign(&message);
    let public = *k.public_key();
    let n = 20_000;
    let t = Instant::now();
    let mut ok = 0;
    for _ in 0..n {
        ok += usize::from(public.verify(&message, &signature));
    }
    assert_eq!(ok, n);
    n as f64 / t.elapsed().as_secs_f64()
}

/// A measurement's row: actions, seconds, actions per second, p50, p99 and max latency (ms).
pub(crate) fn summary(mut latencies: Vec<Duration>, elapsed: Duration) -> Value {
    latencies.sort_unstable();
    let actions = latencies.len();
    json!({
        "actions": actions,
        "seconds": elapsed.as_secs_f64(),
        "actions_per_second": actions as f64 / elapsed.as_secs_f64(),
        "p50_ms": percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        "p99_ms": percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        "max_ms": latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    })
}

/// A row as a line of the table: `actions in s = actions/s; latency p50, p99, max`.
pub(crate) fn row_line(r: &Value) -> String {
    format!(
        "{} actions in {:.2} s = {:.0} actions/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms",
        r["actions"],
        r["seconds"].as_f64().unwrap_or(0.0),
        r["actions_per_second"].as_f64().unwrap_or(0.0),
        r["p50_ms"].as_f64().unwrap_or(0.0),
        r["p99_ms"].as_f64().unwrap_or(0.0),
        r["max_ms"].as_f64().unwrap_or(0.0),
    )
}

type ActorClients = Arc<std::collections::HashMap<String, (KeyPair, Client)>>;

/// One request signed before the clock runs, and the tip the node must answer with.
struct Prepared {
    actor: String,
    label: String,
    request: reqwest::Request,
    tip: [u8; 32],
}

/// A response a client sends: `step` on `walk`'s chain after `tip`, signed, stamped with the
/// wall clock (a node takes events from its users only within its clock skew; every event of
/// a walk is made here, later than the one before it).
pub(crate) fn response_event(
    walk: &Walk,
    step: &Step,
    tip: [u8; 32],
    state: [u8; 32],
    signer: &KeyPair,
) -> Result<accord_chain::Chain> {
    let body = events::response(&step.action, step.response.as_deref(), step.data.clone());
    events::next_event(&walk.chain, tip, state, &body, signer, wall_ms()).map_err(|e| anyhow!(e))
}

/// The wall clock, in milliseconds since the epoch.
pub(crate) fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A client's processes walked through the steps client-side: each event on the one before it,
/// each request signed.
fn prepare(
    walks: &[Walk],
    steps: &[Step],
    clients: &ActorClients,
    per_client: usize,
) -> Result<Vec<Prepared>> {
    let mut out = Vec::with_capacity(per_client);
    'outer: for walk in walks {
        let (mut tip, mut state) = (walk.tip, walk.state);
        for step in steps {
            if out.len() == per_client {
                break 'outer;
            }
            let (signer, client) = &clients[&step.actor];
            let partial = response_event(walk, step, tip, state, signer)?;
            let hash = partial.events[0]
                .hash
                .context("a signed event has its hash")?;
            state = next_state(&state, &hash);
            tip = hash;
            let request = client.prepare(
                "POST",
                &format!("/processes/{}/responses", walk.pid),
                Some(("application/json", partial.to_json().into_bytes())),
            )?;
            out.push(Prepared {
                actor: step.actor.clone(),
                label: format!("{} {}", walk.pid, step.action),
                request,
                tip,
            });
        }
    }
    Ok(out)
}

/// Sends prepared requests one after another; the latency of each.
async fn send_prepared(mine: Vec<Prepared>, clients: ActorClients) -> Result<Vec<Duration>> {
    let mut latencies = Vec::with_capacity(mine.len());
    for p in mine {
        let client = &clients[&p.actor].1;
        let t = Instant::now();
        let out = client
            .call_prepared(p.request)
            .await
            .map_err(|e| anyhow!("{}: {e}", p.label))?;
        latencies.push(t.elapsed());
        if b32(&out, "tip")? != p.tip {
            bail!("{}: the node's tip is not the event sent: {out}", p.label);
        }
    }
    Ok(latencies)
}

/// Walks processes through the steps, signing each event and request just before sending it.
async fn live(
    mine: Vec<Walk>,
    steps: Arc<Vec<Step>>,
    clients: ActorClients,
    per_client: usize,
) -> Result<Vec<Duration>> {
    let mut latencies = Vec::with_capacity(per_client);
    let mut done = 0;
    'outer: for mut walk in mine {
        for step in steps.iter() {
            if done == per_client {
                break 'outer;
            }
            let (signer, client) = &clients[&step.actor];
            let t = Instant::now();
            let partial = response_event(&walk, step, walk.tip, walk.state, signer)?;
            let out = client
                .post(
                    &format!("/processes/{}/responses", walk.pid),
                    partial.to_json(),
                )
                .await
                .map_err(|e| anyhow!("{} {}: {e}", walk.pid, step.action))?;
            latencies.push(t.elapsed());
            walk.tip = b32(&out, "tip")?;
            walk.state = b32(&out, "state")?;
            walk.length = out["length"].as_u64().unwrap_or(walk.length + 1);
            done += 1;
        }
    }
    Ok(latencies)
}

/// One node's rows, for each mode and each client count.
pub(crate) struct Measured {
    /// One row per mode and client count ([`summary`]'s fields, `mode` and `clients`).
    pub(crate) runs: Vec<Value>,
    /// Submissions per storage transaction, on average.
    pub(crate) mean_batch: f64,
}

/// Starts a node in this process (a fresh SQLite file in a temporary directory, or the
/// PostgreSQL `database`), registers the biomass actors, and measures each mode with each
/// client count, `actions` responses each. `bench devnet` shows its live rows beside its own.
pub(crate) fn measure(
    database: Option<&str>,
    modes: &[Mode],
    clients: &[usize],
    actions: usize,
) -> Result<Measured> {
    let steps = Arc::new(steps()?);
    let dir = tempfile::tempdir().context("cannot make a temporary directory")?;
    std::fs::write(dir.path().join("passphrase"), "accord bench node")?;
    let config = accord_node::Config {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse().expect("a literal address"),
        passphrase_file: Some(dir.path().join("passphrase")),
        database: database.map(String::from),
        rate_limit: 0,
        ..accord_node::Config::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (runs, metrics) = runtime.block_on(async {
        let node = accord_node::start(config).await?;
        let url = format!("http://{}", node.addr);
        let scenario: Value = serde_json::from_str(BIOMASS)?;
        let sid = scenario["id"].as_str().context("scenario id")?.to_string();
        let actors: Vec<String> = scenario["actors"]
            .as_object()
            .context("actors")?
            .keys()
            .cloned()
            .collect();
        for a in &actors {
            let c = Client::new(&url, &key(a))?;
            let pk = key(a).public_key().to_base58();
            c.post(
                "/identities",
                events::identity(&format!("{a}-identity"), &pk, None).to_string(),
            )
            .await?;
        }
        let mut results = Vec::new();
        let rounds = modes
            .iter()
            .flat_map(|&m| clients.iter().map(move |&c| (m, c)));
        for (round, (mode, clients)) in rounds.enumerate() {
            let per_client = actions.div_ceil(clients);
            let processes = per_client.div_ceil(steps.len());
            // Start every process first (not timed).
            let creator = key(&actors[0]);
            let starter = Client::new(&url, &creator)?;
            let mut walks: Vec<Vec<Walk>> = Vec::new();
            for c in 0..clients {
                let mut mine = Vec::new();
                for p in 0..processes {
                    let pid = format!("bench-{round}-{c}-{p}");
                    let bindings: Vec<(String, String)> = actors
                        .iter()
                        .map(|a| (a.clone(), format!("{a}-identity")))
                        .collect();
                    let mut bodies = vec![events::scenario(scenario.clone(), &sid)];
                    for a in &actors {
                        bodies.push(events::identity(
                            &format!("{a}-identity"),
                            &key(a).public_key().to_base58(),
                            None,
                        ));
                    }
                    bodies.push(events::process(&pid, &sid, &bindings));
                    let signed: Vec<(&Value, &KeyPair)> =
                        bodies.iter().map(|b| (b, &creator)).collect();
                    let chain = events::new_chain(
                        &creator,
                        b'T',
                        &Nonce::from_text(&pid),
                        &signed,
                        wall_ms(),
                    )
                    .map_err(|e| anyhow!(e))?;
                    let out = starter.post("/event-chains", chain.to_json()).await?;
                    mine.push(Walk {
                        pid,
                        chain: *chain.id(),
                        tip: b32(&out, "tip")?,
                        state: b32(&out, "state")?,
                        length: out["length"].as_u64().unwrap_or_default(),
                    });
                }
                walks.push(mine);
            }
            let mut actor_clients = std::collections::HashMap::new();
            for a in &actors {
                let signer = key(a);
                let c = Client::new(&url, &signer)?;
                actor_clients.insert(a.clone(), (signer, c));
            }
            let actor_clients = Arc::new(actor_clients);
            // Prepared: every event chained and signed, every request signed, before the clock.
            let mut prepared: Vec<Vec<Prepared>> = Vec::new();
            if mode == Mode::Prepared {
                for mine in &walks {
                    prepared.push(prepare(mine, &steps, &actor_clients, per_client)?);
                }
            }
            // The timed part: responses only.
            let started = Instant::now();
            let mut tasks = Vec::new();
            match mode {
                Mode::Live => {
                    for mine in walks {
                        tasks.push(tokio::spawn(live(
                            mine,
                            steps.clone(),
                            actor_clients.clone(),
                            per_client,
                        )));
                    }
                }
                Mode::Prepared => {
                    for mine in prepared {
                        tasks.push(tokio::spawn(send_prepared(mine, actor_clients.clone())));
                    }
                }
            }
            let mut latencies = Vec::new();
            for t in tasks {
                latencies.extend(t.await.map_err(|e| anyhow!("client task: {e}"))??);
            }
            let mut row = summary(latencies, started.elapsed());
            row["mode"] = mode.name().into();
            row["clients"] = clients.into();
            results.push(row);
        }
        let metrics = reqwest::get(format!("{url}/metrics")).await.ok();
        let batches = match metrics {
            Some(m) => m.text().await.unwrap_or_default(),
            None => String::new(),
        };
        node.stop().await;
        anyhow::Ok((results, batches))
    })?;
    let batch = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("accord_pipeline_batch_size_{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    };
    let mean_batch = batch("count").max(1.0).recip() * batch("sum");
    Ok(Measured { runs, mean_batch })
}

pub fn run(args: NodeBenchArgs) -> Result<Outcome> {
    if args.clients.is_empty() || args.clients.contains(&0) {
        bail!("--clients needs at least one count, each above 0");
    }
    if args.modes.is_empty() {
        bail!("--modes needs at least one of live, prepared");
    }
    let floor = verify_floor();
    let Measured {
        runs: results,
        mean_batch,
    } = measure(
        args.database.as_deref(),
        &args.modes,
        &args.clients,
        args.actions,
    )?;
    let backend = if args.database.is_some() {
        "postgresql"
    } else {
        "sqlite"
    };
    if args.json {
        outln!(
            "{}",
            json!({
                "database": backend,
                "runs": results,
                "floor_verify_per_second_one_core": floor,
                "floor_actions_per_second_one_core": floor / 2.0,
                "paper_actions_per_second": PAPER_PER_SECOND,
                "mean_commit_batch": mean_batch,
            })
        );
    } else {
        outln!(
            "accord bench node: biomass responses through the HTTP API ({backend}, one node on loopback)"
        );
        for r in &results {
            outln!(
                "  {:<8} {:>2} client(s): {}",
                r["mode"].as_str().unwrap_or(""),
                r["clients"],
                row_line(r)
            );
        }
        outln!(
            "  floor: {:.0} ed25519 verifications/s on one core = {:.0} actions/s (two signatures each)",
            floor,
            floor / 2.0
        );
        outln!("  mean submissions per storage transaction: {mean_batch:.1}");
        outln!("  the ID-Service paper: 180–200 requests a minute = {PAPER_PER_SECOND:.1}/s");
    }
    Ok(Outcome::Success)
}
