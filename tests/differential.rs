//! Differential property test: random pipelines from the grammar × random parameters; the
//! JIT (1 and 2 threads) must give exactly what the reference interpreter gives — the same
//! value (by Python repr) or the same Python exception.

use fastiter::ir::{ParamInfo, Type};
use fastiter::{CodegenOptions, ExecError, RunOptions, Value};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn int_leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just("x".to_string()),
        2 => Just("a".to_string()),
        1 => Just("b".to_string()),
        3 => (-3i64..=10).prop_map(|v| v.to_string()),
        1 => prop::sample::select(vec![
            "2**62", "10**18", "-2**63", "2**63 - 1", "10**20", "-(2**53) - 1", "2**31", "0", "-1", "True", "False"
        ])
        .prop_map(|s| format!("({s})")),
    ]
}

fn float_leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => Just("f".to_string()),
        1 => Just("float(x)".to_string()),
        2 => prop::sample::select(vec![
            "0.5", "-1.5", "0.0", "-0.0", "1e300", "2.5", "1e-300", "3.0", "math.pi", "math.inf", "-math.inf", "math.nan", "9007199254740993.0"
        ])
        .prop_map(|s| format!("({s})")),
    ]
}

/// An expression over `x` (int), `a`, `b` (int params) and `f` (float param), mostly well
/// typed; ill-typed ones are refused by the compiler and skipped.
fn expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![3 => int_leaf(), 1 => float_leaf()];
    leaf.prop_recursive(4, 24, 3, |inner| {
        let bin = prop::sample::select(vec![
            "+", "-", "*", "//", "%", "/", "<<", ">>", "&", "|", "^", "<", "<=", "==", "!=", ">", ">=", "and", "or",
        ]);
        prop_oneof![
            6 => (inner.clone(), bin, inner.clone()).prop_map(|(l, op, r)| format!("({l} {op} {r})")),
            1 => (inner.clone(), 0u32..6).prop_map(|(l, k)| format!("({l} ** {k})")),
            1 => (inner.clone(), prop::sample::select(vec!["-2", "-1", "0.5", "2.0", "f"])).prop_map(|(l, k)| format!("({l} ** {k})")),
            2 => (prop::sample::select(vec!["-", "~", "not ", "+"]), inner.clone()).prop_map(|(op, e)| format!("({op}{e})")),
            2 => (prop::sample::select(vec!["abs", "int", "float", "bool", "round", "math.floor", "math.ceil", "math.sqrt", "math.log", "math.exp", "math.sin", "math.fabs", "math.log2"]), inner.clone())
                .prop_map(|(f, e)| format!("{f}({e})")),
            1 => (prop::sample::select(vec!["min", "max"]), inner.clone(), inner.clone()).prop_map(|(f, a, b)| format!("{f}({a}, {b})")),
            1 => (inner.clone(), inner.clone(), inner.clone()).prop_map(|(a, c, b)| format!("({a} if {c} else {b})")),
            1 => (inner.clone(), inner.clone(), inner.clone()).prop_map(|(a, b, c)| format!("({a} < {b} <= {c})")),
        ]
    })
}

fn source() -> impl Strategy<Value = String> {
    let bound = prop_oneof![
        6 => (-40i64..40).prop_map(|v| v.to_string()),
        1 => Just("a".to_string()),
        1 => prop::sample::select(vec!["2**62", "-2**62", "2**63 - 5", "-2**63", "9223372036854775000"]).prop_map(String::from),
    ];
    prop_oneof![
        5 => (bound.clone(), 0i64..60, prop::sample::select(vec![1i64, 1, 1, 2, 3, -1, -2, 7])).prop_map(|(s, n, step)| {
            if step > 0 { format!("range({s}, ({s}) + {n}, {step})") } else { format!("range({s}, ({s}) - {n}, {step})") }
        }),
        2 => (-30i64..30).prop_map(|n| format!("range({n})")),
        1 => (0i64..2).prop_map(|k| if k == 0 { "range(-20000, 21000, 1)".to_string() } else { "range(40000, 0, -1)".to_string() }),
        1 => prop::collection::vec(-20i64..20, 0..8).prop_map(|v| format!("[{}]", v.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", "))),
        1 => prop::collection::vec(prop::sample::select(vec!["0.5", "-0.0", "1e308", "-2.5", "3.0", "math.nan", "1e-320"]), 0..6)
            .prop_map(|v| format!("[{}]", v.join(", "))),
    ]
}

