//! The scenario as a graph: states are nodes, transitions are edges labelled with the
//! action, the response and the condition; final states are marked. Written as DOT, Mermaid
//! or SVG (see [`crate::svg`]).

use std::fmt::Write;

use serde_json::Value;

use crate::check;
use crate::model::{Scenario, State};

/// A node of the drawn graph.
#[derive(Clone, Debug)]
pub struct Node {
    /// The state key.
    pub key: String,
    /// What to show: the state's title when it is plain text, with its key after it (two
    /// states may share a title), else its key.
    pub label: String,
    /// Whether it is a final state.
    pub is_final: bool,
    /// How a final state ends the process: `success`, `failed` or `cancelled` (drawn unlike
    /// each other); `None` for any other state.
    pub outcome: Option<&'static str>,
    /// Whether it is the initial state.
    pub is_initial: bool,
}

/// An edge of the drawn graph; one per transition (and action it follows).
#[derive(Clone, Debug)]
pub struct GraphEdge {
    /// Index of the source node.
    pub from: usize,
    /// Index of the target node.
    pub to: usize,
    /// `action` or `action: response`, with `[condition]` after it when there is one.
    pub label: String,
    /// Whether a system carries the action out.
    pub system: bool,
}

/// The graph to draw: every state, and one edge per explicit transition and action.
#[derive(Clone, Debug)]
pub struct Graph {
    /// The scenario's title.
    pub title: String,
    /// States.
    pub nodes: Vec<Node>,
    /// Transitions.
    pub edges: Vec<GraphEdge>,
}

fn state_label(state: &State) -> String {
    match state.source.get("title") {
        Some(Value::String(t)) if !t.is_empty() && *t != state.key => {
            format!("{t} ({})", state.key)
        }
        _ => state.key.clone(),
    }
}

/// How a final state ends the process.
fn outcome(key: &str) -> Option<&'static str> {
    match key {
        ":success" => Some("success"),
        ":failed" => Some("failed"),
        ":cancelled" => Some("cancelled"),
        _ => None,
    }
}

/// The condition as written: an `<eval>` expression as its text, anything else as JSON.
pub fn condition_text(value: &Value) -> String {
    match value {
        Value::Object(m) if m.len() == 1 => match m.get("<eval>") {
            Some(Value::String(e)) => e.clone(),
            _ => value.to_string(),
        },
        other => other.to_string(),
    }
}

/// Builds the graph of a scenario.
pub fn graph(s: &Scenario) -> Graph {
    let nodes: Vec<Node> = s
        .states
        .values()
        .map(|st| Node {
            key: st.key.clone(),
            label: state_label(st),
            is_final: st.is_final(),
            outcome: outcome(&st.key),
            is_initial: st.key == crate::model::INITIAL,
        })
        .collect();
    let mut edges: Vec<GraphEdge> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for e in check::edges(s) {
        let Some(ti) = e.transition else { continue };
        let state = &s.states[e.from];
        let t = &state.transitions[ti];
        // A transition that names no response stands for all of them: one edge per action.
        if !seen.insert((
            e.from,
            ti,
            e.action.clone(),
            if t.response.is_some() {
                e.response.clone()
            } else {
                None
            },
        )) {
            continue;
        }
        let mut label = e.action.clone();
        if let Some(r) = &t.response {
            let _ = write!(label, ": {r}");
        }
        if let Some(cond) = state
            .source
            .get("transitions")
            .and_then(|ts| ts.get(ti))
            .and_then(|t| t.get("condition"))
            .filter(|c| **c != Value::Bool(true))
        {
            let _ = write!(label, " [{}]", condition_text(cond));
        }
        edges.push(GraphEdge {
            from: e.from,
            to: e.to,
            label,
            system: e.system,
        });
    }
    // The three final states always exist; draw only those a transition enters or the
    // document defines.
    let nodes: Vec<Node> = nodes;
    let keep: Vec<bool> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            !n.is_final
                || edges.iter().any(|e| e.to == i)
                || s.source
                    .get("states")
                    .and_then(|st| st.get(&n.key))
                    .is_some()
        })
        .collect();
    let mut renumber = vec![usize::MAX; nodes.len()];
    let mut kept = Vec::new();
    for (i, n) in nodes.into_iter().enumerate() {
        if keep[i] {
            renumber[i] = kept.len();
            kept.push(n);
        }
    }
    for e in &mut edges {
        e.from = renumber[e.from];
        e.to = renumber[e.to];
    }
    Graph {
        title: s.title.clone().unwrap_or_else(|| "scenario".to_string()),
        nodes: kept,
        edges,
    }
}

