//! The typed IR: a pipeline (source, stages, consumer) over typed scalar expressions. Every
//! semantic decision of SEMANTICS.md is made while lowering into it (which operation, which
//! promotion, which check), so codegen and the interpreter only follow what it says.

pub mod display;
pub mod lower;
pub mod verify;

use num_bigint::BigInt;

use crate::diagnostics::Span;
use crate::pyops::MathFn;

/// The scalar types of pipeline values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    Int,
    Float,
    Bool,
    /// A number whose type the data decides: an int, float or bool tagged at run time.
    /// Lowering introduces it only where differently typed paths join, and every operation
    /// on it is an `ExprKind::Case` over the typed operations.
    Num,
}

impl Type {
    pub fn name(self) -> &'static str {
        match self {
            Type::Int => "int",
            Type::Float => "float",
            Type::Bool => "bool",
            Type::Num => "num",
        }
    }

    /// The tag a `Num` carries for a value of this type (`Num` has none).
    pub fn tag(self) -> u64 {
        match self {
            Type::Int => TAG_INT,
            Type::Float => TAG_FLOAT,
            Type::Bool => TAG_BOOL,
            Type::Num => u64::MAX,
        }
    }

    /// The typed types a `Num` may hold, in the order of `ExprKind::Case`'s arms.
    pub const TAGGED: [Type; 3] = [Type::Int, Type::Float, Type::Bool];
}

/// A `Num` is 16 bytes (an i128 in kernels): the payload's 8-byte slot (i64, f64 bits, 0/1)
/// in the low half, the tag in the high half. Buffers of such pairs are `Dtype::Num`.
pub const TAG_INT: u64 = 0;
pub const TAG_FLOAT: u64 = 1;
pub const TAG_BOOL: u64 = 2;

/// A local variable (a lambda parameter, a `let` temporary). Indexes `Pipeline::vars`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VarId(pub u32);

#[derive(Debug, Clone, PartialEq)]
pub struct VarInfo {
    pub name: String,
    pub ty: Type,
}

/// A runtime parameter: a value supplied per run (`-D N=...`, a Python free variable).
/// Changing its value does not recompile.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamInfo {
    pub name: String,
    pub ty: Type,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: Type,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// Any size; codegen reports `INEXACT` for a constant outside i64.
    ConstInt(BigInt),
    ConstFloat(f64),
    ConstBool(bool),
    Var(VarId),
    Param(u32),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// A comparison of two operands of `kind` (no chaining: lowering makes `And`s of these).
    Compare(CmpOp, CmpKind, Box<Expr>, Box<Expr>),
    /// Python's `a and b`: `a` if `a` is falsy, else `b`. Both operands have the result type.
    And(Box<Expr>, Box<Expr>),
    /// Python's `a or b`: `a` if `a` is truthy, else `b`.
    Or(Box<Expr>, Box<Expr>),
    /// `then if cond else other`; `cond` is Bool.
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// Evaluate `value` once, bind it to the variable, then evaluate `body`.
    Let(VarId, Box<Expr>, Box<Expr>),
    Cast(Cast, Box<Expr>),
    Call(Builtin, Vec<Expr>),
    /// An inlined function call: run the statements; the value is that of the first
    /// `Stmt::Return` reached (lowering guarantees every path ends in one).
    Block(Vec<Stmt>),
    /// The current element's position in the source, after `Pipeline::view` (Int): what
    /// `enumerate()` counts and what `zip()` pairs by.
    Index,
    /// The zipped buffer's element at the current position (`Index`), of the pipeline type of
    /// its dtype (`ViewOp::ZipBuffer`).
    ZipItem(Dtype),
    /// Tag a typed value (Int, Float or Bool, the operand's type) as a `Num`.
    Tag(Box<Expr>),
    /// Dispatch on a `Num`'s tag: bind its payload to the arm's variable and evaluate that
    /// arm. The arms are for int, float and bool payloads (`Type::TAGGED`), and all have the
    /// `Case`'s type.
    Case(Box<Expr>, Box<[(VarId, Expr); 3]>),
}

