//! Untrusted scenarios and data within bounds: nesting that would overflow the stack, results
//! that would exhaust memory, and platform-dependent arithmetic are refused or made exact.
//! (Regression tests for the review of accord-scenario.)

use accord_scenario::diag::{Diagnostics, Pointer};
use accord_scenario::instr::{
    Expr, MAX_EXPR_DEPTH, MAX_EXPR_LEN, MAX_GROWTH, MAX_RESULT, Scope, compile, evaluate,
};
use accord_scenario::{Format, check_text, doc};
use serde_json::{Value, json};

fn eval_with(instruction: Value, source: &Value) -> Result<Value, String> {
    let mut diags = Diagnostics::default();
    let compiled = compile(&instruction, &Pointer::root().join("x"), &mut diags);
    assert!(!diags.has_errors(), "{:?}", diags.as_slice());
    evaluate(&compiled, &Scope::new(source, &json!({}))).map_err(|e| e.to_string())
}

fn eval(instruction: Value) -> Result<Value, String> {
    eval_with(instruction, &json!({}))
}

fn scenario_with_title(title: Value) -> Value {
    json!({
        "$schema": "https://specs.livecontracts.io/v0.2.0/scenario/schema.json#",
        "id": "s",
        "actors": {"a": {"type": "object"}},
        "actions": {"go": {"actor": "a"}},
        "states": {"initial": {"title": title, "action": "go", "transition": ":success"}}
    })
}

/// The diagnostics of a scenario whose initial title is `{"<eval>": expression}`.
fn eval_title_codes(expression: &str) -> Vec<(String, String)> {
    let c = check_text(
        &scenario_with_title(json!({ "<eval>": expression })).to_string(),
        Format::Json,
    );
    c.diagnostics
        .iter()
        .map(|d| (d.code.to_string(), d.message.clone()))
        .collect()
}

/// Review 1.1: a deeply nested JMESPath expression inside a string overflowed the stack in the
/// (recursive) jmespath parser, aborting the process. It is now refused before it is parsed.
#[test]
fn deeply_nested_jmespath_is_refused_when_checked_not_a_crash() {
    let shapes = [
        // the reviewer's reproducer: 20 KB of brackets
        format!("{}@{}", "[".repeat(10_000), "]".repeat(10_000)),
        // within the length limit, but deep
        format!("{}@{}", "[".repeat(1_000), "]".repeat(1_000)),
        format!("{}@{}", "{a:".repeat(500), "}".repeat(500)),
        format!("{}@", "!".repeat(2_000)),
        format!("a{}", ".a".repeat(1_500)),
        format!("a{}", "|a".repeat(1_500)),
        format!("a{}", "[]".repeat(1_500)),
        format!("a{}", "&&a".repeat(1_000)),
    ];
    for e in &shapes {
        let codes = eval_title_codes(e);
        assert!(
            codes.iter().any(|(c, _)| c == "bad-jmespath"),
            "{} bytes: {codes:?}",
            e.len()
        );
        assert!(Expr::compile(e).is_err());
    }
    let long = format!("a{}", " ".repeat(MAX_EXPR_LEN));
    assert!(Expr::compile(&long).unwrap_err().contains("bytes long"));
    let deep = format!("a{}", ".a".repeat(1_500));
    assert!(Expr::compile(&deep).unwrap_err().contains("nests deeper"));
    // Quoted text does not count as nesting; ordinary expressions still compile.
    assert!(Expr::compile(&format!("'{}'", "[".repeat(1_000))).is_ok());
    assert!(Expr::compile(&format!("\"{}\"", "(".repeat(1_000))).is_ok());
    assert!(Expr::compile("`[[[[1]]]]` | [0][0]").is_ok());
    assert!(Expr::compile(&format!("a{}", ".a".repeat(MAX_EXPR_DEPTH / 2))).is_ok());
    assert!(Expr::compile("items[?n > `1` && !(n == `5`)].{n: n, m: &n}").is_ok());
}

