//! The reference interpreter: evaluates the IR exactly (unbounded ints via num-bigint, floats
//! and errors through `pyops`). It is the oracle of the differential tests, the `--no-jit`
//! path, and the exact path for chunks in which a kernel reported an inexact operation.

use std::cmp::Ordering;

use num_bigint::BigInt;
use num_traits::{Signed, ToPrimitive, Zero};

use crate::errors::ErrCode;
use crate::exec::{Acc, ChunkOut, SourceData};
use crate::ir::*;
use crate::pyops;
use crate::value::Value;

pub type EResult<T> = Result<T, ErrCode>;

/// How a statement left: on to the next one, or out of a loop or block.
enum Flow {
    Next,
    Break,
    Continue,
    Return(Value),
}

/// An evaluation context: parameter values and the variable slots.
pub struct Interp<'a> {
    pub p: &'a Pipeline,
    pub params: &'a [Value],
    pub vars: Vec<Value>,
    /// The element a `find_*` consumer matched.
    found: Value,
    /// The position of the element being computed (`ExprKind::Index`).
    index: i64,
    /// The buffer a buffer source is zipped with (`ExprKind::ZipItem`).
    zip: Option<crate::exec::BufferArg>,
    /// The builtin call that raised last, for the chunk's error (see `ErrCall`).
    call: Option<Box<crate::exec::ErrCall>>,
    /// Counts loop iterations between looks at whether the run was interrupted.
    poll: fastiter_runtime::interrupt::Poller,
}

