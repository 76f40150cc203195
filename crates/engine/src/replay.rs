//! Replaying a process's chain: events in, projection out.
//!
//! Each event's JSON body says what it is by its `$schema` (Live Contracts v0.2.0): a scenario,
//! an identity, the process start, a response, or a comment. The projection is a pure function
//! of the events, in order, so every node that holds the same events holds the same bytes.
//! A response the scenario forbids is kept in the chain (the node answers it with an error
//! event) but changes nothing here.

use std::sync::Arc;

use serde_json::Value;

use crate::process::{Assigned, Candidate, Compiled, Identity, Process, Rejection, Start};

/// What kind of document an event carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A scenario.
    Scenario,
    /// An identity: added, updated, or removed (keys cleared).
    Identity,
    /// The process starts.
    Process,
    /// A response to an action.
    Response,
    /// A comment.
    Comment,
    /// A deviation proposed (Accord's `urn:accord:v1:deviation`).
    Deviation,
    /// A deviation accepted (Accord's `urn:accord:v1:deviation-acceptance`).
    Acceptance,
    /// A node's answer to events the process refused (`…/error/schema.json#`): it lists the
    /// refused events and why, and changes nothing.
    Error,
}

impl Kind {
    /// The kind named by a `$schema`.
    pub fn of(schema: &str) -> Option<Kind> {
        match schema {
            crate::deviation::DEVIATION_SCHEMA => return Some(Kind::Deviation),
            crate::deviation::ACCEPTANCE_SCHEMA => return Some(Kind::Acceptance),
            _ => {}
        }
        // Any version names the kind, as the reference reads `$schema`s.
        let (_, kind) = accord_scenario::model::livecontracts_schema(schema)?;
        Some(match kind {
            "scenario" => Kind::Scenario,
            "identity" => Kind::Identity,
            "process" => Kind::Process,
            "response" => Kind::Response,
            "comment" => Kind::Comment,
            "error" => Kind::Error,
            _ => return None,
        })
    }
}

/// Whether an event body may enter a chain's replay: I-JSON (numbers every JSON reader reads
/// alike), and nested so that the projection stays within what JSON readers read back. A
/// scenario's content sits no deeper in a projection than in its event (`definitions`), so it
/// may nest as deep as any document; every other body's data lands two levels deeper (a
/// response's `data` at `previous/n/data`), so those nest two levels less. The node checks
/// the events it counts on with this too.
pub fn check_body(body: &Value) -> Result<(), String> {
    use accord_scenario::doc::{MAX_DEPTH, check_i_json_within};
    let schema = body.get("$schema").and_then(Value::as_str).unwrap_or("");
    let max = if Kind::of(schema) == Some(Kind::Scenario) {
        MAX_DEPTH
    } else {
        MAX_DEPTH - 2
    };
    check_i_json_within(body, max)
}

/// One event, as the replay needs it.
#[derive(Clone, Copy, Debug)]
pub struct EventIn<'a> {
    /// Its hash (base58).
    pub hash: &'a str,
    /// Its timestamp, milliseconds since the epoch.
    pub timestamp: u64,
    /// The signer's public key (base58).
    pub signer: &'a str,
    /// The JSON body.
    pub body: &'a Value,
}

/// What an event did.
#[derive(Debug)]
pub enum Applied {
    /// A scenario was added.
    Scenario(String),
    /// An identity was added or changed.
    Identity(String),
    /// The process started; the node is asked for this work.
    Started(Moved),
    /// A response moved a process; the node is asked for this work.
    Stepped(Moved),
    /// A comment was logged.
    Comment,
    /// A node's error event: recorded on the chain, inert for the process.
    Error,
    /// A deviation was proposed or accepted; `true` when it is now in force.
    Deviation(bool),
    /// The event was refused; nothing changed.
    Rejected(Refusal),
}

/// Which process an event moved, and what it asks of whom.
#[derive(Debug)]
pub struct Moved {
    /// The process's id (a main process or a sub-process on the chain).
    pub process: String,
    /// The work it asks for, each with who must carry it out.
    pub requests: Vec<Assigned>,
}

