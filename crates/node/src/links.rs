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
}

impl HttpLinks {
    /// Links signing with `key` to the configured `peers`.
    pub fn new(key: Arc<KeyPair>, peers: Arc<Peers>) -> HttpLinks {
        HttpLinks {
            key,
            peers,
            clients: Mutex::default(),
        }
    }

    fn client(&self, peer: &str, signer: Option<&KeyPair>) -> Result<Client, String> {
        if let Some(signer) = signer {
            let url = self
                .peers
                .url(peer)
                .ok_or_else(|| format!("no URL is configured for node {peer}"))?;
            return Client::new(url, signer)
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
            .map_err(|e| format!("cannot make a client for {url}: {e}"))?;
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
