//! Whole-scenario checks: references between parts, reachability, and the passive test.

use std::collections::{BTreeSet, HashMap};

use crate::diag::{Diagnostics, Pointer};
use crate::model::{self, STAY, Scenario};

/// One edge of the state graph: from a state, by an action's response, to a state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// Index of the state it leaves.
    pub from: usize,
    /// Index of the state it enters (equal to `from` for a stay).
    pub to: usize,
    /// The action.
    pub action: String,
    /// The response; `None` for "any response" of a transition that names none.
    pub response: Option<String>,
    /// Whether a condition guards it.
    pub conditional: bool,
    /// Whether the transition is a stay (`-`, or no transition matched): the state is not re-entered.
    pub stay: bool,
    /// Whether the action is carried out by a system (HTTP, nop, event trigger).
    pub system: bool,
    /// Index of the transition in the state's list; `None` for the implicit stay.
    pub transition: Option<usize>,
}

/// Where a transition leads: the state's index, and whether it is a stay; `None` for a state
/// that does not exist (reported elsewhere).
fn target_of(index: &HashMap<&str, usize>, from: usize, target: &str) -> Option<(usize, bool)> {
    if target == STAY {
        Some((from, true))
    } else {
        index.get(target).map(|&to| (to, false))
    }
}

/// The scenario's states and edges, with conditions ignored: every transition that could
/// match is an edge.
pub fn edges(scenario: &Scenario) -> Vec<Edge> {
    let index: HashMap<&str, usize> = scenario
        .states
        .keys()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let mut out = Vec::new();
    for (from, state) in scenario.states.values().enumerate() {
        if state.is_final() {
            continue;
        }
        for action in scenario.actions_in(state) {
            for response in action.responses.keys() {
                let mut matched = false;
                for (ti, t) in state.transitions.iter().enumerate() {
                    if t.action.as_deref().is_some_and(|a| a != action.key) {
                        continue;
                    }
                    if t.response.as_deref().is_some_and(|r| r != response) {
                        continue;
                    }
                    let Some((to, stay)) = target_of(&index, from, &t.target) else {
                        continue;
                    };
                    out.push(Edge {
                        from,
                        to,
                        action: action.key.clone(),
                        response: Some(response.clone()),
                        conditional: t.condition.is_some(),
                        stay,
                        system: action.trigger.is_system(),
                        transition: Some(ti),
                    });
                    matched = true;
                    if t.condition.is_none() {
                        break;
                    }
                }
                if !matched {
                    out.push(Edge {
                        from,
                        to: from,
                        action: action.key.clone(),
                        response: Some(response.clone()),
                        conditional: false,
                        stay: true,
                        system: action.trigger.is_system(),
                        transition: None,
                    });
                }
            }
        }
        // A state with a timeout can be left by the `:timeout` pseudo-action, which a node
        // carries out: a system edge.
        if state.timeout.is_some() {
            for (ti, t) in state.transitions.iter().enumerate() {
                if t.action.as_deref() != Some(model::TIMEOUT) {
                    continue;
                }
                let Some((to, stay)) = target_of(&index, from, &t.target) else {
                    continue;
                };
                out.push(Edge {
                    from,
                    to,
                    action: model::TIMEOUT.to_string(),
                    response: None,
                    conditional: t.condition.is_some(),
                    stay,
                    system: true,
                    transition: Some(ti),
                });
            }
        }
    }
    out
}

/// Checks references, reachability and the passive test, adding to `diags`.
pub fn check(scenario: &Scenario, diags: &mut Diagnostics) {
    references(scenario, diags);
    reachability(scenario, diags);
    passive(scenario, diags);
}

fn state_ptr(key: &str) -> Pointer {
    Pointer::root().join("states").join(key)
}

fn action_ptr(key: &str) -> Pointer {
    Pointer::root().join("actions").join(key)
}

