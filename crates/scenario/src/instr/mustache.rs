//! Mustache templates as PHP's mustache/mustache 2.12 renders them with its default options,
//! which is the engine behind legalthings/data-enricher's `<tpl>` instruction.
//!
//! What that means in practice:
//!
//! * `{{ name }}` is HTML-escaped the way `htmlspecialchars(…, ENT_COMPAT)` does it
//!   (`&`, `<`, `>`, `"`; not `'`); `{{{ name }}}` and `{{& name }}` are not.
//! * Scalars print as PHP prints them (see [`php_string`]); objects and arrays print as nothing.
//! * Names resolve up the context stack; in a dotted name only the first segment does, the rest
//!   descend from what it found (`items.0` indexes a list). A key whose value is `null` counts as
//!   absent in a nested object (PHP's `isset` on the decoded `stdClass`), so the lookup goes on
//!   down the stack.
//! * Sections use PHP truthiness (`false`, `null`, `0`, `0.0`, `""`, `"0"` and `[]` are falsy;
//!   every object is truthy), iterate over lists and push anything else once.
//! * Standalone tags are recognised with mustache.php's own line rules, quirks included.
//! * Partials render as nothing (there is no loader); so do parent tags (`{{< name }}`).
//!   `{{$ name }}` is a plain variable named `$name` unless the `BLOCKS` pragma is on, in which
//!   case it renders its default content. The `ANCHORED-DOT` pragma is honoured; `FILTERS` is not.

use std::borrow::Cow;
use std::collections::VecDeque;

use serde_json::Value;

/// Sections (and parent tags and blocks) nested deeper than this are refused, so that neither
/// parsing nor rendering can exhaust the stack.
const MAX_DEPTH: usize = 256;

/// A parsed template.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    nodes: Vec<Node>,
    plain: bool,
}

/// How a tag names a value.
#[derive(Clone, Debug, PartialEq)]
enum Name {
    /// `.`: the top of the context stack.
    Dot,
    /// `a.b.c`: the first segment is looked up the stack, the others descend from it.
    Path(Vec<String>),
    /// `.a.b` under the `ANCHORED-DOT` pragma: the segments descend from the top of the stack.
    Anchored(Vec<String>),
}

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Text(String),
    Var {
        name: Name,
        escape: bool,
    },
    Section {
        name: Name,
        inverted: bool,
        body: Vec<Node>,
    },
    /// A `{{$ block }}` under the `BLOCKS` pragma: with nothing to override it, its content.
    Block(Vec<Node>),
    /// Comments, partials, parent tags, pragmas: they render as nothing, but while parsing they
    /// still count as tags on their line.
    Silent,
}

impl Template {
    /// Parses; the error names what is wrong and where ("line L, column C: unclosed section `a`").
    pub fn parse(text: &str) -> Result<Template, String> {
        let lexed = tokenize(text)?;
        let mut parser = Parser {
            src: text,
            tokens: lexed.tokens,
            line: None,
            line_tokens: 0,
            blocks: false,
            anchored_dot: false,
        };
        let nodes = parser.build(None, 0)?;
        Ok(Template {
            nodes: simplify(nodes),
            plain: !lexed.has_tags,
        })
    }

    /// Renders with `root` as the bottom of the context stack (normally a JSON object whose keys
    /// are the top-level names).
    pub fn render(&self, root: &serde_json::Value) -> String {
        self.try_render(root).unwrap_or_default()
    }

    /// Renders within bounds: at most [`MAX_OUTPUT`] bytes of output and [`MAX_WORK`] tags
    /// visited, so a template that loops over large lists inside each other cannot stall a node.
    pub fn try_render(&self, root: &serde_json::Value) -> Result<String, String> {
        let mut stack: Vec<&Value> = Vec::new();
        // mustache.php pushes the data only when PHP's `empty()` says it is not empty; the data
        // is an associative array there, so an empty object counts as empty too.
        let root_empty = php_empty(root) || matches!(root, Value::Object(m) if m.is_empty());
        if !root_empty {
            stack.push(root);
        }
        let mut out = String::new();
        let mut work = 0u64;
        if render_nodes(&self.nodes, &mut stack, &mut out, &mut work) {
            Ok(out)
        } else {
            Err(format!(
                "the template renders to more than {MAX_OUTPUT} bytes or visits more than {MAX_WORK} tags"
            ))
        }
    }

    /// Whether the template has any tag at all (plain text renders to itself).
    pub fn is_plain(&self) -> bool {
        self.plain
    }

    /// The top-level names the template may read: the first segment of every name in a tag,
    /// wherever the tag is (a name inside a section can still fall through to the root).
    /// Always `Some`: no tag can print or test the root as a whole in a way that depends on
    /// other keys (an object prints as nothing, and the root the caller builds is never empty).
    pub fn roots(&self) -> Option<Vec<String>> {
        let mut out = Vec::new();
        collect_roots(&self.nodes, &mut out);
        Some(out)
    }
}

fn collect_roots(nodes: &[Node], out: &mut Vec<String>) {
    for node in nodes {
        match node {
            Node::Var { name, .. } => add_root(name, out),
            Node::Section { name, body, .. } => {
                add_root(name, out);
                collect_roots(body, out);
            }
            Node::Block(body) => collect_roots(body, out),
            Node::Text(_) | Node::Silent => {}
        }
    }
}

fn add_root(name: &Name, out: &mut Vec<String>) {
    // An anchored name reads the top of the stack, which may be the root itself.
    if let Name::Path(segments) | Name::Anchored(segments) = name
        && let Some(first) = segments.first()
        && !out.contains(first)
    {
        out.push(first.clone());
    }
}

/// PHP's string conversion of a scalar: true → "1", false/null → "", integers in decimal, floats
/// with PHP `precision=14` (14 significant digits, trailing zeros trimmed, e.g. 0.1+0.2 → "0.3",
/// 1e20 → "1.0E+20", 7500.0 → "7500"); arrays/objects → None.
pub fn php_string(value: &serde_json::Value) -> Option<String> {
    scalar_text(value).map(Cow::into_owned)
}

