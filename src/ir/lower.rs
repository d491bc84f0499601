//! Lowering: AST → typed IR. Name resolution, type inference and every semantic decision
//! (which operation, which promotion, which check) happen here and nowhere else.

use num_bigint::BigInt;
use num_traits::{Signed, ToPrimitive, Zero};

use super::*;
use crate::diagnostics::{CResult, CompileError, ErrorKind};
use crate::passes::fold;
use crate::syntax::ast;

/// The largest constant exponent `int ** k` accepted: past it the exact result could be
/// gigabytes, and CPython would be no faster.
const MAX_INT_EXPONENT: u32 = 100_000;

/// Lower a whole pipeline expression. `params` are the runtime parameters in scope, with the
/// types of their current values.
pub fn lower_pipeline(e: &ast::Expr, params: &[ParamInfo]) -> CResult<Pipeline> {
    lower_pipeline_with(e, params, None)
}

/// Lower a pipeline whose source may be the named input buffer.
pub fn lower_pipeline_with(
    e: &ast::Expr,
    params: &[ParamInfo],
    buffer: Option<&BufferDecl>,
) -> CResult<Pipeline> {
    let mut lw = Lowerer {
        params: params.to_vec(),
        vars: Vec::new(),
        scopes: Vec::new(),
        buffer: buffer.cloned(),
    };
    lw.pipeline(e)
}

struct Lowerer {
    buffer: Option<BufferDecl>,
    params: Vec<ParamInfo>,
    vars: Vec<VarInfo>,
    /// Names bound by enclosing lambdas, innermost last.
    scopes: Vec<(String, VarId)>,
}

fn err(kind: ErrorKind, span: Span, msg: impl Into<String>) -> CompileError {
    CompileError::new(kind, span, msg)
}

fn unsupported(span: Span, msg: impl Into<String>) -> CompileError {
    err(ErrorKind::Unsupported, span, msg)
}

fn mk(kind: ExprKind, ty: Type, span: Span) -> Expr {
    Expr { kind, ty, span }
}

const CONSUMERS: &str = "sum, count, min, max, any, all, reduce, collect";

/// One `.method(args)` link of a pipeline chain.
struct Link<'a> {
    name: &'a ast::Ident,
    args: &'a [ast::Expr],
    kwargs: &'a [(ast::Ident, ast::Expr)],
    span: Span,
}

impl Lowerer {
    fn pipeline(&mut self, e: &ast::Expr) -> CResult<Pipeline> {
        let mut links = Vec::new();
        let mut cur = e;
        while let ast::ExprKind::Call { func, args, kwargs } = &cur.kind {
            match &func.kind {
                ast::ExprKind::Attribute { value, attr } => {
                    links.push(Link {
                        name: attr,
                        args,
                        kwargs,
                        span: cur.span,
                    });
                    cur = value;
                }
                _ => break,
            }
        }
        links.reverse();
        let source = self.source(cur)?;
        let mut elem_ty = source.elem_type();
        let mut stages = Vec::new();
        let mut consumer = None;
        for link in &links {
            if consumer.is_some() {
                return Err(unsupported(
                    link.name.span,
                    format!("`.{}()` cannot follow a consumer", link.name.name),
                )
                .with_help("a pipeline ends with one consumer: ".to_string() + CONSUMERS));
            }
            if let Some((k, _)) = link.kwargs.first() {
                return Err(unsupported(
                    k.span,
                    format!(
                        "keyword argument `{}` of `.{}()` is not supported",
                        k.name, link.name.name
                    ),
                ));
            }
            match link.name.name.as_str() {
                "map" => {
                    let arg = self.one_arg(link)?;
                    let (var, body) = self.stage_fn(arg, elem_ty, false)?;
                    elem_ty = body.ty;
                    stages.push(Stage::Map { var, body });
                }
                "filter" => {
                    let arg = self.one_arg(link)?;
                    let (var, pred) = self.stage_fn(arg, elem_ty, true)?;
                    stages.push(Stage::Filter { var, pred });
                }
                _ => consumer = Some(self.consumer(link, elem_ty)?),
            }
        }
        let Some(consumer) = consumer else {
            let span = links.last().map_or(e.span, |l| l.span);
            return Err(err(ErrorKind::Syntax, span, "the pipeline has no consumer")
                .with_help(format!("end it with one of: {CONSUMERS}, e.g. `.sum()`")));
        };
        Ok(Pipeline {
            params: self.params.clone(),
            vars: std::mem::take(&mut self.vars),
            source,
            stages,
            consumer,
            span: e.span,
        })
    }

