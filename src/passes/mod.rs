//! Optimisation passes: each a pure function IR → IR with a name, run in order by
//! `optimize`, with the IR verified after every pass (the error names the pass).

pub mod fold;
pub mod strength;
pub mod stride;

use crate::ir::{verify, Pipeline};

/// A pass: a name and a rewrite of the pipeline.
pub struct Pass {
    pub name: &'static str,
    pub run: fn(Pipeline) -> Pipeline,
}

pub const PASSES: &[Pass] = &[
    Pass {
        name: "fold",
        run: fold::run,
    },
    Pass {
        name: "stride",
        run: stride::run,
    },
    // Again: stride builds new range bounds from constants.
    Pass {
        name: "fold",
        run: fold::run,
    },
    Pass {
        name: "strength",
        run: strength::run,
    },
];

/// Run every pass in order. A verifier failure is a compiler bug, reported with the pass name.
pub fn optimize(mut p: Pipeline) -> Result<Pipeline, String> {
    verify::verify(&p).map_err(|e| format!("IR invalid after lowering: {e}"))?;
    for pass in PASSES {
        p = (pass.run)(p);
        verify::verify(&p).map_err(|e| format!("IR invalid after pass `{}`: {e}", pass.name))?;
    }
    Ok(p)
}

/// Apply `f` bottom-up to every expression of the pipeline.
pub fn map_exprs(mut p: Pipeline, f: &dyn Fn(crate::ir::Expr) -> crate::ir::Expr) -> Pipeline {
    use crate::ir::{Consumer, Source, Stage, ViewOp};
    let g = |e: crate::ir::Expr| rewrite(e, f);
    p.source = match p.source {
        Source::Range { start, stop, step } => Source::Range {
            start: g(start),
            stop: g(stop),
            step: g(step),
        },
        b @ Source::Buffer { .. } => b,
        Source::List { items, ty } => Source::List {
            items: items.into_iter().map(g).collect(),
            ty,
        },
    };
    p.stages = p
        .stages
        .into_iter()
        .map(|s| match s {
            Stage::Map { var, body } => Stage::Map { var, body: g(body) },
            Stage::Filter { var, pred } => Stage::Filter { var, pred: g(pred) },
            Stage::Let { var, value } => Stage::Let {
                var,
                value: g(value),
            },
        })
        .collect();
    p.view = p
        .view
        .into_iter()
        .map(|v| match v {
            ViewOp::Skip(e) => ViewOp::Skip(g(e)),
            ViewOp::ZipBuffer(d) => ViewOp::ZipBuffer(d),
            ViewOp::Take(e) => ViewOp::Take(g(e)),
            ViewOp::StepBy(e) => ViewOp::StepBy(g(e)),
            ViewOp::ZipRange { start, stop, step } => ViewOp::ZipRange {
                start: g(start),
                stop: g(stop),
                step: g(step),
            },
            ViewOp::Chain { start, stop, step } => ViewOp::Chain {
                start: g(start),
                stop: g(stop),
                step: g(step),
            },
        })
        .collect();
    p.consumer = match p.consumer {
        Consumer::Any(Some(l)) => Consumer::Any(Some(crate::ir::Lambda1 {
            var: l.var,
            body: g(l.body),
        })),
        Consumer::All(Some(l)) => Consumer::All(Some(crate::ir::Lambda1 {
            var: l.var,
            body: g(l.body),
        })),
        Consumer::Reduce {
            identity,
            acc,
            item,
            op,
            fold,
        } => Consumer::Reduce {
            identity: g(identity),
            acc,
            item,
            op: g(op),
            fold,
        },
        Consumer::Find { pred, position } => Consumer::Find {
            pred: crate::ir::Lambda1 {
                var: pred.var,
                body: g(pred.body),
            },
            position,
        },
        Consumer::ExtremeBy { key, max } => Consumer::ExtremeBy {
            key: crate::ir::Lambda1 {
                var: key.var,
                body: g(key.body),
            },
            max,
        },
        c => c,
    };
    p
}

/// Rewrite children first, then the node itself.
pub fn rewrite(
    e: crate::ir::Expr,
    f: &dyn Fn(crate::ir::Expr) -> crate::ir::Expr,
) -> crate::ir::Expr {
    use crate::ir::ExprKind::*;
    let r = |b: Box<crate::ir::Expr>| Box::new(rewrite(*b, f));
    let kind = match e.kind {
        Unary(op, a) => Unary(op, r(a)),
        Binary(op, a, b) => Binary(op, r(a), r(b)),
        Compare(op, k, a, b) => Compare(op, k, r(a), r(b)),
        And(a, b) => And(r(a), r(b)),
        Or(a, b) => Or(r(a), r(b)),
        If(c, a, b) => If(r(c), r(a), r(b)),
        Let(v, a, b) => Let(v, r(a), r(b)),
        Cast(c, a) => Cast(c, r(a)),
        Call(b, args) => Call(b, args.into_iter().map(|a| rewrite(a, f)).collect()),
        Block(stmts) => Block(rewrite_stmts(stmts, f)),
        Tag(a) => Tag(r(a)),
        Case(a, arms) => {
            let [(v0, e0), (v1, e1), (v2, e2)] = *arms;
            let arms = [
                (v0, rewrite(e0, f)),
                (v1, rewrite(e1, f)),
                (v2, rewrite(e2, f)),
            ];
            Case(r(a), Box::new(arms))
        }
        k => k,
    };
    f(crate::ir::Expr { kind, ..e })
}

/// Rewrite every expression of the statements, children first.
pub fn rewrite_stmts(
    stmts: Vec<crate::ir::Stmt>,
    f: &dyn Fn(crate::ir::Expr) -> crate::ir::Expr,
) -> Vec<crate::ir::Stmt> {
    use crate::ir::Stmt;
    let r = |e| rewrite(e, f);
    stmts
        .into_iter()
        .map(|s| match s {
            Stmt::Assign(v, e) => Stmt::Assign(v, r(e)),
            Stmt::Eval(e) => Stmt::Eval(r(e)),
            Stmt::If(c, a, b) => Stmt::If(r(c), rewrite_stmts(a, f), rewrite_stmts(b, f)),
            Stmt::While { first, cond, body } => Stmt::While {
                first: first.map(|(c, b)| (r(c), rewrite_stmts(b, f))),
                cond: r(cond),
                body: rewrite_stmts(body, f),
            },
            Stmt::ForRange {
                var,
                start,
                stop,
                step,
                first,
                body,
            } => Stmt::ForRange {
                var,
                start: r(start),
                stop: r(stop),
                step: r(step),
                first: first.map(|b| rewrite_stmts(b, f)),
                body: rewrite_stmts(body, f),
            },
            Stmt::Return(e) => Stmt::Return(r(e)),
            s @ (Stmt::Break | Stmt::Continue | Stmt::Raise(_)) => s,
        })
        .collect()
}
