//! CPython's integer builtins and `math` integer functions on unbounded ints: `math.gcd`,
//! `lcm`, `isqrt`, `factorial`, `comb`, `perm`, `pow(a, b, m)`, `round(n, ndigits)`,
//! `int.bit_length`/`bit_count` (from `Modules/mathmodule.c` and `Objects/longobject.c`), and
//! the i64 versions kernels call, which answer `None` where the exact result leaves i64.
//!
//! Results that CPython would spend minutes building (a factorial of millions of bits) are
//! refused with [`ErrCode::ResultTooLarge`] rather than computed: the pipeline then runs as
//! Python.

use num_bigint::{BigInt, BigUint};
use num_integer::Integer;
use num_traits::{One, Signed, ToPrimitive, Zero};

use crate::errors::ErrCode;

/// The most bits a `factorial`, `comb`, `perm` or `round` result may have before it is
/// refused ([`ErrCode::ResultTooLarge`]): about 4 million (a 512 KiB number).
pub const MAX_RESULT_BITS: f64 = (1u64 << 22) as f64;

/// `math.gcd(a, b)`: the greatest common divisor, never negative (`gcd(0, 0) == 0`).
pub fn gcd(a: &BigInt, b: &BigInt) -> BigInt {
    a.gcd(b)
}

/// `math.lcm(a, b)`: `|a // gcd(a, b) * b|`, and `0` when either is zero.
pub fn lcm(a: &BigInt, b: &BigInt) -> BigInt {
    if a.is_zero() || b.is_zero() {
        return BigInt::zero();
    }
    (a / a.gcd(b) * b).abs()
}

/// `math.isqrt(n)`: the floor of the exact square root. `n < 0` →
/// [`ErrCode::IsqrtNegative`].
pub fn isqrt(n: &BigInt) -> Result<BigInt, ErrCode> {
    if n.is_negative() {
        return Err(ErrCode::IsqrtNegative);
    }
    Ok(BigInt::from(n.magnitude().sqrt()))
}

/// `log2(n!)` from Stirling's series, accurate to well under a bit for `n >= 1`.
fn log2_factorial(n: f64) -> f64 {
    if n < 2.0 {
        return 0.0;
    }
    let ln = (n + 0.5) * n.ln() - n + 0.5 * (2.0 * std::f64::consts::PI).ln() + 1.0 / (12.0 * n);
    ln / std::f64::consts::LN_2
}

/// The product of the integers in `[lo, hi)`, by binary splitting (`1` when empty), so the
/// multiplications are between numbers of similar size.
fn range_product(lo: u64, hi: u64) -> BigUint {
    if hi <= lo {
        return BigUint::one();
    }
    if hi - lo <= 16 {
        let mut acc = BigUint::one();
        let mut word: u64 = 1;
        for v in lo..hi {
            match word.checked_mul(v) {
                Some(w) => word = w,
                None => {
                    acc *= word;
                    word = v;
                }
            }
        }
        return acc * word;
    }
    let mid = lo + (hi - lo) / 2;
    range_product(lo, mid) * range_product(mid, hi)
}

/// `math.factorial(n)`: `n < 0` → [`ErrCode::FactorialNegative`]; `n` past `2**63 - 1` →
/// [`ErrCode::FactorialOverflow`] (both CPython's); a result of more than
/// [`MAX_RESULT_BITS`] bits → [`ErrCode::ResultTooLarge`].
pub fn factorial(n: &BigInt) -> Result<BigInt, ErrCode> {
    if n.is_negative() {
        return Err(ErrCode::FactorialNegative);
    }
    let n = n.to_i64().ok_or(ErrCode::FactorialOverflow)? as u64;
    if log2_factorial(n as f64) > MAX_RESULT_BITS {
        return Err(ErrCode::ResultTooLarge);
    }
    Ok(BigInt::from(range_product(2, n + 1)))
}

/// The checks `comb` and `perm` share: `n` and `k` non-negative, in that order.
fn check_nk(n: &BigInt, k: &BigInt) -> Result<(), ErrCode> {
    if n.is_negative() {
        return Err(ErrCode::NegativeN);
    }
    if k.is_negative() {
        return Err(ErrCode::NegativeK);
    }
    Ok(())
}

