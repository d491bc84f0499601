//! `python -m fastiter`: the same REPL as `fastc`, run from the Python package so that users
//! who installed only the wheel have it.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use fastiter::repl::{self as core_repl, ReplOptions, ReplSummary};
use pyo3::exceptions::{PyKeyboardInterrupt, PyOSError, PyRuntimeError};
use pyo3::prelude::*;

/// Run the fastiter REPL on this process's terminal (or over piped stdin), until Ctrl-D or
/// `:quit`. Returns the exit status `fastc` would use (1 when piped input had a failing entry).
///
/// The REPL runs on a thread of its own with the GIL released, while this thread watches for
/// signals: Python's SIGINT handler turns Ctrl-C into a pending KeyboardInterrupt, which is
/// taken here to cancel the pipeline that is running. On a terminal the REPL then carries on
/// (while a line is being edited, Ctrl-C is a key, not a signal, and drops the line); with piped
/// input the KeyboardInterrupt is raised, and the script stops.
#[pyfunction]
fn repl(py: Python<'_>) -> PyResult<u8> {
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    // Whatever Python printed so far goes out before the REPL writes to the same streams.
    if let Ok(sys) = py.import("sys") {
        for stream in ["stdout", "stderr"] {
            if let Ok(s) = sys.getattr(stream) {
                let _ = s.call_method0("flush");
            }
        }
    }
    // `:bench` compares with this very interpreter.
    let python = py
        .import("sys")
        .and_then(|sys| sys.getattr("executable"))
        .and_then(|e| e.extract::<String>())
        .ok()
        .filter(|e| !e.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::current_exe().ok());
    let interrupt = Arc::new(AtomicBool::new(false));
    let opts = ReplOptions {
        interactive,
        color: interactive
            && std::io::stderr().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        interrupt: Some(Arc::clone(&interrupt)),
        python,
        ..ReplOptions::default()
    };
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .name("fastiter-repl".into())
        .spawn(move || {
            let summary = if interactive {
                core_repl::run_terminal(opts)
            } else {
                core_repl::run_repl(
                    std::io::stdin().lock(),
                    std::io::stdout().lock(),
                    std::io::stderr().lock(),
                    opts,
                )
            };
            let _ = tx.send(summary);
        })
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start the REPL: {e}")))?;
    let summary: PyResult<std::io::Result<ReplSummary>> = py.detach(move || loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(summary) => {
                let _ = worker.join();
                return Ok(summary);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Err(e) = Python::attach(|py| py.check_signals()) {
                    // Cancel the entry that is running; the REPL clears the flag before the
                    // next one.
                    interrupt.store(true, Ordering::SeqCst);
                    let keyboard = Python::attach(|py| e.is_instance_of::<PyKeyboardInterrupt>(py));
                    if !(interactive && keyboard) {
                        // The REPL thread is left to stop on its own (it may be blocked
                        // reading stdin).
                        return Err(e);
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(PyRuntimeError::new_err("the REPL stopped unexpectedly"));
            }
        }
    });
    match summary? {
        Ok(s) => Ok(s.exit_code()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(PyOSError::new_err(e.to_string())),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(repl, m)?)
}
