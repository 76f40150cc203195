//! `accord scenario run`: a process driven locally, on a real signed event chain.
//!
//! Every actor gets a key pair derived from its name (so runs are reproducible) and an identity
//! bound to it. The chain holds, in order: the scenario, one identity per actor and the process
//! start, all signed by a local "node" key; then one event per step, signed by the acting
//! actor's key. Each event is replayed through the engine as a node would.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use accord_chain::{ChainId, Draft, Nonce, VerifiedChain, Version, event::show_hash};
use accord_crypto::KeyPair;
use accord_engine::{Applied, EventIn, Replay, Request};
use accord_scenario::doc;
use accord_scenario::model::IsoDuration;

use crate::Outcome;
use crate::io::write_output;
use crate::load::{format_of, load_checked, read_text};

use accord_engine::bodies::LC as V;
/// 2026-01-01T00:00:00Z: runs start at a fixed time, so they are reproducible.
const EPOCH_MS: u64 = 1_767_225_600_000;

struct Step {
    actor: Option<String>,
    action: Option<String>,
    response: Option<String>,
    data: Value,
    comment: Option<Value>,
    deviation: Option<Value>,
    accept: Option<String>,
    process: Option<String>,
    wait: Option<IsoDuration>,
    expect: Option<String>,
    reject: bool,
}

fn parse_steps(value: &Value) -> Result<Vec<Step>> {
    let items = match value {
        Value::Array(a) => a,
        Value::Object(m) if m.get("steps").is_some_and(Value::is_array) => {
            m["steps"].as_array().expect("checked")
        }
        _ => bail!("the steps file must be a list of steps (or an object with a `steps` list)"),
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = |what: &str| format!("step {} ({what})", i + 1);
        let Value::Object(m) = item else {
            bail!("{}: each step is an object", at("not an object"));
        };
        for k in m.keys() {
            if ![
                "actor",
                "action",
                "response",
                "data",
                "comment",
                "wait",
                "expect",
                "reject",
                "deviation",
                "accept",
                "process",
            ]
            .contains(&k.as_str())
            {
                bail!("{}: unknown field `{k}`", at("fields"));
            }
        }
        let text = |k: &str| -> Result<Option<String>> {
            match m.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => bail!("{}: `{k}` must be text", at(k)),
            }
        };
        let wait = match text("wait")? {
            Some(w) => {
                Some(IsoDuration::parse(&w).map_err(|e| anyhow::anyhow!("{}: {e}", at("wait")))?)
            }
            None => None,
        };
        let step = Step {
            actor: text("actor")?,
            action: text("action")?,
            response: text("response")?,
            data: m.get("data").cloned().unwrap_or(Value::Null),
            comment: m.get("comment").cloned(),
            deviation: m.get("deviation").cloned(),
            accept: text("accept")?,
            process: text("process")?,
            wait,
            expect: text("expect")?,
            reject: m.get("reject").and_then(Value::as_bool).unwrap_or(false),
        };
        if step.wait.is_none() && step.actor.is_none() {
            bail!("{}: a step needs `actor` (or is a `wait`)", at("actor"));
        }
        if step.actor.is_some()
            && step.action.is_none()
            && step.comment.is_none()
            && step.deviation.is_none()
            && step.accept.is_none()
        {
            bail!(
                "{}: a step needs `action`, `comment`, `deviation` or `accept`",
                at("action")
            );
        }
        out.push(step);
    }
    Ok(out)
}

struct Local {
    chain: VerifiedChain,
    replay: Replay,
    clock: u64,
    json: bool,
}

impl Local {
    /// Signs an event onto the chain and replays it.
    fn emit(&mut self, body: &Value, keys: &KeyPair) -> Result<Applied> {
        self.clock += 1_000;
        let event = self
            .chain
            .sign_and_append(Draft::json(body), keys, self.clock)
            .context("cannot append to the local chain")?;
        let hash = show_hash(&event.hash());
        let signer = event.sign_key().to_base58();
        Ok(self.replay.apply(EventIn {
            hash: &hash,
            timestamp: self.clock,
            signer: &signer,
            body,
        }))
    }
}