fn pipeline() -> impl Strategy<Value = String> {
    let stage = prop_oneof![
        4 => expr().prop_map(|e| format!(".map({e})")),
        3 => expr().prop_map(|e| format!(".filter({e})")),
        2 => expr().prop_map(|e| format!(".map(lambda x: {e})")),
        1 => (expr(), prop::sample::select(vec!["sum", "count", "product", "any", "all"]))
            .prop_map(|(e, c)| format!(".map(lambda i: range(-3, i % 40).map(lambda x: {e}).{c}())")),
        1 => Just(".flat_map(lambda i: range(i % 30))".to_string()),
        1 => prop::sample::select(vec![
            ".enumerate().map(lambda t: t[1] * 2 - t[0])",
            ".enumerate().filter(lambda t: t[0] % 3 != 1).map(lambda t: t[1])",
            ".zip(range(a, a + 50, 2)).map(lambda p: p[0] - p[1])",
            ".zip(range(-5, 1000)).filter(lambda p: p[1] % 2 == 0).map(lambda p: p[0])",
            ".map(lambda v: (v, v * 2)).map(lambda t: t[0] + t[-1])",
        ])
        .prop_map(String::from),
    ];
    let view = prop::sample::select(vec![
        "",
        "",
        "",
        "",
        "",
        "",
        ".chain(range(b, b - 30, -2))",
        ".skip(3)",
        ".take(7)",
        ".step_by(2)",
        ".step_by(5)",
        ".skip(b % 9)",
        ".take(a)",
        ".step_by(3).skip(1).take(4)",
        ".skip(100000)",
    ]);
    let consumer = prop_oneof![
        3 => Just(".sum()".to_string()),
        1 => Just(".count()".to_string()),
        2 => Just(".min()".to_string()),
        2 => Just(".max()".to_string()),
        1 => Just(".any()".to_string()),
        1 => Just(".all()".to_string()),
        1 => expr().prop_map(|e| format!(".any({e})")),
        1 => expr().prop_map(|e| format!(".all({e})")),
        1 => Just(".collect()".to_string()),
        1 => expr().prop_map(|e| format!(".reduce(0, lambda acc, x: acc + {e})")),
        1 => Just(".reduce(1.0, lambda p, q: p * q)".to_string()),
        1 => Just(".reduce(0, lambda p, q: max(p, q))".to_string()),
        1 => Just(".product()".to_string()),
        1 => (prop::sample::select(vec!["find_first", "find_any", "position_first", "position_any"]), expr())
            .prop_map(|(c, e)| format!(".{c}({e})")),
        1 => (prop::sample::select(vec!["min_by_key", "max_by_key"]), expr())
            .prop_map(|(c, e)| format!(".{c}(lambda x: {e})")),
    ];
    (source(), view, prop::collection::vec(stage, 0..4), consumer)
        .prop_map(|(s, v, stages, c)| format!("{s}{v}{}{c}", stages.concat()))
}

fn param_values() -> impl Strategy<Value = (i64, i64, f64)> {
    let int = prop_oneof![
        4 => -50i64..50,
        1 => prop::sample::select(vec![i64::MIN, i64::MAX, i64::MIN + 1, 1 << 62, -(1 << 53) - 1, 3037000500]),
    ];
    let float = prop_oneof![
        3 => -100.0f64..100.0,
        1 => prop::sample::select(vec![0.0, -0.0, f64::INFINITY, f64::NAN, 1e308, 5e-324, 0.1, 2.5, -3.5]),
    ];
    (int.clone(), int, float)
}

static COMPILED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static REFUSED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[derive(Debug, PartialEq)]
enum Outcome {
    Value(String),
    Raised(String),
    Refused(String),
}

fn outcome(r: Result<(Value, fastiter::RunStats), ExecError>) -> Outcome {
    match r {
        Ok((v, _)) => Outcome::Value(v.to_string()),
        Err(ExecError::Python(code)) if code.is_refusal() => Outcome::Refused(code.to_string()),
        Err(ExecError::Python(code)) => Outcome::Raised(code.to_string()),
        Err(e) => Outcome::Refused(e.to_string()),
    }
}

fn check(src: &str, a: i64, b: i64, f: f64) -> Result<(), TestCaseError> {
    let params = [
        ParamInfo {
            name: "a".into(),
            ty: Type::Int,
        },
        ParamInfo {
            name: "b".into(),
            ty: Type::Int,
        },
        ParamInfo {
            name: "f".into(),
            ty: Type::Float,
        },
    ];
    let compiled = match fastiter::compile(src, &params, true, CodegenOptions::default()) {
        Ok(c) => c,
        Err(fastiter::Error::Compile(e)) => {
            // Refused: allowed, and not this test's subject; counted so that a generator
            // producing mostly refusals shows up.
            if std::env::var("DIFF_VERBOSE").is_ok() {
                eprintln!("refused: {src}: {e}");
            }
            REFUSED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(());
        }
        Err(e) => return Err(TestCaseError::fail(format!("{src}: {e}"))),
    };
    COMPILED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let values = [Value::int(a), Value::int(b), Value::Float(f)];
    let run = |jit: bool, threads: usize| {
        outcome(compiled.run(
            &values,
            &RunOptions {
                threads,
                jit,
                cancel: None,
            },
        ))
    };
    let expected = run(false, 1);
    for threads in [1, 2] {
        let got = run(true, threads);
        prop_assert_eq!(
            &got,
            &expected,
            "{} with a={}, b={}, f={:?}, {} thread(s)",
            src,
            a,
            b,
            f,
            threads
        );
    }
    Ok(())
}

