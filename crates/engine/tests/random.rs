//! Random valid scenarios, random response sequences: replaying the same events twice gives the
//! same bytes, a refused response never changes them, and a process never ends up in a state
//! the scenario does not have.

mod common;

use accord_engine::{Candidate, Compiled, Identity, Process, Start};
use accord_scenario::check_value;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::sync::Arc;

const ACTORS: [&str; 3] = ["a", "b", "c"];

/// A scenario with `n` states in a row; each state's first transition goes forward (so every
/// state can reach a final state), the others anywhere; conditions and updates sprinkled in.
fn scenario(n: usize, shape: &[(usize, usize, usize, bool, bool)]) -> Value {
    let mut actions = serde_json::Map::new();
    let mut states = serde_json::Map::new();
    let key = |i: usize| {
        if i == 0 {
            "initial".to_string()
        } else {
            format!("s{i}")
        }
    };
    let finals = [":success", ":failed", ":cancelled"];
    for i in 0..n {
        let (actor, target, fin, cond, update) = shape[i % shape.len()];
        let forward = if i + 1 < n {
            key(i + 1)
        } else {
            finals[fin % 3].to_string()
        };
        let other = if target % (n + 1) == n {
            finals[(fin + 1) % 3].to_string()
        } else {
            key(target % n)
        };
        let go = format!("go{i}");
        let alt = format!("alt{i}");
        let mut act = json!({"actors": [ACTORS[actor % 3], ACTORS[(actor + 1) % 3]], "responses": {"ok": {}, "no": {}}});
        if update {
            // A note under a top-level key that does not exist yet, then the actor: a refusal
            // of the second must take the first back, `info` included.
            act["update"] = json!([
                {"select": "info.last", "data": {"<ref>": "current.response.key"}},
                {"select": format!("actors.{}", ACTORS[actor % 3])}
            ]);
        }
        if cond {
            act["condition"] = json!({"<eval>": "current.actor.blocked != `true`"});
        }
        actions.insert(go.clone(), act);
        actions.insert(
            alt.clone(),
            json!({"actor": ACTORS[(actor + 2) % 3], "update": "assets.log"}),
        );
        let mut transitions = vec![json!({"action": go, "response": "ok", "transition": forward})];
        transitions.push(json!({"action": alt, "transition": other}));
        if cond {
            transitions.insert(0, json!({"action": go, "response": "no", "condition": {"<eval>": "actors.a.n > `3`"}, "transition": finals[0]}));
        }
        // Some states fail to enter while `actors.a.n` is 0 or unset (division by zero): the
        // step that leads there is refused and must change nothing.
        let title = if i > 0 && fin == 2 {
            json!({"<math>": "10 / x", "x": {"<ref>": "actors.a.n"}})
        } else {
            json!(format!("State {i}"))
        };
        states.insert(
            key(i),
            json!({"title": title, "actions": [go, alt], "transitions": transitions}),
        );
    }
    json!({
        "$schema": "https://specs.livecontracts.io/v0.2.0/scenario/schema.json#",
        "id": "random",
        "title": "Random",
        "actors": {"a": {"type": "object", "properties": {"n": {"type": ["number", "null"]}, "blocked": {"type": ["boolean", "null"]}}}, "b": {}, "c": {}},
        "assets": {"log": {"type": "object"}},
        "actions": actions,
        "states": states
    })
}

fn play(doc: &Value, steps: &[(usize, usize, bool, i64)]) -> Vec<Vec<u8>> {
    let checked = check_value(doc);
    let s = checked
        .scenario
        .unwrap_or_else(|| panic!("{:?}", checked.diagnostics));
    let compiled = Arc::new(Compiled::new(s).unwrap());
    let start = Start {
        id: "p".into(),
        actors: ACTORS
            .iter()
            .map(|a| {
                (
                    a.to_string(),
                    Identity {
                        id: a.to_string(),
                        node: None,
                        signkeys: vec![("user".into(), format!("k{a}"))],
                        encryptkey: None,
                    },
                )
            })
            .collect(),
        timestamp: 1,
        ..Start::default()
    };
    let (mut p, _) = Process::start(compiled.clone(), start).unwrap();
    let mut out = vec![p.to_canonical()];
    for (i, (who, pick, alt, n)) in steps.iter().enumerate() {
        let state = p.state().to_string();
        let prefix = if *alt { "alt" } else { "go" };
        let action = compiled
            .scenario
            .states
            .get(&state)
            .and_then(|st| st.actions.iter().find(|a| a.starts_with(prefix)).cloned())
            .unwrap_or_else(|| format!("go{pick}"));
        let c = Candidate {
            signer: format!("k{}", ACTORS[who % 3]),
            action,
            response: Some(if pick % 2 == 0 { "ok" } else { "no" }.into()),
            data: json!({"n": n, "blocked": n % 5 == 0}),
            timestamp: 2 + i as u64,
            hash: format!("h{i}"),
        };
        let before = p.to_canonical();
        match p.step(&c) {
            Ok(_) => assert!(
                compiled.scenario.states.contains_key(p.state()),
                "in a state the scenario has"
            ),
            Err(_) => assert_eq!(before, p.to_canonical(), "a refusal changed the process"),
        }
        // The borrowed writer and the copied document give the same bytes.
        assert_eq!(
            String::from_utf8(p.to_canonical()).unwrap(),
            String::from_utf8(accord_engine::canonical(&p.to_json())).unwrap()
        );
        out.push(p.to_canonical());
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_scenarios_replay_to_the_same_bytes(
        n in 1usize..7,
        shape in proptest::collection::vec((0usize..3, 0usize..8, 0usize..3, any::<bool>(), any::<bool>()), 1..7),
        steps in proptest::collection::vec((0usize..3, 0usize..4, any::<bool>(), -10i64..10), 0..30),
    ) {
        let doc = scenario(n, &shape);
        let first = play(&doc, &steps);
        let second = play(&doc, &steps);
        prop_assert_eq!(first, second);
    }
}
