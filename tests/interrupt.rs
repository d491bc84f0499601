//! Interrupting a run: every loop in kernel code and in the interpreter polls the run's cancel
//! flag (`fastiter_runtime::interrupt`), so a run whose elements each loop for a long time, or
//! whose one element never ends, stops soon after the flag is set.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fastiter::exec::ExecError;
use fastiter::ir::{ParamInfo, Type};
use fastiter::{CodegenOptions, RunOptions, Value};

/// Run `src` with N = `n`, set the cancel flag after 50 ms, and return the outcome and how
/// long the run took after the flag was set.
fn interrupted(
    src: &str,
    n: i64,
    jit: bool,
    threads: usize,
) -> (Result<Value, ExecError>, Duration) {
    let params = [ParamInfo {
        name: "N".into(),
        ty: Type::Int,
    }];
    let c = fastiter::compile(src, &params, true, CodegenOptions::default()).expect("compiles");
    assert!(c.kernel.is_some(), "{src} has a kernel");
    let cancel = AtomicBool::new(false);
    std::thread::scope(|s| {
        let run = s.spawn(|| {
            let opts = RunOptions {
                threads,
                jit,
                cancel: Some(&cancel),
            };
            let r = c.run(&[Value::int(n)], &opts).map(|(v, _)| v);
            (r, Instant::now())
        });
        std::thread::sleep(Duration::from_millis(50));
        let set = Instant::now();
        cancel.store(true, Ordering::SeqCst);
        let (r, done) = run.join().expect("no panic");
        (r, done.saturating_duration_since(set))
    })
}

const SPIN: &str = "def spin(n):\n    i = 0\n    t = 0\n    while i < n:\n        t = (t + i * i) % 1000003\n        i += 1\n    return t\n";

fn assert_stops(src: &str, n: i64, jit: bool, threads: usize) {
    let (r, after) = interrupted(src, n, jit, threads);
    assert_eq!(
        r,
        Err(ExecError::Cancelled),
        "{src} (jit {jit}, {threads} threads)"
    );
    // The requirement is 100 ms; a loaded CI machine gets a generous margin.
    assert!(
        after < Duration::from_secs(2),
        "{src}: stopped {after:?} after the flag"
    );
}

#[test]
fn a_while_loop_that_never_ends_stops() {
    let src = format!("{SPIN}range(0, 1).map(lambda k: spin(10**18 + N)).sum()");
    for (jit, threads) in [(true, 1), (true, 2), (false, 1)] {
        assert_stops(&src, 0, jit, threads);
    }
}

#[test]
fn long_elements_stop_in_every_chunk() {
    // Many chunks, each element a loop of 10**9 steps: no chunk boundary comes in time.
    let src = format!("{SPIN}range(0, N).map(lambda k: spin(10**9 + k)).sum()");
    for (jit, threads) in [(true, 1), (true, 2), (false, 2)] {
        assert_stops(&src, 1_000_000, jit, threads);
    }
}

#[test]
fn nested_pipelines_and_for_loops_stop() {
    for src in [
        "range(0, N).map(lambda k: range(0, 10**15).filter(lambda j: j % 7 == k).count()).sum()",
        "def f(k):\n    t = 0\n    for j in range(10**15):\n        t = (t + j) % 97\n    return t\nrange(0, N).map(f).sum()",
        // The batched loop (a for loop whose bounds are the same in every lane).
        "def f(x):\n    r = x * 1.0\n    for _ in range(10**15):\n        r = (r * 1.1 + 1) % 1000000\n    return int(r)\nrange(0, N).map(f).sum()",
    ] {
        for (jit, threads) in [(true, 1), (true, 2), (false, 1)] {
            assert_stops(src, 64, jit, threads);
        }
    }
}

#[test]
fn long_chunks_stop_between_segments() {
    // 10**15 elements: each of the 65536 chunks has 1.5 * 10**10, seconds of work.
    for src in [
        "range(0, N).map(x % 7).sum()",
        "range(0, N).filter(x % 1000003 == 1000004).count()",
        "range(0, N).map(x * 0.5).sum()",
        // A short constant loop polls nothing itself: the element loop's segments do.
        "def f(x):\n    r = x * 1.0\n    for _ in range(20):\n        r = (r * 1.1 + 1) % 1000000\n    return int(r)\nrange(0, N).map(f).sum()",
    ] {
        for threads in [1, 2] {
            assert_stops(src, 10_i64.pow(15), true, threads);
        }
    }
}

#[test]
fn overflowing_loops_stop_in_the_exact_interpreter_too() {
    // i * i overflows i64 at once: the kernel hands the chunk to the interpreter, whose
    // bigint loop must poll as well.
    let src = "def f(k):\n    i = 3037000500 + k\n    while i > 0:\n        i = i * i % 1000000000000000000000007 + 1\n    return i\nrange(0, N).map(f).sum()";
    assert_stops(src, 4, true, 1);
}

#[test]
fn runs_without_an_interrupt_are_unchanged() {
    let params = [ParamInfo {
        name: "N".into(),
        ty: Type::Int,
    }];
    // More back edges than one poll interval, with a flag that stays clear.
    let src = format!("{SPIN}range(0, 3).map(lambda k: spin(200000 + k)).sum()");
    let c = fastiter::compile(&src, &params, true, CodegenOptions::default()).expect("compiles");
    let cancel = AtomicBool::new(false);
    let want = c
        .run(
            &[Value::int(0)],
            &RunOptions {
                threads: 1,
                jit: false,
                cancel: None,
            },
        )
        .expect("runs")
        .0;
    for threads in [1, 2] {
        let got = c
            .run(
                &[Value::int(0)],
                &RunOptions {
                    threads,
                    jit: true,
                    cancel: Some(&cancel),
                },
            )
            .expect("runs")
            .0;
        assert_eq!(got, want);
    }
}
