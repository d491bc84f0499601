//! Functions kernels call for float operations that need libm or CPython's special cases:
//! `math.*`, float `//`, `%` and `**`. Each writes its result through a
//! pointer and returns 0 or an `ErrCode`.

use cranelift_jit::JITBuilder;

use crate::pyops::{self, MathFn};

pub const MATH1: &str = "fastiter_math1";
pub const FBIN: &str = "fastiter_fbin";

/// `op` codes of `fastiter_fbin`.
pub const FBIN_FLOORDIV: i64 = 0;
pub const FBIN_MOD: i64 = 1;
pub const FBIN_POW: i64 = 2;

pub fn register(jb: &mut JITBuilder) {
    jb.symbol(MATH1, math1 as *const u8);
    jb.symbol(FBIN, fbin as *const u8);
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

/// Index of `f` in `MathFn::ALL`, as passed to `fastiter_math1`.
pub fn math_index(f: MathFn) -> i64 {
    MathFn::ALL.iter().position(|g| *g == f).unwrap_or(0) as i64
}
