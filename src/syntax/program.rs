//! Programs: Python `def` blocks followed by the pipeline expression.
//!
//! The text is split into logical lines the way Python's tokenizer does (a newline inside
//! brackets or after `\` continues the line; blank and comment-only lines are skipped), blocks
//! are built from the lines' indentation, and each line is parsed by pest's `stmt_line` rule.
//! Everything from the first line at column 0 that is not a `def` on is the pipeline, parsed
//! by [`parse`]; a text that does not start with `def` is a pipeline alone, exactly as before.

use pest::iterators::Pair;
use pest::Parser as _;

use super::ast::{BinOp, Expr, ExprKind, FuncDef, Ident, Program, Stmt, StmtKind, Target};
use super::parser::{
    ident, internal, parse, scan, span_of, translate, unsupported, Builder, Grammar, PResult, Rule,
};
use crate::diagnostics::{line_col, CompileError, ErrorKind, Span};

/// The deepest nesting of statement blocks accepted.
pub const MAX_BLOCK_DEPTH: usize = 50;

/// One logical line: its indentation is `src[indent..start]`, its text `src[start..end]`.
#[derive(Debug, Clone, Copy)]
struct Line {
    indent: usize,
    start: usize,
    end: usize,
}

/// Parse a program: zero or more top-level `def`s, then one pipeline expression.
///
/// ```
/// # use fastiter::syntax::parse_program;
/// let p = parse_program("def f(x):\n    return x * 2\n\nrange(10).map(f).sum()\n").unwrap();
/// assert_eq!(p.defs.len(), 1);
/// assert_eq!(p.defs[0].name.name, "f");
/// ```
pub fn parse_program(src: &str) -> Result<Program, CompileError> {
    let lines = logical_lines(src);
    let starts_def = |l: &Line| l.indent == l.start && keyword_at(src, l.start) == Some("def");
    if !lines.first().is_some_and(starts_def) {
        return Ok(Program {
            defs: Vec::new(),
            pipeline: parse(src)?,
        });
    }
    let p = ProgramParser { src };
    let mut defs = Vec::new();
    let mut i = 0;
    while i < lines.len() && starts_def(&lines[i]) {
        let mut j = i + 1;
        while j < lines.len() && lines[j].indent != lines[j].start {
            j += 1;
        }
        let mut stmts = p.block_of(&lines[i..j])?;
        match stmts.pop() {
            Some(Parsed::Def(d)) if stmts.is_empty() => defs.push(d),
            _ => return Err(internal(Span::new(lines[i].start, lines[i].end), "a def")),
        }
        i = j;
    }
    let Some(first) = lines.get(i) else {
        let end = lines.last().map_or(src.len(), |l| l.end);
        return Err(CompileError::new(
            ErrorKind::Syntax,
            Span::new(end, end),
            "expected the pipeline expression after the function definitions",
        )
        .with_help("end the program with a pipeline, such as `range(10).map(f).sum()`"));
    };
    let off = first.start;
    let mut pipeline = parse(&src[off..]).map_err(|e| shift_err(e, off))?;
    shift_expr(&mut pipeline, off);
    Ok(Program { defs, pipeline })
}

fn shift_err(mut e: CompileError, off: usize) -> CompileError {
    e.span = Span::new(e.span.start + off, e.span.end + off);
    e
}

fn shift_span(s: &mut Span, off: usize) {
    *s = Span::new(s.start + off, s.end + off);
}

fn shift_ident(i: &mut Ident, off: usize) {
    shift_span(&mut i.span, off);
}

