//! Structured pipelines for `jit_vs_interp`: an AST `arbitrary` builds from the fuzzer's bytes,
//! rendered to pipeline text. The shapes follow `tests/differential.rs` (the same leaves,
//! operators, adaptors and consumers), drawn by libFuzzer's coverage feedback instead of at
//! random. Work stays bounded: expressions are at most `MAX_DEPTH` deep and `MAX_NODES` big,
//! ranges are short (or one of a few long ones), and `Case::render` caps the nesting.

use arbitrary::Arbitrary;

const MAX_DEPTH: usize = 4;
const MAX_NODES: usize = 40;

/// Picks `table[i % len]`.
fn pick<'a>(table: &[&'a str], i: u8) -> &'a str {
    table[i as usize % table.len()]
}

const INT_SPECIAL: &[&str] = &[
    "(2**62)",
    "(10**18)",
    "(-2**63)",
    "(2**63 - 1)",
    "(10**20)",
    "(-(2**53) - 1)",
    "(2**31)",
    "(3037000499)",
    "(-3037000500)",
    "(2**63)",
    "True",
    "False",
];

const FLOAT_SPECIAL: &[&str] = &[
    "0.5",
    "(-1.5)",
    "0.0",
    "(-0.0)",
    "1e300",
    "1e-300",
    "5e-324",
    "math.pi",
    "math.inf",
    "(-math.inf)",
    "math.nan",
    "9007199254740993.0",
    "1.7976931348623157e308",
    "(-9.223372036854776e18)",
];

/// Numbers whose type the data decides (tagged numbers), as in `tests/differential.rs`.
const MIXED: &[&str] = &[
    "(x if x % 2 else x * 0.5)",
    "(x * 0.5 if x % 3 else x)",
    "(x if x > 0 else f)",
    "(x > 2 if x % 2 else x)",
    "(True if x % 4 == 0 else x * 1.5)",
    "max(0, x * 0.5)",
    "max(x * 0.5, 0)",
    "min(x, 2.5)",
    "min(f, x)",
    "max(x, -0.0)",
    "max(x * 1.0, a)",
    "(x or 0.5)",
    "(x and x * 0.25)",
    "(x % 3 == 0 or f)",
    "((-1) ** x)",
    "(2 ** (x % 9 - 3))",
    "((-2) ** (x % 7 - 3))",
    "(x ** (x % 4 - 2))",
    "(x ** (b % 4 - 1))",
    "(a ** (x % 5 - 2))",
    "(0 ** (x % 3 - 1))",
];

const BINOPS: &[&str] = &[
    "+", "-", "*", "//", "%", "/", "<<", ">>", "&", "|", "^", "<", "<=", "==", "!=", ">", ">=",
    "and", "or",
];

const CMPOPS: &[&str] = &["<", "<=", "==", "!=", ">", ">="];

const UNOPS: &[&str] = &["-", "~", "not ", "+"];

const FUNCS: &[&str] = &[
    "abs",
    "int",
    "float",
    "bool",
    "round",
    "math.floor",
    "math.ceil",
    "math.trunc",
    "math.sqrt",
    "math.log",
    "math.log2",
    "math.log10",
    "math.exp",
    "math.sin",
    "math.fabs",
    "math.isnan",
    "math.isinf",
    "math.isfinite",
];

const FLOAT_EXPONENTS: &[&str] = &["-2", "-1", "0.5", "2.0", "f", "(-0.5)"];

#[derive(Arbitrary, Debug)]
pub enum Expr {
    X,
    A,
    B,
    F,
    Int(i8),
    IntSpecial(u8),
    FloatSpecial(u8),
    Float(f64),
    Mixed(u8),
    Bin(Box<Expr>, u8, Box<Expr>),
    /// `e ** k`, k in 0..6.
    PowInt(Box<Expr>, u8),
    PowFloat(Box<Expr>, u8),
    /// `base ** (e % 9 - 3)`: a power whose type the data decides.
    PowData(u8, Box<Expr>),
    Unary(u8, Box<Expr>),
    Call(u8, Box<Expr>),
    MinMax(bool, Box<Expr>, Box<Expr>),
    MinMax3(bool, Box<Expr>, Box<Expr>, Box<Expr>),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    Chain(Box<Expr>, u8, Box<Expr>, u8, Box<Expr>),
    Divmod(bool, Box<Expr>, Box<Expr>),
    Round(Box<Expr>, i8),
}

struct Render {
    nodes: usize,
}

