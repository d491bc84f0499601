//! The checks the fuzz targets make on one input, shared with `tests/fuzz_findings.rs` (which
//! includes this file by path), so that a finding is replayed there through the very same code.
//! Depends only on the `fastiter` library.

use fastiter::ir::{ParamInfo, Type};
use fastiter::{CodegenOptions, Compiled, Error, ExecError, RunOptions, Value};

/// The parameters every fuzzed pipeline may read: `a`, `b` (ints) and `f` (a float), as in
/// `tests/differential.rs`.
pub fn params() -> [ParamInfo; 3] {
    let p = |name: &str, ty| ParamInfo {
        name: name.into(),
        ty,
    };
    [p("a", Type::Int), p("b", Type::Int), p("f", Type::Float)]
}

/// What running a pipeline gave: its value by Python repr (and a float's bits), CPython's
/// exception, or a refusal to answer (allowed, but it must be the same one everywhere).
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Value(String),
    Raised(String),
    Refused(String),
}

pub fn outcome(r: Result<(Value, fastiter::RunStats), ExecError>) -> Outcome {
    match r {
        // A float's repr round-trips, so it already tells floats apart by bits (-0.0
        // included), except NaNs, which Python does not tell apart either.
        Ok((Value::Float(v), _)) if !v.is_nan() => {
            Outcome::Value(format!("{} bits={:#x}", Value::Float(v), v.to_bits()))
        }
        Ok((v, _)) => Outcome::Value(v.to_string()),
        Err(ExecError::Python(code) | ExecError::PythonCall(code, _)) if code.is_refusal() => {
            Outcome::Refused(code.to_string())
        }
        Err(ExecError::Python(code) | ExecError::PythonCall(code, _)) => {
            Outcome::Raised(code.to_string())
        }
        Err(e) => Outcome::Refused(e.to_string()),
    }
}

/// Compiles `src` for the JIT with the kernel cache off. `None`: the compiler refused it (a
/// `CompileError`, fine for any input). Panics on an internal compiler error (the IR
/// verifier, a pass or Cranelift rejected what lowering produced): that is always a bug.
pub fn compile(src: &str) -> Option<Compiled> {
    let cg = CodegenOptions {
        no_cache: true,
        ..CodegenOptions::default()
    };
    match fastiter::compile(src, &params(), true, cg) {
        Ok(c) => Some(c),
        Err(Error::Compile(_)) => None,
        Err(e @ Error::Internal(_)) => panic!("{src:?}: {e}"),
    }
}

fn run(c: &Compiled, values: &[Value], jit: bool, threads: usize) -> Outcome {
    outcome(c.run(
        values,
        &RunOptions {
            threads,
            jit,
            cancel: None,
        },
    ))
}

/// The JIT at each of `threads` must give exactly the interpreter's outcome.
pub fn compare(c: &Compiled, src: &str, a: i64, b: i64, f: f64, threads: &[usize]) {
    let values = [Value::int(a), Value::int(b), Value::Float(f)];
    let expected = run(c, &values, false, 1);
    for &t in threads {
        let got = run(c, &values, true, t);
        assert_eq!(
            got, expected,
            "JIT != interpreter: {src:?} with a={a}, b={b}, f={f:?}, {t} thread(s)"
        );
    }
}

/// The parameter values of a `compile_text` run.
pub const TEXT_PARAMS: (i64, i64, f64) = (3, -2, 0.5);

/// `compile_text`: any text compiles or is refused, never panics or fails inside the compiler;
/// when it compiles and its work is surely small (`bounded_text`, and at most 20 000 source
/// elements), the JIT at 1 thread gives the interpreter's outcome.
pub fn compile_text(text: &str) {
    let Some(c) = compile(text) else { return };
    if !bounded_text(text) {
        return;
    }
    let (a, b, f) = TEXT_PARAMS;
    let values = [Value::int(a), Value::int(b), Value::Float(f)];
    // An error here is the run's own first error, found as quickly.
    if fastiter::exec::eval_source(&c.lowered, &values, None).is_ok_and(|s| s.len() > 20_000) {
        return;
    }
    compare(&c, text, a, b, f, &[1]);
}

/// Whether running a text is surely quick, given a source of at most 20 000 elements: short,
/// no statements or comprehensions (loops whose trip count cannot be seen), no `range` but
/// the source (no nested or chained loops), and no operation that builds huge ints (`**`,
/// `<<`, `pow`, `factorial`, `comb`, `perm`, `lcm`, more than six `*`). Conservative on
/// purpose: the compiler is this target's subject; `jit_vs_interp` runs generated pipelines
/// of known size.
pub fn bounded_text(text: &str) -> bool {
    let text = text.trim_start();
    let ranges = text.matches("range").count();
    if text.len() > 400
        || ranges > 1
        || (ranges == 1 && !text.starts_with("range("))
        || text.matches('*').count() > 6
    {
        return false;
    }
    let banned = [
        "def",
        "while",
        "for",
        "**",
        "<<",
        "pow",
        "factorial",
        "comb",
        "perm",
        "lcm",
        "repeat",
        "ldexp",
        "prod",
    ];
    !banned.iter().any(|w| text.contains(w))
}
