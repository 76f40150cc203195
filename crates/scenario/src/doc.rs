//! Reading a document: JSON or YAML text into a JSON value, held to I-JSON (RFC 7493).
//!
//! Both forms end up as the same [`Value`], so a scenario written in YAML is the same scenario
//! as its JSON twin. What a value may hold is narrower than either syntax allows, because
//! projections are hashed and compared as canonical JSON (RFC 8785):
//! - object keys are unique (a repeated key is an error, not "the last one wins");
//! - numbers are finite, and integers lie within ±(2^53 − 1), where every JSON reader agrees;
//! - YAML's extras that JSON cannot say are refused: non-scalar keys, `.inf`/`.nan`, tags other
//!   than the core schema's and the data-instruction tags below;
//! - YAML aliases are expanded, within a budget, so a "billion laughs" document is refused.
//!
//! A YAML tag that names a data instruction is read as LTO's scenario loader reads it
//! (ltonetwork/workflow-tester `src/ScenarioLoader.php`, on the PECL yaml extension): the tagged
//! node becomes an object with one key, the tag's name between angle brackets, whose value is
//! the node. A scalar gives its text as written, never a number, boolean or null (`!eval 1` is
//! `{"<eval>": "1"}`); a sequence or a mapping gives itself, its contents read as usual
//! (`!merge [a, b]` is `{"<merge>": ["a", "b"]}`). [`INSTRUCTION_TAGS`] lists the tags.

use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The largest integer every JSON reader represents exactly.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// How many arrays and objects may nest in one another: what serde_json reads (its default
/// recursion limit), so that whatever Accord reads or builds, JSON readers read back.
pub const MAX_DEPTH: usize = 127;

/// How many nodes a YAML document may expand to, aliases included.
pub const MAX_YAML_NODES: usize = 1_000_000;

/// How many bytes of text (strings and keys) a YAML document may expand to, aliases included:
/// an alias to one long string counts as one node, but as all of its bytes here.
pub const MAX_YAML_BYTES: usize = 16 << 20;

/// The YAML tags that stand for a data instruction, and the key each becomes: the ten tags of
/// LTO's scenario loader, spelt as it spells them. `!dateFormat` gives `<dateFormat>`, a key the
/// reference engine does not run (its instruction is `<dateformat>`): there it stays data, as
/// here, where the checker warns of it.
pub const INSTRUCTION_TAGS: [(&str, &str); 10] = [
    ("!apply", "<apply>"),
    ("!dateFormat", "<dateFormat>"),
    ("!eval", "<eval>"),
    ("!id", "<id>"),
    ("!if", "<if>"),
    ("!ifset", "<ifset>"),
    ("!merge", "<merge>"),
    ("!ref", "<ref>"),
    ("!switch", "<switch>"),
    ("!tpl", "<tpl>"),
];

/// The syntax of a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// JSON (RFC 8259).
    Json,
    /// YAML 1.2, one document, core schema.
    Yaml,
}

impl Format {
    /// The format a file name implies: `.json` is JSON, `.yml` and `.yaml` are YAML.
    pub fn from_path(path: &str) -> Option<Format> {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".json") {
            Some(Format::Json)
        } else if lower.ends_with(".yml") || lower.ends_with(".yaml") {
            Some(Format::Yaml)
        } else {
            None
        }
    }

    /// Guesses from the text: a document whose first non-blank character opens a JSON object
    /// or array is JSON; anything else is YAML.
    pub fn sniff(text: &str) -> Format {
        match text
            .trim_start_matches('\u{feff}')
            .trim_start()
            .chars()
            .next()
        {
            Some('{') | Some('[') => Format::Json,
            _ => Format::Yaml,
        }
    }
}

/// Why a document could not be read; `line` and `column` are 1-based.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct LoadError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// Reads a document in the given format.
pub fn parse(text: &str, format: Format) -> Result<Value, LoadError> {
    match format {
        Format::Json => parse_json(text),
        Format::Yaml => parse_yaml(text),
    }
}

