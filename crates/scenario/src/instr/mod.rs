//! Data instructions: `{"<ref>": "actors.client.name"}`, `{"<eval>": "…"}`, `{"<tpl>": "…"}` and
//! the rest, compiled once when a scenario is checked and evaluated against a process.
//!
//! Semantics follow legalthings/data-enricher 0.8 as the reference engine registers it, with
//! these deliberate departures (docs/design/scenarios.md lists them all):
//! - instructions that read the network, the clock or randomness (`<src>`, `<transformation>`,
//!   relative dates in `<dateformat>`) are refused when the scenario is checked;
//! - arguments are evaluated first, from the inside out, as in the reference; `<if>` evaluates
//!   only the branch it takes (nothing here has side effects, so only the cost differs);
//! - where the reference "bails out" and leaves the instruction object itself in the output
//!   (a missing argument), a checked scenario reports the missing argument, and at run time an
//!   argument that evaluates to null gives null;
//! - `<match>` answers `true`/`false` where the reference gives `1`/`0` for regular expressions,
//!   and regular expressions are the `regex` crate's (linear time; no look-around or
//!   back-references) written with PCRE delimiters and flags as in the reference.

pub mod dateformat;
pub mod hash;
pub mod math;
pub mod mustache;
pub mod numberformat;

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::diag::{Diagnostics, Pointer};

pub use mustache::php_string;

/// A dot path (`actors.client.name`, `items.0`): the reference's `<ref>` and `select` syntax.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Path(Vec<String>);

impl Path {
    /// Parses a dot path; every segment must be non-empty.
    pub fn parse(text: &str) -> Result<Path, String> {
        if text.is_empty() {
            return Err("the path is empty".to_string());
        }
        let segments: Vec<String> = text.split('.').map(str::to_string).collect();
        if segments.iter().any(String::is_empty) {
            return Err(format!(
                "{text:?} has an empty segment; a path is names joined by dots, such as \"actors.client.name\""
            ));
        }
        Ok(Path(segments))
    }

    /// The first segment.
    pub fn first(&self) -> Option<&str> {
        self.0.first().map(String::as_str)
    }

    /// Segment `i`.
    pub fn get(&self, i: usize) -> Option<&str> {
        self.0.get(i).map(String::as_str)
    }

    /// The segments.
    pub fn segments(&self) -> &[String] {
        &self.0
    }

    /// Looks the path up in a value: objects by key, arrays by decimal index. A missing key, a
    /// null on the way, or a step into a scalar gives `None`.
    pub fn lookup<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        lookup(value, &self.0)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("."))
    }
}

fn lookup<'v>(mut value: &'v Value, segments: &[String]) -> Option<&'v Value> {
    for s in segments {
        value = match value {
            Value::Object(m) => m.get(s)?,
            Value::Array(a) => a.get(s.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    if value.is_null() { None } else { Some(value) }
}

/// A compiled JMESPath expression, with the top-level names it reads.
#[derive(Clone)]
pub struct Expr {
    expr: Arc<jmespath::Expression<'static>>,
    /// Top-level fields of the input the expression reads; `None` when it may read anything.
    roots: Option<Vec<String>>,
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expr({:?})", self.expr.as_str())
    }
}

/// The longest JMESPath expression accepted, in bytes.
pub const MAX_EXPR_LEN: usize = 4096;

/// How deeply a JMESPath expression may nest: brackets, braces, parentheses and prefix
/// operators (`!`, `&`) in the text, and levels of its syntax tree (`a.b.c` is three). The
/// library parses and evaluates recursively with no limit of its own, so an expression is
/// measured before it is parsed, and its tree before it is used.
pub const MAX_EXPR_DEPTH: usize = 64;

/// The largest result one instruction may give, in bytes of JSON (the `<tpl>` budget).
pub const MAX_RESULT: usize = mustache::MAX_OUTPUT;

/// How many times its input an expression may copy while it is evaluated, by a bound computed
/// from its syntax (see `docs/design/scenarios.md`). `[@,@][]` doubles its input, and `|`
/// composes, so without a bound a short expression could ask for 2^500 copies: the library
/// would build them before the result budget ever saw them.
pub const MAX_GROWTH: f64 = 1024.0;

/// An upper bound on how many times its input an expression's values (and those it builds on
/// the way) can hold: parts of the input count once; a list or hash of parts counts the sum of
/// its parts; a pipe, a sub-expression, a projection and `map` count the product of their two
/// sides; other functions count the sum of their arguments. Conservative: `{a: a, b: b}` counts
/// 2, though its parts do not overlap.
fn growth(ast: &jmespath::ast::Ast) -> f64 {
    use jmespath::ast::Ast;
    let g = match ast {
        Ast::Identity { .. }
        | Ast::Field { .. }
        | Ast::Index { .. }
        | Ast::Literal { .. }
        | Ast::Slice { .. } => 1.0,
        Ast::Subexpr { lhs, rhs, .. } | Ast::Projection { lhs, rhs, .. } => {
            growth(lhs) * growth(rhs)
        }
        Ast::Comparison { lhs, rhs, .. } | Ast::And { lhs, rhs, .. } | Ast::Or { lhs, rhs, .. } => {
            growth(lhs).max(growth(rhs))
        }
        Ast::Condition {
            predicate, then, ..
        } => growth(predicate).max(growth(then)),
        Ast::Expref { ast, .. } => growth(ast),
        Ast::Flatten { node, .. } | Ast::Not { node, .. } | Ast::ObjectValues { node, .. } => {
            growth(node)
        }
        Ast::Function { name, args, .. } if name == "map" => args.iter().map(growth).product(),
        Ast::Function { args, .. } => args.iter().map(growth).sum::<f64>().max(1.0),
        Ast::MultiList { elements, .. } => elements.iter().map(growth).sum::<f64>().max(1.0),
        Ast::MultiHash { elements, .. } => elements
            .iter()
            .map(|kv| growth(&kv.value))
            .sum::<f64>()
            .max(1.0),
    };
    g.min(1e30)
}

/// Checks an expression's length and nesting in its text, skipping quoted names, raw strings
/// and literals, before the (recursive) parser sees it.
fn check_expr_text(text: &str) -> Result<(), String> {
    if text.len() > MAX_EXPR_LEN {
        return Err(format!(
            "the expression is {} bytes long; at most {MAX_EXPR_LEN} are allowed",
            text.len()
        ));
    }
    let too_deep = || format!("the expression nests deeper than {MAX_EXPR_DEPTH} levels");
    // One entry per open bracket: the prefix operators seen inside it.
    let mut levels: Vec<usize> = vec![0];
    let mut depth = 0usize;
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'"' | b'\'' | b'`') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'(' | b'[' | b'{' => {
                levels.push(0);
                depth += 1;
            }
            // An unmatched closer is the parser's to report.
            b')' | b']' | b'}' if levels.len() > 1 => {
                depth -= 1 + levels.pop().unwrap_or(0);
            }
            b'!' if b.get(i + 1) != Some(&b'=') => {
                *levels.last_mut().expect("never empty") += 1;
                depth += 1;
            }
            b'&' => {
                if b.get(i + 1) == Some(&b'&') {
                    i += 1;
                } else {
                    *levels.last_mut().expect("never empty") += 1;
                    depth += 1;
                }
            }
            _ => {}
        }
        if depth > MAX_EXPR_DEPTH {
            return Err(too_deep());
        }
        i += 1;
    }
    Ok(())
}

