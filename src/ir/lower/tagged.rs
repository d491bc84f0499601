//! Tagged numbers in lowering: where values of different types meet (a conditional's
//! branches, `min`/`max` of an int and a float, `and`/`or`, a def's returns and locals, a
//! reduce's accumulator, a list mixing ints and floats) the value becomes a `Num`, and every
//! operation on a `Num` is an `ExprKind::Case` whose arms are the typed operations. Each arm
//! makes CPython's decision for its operand types with the ordinary lowering rules, so the
//! tag only decides which of them runs; the result is untagged again whenever every arm gives
//! the same type (`float(n)`, `int(n)`, a comparison, `n + 0.5`).

use super::*;

/// `e` as a `Num` (unchanged when it is one).
pub(super) fn tag(e: Expr) -> Expr {
    if e.ty == Type::Num {
        return e;
    }
    let span = e.span;
    mk(ExprKind::Tag(Box::new(e)), Type::Num, span)
}

/// The type where values of types `a` and `b` meet: theirs when they agree, else `Num`.
pub(super) fn join(a: Type, b: Type) -> Type {
    if a == b {
        a
    } else {
        Type::Num
    }
}

/// `e` as a value of `ty`, which is its own type or `Num`.
pub(super) fn coerce(e: Expr, ty: Type) -> Expr {
    if ty == Type::Num {
        tag(e)
    } else {
        e
    }
}

/// Whether reading `e` twice is as good as evaluating it once (no work, no exception).
fn trivial(e: &Expr) -> bool {
    matches!(
        e.kind,
        ExprKind::Var(_)
            | ExprKind::Param(_)
            | ExprKind::ConstInt(_)
            | ExprKind::ConstFloat(_)
            | ExprKind::ConstBool(_)
            | ExprKind::Index
    )
}

impl Lowerer {
    /// Bind the operands to temporaries, in order, unless they are trivial: the returned
    /// uses can be read in every arm of a `Case`, each evaluated once and in Python's order.
    pub(super) fn share(&mut self, vals: Vec<Expr>) -> (Vec<(VarId, Expr)>, Vec<Expr>) {
        let mut lets = Vec::new();
        let mut uses = Vec::new();
        for v in vals {
            if trivial(&v) {
                uses.push(v);
            } else {
                let var = self.new_var("$t", v.ty);
                uses.push(mk(ExprKind::Var(var), v.ty, v.span));
                lets.push((var, v));
            }
        }
        (lets, uses)
    }

    /// Wrap `body` in the `Let`s of `share`, the first binding outermost.
    pub(super) fn with_lets(lets: Vec<(VarId, Expr)>, body: Expr) -> Expr {
        lets.into_iter().rev().fold(body, |b, (v, value)| {
            let (ty, span) = (b.ty, b.span);
            mk(ExprKind::Let(v, Box::new(value), Box::new(b)), ty, span)
        })
    }

    /// Dispatch on the tag of `n` (a `Num` that is trivial to read): `f` builds each arm from
    /// the typed payload. Arms of different types are tagged.
    fn case_of(
        &mut self,
        n: Expr,
        span: Span,
        f: &mut dyn FnMut(&mut Lowerer, Expr) -> CResult<Expr>,
    ) -> CResult<Expr> {
        let mut arms = Vec::with_capacity(3);
        for t in Type::TAGGED {
            let v = self.new_var("$n", t);
            let body = f(self, mk(ExprKind::Var(v), t, n.span))?;
            arms.push((v, body));
        }
        let ty = arms
            .iter()
            .skip(1)
            .fold(arms[0].1.ty, |t, a| join(t, a.1.ty));
        let arms: Vec<(VarId, Expr)> = arms.into_iter().map(|(v, e)| (v, coerce(e, ty))).collect();
        let arms: [(VarId, Expr); 3] = arms.try_into().expect("three arms");
        Ok(mk(ExprKind::Case(Box::new(n), Box::new(arms)), ty, span))
    }

    /// `f` over operands of which some may be `Num`s: the operands are evaluated once, in
    /// order, then each `Num` among them is dispatched on, so `f` sees typed operands only.
    pub(super) fn over_typed(
        &mut self,
        vals: Vec<Expr>,
        span: Span,
        f: &mut dyn FnMut(&mut Lowerer, Vec<Expr>) -> CResult<Expr>,
    ) -> CResult<Expr> {
        if vals.iter().all(|v| v.ty != Type::Num) {
            return f(self, vals);
        }
        let (lets, uses) = self.share(vals);
        let body = self.dispatch(uses, 0, span, f)?;
        Ok(Self::with_lets(lets, body))
    }

    fn dispatch(
        &mut self,
        uses: Vec<Expr>,
        from: usize,
        span: Span,
        f: &mut dyn FnMut(&mut Lowerer, Vec<Expr>) -> CResult<Expr>,
    ) -> CResult<Expr> {
        let Some(k) = (from..uses.len()).find(|&k| uses[k].ty == Type::Num) else {
            return f(self, uses);
        };
        let n = uses[k].clone();
        self.case_of(n, span, &mut |lw, payload| {
            let mut typed = uses.clone();
            typed[k] = payload;
            lw.dispatch(typed, k + 1, span, f)
        })
    }

