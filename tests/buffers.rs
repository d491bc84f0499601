//! Buffer sources: every dtype is read in place, as Python ints/floats/bools, by the JIT and
//! the interpreter alike.

use fastiter::exec::BufferArg;
use fastiter::ir::{BufferDecl, Dtype};
use fastiter::{CodegenOptions, RunOptions};

fn run(src: &str, dtype: Dtype, bytes: &[u8], len: usize, jit: bool, threads: usize) -> String {
    let decl = BufferDecl {
        name: "data".into(),
        dtype,
        zip: None,
    };
    let c = fastiter::compile_with(src, &[], Some(&decl), true, CodegenOptions::default())
        .expect("compiles");
    // Copy into 8-byte aligned storage, as NumPy and array.array allocate.
    let mut words = vec![0u64; bytes.len().div_ceil(8)];
    // SAFETY: `words` has room for `bytes.len()` bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), words.as_mut_ptr() as *mut u8, bytes.len())
    };
    // SAFETY: `words` holds `len` elements of `dtype` and outlives the run.
    let buf = unsafe { BufferArg::new(words.as_ptr() as *const u8, len, dtype) };
    match c.run_with(
        &[],
        Some(buf),
        &RunOptions {
            threads,
            jit,
            cancel: None,
        },
    ) {
        Ok((v, _)) => v.to_string(),
        Err(e) => format!("raised {e}"),
    }
}

fn check(src: &str, dtype: Dtype, bytes: &[u8], len: usize, want: &str) {
    for (jit, threads) in [(true, 1), (true, 2), (false, 1)] {
        assert_eq!(
            run(src, dtype, bytes, len, jit, threads),
            want,
            "{src} over {dtype:?} (jit={jit})"
        );
    }
}

#[test]
fn every_dtype_reads_as_python_values() {
    let i64s: Vec<u8> = [-3i64, i64::MAX, 5]
        .iter()
        .flat_map(|v| v.to_ne_bytes())
        .collect();
    check(
        "data.collect()",
        Dtype::I64,
        &i64s,
        3,
        "[-3, 9223372036854775807, 5]",
    );
    check(
        "data.map(x * 2).sum()",
        Dtype::I64,
        &i64s,
        3,
        "18446744073709551618",
    );
    let i32s: Vec<u8> = [-7i32, 1 << 30, 2]
        .iter()
        .flat_map(|v| v.to_ne_bytes())
        .collect();
    check(
        "data.map(x * x).collect()",
        Dtype::I32,
        &i32s,
        3,
        "[49, 1152921504606846976, 4]",
    );
    let u32s: Vec<u8> = [u32::MAX, 1].iter().flat_map(|v| v.to_ne_bytes()).collect();
    check("data.collect()", Dtype::U32, &u32s, 2, "[4294967295, 1]");
    let i16s: Vec<u8> = [-2i16, 300].iter().flat_map(|v| v.to_ne_bytes()).collect();
    check("data.sum()", Dtype::I16, &i16s, 2, "298");
    check("data.collect()", Dtype::U16, &[0xff, 0xff], 1, "[65535]");
    check("data.collect()", Dtype::I8, &[0xff, 0x7f], 2, "[-1, 127]");
    check("data.collect()", Dtype::U8, &[0xff, 0x7f], 2, "[255, 127]");
    let f64s: Vec<u8> = [0.5f64, -1.25, 3.0]
        .iter()
        .flat_map(|v| v.to_ne_bytes())
        .collect();
    check(
        "data.map(x * x + 1).filter(x > 1.5).sum()",
        Dtype::F64,
        &f64s,
        3,
        "12.5625",
    );
    let f32s: Vec<u8> = [0.1f32, -2.5]
        .iter()
        .flat_map(|v| v.to_ne_bytes())
        .collect();
    check(
        "data.collect()",
        Dtype::F32,
        &f32s,
        2,
        "[0.10000000149011612, -2.5]",
    );
    check(
        "data.collect()",
        Dtype::Bool,
        &[1, 0, 1],
        3,
        "[True, False, True]",
    );
    check("data.sum()", Dtype::Bool, &[1, 0, 1], 3, "2");
    check("data.min()", Dtype::F64, &[], 0, "None");
}

#[test]
fn large_buffer_runs_in_parallel_chunks() {
    let n = 1_000_000usize;
    let bytes: Vec<u8> = (0..n)
        .flat_map(|i| ((i as f64) * 0.25).to_ne_bytes())
        .collect();
    let a = run(
        "data.map(x * x + 1).filter(x > 0.5).sum()",
        Dtype::F64,
        &bytes,
        n,
        true,
        1,
    );
    let b = run(
        "data.map(x * x + 1).filter(x > 0.5).sum()",
        Dtype::F64,
        &bytes,
        n,
        true,
        2,
    );
    assert_eq!(a, b);
    let c = run("data.map(x // 0.0).sum()", Dtype::F64, &bytes, n, true, 2);
    assert_eq!(c, "raised ZeroDivisionError: float floor division by zero");
}

#[test]
fn skip_take_step_by_and_zip_view_the_buffer_in_place() {
    // 100_000 i32s and f32s, so views cross chunk boundaries.
    let n = 100_000usize;
    let ints: Vec<u8> = (0..n as i32)
        .map(|v| v * 3 - 7)
        .flat_map(|v| v.to_ne_bytes())
        .collect();
    let floats: Vec<u8> = (0..n)
        .map(|v| v as f32 * 0.5)
        .flat_map(|v| v.to_ne_bytes())
        .collect();
    let elems: Vec<i64> = (0..n as i64).map(|v| v * 3 - 7).collect();
    let sum = |v: &[i64]| v.iter().map(|&x| x as i128).sum::<i128>().to_string();
    let stepped: Vec<i64> = elems
        .iter()
        .copied()
        .skip(11)
        .step_by(7)
        .take(5000)
        .collect();
    check(
        "data.skip(11).step_by(7).take(5000).sum()",
        Dtype::I32,
        &ints,
        n,
        &sum(&stepped),
    );
    let odd: Vec<i64> = elems.iter().copied().step_by(2).collect();
    check("data.step_by(2).sum()", Dtype::I32, &ints, n, &sum(&odd));
    check(
        "data.step_by(3).take(4).collect()",
        Dtype::F32,
        &floats,
        n,
        "[0.0, 1.5, 3.0, 4.5]",
    );
    check(
        "data.skip(99_998).step_by(5).collect()",
        Dtype::I32,
        &ints,
        n,
        &format!("[{}]", elems[99_998]),
    );
    check("data.skip(10**20).collect()", Dtype::I32, &ints, n, "[]");
    check(
        "data.step_by(10**20).collect()",
        Dtype::I32,
        &ints,
        n,
        "[-7]",
    );
    let dot: i128 = elems
        .iter()
        .zip(5i64..)
        .map(|(&x, y)| x as i128 * y as i128)
        .sum();
    check(
        "data.zip(range(5, 10**12)).map(lambda p: p[0] * p[1]).sum()",
        Dtype::I32,
        &ints,
        n,
        &dot.to_string(),
    );
    let idx: i128 = elems
        .iter()
        .skip(3)
        .enumerate()
        .map(|(i, &x)| i as i128 - x as i128)
        .sum();
    check(
        "data.skip(3).enumerate().map(lambda t: t[0] - t[1]).sum()",
        Dtype::I32,
        &ints,
        n,
        &idx.to_string(),
    );
}