/// Review 1.1, at run time: an expression built from data is bounded the same way, as an
/// evaluation error.
#[test]
fn deeply_nested_jmespath_from_data_is_an_evaluation_error() {
    let deep = format!("{}@{}", "[".repeat(2_000), "]".repeat(2_000));
    let source = json!({ "q": deep });
    let e = eval_with(json!({"<eval>": {"<ref>": "q"}}), &source).unwrap_err();
    assert!(e.contains("nests deeper"), "{e}");
    let e = eval_with(
        json!({"<jmespath>": {"input": {"a": 1}, "query": {"<ref>": "q"}}}),
        &source,
    )
    .unwrap_err();
    assert!(e.contains("nests deeper"), "{e}");
}

/// Review 1.2: `{a:@,b:@}|…` shares subtrees, and copying the result out doubled per step;
/// `[@,@][]|…` doubled inside the library, before any budget could see it. Expressions whose
/// syntax allows more than [`MAX_GROWTH`] copies of their input are refused when compiled (in a
/// scenario, or from data at run time), and a result is still counted while it is copied out.
#[test]
fn exponential_jmespath_is_refused_before_it_is_evaluated() {
    for step in [
        "{a:@,b:@}|",
        "[@,@][]|",
        "join('', [@,@])|",
        "map(&[@,@], @)[]|",
    ] {
        let e = format!("`1` | {}@", step.repeat(40));
        let codes = eval_title_codes(&e);
        assert!(
            codes
                .iter()
                .any(|(c, m)| c == "bad-jmespath" && m.contains("copy its input")),
            "{step}: {codes:?}"
        );
        assert!(Expr::compile(&e).unwrap_err().contains("copy its input"));
        let source = json!({ "q": e });
        let err = eval_with(
            json!({"<jmespath>": {"input": 1, "query": {"<ref>": "q"}}}),
            &source,
        )
        .unwrap_err();
        assert!(err.contains("copy its input"), "{step}: {err}");
    }
    // The bound is a product along pipes: ten doublings are within it, eleven are not.
    let ten = format!("@ | {}@", "[@,@][] | ".repeat(10));
    assert_eq!(
        Expr::compile(&ten).unwrap().search(&json!([1])).unwrap(),
        json!(vec![1; 1024])
    );
    let eleven = format!("@ | {}@", "[@,@][] | ".repeat(11));
    let err = Expr::compile(&eleven).unwrap_err();
    assert!(
        err.contains(&format!("the limit is {MAX_GROWTH:.0}")),
        "{err}"
    );
    // A small doubling is fine and gives the whole value.
    let small = format!("`1` | {}@", "{a:@,b:@}|".repeat(3));
    assert_eq!(
        eval(json!({ "<eval>": small })).unwrap(),
        json!({"a": {"a": {"a": 1, "b": 1}, "b": {"a": 1, "b": 1}}, "b": {"a": {"a": 1, "b": 1}, "b": {"a": 1, "b": 1}}})
    );
    // Within the bound, a result past the budget is refused while it is copied out ...
    let big = "x".repeat(MAX_RESULT * 3 / 5);
    let err = eval_with(json!({"<eval>": "[d, d]"}), &json!({ "d": big })).unwrap_err();
    assert!(err.contains("larger than"), "{err}");
    // ... and a large but ordinary result (half the budget) still passes through.
    let half = "x".repeat(MAX_RESULT / 2);
    assert_eq!(
        eval_with(json!({"<eval>": "d"}), &json!({ "d": half })).unwrap(),
        json!(half)
    );
}

