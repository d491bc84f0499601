//! Structured pipelines (`fuzz_common::gen::Case`) rendered to text and compiled; the JIT at
//! 1 and 3 threads must give exactly the interpreter's value, or the same exception.
#![no_main]

use fuzz_common::gen::Case;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|case: Case| {
    let Some((src, a, b, f)) = case.render() else {
        return;
    };
    if let Some(c) = fuzz_common::check::compile(&src) {
        fuzz_common::check::compare(&c, &src, a, b, f, &[1, 3]);
    }
});
