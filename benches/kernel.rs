//! Kernel throughput: W1 and a float pipeline run through `Compiled::run` (the compiled
//! pipeline is reused, so only the run is timed) at 1 and 2 threads, against hand-written
//! Rust loops with the same semantics (checked i64 multiply, i128 accumulator), serial and
//! on a 2-thread Rayon pool.
//!
//! `cargo bench --bench kernel` (add `-- --quick` for a fast check).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fastiter::ir::{ParamInfo, Type};
use fastiter::{CodegenOptions, Compiled, RunOptions, Value};

const N: i64 = 10_000_000;

const W1: &str = "range(0, N).filter(x % 2 == 0).map(x * x).sum()";
const FLOAT: &str = "range(0, N).map(x * 0.5).map(x * x + 1.0).sum()";

/// Hand-written references for the benchmarked pipelines.
mod handwritten {
    use rayon::prelude::*;

    /// W1 as a plain loop: checked multiply (Python ints do not wrap; fastiter's kernel checks
    /// too) and an i128 accumulator.
    pub fn w1_serial(n: i64) -> i128 {
        let mut acc: i128 = 0;
        for x in 0..n {
            if x % 2 == 0 {
                acc += x.checked_mul(x).expect("x * x overflows i64") as i128;
            }
        }
        acc
    }

    /// W1 with Rayon, on whatever pool the caller installs.
    pub fn w1_rayon(n: i64) -> i128 {
        (0..n)
            .into_par_iter()
            .filter(|x| x % 2 == 0)
            .map(|x| x.checked_mul(x).expect("x * x overflows i64") as i128)
            .sum::<i128>()
    }

    /// The float pipeline with a Neumaier-compensated sum (what fastiter's float `sum` does,
    /// to match Python's `sum` of floats).
    pub fn float_serial(n: i64) -> f64 {
        let (mut s, mut c) = (0.0f64, 0.0f64);
        for i in 0..n {
            let x = i as f64 * 0.5;
            let v = x * x + 1.0;
            let t = s + v;
            if s.abs() >= v.abs() {
                c += (s - t) + v;
            } else {
                c += (v - t) + s;
            }
            s = t;
        }
        s + c
    }
}

fn compile(src: &str) -> Compiled {
    let params = [ParamInfo {
        name: "N".into(),
        ty: Type::Int,
    }];
    fastiter::compile(src, &params, true, CodegenOptions::default())
        .unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn run(c: &Compiled, n: i64, threads: usize) -> Value {
    let opts = RunOptions {
        threads,
        jit: true,
        cancel: None,
    };
    let (value, stats) = c.run(&[Value::int(n)], &opts).expect("run failed");
    assert!(
        stats.jit && stats.interp_chunks == 0,
        "the benchmark must measure the kernel, not the interpreter"
    );
    value
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("building a Rayon pool")
}

fn bench_w1(c: &mut Criterion) {
    let compiled = compile(W1);
    let expected = handwritten::w1_serial(N);
    let pool2 = pool(2);
    for threads in [1, 2] {
        assert_eq!(run(&compiled, N, threads).to_string(), expected.to_string());
    }
    assert_eq!(pool2.install(|| handwritten::w1_rayon(N)), expected);

    let mut g = c.benchmark_group("w1");
    g.throughput(Throughput::Elements(N as u64));
    for threads in [1, 2] {
        g.bench_with_input(BenchmarkId::new("fastiter", threads), &threads, |b, &t| {
            b.iter(|| run(&compiled, black_box(N), t))
        });
    }
    g.bench_function(BenchmarkId::new("rust_loop", 1), |b| {
        b.iter(|| handwritten::w1_serial(black_box(N)))
    });
    g.bench_function(BenchmarkId::new("rust_rayon", 2), |b| {
        b.iter(|| pool2.install(|| handwritten::w1_rayon(black_box(N))))
    });
    g.finish();
}

fn bench_float(c: &mut Criterion) {
    let compiled = compile(FLOAT);
    let expected = handwritten::float_serial(N);
    for threads in [1, 2] {
        let got = match run(&compiled, N, threads) {
            Value::Float(f) => f,
            other => panic!("expected a float, got {other}"),
        };
        assert!(
            ((got - expected) / expected).abs() < 1e-12,
            "{got} != {expected}"
        );
    }

    let mut g = c.benchmark_group("float");
    g.throughput(Throughput::Elements(N as u64));
    for threads in [1, 2] {
        g.bench_with_input(BenchmarkId::new("fastiter", threads), &threads, |b, &t| {
            b.iter(|| run(&compiled, black_box(N), t))
        });
    }
    g.bench_function(BenchmarkId::new("rust_loop", 1), |b| {
        b.iter(|| handwritten::float_serial(black_box(N)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_w1, bench_float
}
criterion_main!(benches);