/// The depth of a syntax tree, measured without recursion; `Err` past [`MAX_EXPR_DEPTH`].
fn check_ast_depth(ast: &jmespath::ast::Ast) -> Result<(), String> {
    use jmespath::ast::Ast;
    let mut stack: Vec<(&Ast, usize)> = vec![(ast, 1)];
    while let Some((node, depth)) = stack.pop() {
        if depth > MAX_EXPR_DEPTH {
            return Err(format!(
                "the expression nests deeper than {MAX_EXPR_DEPTH} levels"
            ));
        }
        let d = depth + 1;
        match node {
            Ast::Comparison { lhs, rhs, .. }
            | Ast::And { lhs, rhs, .. }
            | Ast::Or { lhs, rhs, .. }
            | Ast::Projection { lhs, rhs, .. }
            | Ast::Subexpr { lhs, rhs, .. } => {
                stack.push((lhs, d));
                stack.push((rhs, d));
            }
            Ast::Condition {
                predicate, then, ..
            } => {
                stack.push((predicate, d));
                stack.push((then, d));
            }
            Ast::Expref { ast, .. } => stack.push((ast, d)),
            Ast::Flatten { node, .. } | Ast::Not { node, .. } | Ast::ObjectValues { node, .. } => {
                stack.push((node, d))
            }
            Ast::Function { args, .. } => stack.extend(args.iter().map(|a| (a, d))),
            Ast::MultiList { elements, .. } => stack.extend(elements.iter().map(|a| (a, d))),
            Ast::MultiHash { elements, .. } => {
                stack.extend(elements.iter().map(|kv| (&kv.value, d)))
            }
            Ast::Identity { .. }
            | Ast::Field { .. }
            | Ast::Index { .. }
            | Ast::Literal { .. }
            | Ast::Slice { .. } => {}
        }
    }
    Ok(())
}

/// A JMESPath result as JSON, within [`MAX_RESULT`] bytes. Results share subtrees (`{a:@,b:@}`
/// refers to `@` twice), so a short expression can describe a huge value: it is counted as it
/// is copied out, and refused past the budget instead of being built.
fn result_to_json(
    v: &jmespath::Variable,
    budget: &mut usize,
    depth: usize,
) -> Result<Value, String> {
    use jmespath::Variable;
    fn spend(budget: &mut usize, n: usize) -> Result<(), String> {
        *budget = budget.checked_sub(n).ok_or_else(|| {
            format!(
                "the JMESPath result is larger than {MAX_RESULT} bytes, the limit for one instruction"
            )
        })?;
        Ok(())
    }
    if depth > crate::doc::MAX_DEPTH {
        return Err(format!(
            "the JMESPath result nests deeper than {} levels",
            crate::doc::MAX_DEPTH
        ));
    }
    Ok(match v {
        Variable::Null => {
            spend(budget, 4)?;
            Value::Null
        }
        Variable::Bool(b) => {
            spend(budget, 5)?;
            Value::Bool(*b)
        }
        Variable::Number(n) => {
            spend(budget, 8)?;
            Value::Number(n.clone())
        }
        Variable::String(s) => {
            spend(budget, s.len() + 2)?;
            Value::String(s.clone())
        }
        Variable::Array(items) => {
            spend(budget, 2)?;
            let mut out = Vec::with_capacity(items.len().min(*budget));
            for item in items {
                spend(budget, 1)?;
                out.push(result_to_json(item, budget, depth + 1)?);
            }
            Value::Array(out)
        }
        Variable::Object(m) => {
            spend(budget, 2)?;
            let mut out = Map::new();
            for (k, item) in m {
                spend(budget, k.len() + 4)?;
                out.insert(k.clone(), result_to_json(item, budget, depth + 1)?);
            }
            Value::Object(out)
        }
        Variable::Expref(e) => {
            let s = format!("<expression: {e:?}>");
            spend(budget, s.len() + 2)?;
            Value::String(s)
        }
    })
}

impl Expr {
    /// Compiles an expression, within [`MAX_EXPR_LEN`] bytes and [`MAX_EXPR_DEPTH`] levels.
    pub fn compile(text: &str) -> Result<Expr, String> {
        check_expr_text(text)?;
        let expr = jmespath::compile(text).map_err(|e| {
            // The library's message repeats the expression with a caret; keep the first line.
            e.to_string()
                .lines()
                .next()
                .unwrap_or("syntax error")
                .to_string()
        })?;
        check_ast_depth(expr.as_ast())?;
        // Depth is bounded above, so this recursion is too.
        let g = growth(expr.as_ast());
        if g > MAX_GROWTH {
            return Err(format!(
                "the expression can copy its input up to {g:.0} times (lists of parts piped into more lists, `[@,@][]`…); the limit is {MAX_GROWTH:.0}"
            ));
        }
        let mut roots = Some(Vec::new());
        collect_roots(expr.as_ast(), &mut roots);
        Ok(Expr {
            expr: Arc::new(expr),
            roots,
        })
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        self.expr.as_str()
    }

    /// The top-level fields the expression reads, when that can be told from its syntax.
    pub fn roots(&self) -> Option<&[String]> {
        self.roots.as_deref()
    }

    /// Evaluates against a JSON value.
    pub fn search(&self, input: &Value) -> Result<Value, String> {
        let var = jmespath::Variable::try_from(input).map_err(|e| e.to_string())?;
        self.search_var(Arc::new(var))
    }

    /// Evaluates against a prepared JMESPath value.
    pub fn search_var(&self, input: jmespath::Rcvar) -> Result<Value, String> {
        // The interpreter itself, not `Expression::search`: without the crate's nightly-only
        // `specialized` feature, `search` takes a prepared variable through serde, copying the
        // whole input on every evaluation.
        let mut ctx = jmespath::Context::new(self.expr.as_str(), &jmespath::DEFAULT_RUNTIME);
        let out = jmespath::interpret(&input, self.expr.as_ast(), &mut ctx).map_err(|e| {
            e.to_string()
                .lines()
                .next()
                .unwrap_or("evaluation failed")
                .to_string()
        })?;
        let mut budget = MAX_RESULT;
        result_to_json(&out, &mut budget, 0)
    }
}

/// Which top-level fields an expression reads: the first field of every path that starts at
/// the input. `None` when something reads the input as a whole (`@` at the top, a function of it).
fn collect_roots(ast: &jmespath::ast::Ast, roots: &mut Option<Vec<String>>) {
    use jmespath::ast::Ast;
    let add = |roots: &mut Option<Vec<String>>, name: &str| {
        if let Some(r) = roots
            && !r.iter().any(|n| n == name)
        {
            r.push(name.to_string());
        }
    };
    match ast {
        Ast::Field { name, .. } => add(roots, name),
        Ast::Identity { .. } => *roots = None,
        Ast::Subexpr { lhs, .. } => collect_roots(lhs, roots),
        Ast::Index { .. } | Ast::Slice { .. } | Ast::Literal { .. } | Ast::Expref { .. } => {
            if let Ast::Expref { ast, .. } = ast {
                // An expression reference is applied to elements, not the input.
                let _ = ast;
            }
        }
        Ast::Projection { lhs, .. } => collect_roots(lhs, roots),
        Ast::Flatten { node, .. } | Ast::Not { node, .. } => collect_roots(node, roots),
        Ast::ObjectValues { node, .. } => collect_roots(node, roots),
        Ast::Condition {
            predicate, then, ..
        } => {
            collect_roots(predicate, roots);
            collect_roots(then, roots);
        }
        Ast::Comparison { lhs, rhs, .. } | Ast::And { lhs, rhs, .. } | Ast::Or { lhs, rhs, .. } => {
            collect_roots(lhs, roots);
            collect_roots(rhs, roots);
        }
        Ast::Function { args, .. } => {
            for a in args {
                collect_roots(a, roots);
            }
        }
        Ast::MultiList { elements, .. } => {
            for e in elements {
                collect_roots(e, roots);
            }
        }
        Ast::MultiHash { elements, .. } => {
            for kv in elements {
                collect_roots(&kv.value, roots);
            }
        }
    }
}