fn scalar_text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::Null | Value::Bool(false) => Some(Cow::Borrowed("")),
        Value::Bool(true) => Some(Cow::Borrowed("1")),
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(if let Some(i) = n.as_i64() {
            i.to_string()
        } else if let Some(u) = n.as_u64() {
            // Beyond PHP_INT_MAX json_decode gives a float.
            php_float(u as f64)
        } else {
            php_float(n.as_f64().unwrap_or(f64::NAN))
        })),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// `(string)$float` with `precision=14`: `%.14G` as PHP formats it.
fn php_float(f: f64) -> String {
    if f.is_nan() {
        return "NAN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "INF" } else { "-INF" }.to_string();
    }
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if f == 0.0 {
        return format!("{sign}0");
    }
    // Rounded to 14 significant digits: "d.ddddddddddddde<exp>".
    let sci = format!("{:.13e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    // The decimal point sits `point` digits into `digits` (0.digits × 10^point).
    let point = exp + 1;
    let mut out = String::from(sign);
    if !(-3..=14).contains(&point) {
        let mut chars = digits.chars();
        out.extend(chars.next());
        out.push('.');
        let rest = chars.as_str();
        out.push_str(if rest.is_empty() { "0" } else { rest });
        out.push('E');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&exp.unsigned_abs().to_string());
    } else if point <= 0 {
        out.push_str("0.");
        for _ in 0..point.unsigned_abs() {
            out.push('0');
        }
        out.push_str(digits);
    } else {
        let point = usize::try_from(point).unwrap_or(0);
        let int_len = point.min(digits.len());
        out.push_str(digits.get(..int_len).unwrap_or(digits));
        for _ in int_len..point {
            out.push('0');
        }
        if let Some(frac) = digits.get(int_len..).filter(|f| !f.is_empty()) {
            out.push('.');
            out.push_str(frac);
        }
    }
    out
}

/// PHP's `empty()` on a decoded JSON value (objects are `stdClass`, never empty).
fn php_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i == 0
            } else if let Some(u) = n.as_u64() {
                u == 0
            } else {
                n.as_f64().is_some_and(|f| f == 0.0)
            }
        }
        Value::String(s) => s.is_empty() || s == "0",
        Value::Array(a) => a.is_empty(),
        Value::Object(_) => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering

/// The most output one rendering may produce.
pub const MAX_OUTPUT: usize = 1 << 20;
/// The most tags one rendering may visit.
pub const MAX_WORK: u64 = 200_000;

/// Renders; `false` when a bound was hit (the output is then incomplete).
fn render_nodes(nodes: &[Node], stack: &mut Vec<&Value>, out: &mut String, work: &mut u64) -> bool {
    for node in nodes {
        *work += 1;
        if *work > MAX_WORK || out.len() > MAX_OUTPUT {
            return false;
        }
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Var { name, escape } => {
                if let Some(text) = resolve(stack, name).and_then(scalar_text) {
                    if *escape {
                        escape_html(&text, out);
                    } else {
                        out.push_str(&text);
                    }
                }
            }
            Node::Section {
                name,
                inverted,
                body,
            } => {
                let value = resolve(stack, name).filter(|v| !php_empty(v));
                match (value, *inverted) {
                    (None, true) => {
                        if !render_nodes(body, stack, out, work) {
                            return false;
                        }
                    }
                    (Some(Value::Array(items)), false) => {
                        for item in items {
                            stack.push(item);
                            let ok = render_nodes(body, stack, out, work);
                            stack.pop();
                            if !ok {
                                return false;
                            }
                        }
                    }
                    (Some(value), false) => {
                        stack.push(value);
                        let ok = render_nodes(body, stack, out, work);
                        stack.pop();
                        if !ok {
                            return false;
                        }
                    }
                    (_, true) | (None, false) => {}
                }
            }
            Node::Block(body) => {
                if !render_nodes(body, stack, out, work) {
                    return false;
                }
            }
            Node::Silent => {}
        }
    }
    out.len() <= MAX_OUTPUT
}

/// Looks a name up; `None` stands for mustache.php's "not found" (the empty string).
fn resolve<'a>(stack: &[&'a Value], name: &Name) -> Option<&'a Value> {
    match name {
        Name::Dot => stack.last().copied(),
        Name::Path(segments) => {
            let (first, rest) = segments.split_first()?;
            let found = stack.iter().rev().find_map(|frame| member(frame, first))?;
            descend(found, rest)
        }
        Name::Anchored(segments) => descend(stack.last().copied()?, segments),
    }
}

fn descend<'a>(mut value: &'a Value, segments: &[String]) -> Option<&'a Value> {
    for segment in segments {
        value = member(value, segment)?;
    }
    Some(value)
}

/// One frame's value for a key: an object's property unless it is null (`isset`), a list's
/// element at a canonical integer key (`array_key_exists`), nothing for a scalar.
fn member<'a>(frame: &'a Value, key: &str) -> Option<&'a Value> {
    match frame {
        Value::Object(map) => map.get(key).filter(|v| !v.is_null()),
        Value::Array(items) => list_index(key).and_then(|i| items.get(i)),
        _ => None,
    }
}

/// The index a PHP array key string converts to: canonical decimal, no sign, no leading zero.
fn list_index(key: &str) -> Option<usize> {
    let canonical = key == "0"
        || (!key.starts_with('0') && !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()));
    if !canonical {
        return None;
    }
    // Keys beyond PHP_INT_MAX stay strings, and no list is that long anyway.
    key.parse::<i64>()
        .ok()
        .and_then(|i| usize::try_from(i).ok())
}

fn escape_html(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tokenizing

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Text,
    Escaped,
    Unescaped,
    Section,
    Inverted,
    Close,
    Comment,
    Partial,
    Parent,
    BlockVar,
    Delimiters,
    Pragma,
}

#[derive(Debug)]
struct Token {
    kind: Kind,
    /// The text of a text token, the trimmed name of a tag.
    text: String,
    /// Line number as mustache.php counts it for standalone detection: newlines in text only.
    line: usize,
    /// Byte offset of the token's start, for error messages.
    pos: usize,
}

struct Lexed {
    tokens: VecDeque<Token>,
    has_tags: bool,
}

