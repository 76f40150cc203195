//! Building the events a client sends: identities, the scenario, the process start, responses,
//! signed and linked, as whole chains or as partial chains on a known tip.

use accord_chain::{Chain, ChainId, Draft, Event, Nonce, PartialStart, VerifiedChain, Version};
use accord_crypto::KeyPair;
use serde_json::{Map, Value, json};

/// The `$schema` prefix of Live Contracts documents.
pub const LC: &str = "https://specs.livecontracts.io/v0.2.0/";

/// An identity document with a user key (and, optionally, the node key that runs its system
/// actions).
pub fn identity(id: &str, user_key: &str, system_key: Option<&str>) -> Value {
    let mut signkeys = Map::new();
    signkeys.insert("user".into(), Value::from(user_key));
    if let Some(system) = system_key {
        signkeys.insert("system".into(), Value::from(system));
    }
    json!({"$schema": format!("{LC}identity/schema.json#"), "id": id, "signkeys": signkeys})
}

/// An identity document with a user key, naming the node that holds it (its key, or a URL).
pub fn identity_at(id: &str, user_key: &str, node: &str) -> Value {
    let mut body = identity(id, user_key, None);
    body["node"] = Value::from(node);
    body
}

/// A process start: its id, its scenario's id, and the identity id of each actor.
pub fn process(id: &str, scenario: &str, actors: &[(String, String)]) -> Value {
    let actors: Map<String, Value> = actors
        .iter()
        .map(|(actor, identity)| (actor.clone(), Value::from(identity.clone())))
        .collect();
    json!({"$schema": format!("{LC}process/schema.json#"), "id": id, "scenario": scenario, "actors": actors})
}

/// A response to an action.
pub fn response(action: &str, key: Option<&str>, data: Value) -> Value {
    let mut body =
        json!({"$schema": format!("{LC}response/schema.json#"), "action": action, "data": data});
    if let Some(key) = key {
        body["key"] = Value::from(key);
    }
    body
}

/// A scenario document with its `$schema` and `id` set.
pub fn scenario(mut doc: Value, id: &str) -> Value {
    if let Value::Object(m) = &mut doc {
        m.insert(
            "$schema".into(),
            Value::from(format!("{LC}scenario/schema.json#")),
        );
        m.insert("id".into(), Value::from(id));
    }
    doc
}

/// A new chain created by `creator` (who signs the first event), holding `bodies` in order,
/// each signed by its key, timestamps from `timestamp` on (one millisecond apart).
pub fn new_chain(
    creator: &KeyPair,
    network: u8,
    nonce: &Nonce,
    bodies: &[(&Value, &KeyPair)],
    timestamp: u64,
) -> Result<VerifiedChain, String> {
    let id = ChainId::new(Version::V2, network, creator.public_key(), nonce);
    let mut chain = VerifiedChain::new(id);
    for (n, (body, key)) in bodies.iter().enumerate() {
        chain
            .sign_and_append(Draft::json(body), key, timestamp + n as u64)
            .map_err(|e| format!("event {n}: {e}"))?;
    }
    Ok(chain)
}

/// A partial chain with one new event on a known tip (`hash`, `state`).
pub fn next_event(
    chain: &ChainId,
    tip: [u8; 32],
    state: [u8; 32],
    body: &Value,
    key: &KeyPair,
    timestamp: u64,
) -> Result<Chain, String> {
    let (event, _) = Event::signed_on(Draft::json(body), tip, timestamp, chain.version(), key)
        .map_err(|e| format!("cannot sign the event: {e}"))?;
    Ok(Chain {
        id: *chain,
        start: Some(PartialStart { hash: tip, state }),
        events: vec![event],
    })
}