/// The instruction keys the reference registers, in the order it runs them on one object.
const ORDER: [&str; 33] = [
    "<ifset>",
    "<ref>",
    "<eval>",
    "<switch>",
    "<merge>",
    "<tpl>",
    "<src>",
    "<jmespath>",
    "<apply>",
    "<transformation>",
    "<math>",
    "<sum>",
    "<enrich>",
    "<dateformat>",
    "<numberformat>",
    "<equal>",
    "<match>",
    "<replace>",
    "<if>",
    "<join>",
    "<encode>",
    "<decode>",
    "<serialize>",
    "<unserialize>",
    "<hash>",
    "_ref",
    "_switch",
    "_src",
    "_merge",
    "_jmespath",
    "_tpl",
    "_transformation",
    "<id>",
];

/// Whether a key names an instruction the reference knows.
pub fn is_instruction_key(key: &str) -> bool {
    ORDER.contains(&key)
}

/// A compiled value: literal data, or data with instructions inside.
#[derive(Clone, Debug)]
pub enum Instruction {
    /// Plain data, used as is.
    Literal(Value),
    /// An array with instructions inside.
    Array(Vec<Instruction>),
    /// An object with instructions inside (but none of its own keys is one).
    Object(Vec<(String, Instruction)>),
    /// An object whose keys include instructions.
    Node(Box<Node>),
}

impl Instruction {
    /// Whether evaluating it can only give the literal back.
    pub fn as_literal(&self) -> Option<&Value> {
        match self {
            Instruction::Literal(v) => Some(v),
            _ => None,
        }
    }
}

/// An object with one or more instruction keys.
#[derive(Clone, Debug)]
pub struct Node {
    /// Where it is in the scenario, for error messages.
    pub pointer: String,
    /// The instructions, in the reference's running order.
    pub steps: Vec<Step>,
    /// The object's other keys, evaluated: the starting "current result" that some steps read.
    pub siblings: Vec<(String, Instruction)>,
}

/// One instruction on a node.
#[derive(Clone, Debug)]
pub struct Step {
    /// Which instruction.
    pub op: Op,
    /// Its argument, compiled.
    pub arg: Instruction,
    /// What could be prepared from a literal argument.
    pub prepared: Prepared,
}

/// The instructions Accord runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Op {
    IfSet,
    Ref,
    Eval,
    Switch,
    Merge,
    Tpl,
    JmesPath,
    Math,
    Sum,
    DateFormat,
    NumberFormat,
    Equal,
    Match,
    Replace,
    If,
    Join,
    Hash,
    Id,
}

/// A literal argument, parsed ahead of time.
#[derive(Clone, Debug)]
pub enum Prepared {
    /// Nothing to prepare (or the argument is only known at run time).
    None,
    /// A reference path.
    Ref(RefPath),
    /// A JMESPath expression.
    Expr(Expr),
    /// Mustache templates.
    Tpl(TplTree),
    /// A `<math>` expression.
    Math(math::MathExpr),
    /// A regular expression.
    Regex(Arc<regex::Regex>),
}

/// Where a `<ref>` reads: `$`/no prefix is the process, `@` is the object being evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefPath {
    /// Whether it reads the target (`@`) instead of the source.
    pub target: bool,
    /// The path; empty for the whole source or target.
    pub path: Vec<String>,
}

impl RefPath {
    /// Parses `$`, `@`, `$.a.b`, `@.a.b` or `a.b`.
    pub fn parse(text: &str) -> Result<RefPath, String> {
        let (target, rest) = match text {
            "$" => {
                return Ok(RefPath {
                    target: false,
                    path: Vec::new(),
                });
            }
            "@" => {
                return Ok(RefPath {
                    target: true,
                    path: Vec::new(),
                });
            }
            _ if text.starts_with("$.") => (false, &text[2..]),
            _ if text.starts_with("@.") => (true, &text[2..]),
            _ => (false, text),
        };
        let path = Path::parse(rest)?;
        Ok(RefPath {
            target,
            path: path.0,
        })
    }
}

/// `<tpl>`'s argument: a template, a list of them, or an object whose keys and values are templates.
#[derive(Clone, Debug)]
pub enum TplTree {
    /// A template.
    Text(mustache::Template),
    /// Each element rendered.
    List(Vec<TplTree>),
    /// Keys and values rendered.
    Object(Vec<(mustache::Template, TplTree)>),
    /// Numbers, booleans, null: copied.
    Other(Value),
}