/// Move every span of `e` by `off` bytes (a line parsed on its own starts at 0).
pub(super) fn shift_expr(e: &mut Expr, off: usize) {
    shift_span(&mut e.span, off);
    match &mut e.kind {
        ExprKind::Int(_)
        | ExprKind::Float(_)
        | ExprKind::Bool(_)
        | ExprKind::None
        | ExprKind::Name(_) => {}
        ExprKind::Attribute { value, attr } => {
            shift_expr(value, off);
            shift_ident(attr, off);
        }
        ExprKind::Call { func, args, kwargs } => {
            shift_expr(func, off);
            args.iter_mut().for_each(|a| shift_expr(a, off));
            for (k, v) in kwargs {
                shift_ident(k, off);
                shift_expr(v, off);
            }
        }
        ExprKind::Subscript { value, index } => {
            shift_expr(value, off);
            shift_expr(index, off);
        }
        ExprKind::Unary { operand, .. } => shift_expr(operand, off),
        ExprKind::Binary { left, right, .. } => {
            shift_expr(left, off);
            shift_expr(right, off);
        }
        ExprKind::BoolOp { values, .. } => values.iter_mut().for_each(|v| shift_expr(v, off)),
        ExprKind::Compare { left, ops } => {
            shift_expr(left, off);
            ops.iter_mut().for_each(|(_, v)| shift_expr(v, off));
        }
        ExprKind::IfExp { test, body, orelse } => {
            shift_expr(test, off);
            shift_expr(body, off);
            shift_expr(orelse, off);
        }
        ExprKind::Lambda { params, body } => {
            params.iter_mut().for_each(|p| shift_ident(p, off));
            shift_expr(body, off);
        }
        ExprKind::List(items) | ExprKind::Tuple(items) => {
            items.iter_mut().for_each(|v| shift_expr(v, off))
        }
        ExprKind::Comprehension { elt, clauses, .. } => {
            shift_expr(elt, off);
            for c in clauses {
                shift_ident(&mut c.target, off);
                shift_expr(&mut c.iter, off);
                c.ifs.iter_mut().for_each(|v| shift_expr(v, off));
            }
        }
        ExprKind::NamedExpr { target, value } => {
            shift_ident(target, off);
            shift_expr(value, off);
        }
    }
}

/// The Python keyword (or soft keyword-like word) that starts `src[at..]`, if any.
fn keyword_at(src: &str, at: usize) -> Option<&str> {
    let rest = &src[at..];
    let end = rest
        .char_indices()
        .find(|&(_, c)| !(c == '_' || c.is_alphanumeric()))
        .map_or(rest.len(), |(i, _)| i);
    let word = &rest[..end];
    const WORDS: [&str; 26] = [
        "def", "if", "elif", "else", "for", "while", "return", "pass", "break", "continue",
        "import", "from", "global", "nonlocal", "try", "except", "finally", "with", "raise",
        "assert", "del", "class", "async", "yield", "await", "lambda",
    ];
    WORDS.contains(&word).then_some(word)
}

/// Split `src` into logical lines, skipping blank and comment-only lines.
fn logical_lines(src: &str) -> Vec<Line> {
    let b = src.as_bytes();
    let n = b.len();
    let mut out = Vec::new();
    let mut i = if src.starts_with('\u{feff}') { 3 } else { 0 };
    let newline_len = |i: usize| -> usize {
        match b.get(i) {
            Some(b'\r') if b.get(i + 1) == Some(&b'\n') => 2,
            Some(b'\r' | b'\n') => 1,
            _ => 0,
        }
    };
    while i < n {
        let indent = i;
        while i < n && matches!(b[i], b' ' | b'\t' | b'\x0c') {
            i += 1;
        }
        if i >= n {
            break;
        }
        if newline_len(i) > 0 {
            i += newline_len(i);
            continue;
        }
        if b[i] == b'#' {
            while i < n && newline_len(i) == 0 {
                i += 1;
            }
            continue;
        }
        let start = i;
        let mut depth = 0usize;
        let end;
        loop {
            if i >= n {
                end = n;
                break;
            }
            match b[i] {
                b'#' => {
                    while i < n && newline_len(i) == 0 {
                        i += 1;
                    }
                }
                q @ (b'\'' | b'"') => {
                    let triple = b.get(i..i + 3) == Some(&[q, q, q][..]);
                    i += if triple { 3 } else { 1 };
                    while i < n {
                        if b[i] == b'\\' {
                            i += 2;
                            continue;
                        }
                        if triple {
                            if b.get(i..i + 3) == Some(&[q, q, q][..]) {
                                i += 3;
                                break;
                            }
                        } else if b[i] == q {
                            i += 1;
                            break;
                        } else if newline_len(i) > 0 {
                            break;
                        }
                        i += 1;
                    }
                    i = i.min(n);
                }
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    i += 1;
                }
                b')' | b']' | b'}' => {
                    depth = depth.saturating_sub(1);
                    i += 1;
                }
                b'\\' if newline_len(i + 1) > 0 => i += 1 + newline_len(i + 1),
                _ if newline_len(i) > 0 => {
                    if depth == 0 {
                        end = i;
                        i += newline_len(i);
                        break;
                    }
                    i += newline_len(i);
                }
                _ => i += 1,
            }
        }
        out.push(Line { indent, start, end });
    }
    out
}