    fn one_arg<'a>(&self, link: &Link<'a>) -> CResult<&'a ast::Expr> {
        match link.args {
            [a] => Ok(a),
            _ => Err(err(
                ErrorKind::Type,
                link.span,
                format!(
                    "`.{}()` takes exactly one argument ({} given)",
                    link.name.name,
                    link.args.len()
                ),
            )),
        }
    }

    fn no_args(&self, link: &Link) -> CResult<()> {
        match link.args.first() {
            None => Ok(()),
            Some(a) => Err(unsupported(
                a.span,
                format!("`.{}()` takes no arguments here", link.name.name),
            )),
        }
    }

    fn source(&mut self, e: &ast::Expr) -> CResult<Source> {
        match &e.kind {
            ast::ExprKind::Name(n) if self.buffer.as_ref().is_some_and(|b| &b.name == n) => {
                let b = self.buffer.clone().expect("checked");
                Ok(Source::Buffer {
                    name: b.name,
                    dtype: b.dtype,
                })
            }
            ast::ExprKind::Call { func, args, kwargs } => {
                let name = match &func.kind {
                    ast::ExprKind::Name(n) => n.as_str(),
                    _ => "",
                };
                if let Some((k, _)) = kwargs.first() {
                    return Err(unsupported(
                        k.span,
                        format!("keyword argument `{}` is not supported here", k.name),
                    ));
                }
                match name {
                    "range" | "par_range" => {
                        let mut vals = Vec::new();
                        for a in args {
                            let v = self.expr(a)?;
                            let v = match v.ty {
                                Type::Int => v,
                                Type::Bool => cast(Cast::BoolToInt, v, Type::Int),
                                Type::Float => {
                                    return Err(err(
                                        ErrorKind::Type,
                                        a.span,
                                        "'float' object cannot be interpreted as an integer",
                                    ))
                                }
                            };
                            vals.push(fold::fold_expr(v));
                        }
                        let int =
                            |v: i64| mk(ExprKind::ConstInt(BigInt::from(v)), Type::Int, e.span);
                        let (start, stop, step) = match vals.len() {
                            1 => (int(0), vals.remove(0), int(1)),
                            2 => {
                                let stop = vals.remove(1);
                                (vals.remove(0), stop, int(1))
                            }
                            3 => {
                                let step = vals.remove(2);
                                let stop = vals.remove(1);
                                (vals.remove(0), stop, step)
                            }
                            n => {
                                return Err(err(
                                    ErrorKind::Type,
                                    e.span,
                                    format!("{name} expected 1 to 3 arguments, got {n}"),
                                ))
                            }
                        };
                        Ok(Source::Range { start, stop, step })
                    }
                    "into_par_iter" => match args.as_slice() {
                        [a] => self.source(a),
                        _ => Err(err(
                            ErrorKind::Type,
                            e.span,
                            "into_par_iter() takes exactly one argument",
                        )),
                    },
                    _ => Err(self.not_a_source(e)),
                }
            }
            ast::ExprKind::List(items) | ast::ExprKind::Tuple(items) => {
                let mut out = Vec::new();
                let mut ty = None;
                for it in items {
                    let v = fold::fold_expr(self.expr(it)?);
                    match ty {
                        None => ty = Some(v.ty),
                        Some(t) if t != v.ty => {
                            return Err(unsupported(
                                it.span,
                                format!(
                                    "list items of different types ({} and {})",
                                    t.name(),
                                    v.ty.name()
                                ),
                            )
                            .with_help(
                                "write every item with the same type, e.g. 1.0 instead of 1",
                            ))
                        }
                        _ => {}
                    }
                    out.push(v);
                }
                Ok(Source::List {
                    items: out,
                    ty: ty.unwrap_or(Type::Int),
                })
            }
            _ => Err(self.not_a_source(e)),
        }
    }

    fn not_a_source(&self, e: &ast::Expr) -> CompileError {
        unsupported(e.span, "expected a pipeline source")
            .with_help("start with range(...), par_range(...) or a list literal [...]")
    }

    /// A stage function: `lambda v: body` or a bare expression over `x`, or the name of a
    /// one-argument builtin (`abs`, `math.sqrt`). Returns the bound variable and the body
    /// (the body's truthiness when `cond`).
    fn stage_fn(&mut self, f: &ast::Expr, elem: Type, cond: bool) -> CResult<(VarId, Expr)> {
        let (name, body, call_it) = match &f.kind {
            ast::ExprKind::Lambda { params, body } => match params.as_slice() {
                [p] => (p.name.clone(), &**body, false),
                _ => {
                    return Err(err(
                        ErrorKind::Type,
                        f.span,
                        format!(
                            "this stage passes one argument, but the lambda takes {}",
                            params.len()
                        ),
                    ))
                }
            },
            _ if self.is_callable_ref(f) => ("x".to_string(), f, true),
            _ => ("x".to_string(), f, false),
        };
        let var = self.new_var(&name, elem);
        self.scopes.push((name, var));
        let res = if call_it {
            let arg = mk(ExprKind::Var(var), elem, f.span);
            self.call_builtin(f, vec![arg], f.span)
                .map(|e| if cond { truth(e) } else { e })
        } else if cond {
            self.cond(body)
        } else {
            self.expr(body)
        };
        self.scopes.pop();
        Ok((var, res?))
    }

    fn is_callable_ref(&self, f: &ast::Expr) -> bool {
        match &f.kind {
            ast::ExprKind::Name(n) => {
                self.lookup(n).is_none()
                    && matches!(n.as_str(), "abs" | "int" | "float" | "bool" | "round")
            }
            ast::ExprKind::Attribute { value, .. } => {
                matches!(&value.kind, ast::ExprKind::Name(m) if m == "math" && self.lookup(m).is_none())
            }
            _ => false,
        }
    }

    fn consumer(&mut self, link: &Link, elem: Type) -> CResult<Consumer> {
        let name = link.name.name.as_str();
        Ok(match name {
            "sum" => {
                self.no_args(link)?;
                Consumer::Sum
            }
            "count" => {
                self.no_args(link)?;
                Consumer::Count
            }
            "min" | "max" => {
                self.no_args(link)?;
                if name == "min" {
                    Consumer::Min
                } else {
                    Consumer::Max
                }
            }
            "any" | "all" => {
                let pred = match link.args {
                    [] => None,
                    [f] => {
                        let (var, body) = self.stage_fn(f, elem, true)?;
                        Some(Lambda1 { var, body })
                    }
                    _ => {
                        return Err(err(
                            ErrorKind::Type,
                            link.span,
                            format!("`.{name}()` takes at most one argument"),
                        ))
                    }
                };
                if name == "any" {
                    Consumer::Any(pred)
                } else {
                    Consumer::All(pred)
                }
            }
            "collect" => {
                self.no_args(link)?;
                Consumer::Collect
            }
            "reduce" => self.reduce(link, elem)?,
            other => {
                return Err(unsupported(
                    link.name.span,
                    format!("`.{other}()` is not a pipeline method"),
                )
                .with_help(format!("stages: map, filter; consumers: {CONSUMERS}")))
            }
        })
    }

    fn reduce(&mut self, link: &Link, elem: Type) -> CResult<Consumer> {
        let [ident, op] = link.args else {
            return Err(err(
                ErrorKind::Type,
                link.span,
                "`.reduce()` takes two arguments: an identity and `lambda a, b: ...`",
            ));
        };
        // fastiter 0.1 takes the identity as a zero-argument callable; accept both.
        let ident_body = match &ident.kind {
            ast::ExprKind::Lambda { params, body } if params.is_empty() => &**body,
            _ => ident,
        };
        let identity = fold::fold_expr(self.expr(ident_body)?);
        let ast::ExprKind::Lambda { params, body } = &op.kind else {
            return Err(unsupported(
                op.span,
                "the reduce operator must be `lambda a, b: ...`",
            ));
        };
        let [pa, pb] = params.as_slice() else {
            return Err(err(
                ErrorKind::Type,
                op.span,
                "the reduce operator takes two arguments",
            ));
        };
        if identity.ty != elem {
            return Err(unsupported(
                identity.span,
                format!(
                    "the identity is {} but the elements are {}",
                    identity.ty.name(),
                    elem.name()
                ),
            )
            .with_help(format!("write an identity of type {}", elem.name())));
        }
        let acc = self.new_var(&pa.name, elem);
        let item = self.new_var(&pb.name, elem);
        self.scopes.push((pa.name.clone(), acc));
        self.scopes.push((pb.name.clone(), item));
        let res = self.expr(body);
        self.scopes.truncate(self.scopes.len() - 2);
        let op = res?;
        if op.ty != elem {
            return Err(unsupported(
                op.span,
                format!(
                    "the reduce operator returns {} but the elements are {}",
                    op.ty.name(),
                    elem.name()
                ),
            )
            .with_help("the operator must return the element type, as Rayon's reduce requires"));
        }
        Ok(Consumer::Reduce {
            identity,
            acc,
            item,
            op,
        })
    }

    fn new_var(&mut self, name: &str, ty: Type) -> VarId {
        self.vars.push(VarInfo {
            name: name.to_string(),
            ty,
        });
        VarId(self.vars.len() as u32 - 1)
    }

    fn lookup(&self, name: &str) -> Option<VarId> {
        self.scopes
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }

    /// An expression in a truth-value context: `and`/`or`/`not` work on truthiness, so their
    /// operands may have different types.
    fn cond(&mut self, e: &ast::Expr) -> CResult<Expr> {
        match &e.kind {
            ast::ExprKind::BoolOp { op, values } => {
                let mut parts = Vec::new();
                for v in values {
                    parts.push(self.cond(v)?);
                }
                Ok(fold_boolop(*op, parts, e.span))
            }
            ast::ExprKind::Unary {
                op: ast::UnaryOp::Not,
                operand,
            } => {
                let c = self.cond(operand)?;
                Ok(mk(
                    ExprKind::Unary(UnOp::BNot, Box::new(c)),
                    Type::Bool,
                    e.span,
                ))
            }
            _ => Ok(truth(self.expr(e)?)),
        }
    }

    fn expr(&mut self, e: &ast::Expr) -> CResult<Expr> {
        let span = e.span;
        Ok(match &e.kind {
            ast::ExprKind::Int(v) => mk(ExprKind::ConstInt(v.clone()), Type::Int, span),
            ast::ExprKind::Float(v) => mk(ExprKind::ConstFloat(*v), Type::Float, span),
            ast::ExprKind::Bool(v) => mk(ExprKind::ConstBool(*v), Type::Bool, span),
            ast::ExprKind::None => {
                return Err(unsupported(
                    span,
                    "`None` is not supported in an expression",
                ))
            }
            ast::ExprKind::Name(n) => self.name(n, span)?,
            ast::ExprKind::Attribute { value, attr } => self.attribute(value, attr, span)?,
            ast::ExprKind::Call { func, args, kwargs } => {
                if let Some((k, _)) = kwargs.first() {
                    return Err(unsupported(
                        k.span,
                        format!("keyword argument `{}` is not supported here", k.name),
                    ));
                }
                let mut vals = Vec::new();
                for a in args {
                    vals.push(self.expr(a)?);
                }
                self.call_builtin(func, vals, span)?
            }
            ast::ExprKind::Subscript { .. } => {
                return Err(unsupported(span, "subscripts are not supported here"))
            }
            ast::ExprKind::Unary { op, operand } => {
                if *op == ast::UnaryOp::Not {
                    return self.cond(e);
                }
                let v = self.expr(operand)?;
                unary(*op, v, span)?
            }
            ast::ExprKind::Binary { op, left, right } => {
                let l = self.expr(left)?;
                let r = self.expr(right)?;
                binary(*op, l, r, span)?
            }
            ast::ExprKind::BoolOp { op, values } => {
                let mut parts = Vec::new();
                for v in values {
                    parts.push(self.expr(v)?);
                }
                let ty = parts[0].ty;
                if let Some(p) = parts.iter().find(|p| p.ty != ty) {
                    let word = if *op == ast::BoolOp::And { "and" } else { "or" };
                    return Err(unsupported(
                        p.span,
                        format!(
                            "operands of `{word}` have different types ({} and {}): the result's type would depend on the values",
                            ty.name(),
                            p.ty.name()
                        ),
                    )
                    .with_help("convert the operands to one type, or use the expression as a condition"));
                }
                fold_boolop(*op, parts, span)
            }
            ast::ExprKind::Compare { left, ops } => self.compare(left, ops, span)?,
            ast::ExprKind::IfExp { test, body, orelse } => {
                let c = self.cond(test)?;
                let a = self.expr(body)?;
                let b = self.expr(orelse)?;
                if a.ty != b.ty {
                    return Err(unsupported(
                        span,
                        format!(
                            "the branches of this conditional have different types ({} and {})",
                            a.ty.name(),
                            b.ty.name()
                        ),
                    )
                    .with_help("make both branches the same type, e.g. 0.0 instead of 0"));
                }
                let ty = a.ty;
                mk(
                    ExprKind::If(Box::new(c), Box::new(a), Box::new(b)),
                    ty,
                    span,
                )
            }
            ast::ExprKind::Lambda { .. } => {
                return Err(unsupported(
                    span,
                    "a lambda is only supported as a stage or consumer argument",
                ))
            }
            ast::ExprKind::List(_) | ast::ExprKind::Tuple(_) => {
                return Err(unsupported(
                    span,
                    "lists and tuples are only supported as a pipeline source",
                ))
            }
        })
    }

    fn name(&self, n: &str, span: Span) -> CResult<Expr> {
        if let Some(v) = self.lookup(n) {
            return Ok(mk(ExprKind::Var(v), self.vars[v.0 as usize].ty, span));
        }
        if let Some(i) = self.params.iter().position(|p| p.name == n) {
            return Ok(mk(ExprKind::Param(i as u32), self.params[i].ty, span));
        }
        if matches!(n, "range" | "par_range" | "into_par_iter") {
            return Err(unsupported(span, "nested pipelines are not supported yet"));
        }
        Err(
            err(ErrorKind::Name, span, format!("name '{n}' is not defined"))
                .with_help(format!("bind it as a parameter, e.g. -D {n}=10")),
        )
    }

    fn attribute(&self, value: &ast::Expr, attr: &ast::Ident, span: Span) -> CResult<Expr> {
        if !matches!(&value.kind, ast::ExprKind::Name(m) if m == "math" && self.lookup(m).is_none())
        {
            return Err(unsupported(
                span,
                "attributes other than `math.*` are not supported",
            ));
        }
        let v = match attr.name.as_str() {
            "pi" => std::f64::consts::PI,
            "e" => std::f64::consts::E,
            "tau" => std::f64::consts::TAU,
            "inf" => f64::INFINITY,
            "nan" => f64::NAN,
            other => {
                return Err(unsupported(
                    attr.span,
                    format!("`math.{other}` is not supported as a value"),
                ))
            }
        };
        Ok(mk(ExprKind::ConstFloat(v), Type::Float, span))
    }

    fn call_builtin(&mut self, func: &ast::Expr, args: Vec<Expr>, span: Span) -> CResult<Expr> {
        let fname = match &func.kind {
            ast::ExprKind::Name(n) if self.lookup(n).is_none() => n.clone(),
            ast::ExprKind::Attribute { value, attr } if matches!(&value.kind, ast::ExprKind::Name(m) if m == "math" && self.lookup(m).is_none()) => {
                return math_call(&attr.name, args, span, attr.span)
            }
            _ => {
                return Err(unsupported(
                    func.span,
                    "only builtins and math functions can be called here",
                ))
            }
        };
        let nargs = args.len();
        let arity = |n: usize| -> CResult<()> {
            if nargs == n {
                Ok(())
            } else {
                Err(err(
                    ErrorKind::Type,
                    span,
                    format!(
                        "{fname}() takes exactly {n} argument{} ({nargs} given)",
                        if n == 1 { "" } else { "s" }
                    ),
                ))
            }
        };
        let mut args = args;
        Ok(match fname.as_str() {
            "abs" => {
                arity(1)?;
                let a = args.remove(0);
                match a.ty {
                    Type::Int => mk(ExprKind::Call(Builtin::IAbs, vec![a]), Type::Int, span),
                    Type::Bool => mk(
                        ExprKind::Call(Builtin::IAbs, vec![to_int(a)]),
                        Type::Int,
                        span,
                    ),
                    Type::Float => mk(
                        ExprKind::Call(Builtin::Math(MathFn::Fabs), vec![a]),
                        Type::Float,
                        span,
                    ),
                }
            }
            "int" => {
                arity(1)?;
                let a = args.remove(0);
                match a.ty {
                    Type::Int => a,
                    Type::Bool => to_int(a),
                    Type::Float => cast(Cast::FloatToInt, a, Type::Int),
                }
            }
            "float" => {
                if args.is_empty() {
                    return Ok(mk(ExprKind::ConstFloat(0.0), Type::Float, span));
                }
                arity(1)?;
                to_float(args.remove(0))
            }
            "bool" => {
                if args.is_empty() {
                    return Ok(mk(ExprKind::ConstBool(false), Type::Bool, span));
                }
                arity(1)?;
                truth(args.remove(0))
            }
            "round" => {
                if args.len() == 2 {
                    let nd = fold::fold_expr(args.remove(1));
                    let a = args.remove(0);
                    let nonneg = matches!(&nd.kind, ExprKind::ConstInt(v) if !v.is_negative());
                    if a.ty != Type::Float && nonneg {
                        return Ok(to_int(a));
                    }
                    return Err(unsupported(
                        span,
                        "round() with a number of digits is only supported for ints",
                    ));
                }
                arity(1)?;
                let a = args.remove(0);
                match a.ty {
                    Type::Float => cast(Cast::FloatRound, a, Type::Int),
                    _ => to_int(a),
                }
            }
            "min" | "max" => {
                if args.len() < 2 {
                    return Err(unsupported(
                        span,
                        format!("{fname}() of one iterable is not supported here"),
                    )
                    .with_help(format!(
                        "use {fname}(a, b, ...) or the pipeline consumer .{fname}()"
                    )));
                }
                let ty = args[0].ty;
                if let Some(a) = args.iter().find(|a| a.ty != ty) {
                    return Err(unsupported(
                        a.span,
                        format!("{fname}() of different types ({} and {}): the result's type would depend on the values", ty.name(), a.ty.name()),
                    )
                    .with_help("convert the arguments to one type"));
                }
                let op = if fname == "min" {
                    BinOp::Min
                } else {
                    BinOp::Max
                };
                let mut it = args.into_iter();
                let first = it.next().expect("two or more arguments");
                it.fold(first, |acc, b| {
                    mk(ExprKind::Binary(op, Box::new(acc), Box::new(b)), ty, span)
                })
            }
            "range" | "par_range" | "into_par_iter" | "sum" | "len" => {
                return Err(unsupported(
                    span,
                    format!("{fname}() inside a stage is not supported yet"),
                ))
            }
            other => {
                if self.params.iter().any(|p| p.name == other) {
                    return Err(err(
                        ErrorKind::Type,
                        func.span,
                        format!("'{other}' is a number, not a function"),
                    ));
                }
                return Err(
                    unsupported(func.span, format!("call of `{other}` is not supported"))
                        .with_help("supported: abs, int, float, bool, round, min, max, math.*"),
                );
            }
        })
    }

    fn compare(
        &mut self,
        left: &ast::Expr,
        ops: &[(ast::CmpOp, ast::Expr)],
        span: Span,
    ) -> CResult<Expr> {
        let mut operands = vec![self.expr(left)?];
        for (_, e) in ops {
            operands.push(self.expr(e)?);
        }
        if ops.len() == 1 {
            let r = operands.pop().expect("two operands");
            let l = operands.pop().expect("two operands");
            return compare2(ops[0].0, l, r, span);
        }
        // A chain `a < b < c` evaluates each operand once, left to right, and stops at the
        // first false comparison: bind non-trivial operands to temporaries, each just before
        // the first comparison that reads it.
        let mut lets: Vec<Option<(VarId, Expr)>> = Vec::new();
        for o in operands.iter_mut() {
            let trivial = matches!(
                o.kind,
                ExprKind::Var(_)
                    | ExprKind::Param(_)
                    | ExprKind::ConstInt(_)
                    | ExprKind::ConstFloat(_)
                    | ExprKind::ConstBool(_)
            );
            if trivial {
                lets.push(None);
            } else {
                let v = self.new_var("$cmp", o.ty);
                let value = std::mem::replace(o, mk(ExprKind::Var(v), o.ty, o.span));
                lets.push(Some((v, value)));
            }
        }
        let mut acc: Option<Expr> = None;
        for i in (0..ops.len()).rev() {
            let cmp = compare2(ops[i].0, operands[i].clone(), operands[i + 1].clone(), span)?;
            let mut e = match acc {
                None => cmp,
                Some(rest) => fold_boolop(ast::BoolOp::And, vec![cmp, rest], span),
            };
            let bind_here: &[usize] = if i == 0 { &[1, 0] } else { &[i + 1] };
            for &k in bind_here {
                if let Some((v, value)) = lets[k].take() {
                    e = mk(
                        ExprKind::Let(v, Box::new(value), Box::new(e)),
                        Type::Bool,
                        span,
                    );
                }
            }
            acc = Some(e);
        }
        Ok(acc.expect("at least one comparison"))
    }
}

