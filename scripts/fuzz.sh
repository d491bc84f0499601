#!/usr/bin/env bash
# Coverage-guided fuzzing of the compiler with cargo fuzz (libFuzzer); see README, "Fuzzing".
set -euo pipefail

usage() {
    cat <<'EOF'
usage: scripts/fuzz.sh TARGET SECONDS [extra libFuzzer flags...]

Fuzz TARGET for SECONDS seconds on one core, then print the executions and the corpus size.
Exits non-zero on a finding (a crash, a panic, a JIT/interpreter mismatch, a timeout); the
input is saved under fuzz/artifacts/TARGET/ and can be replayed with
    RUSTC_BOOTSTRAP=1 cargo fuzz run -s address -a TARGET fuzz/artifacts/TARGET/<file>
(from fuzz/), and is added as a test to tests/fuzz_findings.rs once fixed.

Targets:
  compile_text    any bytes as text through parse, lower, passes and Cranelift (verifier on):
                  a diagnostic or a kernel, never a panic or an internal compiler error; texts
                  that compile and surely run quickly: JIT == interpreter
  jit_vs_interp   generated pipelines (fuzz/src/gen.rs): JIT at 1 and 3 threads == interpreter

Inputs start from the committed seeds (fuzz/corpus/TARGET/, read only) and the scratch corpus
of earlier runs (fuzz/scratch/TARGET/, gitignored), where new inputs are written.

The only toolchain is stable Rust: cargo fuzz's nightly flags are enabled with
RUSTC_BOOTSTRAP=1. The build uses AddressSanitizer (its runtime ships with stable's rust-std;
FUZZ_SANITIZER=none to build without) and debug assertions (the Cranelift verifier, overflow
checks). cargo-fuzz is installed with `cargo install` when missing (needs crates.io).

Environment: FUZZ_SANITIZER (address|none, default address), FUZZ_MAX_LEN (bytes, default
4096 for compile_text, 1024 for jit_vs_interp), FUZZ_TIMEOUT (seconds per input, default 20).
EOF
}

case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    compile_text | jit_vs_interp) ;;
    *) usage >&2; exit 2 ;;
esac
target=$1
seconds=${2:?"SECONDS missing (see --help)"}
shift 2

cd "$(dirname "$0")/.."
root=$PWD

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== cargo-fuzz missing: cargo install cargo-fuzz"
    if ! cargo install --locked cargo-fuzz; then
        echo "error: cannot install cargo-fuzz (is crates.io reachable?)" >&2
        exit 3
    fi
fi

case "$target" in
    compile_text) max_len=${FUZZ_MAX_LEN:-4096} ;;
    *) max_len=${FUZZ_MAX_LEN:-1024} ;;
esac
# At a few dozen executions a second, libFuzzer's slow growth of the input length would keep
# the structured inputs of jit_vs_interp tiny for minutes: allow max_len from the start.
len_control=100
[ "$target" = jit_vs_interp ] && len_control=0
sanitizer=${FUZZ_SANITIZER:-address}
scratch=fuzz/scratch/$target
seeds=fuzz/corpus/$target
mkdir -p "$scratch" "$seeds" "fuzz/artifacts/$target" target/fuzzlogs
log=$root/target/fuzzlogs/$target.last.log

export RUSTC_BOOTSTRAP=1
# The kernel cache stays off: every kernel is compiled by Cranelift.
export FASTITER_CACHE=0

cd fuzz
start=$(date +%s)
echo "== cargo fuzz build $target (sanitizer: $sanitizer, debug assertions on)"
if ! cargo fuzz build -s "$sanitizer" -a "$target"; then
    echo "error: building the fuzz target $target failed (its crates need crates.io the first" \
        "time; FASTITER_SKIP_FUZZ=1 skips fuzzing in scripts/test.sh)" >&2
    exit 3
fi
built=$(date +%s)
echo "   built in $((built - start)) s"

echo "== cargo fuzz run $target for $seconds s (log: $log)"
# libFuzzer writes new inputs to the first corpus directory: the scratch one, so the committed
# seeds stay as they are. One process, one job: one core.
set +e
cargo fuzz run -s "$sanitizer" -a "$target" "../$scratch" "../$seeds" -- \
    -max_total_time="$seconds" -rss_limit_mb=4096 -max_len="$max_len" \
    -timeout="${FUZZ_TIMEOUT:-20}" -len_control="$len_control" -print_final_stats=1 "$@" 2>&1 | tee "$log" |
    grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)|^[[:space:]]+NEW_FUNC'
statuses=("${PIPESTATUS[@]}")
set -e
status=${statuses[0]}

execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
echo "== $target: ${execs:-?} executions (${rate:-?}/s) in $(($(date +%s) - built)) s," \
    "corpus: $(find "../$scratch" -type f | wc -l) scratch + $(find "../$seeds" -type f | wc -l) seed inputs"
if [ "$status" -ne 0 ]; then
    echo "error: $target found something (exit $status): see $log and fuzz/artifacts/$target/" >&2
    exit 1
fi