impl TplTree {
    fn build(value: &Value) -> Result<TplTree, String> {
        Ok(match value {
            Value::String(s) => TplTree::Text(mustache::Template::parse(s)?),
            Value::Array(a) => {
                TplTree::List(a.iter().map(TplTree::build).collect::<Result<_, _>>()?)
            }
            Value::Object(m) => TplTree::Object(
                m.iter()
                    .map(|(k, v)| Ok((mustache::Template::parse(k)?, TplTree::build(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => TplTree::Other(other.clone()),
        })
    }

    fn render(&self, root: &Value) -> Result<Value, String> {
        Ok(match self {
            TplTree::Text(t) => Value::String(t.try_render(root)?),
            TplTree::List(items) => Value::Array(
                items
                    .iter()
                    .map(|t| t.render(root))
                    .collect::<Result<_, _>>()?,
            ),
            TplTree::Object(entries) => {
                let mut m = Map::new();
                for (k, v) in entries {
                    m.insert(k.try_render(root)?, v.render(root)?);
                }
                Value::Object(m)
            }
            TplTree::Other(v) => v.clone(),
        })
    }

    /// Top-level names the templates read; `None` if any may read the whole context.
    fn roots(&self, out: &mut Option<Vec<String>>) {
        match self {
            TplTree::Text(t) => merge_roots(out, t.roots()),
            TplTree::List(items) => items.iter().for_each(|t| t.roots(out)),
            TplTree::Object(entries) => {
                for (k, v) in entries {
                    merge_roots(out, k.roots());
                    v.roots(out);
                }
            }
            TplTree::Other(_) => {}
        }
    }
}

fn merge_roots(out: &mut Option<Vec<String>>, more: Option<Vec<String>>) {
    match (out.as_mut(), more) {
        (Some(o), Some(m)) => {
            for n in m {
                if !o.contains(&n) {
                    o.push(n);
                }
            }
        }
        _ => *out = None,
    }
}

fn op_of(key: &str) -> Result<Op, &'static str> {
    Ok(match key {
        "<ifset>" => Op::IfSet,
        "<ref>" | "_ref" => Op::Ref,
        "<eval>" => Op::Eval,
        "<switch>" | "_switch" => Op::Switch,
        "<merge>" | "_merge" => Op::Merge,
        "<tpl>" | "_tpl" => Op::Tpl,
        "<jmespath>" | "<apply>" | "_jmespath" => Op::JmesPath,
        "<math>" => Op::Math,
        "<sum>" => Op::Sum,
        "<dateformat>" => Op::DateFormat,
        "<numberformat>" => Op::NumberFormat,
        "<equal>" => Op::Equal,
        "<match>" => Op::Match,
        "<replace>" => Op::Replace,
        "<if>" => Op::If,
        "<join>" => Op::Join,
        "<hash>" => Op::Hash,
        "<id>" => Op::Id,
        "<src>" | "_src" => {
            return Err(
                "reads the network (an HTTP GET inside a data instruction); a process must replay to the same result on every node, so data comes from responses instead (an HTTP action's response, for example)",
            );
        }
        "<transformation>" | "_transformation" => {
            return Err(
                "can read the clock (strtotime, date) and randomness (key generation, encryption), so replaying a process could give different results; use <hash>, <dateformat> with an absolute date, or an HTTP action",
            );
        }
        "<enrich>" | "<encode>" | "<decode>" | "<serialize>" | "<unserialize>" => {
            return Err("is not supported by Accord yet");
        }
        _ => return Err("is not a data instruction"),
    })
}

/// Compiles a value, reporting problems in instructions (unknown or refused instructions,
/// expressions and templates that do not parse, missing arguments).
pub fn compile(value: &Value, at: &Pointer, diags: &mut Diagnostics) -> Instruction {
    match value {
        Value::Array(items) => {
            let compiled: Vec<Instruction> = items
                .iter()
                .enumerate()
                .map(|(i, v)| compile(v, &at.join(i), diags))
                .collect();
            if compiled.iter().all(|c| c.as_literal().is_some()) {
                Instruction::Literal(value.clone())
            } else {
                Instruction::Array(compiled)
            }
        }
        Value::Object(m) => {
            let mut steps: Vec<(usize, Step)> = Vec::new();
            let mut siblings = Vec::new();
            for (k, v) in m {
                let p = at.join(k);
                if let Some(order) = ORDER.iter().position(|o| o == k) {
                    match op_of(k) {
                        Ok(op) => {
                            let arg = compile(v, &p, diags);
                            let prepared = prepare(op, v, &arg, m, &p, diags);
                            steps.push((order, Step { op, arg, prepared }));
                        }
                        Err(why) => diags.error(&p, "refused-instruction", format!("`{k}` {why}")),
                    }
                } else {
                    if k.starts_with('<') && k.ends_with('>') && k.len() > 2 {
                        diags.warning(
                            &p,
                            "unknown-instruction",
                            format!("`{k}` is not a data instruction, so this object is kept as plain data"),
                        );
                    }
                    siblings.push((k.clone(), compile(v, &p, diags)));
                }
            }
            if steps.is_empty() {
                if siblings.iter().all(|(_, c)| c.as_literal().is_some()) {
                    Instruction::Literal(value.clone())
                } else {
                    Instruction::Object(siblings)
                }
            } else {
                steps.sort_by_key(|(o, _)| *o);
                Instruction::Node(Box::new(Node {
                    pointer: at.to_string(),
                    steps: steps.into_iter().map(|(_, s)| s).collect(),
                    siblings,
                }))
            }
        }
        other => Instruction::Literal(other.clone()),
    }
}

/// Checks a literal argument's shape and prepares what can be prepared.
fn prepare(
    op: Op,
    raw: &Value,
    arg: &Instruction,
    node: &Map<String, Value>,
    at: &Pointer,
    diags: &mut Diagnostics,
) -> Prepared {
    let Some(lit) = arg.as_literal() else {
        return Prepared::None;
    };
    let _ = raw;
    let name = op_name(op);
    let need = |diags: &mut Diagnostics, field: &str| {
        if lit.get(field).is_none_or(Value::is_null) {
            diags.error(at, "missing-argument", format!("`{name}` needs `{field}`"));
        }
    };
    let need_object = |diags: &mut Diagnostics| {
        if !lit.is_object() {
            diags.error(at, "bad-argument", format!("`{name}` takes an object"));
            false
        } else {
            true
        }
    };
    match op {
        Op::IfSet | Op::Ref => match lit {
            Value::String(s) => match RefPath::parse(s) {
                Ok(r) => return Prepared::Ref(r),
                Err(e) => diags.error(at, "bad-path", e),
            },
            _ => diags.error(
                at,
                "bad-argument",
                format!("`{name}` takes a dot path such as \"actors.client.name\""),
            ),
        },
        Op::Eval => match lit {
            Value::String(s) => match Expr::compile(s) {
                Ok(e) => return Prepared::Expr(e),
                Err(e) => diags.error(
                    at,
                    "bad-jmespath",
                    format!("the JMESPath expression does not parse: {e}"),
                ),
            },
            _ => diags.error(
                at,
                "bad-argument",
                "`<eval>` takes a JMESPath expression (text)",
            ),
        },
        Op::Switch => match lit {
            Value::String(s) => match RefPath::parse(s) {
                Ok(r) => return Prepared::Ref(r),
                Err(e) => diags.error(at, "bad-path", e),
            },
            Value::Object(_) => {
                need(diags, "on");
                need(diags, "options");
            }
            _ => diags.error(
                at,
                "bad-argument",
                "`<switch>` takes {on, options, default} or a dot path",
            ),
        },
        Op::Merge | Op::Sum => {
            if !lit.is_array() && !lit.is_null() {
                diags.error(at, "bad-argument", format!("`{name}` takes a list"));
            }
        }
        Op::Tpl => match TplTree::build(lit) {
            Ok(t) => return Prepared::Tpl(t),
            Err(e) => diags.error(
                at,
                "bad-template",
                format!("the template does not parse: {e}"),
            ),
        },
        Op::JmesPath => {
            let query = match lit {
                Value::String(s) => Some(s.as_str()),
                Value::Object(m) => {
                    need(diags, "query");
                    m.get("query").and_then(Value::as_str)
                }
                _ => {
                    diags.error(
                        at,
                        "bad-argument",
                        "`<jmespath>` takes a query, or {input, query}",
                    );
                    None
                }
            };
            if let Some(q) = query {
                match Expr::compile(q) {
                    Ok(e) => return Prepared::Expr(e),
                    Err(e) => diags.error(
                        at,
                        "bad-jmespath",
                        format!("the JMESPath query does not parse: {e}"),
                    ),
                }
            }
        }
        Op::Math => match lit {
            Value::String(s) => match math::MathExpr::parse(s) {
                Ok(m) => {
                    for var in m.variables() {
                        if !node.contains_key(&var) {
                            diags.error(
                                at,
                                "unknown-variable",
                                format!("`<math>` uses `{var}`, but the object has no `{var}` key to take it from"),
                            );
                        }
                    }
                    return Prepared::Math(m);
                }
                Err(e) => diags.error(
                    at,
                    "bad-math",
                    format!("the expression does not parse: {e}"),
                ),
            },
            _ => diags.error(
                at,
                "bad-argument",
                "`<math>` takes an arithmetic expression (text)",
            ),
        },
        Op::DateFormat => {
            if need_object(diags) {
                if lit.get("date").is_none_or(Value::is_null)
                    && lit.get("input").is_none_or(Value::is_null)
                {
                    diags.error(
                        at,
                        "missing-argument",
                        "`<dateformat>` needs `date` (or `input`)",
                    );
                }
                let date = lit
                    .get("input")
                    .filter(|v| !v.is_null())
                    .or_else(|| lit.get("date"));
                if let Some(Value::String(d)) = date {
                    let format = lit.get("format").and_then(Value::as_str);
                    let tz = lit.get("timezone").and_then(Value::as_str);
                    if let Err(e) = dateformat::format_date(d, format, tz) {
                        diags.error(at, "bad-date", e);
                    }
                }
            }
        }
        Op::NumberFormat => {
            if need_object(diags) {
                need(diags, "input");
            }
        }
        Op::Equal => {
            if !matches!(lit, Value::Array(a) if a.len() == 2) {
                diags.error(at, "bad-argument", "`<equal>` takes a list of two values");
            }
        }
        Op::Match | Op::Replace => {
            if need_object(diags) {
                need(diags, "input");
                if op == Op::Replace {
                    need(diags, "replacement");
                }
                match (lit.get("find"), lit.get("regex")) {
                    (Some(f), _) if !f.is_null() => {}
                    (_, Some(Value::String(r))) => match php_regex(r) {
                        Ok(re) => return Prepared::Regex(Arc::new(re)),
                        Err(e) => diags.error(at, "bad-regex", e),
                    },
                    (_, Some(_)) => diags.error(
                        at,
                        "bad-argument",
                        format!("`{name}`'s `regex` must be text"),
                    ),
                    _ => diags.error(
                        at,
                        "missing-argument",
                        format!("`{name}` needs `find` or `regex`"),
                    ),
                }
            }
        }
        Op::If => {
            if need_object(diags) {
                need(diags, "condition");
            }
        }
        Op::Join => {
            if need_object(diags) {
                need(diags, "input");
            }
        }
        Op::Hash => {
            if need_object(diags) {
                need(diags, "input");
                need(diags, "algo");
                if let Some(Value::String(a)) = lit.get("algo")
                    && let Err(e) = hash::hash("", a, None)
                {
                    diags.error(at, "bad-argument", e);
                }
            }
        }
        Op::Id => {
            if !matches!(lit, Value::String(_) | Value::Object(_)) {
                diags.error(
                    at,
                    "bad-argument",
                    "`<id>` takes a seed (text) or {seed, chain}",
                );
            }
        }
    }
    Prepared::None
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::IfSet => "<ifset>",
        Op::Ref => "<ref>",
        Op::Eval => "<eval>",
        Op::Switch => "<switch>",
        Op::Merge => "<merge>",
        Op::Tpl => "<tpl>",
        Op::JmesPath => "<jmespath>",
        Op::Math => "<math>",
        Op::Sum => "<sum>",
        Op::DateFormat => "<dateformat>",
        Op::NumberFormat => "<numberformat>",
        Op::Equal => "<equal>",
        Op::Match => "<match>",
        Op::Replace => "<replace>",
        Op::If => "<if>",
        Op::Join => "<join>",
        Op::Hash => "<hash>",
        Op::Id => "<id>",
    }
}

/// A PCRE-style pattern with delimiters and flags (`/^foo/i`) as a `regex`.
pub fn php_regex(text: &str) -> Result<regex::Regex, String> {
    let mut chars = text.chars();
    let open = chars.next().ok_or("the regular expression is empty")?;
    if open.is_alphanumeric() || open == '\\' || open.is_whitespace() {
        return Err(format!(
            "{text:?} has no delimiters; write it as /pattern/flags"
        ));
    }
    let close = match open {
        '(' => ')',
        '[' => ']',
        '{' => '}',
        '<' => '>',
        c => c,
    };
    let body = &text[open.len_utf8()..];
    let end = body
        .rfind(close)
        .ok_or_else(|| format!("{text:?} has no closing delimiter {close:?}"))?;
    let (pattern, flags) = (&body[..end], &body[end + close.len_utf8()..]);
    let mut builder_flags = String::new();
    let mut anchored = false;
    for f in flags.chars() {
        match f {
            'i' | 'm' | 's' | 'x' | 'U' => builder_flags.push(f),
            'u' | 'D' => {}
            'A' => anchored = true,
            other => {
                return Err(format!(
                    "the regular-expression flag {other:?} is not supported (i, m, s, x, u, U, D, A are)"
                ));
            }
        }
    }
    let mut full = String::new();
    if !builder_flags.is_empty() {
        full.push_str(&format!("(?{builder_flags})"));
    }
    if anchored {
        full.push_str(&format!("\\A(?:{pattern})"));
    } else {
        full.push_str(pattern);
    }
    regex::RegexBuilder::new(&full)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| {
            format!(
                "the regular expression does not compile: {}",
                e.to_string().lines().last().unwrap_or("")
            )
        })
}

/// What an instruction reads, given to [`evaluate`].
pub struct Scope<'a> {
    /// The process (as JSON): what `<ref>`, `<eval>` and `<tpl>` read.
    pub source: &'a Value,
    /// The object being evaluated (an action, a state): what `@` means.
    pub target: &'a Value,
    /// The source's top-level fields as JMESPath reads them, each converted once for all the
    /// `<eval>`s of one evaluation: converting a large field again for every `<eval>` made a
    /// state with many of them cost the product of the two.
    roots: std::cell::RefCell<Vec<(String, jmespath::Rcvar)>>,
    /// Bytes the instructions of this evaluation have produced so far (`MAX_EVALUATION`).
    spent: std::cell::Cell<usize>,
}

/// What one evaluation may produce in all, its instructions' results summed (a result inside
/// another counts in both): each instruction is held to [`MAX_RESULT`], and this holds a list
/// of thousands of them (`[{<ref>: big}, …]`) from building gigabytes out of a small document.
pub const MAX_EVALUATION: usize = 8 * MAX_RESULT;

impl<'a> Scope<'a> {
    /// A scope reading `source`, with `target` as `@`.
    pub fn new(source: &'a Value, target: &'a Value) -> Scope<'a> {
        Scope {
            source,
            target,
            roots: std::cell::RefCell::new(Vec::new()),
            spent: std::cell::Cell::new(0),
        }
    }

