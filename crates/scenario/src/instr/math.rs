//! `<math>`: arithmetic expressions in the dialect of hoa/math's `Arithmetic.pp`.
//!
//! Grammar (whitespace is spaces and tabs):
//!
//! ```text
//! expr    := product (('+' | '-' | '−') product)*
//! product := unary (('*' | '×' | '/' | '÷') unary)*
//! unary   := ('-' | '−' | '+') unary | primary
//! primary := number | name '(' [expr (',' expr)*] ')' | name | '(' expr ')'
//! number  := (0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
//! name    := [A-Za-z_][A-Za-z0-9_]*
//! ```
//!
//! Operators have the usual precedence and associate to the left. Every
//! number is a float, as in Hoa. A name is a built-in constant (`PI`, `E`, ...,
//! and a few of PHP's own math constants such as `M_PI`), or else a variable
//! taken from the map given to [`MathExpr::eval`].
//!
//! Deliberate differences from the PHP original:
//! - any name, whatever its case, is one token and one variable (Hoa splits
//!   `AMount` into a constant `AM` and a variable `ount`, and cannot read a
//!   one-letter upper-case key such as `X`);
//! - only the math-related PHP constants are known (`M_*`, `PHP_INT_*`,
//!   `PHP_FLOAT_*`), not every constant PHP defines;
//! - the process-wide constant table of the original (a second evaluation
//!   with the same upper-case key fails) is not reproduced;
//! - any division by zero is an error (PHP 7 gives INF for an integer zero
//!   taken from a variable), and so is any non-finite intermediate result;
//! - `max`/`min` with a single argument return it (PHP warns and yields null);
//! - a function called with the wrong number of arguments is an error;
//! - nesting (parentheses, calls and unary signs) is limited to
//!   [`MAX_DEPTH`] levels.

use serde_json::{Map, Number, Value};

/// How deeply parentheses, function calls and unary signs may nest.
pub const MAX_DEPTH: usize = 64;

/// Built-in constants of hoa/math, then PHP math constants that a
/// constant-looking name resolves to in the original.
const CONSTANTS: &[(&str, f64)] = &[
    ("PI", std::f64::consts::PI),
    ("PI_2", std::f64::consts::FRAC_PI_2),
    ("PI_4", std::f64::consts::FRAC_PI_4),
    ("E", std::f64::consts::E),
    ("SQRT_PI", 1.772_453_850_905_516),
    ("SQRT_2", std::f64::consts::SQRT_2),
    ("SQRT_3", 1.732_050_807_568_877_2),
    ("LN_PI", 1.144_729_885_849_400_2),
    ("M_PI", std::f64::consts::PI),
    ("M_PI_2", std::f64::consts::FRAC_PI_2),
    ("M_PI_4", std::f64::consts::FRAC_PI_4),
    ("M_1_PI", std::f64::consts::FRAC_1_PI),
    ("M_2_PI", std::f64::consts::FRAC_2_PI),
    ("M_E", std::f64::consts::E),
    ("M_LOG2E", std::f64::consts::LOG2_E),
    ("M_LOG10E", std::f64::consts::LOG10_E),
    ("M_LN2", std::f64::consts::LN_2),
    ("M_LN10", std::f64::consts::LN_10),
    ("M_SQRTPI", 1.772_453_850_905_516),
    ("M_2_SQRTPI", std::f64::consts::FRAC_2_SQRT_PI),
    ("M_SQRT2", std::f64::consts::SQRT_2),
    ("M_SQRT3", 1.732_050_807_568_877_2),
    ("M_SQRT1_2", std::f64::consts::FRAC_1_SQRT_2),
    ("M_LNPI", 1.144_729_885_849_400_2),
    ("M_EULER", 0.577_215_664_901_532_9),
    ("PHP_INT_MAX", 9_223_372_036_854_775_807.0),
    ("PHP_INT_MIN", -9_223_372_036_854_775_808.0),
    ("PHP_INT_SIZE", 8.0),
    ("PHP_FLOAT_EPSILON", f64::EPSILON),
    ("PHP_FLOAT_MAX", f64::MAX),
    ("PHP_FLOAT_MIN", f64::MIN_POSITIVE),
    ("PHP_FLOAT_DIG", 15.0),
];

