//! A running process: its projection, and the step function that moves it.

use std::sync::Arc;

use accord_scenario::instr::{self, EvalError, Instruction, Scope};
use accord_scenario::model::{self, Action, Scenario, State, Trigger};
use accord_scenario::{Diagnostic, Pointer, Severity};
use serde_json::{Map, Value, json};

use crate::deviation::{self, Deviation, UPDATE_PREFIX};
use crate::patch::{self, PatchError};
use crate::schema::Schema;

pub use crate::bodies::{PROCESS_SCHEMA, RESPONSE_SCHEMA};

/// A scenario made ready to run: its schemas compiled.
#[derive(Debug)]
pub struct Compiled {
    /// The scenario.
    pub scenario: Scenario,
    actors: Vec<(String, Schema)>,
    assets: Vec<(String, Schema)>,
    /// The actors and assets a new process starts with (built once from the schemas).
    initial_actors: Map<String, Value>,
    initial_assets: Map<String, Value>,
    /// Whether any instruction may read `previous` (the history); when none does, the history
    /// is left out of what instructions see, so a step's cost does not grow with it.
    reads_history: bool,
}

impl Compiled {
    /// Compiles the actor and asset schemas; the errors point at the schema and say why
    /// (`bad-schema`: it cannot be used; `default-breaks-schema`: the start value it gives
    /// breaks it).
    pub fn new(scenario: Scenario) -> Result<Compiled, Vec<Diagnostic>> {
        let mut errors = Vec::new();
        let compile =
            |kind: &str, set: &indexmap::IndexMap<String, Value>, errors: &mut Vec<Diagnostic>| {
                let owns: &'static [&'static str] = if kind == "actors" {
                    &["key", "identity"]
                } else {
                    &["key"]
                };
                let mut out = Vec::new();
                for (k, s) in set {
                    match Schema::compile(s, owns) {
                        Ok(c) => out.push((k.clone(), c)),
                        Err(e) => errors.push(Diagnostic {
                            severity: Severity::Error,
                            pointer: Pointer::root().join(kind).join(k).to_string(),
                            code: "bad-schema",
                            message: e,
                        }),
                    }
                }
                out
            };
        let actors = compile("actors", &scenario.actors, &mut errors);
        let assets = compile("assets", &scenario.assets, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        let reads_history = scenario.source.to_string().contains("previous");
        let mut initial_actors = Map::new();
        for (key, schema) in &actors {
            let mut a = schema.initial();
            let m = obj(&mut a);
            m.insert("key".into(), Value::from(key.clone()));
            if let Some(t) = schema.title() {
                m.insert("title".into(), Value::from(t));
            }
            m.insert("identity".into(), Value::Null);
            if let Some((pointer, message)) = schema.problems(&a).into_iter().next() {
                errors.push(Diagnostic {
                    severity: Severity::Error,
                    pointer: Pointer::root().join("actors").join(key).to_string(),
                    code: "default-breaks-schema",
                    message: format!(
                        "the value a process starts with breaks this schema at {pointer}: {message}"
                    ),
                });
            }
            initial_actors.insert(key.clone(), a);
        }
        let mut initial_assets = Map::new();
        for (key, schema) in &assets {
            let mut a = schema.initial();
            let m = obj(&mut a);
            m.insert("key".into(), Value::from(key.clone()));
            if let Some(t) = schema.title() {
                m.insert("title".into(), Value::from(t));
            }
            if let Some(d) = schema.description() {
                m.insert("description".into(), Value::from(d));
            }
            if let Some((pointer, message)) = schema.problems(&a).into_iter().next() {
                errors.push(Diagnostic {
                    severity: Severity::Error,
                    pointer: Pointer::root().join("assets").join(key).to_string(),
                    code: "default-breaks-schema",
                    message: format!(
                        "the value a process starts with breaks this schema at {pointer}: {message}"
                    ),
                });
            }
            initial_assets.insert(key.clone(), a);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Compiled {
            scenario,
            actors,
            assets,
            initial_actors,
            initial_assets,
            reads_history,
        })
    }

    fn actor_schema(&self, key: &str) -> Option<&Schema> {
        self.actors.iter().find(|(k, _)| k == key).map(|(_, s)| s)
    }

    fn asset_schema(&self, key: &str) -> Option<&Schema> {
        self.assets.iter().find(|(k, _)| k == key).map(|(_, s)| s)
    }
}

/// An identity as a process knows it (whitepaper "Identities").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Its id; it never changes.
    pub id: String,
    /// The URL or key of the node that holds it.
    pub node: Option<String>,
    /// Sign keys by role (`user`, `system`), base58 public keys.
    pub signkeys: Vec<(String, String)>,
    /// Its X25519 encryption key, base58.
    pub encryptkey: Option<String>,
}

impl Identity {
    /// The identity as JSON.
    pub fn to_json(&self) -> Value {
        let mut keys = Map::new();
        for (role, key) in &self.signkeys {
            keys.insert(role.clone(), Value::from(key.clone()));
        }
        json!({"id": self.id, "node": self.node, "signkeys": keys, "encryptkey": self.encryptkey})
    }

    /// Whether `key` is one of its sign keys (any role, as the reference binds signers).
    pub fn has_key(&self, key: &str) -> bool {
        self.signkeys.iter().any(|(_, k)| k == key)
    }

    /// Its sign key for `role` (`user`, `system`, …).
    pub fn key(&self, role: &str) -> Option<&str> {
        self.signkeys
            .iter()
            .find(|(r, _)| r == role)
            .map(|(_, k)| k.as_str())
    }

    /// Its sign keys as a JSON object of keys by role.
    pub fn signkeys_json(&self) -> Value {
        Value::Object(
            self.signkeys
                .iter()
                .map(|(role, key)| (role.clone(), Value::from(key.clone())))
                .collect(),
        )
    }

    /// The sign keys an identity document names (`signkeys`: an object of base58 keys by
    /// role; a null key is no key), as (role, key) in the document's order.
    pub fn signkeys_of(body: &Value) -> Result<Vec<(String, String)>, String> {
        let mut signkeys = Vec::new();
        match body.get("signkeys") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (role, key) in m {
                    match key {
                        Value::String(k) => signkeys.push((role.clone(), k.clone())),
                        Value::Null => {}
                        _ => return Err(format!("`signkeys.{role}` must be a base58 public key")),
                    }
                }
            }
            Some(_) => return Err("`signkeys` must be an object of keys by role".into()),
        }
        Ok(signkeys)
    }

    /// Reads an identity document: `id` (text), `node` and `encryptkey` (text or null),
    /// `signkeys` (an object of base58 keys by role; a null key is no key). The one reader of
    /// identities, for identity events and for the identities a projection binds to actors.
    /// The error names the field that is wrong.
    pub fn from_json(body: &Value) -> Result<Identity, String> {
        let id = match body.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err("`id` must be text".into()),
            None => return Err("`id` is missing".into()),
        };
        let signkeys = Identity::signkeys_of(body)?;
        let text = |f: &str| -> Result<Option<String>, String> {
            match body.get(f) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(format!("`{f}` must be text")),
            }
        };
        Ok(Identity {
            id,
            node: text("node")?,
            signkeys,
            encryptkey: text("encryptkey")?,
        })
    }
}

/// The identity a projection `doc` binds to `actor` (`actors.<actor>.identity`), read as
/// [`Identity::from_json`] reads one; `None` when there is none, or it is not one.
pub fn actor_identity(doc: &Map<String, Value>, actor: &str) -> Option<Identity> {
    let identity = doc.get("actors")?.get(actor)?.get("identity")?;
    Identity::from_json(identity).ok()
}

