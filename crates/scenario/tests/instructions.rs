//! Data instructions: the reference engine's cases, and Accord's stricter edges.

use accord_scenario::diag::{Diagnostics, Pointer};
use accord_scenario::instr::{self, Scope, compile, evaluate};
use serde_json::{Value, json};

fn eval_with(instruction: Value, source: &Value) -> Result<Value, String> {
    let mut diags = Diagnostics::default();
    let compiled = compile(&instruction, &Pointer::root().join("x"), &mut diags);
    assert!(!diags.has_errors(), "{:?}", diags.as_slice());
    evaluate(&compiled, &Scope::new(source, &json!({"own": "target"}))).map_err(|e| e.to_string())
}

fn eval(instruction: Value) -> Value {
    eval_with(instruction, &source()).expect("evaluates")
}

fn source() -> Value {
    json!({
        "foo": {"bar": {"qux": 12345}, "city": "Amsterdam", "country": "Netherlands"},
        "actors": {"client": {"name": "Joe", "tags": ["a", "b"]}, "supplier": {"name": null}},
        "chain": "2b6QYLttL2R3CLGL4fUB9vaXXX4c5HJanjV5QecmAYLCrD52o6is1E3bvTNTdd",
        "items": [{"n": 1}, {"n": 2}]
    })
}

#[test]
fn ref_reads_dot_paths_and_gives_null_for_what_is_missing() {
    assert_eq!(eval(json!({"<ref>": "foo.bar.qux"})), json!(12345));
    assert_eq!(eval(json!({"<ref>": "$.foo.city"})), json!("Amsterdam"));
    assert_eq!(eval(json!({"<ref>": "items.1.n"})), json!(2));
    assert_eq!(eval(json!({"<ref>": "@.own"})), json!("target"));
    assert_eq!(eval(json!({"<ref>": "foo.nothing.deeper"})), Value::Null);
    assert_eq!(
        eval(json!({"<ref>": "foo.city.length"})),
        Value::Null,
        "into a scalar"
    );
    assert_eq!(eval(json!({"_ref": "foo.country"})), json!("Netherlands"));
    // Nested: the path itself comes from a template.
    assert_eq!(
        eval(json!({"<ref>": {"<tpl>": "foo.{{ kind }}"}})),
        Value::Null
    );
}

#[test]
fn eval_is_jmespath_over_the_process() {
    assert_eq!(
        eval(json!({"<eval>": "foo.city == 'Amsterdam' && foo.country == 'Netherlands'"})),
        json!(true)
    );
    assert_eq!(
        eval(json!({"<eval>": "actors.supplier.name != null"})),
        json!(false)
    );
    assert_eq!(eval(json!({"<eval>": "actors.client.tags[1]"})), json!("b"));
    assert_eq!(eval(json!({"<eval>": "length(items)"})), json!(2));
}

#[test]
fn if_switch_equal_merge_sum_join() {
    assert_eq!(
        eval(
            json!({"<if>": {"condition": {"<eval>": "foo.city == 'Amsterdam'"}, "then": "yes", "else": "no"}})
        ),
        json!("yes")
    );
    assert_eq!(
        eval(json!({"<if>": {"condition": false, "then": "yes", "else": "no"}})),
        json!("no")
    );
    assert_eq!(
        eval(json!({"<if>": {"condition": false, "then": "yes"}})),
        Value::Null
    );
    assert_eq!(
        eval(json!({"<ref>": "foo.city", "<if>": {"condition": true}})),
        json!("Amsterdam"),
        "no `then`: the value so far"
    );
    assert_eq!(
        eval(json!({"<switch>": "foo.country", "USA": "UPS", "Netherlands": "PostNL"})),
        json!("PostNL")
    );
    assert_eq!(
        eval(json!({"<switch>": "foo.city", "USA": "UPS", "_other": "DHL"})),
        Value::Null,
        "no _other default, as the reference"
    );
    assert_eq!(
        eval(
            json!({"<switch>": {"on": "30", "options": {"30": "first", "40": "second"}, "default": "60"}})
        ),
        json!("first")
    );
    assert_eq!(
        eval(json!({"<switch>": {"on": 30, "options": {"30": "first"}}})),
        json!("first")
    );
    assert_eq!(
        eval(json!({"<switch>": {"on": "x", "options": {"30": "first"}, "default": "d"}})),
        json!("d")
    );
    assert_eq!(eval(json!({"<equal>": ["1", 1]})), json!(true));
    assert_eq!(eval(json!({"<equal>": [["foo"], ["bar"]]})), json!(false));
    assert_eq!(eval(json!({"<equal>": [null, false]})), json!(true));
    assert_eq!(
        eval(json!({"<merge>": [{"foo": "red", "bar": "Sir"}, {"bird": "duck"}]})),
        json!({"foo": "red", "bar": "Sir", "bird": "duck"})
    );
    assert_eq!(
        eval(json!({"<merge>": [["red", "Sir"], ["duck"]]})),
        json!(["red", "Sir", "duck"])
    );
    assert_eq!(
        eval(json!({"<merge>": ["dark", "moon", null]})),
        json!("darkmoon")
    );
    assert_eq!(
        eval(json!({"<merge>": [{"<ref>": "foo.bar"}, {"apples": 100}]})),
        json!({"qux": 12345, "apples": 100})
    );
    assert_eq!(eval(json!({"<merge>": []})), Value::Null);
    assert!(
        eval_with(json!({"<merge>": [["a"], "b"]}), &source()).is_err(),
        "mixed scalars and lists"
    );
    assert_eq!(eval(json!({"<sum>": [1, 2, 3]})), json!(6));
    assert_eq!(eval(json!({"<sum>": [1.5, 2, "3"]})), json!(6.5));
    assert_eq!(
        eval(json!({"<join>": {"input": ["dark", "moon"], "glue": " "}})),
        json!("dark moon")
    );
    assert_eq!(
        eval(json!({"<join>": {"input": ["a", true, null, 2]}})),
        json!("a12")
    );
}

