"""1 -> N thread scaling of W1 and W2, in one process, the thread counts alternating.

    python benches/scaling.py [--runs 15] [--threads 2]

Prints every run's time, sorted, so that runs where a worker joined late show as such (on a
shared VM an idle vCPU can take milliseconds to wake), then the ratio of the medians and of
the fastest runs.
"""

from __future__ import annotations

import argparse
import statistics
import time

import fastiter
from fastiter import par_range


def expensive_computation(x):
    result = x
    for _ in range(20):
        result = (result * 1.1 + 1) % 1000000
    return int(result)


def w1(n: int) -> int:
    return par_range(0, n).filter(lambda x: x % 2 == 0).map(lambda x: x * x).sum()


def w2(n: int) -> int:
    return par_range(0, n).map(expensive_computation).sum()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    for name, f, n in (("W1", w1, 10**8), ("W2", w2, 2 * 10**6)):
        f(n)  # compile outside the timings
        times: dict[int, list[float]] = {1: [], args.threads: []}
        for _ in range(args.runs):
            for t, ts in times.items():
                fastiter.set_num_threads(t)
                t0 = time.perf_counter()
                f(n)
                ts.append(time.perf_counter() - t0)
        for t, ts in times.items():
            runs = ", ".join(f"{x * 1e3:.1f}" for x in sorted(ts))
            print(f"{name} N={n:.0e} {t} thread(s), ms: {runs}")
        one, many = times[1], times[args.threads]
        print(
            f"{name}: 1 -> {args.threads} threads, ratio of medians "
            f"{statistics.median(one) / statistics.median(many):.2f}x, "
            f"of the fastest runs {min(one) / min(many):.2f}x"
        )


if __name__ == "__main__":
    main()
