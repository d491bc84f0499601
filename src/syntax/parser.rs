//! The parser: runs the pest grammar, folds its parse tree into the AST, and turns pest's
//! errors into messages that name what was expected in words.
//!
//! Three steps, in order:
//! 1. a light scan of the source (comments, strings, brackets) rejects inputs nested deeper
//!    than [`MAX_NESTING`] brackets before pest recurses into them;
//! 2. pest parses `pipeline`; on failure, the failed rules at the farthest position are
//!    sorted into "an expression", "an operator" or specific tokens, and the scan supplies
//!    the token found there and the innermost unclosed bracket;
//! 3. the tree walk builds [`Expr`] nodes, folding the grammar's flat chains (operators,
//!    unary prefixes, `**`, lambda heads, `if`-`else` tails) with Python's associativity,
//!    rejecting constructs fastiter does not compile, and refusing ASTs deeper than
//!    [`MAX_DEPTH`].

use num_bigint::BigInt;
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::{Pair, Pairs};
use pest::Parser as _;

use super::ast::{BinOp, BoolOp, CmpOp, CompClause, Expr, ExprKind, Ident, UnaryOp};
use crate::diagnostics::{line_col, CompileError, ErrorKind, Span};

/// The most brackets (`(`, `[`, `{`) that may be open at once. Deeper input is refused
/// before pest runs, so pest's recursion stays bounded.
pub const MAX_NESTING: usize = 64;

/// The deepest AST `parse` returns (a leaf has depth 1). Longer chains (`a + b + ...`,
/// `-----x`, `x.map(f).map(f)...`) are refused with an `Unsupported` error.
pub const MAX_DEPTH: usize = 200;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/pipeline.pest"]
pub(super) struct Grammar;

pub(super) type PResult<T> = Result<T, CompileError>;

/// Parse one pipeline expression (the whole input; surrounding whitespace, newlines and
/// `#` comments are allowed) into an AST.
///
/// Errors are [`ErrorKind::Syntax`] for text that is not Python and
/// [`ErrorKind::Unsupported`] for Python that fastiter does not compile (string literals,
/// comprehensions, slices, `in`, ...), each with the span of the offending text.
///
/// ```
/// # use fastiter::syntax::{parse, render_ast};
/// let e = parse("range(10).map(lambda x: x * 3)").unwrap();
/// assert_eq!(
///     render_ast(&e),
///     "(call (attr (call (name range) (int 10)) map) (lambda [x] (binop * (name x) (int 3))))"
/// );
/// let err = parse("range(10).map(x *).sum()").unwrap_err();
/// assert_eq!(err.message, "expected an expression");
/// assert_eq!(err.line_col("range(10).map(x *).sum()"), (1, 18));
/// ```
pub fn parse(src: &str) -> Result<Expr, CompileError> {
    let scan = scan(src);
    if let Some(&(_, at)) = scan.too_deep.as_ref() {
        return Err(CompileError::new(
            ErrorKind::Unsupported,
            Span::new(at, at + 1),
            format!("expression is nested too deeply (more than {MAX_NESTING} levels of brackets)"),
        ));
    }
    let mut pairs = Grammar::parse(Rule::pipeline, src).map_err(|e| translate(src, &scan, e))?;
    let pipeline = next(&mut pairs, Span::new(0, src.len()))?;
    let whole = span_of(&pipeline);
    let expressions = pipeline
        .into_inner()
        .find(|p| p.as_rule() == Rule::expressions)
        .ok_or_else(|| internal(whole, "no expression in the parse tree"))?;
    Ok(Builder.expressions(expressions)?.expr)
}

// ---------------------------------------------------------------------------------------------
// Step 1: the scan (brackets, strings, comments)
// ---------------------------------------------------------------------------------------------

/// What the light scan learns about the source.
pub(super) struct Scan {
    /// Each bracket opened, with its offset, and the offset where it closed (if it did).
    brackets: Vec<(u8, usize, Option<usize>)>,
    /// The first bracket that opened more than [`MAX_NESTING`] levels deep.
    too_deep: Option<(u8, usize)>,
    /// An unterminated string literal: its start and whether it is triple-quoted.
    unterminated: Option<(usize, bool)>,
    /// The end of the last character that is neither whitespace nor in a comment: where
    /// "unexpected end of input" points.
    content_end: usize,
}

impl Scan {
    /// The innermost bracket still open at byte offset `pos`.
    fn open_at(&self, pos: usize) -> Option<(u8, usize)> {
        self.brackets
            .iter()
            .filter(|(_, start, end)| *start < pos && end.is_none_or(|end| end >= pos))
            .max_by_key(|(_, start, _)| *start)
            .map(|&(b, start, _)| (b, start))
    }
}

