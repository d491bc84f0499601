//! A run split into parts (`exec::partials`, what a cluster's tasks compute) gives the value of
//! the run in one process, bit for bit, however the chunks are grouped: each group computed
//! on its own (over a window of the buffer when the input is one), the results concatenated
//! in order and combined.

use fastiter::exec::partials::{chunk_bounds, num_chunks};
use fastiter::exec::{BufferArg, ChunkOut};
use fastiter::ir::{BufferDecl, Dtype, ParamInfo, Type};
use fastiter::{CodegenOptions, Compiled, ExecError, RunOptions, Value};

const OPTS: RunOptions = RunOptions {
    threads: 2,
    jit: true,
    cancel: None,
};

/// Groupings of `n` chunks: one part, one per chunk, and a few uneven ones.
fn groupings(n: usize) -> Vec<Vec<std::ops::Range<usize>>> {
    let mut out = vec![vec![0..n], (0..n).map(|i| i..i + 1).collect()];
    for cut in [1, 2, 3, 5] {
        if cut < n {
            out.push(vec![0..cut, cut..cut, cut..n]);
        }
    }
    if n > 4 {
        out.push(vec![0..1, 1..3, 3..n - 1, n - 1..n]);
    }
    out
}

type Outcome = Result<Option<Value>, ExecError>;

fn whole(c: &Compiled, params: &[Value], buffer: Option<BufferArg>, jit: bool) -> Outcome {
    let opts = RunOptions { jit, ..OPTS };
    c.run_with(params, buffer, &opts).map(|(v, _)| Some(v))
}

/// The combined value of the parts, and None where a rescan is asked for.
fn in_parts(
    c: &Compiled,
    params: &[Value],
    parts: &[std::ops::Range<usize>],
    buffer: impl Fn(&std::ops::Range<usize>) -> Option<BufferArg>,
    jit: bool,
) -> Outcome {
    let opts = RunOptions { jit, ..OPTS };
    let mut outs: Vec<ChunkOut> = Vec::new();
    for which in parts {
        outs.extend(c.run_chunks(params, buffer(which), which.clone(), &opts)?);
    }
    c.combine_chunks(params, outs)
}

/// Packed items are a list to Python.
fn norm(o: &Outcome) -> Outcome {
    match o {
        Ok(Some(v @ Value::Packed(..))) => Ok(Some(Value::List(v.clone().into_items().unwrap()))),
        o => o.clone(),
    }
}

fn same(want: &Outcome, got: &Outcome, what: &str) {
    let (want, got) = (&norm(want), &norm(got));
    match (want, got) {
        // A float's bits, not only its value (-0.0, NaN).
        (Ok(Some(Value::Float(a))), Ok(Some(Value::Float(b)))) => {
            assert_eq!(a.to_bits(), b.to_bits(), "{what}")
        }
        // Asked to rescan: what `run` then computes is its own business.
        (_, Ok(None)) => {}
        _ => assert_eq!(format!("{want:?}"), format!("{got:?}"), "{what}"),
    }
}

const RANGE_PIPELINES: &[&str] = &[
    "range(0, N).filter(x % 2 == 0).map(x * x).sum()",
    "range(-N, N).map(x * 0.1).sum()",
    "range(0, N).map(1.0 / (x + 1)).sum()",
    "range(0, N).map(x * x * x * x).sum()",
    "range(0, N).map(x if x % 3 else 0.5).sum()",
    "range(0, N).count()",
    "range(0, N).filter(x % 7 == 3).min()",
    "range(0, N).map(-x).max()",
    "range(0, N).map(x % 5).max()",
    "range(0, N).any(x == N - 3)",
    "range(0, N).all(x < N // 2)",
    "range(0, N).find_first(x * x % 1000003 == 6)",
    "range(0, N).position_first(x > 40000)",
    "range(0, N).map(1 // (x - 30000)).sum()",
    "range(0, N).map(1 // (x - 30000) + 1 // (x - 20000)).sum()",
    "range(0, N).filter(x % 1000 == 0).collect()",
    "range(0, N).map(x * 0.5).filter(x > 100.0).collect()",
    "range(0, N).product()",
    "range(1, N).map(x % 3 + 1).filter(x == 1).product()",
    "range(0, N).reduce(0, lambda a, b: a ^ b)",
    "range(0, N).max_by_key(lambda x: x % 1000)",
    "range(0, N).min_by_key(lambda x: -(x % 977))",
    "range(0, N).map(float(x) if x != 50000 else math.nan).min()",
    "range(0, N).map(math.sqrt(x - 40000)).sum()",
];

#[test]
fn ranges_in_parts_are_the_whole_run() {
    let params = [ParamInfo {
        name: "N".into(),
        ty: Type::Int,
    }];
    for src in RANGE_PIPELINES {
        let c = fastiter::compile(src, &params, true, CodegenOptions::default())
            .unwrap_or_else(|e| panic!("{src}: {e}"));
        for n in [0i64, 1, 100, 16384, 16385, 50001, 300_000] {
            let vals = [Value::int(n)];
            for jit in [true, false] {
                if !jit && n > 16385 {
                    continue;
                }
                let want = whole(&c, &vals, None, jit);
                let len = c.chunked_len(&vals, None).unwrap();
                for parts in groupings(num_chunks(len)) {
                    let got = in_parts(&c, &vals, &parts, |_| None, jit);
                    same(
                        &want,
                        &got,
                        &format!("{src} N={n} jit={jit} parts={parts:?}"),
                    );
                }
            }
        }
    }
}

