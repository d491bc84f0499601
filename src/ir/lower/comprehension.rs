//! Generator expressions and comprehensions inside a stage: `sum(j * j for j in range(i) if
//! j % 3 == 0)`, `all(k % d for d in range(2, r))`, `max(f(i, j) for j in range(n))`, and
//! `sum`/`min`/`max` of `range(...)` or of a list display. They lower onto the statement
//! machinery of nested pipelines: an `ExprKind::Block` with one `ForRange` per `for` clause
//! (a list or tuple display is unrolled), an `If` per condition, the reducer's update in the
//! innermost body and `Return` for early exits, so `any`/`all` stop at the first deciding
//! element and an error after it is never raised. Also `:=` in a lambda.

use super::*;

/// The reducers a comprehension can feed.
#[derive(Clone, Copy, PartialEq)]
enum Reducer {
    Sum,
    Any,
    All,
    Min,
    Max,
}

/// A `for` clause's iterable, lowered.
enum Iterable {
    Range(Expr, Expr, Expr),
    /// A list or tuple display's items, each evaluated once before the loop.
    Items(Vec<Expr>),
}

/// The most items of a list or tuple display a comprehension loops over (it is unrolled).
const MAX_UNROLL: usize = 32;

impl Lowerer {
    /// `f(arg)` where `f` is `sum`, `any`, `all`, `min` or `max` and `arg` is a generator
    /// expression, a list comprehension, a `range(...)` call or a list/tuple display; None when
    /// the call is something else (then it is an ordinary call).
    pub(super) fn reducer_call(
        &mut self,
        fname: &str,
        args: &[ast::Expr],
        kwargs: &[(ast::Ident, ast::Expr)],
        span: Span,
    ) -> CResult<Option<Expr>> {
        let reducer = match fname {
            "sum" => Reducer::Sum,
            "any" => Reducer::Any,
            "all" => Reducer::All,
            "min" => Reducer::Min,
            "max" => Reducer::Max,
            _ => return Ok(None),
        };
        let [arg] = args else {
            if reducer == Reducer::Sum && args.len() == 2 {
                return Err(unsupported(
                    args[1].span,
                    "sum() with a start value is not compiled",
                ));
            }
            return Ok(None);
        };
        let iterable = matches!(
            &arg.kind,
            ast::ExprKind::Comprehension { .. } | ast::ExprKind::List(_) | ast::ExprKind::Tuple(_)
        ) || is_range_call(arg) && !is_nested_pipeline(arg);
        if !iterable {
            return Ok(None);
        }
        let mut default = None;
        for (k, v) in kwargs {
            match (reducer, k.name.as_str()) {
                (Reducer::Min | Reducer::Max, "default") => default = Some(v),
                _ => {
                    return Err(unsupported(
                        k.span,
                        format!("keyword argument `{}` of {fname}() is not compiled", k.name),
                    ))
                }
            }
        }
        if let (
            Reducer::Min | Reducer::Max,
            None,
            ast::ExprKind::List(items) | ast::ExprKind::Tuple(items),
        ) = (reducer, default, &arg.kind)
        {
            // `min([a, b, c])` is `min(a, b, c)`: items of any types, the first extreme kept.
            if items.is_empty() {
                return Ok(Some(empty_min_max(reducer, span)));
            }
            let mut vals = Vec::new();
            for it in items {
                vals.push(self.expr(it)?);
            }
            if vals.len() == 1 {
                return Ok(vals.pop());
            }
            return self
                .minmax_any(reducer == Reducer::Max, vals, span)
                .map(Some);
        }
        let (elt, clauses): (&ast::Expr, Vec<ast::CompClause>) = match &arg.kind {
            ast::ExprKind::Comprehension { elt, clauses, .. } => (elt, clauses.clone()),
            // `sum(range(n))`, `max([a, b])`: the elements themselves.
            _ => {
                let prev = std::mem::replace(&mut self.eager, false);
                let target = ast::Ident {
                    name: "$item".into(),
                    span: arg.span,
                };
                let r = self
                    .reduce_clauses(
                        reducer,
                        &ast::Expr {
                            kind: ast::ExprKind::Name(target.name.clone()),
                            span: arg.span,
                        },
                        &[ast::CompClause {
                            target,
                            iter: arg.clone(),
                            ifs: Vec::new(),
                        }],
                        default,
                        span,
                    )
                    .map(Some);
                self.eager = prev;
                return r;
            }
        };
        // A list comprehension is built whole before `any`/`all` look at it: every element
        // is computed (and may raise) even after the deciding one.
        let eager = matches!(&arg.kind, ast::ExprKind::Comprehension { list: true, .. });
        let prev = std::mem::replace(&mut self.eager, eager);
        let r = self.reduce_clauses(reducer, elt, &clauses, default, span);
        self.eager = prev;
        r.map(Some)
    }