/// Scan the source as Python's tokenizer would for brackets: skipping comments and string
/// literals, matching each closer with the innermost opener when they agree.
pub(super) fn scan(src: &str) -> Scan {
    let bytes = src.as_bytes();
    let mut brackets: Vec<(u8, usize, Option<usize>)> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut too_deep = None;
    let mut unterminated = None;
    let mut content_end = 0;
    // A byte-order mark is not content.
    let mut i = if src.starts_with('\u{feff}') { 3 } else { 0 };
    while i < bytes.len() {
        if !matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'#') {
            content_end = i + 1;
        }
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            q @ (b'\'' | b'"') => {
                let triple = bytes.get(i..i + 3) == Some(&[q, q, q][..]);
                let start = i;
                i += if triple { 3 } else { 1 };
                let mut closed = false;
                while i < bytes.len() {
                    let b = bytes[i];
                    if b == b'\\' {
                        i += 2;
                        continue;
                    }
                    if triple {
                        if bytes.get(i..i + 3) == Some(&[q, q, q][..]) {
                            i += 3;
                            closed = true;
                            break;
                        }
                    } else if b == q {
                        i += 1;
                        closed = true;
                        break;
                    } else if b == b'\n' || b == b'\r' {
                        break;
                    }
                    i += 1;
                }
                if !closed && unterminated.is_none() {
                    unterminated = Some((start, triple));
                }
                i = i.min(bytes.len());
                content_end = i;
                continue;
            }
            b @ (b'(' | b'[' | b'{') => {
                stack.push(brackets.len());
                brackets.push((b, i, None));
                if stack.len() > MAX_NESTING && too_deep.is_none() {
                    too_deep = Some((b, i));
                }
            }
            b @ (b')' | b']' | b'}') => {
                if let Some(&top) = stack.last() {
                    if closer_of(brackets[top].0) == b {
                        brackets[top].2 = Some(i);
                        stack.pop();
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    Scan {
        brackets,
        too_deep,
        unterminated,
        content_end,
    }
}

fn closer_of(opener: u8) -> u8 {
    match opener {
        b'(' => b')',
        b'[' => b']',
        _ => b'}',
    }
}

fn opener_of(closer: u8) -> u8 {
    match closer {
        b')' => b'(',
        b']' => b'[',
        _ => b'{',
    }
}

// ---------------------------------------------------------------------------------------------
// Step 2: pest errors in words
// ---------------------------------------------------------------------------------------------

/// What a failed rule at the error position says the parser was looking for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    /// The start of an operand.
    Expression,
    /// Something that continues a complete operand: an operator, a call, the end, ...
    Continuation,
    /// A specific token, in words, with a rank for a stable order.
    Token(u8, &'static str),
    /// Nothing worth saying (`=` of an unsupported lambda default, `:=`).
    Nothing,
}

fn expected(rule: Rule) -> Expected {
    use Expected::*;
    match rule {
        Rule::pipeline
        | Rule::expressions
        | Rule::elem
        | Rule::star_expr
        | Rule::walrus
        | Rule::expr
        | Rule::lambda_head
        | Rule::kw_lambda
        | Rule::or_test
        | Rule::and_test
        | Rule::not_test
        | Rule::op_not
        | Rule::comparison
        | Rule::bitor
        | Rule::bitxor
        | Rule::bitand
        | Rule::shift
        | Rule::arith
        | Rule::term
        | Rule::factor
        | Rule::power
        | Rule::postfix
        | Rule::op_neg
        | Rule::op_pos
        | Rule::op_invert
        | Rule::number
        | Rule::float_lit
        | Rule::hex_int
        | Rule::oct_int
        | Rule::bin_int
        | Rule::dec_int
        | Rule::strings
        | Rule::ellipsis
        | Rule::kw_true
        | Rule::kw_false
        | Rule::kw_none
        | Rule::name
        | Rule::paren
        | Rule::list
        | Rule::brace
        | Rule::arg
        | Rule::kwarg
        | Rule::kwarg_name
        | Rule::star_arg
        | Rule::arg_star
        | Rule::op_star
        | Rule::sub_item
        | Rule::slice_tail
        | Rule::brace_item
        | Rule::dict_unpack
        | Rule::comp_target => Expression,
        Rule::lambda_params | Rule::lambda_param | Rule::param_name | Rule::param_star => {
            Token(0, "a parameter name")
        }
        Rule::attr_name => Token(1, "an attribute name"),
        Rule::comma => Token(2, "','"),
        Rule::colon => Token(3, "':'"),
        Rule::kw_else => Token(4, "'else'"),
        Rule::comp_in => Token(5, "'in'"),
        Rule::rparen => Token(6, "')'"),
        Rule::rbracket => Token(7, "']'"),
        Rule::rbrace => Token(8, "'}'"),
        Rule::param_default | Rule::param_marker | Rule::op_assign | Rule::op_walrus => Nothing,
        _ => Continuation,
    }
}

/// Turn a pest error into a [`CompileError`] with a message in words.
pub(super) fn translate(src: &str, scan: &Scan, err: pest::error::Error<Rule>) -> CompileError {
    let pos = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((p, _)) => p,
    }
    .min(src.len());
    if let Some((start, triple)) = scan.unterminated {
        if start <= pos {
            let what = if triple {
                "unterminated triple-quoted string literal"
            } else {
                "unterminated string literal"
            };
            let end = if triple {
                src.len()
            } else {
                line_end(src, start)
            };
            return CompileError::new(ErrorKind::Syntax, Span::new(start, end), what);
        }
    }
    let positives = match &err.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        ErrorVariant::CustomError { .. } => {
            // pest's own limits (native stack, call budget): only deep recursion gets here.
            return CompileError::new(
                ErrorKind::Unsupported,
                Span::new(pos, pos),
                "expression is nested too deeply",
            );
        }
    };
    let mut want_expr = false;
    let mut want_more = false;
    let mut tokens: Vec<(u8, &'static str)> = Vec::new();
    for rule in positives {
        match expected(rule) {
            Expected::Expression => want_expr = true,
            Expected::Continuation => want_more = true,
            Expected::Token(rank, word) => tokens.push((rank, word)),
            Expected::Nothing => {}
        }
    }
    tokens.sort_unstable();
    tokens.dedup();
    let words: Vec<&str> = tokens.iter().map(|&(_, w)| w).collect();
    let mut found = Found::at(src, pos);
    if found.token == Token::End {
        found.span = Span::new(scan.content_end, scan.content_end);
    }
    let open = scan.open_at(pos);
    let open_desc = |(b, at): (u8, usize)| {
        let (l, c) = line_col(src, at);
        format!("'{}' (opened at {l}:{c})", b as char)
    };
    let syntax = |msg: String| CompileError::new(ErrorKind::Syntax, found.span, msg);

    if want_expr {
        return match &found.token {
            Token::End => {
                if let Some(o) = open.filter(|o| words.contains(&closer_word(o.0))) {
                    syntax(format!(
                        "expected '{}' to close {}",
                        closer_of(o.0) as char,
                        open_desc(o)
                    ))
                } else if is_blank(src) {
                    syntax("unexpected end of input, expected an expression".into()).with_help(
                        "the input is empty: write one expression, such as `range(10).sum()`",
                    )
                } else {
                    syntax("unexpected end of input, expected an expression".into())
                }
            }
            Token::Keyword(k) => {
                let e = syntax(format!("expected an expression, found keyword '{k}'"));
                match *k {
                    "await" | "yield" => {
                        e.with_help(format!("`{k}` expressions are not supported"))
                    }
                    "lambda" | "not" => e.with_help(format!(
                        "a `{k}` expression cannot be an operand here: put it in parentheses"
                    )),
                    "True" | "False" | "None" => e,
                    _ => e.with_help(format!(
                        "'{k}' is a Python keyword and cannot be used as a name"
                    )),
                }
            }
            Token::Close(c) => match open {
                Some(o) if o.0 != opener_of(*c) => syntax(format!(
                    "closing '{}' does not match {}",
                    *c as char,
                    open_desc(o)
                )),
                None => syntax(format!("unmatched '{}'", *c as char)),
                _ => syntax("expected an expression".into()),
            },
            _ => syntax("expected an expression".into()),
        };
    }

    match &found.token {
        Token::End => match open {
            Some(o) => syntax(format!(
                "expected '{}' to close {}",
                closer_of(o.0) as char,
                open_desc(o)
            )),
            None if words.is_empty() => syntax("unexpected end of input".into()),
            None => syntax(format!(
                "unexpected end of input, expected {}",
                join_or(&words)
            )),
        },
        Token::Close(c) => match open {
            None => syntax(format!("unmatched '{}'", *c as char)),
            Some(o) if o.0 != opener_of(*c) => syntax(format!(
                "closing '{}' does not match {}",
                *c as char,
                open_desc(o)
            )),
            Some(_) if !words.is_empty() => syntax(format!(
                "expected {}, found {}",
                join_or(&words),
                found.desc
            )),
            Some(_) => syntax(format!("unexpected {}", found.desc)),
        },
        _ if !want_more && !words.is_empty() => {
            let e = syntax(format!(
                "expected {}, found {}",
                join_or(&words),
                found.desc
            ));
            match &found.token {
                Token::Keyword(k)
                    if words.contains(&"a parameter name")
                        || words.contains(&"an attribute name") =>
                {
                    e.with_help(format!(
                        "'{k}' is a Python keyword and cannot be used as a name"
                    ))
                }
                _ => e,
            }
        }
        token => {
            let e = syntax(format!("unexpected {}", found.desc));
            match token {
                Token::Op("=") => e.with_help(
                    "the input is one expression, not a statement: to compare, use '=='",
                ),
                Token::Op(":=") => e.with_help("assignment expressions (`:=`) are not supported"),
                Token::Op(op)
                    if op.len() >= 2
                        && op.ends_with('=')
                        && !matches!(*op, "==" | "!=" | "<=" | ">=") =>
                {
                    e.with_help("the input is one expression: augmented assignment is a statement")
                }
                Token::Name | Token::Number | Token::Str | Token::Open(_) => {
                    e.with_help("perhaps you forgot a comma or an operator?")
                }
                _ => e,
            }
        }
    }
}

fn closer_word(opener: u8) -> &'static str {
    match opener {
        b'(' => "')'",
        b'[' => "']'",
        _ => "'}'",
    }
}

/// `a`, `a or b`, `a, b or c`.
fn join_or(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn is_blank(src: &str) -> bool {
    src.trim_start_matches('\u{feff}').lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#')
    })
}

