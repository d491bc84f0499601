//! The IR verifier: every operation's operand and result types agree with its definition, and
//! every variable is in range. Run after lowering and after every pass.

use super::*;

pub fn verify(p: &Pipeline) -> Result<(), String> {
    let v = Verifier { p };
    match &p.source {
        Source::Range { start, stop, step } => {
            for e in [start, stop, step] {
                v.expect(e, Type::Int)?;
            }
        }
        Source::List { items, ty } => {
            for e in items {
                v.expect(e, *ty)?;
            }
        }
        Source::Buffer { .. } => {}
    }
    let mut ty = p.source.elem_type();
    for op in &p.view {
        match op {
            ViewOp::Skip(n) | ViewOp::Take(n) | ViewOp::StepBy(n) => v.expect(n, Type::Int)?,
            ViewOp::ZipBuffer(_) => {}
            ViewOp::ZipRange { start, stop, step } | ViewOp::Chain { start, stop, step } => {
                v.expect(start, Type::Int)?;
                v.expect(stop, Type::Int)?;
                v.expect(step, Type::Int)?;
            }
        }
    }
    for s in &p.stages {
        match s {
            Stage::Let { var, value } => {
                v.var(*var, value.ty)?;
                v.expr(value)?;
            }
            Stage::Map { var, body } => {
                v.var(*var, ty)?;
                v.expr(body)?;
                ty = body.ty;
            }
            Stage::Filter { var, pred } => {
                v.var(*var, ty)?;
                v.expect(pred, Type::Bool)?;
            }
        }
    }
    match &p.consumer {
        Consumer::Any(Some(l)) | Consumer::All(Some(l)) => {
            v.var(l.var, ty)?;
            v.expect(&l.body, Type::Bool)?;
        }
        Consumer::Reduce {
            identity,
            acc,
            item,
            op,
            fold,
        } => {
            // The accumulator's type: the element's, or tagged numbers. A fold's items keep
            // the element's type (its operator never combines two accumulators).
            let t = identity.ty;
            if fold.is_none() && t != ty && t != Type::Num {
                return Err(format!(
                    "reduce of {} elements into {}",
                    ty.name(),
                    t.name()
                ));
            }
            v.expr(identity)?;
            v.var(*acc, t)?;
            v.var(*item, if fold.is_some() { ty } else { t })?;
            v.expect(op, t)?;
        }
        Consumer::Find { pred, .. } => {
            v.var(pred.var, ty)?;
            v.expect(&pred.body, Type::Bool)?;
        }
        Consumer::ExtremeBy { key, .. } => {
            v.var(key.var, ty)?;
            v.expr(&key.body)?;
        }
        Consumer::Product if matches!(ty, Type::Float | Type::Num) => {
            return Err("a float product is not exact in chunks".into());
        }
        _ => {}
    }
    Ok(())
}

struct Verifier<'a> {
    p: &'a Pipeline,
}

