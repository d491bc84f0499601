"""The chain API's fixed cost per call, against CPython, side by side in one run.

    python benches/percall.py [--repeat R] [--number K]

Each row times one call in a loop (best of R timeit repeats of K calls): the chain as a user
writes it (a fresh `par_range`, fresh lambdas) and CPython's generator expression for the same
value; the ratio is CPython's time over fastiter's. The chains are small (N = 1000), so what is
measured is the per-call path: building the chain, the cache key, the guards, the inline run.
"""

from __future__ import annotations

import argparse
import timeit

import fastiter

N = 1000


def w1_fastiter() -> int:
    return fastiter.par_range(0, N).filter(lambda x: x % 2 == 0).map(lambda x: x * x).sum()


def w1_cpython() -> int:
    return sum(x * x for x in range(N) if x % 2 == 0)


def make_w6(n: int) -> tuple:
    # As benches/compare.py writes W6: the target is a closure variable of the lambda.
    par_range = fastiter.par_range

    def fast() -> bool:
        return par_range(0, n).any(lambda x: x == n - 1)

    def cpython() -> bool:
        return any(x == n - 1 for x in range(n))

    return fast, cpython


par_range = fastiter.par_range


@fastiter.compile
def w1_compiled(n: int) -> int:
    return par_range(0, n).filter(lambda x: x % 2 == 0).map(lambda x: x * x).sum()


def best(fn, repeat: int, number: int) -> float:
    """Seconds per call, the best of `repeat` runs of `number` calls."""
    fn()  # compile, warm the fast path
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--number", type=int, default=20000)
    args = ap.parse_args()
    w6_fast, w6_py = make_w6(N)
    rows = [
        ("chain filter.map.sum", w1_fastiter, w1_cpython, 25),
        ("W6-end any(x == N-1)", w6_fast, w6_py, 40),
        ("@compile filter.map.sum", lambda: w1_compiled(N), w1_cpython, None),
    ]
    print(f"N = {N}, best of {args.repeat} x {args.number} calls")
    print(f"{'chain':26} {'fastiter':>10} {'CPython':>10} {'ratio':>8}  goal")
    for name, fast, py, goal in rows:
        assert fast() == py(), name
        tf = best(fast, args.repeat, args.number)
        tp = best(py, args.repeat, max(1, args.number // 10))
        g = f">= {goal}x" if goal else ""
        print(f"{name:26} {tf * 1e6:8.3f}us {tp * 1e6:8.2f}us {tp / tf:7.1f}x  {g}")


if __name__ == "__main__":
    main()