fn line_end(src: &str, from: usize) -> usize {
    src[from..]
        .find(['\n', '\r'])
        .map_or(src.len(), |i| from + i)
}

/// The kind of token found at an error position.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    End,
    Keyword(&'static str),
    Name,
    Number,
    Str,
    Open(u8),
    Close(u8),
    Op(&'static str),
    Char,
}

/// The token at an error position, described for a message (`name 'foo'`, `')'`).
struct Found {
    token: Token,
    desc: String,
    span: Span,
}

const KEYWORDS: [&str; 35] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// Operators and delimiters, longest first so that the first match is the longest.
const OPERATORS: [&str; 47] = [
    "**=", "//=", ">>=", "<<=", "...", "**", "//", "<<", ">>", "<=", ">=", "==", "!=", ":=", "->",
    "+=", "-=", "*=", "/=", "%=", "@=", "&=", "|=", "^=", "+", "-", "*", "/", "%", "@", "&", "|",
    "^", "~", "<", ">", "=", ".", ",", ":", ";", "!", "$", "?", "`", "\\", "\"",
];

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

impl Found {
    fn at(src: &str, pos: usize) -> Found {
        let mut pos = pos.min(src.len());
        while !src.is_char_boundary(pos) {
            pos -= 1;
        }
        let rest = &src[pos..];
        let mk = |token, desc: String, len: usize| Found {
            token,
            desc,
            span: Span::new(pos, pos + len),
        };
        let Some(c) = rest.chars().next() else {
            return mk(Token::End, "end of input".into(), 0);
        };
        if is_ident_start(c) {
            let len = rest
                .find(|c: char| !is_ident_continue(c))
                .unwrap_or(rest.len());
            let word = &rest[..len];
            if rest[len..].starts_with(['\'', '"']) && is_string_prefix(word) {
                return mk(Token::Str, "string literal".into(), len);
            }
            return match KEYWORDS.iter().find(|k| **k == word) {
                Some(k) => mk(Token::Keyword(k), format!("keyword '{word}'"), len),
                None => mk(Token::Name, format!("name '{word}'"), len),
            };
        }
        if c.is_ascii_digit() || (c == '.' && rest[1..].starts_with(|d: char| d.is_ascii_digit())) {
            let len = rest
                .find(|c: char| !(is_ident_continue(c) || c == '.'))
                .unwrap_or(rest.len());
            return mk(Token::Number, format!("number '{}'", &rest[..len]), len);
        }
        match c {
            '\'' | '"' => return mk(Token::Str, "string literal".into(), 1),
            '(' | '[' | '{' => return mk(Token::Open(c as u8), format!("'{c}'"), 1),
            ')' | ']' | '}' => return mk(Token::Close(c as u8), format!("'{c}'"), 1),
            _ => {}
        }
        if let Some(op) = OPERATORS.iter().find(|op| rest.starts_with(**op)) {
            return mk(Token::Op(op), format!("'{op}'"), op.len());
        }
        let desc = if c.is_control() || c.is_whitespace() {
            format!("character {:?} (U+{:04X})", c, c as u32)
        } else {
            format!("character '{c}' (U+{:04X})", c as u32)
        };
        mk(Token::Char, desc, c.len_utf8())
    }
}

fn is_string_prefix(word: &str) -> bool {
    matches!(
        word.to_ascii_lowercase().as_str(),
        "r" | "u" | "b" | "f" | "t" | "rb" | "br" | "fr" | "rf" | "tr" | "rt"
    )
}

// ---------------------------------------------------------------------------------------------
// Step 3: the tree walk
// ---------------------------------------------------------------------------------------------

/// A built expression, with what its parent needs: the span including any parentheses
/// around it (for the parent's span) and its depth (for the depth limit).
pub(super) struct Node {
    pub(super) expr: Expr,
    outer: Span,
    depth: usize,
}

pub(super) fn span_of(pair: &Pair<'_, Rule>) -> Span {
    let s = pair.as_span();
    Span::new(s.start(), s.end())
}

pub(super) fn internal(span: Span, what: &str) -> CompileError {
    CompileError::new(
        ErrorKind::Syntax,
        span,
        format!("internal parser error: {what}"),
    )
}

pub(super) fn unsupported(span: Span, what: impl Into<String>) -> CompileError {
    CompileError::new(ErrorKind::Unsupported, span, what)
}

/// The next child, or an internal error (the grammar guarantees it is there).
fn next<'i>(pairs: &mut Pairs<'i, Rule>, span: Span) -> PResult<Pair<'i, Rule>> {
    pairs
        .next()
        .ok_or_else(|| internal(span, "missing child in the parse tree"))
}

/// A node of `depth`, or the depth-limit error.
fn node(kind: ExprKind, span: Span, depth: usize) -> PResult<Node> {
    if depth > MAX_DEPTH {
        return Err(unsupported(
            span,
            format!("expression is nested too deeply (more than {MAX_DEPTH} levels)"),
        )
        .with_help("split the expression, or use fewer chained operators"));
    }
    Ok(Node {
        expr: Expr { kind, span },
        outer: span,
        depth,
    })
}

pub(super) fn ident(pair: &Pair<'_, Rule>) -> Ident {
    Ident {
        name: pair.as_str().to_string(),
        span: span_of(pair),
    }
}

