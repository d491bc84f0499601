"""The first call of a new chain, in modules of 100, 400 and 1,600 lines (issue #14).

    python benches/first_call.py [--lines 100,400,1600] [--runs 5] [--chains 12] [--profile]

Writes a module of that many lines, one pipeline per four lines (a range filter/map/sum, a
range `any`, a float-array filter/map/sum, in turn), into a temporary directory, and times,
in a new interpreter each run:

- cold: the first call of the module's first chain as the process's first chain (what
  fastiter does once per process is in it: the first native compile costs milliseconds);
- module: the same after a chain of each kind from another file has run (what a module's
  first chain costs, its file's one-time work included);
- next: the first calls of ``--chains`` other chains spread over the file (what every
  further chain of the module pays), median and max over them;
- again: a second call of one of them.

Each figure is the median over ``--runs`` processes: a shared machine's scheduler adds
milliseconds to single calls now and then. ``--profile`` prints the cProfile of the later
first calls (one run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap

_KINDS = (
    "    return par_range(0, n).filter(lambda x: x % 2 == {r}).map(lambda x: x * x + {i}).sum()",
    "    return par_range(0, n).any(lambda x: x == n - {i})",
    "    return into_par_iter(arr).filter(lambda v: v > 0.{i}).map(lambda v: v * v).sum()",
)


def module_text(lines: int, base: int = 0) -> str:
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
            _KINDS[i % len(_KINDS)].format(i=base + i + 1, r=i % 2),
            "",
        ]
        i += 1
    out += [""] * (lines - len(out))
    return "\n".join(out) + "\n"


_CHILD = """
import cProfile, json, pstats, statistics, sys, time
sys.path.insert(0, {dir!r})
import fastiter, numpy
if {warm}:
    import fi_warm
    for k in range(3):
        getattr(fi_warm, f"chain_{{k}}")(1000)
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
print(json.dumps(dict(first=first, median=statistics.median(times), max=max(times), again=again,
                      chains=len(names))))
"""


def _child(d: str, mod: str, warm: bool, args: argparse.Namespace) -> dict:
    code = _CHILD.format(dir=d, mod=mod, chains=args.chains, profile=args.profile, warm=warm)
    # A new interpreter each time: nothing parsed, compiled or cached before.
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], check=True, capture_output=True, text=True
    ).stdout
    if args.profile:
        print(out)
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", default="100,400,1600")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--chains", type=int, default=12)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    if args.profile:
        args.runs = 1
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "fi_warm.py"), "w") as f:
            f.write(module_text(20, base=10**6))  # other chains: nothing shared
        for lines in (int(s) for s in args.lines.split(",")):
            mod = f"fi_first_call_{lines}"
            with open(os.path.join(d, mod + ".py"), "w") as f:
                f.write(module_text(lines))
            cold = [_child(d, mod, False, args) for _ in range(args.runs)]
            warm = [_child(d, mod, True, args) for _ in range(args.runs)]

            def ms(rows: list[dict], k: str) -> str:
                return f"{statistics.median(r[k] for r in rows) * 1e3:6.2f}"

            print(
                f"{lines:>5} lines {cold[0]['chains']:>4} chains | cold {ms(cold, 'first')} ms"
                f" | module {ms(warm, 'first')} ms | next {ms(warm, 'median')} ms"
                f" (max {ms(warm, 'max')}) | again {ms(warm, 'again')} ms"
            )


if __name__ == "__main__":
    main()
