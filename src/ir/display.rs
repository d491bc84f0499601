//! The IR's stable text rendering, printed by `fastc --emit ir` and compared by tests.

use std::fmt::Write;

use super::*;
use crate::pyops::float_repr;

/// The whole pipeline, one line per part.
pub fn pipeline(p: &Pipeline) -> String {
    let mut out = String::new();
    let params: Vec<String> = p
        .params
        .iter()
        .map(|q| format!("{}: {}", q.name, q.ty.name()))
        .collect();
    let _ = writeln!(out, "pipeline({}) -> {}", params.join(", "), result_type(p));
    match &p.source {
        Source::Range { start, stop, step } => {
            let _ = writeln!(
                out,
                "  source range({}, {}, {}) : int",
                expr(p, start),
                expr(p, stop),
                expr(p, step)
            );
        }
        Source::List { items, ty } => {
            let items: Vec<String> = items.iter().map(|e| expr(p, e)).collect();
            let _ = writeln!(out, "  source list[{}] : {}", items.join(", "), ty.name());
        }
        Source::Buffer { name, dtype } => {
            let _ = writeln!(
                out,
                "  source buffer {name}[{}] : {}",
                dtype.name(),
                dtype.elem_type().name()
            );
        }
    }
    for v in &p.view {
        let _ = match v {
            ViewOp::Skip(n) => writeln!(out, "  skip {}", expr(p, n)),
            ViewOp::ZipBuffer(d) => writeln!(out, "  zip buffer[{}]", d.name()),
            ViewOp::Take(n) => writeln!(out, "  take {}", expr(p, n)),
            ViewOp::StepBy(n) => writeln!(out, "  step_by {}", expr(p, n)),
            ViewOp::ZipRange { start, stop, step } => writeln!(
                out,
                "  zip-length range({}, {}, {})",
                expr(p, start),
                expr(p, stop),
                expr(p, step)
            ),
            ViewOp::Chain { start, stop, step } => writeln!(
                out,
                "  chain range({}, {}, {})",
                expr(p, start),
                expr(p, stop),
                expr(p, step)
            ),
        };
    }
    for s in &p.stages {
        match s {
            Stage::Let { var, value } => {
                let _ = writeln!(out, "  let {} = {}", var_decl(p, *var), expr(p, value));
            }
            Stage::Map { var, body } => {
                let _ = writeln!(
                    out,
                    "  map {} -> {} : {}",
                    var_decl(p, *var),
                    expr(p, body),
                    body.ty.name()
                );
            }
            Stage::Filter { var, pred } => {
                let _ = writeln!(out, "  filter {} -> {}", var_decl(p, *var), expr(p, pred));
            }
        }
    }
    let c = &p.consumer;
    let _ = match c {
        Consumer::Any(Some(l)) | Consumer::All(Some(l)) => {
            writeln!(
                out,
                "  {} {} -> {}",
                c.name(),
                var_decl(p, l.var),
                expr(p, &l.body)
            )
        }
        Consumer::Reduce {
            identity,
            acc,
            item,
            op,
            fold,
        } => writeln!(
            out,
            "  {} identity={} {}, {} -> {}",
            match fold {
                Some(t) => format!("fold then {}", t.name()),
                None => "reduce".into(),
            },
            expr(p, identity),
            var_decl(p, *acc),
            var_decl(p, *item),
            expr(p, op)
        ),
        Consumer::Find { pred: l, .. } | Consumer::ExtremeBy { key: l, .. } => writeln!(
            out,
            "  {} {} -> {}",
            c.name(),
            var_decl(p, l.var),
            expr(p, &l.body)
        ),
        _ => writeln!(out, "  {}", c.name()),
    };
    out
}

fn result_type(p: &Pipeline) -> String {
    let elem = p.elem_type().name();
    match &p.consumer {
        Consumer::Sum if p.elem_type() == Type::Float => "float | int (empty)".into(),
        Consumer::Sum | Consumer::Count => "int".into(),
        Consumer::Min | Consumer::Max => format!("{elem} | None"),
        Consumer::Any(_) | Consumer::All(_) => "bool".into(),
        Consumer::Reduce {
            fold: Some(t),
            identity,
            ..
        } => match t {
            FoldThen::Count => "int".into(),
            FoldThen::Any | FoldThen::All => "bool".into(),
            FoldThen::Collect => format!("list[{}]", identity.ty.name()),
            _ => identity.ty.name().into(),
        },
        Consumer::Reduce { identity, .. } => identity.ty.name().into(),
        Consumer::Collect => format!("list[{elem}]"),
        Consumer::Product => "int".into(),
        Consumer::Find {
            position: false, ..
        }
        | Consumer::ExtremeBy { .. } => format!("{elem} | None"),
        Consumer::Find { position: true, .. } => "int | None".into(),
    }
}

fn var_decl(p: &Pipeline, v: VarId) -> String {
    format!("{}: {}", var_name(p, v), p.vars[v.0 as usize].ty.name())
}

fn var_name(p: &Pipeline, v: VarId) -> String {
    format!(
        "{}.{}",
        p.vars.get(v.0 as usize).map_or("?", |i| i.name.as_str()),
        v.0
    )
}