/// Review 4: `<ref>` copies what it names, so an update that copies the document into itself
/// doubled the process at every step. One reference is held to the result budget.
#[test]
fn a_reference_copies_at_most_the_result_budget() {
    let big = json!({ "d": {"list": vec!["x".repeat(1000); MAX_RESULT / 1000 + 1]} });
    let err = eval_with(json!({"<ref>": "d"}), &big).unwrap_err();
    assert!(err.contains("referenced value is larger"), "{err}");
    let err = eval_with(json!({"<ref>": "d.list"}), &big).unwrap_err();
    assert!(err.contains("referenced value is larger"), "{err}");
    // Within the budget it is the value itself; a missing path is null, as before.
    let ok = json!({ "d": {"list": vec!["x".repeat(1000); MAX_RESULT / 2000]} });
    assert_eq!(eval_with(json!({"<ref>": "d"}), &ok).unwrap(), ok["d"]);
    assert_eq!(
        eval_with(json!({"<ref>": "nope"}), &ok).unwrap(),
        Value::Null
    );
    // `<ifset>` only looks: a large value is still "set".
    assert_eq!(
        eval_with(json!({"<ifset>": "d", "<ref>": "d.list.0"}), &big).unwrap(),
        json!("x".repeat(1000))
    );
}

/// Review 1.3: `<replace>` and `<join>` built matches × replacement (items × glue) bytes.
#[test]
fn replace_and_join_refuse_to_amplify_past_the_budget() {
    let n = 20_000;
    let err = eval(
        json!({"<replace>": {"input": "a".repeat(n), "find": "a", "replacement": "b".repeat(n)}}),
    )
    .unwrap_err();
    assert!(err.contains("<replace>"), "{err}");
    let err = eval(
        json!({"<replace>": {"input": "a".repeat(n), "regex": "//", "replacement": "b".repeat(n)}}),
    )
    .unwrap_err();
    assert!(err.contains("<replace>"), "{err}");
    let items: Vec<Value> = (0..n).map(|_| json!("")).collect();
    let err = eval(json!({"<join>": {"input": items, "glue": "g".repeat(n)}})).unwrap_err();
    assert!(err.contains("<join>"), "{err}");

    // Within the budget, the same instructions work as before.
    assert_eq!(
        eval(json!({"<replace>": {"input": "a-b-c", "find": "-", "replacement": "+"}})).unwrap(),
        json!("a+b+c")
    );
    assert_eq!(
        eval(json!({"<replace>": {"input": "a1b22", "regex": "/(\\d+)/", "replacement": "<$1>"}}))
            .unwrap(),
        json!("a<1>b<22>")
    );
    assert_eq!(
        eval(json!({"<replace>": {"input": "ab", "regex": "//", "replacement": "-"}})).unwrap(),
        json!("-a-b-")
    );
    assert_eq!(
        eval(json!({"<join>": {"input": ["a", 1, "b"], "glue": ", "}})).unwrap(),
        json!("a, 1, b")
    );
    // An input larger than the budget may still be rewritten without growing.
    let large = "ab".repeat(MAX_RESULT);
    let out =
        eval(json!({"<replace>": {"input": large, "find": "a", "replacement": "c"}})).unwrap();
    assert_eq!(out.as_str().unwrap().len(), 2 * MAX_RESULT);
}

/// Review 1.4: an alias to one long string counted as one node; text is budgeted in bytes too.
#[test]
fn yaml_aliases_are_budgeted_in_bytes_and_depth() {
    let s = "x".repeat(100_000);
    let aliases = vec!["*s"; 5_000].join(", ");
    let text = format!("a: &s {s}\nb: [{aliases}]\n");
    let err = doc::parse(&text, Format::Yaml).unwrap_err().to_string();
    assert!(err.contains("bytes of text"), "{err}");
    // A few aliases to it are fine.
    let text = format!("a: &s {s}\nb: [*s, *s]\n");
    let v = doc::parse(&text, Format::Yaml).unwrap();
    assert_eq!(v["b"][1].as_str().unwrap().len(), 100_000);

    // An alias may not carry nesting past the depth limit.
    let inner = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    let text = format!("a: &d {inner}\nb: {}*d{}\n", "[".repeat(60), "]".repeat(60));
    let err = doc::parse(&text, Format::Yaml).unwrap_err().to_string();
    assert!(err.contains("nested deeper"), "{err}");
    let text = format!("a: &d {inner}\nb: [[*d]]\n");
    assert!(doc::parse(&text, Format::Yaml).is_ok());
}

