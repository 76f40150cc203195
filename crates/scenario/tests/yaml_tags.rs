//! The YAML tags of LTO's documentation (issue 15, gap 4): a tag that names a data instruction
//! reads as LTO's scenario loader reads it (ltonetwork/workflow-tester `src/ScenarioLoader.php`
//! on the PECL yaml extension; `docs/design/scenarios.md` has the table), so a YAML scenario is
//! its JSON twin.

use accord_scenario::{Format, Severity, check_text, doc};
use serde_json::{Value, json};

fn yaml(text: &str) -> Value {
    doc::parse_yaml(text).unwrap_or_else(|e| panic!("{text:?} reads: {e}"))
}

fn corpus(file: &str) -> String {
    let path = format!(
        "{}/../../tests/data/reference-scenarios/lto-docs/tutorials/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The tags and the keys they become, spelt as the reference's loader spells them.
const TAGS: [(&str, &str); 10] = [
    ("apply", "<apply>"),
    ("dateFormat", "<dateFormat>"),
    ("eval", "<eval>"),
    ("id", "<id>"),
    ("if", "<if>"),
    ("ifset", "<ifset>"),
    ("merge", "<merge>"),
    ("ref", "<ref>"),
    ("switch", "<switch>"),
    ("tpl", "<tpl>"),
];

#[test]
fn every_tag_wraps_a_scalar_as_its_text() {
    for (tag, key) in TAGS {
        assert_eq!(
            yaml(&format!("x: !{tag} a.b == `1`\n")),
            json!({"x": {key: "a.b == `1`"}}),
            "!{tag}"
        );
        // The text as written, never resolved: the loader passes the scalar's text.
        for (scalar, text) in [
            ("1", "1"),
            ("true", "true"),
            ("null", "null"),
            ("~", "~"),
            ("'quoted'", "quoted"),
            ("\"a\\tb\"", "a\tb"),
            ("", ""),
        ] {
            assert_eq!(
                yaml(&format!("x: !{tag} {scalar}\n")),
                json!({"x": {key: text}}),
                "!{tag} {scalar}"
            );
        }
    }
    assert_eq!(
        yaml("t: !tpl |\n  Dear {{ name }},\n  welcome.\n"),
        json!({"t": {"<tpl>": "Dear {{ name }},\nwelcome.\n"}})
    );
    assert_eq!(
        yaml("!eval a\n"),
        json!({"<eval>": "a"}),
        "the whole document"
    );
}

#[test]
fn every_tag_wraps_a_sequence_or_a_mapping_as_it_is() {
    for (tag, key) in TAGS {
        assert_eq!(
            yaml(&format!("x: !{tag} [a, 1, {{b: null}}]\n")),
            json!({"x": {key: ["a", 1, {"b": null}]}}),
            "!{tag} on a sequence"
        );
        assert_eq!(
            yaml(&format!("x: !{tag}\n  - a\n  - 2\n")),
            json!({"x": {key: ["a", 2]}}),
            "!{tag} on a block sequence"
        );
        assert_eq!(
            yaml(&format!("x: !{tag} {{on: a, 'n': 2, e: []}}\n")),
            json!({"x": {key: {"on": "a", "n": 2, "e": []}}}),
            "!{tag} on a mapping"
        );
        assert_eq!(
            yaml(&format!("x: !{tag}\n  on: a\n  n: 2\n")),
            json!({"x": {key: {"on": "a", "n": 2}}}),
            "!{tag} on a block mapping"
        );
        assert_eq!(yaml(&format!("x: !{tag} {{}}\n")), json!({"x": {key: {}}}));
        assert_eq!(yaml(&format!("x: !{tag} []\n")), json!({"x": {key: []}}));
    }
    // No element is singled out: the whole node is the one argument, tags inside read the same.
    assert_eq!(
        yaml("p: !merge\n  - !ref foo.bar\n  - apples: 100\n"),
        json!({"p": {"<merge>": [{"<ref>": "foo.bar"}, {"apples": 100}]}})
    );
    assert_eq!(
        yaml("s: !switch\n  on: !ref foo.country\n  options:\n    USA: UPS\n  default: DHL\n"),
        json!({"s": {"<switch>": {
            "on": {"<ref>": "foo.country"},
            "options": {"USA": "UPS"},
            "default": "DHL"
        }}})
    );
    assert_eq!(
        yaml("t: !tpl {greeting: 'Hi {{ name }}'}\n"),
        json!({"t": {"<tpl>": {"greeting": "Hi {{ name }}"}}})
    );
}

#[test]
fn tags_are_matched_by_their_full_name_and_case() {
    // Verbatim, and through a %TAG handle whose prefix is `!`: the same tag to libyaml.
    assert_eq!(yaml("x: !<!eval> a\n"), json!({"x": {"<eval>": "a"}}));
    assert_eq!(
        yaml("%TAG !lc! !\n---\nx: !lc!ref a.b\n"),
        json!({"x": {"<ref>": "a.b"}})
    );
    // The primary handle given another prefix: `!eval` is then another tag.
    let e = doc::parse_yaml("%TAG ! tag:example.com,2025:\n---\nx: !eval a\n").unwrap_err();
    assert!(
        e.message.contains("!<tag:example.com,2025:eval>"),
        "{}",
        e.message
    );
    // Case counts, as in the loader's table: `!dateformat` is not one of its tags.
    let e = doc::parse_yaml("x: !dateformat a\n").unwrap_err();
    assert!(e.message.contains("the tag !dateformat"), "{}", e.message);
}

#[test]
fn an_unknown_tag_is_named_with_its_place_and_the_tags_read() {
    for (text, tag, line, column) in [
        ("a: 1\nb: !foo x\n", "!foo", 2, 4),
        ("a:\n  - !join [a, b]\n", "!join", 2, 5),
        ("a: !numberFormat {input: 1}\n", "!numberFormat", 1, 4),
        ("a: !src http://example.com\n", "!src", 1, 4),
        ("a: !!binary aGk=\n", "!!binary", 1, 4),
        ("a: !!set {x: null}\n", "!!set", 1, 4),
    ] {
        let e = doc::parse_yaml(text).expect_err(text);
        assert_eq!((e.line, e.column), (line, column), "{text}: {e}");
        assert!(
            e.message
                .contains(&format!("the tag {tag} is not supported")),
            "{text}: {e}"
        );
        for listed in ["!eval", "!ref", "!tpl", "!dateFormat", "!!str", "<name>"] {
            assert!(e.message.contains(listed), "{text}: {e}");
        }
    }
    // Through the checker: one syntax diagnostic with the line and column.
    let checked = check_text("title: !foo x\n", Format::Yaml);
    let d = &checked.diagnostics[0];
    assert_eq!(d.code, "syntax");
    assert!(
        d.message
            .starts_with("not valid YAML at line 1, column 8: the tag !foo"),
        "{d}"
    );
}

#[test]
fn core_tags_are_read_by_the_core_schema_and_must_fit_their_node() {
    assert_eq!(
        yaml("a: !!str 12\nb: !!int '12'\nc: !!float 1\nd: !!bool 'true'\ne: !!null ''\nf: ! 12\n"),
        json!({"a": "12", "b": 12, "c": 1, "d": true, "e": null, "f": "12"})
    );
    assert_eq!(
        yaml("a: !!seq [1]\nb: !!map {x: 1}\nc: ! [1]\nd: ! {x: 1}\n"),
        json!({"a": [1], "b": {"x": 1}, "c": [1], "d": {"x": 1}})
    );
    for (text, message) in [
        ("a: !!map x\n", "the tag !!map does not fit a scalar"),
        ("a: !!str [1]\n", "the tag !!str does not fit a sequence"),
        ("a: !!seq {x: 1}\n", "the tag !!seq does not fit a mapping"),
        ("a: !!int x\n", "\"x\" is not a number"),
    ] {
        let e = doc::parse_yaml(text).expect_err(text);
        assert!(e.message.contains(message), "{text}: {e}");
    }
}

#[test]
fn a_tag_on_a_key_is_refused_and_anchors_hold_the_instruction() {
    let e = doc::parse_yaml("a:\n  !eval b: 1\n").unwrap_err();
    assert_eq!((e.line, e.column), (2, 3), "{e}");
    assert!(
        e.message
            .contains("a mapping key is tagged !eval; a key is text"),
        "{e}"
    );
    // A core tag on a key still reads.
    assert_eq!(yaml("!!str 200: ok\n"), json!({"200": "ok"}));
    // The anchor names the tagged node, so an alias repeats the instruction, in either order of
    // anchor and tag, on scalars and collections alike.
    assert_eq!(
        yaml("a: &c !eval x == `1`\nb: *c\nc: !ref &r p.q\nd: *r\n"),
        json!({
            "a": {"<eval>": "x == `1`"}, "b": {"<eval>": "x == `1`"},
            "c": {"<ref>": "p.q"}, "d": {"<ref>": "p.q"}
        })
    );
    assert_eq!(
        yaml("a: &m !merge [{x: 1}]\nb: *m\n"),
        json!({"a": {"<merge>": [{"x": 1}]}, "b": {"<merge>": [{"x": 1}]}})
    );
}

/// `MAX_DEPTH` arrays and objects may nest in one another, in YAML as in JSON (what serde_json
/// reads), and a tag's object counts as one of them.
#[test]
fn a_tag_adds_a_level_within_the_nesting_limit() {
    let limit = doc::MAX_DEPTH;
    let nested = |n: usize, inner: &str| format!("{}{inner}{}\n", "[".repeat(n), "]".repeat(n));
    // `limit` sequences: a scalar inside them is fine, one more collection is not.
    assert!(doc::parse_yaml(&nested(limit, "a")).is_ok());
    for inner in ["[]", "{}"] {
        assert!(
            doc::parse_yaml(&nested(limit - 1, inner)).is_ok(),
            "{inner}"
        );
        let e = doc::parse_yaml(&nested(limit, inner)).unwrap_err();
        assert!(e.message.contains("nested in one another"), "{inner}: {e}");
    }
    // A tag wraps its node in an object: one more level.
    for (inner, extra) in [("!eval a", 1), ("!merge []", 2), ("!tpl {}", 2)] {
        assert!(
            doc::parse_yaml(&nested(limit - extra, inner)).is_ok(),
            "{inner}"
        );
        let e = doc::parse_yaml(&nested(limit - extra + 1, inner)).unwrap_err();
        assert!(e.message.contains("nested in one another"), "{inner}: {e}");
    }
    // What YAML reads, JSON reads back.
    for inner in ["!eval a", "!merge [!ref x]", "!tpl {}"] {
        let v = yaml(&nested(100, inner));
        assert_eq!(doc::parse_json(&v.to_string()).unwrap(), v, "{inner}");
    }
}

/// JSON and YAML take the same nesting: a fuzzer found 128 sequences that YAML read and JSON
/// (serde_json) did not read back.
#[test]
fn json_and_yaml_agree_on_nesting() {
    for n in doc::MAX_DEPTH - 2..doc::MAX_DEPTH + 3 {
        for inner in ["", "1", "{}"] {
            let text = format!("{}{inner}{}", "[".repeat(n), "]".repeat(n));
            let json = doc::parse_json(&text);
            let yaml = doc::parse_yaml(&text);
            assert_eq!(
                json.is_ok(),
                yaml.is_ok(),
                "{n} {inner:?}: {json:?} / {yaml:?}"
            );
            if let (Ok(j), Ok(y)) = (json, yaml) {
                assert_eq!(j, y);
                assert!(doc::check_i_json(&j).is_ok());
            }
        }
    }
}

/// Each YAML block of the tutorials is followed by its JSON twin; they agree wherever the tags
/// are, and differ only by the tutorials' slips, listed here (pointer, YAML, JSON).
#[test]
fn the_tutorials_yaml_blocks_are_their_json_twins() {
    for (yaml_block, json_block, slips) in [
        (
            "invitation-by-email.block02.yaml",
            "invitation-by-email.block03.json",
            vec![(
                "/actions/invite/invitee",
                json!({"<ref>": "actors.recipient"}),
                json!("actors.recipient"),
            )],
        ),
        (
            "under-one-condition.block05.yaml",
            "under-one-condition.block06.json",
            vec![],
        ),
        (
            "under-one-condition.block08.yaml",
            "under-one-condition.block09.json",
            vec![],
        ),
        (
            "under-one-condition.block11.yaml",
            "under-one-condition.block12.json",
            vec![(
                "/title",
                json!("Under one condition"),
                json!("A proper introduction"),
            )],
        ),
    ] {
        let mut from_yaml = yaml(&corpus(yaml_block));
        // Some JSON blocks are an object's members without its braces.
        let text = corpus(json_block);
        let text = if text.starts_with('{') {
            text
        } else {
            format!("{{{text}}}")
        };
        let from_json = doc::parse_json(&text).expect(json_block);
        for (pointer, in_yaml, in_json) in slips {
            let at = from_yaml.pointer_mut(pointer).expect(pointer);
            assert_eq!(*at, in_yaml, "{yaml_block} at {pointer}");
            assert_eq!(from_json.pointer(pointer), Some(&in_json), "{json_block}");
            *at = in_json;
        }
        assert_eq!(from_yaml, from_json, "{yaml_block} and {json_block}");
    }
}

#[test]
fn tagged_instructions_are_checked_where_the_json_twin_puts_them() {
    let checked = check_text(&corpus("under-one-condition.block11.yaml"), Format::Yaml);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let s = checked.scenario.expect("a scenario");
    let guard = s
        .actions
        .get("introduce")
        .and_then(|a| a.condition.as_ref())
        .expect("introduce has a condition");
    let guard = format!("{guard:?}");
    assert!(
        guard.contains("op: Eval") && guard.contains("current.actor.name == null"),
        "{guard}"
    );

    // A bad argument is reported at the argument, inside the object the tag stands for.
    let text = corpus("under-one-condition.block11.yaml").replace(
        "condition: !eval current.actor.name == null",
        "condition: !eval \"[[\"",
    );
    let checked = check_text(&text, Format::Yaml);
    let bad: Vec<_> = checked
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.pointer.as_str())
        .collect();
    assert_eq!(bad, ["/actions/introduce/condition/<eval>"], "{checked:?}");

    // `!dateFormat` is `<dateFormat>`, which the reference keeps as data: a warning says so.
    let text = corpus("under-one-condition.block11.yaml").replace(
        "  initial:\n",
        "  initial:\n    title: !dateFormat {date: '2020-01-01'}\n",
    );
    let checked = check_text(&text, Format::Yaml);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    assert!(
        checked
            .diagnostics
            .iter()
            .any(|d| d.code == "unknown-instruction"
                && d.pointer == "/states/initial/title/<dateFormat>"),
        "{:?}",
        checked.diagnostics
    );
}
