"""The first call of a new chain, in modules of 100, 400 and 1,600 lines (issue #14).

    python benches/first_call.py [--lines 100,400,1600] [--chains 12] [--profile]

Writes a module of that many lines, one pipeline per four lines (a range filter/map/sum, a
range `any`, a float-array filter/map/sum, in turn), into a temporary directory, and times,
in a new interpreter for each size: the first call of the first chain (fastiter's and the
file's one-time costs included), then the first call of ``--chains`` other chains spread over
the file (what every further chain of that module pays), and a second call of one of them.
With ``--profile`` it prints the cProfile of those later first calls instead.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap

_KINDS = (
    "    return par_range(0, n).filter(lambda x: x % 2 == {r}).map(lambda x: x * x + {i}).sum()",
    "    return par_range(0, n).any(lambda x: x == n - {i})",
    "    return into_par_iter(arr).filter(lambda v: v > 0.{i}).map(lambda v: v * v).sum()",
)


def module_text(lines: int) -> str:
    head = [
        "import numpy as np",
        "from fastiter import into_par_iter, par_range",
        "",
        "arr = np.linspace(0.0, 1.0, 1000)",
        "",
    ]
    out = list(head)
    i = 0
    while len(out) + 4 <= lines:
        out += [
            f"def chain_{i}(n):",
            f"    # chain {i}: kind {i % len(_KINDS)}",
            _KINDS[i % len(_KINDS)].format(i=i + 1, r=i % 2),
            "",
        ]
        i += 1
    out += [""] * (lines - len(out))
    return "\n".join(out) + "\n"


_CHILD = """
import cProfile, pstats, statistics, sys, time
sys.path.insert(0, {dir!r})
t0 = time.perf_counter()
import fastiter, numpy
t1 = time.perf_counter()
import {mod} as m
names = sorted((k for k in vars(m) if k.startswith("chain_")), key=lambda k: int(k[6:]))
t = time.perf_counter(); getattr(m, names[0])(1000); first = time.perf_counter() - t
step = max(1, (len(names) - 1) // {chains})
later = names[1::step][:{chains}]
prof = cProfile.Profile() if {profile} else None
times = []
for k in later:
    f = getattr(m, k)
    if prof: prof.enable()
    t = time.perf_counter(); f(1000); times.append(time.perf_counter() - t)
    if prof: prof.disable()
t = time.perf_counter(); getattr(m, later[-1])(1000); again = time.perf_counter() - t
if prof:
    pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
ms = lambda s: f"{{s * 1e3:7.2f}}"
print(f"{{{lines}:>6}} lines {{len(names):>4}} chains | import fastiter {{ms(t1 - t0)}} ms | "
      f"first chain {{ms(first)}} ms | next new chains median {{ms(statistics.median(times))}} "
      f"max {{ms(max(times))}} ms | a second call {{ms(again)}} ms")
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", default="100,400,1600")
    ap.add_argument("--chains", type=int, default=12)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        for lines in (int(s) for s in args.lines.split(",")):
            mod = f"fi_first_call_{lines}"
            with open(os.path.join(d, mod + ".py"), "w") as f:
                f.write(module_text(lines))
            code = _CHILD.format(
                dir=d, mod=mod, chains=args.chains, profile=args.profile, lines=lines
            )
            # A new interpreter each time: nothing parsed, compiled or cached before.
            subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=True)


if __name__ == "__main__":
    main()
