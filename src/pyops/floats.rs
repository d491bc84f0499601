//! CPython's float builtins and `math` float functions beyond the one-argument libm ones:
//! `math.hypot` (three algorithms, by Python version), `atan2`, `copysign`, `fmod`,
//! `remainder`, `ldexp`, `frexp`, `modf`, `degrees`, `radians`, `isclose`, `gamma`, `lgamma`,
//! `cbrt`, `pow`, and the builtins `round(x, ndigits)`, `divmod` and `float.is_integer`.
//!
//! Where CPython calls the platform libm, so do these (the same glibc symbols, so the same
//! bits); where CPython computes a function itself (`hypot`, `gamma`, `lgamma`, `atan2`'s
//! special values, `round`'s correctly rounded decimal rounding), these follow the same
//! steps in the same order, so every rounding happens as it does there.

use num_bigint::BigInt;
use num_traits::{Signed, ToPrimitive, Zero};

use super::ints::round_half_even_div;
use super::libm;
use crate::errors::ErrCode;

/// How CPython 3.x computes `math.hypot` (its `vector_norm`); the last bit differs between
/// them for some arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HypotAlg {
    /// Python 3.8–3.9: each coordinate divided by the largest, squares summed with
    /// Neumaier's compensation, `max * sqrt(sum)`.
    Divide,
    /// Python 3.10–3.11: power-of-two scaling, Veltkamp–Dekker squares, three compensated
    /// sums and a differential correction of the square root.
    Veltkamp,
    /// Python 3.12+: power-of-two scaling, exact squares by fused multiply-add, two
    /// compensated sums and the differential correction; subnormal maxima rescaled first.
    Fma,
}

impl HypotAlg {
    /// The algorithm of Python `major.minor`.
    pub fn of(python: (u8, u8)) -> HypotAlg {
        if python < (3, 10) {
            HypotAlg::Divide
        } else if python < (3, 12) {
            HypotAlg::Veltkamp
        } else {
            HypotAlg::Fma
        }
    }
}

/// `math.hypot(*xs)`: never raises (an overflowing norm is `inf`); `inf` if any coordinate
/// is infinite (even with a NaN), else NaN if any is NaN; `hypot()` is `0.0`.
pub fn hypot(alg: HypotAlg, xs: &[f64]) -> f64 {
    // The magnitudes, on the stack for the usual few coordinates.
    let mut small = [0.0f64; 8];
    let mut large = Vec::new();
    let v: &mut [f64] = if xs.len() <= small.len() {
        &mut small[..xs.len()]
    } else {
        large.resize(xs.len(), 0.0);
        &mut large
    };
    for (m, x) in v.iter_mut().zip(xs) {
        *m = x.abs();
    }
    let max = v.iter().fold(0.0f64, |m, &x| if x > m { x } else { m });
    if max.is_infinite() {
        return max;
    }
    if v.iter().any(|x| x.is_nan()) {
        return f64::NAN;
    }
    if max == 0.0 || v.len() <= 1 {
        return max;
    }
    match alg {
        HypotAlg::Divide => norm_divide(v, max),
        HypotAlg::Veltkamp => norm_veltkamp(v, max),
        HypotAlg::Fma => norm_fma(v, max),
    }
}

/// One step of the compensated sum where `|csum| >= |x|` always holds: the new sum and the
/// rounding error to carry.
fn fast_two_sum(csum: f64, x: f64) -> (f64, f64) {
    let s = csum + x;
    (s, (csum - s) + x)
}

fn norm_divide(v: &[f64], max: f64) -> f64 {
    let (mut csum, mut frac) = (1.0f64, 0.0f64);
    for &x in v {
        let q = x / max;
        let (s, err) = fast_two_sum(csum, q * q);
        csum = s;
        frac += err;
    }
    max * (csum - 1.0 + frac).sqrt()
}

/// `x` split into a high half of 26 bits and the exact rest (Veltkamp–Dekker).
fn split(x: f64) -> (f64, f64) {
    const T27: f64 = 134_217_729.0; // 2**27 + 1
    let t = x * T27;
    let hi = t - (t - x);
    (hi, x - hi)
}

