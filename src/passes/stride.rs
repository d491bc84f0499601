//! Strided ranges: a range of step 1 whose first stage is `filter(x % k == c)` (k > 0,
//! 0 <= c < k, constants) visits exactly the elements `start', start' + k, ...` where `start'`
//! is the first element `>= start` with `x % k == c`. The filter becomes the range's step.

use num_bigint::BigInt;
use num_traits::{One, Signed};

use crate::ir::{BinOp, CmpKind, CmpOp, Expr, ExprKind, Pipeline, Source, Stage, Type, VarId};

pub fn run(mut p: Pipeline) -> Pipeline {
    let Source::Range { start, stop, step } = &p.source else {
        return p;
    };
    // The view counts positions of the range as written.
    if !p.view.is_empty() {
        return p;
    }
    if !matches!(&step.kind, ExprKind::ConstInt(s) if s.is_one()) {
        return p;
    }
    let Some(Stage::Filter { var, pred }) = p.stages.first() else {
        return p;
    };
    let Some((k, c)) = modulus_test(pred, *var) else {
        return p;
    };
    let span = start.span;
    let int = |v: BigInt| Expr {
        kind: ExprKind::ConstInt(v),
        ty: Type::Int,
        span,
    };
    let bin = |op, a: Expr, b: Expr| Expr {
        kind: ExprKind::Binary(op, Box::new(a), Box::new(b)),
        ty: Type::Int,
        span,
    };
    // start' = start + ((c - start) mod k), with Python's floor modulo (always in [0, k)).
    let delta = bin(
        BinOp::IMod,
        bin(BinOp::ISub, int(c), start.clone()),
        int(k.clone()),
    );
    let new_start = bin(BinOp::IAdd, start.clone(), delta);
    p.source = Source::Range {
        start: new_start,
        stop: stop.clone(),
        step: int(k),
    };
    p.stages.remove(0);
    p
}

/// `(v % k == c)` or `(c == v % k)` with constant k > 0 and 0 <= c < k.
fn modulus_test(pred: &Expr, v: VarId) -> Option<(BigInt, BigInt)> {
    let ExprKind::Compare(CmpOp::Eq, CmpKind::Int, a, b) = &pred.kind else {
        return None;
    };
    let (m, c) = match (&a.kind, &b.kind) {
        (ExprKind::Binary(..), ExprKind::ConstInt(c)) => (a, c),
        (ExprKind::ConstInt(c), ExprKind::Binary(..)) => (b, c),
        _ => return None,
    };
    let ExprKind::Binary(BinOp::IMod, x, k) = &m.kind else {
        return None;
    };
    let (ExprKind::Var(xv), ExprKind::ConstInt(k)) = (&x.kind, &k.kind) else {
        return None;
    };
    (*xv == v && k.is_positive() && !c.is_negative() && c < k).then(|| (k.clone(), c.clone()))
}

#[cfg(test)]
mod tests {
    use crate::ir::display;

    fn optimized(src: &str) -> String {
        let ast = crate::syntax::parse(src).unwrap();
        let p = crate::ir::lower::lower_pipeline(&ast, &[]).unwrap();
        display::pipeline(&crate::passes::optimize(p).unwrap())
    }

    #[test]
    fn even_filter_becomes_a_stride() {
        let ir = optimized("range(3, 20).filter(x % 2 == 0).map(x * x).sum()");
        assert!(ir.contains("source range(4, 20, 2)"), "{ir}");
        assert!(!ir.contains("filter"), "{ir}");
    }

    #[test]
    fn other_shapes_are_left_alone() {
        for src in [
            "range(3, 20, 2).filter(x % 2 == 0).sum()",
            "range(3, 20).filter(x % 2 == 5).sum()",
            "range(3, 20).filter(x % -2 == 0).sum()",
            "range(3, 20).map(x + 1).filter(x % 2 == 0).sum()",
        ] {
            assert!(optimized(src).contains("filter"), "{src}");
        }
    }
}