/// A `lambda` head: where it starts and its parameters.
struct LambdaHead {
    start: usize,
    params: Vec<Ident>,
}

/// One `x if` … segment of a conditional chain: its lambda heads and its value.
struct Segment {
    heads: Vec<LambdaHead>,
    value: Node,
}

pub(super) struct Builder;

impl Builder {
    /// The top level: one element, or a tuple without brackets.
    pub(super) fn expressions(&self, pair: Pair<'_, Rule>) -> PResult<Node> {
        let span = span_of(&pair);
        let mut items = Vec::new();
        let mut comma = false;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::comma => comma = true,
                _ => items.push(self.build(p)?),
            }
        }
        if !comma && items.len() == 1 {
            return items
                .pop()
                .ok_or_else(|| internal(span, "empty expression list"));
        }
        let span = match (items.first(), items.last()) {
            (Some(first), Some(last)) => Span::new(first.outer.start, last.outer.end),
            _ => span,
        };
        tuple(items, span)
    }

    /// Build any expression-level pair. Wrappers with a single child are descended in a
    /// loop, so that the recursion depth follows the bracket nesting, not the precedence
    /// levels.
    pub(super) fn build(&self, pair: Pair<'_, Rule>) -> PResult<Node> {
        let mut pair = pair;
        loop {
            let rule = pair.as_rule();
            let wrapper = matches!(
                rule,
                Rule::elem
                    | Rule::expr
                    | Rule::or_test
                    | Rule::and_test
                    | Rule::not_test
                    | Rule::comparison
                    | Rule::bitor
                    | Rule::bitxor
                    | Rule::bitand
                    | Rule::shift
                    | Rule::arith
                    | Rule::term
                    | Rule::factor
                    | Rule::power
                    | Rule::postfix
            );
            if wrapper {
                let mut inner = pair.clone().into_inner();
                if let (Some(only), None) = (inner.next(), inner.next()) {
                    pair = only;
                    continue;
                }
            }
            let span = span_of(&pair);
            return match rule {
                Rule::expr => self.expr(pair),
                Rule::or_test => self.bool_op(pair, BoolOp::Or),
                Rule::and_test => self.bool_op(pair, BoolOp::And),
                Rule::not_test => self.not_test(pair),
                Rule::comparison => self.comparison(pair),
                Rule::bitor
                | Rule::bitxor
                | Rule::bitand
                | Rule::shift
                | Rule::arith
                | Rule::term => self.binary(pair),
                Rule::factor => self.factor(pair),
                Rule::power => self.power(pair),
                Rule::postfix => self.postfix(pair),
                Rule::number => self.number(pair),
                Rule::name => node(ExprKind::Name(pair.as_str().to_string()), span, 1),
                Rule::kw_true => node(ExprKind::Bool(true), span, 1),
                Rule::kw_false => node(ExprKind::Bool(false), span, 1),
                Rule::kw_none => node(ExprKind::None, span, 1),
                Rule::paren => self.paren(pair),
                Rule::list => self.list(pair),
                Rule::strings => Err(self.strings(pair)),
                Rule::brace => Err(self.brace(pair)),
                Rule::ellipsis => Err(unsupported(
                    span,
                    "the '...' (Ellipsis) literal is not supported",
                )),
                Rule::star_expr => Err(unsupported(
                    span,
                    "starred expressions ('*x') are not supported",
                )),
                Rule::walrus => self.walrus(pair),
                _ => Err(internal(span, "unexpected rule in an expression")),
            };
        }
    }

    /// `lambda_head* or_test (if or_test else lambda_head* or_test)*`, folded right.
    fn expr(&self, pair: Pair<'_, Rule>) -> PResult<Node> {
        let span = span_of(&pair);
        let mut segments: Vec<Segment> = Vec::new();
        let mut tests: Vec<Node> = Vec::new();
        let mut heads = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::lambda_head => heads.push(self.lambda_head(p)?),
                Rule::cond_tail => {
                    let mut tail_heads = Vec::new();
                    let mut test = None;
                    for q in p.into_inner() {
                        match q.as_rule() {
                            Rule::kw_if | Rule::kw_else => {}
                            Rule::lambda_head => tail_heads.push(self.lambda_head(q)?),
                            _ if test.is_none() => test = Some(self.build(q)?),
                            _ => {
                                let value = self.build(q)?;
                                segments.push(Segment {
                                    heads: std::mem::take(&mut tail_heads),
                                    value,
                                });
                            }
                        }
                    }
                    tests.push(test.ok_or_else(|| internal(span, "conditional without a test"))?);
                }
                _ => {
                    let value = self.build(p)?;
                    segments.push(Segment {
                        heads: std::mem::take(&mut heads),
                        value,
                    });
                }
            }
        }
        let last = segments
            .pop()
            .ok_or_else(|| internal(span, "empty expression"))?;
        let mut acc = wrap_lambdas(last.heads, last.value)?;
        while let Some(seg) = segments.pop() {
            let test = tests
                .pop()
                .ok_or_else(|| internal(span, "conditional without a test"))?;
            let body = seg.value;
            let depth = 1 + body.depth.max(test.depth).max(acc.depth);
            let span = Span::new(body.outer.start, acc.outer.end);
            let kind = ExprKind::IfExp {
                test: Box::new(test.expr),
                body: Box::new(body.expr),
                orelse: Box::new(acc.expr),
            };
            acc = wrap_lambdas(seg.heads, node(kind, span, depth)?)?;
        }
        Ok(acc)
    }

    fn lambda_head(&self, pair: Pair<'_, Rule>) -> PResult<LambdaHead> {
        let start = span_of(&pair).start;
        let mut params: Vec<Ident> = Vec::new();
        for p in pair.into_inner() {
            if p.as_rule() != Rule::lambda_params {
                continue;
            }
            for param in p.into_inner().filter(|q| q.as_rule() == Rule::lambda_param) {
                let pspan = span_of(&param);
                for q in param.into_inner() {
                    match q.as_rule() {
                        Rule::param_star => return Err(unsupported(
                            pspan,
                            "variadic lambda parameters ('*args', '**kwargs') are not supported",
                        )),
                        Rule::param_marker => {
                            return Err(unsupported(
                                pspan,
                                format!(
                                    "the '{}' marker in lambda parameters is not supported",
                                    q.as_str()
                                ),
                            ))
                        }
                        Rule::param_default => {
                            return Err(unsupported(
                                pspan,
                                "default values for lambda parameters are not supported",
                            ))
                        }
                        _ => {
                            let id = ident(&q);
                            if params.iter().any(|p| p.name == id.name) {
                                return Err(CompileError::new(
                                    ErrorKind::Syntax,
                                    id.span,
                                    format!(
                                        "duplicate argument '{}' in function definition",
                                        id.name
                                    ),
                                ));
                            }
                            params.push(id);
                        }
                    }
                }
            }
        }
        Ok(LambdaHead { start, params })
    }

    /// `a or b or c` / `a and b and c`, flattened.
    fn bool_op(&self, pair: Pair<'_, Rule>, op: BoolOp) -> PResult<Node> {
        let mut values = Vec::new();
        for p in pair.into_inner() {
            if !matches!(p.as_rule(), Rule::kw_or | Rule::kw_and) {
                values.push(self.build(p)?);
            }
        }
        let (start, end) = outer_bounds(&values);
        let depth = 1 + values.iter().map(|v| v.depth).max().unwrap_or(0);
        let values = values.into_iter().map(|v| v.expr).collect();
        node(
            ExprKind::BoolOp { op, values },
            Span::new(start, end),
            depth,
        )
    }

    /// `not not x`: the prefixes wrap the comparison from the inside out.
    fn not_test(&self, pair: Pair<'_, Rule>) -> PResult<Node> {
        let span = span_of(&pair);
        let mut nots = Vec::new();
        let mut operand = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::op_not => nots.push(span_of(&p).start),
                _ => operand = Some(self.build(p)?),
            }
        }
        let operand = operand.ok_or_else(|| internal(span, "'not' without an operand"))?;
        wrap_unary(
            nots.into_iter().map(|s| (UnaryOp::Not, s)).collect(),
            operand,
        )
    }

    /// `a < b <= c`; `in`, `not in`, `is`, `is not` are recognised and refused.
    fn comparison(&self, pair: Pair<'_, Rule>) -> PResult<Node> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let left = self.build(next(&mut inner, span)?)?;
        let mut depth = left.depth;
        let mut ops = Vec::new();
        while let Some(op) = inner.next() {
            let cmp = match op.as_rule() {
                Rule::op_eq => CmpOp::Eq,
                Rule::op_ne => CmpOp::NotEq,
                Rule::op_lt => CmpOp::Lt,
                Rule::op_le => CmpOp::LtE,
                Rule::op_gt => CmpOp::Gt,
                Rule::op_ge => CmpOp::GtE,
                _ => {
                    let text: Vec<&str> = op.as_str().split_whitespace().collect();
                    return Err(unsupported(
                        span_of(&op),
                        format!("the '{}' operator is not supported", text.join(" ")),
                    )
                    .with_help("fastiter compiles numeric comparisons: == != < <= > >="));
                }
            };
            let right = self.build(next(&mut inner, span)?)?;
            depth = depth.max(right.depth);
            ops.push((cmp, right));
        }
        let end = ops.last().map_or(left.outer.end, |(_, r)| r.outer.end);
        let span = Span::new(left.outer.start, end);
        let ops = ops.into_iter().map(|(op, r)| (op, r.expr)).collect();
        node(
            ExprKind::Compare {
                left: Box::new(left.expr),
                ops,
            },
            span,
            depth + 1,
        )
    }

    /// A left-associative chain of one precedence level: `a + b - c`.
    fn binary(&self, pair: Pair<'_, Rule>) -> PResult<Node> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let mut acc = self.build(next(&mut inner, span)?)?;
        while let Some(op) = inner.next() {
            let bin = match op.as_rule() {
                Rule::op_bitor => BinOp::BitOr,
                Rule::op_bitxor => BinOp::BitXor,
                Rule::op_bitand => BinOp::BitAnd,
                Rule::op_lshift => BinOp::LShift,
                Rule::op_rshift => BinOp::RShift,
                Rule::op_add => BinOp::Add,
                Rule::op_sub => BinOp::Sub,
                Rule::op_mul => BinOp::Mul,
                Rule::op_div => BinOp::Div,
                Rule::op_floordiv => BinOp::FloorDiv,
                Rule::op_mod => BinOp::Mod,
                Rule::op_matmul => {
                    return Err(unsupported(
                        span_of(&op),
                        "the '@' (matrix multiplication) operator is not supported",
                    ))
                }
                _ => return Err(internal(span_of(&op), "unknown binary operator")),
            };
            let right = self.build(next(&mut inner, span)?)?;
            acc = binop(bin, acc, right)?;
        }
        Ok(acc)
    }

    /// `-~+x`: unary prefixes around a power.
    fn factor(&self, pair: Pair<'_, Rule>) -> PResult<Node> {
        let span = span_of(&pair);
        let mut ops = Vec::new();
        let mut operand = None;
        for p in pair.into_inner() {
            match unary_op(p.as_rule()) {
                Some(op) => ops.push((op, span_of(&p).start)),
                None => operand = Some(self.build(p)?),
            }
        }
        wrap_unary(
            ops,
            operand.ok_or_else(|| internal(span, "unary operator without operand"))?,
        )
    }

    /// `a ** -b ** c` = `a ** (-(b ** c))`: folded right-to-left.
    fn power(&self, pair: Pair<'_, Rule>) -> PResult<Node> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let base = self.build(next(&mut inner, span)?)?;
        // Each segment after a `**`: its unary prefixes and its postfix operand.
        let mut segments: Vec<(Vec<(UnaryOp, usize)>, Node)> = Vec::new();
        let mut prefixes = Vec::new();
        for p in inner {
            let rule = p.as_rule();
            if rule == Rule::op_pow {
                continue;
            }
            match unary_op(rule) {
                Some(op) => prefixes.push((op, span_of(&p).start)),
                None => segments.push((std::mem::take(&mut prefixes), self.build(p)?)),
            }
        }
        let Some((prefixes, last)) = segments.pop() else {
            return Ok(base);
        };
        let mut acc = wrap_unary(prefixes, last)?;
        while let Some((prefixes, operand)) = segments.pop() {
            acc = wrap_unary(prefixes, binop(BinOp::Pow, operand, acc)?)?;
        }
        binop(BinOp::Pow, base, acc)
    }

    /// An atom and its trailers: calls, attributes, subscripts.
    fn postfix(&self, pair: Pair<'_, Rule>) -> PResult<Node> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let mut acc = self.build(next(&mut inner, span)?)?;
        for trailer in inner {
            let tspan = span_of(&trailer);
            let whole = Span::new(acc.outer.start, tspan.end);
            acc = match trailer.as_rule() {
                Rule::attr => {
                    let name = trailer
                        .into_inner()
                        .find(|p| p.as_rule() == Rule::attr_name)
                        .ok_or_else(|| internal(tspan, "attribute without a name"))?;
                    let kind = ExprKind::Attribute {
                        value: Box::new(acc.expr),
                        attr: ident(&name),
                    };
                    node(kind, whole, acc.depth + 1)?
                }
                Rule::call => self.call(acc, trailer, whole)?,
                Rule::index => self.index(acc, trailer, whole)?,
                _ => return Err(internal(tspan, "unknown trailer")),
            };
        }
        Ok(acc)
    }

    fn call(&self, func: Node, pair: Pair<'_, Rule>, whole: Span) -> PResult<Node> {
        let mut depth = func.depth;
        let mut args: Vec<Expr> = Vec::new();
        let mut kwargs: Vec<(Ident, Expr)> = Vec::new();
        let nargs = pair
            .clone()
            .into_inner()
            .filter(|p| p.as_rule() == Rule::arg)
            .count();
        for arg in pair.into_inner().filter(|p| p.as_rule() == Rule::arg) {
            let aspan = span_of(&arg);
            let mut inner = arg.into_inner();
            let first = next(&mut inner, aspan)?;
            let comp = inner.next();
            match first.as_rule() {
                Rule::kwarg => {
                    let kspan = span_of(&first);
                    let mut kw = first.into_inner();
                    let name = ident(&next(&mut kw, kspan)?);
                    let value = kw
                        .find(|p| p.as_rule() == Rule::expr)
                        .ok_or_else(|| internal(kspan, "keyword argument without a value"))?;
                    if kwargs.iter().any(|(k, _)| k.name == name.name) {
                        return Err(CompileError::new(
                            ErrorKind::Syntax,
                            name.span,
                            format!("keyword argument repeated: {}", name.name),
                        ));
                    }
                    let value = self.build(value)?;
                    depth = depth.max(value.depth);
                    kwargs.push((name, value.expr));
                }
                Rule::star_arg => {
                    return Err(unsupported(
                        aspan,
                        "argument unpacking ('*args', '**kwargs') is not supported",
                    ))
                }
                _ if comp.is_some() => {
                    if nargs > 1 {
                        return Err(CompileError::new(
                            ErrorKind::Syntax,
                            aspan,
                            "Generator expression must be parenthesized",
                        ));
                    }
                    let elt = self.build(first)?;
                    let comp = comp.ok_or_else(|| internal(aspan, "a generator without `for`"))?;
                    // From the element to the last clause (the argument's pair also holds
                    // the whitespace after it).
                    let (clauses, d) = self.comp_for(comp)?;
                    let end = clauses
                        .last()
                        .map(|c| c.ifs.last().unwrap_or(&c.iter).span.end)
                        .unwrap_or(aspan.end);
                    let gspan = Span {
                        start: aspan.start,
                        end,
                    };
                    depth = depth.max(elt.depth.max(d) + 1);
                    args.push(Expr {
                        kind: ExprKind::Comprehension {
                            elt: Box::new(elt.expr),
                            clauses,
                            list: false,
                        },
                        span: gspan,
                    });
                }
                _ => {
                    if let Some((k, _)) = kwargs.first() {
                        return Err(CompileError::new(
                            ErrorKind::Syntax,
                            aspan,
                            "positional argument follows keyword argument",
                        )
                        .with_help(format!("move it before `{}=`", k.name)));
                    }
                    let value = self.build(first)?;
                    depth = depth.max(value.depth);
                    args.push(value.expr);
                }
            }
        }
        let kind = ExprKind::Call {
            func: Box::new(func.expr),
            args,
            kwargs,
        };
        node(kind, whole, depth + 1)
    }

    fn index(&self, value: Node, pair: Pair<'_, Rule>, whole: Span) -> PResult<Node> {
        let mut items = Vec::new();
        let mut comma = false;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::comma => comma = true,
                Rule::sub_item => {
                    let sspan = span_of(&p);
                    let mut inner = p.into_inner();
                    let first = next(&mut inner, sspan)?;
                    if first.as_rule() == Rule::slice_tail || inner.next().is_some() {
                        return Err(unsupported(sspan, "slices are not supported"));
                    }
                    items.push(self.build(first)?);
                }
                _ => {}
            }
        }
        let index = if !comma && items.len() == 1 {
            items
                .pop()
                .ok_or_else(|| internal(whole, "empty subscript"))?
        } else {
            let (start, end) = outer_bounds(&items);
            tuple(items, Span::new(start, end))?
        };
        let depth = value.depth.max(index.depth) + 1;
        let kind = ExprKind::Subscript {
            value: Box::new(value.expr),
            index: Box::new(index.expr),
        };
        node(kind, whole, depth)
    }

    /// `(x)` keeps the inner span; `()`, `(x,)`, `(x, y)` are tuples spanning the brackets.
    fn paren(&self, pair: Pair<'_, Rule>) -> PResult<Node> {
        let span = span_of(&pair);
        if pair_has(&pair, Rule::comp_for) {
            return self.comprehension(pair, false);
        }
        let (items, comma) = self.display_items(pair, "generator expressions are not supported")?;
        if !comma && items.len() == 1 {
            let mut only = items
                .into_iter()
                .next()
                .ok_or_else(|| internal(span, "empty parentheses"))?;
            only.outer = span;
            return Ok(only);
        }
        tuple(items, span)
    }

    fn list(&self, pair: Pair<'_, Rule>) -> PResult<Node> {
        let span = span_of(&pair);
        if pair_has(&pair, Rule::comp_for) {
            return self.comprehension(pair, true);
        }
        let (items, _) = self.display_items(pair, "list comprehensions are not supported")?;
        let depth = 1 + items.iter().map(|i| i.depth).max().unwrap_or(0);
        node(
            ExprKind::List(items.into_iter().map(|i| i.expr).collect()),
            span,
            depth,
        )
    }

    /// `(elt for ...)` or `[elt for ...]`: the element, then its clauses.
    fn comprehension(&self, pair: Pair<'_, Rule>, list: bool) -> PResult<Node> {
        let span = span_of(&pair);
        let mut elt = None;
        let mut clauses = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::comp_for => clauses = Some(self.comp_for(p)?),
                Rule::rparen | Rule::rbracket => {}
                _ => elt = Some(self.build(p)?),
            }
        }
        let elt = elt.ok_or_else(|| internal(span, "a comprehension without its element"))?;
        let (clauses, depth) =
            clauses.ok_or_else(|| internal(span, "a comprehension without `for`"))?;
        node(
            ExprKind::Comprehension {
                elt: Box::new(elt.expr),
                clauses,
                list,
            },
            span,
            1 + elt.depth.max(depth),
        )
    }

    /// The `for ... in ... if ...` clauses of a comprehension, and their nesting depth.
    fn comp_for(&self, pair: Pair<'_, Rule>) -> PResult<(Vec<CompClause>, usize)> {
        let mut clauses: Vec<CompClause> = Vec::new();
        let mut depth = 0;
        for p in pair.into_inner() {
            let pspan = span_of(&p);
            match p.as_rule() {
                Rule::comp_clause => {
                    let mut targets = Vec::new();
                    let mut iter = None;
                    for q in p.into_inner() {
                        match q.as_rule() {
                            Rule::kw_async => {
                                return Err(unsupported(
                                    span_of(&q),
                                    "asynchronous comprehensions are not supported",
                                ))
                            }
                            Rule::comp_target => targets.push(q),
                            Rule::or_test => iter = Some(self.build(q)?),
                            _ => {}
                        }
                    }
                    let iter = iter.ok_or_else(|| internal(pspan, "`for` without `in`"))?;
                    depth = depth.max(iter.depth);
                    let target =
                        match targets.as_slice() {
                            [t] => {
                                let t = self.build(t.clone().into_inner().next().ok_or_else(
                                    || internal(pspan, "an empty comprehension target"),
                                )?)?;
                                match t.expr.kind {
                                    ExprKind::Name(n) => Ident {
                                        name: n,
                                        span: t.expr.span,
                                    },
                                    _ => return Err(unsupported(
                                        t.expr.span,
                                        "a comprehension target other than a name is not supported",
                                    )),
                                }
                            }
                            _ => return Err(unsupported(
                                pspan,
                                "unpacking in a comprehension (`for a, b in ...`) is not supported",
                            )),
                        };
                    clauses.push(CompClause {
                        target,
                        iter: iter.expr,
                        ifs: Vec::new(),
                    });
                }
                Rule::comp_if => {
                    let cond = p
                        .into_inner()
                        .find(|q| q.as_rule() != Rule::kw_if)
                        .ok_or_else(|| internal(pspan, "`if` without a condition"))?;
                    let cond = self.build(cond)?;
                    depth = depth.max(cond.depth);
                    clauses
                        .last_mut()
                        .ok_or_else(|| internal(pspan, "`if` before `for`"))?
                        .ifs
                        .push(cond.expr);
                }
                _ => {}
            }
        }
        Ok((clauses, depth + 1))
    }

    /// `name := value`
    fn walrus(&self, pair: Pair<'_, Rule>) -> PResult<Node> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let target = ident(&next(&mut inner, span)?);
        let value = inner
            .find(|p| p.as_rule() == Rule::expr)
            .ok_or_else(|| internal(span, "`:=` without a value"))?;
        let value = self.build(value)?;
        let depth = value.depth + 1;
        // The pair also holds the whitespace after the value.
        let span = Span {
            start: span.start,
            end: value.expr.span.end.max(value.outer.end),
        };
        node(
            ExprKind::NamedExpr {
                target,
                value: Box::new(value.expr),
            },
            span,
            depth,
        )
    }

    /// The elements of a parenthesised or bracketed display, and whether a comma was seen.
    fn display_items(
        &self,
        pair: Pair<'_, Rule>,
        comprehension: &str,
    ) -> PResult<(Vec<Node>, bool)> {
        let span = span_of(&pair);
        if pair
            .clone()
            .into_inner()
            .any(|p| p.as_rule() == Rule::comp_for)
        {
            return Err(unsupported(span, comprehension)
                .with_help("write the loop as a pipeline: range(...).map(...).filter(...)"));
        }
        let mut items = Vec::new();
        let mut comma = false;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::comma => comma = true,
                Rule::rparen | Rule::rbracket => {}
                _ => items.push(self.build(p)?),
            }
        }
        Ok((items, comma))
    }

    /// `{...}`: always refused, named as precisely as the syntax allows.
    fn brace(&self, pair: Pair<'_, Rule>) -> CompileError {
        let span = span_of(&pair);
        let items: Vec<Pair<'_, Rule>> = pair
            .clone()
            .into_inner()
            .filter(|p| p.as_rule() == Rule::brace_item)
            .collect();
        let is_dict = |item: &Pair<'_, Rule>| {
            pair_has(item, Rule::colon) || pair_has(item, Rule::dict_unpack)
        };
        let comprehension = pair_has(&pair, Rule::comp_for);
        let what = match items.first() {
            None => "dict literals are not supported",
            Some(first) if comprehension && is_dict(first) => {
                "dict comprehensions are not supported"
            }
            Some(_) if comprehension => "set comprehensions are not supported",
            Some(_) if items.iter().any(is_dict) => "dict literals are not supported",
            Some(_) => "set literals are not supported",
        };
        unsupported(span, what)
    }

    fn strings(&self, pair: Pair<'_, Rule>) -> CompileError {
        let span = span_of(&pair);
        // The prefix: the letters before the first quote of the first literal.
        let prefix: String = pair
            .as_str()
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let what = if prefix.contains('f') {
            "f-strings are not supported"
        } else if prefix.contains('t') {
            "template strings are not supported"
        } else if prefix.contains('b') {
            "bytes literals are not supported"
        } else {
            "string literals are not supported"
        };
        unsupported(span, what).with_help("fastiter pipelines compute on numbers")
    }

    fn number(&self, pair: Pair<'_, Rule>) -> PResult<Node> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let lit = next(&mut inner, span)?;
        let (radix, mut kind) = match lit.as_rule() {
            Rule::hex_int => (16, "hexadecimal"),
            Rule::oct_int => (8, "octal"),
            Rule::bin_int => (2, "binary"),
            _ => (10, "decimal"),
        };
        if let Some(suffix) = inner.next() {
            match suffix.as_rule() {
                Rule::bad_suffix => {
                    if lit.as_str() == "0" {
                        // `0x`, `0o9`, `0b`: a prefix without valid digits.
                        kind = match suffix.as_str().as_bytes().first() {
                            Some(b'x' | b'X') => "hexadecimal",
                            Some(b'o' | b'O') => "octal",
                            Some(b'b' | b'B') => "binary",
                            _ => kind,
                        };
                    }
                    return Err(CompileError::new(
                        ErrorKind::Syntax,
                        span,
                        format!("invalid {kind} literal"),
                    ));
                }
                _ => {
                    return Err(unsupported(
                        span,
                        "complex (imaginary) literals are not supported",
                    ))
                }
            }
        }
        let text: String = lit.as_str().chars().filter(|&c| c != '_').collect();
        if lit.as_rule() == Rule::float_lit {
            let value: f64 = text
                .parse()
                .map_err(|_| internal(span, "unreadable float literal"))?;
            return node(ExprKind::Float(value), span, 1);
        }
        let digits = if radix == 10 {
            &text[..]
        } else {
            text.get(2..).unwrap_or("")
        };
        if radix == 10
            && digits.len() > 1
            && digits.starts_with('0')
            && digits.bytes().any(|b| b != b'0')
        {
            return Err(CompileError::new(
                ErrorKind::Syntax,
                span,
                "leading zeros in decimal integer literals are not permitted",
            )
            .with_help("use an 0o prefix for octal integers"));
        }
        let value = BigInt::parse_bytes(digits.as_bytes(), radix)
            .ok_or_else(|| internal(span, "unreadable integer literal"))?;
        node(ExprKind::Int(value), span, 1)
    }
}