/// The first actor by name, in a projection `doc`, whose identity has a `system` key.
pub fn first_system_actor(doc: &Map<String, Value>) -> Option<&str> {
    let Some(Value::Object(actors)) = doc.get("actors") else {
        return None;
    };
    let mut names: Vec<&String> = actors.keys().collect();
    names.sort();
    names
        .into_iter()
        .find(|a| actor_identity(doc, a).is_some_and(|i| i.key("system").is_some()))
        .map(String::as_str)
}

/// Who must carry out a [`Request`]: the actor it is done for, and the identity bound to it
/// (the node whose key is the identity's `system` key runs it).
#[derive(Clone, Debug, PartialEq)]
pub struct Carrier {
    /// The actor.
    pub actor: String,
    /// The identity bound to it when the request was made.
    pub identity: Identity,
}

/// A request and who must carry it out (`None`: no actor's identity is named for it, as for a
/// broken step whose action is not known).
#[derive(Clone, Debug, PartialEq)]
pub struct Assigned {
    /// The work.
    pub request: Request,
    /// Who carries it out.
    pub carrier: Option<Carrier>,
}

/// How a process starts.
#[derive(Clone, Debug, Default)]
pub struct Start {
    /// The process id.
    pub id: String,
    /// The event chain it lives on.
    pub chain: Option<String>,
    /// A title (the scenario's when absent).
    pub title: Option<String>,
    /// Identities bound to actor roles.
    pub actors: Vec<(String, Identity)>,
    /// Extra actor properties to set at the start, by actor key.
    pub actor_data: Vec<(String, Value)>,
    /// When it starts, in milliseconds since the epoch (the start event's timestamp).
    pub timestamp: u64,
}

/// A response someone wants to give.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// The signer's public key (base58).
    pub signer: String,
    /// The action.
    pub action: String,
    /// The response key; the action's default response when absent.
    pub response: Option<String>,
    /// The response data.
    pub data: Value,
    /// The event's timestamp, in milliseconds since the epoch.
    pub timestamp: u64,
    /// The event's hash, kept in the history.
    pub hash: String,
}

/// Why a response was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The scenario has no such action.
    #[error("the scenario has no action `{action}`")]
    UnknownAction {
        /// The action.
        action: String,
    },
    /// The action exists but is not open in the current state.
    #[error("action `{action}` is not open in state `{state}` (open: {})", open.join(", "))]
    NotOpen {
        /// The action.
        action: String,
        /// The current state.
        state: String,
        /// The actions that are open.
        open: Vec<String>,
    },
    /// The action's condition is false (for every actor that could perform it).
    #[error("the condition of action `{action}` is false")]
    ConditionFalse {
        /// The action.
        action: String,
    },
    /// The signer is not bound to any actor of the process.
    #[error("the signer {signer} is not bound to any actor of this process")]
    UnknownSigner {
        /// The signer's key.
        signer: String,
    },
    /// The signer is bound to actors, but none of them may perform the action now.
    #[error("the signer is {}, and action `{action}` may be performed only by {}", actors.join(" or "), if allowed.is_empty() { "no one".to_string() } else { allowed.join(" or ") })]
    NotAllowed {
        /// The action.
        action: String,
        /// The actors the signer is bound to.
        actors: Vec<String>,
        /// The actors who may perform it now.
        allowed: Vec<String>,
    },
    /// `:timeout` before the state's due date (or in a state without one).
    #[error("state `{state}` is not due to time out at {timestamp} (due: {})", due.map(|d| d.to_string()).unwrap_or_else(|| "never".into()))]
    NotDue {
        /// The current state.
        state: String,
        /// The event's timestamp.
        timestamp: u64,
        /// The due date, if the state has one.
        due: Option<u64>,
    },
    /// The response key is not one of the action's.
    #[error("`{response}` is not a response of action `{action}` (it has {})", valid.join(", "))]
    InvalidResponse {
        /// The action.
        action: String,
        /// The response key given.
        response: String,
        /// The action's responses.
        valid: Vec<String>,
    },
    /// After the update, an actor or asset breaks its schema.
    #[error("the data does not fit the scenario's schema at {pointer}: {message}")]
    Schema {
        /// Where, as a JSON pointer into the process (`/actors/client/name`).
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// A data instruction failed.
    #[error("a data instruction failed at {0}")]
    Instruction(#[from] EvalError),
    /// An update could not be written.
    #[error(transparent)]
    Patch(#[from] PatchError),
    /// A transition leads to a state the scenario does not have.
    #[error("the transition leads to `{0}`, which is not a state of the scenario")]
    UnknownState(String),
    /// An update would change what the engine derives identity or state from: an actor's
    /// `identity` or `key`, or `current.key` / `current.due_date`.
    #[error("`{path}` is read-only: an update may not change it")]
    ReadOnly {
        /// What it tried to change, as a dot path (`actors.client.identity`).
        path: String,
    },
    /// A value would nest the process deeper than JSON readers read (an update's, or an
    /// instruction's result where a state is entered).
    #[error(
        "`{path}` would nest the process in more than {} arrays and objects",
        accord_scenario::doc::MAX_DEPTH
    )]
    TooDeep {
        /// Where the value goes, as a dot path.
        path: String,
    },
}

/// Work the engine asks the node to do: it never does I/O itself.
///
/// A node stores it as is (serde, internally tagged by `kind`: `http`, `nop`, `event`,
/// `broken`, `timer`). Fields that rows written by earlier builds may lack read as empty.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Request {
    /// Make an HTTP call; its answer comes back as a response to `action`.
    Http {
        /// The action.
        action: String,
        /// The actor on whose behalf (its identity's system key signs the result).
        actor: String,
        /// The method.
        method: String,
        /// The URL.
        url: Value,
        /// Headers.
        #[serde(default)]
        headers: Value,
        /// The body.
        #[serde(default)]
        body: Value,
        /// The action's response keys that are HTTP status codes (three digits): an answer
        /// with one of these statuses is that response.
        #[serde(default)]
        statuses: Vec<String>,
    },
    /// Give a response at once.
    Nop {
        /// The action.
        action: String,
        /// The actor on whose behalf.
        actor: String,
        /// The response key.
        response: String,
        /// The response data.
        #[serde(default)]
        data: Value,
    },
    /// Add events to the chain, then respond.
    Event {
        /// The action.
        action: String,
        /// The actor on whose behalf.
        actor: String,
        /// The event bodies.
        body: Value,
    },
    /// A system action that cannot be carried out: its instructions failed. The node answers
    /// it with the action's error response.
    Broken {
        /// The action (empty when the state's conditions themselves failed).
        action: String,
        /// The actor who would have done it (empty when the action is not known).
        actor: String,
        /// What failed.
        reason: String,
    },
    /// A state's time-out: at `due` (ms), respond to the `:timeout` pseudo-action unless the
    /// process has left `state`.
    Timer {
        /// The state that times out.
        state: String,
        /// When, in milliseconds since the epoch.
        due: u64,
    },
}

/// A process: its projection, updated one response at a time.
#[derive(Clone, Debug)]
pub struct Process {
    /// The scenario in effect: the base, with the deviation in force laid over it.
    compiled: Arc<Compiled>,
    /// The process's own scenario (changed only by a scenario update).
    base: Arc<Compiled>,
    /// Deviations proposed and not yet gone, with the compiled scenario each updates to.
    deviations: Vec<(Deviation, Option<Arc<Compiled>>)>,
    /// The projection without the history.
    doc: Map<String, Value>,
    /// The responses so far (kept apart so a step never copies them).
    previous: Vec<Value>,
    /// Comments: logged, no transition.
    comments: Vec<Value>,
    identities: Vec<Identity>,
    /// (sign key, actor) for every key of every actor's identity: who a signer is.
    signers: Vec<(String, String)>,
}