/// `math.perm(n, k)`: `n! / (n - k)!`, `0` when `k > n`. Errors as CPython: `n < 0` →
/// [`ErrCode::NegativeN`], `k < 0` → [`ErrCode::NegativeK`], `k` past `2**63 - 1` (and not
/// past `n`) → [`ErrCode::PermOverflow`]; a result of more than [`MAX_RESULT_BITS`] bits →
/// [`ErrCode::ResultTooLarge`]. (`math.perm(n)` is `factorial(n)`.)
pub fn perm(n: &BigInt, k: &BigInt) -> Result<BigInt, ErrCode> {
    check_nk(n, k)?;
    if k > n {
        return Ok(BigInt::zero());
    }
    let k = k.to_i64().ok_or(ErrCode::PermOverflow)? as u64;
    if k == 0 {
        return Ok(BigInt::one());
    }
    let bits = k as f64 * (n.bits() as f64);
    if let Some(n) = n.to_u64() {
        if bits > MAX_RESULT_BITS
            && log2_factorial(n as f64) - log2_factorial((n - k) as f64) > MAX_RESULT_BITS
        {
            return Err(ErrCode::ResultTooLarge);
        }
        return Ok(BigInt::from(range_product(n - k + 1, n + 1)));
    }
    if bits > MAX_RESULT_BITS {
        return Err(ErrCode::ResultTooLarge);
    }
    Ok(bigint_range_product(&(n - k + 1u32), k))
}

/// The product of `k` consecutive ints from `start`, for a `start` past u64.
fn bigint_range_product(start: &BigInt, k: u64) -> BigInt {
    if k == 0 {
        return BigInt::one();
    }
    if k == 1 {
        return start.clone();
    }
    let h = k / 2;
    bigint_range_product(start, h) * bigint_range_product(&(start + h), k - h)
}

/// `math.comb(n, k)`: `n! / (k! (n - k)!)`, `0` when `k > n`. Errors as CPython: `n < 0` →
/// [`ErrCode::NegativeN`], `k < 0` → [`ErrCode::NegativeK`], `min(k, n - k)` past
/// `2**63 - 1` → [`ErrCode::CombOverflow`]; a result of more than [`MAX_RESULT_BITS`] bits
/// (or, for `n` past u64, `min(k, n - k) > 20000`) → [`ErrCode::ResultTooLarge`].
pub fn comb(n: &BigInt, k: &BigInt) -> Result<BigInt, ErrCode> {
    check_nk(n, k)?;
    if k > n {
        return Ok(BigInt::zero());
    }
    let other = n - k;
    let k = if &other < k { &other } else { k };
    let k = k.to_i64().ok_or(ErrCode::CombOverflow)? as u64;
    if k == 0 {
        return Ok(BigInt::one());
    }
    // log2(comb(n, k)) <= min(n, k * log2(e * n / k)).
    let nf = n.to_f64().unwrap_or(f64::INFINITY);
    let bound = nf.min(k as f64 * (std::f64::consts::E * nf / k as f64).log2());
    if bound > MAX_RESULT_BITS {
        return Err(ErrCode::ResultTooLarge);
    }
    if let Some(n) = n.to_u64() {
        return Ok(BigInt::from(comb_u64(n, k)));
    }
    if k > 20_000 {
        return Err(ErrCode::ResultTooLarge);
    }
    let top = n - k + 1u32;
    Ok(bigint_range_product(&top, k) / BigInt::from(range_product(2, k + 1)))
}

/// `comb(n, k)` for `0 < k <= n / 2`: the numerator's factors `n - k + 1 ..= n` with `k!`'s
/// prime factors divided out of them (Legendre's formula gives how many of each), then
/// multiplied together: no long division.
fn comb_u64(n: u64, k: u64) -> BigUint {
    let lo = n - k + 1;
    let mut terms: Vec<u64> = (lo..=n).collect();
    let mut composite = vec![false; k as usize + 1];
    for p in 2..=k {
        if composite[p as usize] {
            continue;
        }
        let mut m = p * p;
        while m <= k {
            composite[m as usize] = true;
            m += p;
        }
        // The exponent of p in k!.
        let (mut e, mut q) = (0u64, k);
        while q > 0 {
            q /= p;
            e += q;
        }
        // Each multiple of p**j in the numerator still holds a factor p at level j.
        let mut pj = p;
        while e > 0 {
            let Some(mut m) = lo.div_ceil(pj).checked_mul(pj) else {
                break;
            };
            while m <= n && e > 0 {
                terms[(m - lo) as usize] /= p;
                e -= 1;
                m = match m.checked_add(pj) {
                    Some(v) => v,
                    None => break,
                };
            }
            match pj.checked_mul(p) {
                Some(v) if v <= n => pj = v,
                _ => break,
            }
        }
    }
    product(&terms)
}

