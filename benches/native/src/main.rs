//! Hand-written Rust + Rayon references for `benches/compare.py`: the native limit each
//! workload could reach, written the way a Rust programmer would, with the same exactness
//! contract as fastiter (checked i64 arithmetic, i128 sums, CPython's float `%`).
//!
//! Usage: `fastiter-bench-native WORKLOAD N THREADS RUNS` prints one JSON object:
//! `{"workload": .., "n": .., "threads": .., "reps": [..], "times_ns": [..], "result": ".."}`
//! where `times_ns[i]` is the time of one call (averaged over `reps[i]` calls when one call is
//! shorter than the timer's useful resolution) and `result` is the value as Python prints it.
//! W4 reads its float64 array (native endian) from the file named by `FASTITER_BENCH_W4`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use rayon::prelude::*;

/// One run is repeated until it lasts at least this long, so that microsecond workloads are
/// not measured at the clock's granularity.
const MIN_RUN: Duration = Duration::from_millis(5);

/// Elements per Rayon task: large enough that scheduling is noise, small enough to balance.
const CHUNK: i64 = 1 << 16;

fn chunks(n: i64) -> impl ParallelIterator<Item = (i64, i64)> {
    let count = (n + CHUNK - 1) / CHUNK;
    (0..count)
        .into_par_iter()
        .map(move |c| (c * CHUNK, ((c + 1) * CHUNK).min(n)))
}

fn checked_square(x: i64) -> i128 {
    // Python ints never overflow: a check that fires would have to fall back to big ints.
    x.checked_mul(x).expect("x*x overflows i64") as i128
}

fn w1(n: i64) -> i128 {
    chunks(n)
        .map(|(lo, hi)| {
            (lo..hi)
                .filter(|x| x % 2 == 0)
                .map(checked_square)
                .sum::<i128>()
        })
        .sum()
}

/// CPython's float `%`: C's fmod, then the result takes the divisor's sign.
fn py_mod(a: f64, b: f64) -> f64 {
    let m = a % b; // Rust's f64 % is fmod
    if m != 0.0 {
        if (b < 0.0) != (m < 0.0) {
            m + b
        } else {
            m
        }
    } else {
        0.0f64.copysign(b)
    }
}

fn expensive_computation(x: i64) -> i64 {
    let mut result = x as f64; // exact: |x| < 2**53, as Python's int * float converts it
    for _ in 0..20 {
        result = py_mod(result * 1.1 + 1.0, 1_000_000.0);
    }
    result as i64 // int(float) truncates toward zero
}

fn w2(n: i64) -> i128 {
    chunks(n)
        .map(|(lo, hi)| {
            (lo..hi)
                .map(|x| expensive_computation(x) as i128)
                .sum::<i128>()
        })
        .sum()
}

fn w3_sum(n: i64) -> i128 {
    chunks(n)
        .map(|(lo, hi)| (lo..hi).map(|x| x as i128).sum::<i128>())
        .sum()
}

fn w3_squares(n: i64) -> i128 {
    chunks(n)
        .map(|(lo, hi)| (lo..hi).map(checked_square).sum::<i128>())
        .sum()
}

fn w4(data: &[f64]) -> f64 {
    data.par_chunks(CHUNK as usize)
        .map(|c| {
            c.iter()
                .map(|v| v * v + 1.0)
                .filter(|v| *v > 0.5)
                .sum::<f64>()
        })
        .sum()
}

fn w5(n: i64) -> Vec<i64> {
    let parts: Vec<Vec<i64>> = chunks(n)
        .map(|(lo, hi)| {
            (lo..hi)
                .filter(|x| x % 3 == 0)
                .map(|x| x.checked_mul(2).expect("x*2 overflows i64"))
                .collect()
        })
        .collect();
    parts.concat()
}

fn w6(n: i64, target: i64) -> bool {
    // black_box(x): otherwise LLVM folds the scan into `0 <= target < n`, and nothing is
    // measured; this keeps one compare per element, as the Python code asks for.
    let scan = |lo: i64, hi: i64| (lo..hi).any(|x| black_box(x) == target);
    if n <= CHUNK {
        // One chunk: a Rayon dispatch would cost more than the scan.
        return scan(0, n);
    }
    chunks(n).any(|(lo, hi)| scan(lo, hi))
}