/// Diagnostics as one line, `; ` between them.
pub(crate) fn join(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn obj(v: &mut Value) -> &mut Map<String, Value> {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    match v {
        Value::Object(m) => m,
        _ => unreachable!("made an object above"),
    }
}

impl Process {
    /// The process's id (its projection's `id`).
    pub fn id(&self) -> &str {
        self.doc
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The identity bound to `actor` now, as the projection holds it.
    pub fn actor_identity(&self, actor: &str) -> Option<Identity> {
        actor_identity(&self.doc, actor)
    }

    /// The first actor by name whose identity has a `system` key: its node runs the
    /// process's time-outs.
    pub fn first_system_actor(&self) -> Option<&str> {
        first_system_actor(&self.doc)
    }

    /// Who must carry out `request`: its actor's identity; for a time-out, the first actor's
    /// (by name) that has a `system` key; none for a broken step with no actor.
    pub fn carrier(&self, request: &Request) -> Option<Carrier> {
        let actor = match request {
            Request::Http { actor, .. }
            | Request::Nop { actor, .. }
            | Request::Event { actor, .. }
            | Request::Broken { actor, .. } => actor.as_str(),
            Request::Timer { .. } => self.first_system_actor()?,
        };
        Some(Carrier {
            actor: actor.to_string(),
            identity: self.actor_identity(actor)?,
        })
    }

    /// Each request with who must carry it out.
    pub fn assign(&self, requests: Vec<Request>) -> Vec<Assigned> {
        requests
            .into_iter()
            .map(|request| Assigned {
                carrier: self.carrier(&request),
                request,
            })
            .collect()
    }

    /// Starts a process in the `initial` state.
    pub fn start(
        compiled: Arc<Compiled>,
        start: Start,
    ) -> Result<(Process, Vec<Request>), Rejection> {
        let s = &compiled.scenario;
        let mut actors = compiled.initial_actors.clone();
        let mut identities = Vec::new();
        for (key, identity) in &start.actors {
            if let Some(Value::Object(a)) = actors.get_mut(key) {
                a.insert("identity".into(), identity.to_json());
            }
            if !identities.iter().any(|i: &Identity| i.id == identity.id) {
                identities.push(identity.clone());
            }
        }
        for (key, data) in &start.actor_data {
            if let Some(Value::Object(a)) = actors.get_mut(key)
                && let Value::Object(d) = data
            {
                for (k, v) in d {
                    if k != "key" && k != "identity" {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        let assets = compiled.initial_assets.clone();
        let mut doc = Map::new();
        doc.insert("$schema".into(), Value::from(PROCESS_SCHEMA));
        doc.insert("id".into(), Value::from(start.id.clone()));
        doc.insert(
            "title".into(),
            start
                .title
                .clone()
                .or_else(|| s.title.clone())
                .map(Value::from)
                .unwrap_or(Value::Null),
        );
        doc.insert(
            "scenario".into(),
            s.id.clone().map(Value::from).unwrap_or(Value::Null),
        );
        doc.insert(
            "chain".into(),
            start.chain.clone().map(Value::from).unwrap_or(Value::Null),
        );
        doc.insert("actors".into(), Value::Object(actors));
        doc.insert("assets".into(), Value::Object(assets));
        doc.insert("definitions".into(), Value::Object(s.definitions.clone()));
        doc.insert("current".into(), Value::Null);
        let mut p = Process {
            base: compiled.clone(),
            compiled,
            deviations: Vec::new(),
            doc,
            previous: Vec::new(),
            comments: Vec::new(),
            identities,
            signers: Vec::new(),
        };
        p.reindex();
        for (key, _) in &start.actor_data {
            p.check_actor(key)?;
        }
        p.enter(model::INITIAL, start.timestamp, None, None)?;
        let requests = p.requests_here(None);
        Ok((p, requests))
    }

    /// The scenario this process follows.
    pub fn compiled(&self) -> &Arc<Compiled> {
        &self.compiled
    }

    /// The current state's key.
    pub fn state(&self) -> &str {
        self.doc
            .get("current")
            .and_then(|c| c.get("key"))
            .and_then(Value::as_str)
            .unwrap_or(model::INITIAL)
    }

    /// Whether the process is in a final state.
    pub fn is_finished(&self) -> bool {
        model::is_final(self.state())
    }

    /// The responses so far, oldest first.
    pub fn previous(&self) -> &[Value] {
        &self.previous
    }

    /// The identities the process knows.
    pub fn identities(&self) -> &[Identity] {
        &self.identities
    }

    /// The projection without the history or `next` (cheap to read).
    pub fn doc(&self) -> &Map<String, Value> {
        &self.doc
    }

    /// The actor of the last response: who brought the process here.
    fn current_actor(&self) -> Option<&str> {
        self.previous
            .last()
            .and_then(|r| r.get("actor"))
            .and_then(Value::as_str)
    }

    /// What instructions see: the projection, with `current.actor` as the actor itself.
    fn view(&self, actor: Option<&str>, response: Option<&Value>) -> Value {
        let mut m = Map::with_capacity(self.doc.len() + 1);
        for (k, v) in &self.doc {
            if k == "current" {
                continue;
            }
            m.insert(k.clone(), v.clone());
        }
        let mut current = self.doc.get("current").cloned().unwrap_or(Value::Null);
        let actor = actor.or(self.current_actor());
        let c = obj(&mut current);
        c.insert(
            "actor".into(),
            actor
                .and_then(|a| self.doc.get("actors").and_then(|x| x.get(a)))
                .cloned()
                .unwrap_or(Value::Null),
        );
        c.insert(
            "response".into(),
            response
                .or(self.previous.last())
                .cloned()
                .unwrap_or(Value::Null),
        );
        self.add_transitions(&mut current);
        m.insert("current".into(), current);
        if self.compiled.reads_history {
            m.insert("previous".into(), Value::Array(self.previous.clone()));
        }
        Value::Object(m)
    }

    fn eval(&self, i: &Instruction, view: &Value, target: &Value) -> Result<Value, Rejection> {
        Ok(instr::evaluate(i, &Scope::new(view, target))?)
    }

    /// Evaluates with a view built only if the instruction is more than a literal: most are
    /// literals, and a view copies the projection.
    fn eval_lazy(
        &self,
        i: &Instruction,
        view: &mut Option<Value>,
        actor: Option<&str>,
        response: Option<&Value>,
        target: &Value,
    ) -> Result<Value, Rejection> {
        if let Some(v) = i.as_literal() {
            return Ok(v.clone());
        }
        let view = view.get_or_insert_with(|| self.view(actor, response));
        self.eval(i, view, target)
    }

    /// The actions open now, each with the actors who may perform it (conditions evaluated;
    /// a condition that reads `current.actor` is evaluated for each actor in turn).
    pub fn open_actions(&self) -> Result<Vec<(String, Vec<String>)>, Rejection> {
        let s = &self.compiled.scenario;
        let Some(state) = s.states.get(self.state()) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for action in s.actions_in(state) {
            let actors = self.allowed_actors(action)?;
            if !actors.is_empty() {
                out.push((action.key.clone(), actors));
            }
        }
        Ok(out)
    }

    fn allowed_actors(&self, action: &Action) -> Result<Vec<String>, Rejection> {
        let Some(cond) = &action.condition else {
            return Ok(action.actors.clone());
        };
        let per_actor = action
            .source
            .get("condition")
            .is_some_and(|c| c.to_string().contains("current.actor"));
        if per_actor {
            let mut out = Vec::new();
            for a in &action.actors {
                let view = self.view(Some(a), None);
                if instr::truthy(&self.eval(cond, &view, &action.source)?) {
                    out.push(a.clone());
                }
            }
            Ok(out)
        } else {
            let v = self.eval_lazy(cond, &mut None, None, None, &action.source)?;
            Ok(if instr::truthy(&v) {
                action.actors.clone()
            } else {
                Vec::new()
            })
        }
    }

    /// The actors a key signs for: those whose identity holds it (in any role).
    pub fn actors_of(&self, signer: &str) -> Vec<String> {
        self.signers
            .iter()
            .filter(|(k, _)| k == signer)
            .map(|(_, a)| a.clone())
            .collect()
    }

    /// Rebuilds the signer index from the actors' identities.
    fn reindex(&mut self) {
        self.signers.clear();
        if let Some(Value::Object(actors)) = self.doc.get("actors") {
            for k in actors.keys() {
                if let Some(identity) = actor_identity(&self.doc, k) {
                    for (_, key) in identity.signkeys {
                        self.signers.push((key, k.clone()));
                    }
                }
            }
        }
    }

    /// Tries a response. On success the process moves and the node is told what to do next;
    /// on rejection the process is unchanged.
    pub fn step(&mut self, c: &Candidate) -> Result<Vec<Request>, Rejection> {
        if c.action == model::TIMEOUT {
            return self.time_out(c);
        }
        let compiled = self.compiled.clone();
        let s = &compiled.scenario;
        let Some(action) = s.actions.get(&c.action) else {
            return Err(Rejection::UnknownAction {
                action: c.action.clone(),
            });
        };
        let state_key = self.state().to_string();
        let state = s
            .states
            .get(&state_key)
            .ok_or_else(|| Rejection::UnknownState(state_key.clone()))?;
        if !s.actions_in(state).any(|a| a.key == action.key) {
            let open = self.open_actions()?.into_iter().map(|(a, _)| a).collect();
            return Err(Rejection::NotOpen {
                action: action.key.clone(),
                state: state_key,
                open,
            });
        }
        let allowed = self.allowed_actors(action)?;
        if allowed.is_empty() && action.condition.is_some() {
            return Err(Rejection::ConditionFalse {
                action: action.key.clone(),
            });
        }
        let bound = self.actors_of(&c.signer);
        if bound.is_empty() {
            return Err(Rejection::UnknownSigner {
                signer: c.signer.clone(),
            });
        }
        let Some(actor) = bound.iter().find(|a| allowed.contains(a)).cloned() else {
            return Err(Rejection::NotAllowed {
                action: action.key.clone(),
                actors: bound,
                allowed,
            });
        };
        let mut response = json!({
            "$schema": RESPONSE_SCHEMA,
            "action": action.key,
            "key": c.response.clone().unwrap_or_else(|| action.default_response.clone()),
            "actor": actor,
            "signkey": c.signer,
            "data": c.data,
            "timestamp": c.timestamp,
            "hash": c.hash,
        });
        let mut view = None;
        if let Some(det) = &action.determine_response
            && let Value::String(k) = self.eval_lazy(
                det,
                &mut view,
                Some(&actor),
                Some(&response),
                &action.source,
            )?
        {
            response["key"] = Value::from(k);
        }
        let key = response["key"].as_str().unwrap_or("ok").to_string();
        let Some(rdef) = action.responses.get(&key) else {
            return Err(Rejection::InvalidResponse {
                action: action.key.clone(),
                response: key,
                valid: action.responses.keys().cloned().collect(),
            });
        };

        // Updates are written in place; what they touch is saved first and put back if
        // anything fails, so a rejected response changes nothing.
        let mut values = Vec::with_capacity(rdef.update.len());
        for u in &rdef.update {
            values.push(match &u.data {
                Some(d) => {
                    self.eval_lazy(d, &mut view, Some(&actor), Some(&response), &action.source)?
                }
                None => c.data.clone(),
            });
        }
        drop(view);
        let mut undo = Undo::default();
        let result = self.apply_updates(&compiled, action, &key, &actor, rdef, values, &mut undo);
        if let Err(e) = result {
            undo.restore(&mut self.doc);
            self.reindex();
            return Err(e);
        }

        response["title"] = rdef.title.clone().map(Value::from).unwrap_or(Value::Null);
        response["display"] = Value::from(rdef.display.as_str());
        // Transitions see the updated process, with the response in `current`.
        let mut view = None;
        let mut target = None;
        for t in &state.transitions {
            if t.action.as_deref().is_some_and(|a| a != action.key)
                || t.response.as_deref().is_some_and(|r| r != key)
            {
                continue;
            }
            if let Some(cond) = &t.condition {
                match self.eval_lazy(cond, &mut view, Some(&actor), Some(&response), &Value::Null) {
                    Ok(v) if instr::truthy(&v) => {}
                    Ok(_) => continue,
                    Err(e) => {
                        undo.restore(&mut self.doc);
                        self.reindex();
                        return Err(e);
                    }
                }
            }
            target = Some(t.target.clone());
            break;
        }
        drop(view);
        match target {
            Some(t) if t != model::STAY => {
                // `enter` changes nothing when it fails; the updates are put back here.
                if let Err(e) = self.enter(&t, c.timestamp, Some(&actor), Some(&response)) {
                    undo.restore(&mut self.doc);
                    self.reindex();
                    return Err(e);
                }
                self.previous.push(response);
                Ok(self.requests_here(Some(&actor)))
            }
            _ => {
                self.previous.push(response);
                Ok(Vec::new())
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_updates(
        &mut self,
        compiled: &Compiled,
        action: &Action,
        key: &str,
        actor: &str,
        rdef: &model::ResponseDef,
        values: Vec<Value>,
        undo: &mut Undo,
    ) -> Result<(), Rejection> {
        let mut touched: Vec<(String, String)> = Vec::new();
        // What the engine derives identity and state from, as it is before the updates.
        let guarded = Guarded::of(&self.doc, rdef);
        let mut explicit: Vec<String> = Vec::new();
        for (u, value) in rdef.update.iter().zip(values) {
            let mut value = value;
            if let Some(p) = &u.projection {
                value = p.search(&value).map_err(|e| EvalError {
                    pointer: format!("/actions/{}/responses/{key}/update", action.key),
                    message: format!("the projection failed: {e}"),
                })?;
            }
            let mut path: Vec<String> = u.select.segments().to_vec();
            if path.len() >= 2 && path[0] == "current" && path[1] == "actor" {
                path.splice(0..2, ["actors".to_string(), actor.to_string()]);
            }
            // The document, then one array or object per step of the path (and the list, when
            // the value is appended to one), then the value's.
            let appended = usize::from(patch::appends(&self.doc, &path, u.patch));
            if path.len() + appended + accord_scenario::doc::nesting(&value)
                > accord_scenario::doc::MAX_DEPTH
            {
                return Err(Rejection::TooDeep {
                    path: path.join("."),
                });
            }
            explicit.extend(guarded_writes(&path, &value));
            undo.save(&self.doc, &path[0], path.get(1).map(String::as_str));
            patch::set(&mut self.doc, &path, value, u.patch)?;
            if path[0] == "actors" || path[0] == "assets" {
                // A whole collection written (`select: assets`): every entry in it is touched.
                let keys: Vec<String> = match (path.get(1), self.doc.get(&path[0])) {
                    (Some(k), _) => vec![k.clone()],
                    (None, Some(Value::Object(m))) => m.keys().cloned().collect(),
                    (None, _) => Vec::new(),
                };
                for k in keys {
                    let t = (path[0].clone(), k);
                    if !touched.contains(&t) {
                        touched.push(t);
                    }
                }
            }
        }
        guarded.keep(&mut self.doc, &explicit)?;
        if touched.iter().any(|(kind, _)| kind == "actors") {
            self.reindex();
        }
        for (kind, key) in &touched {
            let schema = if kind == "actors" {
                compiled.actor_schema(key)
            } else {
                compiled.asset_schema(key)
            };
            if let (Some(schema), Some(value)) =
                (schema, self.doc.get(kind).and_then(|m| m.get(key)))
                && let Some((pointer, message)) = schema.problems(value).into_iter().next()
            {
                return Err(Rejection::Schema {
                    pointer: format!("{}{pointer}", Pointer::root().join(kind).join(key)),
                    message,
                });
            }
        }
        Ok(())
    }

    /// The `:timeout` pseudo-action: accepted once the state is due, from any party's key; it
    /// follows the state's transitions that name `:timeout`, or stays.
    fn time_out(&mut self, c: &Candidate) -> Result<Vec<Request>, Rejection> {
        let compiled = self.compiled.clone();
        let state_key = self.state().to_string();
        let state = compiled
            .scenario
            .states
            .get(&state_key)
            .ok_or_else(|| Rejection::UnknownState(state_key.clone()))?;
        let due = self
            .doc
            .get("current")
            .and_then(|c| c.get("due_date"))
            .and_then(Value::as_u64);
        if due.is_none_or(|d| c.timestamp < d) {
            return Err(Rejection::NotDue {
                state: state_key,
                timestamp: c.timestamp,
                due,
            });
        }
        let bound = self.actors_of(&c.signer);
        let Some(actor) = bound.first().cloned() else {
            return Err(Rejection::UnknownSigner {
                signer: c.signer.clone(),
            });
        };
        let response = json!({
            "$schema": RESPONSE_SCHEMA,
            "action": model::TIMEOUT,
            "key": "ok",
            "actor": actor,
            "signkey": c.signer,
            "data": Value::Null,
            "timestamp": c.timestamp,
            "hash": c.hash,
            "title": "Timed out",
            "display": "always",
        });
        let view = self.view(Some(&actor), Some(&response));
        let mut target = None;
        for t in state
            .transitions
            .iter()
            .filter(|t| t.action.as_deref() == Some(model::TIMEOUT))
        {
            if let Some(cond) = &t.condition
                && !instr::truthy(&self.eval(cond, &view, &Value::Null)?)
            {
                continue;
            }
            target = Some(t.target.clone());
            break;
        }
        match target {
            Some(t) if t != model::STAY => {
                self.enter(&t, c.timestamp, Some(&actor), Some(&response))?;
                self.previous.push(response);
                Ok(self.requests_here(Some(&actor)))
            }
            _ => {
                self.previous.push(response);
                Ok(Vec::new())
            }
        }
    }

    /// Enters a state: evaluates what it shows, and asks for its system actions and timer.
    /// All or nothing: if anything fails, the process is as it was (deviations, scenario,
    /// actors and assets included).
    fn enter(
        &mut self,
        key: &str,
        timestamp: u64,
        actor: Option<&str>,
        response: Option<&Value>,
    ) -> Result<(), Rejection> {
        let saved = (
            self.compiled.clone(),
            self.base.clone(),
            self.deviations.clone(),
        );
        let mut undo = Undo::default();
        let result = self.enter_inner(key, timestamp, actor, response, &mut undo);
        if result.is_err() {
            (self.compiled, self.base, self.deviations) = saved;
            undo.restore(&mut self.doc);
            self.reindex();
        }
        result
    }

    fn enter_inner(
        &mut self,
        key: &str,
        timestamp: u64,
        actor: Option<&str>,
        response: Option<&Value>,
        undo: &mut Undo,
    ) -> Result<(), Rejection> {
        let key = self.settle_deviations(key, undo);
        let key = key.as_str();
        let compiled = self.compiled.clone();
        let s = &compiled.scenario;
        let state: &State = s
            .states
            .get(key)
            .ok_or_else(|| Rejection::UnknownState(key.to_string()))?;
        let mut view = None;
        let mut current = Map::new();
        current.insert("key".into(), Value::from(key));
        // What an instruction gives must keep the process within what JSON readers read back:
        // the process, `current`, (for instructions) their object, then the value's own arrays
        // and objects. A literal fits already, as the scenario itself does.
        let fits = |i: &Instruction, offset: usize, v: &Value| {
            matches!(i, Instruction::Literal(_))
                || offset + accord_scenario::doc::nesting(v) <= accord_scenario::doc::MAX_DEPTH
        };
        let too_deep = |path: String| Err(Rejection::TooDeep { path });
        let title = match &state.title {
            Some(t) => {
                let v = self.eval_lazy(t, &mut view, actor, response, &state.source)?;
                if !fits(t, 2, &v) {
                    return too_deep("current.title".into());
                }
                v
            }
            None => Value::Null,
        };
        current.insert("title".into(), title);
        let description = match &state.description {
            Some(t) => {
                let v = self.eval_lazy(t, &mut view, actor, response, &state.source)?;
                if !fits(t, 2, &v) {
                    return too_deep("current.description".into());
                }
                v
            }
            None => Value::Null,
        };
        current.insert("description".into(), description);
        let mut instructions = Map::new();
        for (a, i) in &state.instructions {
            let v = self.eval_lazy(i, &mut view, actor, response, &state.source)?;
            if !fits(i, 3, &v) {
                return too_deep(format!("current.instructions.{a}"));
            }
            instructions.insert(a.clone(), v);
        }
        drop(view);
        current.insert("instructions".into(), Value::Object(instructions));
        let due = state.timeout.map(|d| add_duration(timestamp, d));
        current.insert(
            "due_date".into(),
            due.map(Value::from).unwrap_or(Value::Null),
        );
        self.doc.insert("current".into(), Value::Object(current));
        Ok(())
    }

    /// Before entering `key`: a deviation in force that the process leaves is gone (the base
    /// scenario is back in effect), proposals not yet in force are dropped when the process
    /// leaves their state, and `:update:<state>` switches to the updated scenario. Returns the
    /// state to enter.
    fn settle_deviations(&mut self, key: &str, undo: &mut Undo) -> String {
        if self.deviations.is_empty() {
            return key.to_string();
        }
        let mut key = key.to_string();
        if let Some(rest) = key.strip_prefix(UPDATE_PREFIX).map(String::from) {
            if let Some(new) = self
                .deviations
                .iter()
                .find(|(d, _)| d.in_force)
                .and_then(|(_, u)| u.clone())
            {
                // Actors and assets the new scenario adds start from its schemas; data is kept.
                for top in ["actors", "assets", "scenario"] {
                    undo.save(&self.doc, top, None);
                }
                for (kind, initial) in [
                    ("actors", &new.initial_actors),
                    ("assets", &new.initial_assets),
                ] {
                    let set = obj(self.doc.entry(kind).or_insert(Value::Null));
                    for (k, v) in initial {
                        set.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
                self.doc.insert(
                    "scenario".into(),
                    new.scenario
                        .id
                        .clone()
                        .map(Value::from)
                        .unwrap_or(Value::Null),
                );
                self.base = new.clone();
                self.compiled = new;
                self.deviations.clear();
                self.reindex();
                key = rest;
            }
            return key;
        }
        let current = self.state().to_string();
        // Kept: a deviation the process is inside, and one not taken yet while the process
        // stays in its state. Returning to any state of the scenario ends it: it runs once.
        self.deviations.retain(|(d, _)| {
            (d.in_force && d.states().contains(&key)) || (key == d.from && current == d.from)
        });
        if !self.deviations.iter().any(|(d, _)| d.in_force)
            && !Arc::ptr_eq(&self.compiled, &self.base)
        {
            self.compiled = self.base.clone();
        }
        key
    }

    /// The identities that take part: those bound to an actor and holding a key.
    fn parties(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if let Some(Value::Object(actors)) = self.doc.get("actors") {
            for a in actors.keys() {
                if let Some(identity) = actor_identity(&self.doc, a)
                    && !identity.signkeys.is_empty()
                    && !out.contains(&identity.id)
                {
                    out.push(identity.id);
                }
            }
        }
        out
    }

    fn identity_of_signer(&self, signer: &str) -> Option<String> {
        let actor = self.actors_of(signer).into_iter().next()?;
        actor_identity(&self.doc, &actor).map(|identity| identity.id)
    }

    /// A party proposes a deviation from the current state (`update`: the compiled scenario a
    /// scenario update moves to). The proposer's acceptance is implied.
    pub fn propose(
        &mut self,
        signer: &str,
        body: &Value,
        update: Option<Arc<Compiled>>,
    ) -> Result<(), String> {
        let who = self
            .identity_of_signer(signer)
            .ok_or_else(|| format!("the signer {signer} is not a party to this process"))?;
        let id = body
            .get("id")
            .and_then(Value::as_str)
            .ok_or("a deviation needs an `id`")?
            .to_string();
        if self.deviations.iter().any(|(d, _)| d.id == id) {
            return Err(format!("a deviation `{id}` is already proposed"));
        }
        let from = body
            .get("from")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if from != self.state() {
            return Err(format!(
                "the deviation starts from `{from}`, but the process is in `{}`",
                self.state()
            ));
        }
        if body.get("update").is_some() != update.is_some() {
            return Err("`update` must name a scenario known on this chain".into());
        }
        let update_states: Option<Vec<String>> = update
            .as_ref()
            .map(|u| u.scenario.states.keys().cloned().collect());
        let doc = deviation::overlay(&self.base.scenario.source, body, update_states.as_deref())?;
        let checked = accord_scenario::check_value(&doc);
        let Some(scenario) = checked.scenario else {
            let errors: Vec<Diagnostic> = checked
                .diagnostics
                .into_iter()
                .filter(|d| d.severity == Severity::Error)
                .collect();
            return Err(format!(
                "the scenario with the deviation has errors: {}",
                join(&errors)
            ));
        };
        // What would refuse it when it comes into force refuses it now: its schemas.
        Compiled::new(scenario)
            .map_err(|e| format!("the scenario with the deviation has errors: {}", join(&e)))?;
        let d = Deviation {
            id,
            from,
            body: body.clone(),
            accepted: vec![who],
            in_force: false,
        };
        self.deviations.push((d, update));
        self.activate().inspect_err(|_| {
            self.deviations.pop();
        })
    }

    /// A party accepts a proposed deviation.
    pub fn accept(&mut self, signer: &str, id: &str) -> Result<(), String> {
        let who = self
            .identity_of_signer(signer)
            .ok_or_else(|| format!("the signer {signer} is not a party to this process"))?;
        let (d, _) = self
            .deviations
            .iter_mut()
            .find(|(d, _)| d.id == id)
            .ok_or_else(|| format!("no deviation `{id}` is proposed (or it is gone)"))?;
        if !d.accepted.contains(&who) {
            d.accepted.push(who);
        }
        self.activate()
    }

    /// Puts a deviation in force once every party has accepted it.
    fn activate(&mut self) -> Result<(), String> {
        if self.deviations.iter().any(|(d, _)| d.in_force) {
            return Ok(());
        }
        let parties = self.parties();
        let Some(i) = self
            .deviations
            .iter()
            .position(|(d, _)| parties.iter().all(|p| d.accepted.contains(p)))
        else {
            return Ok(());
        };
        let (d, update) = &self.deviations[i];
        let update_states: Option<Vec<String>> = update
            .as_ref()
            .map(|u| u.scenario.states.keys().cloned().collect());
        let doc = deviation::overlay(
            &self.base.scenario.source,
            &d.body,
            update_states.as_deref(),
        )?;
        let scenario = accord_scenario::check_value(&doc)
            .scenario
            .ok_or("the scenario with the deviation has errors")?;
        let compiled = Compiled::new(scenario).map_err(|e| join(&e))?;
        self.compiled = Arc::new(compiled);
        self.deviations[i].0.in_force = true;
        Ok(())
    }

    /// The deviations proposed and not yet gone.
    pub fn deviations(&self) -> impl Iterator<Item = &Deviation> {
        self.deviations.iter().map(|(d, _)| d)
    }

    /// The work the current state asks of the node: its open system actions, and its timer.
    /// A system action whose instructions cannot be evaluated is reported as `Broken`, so the
    /// node can answer it with its error response; the step that led here still stands.
    fn requests_here(&self, actor: Option<&str>) -> Vec<Request> {
        let compiled = self.compiled.clone();
        let s = &compiled.scenario;
        let Some(state) = s.states.get(self.state()) else {
            return Vec::new();
        };
        let mut requests = Vec::new();
        if s.actions_in(state).any(|a| a.trigger.is_system()) {
            match self.open_actions() {
                Ok(open) => {
                    let mut view = None;
                    for (akey, actors) in open {
                        let action = &s.actions[&akey];
                        let Some(by) = actors.first().cloned() else {
                            continue;
                        };
                        match self.system_request(action, by.clone(), actor, &mut view) {
                            Ok(Some(r)) => requests.push(r),
                            Ok(None) => {}
                            Err(e) => requests.push(Request::Broken {
                                action: akey.clone(),
                                actor: by,
                                reason: e.to_string(),
                            }),
                        }
                    }
                }
                Err(e) => requests.push(Request::Broken {
                    action: String::new(),
                    actor: String::new(),
                    reason: e.to_string(),
                }),
            }
        }
        if let Some(due) = self
            .doc
            .get("current")
            .and_then(|c| c.get("due_date"))
            .and_then(Value::as_u64)
        {
            requests.push(Request::Timer {
                state: state.key.clone(),
                due,
            });
        }
        requests
    }

    fn system_request(
        &self,
        action: &Action,
        by: String,
        actor: Option<&str>,
        view: &mut Option<Value>,
    ) -> Result<Option<Request>, Rejection> {
        let mut ev = |i: &Instruction| self.eval_lazy(i, view, actor, None, &action.source);
        let key = action.key.clone();
        Ok(Some(match &action.trigger {
            Trigger::User => return Ok(None),
            Trigger::Http {
                url,
                method,
                headers,
                body,
            } => Request::Http {
                action: key,
                actor: by,
                method: method.clone(),
                url: ev(url)?,
                headers: match headers {
                    Some(h) => ev(h)?,
                    None => Value::Null,
                },
                body: match body {
                    Some(b) => ev(b)?,
                    None => Value::Null,
                },
                statuses: action
                    .responses
                    .keys()
                    .filter(|k| k.len() == 3 && k.bytes().all(|b| b.is_ascii_digit()))
                    .cloned()
                    .collect(),
            },
            Trigger::Nop { response, data } => Request::Nop {
                action: key,
                actor: by,
                response: response
                    .clone()
                    .unwrap_or_else(|| action.default_response.clone()),
                data: match data {
                    Some(d) => ev(d)?,
                    None => Value::Null,
                },
            },
            Trigger::Event { body } => Request::Event {
                action: key,
                actor: by,
                body: ev(body)?,
            },
        }))
    }

    /// `current.transitions`: the state's transitions as written (they follow from the
    /// scenario, so they are not stored with each step).
    fn add_transitions(&self, current: &mut Value) {
        if let Some(list) = self.transitions() {
            obj(current).insert("transitions".into(), list);
        }
    }

    /// The current state's transitions, as `current.transitions` shows them.
    fn transitions(&self) -> Option<Value> {
        let state = self.compiled.scenario.states.get(self.state())?;
        Some(Value::Array(
            state
                .transitions
                .iter()
                .map(
                    |t| json!({"action": t.action, "response": t.response, "transition": t.target}),
                )
                .collect(),
        ))
    }

    fn check_actor(&self, key: &str) -> Result<(), Rejection> {
        if let (Some(schema), Some(value)) = (
            self.compiled.actor_schema(key),
            self.doc.get("actors").and_then(|a| a.get(key)),
        ) && let Some((pointer, message)) = schema.problems(value).into_iter().next()
        {
            return Err(Rejection::Schema {
                pointer: format!("{}{pointer}", Pointer::root().join("actors").join(key)),
                message,
            });
        }
        Ok(())
    }

    /// Adds a comment: logged with its author, no transition.
    pub fn comment(&mut self, signer: &str, text: Value, timestamp: u64, hash: &str) {
        let actors = self.actors_of(signer);
        self.comments.push(json!({
            "actor": actors.first(),
            "signkey": signer,
            "text": text,
            "timestamp": timestamp,
            "hash": hash,
        }));
    }

    /// The expected path from here (the reference's `next`): follow each state's first open
    /// action and its default response, until a final state, a dead end, or a state seen
    /// before (then `:loop`).
    pub fn next(&self) -> Vec<Value> {
        let s = &self.compiled.scenario;
        // Built only if a transition on the path has a condition: most have none.
        let view = std::cell::OnceCell::new();
        let mut out = Vec::new();
        let mut visited: Vec<String> = Vec::new();
        let mut state = match s.states.get(self.state()) {
            Some(st) => st,
            None => return out,
        };
        let default_action = |st: &State| -> Option<&Action> {
            st.actions
                .iter()
                .filter_map(|k| s.actions.get(k))
                .find(|a| match &a.condition {
                    None => true,
                    Some(_) => self
                        .allowed_actors(a)
                        .map(|v| !v.is_empty())
                        .unwrap_or(false),
                })
        };
        let mut action = default_action(state);
        while let Some(a) = action {
            let t = state.transitions.iter().find(|t| {
                t.action.as_deref().is_none_or(|x| x == a.key)
                    && t.response
                        .as_deref()
                        .is_none_or(|r| r == a.default_response)
                    && t.condition.as_ref().is_none_or(|c| {
                        instr::evaluate(
                            c,
                            &Scope::new(view.get_or_init(|| self.view(None, None)), &Value::Null),
                        )
                        .is_ok_and(|v| instr::truthy(&v))
                    })
            });
            let Some(t) = t else { break };
            if t.target == model::STAY {
                break;
            }
            let Some(next) = s.states.get(&t.target) else {
                break;
            };
            let looped = visited.contains(&next.key);
            state = next;
            action = default_action(state);
            visited.push(state.key.clone());
            let title = state
                .source
                .get("title")
                .filter(|v| v.is_string())
                .cloned()
                .unwrap_or(Value::Null);
            out.push(json!({"key": state.key, "title": title, "actors": action.map(|a| a.actors.clone()).unwrap_or_default()}));
            if looped {
                out.push(json!({"key": ":loop"}));
                break;
            }
        }
        out
    }

    /// The whole projection as JSON: the document, the history, comments and `next`.
    pub fn to_json(&self) -> Value {
        self.layer().to_value()
    }

    /// The projection as canonical JSON (RFC 8785): the same bytes on every machine, and the
    /// same as `canonical(&self.to_json())`, written without copying the document.
    pub fn to_canonical(&self) -> Vec<u8> {
        self.layer().to_canonical()
    }

    /// The projection as [`Layer`](crate::canonical::Layer): what [`Process::to_json`] makes,
    /// borrowing the document and the history instead of copying them.
    pub fn layer(&self) -> crate::canonical::Layer<'_> {
        use crate::canonical::Layer;
        let mut set: Vec<(&str, Layer<'_>)> = vec![
            ("previous", Layer::Items(&self.previous)),
            ("comments", Layer::Items(&self.comments)),
            ("next", Layer::Own(Value::Array(self.next()))),
        ];
        if let Some(current) = self.doc.get("current") {
            let open = self
                .open_actions()
                .map(|v| {
                    v.into_iter()
                        .map(|(a, actors)| json!({"action": a, "actors": actors}))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            let mut c: Vec<(&str, Layer<'_>)> = Vec::new();
            if let Some(list) = self.transitions() {
                c.push(("transitions", Layer::Own(list)));
            }
            c.push(("actions", Layer::Own(Value::Array(open))));
            c.push((
                "actor",
                Layer::Own(self.current_actor().map(Value::from).unwrap_or(Value::Null)),
            ));
            c.push((
                "response",
                Layer::Own(
                    self.previous
                        .last()
                        .map(response_summary)
                        .unwrap_or(Value::Null),
                ),
            ));
            set.push((
                "current",
                Layer::Object {
                    base: current.as_object(),
                    set: c,
                },
            ));
        }
        set.push((
            "deviations",
            Layer::Own(Value::Array(
                self.deviations
                    .iter()
                    .map(|(d, _)| json!({"id": d.id, "from": d.from, "accepted": d.accepted, "in_force": d.in_force, "update": d.update()}))
                    .collect(),
            )),
        ));
        set.push((
            "identities",
            Layer::Own(Value::Array(
                self.identities.iter().map(Identity::to_json).collect(),
            )),
        ));
        Layer::Object {
            base: Some(&self.doc),
            set,
        }
    }

    pub(crate) fn set_identity(&mut self, identity: Identity) {
        if let Some(i) = self.identities.iter_mut().find(|i| i.id == identity.id) {
            *i = identity.clone();
        } else {
            self.identities.push(identity.clone());
        }
        if let Some(Value::Object(actors)) = self.doc.get_mut("actors") {
            for a in actors.values_mut() {
                let same = a
                    .get("identity")
                    .and_then(|i| i.get("id"))
                    .and_then(Value::as_str)
                    == Some(&identity.id);
                if same {
                    a["identity"] = identity.to_json();
                }
            }
        }
        self.reindex();
    }
}

fn response_summary(r: &Value) -> Value {
    json!({"action": r["action"], "key": r["key"], "actor": r["actor"], "data": r["data"], "hash": r["hash"]})
}

/// Adds an ISO 8601 duration to a time in milliseconds (calendar months and years; days as 24 h).
pub fn add_duration(ms: u64, d: model::IsoDuration) -> u64 {
    // Beyond year 275,000 (2^53 ms) a time means nothing to anyone: the sum saturates there,
    // so no scenario's duration can overflow.
    const LIMIT: u64 = (1 << 53) - 1;
    let ms = ms.min(LIMIT);
    let secs = (ms / 1000) as i64;
    let rem = ms % 1000;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    use accord_crypto::calendar::{civil_from_days, days_from_civil, days_in_month};
    let (y, m, dd) = civil_from_days(days);
    let months = m - 1 + d.months as i64 + 12 * d.years as i64;
    let y = y + months.div_euclid(12);
    if y > 300_000 {
        return LIMIT;
    }
    let m = months.rem_euclid(12) + 1;
    let day = dd.min(days_in_month(y, m));
    let days = days_from_civil(y, m, day) + d.days as i64;
    let total = (days as i128) * 86_400 + sod as i128 + d.seconds as i128;
    let total_ms = total.max(0) * 1000 + rem as i128;
    total_ms.min(LIMIT as i128) as u64
}

/// What a step changed, to put back if it is rejected: whole second-level entries
/// (`assets.delivery`, `current`), saved before their first change.
#[derive(Default)]
struct Undo {
    saved: Vec<(String, Option<String>, Option<Value>)>,
}

impl Undo {
    fn save(&mut self, doc: &Map<String, Value>, top: &str, second: Option<&str>) {
        if self
            .saved
            .iter()
            .any(|(t, s, _)| t == top && (s.is_none() || s.as_deref() == second))
        {
            return;
        }
        // Under a top-level entry that is not an object (missing, null), a write creates it:
        // save the whole entry, so that putting it back removes what was created.
        let second = second.filter(|_| doc.get(top).is_some_and(Value::is_object));
        let value = match second {
            Some(k) => doc.get(top).and_then(|v| v.get(k)).cloned(),
            None => doc.get(top).cloned(),
        };
        self.saved
            .push((top.to_string(), second.map(String::from), value));
    }

    fn restore(self, doc: &mut Map<String, Value>) {
        for (top, second, value) in self.saved.into_iter().rev() {
            match second {
                None => match value {
                    Some(v) => {
                        doc.insert(top, v);
                    }
                    None => {
                        doc.remove(&top);
                    }
                },
                Some(k) => {
                    if let Some(Value::Object(m)) = doc.get_mut(&top) {
                        match value {
                            Some(v) => {
                                m.insert(k, v);
                            }
                            None => {
                                m.remove(&k);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// An actor's fields the engine derives identity from: who signs for it, and which it is.
const ACTOR_GUARDED: [&str; 2] = ["identity", "key"];
/// `current`'s fields the engine derives state from: the state, and when it times out.
/// Those it computes when the process is read (the open actions, the last response, the
/// transitions) are guarded too, so that a whole-`current` write cannot plant them.
const CURRENT_GUARDED: [&str; 5] = accord_scenario::model::UPDATE_PROTECTED_CURRENT;

/// The guarded fields an update names explicitly, as dot paths: through its select
/// (`actors.a.identity`), or as keys of the object it writes (`actors.a` ← `{identity: …}`).
fn guarded_writes(path: &[String], value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let named = |prefix: &str, v: &Value, fields: &[&str], out: &mut Vec<String>| {
        for f in fields {
            // A value that is not an object replaces the entry, guarded fields and all.
            if !v.is_object() || v.get(f).is_some() {
                out.push(format!("{prefix}.{f}"));
            }
        }
    };
    match (path[0].as_str(), path.len()) {
        ("current", 1) => named("current", value, &CURRENT_GUARDED, &mut out),
        ("current", _) if CURRENT_GUARDED.contains(&path[1].as_str()) => {
            out.push(format!("current.{}", path[1]))
        }
        ("actors", 1) => match value {
            Value::Object(m) => {
                for (name, v) in m {
                    named(&format!("actors.{name}"), v, &ACTOR_GUARDED, &mut out);
                }
            }
            _ => out.push("actors".into()),
        },
        ("actors", 2) => named(&path[..2].join("."), value, &ACTOR_GUARDED, &mut out),
        ("actors", _) if ACTOR_GUARDED.contains(&path[2].as_str()) => out.push(path[..3].join(".")),
        _ => {}
    }
    out
}

/// Guarded fields by name, with their values (`None`: absent or null).
type Fields = Vec<(&'static str, Option<Value>)>;

/// The guarded fields as they were before a step's updates (only where an update writes).
struct Guarded {
    current: Option<Fields>,
    actors: Option<Vec<(String, Fields)>>,
}

impl Guarded {
    fn of(doc: &Map<String, Value>, rdef: &model::ResponseDef) -> Guarded {
        let fields = |v: Option<&Value>, names: &[&'static str]| {
            names
                .iter()
                .map(|f| {
                    (
                        *f,
                        v.and_then(|v| v.get(f)).filter(|x| !x.is_null()).cloned(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let roots: Vec<&str> = rdef
            .update
            .iter()
            .filter_map(|u| u.select.first())
            .collect();
        let current = roots
            .contains(&"current")
            .then(|| fields(doc.get("current"), &CURRENT_GUARDED));
        // `current.actor` writes an actor.
        let actors = (roots.contains(&"actors") || roots.contains(&"current")).then(|| {
            match doc.get("actors") {
                Some(Value::Object(m)) => m
                    .iter()
                    .map(|(k, a)| (k.clone(), fields(Some(a), &ACTOR_GUARDED)))
                    .collect(),
                _ => Vec::new(),
            }
        });
        Guarded { current, actors }
    }

    /// After the updates: a guarded field that changed is refused if an update named it, and
    /// otherwise put back (an actor replaced by data without `identity` keeps its identity, as
    /// at the start).
    fn keep(self, doc: &mut Map<String, Value>, explicit: &[String]) -> Result<(), Rejection> {
        let named = |p: &str| {
            explicit
                .iter()
                .any(|e| e == p || p.starts_with(&format!("{e}.")))
        };
        let put_back =
            |entry: Option<&mut Value>, prefix: &str, before: Fields| -> Result<(), Rejection> {
                let Some(Value::Object(m)) = entry else {
                    let changed = before.iter().any(|(_, b)| b.is_some());
                    return if changed {
                        Err(Rejection::ReadOnly {
                            path: prefix.to_string(),
                        })
                    } else {
                        Ok(())
                    };
                };
                for (f, b) in before {
                    let now = m.get(f).filter(|x| !x.is_null());
                    if now == b.as_ref() {
                        continue;
                    }
                    let path = format!("{prefix}.{f}");
                    if named(&path) {
                        return Err(Rejection::ReadOnly { path });
                    }
                    match b {
                        Some(v) => {
                            m.insert(f.to_string(), v);
                        }
                        None => {
                            m.remove(f);
                        }
                    }
                }
                Ok(())
            };
        if let Some(before) = self.current {
            put_back(doc.get_mut("current"), "current", before)?;
        }
        if let Some(before) = self.actors {
            let names: Vec<String> = before.iter().map(|(k, _)| k.clone()).collect();
            for (name, fields) in before {
                let entry = doc.get_mut("actors").and_then(|a| a.get_mut(&name));
                put_back(entry, &format!("actors.{name}"), fields)?;
            }
            // An actor the updates created may not bring an identity of its own.
            if let Some(Value::Object(actors)) = doc.get("actors") {
                for (name, a) in actors.iter().filter(|(k, _)| !names.contains(k)) {
                    if let Some(f) = ACTOR_GUARDED
                        .iter()
                        .find(|f| a.get(**f).is_some_and(|x| !x.is_null()))
                    {
                        return Err(Rejection::ReadOnly {
                            path: format!("actors.{name}.{f}"),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}