    pub(super) fn binary_any(
        &mut self,
        op: ast::BinOp,
        l: Expr,
        r: Expr,
        span: Span,
    ) -> CResult<Expr> {
        self.over_typed(vec![l, r], span, &mut |lw, mut v| {
            let r = v.pop().expect("two operands");
            let l = v.pop().expect("two operands");
            if op == ast::BinOp::Pow && l.ty != Type::Float && r.ty != Type::Float {
                let k = fold::fold_expr(to_int(r.clone()));
                if !matches!(k.kind, ExprKind::ConstInt(_)) {
                    return lw.int_pow_var(to_int(l), k, span);
                }
            }
            binary(op, l, r, span)
        })
    }

    /// `a ** b` for ints whose exponent is not a constant: an int when `b >= 0`, else the
    /// float CPython computes as `float(a) ** float(b)` (`0 ** -1` raises).
    fn int_pow_var(&mut self, a: Expr, b: Expr, span: Span) -> CResult<Expr> {
        let (lets, mut uses) = self.share(vec![a, b]);
        let b = uses.pop().expect("two operands");
        let a = uses.pop().expect("two operands");
        let zero = mk(ExprKind::ConstInt(BigInt::zero()), Type::Int, span);
        let nonneg = compare2(ast::CmpOp::GtE, b.clone(), zero, span)?;
        let int = bin(BinOp::IPowVar, a.clone(), b.clone(), Type::Int, span);
        let float = bin(BinOp::FPow, to_float(a), to_float(b), Type::Float, span);
        let e = mk(
            ExprKind::If(Box::new(nonneg), Box::new(tag(int)), Box::new(tag(float))),
            Type::Num,
            span,
        );
        Ok(Self::with_lets(lets, e))
    }

    pub(super) fn unary_any(&mut self, op: ast::UnaryOp, v: Expr, span: Span) -> CResult<Expr> {
        if op == ast::UnaryOp::Not {
            return unary(op, v, span);
        }
        self.over_typed(vec![v], span, &mut |_, mut v| {
            unary(op, v.pop().expect("one operand"), span)
        })
    }

    pub(super) fn compare_any(
        &mut self,
        op: ast::CmpOp,
        l: Expr,
        r: Expr,
        span: Span,
    ) -> CResult<Expr> {
        self.over_typed(vec![l, r], span, &mut |_, mut v| {
            let r = v.pop().expect("two operands");
            let l = v.pop().expect("two operands");
            compare2(op, l, r, span)
        })
    }

    /// `a if c else b`: a `Num` when the branches' types differ.
    pub(super) fn if_any(&mut self, c: Expr, a: Expr, b: Expr, span: Span) -> Expr {
        let ty = join(a.ty, b.ty);
        let (a, b) = (coerce(a, ty), coerce(b, ty));
        mk(
            ExprKind::If(Box::new(c), Box::new(a), Box::new(b)),
            ty,
            span,
        )
    }

    /// `a and b and ...` / `a or b or ...` over operands of different types: each operand is
    /// tested once, and the result is the operand Python returns, with its own type.
    pub(super) fn boolop_any(&mut self, op: ast::BoolOp, parts: Vec<Expr>, span: Span) -> Expr {
        let ty = parts.iter().skip(1).fold(parts[0].ty, |t, p| join(t, p.ty));
        if ty != Type::Num {
            return fold_boolop(op, parts, span);
        }
        let mut it = parts.into_iter().rev();
        let last = tag(it.next().expect("a boolean operation has operands"));
        it.fold(last, |rest, a| {
            let (lets, mut uses) = self.share(vec![a]);
            let a = uses.pop().expect("one operand");
            let t = truth(a.clone());
            let (then, other) = match op {
                ast::BoolOp::And => (rest, tag(a)),
                ast::BoolOp::Or => (tag(a), rest),
            };
            let e = mk(
                ExprKind::If(Box::new(t), Box::new(then), Box::new(other)),
                Type::Num,
                span,
            );
            Self::with_lets(lets, e)
        })
    }

    /// `min(a, b, ...)` / `max(a, b, ...)` of different types: the first of the extreme
    /// values, as the object it is (`max(0, 0.0)` is `0`, `max(0.0, 0)` is `0.0`). The
    /// arguments are evaluated first, in order, then compared left to right.
    pub(super) fn minmax_any(&mut self, max: bool, args: Vec<Expr>, span: Span) -> CResult<Expr> {
        let (mut lets, uses) = self.share(args);
        let mut it = uses.into_iter();
        let mut best = it.next().expect("two or more arguments");
        // Python keeps the current value unless the next one is strictly better.
        let op = if max { ast::CmpOp::Gt } else { ast::CmpOp::Lt };
        for b in it {
            if !trivial(&best) {
                let v = self.new_var("$m", best.ty);
                let read = mk(ExprKind::Var(v), best.ty, span);
                lets.push((v, std::mem::replace(&mut best, read)));
            }
            let ty = join(best.ty, b.ty);
            let better = self.compare_any(op, b.clone(), best.clone(), span)?;
            best = mk(
                ExprKind::If(
                    Box::new(better),
                    Box::new(coerce(b, ty)),
                    Box::new(coerce(best, ty)),
                ),
                ty,
                span,
            );
        }
        Ok(Self::with_lets(lets, best))
    }
}
