"""The Python package's headline figures, side by side in one run (issue 3's closing note).

W1 = sum of x*x for even x in range(N): the compiled chain
    par_range(0, N).filter(lambda x: x % 2 == 0).map(lambda x: x * x).sum()
against CPython's generator expression and the same chain on fastiter 0.1 (the PyPI package,
when it installs: it needs a free-threaded 3.14). Plus the fixed cost of one call of an already
compiled pipeline at N = 100.

    python benches/python_core.py            (after `pip install .`)
"""

from __future__ import annotations

import functools
import statistics
import sys
import time

import fastiter
from fastiter import par_range, set_num_threads

RUNS = 5


def best_of(fn, runs=RUNS):
    times = []
    value = None
    for _ in range(runs):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), value


def w1_compiled(n):
    return par_range(0, n).filter(lambda x: x % 2 == 0).map(lambda x: x * x).sum()


def w1_python(n):
    return sum(x * x for x in range(n) if x % 2 == 0)


def main() -> None:
    print(f"CPython {sys.version.split()[0]}, fastiter {fastiter.__version__}")
    if sys.version_info < (3, 14):
        # Its wheel requires 3.14 and its source uses 3.14-only syntax (`except A, B:`).
        print("fastiter 0.1 (PyPI): not measured, it needs CPython >= 3.14 (free-threaded)")
    w1_compiled(1000)  # compile once, outside the timings
    rows = []
    for n, py_runs in ((10**7, 3), (10**8, 1)):
        m = n // 2
        want = 4 * (m - 1) * m * (2 * m - 1) // 6
        for threads in (1, 2):
            set_num_threads(threads)
            t, v = best_of(functools.partial(w1_compiled, n))
            assert v == want, (v, want)
            rows.append((n, f"fastiter compiled, {threads} thread(s)", t))
        t, v = best_of(functools.partial(w1_python, n), py_runs)
        assert v == want
        rows.append((n, "CPython generator expression", t))
    print(f"\n{'N':>10}  {'variant':36} {'median s':>10} {'vs CPython':>11}")
    for n, name, t in rows:
        base = next(tt for nn, nm, tt in rows if nn == n and nm.startswith("CPython"))
        print(f"{n:>10}  {name:36} {t:>10.4f} {base / t:>10.1f}x")

    # Fixed per-call cost at N = 100: the chain as users write it (lambdas created per call),
    # and the plain-Python baseline.
    set_num_threads(2)
    p100 = 100
    calls = 20000

    def chain():
        return par_range(0, p100).filter(lambda x: x % 2 == 0).map(lambda x: x * x).sum()

    def genexpr():
        return sum(x * x for x in range(p100) if x % 2 == 0)

    for name, fn in (
        ("fastiter chain, compiled", chain),
        ("CPython generator expression", genexpr),
    ):
        fn()
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        per = (time.perf_counter() - t0) / calls
        print(f"N = 100, {name:32} {per * 1e6:8.2f} us per call")
    times = []
    for i in range(20):
        k = fastiter._native.compile(
            f"range(_a, _b).filter(lambda x: x % 2 == 0).map(lambda x: x * x + {i}).sum()",
            [("_a", "int"), ("_b", "int")],
        )
        times.append(k.compile_time)
    print(
        f"\ncompile time of W1 (parse -> machine code), median of 20: "
        f"{statistics.median(times) * 1e3:.2f} ms"
    )


if __name__ == "__main__":
    main()