fn keys_for(name: &str) -> KeyPair {
    KeyPair::from_seed_phrase(&format!("accord scenario run: {name}"), 0)
}

pub fn run(
    file: &Path,
    steps_file: &Path,
    json: bool,
    chain_out: Option<&Path>,
) -> Result<Outcome> {
    let (compiled, text, format) = load_checked(file)?;
    let scenario = &compiled.scenario;
    let steps_text = read_text(steps_file)?;
    let steps_value = doc::parse(&steps_text, format_of(steps_file, &steps_text, None))
        .map_err(|e| anyhow::anyhow!("{}: {e}", steps_file.display()))?;
    let steps =
        parse_steps(&steps_value).with_context(|| format!("in {}", steps_file.display()))?;

    let mut scenario_doc = doc::parse(&text, format).expect("checked above");
    let scenario_id = scenario
        .id
        .clone()
        .unwrap_or_else(|| "scenario".to_string());
    scenario_doc["id"] = Value::from(scenario_id.clone());
    // A scenario without `$schema` is a v0.2.0 one (the check warned): its event says so, as a
    // node's does (`events::scenario`).
    if scenario_doc.get("$schema").is_none() {
        scenario_doc["$schema"] = Value::from(accord_scenario::model::SCENARIO_SCHEMA);
    }
    let node = keys_for("node");
    let id = ChainId::new(
        Version::V2,
        b'T',
        node.public_key(),
        &Nonce::from_text(&scenario_id),
    );
    let mut local = Local {
        chain: VerifiedChain::new(id),
        replay: Replay::new(Some(id.to_base58())),
        clock: EPOCH_MS,
        json,
    };
    let refused = |what: &str, applied: &Applied| -> Result<()> {
        if let Applied::Rejected(r) = applied {
            bail!("the {what} was refused: {r}");
        }
        Ok(())
    };
    let a = local.emit(&scenario_doc, &node)?;
    refused("scenario", &a)?;
    let actors: Vec<String> = scenario.actors.keys().cloned().collect();
    let mut bindings = serde_json::Map::new();
    for actor in &actors {
        let keys = keys_for(actor);
        let identity = json!({
            "$schema": format!("{V}identity/schema.json#"),
            "id": format!("{actor}-identity"),
            "signkeys": {"user": keys.public_key().to_base58()},
            "encryptkey": null,
        });
        let a = local.emit(&identity, &node)?;
        refused("identity", &a)?;
        bindings.insert(actor.clone(), Value::from(format!("{actor}-identity")));
        if !json {
            outln!("actor {actor}: key {}", keys.public_key().to_base58());
        }
    }
    let start = json!({
        "$schema": format!("{V}process/schema.json#"),
        "id": format!("{}-process", scenario_id),
        "scenario": scenario_id,
        "actors": bindings,
    });
    let applied = local.emit(&start, &node)?;
    let mut requests = match applied {
        Applied::Started(moved) => requests_of(moved),
        Applied::Rejected(why) => bail!("the process did not start: {why}"),
        other => bail!("the process did not start: {other:?}"),
    };
    show(&local, "start", &requests);
    let mut failed = false;
    for (i, step) in steps.iter().enumerate() {
        let n = i + 1;
        if let Some(w) = step.wait {
            local.clock = accord_engine::process::add_duration(local.clock, w);
            if !json {
                outln!("step {n}: wait until {} ms", local.clock);
            }
            if step.actor.is_none() {
                continue;
            }
        }
        let actor = step.actor.clone().expect("checked when parsed");
        let keys = keys_for(&actor);
        let (mut body, what) = if let Some(c) = &step.comment {
            (
                json!({"$schema": format!("{V}comment/schema.json#"), "text": c}),
                format!("{actor} comments"),
            )
        } else if let Some(d) = &step.deviation {
            let mut d = d.clone();
            if d.is_object() {
                d["$schema"] = Value::from(accord_engine::deviation::DEVIATION_SCHEMA);
            }
            let id = d
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string();
            (d, format!("{actor} proposes deviation {id}"))
        } else if let Some(id) = &step.accept {
            (
                json!({"$schema": accord_engine::deviation::ACCEPTANCE_SCHEMA, "deviation": id}),
                format!("{actor} accepts deviation {id}"),
            )
        } else {
            let action = step.action.clone().expect("checked when parsed");
            let mut b = json!({"$schema": format!("{V}response/schema.json#"), "action": action, "data": step.data});
            if let Some(r) = &step.response {
                b["key"] = Value::from(r.clone());
            }
            let what = format!(
                "{actor}: {action}{}",
                step.response
                    .as_deref()
                    .map(|r| format!(".{r}"))
                    .unwrap_or_default()
            );
            (b, what)
        };
        if let (Some(p), Some(obj)) = (&step.process, body.as_object_mut()) {
            obj.insert("process".into(), Value::from(p.clone()));
        }
        let applied = local.emit(&body, &keys)?;
        match applied {
            Applied::Rejected(r) => {
                if !json {
                    outln!("step {n}: {what} → refused: {r}");
                }
                if !step.reject {
                    failed = true;
                }
            }
            Applied::Stepped(r) => {
                if step.reject {
                    outln!(
                        "step {n}: {what} was accepted, but the steps expected it to be refused"
                    );
                    failed = true;
                }
                requests = requests_of(r);
                show(&local, &format!("step {n}: {what}"), &requests);
                // Nop system actions run by themselves, as the node holding the key would.
                while let Some(Request::Nop {
                    action,
                    actor,
                    response,
                    data,
                }) = requests
                    .iter()
                    .find(|r| matches!(r, Request::Nop { .. }))
                    .cloned()
                {
                    let body = json!({"$schema": format!("{V}response/schema.json#"), "action": action, "key": response, "data": data});
                    match local.emit(&body, &keys_for(&actor))? {
                        Applied::Stepped(r) => {
                            requests = requests_of(r);
                            show(
                                &local,
                                &format!("        {actor}: {action}.{response} (system)"),
                                &requests,
                            );
                        }
                        other => {
                            outln!("        the system action {action} was refused: {other:?}");
                            failed = true;
                            break;
                        }
                    }
                }
            }
            _ => show(&local, &format!("step {n}: {what}"), &[]),
        }
        if let Some(expected) = &step.expect {
            let state = local
                .replay
                .process()
                .map(|p| p.state().to_string())
                .unwrap_or_default();
            if &state != expected {
                outln!("step {n}: expected state {expected}, but the process is in {state}");
                failed = true;
            }
        }
    }
    if let Some(path) = chain_out {
        let text = local.chain.to_json();
        write_output(path, text.as_bytes())?;
    }
    Ok(if failed {
        Outcome::Invalid
    } else {
        Outcome::Success
    })
}

/// The requests a step made, without who carries them out (here, this run does them all).
fn requests_of(moved: accord_engine::replay::Moved) -> Vec<Request> {
    moved.requests.into_iter().map(|a| a.request).collect()
}

fn show(local: &Local, label: &str, requests: &[Request]) {
    let Some(p) = local.replay.process() else {
        return;
    };
    if local.json {
        outln!("{}", String::from_utf8_lossy(&p.to_canonical()));
        return;
    }
    let open: Vec<String> = p
        .open_actions()
        .unwrap_or_default()
        .into_iter()
        .map(|(a, actors)| format!("{a} ({})", actors.join(", ")))
        .collect();
    outln!("{label} → {}", p.state());
    if !open.is_empty() {
        outln!("    open: {}", open.join("; "));
    }
    for r in requests {
        match r {
            Request::Http {
                action,
                method,
                url,
                ..
            } => outln!("    the node would call {method} {url} for {action}"),
            Request::Event { action, .. } => outln!("    the node would add events for {action}"),
            Request::Timer { state, due } => outln!("    {state} times out at {due} ms"),
            Request::Broken { action, reason, .. } => {
                outln!("    the system action {action} cannot run: {reason}")
            }
            Request::Nop { .. } => {}
        }
    }
}