/// Reads JSON text under the I-JSON rules above.
pub fn parse_json(text: &str) -> Result<Value, LoadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut de = serde_json::Deserializer::from_str(text);
    let value = StrictSeed { depth: 0 }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| LoadError {
            line: e.line(),
            column: e.column(),
            message: strip_position(&e.to_string()),
        })?;
    Ok(value)
}

/// serde_json appends " at line L column C"; the position is reported separately.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

struct StrictSeed {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for StrictSeed {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        // serde_json stops at the same limit first; this holds for any other reader.
        if self.depth > MAX_DEPTH {
            return Err(de::Error::custom(too_deep()));
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictSeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        if v.unsigned_abs() > MAX_SAFE_INTEGER as u64 {
            return Err(E::custom(format_args!(
                "the integer {v} is beyond ±(2^53 - 1), where JSON readers disagree; write it as a string"
            )));
        }
        Ok(Value::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        if v > MAX_SAFE_INTEGER as u64 {
            return Err(E::custom(format_args!(
                "the integer {v} is beyond ±(2^53 - 1), where JSON readers disagree; write it as a string"
            )));
        }
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        if v.fract() == 0.0 && v.abs() > MAX_SAFE_INTEGER as f64 {
            return Err(E::custom(format_args!(
                "the number {v} is an integer beyond ±(2^53 - 1), where JSON readers disagree; write it as a string"
            )));
        }
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("numbers must be finite"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(StrictSeed {
            depth: self.depth + 1,
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "the key {key:?} appears twice in one object"
                )));
            }
            let value = map.next_value_seed(StrictSeed {
                depth: self.depth + 1,
            })?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// Reads one YAML 1.2 document (core schema) into a JSON value.
pub fn parse_yaml(text: &str) -> Result<Value, LoadError> {
    let mut builder = YamlBuilder {
        parser: Parser::new_from_str(text),
        anchors: Vec::new(),
        nodes: 0,
        bytes: 0,
        last: Span::default(),
    };
    builder.document()
}

struct YamlBuilder<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    /// Anchored values by anchor id (ids are dense, starting at 1).
    anchors: Vec<Option<Value>>,
    nodes: usize,
    /// Bytes of text (scalars and keys) so far, aliases expanded.
    bytes: usize,
    last: Span,
}

fn at(span: Span, message: impl Into<String>) -> LoadError {
    LoadError {
        line: span.start.line(),
        column: span.start.col() + 1,
        message: message.into(),
    }
}

impl<'a> YamlBuilder<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), LoadError> {
        match self.parser.next() {
            Some(Ok((event, span))) => {
                self.last = span;
                Ok((event, span))
            }
            Some(Err(e)) => Err(LoadError {
                line: e.marker().line(),
                column: e.marker().col() + 1,
                message: e.info().to_string(),
            }),
            None => Err(at(self.last, "the document ends too early")),
        }
    }