/// The hoa/math constants that a variable may not redefine (Hoa throws
/// `AlreadyDefinedConstant` for a key with one of these names).
const HOA_CONSTANTS: &[&str] = &[
    "PI", "PI_2", "PI_4", "E", "SQRT_PI", "SQRT_2", "SQRT_3", "LN_PI",
];

const FUNCTIONS: &[&str] = &[
    "abs", "acos", "asin", "atan", "average", "avg", "ceil", "cos", "count", "deg2rad", "exp",
    "floor", "ln", "log", "max", "min", "pow", "rad2deg", "round", "sin", "sqrt", "sum", "tan",
];

fn constant(name: &str) -> Option<f64> {
    CONSTANTS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AddOp {
    Add,
    Sub,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MulOp {
    Mul,
    Div,
}

/// A node of the syntax tree. Chains of `+`/`-` and of `*`/`/` are kept flat
/// so that long expressions do not make the tree (and its evaluation) deep.
#[derive(Clone, Debug, PartialEq)]
enum Node {
    Num(f64),
    Name(String),
    Neg(Box<Node>),
    Sum(Box<Node>, Vec<(AddOp, Node)>),
    Product(Box<Node>, Vec<(MulOp, Node)>),
    Call(String, Vec<Node>),
}

/// A parsed arithmetic expression.
#[derive(Clone, Debug, PartialEq)]
pub struct MathExpr {
    root: Node,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Name(String),
    Plus,
    Minus,
    Star,
    Slash,
    LParen,
    RParen,
    Comma,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Num(n) => format!("number {n}"),
        Tok::Name(n) => format!("`{n}`"),
        Tok::Plus => "`+`".into(),
        Tok::Minus => "`-`".into(),
        Tok::Star => "`*`".into(),
        Tok::Slash => "`/`".into(),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::Comma => "`,`".into(),
    }
}

fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            ' ' | '\t' => i += 1,
            '+' => {
                toks.push(Tok::Plus);
                i += 1;
            }
            '-' | '\u{2212}' => {
                toks.push(Tok::Minus);
                i += 1;
            }
            '*' | '\u{00D7}' => {
                toks.push(Tok::Star);
                i += 1;
            }
            '/' | '\u{00F7}' => {
                toks.push(Tok::Slash);
                i += 1;
            }
            '(' => {
                toks.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                toks.push(Tok::RParen);
                i += 1;
            }
            ',' => {
                toks.push(Tok::Comma);
                i += 1;
            }
            '0'..='9' => {
                let start = i;
                let digit = |j: usize| chars.get(j).is_some_and(char::is_ascii_digit);
                if c == '0' {
                    i += 1;
                } else {
                    while digit(i) {
                        i += 1;
                    }
                }
                if chars.get(i) == Some(&'.') && digit(i + 1) {
                    i += 1;
                    while digit(i) {
                        i += 1;
                    }
                }
                if matches!(chars.get(i), Some('e' | 'E')) {
                    let mut j = i + 1;
                    if matches!(chars.get(j), Some('+' | '-')) {
                        j += 1;
                    }
                    if digit(j) {
                        while digit(j) {
                            j += 1;
                        }
                        i = j;
                    }
                }
                let s: String = chars.get(start..i).unwrap_or_default().iter().collect();
                let v: f64 = s
                    .parse()
                    .map_err(|_| format!("`{s}` is not a valid number"))?;
                if !v.is_finite() {
                    return Err(format!("the number `{s}` is out of range"));
                }
                toks.push(Tok::Num(v));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while chars
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
                {
                    i += 1;
                }
                let s: String = chars.get(start..i).unwrap_or_default().iter().collect();
                toks.push(Tok::Name(s));
            }
            other => {
                return Err(format!(
                    "unexpected character `{other}` at position {}",
                    i + 1
                ));
            }
        }
    }
    Ok(toks)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn expect(&mut self, want: &Tok) -> Result<(), String> {
        match self.next() {
            Some(ref t) if t == want => Ok(()),
            Some(t) => Err(format!(
                "expected {}, found {}",
                describe(want),
                describe(&t)
            )),
            None => Err(format!(
                "expected {}, but the expression ends",
                describe(want)
            )),
        }
    }

    fn expr(&mut self, depth: usize) -> Result<Node, String> {
        let first = self.product(depth)?;
        let mut rest = Vec::new();
        loop {
            let op = match self.peek() {
                Some(Tok::Plus) => AddOp::Add,
                Some(Tok::Minus) => AddOp::Sub,
                _ => break,
            };
            self.pos += 1;
            rest.push((op, self.product(depth)?));
        }
        Ok(if rest.is_empty() {
            first
        } else {
            Node::Sum(Box::new(first), rest)
        })
    }

    fn product(&mut self, depth: usize) -> Result<Node, String> {
        let first = self.unary(depth)?;
        let mut rest = Vec::new();
        loop {
            let op = match self.peek() {
                Some(Tok::Star) => MulOp::Mul,
                Some(Tok::Slash) => MulOp::Div,
                _ => break,
            };
            self.pos += 1;
            rest.push((op, self.unary(depth)?));
        }
        Ok(if rest.is_empty() {
            first
        } else {
            Node::Product(Box::new(first), rest)
        })
    }

    fn deeper(depth: usize) -> Result<usize, String> {
        if depth >= MAX_DEPTH {
            Err(format!(
                "the expression nests more than {MAX_DEPTH} levels deep"
            ))
        } else {
            Ok(depth + 1)
        }
    }

    fn unary(&mut self, depth: usize) -> Result<Node, String> {
        match self.peek() {
            Some(Tok::Minus) => {
                self.pos += 1;
                let inner = self.unary(Self::deeper(depth)?)?;
                Ok(Node::Neg(Box::new(inner)))
            }
            Some(Tok::Plus) => {
                self.pos += 1;
                self.unary(Self::deeper(depth)?)
            }
            _ => self.primary(depth),
        }
    }

    fn primary(&mut self, depth: usize) -> Result<Node, String> {
        match self.next() {
            Some(Tok::Num(v)) => Ok(Node::Num(v)),
            Some(Tok::LParen) => {
                let inner = self.expr(Self::deeper(depth)?)?;
                self.expect(&Tok::RParen)?;
                Ok(inner)
            }
            Some(Tok::Name(name)) => {
                if self.peek() != Some(&Tok::LParen) {
                    return Ok(Node::Name(name));
                }
                self.pos += 1;
                let inner = Self::deeper(depth)?;
                let mut args = Vec::new();
                if self.peek() == Some(&Tok::RParen) {
                    self.pos += 1;
                } else {
                    loop {
                        args.push(self.expr(inner)?);
                        match self.next() {
                            Some(Tok::Comma) => {}
                            Some(Tok::RParen) => break,
                            Some(t) => {
                                return Err(format!(
                                    "expected `,` or `)` in the call of `{name}`, found {}",
                                    describe(&t)
                                ));
                            }
                            None => {
                                return Err(format!("the call of `{name}` is not closed with `)`"));
                            }
                        }
                    }
                }
                if !FUNCTIONS.contains(&name.as_str()) {
                    return Err(format!(
                        "unknown function `{name}`; known: {}",
                        FUNCTIONS.join(", ")
                    ));
                }
                Ok(Node::Call(name, args))
            }
            Some(t) => Err(format!("unexpected {}", describe(&t))),
            None => Err("the expression ends too early".into()),
        }
    }
}