/// Why an event changed nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The body is not a Live Contracts document Accord handles.
    #[error("the event body is not a scenario, identity, process, response or comment: {0}")]
    UnknownKind(String),
    /// The scenario has errors.
    #[error("the scenario has errors: {0}")]
    BadScenario(String),
    /// A field is missing or has the wrong type.
    #[error("{0}")]
    Malformed(String),
    /// The process has not started (or started already).
    #[error("{0}")]
    Order(String),
    /// An identity may be changed only with one of its own keys, and never its id.
    #[error("identity `{id}` may be changed only by a key it holds")]
    NotOwnIdentity {
        /// The identity.
        id: String,
    },
    /// An identity lists a sign key that another identity on the chain holds.
    #[error("sign key {key} is held by identity `{holder}` already; a key belongs to one identity")]
    KeyInUse {
        /// The key.
        key: String,
        /// The identity that holds it.
        holder: String,
    },
    /// The scenario refused the response.
    #[error(transparent)]
    Response(#[from] Rejection),
    /// A deviation or its acceptance was refused.
    #[error("{0}")]
    Deviation(String),
}

/// A process being replayed.
#[derive(Default)]
pub struct Replay {
    scenarios: Vec<(String, Arc<Compiled>)>,
    identities: Vec<Identity>,
    /// The processes on the chain: the first is the main one, the others its sub-processes.
    processes: Vec<Process>,
    chain: Option<String>,
}

fn text(body: &Value, field: &str) -> Result<String, Refusal> {
    match body.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(Refusal::Malformed(format!("`{field}` must be text"))),
        None => Err(Refusal::Malformed(format!("`{field}` is missing"))),
    }
}

fn identity_of(body: &Value) -> Result<Identity, Refusal> {
    Identity::from_json(body).map_err(Refusal::Malformed)
}

/// Takes an identity event (its JSON `body`, signed by `signer`) into a chain's `identities`
/// as a replay does: a new id is added, a known one replaced, or, when the process refuses the
/// event, nothing changes and the refusal says why. The node's pipeline uses it to follow, before
/// it places a submission, which keys hold an identity after each of its events, so that only
/// identities the process takes let their keys sign what follows. (A replay also checks the body
/// is I-JSON first, for every kind of event.)
pub fn take_identity(
    identities: &mut Vec<Identity>,
    body: &Value,
    signer: &str,
) -> Result<Identity, Refusal> {
    let new = identity_of(body)?;
    // A key signs for one identity only: otherwise another party's responses would be booked
    // to whoever listed its key.
    for (_, key) in &new.signkeys {
        if let Some(holder) = identities.iter().find(|i| i.id != new.id && i.has_key(key)) {
            return Err(Refusal::KeyInUse {
                key: key.clone(),
                holder: holder.id.clone(),
            });
        }
    }
    match identities.iter().position(|i| i.id == new.id) {
        Some(i) => {
            // An identity changes itself: the signer must hold one of its keys now. (An
            // invitee signs with the one-time key it was given, replacing it.)
            if !identities[i].has_key(signer) {
                return Err(Refusal::NotOwnIdentity { id: new.id });
            }
            identities[i] = new.clone();
        }
        None => identities.push(new.clone()),
    }
    Ok(new)
}

impl Replay {
    /// An empty replay for a chain.
    pub fn new(chain: Option<String>) -> Replay {
        Replay {
            chain,
            ..Replay::default()
        }
    }

    /// Adds a scenario that is known from elsewhere (not carried on this chain).
    pub fn add_scenario(&mut self, id: String, compiled: Arc<Compiled>) {
        self.scenarios.retain(|(i, _)| *i != id);
        self.scenarios.push((id, compiled));
    }

    /// The main process, once started.
    pub fn process(&self) -> Option<&Process> {
        self.processes.first()
    }

    /// Every process on the chain: the main one first, then sub-processes in start order.
    pub fn processes(&self) -> &[Process] {
        &self.processes
    }

    /// The identities known on the chain.
    pub fn identities(&self) -> &[Identity] {
        &self.identities
    }

    /// A process by id.
    pub fn process_by_id(&self, id: &str) -> Option<&Process> {
        self.processes
            .iter()
            .find(|p| p.doc().get("id").and_then(Value::as_str) == Some(id))
    }

    /// The main process's projection, with a summary of its sub-processes.
    pub fn to_json(&self) -> Option<Value> {
        let main = self.processes.first()?;
        let mut v = main.to_json();
        v["subprocesses"] = Value::Array(self.summaries());
        Some(v)
    }

    /// A summary of each sub-process: id, scenario, title (when it is text: an update may
    /// make it anything, and the summary sits two levels deeper than the sub-process's own)
    /// and state.
    fn summaries(&self) -> Vec<Value> {
        self.processes[1..]
            .iter()
            .map(|p| {
                let title = p.doc().get("title").filter(|t| t.is_string());
                serde_json::json!({"id": p.doc()["id"], "scenario": p.doc()["scenario"], "title": title, "state": p.state()})
            })
            .collect()
    }