    /// Counts what an instruction produced against [`MAX_EVALUATION`].
    fn charge(&self, v: &Value) -> Result<(), String> {
        let left = MAX_EVALUATION.saturating_sub(self.spent.get());
        let size = size_within(v, left).ok_or_else(|| {
            format!(
                "the instructions of one evaluation produce more than {MAX_EVALUATION} bytes in all"
            )
        })?;
        self.spent.set(self.spent.get() + size);
        Ok(())
    }

    /// The top-level field `name` of the source as a JMESPath variable, converted once.
    fn root(&self, name: &str) -> Result<Option<jmespath::Rcvar>, String> {
        if let Some((_, v)) = self.roots.borrow().iter().find(|(n, _)| n == name) {
            return Ok(Some(v.clone()));
        }
        let Some(v) = self.source.as_object().and_then(|m| m.get(name)) else {
            return Ok(None);
        };
        let var = Arc::new(jmespath::Variable::try_from(v).map_err(|e| e.to_string())?);
        self.roots
            .borrow_mut()
            .push((name.to_string(), var.clone()));
        Ok(Some(var))
    }
}

/// Why an instruction could not be evaluated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{pointer}: {message}")]
pub struct EvalError {
    /// The instruction's place in the scenario.
    pub pointer: String,
    /// What went wrong.
    pub message: String,
}

/// Evaluates a compiled value.
pub fn evaluate(instr: &Instruction, scope: &Scope) -> Result<Value, EvalError> {
    match instr {
        Instruction::Literal(v) => Ok(v.clone()),
        Instruction::Array(items) => Ok(Value::Array(
            items
                .iter()
                .map(|i| evaluate(i, scope))
                .collect::<Result<_, _>>()?,
        )),
        Instruction::Object(entries) => {
            let mut m = Map::new();
            for (k, v) in entries {
                m.insert(k.clone(), evaluate(v, scope)?);
            }
            Ok(Value::Object(m))
        }
        Instruction::Node(node) => {
            let v = evaluate_node(node, scope)?;
            scope.charge(&v).map_err(|message| EvalError {
                pointer: node.pointer.clone(),
                message,
            })?;
            Ok(v)
        }
    }
}

/// PHP truthiness: false, 0, 0.0, "", "0", [] and null are false; everything else is true.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty() && s != "0",
        Value::Array(a) => !a.is_empty(),
        Value::Object(_) => true,
    }
}

