//! What the fuzz targets (`fuzz/`, README "Fuzzing") found, replayed through the very checks
//! the targets make (`fuzz/src/check.rs`, included here): every input compiles or is refused
//! without a panic or an internal compiler error, and where it runs, the JIT gives exactly the
//! interpreter's outcome. Also replays the committed seed corpus of `compile_text`.

#[allow(dead_code)]
#[path = "../fuzz/src/check.rs"]
mod check;

/// `compile_text` findings: texts that once panicked or failed inside the compiler.
const COMPILE_TEXT: &[&str] = &[];

/// `jit_vs_interp` findings: (pipeline, a, b, f) where the JIT once differed from the
/// interpreter (or the compiler failed).
const JIT_VS_INTERP: &[(&str, i64, i64, f64)] = &[];

#[test]
fn compile_text_findings() {
    for text in COMPILE_TEXT {
        check::compile_text(text);
    }
}

#[test]
fn jit_vs_interp_findings() {
    for &(src, a, b, f) in JIT_VS_INTERP {
        if let Some(c) = check::compile(src) {
            check::compare(&c, src, a, b, f, &[1, 3]);
        }
    }
}

#[test]
fn compile_text_seed_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/compile_text");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("the seed corpus") {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        if let Ok(text) = std::str::from_utf8(&bytes) {
            check::compile_text(text);
            n += 1;
        }
    }
    assert!(n >= 20, "{n} seeds in {}", dir.display());
}
