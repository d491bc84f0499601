//! Float `%` in kernels against CPython's `float_rem` as `pyops` implements it, bit for bit,
//! over edge cases and 300k random operand pairs: every exponent range, signs, zeros, subnormals, infinities, NaN, and
//! quotients around 2^52 (where an inline `fma`-based remainder would have to hand over to libm).

use fastiter::errors::ErrCode;
use fastiter::ir::{ParamInfo, Type};
use fastiter::{CodegenOptions, ExecError, RunOptions, Value};

fn params() -> Vec<ParamInfo> {
    ["a", "b"]
        .iter()
        .map(|n| ParamInfo {
            name: n.to_string(),
            ty: Type::Float,
        })
        .collect()
}

fn check(c: &fastiter::Compiled, a: f64, b: f64) {
    let opts = RunOptions {
        threads: 1,
        jit: true,
        cancel: None,
    };
    let got = c.run(&[Value::Float(a), Value::Float(b)], &opts);
    match fastiter::pyops::float_mod(a, b) {
        Ok(want) => match got {
            Ok((v, _)) => match v.into_items().unwrap_or_default().as_slice() {
                [Value::Float(g)] => assert!(
                    g.to_bits() == want.to_bits() || (g.is_nan() && want.is_nan()),
                    "{a:e} % {b:e}: kernel {g:e}, CPython {want:e}"
                ),
                other => panic!("{a:e} % {b:e}: {other:?}"),
            },
            other => panic!("{a:e} % {b:e}: {other:?}"),
        },
        Err(code) => {
            assert_eq!(code, ErrCode::FloatModZero);
            assert!(
                matches!(got, Err(ExecError::Python(ErrCode::FloatModZero))),
                "{a:e} % {b:e}: {got:?}"
            );
        }
    }
}

#[test]
fn float_mod_matches_cpython_bit_for_bit() {
    let c = fastiter::compile(
        "range(1).map(lambda i: a % b).collect()",
        &params(),
        true,
        CodegenOptions::default(),
    )
    .expect("compiles");
    let special = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        1.1,
        3.0,
        -7.5,
        1e6,
        1e-300,
        f64::MIN_POSITIVE,
        5e-324,
        -5e-324,
        4503599627370496.0,
        4503599627370495.0,
        9007199254740993.0,
        1e300,
        f64::MAX,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    for &a in &special {
        for &b in &special {
            check(&c, a, b);
        }
    }
    // Random operands: a random bit pattern for `b`, and `a` a random multiple of it near the
    // fast path's bound, or another random pattern.
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    for i in 0..300_000 {
        let b = f64::from_bits(next());
        let a = match i % 3 {
            0 => f64::from_bits(next()),
            1 => b * ((next() >> 11) as f64) + f64::from_bits(next() >> 12),
            _ => (next() % 2_000_001) as f64 / 997.0 * if next() & 1 == 0 { 1.0 } else { -1.0 },
        };
        let b = if i % 5 == 0 {
            (next() % 1000) as f64 / 7.0 - 50.0
        } else {
            b
        };
        check(&c, a, b);
    }
}