fn pair_has(pair: &Pair<'_, Rule>, rule: Rule) -> bool {
    pair.clone().into_inner().any(|p| p.as_rule() == rule)
}

fn unary_op(rule: Rule) -> Option<UnaryOp> {
    match rule {
        Rule::op_neg => Some(UnaryOp::Neg),
        Rule::op_pos => Some(UnaryOp::Pos),
        Rule::op_invert => Some(UnaryOp::Invert),
        _ => None,
    }
}

/// The outer bounds of a non-empty list of nodes.
fn outer_bounds(nodes: &[Node]) -> (usize, usize) {
    match (nodes.first(), nodes.last()) {
        (Some(first), Some(last)) => (first.outer.start, last.outer.end),
        _ => (0, 0),
    }
}

fn binop(op: BinOp, left: Node, right: Node) -> PResult<Node> {
    let span = Span::new(left.outer.start, right.outer.end);
    let depth = 1 + left.depth.max(right.depth);
    let kind = ExprKind::Binary {
        op,
        left: Box::new(left.expr),
        right: Box::new(right.expr),
    };
    node(kind, span, depth)
}

fn tuple(items: Vec<Node>, span: Span) -> PResult<Node> {
    let depth = 1 + items.iter().map(|i| i.depth).max().unwrap_or(0);
    node(
        ExprKind::Tuple(items.into_iter().map(|i| i.expr).collect()),
        span,
        depth,
    )
}

