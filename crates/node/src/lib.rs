//! The Accord node: storage, the authenticated HTTP API and the event pipeline.
//!
//! [`start`] opens the data directory (creating the node's key on first start), the database
//! and the pipeline, binds the listener and serves until [`Running::stop`]. Everything that
//! touches the network, the disk or the clock lives here; the cores (`accord-chain`,
//! `accord-engine`) are driven, never the other way round.

pub mod api;
pub mod app;
pub mod auth;
pub mod client;
pub mod clock;
pub mod config;
pub mod custody;
pub mod deliver;
pub mod events;
pub mod invitations;
pub mod links;
pub mod metrics;
pub mod peers;
pub mod pipeline;
pub mod problem;
pub mod sync;
pub mod system;

#[cfg(test)]
mod sim;

use std::collections::HashSet;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use accord_crypto::keystore::{KdfParams, Keystore, Secret};
use accord_crypto::{KeyPair, KeyType};
use accord_store::sql::Durability as StoreDurability;
use accord_store::{Outbox, SeenSignatures, SqlStore};
use tokio::sync::oneshot;

pub use config::Config;

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

/// A node that is serving.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its key, base58.
    pub node_key: String,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
    delivery: tokio::task::JoinHandle<()>,
    system: tokio::task::JoinHandle<()>,
    forgetting: tokio::task::JoinHandle<()>,
    store: Arc<SqlStore>,
}

impl Running {
    /// Stops taking requests, lets those under way finish, and closes the database.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.server).await;
        // Deliveries under way are abandoned; their rows come back when their leases end.
        self.delivery.abort();
        self.system.abort();
        self.forgetting.abort();
        self.store.close().await;
    }

    /// Waits until the server ends on its own (it does not, unless it fails).
    pub async fn wait(&mut self) {
        let _ = (&mut self.server).await;
    }
}

/// The passphrase of the node's keystore: `$ACCORD_PASSPHRASE`, or the configured file.
fn passphrase(config: &Config) -> Result<zeroize::Zeroizing<String>, StartError> {
    if let Some(path) = &config.passphrase_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            StartError(format!(
                "cannot read passphrase file {}: {e}",
                path.display()
            ))
        })?;
        return Ok(zeroize::Zeroizing::new(
            text.trim_end_matches(['\n', '\r']).to_string(),
        ));
    }
    match std::env::var("ACCORD_PASSPHRASE") {
        Ok(p) if !p.is_empty() => Ok(zeroize::Zeroizing::new(p)),
        _ => Err(StartError(
            "the node key needs a passphrase: set ACCORD_PASSPHRASE or passphrase_file".into(),
        )),
    }
}

/// The node's seed phrase and nonce, when its keystore holds one (custodial keys derive from it).
type Seed = Option<(zeroize::Zeroizing<String>, u32)>;

fn seed_of(secret: &Secret) -> Seed {
    match secret {
        Secret::SeedPhrase {
            phrase,
            nonce,
            path: None,
        } => Some((zeroize::Zeroizing::new(phrase.clone()), *nonce)),
        _ => None,
    }
}

/// Opens the node's keystore, or creates one (with a new seed phrase) when there is none.
fn node_key(config: &Config, path: &Path) -> Result<(KeyPair, Seed), StartError> {
    let passphrase = passphrase(config)?;
    if path.exists() {
        let bytes = std::fs::read(path)
            .map_err(|e| StartError(format!("cannot read node key {}: {e}", path.display())))?;
        let store = Keystore::from_json(&bytes)
            .map_err(|e| StartError(format!("node key {}: {e}", path.display())))?;
        let (pair, secret) = store
            .open(passphrase.as_bytes())
            .map_err(|e| StartError(format!("cannot open node key {}: {e}", path.display())))?;
        if pair.key_type() != KeyType::Ed25519 {
            return Err(StartError(format!(
                "node key {} is {}; a node key must be ed25519",
                path.display(),
                pair.key_type().name()
            )));
        }
        return Ok((pair, seed_of(&secret)));
    }
    let (pair, secret, store) = Keystore::new_ed25519(passphrase.as_bytes(), KdfParams::default())
        .map_err(|e| StartError(format!("cannot make the node key: {e}")))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| StartError(format!("cannot create node key {}: {e}", path.display())))?;
    file.write_all(store.to_json().as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| StartError(format!("cannot write node key {}: {e}", path.display())))?;
    tracing::info!(path = %path.display(), key = %pair.public_key().to_base58(), "created the node key");
    Ok((pair, seed_of(&secret)))
}

/// A node put together but not yet serving or delivering: [`start`] adds the listener and
/// the delivery and system-action tasks; the simulation tests drive delivery themselves.
pub(crate) struct Opened {
    pub(crate) app: Arc<app::App>,
    pub(crate) store: Arc<SqlStore>,
    queued: Arc<tokio::sync::Notify>,
}

