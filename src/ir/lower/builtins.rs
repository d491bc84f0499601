//! Calls of the builtin table (`crate::builtins`): `math.*`, `divmod`, `pow`, `round` and the
//! int/float methods. A call is resolved to its declaration (refused where the running
//! Python lacks it: CPython raises AttributeError there), its arguments are bound by the
//! declaration's signature (positional, keyword, defaults, `*args`), tagged numbers among them
//! are dispatched on, and the declaration's rule makes CPython's decisions for the typed
//! arguments: which conversion (`__index__` for ints, exact `float()` for floats), which
//! operation, which result type. Tuples (`divmod`, `frexp`, `modf`) are compiled where they
//! are indexed with a constant or unpacked in a `def`.

use super::*;
use crate::builtins::{self, Classify, Decl, Func, Owner, Rule};
use crate::pyops::floats::{self, HypotAlg};

/// A name as written, with where.
#[derive(Clone, Copy)]
pub(super) struct Name<'e> {
    name: &'e str,
    span: Span,
}

/// What a call names, as written.
#[derive(Clone, Copy)]
pub(super) enum Callee<'e> {
    /// `math.name`
    Math(Name<'e>),
    /// `divmod`, `pow`, `round`
    Builtin(Name<'e>),
    /// `receiver.name`: a method of whatever type the receiver has.
    Method(&'e ast::Expr, Name<'e>),
    /// `int.name` / `float.name` called with the receiver as its first argument.
    Unbound(Owner, Name<'e>),
}

fn ident(i: &ast::Ident) -> Name<'_> {
    Name {
        name: &i.name,
        span: i.span,
    }
}

/// Lowered positional arguments and keyword arguments.
type Args = (Vec<Expr>, Vec<(ast::Ident, Expr)>);

/// Temporaries bound in order (`Let`s, or assignments in a def).
type Lets = Vec<(VarId, Expr)>;

/// A call's arguments bound to the signature's parameters (`None`: not passed), then any
/// `*args`.
struct Bound {
    slots: Vec<Option<Expr>>,
    rest: Vec<Expr>,
}

impl Bound {
    /// The arguments present, in parameter order.
    fn flatten(self) -> (Vec<bool>, Vec<Expr>) {
        let shape = self.slots.iter().map(Option::is_some).collect();
        let vals = self.slots.into_iter().flatten().chain(self.rest).collect();
        (shape, vals)
    }

    fn rebuild(shape: &[bool], vals: Vec<Expr>) -> Bound {
        let mut it = vals.into_iter();
        let slots = shape
            .iter()
            .map(|&present| if present { it.next() } else { None })
            .collect();
        Bound {
            slots,
            rest: it.collect(),
        }
    }

    /// The argument of parameter `i`, which the signature requires.
    fn take(&mut self, i: usize) -> Expr {
        self.slots[i].take().expect("a required parameter is bound")
    }
}

impl Lowerer {
    /// The table's callee of `func`, if it names one: `math.*`, a table builtin that no
    /// local, parameter or `def` shadows, or a method name of the table.
    pub(super) fn table_callee<'e>(&self, func: &'e ast::Expr) -> Option<Callee<'e>> {
        match &func.kind {
            ast::ExprKind::Name(n) => (builtins::is_builtin(n)
                && !self.is_local(n)
                && self.def_named(n).is_none()
                && !self.params.iter().any(|p| &p.name == n))
            .then_some(Callee::Builtin(Name {
                name: n,
                span: func.span,
            })),
            ast::ExprKind::Attribute { value, attr } => match &value.kind {
                ast::ExprKind::Name(m) if !self.is_local(m) && m == "math" => {
                    Some(Callee::Math(ident(attr)))
                }
                ast::ExprKind::Name(t)
                    if !self.is_local(t)
                        && !self.params.iter().any(|p| &p.name == t)
                        && (t == "int" || t == "float") =>
                {
                    let owner = if t == "int" {
                        Owner::IntMethod
                    } else {
                        Owner::FloatMethod
                    };
                    builtins::lookup(owner, &attr.name).map(|_| Callee::Unbound(owner, ident(attr)))
                }
                _ => builtins::is_method(&attr.name).then_some(Callee::Method(value, ident(attr))),
            },
            _ => None,
        }
    }

    /// Whether `e` is a call of a table function that returns a tuple.
    pub(super) fn is_table_tuple(&self, e: &ast::Expr) -> bool {
        let ast::ExprKind::Call { func, .. } = &e.kind else {
            return false;
        };
        match self.table_callee(func) {
            Some(Callee::Math(a)) => builtins::lookup(Owner::Math, a.name),
            Some(Callee::Builtin(a)) => builtins::lookup(Owner::Builtin, a.name),
            _ => None,
        }
        .is_some_and(Decl::is_tuple)
    }

    /// Lower a call's receiver (for a method), positional and keyword arguments, in source
    /// order.
    fn table_args(
        &mut self,
        callee: Callee<'_>,
        args: &[ast::Expr],
        kwargs: &[(ast::Ident, ast::Expr)],
    ) -> CResult<Args> {
        let mut vals = Vec::new();
        if let Callee::Method(recv, _) = callee {
            vals.push(self.expr(recv)?);
        }
        for a in args {
            vals.push(self.expr(a)?);
        }
        let mut kws = Vec::new();
        for (k, v) in kwargs {
            kws.push((k.clone(), self.expr(v)?));
        }
        Ok((vals, kws))
    }

    /// `func(args, kwargs)` in an expression, `func` a table callee.
    pub(super) fn table_call(
        &mut self,
        func: &ast::Expr,
        args: &[ast::Expr],
        kwargs: &[(ast::Ident, ast::Expr)],
        span: Span,
    ) -> CResult<Expr> {
        let callee = self.table_callee(func).expect("a table callee");
        let (vals, kws) = self.table_args(callee, args, kwargs)?;
        self.table_call_values(callee, vals, kws, span)
    }

    /// A table call with lowered arguments (a method's receiver first). Also the way a stage
    /// that names a function (`map(math.sqrt)`) calls it.
    pub(super) fn table_call_values(
        &mut self,
        callee: Callee<'_>,
        vals: Vec<Expr>,
        kws: Vec<(ast::Ident, Expr)>,
        span: Span,
    ) -> CResult<Expr> {
        // Keyword arguments may bind parameters out of source order: evaluate every
        // argument first, in source order.
        let (lets, (vals, kws)) = self.in_source_order(vals, kws);
        let body = match callee {
            Callee::Math(name) | Callee::Builtin(name) => {
                let d = self.declared(callee, name)?;
                if d.is_tuple() {
                    return Err(unsupported(
                        span,
                        format!(
                            "{}() returns a tuple: it is compiled where it is indexed \
                             (`{0}(...)[0]`) or unpacked in a def (`a, b = {0}(...)`)",
                            d.qualified()
                        ),
                    ));
                }
                let bound = bind(d, vals, kws, span)?;
                let (shape, flat) = bound.flatten();
                self.over_typed(flat, span, &mut |lw, typed| {
                    lw.apply(d, Bound::rebuild(&shape, typed), span)
                })?
            }
            Callee::Method(_, name) | Callee::Unbound(_, name) => {
                let unbound = match callee {
                    Callee::Unbound(owner, _) => Some(owner),
                    _ => None,
                };
                self.over_typed(vals, span, &mut |lw, mut typed| {
                    if typed.is_empty() {
                        return Err(err(
                            ErrorKind::Type,
                            span,
                            format!("unbound method {}() needs an argument", name.name),
                        ));
                    }
                    let recv = typed.remove(0);
                    let owner = match recv.ty {
                        Type::Float => Owner::FloatMethod,
                        _ => Owner::IntMethod,
                    };
                    if unbound.is_some_and(|o| o != owner) {
                        return Err(err(
                            ErrorKind::Type,
                            span,
                            format!(
                                "descriptor '{}' does not apply to a '{}' object",
                                name.name,
                                recv.ty.name()
                            ),
                        ));
                    }
                    let d = builtins::lookup(owner, name.name).ok_or_else(|| {
                        unsupported(
                            name.span,
                            format!(
                                "'{}' object has no attribute '{}' (AttributeError)",
                                recv.ty.name(),
                                name.name
                            ),
                        )
                    })?;
                    lw.check_version(d, name.span)?;
                    let bound = bind(d, typed, kws.clone(), span)?;
                    lw.apply_method(d, recv, bound, span)
                })?
            }
        };
        Ok(Self::with_lets(lets, body))
    }

    /// Bind the arguments to temporaries in source order when keywords may reorder them.
    fn in_source_order(&mut self, vals: Vec<Expr>, kws: Vec<(ast::Ident, Expr)>) -> (Lets, Args) {
        if kws.is_empty() {
            return (Vec::new(), (vals, kws));
        }
        let n = vals.len();
        let (names, kvals): (Vec<ast::Ident>, Vec<Expr>) = kws.into_iter().unzip();
        let (lets, mut uses) = self.share(vals.into_iter().chain(kvals).collect());
        let kuses = uses.split_off(n);
        (lets, (uses, names.into_iter().zip(kuses).collect()))
    }

    /// The declaration of a `math` function or table builtin, if the running Python has it.
    fn declared(&self, callee: Callee<'_>, name: Name<'_>) -> CResult<&'static Decl> {
        let owner = match callee {
            Callee::Math(_) => Owner::Math,
            _ => Owner::Builtin,
        };
        let d = builtins::lookup(owner, name.name).ok_or_else(|| {
            unsupported(name.span, format!("`math.{}` is not supported", name.name))
                .with_help(format!("supported: {}", builtins::math_names()))
        })?;
        self.check_version(d, name.span)?;
        Ok(d)
    }

    /// Refuse what the running Python does not have (the fallback raises AttributeError).
    fn check_version(&self, d: &Decl, span: Span) -> CResult<()> {
        if self.python < d.since {
            return Err(unsupported(
                span,
                format!(
                    "`{}` is new in Python {}.{}: Python {}.{} raises AttributeError",
                    d.qualified(),
                    d.since.0,
                    d.since.1,
                    self.python.0,
                    self.python.1
                ),
            ));
        }
        if matches!(d.rule, Rule::Op(Func::Cbrt)) && !floats::cbrt_available() {
            return Err(unsupported(
                span,
                "`math.cbrt` needs the platform libm's cbrt, which was not found",
            ));
        }
        Ok(())
    }

    /// A method call on a typed receiver.
    fn apply_method(&mut self, d: &Decl, recv: Expr, b: Bound, span: Span) -> CResult<Expr> {
        match d.rule {
            Rule::AlwaysTrue => {
                // The receiver is still evaluated, for its exceptions.
                let v = self.new_var("$recv", recv.ty);
                let t = mk(ExprKind::ConstBool(true), Type::Bool, span);
                Ok(mk(
                    ExprKind::Let(v, Box::new(recv), Box::new(t)),
                    Type::Bool,
                    span,
                ))
            }
            Rule::Op(f) => {
                let mut args = vec![recv];
                args.extend(b.slots.into_iter().flatten());
                self.call_op(d, f, args, span)
            }
            _ => unreachable!("methods are ops"),
        }
    }

    /// Apply a declaration's rule to typed, bound arguments.
    fn apply(&mut self, d: &Decl, mut b: Bound, span: Span) -> CResult<Expr> {
        Ok(match d.rule {
            Rule::Op(f) => {
                let mut args: Vec<Expr> = Vec::new();
                let n = d.sig.names.len();
                for (i, slot) in b.slots.into_iter().enumerate() {
                    match slot {
                        Some(e) => args.push(e),
                        None if i >= n => {
                            let v = d.sig.kwonly[i - n].1;
                            args.push(mk(ExprKind::ConstFloat(v), Type::Float, span));
                        }
                        None => unreachable!("ops take required parameters"),
                    }
                }
                args.extend(b.rest);
                self.call_op(d, f, args, span)?
            }
            Rule::Math1(f) => math1(f, b.take(0), span),
            Rule::Log => {
                let x = b.take(0);
                match b.slots[1].take() {
                    None => math1(MathFn::Log, x, span),
                    // CPython: log(x) / log(base), each exact for ints of any size.
                    Some(base) => bin(
                        BinOp::FDiv,
                        math_log(x, span),
                        math_log(base, span),
                        Type::Float,
                        span,
                    ),
                }
            }
            Rule::Rounding(c) => {
                let a = b.take(0);
                match a.ty {
                    Type::Int => a,
                    Type::Bool => to_int(a),
                    Type::Float | Type::Num => cast(c, a, Type::Int),
                }
            }
            Rule::Classify(k) => {
                let a = to_float(b.take(0));
                // These read their operand twice, which is harmless for a pure expression.
                let fabs = |e: Expr| {
                    mk(
                        ExprKind::Call(Builtin::Math(MathFn::Fabs), vec![e]),
                        Type::Float,
                        span,
                    )
                };
                let inf = mk(ExprKind::ConstFloat(f64::INFINITY), Type::Float, span);
                let (op, l, r) = match k {
                    Classify::Nan => (CmpOp::Ne, a.clone(), a),
                    Classify::Inf => (CmpOp::Eq, fabs(a), inf),
                    Classify::Finite => (CmpOp::Lt, fabs(a), inf),
                };
                mk(
                    ExprKind::Compare(op, CmpKind::Float, Box::new(l), Box::new(r)),
                    Type::Bool,
                    span,
                )
            }
            Rule::IntFold { op, empty } => {
                let mut args = Vec::new();
                for a in b.rest {
                    args.push(self.index_arg(d, a)?);
                }
                let mut it = args.into_iter();
                match (it.next(), it.len()) {
                    (None, _) => mk(ExprKind::ConstInt(BigInt::from(empty)), Type::Int, span),
                    (Some(a), 0) => mk(ExprKind::Call(Builtin::IAbs, vec![a]), Type::Int, span),
                    (Some(a), _) => it.fold(a, |acc, x| {
                        mk(
                            ExprKind::Call(Builtin::Fn(op), vec![acc, x]),
                            Type::Int,
                            span,
                        )
                    }),
                }
            }
            Rule::Hypot => {
                if b.rest.is_empty() {
                    return Ok(mk(ExprKind::ConstFloat(0.0), Type::Float, span));
                }
                let f = Func::hypot(HypotAlg::of(self.python));
                self.call_op(d, f, b.rest, span)?
            }
            Rule::MathPow => {
                let f = if self.python < (3, 11) {
                    Func::MathPowV310
                } else {
                    Func::MathPow
                };
                let (x, y) = (b.take(0), b.take(1));
                self.call_op(d, f, vec![x, y], span)?
            }
            Rule::Perm => {
                let n = b.take(0);
                match b.slots[1].take() {
                    None => self.call_op(d, Func::Factorial, vec![n], span)?,
                    Some(k) => self.call_op(d, Func::Perm, vec![n, k], span)?,
                }
            }
            Rule::Pow => {
                let base = b.take(0);
                let exp = b.take(1);
                match b.slots[2].take() {
                    None => self.binary_any(ast::BinOp::Pow, base, exp, span)?,
                    Some(m) => {
                        if [&base, &exp, &m].iter().any(|a| a.ty == Type::Float) {
                            return Err(err(
                                ErrorKind::Type,
                                span,
                                "pow() 3rd argument not allowed unless all arguments are \
                                 integers",
                            ));
                        }
                        self.call_op(d, Func::PowMod, vec![base, exp, m], span)?
                    }
                }
            }
            Rule::Round => {
                let x = b.take(0);
                match b.slots[1].take() {
                    None => match x.ty {
                        Type::Float => cast(Cast::FloatRound, x, Type::Int),
                        _ => to_int(x),
                    },
                    Some(nd) => {
                        let nd = self.index_arg(d, nd)?;
                        if x.ty == Type::Float {
                            self.call_op(d, Func::FloatRound, vec![x, nd], span)?
                        } else {
                            let nd = fold::fold_expr(nd);
                            if matches!(&nd.kind, ExprKind::ConstInt(v) if !v.is_negative()) {
                                to_int(x)
                            } else {
                                self.call_op(d, Func::IntRound, vec![x, nd], span)?
                            }
                        }
                    }
                }
            }
            Rule::Divmod | Rule::Pair(..) => unreachable!("tuples are lowered by parts"),
            Rule::AlwaysTrue => unreachable!("a method"),
        })
    }

    /// Part `k` of a tuple-valued call on typed arguments.
    fn apply_part(&mut self, d: &Decl, mut b: Bound, k: usize, span: Span) -> CResult<Expr> {
        match d.rule {
            Rule::Divmod => {
                let (x, y) = (b.take(0), b.take(1));
                if x.ty != Type::Float && y.ty != Type::Float {
                    let (x, y) = (to_int(x), to_int(y));
                    // `divmod(a, 0)` and `a // 0` raise the same ZeroDivisionError.
                    return Ok(if k == 0 {
                        bin(BinOp::IFloorDiv, x, y, Type::Int, span)
                    } else {
                        mk(
                            ExprKind::Call(Builtin::Fn(Func::IntDivmodRem), vec![x, y]),
                            Type::Int,
                            span,
                        )
                    });
                }
                let f = [Func::FloatDivmodQuot, Func::FloatDivmodRem][k];
                self.call_op(d, f, vec![x, y], span)
            }
            Rule::Pair(f0, f1) => self.call_op(d, [f0, f1][k], vec![b.take(0)], span),
            _ => unreachable!("not a tuple"),
        }
    }

    /// The two parts of a tuple-valued call, each reading the arguments bound once (the
    /// bindings come first, in order).
    fn call_parts(&mut self, e: &ast::Expr) -> CResult<(Lets, Vec<Expr>)> {
        let ast::ExprKind::Call { func, args, kwargs } = &e.kind else {
            unreachable!("a table tuple is a call");
        };
        let callee = self.table_callee(func).expect("a table callee");
        let name = match callee {
            Callee::Math(n) | Callee::Builtin(n) => n,
            _ => unreachable!("tuples are functions"),
        };
        let d = self.declared(callee, name)?;
        let (vals, kws) = self.table_args(callee, args, kwargs)?;
        let bound = bind(d, vals, kws, e.span)?;
        let (shape, flat) = bound.flatten();
        let (lets, uses) = self.share(flat);
        let mut parts = Vec::new();
        for k in 0..2 {
            let part = self.over_typed(uses.clone(), e.span, &mut |lw, typed| {
                lw.apply_part(d, Bound::rebuild(&shape, typed), k, e.span)
            })?;
            parts.push(part);
        }
        Ok((lets, parts))
    }

    /// `divmod(a, b)[k]`, `math.frexp(x)[k]`: `k` a constant.
    pub(super) fn table_subscript(
        &mut self,
        value: &ast::Expr,
        index: &ast::Expr,
        span: Span,
    ) -> CResult<Expr> {
        let k = constant_index(index)?;
        let (lets, mut parts) = self.call_parts(value)?;
        let part = parts.swap_remove(k);
        let mut e = Self::with_lets(lets, part);
        e.span = span;
        Ok(e)
    }

    /// `a, b = divmod(x, y)` in a def: the arguments are assigned to temporaries here, and
    /// the parts, which read them, are the values.
    pub(super) fn table_unpack(
        &mut self,
        value: &ast::Expr,
        out: &mut Vec<Stmt>,
    ) -> CResult<Vec<Expr>> {
        let (lets, parts) = self.call_parts(value)?;
        for (v, e) in lets {
            out.push(Stmt::Assign(v, e));
        }
        Ok(parts)
    }

    /// A typed operation on arguments converted to its parameter types.
    fn call_op(&mut self, d: &Decl, f: Func, args: Vec<Expr>, span: Span) -> CResult<Expr> {
        let op = f.op();
        let mut conv = Vec::with_capacity(args.len());
        for (i, a) in args.into_iter().enumerate() {
            let ty = if op.variadic {
                op.params[0]
            } else {
                op.params[i]
            };
            conv.push(match ty {
                Type::Int => self.index_arg(d, a)?,
                _ => to_float(a),
            });
        }
        Ok(mk(ExprKind::Call(Builtin::Fn(f), conv), op.result, span))
    }

    /// An argument converted as CPython's `__index__`: ints and bools, never floats.
    fn index_arg(&self, d: &Decl, a: Expr) -> CResult<Expr> {
        match a.ty {
            Type::Float => Err(err(
                ErrorKind::Type,
                a.span,
                format!(
                    "{}(): 'float' object cannot be interpreted as an integer",
                    d.qualified()
                ),
            )),
            _ => Ok(to_int(a)),
        }
    }
}

