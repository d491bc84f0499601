//! Build script: fingerprints the compiler's sources, so the on-disk kernel cache never hands
//! a kernel compiled by one build of fastiter to another build with the same version number.

use std::path::{Path, PathBuf};

/// Everything whose change can change a kernel's machine code or what it means: the compiler
/// (codegen, the IR, the builtin table's codes, the environment layout `exec` builds), the
/// runtime's ABI, the grammar, and the locked crate versions (Cranelift's among them).
/// `src/bin` is left out: the CLI cannot change a kernel, and leaving it out keeps an edit
/// there from rebuilding the library.
const INPUTS: &[&str] = &[
    "src",
    "runtime/src",
    "grammar",
    "Cargo.toml",
    "Cargo.lock",
    "runtime/Cargo.toml",
];

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let mut files = Vec::new();
    for input in INPUTS {
        collect(&root.join(input), &root.join("src"), &mut files);
    }
    files.sort();
    // File by file rather than `src` as a whole: cargo would scan `src/bin` too.
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    // FNV-1a, twice with different offsets: a change detector, not a security measure (the
    // cache compares its full key text, of which this is one line).
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x6c62_272e_07bb_0142;
    let mut feed = |bytes: &[u8]| {
        for &byte in bytes {
            a = (a ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
            b = (b ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        b = b.rotate_left(7);
    };
    for f in &files {
        let rel = f.strip_prefix(&root).unwrap_or(f);
        feed(rel.to_string_lossy().as_bytes());
        feed(&[0]);
        feed(&std::fs::read(f).unwrap_or_default());
        feed(&[0xff]);
    }
    println!("cargo:rustc-env=FASTITER_BUILD_ID={a:016x}{b:016x}");
}

fn collect(path: &Path, src: &Path, out: &mut Vec<PathBuf>) {
    if path == src.join("bin") {
        return;
    }
    if path.is_file() {
        out.push(path.to_path_buf());
    } else if let Ok(entries) = std::fs::read_dir(path) {
        // A file added to a directory changes the fingerprint too.
        if path != src {
            println!("cargo:rerun-if-changed={}", path.display());
        }
        for e in entries.flatten() {
            collect(&e.path(), src, out);
        }
    }
}
