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

/// A constant divisor takes the inline `fma` remainder (where the host has FMA), in the
/// batched loop's lanes: every item must still be CPython's, bit for bit.
#[test]
fn float_mod_by_constants_matches_cpython() {
    let divisors = [
        1e6,
        1.0,
        3.0,
        0.1,
        0.3,
        1.1,
        7.5,
        360.0,
        123456.789,
        1e-5,
        2f64.powi(-900),
        1e300,
        4503599627370496.0,
    ];
    let params: Vec<ParamInfo> = [("n", Type::Int), ("a", Type::Float), ("d", Type::Float)]
        .iter()
        .map(|(n, ty)| ParamInfo {
            name: n.to_string(),
            ty: *ty,
        })
        .collect();
    let opts = RunOptions {
        threads: 1,
        jit: true,
        cancel: None,
    };
    let mut s: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    const N: i64 = 67;
    for &c in &divisors {
        let src = format!("range(0, n).map(lambda i: (a + i * d) % {c:?}).collect()");
        let k = fastiter::compile(&src, &params, true, CodegenOptions::default())
            .unwrap_or_else(|e| panic!("{src}: {e:?}"));
        for trial in 0..3000 {
            let sign = if next() & 1 == 0 { 1.0 } else { -1.0 };
            let (a, d) = match trial % 5 {
                // Near exact multiples, up to and past the fast path's bound (c * 2**52).
                0 => (c * (next() >> (11 + next() % 40)) as f64, c),
                1 => (c * (next() >> 11) as f64, c * 2f64.powi(-40) * sign),
                2 => (
                    c * 4503599627370496.0 - c * (next() % 64) as f64,
                    c * 0.5 * sign,
                ),
                3 => (f64::from_bits(next()), f64::from_bits(next() >> 2) * sign),
                _ => (
                    (next() % 4_000_001) as f64 / 997.0 * sign,
                    (next() % 1000) as f64 / 77.0,
                ),
            };
            let got = k.run(
                &[Value::Int(N.into()), Value::Float(a), Value::Float(d)],
                &opts,
            );
            let items = match got {
                Ok((v, _)) => v.into_items().expect("a list"),
                Err(e) => panic!("{src} a={a:e} d={d:e}: {e:?}"),
            };
            for (i, item) in items.iter().enumerate() {
                let x = a + i as f64 * d;
                let want = fastiter::pyops::float_mod(x, c).expect("c != 0");
                match item {
                    Value::Float(g) => assert!(
                        g.to_bits() == want.to_bits() || (g.is_nan() && want.is_nan()),
                        "{x:e} % {c:e}: kernel {g:e}, CPython {want:e}"
                    ),
                    other => panic!("{x:e} % {c:e}: {other:?}"),
                }
            }
        }
    }
}