impl Verifier<'_> {
    fn var(&self, v: VarId, ty: Type) -> Result<(), String> {
        match self.p.vars.get(v.0 as usize) {
            Some(info) if info.ty == ty => Ok(()),
            Some(info) => Err(format!(
                "variable {} is {} but bound to {}",
                info.name,
                info.ty.name(),
                ty.name()
            )),
            None => Err(format!("variable v{} out of range", v.0)),
        }
    }

    fn expect(&self, e: &Expr, ty: Type) -> Result<(), String> {
        self.expr(e)?;
        if e.ty != ty {
            return Err(format!(
                "expected {}, found {} in {}",
                ty.name(),
                e.ty.name(),
                display::expr(self.p, e)
            ));
        }
        Ok(())
    }

    fn expr(&self, e: &Expr) -> Result<(), String> {
        use Type::*;
        let same = |a: &Expr, t: Type| self.expect(a, t);
        match &e.kind {
            ExprKind::ConstInt(_) => self.result(e, Int),
            ExprKind::ConstFloat(_) => self.result(e, Float),
            ExprKind::ConstBool(_) => self.result(e, Bool),
            ExprKind::Var(v) => self.var(*v, e.ty),
            ExprKind::Index => self.result(e, Int),
            ExprKind::ZipItem(d) => self.result(e, d.elem_type()),
            ExprKind::Param(i) => match self.p.params.get(*i as usize) {
                Some(p) if p.ty == e.ty => Ok(()),
                _ => Err(format!("parameter {i} missing or mistyped")),
            },
            ExprKind::Unary(op, a) => {
                let t = match op {
                    UnOp::INeg | UnOp::IInvert => Int,
                    UnOp::FNeg => Float,
                    UnOp::BNot => Bool,
                };
                same(a, t)?;
                self.result(e, t)
            }
            ExprKind::Binary(op, a, b) => {
                use BinOp::*;
                let (operand, result) = match op {
                    IAdd | ISub | IMul | IFloorDiv | IMod | IPow | IPowVar | IBitAnd | IBitOr
                    | IBitXor | IShl | IShr => (Int, Int),
                    ITrueDiv => (Int, Float),
                    BBitAnd | BBitOr | BBitXor => (Bool, Bool),
                    FAdd | FSub | FMul | FDiv | FFloorDiv | FMod | FPow => (Float, Float),
                    Min | Max => (e.ty, e.ty),
                };
                same(a, operand)?;
                same(b, operand)?;
                if *op == IPow && !matches!(b.kind, ExprKind::ConstInt(_)) {
                    return Err("ipow needs a constant exponent".into());
                }
                self.result(e, result)
            }
            ExprKind::Compare(_, kind, a, b) => {
                let (ta, tb) = match kind {
                    CmpKind::Int => (Int, Int),
                    CmpKind::Float => (Float, Float),
                    CmpKind::IntFloat => (Int, Float),
                    CmpKind::FloatInt => (Float, Int),
                };
                same(a, ta)?;
                same(b, tb)?;
                self.result(e, Bool)
            }
            ExprKind::And(a, b) | ExprKind::Or(a, b) => {
                same(a, e.ty)?;
                same(b, e.ty)
            }
            ExprKind::If(c, a, b) => {
                same(c, Bool)?;
                same(a, e.ty)?;
                same(b, e.ty)
            }
            ExprKind::Let(v, value, body) => {
                self.var(*v, value.ty)?;
                self.expr(value)?;
                same(body, e.ty)
            }
            ExprKind::Cast(c, a) => {
                let (from, to) = match c {
                    Cast::BoolToInt => (Bool, Int),
                    Cast::BoolToFloat => (Bool, Float),
                    Cast::IntToFloat => (Int, Float),
                    Cast::IntTruth => (Int, Bool),
                    Cast::FloatTruth => (Float, Bool),
                    Cast::NumTruth => (Num, Bool),
                    Cast::FloatToInt | Cast::FloatRound | Cast::FloatFloor | Cast::FloatCeil => {
                        (Float, Int)
                    }
                };
                same(a, from)?;
                self.result(e, to)
            }
            ExprKind::Call(b, args) => {
                let (params, result): (&[Type], Type) = match b {
                    Builtin::IAbs => (&[Int], Int),
                    Builtin::Math(_) => (&[Float], Float),
                    Builtin::MathInt(_) => (&[Int], Float),
                    Builtin::Fn(f) => {
                        let op = f.op();
                        if op.variadic {
                            for a in args {
                                same(a, op.params[0])?;
                            }
                            return self.result(e, op.result);
                        }
                        (op.params, op.result)
                    }
                };
                if args.len() != params.len() {
                    return Err("builtin arity".into());
                }
                for (a, t) in args.iter().zip(params) {
                    same(a, *t)?;
                }
                self.result(e, result)
            }
            ExprKind::Block(stmts) => self.stmts(stmts, e.ty),
            ExprKind::Tag(a) => {
                if a.ty == Num {
                    return Err("tag of a value that is already a num".into());
                }
                self.expr(a)?;
                self.result(e, Num)
            }
            ExprKind::Case(a, arms) => {
                same(a, Num)?;
                for ((v, body), t) in arms.iter().zip(Type::TAGGED) {
                    self.var(*v, t)?;
                    same(body, e.ty)?;
                }
                Ok(())
            }
        }
    }

    /// Statements of a block whose `return`s give `ret`.
    fn stmts(&self, stmts: &[Stmt], ret: Type) -> Result<(), String> {
        for s in stmts {
            match s {
                Stmt::Raise(_) => {}
                Stmt::Assign(v, e) => {
                    self.var(*v, e.ty)?;
                    self.expr(e)?;
                }
                Stmt::Eval(e) => self.expr(e)?,
                Stmt::If(c, a, b) => {
                    self.expect(c, Type::Bool)?;
                    self.stmts(a, ret)?;
                    self.stmts(b, ret)?;
                }
                Stmt::While { first, cond, body } => {
                    if let Some((c, b)) = first {
                        self.expect(c, Type::Bool)?;
                        self.stmts(b, ret)?;
                    }
                    self.expect(cond, Type::Bool)?;
                    self.stmts(body, ret)?;
                }
                Stmt::ForRange {
                    var,
                    start,
                    stop,
                    step,
                    first,
                    body,
                } => {
                    self.var(*var, Type::Int)?;
                    for e in [start, stop, step] {
                        self.expect(e, Type::Int)?;
                    }
                    if let Some(b) = first {
                        self.stmts(b, ret)?;
                    }
                    self.stmts(body, ret)?;
                }
                Stmt::Break | Stmt::Continue => {}
                Stmt::Return(e) => self.expect(e, ret)?,
            }
        }
        Ok(())
    }

    fn result(&self, e: &Expr, ty: Type) -> Result<(), String> {
        if e.ty == ty {
            Ok(())
        } else {
            Err(format!(
                "{} typed {} but produces {}",
                display::expr(self.p, e),
                e.ty.name(),
                ty.name()
            ))
        }
    }
}