fn references(s: &Scenario, diags: &mut Diagnostics) {
    for (i, key) in s.allow_actions.iter().enumerate() {
        if !s.actions.contains_key(key) {
            diags.error(
                &Pointer::root().join("allow_actions").join(i),
                "unknown-action",
                format!("`{key}` is not an action of this scenario"),
            );
        }
    }
    for (key, action) in &s.actions {
        let field = if action.source.get("actor").is_some() {
            "actor"
        } else {
            "actors"
        };
        if action.actors.is_empty() {
            diags.warning(
                &action_ptr(key),
                "no-actor",
                format!("action `{key}` names no actor, so no one can perform it"),
            );
        }
        for (i, actor) in action.actors.iter().enumerate() {
            if !s.actors.contains_key(actor) {
                let p = if field == "actor" {
                    action_ptr(key).join("actor")
                } else {
                    action_ptr(key).join("actors").join(i)
                };
                // The reference takes such a scenario (no one can perform the action): a
                // warning, like `no-actor`.
                diags.warning(
                    &p,
                    "unknown-actor",
                    format!(
                        "`{actor}` is not an actor of this scenario, so no one can perform this action{}",
                        known(s.actors.keys())
                    ),
                );
            }
        }
        for (rkey, response) in &action.responses {
            for (ui, update) in response.update.iter().enumerate() {
                let (root, name) = (update.select.first().unwrap_or(""), update.select.get(1));
                let known_set = match root {
                    "actors" => Some(&s.actors),
                    "assets" => Some(&s.assets),
                    _ => None,
                };
                if let (Some(set), Some(name)) = (known_set, name)
                    && !set.contains_key(name)
                {
                    let base = if action
                        .source
                        .get("responses")
                        .and_then(|r| r.get(rkey))
                        .and_then(|r| r.get("update"))
                        .is_some()
                    {
                        action_ptr(key).join("responses").join(rkey).join("update")
                    } else {
                        action_ptr(key).join("update")
                    };
                    let p = if response.update.len() > 1 || base_is_array(&action.source, rkey) {
                        base.join(ui)
                    } else {
                        base
                    };
                    // The reference takes it, and the engine creates the entry (an actor so
                    // made has no identity: no one acts as it).
                    diags.warning(
                            &p,
                            "unknown-select",
                            format!("update selects `{}`, but `{name}` is not one of the scenario's {root}, so the update creates it{}", update.select, known(set.keys())),
                        );
                }
            }
        }
    }
    for (skey, state) in &s.states {
        if state.is_final() {
            continue;
        }
        let field = if state.source.get("action").is_some() {
            "action"
        } else {
            "actions"
        };
        for (i, a) in state.actions.iter().enumerate() {
            if !s.actions.contains_key(a) {
                let p = if field == "action" {
                    state_ptr(skey).join("action")
                } else {
                    state_ptr(skey).join("actions").join(i)
                };
                diags.error(
                    &p,
                    "unknown-action",
                    format!(
                        "`{a}` is not an action of this scenario{}",
                        known(s.actions.keys())
                    ),
                );
            }
        }
        for actor in state.instructions.keys() {
            if !s.actors.contains_key(actor) {
                diags.error(
                    &state_ptr(skey).join("instructions").join(actor),
                    "unknown-actor",
                    format!("instructions for `{actor}`, which is not an actor of this scenario"),
                );
            }
        }
        if state.actions.is_empty() && s.allow_actions.is_empty() {
            diags.error(
                &state_ptr(skey),
                "no-actions",
                format!("state `{skey}` opens no action, so a process there could never move; only final states (:success, :failed, :cancelled) have none"),
            );
        }
        let open: BTreeSet<&str> = s.actions_in(state).map(|a| a.key.as_str()).collect();
        let tfield = if state.source.get("transition").is_some() {
            "transition"
        } else {
            "transitions"
        };
        let single = !matches!(state.source.get(tfield), Some(serde_json::Value::Array(_)));
        for (i, t) in state.transitions.iter().enumerate() {
            let p = if single {
                state_ptr(skey).join(tfield)
            } else {
                state_ptr(skey).join(tfield).join(i)
            };
            let tp = |f: &str| {
                if state.source.get(tfield).is_some_and(|v| v.is_string()) {
                    p.clone()
                } else {
                    p.join(f)
                }
            };
            if t.target != STAY && !s.states.contains_key(&t.target) {
                diags.error(
                    &tp("transition"),
                    "unknown-state",
                    format!(
                        "`{}` is not a state of this scenario{}{}",
                        t.target,
                        did_you_mean(&t.target, s.states.keys()),
                        known(s.states.keys())
                    ),
                );
            }
            if t.action.as_deref() == Some(model::TIMEOUT) {
                if state.timeout.is_none() {
                    diags.error(
                        &tp("action"),
                        "timeout-without-timeout",
                        format!("this transition follows `:timeout`, but state `{skey}` has no `timeout`, so it never times out"),
                    );
                }
                continue;
            }
            if let Some(a) = &t.action {
                if !s.actions.contains_key(a) {
                    diags.error(
                        &tp("action"),
                        "unknown-action",
                        format!("`{a}` is not an action of this scenario"),
                    );
                    continue;
                }
                if !open.contains(a.as_str()) {
                    diags.warning(
                        &tp("action"),
                        "action-not-open",
                        format!(
                            "`{a}` is not open in state `{skey}`, so this transition never applies"
                        ),
                    );
                }
            }
            if let Some(r) = &t.response {
                let candidates: Vec<&model::Action> = match &t.action {
                    Some(a) => s.actions.get(a).into_iter().collect(),
                    None => s.actions_in(state).collect(),
                };
                if !candidates.is_empty() && !candidates.iter().any(|a| a.responses.contains_key(r))
                {
                    let whose = match &t.action {
                        Some(a) => format!("of `{a}`"),
                        None => format!("of any action open in `{skey}`"),
                    };
                    // The reference takes it (its own fixture waits on an HTTP action's
                    // undeclared `error`); the transition is dead, as with `action-not-open`.
                    diags.warning(
                        &tp("response"),
                        "unknown-response",
                        format!(
                            "`{r}` is not a response {whose}, so this transition never applies"
                        ),
                    );
                }
            }
        }
    }
}

