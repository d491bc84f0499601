//! Structured pipelines (`fuzz_common::gen::Case`) rendered to text and compiled; the JIT at
//! 1 and 3 threads must give exactly the interpreter's value, or the same exception.
//! `FUZZ_TRACE=1` prints each pipeline and its time.
#![no_main]

use fuzz_common::gen::Case;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|case: Case| {
    let Some((src, a, b, f)) = case.render() else {
        return;
    };
    let t0 = std::time::Instant::now();
    let c = fuzz_common::check::compile(&src);
    let t1 = t0.elapsed();
    if let Some(c) = &c {
        fuzz_common::check::compare(c, &src, a, b, f, &[1, 3]);
    }
    if std::env::var_os("FUZZ_TRACE").is_some() {
        eprintln!(
            "{src} (a={a}, b={b}, f={f:?}): compile {t1:?}{}, total {:?}",
            if c.is_some() { "" } else { " (refused)" },
            t0.elapsed()
        );
    }
});
