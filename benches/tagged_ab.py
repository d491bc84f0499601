"""A/B of two fastiter builds on compare.py's W1, W2, W4 and W7 (the ReLU pair of issue #11).

    python benches/tagged_ab.py                                  # target/venv311 against itself
    python benches/tagged_ab.py --before ../base/target/venv311 --after target/venv311

Two builds share the import name ``fastiter``, so they cannot be loaded into one process: each
measurement is a fresh interpreter of one venv (``<venv>/bin/python``) running this file with
``--worker``. The worker imports ``benches/compare.py`` and times its own fastiter chain
implementations (``fastiter-N``: the chain API at ``--threads`` threads), so that both builds run
exactly the lambdas that compare.py measures; only the fastiter package differs.

Rounds alternate the builds, ABBA (before, after, after, before, ...), so that a slow drift of
the machine's load falls on both alike. In each round a worker calls every workload once (the
first call: compile plus one run), then calls it again until ``--min-time`` seconds and at least
3 calls have passed, and reports the fastest of those calls (``--stat median``: their median; on
a shared machine load only ever adds time, so the fastest call is the steadier figure). A figure
below is the median over the rounds of those per-round figures, with their min–max;
"after/before" is the median of the per-round ratios (round i's after over round i's before),
with their min–max. Each worker's
results are checked against the other build's (floats to compare.py's relative 1e-12).

Sizes are smaller than compare.py's so that the whole A/B takes a minute or two: W7's tagged
variant runs as plain Python on a build without tagged numbers (about 0.3 µs an element).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# (variant id in compare.py, size)
WORKLOADS = [
    ("W1", 10**7),
    ("W2", 10**6),
    ("W4", 10**7),
    ("W7-int", 2 * 10**6),
    ("W7-float", 2 * 10**6),
]
LABELS = {
    "W1": "W1 range.filter(x%2==0).map(x*x).sum()",
    "W2": "W2 range.map(expensive_computation).sum()",
    "W4": "W4 f64.map(v*v+1).filter(v>0.5).sum()",
    "W7-int": "W7 f64.map(v if v>0 else 0).sum() (tagged)",
    "W7-float": "W7 f64.map(v if v>0 else 0.0).sum()",
}


# --- Worker: one venv, one round ---------------------------------------------------------


def worker(wids: list[str], sizes: dict[str, int], threads: int, min_time: float) -> None:
    sys.path.insert(0, str(HERE))
    import compare  # benches/compare.py: its workloads, run with this venv's fastiter

    notes = compare.load_peers(quiet=True, only=("fastiter", "numpy"))
    if notes:
        raise SystemExit("; ".join(notes.values()))
    fastiter = compare.fastiter
    variants = {v[0]: v for v in compare.VARIANTS}
    tool = compare.Tool("fastiter-N", "fastiter chain", threads, compiles=True)
    out: dict[str, Any] = {"fastiter": fastiter.__file__, "results": {}}
    for wid in wids:
        _, variant, kind, native, _, _ = variants[wid]
        case = compare.Case(wid.split("-")[0], wid, variant, sizes[wid], kind, native)
        fn = compare.IMPLS[(wid, tool.key)](case, tool)
        compare.set_threads(tool)
        t0 = time.perf_counter()
        value = fn()
        first = time.perf_counter() - t0
        times = []
        start = time.perf_counter()
        while len(times) < 3 or time.perf_counter() - start < min_time:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        out["results"][wid] = {
            "n": case.n,
            "first_s": first,
            "median_s": statistics.median(times),
            "min_s": min(times),
            "calls": len(times),
            "value": repr(value),
            "compiled": compiled(compare, wid, case),
        }
    print(json.dumps(out))


def compiled(compare: Any, wid: str, case: Any) -> bool:
    """Whether this build compiles the pipeline: what `explain` says of compare.py's
    @fastiter.compile twin of the chain (the same lambdas and consumer)."""
    fn = compare.compiled_functions()[wid]
    arg = case.n
    if wid == "W4":
        arg = compare.w4_data(case.n)
    elif case.workload == "W7":
        arg = compare.w7_data(case.n)
    return "compiled: yes" in fn.explain(arg)


# --- Driver ------------------------------------------------------------------------------


def run_worker(venv: Path, args: argparse.Namespace, wids: list[str]) -> dict[str, Any]:
    python = venv / "bin" / "python"
    sizes = ",".join(f"{w}={n}" for w, n in WORKLOADS if w in wids)
    cmd = [str(python), __file__, "--worker", "--only", ",".join(wids), "--sizes", sizes]
    cmd += ["--threads", str(args.threads), "--min-time", str(args.min_time)]
    env = {k: v for k, v in os.environ.items() if k != "FASTITER_NUM_THREADS"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"{python} failed ({proc.returncode}):\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def same(a: str, b: str) -> bool:
    """Both builds' results agree: ints exactly, floats to compare.py's relative tolerance."""
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return ("." in a) == ("." in b) and math.isclose(x, y, rel_tol=1e-12, abs_tol=0.0)


def fmt_ms(s: float) -> str:
    ms = s * 1e3
    return f"{ms:.3g} ms" if ms < 100 else f"{ms:.0f} ms"


def spread(xs: list[float], fmt: Any) -> str:
    return f"{fmt(statistics.median(xs))} [{fmt(min(xs))}–{fmt(max(xs))}]"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    default_venv = ROOT / "target" / "venv311"
    p.add_argument("--before", type=Path, default=default_venv, help="venv of build A")
    p.add_argument("--after", type=Path, default=default_venv, help="venv of build B")
    p.add_argument("--rounds", type=int, default=9, help="rounds per build (default 9)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--min-time", type=float, default=0.25, help="seconds of calls per figure")
    p.add_argument(
        "--stat",
        choices=("min", "median"),
        default="min",
        help="a round's figure: its fastest call (default) or its median call",
    )
    p.add_argument("--only", help="variants, e.g. W7-int,W7-float (default: all)")
    p.add_argument("--json", type=Path, help="also write every per-round figure here")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--sizes", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    wids = args.only.split(",") if args.only else [w for w, _ in WORKLOADS]
    unknown = set(wids) - {w for w, _ in WORKLOADS}
    if unknown:
        print(f"unknown variants {sorted(unknown)}", file=sys.stderr)
        return 2
    if args.worker:
        sizes = {k: int(v) for k, v in (kv.split("=") for kv in args.sizes.split(","))}
        worker(wids, sizes, args.threads, args.min_time)
        return 0

    builds = {"before": args.before.resolve(), "after": args.after.resolve()}
    for name, venv in builds.items():
        if not (venv / "bin" / "python").exists():
            print(f"--{name}: no {venv}/bin/python", file=sys.stderr)
            return 2
    rounds: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    stat = f"{args.stat}_s"
    t_start = time.perf_counter()
    load_start = os.getloadavg()[0]
    for i in range(args.rounds):
        order = ("before", "after") if i % 2 == 0 else ("after", "before")
        for name in order:
            r = run_worker(builds[name], args, wids)
            rounds[name].append(r)
            took = "  ".join(f"{w} {fmt_ms(r['results'][w][stat])}" for w in wids)
            print(f"round {i + 1}/{args.rounds} {name:6s} {took}", file=sys.stderr, flush=True)

    wrong = []
    for w in wids:
        values = {rs["results"][w]["value"] for name in rounds for rs in rounds[name]}
        ref = next(iter(values))
        if not all(same(ref, v) for v in values):
            wrong.append(f"{w}: {sorted(values)}")

    def col(name: str, w: str, key: str) -> list[float]:
        return [rs["results"][w][key] for rs in rounds[name]]

    def compiled_word(name: str, w: str) -> str:
        flags = {rs["results"][w]["compiled"] for rs in rounds[name]}
        return "" if flags == {True} else " (Python)" if flags == {False} else " (mixed)"

    print()
    print(f"before: {builds['before']}")
    print(f"after:  {builds['after']}")
    print(
        f"{args.rounds} rounds per build, ABBA; fastiter chain, --threads {args.threads}; "
        f"figures: median [min–max] over rounds of each round's {args.stat} call "
        f"(>= {args.min_time} s of calls); load average {load_start:.2f} at start, "
        f"{os.getloadavg()[0]:.2f} at end; {time.perf_counter() - t_start:.0f} s"
    )
    print()
    head = ["workload", "N", "before", "after", "after/before"]
    rows = []
    for w in wids:
        before, after = col("before", w, stat), col("after", w, stat)
        paired = [a / b for a, b in zip(after, before)]
        rows.append(
            [
                LABELS[w],
                f"{rounds['after'][0]['results'][w]['n']:.0e}".replace("e+0", "e"),
                spread(before, fmt_ms) + compiled_word("before", w),
                spread(after, fmt_ms) + compiled_word("after", w),
                spread(paired, lambda x: f"{x:.3f}"),
            ]
        )
    print_table(head, rows)

    print()
    print("first call (compile + one run), median over rounds:")
    print_table(
        ["workload", "before", "after"],
        [
            [
                LABELS[w],
                fmt_ms(statistics.median(col("before", w, "first_s"))),
                fmt_ms(statistics.median(col("after", w, "first_s"))),
            ]
            for w in wids
        ],
    )

    if "W7-int" in wids and "W7-float" in wids:
        print()
        for name in ("before", "after"):
            tagged, plain = col(name, "W7-int", stat), col(name, "W7-float", stat)
            per_round = [t / f for t, f in zip(tagged, plain)]
            print(
                f"{name}: W7 tagged / untagged (same process, per round) "
                f"{spread(per_round, lambda x: f'{x:.3f}')}"
            )
    if wrong:
        print("\nRESULTS DIFFER between rounds or builds:\n  " + "\n  ".join(wrong))
    if args.json:
        doc = {"builds": {k: str(v) for k, v in builds.items()}, "rounds": rounds}
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    return 1 if wrong else 0


def print_table(head: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    print("| " + " | ".join(h.ljust(wd) for h, wd in zip(head, widths)) + " |")
    print("|" + "|".join("-" * (wd + 2) for wd in widths) + "|")
    for r in rows:
        cells = [c.ljust(wd) if i == 0 else c.rjust(wd) for i, (c, wd) in enumerate(zip(r, widths))]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