/// Apply prefix operators (each with its start offset) to an operand, innermost last.
fn wrap_unary(ops: Vec<(UnaryOp, usize)>, operand: Node) -> PResult<Node> {
    let mut acc = operand;
    for (op, start) in ops.into_iter().rev() {
        let span = Span::new(start, acc.outer.end);
        let depth = acc.depth + 1;
        acc = node(
            ExprKind::Unary {
                op,
                operand: Box::new(acc.expr),
            },
            span,
            depth,
        )?;
    }
    Ok(acc)
}

/// Apply lambda heads to a body, innermost last.
fn wrap_lambdas(heads: Vec<LambdaHead>, body: Node) -> PResult<Node> {
    let mut acc = body;
    for head in heads.into_iter().rev() {
        let span = Span::new(head.start, acc.outer.end);
        let depth = acc.depth + 1;
        acc = node(
            ExprKind::Lambda {
                params: head.params,
                body: Box::new(acc.expr),
            },
            span,
            depth,
        )?;
    }
    Ok(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(src: &str) -> Expr {
        match parse(src) {
            Ok(e) => e,
            Err(e) => panic!("{src:?} failed: {}", e.render(src)),
        }
    }

    fn err(src: &str) -> CompileError {
        match parse(src) {
            Ok(e) => panic!("{src:?} parsed: {e:?}"),
            Err(e) => e,
        }
    }

    fn text(src: &str, span: Span) -> &str {
        &src[span.start..span.end]
    }

    #[test]
    fn cli_example_points_at_the_paren() {
        let src = "range(10).map(x *).sum()";
        let e = err(src);
        assert_eq!(e.message, "expected an expression");
        assert_eq!(e.kind, ErrorKind::Syntax);
        assert_eq!(e.span, Span::new(17, 18));
        assert_eq!(e.line_col(src), (1, 18));
    }

    #[test]
    fn binary_span_covers_both_operands_and_parens() {
        let src = "(a + b) * c";
        let e = ok(src);
        assert_eq!(text(src, e.span), "(a + b) * c");
        let ExprKind::Binary { left, .. } = &e.kind else {
            panic!("{e:?}")
        };
        assert_eq!(text(src, left.span), "a + b");
    }

    #[test]
    fn call_span_runs_through_the_closing_paren() {
        let src = "  range(0, 10 ).sum( )  ";
        let e = ok(src);
        assert_eq!(text(src, e.span), "range(0, 10 ).sum( )");
        let ExprKind::Call { func, .. } = &e.kind else {
            panic!("{e:?}")
        };
        assert_eq!(text(src, func.span), "range(0, 10 ).sum");
        let ExprKind::Attribute { value, attr } = &func.kind else {
            panic!("{func:?}")
        };
        assert_eq!(text(src, value.span), "range(0, 10 )");
        assert_eq!(text(src, attr.span), "sum");
    }

    #[test]
    fn lambda_and_params_spans() {
        let src = "f(lambda a, b: a if b else -b ** 2)";
        let e = ok(src);
        let ExprKind::Call { args, .. } = &e.kind else {
            panic!("{e:?}")
        };
        assert_eq!(text(src, args[0].span), "lambda a, b: a if b else -b ** 2");
        let ExprKind::Lambda { params, body } = &args[0].kind else {
            panic!()
        };
        assert_eq!(text(src, params[1].span), "b");
        assert_eq!(text(src, body.span), "a if b else -b ** 2");
        let ExprKind::IfExp { orelse, .. } = &body.kind else {
            panic!()
        };
        assert_eq!(text(src, orelse.span), "-b ** 2");
        let ExprKind::Unary {
            op: UnaryOp::Neg,
            operand,
        } = &orelse.kind
        else {
            panic!()
        };
        assert_eq!(text(src, operand.span), "b ** 2");
    }

    #[test]
    fn power_binds_tighter_than_unary_on_its_left() {
        let e = ok("-2**2");
        let ExprKind::Unary {
            op: UnaryOp::Neg,
            operand,
        } = &e.kind
        else {
            panic!("{e:?}")
        };
        assert!(matches!(
            operand.kind,
            ExprKind::Binary { op: BinOp::Pow, .. }
        ));
    }

    #[test]
    fn every_keyword_is_reserved_and_only_at_a_word_boundary() {
        for k in KEYWORDS {
            let e = parse(k);
            match k {
                "True" | "False" | "None" => assert!(e.is_ok(), "{k}"),
                _ => assert_eq!(e.map_err(|e| e.kind), Err(ErrorKind::Syntax), "{k}"),
            }
            for name in [format!("{k}_"), format!("{k}x"), format!("_{k}")] {
                assert_eq!(ok(&name).kind, ExprKind::Name(name.clone()));
            }
        }
    }

    #[test]
    fn huge_ints_are_exact() {
        let digits = "9".repeat(400);
        let e = ok(&digits);
        let ExprKind::Int(v) = &e.kind else { panic!() };
        assert_eq!(v.to_string(), digits);
    }

    #[test]
    fn depth_limits() {
        let ok_depth = format!("{}x", "-".repeat(MAX_DEPTH - 1));
        ok(&ok_depth);
        let too_deep = format!("{}x", "-".repeat(MAX_DEPTH));
        assert_eq!(err(&too_deep).kind, ErrorKind::Unsupported);
        let nested = format!("{}x{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        ok(&nested);
        let nested = format!(
            "{}x{}",
            "(".repeat(MAX_NESTING + 1),
            ")".repeat(MAX_NESTING + 1)
        );
        assert_eq!(err(&nested).kind, ErrorKind::Unsupported);
    }
}