fn norm_veltkamp(v: &[f64], max: f64) -> f64 {
    let (_, max_e) = frexp(max);
    if max_e < -1023 {
        // A scale of 2**-max_e would overflow: divide by the largest instead.
        return norm_divide(v, max);
    }
    let scale = libm::ldexp(1.0, -max_e);
    let (mut csum, mut f1, mut f2, mut f3) = (1.0f64, 0.0f64, 0.0f64, 0.0f64);
    for &x in v {
        let (hi, lo) = split(x * scale);
        let (s, e) = fast_two_sum(csum, hi * hi);
        csum = s;
        f1 += e;
        let (s, e) = fast_two_sum(csum, 2.0 * hi * lo);
        csum = s;
        f2 += e;
        f3 += lo * lo;
    }
    let h = (csum - 1.0 + (f1 + f2 + f3)).sqrt();
    let (hi, lo) = split(h);
    let (s, e) = fast_two_sum(csum, -hi * hi);
    csum = s;
    f1 += e;
    let (s, e) = fast_two_sum(csum, -2.0 * hi * lo);
    csum = s;
    f2 += e;
    let (s, e) = fast_two_sum(csum, -lo * lo);
    csum = s;
    f3 += e;
    let x = csum - 1.0 + (f1 + f2 + f3);
    (h + x / (2.0 * h)) / scale
}

/// `x * y` exactly, as the rounded product and its error.
fn exact_mul(x: f64, y: f64) -> (f64, f64) {
    let z = x * y;
    (z, x.mul_add(y, -z))
}

fn norm_fma(v: &mut [f64], max: f64) -> f64 {
    let (_, max_e) = frexp(max);
    if max_e < -1023 {
        // Subnormal: scale everything by 2**1022 into the normal range, exactly.
        for x in v.iter_mut() {
            *x /= f64::MIN_POSITIVE;
        }
        return f64::MIN_POSITIVE * norm_fma(v, max / f64::MIN_POSITIVE);
    }
    let scale = libm::ldexp(1.0, -max_e);
    let (mut csum, mut f1, mut f2) = (1.0f64, 0.0f64, 0.0f64);
    for &x in v.iter() {
        let x = x * scale;
        let (sq, sq_err) = exact_mul(x, x);
        let (s, e) = fast_two_sum(csum, sq);
        csum = s;
        f1 += sq_err;
        f2 += e;
    }
    let mut h = (csum - 1.0 + (f1 + f2)).sqrt();
    let (sq, sq_err) = exact_mul(-h, h);
    let (s, e) = fast_two_sum(csum, sq);
    csum = s;
    f1 += sq_err;
    f2 += e;
    let x = csum - 1.0 + (f1 + f2);
    h += x / (2.0 * h);
    h / scale
}

/// CPython's `math_2` checks of a two-argument function's result: NaN from non-NaN
/// arguments → [`ErrCode::MathDomain`], an infinity from finite ones →
/// [`ErrCode::MathRange`].
fn math2(x: f64, y: f64, r: f64) -> Result<f64, ErrCode> {
    if r.is_nan() && !x.is_nan() && !y.is_nan() {
        return Err(ErrCode::MathDomain);
    }
    if r.is_infinite() && x.is_finite() && y.is_finite() {
        return Err(ErrCode::MathRange);
    }
    Ok(r)
}

/// `math.atan2(y, x)` (CPython `m_atan2`): NaN with any NaN; the infinite and zero cases
/// decided here as C99 Annex F says; libm `atan2` for the rest.
pub fn atan2(y: f64, x: f64) -> Result<f64, ErrCode> {
    use std::f64::consts::PI;
    let r = if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if y.is_infinite() {
        let a = if x.is_infinite() {
            if x.is_sign_positive() {
                0.25 * PI
            } else {
                0.75 * PI
            }
        } else {
            0.5 * PI
        };
        a.copysign(y)
    } else if x.is_infinite() || y == 0.0 {
        if x.is_sign_positive() {
            0.0f64.copysign(y)
        } else {
            PI.copysign(y)
        }
    } else {
        libm::atan2(y, x)
    };
    math2(y, x, r)
}