/// One expression as an S-expression, operations named by their typed IR names.
pub fn expr(p: &Pipeline, e: &Expr) -> String {
    match &e.kind {
        ExprKind::ConstInt(v) => v.to_string(),
        ExprKind::ConstFloat(v) => float_repr(*v),
        ExprKind::ConstBool(v) => if *v { "True" } else { "False" }.to_string(),
        ExprKind::Var(v) => var_name(p, *v),
        ExprKind::Index => "index".to_string(),
        ExprKind::ZipItem(d) => format!("zip_item[{}]", d.name()),
        ExprKind::Param(i) => format!(
            "${}",
            p.params.get(*i as usize).map_or("?", |q| q.name.as_str())
        ),
        ExprKind::Unary(op, a) => format!("({} {})", format!("{op:?}").to_lowercase(), expr(p, a)),
        ExprKind::Binary(op, a, b) => format!(
            "({} {} {})",
            format!("{op:?}").to_lowercase(),
            expr(p, a),
            expr(p, b)
        ),
        ExprKind::Compare(op, k, a, b) => format!(
            "({}.{} {} {})",
            format!("{op:?}").to_lowercase(),
            format!("{k:?}").to_lowercase(),
            expr(p, a),
            expr(p, b)
        ),
        ExprKind::And(a, b) => format!("(and {} {})", expr(p, a), expr(p, b)),
        ExprKind::Or(a, b) => format!("(or {} {})", expr(p, a), expr(p, b)),
        ExprKind::If(c, a, b) => format!("(if {} {} {})", expr(p, c), expr(p, a), expr(p, b)),
        ExprKind::Let(v, a, b) => {
            format!("(let {} {} {})", var_name(p, *v), expr(p, a), expr(p, b))
        }
        ExprKind::Cast(c, a) => format!("({} {})", cast_name(*c), expr(p, a)),
        ExprKind::Call(b, args) => {
            let name = match b {
                Builtin::IAbs => "iabs".to_string(),
                Builtin::Math(f) => format!("math.{}", f.name()),
                Builtin::MathInt(f) => format!("math.{}.int", f.name()),
                Builtin::Fn(f) => f.op().name.to_string(),
            };
            let args: Vec<String> = args.iter().map(|a| expr(p, a)).collect();
            format!("({} {})", name, args.join(" "))
        }
        ExprKind::Block(stmts) => format!("(block{})", stmts_text(p, stmts)),
        ExprKind::Tag(a) => format!("(tag.{} {})", a.ty.name(), expr(p, a)),
        ExprKind::Case(a, arms) => {
            let arms: Vec<String> = arms
                .iter()
                .zip(Type::TAGGED)
                .map(|((v, e), t)| format!("({} {} {})", t.name(), var_name(p, *v), expr(p, e)))
                .collect();
            format!("(case {} {})", expr(p, a), arms.join(" "))
        }
    }
}

/// Statements, each preceded by a space.
fn stmts_text(p: &Pipeline, stmts: &[Stmt]) -> String {
    let mut out = String::new();
    for s in stmts {
        out.push(' ');
        out.push_str(&stmt(p, s));
    }
    out
}

/// One statement as an S-expression.
pub fn stmt(p: &Pipeline, s: &Stmt) -> String {
    match s {
        Stmt::Assign(v, e) => format!("(set {} {})", var_name(p, *v), expr(p, e)),
        Stmt::Eval(e) => format!("(eval {})", expr(p, e)),
        Stmt::If(c, a, b) => format!(
            "(if {} (then{}) (else{}))",
            expr(p, c),
            stmts_text(p, a),
            stmts_text(p, b)
        ),
        Stmt::While { first, cond, body } => {
            let first = match first {
                Some((c, b)) => format!(" (first {}{})", expr(p, c), stmts_text(p, b)),
                None => String::new(),
            };
            format!(
                "(while{} (loop {}{}))",
                first,
                expr(p, cond),
                stmts_text(p, body)
            )
        }
        Stmt::ForRange {
            var,
            start,
            stop,
            step,
            first,
            body,
        } => {
            let first = match first {
                Some(b) => format!(" (first{})", stmts_text(p, b)),
                None => String::new(),
            };
            format!(
                "(for {} (range {} {} {}){} (loop{}))",
                var_name(p, *var),
                expr(p, start),
                expr(p, stop),
                expr(p, step),
                first,
                stmts_text(p, body)
            )
        }
        Stmt::Break => "(break)".into(),
        Stmt::Continue => "(continue)".into(),
        Stmt::Return(e) => format!("(return {})", expr(p, e)),
        Stmt::Raise(code) => format!("(raise {code:?})"),
    }
}

fn cast_name(c: Cast) -> &'static str {
    match c {
        Cast::BoolToInt => "bool->int",
        Cast::BoolToFloat => "bool->float",
        Cast::IntToFloat => "int->float",
        Cast::IntTruth => "truth.int",
        Cast::FloatTruth => "truth.float",
        Cast::NumTruth => "truth.num",
        Cast::FloatToInt => "float->int.trunc",
        Cast::FloatRound => "float->int.round",
        Cast::FloatFloor => "float->int.floor",
        Cast::FloatCeil => "float->int.ceil",
    }
}
