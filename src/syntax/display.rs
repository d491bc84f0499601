//! The AST's stable text rendering: an S-expression, used by `fastc --emit ast` and by the
//! parser's snapshot tests.
//!
//! One node is `(head fields... children...)`: `(int 10)`, `(float 1.5)`, `(bool True)`,
//! `(none)`, `(name x)`, `(attr VALUE name)`, `(call FUNC ARGS... (kw name VALUE)...)`,
//! `(index VALUE INDEX)`, `(unary - X)`, `(binop + L R)`, `(and A B ...)`, `(or A B ...)`,
//! `(compare A < B <= C)`, `(if TEST then BODY else ORELSE)`, `(lambda [x y] BODY)`,
//! `(list ...)`, `(tuple ...)`, `(genexpr ELT (for x ITER (if COND)...)...)`, `(listcomp ...)`,
//! `(walrus x VALUE)`. Spans are not shown.
//!
//! A node that fits in [`WIDTH`] columns is printed on one line; a longer one prints its head
//! (and any leading plain fields) on the first line and each further part on its own line,
//! indented by two spaces.

use super::ast::{BoolOp, Expr, ExprKind, Program, Stmt, StmtKind, Target};

/// The line width the rendering tries to stay within.
const WIDTH: usize = 100;

/// Render an expression as an S-expression, e.g.
/// `(call (attr (call (name range) (int 10)) map) (lambda [x] (binop * (name x) (int 3))))`.
pub fn render_ast(e: &Expr) -> String {
    let mut out = String::new();
    sexp(e).pretty(0, &mut out);
    out
}

/// Render a program: each `def` as `(def name [params] STMTS...)`, then the pipeline.
/// Statements are `(assign TARGETS... VALUE)`, `(augassign + x VALUE)`, `(if TEST (body ...)
/// (else ...))`, `(for x ITER (body ...))`, `(while TEST (body ...))`, `(return VALUE)`,
/// `(break)`, `(continue)`, `(pass)`, `(expr VALUE)`.
pub fn render_program(p: &Program) -> String {
    let mut out = String::new();
    for d in &p.defs {
        let names: Vec<String> = d
            .params
            .iter()
            .zip(&d.defaults)
            .map(|(p, dv)| match dv {
                Some(v) => format!("{}={}", p.name, render_ast(v)),
                None => p.name.clone(),
            })
            .collect();
        let mut items = vec![
            atom(d.name.name.clone()),
            atom(format!("[{}]", names.join(" "))),
        ];
        items.extend(d.body.iter().map(stmt));
        list("def", items).pretty(0, &mut out);
        out.push('\n');
    }
    sexp(&p.pipeline).pretty(0, &mut out);
    out
}

fn block(head: &str, body: &[Stmt]) -> Sx {
    list(head, body.iter().map(stmt))
}

fn target(t: &Target) -> Sx {
    match t {
        Target::Name(n) => atom(n.name.clone()),
        Target::Tuple(ns, _) => list("tuple", ns.iter().map(|n| atom(n.name.clone()))),
    }
}

fn stmt(s: &Stmt) -> Sx {
    match &s.kind {
        StmtKind::Assign { targets, value } => {
            let mut items: Vec<Sx> = targets.iter().map(target).collect();
            items.push(sexp(value));
            list("assign", items)
        }
        StmtKind::AugAssign { target, op, value } => list(
            "augassign",
            [atom(op.symbol()), atom(target.name.clone()), sexp(value)],
        ),
        StmtKind::If { test, body, orelse } => {
            let mut items = vec![sexp(test), block("body", body)];
            if !orelse.is_empty() {
                items.push(block("else", orelse));
            }
            list("if", items)
        }
        StmtKind::For { target, iter, body } => list(
            "for",
            [atom(target.name.clone()), sexp(iter), block("body", body)],
        ),
        StmtKind::While { test, body } => list("while", [sexp(test), block("body", body)]),
        StmtKind::Break => list("break", []),
        StmtKind::Continue => list("continue", []),
        StmtKind::Return(v) => list("return", v.iter().map(sexp)),
        StmtKind::Pass => list("pass", []),
        StmtKind::Expr(e) => list("expr", [sexp(e)]),
    }
}

/// An S-expression: a plain word, or a parenthesised list whose first element is the head.
enum Sx {
    Atom(String),
    List(Vec<Sx>),
}