/// `math.copysign(x, y)`.
pub fn copysign(x: f64, y: f64) -> f64 {
    x.copysign(y)
}

/// `math.fmod(x, y)` (C `fmod`): `x` itself for finite `x` and infinite `y`; a NaN from
/// non-NaN arguments (`fmod(inf, y)`, `fmod(x, 0)`) → [`ErrCode::MathDomain`].
pub fn fmod(x: f64, y: f64) -> Result<f64, ErrCode> {
    if y.is_infinite() && x.is_finite() {
        return Ok(x);
    }
    math2(x, y, x % y)
}

/// `math.remainder(x, y)` (CPython `m_remainder`): the IEEE 754 remainder `x - n*y`, `n`
/// the nearest integer to `x / y` (ties to even), always exact.
pub fn remainder(x: f64, y: f64) -> Result<f64, ErrCode> {
    let r = if x.is_finite() && y.is_finite() {
        if y == 0.0 {
            f64::NAN
        } else {
            let (ax, ay) = (x.abs(), y.abs());
            let m = ax % ay;
            // Compare m with ay - m rather than with ay / 2, which may be inexact.
            let c = ay - m;
            let r = if m < c {
                m
            } else if m > c {
                -c
            } else {
                // A tie: keep m for an even multiple, -m for an odd one.
                m - 2.0 * ((0.5 * (ax - m)) % ay)
            };
            1.0f64.copysign(x) * r
        }
    } else if x.is_nan() {
        x
    } else if y.is_nan() {
        y
    } else if x.is_infinite() {
        f64::NAN
    } else {
        x
    };
    math2(x, y, r)
}

/// `math.ldexp(x, i)`: `x * 2**i` rounded once (libm `ldexp`); zeros, infinities and NaN
/// unchanged; an overflow → [`ErrCode::MathRange`]; any exponent however large (an
/// underflow gives a signed zero).
pub fn ldexp(x: f64, i: &BigInt) -> Result<f64, ErrCode> {
    ldexp_i64(
        x,
        i.to_i64()
            .unwrap_or(if i.is_negative() { i64::MIN } else { i64::MAX }),
    )
}

/// [`ldexp`] for an i64 exponent (CPython clamps larger ones to the C `long` range).
pub fn ldexp_i64(x: f64, i: i64) -> Result<f64, ErrCode> {
    if x == 0.0 || !x.is_finite() {
        return Ok(x);
    }
    let r = if i > i64::from(i32::MAX) {
        f64::INFINITY.copysign(x)
    } else if i < i64::from(i32::MIN) {
        0.0f64.copysign(x)
    } else {
        libm::ldexp(x, i as i32)
    };
    if r.is_infinite() {
        return Err(ErrCode::MathRange);
    }
    Ok(r)
}

/// `math.frexp(x)`: `(m, e)` with `x == m * 2**e` and `0.5 <= |m| < 1`; `(x, 0)` for zeros,
/// infinities and NaN.
pub fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let (x, adjust) = if x.abs() < f64::MIN_POSITIVE {
        (x * 2f64.powi(54), -54) // a subnormal, scaled exactly into the normal range
    } else {
        (x, 0)
    };
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let m = f64::from_bits((bits & !(0x7ffu64 << 52)) | (1022u64 << 52));
    (m, biased - 1022 + adjust)
}

/// `math.modf(x)`: the fractional and integral parts, both with `x`'s sign; `(±0.0, x)` for
/// infinities, `(nan, nan)` for NaN.
pub fn modf(x: f64) -> (f64, f64) {
    if x.is_infinite() {
        return (0.0f64.copysign(x), x);
    }
    if x.is_nan() {
        return (x, x);
    }
    let i = x.trunc();
    ((x - i).copysign(x), i)
}

/// `math.degrees(x)`: `x * (180 / pi)`, the constant rounded once, as CPython's.
pub fn degrees(x: f64) -> f64 {
    const RAD_TO_DEG: f64 = 180.0 / std::f64::consts::PI;
    x * RAD_TO_DEG
}