/// PHP's reading of a string as a number: the longest leading numeric part
/// (after leading whitespace), or 0 when there is none. `"10%"` gives 10.
fn php_leading_number(s: &str) -> f64 {
    let b = s.as_bytes();
    let mut i = 0;
    while b
        .get(i)
        .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C))
    {
        i += 1;
    }
    let start = i;
    if matches!(b.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |mut j: usize| {
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        j
    };
    let int_end = digits(i);
    let mut end = int_end;
    let mut have_digits = int_end > i;
    if b.get(end) == Some(&b'.') {
        let frac_end = digits(end + 1);
        if frac_end > end + 1 || have_digits {
            have_digits = have_digits || frac_end > end + 1;
            end = frac_end;
        }
    }
    if !have_digits {
        return 0.0;
    }
    if matches!(b.get(end), Some(b'e' | b'E')) {
        let mut j = end + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let exp_end = digits(j);
        if exp_end > j {
            end = exp_end;
        }
    }
    s.get(start..end)
        .and_then(|t| t.parse::<f64>().ok())
        .unwrap_or(0.0)
}

fn coerce(name: &str, v: &Value) -> Result<f64, String> {
    match v {
        Value::Null => Ok(0.0),
        Value::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| format!("variable `{name}` is not a usable number")),
        Value::String(s) => Ok(php_leading_number(s)),
        Value::Array(_) => Err(format!("variable `{name}` is a list, not a number")),
        Value::Object(_) => Err(format!("variable `{name}` is an object, not a number")),
    }
}

