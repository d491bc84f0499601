//! Thread-count invariance: chunk boundaries depend only on the length, so results — float
//! sums included — are bit-identical at any thread count, and equal to the interpreter's.

use fastiter::ir::{ParamInfo, Type};
use fastiter::{CodegenOptions, RunOptions, Value};

fn run_all(src: &str, n: i64) -> Vec<String> {
    let params = [ParamInfo {
        name: "N".into(),
        ty: Type::Int,
    }];
    let c = fastiter::compile(src, &params, true, CodegenOptions::default()).expect("compiles");
    let mut out = Vec::new();
    for (jit, threads) in [(true, 1), (true, 2), (true, 3), (true, 8), (false, 2)] {
        let (v, _) = c
            .run(
                &[Value::int(n)],
                &RunOptions {
                    threads,
                    jit,
                    cancel: None,
                },
            )
            .expect("runs");
        let repr = match &v {
            Value::Float(f) => format!("{v} bits={:#x}", f.to_bits()),
            _ => v.to_string(),
        };
        out.push(repr);
    }
    out
}

#[test]
fn float_sums_are_bit_identical_at_any_thread_count() {
    for src in [
        "range(0, N).map(x * 0.1).sum()",
        "range(0, N).map(1.0 / (x + 1)).sum()",
        "range(0, N).map(math.sin(x) * 1e10).sum()",
        "range(0, N).filter(x % 3 != 0).map(x * 1e-3 - 17.25).sum()",
        "range(0, N).map(x * 0.5).reduce(0.0, lambda a, b: a + b)",
    ] {
        // 1_000_003 elements: 1024 chunks of uneven load, with a short last chunk.
        let results = run_all(src, 1_000_003);
        assert!(
            results.windows(2).all(|w| w[0] == w[1]),
            "{src}: {results:?}"
        );
    }
}

#[test]
fn float_sum_is_close_to_fsum() {
    // Compensated sums: within an ulp or so of the exactly rounded sum (math.fsum's answer,
    // here computed exactly in integer arithmetic: x * 0.5 is exact).
    let (v, _) = fastiter::compile(
        "range(0, N).map(x * 0.5).sum()",
        &[ParamInfo {
            name: "N".into(),
            ty: Type::Int,
        }],
        true,
        CodegenOptions::default(),
    )
    .unwrap()
    .run(
        &[Value::int(10_000_000)],
        &RunOptions {
            threads: 2,
            jit: true,
            cancel: None,
        },
    )
    .unwrap();
    let exact = (10_000_000f64 * 9_999_999f64) / 4.0;
    match v {
        Value::Float(f) => assert_eq!(f, exact, "distance to the exact sum: {}", f - exact),
        other => panic!("expected a float, got {other}"),
    }
}

#[test]
fn int_results_agree_across_threads() {
    for src in [
        "range(0, N).filter(x % 2 == 0).map(x * x).sum()",
        "range(0, N).map(x * x * x).sum()",
        "range(0, N).map(x % 1000 - 500).min()",
        "range(0, N).map((x * 7919) % 100003).max()",
        "range(0, N).filter(x % 99991 == 0).collect()",
        "range(0, N).any(x == N - 1)",
        "range(0, N).all(x < N - 1)",
        "range(0, N).count()",
    ] {
        let results = run_all(src, 1_000_003);
        assert!(
            results.windows(2).all(|w| w[0] == w[1]),
            "{src}: {results:?}"
        );
    }
}

#[test]
fn earliest_error_wins_across_chunks() {
    // Two failing elements in different chunks: the earlier one's error is raised, at any
    // thread count (1 // 0 at x = 500000 raises ZeroDivisionError; math.sqrt(-1) at x = 900000
    // would raise ValueError).
    let src = "range(0, N).map(float(1 // (x - 500000)) if x < 800000 else math.sqrt(900000 - x)).filter(x > 0).count()";
    let params = [ParamInfo {
        name: "N".into(),
        ty: Type::Int,
    }];
    let c = fastiter::compile(src, &params, true, CodegenOptions::default()).unwrap();
    for threads in [1, 2, 4] {
        let e = c
            .run(
                &[Value::int(1_000_000)],
                &RunOptions {
                    threads,
                    jit: true,
                    cancel: None,
                },
            )
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "ZeroDivisionError: integer division or modulo by zero"
        );
    }
}