fn atom(s: impl Into<String>) -> Sx {
    Sx::Atom(s.into())
}

fn list(head: &str, rest: impl IntoIterator<Item = Sx>) -> Sx {
    let mut items = vec![atom(head)];
    items.extend(rest);
    Sx::List(items)
}

fn sexp(e: &Expr) -> Sx {
    match &e.kind {
        ExprKind::Int(v) => list("int", [atom(v.to_string())]),
        ExprKind::Float(v) => list("float", [atom(format!("{v:?}"))]),
        ExprKind::Bool(b) => list("bool", [atom(if *b { "True" } else { "False" })]),
        ExprKind::None => list("none", []),
        ExprKind::Name(n) => list("name", [atom(n.clone())]),
        ExprKind::Attribute { value, attr } => list("attr", [sexp(value), atom(attr.name.clone())]),
        ExprKind::Call { func, args, kwargs } => {
            let mut items = vec![sexp(func)];
            items.extend(args.iter().map(sexp));
            items.extend(
                kwargs
                    .iter()
                    .map(|(k, v)| list("kw", [atom(k.name.clone()), sexp(v)])),
            );
            list("call", items)
        }
        ExprKind::Subscript { value, index } => list("index", [sexp(value), sexp(index)]),
        ExprKind::Unary { op, operand } => list("unary", [atom(op.symbol().trim()), sexp(operand)]),
        ExprKind::Binary { op, left, right } => {
            list("binop", [atom(op.symbol()), sexp(left), sexp(right)])
        }
        ExprKind::BoolOp { op, values } => {
            let head = match op {
                BoolOp::And => "and",
                BoolOp::Or => "or",
            };
            list(head, values.iter().map(sexp))
        }
        ExprKind::Compare { left, ops } => {
            let mut items = vec![sexp(left)];
            for (op, right) in ops {
                items.push(atom(op.symbol()));
                items.push(sexp(right));
            }
            list("compare", items)
        }
        ExprKind::IfExp { test, body, orelse } => list(
            "if",
            [
                sexp(test),
                atom("then"),
                sexp(body),
                atom("else"),
                sexp(orelse),
            ],
        ),
        ExprKind::Lambda { params, body } => {
            let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
            list(
                "lambda",
                [atom(format!("[{}]", names.join(" "))), sexp(body)],
            )
        }
        ExprKind::List(items) => list("list", items.iter().map(sexp)),
        ExprKind::Tuple(items) => list("tuple", items.iter().map(sexp)),
        ExprKind::Comprehension {
            elt,
            clauses,
            list: l,
        } => {
            let mut items = vec![sexp(elt)];
            for c in clauses {
                let mut parts = vec![atom(c.target.name.clone()), sexp(&c.iter)];
                for cond in &c.ifs {
                    parts.push(list("if", [sexp(cond)]));
                }
                items.push(list("for", parts));
            }
            list(if *l { "listcomp" } else { "genexpr" }, items)
        }
        ExprKind::NamedExpr { target, value } => {
            list("walrus", [atom(target.name.clone()), sexp(value)])
        }
    }
}

impl Sx {
    fn flat_len(&self) -> usize {
        match self {
            Sx::Atom(s) => s.len(),
            Sx::List(items) => {
                2 + items.iter().map(Sx::flat_len).sum::<usize>() + items.len().saturating_sub(1)
            }
        }
    }

    fn flat(&self, out: &mut String) {
        match self {
            Sx::Atom(s) => out.push_str(s),
            Sx::List(items) => {
                out.push('(');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    item.flat(out);
                }
                out.push(')');
            }
        }
    }

    fn pretty(&self, indent: usize, out: &mut String) {
        let Sx::List(items) = self else {
            return self.flat(out);
        };
        if indent + self.flat_len() <= WIDTH {
            return self.flat(out);
        }
        out.push('(');
        // The head and the plain fields right after it stay on the first line.
        let head_len = items
            .iter()
            .take_while(|i| matches!(i, Sx::Atom(_)))
            .count();
        for (i, item) in items.iter().enumerate() {
            if i < head_len {
                if i > 0 {
                    out.push(' ');
                }
                item.flat(out);
            } else {
                out.push('\n');
                out.push_str(&" ".repeat(indent + 2));
                item.pretty(indent + 2, out);
            }
        }
        out.push(')');
    }
}