fn evaluate_node(node: &Node, scope: &Scope) -> Result<Value, EvalError> {
    let err = |message: String| EvalError {
        pointer: node.pointer.clone(),
        message,
    };
    let mut siblings = Map::new();
    for (k, v) in &node.siblings {
        siblings.insert(k.clone(), evaluate(v, scope)?);
    }
    let mut result = Value::Object(siblings);
    for step in &node.steps {
        // `<if>` chooses a branch before evaluating it.
        if step.op == Op::If {
            result = eval_if(step, &result, scope)?;
            continue;
        }
        let arg = evaluate(&step.arg, scope)?;
        match step.op {
            // A path computed at run time that is not a path reads nothing, as in the reference.
            Op::IfSet => {
                let found = ref_path(&step.prepared, &arg)
                    .ok()
                    .is_some_and(|r| read_ref(&r, scope).is_some());
                if !found {
                    return Ok(Value::Null);
                }
            }
            Op::Ref => {
                let found = ref_path(&step.prepared, &arg)
                    .ok()
                    .and_then(|r| read_ref(&r, scope));
                // A reference copies: an update that copies the document into itself would
                // double the process at every step. One copy is held to the result budget.
                if let Some(v) = found
                    && !within(v, MAX_RESULT)
                {
                    return Err(err(format!(
                        "the referenced value is larger than {MAX_RESULT} bytes, the limit for one instruction"
                    )));
                }
                result = found.cloned().unwrap_or(Value::Null);
            }
            Op::Eval => {
                let expr = expr_of(&step.prepared, &arg).map_err(err)?;
                result = search_scope(&expr, scope).map_err(err)?;
            }
            Op::Switch => {
                result = eval_switch(&step.prepared, &arg, &result, scope).map_err(err)?
            }
            Op::Merge => result = merge(&arg).map_err(err)?,
            Op::Tpl => {
                let tree = match &step.prepared {
                    Prepared::Tpl(t) => t.clone(),
                    _ => TplTree::build(&arg)
                        .map_err(|e| err(format!("the template does not parse: {e}")))?,
                };
                result = tree.render(&template_root(&tree, scope)).map_err(err)?;
            }
            Op::JmesPath => {
                let (input, expr) = match &arg {
                    Value::Object(m) => (
                        m.get("input").cloned().unwrap_or(Value::Null),
                        expr_of(&step.prepared, m.get("query").unwrap_or(&Value::Null))
                            .map_err(err)?,
                    ),
                    other => (result.clone(), expr_of(&step.prepared, other).map_err(err)?),
                };
                result = empty_lists_to_objects(expr.search(&input).map_err(err)?);
            }
            Op::Math => {
                let m = match &step.prepared {
                    Prepared::Math(m) => m.clone(),
                    _ => match &arg {
                        Value::String(s) => math::MathExpr::parse(s).map_err(err)?,
                        _ => {
                            return Err(err(
                                "`<math>` takes an arithmetic expression (text)".into()
                            ));
                        }
                    },
                };
                let vars = match &result {
                    Value::Object(m) => m.clone(),
                    _ => Map::new(),
                };
                result = m.eval(&vars).map_err(err)?;
            }
            Op::Sum => result = sum(&arg).map_err(err)?,
            Op::DateFormat => {
                let date = arg
                    .get("input")
                    .filter(|v| !v.is_null())
                    .or_else(|| arg.get("date"));
                result = match date {
                    None | Some(Value::Null) => Value::Null,
                    Some(d) => {
                        let text = php_string(d)
                            .ok_or_else(|| err("`<dateformat>`'s date must be text".into()))?;
                        let text = if d.is_number() {
                            format!("@{text}")
                        } else {
                            text
                        };
                        Value::String(
                            dateformat::format_date(
                                &text,
                                arg.get("format").and_then(Value::as_str),
                                arg.get("timezone").and_then(Value::as_str),
                            )
                            .map_err(err)?,
                        )
                    }
                };
            }
            Op::NumberFormat => {
                result = match arg.get("input") {
                    None | Some(Value::Null) => Value::Null,
                    Some(input) => Value::String(
                        numberformat::format_number(
                            input,
                            arg.get("locale").and_then(Value::as_str),
                            arg.get("decimals")
                                .and_then(Value::as_u64)
                                .map(|d| d.min(20) as u32),
                            arg.get("currency")
                                .and_then(Value::as_str)
                                .filter(|c| !c.is_empty()),
                        )
                        .map_err(err)?,
                    ),
                };
            }
            Op::Equal => {
                let a = arg.get(0).unwrap_or(&Value::Null);
                let b = arg.get(1).unwrap_or(&Value::Null);
                result = Value::Bool(loose_eq(a, b));
            }
            Op::Match => result = eval_match(&step.prepared, &arg).map_err(err)?,
            Op::Replace => result = eval_replace(&step.prepared, &arg).map_err(err)?,
            Op::Join => {
                result = match arg.get("input") {
                    None | Some(Value::Null) => Value::Null,
                    Some(Value::Array(items)) => {
                        let glue = arg.get("glue").and_then(php_string).unwrap_or_default();
                        let parts: Vec<String> = items
                            .iter()
                            .map(|v| php_string(v).unwrap_or_default())
                            .collect();
                        // The size is known before joining: refuse what would amplify.
                        let text: usize = parts.iter().map(String::len).sum();
                        let size = glue
                            .len()
                            .saturating_mul(parts.len().saturating_sub(1))
                            .saturating_add(text);
                        if size > MAX_RESULT.max(text) {
                            return Err(err(format!(
                                "`<join>` would give {size} bytes of text; the limit is {MAX_RESULT} (or the size of the items)"
                            )));
                        }
                        Value::String(parts.join(&glue))
                    }
                    Some(_) => return Err(err("`<join>`'s `input` must be a list".into())),
                };
            }
            Op::Hash => {
                result = match (arg.get("input"), arg.get("algo")) {
                    (Some(input), Some(Value::String(algo))) if !input.is_null() => {
                        let text = php_string(input)
                            .ok_or_else(|| err("`<hash>`'s input must be text".into()))?;
                        let key = arg.get("hmac").filter(|k| truthy(k)).and_then(php_string);
                        Value::String(hash::hash(&text, algo, key.as_deref()).map_err(err)?)
                    }
                    _ => Value::Null,
                };
            }
            Op::Id => result = resource_id(&arg, scope),
            Op::If => unreachable!("handled above"),
        }
    }
    Ok(result)
}

fn eval_if(step: &Step, current: &Value, scope: &Scope) -> Result<Value, EvalError> {
    // Evaluate `condition` first, then only the branch taken.
    let (condition, then, otherwise) = match &step.arg {
        Instruction::Literal(Value::Object(m)) => (
            Instruction::Literal(m.get("condition").cloned().unwrap_or(Value::Null)),
            m.get("then").cloned().map(Instruction::Literal),
            m.get("else").cloned().map(Instruction::Literal),
        ),
        Instruction::Object(entries) => {
            let get = |k: &str| entries.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            (
                get("condition").unwrap_or(Instruction::Literal(Value::Null)),
                get("then"),
                get("else"),
            )
        }
        other => {
            // A computed argument: evaluate it whole.
            let v = evaluate(other, scope)?;
            (
                Instruction::Literal(v.get("condition").cloned().unwrap_or(Value::Null)),
                v.get("then").cloned().map(Instruction::Literal),
                v.get("else").cloned().map(Instruction::Literal),
            )
        }
    };
    let cond = evaluate(&condition, scope)?;
    let branch = if truthy(&cond) { then } else { otherwise };
    match branch {
        Some(b) => {
            let v = evaluate(&b, scope)?;
            if v.is_null() && truthy(&cond) {
                Ok(current.clone())
            } else {
                Ok(v)
            }
        }
        None if truthy(&cond) => Ok(current.clone()),
        None => Ok(Value::Null),
    }
}

fn ref_path(prepared: &Prepared, arg: &Value) -> Result<RefPath, String> {
    match prepared {
        Prepared::Ref(r) => Ok(r.clone()),
        _ => match arg {
            Value::String(s) => RefPath::parse(s),
            Value::Null => Err("the reference path evaluated to null".to_string()),
            _ => Err("a reference path must be text".to_string()),
        },
    }
}

/// Whether `v` written as JSON takes at most about `budget` bytes (counted as
/// [`result_to_json`] counts), found without recursion and without reading past the budget.
fn within(v: &Value, budget: usize) -> bool {
    size_within(v, budget).is_some()
}

/// About how many bytes `v` takes written as JSON, if at most `budget` ([`within`]).
fn size_within(v: &Value, limit: usize) -> Option<usize> {
    let mut budget = limit;
    let mut spend = |cost: usize| match budget.checked_sub(cost) {
        Some(left) => {
            budget = left;
            true
        }
        None => false,
    };
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        let fits = match v {
            Value::Null => spend(4),
            Value::Bool(_) => spend(5),
            Value::Number(_) => spend(8),
            Value::String(s) => spend(s.len() + 2),
            Value::Array(items) => {
                let fits = spend(2 + items.len());
                if fits {
                    stack.extend(items);
                }
                fits
            }
            Value::Object(m) => {
                spend(2)
                    && m.iter().all(|(k, item)| {
                        stack.push(item);
                        spend(k.len() + 4)
                    })
            }
        };
        if !fits {
            return None;
        }
    }
    Some(limit - budget)
}

