//! Lowering: AST → typed IR. Name resolution, type inference and every semantic decision
//! (which operation, which promotion, which check) happen here and nowhere else.

use num_bigint::BigInt;
use num_traits::{Signed, ToPrimitive, Zero};

use super::*;
use crate::diagnostics::{CResult, CompileError, ErrorKind};
use crate::passes::fold;
use crate::syntax::ast;

mod builtins;
mod comprehension;
mod consumer;
mod tagged;
use tagged::{coerce, join, tag};

/// The CPython version whose behaviour lowering follows where versions differ
/// (`int.bit_count` is new in 3.10, `math.cbrt` in 3.11, `math.hypot` rounds differently
/// before 3.10 and 3.12): the newest, unless a caller says otherwise.
pub const NEWEST_PYTHON: (u8, u8) = (3, 14);

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
    let mut lw = Lowerer::new(params, buffer, &[]);
    lw.pipeline(e)
}

/// Lower a program: its `def`s are inlined where the pipeline calls them.
pub fn lower_program(
    prog: &ast::Program,
    params: &[ParamInfo],
    buffer: Option<&BufferDecl>,
) -> CResult<Pipeline> {
    lower_program_for(prog, params, buffer, NEWEST_PYTHON)
}

/// Lower a program as CPython `python` (major, minor) would run it.
pub fn lower_program_for(
    prog: &ast::Program,
    params: &[ParamInfo],
    buffer: Option<&BufferDecl>,
    python: (u8, u8),
) -> CResult<Pipeline> {
    let mut lw = Lowerer::new(params, buffer, &prog.defs);
    lw.python = python;
    lw.pipeline(&prog.pipeline)
}

struct Lowerer {
    buffer: Option<BufferDecl>,
    params: Vec<ParamInfo>,
    vars: Vec<VarInfo>,
    /// Names bound by enclosing lambdas, innermost last.
    scopes: Vec<(String, VarId)>,
    /// The program's functions (a later `def` of a name replaces an earlier one).
    defs: Vec<std::rc::Rc<ast::FuncDef>>,
    /// The functions being inlined, innermost last.
    fns: Vec<FnCtx>,
    /// Statements lowered so far (loops are typed more than once): a bound on compile work.
    work: usize,
    /// When the pipeline's element is a tuple (`enumerate`, `zip`): the variables holding its
    /// parts. The IR element then is a leftover scalar that no stage reads.
    cur_tuple: Option<Vec<VarId>>,
    /// Lambda parameters bound to a tuple element (their `scopes` entry is `TUPLE_VAR`).
    tuples: Vec<(String, Vec<VarId>)>,
    /// A local read where its type differs by path: (depth of `fns`, name). The inlined
    /// call is lowered again with that name held as a tagged number throughout.
    retag: std::cell::RefCell<Option<(usize, String)>>,
    /// How many enclosing constructs may skip the expression being lowered (a conditional's
    /// branch, `and`/`or`, a comprehension): `:=` is compiled only where it certainly runs.
    cond_depth: usize,
    /// Lowering a list comprehension's reduction: every element is computed.
    eager: bool,
    /// The CPython version whose builtins are compiled (`NEWEST_PYTHON` by default).
    python: (u8, u8),
}

/// The `scopes` entry of a name bound to a tuple: look it up in `Lowerer::tuples`.
const TUPLE_VAR: VarId = VarId(u32::MAX);

impl Lowerer {
    fn new(params: &[ParamInfo], buffer: Option<&BufferDecl>, defs: &[ast::FuncDef]) -> Lowerer {
        Lowerer {
            params: params.to_vec(),
            vars: Vec::new(),
            scopes: Vec::new(),
            buffer: buffer.cloned(),
            defs: defs.iter().cloned().map(std::rc::Rc::new).collect(),
            fns: Vec::new(),
            work: 0,
            cur_tuple: None,
            tuples: Vec::new(),
            retag: Default::default(),
            cond_depth: 0,
            eager: false,
            python: NEWEST_PYTHON,
        }
    }
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

const CONSUMERS: &str = "sum, count, min, max, any, all, reduce, collect, product, find_first, \
find_any, position_first, position_any, min_by_key, max_by_key";

/// One `.method(args)` link of a pipeline chain.
struct Link<'a> {
    name: &'a ast::Ident,
    args: &'a [ast::Expr],
    kwargs: &'a [(ast::Ident, ast::Expr)],
    span: Span,
}