fn math_call(name: &str, mut args: Vec<Expr>, span: Span, name_span: Span) -> CResult<Expr> {
    let one = |args: &mut Vec<Expr>| -> CResult<Expr> {
        if args.len() != 1 {
            return Err(err(
                ErrorKind::Type,
                span,
                format!(
                    "math.{name}() takes exactly one argument ({} given)",
                    args.len()
                ),
            ));
        }
        Ok(args.remove(0))
    };
    Ok(match name {
        "floor" | "ceil" | "trunc" => {
            let a = one(&mut args)?;
            match a.ty {
                Type::Int => a,
                Type::Bool => to_int(a),
                Type::Float => {
                    let c = match name {
                        "floor" => Cast::FloatFloor,
                        "ceil" => Cast::FloatCeil,
                        _ => Cast::FloatToInt,
                    };
                    cast(c, a, Type::Int)
                }
            }
        }
        "isnan" | "isinf" | "isfinite" => {
            let a = to_float(one(&mut args)?);
            // These read their operand twice, which is harmless for a pure expression.
            let fabs = |e: Expr| {
                mk(
                    ExprKind::Call(Builtin::Math(MathFn::Fabs), vec![e]),
                    Type::Float,
                    span,
                )
            };
            let inf = mk(ExprKind::ConstFloat(f64::INFINITY), Type::Float, span);
            let (op, l, r) = match name {
                "isnan" => (CmpOp::Ne, a.clone(), a),
                "isinf" => (CmpOp::Eq, fabs(a), inf),
                _ => (CmpOp::Lt, fabs(a), inf),
            };
            mk(
                ExprKind::Compare(op, CmpKind::Float, Box::new(l), Box::new(r)),
                Type::Bool,
                span,
            )
        }
        "log" if args.len() == 2 => {
            // CPython: log(x) / log(base), each log exact for ints of any size.
            let base = math_log(args.remove(1), span);
            let x = math_log(args.remove(0), span);
            mk(
                ExprKind::Binary(BinOp::FDiv, Box::new(x), Box::new(base)),
                Type::Float,
                span,
            )
        }
        _ => {
            let Some(f) = MathFn::from_name(name) else {
                return Err(unsupported(name_span, format!("`math.{name}` is not supported"))
                    .with_help("supported: sqrt exp expm1 log log2 log10 log1p sin cos tan asin acos atan sinh cosh tanh asinh acosh atanh fabs floor ceil trunc isnan isinf isfinite"));
            };
            let a = one(&mut args)?;
            if a.ty == Type::Int && matches!(f, MathFn::Log | MathFn::Log2 | MathFn::Log10) {
                // CPython takes logarithms of ints of any size exactly, without converting.
                return Ok(mk(
                    ExprKind::Call(Builtin::MathInt(f), vec![a]),
                    Type::Float,
                    span,
                ));
            }
            mk(
                ExprKind::Call(Builtin::Math(f), vec![to_float(a)]),
                Type::Float,
                span,
            )
        }
    })
}

