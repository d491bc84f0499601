//! Functions kernels call for float operations that need libm or CPython's special cases:
//! `math.*`, float `//`, `%` and `**`, and the builtin table's operations that are not inline. Each writes its result through a
//! pointer and returns 0 or an `ErrCode`.

use cranelift_jit::JITBuilder;

use crate::pyops::{self, MathFn};

pub const MATH1: &str = "fastiter_math1";
pub const FBIN: &str = "fastiter_fbin";
pub const BUILTIN: &str = "fastiter_builtin";

/// What `fastiter_builtin` returns when the exact result does not fit its slot (an int past
/// i64): the kernel reports the chunk inexact.
pub const BUILTIN_INEXACT: u32 = u32::MAX;

/// `op` codes of `fastiter_fbin`.
pub const FBIN_FLOORDIV: i64 = 0;
pub const FBIN_MOD: i64 = 1;
pub const FBIN_POW: i64 = 2;

pub fn register(jb: &mut JITBuilder) {
    jb.symbol(MATH1, math1 as *const u8);
    jb.symbol(FBIN, fbin as *const u8);
    jb.symbol(BUILTIN, builtin as *const u8);
    jb.symbol(
        fastiter_runtime::interrupt::POLL_SYMBOL,
        fastiter_runtime::interrupt::poll as *const u8,
    );
    if let Some(addr) = fastiter_runtime::interrupt::poll_preserving() {
        jb.symbol(fastiter_runtime::interrupt::POLL_PRESERVING_SYMBOL, addr);
    }
}

fn finish(r: Result<f64, crate::errors::ErrCode>, out: *mut f64) -> u32 {
    match r {
        Ok(v) => {
            // SAFETY: kernels pass a pointer to an 8-byte stack slot of their own frame.
            unsafe { out.write(v) };
            0
        }
        Err(code) => code as u32,
    }
}

/// `math.<f>(x)`; `f` indexes `MathFn::ALL`.
extern "C" fn math1(f: u32, x: f64, out: *mut f64) -> u32 {
    let r = match MathFn::ALL.get(f as usize) {
        Some(f) => pyops::math1(*f, x),
        None => Err(crate::errors::ErrCode::MathDomain),
    };
    finish(r, out)
}

extern "C" fn fbin(op: u32, a: f64, b: f64, out: *mut f64) -> u32 {
    let r = match op as i64 {
        FBIN_FLOORDIV => pyops::float_floordiv(a, b),
        FBIN_MOD => pyops::float_mod(a, b),
        _ => pyops::float_pow(a, b),
    };
    finish(r, out)
}

/// An operation of the builtin table (`Func` code `code`) on `nargs` argument slots at
/// `slots`; the result goes to the first slot. Returns 0, an `ErrCode`, or
/// [`BUILTIN_INEXACT`].
extern "C" fn builtin(code: u32, nargs: u32, slots: *mut u64) -> u32 {
    let Some(f) = crate::builtins::Func::from_code(code) else {
        return crate::errors::ErrCode::MathDomain as u32;
    };
    // SAFETY: kernels pass a stack slot of `max(nargs, 1)` 8-byte slots of their own frame,
    // holding the arguments.
    let args = unsafe { std::slice::from_raw_parts(slots, nargs as usize) };
    match crate::builtins::run_slots(f, args) {
        Ok(v) => {
            // SAFETY: the slot has room for at least one 8-byte value.
            unsafe { slots.write(v) };
            0
        }
        Err(crate::builtins::Status::Raise(e)) => e as u32,
        Err(crate::builtins::Status::Inexact) => BUILTIN_INEXACT,
    }
}

/// Index of `f` in `MathFn::ALL`, as passed to `fastiter_math1`.
pub fn math_index(f: MathFn) -> i64 {
    MathFn::ALL.iter().position(|g| *g == f).unwrap_or(0) as i64
}