struct Lexer<'s> {
    src: &'s str,
    otag: String,
    ctag: String,
    line: usize,
    tokens: Vec<Token>,
    pragmas: Vec<Token>,
}

fn tokenize(src: &str) -> Result<Lexed, String> {
    let mut lx = Lexer {
        src,
        otag: "{{".to_string(),
        ctag: "}}".to_string(),
        line: 0,
        tokens: Vec::new(),
        pragmas: Vec::new(),
    };
    let bytes = src.as_bytes();
    let mut has_tags = false;
    let mut text_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let at_tag = bytes
            .get(i..)
            .is_some_and(|rest| rest.starts_with(lx.otag.as_bytes()));
        if at_tag {
            lx.text(text_start, i);
            has_tags = true;
            i = lx.tag(i)?;
            text_start = i;
        } else {
            if bytes.get(i) == Some(&b'\n') {
                lx.text(text_start, i + 1);
                lx.line += 1;
                text_start = i + 1;
            }
            i += 1;
        }
    }
    lx.text(text_start, bytes.len());
    // Pragmas are hoisted to the front, each new one before the earlier ones.
    let mut tokens: VecDeque<Token> = lx.pragmas.into_iter().rev().collect();
    tokens.extend(lx.tokens);
    Ok(Lexed { tokens, has_tags })
}

impl Lexer<'_> {
    fn text(&mut self, start: usize, end: usize) {
        if let Some(text) = self.src.get(start..end).filter(|t| !t.is_empty()) {
            self.tokens.push(Token {
                kind: Kind::Text,
                text: text.to_string(),
                line: self.line,
                pos: start,
            });
        }
    }

    fn find(&self, needle: &str, from: usize) -> Option<usize> {
        self.src
            .get(from..)
            .and_then(|rest| rest.find(needle))
            .map(|p| p + from)
    }

    /// Reads the tag whose opening delimiter starts at `at`; returns where the text resumes.
    fn tag(&mut self, at: usize) -> Result<usize, String> {
        let src = self.src;
        let after_open = at + self.otag.len();
        let sigil = src.as_bytes().get(after_open).copied();
        match sigil {
            Some(b'=') => {
                let close = format!("={}", self.ctag);
                let Some(end) = self.find(&close, after_open) else {
                    return Err(error_at(src, at, "unclosed set-delimiters tag".to_string()));
                };
                let spec = src.get(after_open + 1..end).unwrap_or("");
                let words: Vec<&str> = php_trim(spec)
                    .split(is_pcre_space)
                    .filter(|w| !w.is_empty())
                    .collect();
                let [open, close_tag] = words.as_slice() else {
                    return Err(error_at(
                        src,
                        at,
                        format!(
                            "invalid delimiters `{}`: expected an opening and a closing delimiter separated by whitespace",
                            shorten(spec.trim())
                        ),
                    ));
                };
                self.tokens.push(Token {
                    kind: Kind::Delimiters,
                    text: String::new(),
                    line: self.line,
                    pos: at,
                });
                self.otag = (*open).to_string();
                self.ctag = (*close_tag).to_string();
                Ok(end + close.len())
            }
            Some(b'%') => {
                let Some(end) = self.find(&self.ctag, after_open + 1) else {
                    return Err(self.unclosed(at, after_open + 1));
                };
                self.pragmas.push(Token {
                    kind: Kind::Pragma,
                    text: php_trim(src.get(after_open + 1..end).unwrap_or("")).to_string(),
                    line: 0,
                    pos: at,
                });
                Ok(end + self.ctag.len())
            }
            _ => {
                let kind = match sigil {
                    Some(b'#') => Kind::Section,
                    Some(b'^') => Kind::Inverted,
                    Some(b'/') => Kind::Close,
                    Some(b'!') => Kind::Comment,
                    Some(b'>') => Kind::Partial,
                    Some(b'<') => Kind::Parent,
                    Some(b'$') => Kind::BlockVar,
                    Some(b'{') | Some(b'&') => Kind::Unescaped,
                    _ => Kind::Escaped,
                };
                let start = if kind == Kind::Escaped {
                    after_open
                } else {
                    after_open + 1
                };
                let Some(end) = self.find(&self.ctag, start) else {
                    return Err(self.unclosed(at, start));
                };
                let mut name = php_trim(src.get(start..end).unwrap_or(""));
                let mut resume = end + self.ctag.len();
                if sigil == Some(b'{') {
                    if self.ctag == "}}" {
                        if src.as_bytes().get(end + 2) == Some(&b'}') {
                            resume += 1;
                        } else {
                            return Err(error_at(
                                src,
                                at,
                                format!(
                                    "triple mustache `{}` is not closed with `}}}}}}`",
                                    shorten(name)
                                ),
                            ));
                        }
                    } else if let Some(inner) = name.strip_suffix('}') {
                        name = php_trim(inner);
                    } else {
                        return Err(error_at(
                            src,
                            at,
                            format!(
                                "unescaped tag `{}` opened with `{{` is not closed with `}}{}`",
                                shorten(name),
                                self.ctag
                            ),
                        ));
                    }
                }
                self.tokens.push(Token {
                    kind,
                    text: name.to_string(),
                    line: self.line,
                    pos: at,
                });
                Ok(resume)
            }
        }
    }

    fn unclosed(&self, at: usize, content: usize) -> String {
        let name = php_trim(self.src.get(content..).unwrap_or(""));
        let msg = if name.is_empty() {
            format!("unclosed tag (no `{}`)", self.ctag)
        } else {
            format!("unclosed tag `{}` (no `{}`)", shorten(name), self.ctag)
        };
        error_at(self.src, at, msg)
    }
}

/// PHP's `trim()`: spaces, tabs, newlines, carriage returns, NUL and vertical tabs.
fn php_trim(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\n', '\r', '\0', '\x0B'])
}

/// PCRE's `\s` without Unicode mode.
fn is_pcre_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0B' | '\x0C' | '\r')
}

fn shorten(s: &str) -> String {
    const MAX: usize = 40;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", s.get(..cut).unwrap_or(s)),
        None => s.to_string(),
    }
}

fn error_at(src: &str, pos: usize, msg: String) -> String {
    let (line, column) = line_column(src, pos);
    format!("line {line}, column {column}: {msg}")
}