    fn reduce_clauses(
        &mut self,
        reducer: Reducer,
        elt: &ast::Expr,
        clauses: &[ast::CompClause],
        default: Option<&ast::Expr>,
        span: Span,
    ) -> CResult<Expr> {
        let mark = self.scopes.len();
        let res = self.reduce_clauses_in(reducer, elt, clauses, default, span);
        self.scopes.truncate(mark);
        res
    }

    fn reduce_clauses_in(
        &mut self,
        reducer: Reducer,
        elt: &ast::Expr,
        clauses: &[ast::CompClause],
        default: Option<&ast::Expr>,
        span: Span,
    ) -> CResult<Expr> {
        let int = |v: i64| mk(ExprKind::ConstInt(BigInt::from(v)), Type::Int, span);
        let boolean = |v: bool| mk(ExprKind::ConstBool(v), Type::Bool, span);
        // The accumulator of `sum`, the best value of `min`/`max` and whether one was seen.
        let mut acc: Option<VarId> = None;
        let seen = self.new_var("$seen", Type::Bool);
        let mut pre = Vec::new();
        if reducer == Reducer::Sum {
            let v = self.new_var("$sum", Type::Int);
            pre.push(Stmt::Assign(v, int(0)));
            acc = Some(v);
        }
        let eager = self.eager && matches!(reducer, Reducer::Any | Reducer::All);
        if eager || matches!(reducer, Reducer::Min | Reducer::Max) {
            pre.push(Stmt::Assign(seen, boolean(false)));
        }
        // The first clause's iterable is evaluated when the generator is made, before
        // anything else; inner ones each time their loop is reached.
        self.cond_depth += 1;
        let body = self.clause_loops(reducer, elt, clauses, &mut acc, seen, span);
        self.cond_depth -= 1;
        pre.extend(body?);
        let decided = mk(ExprKind::Var(seen), Type::Bool, span);
        let result = match reducer {
            Reducer::Sum => mk(ExprKind::Var(acc.expect("sum")), Type::Int, span),
            // Eager (a list): `seen` holds whether an element decided.
            Reducer::Any if eager => decided,
            Reducer::All if eager => mk(
                ExprKind::Unary(UnOp::BNot, Box::new(decided)),
                Type::Bool,
                span,
            ),
            Reducer::Any => boolean(false),
            Reducer::All => boolean(true),
            Reducer::Min | Reducer::Max => {
                let Some(best) = acc else {
                    // No element can reach the reducer (an empty display).
                    return match default {
                        Some(d) => self.expr(d),
                        None => Ok(empty_min_max(reducer, span)),
                    };
                };
                let ty = self.vars[best.0 as usize].ty;
                let best = mk(ExprKind::Var(best), ty, span);
                let not_seen = mk(
                    ExprKind::Unary(
                        UnOp::BNot,
                        Box::new(mk(ExprKind::Var(seen), Type::Bool, span)),
                    ),
                    Type::Bool,
                    span,
                );
                match default {
                    None => {
                        let code = if reducer == Reducer::Min {
                            crate::errors::ErrCode::MinEmpty
                        } else {
                            crate::errors::ErrCode::MaxEmpty
                        };
                        pre.push(Stmt::If(not_seen, vec![Stmt::Raise(code)], Vec::new()));
                        best
                    }
                    Some(d) => {
                        // `default` is evaluated with the call, before the iteration.
                        let d = self.expr(d)?;
                        let t = join(ty, d.ty);
                        let dv = self.new_var("$default", d.ty);
                        pre.insert(0, Stmt::Assign(dv, d));
                        let d = mk(ExprKind::Var(dv), self.vars[dv.0 as usize].ty, span);
                        pre.push(Stmt::If(
                            not_seen,
                            vec![Stmt::Return(coerce(d, t))],
                            Vec::new(),
                        ));
                        coerce(best, t)
                    }
                }
            }
        };
        let ty = result.ty;
        pre.push(Stmt::Return(result));
        Ok(mk(ExprKind::Block(pre), ty, span))
    }

