//! The builtins as one table: every Python callable beyond the operators that pipelines may
//! call (`math.gcd`, `math.hypot`, `divmod`, `pow`, `round`, `int.bit_length`, ...), each
//! declared once with its Python signature, the Python version that introduced it and the
//! typing rule lowering applies (`DECLS`), and the typed operations those rules produce, each
//! with its exact implementation and its kernel code (`ops::OPS`).
//!
//! Who reads what: `ir::lower::builtins` binds a call's arguments by [`Sig`] and applies the
//! [`Rule`] (CPython's argument conversions, result types, refusals); the verifier takes an
//! operation's parameter and result types from its [`Op`]; the interpreter and constant
//! folding run [`Op::exact`]; codegen emits [`Kernel::Inline`] operations itself and calls
//! `fastiter_builtin` (`codegen::helpers`, [`run_slots`]) for the others.

pub mod ops;

pub use ops::{run_slots, Func, Kernel, Op, Status, OPS};

use crate::ir::Cast;
use crate::pyops::MathFn;

/// Where a callable lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// `math.name`
    Math,
    /// A builtin function: `name(...)`.
    Builtin,
    /// A method of an int (or bool) receiver: `x.name(...)`.
    IntMethod,
    /// A method of a float receiver.
    FloatMethod,
}

/// A Python signature: `names` are the parameters that may be passed by position (the first
/// `posonly` of them only by position), `required` of them must be; `varargs` takes any
/// number more of positional arguments; `kwonly` are keyword-only parameters with their
/// (float) defaults.
#[derive(Debug, Clone, Copy)]
pub struct Sig {
    pub names: &'static [&'static str],
    pub posonly: usize,
    pub required: usize,
    pub varargs: bool,
    pub kwonly: &'static [(&'static str, f64)],
}

impl Sig {
    /// `f(a, b, /)`: positional-only parameters, all required.
    pub const fn positional(names: &'static [&'static str]) -> Sig {
        Sig {
            names,
            posonly: names.len(),
            required: names.len(),
            varargs: false,
            kwonly: &[],
        }
    }

    /// `f(*args)`.
    pub const VARARGS: Sig = Sig {
        names: &[],
        posonly: 0,
        required: 0,
        varargs: true,
        kwonly: &[],
    };
}

/// How a bound call becomes IR (applied by `ir::lower::builtins`).
#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// One typed operation; int parameters take ints and bools (a float is a TypeError, as
    /// CPython's `__index__` conversion), float parameters take any number (an int is
    /// converted exactly, OverflowError past the float range).
    Op(Func),
    /// A one-argument libm function (`pyops::math1`); `log`, `log2` and `log10` of an int
    /// are exact for any size.
    Math1(MathFn),
    /// `math.log(x[, base])`.
    Log,
    /// `math.floor`, `ceil`, `trunc`: an int (ints pass through).
    Rounding(Cast),
    /// `math.isnan`, `isinf`, `isfinite`.
    Classify(Classify),
    /// `math.gcd`/`math.lcm` of any number of ints: folded pairwise; `empty` for no
    /// arguments, `abs` of a single one.
    IntFold { op: Func, empty: i64 },
    /// `math.hypot(*coordinates)`, by the running Python's algorithm.
    Hypot,
    /// `math.pow(x, y)`, as the running Python treats `pow(0.0, -inf)`.
    MathPow,
    /// `math.perm(n[, k])`: `factorial(n)` without `k`.
    Perm,
    /// `pow(base, exp[, mod])`: `base ** exp`, or the modular power of ints.
    Pow,
    /// `round(number[, ndigits])`.
    Round,
    /// `divmod(a, b)`: a tuple (floor quotient, remainder).
    Divmod,
    /// A tuple of two one-argument float operations on the same argument (`frexp`, `modf`).
    Pair(Func, Func),
    /// A method that is `True` for every receiver (`int.is_integer`, Python 3.12+).
    AlwaysTrue,
}

/// `math.isnan`, `isinf`, `isfinite`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classify {
    Nan,
    Inf,
    Finite,
}

/// One Python-visible callable.
#[derive(Debug, Clone, Copy)]
pub struct Decl {
    pub owner: Owner,
    pub name: &'static str,
    /// The first Python version that has it; on older ones CPython raises AttributeError,
    /// and the compiler refuses the call so that the Python fallback raises it.
    pub since: (u8, u8),
    pub sig: Sig,
    pub rule: Rule,
}

impl Decl {
    /// Whether the rule gives a tuple (compiled only where indexed or unpacked).
    pub fn is_tuple(&self) -> bool {
        matches!(self.rule, Rule::Divmod | Rule::Pair(..))
    }

