//! The typed operations builtins lower to (`ExprKind::Call(Builtin::Fn(func), args)`): for
//! each, its parameter and result types, its exact implementation over `Value`s (the
//! interpreter and constant folding run it) and how a kernel computes it (inline code, or a
//! call of `fastiter_builtin` with the arguments' slots). One entry per operation, in [`OPS`].

use num_bigint::BigInt;

use crate::errors::ErrCode;
use crate::ir::Type;
use crate::pyops::floats::{self, HypotAlg};
use crate::pyops::ints;
use crate::value::Value;

use Type::{Bool, Float, Int};

/// A typed operation of the IR. Its arguments have already been converted as CPython converts
/// them (`math.gcd(True, 4)` passes the int 1), so each operation has fixed parameter types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    Gcd,
    Lcm,
    Isqrt,
    Factorial,
    Comb,
    Perm,
    BitLength,
    BitCount,
    /// `pow(a, b, m)` of ints.
    PowMod,
    /// `round(x, ndigits)` of an int.
    IntRound,
    /// `divmod(a, b)[1]` of ints: `a % b` with divmod's ZeroDivisionError message (the
    /// quotient is `//`, whose message divmod shares).
    IntDivmodRem,
    /// `math.hypot` by Python 3.8–3.9's algorithm (variadic).
    HypotDivide,
    /// `math.hypot` by Python 3.10–3.11's algorithm (variadic).
    HypotVeltkamp,
    /// `math.hypot` by Python 3.12+'s algorithm (variadic).
    HypotFma,
    Atan2,
    Copysign,
    Fmod,
    Remainder,
    Ldexp,
    /// `math.frexp(x)[0]` and `[1]`.
    FrexpMantissa,
    FrexpExponent,
    /// `math.modf(x)[0]` (the fractional part) and `[1]`.
    ModfFrac,
    ModfInt,
    Degrees,
    Radians,
    /// `math.isclose(a, b, rel_tol, abs_tol)`.
    Isclose,
    Gamma,
    Lgamma,
    Cbrt,
    /// `math.pow(x, y)` (not `**`: `math.pow(0.0, -1.0)` is a ValueError).
    MathPow,
    /// `math.pow` of Python 3.9–3.10 (`math.pow(0.0, -inf)` is a ValueError there).
    MathPowV310,
    /// `round(x, ndigits)` of a float.
    FloatRound,
    /// `float.is_integer()`.
    IsInteger,
    /// `divmod(x, y)[0]` and `[1]` of floats.
    FloatDivmodQuot,
    FloatDivmodRem,
}

/// How a kernel computes an operation.
#[derive(Clone, Copy)]
pub enum Kernel {
    /// Codegen emits it itself (`codegen::lower::builtins`).
    Inline,
    /// A call of `fastiter_builtin`, which runs this on the arguments' 8-byte slots.
    Slots(fn(&[u64]) -> Result<u64, Status>),
    /// A call of `fastiter_builtin`, which runs `exact` on the slots' values.
    Exact,
}

/// Why an operation in a kernel has no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The Python exception CPython raises.
    Raise(ErrCode),
    /// The exact result does not fit a slot (an int past i64): the chunk is recomputed.
    Inexact,
}

impl From<ErrCode> for Status {
    fn from(e: ErrCode) -> Status {
        Status::Raise(e)
    }
}

/// One operation's declaration.
pub struct Op {
    pub func: Func,
    /// The IR rendering (`math.gcd`).
    pub name: &'static str,
    /// Parameter types; a variadic operation takes any number of its one type.
    pub params: &'static [Type],
    pub variadic: bool,
    pub result: Type,
    /// The exact implementation, over values of the parameter types.
    pub exact: fn(&[Value]) -> Result<Value, ErrCode>,
    pub kernel: Kernel,
}

