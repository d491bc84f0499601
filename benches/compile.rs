//! Compile latency: pipeline text → machine code (`fastiter::compile` with the JIT), and the
//! front end alone (parse + lower + passes, `jit = false`) and Cranelift alone, so the cost
//! of code generation is visible; then the same with the kernel in the disk cache
//! (`cached`: codegen loads the machine code instead of compiling it).
//!
//! `cargo bench --bench compile` (add `-- --quick` for a fast check).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use fastiter::ir::{ParamInfo, Type};
use fastiter::CodegenOptions;

/// W1: the sum of squares of the even numbers below `N`.
const W1: &str = "range(0, N).filter(x % 2 == 0).map(x * x).sum()";

/// A larger pipeline: three maps, two filters, math calls, int → float.
const LARGE: &str = "range(0, N).map(x * 3 + 1).filter(x % 7 != 0).map(math.sqrt(x)).filter(x > 10.0).map(math.sin(x) * math.log(x + 1.0) + abs(x)).sum()";

fn params() -> Vec<ParamInfo> {
    vec![ParamInfo {
        name: "N".into(),
        ty: Type::Int,
    }]
}

/// Cranelift, whatever the disk cache holds.
const FRESH: CodegenOptions = CodegenOptions {
    clif: false,
    asm: false,
    no_cache: true,
};

fn bench_compile(c: &mut Criterion) {
    let params = params();
    let mut g = c.benchmark_group("compile");
    for (name, src) in [("w1", W1), ("large", LARGE)] {
        // Fail loudly (not inside the timing loop) if the pipeline stops compiling.
        fastiter::compile(src, &params, true, CodegenOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));

        g.bench_with_input(BenchmarkId::new("full", name), src, |b, src| {
            b.iter(|| fastiter::compile(black_box(src), &params, true, FRESH).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("front_end", name), src, |b, src| {
            b.iter(|| {
                fastiter::compile(black_box(src), &params, false, CodegenOptions::default())
                    .unwrap()
            })
        });
        let front = fastiter::compile(src, &params, false, CodegenOptions::default()).unwrap();
        g.bench_with_input(
            BenchmarkId::new("codegen", name),
            &front.pipeline,
            |b, pipeline| {
                b.iter(|| fastiter::codegen::compile(black_box(pipeline), FRESH).unwrap())
            },
        );
        // A directory of the benchmark's own, filled by one compile: every iteration hits.
        let dir = std::env::temp_dir().join(format!("fastiter-bench-{}", std::process::id()));
        let store = fastiter::cache::Store::new(dir.clone());
        let parts = fastiter::codegen::host_key_parts().unwrap();
        let load = |p: &fastiter::ir::Pipeline| {
            fastiter::codegen::compile_cached(p, CodegenOptions::default(), Some(&store), parts)
                .unwrap()
        };
        assert!(!load(&front.pipeline).from_cache);
        assert!(load(&front.pipeline).from_cache);
        g.bench_with_input(
            BenchmarkId::new("codegen_cached", name),
            &front.pipeline,
            |b, pipeline| b.iter(|| load(black_box(pipeline))),
        );
        g.bench_with_input(BenchmarkId::new("full_cached", name), src, |b, src| {
            b.iter(|| {
                let c =
                    fastiter::compile(black_box(src), &params, false, CodegenOptions::default())
                        .unwrap();
                load(&c.pipeline)
            })
        });
        let _ = std::fs::remove_dir_all(dir);
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_compile
}
criterion_main!(benches);