/// A statement of an inlined function body. `Break`/`Continue` refer to the innermost loop,
/// `Return` to the innermost `ExprKind::Block`.
#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    /// Evaluate, then store into the variable (of the value's type).
    Assign(VarId, Expr),
    /// Evaluate for its exceptions only.
    Eval(Expr),
    /// `if cond: then else: other` (`cond` is Bool).
    If(Expr, Vec<Stmt>, Vec<Stmt>),
    /// `while cond: body`. When `first` is present, the first test and iteration run
    /// `first` (typed with the types on entry) and later ones `cond`/`body` (typed with the
    /// loop's fixpoint types): the first iteration is peeled.
    While {
        first: Option<(Expr, Vec<Stmt>)>,
        cond: Expr,
        body: Vec<Stmt>,
    },
    /// `for var in range(start, stop, step): body`: the bounds are evaluated once, in order
    /// (a zero step raises ValueError); each element is stored into `var` (Int) before an
    /// iteration; the first iteration runs `first` when present.
    ForRange {
        var: VarId,
        start: Expr,
        stop: Expr,
        step: Expr,
        first: Option<Vec<Stmt>>,
        body: Vec<Stmt>,
    },
    Break,
    Continue,
    Return(Expr),
    /// Raise the exception `ErrCode` stands for (`min()` of an empty generator).
    Raise(crate::errors::ErrCode),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnOp {
    /// `-x` on int: checked.
    INeg,
    FNeg,
    /// `~x` on int.
    IInvert,
    /// `not x` where x is already Bool.
    BNot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// int ⨯ int → int, overflow-checked.
    IAdd,
    ISub,
    IMul,
    /// Floor division and modulo (ZeroDivisionError on 0).
    IFloorDiv,
    IMod,
    /// int ** constant non-negative int (the right operand is a `ConstInt`).
    IPow,
    /// int ** int whose exponent is not a constant; lowering only reaches it when the
    /// exponent is >= 0 (a negative one gives a float).
    IPowVar,
    /// int / int → float, correctly rounded.
    ITrueDiv,
    IBitAnd,
    IBitOr,
    IBitXor,
    IShl,
    IShr,
    /// bool ⨯ bool → bool for `& | ^`.
    BBitAnd,
    BBitOr,
    BBitXor,
    FAdd,
    FSub,
    FMul,
    FDiv,
    FFloorDiv,
    FMod,
    FPow,
    /// `min(a, b)` / `max(a, b)`: the first of equal values, Python's `<`/`>` (for float
    /// NaN: `min(a, b)` is `b if b < a else a`).
    Min,
    Max,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    /// The operator with its operands swapped: `a < b` is `b > a`.
    pub fn swapped(self) -> CmpOp {
        match self {
            CmpOp::Eq => CmpOp::Eq,
            CmpOp::Ne => CmpOp::Ne,
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
        }
    }

    pub fn holds(self, ord: Option<std::cmp::Ordering>) -> bool {
        use std::cmp::Ordering::*;
        match (self, ord) {
            (CmpOp::Ne, None) => true,
            (_, None) => false,
            (CmpOp::Eq, Some(o)) => o == Equal,
            (CmpOp::Ne, Some(o)) => o != Equal,
            (CmpOp::Lt, Some(o)) => o == Less,
            (CmpOp::Le, Some(o)) => o != Greater,
            (CmpOp::Gt, Some(o)) => o == Greater,
            (CmpOp::Ge, Some(o)) => o != Less,
        }
    }
}

/// Operand types of a comparison. Bools are compared as ints (lowering casts them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpKind {
    Int,
    Float,
    /// int on the left, float on the right: compared exactly, as CPython does.
    IntFloat,
    /// float on the left, int on the right (operands keep their evaluation order).
    FloatInt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cast {
    BoolToInt,
    BoolToFloat,
    /// Exact, correctly rounded (OverflowError past the float range).
    IntToFloat,
    /// Python truthiness of an int / float: `x != 0`.
    IntTruth,
    FloatTruth,
    /// Python truthiness of a `Num`: its payload is not zero (`-0.0` is false, NaN true).
    NumTruth,
    /// `int(f)`: truncation; ValueError on NaN, OverflowError on inf.
    FloatToInt,
    /// `round(f)`: half to even.
    FloatRound,
    /// `math.floor(f)` / `math.ceil(f)`: int results.
    FloatFloor,
    FloatCeil,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Builtin {
    /// `abs` of an int (checked).
    IAbs,
    /// A `math` function of one float: CPython's domain/range errors.
    Math(MathFn),
    /// `math.log`/`log2`/`log10` of an int: exact for ints of any size.
    MathInt(MathFn),
    /// An operation of the builtin table (`crate::builtins`): its parameter and result types,
    /// exact implementation and kernel code are declared there.
    Fn(crate::builtins::Func),
}

/// A pipeline: `source`, then `stages` in order, then `consumer`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub params: Vec<ParamInfo>,
    pub vars: Vec<VarInfo>,
    pub source: Source,
    /// Index operations on the source (`skip`, `take`, `step_by`, `zip`'s length).
    pub view: Vec<ViewOp>,
    pub stages: Vec<Stage>,
    pub consumer: Consumer,
    /// Span of the whole pipeline expression.
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// `range(start, stop, step)`: Int expressions over parameters only.
    Range { start: Expr, stop: Expr, step: Expr },
    /// A list literal: one element type, items over parameters only.
    List { items: Vec<Expr>, ty: Type },
    /// A contiguous buffer of `dtype` passed in at run time (an exact NumPy array,
    /// `array.array`, `memoryview`, `bytes` or `bytearray`, or a converted list), read in place.
    Buffer { name: String, dtype: Dtype },
}

