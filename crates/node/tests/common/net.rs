//! Nodes that know each other: started once alone for their keys and ports, then again with
//! the others as peers.

use std::net::SocketAddr;

use accord_node::config::Peer;
use accord_node::{Config, Running};

use super::{start, start_with};

/// Starts a node in each of `dirs` once, alone, and stops it: each one's address and node key
/// (a node started again in the same directory keeps its key).
pub async fn first_start(dirs: &[tempfile::TempDir]) -> Vec<(SocketAddr, String)> {
    let mut known = Vec::new();
    for dir in dirs {
        let node = start(dir.path()).await;
        known.push((node.addr, node.node_key.clone()));
        node.stop().await;
    }
    known
}

/// The peers of the `i`th of the nodes `known` lists: every other one, in order.
pub fn peers_of(known: &[(SocketAddr, String)], i: usize) -> Vec<Peer> {
    known
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != i)
        .map(|(_, (addr, key))| Peer {
            url: format!("http://{addr}"),
            key: key.clone(),
        })
        .collect()
}

/// A node in each of `dirs`, each listening where it first started and listing every other as
/// its peer, its configuration then changed by `change`.
pub async fn peered(dirs: &[tempfile::TempDir], change: impl Fn(Config) -> Config) -> Vec<Running> {
    let known = first_start(dirs).await;
    let mut nodes = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let (listen, peers) = (known[i].0, peers_of(&known, i));
        nodes.push(start_with(dir.path(), |c| change(Config { listen, peers, ..c })).await);
    }
    nodes
}