/// `math.radians(x)`: `x * (pi / 180)`.
pub fn radians(x: f64) -> f64 {
    const DEG_TO_RAD: f64 = std::f64::consts::PI / 180.0;
    x * DEG_TO_RAD
}

/// `math.isclose(a, b, rel_tol=..., abs_tol=...)`: a negative tolerance →
/// [`ErrCode::NegativeTolerance`]; equal values (infinities of one sign included) are
/// close; an infinity is close to nothing else; NaN to nothing; otherwise `|b - a|` against
/// `rel_tol * |b|`, `rel_tol * |a|` and `abs_tol`.
pub fn isclose(a: f64, b: f64, rel_tol: f64, abs_tol: f64) -> Result<bool, ErrCode> {
    if rel_tol < 0.0 || abs_tol < 0.0 {
        return Err(ErrCode::NegativeTolerance);
    }
    if a == b {
        return Ok(true);
    }
    if a.is_infinite() || b.is_infinite() {
        return Ok(false);
    }
    let diff = (b - a).abs();
    Ok(diff <= (rel_tol * b).abs() || diff <= (rel_tol * a).abs() || diff <= abs_tol)
}

/// `math.pow(x, y)` (not `**`): C99's special values; a NaN from finite arguments →
/// [`ErrCode::MathDomain`], `0.0 ** negative` → [`ErrCode::MathDomain`], an overflow →
/// [`ErrCode::MathRange`].
pub fn math_pow(x: f64, y: f64) -> Result<f64, ErrCode> {
    if !x.is_finite() || !y.is_finite() {
        return Ok(if x.is_nan() {
            if y == 0.0 {
                1.0
            } else {
                x
            }
        } else if y.is_nan() {
            if x == 1.0 {
                1.0
            } else {
                y
            }
        } else if x.is_infinite() {
            let odd_y = y.is_finite() && y.abs() % 2.0 == 1.0;
            if y > 0.0 {
                if odd_y {
                    x
                } else {
                    x.abs()
                }
            } else if y == 0.0 {
                1.0
            } else if odd_y {
                0.0f64.copysign(x)
            } else {
                0.0
            }
        } else if x.abs() == 1.0 {
            1.0
        } else if (y > 0.0 && x.abs() > 1.0) || (y < 0.0 && x.abs() < 1.0) {
            f64::INFINITY
        } else {
            0.0
        });
    }
    let r = libm::pow(x, y);
    if r.is_nan() || (r.is_infinite() && x == 0.0) {
        return Err(ErrCode::MathDomain);
    }
    if r.is_infinite() {
        return Err(ErrCode::MathRange);
    }
    Ok(r)
}

/// `math.pow(x, y)` as Python 3.9 and 3.10 compute it: [`math_pow`], except that
/// `math.pow(±0.0, -inf)` is a [`ErrCode::MathDomain`] (3.11 made it `inf`).
pub fn math_pow_v310(x: f64, y: f64) -> Result<f64, ErrCode> {
    if x == 0.0 && y == f64::NEG_INFINITY {
        return Err(ErrCode::MathDomain);
    }
    math_pow(x, y)
}

/// `divmod(x, y)` for floats: `(x // y, x % y)` as CPython's `float_divmod`; `y == 0` →
/// [`ErrCode::FloatDivmodZero`].
pub fn float_divmod(x: f64, y: f64) -> Result<(f64, f64), ErrCode> {
    if y == 0.0 {
        return Err(ErrCode::FloatDivmodZero);
    }
    Ok((super::float_floordiv(x, y)?, super::float_mod(x, y)?))
}

/// `float.is_integer()`: finite and integral.
pub fn is_integer(x: f64) -> bool {
    x.is_finite() && x.floor() == x
}