impl Source {
    pub fn elem_type(&self) -> Type {
        match self {
            Source::Range { .. } => Type::Int,
            Source::List { ty, .. } => *ty,
            Source::Buffer { dtype, .. } => dtype.elem_type(),
        }
    }
}

/// The element type of an input buffer, as stored in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dtype {
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    F32,
    F64,
    Bool,
    /// 16-byte tagged numbers (`TAG_*`): a list that mixes ints, floats and bools.
    Num,
}

impl Dtype {
    pub const ALL: [Dtype; 11] = [
        Dtype::I8,
        Dtype::I16,
        Dtype::I32,
        Dtype::I64,
        Dtype::U8,
        Dtype::U16,
        Dtype::U32,
        Dtype::F32,
        Dtype::F64,
        Dtype::Bool,
        Dtype::Num,
    ];

    /// The pipeline type of an element: ints as Python ints, floats widened exactly to f64.
    pub fn elem_type(self) -> Type {
        match self {
            Dtype::F32 | Dtype::F64 => Type::Float,
            Dtype::Bool => Type::Bool,
            Dtype::Num => Type::Num,
            _ => Type::Int,
        }
    }

    pub fn size(self) -> usize {
        match self {
            Dtype::I8 | Dtype::U8 | Dtype::Bool => 1,
            Dtype::I16 | Dtype::U16 => 2,
            Dtype::I32 | Dtype::U32 | Dtype::F32 => 4,
            Dtype::I64 | Dtype::F64 => 8,
            Dtype::Num => 16,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dtype::I8 => "i8",
            Dtype::I16 => "i16",
            Dtype::I32 => "i32",
            Dtype::I64 => "i64",
            Dtype::U8 => "u8",
            Dtype::U16 => "u16",
            Dtype::U32 => "u32",
            Dtype::F32 => "f32",
            Dtype::F64 => "f64",
            Dtype::Bool => "bool",
            Dtype::Num => "num",
        }
    }

    pub fn from_name(name: &str) -> Option<Dtype> {
        Dtype::ALL.iter().copied().find(|d| d.name() == name)
    }
}

/// The buffer a pipeline reads, as declared to the compiler.
#[derive(Debug, Clone, PartialEq)]
pub struct BufferDecl {
    pub name: String,
    pub dtype: Dtype,
    /// A second buffer the first may be zipped with (`.zip(NAME)`), by name and dtype.
    pub zip: Option<(String, Dtype)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// Bind the element to `var`, replace it by `body`.
    Map { var: VarId, body: Expr },
    /// Bind the element to `var`, keep it when `pred` (Bool) holds.
    Filter { var: VarId, pred: Expr },
    /// Evaluate `value` into `var`; the element passes unchanged. The parts of a tuple
    /// element (`enumerate`, `zip`) live in such variables.
    Let { var: VarId, value: Expr },
}

impl Stage {
    /// The stage's expression: a map's body, a filter's predicate, a let's value.
    pub fn expr(&self) -> &Expr {
        match self {
            Stage::Map { body: e, .. }
            | Stage::Filter { pred: e, .. }
            | Stage::Let { value: e, .. } => e,
        }
    }
}