impl Lowerer {
    fn pipeline(&mut self, e: &ast::Expr) -> CResult<Pipeline> {
        let (cur, links) = chain_links(e);
        let source = self.source(cur)?;
        let mut elem_ty = source.elem_type();
        let mut stages = Vec::new();
        let mut view = Vec::new();
        let mut consumer = None;
        self.cur_tuple = None;
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
            let lname = link.name.name.as_str();
            match lname {
                "skip" | "take" | "step_by" => {
                    if !stages.is_empty() || view.iter().any(|v| matches!(v, ViewOp::Chain { .. }))
                    {
                        return Err(unsupported(
                            link.name.span,
                            format!("`.{lname}()` is compiled only right after the source"),
                        )
                        .with_help(format!(
                            "put `.{lname}()` right after the source, before map, filter, zip and enumerate"
                        )));
                    }
                    let n = self.one_arg(link)?;
                    let n = range_int(self.expr(n)?, n.span)?;
                    view.push(match lname {
                        "skip" => ViewOp::Skip(n),
                        "take" => ViewOp::Take(n),
                        _ => ViewOp::StepBy(n),
                    });
                }
                "zip" => {
                    if !stages.is_empty() || view.iter().any(|v| matches!(v, ViewOp::Chain { .. }))
                    {
                        return Err(unsupported(
                            link.name.span,
                            "`.zip()` is compiled only right after the source",
                        )
                        .with_help("zip right after the source, then map the pairs"));
                    }
                    let other = self.one_arg(link)?;
                    let zipped = match (&other.kind, &self.buffer, &source) {
                        (ast::ExprKind::Name(n), Some(b), Source::Buffer { .. }) => {
                            b.zip.as_ref().filter(|(z, _)| z == n).map(|(_, d)| *d)
                        }
                        _ => None,
                    };
                    if let Some(d) = zipped {
                        // Two input buffers, paired by position.
                        view.push(ViewOp::ZipBuffer(d));
                        let s = other.span;
                        let x = self.new_var("_x", elem_ty);
                        stages.push(Stage::Map {
                            var: x,
                            body: mk(ExprKind::Var(x), elem_ty, s),
                        });
                        let y = self.new_var("_y", d.elem_type());
                        stages.push(Stage::Let {
                            var: y,
                            value: mk(ExprKind::ZipItem(d), d.elem_type(), s),
                        });
                        self.cur_tuple = Some(vec![x, y]);
                        continue;
                    }
                    let is_range = is_range_call(other);
                    if !is_range {
                        return Err(unsupported(
                            other.span,
                            "`.zip()` is compiled with a range(...) or a second input buffer only",
                        ));
                    }
                    let Source::Range { start, stop, step } = self.source(other)? else {
                        unreachable!("a range call lowers to a range source")
                    };
                    let s = other.span;
                    let partner = bin(
                        BinOp::IAdd,
                        start.clone(),
                        bin(
                            BinOp::IMul,
                            mk(ExprKind::Index, Type::Int, s),
                            step.clone(),
                            Type::Int,
                            s,
                        ),
                        Type::Int,
                        s,
                    );
                    view.push(ViewOp::ZipRange { start, stop, step });
                    let x = self.new_var("_x", elem_ty);
                    stages.push(Stage::Map {
                        var: x,
                        body: mk(ExprKind::Var(x), elem_ty, s),
                    });
                    let y = self.new_var("_y", Type::Int);
                    stages.push(Stage::Let {
                        var: y,
                        value: partner,
                    });
                    self.cur_tuple = Some(vec![x, y]);
                }
                "chain" => {
                    let other = self.one_arg(link)?;
                    let is_range = is_range_call(other);
                    if !stages.is_empty()
                        || !view.is_empty()
                        || !matches!(source, Source::Range { .. })
                        || !is_range
                    {
                        return Err(unsupported(
                            link.name.span,
                            "`.chain()` is compiled for one range chained right after another",
                        )
                        .with_help("write range(a, b).chain(range(c, d)), then the stages"));
                    }
                    let Source::Range { start, stop, step } = self.source(other)? else {
                        unreachable!("a range call lowers to a range source")
                    };
                    view.push(ViewOp::Chain { start, stop, step });
                }
                "enumerate" => {
                    self.no_args(link)?;
                    if stages.iter().any(|s| matches!(s, Stage::Filter { .. })) {
                        return Err(unsupported(
                            link.name.span,
                            "`.enumerate()` after a filter is not compiled",
                        )
                        .with_help("enumerate before filtering, as Rayon requires"));
                    }
                    if self.cur_tuple.is_some() {
                        return Err(unsupported(
                            link.name.span,
                            "`.enumerate()` of tuples is not compiled",
                        ));
                    }
                    let s = link.span;
                    let x = self.new_var("_x", elem_ty);
                    stages.push(Stage::Map {
                        var: x,
                        body: mk(ExprKind::Var(x), elem_ty, s),
                    });
                    let i = self.new_var("_i", Type::Int);
                    stages.push(Stage::Let {
                        var: i,
                        value: mk(ExprKind::Index, Type::Int, s),
                    });
                    self.cur_tuple = Some(vec![i, x]);
                }
                "map" => {
                    let arg = self.one_arg(link)?;
                    if let Some(parts) = self.tuple_map(arg, elem_ty, &mut stages)? {
                        self.cur_tuple = Some(parts);
                        continue;
                    }
                    let (var, body) = self.stage_fn(arg, elem_ty, false)?;
                    elem_ty = body.ty;
                    stages.push(Stage::Map { var, body });
                    self.cur_tuple = None;
                }
                "filter" => {
                    let arg = self.one_arg(link)?;
                    let (var, pred) = self.stage_fn(arg, elem_ty, true)?;
                    stages.push(Stage::Filter { var, pred });
                }
                "fold" => {
                    let k = links
                        .iter()
                        .position(|l| std::ptr::eq(l, link))
                        .expect("in links");
                    consumer = Some(self.fold(link, elem_ty, links.get(k + 1))?);
                    break;
                }
                "flat_map" => {
                    let k = links
                        .iter()
                        .position(|l| std::ptr::eq(l, link))
                        .expect("in links");
                    let (stage, c) = self.flat_map(link, elem_ty, &links[k + 1..])?;
                    stages.push(stage);
                    consumer = Some(c);
                    break;
                }
                _ => {
                    if self.cur_tuple.is_some() {
                        let ok = match lname {
                            "count" | "position_first" | "position_any" => true,
                            "any" | "all" => !link.args.is_empty(),
                            _ => false,
                        };
                        if !ok {
                            return Err(unsupported(
                                link.name.span,
                                format!("`.{lname}()` of tuples is not compiled yet"),
                            )
                            .with_help("map the tuples to numbers first, e.g. `.map(lambda t: t[0] * t[1])`"));
                        }
                    }
                    consumer = Some(self.consumer(link, elem_ty)?)
                }
            }
        }
        self.cur_tuple = None;
        let Some(consumer) = consumer else {
            let span = links.last().map_or(e.span, |l| l.span);
            return Err(err(ErrorKind::Syntax, span, "the pipeline has no consumer")
                .with_help(format!("end it with one of: {CONSUMERS}, e.g. `.sum()`")));
        };
        Ok(Pipeline {
            params: self.params.clone(),
            vars: std::mem::take(&mut self.vars),
            source,
            view,
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
                        let (start, stop, step) = self.range_bounds(name, args, e.span)?;
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
                    ty = Some(ty.map_or(v.ty, |t| join(t, v.ty)));
                    out.push(v);
                }
                // Items of different types are tagged numbers, each keeping its own type.
                let ty = ty.unwrap_or(Type::Int);
                Ok(Source::List {
                    items: out.into_iter().map(|v| coerce(v, ty)).collect(),
                    ty,
                })
            }
            _ => Err(self.not_a_source(e)),
        }
    }

    /// The start, stop and step of `name(args...)` (`range` or `par_range`), ints each
    /// evaluated once, in order.
    fn range_bounds(
        &mut self,
        name: &str,
        args: &[ast::Expr],
        span: Span,
    ) -> CResult<(Expr, Expr, Expr)> {
        let mut vals = Vec::new();
        for a in args {
            let v = self.expr(a)?;
            vals.push(fold::fold_expr(range_int(v, a.span)?));
        }
        let int = |v: i64| mk(ExprKind::ConstInt(BigInt::from(v)), Type::Int, span);
        Ok(match vals.len() {
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
                    span,
                    format!("{name} expected 1 to 3 arguments, got {n}"),
                ))
            }
        })
    }

    fn not_a_source(&self, e: &ast::Expr) -> CompileError {
        unsupported(e.span, "expected a pipeline source")
            .with_help("start with range(...), par_range(...) or a list literal [...]")
    }

    /// A stage function: `lambda v: body` or a bare expression over `x`, or the name of a
    /// one-argument builtin (`abs`, `math.sqrt`). Returns the bound variable and the body
    /// (the body's truthiness when `cond`).
    fn stage_fn(&mut self, f: &ast::Expr, elem: Type, cond: bool) -> CResult<(VarId, Expr)> {
        if let Some(parts) = self.cur_tuple.clone() {
            if let ast::ExprKind::Name(n) = &f.kind {
                if let Some(d) = self.def_named(n).filter(|_| !self.is_local(n)) {
                    let var = self.new_var("_elem", elem);
                    let saved = self.cur_tuple.take();
                    let body = self.inline_tuple_call(d, parts, f.span);
                    self.cur_tuple = saved;
                    let body = body?;
                    return Ok((var, if cond { truth(body) } else { body }));
                }
            }
            return self.tuple_fn(f, elem, parts, cond, |lw, body| {
                if cond {
                    lw.cond(body)
                } else {
                    lw.expr(body)
                }
            });
        }
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
        // Truncated back to this mark: `:=` in the body binds names after the parameter.
        let mark = self.scopes.len();
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
        self.scopes.truncate(mark);
        Ok((var, res?))
    }

    fn is_callable_ref(&self, f: &ast::Expr) -> bool {
        match &f.kind {
            ast::ExprKind::Name(n) => {
                !self.is_local(n)
                    && (matches!(n.as_str(), "abs" | "int" | "float" | "bool" | "round")
                        || self.def_named(n).is_some())
            }
            ast::ExprKind::Attribute { value, .. } => {
                matches!(&value.kind, ast::ExprKind::Name(m) if m == "math" && !self.is_local(m))
            }
            _ => false,
        }
    }

    /// `.flat_map(lambda v: range(...))` and the links after it: the rest of the pipeline runs
    /// as a nested loop over each element's range, and the outer consumer combines the inner
    /// results (sums of sums, counts summed, products of products, any of anys, all of alls),
    /// in the same order and with the same early exits as Python's flattened iteration.
    fn flat_map(&mut self, link: &Link, elem: Type, rest: &[Link]) -> CResult<(Stage, Consumer)> {
        let f = self.one_arg(link)?;
        if self.cur_tuple.is_some() {
            return Err(unsupported(
                link.name.span,
                "`.flat_map()` of tuples is not compiled yet",
            ));
        }
        let (pname, body) = match &f.kind {
            ast::ExprKind::Lambda { params, body } => match params.as_slice() {
                [p] => (p.name.clone(), &**body),
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
            _ => ("x".to_string(), f),
        };
        let Some((last, stages)) = rest.split_last() else {
            return Err(
                err(ErrorKind::Syntax, link.span, "the pipeline has no consumer")
                    .with_help(format!("end it with one of: {CONSUMERS}, e.g. `.sum()`")),
            );
        };
        let outer = match last.name.name.as_str() {
            "sum" => Consumer::Sum,
            "count" => Consumer::Sum,
            "product" => Consumer::Product,
            "any" => Consumer::Any(None),
            "all" => Consumer::All(None),
            other => {
                return Err(unsupported(
                    last.name.span,
                    format!("`.{other}()` after `.flat_map()` is not compiled yet"),
                )
                .with_help(
                    "after flat_map, end the pipeline with sum, count, product, any or all",
                ))
            }
        };
        let is_range = is_range_call(body);
        if !is_range {
            return Err(unsupported(
                body.span,
                "flat_map is compiled when its function returns a range(...)",
            ));
        }
        let var = self.new_var(&pname, elem);
        // Only the range's bounds see the parameter; the stages after flat_map do not.
        self.scopes.push((pname, var));
        let src = self.source(body);
        self.scopes.pop();
        let Source::Range { start, stop, step } = src? else {
            unreachable!("a range call lowers to a range source")
        };
        let inner = self.nested_loop(start, stop, step, stages, last, link.span)?;
        Ok((Stage::Map { var, body: inner }, outer))
    }

    /// A stage function over a tuple element: `lambda t: ...t[0]...t[1]...`. Returns a
    /// variable for the IR's (unused) scalar element and what `lower` makes of the body.
    fn tuple_fn<T>(
        &mut self,
        f: &ast::Expr,
        elem: Type,
        parts: Vec<VarId>,
        _cond: bool,
        lower: impl FnOnce(&mut Self, &ast::Expr) -> CResult<T>,
    ) -> CResult<(VarId, T)> {
        let (name, body) = match &f.kind {
            ast::ExprKind::Lambda { params, body } if params.len() == 1 => {
                (params[0].name.clone(), &**body)
            }
            ast::ExprKind::Lambda { params, .. } => {
                return Err(err(
                    ErrorKind::Type,
                    f.span,
                    format!(
                        "this stage passes one argument (a tuple), but the lambda takes {}",
                        params.len()
                    ),
                ))
            }
            _ if self.is_callable_ref(f) => {
                return Err(unsupported(
                    f.span,
                    "a builtin of a tuple element is not compiled",
                ))
            }
            _ => ("x".to_string(), f),
        };
        let var = self.new_var("_elem", elem);
        let mark = self.scopes.len();
        self.scopes.push((name.clone(), TUPLE_VAR));
        self.tuples.push((name, parts));
        let saved = self.cur_tuple.take();
        let res = lower(self, body);
        self.cur_tuple = saved;
        self.tuples.pop();
        self.scopes.truncate(mark);
        Ok((var, res?))
    }

    /// `.map(lambda t: (a, b, ...))`: the parts become variables and the element a tuple of
    /// them. None when the stage does not return a tuple display.
    fn tuple_map(
        &mut self,
        f: &ast::Expr,
        elem: Type,
        stages: &mut Vec<Stage>,
    ) -> CResult<Option<Vec<VarId>>> {
        let (pname, body) = match &f.kind {
            ast::ExprKind::Lambda { params, body } if params.len() == 1 => {
                (params[0].name.clone(), &**body)
            }
            _ => ("x".to_string(), f),
        };
        let ast::ExprKind::Tuple(items) = &body.kind else {
            return Ok(None);
        };
        if items.len() < 2 {
            return Err(unsupported(
                body.span,
                "a tuple of fewer than two items is not compiled",
            ));
        }
        let lower_items = |lw: &mut Self, _: &ast::Expr| -> CResult<Vec<Expr>> {
            let mut out = Vec::new();
            for it in items {
                out.push(lw.expr(it)?);
            }
            Ok(out)
        };
        let values = match self.cur_tuple.clone() {
            Some(parts) => {
                let (var, values) = self.tuple_fn(f, elem, parts, false, lower_items)?;
                stages.push(Stage::Map {
                    var,
                    body: mk(ExprKind::Var(var), elem, f.span),
                });
                values
            }
            None => {
                let var = self.new_var(&pname, elem);
                stages.push(Stage::Map {
                    var,
                    body: mk(ExprKind::Var(var), elem, f.span),
                });
                let mark = self.scopes.len();
                self.scopes.push((pname, var));
                let res = lower_items(self, body);
                self.scopes.truncate(mark);
                res?
            }
        };
        let mut parts = Vec::new();
        for v in values {
            let var = self.new_var("_t", v.ty);
            stages.push(Stage::Let { var, value: v });
            parts.push(var);
        }
        Ok(Some(parts))
    }

    /// A pipeline inside a stage (`lambda i: range(0, i).map(...).sum()`): one sequential loop
    /// in an inlined block, which returns the consumer's value. The enclosing pipeline stays
    /// the parallel one.
    fn nested(&mut self, e: &ast::Expr) -> CResult<Expr> {
        let span = e.span;
        let (cur, links) = chain_links(e);
        let Source::Range { start, stop, step } = self.source(cur)? else {
            return Err(unsupported(
                cur.span,
                "a nested pipeline must start with range(...)",
            ));
        };
        let Some((last, stages)) = links.split_last() else {
            return Err(unsupported(span, "expected a pipeline"));
        };
        self.nested_loop(start, stop, step, stages, last, span)
    }

    /// The loop of a nested pipeline over `range(start, stop, step)`.
    fn nested_loop(
        &mut self,
        start: Expr,
        stop: Expr,
        step: Expr,
        stages: &[Link],
        last: &Link,
        span: Span,
    ) -> CResult<Expr> {
        let var = self.new_var("_i", Type::Int);
        let mut body = Vec::new();
        let mut cur = mk(ExprKind::Var(var), Type::Int, span);
        for link in stages {
            if let Some((k, _)) = link.kwargs.first() {
                return Err(unsupported(
                    k.span,
                    format!("keyword argument `{}` is not supported here", k.name),
                ));
            }
            match link.name.name.as_str() {
                "map" => {
                    let (v, b) = self.stage_fn(self.one_arg(link)?, cur.ty, false)?;
                    body.push(Stmt::Assign(v, cur));
                    cur = b;
                }
                "filter" => {
                    let (v, pred) = self.stage_fn(self.one_arg(link)?, cur.ty, true)?;
                    body.push(Stmt::Assign(v, cur.clone()));
                    let s = pred.span;
                    body.push(Stmt::If(pred, Vec::new(), vec![Stmt::Continue]));
                    // The element is still the filter's variable.
                    cur = mk(ExprKind::Var(v), cur.ty, s);
                }
                other => {
                    return Err(unsupported(
                        link.name.span,
                        format!("`.{other}()` is not supported in a nested pipeline"),
                    )
                    .with_help("nested pipelines take map and filter stages"))
                }
            }
        }
        let elem = cur.ty;
        let name = last.name.name.as_str();
        let int = |v: i64| mk(ExprKind::ConstInt(BigInt::from(v)), Type::Int, span);
        let boolean = |v: bool| mk(ExprKind::ConstBool(v), Type::Bool, span);
        let as_int = |x: Expr| {
            if x.ty == Type::Bool {
                cast(Cast::BoolToInt, x, Type::Int)
            } else {
                x
            }
        };
        let mut pre = Vec::new();
        let after: Expr;
        match name {
            "sum" | "count" | "product" => {
                self.no_args(last)?;
                if matches!(elem, Type::Float | Type::Num) && name != "count" {
                    return Err(unsupported(
                        last.name.span,
                        format!("a {name} of floats inside a stage is not compiled yet"),
                    )
                    .with_help("sum ints here, or make the float sum the outer pipeline"));
                }
                let acc = self.new_var(name, Type::Int);
                pre.push(Stmt::Assign(acc, int((name == "product") as i64)));
                let a = mk(ExprKind::Var(acc), Type::Int, span);
                let update = match name {
                    "sum" => bin(BinOp::IAdd, a.clone(), as_int(cur), Type::Int, span),
                    "product" => bin(BinOp::IMul, a.clone(), as_int(cur), Type::Int, span),
                    _ => {
                        body.push(Stmt::Eval(cur));
                        bin(BinOp::IAdd, a.clone(), int(1), Type::Int, span)
                    }
                };
                body.push(Stmt::Assign(acc, update));
                after = a;
            }
            "any" | "all" => {
                let c = match last.args {
                    [] => truth(cur),
                    [f] => {
                        let (v, pred) = self.stage_fn(f, elem, true)?;
                        body.push(Stmt::Assign(v, cur));
                        pred
                    }
                    _ => {
                        return Err(err(
                            ErrorKind::Type,
                            last.span,
                            format!("`.{name}()` takes at most one argument"),
                        ))
                    }
                };
                let any = name == "any";
                let c = if any {
                    c
                } else {
                    let s = c.span;
                    mk(ExprKind::Unary(UnOp::BNot, Box::new(c)), Type::Bool, s)
                };
                body.push(Stmt::If(c, vec![Stmt::Return(boolean(any))], Vec::new()));
                after = boolean(!any);
            }
            "reduce" => {
                let Consumer::Reduce {
                    identity,
                    acc,
                    item,
                    op,
                    ..
                } = self.reduce(last, elem)?
                else {
                    unreachable!("reduce lowers to Consumer::Reduce")
                };
                let ty = identity.ty;
                let total = self.new_var("acc", ty);
                pre.push(Stmt::Assign(total, identity));
                body.push(Stmt::Assign(acc, mk(ExprKind::Var(total), ty, span)));
                body.push(Stmt::Assign(item, coerce(cur, ty)));
                body.push(Stmt::Assign(total, op));
                after = mk(ExprKind::Var(total), ty, span);
            }
            other => {
                return Err(unsupported(
                    last.name.span,
                    format!("`.{other}()` is not supported as the consumer of a nested pipeline"),
                )
                .with_help("nested pipelines end with sum, count, product, any, all or reduce"))
            }
        }
        let ty = after.ty;
        pre.push(Stmt::ForRange {
            var,
            start,
            stop,
            step,
            first: None,
            body,
        });
        pre.push(Stmt::Return(after));
        Ok(mk(ExprKind::Block(pre), ty, span))
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
                for (i, v) in values.iter().enumerate() {
                    // Operands after the first may not run.
                    self.cond_depth += usize::from(i == 1);
                    let p = self.cond(v);
                    parts.push(p);
                }
                self.cond_depth -= usize::from(values.len() > 1);
                let parts = parts.into_iter().collect::<CResult<Vec<_>>>()?;
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
            ast::ExprKind::Call { .. } if is_nested_pipeline(e) => self.nested(e)?,
            ast::ExprKind::Call { func, args, kwargs }
                if matches!(&func.kind, ast::ExprKind::Name(n)
                    if !self.is_local(n) && self.def_named(n).is_none()
                        && matches!(n.as_str(), "sum" | "any" | "all" | "min" | "max")) =>
            {
                let ast::ExprKind::Name(n) = &func.kind else {
                    unreachable!("matched above")
                };
                match self.reducer_call(n, args, kwargs, span)? {
                    Some(e) => e,
                    None => self.plain_call(func, args, kwargs, span)?,
                }
            }
            ast::ExprKind::Call { func, args, kwargs } if self.table_callee(func).is_some() => {
                self.table_call(func, args, kwargs, span)?
            }
            ast::ExprKind::Subscript { value, index } if self.is_table_tuple(value) => {
                self.table_subscript(value, index, span)?
            }
            ast::ExprKind::Call { func, args, kwargs } => {
                self.plain_call(func, args, kwargs, span)?
            }
            ast::ExprKind::Subscript { value, index } => self.subscript(value, index, span)?,
            ast::ExprKind::Unary { op, operand } => {
                if *op == ast::UnaryOp::Not {
                    return self.cond(e);
                }
                let v = self.expr(operand)?;
                self.unary_any(*op, v, span)?
            }
            ast::ExprKind::Binary { op, left, right } => {
                let l = self.expr(left)?;
                let r = self.expr(right)?;
                self.binary_any(*op, l, r, span)?
            }
            ast::ExprKind::BoolOp { op, values } => {
                let mut parts = Vec::new();
                for (i, v) in values.iter().enumerate() {
                    self.cond_depth += usize::from(i == 1);
                    let p = self.expr(v);
                    parts.push(p);
                }
                self.cond_depth -= usize::from(values.len() > 1);
                let parts = parts.into_iter().collect::<CResult<Vec<_>>>()?;
                self.boolop_any(*op, parts, span)
            }
            ast::ExprKind::Compare { left, ops } => self.compare(left, ops, span)?,
            ast::ExprKind::IfExp { test, body, orelse } => {
                let c = self.cond(test)?;
                self.cond_depth += 1;
                let a = self.expr(body);
                let b = self.expr(orelse);
                self.cond_depth -= 1;
                self.if_any(c, a?, b?, span)
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
            ast::ExprKind::Comprehension { list, .. } => {
                let what = if *list {
                    "a list comprehension"
                } else {
                    "a generator expression"
                };
                return Err(unsupported(
                    span,
                    format!("{what} is compiled only as the argument of sum, any, all, min or max"),
                ));
            }
            ast::ExprKind::NamedExpr { target, value } => self.named_expr(target, value, span)?,
        })
    }

    /// A call of a `def` (inlined) or of a builtin.
    fn plain_call(
        &mut self,
        func: &ast::Expr,
        args: &[ast::Expr],
        kwargs: &[(ast::Ident, ast::Expr)],
        span: Span,
    ) -> CResult<Expr> {
        let def = match &func.kind {
            ast::ExprKind::Name(n) if !self.is_local(n) => self.def_named(n),
            _ => None,
        };
        if def.is_none() {
            if let Some((k, _)) = kwargs.first() {
                return Err(unsupported(
                    k.span,
                    format!("keyword argument `{}` is not supported here", k.name),
                ));
            }
        }
        let mut vals = Vec::new();
        for a in args {
            vals.push(self.expr(a)?);
        }
        match def {
            Some(d) => {
                let mut kws = Vec::new();
                for (k, v) in kwargs {
                    kws.push((k.clone(), self.expr(v)?));
                }
                self.inline_call_kw(d, vals, kws, span)
            }
            None => self.call_builtin(func, vals, span),
        }
    }

    /// The variables of the tuple a name is bound to (its scope entry is `TUPLE_VAR`).
    fn tuple_parts(&self, n: &str) -> Vec<VarId> {
        self.tuples
            .iter()
            .rev()
            .find(|(t, _)| t == n)
            .map(|(_, p)| p.clone())
            .expect("bound with the scope")
    }

    /// `t[k]` of a tuple element, `k` a constant.
    fn subscript(&self, value: &ast::Expr, index: &ast::Expr, span: Span) -> CResult<Expr> {
        let parts = match &value.kind {
            ast::ExprKind::Name(n) if self.lookup(n) == Some(TUPLE_VAR) => self.tuple_parts(n),
            _ => return Err(unsupported(span, "subscripts are not supported here")),
        };
        let k = match &index.kind {
            ast::ExprKind::Int(k) => Some(k.clone()),
            ast::ExprKind::Unary {
                op: ast::UnaryOp::Neg,
                operand,
            } => match &operand.kind {
                ast::ExprKind::Int(k) => Some(-k.clone()),
                _ => None,
            },
            _ => None,
        };
        let Some(k) = k else {
            return Err(unsupported(
                index.span,
                "a tuple is indexed with a constant here, e.g. t[0]",
            ));
        };
        let n = parts.len() as i64;
        let i = k
            .to_i64()
            .map(|k| if k < 0 { k + n } else { k })
            .filter(|i| (0..n).contains(i));
        let Some(i) = i else {
            return Err(err(
                ErrorKind::Unsupported,
                index.span,
                "tuple index out of range",
            )
            .with_help(format!("the tuple has {n} items")));
        };
        let v = parts[i as usize];
        Ok(mk(ExprKind::Var(v), self.vars[v.0 as usize].ty, span))
    }

    fn name(&self, n: &str, span: Span) -> CResult<Expr> {
        if self.lookup(n) == Some(TUPLE_VAR) {
            return Err(unsupported(
                span,
                format!("`{n}` is a tuple here: only its items (`{n}[0]`, ...) are compiled"),
            ));
        }
        // A lambda inside a def sees its own parameters first (the def's scopes start empty,
        // so only lambdas written inside it are there), then the def's locals.
        if let Some(v) = self.lookup(n) {
            return Ok(mk(ExprKind::Var(v), self.vars[v.0 as usize].ty, span));
        }
        if let Some(f) = self.fns.last() {
            if f.locals.contains(n) {
                if let Some(Slot::Conflict(..)) = f.env.as_ref().and_then(|e| e.get(n)) {
                    *self.retag.borrow_mut() = Some((self.fns.len(), n.to_string()));
                }
                return f.read(n, span);
            }
        }
        if let Some(i) = self.params.iter().position(|p| p.name == n) {
            return Ok(mk(ExprKind::Param(i as u32), self.params[i].ty, span));
        }
        if matches!(n, "range" | "par_range" | "into_par_iter") {
            return Err(unsupported(span, "nested pipelines are not supported yet"));
        }
        if self.def_named(n).is_some() {
            return Err(unsupported(
                span,
                format!("the function `{n}` can only be called or passed to a stage here"),
            ));
        }
        Err(
            err(ErrorKind::Name, span, format!("name '{n}' is not defined"))
                .with_help(format!("bind it as a parameter, e.g. -D {n}=10")),
        )
    }

    fn attribute(&self, value: &ast::Expr, attr: &ast::Ident, span: Span) -> CResult<Expr> {
        if !matches!(&value.kind, ast::ExprKind::Name(m) if m == "math" && !self.is_local(m)) {
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
        if let Some(callee) = self.table_callee(func) {
            return self.table_call_values(callee, args, Vec::new(), span);
        }
        let fname = match &func.kind {
            ast::ExprKind::Name(n) if !self.is_local(n) => n.clone(),
            _ => {
                return Err(unsupported(
                    func.span,
                    "only builtins and math functions can be called here",
                ))
            }
        };
        if let Some(d) = self.def_named(&fname) {
            return self.inline_call(d, args, span);
        }
        if matches!(fname.as_str(), "min" | "max") && args.len() >= 2 {
            if args.iter().any(|a| a.ty != args[0].ty || a.ty == Type::Num) {
                return self.minmax_any(fname == "max", args, span);
            }
        } else if args.iter().any(|a| a.ty == Type::Num) {
            return self.over_typed(args, span, &mut |lw, args| {
                lw.call_builtin(func, args, span)
            });
        }
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
                    Type::Float | Type::Num => mk(
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
                    Type::Float | Type::Num => cast(Cast::FloatToInt, a, Type::Int),
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
                        .with_help(
                        "supported: abs, int, float, bool, round, min, max, divmod, pow, math.*",
                    ),
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
        for (i, (_, e)) in ops.iter().enumerate() {
            // A chain stops at its first false comparison: later operands may not run.
            self.cond_depth += usize::from(i > 0);
            let v = self.expr(e);
            self.cond_depth -= usize::from(i > 0);
            operands.push(v?);
        }
        if ops.len() == 1 {
            let r = operands.pop().expect("two operands");
            let l = operands.pop().expect("two operands");
            return self.compare_any(ops[0].0, l, r, span);
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
            let cmp =
                self.compare_any(ops[i].0, operands[i].clone(), operands[i + 1].clone(), span)?;
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

fn cast(c: Cast, e: Expr, ty: Type) -> Expr {
    let span = e.span;
    mk(ExprKind::Cast(c, Box::new(e)), ty, span)
}

/// `e` as an int; bools convert. (A `Num` is dispatched on before: left as it is, the
/// verifier reports it.)
fn to_int(e: Expr) -> Expr {
    match e.ty {
        Type::Bool => cast(Cast::BoolToInt, e, Type::Int),
        _ => e,
    }
}

/// `e` as a float: correctly rounded from an int. (A `Num` is dispatched on before.)
fn to_float(e: Expr) -> Expr {
    match e.ty {
        Type::Bool => cast(Cast::BoolToFloat, e, Type::Float),
        Type::Int => cast(Cast::IntToFloat, e, Type::Float),
        Type::Float | Type::Num => e,
    }
}

/// Python truthiness as a Bool.
pub fn truth(e: Expr) -> Expr {
    match e.ty {
        Type::Bool => e,
        Type::Int => cast(Cast::IntTruth, e, Type::Bool),
        Type::Float => cast(Cast::FloatTruth, e, Type::Bool),
        Type::Num => cast(Cast::NumTruth, e, Type::Bool),
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

// ---------------------------------------------------------------------------------------------
// Functions: `def`s inlined at each call, statements, per-variable types
// ---------------------------------------------------------------------------------------------

/// The most statements lowered for one pipeline (loops are typed up to a few times, nested
/// loops multiply): past it, the function is refused rather than compiled slowly.
const MAX_WORK: usize = 200_000;

/// The most calls nested inside each other.
const MAX_CALL_DEPTH: usize = 32;

/// What is known about a local name at one point of a function body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Bound on every path, with this type.
    Bound(Type),
    /// Bound on every path, with different types on different paths.
    Conflict(Type, Type),
    /// Unbound on some path.
    MaybeUnbound,
}

/// The state of every local name (absent: unbound) at one point; `None`: unreachable.
type Env = std::collections::BTreeMap<String, Slot>;

fn merge_slot(a: Option<Slot>, b: Option<Slot>) -> Option<Slot> {
    use Slot::*;
    match (a, b) {
        (None, None) => None,
        (Some(Bound(x)), Some(Bound(y))) if x == y => Some(Bound(x)),
        (Some(Bound(x)), Some(Bound(y))) => Some(Conflict(x, y)),
        (Some(MaybeUnbound), _) | (_, Some(MaybeUnbound)) | (None, _) | (_, None) => {
            Some(MaybeUnbound)
        }
        (Some(c @ Conflict(..)), _) | (_, Some(c @ Conflict(..))) => Some(c),
    }
}

fn merge_env(a: &Env, b: &Env) -> Env {
    let mut out = Env::new();
    for k in a.keys().chain(b.keys()) {
        if let Some(s) = merge_slot(a.get(k).copied(), b.get(k).copied()) {
            out.insert(k.clone(), s);
        }
    }
    out
}

/// Merge the states of several paths (`None`: no path).
fn merge_all(envs: impl IntoIterator<Item = Option<Env>>) -> Option<Env> {
    envs.into_iter()
        .fold(None, |acc: Option<Env>, e| match (acc, e) {
            (None, x) | (x, None) => x,
            (Some(a), Some(b)) => Some(merge_env(&a, &b)),
        })
}

/// The states at the `break`s and `continue`s of one loop.
#[derive(Default)]
struct LoopFrame {
    breaks: Vec<Env>,
    conts: Vec<Env>,
}

/// One function being inlined.
struct FnCtx {
    name: String,
    /// Every name assigned somewhere in the body (and the parameters): local, as in Python.
    locals: std::collections::HashSet<String>,
    /// The state here; `None` after `return`, `break`, `continue`.
    env: Option<Env>,
    /// One IR variable per (name, type), for this inlined copy.
    var_of: std::collections::HashMap<(String, Type), VarId>,
    /// The type of the `return`s so far (their join), and where the first is.
    ret: Option<(Type, Span)>,
    /// Locals held as tagged numbers everywhere in this copy: their type differs by path.
    nums: std::collections::HashSet<String>,
    loops: Vec<LoopFrame>,
}

impl FnCtx {
    fn read(&self, n: &str, span: Span) -> CResult<Expr> {
        match self.env.as_ref().and_then(|e| e.get(n)) {
            Some(Slot::Bound(ty)) => {
                let v = self.var_of[&(n.to_string(), *ty)];
                Ok(mk(ExprKind::Var(v), *ty, span))
            }
            Some(Slot::Conflict(a, b)) => Err(unsupported(
                span,
                format!(
                    "the type of `{n}` here depends on the path taken ({} or {})",
                    a.name(),
                    b.name()
                ),
            )
            .with_help(format!(
                "give `{n}` one type on every path, e.g. assign a float (0.0) where it is an int"
            ))),
            Some(Slot::MaybeUnbound) | None => Err(unsupported(
                span,
                format!("`{n}` may be used before it is assigned"),
            )
            .with_help(format!("assign `{n}` on every path before this use"))),
        }
    }
}

/// Tag the values of a body's `return`s (those of this body: an inlined call inside is an
/// expression, with returns of its own).
fn tag_returns(stmts: &mut [Stmt]) {
    for s in stmts {
        match s {
            Stmt::Return(e) => {
                let v = std::mem::replace(e, mk(ExprKind::ConstBool(false), Type::Bool, e.span));
                *e = tag(v);
            }
            Stmt::If(_, a, b) => {
                tag_returns(a);
                tag_returns(b);
            }
            Stmt::While { first, body, .. } => {
                if let Some((_, b)) = first {
                    tag_returns(b);
                }
                tag_returns(body);
            }
            Stmt::ForRange { first, body, .. } => {
                if let Some(b) = first {
                    tag_returns(b);
                }
                tag_returns(body);
            }
            Stmt::Assign(..) | Stmt::Eval(_) | Stmt::Break | Stmt::Continue | Stmt::Raise(_) => {}
        }
    }
}

/// Names a function body assigns (its locals, with the parameters).
fn assigned_names(body: &[ast::Stmt], out: &mut std::collections::HashSet<String>) {
    for s in body {
        match &s.kind {
            ast::StmtKind::Assign { targets, .. } => {
                for t in targets {
                    match t {
                        ast::Target::Name(n) => {
                            out.insert(n.name.clone());
                        }
                        ast::Target::Tuple(ns, _) => {
                            out.extend(ns.iter().map(|n| n.name.clone()));
                        }
                    }
                }
            }
            ast::StmtKind::AugAssign { target, .. } => {
                out.insert(target.name.clone());
            }
            ast::StmtKind::If { body, orelse, .. } => {
                assigned_names(body, out);
                assigned_names(orelse, out);
            }
            ast::StmtKind::For { target, body, .. } => {
                out.insert(target.name.clone());
                assigned_names(body, out);
            }
            ast::StmtKind::While { body, .. } => assigned_names(body, out),
            _ => {}
        }
    }
}

/// `len(range(start, stop, step))` for constants.
fn const_int(e: &Expr) -> Option<&BigInt> {
    match &e.kind {
        ExprKind::ConstInt(v) => Some(v),
        _ => None,
    }
}

impl Lowerer {
    fn def_named(&self, n: &str) -> Option<std::rc::Rc<ast::FuncDef>> {
        self.defs.iter().rev().find(|d| d.name.name == n).cloned()
    }

    /// Whether `n` is a local name where it is used: a local of the function being inlined,
    /// or a lambda parameter.
    fn is_local(&self, n: &str) -> bool {
        match self.fns.last() {
            Some(f) => f.locals.contains(n),
            None => self.lookup(n).is_some(),
        }
    }

    fn f(&mut self) -> &mut FnCtx {
        self.fns.last_mut().expect("inside a function")
    }

    fn env(&mut self) -> &mut Env {
        self.f().env.as_mut().expect("reachable code")
    }

    /// The IR variable for `name` holding a `ty` (one per type in each inlined copy).
    fn local_var(&mut self, name: &str, ty: Type) -> VarId {
        let key = (name.to_string(), ty);
        if let Some(v) = self.f().var_of.get(&key) {
            return *v;
        }
        let v = self.new_var(name, ty);
        self.f().var_of.insert(key, v);
        v
    }

    /// Store `value` into the local `name`, which takes the value's type from here on.
    fn bind(&mut self, name: &str, value: Expr, out: &mut Vec<Stmt>) {
        let value = if self.f().nums.contains(name) {
            tag(value)
        } else {
            value
        };
        let ty = value.ty;
        let v = self.local_var(name, ty);
        out.push(Stmt::Assign(v, value));
        self.env().insert(name.to_string(), Slot::Bound(ty));
    }

    /// A call of a `def`: its body inlined as a block, typed for these arguments.
    fn inline_call(
        &mut self,
        d: std::rc::Rc<ast::FuncDef>,
        args: Vec<Expr>,
        span: Span,
    ) -> CResult<Expr> {
        self.inline_call_kw(d, args, Vec::new(), span)
    }

    /// Match a call's arguments to the parameters as Python does: positional ones first, then
    /// keywords, then the defaults of the rest. Each value keeps its place in evaluation order
    /// (positional, then keywords as written); a default is a constant or a parameter of the
    /// pipeline, so evaluating it at the call gives the value Python computed at `def` time.
    fn bind_args(
        &self,
        d: &ast::FuncDef,
        args: Vec<Expr>,
        kwargs: Vec<(ast::Ident, Expr)>,
        span: Span,
    ) -> CResult<Vec<(usize, Expr)>> {
        let name = &d.name.name;
        let n = d.params.len();
        if args.len() > n {
            let required = d.defaults.iter().filter(|v| v.is_none()).count();
            let takes = if required == n {
                format!("{n}")
            } else {
                format!("from {required} to {n}")
            };
            return Err(err(
                ErrorKind::Type,
                span,
                format!(
                    "{name}() takes {takes} positional argument{} but {} {} given",
                    if n == 1 { "" } else { "s" },
                    args.len(),
                    if args.len() == 1 { "was" } else { "were" }
                ),
            ));
        }
        let mut bound: Vec<(usize, Expr)> = args.into_iter().enumerate().collect();
        for (k, v) in kwargs {
            let Some(i) = d.params.iter().position(|p| p.name == k.name) else {
                return Err(err(
                    ErrorKind::Type,
                    k.span,
                    format!("{name}() got an unexpected keyword argument '{}'", k.name),
                ));
            };
            if bound.iter().any(|(j, _)| *j == i) {
                return Err(err(
                    ErrorKind::Type,
                    k.span,
                    format!("{name}() got multiple values for argument '{}'", k.name),
                ));
            }
            bound.push((i, v));
        }
        let mut missing = Vec::new();
        for (i, p) in d.params.iter().enumerate() {
            if bound.iter().any(|(j, _)| *j == i) {
                continue;
            }
            match &d.defaults[i] {
                Some(v) => bound.push((i, self.default_value(v)?)),
                None => missing.push(format!("'{}'", p.name)),
            }
        }
        if !missing.is_empty() {
            let list = match missing.len() {
                1 => missing[0].clone(),
                2 => format!("{} and {}", missing[0], missing[1]),
                k => format!("{}, and {}", missing[..k - 1].join(", "), missing[k - 1]),
            };
            return Err(err(
                ErrorKind::Type,
                span,
                format!(
                    "{name}() missing {} required positional argument{}: {list}",
                    missing.len(),
                    if missing.len() == 1 { "" } else { "s" }
                ),
            ));
        }
        Ok(bound)
    }

    /// A default parameter value: a number, a bool, a negated number, or a pipeline parameter.
    fn default_value(&self, v: &ast::Expr) -> CResult<Expr> {
        let plain = match &v.kind {
            ast::ExprKind::Int(_) | ast::ExprKind::Float(_) | ast::ExprKind::Bool(_) => true,
            ast::ExprKind::Unary { op, operand } => {
                matches!(op, ast::UnaryOp::Neg | ast::UnaryOp::Pos)
                    && matches!(
                        operand.kind,
                        ast::ExprKind::Int(_) | ast::ExprKind::Float(_)
                    )
            }
            ast::ExprKind::Name(n) => self.params.iter().any(|p| &p.name == n),
            _ => false,
        };
        if !plain {
            return Err(unsupported(
                v.span,
                "a default value must be a number, a bool or a parameter",
            )
            .with_help("pass the value as an argument, or bind it as a parameter (-D)"));
        }
        match &v.kind {
            ast::ExprKind::Name(n) => {
                let i = self
                    .params
                    .iter()
                    .position(|p| &p.name == n)
                    .expect("checked");
                Ok(mk(ExprKind::Param(i as u32), self.params[i].ty, v.span))
            }
            ast::ExprKind::Unary { op, operand } => {
                let inner = self.literal(operand)?;
                unary(*op, inner, v.span)
            }
            _ => self.literal(v),
        }
    }

    fn literal(&self, v: &ast::Expr) -> CResult<Expr> {
        Ok(match &v.kind {
            ast::ExprKind::Int(x) => mk(ExprKind::ConstInt(x.clone()), Type::Int, v.span),
            ast::ExprKind::Float(x) => mk(ExprKind::ConstFloat(*x), Type::Float, v.span),
            ast::ExprKind::Bool(x) => mk(ExprKind::ConstBool(*x), Type::Bool, v.span),
            _ => return Err(unsupported(v.span, "expected a number")),
        })
    }

    fn inline_call_kw(
        &mut self,
        d: std::rc::Rc<ast::FuncDef>,
        args: Vec<Expr>,
        kwargs: Vec<(ast::Ident, Expr)>,
        span: Span,
    ) -> CResult<Expr> {
        self.inline_call_with(d, args, kwargs, span, None)
    }

    /// Inline `d`, its first parameter bound to a tuple element (`map(f)` after `enumerate`
    /// or `zip`): the body reads it as `t[0]` or unpacks it (`i, x = t`).
    fn inline_tuple_call(
        &mut self,
        d: std::rc::Rc<ast::FuncDef>,
        parts: Vec<VarId>,
        span: Span,
    ) -> CResult<Expr> {
        let Some(p0) = d.params.first() else {
            return Err(err(
                ErrorKind::Type,
                span,
                format!(
                    "{}() takes 0 positional arguments but 1 was given",
                    d.name.name
                ),
            ));
        };
        let mut assigned = std::collections::HashSet::new();
        assigned_names(&d.body, &mut assigned);
        if assigned.contains(&p0.name) {
            return Err(unsupported(
                d.span,
                format!("`{}` holds a tuple and is assigned in the body", p0.name),
            )
            .with_help("unpack the tuple into new names instead"));
        }
        let placeholder = mk(ExprKind::ConstInt(BigInt::zero()), Type::Int, span);
        self.inline_call_with(d, vec![placeholder], Vec::new(), span, Some(parts))
    }

    fn inline_call_with(
        &mut self,
        d: std::rc::Rc<ast::FuncDef>,
        args: Vec<Expr>,
        kwargs: Vec<(ast::Ident, Expr)>,
        span: Span,
        tuple: Option<Vec<VarId>>,
    ) -> CResult<Expr> {
        let name = &d.name.name;
        let args = self.bind_args(&d, args, kwargs, span)?;
        if self.fns.iter().any(|f| &f.name == name) {
            return Err(
                unsupported(span, format!("recursive call of `{name}` is not supported"))
                    .with_help("write the recursion as a loop"),
            );
        }
        if self.fns.len() >= MAX_CALL_DEPTH {
            return Err(unsupported(span, "function calls are nested too deeply"));
        }
        let mut locals = std::collections::HashSet::new();
        locals.extend(d.params.iter().map(|p| p.name.clone()));
        assigned_names(&d.body, &mut locals);
        let mut nums = std::collections::HashSet::new();
        loop {
            let res = self.inline_body(&d, &args, span, tuple.as_ref(), &locals, &nums);
            if res.is_err() {
                // A local whose type differs by path: hold it as a tagged number and lower
                // the body again (once per name).
                let retag = self.retag.borrow_mut().take();
                if let Some((depth, n)) = retag {
                    if depth == self.fns.len() + 1 && nums.insert(n) {
                        continue;
                    }
                }
            }
            return res;
        }
    }

    /// One lowering of a `def`'s body for `inline_call_with`, with the locals in `nums`
    /// held as tagged numbers.
    fn inline_body(
        &mut self,
        d: &ast::FuncDef,
        args: &[(usize, Expr)],
        span: Span,
        tuple: Option<&Vec<VarId>>,
        locals: &std::collections::HashSet<String>,
        nums: &std::collections::HashSet<String>,
    ) -> CResult<Expr> {
        let name = &d.name.name;
        let args = args.to_vec();
        self.fns.push(FnCtx {
            name: name.clone(),
            locals: locals.clone(),
            env: Some(Env::new()),
            var_of: Default::default(),
            ret: None,
            nums: nums.clone(),
            loops: Vec::new(),
        });
        // The function does not see the caller's lambda parameters.
        let scopes = std::mem::take(&mut self.scopes);
        let tuples = std::mem::take(&mut self.tuples);
        if let Some(parts) = tuple {
            self.scopes.push((d.params[0].name.clone(), TUPLE_VAR));
            self.tuples.push((d.params[0].name.clone(), parts.clone()));
        }
        let mut out = Vec::new();
        for (i, a) in args {
            if i == 0 && tuple.is_some() {
                continue;
            }
            self.bind(&d.params[i].name, a, &mut out);
        }
        let res = self.stmts(&d.body, &mut out);
        self.scopes = scopes;
        self.tuples = tuples;
        let f = self.fns.pop().expect("pushed above");
        res?;
        if f.env.is_some() {
            return Err(unsupported(
                d.span,
                format!(
                    "`{name}` can reach the end of its body without `return`: it would return None"
                ),
            )
            .with_help("end every path of the function with `return VALUE`"));
        }
        let Some((ty, _)) = f.ret else {
            return Err(unsupported(d.span, format!("`{name}` never returns")));
        };
        if ty == Type::Num {
            tag_returns(&mut out);
        }
        Ok(mk(ExprKind::Block(out), ty, span))
    }

    /// Lower statements in order; code after a `return`, `break` or `continue` never runs and
    /// is not compiled.
    fn stmts(&mut self, body: &[ast::Stmt], out: &mut Vec<Stmt>) -> CResult<()> {
        for s in body {
            if self.f().env.is_none() {
                break;
            }
            self.work += 1;
            if self.work > MAX_WORK {
                return Err(unsupported(
                    s.span,
                    "the function is too large to compile (its loops are nested too deeply)",
                ));
            }
            self.stmt(s, out)?;
        }
        Ok(())
    }

    fn stmt(&mut self, s: &ast::Stmt, out: &mut Vec<Stmt>) -> CResult<()> {
        match &s.kind {
            ast::StmtKind::Pass => {}
            ast::StmtKind::Expr(e) => {
                let v = self.expr(e)?;
                out.push(Stmt::Eval(v));
            }
            ast::StmtKind::Assign { targets, value } => self.assign(targets, value, out)?,
            ast::StmtKind::AugAssign { target, op, value } => {
                let l = self.name(&target.name, target.span)?;
                let r = self.expr(value)?;
                let v = self.binary_any(*op, l, r, s.span)?;
                self.bind(&target.name, v, out);
            }
            ast::StmtKind::Return(value) => {
                let Some(value) = value else {
                    return Err(unsupported(
                        s.span,
                        "`return` without a value returns None, which is not supported",
                    )
                    .with_help("return a number"));
                };
                let v = self.expr(value)?;
                // Returns of different types make the call a tagged number (see
                // `inline_call_with`).
                let f = self.f();
                f.ret = Some(match f.ret {
                    Some((t, at)) => (join(t, v.ty), at),
                    None => (v.ty, value.span),
                });
                out.push(Stmt::Return(v));
                self.f().env = None;
            }
            ast::StmtKind::Break | ast::StmtKind::Continue => {
                let brk = matches!(s.kind, ast::StmtKind::Break);
                let env = self.f().env.take().expect("reachable");
                let Some(frame) = self.f().loops.last_mut() else {
                    let word = if brk { "break" } else { "continue" };
                    return Err(err(
                        ErrorKind::Syntax,
                        s.span,
                        format!("'{word}' outside loop"),
                    ));
                };
                if brk {
                    frame.breaks.push(env);
                    out.push(Stmt::Break);
                } else {
                    frame.conts.push(env);
                    out.push(Stmt::Continue);
                }
            }
            ast::StmtKind::If { test, body, orelse } => {
                let c = fold::fold_expr(self.cond(test)?);
                if let ExprKind::ConstBool(b) = c.kind {
                    // Only one branch can run: type only that one.
                    return self.stmts(if b { body } else { orelse }, out);
                }
                let env0 = self.f().env.clone();
                let mut a = Vec::new();
                self.stmts(body, &mut a)?;
                let env1 = std::mem::replace(&mut self.f().env, env0);
                let mut b = Vec::new();
                self.stmts(orelse, &mut b)?;
                let env2 = self.f().env.take();
                self.f().env = merge_all([env1, env2]);
                out.push(Stmt::If(c, a, b));
            }
            ast::StmtKind::While { test, body } => self.while_loop(test, body, out)?,
            ast::StmtKind::For { target, iter, body } => {
                self.for_loop(target, iter, body, s.span, out)?
            }
        }
        Ok(())
    }

    fn assign(
        &mut self,
        targets: &[ast::Target],
        value: &ast::Expr,
        out: &mut Vec<Stmt>,
    ) -> CResult<()> {
        // The values, each evaluated once, left to right.
        let values: Vec<Expr> = match (targets, &value.kind) {
            ([ast::Target::Name(_)], _) => vec![self.expr(value)?],
            (_, ast::ExprKind::Tuple(items))
                if targets.iter().all(|t| !matches!(t, ast::Target::Name(_))) =>
            {
                let mut vs = Vec::new();
                for it in items {
                    vs.push(self.expr(it)?);
                }
                vs
            }
            (_, ast::ExprKind::Call { .. })
                if self.is_table_tuple(value)
                    && targets.iter().all(|t| !matches!(t, ast::Target::Name(_))) =>
            {
                self.table_unpack(value, out)?
            }
            (_, ast::ExprKind::Name(n))
                if self.lookup(n) == Some(TUPLE_VAR)
                    && targets.iter().all(|t| !matches!(t, ast::Target::Name(_))) =>
            {
                self.tuple_parts(n)
                    .iter()
                    .map(|v| mk(ExprKind::Var(*v), self.vars[v.0 as usize].ty, value.span))
                    .collect()
            }
            _ if targets.iter().all(|t| matches!(t, ast::Target::Name(_))) => {
                vec![self.expr(value)?]
            }
            _ => {
                return Err(unsupported(
                    value.span,
                    "unpacking is only supported from a tuple written out (`a, b = x, y`) \
                     or a tuple element (`i, x = item`)",
                ))
            }
        };
        // A single value assigned to a single name needs no temporary.
        if let ([ast::Target::Name(n)], [_]) = (targets, values.as_slice()) {
            let v = values.into_iter().next().expect("one value");
            self.bind(&n.name, v, out);
            return Ok(());
        }
        let mut temps = Vec::new();
        for v in values {
            let ty = v.ty;
            let span = v.span;
            let t = self.new_var("$tmp", ty);
            out.push(Stmt::Assign(t, v));
            temps.push(mk(ExprKind::Var(t), ty, span));
        }
        for t in targets {
            match t {
                ast::Target::Name(n) => {
                    if temps.len() != 1 {
                        return Err(unsupported(
                            n.span,
                            "a tuple can only be assigned by unpacking it into names",
                        ));
                    }
                    self.bind(&n.name, temps[0].clone(), out);
                }
                ast::Target::Tuple(names, span) => {
                    if names.len() != temps.len() {
                        return Err(unsupported(
                            *span,
                            format!(
                                "{} names but {} values: Python raises ValueError here",
                                names.len(),
                                temps.len()
                            ),
                        ));
                    }
                    for (n, v) in names.iter().zip(&temps) {
                        self.bind(&n.name, v.clone(), out);
                    }
                }
            }
        }
        Ok(())
    }

    /// Lower a loop body under the current state; returns its statements and the states at
    /// its `break`s and `continue`s. The state afterwards is the state at the end of the body.
    fn loop_body(&mut self, body: &[ast::Stmt]) -> CResult<(Vec<Stmt>, LoopFrame)> {
        self.f().loops.push(LoopFrame::default());
        let mut out = Vec::new();
        let res = self.stmts(body, &mut out);
        let frame = self.f().loops.pop().expect("pushed above");
        res?;
        Ok((out, frame))
    }

    /// The state at the back edge after a body: its end and its `continue`s.
    fn back_edge(&mut self, frame: &mut LoopFrame) -> Option<Env> {
        let end = self.f().env.take();
        merge_all(std::iter::once(end).chain(frame.conts.drain(..).map(Some)))
    }

    /// `while test: body`. The body is typed with the state on entry; if a variable's type
    /// at the back edge differs, the first iteration is peeled and the loop is typed again,
    /// from the state after it, until the types stop changing.
    fn while_loop(
        &mut self,
        test: &ast::Expr,
        body: &[ast::Stmt],
        out: &mut Vec<Stmt>,
    ) -> CResult<()> {
        let e0 = self.f().env.clone().expect("reachable");
        let c0 = fold::fold_expr(self.cond(test)?);
        match c0.kind {
            ExprKind::ConstBool(false) => return Ok(()),
            ExprKind::ConstBool(true) => {}
            _ => {}
        }
        let always = matches!(c0.kind, ExprKind::ConstBool(true));
        let (body0, mut f0) = self.loop_body(body)?;
        let back0 = self.back_edge(&mut f0);
        let breaks0 = f0.breaks.into_iter().map(Some);
        let skip = (!always).then(|| e0.clone());
        let needs_peel = back0.as_ref().is_some_and(|b| widens(&e0, b, None));
        if !needs_peel {
            let exit = (!always).then(|| back0.clone()).flatten();
            self.f().env = merge_all([skip, exit].into_iter().chain(breaks0));
            out.push(Stmt::While {
                first: None,
                cond: c0,
                body: body0,
            });
            return Ok(());
        }
        let mut h = back0.expect("loops back");
        for _ in 0..8 {
            self.f().env = Some(h.clone());
            let c = fold::fold_expr(self.cond(test)?);
            let (b, mut f) = self.loop_body(body)?;
            let back = self.back_edge(&mut f);
            let h2 = match &back {
                Some(bk) => merge_env(&h, bk),
                None => h.clone(),
            };
            if h2 == h {
                let exit = (!always).then_some(h);
                let breaks = f.breaks.into_iter().map(Some);
                self.f().env = merge_all([skip, exit].into_iter().chain(breaks0).chain(breaks));
                out.push(Stmt::While {
                    first: Some((c0, body0)),
                    cond: c,
                    body: b,
                });
                return Ok(());
            }
            h = h2;
        }
        Err(unsupported(
            test.span,
            "cannot find stable types for this loop's variables",
        ))
    }

    /// `for target in range(...)`: as `while`, with the loop variable an int at the start of
    /// every iteration, and a constant trip count deciding whether the loop may run zero times.
    fn for_loop(
        &mut self,
        target: &ast::Ident,
        iter: &ast::Expr,
        body: &[ast::Stmt],
        span: Span,
        out: &mut Vec<Stmt>,
    ) -> CResult<()> {
        let not_range = || {
            unsupported(iter.span, "only `for NAME in range(...)` is supported")
                .with_help("iterate over range(start, stop, step)")
        };
        let ast::ExprKind::Call { func, args, kwargs } = &iter.kind else {
            return Err(not_range());
        };
        if !matches!(&func.kind, ast::ExprKind::Name(n) if n == "range" && !self.is_local(n)) {
            return Err(not_range());
        }
        if let Some((k, _)) = kwargs.first() {
            return Err(err(
                ErrorKind::Type,
                k.span,
                "range() takes no keyword arguments",
            ));
        }
        let (start, stop, step) = self.range_bounds("range", args, iter.span)?;
        let trip = match (const_int(&start), const_int(&stop), const_int(&step)) {
            (Some(a), Some(z), Some(s)) if !s.is_zero() => Some(crate::pyops::range_len(a, z, s)),
            _ => None,
        };
        if trip.as_ref().is_some_and(|n| n.is_zero()) {
            return Ok(()); // the body never runs
        }
        let var = self.local_var(&target.name, Type::Int);
        let name = target.name.clone();
        let e0 = self.f().env.clone().expect("reachable");
        let may_skip = trip.is_none();
        let enter = |lw: &mut Lowerer, env: Env| {
            let mut env = env;
            env.insert(name.clone(), Slot::Bound(Type::Int));
            lw.f().env = Some(env);
        };
        enter(self, e0.clone());
        let (body0, mut f0) = self.loop_body(body)?;
        let back0 = self.back_edge(&mut f0);
        let breaks0 = f0.breaks.into_iter().map(Some);
        let skip = may_skip.then(|| e0.clone());
        let needs_peel = back0
            .as_ref()
            .is_some_and(|b| widens(&e0, b, Some(&target.name)));
        if !needs_peel {
            self.f().env = merge_all([skip, back0].into_iter().chain(breaks0));
            out.push(Stmt::ForRange {
                var,
                start,
                stop,
                step,
                first: None,
                body: body0,
            });
            return Ok(());
        }
        let mut h = back0.expect("loops back");
        for _ in 0..8 {
            enter(self, h.clone());
            let (b, mut f) = self.loop_body(body)?;
            let back = self.back_edge(&mut f);
            let h2 = match &back {
                Some(bk) => merge_env(&h, bk),
                None => h.clone(),
            };
            if h2 == h {
                let breaks = f.breaks.into_iter().map(Some);
                self.f().env = merge_all([skip, Some(h)].into_iter().chain(breaks0).chain(breaks));
                out.push(Stmt::ForRange {
                    var,
                    start,
                    stop,
                    step,
                    first: Some(body0),
                    body: b,
                });
                return Ok(());
            }
            h = h2;
        }
        Err(unsupported(
            span,
            "cannot find stable types for this loop's variables",
        ))
    }
}

/// Whether the state at a loop's back edge changes what is known on entry about a name bound
/// on entry (names unbound on entry are assigned in the body before any use, or lowering the
/// body would have refused them). `skip` is the loop variable, assigned at every iteration.
fn widens(entry: &Env, back: &Env, skip: Option<&str>) -> bool {
    entry.iter().any(|(k, s)| {
        Some(k.as_str()) != skip && merge_slot(Some(*s), back.get(k).copied()) != Some(*s)
    })
}

/// The root of a method chain `root.a(...).b(...)` and its links, in order.
fn chain_links(e: &ast::Expr) -> (&ast::Expr, Vec<Link<'_>>) {
    let mut links = Vec::new();
    let mut cur = e;
    while let ast::ExprKind::Call { func, args, kwargs } = &cur.kind {
        let ast::ExprKind::Attribute { value, attr } = &func.kind else {
            break;
        };
        links.push(Link {
            name: attr,
            args,
            kwargs,
            span: cur.span,
        });
        cur = value;
    }
    links.reverse();
    (cur, links)
}

/// Whether `e` is a call `range(...)` (or `par_range(...)`).
fn is_range_call(e: &ast::Expr) -> bool {
    matches!(&e.kind, ast::ExprKind::Call { func, .. }
        if matches!(&func.kind, ast::ExprKind::Name(n) if n == "range" || n == "par_range"))
}

/// Whether `e` is a pipeline chain (`range(...).method(...)...`) used as a value.
fn is_nested_pipeline(e: &ast::Expr) -> bool {
    let (root, links) = chain_links(e);
    !links.is_empty() && is_range_call(root)
}

/// An argument of `range()` as an int.
fn range_int(v: Expr, span: Span) -> CResult<Expr> {
    match v.ty {
        Type::Int => Ok(v),
        Type::Bool => Ok(cast(Cast::BoolToInt, v, Type::Int)),
        Type::Float => Err(err(
            ErrorKind::Type,
            span,
            "'float' object cannot be interpreted as an integer",
        )),
        Type::Num => Err(num_range_bound(span)),
    }
}

fn num_range_bound(span: Span) -> CompileError {
    unsupported(
        span,
        "a range bound that is an int or a float depending on the data is not supported",
    )
    .with_help("convert it with int(...)")
}