impl Func {
    /// Every operation, in declaration order (the index is the code kernels pass).
    pub const ALL: [Func; 35] = [
        Func::Gcd,
        Func::Lcm,
        Func::Isqrt,
        Func::Factorial,
        Func::Comb,
        Func::Perm,
        Func::BitLength,
        Func::BitCount,
        Func::PowMod,
        Func::IntRound,
        Func::IntDivmodRem,
        Func::HypotDivide,
        Func::HypotVeltkamp,
        Func::HypotFma,
        Func::Atan2,
        Func::Copysign,
        Func::Fmod,
        Func::Remainder,
        Func::Ldexp,
        Func::FrexpMantissa,
        Func::FrexpExponent,
        Func::ModfFrac,
        Func::ModfInt,
        Func::Degrees,
        Func::Radians,
        Func::Isclose,
        Func::Gamma,
        Func::Lgamma,
        Func::Cbrt,
        Func::MathPow,
        Func::MathPowV310,
        Func::FloatRound,
        Func::IsInteger,
        Func::FloatDivmodQuot,
        Func::FloatDivmodRem,
    ];

    /// The operation's declaration.
    pub fn op(self) -> &'static Op {
        &OPS[self as usize]
    }

    /// The code kernels pass to `fastiter_builtin`.
    pub fn code(self) -> u32 {
        self as u32
    }

    pub fn from_code(code: u32) -> Option<Func> {
        OPS.get(code as usize).map(|op| op.func)
    }

    /// The `math.hypot` operation of an algorithm.
    pub fn hypot(alg: HypotAlg) -> Func {
        match alg {
            HypotAlg::Divide => Func::HypotDivide,
            HypotAlg::Veltkamp => Func::HypotVeltkamp,
            HypotAlg::Fma => Func::HypotFma,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Value and slot conversions. Arguments arrive with the operation's parameter types (the
// verifier checks the IR), so a mismatch is a compiler bug.
// ---------------------------------------------------------------------------------------------

fn int(v: &Value) -> &BigInt {
    match v {
        Value::Int(i) => i,
        _ => unreachable!("verified IR: an int argument"),
    }
}

fn float(v: &Value) -> f64 {
    match v {
        Value::Float(f) => *f,
        _ => unreachable!("verified IR: a float argument"),
    }
}

fn vi(v: BigInt) -> Value {
    Value::Int(v)
}

fn vf(x: f64) -> Value {
    Value::Float(x)
}

fn vu(n: u64) -> Value {
    Value::Int(BigInt::from(n))
}

/// A slot's i64.
fn si(s: u64) -> i64 {
    s as i64
}

/// A slot's f64.
fn sf(s: u64) -> f64 {
    f64::from_bits(s)
}

fn ok_f(x: f64) -> Result<u64, Status> {
    Ok(x.to_bits())
}

fn ok_i(x: Option<i64>) -> Result<u64, Status> {
    x.map(|v| v as u64).ok_or(Status::Inexact)
}

/// Runs an operation on its arguments' slots, as `fastiter_builtin` does for kernels: the
/// operation's own slot function, or its exact one on the slots' values (an int result past
/// i64 is [`Status::Inexact`]).
pub fn run_slots(f: Func, args: &[u64]) -> Result<u64, Status> {
    let op = f.op();
    if let Kernel::Slots(g) = op.kernel {
        return g(args);
    }
    let vals: Vec<Value> = args
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let ty = if op.variadic {
                op.params[0]
            } else {
                op.params[i]
            };
            Value::from_slot(s, ty)
        })
        .collect();
    let v = (op.exact)(&vals)?;
    v.to_slot().ok_or(Status::Inexact)
}

// ---------------------------------------------------------------------------------------------
// The operations.
// ---------------------------------------------------------------------------------------------

const fn op(
    func: Func,
    name: &'static str,
    params: &'static [Type],
    result: Type,
    exact: fn(&[Value]) -> Result<Value, ErrCode>,
    kernel: Kernel,
) -> Op {
    Op {
        func,
        name,
        params,
        variadic: false,
        result,
        exact,
        kernel,
    }
}