/// Times one run: calls `f` enough times to last `MIN_RUN`, returns (reps, ns per call).
fn time_run<R>(f: &mut dyn FnMut() -> R, reps: u64) -> (u64, f64) {
    let t0 = Instant::now();
    for _ in 0..reps {
        black_box(f());
    }
    let elapsed = t0.elapsed();
    (reps, elapsed.as_nanos() as f64 / reps as f64)
}

fn measure<R>(runs: usize, mut f: impl FnMut() -> R, show: impl Fn(&R) -> String) -> Out {
    let result = show(&f()); // the warm-up call: pages touched, pool threads started
    let (_, one) = time_run(&mut f, 1);
    let reps = if one >= MIN_RUN.as_nanos() as f64 {
        1
    } else {
        (MIN_RUN.as_nanos() as f64 / one.max(1.0)).ceil() as u64
    };
    let mut out = Out {
        reps: vec![],
        times_ns: vec![],
        result,
    };
    for _ in 0..runs {
        let (r, t) = time_run(&mut f, reps);
        out.reps.push(r);
        out.times_ns.push(t);
    }
    out
}

struct Out {
    reps: Vec<u64>,
    times_ns: Vec<f64>,
    result: String,
}

fn py_float_repr(v: f64) -> String {
    // Rust's `{:?}` is the shortest round-trip form, as Python's repr; only the exponent
    // spelling differs, and these sums stay in the range where neither uses one.
    format!("{v:?}")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: {} WORKLOAD N THREADS RUNS", args[0]);
        eprintln!("workloads: w1 w2 w3-sum w3-squares w4 w5 w6-start w6-end");
        std::process::exit(2);
    }
    let workload = args[1].as_str();
    let n: i64 = args[2].parse().expect("N must be an integer");
    let threads: usize = args[3].parse().expect("THREADS must be an integer");
    let runs: usize = args[4].parse().expect("RUNS must be an integer");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("cannot start the Rayon pool");
    let int = |v: &i128| v.to_string();
    let boolean = |v: &bool| if *v { "True".into() } else { "False".into() };
    let out = pool.install(|| match workload {
        "w1" => measure(runs, || w1(black_box(n)), int),
        "w2" => measure(runs, || w2(black_box(n)), int),
        "w3-sum" => measure(runs, || w3_sum(black_box(n)), int),
        "w3-squares" => measure(runs, || w3_squares(black_box(n)), int),
        "w4" => {
            let path = std::env::var("FASTITER_BENCH_W4").expect("FASTITER_BENCH_W4 is not set");
            let bytes = std::fs::read(&path).expect("cannot read the W4 data file");
            let data: Vec<f64> = bytes
                .chunks_exact(8)
                .map(|b| f64::from_ne_bytes(b.try_into().unwrap()))
                .collect();
            assert_eq!(data.len() as i64, n, "the W4 data file holds another N");
            measure(runs, || w4(black_box(&data)), |v| py_float_repr(*v))
        }
        // Collections are reported as a digest compare.py computes the same way.
        "w5" => measure(
            runs,
            || w5(black_box(n)),
            |v| {
                let sum: i128 = v.iter().map(|&x| x as i128).sum();
                format!("len={} sum={}", v.len(), sum)
            },
        ),
        "w6-start" => measure(runs, || w6(black_box(n), 0), boolean),
        "w6-end" => measure(runs, || w6(black_box(n), n - 1), boolean),
        other => {
            eprintln!("unknown workload {other:?}");
            std::process::exit(2);
        }
    });
    let join = |v: Vec<String>| v.join(", ");
    println!(
        "{{\"workload\": \"{workload}\", \"n\": {n}, \"threads\": {threads}, \"reps\": [{}], \
         \"times_ns\": [{}], \"result\": \"{}\"}}",
        join(out.reps.iter().map(|r| r.to_string()).collect()),
        join(out.times_ns.iter().map(|t| format!("{t:.1}")).collect()),
        out.result
    );
}
