//! Programs with Python `def`s: statements, loops, calls. The table
//! (`scripts/gen_statement_table.py` → `tests/data/statement_table.txt`) holds the values CPython
//! computed; every row must give exactly CPython's repr (or raise the same exception type) with
//! the JIT at 1 and 2 threads and with the reference interpreter. Then: constructs that must be
//! refused, each with its error kind and position, and the IR's shape for the peeled loop.

use std::panic::{catch_unwind, AssertUnwindSafe};

use fastiter::{eval, eval_constant, ErrorKind, EvalError, ExecError, RunOptions, Value};

const TABLE: &str = include_str!("data/statement_table.txt");

struct Case {
    name: String,
    program: String,
    params: Vec<(String, Value)>,
    interp: bool,
    expected: String,
}

fn cases() -> Vec<Case> {
    let mut out: Vec<Case> = Vec::new();
    let mut cur: Option<Case> = None;
    for line in TABLE.lines() {
        if let Some(head) = line.strip_prefix("### ") {
            let parts: Vec<&str> = head.split("|||").map(str::trim).collect();
            let [name, params, modes] = parts[..] else {
                panic!("bad header {line:?}");
            };
            let params = if params.is_empty() {
                Vec::new()
            } else {
                params
                    .split(", ")
                    .map(|p| {
                        let (n, v) = p.split_once('=').expect("NAME=VALUE");
                        (n.to_string(), eval_constant(v).expect("a constant"))
                    })
                    .collect()
            };
            cur = Some(Case {
                name: name.to_string(),
                program: String::new(),
                params,
                interp: modes == "all",
                expected: String::new(),
            });
        } else if let Some(e) = line.strip_prefix(">>> ") {
            let mut c = cur.take().expect("a case before its result");
            c.expected = e.to_string();
            out.push(c);
        } else if let Some(c) = cur.as_mut() {
            c.program.push_str(line);
            c.program.push('\n');
        }
    }
    assert!(out.len() >= 50, "the table has {} cases", out.len());
    out
}

fn outcome(r: Result<Value, EvalError>) -> String {
    match r {
        Ok(v) => v.to_string(),
        Err(EvalError::Exec(ExecError::Python(code) | ExecError::PythonCall(code, _))) => {
            format!("raises {}", code.exc_type().name())
        }
        Err(e) => format!("error: {e}"),
    }
}