#[test]
fn nan_and_mixed_sums_ask_for_one_scan() {
    let params = [ParamInfo {
        name: "N".into(),
        ty: Type::Int,
    }];
    let c = fastiter::compile(
        "range(0, N).map(float(x) if x != 50000 else math.nan).min()",
        &params,
        true,
        CodegenOptions::default(),
    )
    .unwrap();
    let vals = [Value::int(100_000)];
    let n = num_chunks(100_000);
    let whole_run = 0..n;
    let got = in_parts(&c, &vals, std::slice::from_ref(&whole_run), |_| None, true);
    assert_eq!(got, Ok(None));
    // One chunk: nothing to rescan.
    let vals = [Value::int(1000)];
    assert!(matches!(
        in_parts(&c, &vals, std::slice::from_ref(&(0..1)), |_| None, true),
        Ok(Some(_))
    ));
}

const BUFFER_PIPELINES: &[&str] = &[
    "data.sum()",
    "data.map(lambda v: v * v).sum()",
    "data.filter(lambda v: v > 0.5).map(lambda v: v * v + 1).sum()",
    "data.enumerate().map(lambda t: t[0] * t[1]).sum()",
    "data.min()",
    "data.max()",
    "data.count()",
    "data.find_first(lambda v: v > 0.9999)",
    "data.position_first(lambda v: v > 0.9999)",
    "data.map(lambda v: 1.0 / (v - 0.25) if v < 0.5 else v).sum()",
    "data.filter(lambda v: v > 0.999).collect()",
];

/// Floats from a fixed LCG, some of them 0.25 (so `1 / (v - 0.25)` raises).
fn floats(n: usize) -> Vec<f64> {
    let mut s = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|i| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if i % 40_000 == 39_999 {
                0.25
            } else {
                (s >> 11) as f64 / (1u64 << 53) as f64
            }
        })
        .collect()
}

#[test]
fn buffer_windows_in_parts_are_the_whole_run() {
    let decl = BufferDecl {
        name: "data".into(),
        dtype: Dtype::F64,
        zip: None,
    };
    for src in BUFFER_PIPELINES {
        let c = fastiter::compile_with(src, &[], Some(&decl), true, CodegenOptions::default())
            .unwrap_or_else(|e| panic!("{src}: {e}"));
        for n in [0usize, 7, 16384, 70_000, 400_003] {
            let data = floats(n);
            // SAFETY: `data` holds `n` f64s and outlives the runs.
            let all = unsafe { BufferArg::new(data.as_ptr() as *const u8, n, Dtype::F64) };
            let want = whole(&c, &[], Some(all), true);
            for parts in groupings(num_chunks(n as u64)) {
                // Each part sees only its own positions, copied out (as a task's block).
                let window = |which: &std::ops::Range<usize>| {
                    let (lo, hi) = if which.is_empty() {
                        (0, 0)
                    } else {
                        (
                            chunk_bounds(n as u64, which.start).0 as usize,
                            chunk_bounds(n as u64, which.end - 1).1 as usize,
                        )
                    };
                    let own: &'static [f64] = Box::leak(data[lo..hi].to_vec().into_boxed_slice());
                    // SAFETY: `own` holds `hi - lo` f64s and is never freed.
                    Some(unsafe {
                        BufferArg::window(own.as_ptr() as *const u8, hi - lo, Dtype::F64, lo, n)
                    })
                };
                let got = in_parts(&c, &[], &parts, window, true);
                same(&want, &got, &format!("{src} n={n} parts={parts:?}"));
            }
        }
    }
}

#[test]
fn chunks_outside_a_window_are_refused() {
    let decl = BufferDecl {
        name: "data".into(),
        dtype: Dtype::F64,
        zip: None,
    };
    let data = floats(100_000);
    let n = num_chunks(100_000);
    for (src, which) in [
        ("data.sum()", 0..n),
        ("data.sum()", n..n + 1),
        ("data.skip(3).sum()", 0..1),
        ("data.fold(0.0, lambda a, b: a + b).sum()", 0..1),
    ] {
        let c = fastiter::compile_with(src, &[], Some(&decl), true, CodegenOptions::default())
            .unwrap_or_else(|e| panic!("{src}: {e}"));
        // SAFETY: the window holds 16384 f64s of `data`, which outlives the run.
        let w =
            unsafe { BufferArg::window(data.as_ptr() as *const u8, 16384, Dtype::F64, 0, 100_000) };
        let got = c.run_chunks(&[], Some(w), which.clone(), &OPTS);
        assert!(
            matches!(got, Err(ExecError::Unsupported(_))),
            "{src} {which:?}: {got:?}"
        );
    }
}
