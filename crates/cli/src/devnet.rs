//! `accord devnet`: several organisations' nodes on loopback, in one process, until Ctrl-C.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use accord_crypto::KeyPair;
use accord_crypto::keystore::{KdfParams, Keystore};
use accord_node::client::Client;
use accord_node::config::Peer;
use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::json;

use crate::Outcome;

/// The example scenarios every node of a devnet holds from the start.
const SCENARIOS: &[(&str, &str)] = &[
    (
        "biomass.json",
        include_str!("../../../examples/scenarios/biomass.json"),
    ),
    (
        "biomass-partial-delivery.json",
        include_str!("../../../examples/scenarios/biomass-partial-delivery.json"),
    ),
    (
        "document-signing.json",
        include_str!("../../../examples/scenarios/document-signing.json"),
    ),
    (
        "information-trade.json",
        include_str!("../../../examples/scenarios/information-trade.json"),
    ),
];

/// The passphrase of every keystore in a devnet: a devnet is for trying Accord, not for keys
/// that matter.
const PASSPHRASE: &str = "accord devnet";

/// Run several organisations' nodes on loopback: separate data directories and keys, each
/// node knowing the others, one user identity per organisation registered at its node, the
/// example scenarios loaded. Ctrl-C stops them. A second run on the same directory brings the
/// same network back, with what it held.
#[derive(Args)]
pub struct DevnetArgs {
    /// How many organisations (1–16).
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Where the organisations' directories go (`org1`, `org2`, …).
    #[arg(long, value_name = "DIR", default_value = "accord-devnet")]
    dir: PathBuf,
    /// The first node's port; the others take the next ones (0: any free ports).
    #[arg(long, default_value_t = 4000)]
    port: u16,
    /// Log filter (tracing's syntax).
    #[arg(
        long,
        value_name = "FILTER",
        env = "ACCORD_LOG",
        default_value = "warn"
    )]
    log: String,
    /// Print the summary as one JSON line.
    #[arg(long)]
    json: bool,
}

/// One organisation of the devnet.
struct Org {
    name: String,
    dir: PathBuf,
    user: KeyPair,
    keystore: PathBuf,
}

/// What the devnet prints about one organisation (`--json`: these names).
#[derive(serde::Serialize)]
pub(crate) struct Summary {
    organisation: String,
    url: String,
    node_key: String,
    identity: String,
    user_key: String,
    keystore: String,
    scenarios: Vec<String>,
}

/// A running devnet: each organisation's node, in order (`org1` first).
pub(crate) struct Devnet {
    /// The nodes, running.
    pub(crate) nodes: Vec<accord_node::Running>,
    /// What each organisation has (URL, keys, identity, scenarios).
    pub(crate) summary: Vec<Summary>,
    /// The file holding the keystores' passphrase.
    pub(crate) passphrase: PathBuf,
}

impl Devnet {
    /// The node of organisation `i` (from 0), as a URL.
    pub(crate) fn url(&self, i: usize) -> String {
        format!("http://{}", self.nodes[i].addr)
    }

    /// Stops every node.
    pub(crate) async fn stop(self) {
        for node in self.nodes {
            node.stop().await;
        }
    }
}

/// The organisation's user key: from its keystore, made on first run.
fn user_key(path: &Path) -> Result<KeyPair> {
    if path.exists() {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let store = Keystore::from_json(&bytes).with_context(|| path.display().to_string())?;
        let (pair, _) = store
            .open(PASSPHRASE.as_bytes())
            .with_context(|| format!("cannot open {}", path.display()))?;
        return Ok(pair);
    }
    let (pair, _, store) = Keystore::new_ed25519(PASSPHRASE.as_bytes(), KdfParams::default())?;
    std::fs::write(path, store.to_json())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(pair)
}

