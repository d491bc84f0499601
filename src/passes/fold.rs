//! Constant folding: operations on constants computed at compile time, exactly, with the same
//! functions the interpreter uses. An operation that would raise is left for run time.

use num_bigint::BigInt;
use num_traits::ToPrimitive;

use crate::builtins::Func;
use crate::ir::{BinOp, Builtin, Cast, CmpKind, Expr, ExprKind, Pipeline, UnOp};
use crate::pyops;
use crate::value::Value;

pub fn run(p: Pipeline) -> Pipeline {
    super::map_exprs(p, &fold_node)
}

/// Fold an expression tree (used by lowering where it needs to know a constant's value).
pub fn fold_expr(e: Expr) -> Expr {
    super::rewrite(e, &fold_node)
}

/// An int constant that a float compares with as with `float(k)`: exactly representable.
fn exact_float(e: &Expr) -> Option<f64> {
    match &e.kind {
        ExprKind::ConstInt(v) => v
            .to_i64()
            .filter(|k| k.unsigned_abs() <= 1 << 53)
            .map(|k| k as f64),
        _ => None,
    }
}

fn fold_node(e: Expr) -> Expr {
    // `x > 0` for a float `x`: comparing with an int that a float represents exactly is
    // comparing with that float, NaN and infinities included.
    let e = match e.kind {
        ExprKind::Compare(op, CmpKind::FloatInt, a, b) if exact_float(&b).is_some() => {
            let f = exact_float(&b).expect("checked");
            let b = Box::new(Expr {
                kind: ExprKind::ConstFloat(f),
                ty: crate::ir::Type::Float,
                span: b.span,
            });
            Expr {
                kind: ExprKind::Compare(op, CmpKind::Float, a, b),
                ..e
            }
        }
        ExprKind::Compare(op, CmpKind::IntFloat, a, b) if exact_float(&a).is_some() => {
            let f = exact_float(&a).expect("checked");
            let a = Box::new(Expr {
                kind: ExprKind::ConstFloat(f),
                ty: crate::ir::Type::Float,
                span: a.span,
            });
            Expr {
                kind: ExprKind::Compare(op, CmpKind::Float, a, b),
                ..e
            }
        }
        kind => Expr { kind, ..e },
    };
    // A dispatch on a value whose tag is known here is that tag's arm.
    let e = match e.kind {
        ExprKind::Case(n, arms) => match n.kind {
            ExprKind::Tag(v) => {
                let k = crate::ir::Type::TAGGED
                    .iter()
                    .position(|t| *t == v.ty)
                    .expect("a tagged value is int, float or bool");
                let [a0, a1, a2] = *arms;
                let (var, body) = [a0, a1, a2].into_iter().nth(k).expect("three arms");
                return Expr {
                    kind: ExprKind::Let(var, v, Box::new(body)),
                    ..e
                };
            }
            kind => Expr {
                kind: ExprKind::Case(Box::new(Expr { kind, ..*n }), arms),
                ..e
            },
        },
        _ => e,
    };
    let folded = match &e.kind {
        ExprKind::Unary(op, a) => match (op, &a.kind) {
            (UnOp::INeg, ExprKind::ConstInt(v)) => Some(ExprKind::ConstInt(-v)),
            (UnOp::IInvert, ExprKind::ConstInt(v)) => Some(ExprKind::ConstInt(!v)),
            (UnOp::FNeg, ExprKind::ConstFloat(v)) => Some(ExprKind::ConstFloat(-v)),
            (UnOp::BNot, ExprKind::ConstBool(v)) => Some(ExprKind::ConstBool(!v)),
            _ => None,
        },
        ExprKind::Cast(c, a) => match (c, &a.kind) {
            (Cast::BoolToInt, ExprKind::ConstBool(v)) => {
                Some(ExprKind::ConstInt(BigInt::from(*v as u8)))
            }
            (Cast::BoolToFloat, ExprKind::ConstBool(v)) => {
                Some(ExprKind::ConstFloat(*v as u8 as f64))
            }
            (Cast::IntToFloat, ExprKind::ConstInt(v)) => {
                pyops::int_to_float(v).ok().map(ExprKind::ConstFloat)
            }
            _ => None,
        },
        ExprKind::Binary(op, a, b) => match (&a.kind, &b.kind) {
            (ExprKind::ConstInt(x), ExprKind::ConstInt(y)) => {
                fold_int(*op, x, y).map(ExprKind::ConstInt)
            }
            (ExprKind::ConstFloat(x), ExprKind::ConstFloat(y)) => match op {
                BinOp::FAdd => Some(ExprKind::ConstFloat(x + y)),
                BinOp::FSub => Some(ExprKind::ConstFloat(x - y)),
                BinOp::FMul => Some(ExprKind::ConstFloat(x * y)),
                BinOp::FDiv => pyops::float_div(*x, *y).ok().map(ExprKind::ConstFloat),
                BinOp::FPow => pyops::float_pow(*x, *y).ok().map(ExprKind::ConstFloat),
                _ => None,
            },
            _ => None,
        },
        ExprKind::Call(Builtin::Fn(f), args) => fold_table_call(*f, args),
        _ => None,
    };
    match folded {
        Some(kind) => Expr { kind, ..e },
        None => e,
    }
}

fn fold_int(op: BinOp, x: &BigInt, y: &BigInt) -> Option<BigInt> {
    match op {
        BinOp::IAdd => Some(x + y),
        BinOp::ISub => Some(x - y),
        BinOp::IMul => Some(x * y),
        BinOp::IFloorDiv => pyops::int_floordiv(x, y).ok(),
        BinOp::IMod => pyops::int_mod(x, y).ok(),
        BinOp::IPow => y.to_u32().map(|k| pyops::int_pow(x, k)),
        BinOp::IBitAnd => Some(x & y),
        BinOp::IBitOr => Some(x | y),
        BinOp::IBitXor => Some(x ^ y),
        BinOp::IShl => pyops::int_lshift(x, y).ok(),
        BinOp::IShr => pyops::int_rshift(x, y).ok(),
        _ => None,
    }
}

/// A builtin-table operation of constants, by its exact implementation.
fn fold_table_call(f: Func, args: &[Expr]) -> Option<ExprKind> {
    let mut vals = Vec::with_capacity(args.len());
    for a in args {
        vals.push(match &a.kind {
            ExprKind::ConstInt(v) => Value::Int(v.clone()),
            ExprKind::ConstFloat(v) => Value::Float(*v),
            ExprKind::ConstBool(v) => Value::Bool(*v),
            _ => return None,
        });
    }
    match (f.op().exact)(&vals).ok()? {
        Value::Int(v) => Some(ExprKind::ConstInt(v)),
        Value::Float(v) => Some(ExprKind::ConstFloat(v)),
        Value::Bool(v) => Some(ExprKind::ConstBool(v)),
        _ => None,
    }
}