/// Opens a node's data directory, key, database and pipeline. `links` reach the peers
/// (HTTP to their configured URLs when `None`); `bound` is the address the node listens on,
/// which it answers to (the simulation has none: its nodes answer to their `public_url`).
pub(crate) async fn open(
    config: Config,
    links: Option<Arc<dyn links::Links>>,
    bound: Option<SocketAddr>,
    clock: clock::Clock,
) -> Result<Opened, StartError> {
    config.check().map_err(|e| StartError(e.0))?;
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        StartError(format!(
            "cannot create data directory {}: {e}",
            config.data_dir.display()
        ))
    })?;
    let key_path = config.key_path();
    let (key, seed) = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || node_key(&config, &key_path))
            .await
            .map_err(|e| StartError(format!("key task failed: {e}")))??
    };
    let custody =
        custody::Custody::open(&config.data_dir.join("custody.json"), seed).map_err(StartError)?;
    let key = Arc::new(key);
    let node_key = key.public_key().to_base58();
    let durability = match config.durability {
        config::Durability::Process => StoreDurability::Process,
        config::Durability::Power => StoreDurability::Power,
    };
    let url = config.database_url();
    let store = Arc::new(
        SqlStore::open(&url, durability)
            .await
            .map_err(|e| StartError(format!("database {url}: {e}")))?,
    );
    // Deliveries the last run had under way died with it: due now, not when their leases end.
    let released = store
        .release_delivery_leases(clock.now_ms())
        .await
        .map_err(|e| StartError(format!("database {url}: {e}")))?;
    if released > 0 {
        tracing::info!(rows = released, "outbox rows due again at start");
    }
    // Signatures recorded by earlier runs that can no longer pass the time checks.
    store
        .forget_signatures(clock.now_ms())
        .await
        .map_err(|e| StartError(format!("database {url}: {e}")))?;
    let authorities =
        auth::Authorities::new(bound, config.public_url.as_deref(), &config.authorities);
    if bound.is_some_and(|a| a.ip().is_unspecified()) {
        tracing::warn!(
            answers_to = %authorities.names().join(", "),
            "listening on every interface, but a node cannot know the names it is reached by: requests signed for any other name are refused (421); list them in `authorities` (or `public_url`)"
        );
    }
    if config.peers.iter().any(|p| p.key == node_key) {
        return Err(StartError(format!(
            "peers lists this node's own key {node_key}: list only the other nodes"
        )));
    }
    let metrics = Arc::new(metrics::Metrics::default());
    let peers = Arc::new(peers::Peers::new(
        &config.peers,
        config
            .public_url
            .as_deref()
            .map(|url| (url, node_key.as_str())),
    ));
    let links = links.unwrap_or_else(|| {
        Arc::new(links::HttpLinks::new(
            key.clone(),
            peers.clone(),
            clock.clone(),
        ))
    });
    let outbox = Arc::new(tokio::sync::Notify::new());
    let queued = Arc::new(tokio::sync::Notify::new());
    let (pipeline, _writer) = pipeline::Pipeline::start(
        store.clone(),
        key.clone(),
        metrics.clone(),
        peers.clone(),
        pipeline::Wakes {
            outbox: outbox.clone(),
            queued: queued.clone(),
        },
        config.max_clock_skew.saturating_mul(1000),
        clock.clone(),
    );
    let mut admins: HashSet<String> = config.admins.iter().cloned().collect();
    admins.insert(node_key.clone());
    let app = Arc::new(app::App {
        store: store.clone(),
        pipeline,
        key,
        node_key,
        metrics,
        limiter: auth::RateLimiter::new(config.rate_limit, config.rate_burst),
        authorities,
        admins,
        registrations: auth::RateLimiter::per_minute(config.identities.register_per_minute),
        self_registrations: auth::RateLimiter::per_minute(
            config.identities.self_register_per_minute,
        ),
        identity_writes: tokio::sync::Mutex::new(()),
        config: Arc::new(config),
        facts: app::Facts::default(),
        custody,
        peers,
        outbox,
        links,
        clock,
    });
    Ok(Opened { app, store, queued })
}

/// Starts a node: listener, data directory, key, database, pipeline, delivery, system
/// actions. The listener is bound first: the address it gets (a port of 0 is chosen by the
/// system) is one the node answers to.
pub async fn start(config: Config) -> Result<Running, StartError> {
    config.check().map_err(|e| StartError(e.0))?;
    let listen = config.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| StartError(format!("cannot listen on {listen}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartError(format!("cannot read the listening address: {e}")))?;
    let Opened { app, store, queued } =
        open(config, None, Some(addr), clock::Clock::system()).await?;
    let system = system::start(
        store.clone(),
        app.pipeline.clone(),
        app.key.clone(),
        app.config.system.clone(),
        queued,
        app.clock.clone(),
    );
    let delivery = deliver::start(
        store.clone(),
        app.links.clone(),
        app.peers.clone(),
        app.outbox.clone(),
        deliver::Settings::from(&app.config.delivery),
        app.clock.clone(),
    );
    let forgetting = tokio::spawn(forget_signatures(store.clone(), app.clock.clone()));
    let url = app.config.database_url();
    let node_key = app.node_key.clone();
    let (router, _doc) = api::router(app);
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let serve = axum::serve(listener, router).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "the server failed");
        }
    });
    tracing::info!(%addr, key = %node_key, database = %url, "listening on http://{addr}");
    Ok(Running {
        addr,
        node_key,
        stop: Some(stop),
        server,
        delivery,
        system,
        forgetting,
        store,
    })
}

/// Every minute, removes from the store the signatures that expired (the memory sweeps its own
/// as requests come).
async fn forget_signatures(store: Arc<SqlStore>, clock: clock::Clock) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match store.forget_signatures(clock.now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(forgotten = n, "expired request signatures forgotten"),
            Err(e) => tracing::warn!(error = %e, "cannot forget expired request signatures"),
        }
    }
}

/// The OpenAPI document (for tests and `accord node openapi`).
pub fn openapi_json() -> String {
    api::openapi().to_pretty_json().unwrap_or_default()
}