/// Bind positional and keyword arguments to a declaration's parameters, as CPython does
/// (TypeErrors for what it rejects).
fn bind(d: &Decl, vals: Vec<Expr>, kws: Vec<(ast::Ident, Expr)>, span: Span) -> CResult<Bound> {
    let sig = &d.sig;
    let n = sig.names.len();
    let type_err = |msg: String| err(ErrorKind::Type, span, format!("{}() {msg}", d.qualified()));
    let mut slots: Vec<Option<Expr>> = vec![None; n + sig.kwonly.len()];
    let mut rest = Vec::new();
    for (i, v) in vals.into_iter().enumerate() {
        if i < n {
            slots[i] = Some(v);
        } else if sig.varargs {
            rest.push(v);
        } else {
            return Err(type_err(format!(
                "takes at most {n} positional argument{}",
                if n == 1 { "" } else { "s" }
            )));
        }
    }
    for (k, v) in kws {
        let pos = sig.names[sig.posonly..]
            .iter()
            .position(|p| *p == k.name)
            .map(|i| i + sig.posonly)
            .or_else(|| {
                sig.kwonly
                    .iter()
                    .position(|(p, _)| *p == k.name)
                    .map(|i| i + n)
            });
        let Some(pos) = pos else {
            return Err(err(
                ErrorKind::Type,
                k.span,
                format!(
                    "{}() got an unexpected keyword argument '{}'",
                    d.qualified(),
                    k.name
                ),
            ));
        };
        if slots[pos].is_some() {
            return Err(type_err(format!(
                "got multiple values for argument '{}'",
                k.name
            )));
        }
        slots[pos] = Some(v);
    }
    if let Some(missing) = (0..sig.required).find(|&i| slots[i].is_none()) {
        return Err(type_err(format!(
            "missing required argument '{}'",
            sig.names[missing]
        )));
    }
    Ok(Bound { slots, rest })
}

