"""fastiter 0.1's canonical CPU-bound example, compiled vs CPython, at 1 and 2 threads.

    python benches/expensive_computation.py        (after `pip install .`)

Prints, for N = 2*10^5 and 2*10^6, CPython's sequential time and the compiled pipeline's median
of 5 runs at 1 and 2 threads, as ratios (the results are checked equal).
"""

from __future__ import annotations

import statistics
import time

from fastiter import par_range, set_num_threads


def expensive_computation(x):
    result = x
    for _ in range(20):
        result = (result * 1.1 + 1) % 1000000
    return int(result)


def main() -> None:
    par_range(0, 1000).map(expensive_computation).sum()  # compile outside the timings
    for n in (200_000, 2_000_000):
        median = {}
        value = None
        for threads in (1, 2):
            set_num_threads(threads)
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                value = par_range(0, n).map(expensive_computation).sum()
                times.append(time.perf_counter() - t0)
            median[threads] = statistics.median(times)
        t0 = time.perf_counter()
        want = sum(expensive_computation(x) for x in range(n))
        cpython = time.perf_counter() - t0
        assert value == want, (value, want)
        print(
            f"N={n}: CPython {cpython:.3f} s; compiled 1 thread {median[1] * 1e3:.1f} ms "
            f"({cpython / median[1]:.1f}x), 2 threads {median[2] * 1e3:.1f} ms "
            f"({cpython / median[2]:.1f}x); 1 -> 2 threads {median[1] / median[2]:.2f}x"
        )


if __name__ == "__main__":
    main()
