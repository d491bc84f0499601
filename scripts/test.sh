#!/usr/bin/env bash
# Every check and test of the project, from a fresh machine (needs Rust and python3).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test (debug: Cranelift verifier on)"
PROPTEST_CASES="${PROPTEST_CASES:-3000}" cargo test --workspace
echo "== cargo test --release (the differential tests again, optimised kernels and more cases)"
PROPTEST_CASES="${PROPTEST_CASES_RELEASE:-20000}" cargo test --workspace --release --test differential
