//! The kernel ABI: the one function type every compiled kernel has, the partial result it
//! writes, and the status it returns. The compiler emits code against these layouts; the
//! executor calls kernels through them and never looks further inside.

/// The kernel finished its index range `[lo, hi)`; the partial holds its result.
pub const STATUS_OK: u32 = 0;
/// A Python exception at element `Partial::index`, of kind `Partial::code`.
pub const STATUS_ERROR: u32 = 1;
/// An operation at element `Partial::index` has no exact i64/f64 result (integer overflow, a
/// constant too large for i64, ...): the chunk must be recomputed by the exact interpreter.
pub const STATUS_INEXACT: u32 = 2;
/// An early-exit consumer (`any`, `all`, `find_*`) decided at element `Partial::index`.
pub const STATUS_FOUND: u32 = 3;

/// Flag in `Partial::flags`: a float `min`/`max` saw a NaN, so combining chunk results is not
/// the same as a sequential scan; the executor reruns the pipeline as one chunk.
pub const FLAG_NAN_SEEN: u64 = 1;

/// Flag in `Partial::flags`: a sum of tagged numbers met a float in this chunk, so `acc0`/
/// `acc1` hold the exact int sum of the elements before it and `acc2`/`acc3` the compensated
/// float sum of the rest.
pub const FLAG_FLOAT_SEEN: u64 = 2;

/// What a kernel writes for its chunk. Which fields mean what depends on the consumer; the
/// compiler's `exec` module owns that reading. `#[repr(C)]`: codegen stores at fixed offsets.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Partial {
    /// Element index (absolute, in `[lo, hi)`) of an error, inexact operation or find.
    pub index: i64,
    /// `ErrCode` of an error.
    pub code: u32,
    pub _pad: u32,
    /// Elements counted, collected, or (min/max) 1 if a value was seen.
    pub count: i64,
    /// Low 64 bits of an i128 sum, a float sum, a min/max/reduce value's bits.
    pub acc0: u64,
    /// High 64 bits of an i128 sum or of a tagged number (its tag), or a float sum's
    /// compensation.
    pub acc1: u64,
    /// `FLAG_*` bits.
    pub flags: u64,
    /// `collect`: where the kernel writes this chunk's elements (8 bytes each, 16 for tagged
    /// numbers; room for `hi - lo` of them).
    pub out: *mut u64,
    /// A mixed sum's float sum and compensation; `min_by_key`/`max_by_key`'s key (low and
    /// high halves: a tagged key needs both).
    pub acc2: u64,
    pub acc3: u64,
}

impl Partial {
    pub const OFFSET_INDEX: i32 = 0;
    pub const OFFSET_CODE: i32 = 8;
    pub const OFFSET_COUNT: i32 = 16;
    pub const OFFSET_ACC0: i32 = 24;
    pub const OFFSET_ACC1: i32 = 32;
    pub const OFFSET_FLAGS: i32 = 40;
    pub const OFFSET_OUT: i32 = 48;
    pub const OFFSET_ACC2: i32 = 56;
    pub const OFFSET_ACC3: i32 = 64;

    pub fn new(out: *mut u64) -> Partial {
        Partial {
            index: 0,
            code: 0,
            _pad: 0,
            count: 0,
            acc0: 0,
            acc1: 0,
            flags: 0,
            out,
            acc2: 0,
            acc3: 0,
        }
    }
}

impl Default for Partial {
    fn default() -> Self {
        Partial::new(std::ptr::null_mut())
    }
}

/// Every kernel: process elements `[lo, hi)` with the parameters and input pointers in `env`
/// (8-byte slots), write the result to `out`, return a `STATUS_*`.
pub type KernelFn =
    unsafe extern "C" fn(env: *const u64, lo: i64, hi: i64, out: *mut Partial) -> u32;

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    #[test]
    fn offsets_match_layout() {
        assert_eq!(offset_of!(Partial, index) as i32, Partial::OFFSET_INDEX);
        assert_eq!(offset_of!(Partial, code) as i32, Partial::OFFSET_CODE);
        assert_eq!(offset_of!(Partial, count) as i32, Partial::OFFSET_COUNT);
        assert_eq!(offset_of!(Partial, acc0) as i32, Partial::OFFSET_ACC0);
        assert_eq!(offset_of!(Partial, acc1) as i32, Partial::OFFSET_ACC1);
        assert_eq!(offset_of!(Partial, flags) as i32, Partial::OFFSET_FLAGS);
        assert_eq!(offset_of!(Partial, out) as i32, Partial::OFFSET_OUT);
        assert_eq!(offset_of!(Partial, acc2) as i32, Partial::OFFSET_ACC2);
        assert_eq!(offset_of!(Partial, acc3) as i32, Partial::OFFSET_ACC3);
    }
}