/// `math.log(a)` of an int or a float.
fn math_log(a: Expr, span: Span) -> Expr {
    if a.ty == Type::Int {
        mk(
            ExprKind::Call(Builtin::MathInt(MathFn::Log), vec![a]),
            Type::Float,
            span,
        )
    } else {
        mk(
            ExprKind::Call(Builtin::Math(MathFn::Log), vec![to_float(a)]),
            Type::Float,
            span,
        )
    }
}

fn cast(c: Cast, e: Expr, ty: Type) -> Expr {
    let span = e.span;
    mk(ExprKind::Cast(c, Box::new(e)), ty, span)
}

fn to_int(e: Expr) -> Expr {
    match e.ty {
        Type::Bool => cast(Cast::BoolToInt, e, Type::Int),
        _ => e,
    }
}

fn to_float(e: Expr) -> Expr {
    match e.ty {
        Type::Bool => cast(Cast::BoolToFloat, e, Type::Float),
        Type::Int => cast(Cast::IntToFloat, e, Type::Float),
        Type::Float => e,
    }
}

/// Python truthiness as a Bool.
pub fn truth(e: Expr) -> Expr {
    match e.ty {
        Type::Bool => e,
        Type::Int => cast(Cast::IntTruth, e, Type::Bool),
        Type::Float => cast(Cast::FloatTruth, e, Type::Bool),
    }
}