/// Review 1.5: `<merge>` found each key by a linear search (quadratic). The result of merging
/// large objects: every key once, in first-seen order, later values winning.
#[test]
fn merge_of_large_objects_keeps_order_and_overrides() {
    let n = 40_000;
    let mut a = serde_json::Map::new();
    let mut b = serde_json::Map::new();
    for i in 0..n {
        a.insert(format!("k{i}"), json!(1));
        b.insert(format!("k{}", n - 1 - i), json!(2));
    }
    b.insert("extra".into(), json!(3));
    let v = eval(json!({"<merge>": [Value::Object(a), Value::Object(b)]})).unwrap();
    let m = v.as_object().unwrap();
    assert_eq!(m.len(), n + 1);
    assert_eq!(m.keys().next().map(String::as_str), Some("k0"));
    assert_eq!(m.keys().next_back().map(String::as_str), Some("extra"));
    assert!(m.values().take(n).all(|x| x == &json!(2)));
    // Lists append.
    assert_eq!(
        eval(json!({"<merge>": [[1, 2], [3]]})).unwrap(),
        json!([1, 2, 3])
    );
}

/// Review 3.1: transcendental `<math>` functions are computed by the pure-Rust libm, not the
/// platform's C library through std, so every platform gets the same bits.
#[test]
fn math_functions_give_the_same_bits_everywhere() {
    let m = |e: &str| {
        eval(json!({"<math>": e}))
            .unwrap()
            .as_f64()
            .expect("a number")
    };
    let same = |e: &str, want: f64| assert_eq!(m(e).to_bits(), want.to_bits(), "{e}");
    same("sin(1)", libm::sin(1.0));
    same("cos(1)", libm::cos(1.0));
    same("tan(1)", libm::tan(1.0));
    same("asin(0.5)", libm::asin(0.5));
    same("acos(0.5)", libm::acos(0.5));
    same("atan(1) * 4", libm::atan(1.0) * 4.0);
    same("exp(1)", libm::exp(1.0));
    same("ln(10)", libm::log(10.0));
    same("log(1000)", libm::log10(1000.0));
    same("log(8, 2)", libm::log2(8.0));
    same("log(81, 3)", libm::log(81.0) / libm::log(3.0));
    same("pow(1.05, 10)", libm::pow(1.05, 10.0));
    // The interest example, as bits: libm's answer, on every platform and toolchain.
    assert_eq!(m("pow(1.05, 10)").to_bits(), 4610014708406827604);
    assert_eq!(m("pow(2, 10)"), 1024.0);
    assert_eq!(m("round(2.5)"), 3.0);
    assert_eq!(m("round(1.955, 2)"), 1.96);
    assert_eq!(m("round(0.0004, 3)"), 0.0);
    assert_eq!(m("round(0.0005, 3)"), 0.001);
}

/// One evaluation is held to `MAX_EVALUATION` in all: a list of many `<ref>`s to one large
/// value (each within the per-instruction budget) would otherwise build gigabytes out of a
/// small document (a 350 KB scenario took 1 GB to check before).
#[test]
fn one_evaluation_produces_a_bounded_amount_in_all() {
    use accord_scenario::instr::{MAX_EVALUATION, MAX_RESULT};
    let big = "x".repeat(MAX_RESULT / 4);
    let source = json!({ "big": big });
    let refs = |n: usize| Value::Array((0..n).map(|_| json!({"<ref>": "big"})).collect());
    let fits = MAX_EVALUATION / (MAX_RESULT / 4) - 1;
    assert!(eval_with(refs(fits), &source).is_ok());
    let err = eval_with(refs(fits + 2), &source).unwrap_err();
    assert!(err.contains("in all"), "{err}");
}
