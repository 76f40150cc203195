//! Writing a response's data into the process: the reference's DataPatcher semantics.
//!
//! `set(doc, path, value, patch)`:
//! - with `patch`, the value is merged into what is at the path first: a list there gets the
//!   value appended (as one element); a value that is not an object replaces; objects merge key
//!   by key, recursively for objects, where a `null` removes the key;
//! - a `null` result removes what the path selects, except a whole actor, asset or definition
//!   (`actors.client` ← null changes nothing, as in the reference);
//! - otherwise the value is written, creating objects along the path.

use serde_json::{Map, Value};

/// Merges `value` into `target` (see the module documentation).
pub fn merge(target: Option<&Value>, value: Value) -> Value {
    match (target, value) {
        (Some(Value::Array(items)), v) => {
            let mut items = items.clone();
            items.push(v);
            Value::Array(items)
        }
        (Some(Value::Object(t)), Value::Object(v)) => {
            let mut out = t.clone();
            merge_into(&mut out, v);
            Value::Object(out)
        }
        (_, v) => v,
    }
}

fn merge_into(target: &mut Map<String, Value>, value: Map<String, Value>) {
    for (k, v) in value {
        match v {
            Value::Null => {
                target.remove(&k);
            }
            Value::Object(inner) => match target.get_mut(&k) {
                Some(Value::Object(existing)) => merge_into(existing, inner),
                _ => {
                    target.insert(k, Value::Object(inner));
                }
            },
            other => {
                target.insert(k, other);
            }
        }
    }
}

/// Why a path cannot be written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot write `{path}`: `{at}` is {what}, not an object")]
pub struct PatchError {
    /// The whole path.
    pub path: String,
    /// The part of it that is in the way.
    pub at: String,
    /// What is there.
    pub what: &'static str,
}

/// Applies an update at a dot path.
pub fn set(
    doc: &mut Map<String, Value>,
    path: &[String],
    value: Value,
    patch: bool,
) -> Result<(), PatchError> {
    let Some((last, parents)) = path.split_last() else {
        return Ok(());
    };
    // Merging into an object or a list happens in place: no copy of what is there.
    if patch {
        match (lookup_mut(doc, path), value) {
            (Some(Value::Array(items)), v) => {
                items.push(v);
                return Ok(());
            }
            (Some(Value::Object(t)), Value::Object(v)) => {
                merge_into(t, v);
                return Ok(());
            }
            (_, v) => return set(doc, path, v, false),
        }
    }
    if value.is_null() {
        if parents.len() == 1 && matches!(parents[0].as_str(), "actors" | "assets" | "definitions")
        {
            return Ok(());
        }
        if let Some(Value::Object(m)) = lookup_mut(doc, parents) {
            m.remove(last);
        } else if let Some(Value::Array(a)) = lookup_mut(doc, parents)
            && let Ok(i) = last.parse::<usize>()
            && i < a.len()
        {
            a[i] = Value::Null;
        }
        return Ok(());
    }
    let mut cur = doc;
    for (i, seg) in parents.iter().enumerate() {
        let slot = cur
            .entry(seg.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if slot.is_null() {
            *slot = Value::Object(Map::new());
        }
        cur = match slot {
            Value::Object(m) => m,
            other => {
                return Err(PatchError {
                    path: path.join("."),
                    at: path[..=i].join("."),
                    what: kind(other),
                });
            }
        };
    }
    cur.insert(last.clone(), value);
    Ok(())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Whether `set(doc, path, value, patch)` would add `value` to a list as one more item (one
/// level below `path`, not at it).
pub fn appends(doc: &Map<String, Value>, path: &[String], patch: bool) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let mut cur = doc.get(first);
    for seg in rest {
        cur = match cur {
            Some(Value::Object(m)) => m.get(seg),
            Some(Value::Array(a)) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
    }
    patch && matches!(cur, Some(Value::Array(_)))
}

fn lookup_mut<'a>(doc: &'a mut Map<String, Value>, path: &[String]) -> Option<&'a mut Value> {
    let (first, rest) = path.split_first()?;
    let mut cur = doc.get_mut(first)?;
    for seg in rest {
        cur = match cur {
            Value::Object(m) => m.get_mut(seg)?,
            Value::Array(a) => a.get_mut(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(p: &str) -> Vec<String> {
        p.split('.').map(String::from).collect()
    }

    fn doc(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn merging_follows_the_reference_patcher() {
        let mut d = doc(json!({"x": {"I": "uno", "II": "dos", "IV": "quatro"}}));
        set(
            &mut d,
            &path("x"),
            json!({"II": "two", "III": "three", "IV": null}),
            true,
        )
        .unwrap();
        assert_eq!(d["x"], json!({"I": "uno", "II": "two", "III": "three"}));
        set(&mut d, &path("x"), json!({"II": "two", "IV": null}), false).unwrap();
        assert_eq!(
            d["x"],
            json!({"II": "two", "IV": null}),
            "without patch the value is written as is"
        );
    }

    #[test]
    fn lists_get_the_value_appended() {
        let mut d = doc(json!({"items": []}));
        set(&mut d, &path("items"), json!("added"), true).unwrap();
        set(&mut d, &path("items"), json!(["a", "b"]), true).unwrap();
        assert_eq!(d["items"], json!(["added", ["a", "b"]]));
    }

    #[test]
    fn null_removes_but_never_a_whole_actor() {
        let mut d = doc(json!({"actors": {"client": {"name": "J", "org": "A"}}}));
        set(&mut d, &path("actors.client"), Value::Null, true).unwrap();
        assert_eq!(d["actors"]["client"]["name"], "J");
        set(&mut d, &path("actors.client.org"), Value::Null, false).unwrap();
        assert_eq!(d["actors"]["client"], json!({"name": "J"}));
    }

    #[test]
    fn paths_create_objects_and_refuse_to_go_through_scalars() {
        let mut d = doc(json!({"assets": {"doc": {"title": "t"}}}));
        set(&mut d, &path("assets.doc.meta.pages"), json!(3), true).unwrap();
        assert_eq!(d["assets"]["doc"]["meta"]["pages"], 3);
        let e = set(&mut d, &path("assets.doc.title.x"), json!(1), true).unwrap_err();
        assert_eq!(e.at, "assets.doc.title");
    }

    #[test]
    fn nested_objects_merge_and_nested_lists_are_replaced() {
        let mut d = doc(json!({"a": {"b": {"c": 1, "l": [1]}}}));
        set(&mut d, &path("a"), json!({"b": {"d": 2, "l": [2]}}), true).unwrap();
        assert_eq!(d["a"], json!({"b": {"c": 1, "d": 2, "l": [2]}}));
    }
}
