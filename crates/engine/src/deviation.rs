//! Deviations (whitepaper, "Adaptive workflows"): a partial scenario any party may propose
//! from the state the process is in. It is in force only once every party has accepted it;
//! it adds its actions to that state and its own states to the scenario; it is gone once the
//! process is in a state that is neither the one it started from nor one of its own, or when
//! the process leaves that state before everyone accepted. A deviation that names `update`
//! carries a scenario update: its transitions may lead to `:update:<state>`, which moves the
//! process to `<state>` of the new scenario, for good.
//!
//! The formats are Accord's own (`docs/design/processes.md`):
//! `{"$schema": "urn:accord:v1:deviation", "id", "from", "actions": {…}, "states": {…},
//!   "open": [action keys added to `from`], "transitions": [transitions added to `from`],
//!   "update": "new scenario id"?}` and
//! `{"$schema": "urn:accord:v1:deviation-acceptance", "deviation": "id"}`.

use serde_json::{Map, Value};

/// `$schema` of a deviation proposal.
pub const DEVIATION_SCHEMA: &str = "urn:accord:v1:deviation";
/// `$schema` of an acceptance.
pub const ACCEPTANCE_SCHEMA: &str = "urn:accord:v1:deviation-acceptance";
/// The prefix of a transition target that moves the process into an updated scenario.
pub const UPDATE_PREFIX: &str = ":update:";

/// A proposed deviation.
#[derive(Clone, Debug, PartialEq)]
pub struct Deviation {
    /// Its id.
    pub id: String,
    /// The state it starts from.
    pub from: String,
    /// The proposal as sent.
    pub body: Value,
    /// Identities that have accepted it (the proposer's counts).
    pub accepted: Vec<String>,
    /// Whether every party has accepted it.
    pub in_force: bool,
}

impl Deviation {
    /// The state keys it adds.
    pub fn states(&self) -> Vec<String> {
        self.body
            .get("states")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The scenario id it updates to, if any.
    pub fn update(&self) -> Option<&str> {
        self.body.get("update").and_then(Value::as_str)
    }
}

/// The scenario with a deviation laid over it, as a document to check and compile.
/// Errors name what is wrong in the proposal.
pub fn overlay(base: &Value, d: &Value, update_states: Option<&[String]>) -> Result<Value, String> {
    let mut doc = base.clone();
    let from = d
        .get("from")
        .and_then(Value::as_str)
        .ok_or("a deviation needs `from`: the state it starts from")?;
    let Some(Value::Object(states)) = doc.get_mut("states") else {
        return Err("the scenario has no states".into());
    };
    if !states.contains_key(from) {
        return Err(format!(
            "`from` is `{from}`, which is not a state of the scenario"
        ));
    }
    let added_states = d
        .get("states")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (k, v) in &added_states {
        if states.contains_key(k) || k.starts_with(':') {
            return Err(format!(
                "the deviation's state `{k}` is already a state of the scenario (or a final state)"
            ));
        }
        states.insert(k.clone(), v.clone());
    }
    // Targets into an updated scenario become final placeholder states here.
    let mut placeholders = Vec::new();
    collect_update_targets(d, &mut placeholders);
    for t in &placeholders {
        let state = &t[UPDATE_PREFIX.len()..];
        match update_states {
            None => {
                return Err(format!(
                    "`{t}` leads into an updated scenario, but the deviation names no `update`"
                ));
            }
            Some(known) if !known.iter().any(|k| k == state) => {
                return Err(format!(
                    "`{t}`: the updated scenario has no state `{state}`"
                ));
            }
            _ => {}
        }
        states.insert(t.clone(), Value::Object(Map::new()));
    }
    let from_state = states
        .get_mut(from)
        .and_then(Value::as_object_mut)
        .ok_or("`from` is not an object")?;
    let mut open: Vec<Value> = match from_state
        .remove("action")
        .or_else(|| from_state.remove("actions"))
    {
        Some(Value::String(a)) => vec![Value::String(a)],
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    };
    for a in d
        .get("open")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        open.push(a.clone());
    }
    from_state.insert("actions".into(), Value::Array(open));
    let mut transitions: Vec<Value> = d
        .get("transitions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    match from_state
        .remove("transition")
        .or_else(|| from_state.remove("transitions"))
    {
        Some(Value::String(t)) => transitions.push(serde_json::json!({"transition": t})),
        Some(Value::Array(a)) => transitions.extend(a),
        Some(other @ Value::Object(_)) => transitions.push(other),
        _ => {}
    }
    from_state.insert("transitions".into(), Value::Array(transitions));
    let added_actions = d
        .get("actions")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let actions = doc
        .as_object_mut()
        .expect("a scenario is an object")
        .entry("actions")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(actions) = actions else {
        return Err("the scenario's actions are not an object".into());
    };
    for (k, v) in added_actions {
        if actions.contains_key(&k) {
            return Err(format!(
                "the deviation's action `{k}` is already an action of the scenario"
            ));
        }
        actions.insert(k, v);
    }
    Ok(doc)
}

fn collect_update_targets(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "transition"
                    && let Value::String(t) = x
                    && t.starts_with(UPDATE_PREFIX)
                    && !out.contains(t)
                {
                    out.push(t.clone());
                }
                collect_update_targets(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_update_targets(x, out)),
        _ => {}
    }
}