/// The product of `terms`, by binary splitting.
fn product(terms: &[u64]) -> BigUint {
    if terms.len() <= 16 {
        let mut acc = BigUint::one();
        let mut word: u64 = 1;
        for &v in terms {
            match word.checked_mul(v) {
                Some(w) => word = w,
                None => {
                    acc *= word;
                    word = v;
                }
            }
        }
        return acc * word;
    }
    let (a, b) = terms.split_at(terms.len() / 2);
    product(a) * product(b)
}

/// `int.bit_length()`: the number of bits of `|a|` (`0` for `0`).
pub fn bit_length(a: &BigInt) -> u64 {
    a.bits()
}

/// `int.bit_count()` (Python 3.10+): the number of one bits of `|a|`.
pub fn bit_count(a: &BigInt) -> u64 {
    a.magnitude().count_ones()
}

/// `pow(a, b, m)` for ints (CPython `long_pow` with a modulus): `m == 0` →
/// [`ErrCode::PowModZero`]; a negative `m` gives a result in `(m, 0]`; `|m| == 1` gives `0`
/// before anything else is checked; a negative `b` raises `a`'s inverse modulo `|m|` to
/// `-b`, and [`ErrCode::PowNotInvertible`] when there is none.
pub fn pow_mod(a: &BigInt, b: &BigInt, m: &BigInt) -> Result<BigInt, ErrCode> {
    if m.is_zero() {
        return Err(ErrCode::PowModZero);
    }
    let negative = m.is_negative();
    let m = m.abs();
    if m.is_one() {
        return Ok(BigInt::zero());
    }
    let mut base = a.mod_floor(&m);
    let mut e = b.clone();
    if e.is_negative() {
        base = mod_inverse(&base, &m).ok_or(ErrCode::PowNotInvertible)?;
        e = -e;
    }
    let r = base.modpow(&e, &m);
    Ok(if negative && !r.is_zero() { r - m } else { r })
}

/// The inverse of `a` modulo `m` (`0 <= a < m`, `m > 1`), if `gcd(a, m) == 1`.
fn mod_inverse(a: &BigInt, m: &BigInt) -> Option<BigInt> {
    let e = a.extended_gcd(m);
    e.gcd.is_one().then(|| e.x.mod_floor(m))
}

/// The most digits `round(n, -digits)` of an int rounds away before it is refused.
const MAX_ROUND_DIGITS: i64 = 1_000_000;

/// `round(x, ndigits)` for an int (CPython `long_round`): `ndigits >= 0` leaves `x`; otherwise
/// the nearest multiple of `10**-ndigits`, ties to the even multiple (`round(25, -1) == 20`).
/// **Refusal**: CPython builds `10**-ndigits` whatever its size; for `ndigits < -1_000_000`
/// we refuse ([`ErrCode::ResultTooLarge`]) instead of spending its time and memory.
pub fn int_round(x: &BigInt, ndigits: &BigInt) -> Result<BigInt, ErrCode> {
    if !ndigits.is_negative() {
        return Ok(x.clone());
    }
    let k = (-ndigits)
        .to_u32()
        .filter(|&k| i64::from(k) <= MAX_ROUND_DIGITS)
        .ok_or(ErrCode::ResultTooLarge)?;
    // 10**k > 2 * |x| (10**k >= 2**(3.32 k)): the quotient rounds to zero.
    if (k as f64) * std::f64::consts::LOG2_10 > (x.bits() + 2) as f64 {
        return Ok(BigInt::zero());
    }
    let p = BigInt::from(10u32).pow(k);
    Ok(round_half_even_div(x, &p) * p)
}

/// `a / b` rounded to the nearest int, ties to even (`b > 0`).
pub(crate) fn round_half_even_div(a: &BigInt, b: &BigInt) -> BigInt {
    let (q, r) = a.div_mod_floor(b);
    let twice = &r * 2u32;
    match twice.cmp(b) {
        std::cmp::Ordering::Greater => q + 1u32,
        std::cmp::Ordering::Equal if q.is_odd() => q + 1u32,
        _ => q,
    }
}

// ---------------------------------------------------------------------------------------------
// i64 versions for kernels: the same answers where they fit in i64, `None` where they do not
// (the kernel reports the chunk inexact and the interpreter computes it with the functions
// above). Errors are those of the exact functions.
// ---------------------------------------------------------------------------------------------

fn fit(v: u128, negative: bool) -> Option<i64> {
    if negative {
        (v <= 1u128 << 63).then(|| (v as i128).wrapping_neg() as i64)
    } else {
        i64::try_from(v).ok()
    }
}

/// `gcd` on i64 (`None` for `2**63`: `gcd(-2**63, 0)`).
pub fn gcd_i64(a: i64, b: i64) -> Option<i64> {
    let g = a.unsigned_abs().gcd(&b.unsigned_abs());
    i64::try_from(g).ok()
}