const fn variadic(
    func: Func,
    name: &'static str,
    ty: &'static [Type],
    result: Type,
    exact: fn(&[Value]) -> Result<Value, ErrCode>,
    kernel: Kernel,
) -> Op {
    Op {
        func,
        name,
        params: ty,
        variadic: true,
        result,
        exact,
        kernel,
    }
}

fn hypot_exact(alg: HypotAlg, a: &[Value]) -> Result<Value, ErrCode> {
    let xs: Vec<f64> = a.iter().map(float).collect();
    Ok(vf(floats::hypot(alg, &xs)))
}

/// `math.hypot` on float slots, without allocating for up to 8 coordinates.
fn hypot_slots(alg: HypotAlg, s: &[u64]) -> Result<u64, Status> {
    let mut small = [0.0f64; 8];
    if s.len() <= small.len() {
        for (x, &b) in small.iter_mut().zip(s) {
            *x = sf(b);
        }
        return ok_f(floats::hypot(alg, &small[..s.len()]));
    }
    let xs: Vec<f64> = s.iter().map(|&b| sf(b)).collect();
    ok_f(floats::hypot(alg, &xs))
}

/// The table of operations, indexed by `Func as usize`.
pub static OPS: [Op; 35] = [
    op(
        Func::Gcd,
        "math.gcd",
        &[Int, Int],
        Int,
        |a| Ok(vi(ints::gcd(int(&a[0]), int(&a[1])))),
        Kernel::Slots(|s| ok_i(ints::gcd_i64(si(s[0]), si(s[1])))),
    ),
    op(
        Func::Lcm,
        "math.lcm",
        &[Int, Int],
        Int,
        |a| Ok(vi(ints::lcm(int(&a[0]), int(&a[1])))),
        Kernel::Slots(|s| ok_i(ints::lcm_i64(si(s[0]), si(s[1])))),
    ),
    op(
        Func::Isqrt,
        "math.isqrt",
        &[Int],
        Int,
        |a| ints::isqrt(int(&a[0])).map(vi),
        Kernel::Slots(|s| Ok(ints::isqrt_i64(si(s[0]))? as u64)),
    ),
    op(
        Func::Factorial,
        "math.factorial",
        &[Int],
        Int,
        |a| ints::factorial(int(&a[0])).map(vi),
        Kernel::Slots(|s| ok_i(ints::factorial_i64(si(s[0]))?)),
    ),
    op(
        Func::Comb,
        "math.comb",
        &[Int, Int],
        Int,
        |a| ints::comb(int(&a[0]), int(&a[1])).map(vi),
        Kernel::Slots(|s| ok_i(ints::comb_i64(si(s[0]), si(s[1]))?)),
    ),
    op(
        Func::Perm,
        "math.perm",
        &[Int, Int],
        Int,
        |a| ints::perm(int(&a[0]), int(&a[1])).map(vi),
        Kernel::Slots(|s| ok_i(ints::perm_i64(si(s[0]), si(s[1]))?)),
    ),
    op(
        Func::BitLength,
        "int.bit_length",
        &[Int],
        Int,
        |a| Ok(vu(ints::bit_length(int(&a[0])))),
        Kernel::Inline,
    ),
    op(
        Func::BitCount,
        "int.bit_count",
        &[Int],
        Int,
        |a| Ok(vu(ints::bit_count(int(&a[0])))),
        Kernel::Inline,
    ),
    op(
        Func::PowMod,
        "pow.mod",
        &[Int, Int, Int],
        Int,
        |a| ints::pow_mod(int(&a[0]), int(&a[1]), int(&a[2])).map(vi),
        Kernel::Slots(|s| Ok(ints::pow_mod_i64(si(s[0]), si(s[1]), si(s[2]))? as u64)),
    ),
    op(
        Func::IntRound,
        "round.int",
        &[Int, Int],
        Int,
        |a| ints::int_round(int(&a[0]), int(&a[1])).map(vi),
        Kernel::Slots(|s| ok_i(ints::int_round_i64(si(s[0]), si(s[1]))?)),
    ),
    op(
        Func::IntDivmodRem,
        "divmod.rem",
        &[Int, Int],
        Int,
        |a| {
            crate::pyops::int_mod(int(&a[0]), int(&a[1]))
                .map(vi)
                .map_err(|_| ErrCode::IntFloorDivZero)
        },
        Kernel::Inline,
    ),
    variadic(
        Func::HypotDivide,
        "math.hypot.v39",
        &[Float],
        Float,
        |a| hypot_exact(HypotAlg::Divide, a),
        Kernel::Slots(|s| hypot_slots(HypotAlg::Divide, s)),
    ),
    variadic(
        Func::HypotVeltkamp,
        "math.hypot.v310",
        &[Float],
        Float,
        |a| hypot_exact(HypotAlg::Veltkamp, a),
        Kernel::Slots(|s| hypot_slots(HypotAlg::Veltkamp, s)),
    ),
    variadic(
        Func::HypotFma,
        "math.hypot",
        &[Float],
        Float,
        |a| hypot_exact(HypotAlg::Fma, a),
        Kernel::Slots(|s| hypot_slots(HypotAlg::Fma, s)),
    ),
    op(
        Func::Atan2,
        "math.atan2",
        &[Float, Float],
        Float,
        |a| floats::atan2(float(&a[0]), float(&a[1])).map(vf),
        Kernel::Slots(|s| ok_f(floats::atan2(sf(s[0]), sf(s[1]))?)),
    ),
    op(
        Func::Copysign,
        "math.copysign",
        &[Float, Float],
        Float,
        |a| Ok(vf(floats::copysign(float(&a[0]), float(&a[1])))),
        Kernel::Inline,
    ),
    op(
        Func::Fmod,
        "math.fmod",
        &[Float, Float],
        Float,
        |a| floats::fmod(float(&a[0]), float(&a[1])).map(vf),
        Kernel::Slots(|s| ok_f(floats::fmod(sf(s[0]), sf(s[1]))?)),
    ),
    op(
        Func::Remainder,
        "math.remainder",
        &[Float, Float],
        Float,
        |a| floats::remainder(float(&a[0]), float(&a[1])).map(vf),
        Kernel::Slots(|s| ok_f(floats::remainder(sf(s[0]), sf(s[1]))?)),
    ),
    op(
        Func::Ldexp,
        "math.ldexp",
        &[Float, Int],
        Float,
        |a| floats::ldexp(float(&a[0]), int(&a[1])).map(vf),
        Kernel::Slots(|s| ok_f(floats::ldexp_i64(sf(s[0]), si(s[1]))?)),
    ),
    op(
        Func::FrexpMantissa,
        "math.frexp[0]",
        &[Float],
        Float,
        |a| Ok(vf(floats::frexp(float(&a[0])).0)),
        Kernel::Slots(|s| ok_f(floats::frexp(sf(s[0])).0)),
    ),
    op(
        Func::FrexpExponent,
        "math.frexp[1]",
        &[Float],
        Int,
        |a| Ok(vi(BigInt::from(floats::frexp(float(&a[0])).1))),
        Kernel::Slots(|s| Ok(i64::from(floats::frexp(sf(s[0])).1) as u64)),
    ),
    op(
        Func::ModfFrac,
        "math.modf[0]",
        &[Float],
        Float,
        |a| Ok(vf(floats::modf(float(&a[0])).0)),
        Kernel::Slots(|s| ok_f(floats::modf(sf(s[0])).0)),
    ),
    op(
        Func::ModfInt,
        "math.modf[1]",
        &[Float],
        Float,
        |a| Ok(vf(floats::modf(float(&a[0])).1)),
        Kernel::Slots(|s| ok_f(floats::modf(sf(s[0])).1)),
    ),
    op(
        Func::Degrees,
        "math.degrees",
        &[Float],
        Float,
        |a| Ok(vf(floats::degrees(float(&a[0])))),
        Kernel::Inline,
    ),
    op(
        Func::Radians,
        "math.radians",
        &[Float],
        Float,
        |a| Ok(vf(floats::radians(float(&a[0])))),
        Kernel::Inline,
    ),
    op(
        Func::Isclose,
        "math.isclose",
        &[Float, Float, Float, Float],
        Bool,
        |a| {
            let (x, y, r, t) = (float(&a[0]), float(&a[1]), float(&a[2]), float(&a[3]));
            floats::isclose(x, y, r, t).map(Value::Bool)
        },
        Kernel::Slots(|s| Ok(floats::isclose(sf(s[0]), sf(s[1]), sf(s[2]), sf(s[3]))? as u64)),
    ),
    op(
        Func::Gamma,
        "math.gamma",
        &[Float],
        Float,
        |a| floats::gamma(float(&a[0])).map(vf),
        Kernel::Slots(|s| ok_f(floats::gamma(sf(s[0]))?)),
    ),
    op(
        Func::Lgamma,
        "math.lgamma",
        &[Float],
        Float,
        |a| floats::lgamma(float(&a[0])).map(vf),
        Kernel::Slots(|s| ok_f(floats::lgamma(sf(s[0]))?)),
    ),
    op(
        Func::Cbrt,
        "math.cbrt",
        &[Float],
        Float,
        |a| floats::cbrt(float(&a[0])).map(vf),
        Kernel::Slots(|s| ok_f(floats::cbrt(sf(s[0]))?)),
    ),
    op(
        Func::MathPow,
        "math.pow",
        &[Float, Float],
        Float,
        |a| floats::math_pow(float(&a[0]), float(&a[1])).map(vf),
        Kernel::Slots(|s| ok_f(floats::math_pow(sf(s[0]), sf(s[1]))?)),
    ),
    op(
        Func::MathPowV310,
        "math.pow.v310",
        &[Float, Float],
        Float,
        |a| floats::math_pow_v310(float(&a[0]), float(&a[1])).map(vf),
        Kernel::Slots(|s| ok_f(floats::math_pow_v310(sf(s[0]), sf(s[1]))?)),
    ),
    op(
        Func::FloatRound,
        "round.float",
        &[Float, Int],
        Float,
        |a| floats::float_round(float(&a[0]), int(&a[1])).map(vf),
        Kernel::Slots(|s| ok_f(floats::float_round_i64(sf(s[0]), si(s[1]))?)),
    ),
    op(
        Func::IsInteger,
        "float.is_integer",
        &[Float],
        Bool,
        |a| Ok(Value::Bool(floats::is_integer(float(&a[0])))),
        Kernel::Inline,
    ),
    op(
        Func::FloatDivmodQuot,
        "divmod.float[0]",
        &[Float, Float],
        Float,
        |a| floats::float_divmod(float(&a[0]), float(&a[1])).map(|(q, _)| vf(q)),
        Kernel::Slots(|s| ok_f(floats::float_divmod(sf(s[0]), sf(s[1]))?.0)),
    ),
    op(
        Func::FloatDivmodRem,
        "divmod.float[1]",
        &[Float, Float],
        Float,
        |a| floats::float_divmod(float(&a[0]), float(&a[1])).map(|(_, r)| vf(r)),
        Kernel::Slots(|s| ok_f(floats::float_divmod(sf(s[0]), sf(s[1]))?.1)),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_are_indexed_by_their_func() {
        assert_eq!(OPS.len(), Func::ALL.len());
        for (i, f) in Func::ALL.iter().enumerate() {
            assert_eq!(OPS[i].func, *f, "OPS[{i}] is {}", OPS[i].name);
            assert_eq!(f.op().func, *f);
            assert_eq!(Func::from_code(f.code()), Some(*f));
        }
    }
}