impl Render {
    fn expr(&mut self, e: &Expr, depth: usize) -> String {
        use Expr::*;
        self.nodes += 1;
        let deep = depth >= MAX_DEPTH || self.nodes > MAX_NODES;
        let d = depth + 1;
        match e {
            X => "x".into(),
            A => "a".into(),
            B => "b".into(),
            F => "f".into(),
            Int(v) => format!("({v})"),
            IntSpecial(i) => pick(INT_SPECIAL, *i).into(),
            FloatSpecial(i) => pick(FLOAT_SPECIAL, *i).into(),
            Float(v) => float_literal(*v),
            Mixed(i) => pick(MIXED, *i).into(),
            _ if deep => "x".into(),
            Bin(l, op, r) => format!(
                "({} {} {})",
                self.expr(l, d),
                pick(BINOPS, *op),
                self.expr(r, d)
            ),
            PowInt(l, k) => format!("({} ** {})", self.expr(l, d), k % 6),
            PowFloat(l, k) => format!("({} ** {})", self.expr(l, d), pick(FLOAT_EXPONENTS, *k)),
            PowData(base, e) => format!(
                "({} ** ({} % 9 - 3))",
                pick(&["(-1)", "2", "(-2)", "3", "0.5", "0"], *base),
                self.expr(e, d)
            ),
            Unary(op, e) => format!("({}{})", pick(UNOPS, *op), self.expr(e, d)),
            Call(f, e) => format!("{}({})", pick(FUNCS, *f), self.expr(e, d)),
            MinMax(max, l, r) => format!(
                "{}({}, {})",
                if *max { "max" } else { "min" },
                self.expr(l, d),
                self.expr(r, d)
            ),
            MinMax3(max, p, q, r) => format!(
                "{}({}, {}, {})",
                if *max { "max" } else { "min" },
                self.expr(p, d),
                self.expr(q, d),
                self.expr(r, d)
            ),
            Cond(a, c, b) => format!(
                "({} if {} else {})",
                self.expr(a, d),
                self.expr(c, d),
                self.expr(b, d)
            ),
            Chain(p, o1, q, o2, r) => format!(
                "({} {} {} {} {})",
                self.expr(p, d),
                pick(CMPOPS, *o1),
                self.expr(q, d),
                pick(CMPOPS, *o2),
                self.expr(r, d)
            ),
            Divmod(second, l, r) => format!(
                "divmod({}, {})[{}]",
                self.expr(l, d),
                self.expr(r, d),
                u8::from(*second)
            ),
            Round(e, n) => format!("round({}, {})", self.expr(e, d), n % 25),
        }
    }
}

/// A float as Python reads it back to the same value.
fn float_literal(v: f64) -> String {
    if v.is_nan() {
        "math.nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "math.inf" } else { "(-math.inf)" }.into()
    } else if v.is_sign_negative() {
        format!("(-{:?})", -v)
    } else {
        format!("{v:?}")
    }
}

#[derive(Arbitrary, Debug)]
pub enum Bound {
    Small(i8),
    A,
    B,
    Special(u8),
}

impl Bound {
    fn render(&self) -> String {
        match self {
            Bound::Small(v) => v.to_string(),
            Bound::A => "a".into(),
            Bound::B => "b".into(),
            Bound::Special(i) => pick(
                &[
                    "2**62",
                    "-2**62",
                    "2**63 - 5",
                    "-2**63",
                    "9223372036854775000",
                    "2**63 - 1",
                    "-(2**63) + 1",
                    "2**63 + 2",
                    "-(2**63) - 3",
                ],
                *i,
            )
            .into(),
        }
    }
}

#[derive(Arbitrary, Debug)]
pub enum Source {
    /// `range(s, s ± len, step)`, len < 64.
    Range(Bound, u8, u8),
    Stop(i8),
    /// Ranges of several chunks (16384 elements a chunk).
    Long(u8),
    /// Ranges with bounds or steps near or past i64's limits.
    Huge(u8),
    List(Vec<u8>),
}

const STEPS: &[i64] = &[1, 1, 1, 2, 3, -1, -2, 7, -5];

const LONG: &[&str] = &[
    "range(-20000, 21000, 1)",
    "range(40000, 0, -1)",
    "range(0, 33000)",
    "range(-16500, 16600)",
    "range(0, 3 * 16384 + 1, 3)",
];

const HUGE: &[&str] = &[
    "range(-2**63, 2**63 - 1, 2**62)",
    "range(2**63 - 1, -2**63, -2**61)",
    "range(-2**63, 2**63, 2**60 + 7)",
    "range(2**63 - 4, 2**63 + 4)",
    "range(-(2**63) - 3, -(2**63) + 3)",
    "range(10**19, 10**19 + 5)",
    "range(0, 2**64, 2**62)",
    "range(a, a + 40)",
    "range(b, b - 40, -3)",
    "range(a, b, 2**61)",
];