    /// The Python spelling (`math.gcd`, `divmod`, `int.bit_length`).
    pub fn qualified(&self) -> String {
        match self.owner {
            Owner::Math => format!("math.{}", self.name),
            Owner::Builtin => self.name.to_string(),
            Owner::IntMethod => format!("int.{}", self.name),
            Owner::FloatMethod => format!("float.{}", self.name),
        }
    }
}

/// The oldest Python version fastiter targets.
const PY39: (u8, u8) = (3, 9);

const X: Sig = Sig::positional(&["x"]);
const XY: Sig = Sig::positional(&["x", "y"]);
const NONE: Sig = Sig::positional(&[]);

const fn math(name: &'static str, sig: Sig, rule: Rule) -> Decl {
    Decl {
        owner: Owner::Math,
        name,
        since: PY39,
        sig,
        rule,
    }
}

const fn math1(name: &'static str, f: MathFn) -> Decl {
    math(name, X, Rule::Math1(f))
}

const fn since(d: Decl, version: (u8, u8)) -> Decl {
    Decl {
        since: version,
        ..d
    }
}

const fn builtin(name: &'static str, sig: Sig, rule: Rule) -> Decl {
    Decl {
        owner: Owner::Builtin,
        name,
        since: PY39,
        sig,
        rule,
    }
}

const fn method(owner: Owner, name: &'static str, rule: Rule) -> Decl {
    Decl {
        owner,
        name,
        since: PY39,
        sig: NONE,
        rule,
    }
}

/// Every callable, one declaration each.
pub static DECLS: &[Decl] = &[
    // ---- math: one-argument libm functions ----
    math1("sqrt", MathFn::Sqrt),
    math1("exp", MathFn::Exp),
    since(math1("exp2", MathFn::Exp2), (3, 11)),
    math1("expm1", MathFn::Expm1),
    math1("log2", MathFn::Log2),
    math1("log10", MathFn::Log10),
    math1("log1p", MathFn::Log1p),
    math1("sin", MathFn::Sin),
    math1("cos", MathFn::Cos),
    math1("tan", MathFn::Tan),
    math1("asin", MathFn::Asin),
    math1("acos", MathFn::Acos),
    math1("atan", MathFn::Atan),
    math1("sinh", MathFn::Sinh),
    math1("cosh", MathFn::Cosh),
    math1("tanh", MathFn::Tanh),
    math1("asinh", MathFn::Asinh),
    math1("acosh", MathFn::Acosh),
    math1("atanh", MathFn::Atanh),
    math1("fabs", MathFn::Fabs),
    math1("erf", MathFn::Erf),
    math1("erfc", MathFn::Erfc),
    math(
        "log",
        Sig {
            names: &["x", "base"],
            posonly: 2,
            required: 1,
            varargs: false,
            kwonly: &[],
        },
        Rule::Log,
    ),
    // ---- math: rounding and classification ----
    math("floor", X, Rule::Rounding(Cast::FloatFloor)),
    math("ceil", X, Rule::Rounding(Cast::FloatCeil)),
    math("trunc", X, Rule::Rounding(Cast::FloatToInt)),
    math("isnan", X, Rule::Classify(Classify::Nan)),
    math("isinf", X, Rule::Classify(Classify::Inf)),
    math("isfinite", X, Rule::Classify(Classify::Finite)),
    // ---- math: integers ----
    math(
        "gcd",
        Sig::VARARGS,
        Rule::IntFold {
            op: Func::Gcd,
            empty: 0,
        },
    ),
    math(
        "lcm",
        Sig::VARARGS,
        Rule::IntFold {
            op: Func::Lcm,
            empty: 1,
        },
    ),
    math("isqrt", Sig::positional(&["n"]), Rule::Op(Func::Isqrt)),
    math(
        "factorial",
        Sig::positional(&["n"]),
        Rule::Op(Func::Factorial),
    ),
    math("comb", Sig::positional(&["n", "k"]), Rule::Op(Func::Comb)),
    math(
        "perm",
        Sig {
            names: &["n", "k"],
            posonly: 2,
            required: 1,
            varargs: false,
            kwonly: &[],
        },
        Rule::Perm,
    ),
    // ---- math: floats ----
    math("hypot", Sig::VARARGS, Rule::Hypot),
    math("atan2", Sig::positional(&["y", "x"]), Rule::Op(Func::Atan2)),
    math("copysign", XY, Rule::Op(Func::Copysign)),
    math("fmod", XY, Rule::Op(Func::Fmod)),
    math("remainder", XY, Rule::Op(Func::Remainder)),
    math("pow", XY, Rule::MathPow),
    math("ldexp", Sig::positional(&["x", "i"]), Rule::Op(Func::Ldexp)),
    math(
        "frexp",
        X,
        Rule::Pair(Func::FrexpMantissa, Func::FrexpExponent),
    ),
    math("modf", X, Rule::Pair(Func::ModfFrac, Func::ModfInt)),
    math("degrees", X, Rule::Op(Func::Degrees)),
    math("radians", X, Rule::Op(Func::Radians)),
    math("gamma", X, Rule::Op(Func::Gamma)),
    math("lgamma", X, Rule::Op(Func::Lgamma)),
    since(math("cbrt", X, Rule::Op(Func::Cbrt)), (3, 11)),
    math(
        "isclose",
        Sig {
            names: &["a", "b"],
            posonly: 0,
            required: 2,
            varargs: false,
            kwonly: &[("rel_tol", 1e-9), ("abs_tol", 0.0)],
        },
        Rule::Op(Func::Isclose),
    ),
    // ---- builtins ----
    builtin("divmod", Sig::positional(&["a", "b"]), Rule::Divmod),
    builtin(
        "pow",
        Sig {
            names: &["base", "exp", "mod"],
            posonly: 0,
            required: 2,
            varargs: false,
            kwonly: &[],
        },
        Rule::Pow,
    ),
    builtin(
        "round",
        Sig {
            names: &["number", "ndigits"],
            posonly: 0,
            required: 1,
            varargs: false,
            kwonly: &[],
        },
        Rule::Round,
    ),
    // ---- methods ----
    method(Owner::IntMethod, "bit_length", Rule::Op(Func::BitLength)),
    Decl {
        since: (3, 10),
        ..method(Owner::IntMethod, "bit_count", Rule::Op(Func::BitCount))
    },
    Decl {
        since: (3, 12),
        ..method(Owner::IntMethod, "is_integer", Rule::AlwaysTrue)
    },
    method(Owner::FloatMethod, "is_integer", Rule::Op(Func::IsInteger)),
];

