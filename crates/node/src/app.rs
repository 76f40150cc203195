//! The node's shared state: what every handler and task is handed (`App`), and the answers
//! about chains and keys that many routes ask (who is an administrator, who may read a chain,
//! which chain holds a process). Its own module, so that the API and the invitations, which
//! both use it, do not import each other.

use std::collections::HashSet;
use std::sync::Arc;

use accord_crypto::KeyPair;
use accord_store::{Chains, Identities, Processes, SqlStore};

use crate::auth::{self, RateLimiter};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::pipeline::Pipeline;
use crate::problem::Problem;

/// What every handler shares.
pub struct App {
    /// The store.
    pub store: Arc<SqlStore>,
    /// The event pipeline.
    pub pipeline: Pipeline,
    /// This node's key.
    pub key: Arc<KeyPair>,
    /// This node's key, base58.
    pub node_key: String,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The configuration.
    pub config: Arc<Config>,
    /// The rate limiter.
    pub limiter: RateLimiter,
    /// The names this node answers to: a request signed for any other is refused (421).
    pub authorities: auth::Authorities,
    /// Keys allowed everything: this node's and the configured administrators'.
    pub admins: HashSet<String>,
    /// Registrations and removals of identities per key (`identities.register_per_minute`).
    pub registrations: RateLimiter,
    /// New identities users register for themselves, node-wide, under one bucket
    /// (`identities.self_register_per_minute`).
    pub self_registrations: RateLimiter,
    /// Held while an identity is checked and written, so two requests cannot both pass a
    /// check (a quota, who may replace it) that only one of them would pass after the other.
    pub identity_writes: tokio::sync::Mutex<()>,
    /// Facts that never change once true, remembered to spare the database: that a chain
    /// holds a process with an id, and that a key is a party to a chain (neither processes
    /// nor parties are ever removed).
    pub facts: Facts,
    /// Keys this node holds for users.
    pub custody: crate::custody::Custody,
    /// The peer nodes this node knows.
    pub peers: Arc<crate::peers::Peers>,
    /// Wakes the delivery task (after a replay).
    pub outbox: Arc<tokio::sync::Notify>,
    /// Requests to peers (catch-up).
    pub links: Arc<dyn crate::links::Links>,
    /// The node's clock: every time of day a handler needs.
    pub clock: crate::clock::Clock,
}

/// Remembered facts, each only ever true once stored (so they never go stale).
#[derive(Default)]
pub struct Facts {
    /// (process id, chain id): the chain holds a process with that id. True for good once
    /// true (processes are never removed), but not the whole truth: another chain may hold a
    /// process with the same id, so a lookup without a chain always asks the store.
    processes: std::sync::Mutex<HashSet<(String, String)>>,
    parties: std::sync::Mutex<HashSet<(String, String)>>,
}

/// Facts kept at most, per kind; beyond this the memory is cleared and fills again.
const MAX_FACTS: usize = 200_000;

impl Facts {
    pub(crate) fn holds_process(&self, process: &str, chain: &str) -> bool {
        self.processes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&(process.to_string(), chain.to_string()))
    }

    pub(crate) fn remember_process(&self, process: &str, chain: &str) {
        let mut m = self.processes.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= MAX_FACTS {
            m.clear();
        }
        m.insert((process.to_string(), chain.to_string()));
    }

    pub(crate) fn is_party(&self, chain: &str, key: &str) -> bool {
        self.parties
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&(chain.to_string(), key.to_string()))
    }

    pub(crate) fn remember_party(&self, chain: &str, key: &str) {
        let mut m = self.parties.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= MAX_FACTS {
            m.clear();
        }
        m.insert((chain.to_string(), key.to_string()));
    }
}

impl App {
    pub(crate) fn is_admin(&self, key: &str) -> bool {
        self.admins.contains(key)
    }

    /// `Ok` for this node's key and the configured administrators, 403 for any other.
    pub(crate) fn admin_only(&self, key: &str) -> Result<(), Problem> {
        if self.is_admin(key) {
            Ok(())
        } else {
            Err(Problem::forbidden(format!(
                "key {key} is not an administrator of this node"
            )))
        }
    }

    /// Whether `key` is an administrator or a key of an identity registered on this node.
    /// The store answers (`identity_keys`, written with the identities), so removing one
    /// identity can never unregister a key another registered identity still names, and
    /// nothing in memory can disagree with the store.
    pub(crate) async fn is_registered(&self, key: &str) -> Result<bool, Problem> {
        Ok(self.is_admin(key) || !self.store.identities_of_key(key).await?.is_empty())
    }

    /// Whether `key` may read a chain (it exists and the key is a party, or controls a
    /// custodial key that is, or is an admin).
    pub(crate) async fn may_read(&self, chain: &str, key: &str) -> Result<bool, Problem> {
        if self.is_admin(key) {
            return Ok(self.store.head(chain).await?.is_some());
        }
        if self.facts.is_party(chain, key) {
            return Ok(true);
        }
        let party = self.store.is_party(chain, key).await?;
        if party {
            self.facts.remember_party(chain, key);
            return Ok(true);
        }
        // A controller reads what the custodial keys it acts with may read.
        for held in self.custody.controlled_by(key) {
            if self.facts.is_party(chain, &held) || self.store.is_party(chain, &held).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The chains holding a process with this id that `key` may read, by chain id.
    pub(crate) async fn readable_process_chains(
        &self,
        process: &str,
        key: &str,
    ) -> Result<Vec<String>, Problem> {
        let mut readable = Vec::new();
        for chain in self.process_chains(process).await? {
            if self.may_read(&chain, key).await? {
                readable.push(chain);
            }
        }
        Ok(readable)
    }

    /// Every chain holding a process with this id, from the store (each remembered).
    pub(crate) async fn process_chains(&self, process: &str) -> Result<Vec<String>, Problem> {
        let chains = self.store.process_chains(process).await?;
        for chain in &chains {
            self.facts.remember_process(process, chain);
        }
        Ok(chains)
    }

    /// The chain of the process `process` that `key` addresses. A process is addressed by its
    /// chain and its id: with `chain`, that chain, if it holds such a process and `key` may
    /// read it; without, the one chain holding such a process that `key` may read. None is
    /// the 404 of a missing process (so nothing leaks); several are a 409
    /// `ambiguous-process` listing them (only those `key` may read), `how` saying how to name
    /// one.
    pub(crate) async fn process_chain(
        &self,
        process: &str,
        chain: Option<&str>,
        key: &str,
        how: &str,
    ) -> Result<String, Problem> {
        let Some(chain) = chain else {
            let mut readable = self.readable_process_chains(process, key).await?;
            return match readable.len() {
                0 => Err(crate::api::not_found("process", process)),
                1 => Ok(readable.remove(0)),
                n => Err(Problem::conflict(
                    "ambiguous-process",
                    format!(
                        "{n} chains this key may read hold a process {process} ({}): {how}",
                        readable.join(", ")
                    ),
                )
                .with("process", process)
                .with("chains", readable)),
            };
        };
        let held = self.facts.holds_process(process, chain)
            || self
                .process_chains(process)
                .await?
                .iter()
                .any(|c| c == chain);
        if !held || !self.may_read(chain, key).await? {
            return Err(Problem::not_found(format!(
                "no process {process} on chain {chain} that this key may see"
            )));
        }
        Ok(chain.to_string())
    }
}
