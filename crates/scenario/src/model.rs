//! The scenario model, built from a JSON value with every problem reported.
//!
//! The reference engine's shorthands are normalised here, once, so that nothing downstream
//! has to know them: `actor` → `actors`, `action` → `actions`, `transition` (a state key) →
//! `transitions`, an action's own `display` and `update` spread to each of its responses, a
//! missing `responses` is `{ok: {}}`, an update given as a string is `{select: "…"}`, and the
//! three final states `:success`, `:failed` and `:cancelled` always exist.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::diag::{Diagnostics, Pointer};
use crate::instr::{self, Instruction, Path};

/// The `$schema` of a scenario.
pub const SCENARIO_SCHEMA: &str = "https://specs.livecontracts.io/v0.2.0/scenario/schema.json#";
/// The `$schema` prefix every Live Contracts v0.2.0 document shares.
pub const SCHEMA_PREFIX: &str = "https://specs.livecontracts.io/v0.2.0/";
/// The state a process starts in.
pub const INITIAL: &str = "initial";
/// The final states every scenario has.
pub const FINAL_STATES: [&str; 3] = [":success", ":failed", ":cancelled"];
/// A transition target meaning "stay in the current state".
pub const STAY: &str = "-";
/// The pseudo-action a node responds to when a state's `timeout` has passed; transitions
/// name it as their `action`.
pub const TIMEOUT: &str = ":timeout";

/// The kind and version a Live Contracts `$schema` names
/// (`https://specs.livecontracts.io/v<major>.<minor>.<patch>/<kind>/schema.json#`), as the
/// reference reads it (`is_schema_link_valid`: any version, digits only), or `None`.
pub fn livecontracts_schema(schema: &str) -> Option<(&str, &str)> {
    let rest = schema.strip_prefix("https://specs.livecontracts.io/v")?;
    let (version, rest) = rest.split_once('/')?;
    let kind = rest.strip_suffix("/schema.json#")?;
    let numbers: Vec<&str> = version.split('.').collect();
    let digits = |n: &&str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
    (numbers.len() == 3 && numbers.iter().all(digits) && !kind.is_empty())
        .then_some((version, kind))
}

/// What an update instruction may not write: the parts of a process the engine derives from
/// its events (which process, which scenario, its history, what may happen next, who is
/// bound). An update may write any other path, as in the reference (its own fixtures write
/// `foo` and `bar`); these are refused when the scenario is checked.
pub const UPDATE_PROTECTED: [&str; 10] = [
    "$schema",
    "id",
    "scenario",
    "chain",
    "previous",
    "comments",
    "next",
    "deviations",
    "identities",
    "subprocesses",
];

/// Fields of `current` the engine writes (the state entered, its due date) or computes when
/// the process is read (the open actions, the last response, the transitions).
pub const UPDATE_PROTECTED_CURRENT: [&str; 5] =
    ["key", "due_date", "actions", "response", "transitions"];

/// Fields of an actor the engine writes: which actor it is, and the identity bound to it.
pub const UPDATE_PROTECTED_ACTOR: [&str; 2] = ["key", "identity"];

/// Why an update may not write `path`, or `None` when it may.
pub fn update_refusal(path: &[String]) -> Option<String> {
    let seg = |i: usize| path.get(i).map(String::as_str);
    let refused = match (seg(0), seg(1), seg(2)) {
        (Some(first), _, _) if UPDATE_PROTECTED.contains(&first) => Some(first.to_string()),
        (Some("current"), Some(f), _) if UPDATE_PROTECTED_CURRENT.contains(&f) => {
            Some(format!("current.{f}"))
        }
        (Some("actors"), Some(a), Some(f)) if UPDATE_PROTECTED_ACTOR.contains(&f) => {
            Some(format!("actors.{a}.{f}"))
        }
        (Some("current"), Some("actor"), Some(f)) if UPDATE_PROTECTED_ACTOR.contains(&f) => {
            Some(format!("current.actor.{f}"))
        }
        _ => None,
    }?;
    let current: Vec<String> = UPDATE_PROTECTED_CURRENT
        .iter()
        .map(|f| format!("current.{f}"))
        .collect();
    let current: Vec<&str> = current.iter().map(String::as_str).collect();
    Some(format!(
        "an update may not write `{refused}`, which the engine derives from the process's \
         events; it may write any path except {}, {} and an actor's {}",
        list(&UPDATE_PROTECTED),
        list(&current),
        list(&UPDATE_PROTECTED_ACTOR).replace(", ", " or "),
    ))
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a state key names a final state (they start with a colon).
pub fn is_final(state: &str) -> bool {
    state.starts_with(':')
}

/// A checked scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// `id`, when the document gives one.
    pub id: Option<String>,
    /// `title`.
    pub title: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// Actor roles, each with its JSON Schema.
    pub actors: IndexMap<String, Value>,
    /// Assets, each with its JSON Schema.
    pub assets: IndexMap<String, Value>,
    /// Constants, readable as `definitions.…`.
    pub definitions: Map<String, Value>,
    /// Actions allowed in every state.
    pub allow_actions: Vec<String>,
    /// Actions by key.
    pub actions: IndexMap<String, Action>,
    /// States by key; the final states are always present.
    pub states: IndexMap<String, State>,
    /// The document as given.
    pub source: Value,
}