/// A statement, or a header that is not a statement by itself (`elif`, `else`) or a `def`.
enum Parsed {
    Stmt(Stmt),
    Def(FuncDef),
}

/// What one line says, before its block is attached.
enum Head {
    Simple(Vec<Stmt>),
    Def {
        name: Ident,
        params: Vec<Ident>,
        defaults: Vec<Option<Expr>>,
        inline: Option<Vec<Stmt>>,
    },
    If(Expr, Option<Vec<Stmt>>),
    Elif(Expr, Option<Vec<Stmt>>),
    Else(Option<Vec<Stmt>>),
    For(Ident, Expr, Option<Vec<Stmt>>),
    While(Expr, Option<Vec<Stmt>>),
}

struct ProgramParser<'s> {
    src: &'s str,
}

fn syntax(span: Span, msg: impl Into<String>) -> CompileError {
    CompileError::new(ErrorKind::Syntax, span, msg)
}

impl ProgramParser<'_> {
    fn indent_of(&self, l: &Line) -> &str {
        &self.src[l.indent..l.start]
    }

    /// Parse lines that all belong to one block whose first line sets the indentation.
    fn block_of(&self, lines: &[Line]) -> PResult<Vec<Parsed>> {
        let mut pos = 0;
        let out = self.block(lines, &mut pos, 0, &[])?;
        if let Some(l) = lines.get(pos) {
            return Err(syntax(
                Span::new(l.start, l.start),
                "unindent does not match any outer indentation level",
            ));
        }
        Ok(out)
    }

    /// The statements of one block; `outer` holds the indentation of the enclosing blocks.
    fn block(
        &self,
        lines: &[Line],
        pos: &mut usize,
        depth: usize,
        outer: &[&str],
    ) -> PResult<Vec<Parsed>> {
        let first = lines[*pos];
        if depth > MAX_BLOCK_DEPTH {
            return Err(unsupported(
                Span::new(first.start, first.end),
                format!("blocks are nested too deeply (more than {MAX_BLOCK_DEPTH} levels)"),
            ));
        }
        let indent = self.indent_of(&first);
        let mut levels: Vec<&str> = outer.to_vec();
        levels.push(indent);
        let mut out: Vec<Parsed> = Vec::new();
        while let Some(l) = lines.get(*pos).copied() {
            let ind = self.indent_of(&l);
            if ind != indent {
                if outer.contains(&ind) {
                    break; // a dedent: an enclosing block continues
                }
                if ind.starts_with(indent) && !indent.starts_with(ind) {
                    return Err(syntax(Span::new(l.indent, l.start), "unexpected indent"));
                }
                return Err(syntax(
                    Span::new(l.start, l.start),
                    "unindent does not match any outer indentation level",
                )
                .with_help("indent with the same characters (spaces or tabs) throughout"));
            }
            *pos += 1;
            let head = self.line(&l)?;
            let span = self.head_span(&l);
            match head {
                Head::Simple(stmts) => out.extend(stmts.into_iter().map(Parsed::Stmt)),
                Head::Def {
                    name,
                    params,
                    defaults,
                    inline,
                } => {
                    if depth > 0 {
                        return Err(unsupported(span, "nested functions are not supported")
                            .with_help("define the function at the top level"));
                    }
                    let body = self.body(lines, pos, &l, inline, &levels, "function definition")?;
                    out.push(Parsed::Def(FuncDef {
                        name,
                        params,
                        defaults,
                        body,
                        span,
                    }));
                }
                Head::If(test, inline) => {
                    let body = self.body(lines, pos, &l, inline, &levels, "'if' statement")?;
                    let orelse = self.else_chain(lines, pos, indent, &levels)?;
                    out.push(Parsed::Stmt(Stmt {
                        kind: StmtKind::If { test, body, orelse },
                        span,
                    }));
                }
                Head::Elif(..) => {
                    return Err(syntax(span, "'elif' without a matching 'if'"));
                }
                Head::Else(_) => {
                    if let Some(Parsed::Stmt(Stmt {
                        kind: StmtKind::For { .. } | StmtKind::While { .. },
                        ..
                    })) = out.last()
                    {
                        return Err(unsupported(
                            span,
                            "an 'else' clause on a loop is not supported",
                        )
                        .with_help("use a flag variable set before `break`"));
                    }
                    return Err(syntax(span, "'else' without a matching 'if'"));
                }
                Head::For(target, iter, inline) => {
                    let body = self.body(lines, pos, &l, inline, &levels, "'for' statement")?;
                    out.push(Parsed::Stmt(Stmt {
                        kind: StmtKind::For { target, iter, body },
                        span,
                    }));
                }
                Head::While(test, inline) => {
                    let body = self.body(lines, pos, &l, inline, &levels, "'while' statement")?;
                    out.push(Parsed::Stmt(Stmt {
                        kind: StmtKind::While { test, body },
                        span,
                    }));
                }
            }
        }
        Ok(out)
    }

    /// The `elif`/`else` clauses that follow an `if` body at the same indentation.
    fn else_chain(
        &self,
        lines: &[Line],
        pos: &mut usize,
        indent: &str,
        levels: &[&str],
    ) -> PResult<Vec<Stmt>> {
        let Some(l) = lines.get(*pos).copied() else {
            return Ok(Vec::new());
        };
        if self.indent_of(&l) != indent
            || !matches!(keyword_at(self.src, l.start), Some("elif" | "else"))
        {
            return Ok(Vec::new());
        }
        let span = self.head_span(&l);
        match self.line(&l)? {
            Head::Elif(test, inline) => {
                *pos += 1;
                let body = self.body(lines, pos, &l, inline, levels, "'elif' statement")?;
                let orelse = self.else_chain(lines, pos, indent, levels)?;
                Ok(vec![Stmt {
                    kind: StmtKind::If { test, body, orelse },
                    span,
                }])
            }
            Head::Else(inline) => {
                *pos += 1;
                self.body(lines, pos, &l, inline, levels, "'else' statement")
            }
            _ => Ok(Vec::new()),
        }
    }

    /// The body of a compound statement: its inline statements, or the indented block that
    /// follows its header.
    fn body(
        &self,
        lines: &[Line],
        pos: &mut usize,
        header: &Line,
        inline: Option<Vec<Stmt>>,
        levels: &[&str],
        what: &str,
    ) -> PResult<Vec<Stmt>> {
        let head_indent = self.indent_of(header);
        let next = lines.get(*pos).copied();
        let indented = next.filter(|n| {
            let ind = self.indent_of(n);
            ind.len() > head_indent.len() && ind.starts_with(head_indent)
        });
        if let Some(stmts) = inline {
            if let Some(n) = indented {
                return Err(syntax(Span::new(n.indent, n.start), "unexpected indent"));
            }
            return Ok(stmts);
        }
        let Some(_) = indented else {
            let (l, _) = line_col(self.src, header.start);
            let at = next.map_or(header.end, |n| n.start);
            return Err(syntax(
                Span::new(at, at),
                format!("expected an indented block after {what} on line {l}"),
            ));
        };
        let parsed = self.block(lines, pos, levels.len(), levels)?;
        let mut out = Vec::new();
        for p in parsed {
            match p {
                Parsed::Stmt(s) => out.push(s),
                Parsed::Def(d) => {
                    return Err(unsupported(d.span, "nested functions are not supported"))
                }
            }
        }
        Ok(out)
    }

    /// A header's span: from its first token through the colon, or the whole simple line.
    fn head_span(&self, l: &Line) -> Span {
        let text = &self.src[l.start..l.end];
        let end = text.trim_end().len();
        Span::new(l.start, l.start + end)
    }

    /// Parse one logical line.
    fn line(&self, l: &Line) -> PResult<Head> {
        let off = l.start;
        let text = &self.src[l.start..l.end];
        let whole = Span::new(l.start, l.end);
        if let Some(
            kw @ ("import" | "from" | "global" | "nonlocal" | "try" | "except" | "finally" | "with"
            | "raise" | "assert" | "del" | "class" | "async" | "yield"),
        ) = keyword_at(self.src, l.start)
        {
            return Err(unsupported(
                self.head_span(l),
                format!("`{kw}` statements are not supported in a compiled function"),
            )
            .with_help(
                "supported: assignment, augmented assignment, if/elif/else, for ... in range(...), while, break, continue, return, pass",
            ));
        }
        let sc = scan(text);
        let mut pairs = Grammar::parse(Rule::stmt_line, text)
            .map_err(|e| shift_err(translate(text, &sc, e), off))?;
        let line = pairs
            .next()
            .ok_or_else(|| internal(whole, "no statement in the parse tree"))?;
        let head = line
            .into_inner()
            .find(|p| p.as_rule() != Rule::EOI)
            .ok_or_else(|| internal(whole, "empty statement line"))?;
        let b = StmtBuilder { off };
        b.head(head)
    }
}