/// `round(x, ndigits)` for a float (CPython `float___round___impl` and `double_round`): the
/// exact value of `x` rounded to `ndigits` decimal places, ties to even, converted back
/// correctly rounded, keeping `x`'s sign on a zero result (`round(-0.4, 0) == -0.0`).
/// Infinities, NaN and zeros are returned unchanged; `ndigits > 323` leaves `x`,
/// `ndigits < -308` gives `0.0 * x`; a result past the float range →
/// [`ErrCode::RoundOverflow`].
pub fn float_round(x: f64, ndigits: &BigInt) -> Result<f64, ErrCode> {
    let n = ndigits.to_i64().unwrap_or(if ndigits.is_negative() {
        i64::MIN
    } else {
        i64::MAX
    });
    if !x.is_finite() || x == 0.0 || n > 323 {
        return Ok(x);
    }
    if n < -308 {
        return Ok(0.0 * x);
    }
    if n == 0 {
        return Ok(x.round_ties_even());
    }
    // |x| = m * 2**e exactly.
    let bits = x.abs().to_bits();
    let biased = (bits >> 52) as i64;
    let frac = bits & ((1u64 << 52) - 1);
    let (m, e) = if biased == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), biased - 1075)
    };
    let m = BigInt::from(m);
    let ten = BigInt::from(10u32);
    let r = if n > 0 {
        if e >= 0 {
            return Ok(x); // an integer: nothing after the point to round
        }
        let p = ten.pow(n as u32);
        let q = round_half_even_div(&(&m * &p), &(BigInt::from(1u32) << (-e) as usize));
        if q.is_zero() {
            0.0
        } else {
            super::int_true_div(&q, &p)?
        }
    } else {
        let p = ten.pow((-n) as u32);
        let q = if e >= 0 {
            round_half_even_div(&(m << e as usize), &p)
        } else {
            round_half_even_div(&m, &(&p << (-e) as usize))
        };
        super::int_to_float(&(q * p)).map_err(|_| ErrCode::RoundOverflow)?
    };
    Ok(r.copysign(x))
}

/// `round(x, ndigits)` with an i64 `ndigits`, for kernels.
pub fn float_round_i64(x: f64, ndigits: i64) -> Result<f64, ErrCode> {
    if !x.is_finite() || x == 0.0 || ndigits > 323 {
        return Ok(x);
    }
    if ndigits == 0 {
        return Ok(x.round_ties_even());
    }
    float_round(x, &BigInt::from(ndigits))
}

// ---------------------------------------------------------------------------------------------
// gamma and lgamma: CPython's own Lanczos approximation (`m_tgamma`, `m_lgamma`), not libm's.
// ---------------------------------------------------------------------------------------------

const LANCZOS_G: f64 = 6.02468004077673;
const LANCZOS_G_MINUS_HALF: f64 = 5.52468004077673;
const LOG_PI: f64 = 1.1447298858494002;
/// The numerator's coefficients of the Lanczos sum as a rational function (N = 13).
const LANCZOS_NUM: [f64; 13] = [
    23531376880.41076,
    42919803642.6491,
    35711959237.35567,
    17921034426.03721,
    6039542586.352028,
    1439720407.3117216,
    248874557.86205417,
    31426415.585400194,
    2876370.6289353725,
    186056.26539522348,
    8071.672002365816,
    210.82427775157936,
    2.5066282746310002,
];
/// Its denominator: `x (x + 1) ... (x + 11)`'s coefficients.
const LANCZOS_DEN: [f64; 13] = [
    0.0,
    39916800.0,
    120543840.0,
    150917976.0,
    105258076.0,
    45995730.0,
    13339535.0,
    2637558.0,
    357423.0,
    32670.0,
    1925.0,
    66.0,
    1.0,
];

/// `lanczos_sum(x)` for `x > 0`: Horner in `x` below 5, in `1 / x` from 5 on.
fn lanczos_sum(x: f64) -> f64 {
    let (mut num, mut den) = (0.0f64, 0.0f64);
    if x < 5.0 {
        for i in (0..13).rev() {
            num = num * x + LANCZOS_NUM[i];
            den = den * x + LANCZOS_DEN[i];
        }
    } else {
        for i in 0..13 {
            num = num / x + LANCZOS_NUM[i];
            den = den / x + LANCZOS_DEN[i];
        }
    }
    num / den
}