    fn document(&mut self) -> Result<Value, LoadError> {
        let mut value = None;
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => break,
                Event::DocumentStart(_) => {
                    if value.is_some() {
                        return Err(at(
                            span,
                            "more than one YAML document in the stream; a scenario is one document",
                        ));
                    }
                    let (event, span) = self.next()?;
                    value = Some(self.node(event, span, 0)?);
                }
                _ => return Err(at(span, "unexpected YAML event outside a document")),
            }
        }
        value.ok_or_else(|| at(self.last, "the YAML stream holds no document"))
    }

    fn count(&mut self, span: Span, n: usize) -> Result<(), LoadError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_YAML_NODES {
            return Err(at(
                span,
                format!(
                    "the document expands to more than {MAX_YAML_NODES} values (aliases included)"
                ),
            ));
        }
        Ok(())
    }

    fn count_bytes(&mut self, span: Span, n: usize) -> Result<(), LoadError> {
        self.bytes = self.bytes.saturating_add(n);
        if self.bytes > MAX_YAML_BYTES {
            return Err(at(
                span,
                format!(
                    "the document expands to more than {MAX_YAML_BYTES} bytes of text (aliases included)"
                ),
            ));
        }
        Ok(())
    }

    fn remember(&mut self, anchor: usize, value: &Value) {
        if anchor == 0 {
            return;
        }
        if self.anchors.len() <= anchor {
            self.anchors.resize(anchor + 1, None);
        }
        self.anchors[anchor] = Some(value.clone());
    }

    /// Reads one node enclosed by `depth` arrays and objects.
    fn node(&mut self, event: Event<'a>, span: Span, depth: usize) -> Result<Value, LoadError> {
        self.count(span, 1)?;
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.count_bytes(span, text.len())?;
                let value = match read_tag(tag.as_deref(), Kind::Scalar).map_err(|m| at(span, m))? {
                    Read::Instruction(key) => {
                        self.wrapper(Some(key), span, depth)?;
                        wrap(Some(key), Value::String(text.into_owned()))
                    }
                    Read::Text => Value::String(text.into_owned()),
                    Read::Core(tag) => scalar(&text, style, tag).map_err(|m| at(span, m))?,
                };
                self.remember(anchor, &value);
                Ok(value)
            }
            Event::Alias(anchor) => {
                let value = self
                    .anchors
                    .get(anchor)
                    .and_then(Option::as_ref)
                    .cloned()
                    .ok_or_else(|| at(span, "an alias to an anchor that is not defined yet"))?;
                let size = measure(&value);
                self.count(span, size.nodes)?;
                self.count_bytes(span, size.bytes)?;
                // An alias inside nested collections nests its value deeper still.
                if depth + size.nesting > MAX_DEPTH {
                    return Err(at(span, format!("nested deeper than {MAX_DEPTH} levels")));
                }
                Ok(value)
            }
            Event::SequenceStart(anchor, tag) => {
                let instruction = instruction_key(
                    read_tag(tag.as_deref(), Kind::Sequence).map_err(|m| at(span, m))?,
                );
                // A tagged sequence sits one level down, inside its instruction object.
                let depth = self.wrapper(instruction, span, depth)?;
                if depth + 1 > MAX_DEPTH {
                    return Err(at(span, too_deep()));
                }
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if event == Event::SequenceEnd {
                        break;
                    }
                    items.push(self.node(event, span, depth + 1)?);
                }
                let value = wrap(instruction, Value::Array(items));
                self.remember(anchor, &value);
                Ok(value)
            }
            Event::MappingStart(anchor, tag) => {
                let instruction = instruction_key(
                    read_tag(tag.as_deref(), Kind::Mapping).map_err(|m| at(span, m))?,
                );
                let depth = self.wrapper(instruction, span, depth)?;
                if depth + 1 > MAX_DEPTH {
                    return Err(at(span, too_deep()));
                }
                let mut map = Map::new();
                loop {
                    let (event, key_span) = self.next()?;
                    if event == Event::MappingEnd {
                        break;
                    }
                    let key = match event {
                        Event::Scalar(text, style, _, tag) => {
                            self.count_bytes(key_span, text.len())?;
                            let tag = tag.as_deref();
                            let value = match read_tag(tag, Kind::Scalar)
                                .map_err(|m| at(key_span, m))?
                            {
                                Read::Instruction(_) => {
                                    return Err(at(
                                        key_span,
                                        format!(
                                            "a mapping key is tagged {}; a key is text, so it cannot hold a data instruction",
                                            tag.map(show_tag).unwrap_or_default()
                                        ),
                                    ));
                                }
                                Read::Text => Value::String(text.into_owned()),
                                Read::Core(tag) => {
                                    scalar(&text, style, tag).map_err(|m| at(key_span, m))?
                                }
                            };
                            match value {
                                Value::String(s) => s,
                                Value::Null => {
                                    return Err(at(
                                        key_span,
                                        "a mapping key is null; keys must be text",
                                    ));
                                }
                                // 200: or true: as a key means the text "200" / "true", as in JSON.
                                other => other.to_string(),
                            }
                        }
                        _ => {
                            return Err(at(
                                key_span,
                                "a mapping key is a collection or an alias; JSON keys must be text",
                            ));
                        }
                    };
                    let (event, span) = self.next()?;
                    let value = self.node(event, span, depth + 1)?;
                    if map.contains_key(&key) {
                        return Err(at(
                            key_span,
                            format!("the key {key:?} appears twice in one mapping"),
                        ));
                    }
                    map.insert(key, value);
                }
                let value = wrap(instruction, Value::Object(map));
                self.remember(anchor, &value);
                Ok(value)
            }
            _ => Err(at(span, "unexpected YAML event")),
        }
    }

    /// Counts the object a data-instruction tag wraps its node in (a node at `depth`, with one
    /// key), and gives the depth of the tagged node itself, one level down.
    fn wrapper(
        &mut self,
        key: Option<&'static str>,
        span: Span,
        depth: usize,
    ) -> Result<usize, LoadError> {
        let Some(key) = key else {
            return Ok(depth);
        };
        if depth + 1 > MAX_DEPTH {
            return Err(at(span, too_deep()));
        }
        self.count(span, 1)?;
        self.count_bytes(span, key.len())?;
        Ok(depth + 1)
    }
}