// ---------------------------------------------------------------------------------------------
// Parsing

struct Parser<'s> {
    src: &'s str,
    tokens: VecDeque<Token>,
    /// The line of the last token taken, and how many tokens before it were on that line.
    line: Option<usize>,
    line_tokens: usize,
    blocks: bool,
    anchored_dot: bool,
}

impl Parser<'_> {
    /// Builds the nodes up to the end of the token stream, or up to the closing tag of `open`.
    fn build(&mut self, open: Option<&Token>, depth: usize) -> Result<Vec<Node>, String> {
        if depth > MAX_DEPTH {
            let pos = open.map_or(0, |t| t.pos);
            return Err(error_at(
                self.src,
                pos,
                format!("sections nested more than {MAX_DEPTH} deep"),
            ));
        }
        let mut nodes = Vec::new();
        while let Some(token) = self.tokens.pop_front() {
            if self.line == Some(token.line) {
                self.line_tokens += 1;
            } else {
                self.line = Some(token.line);
                self.line_tokens = 0;
            }
            match token.kind {
                Kind::Text => nodes.push(Node::Text(token.text)),
                Kind::Escaped | Kind::Unescaped => nodes.push(Node::Var {
                    name: self.name(&token.text),
                    escape: token.kind == Kind::Escaped,
                }),
                Kind::Comment => {
                    self.standalone(&mut nodes);
                    nodes.push(Node::Silent);
                }
                Kind::Pragma => {
                    match token.text.as_str() {
                        "BLOCKS" => self.blocks = true,
                        "ANCHORED-DOT" => self.anchored_dot = true,
                        _ => {}
                    }
                    self.standalone(&mut nodes);
                    nodes.push(Node::Silent);
                }
                Kind::Delimiters => {
                    self.check_parent(open, &token)?;
                    self.standalone(&mut nodes);
                }
                Kind::Partial => {
                    self.check_parent(open, &token)?;
                    self.standalone(&mut nodes);
                    nodes.push(Node::Silent);
                }
                Kind::Section | Kind::Inverted => {
                    self.check_parent(open, &token)?;
                    self.standalone(&mut nodes);
                    let body = self.build(Some(&token), depth + 1)?;
                    nodes.push(Node::Section {
                        name: self.name(&token.text),
                        inverted: token.kind == Kind::Inverted,
                        body,
                    });
                }
                Kind::Parent => {
                    self.check_parent(open, &token)?;
                    // Without a loader the parent template is never found: nothing renders.
                    self.build(Some(&token), depth + 1)?;
                    nodes.push(Node::Silent);
                }
                Kind::BlockVar if self.blocks => {
                    self.standalone(&mut nodes);
                    let body = self.build(Some(&token), depth + 1)?;
                    nodes.push(Node::Block(body));
                }
                Kind::BlockVar => nodes.push(Node::Var {
                    name: self.name(&format!("${}", token.text)),
                    escape: true,
                }),
                Kind::Close => {
                    let Some(open) = open else {
                        return Err(error_at(
                            self.src,
                            token.pos,
                            format!(
                                "closing tag `{}` without an open section",
                                shorten(&token.text)
                            ),
                        ));
                    };
                    if token.text != open.text {
                        let (line, column) = line_column(self.src, open.pos);
                        return Err(error_at(
                            self.src,
                            token.pos,
                            format!(
                                "closing tag `{}` does not match {} `{}` opened at line {line}, column {column}",
                                shorten(&token.text),
                                noun(open.kind),
                                shorten(&open.text)
                            ),
                        ));
                    }
                    self.standalone(&mut nodes);
                    return Ok(nodes);
                }
            }
        }
        match open {
            Some(open) => Err(error_at(
                self.src,
                open.pos,
                format!("unclosed {} `{}`", noun(open.kind), shorten(&open.text)),
            )),
            None => Ok(nodes),
        }
    }

    fn name(&self, text: &str) -> Name {
        if text == "." {
            Name::Dot
        } else if let Some(rest) = text.strip_prefix('.').filter(|_| self.anchored_dot) {
            Name::Anchored(rest.split('.').map(str::to_string).collect())
        } else {
            Name::Path(text.split('.').map(str::to_string).collect())
        }
    }

    /// Only variables, text, comments and blocks may sit directly inside a parent tag.
    fn check_parent(&self, open: Option<&Token>, token: &Token) -> Result<(), String> {
        match open {
            Some(parent) if parent.kind == Kind::Parent => Err(error_at(
                self.src,
                token.pos,
                format!(
                    "a section, partial, parent or set-delimiters tag cannot sit directly inside parent tag `{}`",
                    shorten(&parent.text)
                ),
            )),
            _ => Ok(()),
        }
    }

    /// mustache.php's standalone rule for the tag just taken: it is standalone when it is the
    /// first token on its line, or the second after whitespace text (or after a token that
    /// left nothing in `nodes`), and the next token is whitespace text on the same line that
    /// ends the line or the template. The whitespace on either side is then dropped.
    fn standalone(&mut self, nodes: &mut Vec<Node>) {
        if self.line_tokens > 1 {
            return;
        }
        let mut drop_prev = false;
        if self.line_tokens == 1
            && let Some(prev) = nodes.last()
        {
            if !matches!(prev, Node::Text(t) if is_blank(t)) {
                return;
            }
            drop_prev = true;
        }
        let remaining = self.tokens.len();
        let mut drop_next = false;
        if let Some(next) = self.tokens.front() {
            if Some(next.line) != self.line
                || next.kind != Kind::Text
                || !is_blank(&next.text)
                || (remaining != 1 && !next.text.ends_with('\n'))
            {
                return;
            }
            drop_next = true;
        }
        if drop_prev {
            nodes.pop();
        }
        if drop_next {
            self.tokens.pop_front();
        }
    }
}

fn is_blank(text: &str) -> bool {
    text.chars().all(is_pcre_space)
}

fn noun(kind: Kind) -> &'static str {
    match kind {
        Kind::Inverted => "inverted section",
        Kind::Parent => "parent tag",
        Kind::BlockVar => "block",
        _ => "section",
    }
}