fn finite(v: f64, what: &str) -> Result<f64, String> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(format!("{what} does not give a finite number"))
    }
}

/// PHP 7's `round()`: half away from zero, after "pre-rounding" the value to
/// 15 significant digits so that e.g. `round(1.005, 2)` gives 1.01.
fn php_round(x: f64, places: i64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let places = places.clamp(-400, 400);
    let sci = format!("{:.14e}", x.abs());
    let Some((mant, exp)) = sci.split_once('e') else {
        return x;
    };
    let Ok(exp) = exp.parse::<i64>() else {
        return x;
    };
    let digits: Vec<u8> = mant
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|d| d - b'0')
        .collect();
    // Number of significant digits kept by the rounding.
    let keep = exp + places + 1;
    if keep >= 15 {
        // Beyond double precision: PHP returns the value as it is.
        return x;
    }
    let magnitude = if keep <= 0 {
        // Everything is rounded away, or up to one unit of 10^-places.
        let scaled = if places >= 0 {
            x.abs() * pow10(places)
        } else {
            x.abs() / pow10(-places)
        };
        if scaled >= 0.5 {
            format!("1e{}", -places).parse::<f64>().unwrap_or(0.0)
        } else {
            0.0
        }
    } else {
        let keep = keep as usize;
        let mut kept: Vec<u8> = digits.iter().take(keep).copied().collect();
        let next = digits.get(keep).copied().unwrap_or(0);
        let mut out_exp = exp;
        if next >= 5 {
            let mut carry = true;
            for d in kept.iter_mut().rev() {
                if *d == 9 {
                    *d = 0;
                } else {
                    *d += 1;
                    carry = false;
                    break;
                }
            }
            if carry {
                kept.insert(0, 1);
                kept.pop();
                out_exp += 1;
            }
        }
        let text: String = kept.iter().map(|d| char::from(b'0' + d)).collect();
        let e = out_exp - (kept.len() as i64 - 1);
        format!("{text}e{e}").parse::<f64>().unwrap_or(0.0)
    };
    if x < 0.0 { -magnitude } else { magnitude }
}

/// 10^n, correctly rounded (the decimal literal `1e{n}` parsed), the same on every platform;
/// `powi` is not guaranteed to be.
fn pow10(n: i64) -> f64 {
    format!("1e{n}").parse::<f64>().unwrap_or(f64::INFINITY)
}