impl Scenario {
    /// The actions open in a state: its own, then `allow_actions`, each once.
    pub fn actions_in<'a>(&'a self, state: &'a State) -> impl Iterator<Item = &'a Action> + 'a {
        let mut seen: Vec<&str> = Vec::new();
        state
            .actions
            .iter()
            .chain(self.allow_actions.iter())
            .filter_map(move |key| {
                if seen.contains(&key.as_str()) {
                    return None;
                }
                seen.push(key);
                self.actions.get(key)
            })
    }
}

/// What runs an action.
#[derive(Clone, Debug)]
pub enum Trigger {
    /// A person responds.
    User,
    /// The node makes an HTTP request; the answer is the response.
    Http {
        /// `url`.
        url: Instruction,
        /// `method`, upper case; GET by default.
        method: String,
        /// `headers`.
        headers: Option<Instruction>,
        /// `body` (`data` in some documents).
        body: Option<Instruction>,
    },
    /// Nothing is called: the response is given at once.
    Nop {
        /// The response key to give (`trigger_response`), or the default response.
        response: Option<String>,
        /// The response data.
        data: Option<Instruction>,
    },
    /// The response appends events to the chain.
    Event {
        /// The events (`body`).
        body: Instruction,
    },
}

impl Trigger {
    /// Whether a system (not a person) carries the action out.
    pub fn is_system(&self) -> bool {
        !matches!(self, Trigger::User)
    }

    /// A short name: `user`, `http`, `nop`, `event`.
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::User => "user",
            Trigger::Http { .. } => "http",
            Trigger::Nop { .. } => "nop",
            Trigger::Event { .. } => "event",
        }
    }
}

/// An action.
#[derive(Clone, Debug)]
pub struct Action {
    /// Its key in `actions`.
    pub key: String,
    /// `title` (text, or a data instruction).
    pub title: Option<Instruction>,
    /// `label`.
    pub label: Option<Instruction>,
    /// `description`.
    pub description: Option<Instruction>,
    /// The actor roles that may perform it.
    pub actors: Vec<String>,
    /// `condition`: the action may be performed only when it evaluates to true.
    pub condition: Option<Instruction>,
    /// Possible responses by key.
    pub responses: IndexMap<String, ResponseDef>,
    /// The response taken when none is named.
    pub default_response: String,
    /// `determine_response`: an instruction choosing the response key from the data.
    pub determine_response: Option<Instruction>,
    /// Who or what carries it out.
    pub trigger: Trigger,
    /// The action as written, for showing it in a projection.
    pub source: Value,
}

/// When a response shows in a process's history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Display {
    /// Always.
    Always,
    /// Never.
    Never,
    /// Only the first time.
    Once,
}

impl Display {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Display::Always => "always",
            Display::Never => "never",
            Display::Once => "once",
        }
    }
}

/// A response an action can give.
#[derive(Clone, Debug)]
pub struct ResponseDef {
    /// Its key.
    pub key: String,
    /// `title`.
    pub title: Option<String>,
    /// `display`.
    pub display: Display,
    /// Update instructions, applied in order.
    pub update: Vec<Update>,
}

/// An update instruction: where a response's data goes in the process.
#[derive(Clone, Debug)]
pub struct Update {
    /// `select`: a dot path into the process (`assets.document`, `current.actor`, …).
    pub select: Path,
    /// `patch`: merge into what is there (default) or replace it.
    pub patch: bool,
    /// `data`: what to write instead of the response data.
    pub data: Option<Instruction>,
    /// `projection`: a JMESPath expression applied to the data first.
    pub projection: Option<instr::Expr>,
}

