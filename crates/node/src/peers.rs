//! The peer nodes this node knows, and how an identity's `node` names one.
//!
//! An identity's `node` names the node that holds it: by its key (base58 ed25519, Accord's
//! way), or by a URL (the reference's way). Both resolve to a key through the configured
//! `peers`; a URL no peer has stays as it is, so the outbox shows it (and its deliveries fail
//! with a clear reason) instead of dropping it.

use std::collections::HashMap;

use accord_crypto::base58;

use crate::config::Peer;

/// The configured peers, both ways.
#[derive(Debug, Default)]
pub struct Peers {
    url_of: HashMap<String, String>,
    key_of: HashMap<String, String>,
}

/// A URL as compared: no trailing slash, scheme and host in lower case.
fn normalize(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
            let mut out = format!("{}://{}", scheme.to_lowercase(), host.to_lowercase());
            if !path.is_empty() {
                out.push('/');
                out.push_str(path);
            }
            out
        }
        None => url.to_string(),
    }
}

/// Whether `value` is a base58 ed25519 public key.
pub fn is_key(value: &str) -> bool {
    value.len() <= 50 && base58::decode(value).is_ok_and(|b| b.len() == 32)
}

impl Peers {
    /// From the configuration. `own` is this node's public URL and key, when it has one: a
    /// `node` naming that URL resolves to this node's key (it is not a peer).
    pub fn new(peers: &[Peer], own: Option<(&str, &str)>) -> Peers {
        let mut p = Peers::default();
        for peer in peers {
            let url = normalize(&peer.url);
            p.url_of.insert(peer.key.clone(), url.clone());
            p.key_of.insert(url, peer.key.clone());
        }
        if let Some((url, key)) = own {
            p.key_of.insert(normalize(url), key.to_string());
        }
        p
    }

    /// The node `node` names, as the outbox addresses it: its key when it is one or a
    /// configured peer's URL, the value as given otherwise.
    pub fn resolve(&self, node: &str) -> String {
        if is_key(node) {
            return node.to_string();
        }
        self.key_of
            .get(&normalize(node))
            .cloned()
            .unwrap_or_else(|| node.to_string())
    }

    /// A peer's base URL.
    pub fn url(&self, key: &str) -> Option<&str> {
        self.url_of.get(key).map(String::as_str)
    }

    /// Whether `key` is a configured peer's.
    pub fn is_peer(&self, key: &str) -> bool {
        self.url_of.contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "US517G5965aydkZ46HS38QLi7UQiSojurfbQfKCELFx";

    #[test]
    fn nodes_resolve_by_key_or_configured_url() {
        let own = "7VrA5hcCq3MGAmNh4YBzUeQUjUcrXHDPMFpq7eQvbGoJ";
        let peers = Peers::new(
            &[Peer {
                url: "http://Node-B.example:4001/".into(),
                key: KEY.into(),
            }],
            Some(("https://Me.example/", own)),
        );
        assert_eq!(peers.resolve("https://me.example"), own);
        assert!(!peers.is_peer(own));
        assert_eq!(peers.url(own), None);
        assert_eq!(peers.resolve(KEY), KEY);
        assert_eq!(peers.resolve("http://node-b.example:4001"), KEY);
        assert_eq!(peers.resolve("amqp://elsewhere"), "amqp://elsewhere");
        assert_eq!(peers.url(KEY), Some("http://node-b.example:4001"));
        assert!(peers.is_peer(KEY));
        assert!(!peers.is_peer("amqp://elsewhere"));
        assert!(!is_key("not a key"));
        assert!(!is_key("3mJr7AoUXx2Wqd")); // base58, but not 32 bytes
    }
}