#[test]
fn match_and_replace() {
    assert_eq!(
        eval(json!({"<match>": {"input": "foo/bar/crux", "find": "crux"}})),
        json!(true)
    );
    assert_eq!(
        eval(json!({"<match>": {"input": "foo/bar/", "find": "crux"}})),
        json!(false)
    );
    assert_eq!(
        eval(json!({"<match>": {"input": "FOO/bar", "regex": "/^foo/i"}})),
        json!(true)
    );
    assert_eq!(
        eval(json!({"<match>": {"input": "bar/crux", "regex": "/^foo/"}})),
        json!(false)
    );
    assert_eq!(
        eval(json!({"<replace>": {"input": "foo/bar/crux", "find": "crux", "replacement": "dog"}})),
        json!("foo/bar/dog")
    );
    assert_eq!(
        eval(
            json!({"<replace>": {"input": "foo/bar/crux", "regex": "/^foo/", "replacement": "dog"}})
        ),
        json!("dog/bar/crux")
    );
    assert_eq!(
        eval(
            json!({"<replace>": {"input": "2024-05", "regex": "#(\\d+)-(\\d+)#", "replacement": "$2/\\1 costs $5"}})
        ),
        json!("05/2024 costs ")
    );
}

#[test]
fn jmespath_on_the_value_so_far_and_on_an_input() {
    assert_eq!(
        eval(
            json!({"<apply>": {"input": {"foo": "red", "bar": "Sir"}, "query": "{foo: foo, title: bar}"}})
        ),
        json!({"foo": "red", "title": "Sir"})
    );
    assert_eq!(
        eval(json!({"<ref>": "items", "<jmespath>": "[*].n"})),
        json!([1, 2])
    );
    assert_eq!(
        eval(json!({"<ref>": "items", "<jmespath>": "[?n > `5`]"})),
        json!({}),
        "empty lists become objects, as the reference"
    );
}

#[test]
fn resource_ids_are_derived_from_the_chain() {
    let id = eval(json!({"<id>": "foo"}));
    let again = eval(json!({"<id>": {"seed": "foo", "chain": source()["chain"].clone()}}));
    assert_eq!(id, again);
    let text = id.as_str().expect("text");
    let bytes = accord_crypto::base58::decode(text).expect("base58");
    assert_eq!(bytes.len(), 45);
    assert_eq!(bytes[0], 0x50);
    assert_eq!(
        &bytes[41..],
        &accord_crypto::hash::secure_hash(&bytes[..41])[..4],
        "checksum"
    );
    assert_ne!(eval(json!({"<id>": "bar"})), id);
    assert_eq!(
        eval_with(json!({"<id>": "foo"}), &json!({})).expect("evaluates"),
        Value::Null,
        "no chain"
    );
}

#[test]
fn instructions_nest_inside_plain_data() {
    let out = eval(
        json!({"city": {"<ref>": "foo.city"}, "list": [1, {"<ref>": "items.0.n"}], "plain": {"x": 1}}),
    );
    assert_eq!(
        out,
        json!({"city": "Amsterdam", "list": [1, 1], "plain": {"x": 1}})
    );
}

#[test]
fn broken_arguments_are_diagnostics_with_pointers() {
    let mut diags = Diagnostics::default();
    let doc = json!({
        "a": {"<eval>": "foo =="},
        "b": {"<if>": {"then": 1}},
        "c": {"<match>": {"input": "x", "regex": "/(/"}},
        "d": {"<ref>": "a..b"},
        "e": {"<equal>": [1]},
        "f": {"<frobnicate>": 1}
    });
    compile(&doc, &Pointer::root(), &mut diags);
    let found: Vec<(String, &str)> = diags
        .as_slice()
        .iter()
        .map(|d| (d.pointer.clone(), d.code))
        .collect();
    for (p, c) in [
        ("/a/<eval>", "bad-jmespath"),
        ("/b/<if>", "missing-argument"),
        ("/c/<match>", "bad-regex"),
        ("/d/<ref>", "bad-path"),
        ("/e/<equal>", "bad-argument"),
        ("/f/<frobnicate>", "unknown-instruction"),
    ] {
        assert!(
            found.iter().any(|(fp, fc)| fp == p && *fc == c),
            "{p} {c} not in {found:?}"
        );
    }
}

#[test]
fn php_truthiness() {
    for (v, t) in [
        (json!(0), false),
        (json!("0"), false),
        (json!(""), false),
        (json!([]), false),
        (json!({}), true),
        (json!("false"), true),
        (json!(0.5), true),
    ] {
        assert_eq!(instr::truthy(&v), t, "{v}");
    }
}

#[test]
fn templates_that_would_loop_forever_are_stopped() {
    let list: Vec<u32> = (0..1000).collect();
    let source = json!({"a": list});
    let e = eval_with(
        json!({"<tpl>": "{{#a}}{{#a}}{{#a}}x{{/a}}{{/a}}{{/a}}"}),
        &source,
    )
    .unwrap_err();
    assert!(e.contains("more than"), "{e}");
    let e = eval_with(
        json!({"<tpl>": "{{#a}}{{#a}}{{#a}}{{/a}}{{/a}}{{/a}}"}),
        &source,
    )
    .unwrap_err();
    assert!(
        e.contains("visits more than"),
        "no output, still bounded: {e}"
    );
    assert_eq!(
        eval_with(json!({"<tpl>": "{{#a}}.{{/a}}"}), &source)
            .unwrap()
            .as_str()
            .unwrap()
            .len(),
        1000
    );
}