/// `lcm` on i64.
pub fn lcm_i64(a: i64, b: i64) -> Option<i64> {
    if a == 0 || b == 0 {
        return Some(0);
    }
    let (ua, ub) = (a.unsigned_abs(), b.unsigned_abs());
    let g = ua.gcd(&ub);
    let l = u128::from(ua / g) * u128::from(ub);
    fit(l, false)
}

/// `isqrt` on i64 (always fits).
pub fn isqrt_i64(n: i64) -> Result<i64, ErrCode> {
    if n < 0 {
        return Err(ErrCode::IsqrtNegative);
    }
    Ok(n.isqrt())
}

/// `factorial` on i64 (fits up to `20!`).
pub fn factorial_i64(n: i64) -> Result<Option<i64>, ErrCode> {
    if n < 0 {
        return Err(ErrCode::FactorialNegative);
    }
    if n > 20 {
        return Ok(None);
    }
    Ok(Some((2..=n).product()))
}

/// `perm` on i64.
pub fn perm_i64(n: i64, k: i64) -> Result<Option<i64>, ErrCode> {
    if n < 0 {
        return Err(ErrCode::NegativeN);
    }
    if k < 0 {
        return Err(ErrCode::NegativeK);
    }
    if k > n {
        return Ok(Some(0));
    }
    let mut acc: i64 = 1;
    for v in (n - k + 1)..=n {
        match acc.checked_mul(v) {
            Some(p) => acc = p,
            None => return Ok(None),
        }
    }
    Ok(Some(acc))
}

/// `comb` on i64: the running product `c(n, i)` stays exact (each step divides exactly).
pub fn comb_i64(n: i64, k: i64) -> Result<Option<i64>, ErrCode> {
    if n < 0 {
        return Err(ErrCode::NegativeN);
    }
    if k < 0 {
        return Err(ErrCode::NegativeK);
    }
    if k > n {
        return Ok(Some(0));
    }
    let k = k.min(n - k) as u128;
    let n = n as u128;
    let mut c: u128 = 1;
    for i in 0..k {
        // c(n, i + 1) = c(n, i) * (n - i) / (i + 1); c * (n - i) < 2**63 * 2**63.
        c = c * (n - i) / (i + 1);
        if c > i64::MAX as u128 {
            return Ok(None);
        }
    }
    Ok(Some(c as i64))
}

/// `pow(a, b, m)` on i64 (`|result| < |m|`, so it always fits).
pub fn pow_mod_i64(a: i64, b: i64, m: i64) -> Result<i64, ErrCode> {
    if m == 0 {
        return Err(ErrCode::PowModZero);
    }
    let um = u128::from(m.unsigned_abs());
    if um == 1 {
        return Ok(0);
    }
    let mut base = (i128::from(a)).rem_euclid(um as i128) as u128;
    let mut e = b.unsigned_abs();
    if b < 0 {
        base = inverse_u128(base, um).ok_or(ErrCode::PowNotInvertible)?;
    }
    let mut r: u128 = 1;
    while e > 0 {
        if e & 1 == 1 {
            r = r * base % um;
        }
        base = base * base % um;
        e >>= 1;
    }
    let r = r as i128;
    Ok(if m < 0 && r != 0 { r - um as i128 } else { r } as i64)
}

/// The inverse of `a` modulo `m` (`a < m <= 2**63`).
fn inverse_u128(a: u128, m: u128) -> Option<u128> {
    let (mut r0, mut r1) = (m as i128, a as i128);
    let (mut t0, mut t1) = (0i128, 1i128);
    while r1 != 0 {
        let q = r0 / r1;
        (r0, r1) = (r1, r0 - q * r1);
        (t0, t1) = (t1, t0 - q * t1);
    }
    (r0 == 1).then(|| t0.rem_euclid(m as i128) as u128)
}

/// `round(x, ndigits)` on i64 (refused as [`int_round`] refuses).
pub fn int_round_i64(x: i64, ndigits: i64) -> Result<Option<i64>, ErrCode> {
    if ndigits >= 0 {
        return Ok(Some(x));
    }
    if ndigits < -MAX_ROUND_DIGITS {
        return Err(ErrCode::ResultTooLarge);
    }
    if ndigits < -19 {
        return Ok(Some(0));
    }
    let p = 10i128.pow((-ndigits) as u32);
    let x = i128::from(x);
    let (q, r) = (x.div_euclid(p), x.rem_euclid(p));
    let q = match (2 * r).cmp(&p) {
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal if q & 1 == 1 => q + 1,
        _ => q,
    };
    Ok(i64::try_from(q * p).ok())
}
