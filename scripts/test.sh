#!/usr/bin/env bash
# Every check and test of the project, from a fresh machine (needs Rust, python3 with pip).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy (compiler, runtime, Python extension)"
cargo clippy --workspace --all-targets -- -D warnings
# DIFF_SECONDS bounds each generated differential test's time (the cases past it are drawn,
# not checked, and the test says how many), so that CI's run has a known length.
echo "== cargo test (debug: Cranelift verifier on)"
PROPTEST_CASES="${PROPTEST_CASES:-3000}" DIFF_SECONDS="${DIFF_SECONDS:-300}" cargo test
echo "== differential tests again in release (optimised kernels, more cases)"
PROPTEST_CASES="${PROPTEST_CASES_RELEASE:-20000}" DIFF_SECONDS="${DIFF_SECONDS:-300}" \
    cargo test --release --test differential --test threads
# Coverage-guided fuzzing (README, "Fuzzing"): a short run of each target from the committed
# seeds; cargo-fuzz is installed when missing. Building the instrumented targets takes a few
# minutes; FASTITER_SKIP_FUZZ=1 skips the step, FUZZ_SECONDS sets each run's length.
if [ "${FASTITER_SKIP_FUZZ:-0}" = 1 ]; then
    echo "== fuzzing skipped (FASTITER_SKIP_FUZZ=1)"
else
    echo "== fuzzing (cargo fuzz: compile_text, jit_vs_interp)"
    ./scripts/fuzz.sh compile_text "${FUZZ_SECONDS:-30}"
    ./scripts/fuzz.sh jit_vs_interp "${FUZZ_SECONDS:-30}"
fi
if [ -x scripts/test_python.sh ]; then
    echo "== Python package tests"
    ./scripts/test_python.sh
fi
echo "== Python package tests on CPython 3.14 (a Debian chroot)"
./scripts/test_py314.sh