/// A constant tuple index (`0`, `1`, `-1`, `-2`) into a pair.
fn constant_index(index: &ast::Expr) -> CResult<usize> {
    let k = match &index.kind {
        ast::ExprKind::Int(k) => k.to_i64(),
        ast::ExprKind::Unary {
            op: ast::UnaryOp::Neg,
            operand,
        } => match &operand.kind {
            ast::ExprKind::Int(k) => k.to_i64().map(|k| -k),
            _ => None,
        },
        _ => {
            return Err(unsupported(
                index.span,
                "a tuple is indexed with a constant here, e.g. t[0]",
            ))
        }
    };
    match k {
        Some(k @ 0..=1) => Ok(k as usize),
        Some(k @ -2..=-1) => Ok((k + 2) as usize),
        _ => {
            Err(unsupported(index.span, "tuple index out of range")
                .with_help("the tuple has 2 items"))
        }
    }
}

/// A one-argument libm function: `log`, `log2` and `log10` of an int exactly (CPython takes
/// logarithms of ints of any size without converting them).
fn math1(f: MathFn, a: Expr, span: Span) -> Expr {
    if a.ty == Type::Int && matches!(f, MathFn::Log | MathFn::Log2 | MathFn::Log10) {
        return mk(
            ExprKind::Call(Builtin::MathInt(f), vec![a]),
            Type::Float,
            span,
        );
    }
    mk(
        ExprKind::Call(Builtin::Math(f), vec![to_float(a)]),
        Type::Float,
        span,
    )
}

/// `math.log(a)` of an int or a float.
fn math_log(a: Expr, span: Span) -> Expr {
    math1(MathFn::Log, a, span)
}