/// A state.
#[derive(Clone, Debug)]
pub struct State {
    /// Its key.
    pub key: String,
    /// `title`.
    pub title: Option<Instruction>,
    /// `description`.
    pub description: Option<Instruction>,
    /// What each actor is told to do here, by actor key.
    pub instructions: IndexMap<String, Instruction>,
    /// The actions open here (besides `allow_actions`).
    pub actions: Vec<String>,
    /// Transitions, tried in order.
    pub transitions: Vec<Transition>,
    /// `timeout`, an ISO 8601 duration.
    pub timeout: Option<IsoDuration>,
    /// The state as written.
    pub source: Value,
}

impl State {
    /// A final state: no actions are open in it.
    pub fn is_final(&self) -> bool {
        is_final(&self.key)
    }
}

/// A transition out of a state.
#[derive(Clone, Debug)]
pub struct Transition {
    /// The action it follows; any of the state's actions when absent.
    pub action: Option<String>,
    /// The response it follows; any response when absent.
    pub response: Option<String>,
    /// Taken only when this evaluates to true.
    pub condition: Option<Instruction>,
    /// The state to go to (or `-` to stay).
    pub target: String,
}

/// An ISO 8601 duration (`P1DT2H`, `PT30M`, `P2W`), with its calendar parts kept apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsoDuration {
    /// Years.
    pub years: u32,
    /// Months.
    pub months: u32,
    /// Days (weeks count as 7 days).
    pub days: u32,
    /// Seconds (hours and minutes included).
    pub seconds: u64,
}

impl IsoDuration {
    /// Parses `PnYnMnWnDTnHnMnS` (integer parts only).
    pub fn parse(text: &str) -> Result<IsoDuration, String> {
        let bad = || format!("{text:?} is not an ISO 8601 duration such as \"P3D\" or \"PT1H30M\"");
        let rest = text.strip_prefix('P').ok_or_else(bad)?;
        if rest.is_empty() || rest == "T" {
            return Err(bad());
        }
        let mut d = IsoDuration {
            years: 0,
            months: 0,
            days: 0,
            seconds: 0,
        };
        let mut in_time = false;
        let mut number = String::new();
        let mut any = false;
        for c in rest.chars() {
            match c {
                'T' if !in_time && number.is_empty() => in_time = true,
                '0'..='9' => number.push(c),
                _ => {
                    if number.is_empty() {
                        return Err(bad());
                    }
                    let n: u64 = number.parse().map_err(|_| bad())?;
                    let n32 = || u32::try_from(n).map_err(|_| bad());
                    number.clear();
                    any = true;
                    match (in_time, c) {
                        (false, 'Y') => d.years = n32()?,
                        (false, 'M') => d.months = n32()?,
                        (false, 'W') => {
                            d.days = d
                                .days
                                .checked_add(n32()?.checked_mul(7).ok_or_else(bad)?)
                                .ok_or_else(bad)?
                        }
                        (false, 'D') => d.days = d.days.checked_add(n32()?).ok_or_else(bad)?,
                        (true, 'H') => {
                            d.seconds = n
                                .checked_mul(3600)
                                .and_then(|x| d.seconds.checked_add(x))
                                .ok_or_else(bad)?
                        }
                        (true, 'M') => {
                            d.seconds = n
                                .checked_mul(60)
                                .and_then(|x| d.seconds.checked_add(x))
                                .ok_or_else(bad)?
                        }
                        (true, 'S') => d.seconds = d.seconds.checked_add(n).ok_or_else(bad)?,
                        _ => return Err(bad()),
                    }
                }
            }
        }
        if !number.is_empty() || !any {
            return Err(bad());
        }
        Ok(d)
    }
}