fn check(jit: bool, threads: usize) {
    let opts = RunOptions {
        threads,
        jit,
        cancel: None,
    };
    let mut failures = Vec::new();
    let all = cases();
    let mut ran = 0;
    for c in &all {
        if !jit && !c.interp {
            continue;
        }
        ran += 1;
        let got = catch_unwind(AssertUnwindSafe(|| {
            outcome(eval(&c.program, &c.params, &opts))
        }))
        .unwrap_or_else(|_| "PANICKED".to_string());
        if got != c.expected {
            failures.push(format!(
                "{}:\n{}  expected {}\n  got      {}",
                c.name, c.program, c.expected, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {ran} cases differ from CPython (jit={jit}, threads={threads}):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn jit_one_thread_matches_cpython() {
    check(true, 1);
}

#[test]
fn jit_two_threads_matches_cpython() {
    check(true, 2);
}

#[test]
fn interpreter_matches_cpython() {
    check(false, 1);
}

/// Compile `program` and expect an error of `kind` at (line, column) whose message contains
/// `needle`.
fn refused(program: &str, kind: ErrorKind, at: (usize, usize), needle: &str) {
    let params = [fastiter::ir::ParamInfo {
        name: "N".into(),
        ty: fastiter::ir::Type::Int,
    }];
    let e = match fastiter::compile(program, &params, false, Default::default()) {
        Ok(_) => panic!("should be refused:\n{program}"),
        Err(fastiter::Error::Compile(e)) => e,
        Err(e) => panic!("{e}"),
    };
    let rendered = e.render(program);
    assert_eq!(e.kind, kind, "{rendered}");
    assert_eq!(e.line_col(program), at, "{rendered}");
    assert!(e.message.contains(needle), "{rendered}");
}

#[test]
fn type_depending_on_data_is_tagged() {
    // A local whose type differs by path, and returns of different types: the call's value
    // is a tagged number (the values are checked against CPython in the table above).
    for program in [
        "def f(x):\n    r = x\n    for i in range(x):\n        r = r * 0.5\n    return r\nrange(N).map(f).sum()",
        "def f(x):\n    if x > 1:\n        return 1\n    return 0.5\nrange(N).map(f).sum()",
    ] {
        let params = [fastiter::ir::ParamInfo {
            name: "N".into(),
            ty: fastiter::ir::Type::Int,
        }];
        let c = fastiter::compile(program, &params, false, Default::default())
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        let ir = fastiter::ir::display::pipeline(&c.pipeline);
        assert!(ir.contains("tag."), "{ir}");
    }
}

#[test]
fn unbound_and_missing_returns_are_refused() {
    refused(
        "def f(x):\n    if x > 1:\n        y = 2\n    return y\nrange(N).map(f).sum()",
        ErrorKind::Unsupported,
        (4, 12),
        "may be used before it is assigned",
    );
    refused(
        "def f(x):\n    if x > 1:\n        return 2\nrange(N).map(f).sum()",
        ErrorKind::Unsupported,
        (1, 1),
        "without `return`",
    );
    refused(
        "def f(x):\n    return\nrange(N).map(f).sum()",
        ErrorKind::Unsupported,
        (2, 5),
        "returns None",
    );
}

#[test]
fn other_unsupported_constructs_are_refused() {
    refused(
        "def f(x):\n    return f(x - 1)\nrange(N).map(f).sum()",
        ErrorKind::Unsupported,
        (2, 12),
        "recursive call",
    );
    refused(
        "def f(x):\n    for i in [1, 2]:\n        x += i\n    return x\nrange(N).map(f).sum()",
        ErrorKind::Unsupported,
        (2, 14),
        "only `for NAME in range(...)`",
    );
    refused(
        "def f(x):\n    import math\n    return x\nrange(N).map(f).sum()",
        ErrorKind::Unsupported,
        (2, 5),
        "`import` statements",
    );
    refused(
        "def f(x):\n    while x:\n        x -= 1\n    else:\n        x = 3\n    return x\nrange(N).map(f).sum()",
        ErrorKind::Unsupported,
        (4, 5),
        "'else' clause on a loop",
    );
    refused(
        "def f(x):\n    def g(y):\n        return y\n    return g(x)\nrange(N).map(f).sum()",
        ErrorKind::Unsupported,
        (2, 5),
        "nested functions",
    );
    refused(
        "def f(x, y=1 + 1):\n    return x\nrange(N).map(f).sum()",
        ErrorKind::Unsupported,
        (1, 12),
        "a default value must be a number, a bool or a parameter",
    );
    refused(
        "def f(x, y=1, z):\n    return x\nrange(N).map(f).sum()",
        ErrorKind::Syntax,
        (1, 15),
        "non-default argument follows default argument",
    );
    refused(
        "def f(x, y=1):\n    return x\nrange(N).map(lambda x: f(x, z=2)).sum()",
        ErrorKind::Type,
        (3, 29),
        "f() got an unexpected keyword argument 'z'",
    );
    refused(
        "def f(x):\n    a, b = x\n    return a\nrange(N).map(f).sum()",
        ErrorKind::Unsupported,
        (2, 12),
        "unpacking",
    );
}

#[test]
fn python_errors_are_reported_as_python_would() {
    refused(
        "def f(x):\n    break\n    return x\nrange(N).map(f).sum()",
        ErrorKind::Syntax,
        (2, 5),
        "'break' outside loop",
    );
    refused(
        "def f(x, y):\n    return x\nrange(N).map(f).sum()",
        ErrorKind::Type,
        (3, 14),
        "f() missing 1 required positional argument: 'y'",
    );
    refused(
        "def f(x):\n    return x\n  range(N).sum()",
        ErrorKind::Syntax,
        (3, 3),
        "unindent does not match any outer indentation level",
    );
    refused(
        "def f(x):\n    return x +\nrange(N).map(f).sum()",
        ErrorKind::Syntax,
        (2, 15),
        "expected an expression",
    );
    refused(
        "def f(x):\n    return x\n",
        ErrorKind::Syntax,
        (2, 13),
        "expected the pipeline expression",
    );
}

#[test]
fn the_example_compiles_to_a_peeled_loop() {
    let src = "def expensive_computation(x):\n    result = x\n    for _ in range(20):\n        result = (result * 1.1 + 1) % 1000000\n    return int(result)\n\nrange(0, N).map(expensive_computation).sum()\n";
    let params = [fastiter::ir::ParamInfo {
        name: "N".into(),
        ty: fastiter::ir::Type::Int,
    }];
    let c = fastiter::compile(src, &params, true, Default::default()).expect("compiles");
    let ir = fastiter::ir::display::pipeline(&c.pipeline);
    // The first iteration with `result` an int, the loop with `result` a float; the exit
    // type is known because range(20) runs at least once.
    assert!(
        ir.contains(
            "(first (set result.4 (fmod (fadd (fmul (int->float result.2) 1.1) 1.0) 1000000.0)))"
        ),
        "{ir}"
    );
    assert!(
        ir.contains("(loop (set result.4 (fmod (fadd (fmul result.4 1.1) 1.0) 1000000.0)))"),
        "{ir}"
    );
    assert!(ir.contains("(return (float->int.trunc result.4))"), "{ir}");
    assert!(c.kernel.is_some());
}

#[test]
fn int_overflow_inside_statements_is_recomputed_exactly() {
    // i64 overflows inside the loop: the chunk is recomputed by the interpreter.
    let src = "def f(x):\n    p = 1\n    for i in range(x):\n        p = p * 3\n    return p\nrange(0, 100).map(f).max()";
    let opts = RunOptions {
        threads: 2,
        jit: true,
        cancel: None,
    };
    let v = eval(src, &[], &opts).expect("runs");
    assert_eq!(
        v.to_string(),
        "171792506910670443678820376588540424234035840667"
    );
}