fn dot_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Graphviz DOT.
pub fn to_dot(g: &Graph) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", dot_quote(&g.title));
    out.push_str("  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n");
    out.push_str("  __start [shape=point, label=\"\"];\n");
    for n in &g.nodes {
        let shape = match n.outcome {
            Some("failed") => ", shape=doublecircle, style=solid, color=\"#b3261e\"",
            Some("cancelled") => ", shape=doublecircle, style=dashed, color=\"#6e6e6e\"",
            _ if n.is_final => ", shape=doublecircle, style=solid, color=\"#3b7a3b\"",
            _ => "",
        };
        let _ = writeln!(
            out,
            "  {} [label={}{shape}];",
            dot_quote(&n.key),
            dot_quote(&n.label)
        );
    }
    if let Some(initial) = g.nodes.iter().find(|n| n.is_initial) {
        let _ = writeln!(out, "  __start -> {};", dot_quote(&initial.key));
    }
    for e in &g.edges {
        let style = if e.system { ", style=dashed" } else { "" };
        let _ = writeln!(
            out,
            "  {} -> {} [label={}{style}];",
            dot_quote(&g.nodes[e.from].key),
            dot_quote(&g.nodes[e.to].key),
            dot_quote(&e.label)
        );
    }
    out.push_str("}\n");
    out
}

/// Text safe inside a Mermaid label: characters Mermaid treats as syntax become entity codes.
fn mermaid_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            ';' | '#' | ':' | '"' | '<' | '>' | '{' | '}' | '|' | '\n' | '[' | ']' => {
                let _ = write!(out, "#{};", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// A Mermaid `stateDiagram-v2`.
pub fn to_mermaid(g: &Graph) -> String {
    let mut out = String::from("stateDiagram-v2\n");
    let _ = writeln!(out, "  %% {}", g.title.replace('\n', " "));
    for (i, n) in g.nodes.iter().enumerate() {
        let _ = writeln!(out, "  state \"{}\" as s{i}", mermaid_text(&n.label));
    }
    for (i, n) in g.nodes.iter().enumerate() {
        if n.is_initial {
            let _ = writeln!(out, "  [*] --> s{i}");
        }
    }
    for e in &g.edges {
        let _ = writeln!(
            out,
            "  s{} --> s{}: {}",
            e.from,
            e.to,
            mermaid_text(&e.label)
        );
    }
    for (i, n) in g.nodes.iter().enumerate() {
        if n.is_final {
            let _ = writeln!(out, "  s{i} --> [*]");
        }
    }
    // Final states coloured by how they end the process.
    let mut used = Vec::new();
    for (i, n) in g.nodes.iter().enumerate() {
        if let Some(o) = n.outcome {
            let _ = writeln!(out, "  class s{i} {o}");
            if !used.contains(&o) {
                used.push(o);
            }
        }
    }
    for o in used {
        let style = match o {
            "success" => "fill:#eef7ee,stroke:#3b7a3b",
            "failed" => "fill:#fbeeee,stroke:#b3261e",
            _ => "fill:#f2f2f2,stroke:#6e6e6e,stroke-dasharray:4 3",
        };
        let _ = writeln!(out, "  classDef {o} {style}");
    }
    out
}