/// An index operation on the source, applied in order before any stage runs: the kernel's
/// loop runs over the positions that remain.
#[derive(Debug, Clone, PartialEq)]
pub enum ViewOp {
    /// `skip(n)`: drop the first `n` (ValueError when negative).
    Skip(Expr),
    /// `take(n)`: keep at most the first `n` (ValueError when negative).
    Take(Expr),
    /// `step_by(k)`: every `k`-th, from the first (ValueError when `k < 1`).
    StepBy(Expr),
    /// `zip(range(start, stop, step))`: at most as many as that range has.
    ZipRange { start: Expr, stop: Expr, step: Expr },
    /// `zip(NAME)` of a buffer source with the second input buffer (`BufferDecl::zip`): at
    /// most as many as it has; its element at the position is `ExprKind::ZipItem`.
    ZipBuffer(Dtype),
    /// `chain(range(start, stop, step))` of a range source (the only view op then): that
    /// range's elements follow the source's.
    Chain { start: Expr, stop: Expr, step: Expr },
}

/// A predicate over the element, for `any`/`all`.
#[derive(Debug, Clone, PartialEq)]
pub struct Lambda1 {
    pub var: VarId,
    pub body: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Consumer {
    Sum,
    Count,
    Min,
    Max,
    /// Truthiness of `pred(x)` (or of `x` when absent); stops at the first true element.
    Any(Option<Lambda1>),
    /// Stops at the first false element.
    All(Option<Lambda1>),
    /// Each chunk folds from `identity` with `op(acc, item)`; chunk results are then folded in
    /// order with `op`. `identity`, `acc` and `op` have one type: the element's, or `Num`
    /// when the identity or the operator would give another type.
    ///
    /// With `fold`, this is `fold(identity, op)` then `fold`'s consumer: one sequential fold
    /// over every element (`op(acc, item)`, `item` of the element's type), whose single result
    /// the consumer then takes, as fastiter 0.1's Python `fold` does ("one chunk here").
    Reduce {
        identity: Expr,
        acc: VarId,
        item: VarId,
        op: Expr,
        fold: Option<FoldThen>,
    },
    Collect,
    /// `math.prod` of int (or bool) elements: exact, 1 when empty.
    Product,
    /// `find_first`/`find_any` (`position: false`: the first element for which `pred` holds,
    /// or None) and `position_first`/`position_any` (`position: true`: how many elements
    /// reached the consumer before it). Stops at the first match; `find_any` and
    /// `position_any` return the first match too.
    Find {
        pred: Lambda1,
        position: bool,
    },
    /// `min_by_key`/`max_by_key`: the first element with the smallest (largest) `key`, as
    /// `min(it, key=...)` compares keys; None when empty.
    ExtremeBy {
        key: Lambda1,
        max: bool,
    },
}

/// The consumer after `fold(...)`, which sees the fold's one result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoldThen {
    Sum,
    Count,
    Min,
    Max,
    Collect,
    Any,
    All,
}

impl FoldThen {
    pub fn from_name(name: &str) -> Option<FoldThen> {
        Some(match name {
            "sum" => FoldThen::Sum,
            "count" => FoldThen::Count,
            "min" => FoldThen::Min,
            "max" => FoldThen::Max,
            "collect" => FoldThen::Collect,
            "any" => FoldThen::Any,
            "all" => FoldThen::All,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            FoldThen::Sum => "sum",
            FoldThen::Count => "count",
            FoldThen::Min => "min",
            FoldThen::Max => "max",
            FoldThen::Collect => "collect",
            FoldThen::Any => "any",
            FoldThen::All => "all",
        }
    }
}

impl Consumer {
    /// Whether this is `fold(...)` and a consumer: one sequential chunk.
    pub fn is_fold(&self) -> bool {
        matches!(self, Consumer::Reduce { fold: Some(_), .. })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Consumer::Sum => "sum",
            Consumer::Count => "count",
            Consumer::Min => "min",
            Consumer::Max => "max",
            Consumer::Any(_) => "any",
            Consumer::All(_) => "all",
            Consumer::Reduce { .. } => "reduce",
            Consumer::Collect => "collect",
            Consumer::Product => "product",
            Consumer::Find {
                position: false, ..
            } => "find_first",
            Consumer::Find { position: true, .. } => "position_first",
            Consumer::ExtremeBy { max: false, .. } => "min_by_key",
            Consumer::ExtremeBy { max: true, .. } => "max_by_key",
        }
    }
}