/// Whether a field says something: not null and not an empty list, object or text.
fn has_content(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// Builds the model from a document, reporting every problem found.
///
/// Returns the scenario only when there is no error (warnings may remain).
pub fn build(doc: &Value, diags: &mut Diagnostics) -> Option<Scenario> {
    let root = Pointer::root();
    let Some(obj) = doc.as_object() else {
        diags.error(&root, "not-an-object", "a scenario is a JSON object");
        return None;
    };
    let mut b = Builder { diags };

    match obj.get("$schema") {
        Some(Value::String(s)) if s == SCENARIO_SCHEMA => {}
        // The reference takes any version of the scenario schema and reads it by one set of
        // rules (its API tests post v10.25.120); so does Accord, saying so.
        Some(Value::String(s)) if livecontracts_schema(s).is_some_and(|(_, k)| k == "scenario") => {
            b.diags.warning(
                &root.join("$schema"),
                "schema-version",
                format!("{s:?} names another version of the scenario schema; read by the rules of v0.2.0, the version Accord implements, as the reference reads every version"),
            )
        }
        Some(Value::String(s)) => b.diags.error(
            &root.join("$schema"),
            "wrong-schema",
            format!("{s:?} is not a Live Contracts scenario schema (such as {SCENARIO_SCHEMA})"),
        ),
        Some(_) => b
            .diags
            .error(&root.join("$schema"), "type", "`$schema` must be text"),
        // The reference's model defaults it: so does Accord, saying so.
        None => b.diags.warning(
            &root,
            "missing-schema",
            format!("`$schema` is missing; read as a v0.2.0 scenario (\"$schema\": \"{SCENARIO_SCHEMA}\")"),
        ),
    }
    const KNOWN: [&str; 11] = [
        "$schema",
        "id",
        "title",
        "description",
        "actors",
        "assets",
        "definitions",
        "allow_actions",
        "actions",
        "states",
        "info",
    ];
    for key in obj.keys() {
        if !KNOWN.contains(&key.as_str()) && !key.starts_with('$') {
            b.diags.warning(
                &root.join(key),
                "unknown-field",
                format!("`{key}` is not a scenario field and is ignored"),
            );
        }
    }

    let id = b.opt_string(obj, "id", &root);
    let title = b.opt_string(obj, "title", &root);
    let description = b.opt_string(obj, "description", &root);
    let actors = b.schemas(obj, "actors", &root);
    let assets = b.schemas(obj, "assets", &root);
    let definitions = match obj.get("definitions") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            b.diags.error(
                &root.join("definitions"),
                "type",
                "`definitions` must be an object",
            );
            Map::new()
        }
    };
    let allow_actions = b.string_list(
        obj.get("allow_actions"),
        &root.join("allow_actions"),
        "allow_actions",
    );

    let mut actions = IndexMap::new();
    let actions_ptr = root.join("actions");
    for (key, value, ptr) in b.keyed(obj.get("actions"), &actions_ptr, "actions") {
        if let Some(action) = b.action(&key, value, &ptr) {
            actions.insert(key, action);
        }
    }

    let mut states = IndexMap::new();
    let states_ptr = root.join("states");
    if obj.get("states").is_none() {
        b.diags.error(
            &root,
            "missing-states",
            "`states` is missing; a scenario needs at least an `initial` state",
        );
    }
    for (key, value, ptr) in b.keyed(obj.get("states"), &states_ptr, "states") {
        if is_final(&key)
            && ["action", "actions", "transition", "transitions"]
                .iter()
                .any(|f| value.get(*f).is_some_and(has_content))
        {
            b.diags.warning(
                &ptr,
                "final-state-defined",
                format!("`{key}` is a final state: a process there is over, so its actions and transitions are ignored"),
            );
        }
        if let Some(state) = b.state(&key, value, &ptr) {
            states.insert(key, state);
        }
    }
    if !states.contains_key(INITIAL) && obj.get("states").is_some() {
        let hint = if states.contains_key(":initial") {
            "; did you mean to name `:initial` `initial`? (only the final states start with a colon)"
        } else {
            ""
        };
        b.diags.error(
            &states_ptr,
            "no-initial-state",
            format!("there is no `initial` state; every process starts there{hint}"),
        );
    }
    for key in FINAL_STATES {
        states.entry(key.to_string()).or_insert_with(|| State {
            key: key.to_string(),
            title: None,
            description: None,
            instructions: IndexMap::new(),
            actions: Vec::new(),
            transitions: Vec::new(),
            timeout: None,
            source: Value::Object(Map::new()),
        });
    }

    // The model is returned even with errors, so that the whole-scenario checks can still
    // report what they find; `check_value` withholds it from callers when there are errors.
    Some(Scenario {
        id,
        title,
        description,
        actors,
        assets,
        definitions,
        allow_actions,
        actions,
        states,
        source: doc.clone(),
    })
}

struct Builder<'d> {
    diags: &'d mut Diagnostics,
}