    /// The main process's projection as canonical JSON, with a summary of its sub-processes:
    /// the same bytes as `canonical(&self.to_json()?)`, written without copying the document.
    pub fn to_canonical(&self) -> Option<Vec<u8>> {
        use crate::canonical::Layer;
        let main = self.processes.first()?;
        let mut layer = main.layer();
        if let Layer::Object { set, .. } = &mut layer {
            set.push(("subprocesses", Layer::Own(Value::Array(self.summaries()))));
        }
        Some(layer.to_canonical())
    }

    /// The process an event is for: its `process` field (an id, or an object with `id`), or
    /// the main process.
    fn target(&mut self, body: &Value) -> Result<&mut Process, Refusal> {
        let id = match body.get("process") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Object(m)) => m.get("id").and_then(Value::as_str).map(String::from),
            Some(_) => return Err(Refusal::Malformed("`process` must be a process id".into())),
        };
        match id {
            None => self
                .processes
                .first_mut()
                .ok_or_else(|| Refusal::Order("the process has not started".into())),
            Some(id) => self
                .processes
                .iter_mut()
                .find(|p| p.doc().get("id").and_then(Value::as_str) == Some(id.as_str()))
                .ok_or_else(|| Refusal::Order(format!("no process `{id}` on this chain"))),
        }
    }

    /// Applies one event. A refused event changes nothing and says why.
    pub fn apply(&mut self, e: EventIn) -> Applied {
        match self.try_apply(e) {
            Ok(a) => a,
            Err(r) => Applied::Rejected(r),
        }
    }

    fn try_apply(&mut self, e: EventIn) -> Result<Applied, Refusal> {
        // Projections are canonical JSON: a number JSON readers disagree on must not get in.
        // A body's data lands two levels deeper in the projection than in the body (a
        // response's `data` at `previous/n/data`), and the projection must stay within what
        // JSON readers read back.
        check_body(e.body).map_err(Refusal::Malformed)?;
        let schema = e.body.get("$schema").and_then(Value::as_str).unwrap_or("");
        let kind =
            Kind::of(schema).ok_or_else(|| Refusal::UnknownKind(format!("$schema {schema:?}")))?;
        match kind {
            Kind::Scenario => {
                // The verdict without its trial start: whether a chain's scenario is taken
                // may not depend on what a trial without data happens to evaluate.
                let verdict = crate::verdict::compile(e.body);
                let Some(compiled) = verdict.compiled.clone() else {
                    return Err(Refusal::BadScenario(verdict.errors()));
                };
                let id = compiled
                    .scenario
                    .id
                    .clone()
                    .unwrap_or_else(|| e.hash.to_string());
                self.add_scenario(id.clone(), compiled);
                Ok(Applied::Scenario(id))
            }
            Kind::Identity => {
                let new = take_identity(&mut self.identities, e.body, e.signer)?;
                for p in &mut self.processes {
                    p.set_identity(new.clone());
                }
                Ok(Applied::Identity(new.id))
            }
            Kind::Process => {
                // A second start on the chain is a sub-process of the main one: its own scenario
                // and state, the chain's identities.
                match (e.body.get("parent"), self.processes.first()) {
                    (None, Some(_)) => {
                        return Err(Refusal::Order(
                            "the process has started already; a sub-process names its `parent`"
                                .into(),
                        ));
                    }
                    (Some(_), None) => {
                        return Err(Refusal::Order(
                            "a sub-process before its parent process".into(),
                        ));
                    }
                    (Some(parent), Some(main)) => {
                        if parent.as_str() != main.doc().get("id").and_then(Value::as_str) {
                            return Err(Refusal::Order(
                                "a sub-process's `parent` must be the chain's main process".into(),
                            ));
                        }
                        let id = text(e.body, "id")?;
                        if self.process_by_id(&id).is_some() {
                            return Err(Refusal::Order(format!(
                                "a process `{id}` is on this chain already"
                            )));
                        }
                    }
                    (None, None) => {}
                }
                let scenario_id = match e.body.get("scenario") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Object(m)) => m
                        .get("id")
                        .and_then(Value::as_str)
                        .map(String::from)
                        .ok_or_else(|| Refusal::Malformed("`scenario.id` is missing".into()))?,
                    _ => {
                        return Err(Refusal::Malformed(
                            "`scenario` must name the scenario's id".into(),
                        ));
                    }
                };
                let compiled = self
                    .scenarios
                    .iter()
                    .find(|(i, _)| *i == scenario_id)
                    .map(|(_, c)| c.clone())
                    .ok_or_else(|| {
                        Refusal::Order(format!(
                            "scenario `{scenario_id}` is not known on this chain"
                        ))
                    })?;
                let mut start = Start {
                    id: text(e.body, "id").unwrap_or_else(|_| e.hash.to_string()),
                    chain: self.chain.clone(),
                    title: e
                        .body
                        .get("title")
                        .and_then(Value::as_str)
                        .map(String::from),
                    timestamp: e.timestamp,
                    ..Start::default()
                };
                if let Some(Value::Object(actors)) = e.body.get("actors") {
                    for (key, a) in actors {
                        let (identity_id, data) = match a {
                            Value::String(id) => (Some(id.clone()), None),
                            Value::Object(m) => (
                                match m.get("identity") {
                                    Some(Value::String(id)) => Some(id.clone()),
                                    Some(Value::Object(i)) => {
                                        i.get("id").and_then(Value::as_str).map(String::from)
                                    }
                                    _ => None,
                                },
                                Some(a.clone()),
                            ),
                            _ => {
                                return Err(Refusal::Malformed(format!(
                                    "`actors.{key}` must be an identity id or an object"
                                )));
                            }
                        };
                        if let Some(id) = identity_id {
                            let identity = self
                                .identities
                                .iter()
                                .find(|i| i.id == id)
                                .cloned()
                                .ok_or_else(|| Refusal::Order(format!("identity `{id}` for actor `{key}` is not known on this chain")))?;
                            start.actors.push((key.clone(), identity));
                        }
                        if let Some(d) = data {
                            start.actor_data.push((key.clone(), d));
                        }
                    }
                }
                let (p, requests) = Process::start(compiled, start)?;
                let moved = Moved {
                    process: p.id().to_string(),
                    requests: p.assign(requests),
                };
                self.processes.push(p);
                Ok(Applied::Started(moved))
            }
            Kind::Response => {
                let p = self.target(e.body)?;
                let action = match e.body.get("action") {
                    Some(Value::String(a)) => a.clone(),
                    Some(Value::Object(m)) => m
                        .get("key")
                        .and_then(Value::as_str)
                        .map(String::from)
                        .ok_or_else(|| Refusal::Malformed("`action.key` is missing".into()))?,
                    _ => return Err(Refusal::Malformed("`action` is missing".into())),
                };
                let response = match e.body.get("key") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(k)) => Some(k.clone()),
                    Some(_) => return Err(Refusal::Malformed("`key` must be text".into())),
                };
                let c = Candidate {
                    signer: e.signer.to_string(),
                    action,
                    response,
                    data: e.body.get("data").cloned().unwrap_or(Value::Null),
                    timestamp: e.timestamp,
                    hash: e.hash.to_string(),
                };
                let requests = p.step(&c)?;
                Ok(Applied::Stepped(Moved {
                    process: p.id().to_string(),
                    requests: p.assign(requests),
                }))
            }
            Kind::Deviation | Kind::Acceptance => {
                let update = if kind == Kind::Deviation {
                    match e.body.get("update") {
                        None | Some(Value::Null) => None,
                        Some(Value::String(id)) => Some(
                            self.scenarios
                                .iter()
                                .find(|(i, _)| i == id)
                                .map(|(_, c)| c.clone())
                                .ok_or_else(|| {
                                    Refusal::Deviation(format!(
                                        "the updated scenario `{id}` is not known on this chain"
                                    ))
                                })?,
                        ),
                        Some(_) => {
                            return Err(Refusal::Malformed(
                                "`update` must be a scenario id".into(),
                            ));
                        }
                    }
                } else {
                    None
                };
                let p = self.target(e.body)?;
                if kind == Kind::Deviation {
                    p.propose(e.signer, e.body, update)
                        .map_err(Refusal::Deviation)?;
                } else {
                    let id = text(e.body, "deviation")?;
                    p.accept(e.signer, &id).map_err(Refusal::Deviation)?;
                }
                Ok(Applied::Deviation(p.deviations().any(|d| d.in_force)))
            }
            Kind::Comment => {
                let p = self.target(e.body)?;
                let body = e
                    .body
                    .get("text")
                    .or_else(|| e.body.get("message"))
                    .or_else(|| e.body.get("content"))
                    .cloned()
                    .unwrap_or(Value::Null);
                p.comment(e.signer, body, e.timestamp, e.hash);
                Ok(Applied::Comment)
            }
            Kind::Error => Ok(Applied::Error),
        }
    }
}