impl<'a> Interp<'a> {
    pub fn new(p: &'a Pipeline, params: &'a [Value]) -> Interp<'a> {
        Interp {
            p,
            params,
            vars: vec![Value::None; p.vars.len()],
            found: Value::None,
            index: 0,
            zip: None,
            call: None,
            poll: Default::default(),
        }
    }

    /// Run elements `[lo, hi)` of the pipeline and return the chunk's result, as a kernel would.
    pub fn run_chunk(&mut self, src: &SourceData, lo: i64, hi: i64) -> ChunkOut {
        let p = self.p;
        if let SourceData::Buffer(b) = src {
            self.zip = b.zipped();
        }
        let mut acc = match &p.consumer {
            Consumer::Sum if p.elem_type() == Type::Float => Acc::FloatSum {
                s: 0.0,
                c: 0.0,
                n: 0,
            },
            Consumer::Sum if p.elem_type() == Type::Num => Acc::MixedSum {
                pre: BigInt::zero(),
                float: None,
            },
            Consumer::Sum => Acc::IntSum(BigInt::zero()),
            Consumer::Count => Acc::Count(0),
            Consumer::Min | Consumer::Max => Acc::Extreme {
                value: None,
                nan_seen: false,
            },
            Consumer::Any(_) | Consumer::All(_) => Acc::NotFound,
            Consumer::Reduce { identity, .. } => match self.eval(identity) {
                Ok(v) => Acc::Reduce(v),
                Err(code) => {
                    return ChunkOut::Error {
                        index: lo,
                        code,
                        call: self.call.take(),
                    }
                }
            },
            Consumer::Collect => Acc::Items(Vec::new()),
            Consumer::Product => Acc::Product(BigInt::from(1)),
            Consumer::Find { .. } => Acc::Count(0),
            Consumer::ExtremeBy { .. } => Acc::ExtremeBy {
                best: None,
                nan_seen: false,
            },
        };
        for i in lo..hi {
            match self.element(src, i, &mut acc) {
                Ok(true) => {}
                Ok(false) => {
                    return ChunkOut::Found {
                        index: i,
                        value: std::mem::replace(&mut self.found, Value::None),
                        before: if let Acc::Count(n) = acc { n } else { 0 },
                    }
                }
                Err(code) => {
                    return ChunkOut::Error {
                        index: i,
                        code,
                        call: self.call.take(),
                    }
                }
            }
        }
        ChunkOut::Done(acc)
    }

    /// Push element `i` through the stages into the consumer. `Ok(false)`: an early-exit
    /// consumer decided.
    fn element(&mut self, src: &SourceData, i: i64, acc: &mut Acc) -> EResult<bool> {
        let p = self.p;
        let mut v = src.get(i);
        self.index = i;
        for s in &p.stages {
            match s {
                Stage::Let { var, value } => {
                    self.vars[var.0 as usize] = self.eval(value)?;
                }
                Stage::Map { var, body } => {
                    self.vars[var.0 as usize] = v;
                    v = self.eval(body)?;
                }
                Stage::Filter { var, pred } => {
                    self.vars[var.0 as usize] = v.clone();
                    if !self.eval_bool(pred)? {
                        return Ok(true);
                    }
                }
            }
        }
        match (&p.consumer, acc) {
            (Consumer::Sum, Acc::IntSum(total)) => *total += to_bigint(&v),
            (Consumer::Sum, Acc::FloatSum { s, c, n }) => {
                if let Value::Float(x) = v {
                    pyops::neumaier_add(s, c, x);
                    *n += 1;
                }
            }
            (Consumer::Sum, Acc::MixedSum { pre, float }) => match (float.as_mut(), v) {
                (None, Value::Float(x)) => {
                    let (mut s, mut c) = (0.0, 0.0);
                    pyops::neumaier_add(&mut s, &mut c, x);
                    *float = Some((s, c));
                }
                (None, v) => *pre += to_bigint(&v),
                (Some((s, c)), Value::Float(x)) => pyops::neumaier_add(s, c, x),
                (Some((s, c)), v) => {
                    pyops::neumaier_add(s, c, pyops::int_to_float(&to_bigint(&v))?)
                }
            },
            (Consumer::Count, Acc::Count(n)) => *n += 1,
            (Consumer::Min | Consumer::Max, Acc::Extreme { value, nan_seen }) => {
                if matches!(v, Value::Float(f) if f.is_nan()) {
                    *nan_seen = true;
                }
                let want = if matches!(p.consumer, Consumer::Min) {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
                let take = match value {
                    None => true,
                    Some(cur) => compare_values(&v, cur) == Some(want),
                };
                if take {
                    *value = Some(v);
                }
            }
            (Consumer::Any(pred), _) => {
                if self.decide(pred, v)? {
                    return Ok(false);
                }
            }
            (Consumer::All(pred), _) => {
                if !self.decide(pred, v)? {
                    return Ok(false);
                }
            }
            (
                Consumer::Reduce {
                    acc: a, item, op, ..
                },
                Acc::Reduce(cur),
            ) => {
                let prev = std::mem::replace(cur, Value::None);
                *cur = self.apply2(*a, *item, op, prev, v)?;
            }
            (Consumer::Collect, Acc::Items(items)) => items.push(v),
            (Consumer::Product, Acc::Product(total)) => *total *= to_bigint(&v),
            (Consumer::Find { pred, .. }, Acc::Count(n)) => {
                self.vars[pred.var.0 as usize] = v.clone();
                if self.eval_bool(&pred.body)? {
                    self.found = v;
                    return Ok(false);
                }
                *n += 1;
            }
            (Consumer::ExtremeBy { key, max }, Acc::ExtremeBy { best, nan_seen }) => {
                self.vars[key.var.0 as usize] = v.clone();
                let k = self.eval(&key.body)?;
                if matches!(k, Value::Float(f) if f.is_nan()) {
                    *nan_seen = true;
                }
                let want = if *max {
                    Ordering::Greater
                } else {
                    Ordering::Less
                };
                let take = match best {
                    None => true,
                    Some((_, bk)) => compare_values(&k, bk) == Some(want),
                };
                if take {
                    *best = Some((v, k));
                }
            }
            _ => unreachable!("accumulator matches its consumer"),
        }
        Ok(true)
    }

    fn decide(&mut self, pred: &Option<Lambda1>, v: Value) -> EResult<bool> {
        match pred {
            Some(l) => {
                self.vars[l.var.0 as usize] = v;
                self.eval_bool(&l.body)
            }
            None => Ok(truthy(&v)),
        }
    }

    /// Evaluate a two-argument function body (the reduce operator) on `a` and `b`.
    pub fn apply2(
        &mut self,
        va: VarId,
        vb: VarId,
        body: &Expr,
        a: Value,
        b: Value,
    ) -> EResult<Value> {
        self.vars[va.0 as usize] = a;
        self.vars[vb.0 as usize] = b;
        self.eval(body)
    }

    fn eval_bool(&mut self, e: &Expr) -> EResult<bool> {
        match self.eval(e)? {
            Value::Bool(b) => Ok(b),
            v => Ok(truthy(&v)),
        }
    }

    fn eval_int(&mut self, e: &Expr) -> EResult<BigInt> {
        match self.eval(e)? {
            Value::Int(v) => Ok(v),
            Value::Bool(b) => Ok(BigInt::from(b as u8)),
            _ => unreachable!("verified IR: int operand"),
        }
    }

    fn eval_float(&mut self, e: &Expr) -> EResult<f64> {
        match self.eval(e)? {
            Value::Float(v) => Ok(v),
            _ => unreachable!("verified IR: float operand"),
        }
    }

    pub fn eval(&mut self, e: &Expr) -> EResult<Value> {
        Ok(match &e.kind {
            ExprKind::ConstInt(v) => Value::Int(v.clone()),
            ExprKind::ConstFloat(v) => Value::Float(*v),
            ExprKind::ConstBool(v) => Value::Bool(*v),
            ExprKind::Var(v) => self.vars[v.0 as usize].clone(),
            ExprKind::Index => Value::int(self.index),
            ExprKind::ZipItem(_) => match &self.zip {
                Some(b) => b.get(self.index as usize),
                None => unreachable!("a zipped pipeline runs with its second buffer"),
            },
            ExprKind::Param(i) => self.params[*i as usize].clone(),
            ExprKind::Unary(op, a) => match op {
                UnOp::INeg => Value::Int(-self.eval_int(a)?),
                UnOp::IInvert => Value::Int(!self.eval_int(a)?),
                UnOp::FNeg => Value::Float(-self.eval_float(a)?),
                UnOp::BNot => Value::Bool(!self.eval_bool(a)?),
            },
            ExprKind::Binary(op, a, b) => self.binary(*op, a, b)?,
            ExprKind::Compare(op, kind, a, b) => {
                let ord = match kind {
                    CmpKind::Int => {
                        let x = self.eval_int(a)?;
                        Some(x.cmp(&self.eval_int(b)?))
                    }
                    CmpKind::Float => {
                        let x = self.eval_float(a)?;
                        x.partial_cmp(&self.eval_float(b)?)
                    }
                    CmpKind::IntFloat => {
                        let x = self.eval_int(a)?;
                        pyops::cmp_int_float(&x, self.eval_float(b)?)
                    }
                    CmpKind::FloatInt => {
                        let x = self.eval_float(a)?;
                        pyops::cmp_int_float(&self.eval_int(b)?, x).map(Ordering::reverse)
                    }
                };
                Value::Bool(op.holds(ord))
            }
            ExprKind::And(a, b) => {
                let x = self.eval(a)?;
                if truthy(&x) {
                    self.eval(b)?
                } else {
                    x
                }
            }
            ExprKind::Or(a, b) => {
                let x = self.eval(a)?;
                if truthy(&x) {
                    x
                } else {
                    self.eval(b)?
                }
            }
            ExprKind::If(c, a, b) => {
                if self.eval_bool(c)? {
                    self.eval(a)?
                } else {
                    self.eval(b)?
                }
            }
            ExprKind::Let(v, value, body) => {
                let x = self.eval(value)?;
                self.vars[v.0 as usize] = x;
                self.eval(body)?
            }
            ExprKind::Cast(c, a) => match c {
                Cast::BoolToInt => Value::Int(self.eval_int(a)?),
                Cast::BoolToFloat => Value::Float(if self.eval_bool(a)? { 1.0 } else { 0.0 }),
                Cast::IntToFloat => Value::Float(pyops::int_to_float(&self.eval_int(a)?)?),
                Cast::IntTruth => Value::Bool(!self.eval_int(a)?.is_zero()),
                Cast::FloatTruth => Value::Bool(self.eval_float(a)? != 0.0),
                Cast::NumTruth => Value::Bool(truthy(&self.eval(a)?)),
                Cast::FloatToInt => Value::Int(pyops::float_to_int(self.eval_float(a)?)?),
                Cast::FloatRound => Value::Int(pyops::float_round_to_int(self.eval_float(a)?)?),
                Cast::FloatFloor => Value::Int(pyops::float_floor_to_int(self.eval_float(a)?)?),
                Cast::FloatCeil => Value::Int(pyops::float_ceil_to_int(self.eval_float(a)?)?),
            },
            // A value carries its type: tagging changes nothing.
            ExprKind::Tag(a) => self.eval(a)?,
            ExprKind::Case(a, arms) => {
                let v = self.eval(a)?;
                let k = match v {
                    Value::Int(_) => 0,
                    Value::Float(_) => 1,
                    Value::Bool(_) => 2,
                    _ => unreachable!("verified IR: a num is a number"),
                };
                let (var, body) = &arms[k];
                self.vars[var.0 as usize] = v;
                self.eval(body)?
            }
            ExprKind::Block(stmts) => match self.exec(stmts)? {
                Flow::Return(v) => v,
                _ => unreachable!("verified IR: every path of a block returns"),
            },
            ExprKind::Call(b, args) => match b {
                Builtin::IAbs => Value::Int(self.eval_int(&args[0])?.abs()),
                Builtin::Math(f) => {
                    let x = self.eval_float(&args[0])?;
                    let r = pyops::math1(*f, x);
                    Value::Float(self.raised(r, math_name(*f), || vec![Value::Float(x)])?)
                }
                Builtin::MathInt(f) => {
                    let n = self.eval_int(&args[0])?;
                    let r = pyops::math1_int(*f, &n);
                    Value::Float(self.raised(r, math_name(*f), || vec![Value::Int(n.clone())])?)
                }
                Builtin::Fn(f) => {
                    let mut vals = Vec::with_capacity(args.len());
                    for a in args {
                        vals.push(self.eval(a)?);
                    }
                    let r = (f.op().exact)(&vals);
                    self.raised(r, python_name(f.op().name), || vals.clone())?
                }
            },
        })
    }

    /// `r`, remembering the call when it raised (the chunk's error carries it).
    fn raised<T>(
        &mut self,
        r: EResult<T>,
        func: &'static str,
        args: impl FnOnce() -> Vec<Value>,
    ) -> EResult<T> {
        if r.is_err() {
            self.call = Some(Box::new(crate::exec::ErrCall { func, args: args() }));
        }
        r
    }

    /// Run statements until one leaves the sequence.
    fn exec(&mut self, stmts: &[Stmt]) -> EResult<Flow> {
        for s in stmts {
            match self.exec1(s)? {
                Flow::Next => {}
                f => return Ok(f),
            }
        }
        Ok(Flow::Next)
    }

    fn exec1(&mut self, s: &Stmt) -> EResult<Flow> {
        Ok(match s {
            Stmt::Raise(code) => return Err(*code),
            Stmt::Assign(v, e) => {
                let x = self.eval(e)?;
                self.vars[v.0 as usize] = x;
                Flow::Next
            }
            Stmt::Eval(e) => {
                self.eval(e)?;
                Flow::Next
            }
            Stmt::If(c, a, b) => {
                if self.eval_bool(c)? {
                    self.exec(a)?
                } else {
                    self.exec(b)?
                }
            }
            Stmt::While { first, cond, body } => {
                let mut first = first.as_ref();
                loop {
                    let (c, b) = match first.take() {
                        Some((c, b)) => (c, b),
                        None => (cond, body),
                    };
                    if !self.eval_bool(c)? {
                        break;
                    }
                    if self.poll.tick() {
                        return Err(ErrCode::Interrupted);
                    }
                    match self.exec(b)? {
                        Flow::Break => break,
                        Flow::Return(v) => return Ok(Flow::Return(v)),
                        Flow::Next | Flow::Continue => {}
                    }
                }
                Flow::Next
            }
            Stmt::ForRange {
                var,
                start,
                stop,
                step,
                first,
                body,
            } => {
                let mut i = self.eval_int(start)?;
                let stop = self.eval_int(stop)?;
                let step = self.eval_int(step)?;
                if step.is_zero() {
                    return Err(ErrCode::RangeStepZero);
                }
                let up = step.is_positive();
                let mut first = first.as_ref();
                while if up { i < stop } else { i > stop } {
                    if self.poll.tick() {
                        return Err(ErrCode::Interrupted);
                    }
                    self.vars[var.0 as usize] = Value::Int(i.clone());
                    let b = first.take().unwrap_or(body);
                    match self.exec(b)? {
                        Flow::Break => break,
                        Flow::Return(v) => return Ok(Flow::Return(v)),
                        Flow::Next | Flow::Continue => {}
                    }
                    i += &step;
                }
                Flow::Next
            }
            Stmt::Break => Flow::Break,
            Stmt::Continue => Flow::Continue,
            Stmt::Return(e) => Flow::Return(self.eval(e)?),
        })
    }

    fn binary(&mut self, op: BinOp, a: &Expr, b: &Expr) -> EResult<Value> {
        use BinOp::*;
        Ok(match op {
            IAdd | ISub | IMul | IFloorDiv | IMod | IPow | IPowVar | IBitAnd | IBitOr | IBitXor
            | IShl | IShr | ITrueDiv => {
                let x = self.eval_int(a)?;
                let y = self.eval_int(b)?;
                match op {
                    IAdd => Value::Int(x + y),
                    ISub => Value::Int(x - y),
                    IMul => Value::Int(x * y),
                    IFloorDiv => Value::Int(pyops::int_floordiv(&x, &y)?),
                    IMod => Value::Int(pyops::int_mod(&x, &y)?),
                    IPow => Value::Int(pyops::int_pow(&x, y.to_u32().unwrap_or(0))),
                    IPowVar => Value::Int(pyops::int_pow_var(&x, &y)?),
                    IBitAnd => Value::Int(x & y),
                    IBitOr => Value::Int(x | y),
                    IBitXor => Value::Int(x ^ y),
                    IShl => Value::Int(pyops::int_lshift(&x, &y)?),
                    IShr => Value::Int(pyops::int_rshift(&x, &y)?),
                    _ => Value::Float(pyops::int_true_div(&x, &y)?),
                }
            }
            BBitAnd | BBitOr | BBitXor => {
                let x = self.eval_bool(a)?;
                let y = self.eval_bool(b)?;
                Value::Bool(match op {
                    BBitAnd => x & y,
                    BBitOr => x | y,
                    _ => x ^ y,
                })
            }
            FAdd | FSub | FMul | FDiv | FFloorDiv | FMod | FPow => {
                let x = self.eval_float(a)?;
                let y = self.eval_float(b)?;
                Value::Float(match op {
                    FAdd => x + y,
                    FSub => x - y,
                    FMul => x * y,
                    FDiv => pyops::float_div(x, y)?,
                    FFloorDiv => pyops::float_floordiv(x, y)?,
                    FMod => pyops::float_mod(x, y)?,
                    _ => pyops::float_pow(x, y)?,
                })
            }
            Min | Max => {
                let x = self.eval(a)?;
                let y = self.eval(b)?;
                let want = if op == Min {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
                if compare_values(&y, &x) == Some(want) {
                    y
                } else {
                    x
                }
            }
        })
    }
}

/// Python truthiness.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::None => false,
        Value::Bool(b) => *b,
        Value::Int(i) => !i.is_zero(),
        Value::Float(f) => *f != 0.0,
        Value::List(l) => !l.is_empty(),
        Value::Packed(_, l) => !l.is_empty(),
    }
}

fn to_bigint(v: &Value) -> BigInt {
    match v {
        Value::Int(i) => i.clone(),
        Value::Bool(b) => BigInt::from(*b as u8),
        _ => unreachable!("int sum of ints and bools"),
    }
}

/// Python's ordering of two numbers of the same pipeline type (bools as ints); None when a
/// NaN is involved.
pub fn compare_values(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        (Value::Float(x), _) => pyops::cmp_int_float(&to_bigint(b), *x).map(Ordering::reverse),
        (_, Value::Float(y)) => pyops::cmp_int_float(&to_bigint(a), *y),
        _ => Some(to_bigint(a).cmp(&to_bigint(b))),
    }
}

/// `math.<f>` as Python names it.
fn math_name(f: pyops::MathFn) -> &'static str {
    python_name(f.qualified_name())
}

/// The callable a builtin table name stands for: `math.hypot.v39` and `math.frexp[0]` are
/// `math.hypot` and `math.frexp` called by another rule or for one part of the result.
fn python_name(name: &'static str) -> &'static str {
    let end = name.find('[').unwrap_or(name.len());
    let name = &name[..end];
    match name.match_indices('.').nth(1) {
        Some((i, _)) => &name[..i],
        None => name,
    }
}