fn line_column(src: &str, pos: usize) -> (usize, usize) {
    let before = src.get(..pos).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Drops silent nodes and joins adjacent text, once standalone lines have been settled.
fn simplify(nodes: Vec<Node>) -> Vec<Node> {
    let mut out: Vec<Node> = Vec::with_capacity(nodes.len());
    for node in nodes {
        match node {
            Node::Silent => {}
            Node::Text(text) => {
                if let Some(Node::Text(last)) = out.last_mut() {
                    last.push_str(&text);
                } else {
                    out.push(Node::Text(text));
                }
            }
            Node::Section {
                name,
                inverted,
                body,
            } => out.push(Node::Section {
                name,
                inverted,
                body: simplify(body),
            }),
            Node::Block(body) => out.push(Node::Block(simplify(body))),
            var @ Node::Var { .. } => out.push(var),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(template: &str, data: Value) -> String {
        match Template::parse(template) {
            Ok(t) => t.render(&data),
            Err(e) => panic!("{template:?} does not parse: {e}"),
        }
    }

    fn parse_error(template: &str) -> String {
        match Template::parse(template) {
            Ok(t) => panic!("{template:?} parsed: {t:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn reference_cases() {
        assert_eq!(
            render("hello {{ name }}", json!({"name": "world"})),
            "hello world"
        );
        assert_eq!(
            render(
                "I want to go to {{ foo.city }}, {{ foo.country }}",
                json!({"foo": {"city": "Amsterdam", "country": "The Netherlands"}})
            ),
            "I want to go to Amsterdam, The Netherlands"
        );
        assert_eq!(render("{{ today }}", json!({"today": "monday"})), "monday");
        assert_eq!(
            render("{{ key }}", json!({"key": "name", "value": "John Doe"})),
            "name"
        );
    }

    #[test]
    fn escaping() {
        let data = json!({"x": "<a href=\"x\">Tom & 'Jerry'</a>"});
        assert_eq!(
            render("{{x}}", data.clone()),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; 'Jerry'&lt;/a&gt;"
        );
        assert_eq!(
            render("{{{x}}}", data.clone()),
            "<a href=\"x\">Tom & 'Jerry'</a>"
        );
        assert_eq!(
            render("{{& x }}", data.clone()),
            "<a href=\"x\">Tom & 'Jerry'</a>"
        );
        assert_eq!(
            render("{{{ x }}}", data.clone()),
            "<a href=\"x\">Tom & 'Jerry'</a>"
        );
        assert_eq!(render("{{ x}}", json!({"x": "&amp;"})), "&amp;amp;");
        assert_eq!(
            render("{{=<% %>=}}<%{ x }%>", data),
            "<a href=\"x\">Tom & 'Jerry'</a>"
        );
        assert_eq!(render("{{x}}", json!({"x": "é ü ☃"})), "é ü ☃");
    }

    #[test]
    fn whitespace_inside_tags() {
        let data = json!({"a": "A", "list": [1, 2]});
        assert_eq!(render("{{a}}|{{  a  }}|{{\ta\n}}", data.clone()), "A|A|A");
        assert_eq!(render("{{# list }}{{ . }}{{/ list }}", data.clone()), "12");
        // The sigil must follow the opening delimiter: `{{ #a}}` is a variable named `#a`.
        assert_eq!(render("{{ #a}}", data), "");
    }

    #[test]
    fn scalars_print_as_php_prints_them() {
        let data = json!({"t": true, "f": false, "n": null, "i": -3, "x": 0.1, "big": 1e20,
                          "half": 1.5, "whole": 7500.0, "obj": {"a": 1}, "arr": [1]});
        assert_eq!(
            render(
                "[{{t}}][{{f}}][{{n}}][{{i}}][{{x}}][{{big}}][{{half}}][{{whole}}][{{obj}}][{{arr}}][{{{obj}}}]",
                data
            ),
            "[1][][][-3][0.1][1.0E+20][1.5][7500][][][]"
        );
    }

    #[test]
    fn missing_names_render_empty() {
        assert_eq!(
            render("[{{missing}}][{{{missing}}}][{{a.b.c}}]", json!({"a": {}})),
            "[][][]"
        );
        assert_eq!(render("[{{a.b}}]", json!({"a": "text"})), "[]");
        assert_eq!(render("[{{a}}]", json!(null)), "[]");
        assert_eq!(render("[{{.}}]", json!({"a": 1})), "[]");
        assert_eq!(render("[{{}}]", json!({"a": 1})), "[]");
    }

    #[test]
    fn dotted_names() {
        let data = json!({
            "a": {"b": {"c": {"d": {"e": {"name": "Phil"}}}}},
            "b": {"c": {"d": {"e": {"name": "Wrong"}}}},
            "items": ["zero", {"name": "one"}],
            "person": {"name": "Joe"},
            "c": {"name": "Jim"}
        });
        assert_eq!(render("{{a.b.c.d.e.name}}", data.clone()), "Phil");
        assert_eq!(render("{{#a}}{{b.c.d.e.name}}{{/a}}", data.clone()), "Phil");
        // Only the first segment goes up the stack.
        assert_eq!(render("[{{a.b.c.name}}]", data.clone()), "[]");
        assert_eq!(
            render("{{items.0}} {{items.1.name}} [{{items.2}}]", data.clone()),
            "zero one []"
        );
        assert_eq!(
            render("[{{items.01}}][{{items.-1}}][{{items. 1}}]", data.clone()),
            "[][][]"
        );
        assert_eq!(
            render("{{#person}}{{name}}{{/person}}", data.clone()),
            "Joe"
        );
        assert_eq!(
            render("{{#person.name}}[{{.}}]{{/person.name}}", data),
            "[Joe]"
        );
        assert_eq!(render("{{0}}{{1}}", json!(["x", "y"])), "xy");
        assert_eq!(render("{{a.0}}", json!({"a": {"0": "key"}})), "key");
    }

    #[test]
    fn null_properties_fall_through_to_outer_frames() {
        // A nested object is a stdClass for mustache.php, where `isset` ignores null values.
        let data = json!({"name": "outer", "o": {"name": null}, "l": [null]});
        assert_eq!(render("{{#o}}{{name}}{{/o}}", data.clone()), "outer");
        // List elements use array_key_exists: a null element is found (and prints nothing).
        assert_eq!(render("[{{#l}}{{.}}{{/l}}][{{l.0}}]", data), "[][]");
    }

    #[test]
    fn sections() {
        let data = json!({
            "list": [{"n": 1}, {"n": 2}, {"n": 3}],
            "scalars": ["a", 1, 2.5, true, null],
            "obj": {"n": "o"},
            "empty_obj": {},
            "t": true,
            "s": "str",
            "n": "outer"
        });
        assert_eq!(render("{{#list}}{{n}},{{/list}}", data.clone()), "1,2,3,");
        assert_eq!(
            render("{{#scalars}}<{{.}}>{{/scalars}}", data.clone()),
            "<a><1><2.5><1><>"
        );
        assert_eq!(render("{{#obj}}{{n}}{{/obj}}", data.clone()), "o");
        assert_eq!(
            render("{{#empty_obj}}{{n}}{{/empty_obj}}", data.clone()),
            "outer"
        );
        assert_eq!(render("{{#t}}{{n}}{{/t}}", data.clone()), "outer");
        assert_eq!(render("{{#s}}{{.}}-{{n}}{{/s}}", data.clone()), "str-outer");
        assert_eq!(
            render("{{#list}}{{#obj}}{{n}}{{/obj}}{{/list}}", data.clone()),
            "ooo"
        );
        assert_eq!(
            render(
                "{{#a}}{{one}}{{#b}}{{one}}{{two}}{{#c}}{{one}}{{two}}{{three}}{{/c}}{{/b}}{{/a}}",
                json!({"a": {"one": 1}, "b": {"two": 2}, "c": {"three": 3}})
            ),
            "112123"
        );
        assert_eq!(render("{{#missing}}x{{/missing}}", data), "");
    }

    #[test]
    fn truthiness() {
        for falsy in [
            json!(false),
            json!(null),
            json!(0),
            json!(0.0),
            json!(""),
            json!("0"),
            json!([]),
        ] {
            assert_eq!(
                render("{{#v}}yes{{/v}}{{^v}}no{{/v}}", json!({"v": falsy})),
                "no",
                "{falsy}"
            );
        }
        for truthy in [
            json!(true),
            json!(1),
            json!(-1),
            json!(0.5),
            json!("0.0"),
            json!(" "),
            json!("false"),
            json!({}),
            json!([0]),
            json!([[]]),
        ] {
            let out = render(
                "{{#v}}yes{{/v}}{{^v}}no{{/v}}",
                json!({"v": truthy.clone()}),
            );
            assert_eq!(out, "yes", "{truthy}");
        }
        assert_eq!(render("{{^missing}}none{{/missing}}", json!({})), "none");
    }

    #[test]
    fn inverted_sections() {
        let data = json!({"list": [], "full": [1], "f": false, "name": "x"});
        assert_eq!(
            render("{{^list}}empty {{name}}{{/list}}", data.clone()),
            "empty x"
        );
        assert_eq!(render("{{^full}}empty{{/full}}", data.clone()), "");
        assert_eq!(render("{{^f}}F{{/f}}{{#f}}T{{/f}}", data), "F");
    }

    #[test]
    fn comments() {
        assert_eq!(
            render("12345{{! Comment Block! }}67890", json!({})),
            "1234567890"
        );
        assert_eq!(
            render("12345{{!\n  multi\n  line\n}}67890", json!({})),
            "1234567890"
        );
        assert_eq!(
            render("Begin.\n{{! Comment Block! }}\nEnd.\n", json!({})),
            "Begin.\nEnd.\n"
        );
        assert_eq!(
            render("Begin.\n  {{! Indented }}\nEnd.\n", json!({})),
            "Begin.\nEnd.\n"
        );
        assert_eq!(render("|\r\n{{! Standalone }}\r\n|", json!({})), "|\r\n|");
        assert_eq!(render("  {{! I'm Still Standalone }}\n!", json!({})), "!");
        assert_eq!(render("!\n  {{! I'm Still Standalone }}", json!({})), "!\n");
        assert_eq!(
            render(
                "Begin.\n{{!\nSomething's going on here...\n}}\nEnd.\n",
                json!({})
            ),
            "Begin.\nEnd.\n"
        );
        assert_eq!(render("  12 {{! 34 }}\n", json!({})), "  12 \n");
        assert_eq!(
            render("12345 {{! comment }} 67890", json!({})),
            "12345  67890"
        );
        // A comment ends at the first closing delimiter.
        assert_eq!(render("a{{! b }} c }}", json!({})), "a c }}");
    }

    #[test]
    fn set_delimiters() {
        let data = json!({"text": "Hey!", "data": "I got interpolated.", "section": true});
        assert_eq!(render("{{=<% %>=}}(<%text%>)", data.clone()), "(Hey!)");
        assert_eq!(render("({{=[ ]=}}[text])", data.clone()), "(Hey!)");
        assert_eq!(render("{{= | | =}}|text|", data.clone()), "Hey!");
        assert_eq!(
            render(
                "[\n{{#section}}\n  {{data}}\n  |data|\n{{/section}}\n\n{{= | | =}}\n|#section|\n  {{data}}\n  |data|\n|/section|\n]\n",
                data.clone()
            ),
            "[\n  I got interpolated.\n  |data|\n\n  {{data}}\n  I got interpolated.\n]\n"
        );
        assert_eq!(render("| {{=@ @=}} |", data.clone()), "|  |");
        assert_eq!(
            render("Begin.\n{{=@ @=}}\nEnd.", data.clone()),
            "Begin.\nEnd."
        );
        assert_eq!(render("|\r\n{{= @ @ =}}\r\n|", data.clone()), "|\r\n|");
        assert_eq!(render("  {{=@ @=}}\n=", data.clone()), "=");
        assert_eq!(render("=\n  {{=@ @=}}", data.clone()), "=\n");
        assert_eq!(render("{{=<% %>=}}<%={{ }}=%>{{text}}", data), "Hey!");
    }

    #[test]
    fn standalone_lines() {
        let data = json!({"boolean": true, "list": [1, 2]});
        assert_eq!(
            render(
                "| This Is\n{{#boolean}}\n|\n{{/boolean}}\n| A Line",
                data.clone()
            ),
            "| This Is\n|\n| A Line"
        );
        assert_eq!(
            render(
                "| This Is\n  {{#boolean}}\n|\n  {{/boolean}}\n| A Line",
                data.clone()
            ),
            "| This Is\n|\n| A Line"
        );
        assert_eq!(
            render("|\r\n{{#boolean}}\r\n{{/boolean}}\r\n|", data.clone()),
            "|\r\n|"
        );
        assert_eq!(
            render("  {{#boolean}}\n#{{/boolean}}\n/", data.clone()),
            "#\n/"
        );
        assert_eq!(
            render("#{{#boolean}}\n/\n  {{/boolean}}", data.clone()),
            "#\n/\n"
        );
        assert_eq!(
            render(" | {{#boolean}}\t|\t{{/boolean}} | \n", data.clone()),
            " | \t|\t | \n"
        );
        assert_eq!(
            render(
                " | {{#boolean}} {{! Important Whitespace }}\n {{/boolean}} | \n",
                data.clone()
            ),
            " |  \n  | \n"
        );
        assert_eq!(
            render(
                " {{#boolean}}YES{{/boolean}}\n {{#boolean}}GOOD{{/boolean}}\n",
                data.clone()
            ),
            " YES\n GOOD\n"
        );
        assert_eq!(
            render(
                "| This Is\n{{^missing}}\n|\n{{/missing}}\n| A Line",
                data.clone()
            ),
            "| This Is\n|\n| A Line"
        );
        assert_eq!(
            render("{{#list}}\n- {{.}}\n{{/list}}\n", data.clone()),
            "- 1\n- 2\n"
        );
        // Variables are never standalone.
        assert_eq!(render("  {{missing}}\n", data.clone()), "  \n");
        // Partials are standalone and render nothing.
        assert_eq!(render("a\n  {{> partial}}\nb", data.clone()), "a\nb");
        assert_eq!(render("a {{>partial}} b", data), "a  b");
    }

    #[test]
    fn standalone_quirks_of_mustache_php() {
        // A tag that is the second on its line counts as standalone when the first one left no
        // node in the list being built (here: the start of a section's body).
        assert_eq!(
            render("{{#a}}{{#b}}\nx{{/b}}{{/a}}", json!({"a": true, "b": true})),
            "x"
        );
        assert_eq!(render("{{#a}}{{/a}}\nx", json!({"a": true})), "x");
    }

    #[test]
    fn partials_parents_blocks_and_pragmas() {
        let data = json!({"name": "n", "$b": "dollar"});
        assert_eq!(render("[{{> name}}]", data.clone()), "[]");
        assert_eq!(
            render("[{{<parent}}{{$b}}x{{/parent}}]", data.clone()),
            "[]"
        );
        assert_eq!(
            render(
                "{{%BLOCKS}}[{{<parent}}{{$b}}x{{/b}}{{/parent}}]",
                data.clone()
            ),
            "[]"
        );
        // Without the pragma `{{$b}}` opens nothing, so `{{/b}}` closes the wrong tag.
        assert!(Template::parse("{{<parent}}{{$b}}x{{/b}}{{/parent}}").is_err());
        // Without the BLOCKS pragma `{{$b}}` is a variable named `$b`.
        assert_eq!(render("[{{$b}}]", data.clone()), "[dollar]");
        assert_eq!(
            render("{{%BLOCKS}}[{{$b}}{{name}}{{/b}}]", data.clone()),
            "[n]"
        );
        assert_eq!(
            render("{{% BLOCKS }}\n[{{$b}}\nx\n{{/b}}]", data.clone()),
            "[\nx\n]"
        );
        assert_eq!(render("{{%UNKNOWN}}\n{{name}}", data.clone()), "n");
        assert_eq!(
            render(
                "{{%ANCHORED-DOT}}{{#o}}[{{.name}}][{{name}}]{{/o}}",
                json!({"name": "outer", "o": {"x": 1}})
            ),
            "[][outer]"
        );
        assert_eq!(
            render(
                "{{#o}}[{{.name}}]{{/o}}",
                json!({"name": "outer", "o": {"x": 1}})
            ),
            "[]"
        );
        assert!(Template::parse("{{<p}}{{#s}}{{/s}}{{/p}}").is_err());
        assert!(Template::parse("{{<p}}{{>x}}{{/p}}").is_err());
    }

    #[test]
    fn is_plain_and_roots() {
        assert!(Template::parse("just text\n").is_ok_and(|t| t.is_plain()));
        assert!(Template::parse("").is_ok_and(|t| t.is_plain()));
        assert!(Template::parse("a } { b }} {").is_ok_and(|t| t.is_plain()));
        assert!(Template::parse("{{! c }}").is_ok_and(|t| !t.is_plain()));
        assert!(Template::parse("{{=<% %>=}}").is_ok_and(|t| !t.is_plain()));
        let t = Template::parse("{{a.b}}{{#c}}{{d}}{{.}}{{/c}}{{^a}}{{e.0}}{{/a}}").ok();
        assert_eq!(
            t.and_then(|t| t.roots()),
            Some(vec![
                "a".to_string(),
                "c".to_string(),
                "d".to_string(),
                "e".to_string()
            ])
        );
        let t = Template::parse("{{%ANCHORED-DOT}}{{.x}}{{.}}").ok();
        assert_eq!(t.and_then(|t| t.roots()), Some(vec!["x".to_string()]));
        assert_eq!(
            Template::parse("plain").ok().map(|t| t.render(&json!({}))),
            Some("plain".to_string())
        );
    }

    #[test]
    fn parse_errors() {
        assert_eq!(
            parse_error("{{#a}}x"),
            "line 1, column 1: unclosed section `a`"
        );
        assert_eq!(
            parse_error("x\n  {{^b}}"),
            "line 2, column 3: unclosed inverted section `b`"
        );
        assert_eq!(
            parse_error("{{#a}}\n{{#b}}{{/a}}"),
            "line 2, column 7: closing tag `a` does not match section `b` opened at line 2, column 1"
        );
        assert_eq!(
            parse_error("x {{/a}}"),
            "line 1, column 3: closing tag `a` without an open section"
        );
        assert_eq!(
            parse_error("é {{ name "),
            "line 1, column 3: unclosed tag `name` (no `}}`)"
        );
        assert_eq!(
            parse_error("{{"),
            "line 1, column 1: unclosed tag (no `}}`)"
        );
        assert_eq!(
            parse_error("{{{a}}"),
            "line 1, column 1: triple mustache `a` is not closed with `}}}`"
        );
        assert_eq!(
            parse_error("{{{a}} b"),
            "line 1, column 1: triple mustache `a` is not closed with `}}}`"
        );
        assert!(parse_error("{{=<% %>=}}<%{a%>").contains("not closed with `}%>`"));
        assert!(parse_error("{{=<%=}}").contains("invalid delimiters"));
        assert!(parse_error("{{=a b c=}}").contains("invalid delimiters"));
        assert!(parse_error("{{=<% %>").contains("unclosed set-delimiters tag"));
        assert!(parse_error("{{%BLOCKS}}{{$b}}").contains("unclosed block `b`"));
        assert!(parse_error("{{% pragma").contains("unclosed tag"));
        let deep = "{{#a}}".repeat(MAX_DEPTH + 2);
        assert!(parse_error(&deep).contains("nested more than"));
        let ok = format!(
            "{}{}",
            "{{#a}}".repeat(MAX_DEPTH),
            "{{/a}}".repeat(MAX_DEPTH)
        );
        assert!(Template::parse(&ok).is_ok_and(|t| t.render(&json!({"a": {}})).is_empty()));
    }

    #[test]
    fn malformed_templates_do_not_panic() {
        let cases = [
            "{{",
            "}}",
            "{{{",
            "{{{}}}",
            "{{{}}",
            "{{#}}{{/}}",
            "{{/}}",
            "{{^}}",
            "{{=}}",
            "{{==}}",
            "{{= =}}",
            "{{=a=}}",
            "{{=é ü=}}é.ü",
            "{{=é ü=}}ée ü",
            "{{%}}",
            "{{%",
            "{{!",
            "{{>",
            "{{<",
            "{{<a}}",
            "{{$",
            "{{&",
            "{{#a}}{{/b}}",
            "{{#a}}{{#b}}{{/a}}{{/b}}",
            "{{{a}}}}}",
            "\u{0}{{\u{0}}}",
            "{{é}}",
            "é{{",
            "{{a}}é}}",
            "{{#.}}{{.}}{{/.}}",
            "{{..}}",
            "{{a..b}}",
            "{{=| |=}}|",
            "{{=| |=}}||",
            "{{=| |=}}|{|",
            "{{=| |=}}|{a}|",
            "\n\r\n{{#a}}\r",
            "{{%BLOCKS}}{{$a}}{{/a}}{{<p}}{{$a}}{{/a}}{{/p}}",
            "{{=<= =>=}}<==>",
            "{{=<= =>=}}<=a=>",
        ];
        let data = json!({"a": [1, {"b": null}], "": "empty", "é": "e"});
        for case in cases {
            if let Ok(t) = Template::parse(case) {
                let _ = t.render(&data);
                let _ = t.render(&json!(null));
                let _ = t.render(&json!([1, 2]));
            }
        }
        // Every prefix of a template with every kind of tag.
        let full =
            "a {{#s}}b{{^i}}c{{/i}}{{! x }}{{>p}}{{{u}}}{{&v}}{{=<% %>=}}<%w%><%={{ }}=%>{{/s}}\n";
        for (i, _) in full.char_indices() {
            if let Some(prefix) = full.get(..i)
                && let Ok(t) = Template::parse(prefix)
            {
                let _ = t.render(&data);
            }
        }
    }

    #[test]
    fn php_string_cases() {
        let cases = [
            (json!(true), "1"),
            (json!(false), ""),
            (json!(null), ""),
            (json!(1), "1"),
            (json!(-3), "-3"),
            (json!(0), "0"),
            (json!("text"), "text"),
            (json!(0.1 + 0.2), "0.3"),
            (json!(0.30000000000000004), "0.3"),
            (json!(7500.0), "7500"),
            (json!(1.5), "1.5"),
            (json!(-1.5), "-1.5"),
            (json!(1e20), "1.0E+20"),
            (json!(1e15), "1.0E+15"),
            (json!(1e14), "1.0E+14"),
            (json!(1e13), "10000000000000"),
            (json!(123456789012345.0), "1.2345678901234E+14"),
            (json!(12345678901234.0), "12345678901234"),
            (json!(0.0000001), "1.0E-7"),
            (json!(0.00001), "1.0E-5"),
            (json!(0.0001), "0.0001"),
            (json!(0.00012345), "0.00012345"),
            (json!(1.25e-10), "1.25E-10"),
            (json!(1.0 / 3.0), "0.33333333333333"),
            (json!(2.0 / 3.0), "0.66666666666667"),
            (json!(100.0), "100"),
            (json!(0.0), "0"),
            (json!(-0.0), "-0"),
            (json!(1.7976931348623157e308), "1.7976931348623E+308"),
            (json!(5e-324), "4.9406564584125E-324"),
            (json!(99999999999999.99), "1.0E+14"),
            (json!(i64::MAX), "9223372036854775807"),
            (json!(i64::MIN), "-9223372036854775808"),
            (json!(u64::MAX), "1.844674407371E+19"),
        ];
        for (value, expected) in cases {
            assert_eq!(php_string(&value).as_deref(), Some(expected), "{value}");
        }
        assert_eq!(php_string(&json!([])), None);
        assert_eq!(php_string(&json!({"a": 1})), None);
        assert_eq!(php_float(f64::NAN), "NAN");
        assert_eq!(php_float(f64::INFINITY), "INF");
        assert_eq!(php_float(f64::NEG_INFINITY), "-INF");
    }

    #[test]
    fn numbers_in_templates() {
        let data = json!({"sum": 0.1 + 0.2, "price": 7500.0, "n": 42, "tiny": 0.0000001});
        assert_eq!(
            render("{{sum}} {{price}} {{n}} {{tiny}}", data),
            "0.3 7500 42 1.0E-7"
        );
    }
}