/// The declaration of `owner.name`, whatever the Python version.
pub fn lookup(owner: Owner, name: &str) -> Option<&'static Decl> {
    DECLS.iter().find(|d| d.owner == owner && d.name == name)
}

/// Whether some type has a method `name` in the table.
pub fn is_method(name: &str) -> bool {
    DECLS
        .iter()
        .any(|d| matches!(d.owner, Owner::IntMethod | Owner::FloatMethod) && d.name == name)
}

/// The names of the table's builtins (`divmod`, `pow`, `round`).
pub fn is_builtin(name: &str) -> bool {
    lookup(Owner::Builtin, name).is_some()
}

/// The names of the `math` functions compiled, for messages.
pub fn math_names() -> String {
    DECLS
        .iter()
        .filter(|d| d.owner == Owner::Math)
        .map(|d| d.name)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declaration_is_unique_and_every_op_reachable() {
        for (i, d) in DECLS.iter().enumerate() {
            assert!(
                !DECLS[..i]
                    .iter()
                    .any(|e| e.owner == d.owner && e.name == d.name),
                "{} declared twice",
                d.qualified()
            );
            assert!(d.sig.required <= d.sig.names.len());
            assert!(d.sig.posonly <= d.sig.names.len());
        }
        // Every operation is produced by some rule.
        for f in Func::ALL {
            let used = DECLS.iter().any(|d| match d.rule {
                Rule::Op(g) | Rule::IntFold { op: g, .. } => g == f,
                Rule::Pair(a, b) => a == f || b == f,
                Rule::Hypot => {
                    matches!(f, Func::HypotDivide | Func::HypotVeltkamp | Func::HypotFma)
                }
                Rule::Perm => matches!(f, Func::Perm | Func::Factorial),
                Rule::MathPow => matches!(f, Func::MathPow | Func::MathPowV310),
                Rule::Pow => f == Func::PowMod,
                Rule::Round => matches!(f, Func::FloatRound | Func::IntRound),
                Rule::Divmod => matches!(
                    f,
                    Func::IntDivmodRem | Func::FloatDivmodQuot | Func::FloatDivmodRem
                ),
                _ => false,
            });
            assert!(used, "no rule produces {}", f.op().name);
        }
    }

    #[test]
    fn every_math1_function_is_declared() {
        for f in MathFn::ALL {
            let d = lookup(Owner::Math, f.name())
                .unwrap_or_else(|| panic!("math.{} is not declared", f.name()));
            assert!(matches!(d.rule, Rule::Math1(g) if g == f) || f == MathFn::Log);
        }
    }
}

#[cfg(test)]
mod cases;