fn too_deep() -> String {
    format!("more than {MAX_DEPTH} arrays and objects nested in one another")
}

/// The node's value, inside `{key: value}` when a data-instruction tag gives a key.
fn wrap(key: Option<&'static str>, value: Value) -> Value {
    match key {
        Some(key) => Value::Object(Map::from_iter([(key.to_string(), value)])),
        None => value,
    }
}

/// What kind of node a tag is on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Scalar,
    Sequence,
    Mapping,
}

/// How to read a tagged (or untagged) node.
enum Read<'t> {
    /// A data instruction: the node is the argument of an object with this key.
    Instruction(&'static str),
    /// The non-specific tag `!` on a scalar: text, whatever it looks like.
    Text,
    /// The core schema: untagged, or one of its tags (for a scalar, to resolve it by).
    Core(Option<&'t Tag>),
}

fn instruction_key(read: Read<'_>) -> Option<&'static str> {
    match read {
        Read::Instruction(key) => Some(key),
        Read::Text | Read::Core(_) => None,
    }
}

/// Whether the tag's full name (its handle's prefix, then its suffix) is `full`, as libyaml,
/// the reference's reader, compares tags: `!eval`, `!<!eval>` and `!e!eval` under
/// `%TAG !e! !` all name `!eval`.
fn is_tag(tag: &Tag, full: &str) -> bool {
    full.strip_prefix(tag.handle.as_str()) == Some(tag.suffix.as_str())
}

/// The tag as it may be written: `!eval`, `!!str`, or verbatim, `!<tag:example.com,2025:x>`.
fn show_tag(tag: &Tag) -> String {
    if tag.handle == "!" {
        format!("!{}", tag.suffix)
    } else if tag.is_yaml_core_schema() {
        format!("!!{}", tag.suffix)
    } else {
        format!("!<{}{}>", tag.handle, tag.suffix)
    }
}

/// Decides how a node with this tag is read, or why it cannot be.
fn read_tag(tag: Option<&Tag>, kind: Kind) -> Result<Read<'_>, String> {
    let Some(t) = tag else {
        return Ok(Read::Core(None));
    };
    if let Some((_, key)) = INSTRUCTION_TAGS.iter().find(|(name, _)| is_tag(t, name)) {
        return Ok(Read::Instruction(key));
    }
    if is_tag(t, "!") {
        // The non-specific tag: a scalar is text, a collection what it is.
        return Ok(match kind {
            Kind::Scalar => Read::Text,
            Kind::Sequence | Kind::Mapping => Read::Core(None),
        });
    }
    if t.is_yaml_core_schema() {
        let fits = match (t.suffix.as_str(), kind) {
            ("str" | "int" | "float" | "bool" | "null", Kind::Scalar) => true,
            ("seq", Kind::Sequence) | ("map", Kind::Mapping) => true,
            ("str" | "int" | "float" | "bool" | "null" | "seq" | "map", _) => false,
            (other, _) => {
                return Err(format!(
                    "the tag !!{other} is not supported; {}",
                    tags_read()
                ));
            }
        };
        if !fits {
            let on = match kind {
                Kind::Scalar => "a scalar",
                Kind::Sequence => "a sequence",
                Kind::Mapping => "a mapping",
            };
            return Err(format!("the tag !!{} does not fit {on}", t.suffix));
        }
        return Ok(Read::Core(Some(t)));
    }
    Err(format!(
        "the tag {} is not supported; {}",
        show_tag(t),
        tags_read()
    ))
}

/// The tags Accord reads, for the message that refuses another.
fn tags_read() -> String {
    let instructions: Vec<&str> = INSTRUCTION_TAGS.iter().map(|(tag, _)| *tag).collect();
    format!(
        "the tags read are the data instructions of LTO's scenario loader ({}: `!eval x` is \
         `{{\"<eval>\": x}}`; other instructions are written as a key, `<name>: x`) and YAML's \
         own !!str, !!int, !!float, !!bool, !!null, !!seq, !!map and !",
        instructions.join(", ")
    )
}

/// The size of an anchored value: nodes, bytes of text, and levels (a scalar is one).
#[derive(Default)]
struct Size {
    nodes: usize,
    bytes: usize,
    /// Arrays and objects on the longest chain of them (a scalar: 0).
    nesting: usize,
}

fn measure(value: &Value) -> Size {
    let mut size = Size::default();
    // Each value with the arrays and objects enclosing it.
    let mut stack = vec![(value, 0usize)];
    while let Some((v, depth)) = stack.pop() {
        size.nodes = size.nodes.saturating_add(1);
        if v.is_array() || v.is_object() {
            size.nesting = size.nesting.max(depth + 1);
        }
        match v {
            Value::String(s) => size.bytes = size.bytes.saturating_add(s.len()),
            Value::Array(a) => stack.extend(a.iter().map(|x| (x, depth + 1))),
            Value::Object(o) => {
                for (k, x) in o {
                    size.bytes = size.bytes.saturating_add(k.len());
                    stack.push((x, depth + 1));
                }
            }
            _ => {}
        }
    }
    size
}

/// Resolves a scalar under the YAML 1.2 core schema; `tag` is one of its scalar tags.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    if let Some(t) = tag {
        return match t.suffix.as_str() {
            "str" => Ok(Value::String(text.to_string())),
            "null" => resolve_plain(text)
                .filter(Value::is_null)
                .ok_or_else(|| format!("{text:?} is not a null")),
            "bool" => resolve_plain(text)
                .filter(Value::is_boolean)
                .ok_or_else(|| format!("{text:?} is not a boolean")),
            "int" | "float" => match resolve_plain(text) {
                Some(v @ Value::Number(_)) => Ok(v),
                _ => Err(format!("{text:?} is not a number")),
            },
            other => Err(format!("the tag !!{other} is not supported")),
        }
        .and_then(|v| check_number(v, text));
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::String(text.to_string()));
    }
    let lower = text.trim_start_matches(['-', '+']).to_ascii_lowercase();
    if lower == ".inf" || lower == ".nan" {
        return Err(format!(
            "{text} is not a number JSON can hold; quote it if you mean the text"
        ));
    }
    match resolve_plain(text) {
        Some(v) => check_number(v, text),
        None => Ok(Value::String(text.to_string())),
    }
}

