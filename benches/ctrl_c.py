"""Ctrl-C latency: how long after SIGINT a long compiled call raises KeyboardInterrupt.

Each case runs in a new interpreter: a compiled call that would run for hours is started, SIGINT
is sent after 0.5 s, and the time until the child prints that it caught KeyboardInterrupt is
measured. Prints the median and the range of ``--runs`` tries per case (issue #13: under 100 ms).

    python benches/ctrl_c.py [--runs 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import time

CHILD = """
import sys
import fastiter
from fastiter import par_range

fastiter.set_num_threads(int(sys.argv[2]))
W = 100


@fastiter.compile
def spin(n):
    i = 0
    t = 0
    while i < n:
        t = (t + i * i) % 1000003
        i += 1
    return t


CASES = {
    "spin(10**12)": lambda: spin(W),
    "par_range(0, 10**6).map(lambda k: spin(10**9 + k)).sum()": lambda: (
        par_range(0, 10**6 if W > 100 else 10).map(lambda k: spin(W + k)).sum()
    ),
    "par_range(0, 10).map(lambda k: spin(10**12 + k)).sum()": lambda: (
        par_range(0, 10).map(lambda k: spin(W + k)).sum()
    ),
    "par_range(0, 10**15).map(lambda x: x % 7).sum()": lambda: (
        par_range(0, 10**15 if W > 100 else 10).map(lambda x: x % 7).sum()
    ),
}
case = CASES[sys.argv[1]]
case()  # compile
W = 10**9 if "10**9" in sys.argv[1] else 10**12
print("started", flush=True)
try:
    case()
    print("finished", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""

CASES = [
    "spin(10**12)",
    "par_range(0, 10**6).map(lambda k: spin(10**9 + k)).sum()",
    "par_range(0, 10).map(lambda k: spin(10**12 + k)).sum()",
    "par_range(0, 10**15).map(lambda x: x % 7).sum()",
]


def once(case: str, threads: int) -> float:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, case, str(threads)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("started"):
            raise RuntimeError(f"{case}: {line!r}")
        time.sleep(0.5)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        line = proc.stdout.readline()
        latency = time.monotonic() - t0
        if line.strip() != "interrupted":
            raise RuntimeError(f"{case}: {line!r}")
        proc.wait(timeout=30)
        return latency
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="tries per case (default 5)")
    ap.add_argument("--threads", type=int, default=2, help="fastiter threads (default 2)")
    args = ap.parse_args()
    print(f"SIGINT -> KeyboardInterrupt, {args.runs} runs, {args.threads} threads")
    for case in CASES:
        ms = [once(case, args.threads) * 1e3 for _ in range(args.runs)]
        print(f"  {statistics.median(ms):7.1f} ms median ({min(ms):.1f}-{max(ms):.1f})  {case}")


if __name__ == "__main__":
    main()
