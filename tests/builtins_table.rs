//! The builtins table: pipelines and programs calling `math.*`, `divmod`, `pow`, `round` and
//! the int/float methods, with the values every CPython found by
//! `scripts/gen_builtins_table.py` computes (`tests/data/builtins_table.txt`). Each row is
//! compiled for each CPython version recorded (`compile_for`), and must give that version's
//! repr, or raise its exception type, with the JIT at 1 and 2 threads and with the
//! interpreter. Where CPython raises TypeError, AttributeError or IndexError, fastiter refuses
//! at compile time instead (the Python fallback raises them). `REFUSED` rows, where CPython has
//! a value fastiter declines to compute, must be refused, never answered.
//!
//! Each test checks every row and then lists all mismatches at once.

use std::panic::{catch_unwind, AssertUnwindSafe};

use fastiter::{eval_constant, CodegenOptions, EvalError, ExecError, RunOptions, Value};

const TABLE: &str = include_str!("data/builtins_table.txt");

struct Row {
    line: usize,
    text: String,
    params_text: String,
    params: Vec<(String, Value)>,
    /// (version, expected) for every version checked.
    expected: Vec<((u8, u8), String)>,
}

fn version(v: &str) -> (u8, u8) {
    let (a, b) = v.split_once('.').expect("MAJOR.MINOR");
    (a.parse().expect("a number"), b.parse().expect("a number"))
}

fn rows() -> Vec<Row> {
    let mut versions = Vec::new();
    let mut out = Vec::new();
    for (i, raw) in TABLE.lines().enumerate() {
        let line = i + 1;
        if let Some(v) = raw.strip_prefix("# versions: ") {
            versions = v.split_whitespace().map(version).collect();
            continue;
        }
        if raw.trim().is_empty() || raw.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = raw.split("|||").map(str::trim).collect();
        let [text, params_text, expected] = parts[..] else {
            panic!("line {line}: expected `PIPELINE ||| PARAMS ||| EXPECTED`, got {raw:?}");
        };
        let params = if params_text.is_empty() {
            Vec::new()
        } else {
            params_text
                .split(", ")
                .map(|item| {
                    let (name, value) = item.split_once('=').expect("NAME=VALUE");
                    let v = eval_constant(value.trim())
                        .unwrap_or_else(|e| panic!("line {line}: `{value}`: {e}"));
                    (name.trim().to_string(), v)
                })
                .collect()
        };
        let expected = if expected.starts_with('@') {
            expected
                .split(" @")
                .map(|p| {
                    let (v, r) = p
                        .trim_start_matches('@')
                        .split_once(' ')
                        .expect("@V RESULT");
                    (version(v), r.to_string())
                })
                .collect()
        } else {
            versions
                .iter()
                .map(|v| (*v, expected.to_string()))
                .collect()
        };
        out.push(Row {
            line,
            text: text.replace("\\n", "\n"),
            params_text: params_text.to_string(),
            params,
            expected,
        });
    }
    assert!(!versions.is_empty(), "no `# versions:` line");
    out
}

/// What fastiter did with a row.
enum Outcome {
    Value(String),
    Raises(&'static str),
    /// A compile error (`compile`), or a run-time refusal.
    Refused {
        compile: bool,
        why: String,
    },
    Other(String),
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Value(v) => write!(f, "{v}"),
            Outcome::Raises(exc) => write!(f, "raises {exc}"),
            Outcome::Refused { why, .. } => write!(f, "refused: {why}"),
            Outcome::Other(e) => write!(f, "{e}"),
        }
    }
}

