//! Any bytes, as UTF-8 text, through the whole compiler (parse, lower, passes, Cranelift with
//! its verifier on): a `CompileError` or a kernel, never a panic or an internal error. A text
//! that compiles and surely runs quickly is run: the JIT must give the interpreter's outcome.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        fuzz_common::check::compile_text(text);
    }
});