    /// The loops of `clauses` around the reducer's update of `elt`.
    fn clause_loops(
        &mut self,
        reducer: Reducer,
        elt: &ast::Expr,
        clauses: &[ast::CompClause],
        acc: &mut Option<VarId>,
        seen: VarId,
        span: Span,
    ) -> CResult<Vec<Stmt>> {
        let Some((c, rest)) = clauses.split_first() else {
            return self.reducer_update(reducer, elt, acc, seen, span);
        };
        let mut out = Vec::new();
        match self.iterable(&c.iter)? {
            Iterable::Range(start, stop, step) => {
                let var = self.new_var(&c.target.name, Type::Int);
                self.scopes.push((c.target.name.clone(), var));
                let body = self.clause_body(reducer, elt, c, rest, acc, seen, span);
                self.scopes.pop();
                out.push(Stmt::ForRange {
                    var,
                    start,
                    stop,
                    step,
                    first: None,
                    body: body?,
                });
            }
            Iterable::Items(items) => {
                let mut vars = Vec::new();
                for it in items {
                    let v = self.new_var(&c.target.name, it.ty);
                    out.push(Stmt::Assign(v, it));
                    vars.push(v);
                }
                for v in vars {
                    self.scopes.push((c.target.name.clone(), v));
                    let body = self.clause_body(reducer, elt, c, rest, acc, seen, span);
                    self.scopes.pop();
                    out.extend(body?);
                }
            }
        }
        Ok(out)
    }

    /// One iteration of clause `c`: its conditions, then the clauses after it.
    #[allow(clippy::too_many_arguments)]
    fn clause_body(
        &mut self,
        reducer: Reducer,
        elt: &ast::Expr,
        c: &ast::CompClause,
        rest: &[ast::CompClause],
        acc: &mut Option<VarId>,
        seen: VarId,
        span: Span,
    ) -> CResult<Vec<Stmt>> {
        let mut conds = Vec::new();
        for cond in &c.ifs {
            conds.push(self.cond(cond)?);
        }
        let mut body = self.clause_loops(reducer, elt, rest, acc, seen, span)?;
        // Each condition guards the next: `if a if b` is `if a: if b:`.
        for cond in conds.into_iter().rev() {
            body = vec![Stmt::If(cond, body, Vec::new())];
        }
        Ok(body)
    }

    fn iterable(&mut self, e: &ast::Expr) -> CResult<Iterable> {
        if is_range_call(e) && !is_nested_pipeline(e) {
            let ast::ExprKind::Call { args, kwargs, .. } = &e.kind else {
                unreachable!("a range call")
            };
            if let Some((k, _)) = kwargs.first() {
                return Err(err(
                    ErrorKind::Type,
                    k.span,
                    "range() takes no keyword arguments",
                ));
            }
            let (start, stop, step) = self.range_bounds("range", args, e.span)?;
            return Ok(Iterable::Range(start, stop, step));
        }
        match &e.kind {
            ast::ExprKind::List(items) | ast::ExprKind::Tuple(items) => {
                if items.len() > MAX_UNROLL {
                    return Err(unsupported(
                        e.span,
                        format!(
                            "a comprehension over a display of more than {MAX_UNROLL} items is not compiled"
                        ),
                    ));
                }
                let mut vals = Vec::new();
                for it in items {
                    vals.push(self.expr(it)?);
                }
                Ok(Iterable::Items(vals))
            }
            _ => Err(unsupported(
                e.span,
                "a comprehension is compiled over `range(...)` or a list or tuple display only",
            )
            .with_help("loop over range(len(...)) or write the loop as a pipeline")),
        }
    }

