//! A harness shared by the engine's tests: start a process with one generated identity per
//! actor (its key is `key-<actor>`), act as an actor, and carry out system requests.
#![allow(dead_code)]

pub mod chain;

use std::sync::Arc;

use accord_engine::{Candidate, Compiled, Identity, Process, Rejection, Request, Start};
use accord_scenario::check_value;
use serde_json::Value;

pub struct Run {
    pub p: Process,
    pub requests: Vec<Request>,
    pub clock: u64,
}

pub fn key_of(actor: &str) -> String {
    format!("key-{actor}")
}

pub fn start(doc: Value) -> Run {
    let checked = check_value(&doc);
    let scenario = checked
        .scenario
        .unwrap_or_else(|| panic!("scenario: {:?}", checked.diagnostics));
    let actors: Vec<String> = scenario.actors.keys().cloned().collect();
    let compiled = Arc::new(Compiled::new(scenario).expect("schemas compile"));
    let start = Start {
        id: "process-1".into(),
        chain: Some("chain-1".into()),
        actors: actors
            .iter()
            .map(|a| {
                (
                    a.clone(),
                    Identity {
                        id: format!("{a}_id"),
                        node: None,
                        signkeys: vec![("user".into(), key_of(a))],
                        encryptkey: None,
                    },
                )
            })
            .collect(),
        timestamp: 1_000,
        ..Start::default()
    };
    let (p, requests) = Process::start(compiled, start).expect("starts");
    Run {
        p,
        requests,
        clock: 1_000,
    }
}

impl Run {
    pub fn act(
        &mut self,
        actor: &str,
        action: &str,
        response: Option<&str>,
        data: Value,
    ) -> Result<(), Rejection> {
        self.clock += 1_000;
        let c = Candidate {
            signer: key_of(actor),
            action: action.into(),
            response: response.map(String::from),
            data,
            timestamp: self.clock,
            hash: format!("hash-{}", self.clock),
        };
        self.requests = self.p.step(&c)?;
        Ok(())
    }

    pub fn ok(&mut self, actor: &str, action: &str, response: Option<&str>, data: Value) {
        self.act(actor, action, response, data)
            .unwrap_or_else(|e| panic!("{action} by {actor}: {e}"));
    }

    /// Carries out the one system request waiting, as the node would, with the given answer.
    pub fn system(&mut self, actor: &str, answer: Option<(&str, Value)>) {
        let request = self
            .requests
            .iter()
            .find(|r| !matches!(r, Request::Timer { .. }))
            .cloned()
            .expect("a system request");
        match request {
            Request::Nop {
                action,
                response,
                data,
                actor: by,
            } => {
                assert_eq!(by, actor);
                self.ok(actor, &action, Some(&response), data);
            }
            Request::Http {
                action, actor: by, ..
            } => {
                assert_eq!(by, actor);
                let (key, data) = answer.expect("an HTTP answer");
                self.ok(actor, &action, Some(key), data);
            }
            other => panic!("unexpected request {other:?}"),
        }
    }

    pub fn state(&self) -> &str {
        self.p.state()
    }

    pub fn refs(&self) -> Vec<String> {
        self.p
            .previous()
            .iter()
            .map(|r| {
                format!(
                    "{}.{}",
                    r["action"].as_str().unwrap(),
                    r["key"].as_str().unwrap()
                )
            })
            .collect()
    }

    pub fn next(&self) -> Vec<String> {
        self.p
            .next()
            .iter()
            .map(|n| n["key"].as_str().unwrap().to_string())
            .collect()
    }

    pub fn last(&self) -> &Value {
        self.p.previous().last().expect("a response")
    }

    pub fn actor(&self, key: &str) -> &Value {
        &self.p.doc()["actors"][key]
    }

    pub fn default_action(&self) -> Option<String> {
        self.p
            .open_actions()
            .unwrap()
            .into_iter()
            .next()
            .map(|(a, _)| a)
    }
}

/// Reads and starts an example scenario from `examples/scenarios`.
pub fn example(file: &str) -> Run {
    let path = format!(
        "{}/../../examples/scenarios/{file}",
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("example exists");
    let format = accord_scenario::Format::from_path(file).expect("known extension");
    let doc = accord_scenario::doc::parse(&text, format).expect("example reads");
    start(doc)
}

/// 64 hex characters: a SHA-256 in hex.
pub fn sha(seed: &str) -> String {
    accord_crypto::hash::sha256(seed.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