const LIST_ITEMS: &[&str] = &[
    "0",
    "1",
    "-3",
    "7",
    "-20",
    "2.5",
    "-0.0",
    "0.0",
    "0.5",
    "1e308",
    "-1e308",
    "math.nan",
    "math.inf",
    "True",
    "False",
    "10**20",
    "2**63",
    "2**63 - 1",
    "-(2**63)",
    "-(2**63) - 1",
    "9007199254740993",
    "9007199254740992.0",
    "5e-324",
];

impl Source {
    fn render(&self) -> (String, bool) {
        match self {
            Source::Range(s, n, step) => {
                let (s, n) = (s.render(), n % 64);
                let step = STEPS[*step as usize % STEPS.len()];
                let sign = if step > 0 { '+' } else { '-' };
                (format!("range({s}, ({s}) {sign} {n}, {step})"), false)
            }
            Source::Stop(n) => (format!("range({})", n % 64), false),
            Source::Long(i) => (pick(LONG, *i).into(), true),
            Source::Huge(i) => (pick(HUGE, *i).into(), false),
            Source::List(items) => {
                let items: Vec<&str> = items
                    .iter()
                    .take(10)
                    .map(|&i| pick(LIST_ITEMS, i))
                    .collect();
                (format!("[{}]", items.join(", ")), false)
            }
        }
    }
}

#[derive(Arbitrary, Debug)]
pub enum View {
    Skip(u8),
    Take(u8),
    StepBy(u8),
    SkipParam,
    TakeParam,
    Chain(Bound, u8),
}

impl View {
    fn render(&self) -> String {
        match self {
            View::Skip(k) => format!(".skip({k})"),
            View::Take(k) => format!(".take({k})"),
            View::StepBy(k) => format!(".step_by({})", k % 9),
            View::SkipParam => ".skip(b % 9)".into(),
            View::TakeParam => ".take(a)".into(),
            View::Chain(b, n) => {
                let b = b.render();
                format!(".chain(range({b}, ({b}) - {}, -2))", n % 64)
            }
        }
    }
}

const ADAPTORS: &[&str] = &[
    ".enumerate().map(lambda t: t[1] * 2 - t[0])",
    ".enumerate().filter(lambda t: t[0] % 3 != 1).map(lambda t: t[1])",
    ".zip(range(a, a + 50, 2)).map(lambda p: p[0] - p[1])",
    ".zip(range(-5, 1000)).filter(lambda p: p[1] % 2 == 0).map(lambda p: p[0])",
    ".map(lambda v: (v, v * 2)).map(lambda t: t[0] + t[-1])",
    ".map(lambda v: divmod(v, 3)).map(lambda t: t[0] * 10 + t[1])",
];

const NESTED_CONSUMERS: &[&str] = &["sum", "count", "product", "any", "all", "min", "max"];

#[derive(Arbitrary, Debug)]
pub enum Stage {
    Map(Expr),
    Filter(Expr),
    MapLambda(Expr),
    /// `map(lambda i: range(-3, i % 40).map(lambda x: e).c())`
    Nested(Expr, u8),
    /// `flat_map(lambda i: range(i % k))`
    FlatMap(u8),
    /// `flat_map(lambda y: range(y % 7, e % 23))`: bounds computed per element.
    FlatMapExpr(Expr),
    Adaptor(u8),
}

impl Stage {
    fn render(&self, r: &mut Render) -> String {
        match self {
            Stage::Map(e) => format!(".map({})", r.expr(e, 0)),
            Stage::Filter(e) => format!(".filter({})", r.expr(e, 0)),
            Stage::MapLambda(e) => format!(".map(lambda x: {})", r.expr(e, 0)),
            Stage::Nested(e, c) => format!(
                ".map(lambda i: range(-3, i % 40).map(lambda x: {}).{}())",
                r.expr(e, 0),
                pick(NESTED_CONSUMERS, *c)
            ),
            Stage::FlatMap(k) => format!(".flat_map(lambda i: range(i % {}))", k % 40 + 1),
            Stage::FlatMapExpr(e) => {
                format!(".flat_map(lambda x: range(x % 7, {} % 23))", r.expr(e, 0))
            }
            Stage::Adaptor(i) => pick(ADAPTORS, *i).into(),
        }
    }

    fn expands(&self) -> bool {
        matches!(
            self,
            Stage::Nested(..) | Stage::FlatMap(_) | Stage::FlatMapExpr(_)
        )
    }
}