fn base_is_array(source: &serde_json::Value, rkey: &str) -> bool {
    let update = source
        .get("responses")
        .and_then(|r| r.get(rkey))
        .and_then(|r| r.get("update"))
        .or_else(|| source.get("update"));
    matches!(update, Some(serde_json::Value::Array(_)))
}

/// "; did you mean `x`?" when `name` is a state's key with a colon too many or too few
/// (`:initial` for `initial`, `success` for `:success`).
fn did_you_mean<'a>(name: &str, mut keys: impl Iterator<Item = &'a String>) -> String {
    let other = match name.strip_prefix(':') {
        Some(bare) => bare.to_string(),
        None => format!(":{name}"),
    };
    if keys.any(|k| *k == other) {
        format!("; did you mean `{other}`?")
    } else {
        String::new()
    }
}

fn known<'a>(keys: impl Iterator<Item = &'a String>) -> String {
    let keys: Vec<&str> = keys
        .map(String::as_str)
        .filter(|k| !model::is_final(k))
        .collect();
    if keys.is_empty() {
        String::new()
    } else {
        format!(" (known: {})", keys.join(", "))
    }
}

fn reachability(s: &Scenario, diags: &mut Diagnostics) {
    let Some(initial) = s.states.get_index_of(model::INITIAL) else {
        return;
    };
    let n = s.states.len();
    let edges = edges(s);
    let mut forward = vec![Vec::new(); n];
    let mut backward = vec![Vec::new(); n];
    for e in &edges {
        forward[e.from].push(e.to);
        backward[e.to].push(e.from);
    }
    let reachable = flood(&forward, [initial]);
    let finals = s
        .states
        .values()
        .enumerate()
        .filter(|(_, st)| st.is_final())
        .map(|(i, _)| i);
    let can_finish = flood(&backward, finals);
    for (i, (key, state)) in s.states.iter().enumerate() {
        if state.is_final() {
            continue;
        }
        if !reachable[i] {
            diags.warning(
                &state_ptr(key),
                "unreachable-state",
                format!("state `{key}` cannot be reached from `initial`"),
            );
        } else if !can_finish[i] {
            diags.error(
                &state_ptr(key),
                "no-path-to-final",
                format!("from state `{key}` no path leads to a final state (:success, :failed or :cancelled): a process there would never end"),
            );
        }
    }
}

