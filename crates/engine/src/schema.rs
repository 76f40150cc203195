//! Actor and asset schemas: the starting value they describe, and validation after updates.
//!
//! Schemas are compiled once per scenario, offline: nothing is fetched. A `$ref` to a Live
//! Contracts document (`https://specs.livecontracts.io/…`) names a kind of thing and is read as
//! documentation; the `$schema` of an actor schema selects nothing (draft 7 rules apply, as the
//! reference's default).

use serde_json::{Map, Value};

/// A compiled actor or asset schema.
pub struct Schema {
    validator: Option<jsonschema::Validator>,
    source: Value,
    /// Top-level properties the engine writes itself: the schema's word on them is not applied.
    owns: &'static [&'static str],
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schema")
            .field("source", &self.source)
            .finish()
    }
}

/// Strips what would make a schema reach outside itself, and what only labels it.
fn local(schema: &Value) -> Value {
    let mut s = schema.clone();
    if let Value::Object(m) = &mut s {
        m.remove("$schema");
        if m.get("$ref")
            .and_then(Value::as_str)
            .is_some_and(|r| !r.starts_with('#'))
        {
            m.remove("$ref");
        }
        // The reference treats a schema without a type as an open object.
        if !m.contains_key("type") {
            m.insert("type".into(), Value::from("object"));
        }
        // The engine adds `key`, `title`, `description` and `identity` to every actor and asset;
        // a closed schema (`additionalProperties: false`) must not refuse them.
        if m.get("additionalProperties") == Some(&Value::Bool(false)) {
            let props = m
                .entry("properties")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(p) = props {
                for k in ["key", "title", "description", "identity", "$schema"] {
                    p.entry(k).or_insert(Value::Bool(true));
                }
            }
        }
    }
    s
}

impl Schema {
    /// Compiles a schema; the error says why it cannot be used. `owns` names the top-level
    /// properties the engine writes itself (an actor's `key` and `identity`, an asset's `key`):
    /// the schema's word on them is read as documentation.
    pub fn compile(schema: &Value, owns: &'static [&'static str]) -> Result<Schema, String> {
        let source = local(schema);
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft7)
            .build(&source)
            .map_err(|e| format!("the JSON Schema cannot be used: {e}"))?;
        Ok(Schema {
            validator: Some(validator),
            source,
            owns,
        })
    }

    /// Every way `value` breaks the schema, each with the JSON pointer inside `value`.
    ///
    /// Null is "not set": an object's property whose value is null passes whatever its schema
    /// says of it, as a property without a `default` starts null (the reference builds it so
    /// and starts the process), and `required` is met by its presence. A null list item is
    /// held to the schema like anything else set. The properties the engine owns (an actor's
    /// `key` and `identity`) are the engine's, however the schema reaches them (`properties`,
    /// `additionalProperties`, a `$ref`): its errors there are not applied.
    pub fn problems(&self, value: &Value) -> Vec<(String, String)> {
        let Some(v) = &self.validator else {
            return Vec::new();
        };
        v.iter_errors(value)
            .filter_map(|e| {
                let at = e.instance_path().to_string();
                let first = at
                    .strip_prefix('/')
                    .map(|r| r.split('/').next().unwrap_or(r));
                if first.is_some_and(|f| self.owns.contains(&f)) {
                    return None;
                }
                if let Some((parent, _)) = at.rsplit_once('/')
                    && value.pointer(&at) == Some(&Value::Null)
                    && value.pointer(parent).is_some_and(Value::is_object)
                {
                    return None;
                }
                Some((at, e.to_string()))
            })
            .collect()
    }

    /// The value a new process starts with: objects get every listed property (recursively),
    /// arrays are empty, anything else is its `default` or null.
    pub fn initial(&self) -> Value {
        initial(&self.source)
    }

    /// `title` of the schema.
    pub fn title(&self) -> Option<&str> {
        self.source.get("title").and_then(Value::as_str)
    }

    /// `description` of the schema.
    pub fn description(&self) -> Option<&str> {
        self.source.get("description").and_then(Value::as_str)
    }
}

fn initial(schema: &Value) -> Value {
    let ty = match schema.get("type") {
        Some(Value::String(t)) => Some(t.as_str()),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    };
    match ty {
        Some("object") => {
            let mut m = Map::new();
            if let Some(Value::Object(props)) = schema.get("properties") {
                for (k, p) in props {
                    m.insert(k.clone(), initial(p));
                }
            }
            if let Some(Value::Object(d)) = schema.get("default") {
                for (k, v) in d {
                    m.insert(k.clone(), v.clone());
                }
            }
            Value::Object(m)
        }
        Some("array") => schema
            .get("default")
            .cloned()
            .unwrap_or(Value::Array(Vec::new())),
        _ => schema.get("default").cloned().unwrap_or(Value::Null),
    }
}