fn fold_boolop(op: ast::BoolOp, parts: Vec<Expr>, span: Span) -> Expr {
    let ty = parts[0].ty;
    let mut it = parts.into_iter().rev();
    let last = it.next().expect("a boolean operation has operands");
    it.fold(last, |rest, a| {
        let k = match op {
            ast::BoolOp::And => ExprKind::And(Box::new(a), Box::new(rest)),
            ast::BoolOp::Or => ExprKind::Or(Box::new(a), Box::new(rest)),
        };
        mk(k, ty, span)
    })
}

fn type_error(span: Span, op: &str, l: Type, r: Type) -> CompileError {
    err(
        ErrorKind::Type,
        span,
        format!(
            "unsupported operand type(s) for {op}: '{}' and '{}'",
            l.name(),
            r.name()
        ),
    )
}

fn unary(op: ast::UnaryOp, v: Expr, span: Span) -> CResult<Expr> {
    Ok(match (op, v.ty) {
        (ast::UnaryOp::Neg, Type::Float) => {
            mk(ExprKind::Unary(UnOp::FNeg, Box::new(v)), Type::Float, span)
        }
        (ast::UnaryOp::Neg, _) => mk(
            ExprKind::Unary(UnOp::INeg, Box::new(to_int(v))),
            Type::Int,
            span,
        ),
        (ast::UnaryOp::Pos, _) => {
            let mut v = to_int(v);
            v.span = span;
            v
        }
        (ast::UnaryOp::Invert, Type::Float) => {
            return Err(err(
                ErrorKind::Type,
                span,
                "bad operand type for unary ~: 'float'",
            ))
        }
        (ast::UnaryOp::Invert, _) => mk(
            ExprKind::Unary(UnOp::IInvert, Box::new(to_int(v))),
            Type::Int,
            span,
        ),
        (ast::UnaryOp::Not, _) => mk(
            ExprKind::Unary(UnOp::BNot, Box::new(truth(v))),
            Type::Bool,
            span,
        ),
    })
}