/// Starts a devnet of `nodes` organisations in `dir` (`org1`, `org2`, …; what is there
/// already is kept), on ports from `port` (0: any free ports): each node first alone, to make
/// its key and take its port, then all of them, each knowing the others; one user identity
/// per organisation registered at its node, naming it; the example scenarios loaded.
/// `tune` adjusts each node's configuration (a benchmark turns the rate limit off).
pub(crate) async fn start(
    dir: &Path,
    nodes: usize,
    port: u16,
    tune: impl Fn(accord_node::Config) -> accord_node::Config,
) -> Result<Devnet> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let passphrase = dir.join("passphrase");
    if !passphrase.exists() {
        std::fs::write(&passphrase, PASSPHRASE)
            .with_context(|| format!("cannot write {}", passphrase.display()))?;
    }
    let mut orgs = Vec::new();
    for n in 1..=nodes {
        let name = format!("org{n}");
        let dir = dir.join(&name);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let keystore = dir.join("user-key.json");
        let user = user_key(&keystore)?;
        orgs.push(Org {
            name,
            dir,
            user,
            keystore,
        });
    }
    let config = |org: &Org, listen: SocketAddr| {
        tune(accord_node::Config {
            data_dir: org.dir.join("data"),
            listen,
            passphrase_file: Some(passphrase.clone()),
            ..accord_node::Config::default()
        })
    };
    // First each node alone, to make its key and take its port; then all of them, each
    // knowing the others.
    let mut known = Vec::new();
    for (i, org) in orgs.iter().enumerate() {
        let port = if port == 0 { 0 } else { port + i as u16 };
        let node = accord_node::start(config(org, SocketAddr::from(([127, 0, 0, 1], port))))
            .await
            .with_context(|| format!("{}'s node", org.name))?;
        known.push((node.addr, node.node_key.clone()));
        node.stop().await;
    }
    let mut running = Vec::new();
    for (i, org) in orgs.iter().enumerate() {
        let peers = known
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, (addr, key))| Peer {
                url: format!("http://{addr}"),
                key: key.clone(),
            })
            .collect();
        let node = accord_node::start(accord_node::Config {
            peers,
            // Identities may name a devnet node by the URL the others list it by.
            public_url: Some(format!("http://{}", known[i].0)),
            ..config(org, known[i].0)
        })
        .await
        .with_context(|| format!("{}'s node", org.name))?;
        running.push(node);
    }
    let mut summary = Vec::new();
    for (org, node) in orgs.iter().zip(&running) {
        let url = format!("http://{}", node.addr);
        let client = Client::new(&url, &org.user)?;
        let user_key = org.user.public_key().to_base58();
        let identity = format!("{}-user", org.name);
        client
            .post(
                "/identities",
                accord_node::events::identity_at(&identity, &user_key, &node.node_key).to_string(),
            )
            .await
            .with_context(|| format!("registering {}'s user", org.name))?;
        let mut scenarios = Vec::new();
        for (file, text) in SCENARIOS {
            let stored = client
                .post("/scenarios", *text)
                .await
                .with_context(|| format!("loading {file} into {}'s node", org.name))?;
            scenarios.push(stored["id"].as_str().unwrap_or_default().to_string());
        }
        summary.push(Summary {
            organisation: org.name.clone(),
            url,
            node_key: node.node_key.clone(),
            identity,
            user_key,
            keystore: org.keystore.display().to_string(),
            scenarios,
        });
    }
    Ok(Devnet {
        nodes: running,
        summary,
        passphrase,
    })
}

pub fn run(args: DevnetArgs) -> Result<Outcome> {
    if !(1..=16).contains(&args.nodes) {
        bail!("--nodes must be between 1 and 16, not {}", args.nodes);
    }
    if args.port != 0 && usize::from(args.port) + args.nodes > usize::from(u16::MAX) {
        bail!(
            "--port {} leaves no room for {} nodes",
            args.port,
            args.nodes
        );
    }
    crate::node::init_logging(&args.log)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        // Listening for SIGTERM/Ctrl-C before the nodes listen: a SIGTERM right after they
        // answer stops them cleanly.
        let stop = crate::node::shutdown_signal();
        let devnet = start(&args.dir, args.nodes, args.port, |c| c).await?;
        let (summary, passphrase) = (&devnet.summary, &devnet.passphrase);
        if args.json {
            outln!(
                "{}",
                json!({"passphrase_file": passphrase.display().to_string(), "nodes": summary})
            );
        } else {
            outln!(
                "accord devnet: {} organisations on loopback (keystores' passphrase: {})",
                summary.len(),
                passphrase.display()
            );
            for s in summary {
                outln!(
                    "  {:<6} {}  node {}\n         user {} (identity {}, keystore {})",
                    s.organisation,
                    s.url,
                    s.node_key,
                    s.user_key,
                    s.identity,
                    s.keystore
                );
            }
            let first = &summary[0];
            outln!(
                "  scenarios on every node: {}",
                first.scenarios.join(", ")
            );
            // The reviewer at the second organisation's node, when there is one.
            let reviewer = summary
                .get(1)
                .map_or_else(|| "me".to_string(), |s| format!("{}@{}", s.user_key, s.node_key));
            outln!(
                "  try: accord process start accord-example-document-signing --node {} --keystore {} --passphrase-file {} --actor drafter=me --actor reviewer={reviewer} --id doc-1",
                first.url,
                first.keystore,
                passphrase.display()
            );
            outln!("Ctrl-C stops them.");
        }
        stop.await;
        tracing::info!("stopping");
        devnet.stop().await;
        anyhow::Ok(())
    })?;
    Ok(Outcome::Success)
}
