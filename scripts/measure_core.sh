#!/usr/bin/env bash
# The closing-note figures for the compiler-core issue, in one run, side by side:
#
#   W1 = range(0, N).filter(x % 2 == 0).map(x * x).sum(),  N = 10^8
#
#   * fastc --time at --threads 1 and --threads 2 (RUNS runs each; median compile ms, run ms,
#     elements/s),
#   * CPython sum(x*x for x in range(N) if x % 2 == 0) at N = 10^7 (median of PY_RUNS, scaled
#     x10 to 10^8), plus one untimed-for-the-table run at N = 10^8 to check its value,
#   * a hand-written Rust loop (checked i64 multiply, i128 sum; rustc -O) at 1 thread (and
#     2 threads, split in halves, for reference).
#
# Every variant's value must be 166666661666666700000000; the script reports an error and
# exits 1 otherwise.
#
# Usage: scripts/measure_core.sh        (env: PYTHON=python3, RUNS=5, PY_RUNS=3)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly N=100000000
readonly N_PY=10000000
readonly EXPECTED=166666661666666700000000
readonly W1='range(0, N).filter(x % 2 == 0).map(x * x).sum()'
RUNS=${RUNS:-5}
PY_RUNS=${PY_RUNS:-3}
PYTHON=${PYTHON:-python3}

errors=0
fail() {
    echo "error: $*" >&2
    errors=$((errors + 1))
}

# Median of the numbers on stdin, one a line.
median() {
    sort -g | awk '{ a[NR] = $1 }
        END {
            if (NR == 0) exit 1
            if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2
        }'
}

# calc EXPR: evaluate a floating-point expression with awk.
calc() {
    awk "BEGIN { printf \"%.6g\", $1 }"
}

# How many CPUs other processes kept busy over one second (from /proc/stat; "?" if unreadable).
busy_cpus() {
    local a b
    a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat 2>/dev/null) || a=""
    sleep 1
    b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat 2>/dev/null) || b=""
    if [[ -z "$a" || -z "$b" ]]; then
        echo "?"
        return
    fi
    awk -v a="$a" -v b="$b" -v n="$(nproc)" 'BEGIN {
        split(a, x, " "); split(b, y, " ")
        total = (y[1] - x[1]) + (y[2] - x[2])
        busy = 0
        if (total > 0) busy = n * (y[1] - x[1]) / total
        printf "%.2f", busy
    }'
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/measure_core.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# ---------------------------------------------------------------------------------------------
echo "== build: cargo build --release" >&2
cargo build --release
target_dir=$(cargo metadata --format-version 1 --no-deps |
    "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
fastc="$target_dir/release/fastc"
[[ -x "$fastc" ]] || {
    echo "error: $fastc was not built" >&2
    exit 1
}

# ---------------------------------------------------------------------------------------------
busy_before=$(busy_cpus)
echo "== CPUs busy with other work just before measuring: $busy_before of $(nproc)" >&2

# fastc: RUNS runs at each thread count.
declare -A compile_ms run_ms eps visited
for threads in 1 2; do
    echo "== fastc --threads $threads, N = $N, $RUNS runs" >&2
    : >"$tmp/compile" && : >"$tmp/run" && : >"$tmp/eps" && : >"$tmp/elements"
    for ((i = 1; i <= RUNS; i++)); do
        value=$("$fastc" --time --threads "$threads" "$W1" -D "N=$N" 2>"$tmp/stderr") || {
            cat "$tmp/stderr" >&2
            echo "error: fastc --threads $threads failed" >&2
            exit 1
        }
        line=$(<"$tmp/stderr")
        echo "   $value   $line" >&2
        [[ "$value" == "$EXPECTED" ]] || fail "fastc --threads $threads printed $value, expected $EXPECTED"
        case "$line" in
        *interpreted* | *recomputed*) fail "fastc --threads $threads did not run on the kernel alone: $line" ;;
        esac
        sed -n 's/.*compile \([0-9.]*\) ms.*/\1/p' <<<"$line" >>"$tmp/compile"
        sed -n 's/.* run \([0-9.]*\) ms.*/\1/p' <<<"$line" >>"$tmp/run"
        sed -n 's/.* \([0-9.]*e[0-9+-]*\) elements\/s.*/\1/p' <<<"$line" >>"$tmp/eps"
        sed -n 's/.* \([0-9]*\) elements · .*/\1/p' <<<"$line" >>"$tmp/elements"
    done
    compile_ms[$threads]=$(median <"$tmp/compile")
    run_ms[$threads]=$(median <"$tmp/run")
    eps[$threads]=$(median <"$tmp/eps")
    visited[$threads]=$(sort -u "$tmp/elements" | paste -sd/ -)
done

# ---------------------------------------------------------------------------------------------
# CPython: median of PY_RUNS at N_PY, then one run at N to check the value (and the x10 scaling).
py_version=$("$PYTHON" -c 'import platform; print(platform.python_implementation(), platform.python_version())')
echo "== $py_version: N = $N_PY, $PY_RUNS runs; then once at N = $N for the value" >&2
"$PYTHON" - "$N_PY" "$PY_RUNS" "$N" >"$tmp/py" <<'PY'
import sys
import time

n_small, runs, n_full = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])


def w1(n):
    return sum(x * x for x in range(n) if x % 2 == 0)


for _ in range(runs):
    t0 = time.perf_counter()
    v = w1(n_small)
    print("small", v, (time.perf_counter() - t0) * 1e3)
