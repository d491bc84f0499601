//! `python -m fastiter`: the same REPL as `fastc`, run from the Python package so that users
//! who installed only the wheel have it.

use std::io::IsTerminal;

use fastiter::repl::{self as core_repl, ReplOptions};
use pyo3::prelude::*;

/// Run the fastiter REPL on this process's terminal (or over piped stdin), until Ctrl-D or
/// `:quit`. Returns the exit status `fastc` would use (1 when piped input had a failing entry).
#[pyfunction]
fn repl(py: Python<'_>) -> PyResult<u8> {
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let opts = ReplOptions {
        interactive,
        color: interactive && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        python: std::env::current_exe().ok(),
        ..ReplOptions::default()
    };
    // The REPL blocks on input for its whole life: release the GIL so other Python threads run.
    let summary = py.detach(|| {
        if interactive {
            core_repl::run_terminal(opts)
        } else {
            core_repl::run_repl(
                std::io::stdin().lock(),
                std::io::stdout().lock(),
                std::io::stderr().lock(),
                opts,
            )
        }
    });
    match summary {
        Ok(s) => Ok(s.exit_code()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(pyo3::exceptions::PyOSError::new_err(e.to_string())),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(repl, m)?)
}