    /// The reducer's step for one element: `elt` evaluated once, then added, tested or
    /// compared.
    fn reducer_update(
        &mut self,
        reducer: Reducer,
        elt: &ast::Expr,
        acc: &mut Option<VarId>,
        seen: VarId,
        span: Span,
    ) -> CResult<Vec<Stmt>> {
        let boolean = |v: bool| mk(ExprKind::ConstBool(v), Type::Bool, span);
        Ok(match reducer {
            Reducer::Any | Reducer::All => {
                // Read before the element: a reduction inside it sets its own.
                let eager = self.eager;
                let c = self.cond(elt)?;
                let any = reducer == Reducer::Any;
                let c = if any {
                    c
                } else {
                    mk(ExprKind::Unary(UnOp::BNot, Box::new(c)), Type::Bool, span)
                };
                if eager {
                    // Every element is computed; the first deciding one is remembered.
                    return Ok(vec![Stmt::If(
                        c,
                        vec![Stmt::Assign(seen, boolean(true))],
                        Vec::new(),
                    )]);
                }
                vec![Stmt::If(c, vec![Stmt::Return(boolean(any))], Vec::new())]
            }
            Reducer::Sum => {
                let v = self.expr(elt)?;
                if matches!(v.ty, Type::Float | Type::Num) {
                    return Err(unsupported(
                        elt.span,
                        "sum() of floats inside a stage is not compiled yet: CPython's result depends on its version",
                    )
                    .with_help("sum ints here, or make the float sum a pipeline's consumer"));
                }
                let a = acc.expect("sum");
                let cur = mk(ExprKind::Var(a), Type::Int, span);
                vec![Stmt::Assign(
                    a,
                    bin(BinOp::IAdd, cur, to_int(v), Type::Int, span),
                )]
            }
            Reducer::Min | Reducer::Max => {
                let v = self.expr(elt)?;
                let best = match *acc {
                    Some(b) => b,
                    None => {
                        let b = self.new_var("$best", v.ty);
                        *acc = Some(b);
                        b
                    }
                };
                let bty = self.vars[best.0 as usize].ty;
                if bty != v.ty {
                    return Err(unsupported(
                        elt.span,
                        "the elements of this comprehension have different types in different iterations",
                    ));
                }
                let tmp = self.new_var("$elt", v.ty);
                let x = mk(ExprKind::Var(tmp), v.ty, span);
                let b = mk(ExprKind::Var(best), bty, span);
                // Python keeps the current value unless the next one is strictly better.
                let op = if reducer == Reducer::Min {
                    ast::CmpOp::Lt
                } else {
                    ast::CmpOp::Gt
                };
                let better = self.compare_any(op, x.clone(), b, span)?;
                let s = mk(ExprKind::Var(seen), Type::Bool, span);
                let not_seen = mk(ExprKind::Unary(UnOp::BNot, Box::new(s)), Type::Bool, span);
                let take = fold_boolop(ast::BoolOp::Or, vec![not_seen, better], span);
                vec![
                    Stmt::Assign(tmp, v),
                    Stmt::If(
                        take,
                        vec![Stmt::Assign(best, x), Stmt::Assign(seen, boolean(true))],
                        Vec::new(),
                    ),
                ]
            }
        })
    }

    /// `target := value` in a lambda: evaluated where it stands, then `target` reads it for
    /// the rest of the lambda. Only where it certainly runs before those reads (not inside a
    /// conditional branch, `and`/`or`, a comprehension or a later comparison of a chain), and
    /// not in a `def`, where the name would be a local of the function.
    pub(super) fn named_expr(
        &mut self,
        target: &ast::Ident,
        value: &ast::Expr,
        span: Span,
    ) -> CResult<Expr> {
        if !self.fns.is_empty() {
            return Err(unsupported(
                span,
                "an assignment expression (`:=`) inside a function is not compiled",
            )
            .with_help("assign with `=` on a line of its own"));
        }
        if self.cond_depth > 0 {
            return Err(unsupported(
                span,
                "an assignment expression (`:=`) that may not run (in a branch, `and`/`or`, or a comprehension) is not compiled",
            ));
        }
        let v = self.expr(value)?;
        let ty = v.ty;
        let var = self.new_var(&target.name, ty);
        self.scopes.push((target.name.clone(), var));
        Ok(mk(
            ExprKind::Let(var, Box::new(v), Box::new(mk(ExprKind::Var(var), ty, span))),
            ty,
            span,
        ))
    }
}

/// `min()`/`max()` of nothing, without a default: always raises.
fn empty_min_max(reducer: Reducer, span: Span) -> Expr {
    let code = if reducer == Reducer::Min {
        crate::errors::ErrCode::MinEmpty
    } else {
        crate::errors::ErrCode::MaxEmpty
    };
    mk(
        ExprKind::Block(vec![
            Stmt::Raise(code),
            Stmt::Return(mk(ExprKind::ConstInt(BigInt::zero()), Type::Int, span)),
        ]),
        Type::Int,
        span,
    )
}