fn read_ref<'a>(r: &RefPath, scope: &Scope<'a>) -> Option<&'a Value> {
    let base = if r.target { scope.target } else { scope.source };
    lookup(base, &r.path)
}

fn expr_of(prepared: &Prepared, arg: &Value) -> Result<Expr, String> {
    match prepared {
        Prepared::Expr(e) => Ok(e.clone()),
        _ => match arg {
            Value::String(s) => {
                Expr::compile(s).map_err(|e| format!("the JMESPath expression does not parse: {e}"))
            }
            _ => Err("a JMESPath expression must be text".to_string()),
        },
    }
}

/// Runs an expression over the process, converting only the top-level fields it reads.
fn search_scope(expr: &Expr, scope: &Scope) -> Result<Value, String> {
    match (expr.roots(), scope.source) {
        (Some(roots), Value::Object(_)) => {
            let mut partial = std::collections::BTreeMap::new();
            for r in roots {
                if let Some(var) = scope.root(r)? {
                    partial.insert(r.clone(), var);
                }
            }
            expr.search_var(Arc::new(jmespath::Variable::Object(partial)))
        }
        _ => expr.search(scope.source),
    }
}

/// Runs `expr` over `source`, converting only the top-level fields it reads.
pub fn search_source(expr: &Expr, source: &Value) -> Result<Value, String> {
    match (expr.roots(), source) {
        (Some(roots), Value::Object(m)) => {
            let mut partial = std::collections::BTreeMap::new();
            for r in roots {
                if let Some(v) = m.get(r) {
                    let var = jmespath::Variable::try_from(v).map_err(|e| e.to_string())?;
                    partial.insert(r.clone(), Arc::new(var));
                }
            }
            expr.search_var(Arc::new(jmespath::Variable::Object(partial)))
        }
        _ => expr.search(source),
    }
}

/// The context a template sees: the process's top-level fields (only those it reads), and `@`.
fn template_root(tree: &TplTree, scope: &Scope) -> Value {
    let mut roots = Some(Vec::new());
    tree.roots(&mut roots);
    let mut m = Map::new();
    match (roots, scope.source) {
        (Some(names), Value::Object(src)) => {
            for n in names {
                if let Some(v) = src.get(&n) {
                    m.insert(n, v.clone());
                }
            }
        }
        (None, Value::Object(src)) => m = src.clone(),
        _ => {}
    }
    m.entry("@").or_insert_with(|| scope.target.clone());
    Value::Object(m)
}

fn eval_switch(
    prepared: &Prepared,
    arg: &Value,
    current: &Value,
    scope: &Scope,
) -> Result<Value, String> {
    match arg {
        Value::String(_) => {
            let r = ref_path(prepared, arg)?;
            let test = read_ref(&r, scope);
            Ok(test
                .and_then(array_key)
                .and_then(|k| current.get(&k))
                .filter(|v| !v.is_null())
                .cloned()
                .unwrap_or(Value::Null))
        }
        Value::Object(m) => {
            let on = m.get("on").unwrap_or(&Value::Null);
            let chosen = array_key(on)
                .and_then(|k| m.get("options").and_then(|o| o.get(&k)))
                .filter(|v| !v.is_null());
            Ok(chosen
                .or_else(|| m.get("default"))
                .cloned()
                .unwrap_or(Value::Null))
        }
        Value::Null => Ok(Value::Null),
        _ => Err("`<switch>` takes {on, options, default} or a dot path".to_string()),
    }
}

/// PHP array-key coercion: integers and integral floats as decimal text, true as "1", false as "0".
fn array_key(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_string()),
        Value::Number(n) => Some(match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) => (f.trunc() as i64).to_string(),
            _ => return None,
        }),
        _ => None,
    }
}

fn merge(arg: &Value) -> Result<Value, String> {
    let items = match arg {
        Value::Null => return Ok(Value::Null),
        Value::Array(a) => a,
        other => return Err(format!("`<merge>` takes a list, got {}", type_name(other))),
    };
    let items: Vec<&Value> = items.iter().filter(|v| !v.is_null()).collect();
    if items.is_empty() {
        return Ok(Value::Null);
    }
    let scalars = items
        .iter()
        .filter(|v| !v.is_array() && !v.is_object())
        .count();
    if scalars == items.len() {
        return Ok(Value::String(
            items
                .iter()
                .map(|v| php_string(v).unwrap_or_default())
                .collect(),
        ));
    }
    if scalars > 0 {
        return Err("`<merge>` cannot mix text or numbers with lists or objects".to_string());
    }
    // PHP array_merge: list items append; string keys overwrite; a result keyed 0..n is a list.
    let mut list: Vec<Value> = Vec::new();
    // Keyed by an index map: in order, and each key found at once (a linear search per key
    // made merging two large objects quadratic).
    let mut keyed: indexmap::IndexMap<String, Value> = indexmap::IndexMap::new();
    let mut is_list = true;
    for item in items {
        match item {
            Value::Array(a) => {
                for v in a {
                    let k = (list.len() + keyed.len()).to_string();
                    if is_list {
                        list.push(v.clone());
                    } else {
                        keyed.insert(k, v.clone());
                    }
                }
            }
            Value::Object(m) => {
                for (k, v) in m {
                    if k.parse::<u64>().is_ok() && !k.starts_with('0') || k == "0" {
                        let next = (list.len() + keyed.len()).to_string();
                        if is_list {
                            list.push(v.clone());
                        } else {
                            keyed.insert(next, v.clone());
                        }
                        continue;
                    }
                    if is_list {
                        is_list = false;
                        keyed = list
                            .drain(..)
                            .enumerate()
                            .map(|(i, v)| (i.to_string(), v))
                            .collect();
                    }
                    keyed.insert(k.clone(), v.clone());
                }
            }
            _ => {}
        }
    }
    if is_list {
        Ok(Value::Array(list))
    } else {
        Ok(Value::Object(keyed.into_iter().collect()))
    }
}

fn sum(arg: &Value) -> Result<Value, String> {
    let items = match arg {
        Value::Null => return Ok(Value::from(0)),
        Value::Array(a) => a,
        other => return Err(format!("`<sum>` takes a list, got {}", type_name(other))),
    };
    let mut int: Option<i64> = Some(0);
    let mut float = 0.0f64;
    for v in items {
        let (i, f) = match v {
            Value::Number(n) => (n.as_i64(), n.as_f64().unwrap_or(0.0)),
            Value::Bool(b) => (Some(*b as i64), *b as u8 as f64),
            Value::Null => (Some(0), 0.0),
            Value::String(s) => {
                let f = php_number(s);
                (
                    if f.fract() == 0.0 && !s.contains(['.', 'e', 'E']) {
                        Some(f as i64)
                    } else {
                        None
                    },
                    f,
                )
            }
            _ => continue,
        };
        int = match (int, i) {
            (Some(a), Some(b)) => a.checked_add(b),
            _ => None,
        };
        float += f;
    }
    match int {
        Some(i) => Ok(Value::from(i)),
        None => serde_json::Number::from_f64(float)
            .map(Value::Number)
            .ok_or_else(|| "`<sum>` overflowed".to_string()),
    }
}

/// PHP's leading-number conversion of text ("10%" → 10, "abc" → 0).
pub fn php_number(s: &str) -> f64 {
    let t = s.trim_start();
    let mut end = 0;
    let b = t.as_bytes();
    let mut seen_digit = false;
    let mut seen_dot = false;
    let mut seen_e = false;
    while end < b.len() {
        let c = b[end];
        if c.is_ascii_digit() {
            seen_digit = true;
        } else if (c == b'-' || c == b'+') && (end == 0 || matches!(b[end - 1], b'e' | b'E')) {
        } else if c == b'.' && !seen_dot && !seen_e {
            seen_dot = true;
        } else if (c == b'e' || c == b'E') && seen_digit && !seen_e {
            seen_e = true;
        } else {
            break;
        }
        end += 1;
    }
    let mut slice = &t[..end];
    while !slice.is_empty() && slice.parse::<f64>().is_err() {
        slice = &slice[..slice.len() - 1];
    }
    slice.parse().unwrap_or(0.0)
}

