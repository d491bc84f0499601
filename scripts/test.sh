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
if [ -x scripts/test_python.sh ]; then
    echo "== Python package tests"
    ./scripts/test_python.sh
fi
echo "== Python package tests on CPython 3.14 (a Debian chroot)"
./scripts/test_py314.sh