fn call(name: &str, args: &[f64]) -> Result<f64, String> {
    let arity = |min: usize, max: usize| -> Result<(), String> {
        if args.len() < min || args.len() > max {
            let want = if min == max {
                format!("{min}")
            } else {
                format!("{min} to {max}")
            };
            Err(format!(
                "`{name}` takes {want} argument(s), got {}",
                args.len()
            ))
        } else {
            Ok(())
        }
    };
    let one = |f: fn(f64) -> f64| -> Result<f64, String> {
        arity(1, 1)?;
        Ok(f(args.first().copied().unwrap_or(0.0)))
    };
    let arg = |i: usize| args.get(i).copied().unwrap_or(0.0);
    let v = match name {
        "abs" => one(f64::abs)?,
        // Transcendental functions come from the pure-Rust `libm`, not std: std's defer to the
        // platform's C library, whose results may differ in the last bit between platforms,
        // and every node must compute the same projection.
        "acos" => one(libm::acos)?,
        "asin" => one(libm::asin)?,
        "atan" => one(libm::atan)?,
        "ceil" => one(f64::ceil)?,
        "cos" => one(libm::cos)?,
        "deg2rad" => one(|x| x * (std::f64::consts::PI / 180.0))?,
        "exp" => one(libm::exp)?,
        "floor" => one(f64::floor)?,
        "rad2deg" => one(|x| x * (180.0 / std::f64::consts::PI))?,
        "sin" => one(libm::sin)?,
        "sqrt" => one(f64::sqrt)?,
        "tan" => one(libm::tan)?,
        "ln" | "log" => {
            arity(1, 2)?;
            let x = arg(0);
            let base = match (name, args.get(1)) {
                (_, Some(b)) => Some(*b),
                ("log", None) => Some(10.0),
                _ => None,
            };
            match base {
                None => libm::log(x),
                Some(b) if b <= 0.0 => {
                    return Err(format!("`{name}` needs a base greater than 0"));
                }
                Some(10.0) => libm::log10(x),
                Some(2.0) => libm::log2(x),
                Some(b) => libm::log(x) / libm::log(b),
            }
        }
        "pow" => {
            arity(2, 2)?;
            libm::pow(arg(0), arg(1))
        }
        "round" => {
            arity(1, 2)?;
            let p = arg(1);
            // PHP turns the precision into an integer by truncation.
            let places = if p.is_finite() {
                p.trunc().clamp(-400.0, 400.0) as i64
            } else {
                0
            };
            php_round(arg(0), places)
        }
        "sum" => args.iter().sum(),
        "count" => args.len() as f64,
        "avg" | "average" => {
            if args.is_empty() {
                return Err(format!("`{name}` of no values divides by zero"));
            }
            args.iter().sum::<f64>() / args.len() as f64
        }
        "max" | "min" => {
            let mut it = args.iter().copied();
            let Some(mut acc) = it.next() else {
                return Err(format!("`{name}` needs at least one argument"));
            };
            for v in it {
                acc = if name == "max" {
                    acc.max(v)
                } else {
                    acc.min(v)
                };
            }
            acc
        }
        other => return Err(format!("unknown function `{other}`")),
    };
    finite(v, &format!("`{name}`"))
}

impl MathExpr {
    /// Parses an expression. Unknown function names are rejected here;
    /// unknown variables only when evaluating.
    pub fn parse(text: &str) -> Result<MathExpr, String> {
        let toks = lex(text)?;
        if toks.is_empty() {
            return Err("the expression is empty".into());
        }
        let mut p = Parser { toks, pos: 0 };
        let root = p.expr(0)?;
        if let Some(t) = p.peek() {
            return Err(format!(
                "unexpected {} after a complete expression",
                describe(t)
            ));
        }
        Ok(MathExpr { root })
    }

