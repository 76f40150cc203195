//! `accord node`: run a node until Ctrl-C (or SIGTERM).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use crate::Outcome;

#[derive(Clone, Copy, ValueEnum)]
pub enum DurabilityArg {
    /// A commit survives the process being killed (SQLite `synchronous=NORMAL`).
    Process,
    /// A commit survives a power cut (SQLite `synchronous=FULL`).
    Power,
}

/// Run a node: the HTTP API and the event pipeline over its database.
///
/// Settings come from the config file (TOML, see docs/design/api.md and `accord node --help`),
/// then the environment, then these flags. On an empty data directory the node creates its
/// key, encrypted with the passphrase from --passphrase-file or $ACCORD_PASSPHRASE.
#[derive(Args)]
pub struct NodeArgs {
    /// A TOML configuration file.
    #[arg(long, short, value_name = "FILE", env = "ACCORD_CONFIG")]
    config: Option<PathBuf>,
    /// Where the node keeps its database and key.
    #[arg(long, value_name = "DIR", env = "ACCORD_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The address to listen on (port 0 picks a free one).
    #[arg(long, value_name = "ADDR", env = "ACCORD_LISTEN")]
    listen: Option<SocketAddr>,
    /// The database: sqlite:PATH or postgres://… (default: node.db in the data directory).
    #[arg(long, value_name = "URL", env = "ACCORD_DATABASE")]
    database: Option<String>,
    /// How SQLite commits reach the disk.
    #[arg(long, value_enum, env = "ACCORD_DURABILITY")]
    durability: Option<DurabilityArg>,
    /// The node's keystore (default: node-key.json in the data directory).
    #[arg(long, value_name = "FILE", env = "ACCORD_NODE_KEY")]
    key: Option<PathBuf>,
    /// A file holding the keystore's passphrase (else $ACCORD_PASSPHRASE).
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// The network byte: L (mainnet) or T (testnet).
    #[arg(long, value_name = "CHAR", env = "ACCORD_NETWORK")]
    network: Option<char>,
    /// Requests per second allowed to one key (0: no limit).
    #[arg(long, value_name = "N", env = "ACCORD_RATE_LIMIT")]
    rate_limit: Option<u32>,
    /// Log filter (tracing's syntax: info, debug, accord_node=debug, …).
    #[arg(
        long,
        value_name = "FILTER",
        env = "ACCORD_LOG",
        default_value = "info"
    )]
    log: String,
    /// Print the OpenAPI document and exit.
    #[arg(long)]
    print_openapi: bool,
}

pub fn run(args: NodeArgs) -> Result<Outcome> {
    if args.print_openapi {
        outln!("{}", accord_node::openapi_json());
        return Ok(Outcome::Success);
    }
    init_logging(&args.log)?;
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            accord_node::Config::from_toml(&text, path)?
        }
        None => accord_node::Config::default(),
    };
    if let Some(v) = args.data_dir {
        config.data_dir = v;
    }
    if let Some(v) = args.listen {
        config.listen = v;
    }
    if let Some(v) = args.database {
        config.database = Some(v);
    }
    if let Some(v) = args.durability {
        config.durability = match v {
            DurabilityArg::Process => accord_node::config::Durability::Process,
            DurabilityArg::Power => accord_node::config::Durability::Power,
        };
    }
    if let Some(v) = args.key {
        config.key = Some(v);
    }
    if let Some(v) = args.passphrase_file {
        config.passphrase_file = Some(v);
    }
    if let Some(v) = args.network {
        config.network = v;
    }
    if let Some(v) = args.rate_limit {
        config.rate_limit = v;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let stop = shutdown_signal();
        let started = std::time::Instant::now();
        let node = accord_node::start(config).await?;
        tracing::info!(
            "ready in {} ms: http://{} (node key {})",
            started.elapsed().as_millis(),
            node.addr,
            node.node_key
        );
        stop.await;
        tracing::info!("stopping");
        node.stop().await;
        anyhow::Ok(())
    })?;
    Ok(Outcome::Success)
}

/// Logs to standard error, filtered by `filter` (tracing's syntax).
pub fn init_logging(filter: &str) -> Result<()> {
    let parsed = tracing_subscriber::EnvFilter::try_new(filter)
        .with_context(|| format!("--log {filter:?}"))?;
    tracing_subscriber::fmt()
        .with_env_filter(parsed)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    Ok(())
}

/// Ctrl-C or SIGTERM, listened for from the moment this is called (inside the runtime), so a
/// signal sent as soon as a node says it is ready is not lost to the default action.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let listening = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        );
        async move {
            match listening {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {},
                        _ = int.recv() => {},
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
