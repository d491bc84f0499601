//! Runtime exceptions: the Python exception types a pipeline can raise, and the numeric codes
//! kernels use to report them across the kernel ABI.

use std::fmt;

/// The Python exception type of a runtime error. The name is the Python class name, so the
/// CLI prints it and the Python package raises the builtin of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PyExcType {
    ZeroDivisionError,
    ValueError,
    OverflowError,
    TypeError,
    KeyboardInterrupt,
}

impl PyExcType {
    pub fn name(self) -> &'static str {
        match self {
            PyExcType::ZeroDivisionError => "ZeroDivisionError",
            PyExcType::ValueError => "ValueError",
            PyExcType::OverflowError => "OverflowError",
            PyExcType::TypeError => "TypeError",
            PyExcType::KeyboardInterrupt => "KeyboardInterrupt",
        }
    }
}

/// Every error a kernel can raise, with CPython's type and message (CPython 3.11 wording).
/// The discriminant is the code a kernel writes into `Partial::code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ErrCode {
    IntFloorDivZero = 1,
    IntModZero = 2,
    IntTrueDivZero = 3,
    FloatDivZero = 4,
    FloatFloorDivZero = 5,
    FloatModZero = 6,
    ZeroToNegativePower = 7,
    MathDomain = 8,
    MathRange = 9,
    FloatInfToInt = 10,
    FloatNanToInt = 11,
    NegativeShift = 12,
    FloatPowOverflow = 13,
    IntTooLargeForFloat = 14,
    IntDivTooLargeForFloat = 15,
    /// The exact result is a `complex`, which fastiter does not represent: the pipeline is
    /// refused at run time rather than answered differently.
    ComplexResult = 16,
    /// `range()` with a step of zero.
    RangeStepZero = 17,
    /// `skip(n)` or `take(n)` with `n < 0`.
    NegativeCount = 18,
    /// `step_by(k)` with `k < 1`.
    StepByZero = 19,
    /// An int result too large to build (`a ** n` past 2**24 bits): refused at run time,
    /// so the pipeline runs as Python, which builds it or raises `MemoryError`.
    ResultTooLarge = 20,
    /// `divmod(x, 0.0)` of floats.
    FloatDivmodZero = 21,
    /// `pow(a, b, 0)`.
    PowModZero = 22,
    /// `pow(a, -b, m)` where `a` has no inverse modulo `m`.
    PowNotInvertible = 23,
    /// `math.comb`/`math.perm` with `n < 0`.
    NegativeN = 24,
    /// `math.comb`/`math.perm` with `k < 0`.
    NegativeK = 25,
    /// `math.factorial(n)` (and `math.perm(n)`) with `n < 0`.
    FactorialNegative = 26,
    /// `math.isqrt(n)` with `n < 0`.
    IsqrtNegative = 27,
    /// `math.isclose` with a negative `rel_tol` or `abs_tol`.
    NegativeTolerance = 28,
    /// `round(x, ndigits)` of a float whose rounded value is past the float range.
    RoundOverflow = 29,
    /// `math.factorial(n)` with `n` past `2**63 - 1`.
    FactorialOverflow = 30,
    /// `math.perm(n, k)` with `k` past `2**63 - 1`.
    PermOverflow = 31,
    /// `math.comb(n, k)` with `min(k, n - k)` past `2**63 - 1`.
    CombOverflow = 32,
    /// `min()` / `max()` of an empty generator without `default=`.
    MinEmpty = 33,
    MaxEmpty = 34,
    /// The run was stopped from outside (Ctrl-C) at a loop's poll (`fastiter_runtime::
    /// interrupt`). Not an error of the pipeline: `exec` turns it into `ExecError::Cancelled`,
    /// so it is not in `ALL` (the table of what CPython raises).
    Interrupted = 35,
}