fn flood(adj: &[Vec<usize>], start: impl IntoIterator<Item = usize>) -> Vec<bool> {
    let mut seen = vec![false; adj.len()];
    let mut stack: Vec<usize> = start.into_iter().collect();
    for &s in &stack {
        seen[s] = true;
    }
    while let Some(v) = stack.pop() {
        for &w in &adj[v] {
            if !seen[w] {
                seen[w] = true;
                stack.push(w);
            }
        }
    }
    seen
}

/// The whitepaper's passive test: a cycle that only system actions travel could run forever
/// with no person involved. Stays do not count (the state is not re-entered, so nothing is
/// triggered again); conditions are ignored, so a reported cycle may never happen.
fn passive(s: &Scenario, diags: &mut Diagnostics) {
    let n = s.states.len();
    let mut adj = vec![Vec::new(); n];
    for e in edges(s).into_iter().filter(|e| e.system && !e.stay) {
        adj[e.from].push((e.to, e.action));
    }
    for cycle in cycles(&adj) {
        let names: Vec<&str> = cycle
            .iter()
            .map(|&i| {
                s.states
                    .get_index(i)
                    .map(|(k, _)| k.as_str())
                    .unwrap_or("?")
            })
            .collect();
        let mut path = names.join(" → ");
        path.push_str(" → ");
        path.push_str(names[0]);
        diags.warning(
            &state_ptr(names[0]),
            "system-cycle",
            format!("the states {path} form a cycle made only of system actions, which could repeat forever with no one acting (conditions were not considered, so this may be a false positive)"),
        );
    }
}

/// One representative cycle per strongly connected component that has a cycle (Tarjan).
fn cycles(adj: &[Vec<(usize, String)>]) -> Vec<Vec<usize>> {
    let n = adj.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut next = 0;
    let mut out = Vec::new();
    // Iterative Tarjan: frames of (node, next edge position).
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut frames = vec![(root, 0usize)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut pos)) = frames.last_mut() {
            if let Some((w, _)) = adj[v].get(*pos) {
                let w = *w;
                *pos += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    frames.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                frames.pop();
                if let Some(&(parent, _)) = frames.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut component = Vec::new();
                    loop {
                        let w = stack.pop().expect("Tarjan stack holds the component");
                        on_stack[w] = false;
                        component.push(w);
                        if w == v {
                            break;
                        }
                    }
                    let self_loop = adj[v].iter().any(|(w, _)| *w == v);
                    if component.len() > 1 || self_loop {
                        component.sort_unstable();
                        out.push(cycle_in(adj, &component));
                    }
                }
            }
        }
    }
    out.sort();
    out
}

/// A simple cycle through the component's smallest state, found by breadth-first search.
fn cycle_in(adj: &[Vec<(usize, String)>], component: &[usize]) -> Vec<usize> {
    let start = component[0];
    let inside = |v: usize| component.binary_search(&v).is_ok();
    let mut parent: HashMap<usize, usize> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for (w, _) in &adj[v] {
            let w = *w;
            if !inside(w) {
                continue;
            }
            if w == start {
                let mut path = vec![v];
                let mut cur = v;
                while cur != start {
                    cur = parent[&cur];
                    path.push(cur);
                }
                path.reverse();
                return path;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(w) {
                e.insert(v);
                queue.push_back(w);
            }
        }
    }
    vec![start]
}
