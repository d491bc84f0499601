//! Strength reduction: Python's floor `%` and `//` by a positive power of two are exactly a
//! bitwise and and an arithmetic shift in two's complement, with no division and no check.

use num_bigint::BigInt;
use num_traits::{One, Signed};

use crate::ir::{BinOp, Expr, ExprKind, Pipeline};

pub fn run(p: Pipeline) -> Pipeline {
    super::map_exprs(p, &reduce)
}

fn power_of_two(v: &BigInt) -> Option<u64> {
    if !v.is_positive() || v.bits() > 62 {
        return None;
    }
    let k = v.trailing_zeros()?;
    (v == &(BigInt::one() << k)).then_some(k)
}

fn reduce(e: Expr) -> Expr {
    if let ExprKind::Binary(op @ (BinOp::IMod | BinOp::IFloorDiv), a, b) = &e.kind {
        if let ExprKind::ConstInt(c) = &b.kind {
            if let Some(k) = power_of_two(c) {
                let (new_op, rhs) = if *op == BinOp::IMod {
                    (BinOp::IBitAnd, c - 1)
                } else {
                    (BinOp::IShr, BigInt::from(k))
                };
                let rhs = Expr {
                    kind: ExprKind::ConstInt(rhs),
                    ..(**b).clone()
                };
                return Expr {
                    kind: ExprKind::Binary(new_op, a.clone(), Box::new(rhs)),
                    ..e
                };
            }
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powers_of_two() {
        assert_eq!(power_of_two(&BigInt::from(1)), Some(0));
        assert_eq!(power_of_two(&BigInt::from(8)), Some(3));
        assert_eq!(power_of_two(&BigInt::from(12)), None);
        assert_eq!(power_of_two(&BigInt::from(-8)), None);
        assert_eq!(power_of_two(&BigInt::from(0)), None);
    }
}