impl ErrCode {
    pub const ALL: [ErrCode; 34] = [
        ErrCode::IntFloorDivZero,
        ErrCode::IntModZero,
        ErrCode::IntTrueDivZero,
        ErrCode::FloatDivZero,
        ErrCode::FloatFloorDivZero,
        ErrCode::FloatModZero,
        ErrCode::ZeroToNegativePower,
        ErrCode::MathDomain,
        ErrCode::MathRange,
        ErrCode::FloatInfToInt,
        ErrCode::FloatNanToInt,
        ErrCode::NegativeShift,
        ErrCode::FloatPowOverflow,
        ErrCode::IntTooLargeForFloat,
        ErrCode::IntDivTooLargeForFloat,
        ErrCode::ComplexResult,
        ErrCode::RangeStepZero,
        ErrCode::NegativeCount,
        ErrCode::StepByZero,
        ErrCode::ResultTooLarge,
        ErrCode::FloatDivmodZero,
        ErrCode::PowModZero,
        ErrCode::PowNotInvertible,
        ErrCode::NegativeN,
        ErrCode::NegativeK,
        ErrCode::FactorialNegative,
        ErrCode::IsqrtNegative,
        ErrCode::NegativeTolerance,
        ErrCode::RoundOverflow,
        ErrCode::FactorialOverflow,
        ErrCode::PermOverflow,
        ErrCode::CombOverflow,
        ErrCode::MinEmpty,
        ErrCode::MaxEmpty,
    ];

    pub fn from_u32(code: u32) -> Option<ErrCode> {
        if code == ErrCode::Interrupted as u32 {
            return Some(ErrCode::Interrupted);
        }
        ErrCode::ALL.iter().copied().find(|c| *c as u32 == code)
    }

    pub fn exc_type(self) -> PyExcType {
        use ErrCode::*;
        match self {
            IntFloorDivZero | IntModZero | IntTrueDivZero | FloatDivZero | FloatFloorDivZero
            | FloatModZero | ZeroToNegativePower | FloatDivmodZero => PyExcType::ZeroDivisionError,
            MathDomain | FloatNanToInt | NegativeShift | RangeStepZero | NegativeCount
            | StepByZero | PowModZero | PowNotInvertible | NegativeN | NegativeK
            | FactorialNegative | IsqrtNegative | NegativeTolerance | MinEmpty | MaxEmpty => {
                PyExcType::ValueError
            }
            MathRange
            | FloatInfToInt
            | FloatPowOverflow
            | IntTooLargeForFloat
            | IntDivTooLargeForFloat
            | RoundOverflow
            | FactorialOverflow
            | PermOverflow
            | CombOverflow => PyExcType::OverflowError,
            ComplexResult | ResultTooLarge => PyExcType::TypeError,
            Interrupted => PyExcType::KeyboardInterrupt,
        }
    }

    pub fn message(self) -> &'static str {
        use ErrCode::*;
        match self {
            IntFloorDivZero => "integer division or modulo by zero",
            IntModZero => "integer modulo by zero",
            IntTrueDivZero => "division by zero",
            FloatDivZero => "float division by zero",
            FloatFloorDivZero => "float floor division by zero",
            FloatModZero => "float modulo",
            ZeroToNegativePower => "0.0 cannot be raised to a negative power",
            MathDomain => "math domain error",
            MathRange => "math range error",
            FloatInfToInt => "cannot convert float infinity to integer",
            FloatNanToInt => "cannot convert float NaN to integer",
            NegativeShift => "negative shift count",
            FloatPowOverflow => "(34, 'Numerical result out of range')",
            IntTooLargeForFloat => "int too large to convert to float",
            IntDivTooLargeForFloat => "integer division result too large for a float",
            ComplexResult => "the result is a complex number, which fastiter does not compile",
            RangeStepZero => "range() arg 3 must not be zero",
            NegativeCount => "skip() and take() need a count >= 0",
            StepByZero => "step_by() needs a step >= 1",
            ResultTooLarge => "the exact int result is too large for fastiter to compute",
            MinEmpty => "min() arg is an empty sequence",
            MaxEmpty => "max() arg is an empty sequence",
            FloatDivmodZero => "float divmod()",
            PowModZero => "pow() 3rd argument cannot be 0",
            PowNotInvertible => "base is not invertible for the given modulus",
            NegativeN => "n must be a non-negative integer",
            NegativeK => "k must be a non-negative integer",
            FactorialNegative => "factorial() not defined for negative values",
            IsqrtNegative => "isqrt() argument must be nonnegative",
            NegativeTolerance => "tolerances must be non-negative",
            RoundOverflow => "rounded value too large to represent",
            FactorialOverflow => "factorial() argument should not exceed 9223372036854775807",
            PermOverflow => "k must not exceed 9223372036854775807",
            CombOverflow => "min(n - k, k) must not exceed 9223372036854775807",
            Interrupted => "interrupted",
        }
    }

    /// True where fastiter declines to answer instead of raising what CPython raises.
    pub fn is_refusal(self) -> bool {
        matches!(self, ErrCode::ComplexResult | ErrCode::ResultTooLarge)
    }
}

impl fmt::Display for ErrCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.exc_type().name(), self.message())
    }
}