fn check_number(value: Value, text: &str) -> Result<Value, String> {
    if let Value::Number(n) = &value {
        let too_big = match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.unsigned_abs() > MAX_SAFE_INTEGER as u64,
            (None, Some(_), _) => true,
            (_, _, Some(f)) => f.fract() == 0.0 && f.abs() > MAX_SAFE_INTEGER as f64,
            _ => false,
        };
        if too_big {
            return Err(format!(
                "the integer {text} is beyond ±(2^53 - 1), where JSON readers disagree; quote it as a string"
            ));
        }
    }
    Ok(value)
}

/// The core schema's plain-scalar resolution; `None` means "a string".
fn resolve_plain(text: &str) -> Option<Value> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        _ => {}
    }
    let (sign, digits) = match text.as_bytes()[0] {
        b'-' => (-1i128, &text[1..]),
        b'+' => (1, &text[1..]),
        _ => (1, text),
    };
    let radix_int = |prefix: &str, radix: u32| -> Option<Value> {
        let rest = text.strip_prefix(prefix)?;
        if rest.is_empty() {
            return None;
        }
        let v = i128::from_str_radix(rest, radix).ok()?;
        Some(int_value(v))
    };
    if let Some(v) = radix_int("0x", 16).or_else(|| radix_int("0o", 8)) {
        return Some(v);
    }
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let v: i128 = digits.parse().ok().unwrap_or(i128::MAX);
        return Some(int_value(sign * v));
    }
    if is_yaml_float(digits) {
        let f: f64 = text.parse().ok()?;
        return Number::from_f64(f).map(Value::Number);
    }
    None
}