t0 = time.perf_counter()
v = w1(n_full)
print("full", v, (time.perf_counter() - t0) * 1e3)
PY
sed 's/^/   /' "$tmp/py" >&2
py_small_ms=$(awk '$1 == "small" { print $3 }' "$tmp/py" | median)
py_value=$(awk '$1 == "full" { print $2 }' "$tmp/py")
py_full_ms=$(awk '$1 == "full" { print $3 }' "$tmp/py")
[[ "$py_value" == "$EXPECTED" ]] || fail "CPython printed $py_value at N = $N, expected $EXPECTED"
py_ms=$(calc "$py_small_ms * $N / $N_PY")

# ---------------------------------------------------------------------------------------------
# Hand-written Rust: checked i64 multiply, i128 accumulator, `if x % 2 == 0`.
cat >"$tmp/w1.rs" <<'RS'
use std::time::Instant;

fn w1(lo: i64, hi: i64) -> i128 {
    let mut acc: i128 = 0;
    for x in lo..hi {
        if x % 2 == 0 {
            acc += x.checked_mul(x).expect("x * x overflows i64") as i128;
        }
    }
    acc
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: i64 = args.next().expect("N").parse().expect("N: an integer");
    let threads: i64 = args.next().map_or(1, |t| t.parse().expect("threads: an integer"));
    let t0 = Instant::now();
    let value: i128 = if threads <= 1 {
        w1(0, n)
    } else {
        let part = (n + threads - 1) / threads;
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| s.spawn(move || w1((t * part).min(n), ((t + 1) * part).min(n))))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        })
    };
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    println!("{value} {ms}");
}
RS
echo "== rustc -O: hand-written Rust loop, N = $N, $RUNS runs" >&2
rustc -O --edition 2021 -o "$tmp/w1" "$tmp/w1.rs"
declare -A rust_ms
for threads in 1 2; do
    : >"$tmp/rust"
    for ((i = 1; i <= RUNS; i++)); do
        read -r value ms < <("$tmp/w1" "$N" "$threads")
        echo "   $threads thread(s): $value  $ms ms" >&2
        [[ "$value" == "$EXPECTED" ]] || fail "hand-written Rust ($threads thread(s)) printed $value, expected $EXPECTED"
        echo "$ms" >>"$tmp/rust"
    done
    rust_ms[$threads]=$(median <"$tmp/rust")
done

busy_after=$(busy_cpus)

# ---------------------------------------------------------------------------------------------
ns() { calc "$1 * 1e6 / $N"; }
per_s() { calc "$N / ($1 / 1e3)"; }

echo
echo "W1 = $W1, N = 10^8"
echo "$(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $(rustc --version | cut -d' ' -f1-2), $py_version, fastiter $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src runtime 2>/dev/null || echo '+dirty')"
echo "medians of $RUNS runs (CPython: $PY_RUNS runs at N = 10^7, scaled x10);"
echo "ns/elem and elements/s are per source element (N = 10^8) for every row"
echo "CPUs busy with other work: $busy_before just before, $busy_after just after measuring"
if awk -v a="$busy_before" -v b="$busy_after" 'BEGIN { exit !(a + 0 > 0.2 || b + 0 > 0.2) }'; then
    echo "WARNING: other processes were using the CPUs; these timings are contended (2-thread figures most)"
fi
echo
printf '%-34s %10s %10s %9s %12s\n' "variant" "compile ms" "run ms" "ns/elem" "elements/s"
printf '%-34s %10s %10s %9s %12s\n' "----------------------------------" "----------" "----------" "---------" "------------"
for threads in 1 2; do
    printf '%-34s %10.2f %10.2f %9.3f %12.3e\n' "fastc --threads $threads" \
        "${compile_ms[$threads]}" "${run_ms[$threads]}" "$(ns "${run_ms[$threads]}")" "$(per_s "${run_ms[$threads]}")"
done
printf '%-34s %10s %10.1f %9.3f %12.3e\n' "CPython (10^7 x10), 1 thread" "-" \
    "$py_ms" "$(ns "$py_ms")" "$(per_s "$py_ms")"
printf '%-34s %10s %10.1f %9.3f %12.3e\n' "CPython (once at 10^8), 1 thread" "-" \
    "$py_full_ms" "$(ns "$py_full_ms")" "$(per_s "$py_full_ms")"
for threads in 1 2; do
    printf '%-34s %10s %10.2f %9.3f %12.3e\n' "hand-written Rust, $threads thread(s)" "-" \
        "${rust_ms[$threads]}" "$(ns "${rust_ms[$threads]}")" "$(per_s "${rust_ms[$threads]}")"
done
echo
for threads in 1 2; do
    if [[ "${visited[$threads]}" != "$N" ]]; then
        printf 'note: fastc --threads %s reported %s elements (%s elements/s, median): its passes rewrote the\n' \
            "$threads" "${visited[$threads]}" "${eps[$threads]}"
        echo "      source, so it visits fewer elements than the N = 10^8 that CPython and the Rust loop visit"
    fi
done
echo
printf '%-44s %8.1fx\n' "fastc 1 thread vs CPython, per element:" "$(calc "$py_ms / ${run_ms[1]}")"
printf '%-44s %8.2fx\n' "fastc speedup 1 -> 2 threads:" "$(calc "${run_ms[1]} / ${run_ms[2]}")"
printf '%-44s %8.2fx  (time, fastc / Rust; <1 = fastc faster)\n' \
    "fastc vs hand-written Rust, 1 thread:" "$(calc "${run_ms[1]} / ${rust_ms[1]}")"
printf '%-44s %8.2fx  (time, fastc / Rust)\n' \
    "fastc vs hand-written Rust, 2 threads:" "$(calc "${run_ms[2]} / ${rust_ms[2]}")"
echo

if ((errors > 0)); then
    echo "error: $errors check(s) failed (see above)" >&2
    exit 1
fi
echo "values: fastc (1 and 2 threads), CPython and hand-written Rust all gave $EXPECTED"
