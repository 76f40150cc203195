//! How this node sends requests to its peers: signed with the node key, addressed by the
//! peer's key.
//!
//! A running node uses [`HttpLinks`] (HTTP to the peer's configured URL). The delivery task
//! and the receiver's catch-up go through [`Links`] only, so the simulation tests can put a
//! network of their own (delay, loss, duplication, reordering) between nodes in one process.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use accord_crypto::KeyPair;

use crate::client::{Answer, Client};
use crate::peers::Peers;

/// A request under way to a peer.
pub type Sending<'a> = Pin<Box<dyn Future<Output = Result<Answer, String>> + Send + 'a>>;

/// Requests to peers. An `Err` is a request that got no answer (no connection, no URL, the
/// peer's answer lost); any answer, whatever its status, is `Ok`.
pub trait Links: Send + Sync {
    /// Sends `method target` (the path with its query) to the node whose key is `peer`,
    /// with a JSON body when there is one, signed with `signer` (the node key when `None`:
    /// an invitation's one-time key signs for its invitee).
    fn send_as<'a>(
        &'a self,
        peer: &'a str,
        signer: Option<&'a KeyPair>,
        method: &'a str,
        target: &'a str,
        body: Option<Vec<u8>>,
    ) -> Sending<'a>;

    /// [`Links::send_as`], signed with the node key.
    fn send<'a>(
        &'a self,
        peer: &'a str,
        method: &'a str,
        target: &'a str,
        body: Option<Vec<u8>>,
    ) -> Sending<'a> {
        self.send_as(peer, None, method, target, body)
    }
}

/// Peers over HTTP, at their configured URLs; one client (and connection pool) per peer.
pub struct HttpLinks {
    key: Arc<KeyPair>,
    peers: Arc<Peers>,
    clients: Mutex<HashMap<String, Client>>,
    clock: crate::clock::Clock,
}

impl HttpLinks {
    /// Links signing with `key` to the configured `peers`, dating signatures by `clock`.
    pub fn new(key: Arc<KeyPair>, peers: Arc<Peers>, clock: crate::clock::Clock) -> HttpLinks {
        HttpLinks {
            key,
            peers,
            clients: Mutex::default(),
            clock,
        }
    }

    fn client(&self, peer: &str, signer: Option<&KeyPair>) -> Result<Client, String> {
        if let Some(signer) = signer {
            let url = self
                .peers
                .url(peer)
                .ok_or_else(|| format!("no URL is configured for node {peer}"))?;
            return Client::new(url, signer)
                .map(|c| c.with_clock(self.clock.clone()))
                .map_err(|e| format!("cannot make a client for {url}: {e}"));
        }
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = clients.get(peer) {
            return Ok(c.clone());
        }
        let url = self
            .peers
            .url(peer)
            .ok_or_else(|| format!("no URL is configured for node {peer}"))?;
        let client = Client::new(url, &self.key)
            .map_err(|e| format!("cannot make a client for {url}: {e}"))?
            .with_clock(self.clock.clone());
        clients.insert(peer.to_string(), client.clone());
        Ok(client)
    }
}

impl Links for HttpLinks {
    fn send_as<'a>(
        &'a self,
        peer: &'a str,
        signer: Option<&'a KeyPair>,
        method: &'a str,
        target: &'a str,
        body: Option<Vec<u8>>,
    ) -> Sending<'a> {
        Box::pin(async move {
            let client = self.client(peer, signer)?;
            client
                .send(method, target, body.map(|b| ("application/json", b)))
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// Why [`pull`] stopped short.
#[derive(Debug)]
pub enum PullError {
    /// The peer shows no such chain to the signing key (404).
    NotFound,
    /// More than the byte limit.
    TooLarge(usize),
    /// No answer, another status, or an answer that is not a page of the chain.
    Failed(String),
}

impl std::fmt::Display for PullError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PullError::NotFound => f.write_str("it shows no such chain (404)"),
            PullError::TooLarge(limit) => write!(f, "the chain is over {} MiB", limit >> 20),
            PullError::Failed(why) => f.write_str(why),
        }
    }
}

/// How much a [`pull`] may fetch, and how long each request may take.
pub struct PullLimits {
    /// Pages at most (1,000 events each).
    pub pages: usize,
    /// Chain JSON at most, over all pages.
    pub bytes: usize,
    /// Per request.
    pub timeout: std::time::Duration,
}

/// Fetches pages of `chain` from `peer` (`GET /event-chains/{id}/events`, signed with
/// `signer`, the node key when `None`) and appends their events: after its last event, or
/// after `after` (an event hash, base58) while it has none, or from the genesis event. A first
/// page's stub becomes the chain's start when it has no events yet. `enough` sees the chain
/// after every page; the pull stops when it says so, or when the peer has no more.
pub async fn pull(
    links: &dyn Links,
    peer: &str,
    signer: Option<&KeyPair>,
    chain: &mut accord_chain::Chain,
    after: Option<&str>,
    limits: &PullLimits,
    mut enough: impl FnMut(&accord_chain::Chain) -> bool,
) -> Result<(), PullError> {
    let id = chain.id.to_base58();
    let mut bytes = 0;
    for _ in 0..limits.pages {
        let target = match (chain.events.is_empty(), after) {
            (true, Some(after)) => format!("/event-chains/{id}/events?after={after}"),
            (true, None) => format!("/event-chains/{id}/events"),
            (false, _) => format!(
                "/event-chains/{id}/events?after={}",
                accord_crypto::base58::encode(&chain.latest_hash())
            ),
        };
        let answer = tokio::time::timeout(
            limits.timeout,
            links.send_as(peer, signer, "GET", &target, None),
        )
        .await
        .map_err(|_| PullError::Failed(format!("{target} got no answer in time")))?
        .map_err(PullError::Failed)?;
        match answer.status {
            200 => {}
            404 => return Err(PullError::NotFound),
            status => return Err(PullError::Failed(format!("{target} answered {status}"))),
        }
        bytes += answer.body.len();
        if bytes > limits.bytes {
            return Err(PullError::TooLarge(limits.bytes));
        }
        let page = accord_chain::Chain::from_json(&answer.body).map_err(|e| {
            PullError::Failed(format!("{target} sent a chain that does not parse: {e}"))
        })?;
        if page.id != chain.id {
            return Err(PullError::Failed(format!("{target} sent another chain")));
        }
        if page.events.is_empty() {
            break;
        }
        if chain.events.is_empty() {
            chain.start = page.start;
        }
        chain.events.extend(page.events);
        let more = answer
            .header("link")
            .is_some_and(|l| l.contains("rel=\"next\""));
        if enough(chain) || !more {
            break;
        }
    }
    Ok(())
}