const REDUCERS: &[&str] = &[
    ".reduce(0, lambda p, q: p + q)",
    ".reduce(0, lambda p, q: min(p, q * 0.5))",
    ".reduce(False, lambda p, q: p or q)",
    ".reduce(True, lambda p, q: p and q)",
    ".reduce(1.0, lambda p, q: p * q)",
    ".reduce(0, lambda p, q: max(p, q))",
    ".reduce(lambda: 0, lambda p, q: min(p, q))",
    ".reduce(0.5, lambda p, q: p if p > q else q)",
    ".reduce(0, lambda p, q: p * 3 + q)",
];

const FINDERS: &[&str] = &["find_first", "find_any", "position_first", "position_any"];

#[derive(Arbitrary, Debug)]
pub enum Consumer {
    Sum,
    Count,
    Min,
    Max,
    Any,
    All,
    AnyWith(Expr),
    AllWith(Expr),
    Collect,
    Product,
    ReduceAdd(Expr),
    Reduce(u8),
    Find(u8, Expr),
    ByKey(bool, Expr),
}

impl Consumer {
    fn render(&self, r: &mut Render) -> String {
        use Consumer::*;
        match self {
            Sum => ".sum()".into(),
            Count => ".count()".into(),
            Min => ".min()".into(),
            Max => ".max()".into(),
            Any => ".any()".into(),
            All => ".all()".into(),
            AnyWith(e) => format!(".any({})", r.expr(e, 0)),
            AllWith(e) => format!(".all({})", r.expr(e, 0)),
            Collect => ".collect()".into(),
            Product => ".product()".into(),
            ReduceAdd(e) => format!(".reduce(0, lambda acc, x: acc + {})", r.expr(e, 0)),
            Reduce(i) => pick(REDUCERS, *i).into(),
            Find(i, e) => format!(".{}({})", pick(FINDERS, *i), r.expr(e, 0)),
            ByKey(max, e) => format!(
                ".{}(lambda x: {})",
                if *max { "max_by_key" } else { "min_by_key" },
                r.expr(e, 0)
            ),
        }
    }
}

#[derive(Arbitrary, Debug)]
pub enum IntParam {
    Small(i8),
    Special(u8),
    Any(i64),
}

impl IntParam {
    fn value(&self) -> i64 {
        match self {
            IntParam::Small(v) => i64::from(*v),
            IntParam::Special(i) => {
                let t = [
                    i64::MIN,
                    i64::MAX,
                    i64::MIN + 1,
                    i64::MAX - 1,
                    1 << 62,
                    -(1 << 53) - 1,
                    3037000500,
                    -3037000500,
                    0,
                    -1,
                ];
                t[*i as usize % t.len()]
            }
            IntParam::Any(v) => *v,
        }
    }
}

#[derive(Arbitrary, Debug)]
pub enum FloatParam {
    Small(i8),
    Special(u8),
    Any(f64),
}

impl FloatParam {
    fn value(&self) -> f64 {
        match self {
            FloatParam::Small(v) => f64::from(*v) / 4.0,
            FloatParam::Special(i) => {
                let t = [
                    0.0,
                    -0.0,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    f64::NAN,
                    1e308,
                    5e-324,
                    0.1,
                    2.5,
                    -3.5,
                    9007199254740993.0,
                    -9.223372036854776e18,
                ];
                t[*i as usize % t.len()]
            }
            FloatParam::Any(v) => *v,
        }
    }
}

/// One input of `jit_vs_interp`.
#[derive(Arbitrary, Debug)]
pub struct Case {
    pub source: Source,
    pub views: Vec<View>,
    pub stages: Vec<Stage>,
    pub consumer: Consumer,
    pub a: IntParam,
    pub b: IntParam,
    pub f: FloatParam,
}

impl Case {
    /// The pipeline text and its parameters `(a, b, f)`; `None` when its work could be large
    /// (an expanding stage over a long source, or more than two over a short one).
    pub fn render(&self) -> Option<(String, i64, i64, f64)> {
        let (mut text, long) = self.source.render();
        let views = &self.views[..self.views.len().min(2)];
        let stages = &self.stages[..self.stages.len().min(4)];
        let expanding = stages.iter().filter(|s| s.expands()).count();
        if expanding > if long { 0 } else { 2 } {
            return None;
        }
        for v in views {
            text.push_str(&v.render());
        }
        let mut r = Render { nodes: 0 };
        for s in stages {
            text.push_str(&s.render(&mut r));
        }
        text.push_str(&self.consumer.render(&mut r));
        Some((text, self.a.value(), self.b.value(), self.f.value()))
    }
}