    /// The names of the variables the expression reads (names that are not
    /// constants), each once, in order of first use.
    pub fn variables(&self) -> Vec<String> {
        fn walk(n: &Node, out: &mut Vec<String>) {
            match n {
                Node::Num(_) => {}
                Node::Name(name) => {
                    if constant(name).is_none() && !out.contains(name) {
                        out.push(name.clone());
                    }
                }
                Node::Neg(inner) => walk(inner, out),
                Node::Sum(first, rest) => {
                    walk(first, out);
                    rest.iter().for_each(|(_, n)| walk(n, out));
                }
                Node::Product(first, rest) => {
                    walk(first, out);
                    rest.iter().for_each(|(_, n)| walk(n, out));
                }
                Node::Call(_, args) => args.iter().for_each(|n| walk(n, out)),
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &mut out);
        out
    }

    /// Evaluates the expression with variables from `vars` (PHP numeric
    /// coercion: numeric strings are parsed, `"10%"` gives 10, null gives 0,
    /// booleans give 0/1; lists and objects are errors).
    ///
    /// The result is a JSON number. Hoa always computes in floats, so PHP
    /// returns e.g. `14.0`; we return an integral result whose magnitude is
    /// below 2^53 as a JSON integer (`14`), since every such float is exactly
    /// that integer, and any other result as a JSON float.
    pub fn eval(&self, vars: &Map<String, Value>) -> Result<Value, String> {
        if let Some(c) = HOA_CONSTANTS.iter().find(|c| vars.contains_key(**c)) {
            return Err(format!(
                "`{c}` is a built-in constant and cannot also be given as a variable"
            ));
        }
        let v = eval_node(&self.root, vars)?;
        let v = finite(v, "the expression")?;
        const LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53
        if v.fract() == 0.0 && v.abs() < LIMIT {
            Ok(Value::from(v as i64))
        } else {
            Number::from_f64(v)
                .map(Value::Number)
                .ok_or_else(|| "the expression does not give a finite number".to_string())
        }
    }
}

fn eval_node(n: &Node, vars: &Map<String, Value>) -> Result<f64, String> {
    match n {
        Node::Num(v) => Ok(*v),
        Node::Name(name) => match constant(name) {
            Some(v) => Ok(v),
            None => match vars.get(name) {
                Some(v) => coerce(name, v),
                None => Err(format!("unknown variable `{name}`")),
            },
        },
        Node::Neg(inner) => Ok(-eval_node(inner, vars)?),
        Node::Sum(first, rest) => {
            let mut acc = eval_node(first, vars)?;
            for (op, n) in rest {
                let b = eval_node(n, vars)?;
                acc = match op {
                    AddOp::Add => acc + b,
                    AddOp::Sub => acc - b,
                };
                acc = finite(acc, "an addition or subtraction")?;
            }
            Ok(acc)
        }
        Node::Product(first, rest) => {
            let mut acc = eval_node(first, vars)?;
            for (op, n) in rest {
                let b = eval_node(n, vars)?;
                acc = match op {
                    MulOp::Mul => acc * b,
                    MulOp::Div => {
                        if b == 0.0 {
                            return Err("division by zero".into());
                        }
                        acc / b
                    }
                };
                acc = finite(acc, "a multiplication or division")?;
            }
            Ok(acc)
        }
        Node::Call(name, args) => {
            let vals = args
                .iter()
                .map(|a| eval_node(a, vars))
                .collect::<Result<Vec<f64>, String>>()?;
            call(name, &vals)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn ev(text: &str, v: Value) -> Result<Value, String> {
        MathExpr::parse(text)?.eval(&vars(v))
    }

    fn num(text: &str) -> f64 {
        ev(text, json!({})).unwrap().as_f64().unwrap()
    }

    #[test]
    fn spec_cases() {
        assert_eq!(ev("(3 * 4) + 2", json!({})).unwrap(), json!(14));
        assert_eq!(
            ev("cos(0) * avg(0, 1, 2, 3)", json!({})).unwrap(),
            json!(1.5)
        );
        assert_eq!(
            ev("AMOUNT * 100", json!({"AMOUNT": 75})).unwrap(),
            json!(7500)
        );
        let r = ev(
            "amount * pow(1 + (interest / 100), years)",
            json!({"amount": 200, "interest": "10%", "years": 5}),
        )
        .unwrap()
        .as_f64()
        .unwrap();
        assert!((r - 322.102).abs() < 1e-9, "{r}");
        assert!(MathExpr::parse("foo (= bar").is_err());
        assert_eq!(
            ev("foo + 10", json!({})).unwrap_err(),
            "unknown variable `foo`"
        );
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(num("2 + 3 * 4"), 14.0);
        assert_eq!(num("2 * 3 + 4"), 10.0);
        assert_eq!(num("10 - 4 - 3"), 3.0);
        assert_eq!(num("10 - 4 + 3"), 9.0);
        assert_eq!(num("100 / 10 / 5"), 2.0);
        assert_eq!(num("100 / 10 * 5"), 50.0);
        assert_eq!(num("2 * (3 + 4)"), 14.0);
        assert_eq!(num("8 − 2 × 3 ÷ 2"), 5.0);
        assert_eq!(num("\t1 +\t2 "), 3.0);
    }

    #[test]
    fn unary_signs() {
        assert_eq!(num("-3"), -3.0);
        assert_eq!(num("+3"), 3.0);
        assert_eq!(num("--3"), 3.0);
        assert_eq!(num("-2 * 3"), -6.0);
        assert_eq!(num("2 * -3"), -6.0);
        assert_eq!(num("2 - -3"), 5.0);
        assert_eq!(num("-(1 + 2)"), -3.0);
        assert_eq!(num("-abs(-4)"), -4.0);
    }

    #[test]
    fn numbers() {
        assert_eq!(num("1.5e2"), 150.0);
        assert_eq!(num("2E-1"), 0.2);
        assert_eq!(num("0.25"), 0.25);
        assert!(MathExpr::parse("007").is_err());
        assert!(MathExpr::parse(".5").is_err());
        assert!(MathExpr::parse("1.").is_err());
        assert!(MathExpr::parse("1e").is_err());
        assert!(MathExpr::parse("1e999").is_err());
        assert_eq!(ev("0.5 * 3", json!({})).unwrap(), json!(1.5));
        assert_eq!(ev("1e20", json!({})).unwrap(), json!(1e20));
    }

    #[test]
    fn functions() {
        assert_eq!(num("abs(-2.5)"), 2.5);
        assert_eq!(num("ceil(1.2) + floor(1.8)"), 3.0);
        assert_eq!(num("count()"), 0.0);
        assert_eq!(num("count(1, 2, 3)"), 3.0);
        assert_eq!(num("sum()"), 0.0);
        assert_eq!(num("sum(1, 2, 3.5)"), 6.5);
        assert_eq!(num("average(2, 4)"), 3.0);
        assert_eq!(num("max(1, 7, 3)"), 7.0);
        assert_eq!(num("min(1, 7, -3)"), -3.0);
        assert_eq!(num("log(1000)"), 3.0);
        assert_eq!(num("log(8, 2)"), 3.0);
        assert_eq!(num("ln(E)"), 1.0);
        assert_eq!(num("pow(2, 10)"), 1024.0);
        assert_eq!(num("sqrt(16)"), 4.0);
        assert_eq!(num("rad2deg(PI)"), 180.0);
        assert_eq!(num("deg2rad(180)"), std::f64::consts::PI);
        assert_eq!(num("exp(0) + sin(0) + tan(0) + atan(0) + asin(0)"), 1.0);
        assert_eq!(num("acos(1)"), 0.0);
        assert_eq!(num("PI_2 * 2"), std::f64::consts::PI);
        assert_eq!(num("M_PI"), std::f64::consts::PI);
    }

    #[test]
    fn php_rounding() {
        assert_eq!(num("round(2.5)"), 3.0);
        assert_eq!(num("round(-2.5)"), -3.0);
        assert_eq!(num("round(1.4999)"), 1.0);
        assert_eq!(num("round(1.005, 2)"), 1.01);
        assert_eq!(num("round(1.955, 2)"), 1.96);
        assert_eq!(num("round(5.045, 2)"), 5.05);
        assert_eq!(num("round(1234.5678, -2)"), 1200.0);
        assert_eq!(num("round(9.99, 1)"), 10.0);
        assert_eq!(num("round(0.3, -1)"), 0.0);
        assert_eq!(num("round(6, -1)"), 10.0);
        assert_eq!(num("round(4.56789, 3)"), 4.568);
        assert_eq!(num("round(0.1 + 0.2, 15)"), 0.1 + 0.2);
        assert_eq!(num("round(0.000123456, 5)"), 0.00012);
    }

    #[test]
    fn function_errors() {
        assert!(
            MathExpr::parse("foo(1)")
                .unwrap_err()
                .contains("unknown function `foo`")
        );
        assert!(MathExpr::parse("ABS(1)").is_err());
        assert!(
            ev("pow(2)", json!({}))
                .unwrap_err()
                .contains("`pow` takes 2")
        );
        assert!(ev("abs(1, 2)", json!({})).is_err());
        assert!(ev("avg()", json!({})).is_err());
        assert!(ev("max()", json!({})).is_err());
        assert!(ev("sqrt(-1)", json!({})).is_err());
        assert!(ev("ln(0)", json!({})).is_err());
        assert!(ev("log(8, 0)", json!({})).is_err());
        assert!(ev("log(8, 1)", json!({})).is_err());
        assert!(ev("pow(10, 400)", json!({})).is_err());
    }

    #[test]
    fn division_by_zero() {
        assert_eq!(ev("1 / 0", json!({})).unwrap_err(), "division by zero");
        assert!(ev("1 / (2 - 2)", json!({})).is_err());
        assert!(ev("1 / x", json!({"x": 0})).is_err());
        assert!(ev("1 / x", json!({"x": "abc"})).is_err());
        assert_eq!(num("0 / 5"), 0.0);
    }

    #[test]
    fn variable_coercion() {
        let v = json!({
            "i": 3, "f": 1.5, "s": "2.5", "pct": "10%", "n": null, "t": true,
            "fa": false, "word": "abc", "ws": "  7", "exp": "1e3", "dot": ".5",
            "neg": "-4x", "list": [1], "obj": {"a": 1}
        });
        let m = vars(v);
        let e = |t: &str| MathExpr::parse(t).unwrap().eval(&m);
        assert_eq!(e("i + f").unwrap(), json!(4.5));
        assert_eq!(e("s * 2").unwrap(), json!(5));
        assert_eq!(e("pct").unwrap(), json!(10));
        assert_eq!(e("n + 1").unwrap(), json!(1));
        assert_eq!(e("t + fa").unwrap(), json!(1));
        assert_eq!(e("word").unwrap(), json!(0));
        assert_eq!(e("ws").unwrap(), json!(7));
        assert_eq!(e("exp").unwrap(), json!(1000));
        assert_eq!(e("dot").unwrap(), json!(0.5));
        assert_eq!(e("neg").unwrap(), json!(-4));
        assert!(e("list").unwrap_err().contains("`list`"));
        assert!(e("obj").unwrap_err().contains("`obj`"));
    }

    #[test]
    fn leading_numbers() {
        assert_eq!(php_leading_number("12abc"), 12.0);
        assert_eq!(php_leading_number("1.5e"), 1.5);
        assert_eq!(php_leading_number("1.e2"), 100.0);
        assert_eq!(php_leading_number("-.5"), -0.5);
        assert_eq!(php_leading_number("."), 0.0);
        assert_eq!(php_leading_number("-"), 0.0);
        assert_eq!(php_leading_number("0x1A"), 0.0);
        assert_eq!(php_leading_number(""), 0.0);
        assert_eq!(php_leading_number("1e400"), f64::INFINITY);
    }

    #[test]
    fn names_and_constants() {
        let e = MathExpr::parse("Amount * PI + rate_2 - _x + amount").unwrap();
        assert_eq!(e.variables(), vec!["Amount", "rate_2", "_x", "amount"]);
        assert_eq!(
            e.eval(&vars(
                json!({"Amount": 1, "rate_2": 0, "_x": 0, "amount": 1})
            ))
            .unwrap()
            .as_f64()
            .unwrap(),
            std::f64::consts::PI + 1.0
        );
        assert_eq!(
            MathExpr::parse("x + x * y").unwrap().variables(),
            vec!["x", "y"]
        );
        // A key named like a built-in constant is refused, as Hoa does.
        assert!(ev("1 + 1", json!({"PI": 3})).unwrap_err().contains("`PI`"));
        // The instruction key itself is harmless.
        assert_eq!(ev("2 * 2", json!({"<math>": "2 * 2"})).unwrap(), json!(4));
    }

    #[test]
    fn syntax_errors() {
        for bad in [
            "", "   ", "1 +", "(1", "1)", "()", "1 2", "x y", "1 ^ 2", "1 % 2", "f(1,)",
            "max(1 2)", "1 == 1", "a.b", "é", "2x", ",", "max(",
        ] {
            assert!(MathExpr::parse(bad).is_err(), "{bad:?} should not parse");
        }
        assert!(MathExpr::parse("foo (= bar").unwrap_err().contains("`=`"));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = "(".repeat(10_000);
        assert!(MathExpr::parse(&deep).unwrap_err().contains("nests"));
        let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(MathExpr::parse(&deep).is_err());
        assert!(MathExpr::parse(&"-".repeat(10_000)).is_err());
        assert!(MathExpr::parse(&format!("{}1{}", "abs(".repeat(100), ")".repeat(100))).is_err());
        let ok = format!("{}1{}", "(".repeat(60), ")".repeat(60));
        assert_eq!(
            MathExpr::parse(&ok).unwrap().eval(&Map::new()).unwrap(),
            json!(1)
        );
        // Long flat chains are fine: they do not nest.
        let long = vec!["1"; 50_000].join(" + ");
        assert_eq!(
            MathExpr::parse(&long).unwrap().eval(&Map::new()).unwrap(),
            json!(50_000)
        );
    }

    #[test]
    fn result_types() {
        assert_eq!(ev("-0", json!({})).unwrap(), json!(0));
        assert_eq!(
            ev("9007199254740991", json!({})).unwrap(),
            json!(9007199254740991i64)
        );
        assert_eq!(
            ev("9007199254740992", json!({})).unwrap(),
            json!(9007199254740992.0)
        );
        assert_eq!(
            ev("0.1 + 0.2", json!({})).unwrap(),
            json!(0.30000000000000004)
        );
        assert!(ev("PHP_FLOAT_MAX * 2", json!({})).is_err());
    }
}