#[test]
fn jit_matches_interpreter() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&(pipeline(), param_values()), |(src, (a, b, f))| {
            check(&src, a, b, f)
        })
        .unwrap();
    let compiled = COMPILED.load(std::sync::atomic::Ordering::Relaxed);
    let refused = REFUSED.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("{cases} cases: {compiled} compiled and compared, {refused} refused by the compiler");
    // About half compile: the rest are ill-typed expressions and adaptor placements the
    // compiler refuses (which must be refusals, never wrong answers). Below 40% the generator
    // has stopped testing the JIT.
    assert!(
        compiled * 5 > cases as usize * 2,
        "the generator produces too few compilable pipelines"
    );
}

/// Hand-picked cases the generator reaches only rarely.
#[test]
fn edge_cases_match_interpreter() {
    let cases = [
        "range(-2**63, -2**63 + 10).map(x - 1).sum()",
        "range(2**63 - 10, 2**63 - 1).map(x + a).sum()",
        "range(10).map(x * 10**18).map(x * x).sum()",
        "range(100).map(-x // 7 + x % -3).collect()",
        "range(-2**63, -2**63 + 3).map(x // -1).collect()",
        "range(-2**63, -2**63 + 3).map(x % -1).collect()",
        "range(-5, 5).map(abs(x * 2**62)).collect()",
        "range(0, 50000).map(x * 0.1).sum()",
        "[math.nan, 1.0, 0.5].min()",
        "[1.0, math.nan, 0.5].max()",
        "range(0, 40000).map(math.nan if x == 30000 else float(x)).min()",
        "range(0, 40000).map(float(x) if x != 20000 else math.nan).max()",
        "range(1, 40000).filter(x % 1000 == 0).map(1000 // (x - 25000)).sum()",
        "range(0, 100000).any(x == 99999)",
        "range(0, 100000).all(x < 50000)",
        "range(10).map(x << 62).collect()",
        "range(10).map(x >> 70).collect()",
        "range(10).map(1 << x).map(x * 2**55).sum()",
        "range(-3, 3).map(x / 0.5).collect()",
        "range(-3, 3).map((x + 2**60) / 3).collect()",
        "range(-3, 3).map(x == 9007199254740993.0).collect()",
        "range(9007199254740990, 9007199254740996).map(x < 9007199254740993.0).collect()",
        "range(9007199254740990, 9007199254740996).map(9007199254740992.0 >= x).collect()",
        "range(10).map(round(x / 2)).collect()",
        "range(10).map(round(x / 2 + 0.5)).collect()",
        "range(10).map(int(x * 1e18)).collect()",
        "range(10).map(math.floor(x * -1e18)).sum()",
        "range(5).reduce(lambda: 0, lambda a, b: a * 10**9 + b)",
        "range(0).reduce(7, lambda a, b: a + b)",
        "range(0).map(x * 0.5).sum()",
        "[-0.0].sum()",
        "[True, False, True].sum()",
        "[True, False].max()",
        "range(20).map(x % 3 == 0).sum()",
        "range(20).map(x if x % 2 else -x).filter(x and x > 3 or x < -5).collect()",
        "range(20).map(x and x - 10).collect()",
        "range(20).map(x or a).collect()",
        "range(5).map(math.log(x * 10**10)).collect()",
        "range(5).map(math.log(x + 1, 2)).collect()",
        "range(a, b).filter(x % 2 == 0).map(x * x).sum()",
        "range(a, a + 100).filter(x % 7 == 3).collect()",
        "range(-2**63, -2**63 + 50).filter(x % 4 == 1).collect()",
        "range(2**63 - 50, 2**63 - 1).filter(x % 9 == 8).collect()",
        "range(-20, 20).filter(0 == x % 3).count()",
        "range(b - 20, b).filter(x % 5 == 4).max()",
    ];
    for src in cases {
        for (a, b, f) in [(3, -2, 0.5), (i64::MIN, i64::MAX, f64::NAN)] {
            check(src, a, b, f).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}