impl Pipeline {
    /// Whether any stage or the consumer runs a loop (a `while`, a `for`, a nested pipeline
    /// or comprehension): then one element may take any time, and a run must be watched for
    /// Ctrl-C however short its input.
    pub fn has_loops(&self) -> bool {
        fn looping(s: &Stmt) -> bool {
            match s {
                Stmt::While { .. } | Stmt::ForRange { .. } => true,
                Stmt::If(_, a, b) => a.iter().chain(b).any(looping),
                _ => false,
            }
        }
        let in_expr =
            |e: &Expr| e.any(&|e| matches!(&e.kind, ExprKind::Block(ss) if ss.iter().any(looping)));
        let consumer: Vec<&Expr> = match &self.consumer {
            Consumer::Any(Some(l)) | Consumer::All(Some(l)) => vec![&l.body],
            Consumer::Find { pred: l, .. } | Consumer::ExtremeBy { key: l, .. } => vec![&l.body],
            Consumer::Reduce { identity, op, .. } => vec![identity, op],
            _ => vec![],
        };
        self.stages
            .iter()
            .map(Stage::expr)
            .chain(consumer)
            .any(in_expr)
    }

    /// The type of elements reaching the consumer.
    pub fn elem_type(&self) -> Type {
        self.stages
            .iter()
            .fold(self.source.elem_type(), |ty, s| match s {
                Stage::Map { body, .. } => body.ty,
                Stage::Filter { .. } | Stage::Let { .. } => ty,
            })
    }

    /// Whether the source is a range followed by a `chain`ed one.
    pub fn chained(&self) -> bool {
        matches!(self.view.as_slice(), [ViewOp::Chain { .. }])
    }

    /// Whether a `step_by` makes the source's elements non-contiguous.
    pub fn strided(&self) -> bool {
        self.view.iter().any(|v| matches!(v, ViewOp::StepBy(_)))
    }
}

impl Expr {
    /// The expressions directly inside this one, statements of an inlined body included.
    pub fn children<'e>(&'e self, out: &mut Vec<&'e Expr>) {
        match &self.kind {
            ExprKind::Unary(_, a) | ExprKind::Cast(_, a) | ExprKind::Tag(a) => out.push(a),
            ExprKind::Case(a, arms) => {
                out.push(a);
                out.extend(arms.iter().map(|(_, e)| e));
            }
            ExprKind::Binary(_, a, b)
            | ExprKind::Compare(_, _, a, b)
            | ExprKind::And(a, b)
            | ExprKind::Or(a, b)
            | ExprKind::Let(_, a, b) => out.extend([&**a, &**b]),
            ExprKind::If(c, a, b) => out.extend([&**c, &**a, &**b]),
            ExprKind::Call(_, args) => out.extend(args.iter()),
            ExprKind::Block(stmts) => stmts.iter().for_each(|s| s.exprs(out)),
            ExprKind::ConstInt(_)
            | ExprKind::ConstFloat(_)
            | ExprKind::ConstBool(_)
            | ExprKind::Var(_)
            | ExprKind::Param(_)
            | ExprKind::Index
            | ExprKind::ZipItem(_) => {}
        }
    }

    /// Whether `f` holds for this expression or any expression inside it, statements of
    /// inlined bodies included.
    pub fn any(&self, f: &dyn Fn(&Expr) -> bool) -> bool {
        if f(self) {
            return true;
        }
        let mut kids = Vec::new();
        self.children(&mut kids);
        kids.into_iter().any(|k| k.any(f))
    }
}

impl Stmt {
    /// The expressions of the statement, nested statements included.
    pub fn exprs<'e>(&'e self, out: &mut Vec<&'e Expr>) {
        match self {
            Stmt::Assign(_, e) | Stmt::Eval(e) | Stmt::Return(e) => out.push(e),
            Stmt::If(c, a, b) => {
                out.push(c);
                a.iter().chain(b).for_each(|s| s.exprs(out));
            }
            Stmt::While { first, cond, body } => {
                if let Some((c, b)) = first {
                    out.push(c);
                    b.iter().for_each(|s| s.exprs(out));
                }
                out.push(cond);
                body.iter().for_each(|s| s.exprs(out));
            }
            Stmt::ForRange {
                start,
                stop,
                step,
                first,
                body,
                ..
            } => {
                out.extend([start, stop, step]);
                first.iter().flatten().for_each(|s| s.exprs(out));
                body.iter().for_each(|s| s.exprs(out));
            }
            Stmt::Break | Stmt::Continue | Stmt::Raise(_) => {}
        }
    }
}