fn run(row: &Row, python: (u8, u8), opts: &RunOptions) -> Outcome {
    let infos: Vec<fastiter::ir::ParamInfo> = row
        .params
        .iter()
        .map(|(n, v)| fastiter::ir::ParamInfo {
            name: n.clone(),
            ty: v.ty().expect("a scalar"),
        })
        .collect();
    let values: Vec<Value> = row.params.iter().map(|(_, v)| v.clone()).collect();
    let res = catch_unwind(AssertUnwindSafe(|| {
        let c = fastiter::compile_for(
            &row.text,
            &infos,
            None,
            opts.jit,
            CodegenOptions::default(),
            python,
        )
        .map_err(EvalError::from)?;
        Ok::<Value, EvalError>(c.run(&values, opts)?.0)
    }));
    match res {
        Ok(Ok(v)) => Outcome::Value(v.to_string()),
        Ok(Err(EvalError::Exec(ExecError::Python(code) | ExecError::PythonCall(code, _))))
            if code.is_refusal() =>
        {
            Outcome::Refused {
                compile: false,
                why: code.to_string(),
            }
        }
        Ok(Err(EvalError::Exec(ExecError::Python(code) | ExecError::PythonCall(code, _)))) => {
            Outcome::Raises(code.exc_type().name())
        }
        Ok(Err(EvalError::Exec(ExecError::Unsupported(why)))) => Outcome::Refused {
            compile: false,
            why,
        },
        Ok(Err(EvalError::Compile(e))) => Outcome::Refused {
            compile: true,
            why: e.to_string(),
        },
        Ok(Err(e)) => Outcome::Other(e.to_string()),
        Err(_) => Outcome::Other("PANICKED".to_string()),
    }
}

fn matches(expected: &str, got: &Outcome) -> bool {
    if expected.starts_with("REFUSED") {
        return matches!(got, Outcome::Refused { .. });
    }
    if let Some(exc) = expected.strip_prefix("raises ") {
        // Type and attribute errors are refused at compile time: the fallback raises them.
        let compile_time = matches!(exc, "TypeError" | "AttributeError" | "IndexError");
        return matches!(got, Outcome::Raises(e) if *e == exc)
            || (compile_time && matches!(got, Outcome::Refused { compile: true, .. }));
    }
    matches!(got, Outcome::Value(v) if v == expected)
}

fn check_all(label: &str, jit: bool, threads: usize) {
    let opts = RunOptions {
        threads,
        jit,
        cancel: None,
    };
    let rows = rows();
    let mut failures = Vec::new();
    let mut checks = 0;
    for row in &rows {
        for (python, expected) in &row.expected {
            checks += 1;
            let got = run(row, *python, &opts);
            if !matches(expected, &got) {
                failures.push(format!(
                    "line {} (Python {}.{}): {}\n    params:   {}\n    expected: {}\n    got:      {}",
                    row.line,
                    python.0,
                    python.1,
                    row.text,
                    if row.params_text.is_empty() { "-" } else { &row.params_text },
                    expected,
                    got
                ));
            }
        }
    }
    if !failures.is_empty() {
        panic!(
            "{label}: {} of {checks} checks differ from CPython:\n\n{}\n",
            failures.len(),
            failures.join("\n\n")
        );
    }
}

#[test]
fn table_is_well_formed() {
    let rows = rows();
    assert!(rows.len() >= 150, "only {} rows in the table", rows.len());
    for row in &rows {
        assert!(
            !row.expected.is_empty(),
            "line {}: no expected value",
            row.line
        );
        assert!(
            row.expected.iter().all(|(_, e)| !e.is_empty()),
            "line {}: an empty expectation",
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

/// What the compiler refuses names the construct and the reason.
#[test]
fn version_gates_name_the_version() {
    let compile = |src: &str, python| match fastiter::compile_for(
        src,
        &[],
        None,
        false,
        CodegenOptions::default(),
        python,
    ) {
        Ok(_) => None,
        Err(e) => Some(e.to_string()),
    };
    let e = compile("range(0, 3).map(lambda x: x.bit_count()).sum()", (3, 9)).expect("refused");
    assert!(e.contains("int.bit_count") && e.contains("3.10"), "{e}");
    assert!(compile("range(0, 3).map(lambda x: x.bit_count()).sum()", (3, 10)).is_none());
    let e = compile("range(0, 3).map(lambda x: math.cbrt(x)).sum()", (3, 10)).expect("refused");
    assert!(e.contains("math.cbrt") && e.contains("3.11"), "{e}");
    let e = compile("range(0, 3).map(lambda x: divmod(x, 2)).collect()", (3, 13)).expect("refused");
    assert!(e.contains("tuple"), "{e}");
    let e = compile("range(0, 3).map(lambda x: math.gcd(x, 1.5)).sum()", (3, 13)).expect("refused");
    assert!(e.contains("cannot be interpreted as an integer"), "{e}");
}