impl Builder<'_> {
    fn opt_string(&mut self, obj: &Map<String, Value>, key: &str, at: &Pointer) -> Option<String> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.diags
                    .error(&at.join(key), "type", format!("`{key}` must be text"));
                None
            }
        }
    }

    /// An object of named things, or (as some documents write it) an array of objects with
    /// a `key` each.
    fn keyed<'v>(
        &mut self,
        value: Option<&'v Value>,
        at: &Pointer,
        what: &str,
    ) -> Vec<(String, &'v Value, Pointer)> {
        match value {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v, at.join(k))).collect(),
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                let mut seen = std::collections::HashSet::new();
                for (i, item) in items.iter().enumerate() {
                    let ptr = at.join(i);
                    match item.get("key") {
                        Some(Value::String(k)) => {
                            if !seen.insert(k.clone()) {
                                self.diags.error(
                                    &ptr.join("key"),
                                    "duplicate-key",
                                    format!("`{k}` is defined twice in `{what}`"),
                                );
                                continue;
                            }
                            out.push((k.clone(), item, ptr));
                        }
                        _ => self.diags.error(
                            &ptr,
                            "missing-key",
                            format!("an item of `{what}` written as an array needs a `key`"),
                        ),
                    }
                }
                out
            }
            Some(_) => {
                self.diags.error(
                    at,
                    "type",
                    format!("`{what}` must be an object keyed by name"),
                );
                Vec::new()
            }
        }
    }

    fn schemas(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        at: &Pointer,
    ) -> IndexMap<String, Value> {
        let ptr = at.join(key);
        let mut out = IndexMap::new();
        for (name, schema, p) in self.keyed(obj.get(key), &ptr, key) {
            match schema {
                Value::Object(m) => {
                    // A Live Contracts `$ref` (any version) names a kind of thing; another
                    // remote one names a schema that is not applied: never fetched, so checks
                    // do not depend on the network. The reference applies neither.
                    if let Some(Value::String(r)) = m.get("$ref")
                        && !r.starts_with('#')
                        && !r.starts_with("https://specs.livecontracts.io/")
                    {
                        self.diags.warning(
                                &p.join("$ref"),
                                "remote-ref",
                                format!("`$ref` {r:?} points outside this document and is not applied: schemas are never fetched from the network, so checks do not depend on it (the reference does not apply it either)"),
                            );
                    }
                    let mut m = m.clone();
                    m.remove("key");
                    out.insert(name, Value::Object(m));
                }
                Value::Bool(_) => {
                    out.insert(name, schema.clone());
                }
                _ => self.diags.error(
                    &p,
                    "type",
                    format!("`{key}.{name}` must be a JSON Schema (an object)"),
                ),
            }
        }
        out
    }

    fn string_list(&mut self, value: Option<&Value>, at: &Pointer, what: &str) -> Vec<String> {
        match value {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        _ => self.diags.error(
                            &at.join(i),
                            "type",
                            format!("each of `{what}` must be text"),
                        ),
                    }
                }
                out
            }
            Some(_) => {
                self.diags.error(
                    at,
                    "type",
                    format!("`{what}` must be text or a list of text"),
                );
                Vec::new()
            }
        }
    }

    fn opt_instruction(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        at: &Pointer,
    ) -> Option<Instruction> {
        obj.get(key)
            .filter(|v| !v.is_null())
            .map(|v| self.instruction(v, &at.join(key)))
    }

    fn instruction(&mut self, value: &Value, at: &Pointer) -> Instruction {
        instr::compile(value, at, self.diags)
    }

    fn action(&mut self, key: &str, value: &Value, at: &Pointer) -> Option<Action> {
        let Some(obj) = value.as_object() else {
            self.diags
                .error(at, "type", format!("action `{key}` must be an object"));
            return None;
        };
        let title = self.opt_instruction(obj, "title", at);
        let label = self.opt_instruction(obj, "label", at);
        let description = self.opt_instruction(obj, "description", at);
        let actors = match (obj.get("actor"), obj.get("actors")) {
            (Some(_), Some(_)) => {
                self.diags.error(
                    at,
                    "actor-and-actors",
                    "give either `actor` or `actors`, not both",
                );
                Vec::new()
            }
            (Some(v), None) => self.string_list(Some(v), &at.join("actor"), "actor"),
            (None, v) => self.string_list(v, &at.join("actors"), "actors"),
        };
        let condition = match obj.get("condition") {
            None | Some(Value::Bool(true)) => None,
            Some(v) => Some(self.instruction(v, &at.join("condition"))),
        };

        // The action's own `display` and `update` apply to each response that does not set its
        // own; read (and reported) once here, not once per response.
        let shared_display = self.display(obj.get("display"), &at.join("display"));
        let shared_update = obj
            .get("update")
            .map(|u| self.updates(Some(u), &at.join("update")));
        let mut responses = IndexMap::new();
        let responses_ptr = at.join("responses");
        let listed = match obj.get("responses") {
            None | Some(Value::Null) => vec![("ok".to_string(), None, responses_ptr.join("ok"))],
            Some(v) => self
                .keyed(Some(v), &responses_ptr, "responses")
                .into_iter()
                .map(|(k, v, p)| (k, Some(v), p))
                .collect(),
        };
        for (rkey, rvalue, rptr) in listed {
            let robj = match rvalue {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(m)) => m.clone(),
                Some(_) => {
                    self.diags.error(
                        &rptr,
                        "type",
                        format!("response `{rkey}` must be an object"),
                    );
                    continue;
                }
            };
            let rtitle = self.opt_string(&robj, "title", &rptr);
            let display = match robj.get("display") {
                Some(d) => self.display(Some(d), &rptr.join("display")),
                None => shared_display,
            };
            let update = match (robj.get("update"), &shared_update) {
                (Some(u), _) => self.updates(Some(u), &rptr.join("update")),
                (None, Some(shared)) => shared.clone(),
                (None, None) => Vec::new(),
            };
            responses.insert(
                rkey.clone(),
                ResponseDef {
                    key: rkey,
                    title: rtitle,
                    display,
                    update,
                },
            );
        }
        let default_response = match obj.get("default_response") {
            None | Some(Value::Null) => "ok".to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                self.diags.error(
                    &at.join("default_response"),
                    "type",
                    "`default_response` must be text",
                );
                "ok".to_string()
            }
        };
        if !responses.contains_key(&default_response) {
            self.diags.error(
                &at.join(if obj.contains_key("default_response") { "default_response" } else { "responses" }),
                "no-default-response",
                format!("action `{key}` has no `{default_response}` response, which is its default response"),
            );
        }
        let determine_response = obj
            .get("determine_response")
            .filter(|v| !v.is_null())
            .map(|v| self.instruction(v, &at.join("determine_response")));
        let trigger = self.trigger(key, obj, at, &responses);
        Some(Action {
            key: key.to_string(),
            title,
            label,
            description,
            actors,
            condition,
            responses,
            default_response,
            determine_response,
            trigger,
            source: value.clone(),
        })
    }

    fn trigger(
        &mut self,
        key: &str,
        obj: &Map<String, Value>,
        at: &Pointer,
        responses: &IndexMap<String, ResponseDef>,
    ) -> Trigger {
        let schema = match obj.get("$schema") {
            None | Some(Value::Null) => return Trigger::User,
            Some(Value::String(s)) => s.as_str(),
            Some(_) => {
                self.diags
                    .error(&at.join("$schema"), "type", "`$schema` must be text");
                return Trigger::User;
            }
        };
        let kind = schema
            .strip_prefix(SCHEMA_PREFIX)
            .and_then(|s| s.strip_suffix("/schema.json#"));
        match kind {
            Some("action") => Trigger::User,
            Some("action/http") => {
                let url = match obj.get("url") {
                    Some(v) => self.instruction(v, &at.join("url")),
                    None => {
                        self.diags.error(
                            at,
                            "missing-url",
                            format!("HTTP action `{key}` has no `url`"),
                        );
                        Instruction::Literal(Value::Null)
                    }
                };
                let method = match obj.get("method") {
                    None | Some(Value::Null) => "GET".to_string(),
                    Some(Value::String(m)) => {
                        let upper = m.to_ascii_uppercase();
                        if !["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
                            .contains(&upper.as_str())
                        {
                            self.diags.error(
                                &at.join("method"),
                                "bad-method",
                                format!("{m:?} is not an HTTP method"),
                            );
                        }
                        upper
                    }
                    Some(_) => {
                        self.diags
                            .error(&at.join("method"), "type", "`method` must be text");
                        "GET".to_string()
                    }
                };
                let headers = obj
                    .get("headers")
                    .map(|v| self.instruction(v, &at.join("headers")));
                let body = match (obj.get("body"), obj.get("data")) {
                    (Some(v), _) => Some(self.instruction(v, &at.join("body"))),
                    (None, Some(v)) => Some(self.instruction(v, &at.join("data"))),
                    _ => None,
                };
                Trigger::Http {
                    url,
                    method,
                    headers,
                    body,
                }
            }
            Some("action/nop") => {
                let response = match obj.get("trigger_response") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(r)) => {
                        if !responses.contains_key(r) {
                            self.diags.error(
                                &at.join("trigger_response"),
                                "unknown-response",
                                format!("`trigger_response` is `{r}`, which is not one of the responses of `{key}`"),
                            );
                        }
                        Some(r.clone())
                    }
                    Some(_) => {
                        self.diags.error(
                            &at.join("trigger_response"),
                            "type",
                            "`trigger_response` must be text",
                        );
                        None
                    }
                };
                let data = obj
                    .get("data")
                    .map(|v| self.instruction(v, &at.join("data")));
                Trigger::Nop { response, data }
            }
            Some("action/event") => {
                let body = match obj.get("body") {
                    Some(v) => self.instruction(v, &at.join("body")),
                    None => {
                        self.diags.error(
                            at,
                            "missing-body",
                            format!("event action `{key}` has no `body` (the events to add)"),
                        );
                        Instruction::Literal(Value::Null)
                    }
                };
                Trigger::Event { body }
            }
            // Another action type (a form, say) is an ordinary action in the reference: its
            // actors perform it; no node carries it out.
            _ => {
                self.diags.warning(
                    &at.join("$schema"),
                    "custom-action-schema",
                    format!("{schema:?} is not an action type a node carries out ({SCHEMA_PREFIX}action/http/schema.json#, …/action/nop/…, …/action/event/…; v0.2.0 only, as the reference's triggers match them exactly): `{key}` is performed by its actors, as an ordinary action"),
                );
                Trigger::User
            }
        }
    }

    /// A response's `display`. The reference's flow tests write `true` and `false`, which it
    /// takes without complaint: read as `always` and `never`, with a warning.
    fn display(&mut self, value: Option<&Value>, at: &Pointer) -> Display {
        match value {
            None | Some(Value::Null) => Display::Always,
            Some(Value::String(s)) if s == "always" => Display::Always,
            Some(Value::String(s)) if s == "never" => Display::Never,
            Some(Value::String(s)) if s == "once" => Display::Once,
            Some(Value::Bool(b)) => {
                let (read, text) = if *b {
                    (Display::Always, "always")
                } else {
                    (Display::Never, "never")
                };
                self.diags.warning(
                    at,
                    "display-boolean",
                    format!("`display` is {b}; read as \"{text}\" (it is \"always\", \"never\" or \"once\")"),
                );
                read
            }
            Some(other) => {
                self.diags.error(
                    at,
                    "bad-display",
                    format!("`display` is {other}; it must be \"always\", \"never\" or \"once\""),
                );
                Display::Always
            }
        }
    }

    fn updates(&mut self, value: Option<&Value>, at: &Pointer) -> Vec<Update> {
        let items: Vec<(&Value, Pointer)> = match value {
            None | Some(Value::Null) => return Vec::new(),
            Some(Value::Array(a)) => a.iter().enumerate().map(|(i, v)| (v, at.join(i))).collect(),
            Some(v) => vec![(v, at.clone())],
        };
        let mut out = Vec::new();
        for (item, ptr) in items {
            let (select, obj) = match item {
                Value::String(s) => (Some((s.as_str(), ptr.clone())), None),
                Value::Object(m) => match m.get("select") {
                    Some(Value::String(s)) => (Some((s.as_str(), ptr.join("select"))), Some(m)),
                    Some(_) => {
                        self.diags.error(
                            &ptr.join("select"),
                            "type",
                            "`select` must be a dot path such as \"assets.document\"",
                        );
                        (None, Some(m))
                    }
                    None => {
                        self.diags.error(&ptr, "missing-select", "an update instruction needs `select`: where in the process the data goes");
                        (None, Some(m))
                    }
                },
                _ => {
                    self.diags.error(
                        &ptr,
                        "type",
                        "an update instruction is a dot path or an object with `select`",
                    );
                    continue;
                }
            };
            let select = select.and_then(|(s, p)| match Path::parse(s) {
                Ok(path) => {
                    if let Some(why) = update_refusal(path.segments()) {
                        self.diags.error(&p, "bad-select", format!("`{s}`: {why}"));
                    }
                    Some(path)
                }
                Err(e) => {
                    self.diags.error(&p, "bad-select", e);
                    None
                }
            });
            let mut patch = true;
            let mut data = None;
            let mut projection = None;
            if let Some(m) = obj {
                match m.get("patch") {
                    None | Some(Value::Null) => {}
                    Some(Value::Bool(b)) => patch = *b,
                    Some(_) => self.diags.error(
                        &ptr.join("patch"),
                        "type",
                        "`patch` must be true or false",
                    ),
                }
                data = m
                    .get("data")
                    .map(|v| self.instruction(v, &ptr.join("data")));
                projection = match m.get("projection") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(p)) => match instr::Expr::compile(p) {
                        Ok(e) => Some(e),
                        Err(e) => {
                            self.diags.error(
                                &ptr.join("projection"),
                                "bad-jmespath",
                                format!("the JMESPath projection does not parse: {e}"),
                            );
                            None
                        }
                    },
                    Some(_) => {
                        self.diags.error(
                            &ptr.join("projection"),
                            "type",
                            "`projection` must be a JMESPath expression",
                        );
                        None
                    }
                };
            }
            if let Some(select) = select {
                out.push(Update {
                    select,
                    patch,
                    data,
                    projection,
                });
            }
        }
        out
    }

    fn state(&mut self, key: &str, value: &Value, at: &Pointer) -> Option<State> {
        let Some(obj) = value.as_object() else {
            self.diags
                .error(at, "type", format!("state `{key}` must be an object"));
            return None;
        };
        let title = obj
            .get("title")
            .filter(|v| !v.is_null())
            .map(|v| self.instruction(v, &at.join("title")));
        let description = obj
            .get("description")
            .filter(|v| !v.is_null())
            .map(|v| self.instruction(v, &at.join("description")));
        let mut instructions = IndexMap::new();
        match obj.get("instructions") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (actor, text) in m {
                    let p = at.join("instructions").join(actor);
                    instructions.insert(actor.clone(), self.instruction(text, &p));
                }
            }
            Some(_) => self.diags.error(
                &at.join("instructions"),
                "type",
                "`instructions` must be an object keyed by actor",
            ),
        }
        let actions = match (obj.get("action"), obj.get("actions")) {
            (Some(_), Some(_)) => {
                self.diags.error(
                    at,
                    "action-and-actions",
                    "give either `action` or `actions`, not both",
                );
                Vec::new()
            }
            (Some(v), None) => self.string_list(Some(v), &at.join("action"), "action"),
            (None, v) => self.string_list(v, &at.join("actions"), "actions"),
        };
        let mut transitions = Vec::new();
        let (tvalue, tptr) = match (obj.get("transition"), obj.get("transitions")) {
            (Some(_), Some(_)) => {
                self.diags.error(
                    at,
                    "transition-and-transitions",
                    "give either `transition` or `transitions`, not both",
                );
                (None, at.clone())
            }
            (Some(v), None) => (Some(v), at.join("transition")),
            (None, v) => (v, at.join("transitions")),
        };
        let items: Vec<(&Value, Pointer)> = match tvalue {
            None | Some(Value::Null) => Vec::new(),
            Some(v @ Value::String(_)) => vec![(v, tptr.clone())],
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, v)| (v, tptr.join(i)))
                .collect(),
            Some(v @ Value::Object(_)) => vec![(v, tptr.clone())],
            Some(_) => {
                self.diags
                    .error(&tptr, "type", "`transitions` must be a list of transitions");
                Vec::new()
            }
        };
        for (item, ptr) in items {
            match item {
                Value::String(target) => transitions.push(Transition {
                    action: None,
                    response: None,
                    condition: None,
                    target: target.clone(),
                }),
                Value::Object(m) => {
                    let action = self.opt_string(m, "action", &ptr);
                    let response = self.opt_string(m, "response", &ptr);
                    let condition = match m.get("condition") {
                        None | Some(Value::Bool(true)) => None,
                        Some(v) => Some(self.instruction(v, &ptr.join("condition"))),
                    };
                    let target = match m.get("transition") {
                        Some(Value::String(t)) => t.clone(),
                        Some(_) => {
                            self.diags.error(
                                &ptr.join("transition"),
                                "type",
                                "`transition` must be a state key",
                            );
                            continue;
                        }
                        None => {
                            self.diags.error(
                                &ptr,
                                "missing-transition",
                                "a transition needs `transition`: the state to go to",
                            );
                            continue;
                        }
                    };
                    transitions.push(Transition {
                        action,
                        response,
                        condition,
                        target,
                    });
                }
                _ => self
                    .diags
                    .error(&ptr, "type", "a transition is a state key or an object"),
            }
        }
        let timeout = match obj.get("timeout") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => match IsoDuration::parse(t) {
                Ok(d) => Some(d),
                Err(e) => {
                    self.diags.error(&at.join("timeout"), "bad-timeout", e);
                    None
                }
            },
            Some(_) => {
                self.diags.error(
                    &at.join("timeout"),
                    "type",
                    "`timeout` must be an ISO 8601 duration such as \"P3D\"",
                );
                None
            }
        };
        Some(State {
            key: key.to_string(),
            title,
            description,
            instructions,
            actions,
            transitions,
            timeout,
            source: value.clone(),
        })
    }
}