fn int_value(v: i128) -> Value {
    if let Ok(i) = i64::try_from(v) {
        Value::from(i)
    } else if let Ok(u) = u64::try_from(v) {
        Value::from(u)
    } else {
        // Far out of range: carried as a float so the range check names it.
        Value::from(v as f64)
    }
}

/// `[0-9]*(\.[0-9]*)?([eE][-+]?[0-9]+)?` with at least one digit before the exponent.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let mut mantissa_digits = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
        mantissa_digits += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            mantissa_digits += 1;
        }
    }
    if mantissa_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

/// Checks that a value already in memory keeps to the same rules as a document read here:
/// integers within ±(2^53 − 1) and nesting within [`MAX_DEPTH`]. (Keys are unique and numbers
/// finite in any `serde_json::Value`.) The error names the place as a JSON pointer.
pub fn check_i_json(value: &Value) -> Result<(), String> {
    check_i_json_within(value, MAX_DEPTH)
}

/// Arrays and objects on the longest chain of them in `value` (a scalar: 0). Only
/// collections are visited: the engine asks this of every update's value.
pub fn nesting(value: &Value) -> usize {
    fn is_collection(v: &Value) -> bool {
        v.is_array() || v.is_object()
    }
    if !is_collection(value) {
        return 0;
    }
    let mut deepest = 0;
    let mut stack = vec![(value, 1usize)];
    while let Some((v, d)) = stack.pop() {
        deepest = deepest.max(d);
        match v {
            Value::Array(a) => {
                stack.extend(a.iter().filter(|x| is_collection(x)).map(|x| (x, d + 1)))
            }
            Value::Object(m) => {
                stack.extend(m.values().filter(|x| is_collection(x)).map(|x| (x, d + 1)))
            }
            _ => {}
        }
    }
    deepest
}

/// [`check_i_json`] with at most `max` arrays and objects nested in one another: for a value
/// that will be placed inside others (an event body inside a process's history).
pub fn check_i_json_within(value: &Value, max: usize) -> Result<(), String> {
    // `depth`: the arrays and objects enclosing `v`.
    fn walk(v: &Value, at: &mut String, depth: usize, max: usize) -> Result<(), String> {
        if (v.is_array() || v.is_object()) && depth + 1 > max {
            return Err(format!(
                "{}: more than {max} arrays and objects nested in one another",
                if at.is_empty() { "/" } else { at },
            ));
        }
        match v {
            Value::Number(n) => {
                let bad = match (n.as_i64(), n.as_u64(), n.as_f64()) {
                    (Some(i), _, _) => i.unsigned_abs() > MAX_SAFE_INTEGER as u64,
                    (None, Some(_), _) => true,
                    (_, _, Some(f)) => f.fract() == 0.0 && f.abs() > MAX_SAFE_INTEGER as f64,
                    _ => false,
                };
                if bad {
                    return Err(format!(
                        "{}: the number {n} is an integer beyond ±(2^53 - 1), where JSON readers disagree; send it as a string",
                        if at.is_empty() { "/" } else { at }
                    ));
                }
                Ok(())
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = at.len();
                    at.push('/');
                    at.push_str(&i.to_string());
                    walk(item, at, depth + 1, max)?;
                    at.truncate(len);
                }
                Ok(())
            }
            Value::Object(m) => {
                for (k, item) in m {
                    let len = at.len();
                    at.push('/');
                    at.push_str(&k.replace('~', "~0").replace('/', "~1"));
                    walk(item, at, depth + 1, max)?;
                    at.truncate(len);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
    walk(value, &mut String::new(), 0, max)
}
