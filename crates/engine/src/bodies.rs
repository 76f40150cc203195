//! The Live Contracts event bodies Accord writes, built here beside the [`replay`](crate::replay)
//! that reads them: the one place that writes `$schema` URIs (`v0.2.0`, the version the
//! reference's own documents carry; any `vX.Y.Z` is read, see [`Kind::of`](crate::Kind::of)).
//! Bodies only: signing them into events is the caller's (a node's `events`, the CLI).

use serde_json::{Map, Value, json};

/// The `$schema` prefix of the Live Contracts documents Accord writes.
pub const LC: &str = "https://specs.livecontracts.io/v0.2.0/";
/// `$schema` of a process projection.
pub const PROCESS_SCHEMA: &str = "https://specs.livecontracts.io/v0.2.0/process/schema.json#";
/// `$schema` of a response.
pub const RESPONSE_SCHEMA: &str = "https://specs.livecontracts.io/v0.2.0/response/schema.json#";
/// `$schema` of a node's error event.
pub const ERROR_SCHEMA: &str = "https://specs.livecontracts.io/v0.2.0/error/schema.json#";

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

/// A node's error event: why it refused each of `events` (hashes, base58), in order.
pub fn error(messages: Vec<String>, events: Vec<String>) -> Value {
    json!({"$schema": ERROR_SCHEMA, "message": messages, "events": events})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kind;

    /// Every body built here is read back as its kind.
    #[test]
    fn the_replay_reads_each_body_as_its_kind() {
        let kind = |body: &Value| body["$schema"].as_str().and_then(Kind::of);
        assert_eq!(kind(&identity("i", "k", Some("s"))), Some(Kind::Identity));
        assert_eq!(kind(&identity_at("i", "k", "n")), Some(Kind::Identity));
        assert_eq!(kind(&process("p", "s", &[])), Some(Kind::Process));
        assert_eq!(
            kind(&response("a", Some("ok"), Value::Null)),
            Some(Kind::Response)
        );
        assert_eq!(kind(&scenario(json!({}), "s")), Some(Kind::Scenario));
        assert_eq!(
            kind(&error(vec!["no".into()], vec!["h".into()])),
            Some(Kind::Error)
        );
        assert_eq!(
            kind(&json!({"$schema": PROCESS_SCHEMA})),
            Some(Kind::Process)
        );
        assert_eq!(
            kind(&json!({"$schema": RESPONSE_SCHEMA})),
            Some(Kind::Response)
        );
    }
}
