//! The CPython table: pipelines whose expected values CPython itself computed
//! (`scripts/gen_cpython_table.py` writes `tests/data/cpython_table.txt`). Every row must give
//! exactly CPython's repr, or raise the same exception type, with the JIT at 1 and 2 threads
//! and with the interpreter. Rows marked `REFUSED` (CPython answers with a complex number)
//! must be refused: a compile error or a run-time refusal, never a value or another exception.
//!
//! Each test checks every row and then lists all mismatches at once.

use std::panic::{catch_unwind, AssertUnwindSafe};

use fastiter::{eval, eval_constant, EvalError, ExecError, RunOptions, Value};

const TABLE: &str = include_str!("data/cpython_table.txt");

struct Row {
    line: usize,
    pipeline: String,
    params_text: String,
    params: Vec<(String, Value)>,
    expected: String,
}

fn parse_params(text: &str, line: usize) -> Vec<(String, Value)> {
    if text.is_empty() {
        return Vec::new();
    }
    text.split(", ")
        .map(|item| {
            let (name, value) = item
                .split_once('=')
                .unwrap_or_else(|| panic!("line {line}: parameter `{item}` is not NAME=VALUE"));
            let v = eval_constant(value.trim())
                .unwrap_or_else(|e| panic!("line {line}: parameter value `{value}`: {e}"));
            (name.trim().to_string(), v)
        })
        .collect()
}

fn rows() -> Vec<Row> {
    let mut out = Vec::new();
    for (i, raw) in TABLE.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() || raw.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = raw.split("|||").map(str::trim).collect();
        let [pipeline, params_text, expected] = parts[..] else {
            panic!("line {line}: expected `PIPELINE ||| PARAMS ||| EXPECTED`, got {raw:?}");
        };
        out.push(Row {
            line,
            pipeline: pipeline.to_string(),
            params_text: params_text.to_string(),
            params: parse_params(params_text, line),
            expected: expected.to_string(),
        });
    }
    out
}

/// What fastiter did with a row.
enum Outcome {
    Value(String),
    Raises {
        exc: &'static str,
        message: String,
    },
    /// A compile error, an `Unsupported` run, or a refusal code (complex result).
    Refused(String),
    Other(String),
    Panicked(String),
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Value(v) => write!(f, "{v}"),
            Outcome::Raises { exc, message } => write!(f, "raises {exc} ({message})"),
            Outcome::Refused(why) => write!(f, "refused: {why}"),
            Outcome::Other(e) => write!(f, "error: {e}"),
            Outcome::Panicked(msg) => write!(f, "PANICKED: {msg}"),
        }
    }
}

fn outcome(r: Result<Value, EvalError>) -> Outcome {
    match r {
        Ok(v) => Outcome::Value(v.to_string()),
        Err(EvalError::Exec(ExecError::Python(code) | ExecError::PythonCall(code, _)))
            if code.is_refusal() =>
        {
            Outcome::Refused(code.to_string())
        }
        Err(EvalError::Exec(ExecError::Python(code) | ExecError::PythonCall(code, _))) => {
            Outcome::Raises {
                exc: code.exc_type().name(),
                message: code.message().to_string(),
            }
        }
        Err(EvalError::Exec(ExecError::Unsupported(why))) => Outcome::Refused(why),
        Err(EvalError::Compile(e)) => Outcome::Refused(format!("compile error: {e}")),
        Err(e @ EvalError::Exec(ExecError::Cancelled)) => Outcome::Other(e.to_string()),
    }
}

fn matches(expected: &str, got: &Outcome) -> bool {
    if expected.starts_with("REFUSED") {
        matches!(got, Outcome::Refused(_))
    } else if let Some(exc) = expected.strip_prefix("raises ") {
        matches!(got, Outcome::Raises { exc: e, .. } if *e == exc)
    } else {
        matches!(got, Outcome::Value(v) if v == expected)
    }
}

fn run_row(row: &Row, opts: &RunOptions) -> Outcome {
    let res = catch_unwind(AssertUnwindSafe(|| eval(&row.pipeline, &row.params, opts)));
    match res {
        Ok(r) => outcome(r),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "(non-string panic payload)".to_string());
            Outcome::Panicked(msg)
        }
    }
}

fn check_all(label: &str, jit: bool, threads: usize) {
    let opts = RunOptions {
        threads,
        jit,
        cancel: None,
    };
    let rows = rows();
    let mut failures = Vec::new();
    for row in &rows {
        let got = run_row(row, &opts);
        if !matches(&row.expected, &got) {
            let params = if row.params_text.is_empty() {
                "-"
            } else {
                &row.params_text
            };
            failures.push(format!(
                "line {}: {}\n    params:   {}\n    expected: {}\n    got:      {}",
                row.line, row.pipeline, params, row.expected, got
            ));
        }
    }
    if !failures.is_empty() {
        panic!(
            "{label}: {} of {} CPython table rows differ from CPython:\n\n{}\n",
            failures.len(),
            rows.len(),
            failures.join("\n\n")
        );
    }
}

#[test]
fn table_is_well_formed() {
    let rows = rows();
    assert!(rows.len() >= 200, "only {} rows in the table", rows.len());
    for row in &rows {
        assert!(
            !row.expected.is_empty(),
            "line {}: no expected value",
            row.line
        );
    }
}

#[test]
fn jit_one_thread_matches_cpython() {
    check_all("JIT, 1 thread", true, 1);
}

#[test]
fn jit_two_threads_matches_cpython() {
    check_all("JIT, 2 threads", true, 2);
}

#[test]
fn interpreter_matches_cpython() {
    check_all("interpreter (jit: false), 2 threads", false, 2);
}