fn is_numeric_text(s: &str) -> bool {
    let t = s.trim_start();
    !t.is_empty()
        && t.parse::<f64>().is_ok_and(f64::is_finite)
        && !t.ends_with(|c: char| c.is_whitespace())
}

/// PHP 7's loose `==`.
pub fn loose_eq(a: &Value, b: &Value) -> bool {
    use Value::*;
    match (a, b) {
        (Null, Null) => true,
        (Bool(x), other) | (other, Bool(x)) => *x == truthy(other),
        (Null, String(s)) | (String(s), Null) => s.is_empty(),
        (Null, other) | (other, Null) => !truthy(other),
        (Number(x), Number(y)) => x.as_f64() == y.as_f64(),
        (Number(x), String(s)) | (String(s), Number(x)) => {
            let n = if is_numeric_text(s) {
                s.trim().parse::<f64>().unwrap_or(0.0)
            } else {
                php_number(s)
            };
            x.as_f64() == Some(n)
        }
        (String(x), String(y)) => {
            if is_numeric_text(x) && is_numeric_text(y) {
                x.trim().parse::<f64>().ok() == y.trim().parse::<f64>().ok()
            } else {
                x == y
            }
        }
        (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| loose_eq(p, q)),
        (Object(x), Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| loose_eq(v, w)))
        }
        _ => false,
    }
}

fn eval_match(prepared: &Prepared, arg: &Value) -> Result<Value, String> {
    let Some(input) = arg.get("input").filter(|v| !v.is_null()) else {
        return Ok(Value::Null);
    };
    let text = php_string(input).ok_or("`<match>`'s input must be text")?;
    if let Some(find) = arg.get("find").filter(|v| !v.is_null()) {
        let needle = php_string(find).unwrap_or_default();
        return Ok(Value::Bool(!needle.is_empty() && text.contains(&needle)));
    }
    let re = regex_of(prepared, arg)?;
    Ok(Value::Bool(re.is_match(&text)))
}

fn regex_of(prepared: &Prepared, arg: &Value) -> Result<Arc<regex::Regex>, String> {
    match prepared {
        Prepared::Regex(r) => Ok(r.clone()),
        _ => match arg.get("regex") {
            Some(Value::String(r)) => php_regex(r).map(Arc::new),
            _ => Err("needs `find` or `regex`".to_string()),
        },
    }
}

fn eval_replace(prepared: &Prepared, arg: &Value) -> Result<Value, String> {
    let (Some(input), Some(replacement)) = (
        arg.get("input").filter(|v| !v.is_null()),
        arg.get("replacement").filter(|v| !v.is_null()),
    ) else {
        return Ok(Value::Null);
    };
    let text = php_string(input).ok_or("`<replace>`'s input must be text")?;
    let with = php_string(replacement).ok_or("`<replace>`'s replacement must be text")?;
    let limit = MAX_RESULT.max(text.len());
    if let Some(find) = arg.get("find").filter(|v| !v.is_null()) {
        let needle = php_string(find).unwrap_or_default();
        if needle.is_empty() {
            return Ok(Value::String(text));
        }
        // The size is known before replacing: matches × replacement.
        let matches = text.matches(needle.as_str()).count();
        let size = (text.len() - matches * needle.len())
            .saturating_add(matches.saturating_mul(with.len()));
        if size > limit {
            return Err(replace_too_big(limit));
        }
        return Ok(Value::String(text.replace(&needle, &with)));
    }
    let re = regex_of(prepared, arg)?;
    // As `Regex::replace_all`, but counting: a pattern that matches everywhere (`//`) with a
    // long replacement would otherwise build matches × replacement bytes.
    let with = php_replacement(&with);
    let mut out = String::new();
    let mut last = 0;
    for caps in re.captures_iter(&text) {
        let m = caps.get(0).expect("group 0 is the match");
        out.push_str(&text[last..m.start()]);
        caps.expand(&with, &mut out);
        last = m.end();
        if out.len() > limit {
            return Err(replace_too_big(limit));
        }
    }
    out.push_str(&text[last..]);
    if out.len() > limit {
        return Err(replace_too_big(limit));
    }
    Ok(Value::String(out))
}

fn replace_too_big(limit: usize) -> String {
    format!(
        "`<replace>` would give more than {limit} bytes of text (the limit is {MAX_RESULT}, or the input's size if larger)"
    )
}

/// Turns PHP's `$1`, `${1}` and `\1` into the `regex` crate's `${1}`, escaping other `$`.
fn php_replacement(with: &str) -> String {
    let b: Vec<char> = with.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let digits = |start: usize| -> usize {
        let mut n = 0;
        while start + n < b.len() && n < 2 && b[start + n].is_ascii_digit() {
            n += 1;
        }
        n
    };
    while i < b.len() {
        let c = b[i];
        if (c == '$' || c == '\\') && i + 1 < b.len() {
            if b[i + 1] == '{' && c == '$' {
                let n = digits(i + 2);
                if n > 0 && b.get(i + 2 + n) == Some(&'}') {
                    let g: String = b[i + 2..i + 2 + n].iter().collect();
                    out.push_str(&format!("${{{g}}}"));
                    i += 3 + n;
                    continue;
                }
            }
            let n = digits(i + 1);
            if n > 0 {
                let g: String = b[i + 1..i + 1 + n].iter().collect();
                out.push_str(&format!("${{{g}}}"));
                i += 1 + n;
                continue;
            }
        }
        if c == '$' {
            out.push_str("$$");
        } else {
            out.push(c);
        }
        i += 1;
    }
    out
}

fn empty_lists_to_objects(v: Value) -> Value {
    match v {
        Value::Array(a) if a.is_empty() => Value::Object(Map::new()),
        Value::Array(a) => Value::Array(a.into_iter().map(empty_lists_to_objects).collect()),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, empty_lists_to_objects(v)))
                .collect(),
        ),
        other => other,
    }
}

/// `<id>`: the LTO resource id for a seed within a chain (the process's chain by default).
fn resource_id(arg: &Value, scope: &Scope) -> Value {
    let (seed, chain) = match arg {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
            (Some(arg), scope.source.get("chain"))
        }
        Value::Object(m) => (
            m.get("seed"),
            m.get("chain")
                .filter(|c| !c.is_null())
                .or_else(|| scope.source.get("chain")),
        ),
        _ => (None, None),
    };
    let (Some(seed), Some(Value::String(chain))) = (seed.and_then(php_string_nonnull), chain)
    else {
        return Value::Null;
    };
    Value::String(derive_resource_id(chain, &seed))
}

fn php_string_nonnull(v: &Value) -> Option<String> {
    if v.is_null() { None } else { php_string(v) }
}

/// The resource id: type 0x50, 20 bytes of SHA-256(seed), 20 bytes of
/// SHA-256(BLAKE2b-256(chain id text)), then a 4-byte checksum, in base58.
pub fn derive_resource_id(chain: &str, seed: &str) -> String {
    use accord_crypto::hash::{secure_hash, sha256};
    let ns = secure_hash(chain.as_bytes());
    let nonce = sha256(seed.as_bytes());
    let mut body = Vec::with_capacity(45);
    body.push(0x50);
    body.extend_from_slice(&nonce[..20]);
    body.extend_from_slice(&ns[..20]);
    let check = secure_hash(&body);
    body.extend_from_slice(&check[..4]);
    accord_crypto::base58::encode(&body)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