/// `sin(pi * x)` for finite `x`, accurate near integers (CPython `m_sinpi`).
fn sinpi(x: f64) -> f64 {
    use std::f64::consts::PI;
    let y = x.abs() % 2.0;
    let r = match (2.0 * y).round() as i32 {
        0 => libm::sin(PI * y),
        1 => libm::cos(PI * (y - 0.5)),
        2 => libm::sin(PI * (1.0 - y)),
        3 => -libm::cos(PI * (y - 1.5)),
        _ => libm::sin(PI * (y - 2.0)),
    };
    1.0f64.copysign(x) * r
}

/// What CPython's `errno` says after `m_tgamma`/`m_lgamma`.
#[derive(PartialEq)]
enum Errno {
    None,
    Domain,
    Range,
}

/// CPython's `math_1a` on such a result: a domain error raises; a range error raises only
/// for a result of magnitude 1.5 or more (an underflow is not an error).
fn errno_result(r: f64, errno: Errno) -> Result<f64, ErrCode> {
    match errno {
        Errno::Domain => Err(ErrCode::MathDomain),
        Errno::Range if r.abs() >= 1.5 => Err(ErrCode::MathRange),
        _ => Ok(r),
    }
}

/// `math.gamma(x)`.
pub fn gamma(x: f64) -> Result<f64, ErrCode> {
    let (r, errno) = tgamma(x);
    errno_result(r, errno)
}

fn tgamma(x: f64) -> (f64, Errno) {
    use std::f64::consts::PI;
    const FACTORIALS: [f64; 23] = [
        1.0,
        1.0,
        2.0,
        6.0,
        24.0,
        120.0,
        720.0,
        5040.0,
        40320.0,
        362880.0,
        3628800.0,
        39916800.0,
        479001600.0,
        6227020800.0,
        87178291200.0,
        1307674368000.0,
        20922789888000.0,
        355687428096000.0,
        6402373705728000.0,
        121645100408832000.0,
        2432902008176640000.0,
        51090942171709440000.0,
        1124000727777607680000.0,
    ];
    if !x.is_finite() {
        if x.is_nan() || x > 0.0 {
            return (x, Errno::None);
        }
        return (f64::NAN, Errno::Domain);
    }
    if x == 0.0 {
        return (f64::INFINITY.copysign(x), Errno::Domain);
    }
    if x == x.floor() {
        if x < 0.0 {
            return (f64::NAN, Errno::Domain);
        }
        if x <= 23.0 {
            return (FACTORIALS[x as usize - 1], Errno::None);
        }
    }
    let absx = x.abs();
    if absx < 1e-20 {
        let r = 1.0 / x;
        let errno = if r.is_infinite() {
            Errno::Range
        } else {
            Errno::None
        };
        return (r, errno);
    }
    if absx > 200.0 {
        if x < 0.0 {
            return (0.0 / sinpi(x), Errno::None);
        }
        return (f64::INFINITY, Errno::Range);
    }
    let y = absx + LANCZOS_G_MINUS_HALF;
    // The rounding error of y, as a correction factor.
    let z = if absx > LANCZOS_G_MINUS_HALF {
        let q = y - absx;
        q - LANCZOS_G_MINUS_HALF
    } else {
        let q = y - LANCZOS_G_MINUS_HALF;
        q - absx
    };
    let z = z * LANCZOS_G / y;
    let mut r;
    if x < 0.0 {
        r = -PI / sinpi(absx) / absx * libm::exp(y) / lanczos_sum(absx);
        r -= z * r;
        if absx < 140.0 {
            r /= libm::pow(y, absx - 0.5);
        } else {
            let sqrtpow = libm::pow(y, absx / 2.0 - 0.25);
            r /= sqrtpow;
            r /= sqrtpow;
        }
    } else {
        r = lanczos_sum(absx) / libm::exp(y);
        r += z * r;
        if absx < 140.0 {
            r *= libm::pow(y, absx - 0.5);
        } else {
            let sqrtpow = libm::pow(y, absx / 2.0 - 0.25);
            r *= sqrtpow;
            r *= sqrtpow;
        }
    }
    let errno = if r.is_infinite() {
        Errno::Range
    } else {
        Errno::None
    };
    (r, errno)
}