fn bin(op: BinOp, l: Expr, r: Expr, ty: Type, span: Span) -> Expr {
    mk(ExprKind::Binary(op, Box::new(l), Box::new(r)), ty, span)
}

fn binary(op: ast::BinOp, l: Expr, r: Expr, span: Span) -> CResult<Expr> {
    use ast::BinOp as A;
    let ints = l.ty != Type::Float && r.ty != Type::Float;
    Ok(match op {
        A::Add | A::Sub | A::Mul | A::FloorDiv | A::Mod => {
            if ints {
                let o = match op {
                    A::Add => BinOp::IAdd,
                    A::Sub => BinOp::ISub,
                    A::Mul => BinOp::IMul,
                    A::FloorDiv => BinOp::IFloorDiv,
                    _ => BinOp::IMod,
                };
                bin(o, to_int(l), to_int(r), Type::Int, span)
            } else {
                let o = match op {
                    A::Add => BinOp::FAdd,
                    A::Sub => BinOp::FSub,
                    A::Mul => BinOp::FMul,
                    A::FloorDiv => BinOp::FFloorDiv,
                    _ => BinOp::FMod,
                };
                bin(o, to_float(l), to_float(r), Type::Float, span)
            }
        }
        A::Div => {
            if ints {
                bin(BinOp::ITrueDiv, to_int(l), to_int(r), Type::Float, span)
            } else {
                bin(BinOp::FDiv, to_float(l), to_float(r), Type::Float, span)
            }
        }
        A::Pow => {
            if ints {
                let r = fold::fold_expr(to_int(r));
                match &r.kind {
                    ExprKind::ConstInt(k) if !k.is_negative() => {
                        if k.to_u32().is_none_or(|k| k > MAX_INT_EXPONENT) {
                            return Err(unsupported(r.span, format!("the exponent {k} is too large to compute exactly")));
                        }
                        bin(BinOp::IPow, to_int(l), r, Type::Int, span)
                    }
                    // int ** negative int is a float, computed by CPython as float ** float.
                    ExprKind::ConstInt(_) => bin(BinOp::FPow, to_float(l), to_float(r), Type::Float, span),
                    _ => {
                        return Err(unsupported(
                            r.span,
                            "int ** int needs a constant exponent: the result is an int or a float depending on its sign",
                        )
                        .with_help("use a constant exponent, or float(x) ** y for a float result"))
                    }
                }
            } else {
                bin(BinOp::FPow, to_float(l), to_float(r), Type::Float, span)
            }
        }
        A::LShift | A::RShift | A::BitAnd | A::BitOr | A::BitXor => {
            if !ints {
                return Err(type_error(span, op.symbol(), l.ty, r.ty));
            }
            if l.ty == Type::Bool && r.ty == Type::Bool && !matches!(op, A::LShift | A::RShift) {
                let o = match op {
                    A::BitAnd => BinOp::BBitAnd,
                    A::BitOr => BinOp::BBitOr,
                    _ => BinOp::BBitXor,
                };
                return Ok(bin(o, l, r, Type::Bool, span));
            }
            let o = match op {
                A::LShift => BinOp::IShl,
                A::RShift => BinOp::IShr,
                A::BitAnd => BinOp::IBitAnd,
                A::BitOr => BinOp::IBitOr,
                _ => BinOp::IBitXor,
            };
            bin(o, to_int(l), to_int(r), Type::Int, span)
        }
    })
}

fn compare2(op: ast::CmpOp, l: Expr, r: Expr, span: Span) -> CResult<Expr> {
    let op = match op {
        ast::CmpOp::Eq => CmpOp::Eq,
        ast::CmpOp::NotEq => CmpOp::Ne,
        ast::CmpOp::Lt => CmpOp::Lt,
        ast::CmpOp::LtE => CmpOp::Le,
        ast::CmpOp::Gt => CmpOp::Gt,
        ast::CmpOp::GtE => CmpOp::Ge,
    };
    let (kind, l, r) = match (l.ty == Type::Float, r.ty == Type::Float) {
        (false, false) => (CmpKind::Int, to_int(l), to_int(r)),
        (true, true) => (CmpKind::Float, l, r),
        (false, true) => (CmpKind::IntFloat, to_int(l), r),
        (true, false) => (CmpKind::FloatInt, l, to_int(r)),
    };
    Ok(mk(
        ExprKind::Compare(op, kind, Box::new(l), Box::new(r)),
        Type::Bool,
        span,
    ))
}

/// Whether an int constant is zero (used by passes).
pub fn is_zero(e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::ConstInt(v) if v.is_zero())
}