fn find<'i>(inner: &[Pair<'i, Rule>], r: Rule) -> Option<Pair<'i, Rule>> {
    inner.iter().find(|q| q.as_rule() == r).cloned()
}

struct StmtBuilder {
    off: usize,
}

impl StmtBuilder {
    fn span(&self, p: &Pair<'_, Rule>) -> Span {
        let s = span_of(p);
        Span::new(s.start + self.off, s.end + self.off)
    }

    fn ident(&self, p: &Pair<'_, Rule>) -> Ident {
        let mut i = ident(p);
        shift_ident(&mut i, self.off);
        i
    }

    fn expr(&self, p: Pair<'_, Rule>) -> PResult<Expr> {
        let node = if p.as_rule() == Rule::expressions {
            Builder.expressions(p)
        } else {
            Builder.build(p)
        }
        .map_err(|e| shift_err(e, self.off))?;
        let mut e = node.expr;
        shift_expr(&mut e, self.off);
        Ok(e)
    }

    /// Optional inline statements after a header's colon.
    fn inline(&self, p: Option<Pair<'_, Rule>>) -> PResult<Option<Vec<Stmt>>> {
        p.map(|p| self.simple_stmts(p)).transpose()
    }

    fn head(&self, p: Pair<'_, Rule>) -> PResult<Head> {
        let span = self.span(&p);
        let rule = p.as_rule();
        let mut inner: Vec<Pair<'_, Rule>> = p.into_inner().collect();
        let inline = match inner.last() {
            Some(q) if q.as_rule() == Rule::simple_stmts && rule != Rule::simple_stmts => {
                inner.pop()
            }
            _ => None,
        };
        let missing = || internal(span, "missing part of a statement");
        Ok(match rule {
            Rule::simple_stmts => Head::Simple(self.simple_stmts_from(inner)?),
            Rule::def_head => {
                let name = self.ident(&find(&inner, Rule::def_name).ok_or_else(missing)?);
                let mut params: Vec<Ident> = Vec::new();
                let mut defaults: Vec<Option<Expr>> = Vec::new();
                if let Some(ps) = find(&inner, Rule::def_params) {
                    for param in ps.into_inner().filter(|q| q.as_rule() == Rule::def_param) {
                        let pspan = self.span(&param);
                        let mut default = None;
                        for q in param.into_inner() {
                            match q.as_rule() {
                                Rule::param_star => return Err(unsupported(
                                    pspan,
                                    "variadic parameters ('*args', '**kwargs') are not supported",
                                )),
                                Rule::param_marker => {
                                    return Err(unsupported(
                                        pspan,
                                        format!(
                                            "the '{}' marker in parameters is not supported",
                                            q.as_str()
                                        ),
                                    ))
                                }
                                Rule::param_default => {
                                    let value = q
                                        .into_inner()
                                        .find(|r| r.as_rule() == Rule::expr)
                                        .ok_or_else(missing)?;
                                    default = Some(self.expr(value)?);
                                }
                                Rule::param_annot => {}
                                _ => {
                                    let id = self.ident(&q);
                                    if params.iter().any(|p| p.name == id.name) {
                                        return Err(syntax(
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
                        if default.is_none() && defaults.iter().any(Option::is_some) {
                            return Err(syntax(
                                pspan,
                                "non-default argument follows default argument",
                            ));
                        }
                        defaults.push(default);
                    }
                }
                Head::Def {
                    name,
                    params,
                    defaults,
                    inline: self.inline(inline)?,
                }
            }
            Rule::if_head | Rule::elif_head | Rule::while_head => {
                let test = inner
                    .into_iter()
                    .find(|q| q.as_rule() == Rule::elem)
                    .ok_or_else(missing)?;
                let test = self.expr(test)?;
                let inline = self.inline(inline)?;
                match rule {
                    Rule::if_head => Head::If(test, inline),
                    Rule::elif_head => Head::Elif(test, inline),
                    _ => Head::While(test, inline),
                }
            }
            Rule::else_head => Head::Else(self.inline(inline)?),
            Rule::for_head => {
                let target = find(&inner, Rule::for_target).ok_or_else(missing)?;
                let tspan = self.span(&target);
                let all: Vec<Pair<'_, Rule>> = target.into_inner().collect();
                let has_comma = all.iter().any(|q| q.as_rule() == Rule::comma);
                let parts: Vec<Pair<'_, Rule>> = all
                    .into_iter()
                    .filter(|q| q.as_rule() != Rule::comma)
                    .collect();
                let name = match parts.as_slice() {
                    [one] if !has_comma => {
                        let e = self.expr(one.clone())?;
                        match e.kind {
                            ExprKind::Name(n) => Ident {
                                name: n,
                                span: e.span,
                            },
                            _ => {
                                return Err(unsupported(
                                    e.span,
                                    "the target of `for` must be a name",
                                ))
                            }
                        }
                    }
                    _ => {
                        return Err(unsupported(
                            tspan,
                            "unpacking in a `for` target is not supported yet",
                        ))
                    }
                };
                let iter = find(&inner, Rule::expressions).ok_or_else(missing)?;
                let iter = self.expr(iter)?;
                Head::For(name, iter, self.inline(inline)?)
            }
            _ => return Err(internal(span, "unknown statement")),
        })
    }

    fn simple_stmts(&self, p: Pair<'_, Rule>) -> PResult<Vec<Stmt>> {
        self.simple_stmts_from(p.into_inner().collect())
    }

    fn simple_stmts_from(&self, parts: Vec<Pair<'_, Rule>>) -> PResult<Vec<Stmt>> {
        let mut out = Vec::new();
        for p in parts {
            if p.as_rule() == Rule::semicolon {
                continue;
            }
            if let Some(s) = self.simple(p)? {
                out.push(s);
            }
        }
        Ok(out)
    }

    fn simple(&self, p: Pair<'_, Rule>) -> PResult<Option<Stmt>> {
        let span = self.span(&p);
        let rule = p.as_rule();
        let mut inner: Vec<Pair<'_, Rule>> = p.into_inner().collect();
        let stmt = |kind| Ok(Some(Stmt { kind, span }));
        match rule {
            Rule::pass_stmt => stmt(StmtKind::Pass),
            Rule::break_stmt => stmt(StmtKind::Break),
            Rule::continue_stmt => stmt(StmtKind::Continue),
            Rule::doc_stmt => Ok(None),
            Rule::return_stmt => {
                let value = match inner.pop() {
                    Some(q) if q.as_rule() == Rule::expressions => Some(self.expr(q)?),
                    _ => None,
                };
                stmt(StmtKind::Return(value))
            }
            Rule::expr_stmt => {
                let e = inner
                    .pop()
                    .ok_or_else(|| internal(span, "empty expression statement"))?;
                stmt(StmtKind::Expr(self.expr(e)?))
            }
            Rule::aug_stmt => {
                let [target, op, value] = <[_; 3]>::try_from(inner)
                    .map_err(|_| internal(span, "augmented assignment"))?;
                let opspan = self.span(&op);
                let op = match op.as_str() {
                    "+=" => BinOp::Add,
                    "-=" => BinOp::Sub,
                    "*=" => BinOp::Mul,
                    "/=" => BinOp::Div,
                    "//=" => BinOp::FloorDiv,
                    "%=" => BinOp::Mod,
                    "**=" => BinOp::Pow,
                    "<<=" => BinOp::LShift,
                    ">>=" => BinOp::RShift,
                    "&=" => BinOp::BitAnd,
                    "|=" => BinOp::BitOr,
                    "^=" => BinOp::BitXor,
                    other => {
                        return Err(unsupported(
                            opspan,
                            format!("the `{other}` operator is not supported"),
                        ))
                    }
                };
                let target = self.expr(target)?;
                let target = match target.kind {
                    ExprKind::Name(n) => Ident {
                        name: n,
                        span: target.span,
                    },
                    _ => {
                        return Err(unsupported(
                            target.span,
                            "only a name can be the target of an augmented assignment",
                        ))
                    }
                };
                let value = self.expr(value)?;
                stmt(StmtKind::AugAssign { target, op, value })
            }
            Rule::ann_stmt => {
                let mut it = inner
                    .into_iter()
                    .filter(|q| !matches!(q.as_rule(), Rule::colon | Rule::op_assign));
                let target = it.next().ok_or_else(|| internal(span, "annotation"))?;
                let _annotation = it.next();
                let Some(value) = it.next() else {
                    return Err(unsupported(
                        span,
                        "an annotation without a value is not supported",
                    )
                    .with_help("assign a value: `x: int = 0`"));
                };
                let target = self.target(self.expr(target)?)?;
                let value = self.expr(value)?;
                match target {
                    Target::Name(_) => stmt(StmtKind::Assign {
                        targets: vec![target],
                        value,
                    }),
                    Target::Tuple(_, s) => Err(syntax(s, "only a single target can be annotated")),
                }
            }
            Rule::assign_stmt => {
                let mut exprs: Vec<Pair<'_, Rule>> = inner
                    .into_iter()
                    .filter(|q| q.as_rule() == Rule::expressions)
                    .collect();
                let value = exprs
                    .pop()
                    .ok_or_else(|| internal(span, "assignment value"))?;
                let mut targets = Vec::new();
                for t in exprs {
                    targets.push(self.target(self.expr(t)?)?);
                }
                let value = self.expr(value)?;
                stmt(StmtKind::Assign { targets, value })
            }
            _ => Err(internal(span, "unknown simple statement")),
        }
    }

    fn target(&self, e: Expr) -> PResult<Target> {
        let name = |e: Expr| match e.kind {
            ExprKind::Name(n) => Ok(Ident {
                name: n,
                span: e.span,
            }),
            ExprKind::Subscript { .. } | ExprKind::Attribute { .. } => Err(unsupported(
                e.span,
                "only names can be assigned to in a compiled function",
            )),
            _ => Err(syntax(e.span, "cannot assign to this expression")),
        };
        match e.kind {
            ExprKind::Tuple(items) => {
                let span = e.span;
                let names = items.into_iter().map(name).collect::<PResult<Vec<_>>>()?;
                Ok(Target::Tuple(names, span))
            }
            ExprKind::List(_) => Err(unsupported(
                e.span,
                "unpacking into a list target is not supported",
            )),
            _ => Ok(Target::Name(name(e)?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::render_program;

    fn ok(src: &str) -> String {
        match parse_program(src) {
            Ok(p) => render_program(&p),
            Err(e) => panic!("{}", e.render(src)),
        }
    }

    fn err(src: &str) -> CompileError {
        parse_program(src).expect_err("should fail")
    }

    #[test]
    fn the_issue_example() {
        let src = "def expensive_computation(x):\n    result = x\n    for _ in range(20):\n        result = (result * 1.1 + 1) % 1000000\n    return int(result)\n\nrange(0, 200000).map(expensive_computation).sum()\n";
        let r = ok(src);
        assert!(
            r.contains("(for _\n    (call (name range) (int 20))"),
            "{r}"
        );
        assert!(
            r.contains("(return (call (name int) (name result)))"),
            "{r}"
        );
        assert!(
            r.ends_with("map) (name expensive_computation)) sum))"),
            "{r}"
        );
    }

    #[test]
    fn no_def_is_the_old_parser() {
        assert_eq!(
            ok("# c\n range(3)\n  .sum()"),
            "(call (attr (call (name range) (int 3)) sum))"
        );
    }

    #[test]
    fn spans_are_absolute() {
        let src = "def f(x):\n    if x > 1: return x\n    return 0\nrange(3).map(f).sum()";
        let p = parse_program(src).unwrap();
        let StmtKind::If { test, body, .. } = &p.defs[0].body[0].kind else {
            panic!()
        };
        assert_eq!(&src[test.span.start..test.span.end], "x > 1");
        let StmtKind::Return(Some(v)) = &body[0].kind else {
            panic!()
        };
        assert_eq!(&src[v.span.start..v.span.end], "x");
        assert_eq!(
            &src[p.pipeline.span.start..p.pipeline.span.end],
            "range(3).map(f).sum()"
        );
    }

    #[test]
    fn elif_else_and_loops() {
        let src = "def f(x):\n    \"\"\"doc\"\"\"\n    t = 0\n    while x > 0:\n        if x % 2 == 0:\n            t += 1\n        elif x % 3 == 0:\n            continue\n        else:\n            break\n        x -= 1\n    a, b = t, x\n    return a + b\nrange(3).map(f).sum()";
        let r = ok(src);
        assert!(r.contains("(if (compare (binop % (name x) (int 3)) == (int 0)) (body (continue)) (else (break)))"), "{r}");
        assert!(
            r.contains("(assign (tuple a b) (tuple (name t) (name x)))"),
            "{r}"
        );
    }

    #[test]
    fn errors_have_positions() {
        let src = "def f(x):\nreturn x\nrange(3).sum()";
        let e = err(src);
        assert!(e.message.contains("expected an indented block"), "{e:?}");
        let e = err("def f(x):\n    import math\n    return 1\nrange(3).sum()");
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert_eq!(e.line_col("def f(x):\n    import math\n"), (2, 5));
        let e = err("def f(x):\n    return x\n");
        assert!(e.message.contains("pipeline"), "{e:?}");
        let e = err("def f(x):\n    if x:\n        return 1\n      return 2\nrange(3).sum()");
        assert!(e.message.contains("unindent"), "{e:?}");
        let e = err("def f(x):\n    for i in range(3):\n        pass\n    else:\n        pass\n    return 1\nrange(3).sum()");
        assert_eq!(e.kind, ErrorKind::Unsupported);
        let e = err("def f(x):\n    x[0] = 1\n    return 1\nrange(3).sum()");
        assert_eq!(e.kind, ErrorKind::Unsupported);
        let e = err("def f(x):\n    return x +\nrange(3).sum()");
        assert_eq!(e.kind, ErrorKind::Syntax);
        assert_eq!(e.line_col("def f(x):\n    return x +\n").0, 2);
    }
}