/// `math.lgamma(x)`: the natural logarithm of `|gamma(x)|`.
pub fn lgamma(x: f64) -> Result<f64, ErrCode> {
    let (r, errno) = lgamma_raw(x);
    errno_result(r, errno)
}

fn lgamma_raw(x: f64) -> (f64, Errno) {
    if !x.is_finite() {
        if x.is_nan() {
            return (x, Errno::None);
        }
        return (f64::INFINITY, Errno::None);
    }
    if x == x.floor() && x <= 2.0 {
        if x <= 0.0 {
            return (f64::INFINITY, Errno::Domain);
        }
        return (0.0, Errno::None);
    }
    let absx = x.abs();
    if absx < 1e-20 {
        return (-libm::log(absx), Errno::None);
    }
    let mut r = libm::log(lanczos_sum(absx)) - LANCZOS_G;
    r += (absx - 0.5) * (libm::log(absx + LANCZOS_G - 0.5) - 1.0);
    if x < 0.0 {
        // The reflection formula.
        r = LOG_PI - libm::log(sinpi(absx).abs()) - libm::log(absx) - r;
    }
    let errno = if r.is_infinite() {
        Errno::Range
    } else {
        Errno::None
    };
    (r, errno)
}

// ---------------------------------------------------------------------------------------------
// cbrt: glibc's, looked up at run time
// ---------------------------------------------------------------------------------------------

/// The platform libm's `cbrt`. Linking the name `cbrt` does not reach it: Rust's
/// `compiler_builtins` defines its own (correctly rounded) `cbrt`, which shadows glibc's, and
/// the two differ in the last bit for about half of all arguments. CPython calls glibc's, so
/// we ask the dynamic loader for libm's own symbol.
fn libm_cbrt() -> Option<extern "C" fn(f64) -> f64> {
    static CBRT: std::sync::OnceLock<Option<extern "C" fn(f64) -> f64>> =
        std::sync::OnceLock::new();
    *CBRT.get_or_init(lookup_cbrt)
}

#[cfg(target_os = "linux")]
fn lookup_cbrt() -> Option<extern "C" fn(f64) -> f64> {
    use std::ffi::{c_char, c_int, c_void};
    const RTLD_NOW: c_int = 2;
    unsafe extern "C" {
        fn dlopen(file: *const c_char, mode: c_int) -> *mut c_void;
        fn dlsym(handle: *mut c_void, name: *const c_char) -> *mut c_void;
    }
    // SAFETY: both arguments are NUL-terminated C strings; `dlopen` of the already loaded
    // `libm.so.6` only takes a reference to it (never unloaded: we keep the handle), and
    // `dlsym` returns the address of its `cbrt` or null.
    let sym = unsafe {
        let handle = dlopen(c"libm.so.6".as_ptr(), RTLD_NOW);
        if handle.is_null() {
            return None;
        }
        dlsym(handle, c"cbrt".as_ptr())
    };
    if sym.is_null() {
        return None;
    }
    // SAFETY: libm's `cbrt` is `double cbrt(double)`, the C ABI of this function pointer
    // type; the address stays valid because libm is never unloaded.
    Some(unsafe { std::mem::transmute::<*mut c_void, extern "C" fn(f64) -> f64>(sym) })
}

#[cfg(not(target_os = "linux"))]
fn lookup_cbrt() -> Option<extern "C" fn(f64) -> f64> {
    None
}

/// Whether [`cbrt`] can give CPython's result here (glibc's `cbrt` was found).
pub fn cbrt_available() -> bool {
    libm_cbrt().is_some()
}

/// `math.cbrt(x)` (Python 3.11+): libm's cube root. Where it cannot be found the call is
/// refused ([`ErrCode::ResultTooLarge`]); lowering checks [`cbrt_available`] first.
pub fn cbrt(x: f64) -> Result<f64, ErrCode> {
    match libm_cbrt() {
        Some(f) => Ok(f(x)),
        None => Err(ErrCode::ResultTooLarge),
    }
}
