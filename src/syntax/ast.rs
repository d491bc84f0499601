//! The AST: a Python-expression subset, every node with its source span. Produced by the
//! parser, consumed by `ir::lower`. Nothing of pest appears here.

use num_bigint::BigInt;

use crate::diagnostics::Span;

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// An integer literal, any size (`1_000`, `0x10`, `10**30` stays a `Binary`).
    Int(BigInt),
    Float(f64),
    Bool(bool),
    None,
    Name(String),
    /// `a.b`
    Attribute {
        value: Box<Expr>,
        attr: Ident,
    },
    /// `f(args, name=value)`
    Call {
        func: Box<Expr>,
        args: Vec<Expr>,
        kwargs: Vec<(Ident, Expr)>,
    },
    /// `a[i]`
    Subscript {
        value: Box<Expr>,
        index: Box<Expr>,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `a and b and c` / `a or b or c`, flattened as Python's ast does.
    BoolOp {
        op: BoolOp,
        values: Vec<Expr>,
    },
    /// `a < b <= c`: `left` then each (operator, operand).
    Compare {
        left: Box<Expr>,
        ops: Vec<(CmpOp, Expr)>,
    },
    /// `body if test else orelse`
    IfExp {
        test: Box<Expr>,
        body: Box<Expr>,
        orelse: Box<Expr>,
    },
    Lambda {
        params: Vec<Ident>,
        body: Box<Expr>,
    },
    List(Vec<Expr>),
    Tuple(Vec<Expr>),
    /// A generator expression `(elt for t in it if c ...)` (`list: false`) or a list
    /// comprehension `[elt for ...]` (`list: true`).
    Comprehension {
        elt: Box<Expr>,
        clauses: Vec<CompClause>,
        list: bool,
    },
    /// `target := value`
    NamedExpr {
        target: Ident,
        value: Box<Expr>,
    },
}

/// One `for target in iter if cond ...` clause of a comprehension.
#[derive(Debug, Clone, PartialEq)]
pub struct CompClause {
    pub target: Ident,
    pub iter: Expr,
    pub ifs: Vec<Expr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Pos,
    Invert,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    LShift,
    RShift,
    BitAnd,
    BitOr,
    BitXor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoolOp {
    And,
    Or,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtE,
    Gt,
    GtE,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::FloorDiv => "//",
            BinOp::Mod => "%",
            BinOp::Pow => "**",
            BinOp::LShift => "<<",
            BinOp::RShift => ">>",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
        }
    }
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::NotEq => "!=",
            CmpOp::Lt => "<",
            CmpOp::LtE => "<=",
            CmpOp::Gt => ">",
            CmpOp::GtE => ">=",
        }
    }
}

impl UnaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            UnaryOp::Neg => "-",
            UnaryOp::Pos => "+",
            UnaryOp::Invert => "~",
            UnaryOp::Not => "not ",
        }
    }
}

/// A whole program: `def` blocks, then the pipeline expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub defs: Vec<FuncDef>,
    pub pipeline: Expr,
}

/// `def name(params): body` at the top level of a program.
#[derive(Debug, Clone, PartialEq)]
pub struct FuncDef {
    pub name: Ident,
    pub params: Vec<Ident>,
    /// Each parameter's default value (`def f(x, k=3)`), parallel to `params`.
    pub defaults: Vec<Option<Expr>>,
    pub body: Vec<Stmt>,
    /// The `def` line, from `def` through its colon.
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    /// The statement's line (for a compound statement: its header, without the colon).
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StmtKind {
    /// `a = b = value`, `a, b = x, y`: each target is a name or a tuple of names.
    Assign {
        targets: Vec<Target>,
        value: Expr,
    },
    /// `name op= value`
    AugAssign {
        target: Ident,
        op: BinOp,
        value: Expr,
    },
    /// `if test: body` with `elif`s as a nested `If` in `orelse`.
    If {
        test: Expr,
        body: Vec<Stmt>,
        orelse: Vec<Stmt>,
    },
    /// `for target in iter: body`
    For {
        target: Ident,
        iter: Expr,
        body: Vec<Stmt>,
    },
    While {
        test: Expr,
        body: Vec<Stmt>,
    },
    Break,
    Continue,
    Return(Option<Expr>),
    Pass,
    /// An expression evaluated for its exceptions only (a docstring is dropped by the parser).
    Expr(Expr),
}

/// An assignment target.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Name(Ident),
    Tuple(Vec<Ident>, Span),
}
