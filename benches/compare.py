"""fastiter against CPython, NumPy, Numba, numexpr and hand-written Rust, in one run.

    python benches/compare.py              # the full matrix (~12 minutes on 2 cores)
    python benches/compare.py --quick      # small sizes, 3 runs: a smoke test (< 1 minute)

Installs its optional peers (numpy, numba, numexpr, matplotlib) into the running interpreter's
environment with pip unless ``--no-install``; a peer that is still missing is skipped with a
note. Builds the Rust reference (``benches/native``) with cargo when cargo exists.

Writes ``benches/results/latest.md`` (tables: median, spread and ratio to CPython's generator
expression per workload and tool, then the issue's targets), ``latest.png`` (speedups, log
scale) and ``latest.json`` (every timing); ``--name py314`` writes ``py314.{md,png,json}``
instead. Progress goes to stderr, one line per measurement.

The PyPI ``fastiter`` 0.1 (the library our users come from) shares our import name and needs
Python 3.14: ``--fastiter01-python PATH`` names an interpreter of this same Python version whose
environment has it, and benches/fastiter01_worker.py runs its chains there, one process per
case and thread count (scripts/bench_py314.sh sets that up in a 3.14 chroot). Without it the
fastiter 0.1 row says why it is skipped.

Method: every figure is the median of ``--runs`` runs (default 5), tools interleaved round-robin
(run 1 of every tool, then run 2, ...) so that a burst of load on a shared machine hits all of
them alike. Each tool is called once before the runs (its first call, which is where fastiter and
Numba compile, is reported separately); a run that would last under a few milliseconds repeats
the call and reports the time per call. Every tool's result is checked against CPython's.
"""

# The workloads spell ReLU as the issue does, `v if v > 0 else 0`: `max(0, v)` is another
# pipeline (a call), and the int-or-float result of the conditional is what W7 measures.
# ruff: noqa: FURB136

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import importlib
import importlib.util
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benches" / "results"
NATIVE = ROOT / "benches" / "native"
NATIVE_BIN = NATIVE / "target" / "release" / "fastiter-bench-native"

PEERS = ("numpy", "numba", "numexpr", "matplotlib")
FLOAT_RTOL = 1e-12

# Loaded by load_peers(): module globals, so that Numba resolves `numba.prange` in kernels.
np: Any = None
numba: Any = None
numexpr: Any = None
fastiter: Any = None


# --- Workloads ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    """One measured workload instance: a workload variant at one size."""

    workload: str  # "W1"
    wid: str  # the variant's id, the key of its implementations: "W3-squares"
    variant: str  # shown after the workload's name: "map(x*x)", "as a list", ...
    n: int
    kind: str  # how results compare: "int", "float" (relative FLOAT_RTOL), "bool", "seq"
    native: str | None = None  # the Rust reference's workload name, when it has one

    @property
    def label(self) -> str:
        v = f" {self.variant}" if self.variant else ""
        return f"{self.workload}{v} N={fmt_n(self.n)}"


WORKLOAD_TITLES = {
    "W1": "sum of x*x for even x in range(N)",
    "W2": "sum of expensive_computation(x) for x in range(N) (20 float steps, int())",
    "W3": "sum(range(N)) and sum of x*x",
    "W4": "float64 array (default_rng(0).random(N)): map(v*v+1).filter(v > 0.5).sum()",
    "W5": "collect of range(N).filter(x % 3 == 0).map(x * 2)",
    "W6": "any(x == target) over range(N), the hit at the start or at the end",
    "W7": "ReLU over a float64 array (default_rng(0).standard_normal(N)): "
    "map(v if v > 0 else 0).sum(), an int or a float per element, against else 0.0",
    "W8": "the README's example over a list: into_par_iter(data).map(lambda x: x * 2).sum(), "
    "data = list(range(N)) or the floats [i * 0.5 for i in range(N)]",
}

# (wid, variant, kind, native name, full sizes, quick sizes)
VARIANTS = [
    ("W1", "", "int", "w1", [10**3, 10**5, 10**7, 10**8], [10**3, 10**5, 10**6]),
    ("W2", "", "int", "w2", [2 * 10**5, 2 * 10**6], [2 * 10**4]),
    ("W3-sum", "sum", "int", "w3-sum", [3 * 10**6], [3 * 10**5]),
    ("W3-squares", "map(x*x)", "int", "w3-squares", [3 * 10**6], [3 * 10**5]),
    ("W4", "", "float", "w4", [10**7], [10**6]),
    ("W5-list", "as a list", "seq", None, [10**7], [10**6]),
    ("W5-ndarray", "as an ndarray", "seq", "w5", [10**7], [10**6]),
    ("W6-start", "hit at start", "bool", "w6-start", [10**3], [10**3]),
    ("W6-end", "hit at end", "bool", "w6-end", [10**3], [10**3]),
    ("W7-int", "else 0 (tagged)", "float", None, [10**7], [10**6]),
    ("W7-float", "else 0.0", "float", None, [10**7], [10**6]),
    ("W8-int", "ints", "int", None, [10**5, 10**7], [10**5, 10**6]),
    ("W8-float", "floats", "float", None, [10**5, 10**7], [10**5, 10**6]),
]

# Pipeline-language texts of the chains, for the compile-time column: what fastiter._native
# compiles, parse to machine code, without the Python-side source finding.
EXPENSIVE_DEF = """def expensive_computation(x):
    result = x
    for _ in range(20):
        result = (result * 1.1 + 1) % 1000000
    return int(result)

"""
# The third item is the dtype of the input buffer, None for none.
PIPELINE_TEXTS: dict[str, tuple[str, list[tuple[str, str]], str | None]] = {
    "W1": ("range(0, N).filter(x % 2 == 0).map(x * x).sum()", [("N", "int")], None),
    "W2": (EXPENSIVE_DEF + "range(0, N).map(expensive_computation).sum()", [("N", "int")], None),
    "W3-sum": ("range(0, N).sum()", [("N", "int")], None),
    "W3-squares": ("range(0, N).map(x * x).sum()", [("N", "int")], None),
    "W4": ("_fi_data.map(lambda v: v * v + 1).filter(lambda v: v > 0.5).sum()", [], "f64"),
    "W5-list": ("range(0, N).filter(x % 3 == 0).map(x * 2).collect()", [("N", "int")], None),
    "W6-start": ("range(0, N).any(lambda x: x == 0)", [("N", "int")], None),
    "W6-end": ("range(0, N).any(lambda x: x == N - 1)", [("N", "int")], None),
    "W7-int": ("_fi_data.map(lambda v: v if v > 0 else 0).sum()", [], "f64"),
    "W7-float": ("_fi_data.map(lambda v: v if v > 0 else 0.0).sum()", [], "f64"),
    "W8-int": ("_fi_data.map(lambda x: x * 2).sum()", [], "i64"),
    "W8-float": ("_fi_data.map(lambda x: x * 2).sum()", [], "f64"),
}


# Said under a variant's table, where a figure needs its reason.
VARIANT_NOTES = {
    "W1": "NumPy and Numba compute in int64: from N = 10^7 on the sum passes 2^63 and wraps. "
    "The Rust reference tests every x, as the pipeline is written (checked multiply, i128 sum); "
    "fastiter's stride pass visits only the even ones.",
    "W3-sum": "LLVM (Numba, Rust) rewrites this loop as the closed form n(n-1)/2: their ratios "
    "measure a call, not a scan.",
    "W4": "The CPython rows iterate `arr.tolist()`, made before timing.",
    "W5-ndarray": "CPython builds a list (the same list comprehension as above); the others an "
    "int64 ndarray (Rust: a Vec<i64>).",
    "W6-end": "The Rust reference keeps one compare per element (`black_box`): LLVM would "
    "otherwise fold the scan into `0 <= target < n`.",
    "W7-int": "`v if v > 0 else 0` is a float where v > 0 and the int 0 elsewhere (half the "
    "elements): fastiter carries a tagged number (issue #11); the `else 0.0` variant below is the "
    "same loop on plain floats, so the pair measures what the tag costs. NumPy, numexpr and Numba "
    "type both as float64. The CPython rows iterate `arr.tolist()`, made before timing.",
    "W8-int": "Every tool gets the list: fastiter converts it to an int64 buffer on each call "
    "(one pass in Rust, py/src/convert.rs), NumPy and Numba with `np.array(data)` inside the "
    "timed call, as a user holding a list must.",
}


def cases_for(quick: bool, only: set[str] | None) -> list[Case]:
    out = []
    for wid, variant, kind, native, full, small in VARIANTS:
        workload = wid.split("-")[0]
        if only and workload not in only:
            continue
        for n in small if quick else full:
            out.append(Case(workload, wid, variant, n, kind, native))
    return out


# --- Tools -------------------------------------------------------------------------------


@dataclasses.dataclass
class Tool:
    key: str
    label: str
    threads: int | None = None  # the thread count it runs with, where it has one
    compiles: bool = False  # its first call compiles: reported as "first call"
    cold: bool = False  # also measure its first call in a fresh process
    skip: str | None = None  # why it is not measured at all


def make_tools(threads: int, fi01: Fastiter01 | str) -> list[Tool]:
    """The tools in table order; `fi01` is fastiter 0.1's interpreter, or why it is skipped."""
    t = threads
    if isinstance(fi01, str):
        fi01_tools = [Tool("fastiter-0.1", "fastiter 0.1 (PyPI)", skip=fi01)]
    else:
        v = fi01.version
        fi01_tools = [
            Tool("fastiter-0.1-1", f"fastiter {v} (PyPI), 1 thread", 1),
            Tool("fastiter-0.1-N", f"fastiter {v} (PyPI), {t} threads", t),
        ]
    return [
        Tool("genexpr", "CPython generator expression"),
        Tool("lambdas", "CPython sum(map(lambda, filter(lambda)))"),
        Tool("fastiter-1", "fastiter chain, 1 thread", 1, compiles=True),
        Tool("fastiter-N", f"fastiter chain, {t} threads", t, compiles=True, cold=True),
        Tool("fastiter-compile", f"@fastiter.compile, {t} threads", t, compiles=True, cold=True),
        *fi01_tools,
        Tool("numpy", "NumPy vectorised"),
        Tool("numba", "Numba @njit", 1, compiles=True),
        Tool("numba-parallel", f"Numba @njit(parallel=True), {t} threads", t, compiles=True),
        Tool("numexpr", f"numexpr, {t} threads", t),
        Tool("rust-1", "Rust + Rayon by hand, 1 thread", 1),
        Tool("rust-N", f"Rust + Rayon by hand, {t} threads", t),
    ]


OURS = ("fastiter-1", "fastiter-N", "fastiter-compile")  # this package's tools
FI01 = ("fastiter-0.1-1", "fastiter-0.1-N")  # the PyPI fastiter 0.1, in its own process

TOOL_MODULES = {
    "fastiter-1": "fastiter",
    "fastiter-N": "fastiter",
    "fastiter-compile": "fastiter",
    "numpy": "numpy",
    "numba": "numba",
    "numba-parallel": "numba",
    "numexpr": "numexpr",
}

# --- Implementations: IMPLS[(wid, tool key)](case, tool) -> a zero-argument callable -------

Builder = Callable[[Case, Tool], Callable[[], Any]]
IMPLS: dict[tuple[str, str], Builder] = {}
NOT_APPLICABLE: dict[tuple[str, str], str] = {}


def impl(wids: str, tools: str) -> Callable[[Builder], Builder]:
    """Register a builder for every (variant, tool) pair of the space-separated names."""

    def register(builder: Builder) -> Builder:
        for w in wids.split():
            for t in tools.split():
                IMPLS[(w, t)] = builder
        return builder

    return register


def not_applicable(wids: str, tools: str, why: str) -> None:
    for w in wids.split():
        for t in tools.split():
            NOT_APPLICABLE[(w, t)] = why


def expensive_computation(x):
    result = x
    for _ in range(20):
        result = (result * 1.1 + 1) % 1000000
    return int(result)


@functools.lru_cache(maxsize=1)
def w4_data(n: int) -> Any:
    """The W4 input, one array shared by every tool (10^7 floats: 80 MB)."""
    return np.random.default_rng(0).random(n)


@functools.lru_cache(maxsize=1)
def w4_list(n: int) -> list[float]:
    return w4_data(n).tolist()


@functools.lru_cache(maxsize=1)
def w7_data(n: int) -> Any:
    """The W7 input: standard normal float64, about half of it negative."""
    return np.random.default_rng(0).standard_normal(n)


@functools.lru_cache(maxsize=1)
def w7_list(n: int) -> list[float]:
    return w7_data(n).tolist()


@functools.lru_cache(maxsize=1)
def w8_data(wid: str, n: int) -> list[Any]:
    """The W8 input: the README's list(range(N)), or as many floats."""
    return list(range(n)) if wid == "W8-int" else [i * 0.5 for i in range(n)]


# CPython


@impl("W1", "genexpr")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n = c.n
    return lambda: sum(x * x for x in range(n) if x % 2 == 0)


@impl("W1", "lambdas")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n = c.n
    return lambda: sum(map(lambda x: x * x, filter(lambda x: x % 2 == 0, range(n))))  # noqa: C417


@impl("W2", "genexpr")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n = c.n
    return lambda: sum(expensive_computation(x) for x in range(n))


@impl("W2", "lambdas")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n = c.n
    return lambda: sum(map(expensive_computation, range(n)))


@impl("W3-sum", "genexpr")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n = c.n
    return lambda: sum(x for x in range(n))


@impl("W3-sum", "lambdas")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n = c.n
    return lambda: sum(range(n))


@impl("W3-squares", "genexpr")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n = c.n
    return lambda: sum(x * x for x in range(n))


@impl("W3-squares", "lambdas")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n = c.n
    return lambda: sum(map(lambda x: x * x, range(n)))  # noqa: C417


# CPython iterates a list of the array's floats: iterating the ndarray itself would box a NumPy
# scalar per element and make the baseline several times slower than plain Python needs to be.
@impl("W4", "genexpr")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    data = w4_list(c.n)
    return lambda: sum(v * v + 1 for v in data if v * v + 1 > 0.5)


@impl("W4", "lambdas")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    data = w4_list(c.n)
    return lambda: sum(filter(lambda v: v > 0.5, map(lambda v: v * v + 1, data)))  # noqa: C417


# W7: the same list of floats, for the same reason as W4.
@impl("W7-int", "genexpr")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    data = w7_list(c.n)
    return lambda: sum(v if v > 0 else 0 for v in data)


@impl("W7-int", "lambdas")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    data = w7_list(c.n)
    return lambda: sum(map(lambda v: v if v > 0 else 0, data))  # noqa: C417


@impl("W7-float", "genexpr")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    data = w7_list(c.n)
    return lambda: sum(v if v > 0 else 0.0 for v in data)


@impl("W7-float", "lambdas")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    data = w7_list(c.n)
    return lambda: sum(map(lambda v: v if v > 0 else 0.0, data))  # noqa: C417


@impl("W8-int W8-float", "genexpr")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    data = w8_data(c.wid, c.n)
    return lambda: sum(x * 2 for x in data)


@impl("W8-int W8-float", "lambdas")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    data = w8_data(c.wid, c.n)
    return lambda: sum(map(lambda x: x * 2, data))  # noqa: C417


@impl("W5-list W5-ndarray", "genexpr")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n = c.n
    return lambda: [x * 2 for x in range(n) if x % 3 == 0]


@impl("W5-list W5-ndarray", "lambdas")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n = c.n
    return lambda: list(map(lambda x: x * 2, filter(lambda x: x % 3 == 0, range(n))))  # noqa: C417


@impl("W6-start", "genexpr")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n = c.n
    return lambda: any(x == 0 for x in range(n))


@impl("W6-start", "lambdas")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n = c.n
    return lambda: any(map(lambda x: x == 0, range(n)))  # noqa: C417


@impl("W6-end", "genexpr")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n = c.n
    return lambda: any(x == n - 1 for x in range(n))


@impl("W6-end", "lambdas")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n = c.n
    return lambda: any(map(lambda x: x == n - 1, range(n)))  # noqa: C417


# fastiter, chain API (the runner sets the thread count before each call)


@impl("W1", "fastiter-1 fastiter-N")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n, par_range = c.n, fastiter.par_range
    return lambda: par_range(0, n).filter(lambda x: x % 2 == 0).map(lambda x: x * x).sum()


@impl("W2", "fastiter-1 fastiter-N")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n, par_range = c.n, fastiter.par_range
    return lambda: par_range(0, n).map(expensive_computation).sum()


@impl("W3-sum", "fastiter-1 fastiter-N")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n, par_range = c.n, fastiter.par_range
    return lambda: par_range(0, n).sum()


@impl("W3-squares", "fastiter-1 fastiter-N")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n, par_range = c.n, fastiter.par_range
    return lambda: par_range(0, n).map(lambda x: x * x).sum()


@impl("W4", "fastiter-1 fastiter-N")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    data, into_par_iter = w4_data(c.n), fastiter.into_par_iter
    return lambda: into_par_iter(data).map(lambda v: v * v + 1).filter(lambda v: v > 0.5).sum()


@impl("W5-list", "fastiter-1 fastiter-N")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n, par_range = c.n, fastiter.par_range
    return lambda: par_range(0, n).filter(lambda x: x % 3 == 0).map(lambda x: x * 2).collect()


@impl("W5-ndarray", "fastiter-1 fastiter-N")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n, par_range = c.n, fastiter.par_range
    return lambda: par_range(0, n).filter(lambda x: x % 3 == 0).map(lambda x: x * 2).collect_array()


@impl("W6-start", "fastiter-1 fastiter-N")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n, par_range = c.n, fastiter.par_range
    return lambda: par_range(0, n).any(lambda x: x == 0)


@impl("W6-end", "fastiter-1 fastiter-N")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n, par_range = c.n, fastiter.par_range
    return lambda: par_range(0, n).any(lambda x: x == n - 1)


@impl("W7-int", "fastiter-1 fastiter-N")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    data, into_par_iter = w7_data(c.n), fastiter.into_par_iter
    return lambda: into_par_iter(data).map(lambda v: v if v > 0 else 0).sum()


@impl("W7-float", "fastiter-1 fastiter-N")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    data, into_par_iter = w7_data(c.n), fastiter.into_par_iter
    return lambda: into_par_iter(data).map(lambda v: v if v > 0 else 0.0).sum()


@impl("W8-int W8-float", "fastiter-1 fastiter-N")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    data, into_par_iter = w8_data(c.wid, c.n), fastiter.into_par_iter
    return lambda: into_par_iter(data).map(lambda x: x * 2).sum()


# fastiter, @fastiter.compile: a function whose body returns the pipeline, called with N
# (W4, W7: with the array)


def compiled_functions() -> dict[str, Callable[..., Any]]:
    compile_, par_range, into_par_iter = (
        fastiter.compile,
        fastiter.par_range,
        fastiter.into_par_iter,
    )

    @compile_
    def w1(n):
        return par_range(0, n).filter(lambda x: x % 2 == 0).map(lambda x: x * x).sum()

    @compile_
    def w2(n):
        return par_range(0, n).map(expensive_computation).sum()

    @compile_
    def w3_sum(n):
        return par_range(0, n).sum()

    @compile_
    def w3_squares(n):
        return par_range(0, n).map(lambda x: x * x).sum()

    @compile_
    def w4(data):
        return into_par_iter(data).map(lambda v: v * v + 1).filter(lambda v: v > 0.5).sum()

    @compile_
    def w5_list(n):
        return par_range(0, n).filter(lambda x: x % 3 == 0).map(lambda x: x * 2).collect()

    @compile_
    def w5_ndarray(n):
        return par_range(0, n).filter(lambda x: x % 3 == 0).map(lambda x: x * 2).collect_array()

    @compile_
    def w6_start(n):
        return par_range(0, n).any(lambda x: x == 0)

    @compile_
    def w6_end(n):
        return par_range(0, n).any(lambda x: x == n - 1)

    @compile_
    def w7_int(data):
        return into_par_iter(data).map(lambda v: v if v > 0 else 0).sum()

    @compile_
    def w7_float(data):
        return into_par_iter(data).map(lambda v: v if v > 0 else 0.0).sum()

    @compile_
    def w8(data):
        return into_par_iter(data).map(lambda x: x * 2).sum()

    return {
        "W1": w1,
        "W2": w2,
        "W3-sum": w3_sum,
        "W3-squares": w3_squares,
        "W4": w4,
        "W5-list": w5_list,
        "W5-ndarray": w5_ndarray,
        "W6-start": w6_start,
        "W6-end": w6_end,
        "W7-int": w7_int,
        "W7-float": w7_float,
        "W8-int": w8,
        "W8-float": w8,
    }


@impl(" ".join(PIPELINE_TEXTS) + " W5-ndarray", "fastiter-compile")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    fn = compiled_functions()[c.wid]
    if c.workload == "W8":
        arg: Any = w8_data(c.wid, c.n)
    else:
        arg = w4_data(c.n) if c.wid == "W4" else w7_data(c.n) if c.workload == "W7" else c.n
    return lambda: fn(arg)


# NumPy: the vectorised spelling of each pipeline, int64 where Python has ints (so it wraps
# where Python's ints grow: W1 from N = 10^7 on)


@impl("W1", "numpy")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n = c.n

    def run() -> int:
        a = np.arange(n, dtype=np.int64)
        e = a[a % 2 == 0]
        return int((e * e).sum())

    return run


@impl("W2", "numpy")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n = c.n

    def run() -> int:
        r = np.arange(n, dtype=np.int64) * 1.1 + 1  # the first step, int * float, as Python
        r = np.mod(r, 1000000)  # np.mod has Python's sign rule for floats
        for _ in range(19):
            r = np.mod(r * 1.1 + 1, 1000000)
        return int(r.astype(np.int64).sum())

    return run


@impl("W3-sum", "numpy")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n = c.n
    return lambda: int(np.arange(n, dtype=np.int64).sum())


@impl("W3-squares", "numpy")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n = c.n

    def run() -> int:
        a = np.arange(n, dtype=np.int64)
        return int((a * a).sum())

    return run


@impl("W4", "numpy")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    data = w4_data(c.n)

    def run() -> float:
        w = data * data + 1
        return float(w[w > 0.5].sum())

    return run


@impl("W7-int W7-float", "numpy")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    data = w7_data(c.n)
    zero = 0 if c.wid == "W7-int" else 0.0  # float64 either way: NumPy has no tagged numbers
    return lambda: float(np.maximum(data, zero).sum())


@impl("W8-int W8-float", "numpy")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    data = w8_data(c.wid, c.n)
    cast = int if c.wid == "W8-int" else float
    return lambda: cast((np.array(data) * 2).sum())


@impl("W5-list W5-ndarray", "numpy")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n, as_list = c.n, c.wid == "W5-list"

    def run() -> Any:
        a = np.arange(n, dtype=np.int64)
        out = a[a % 3 == 0] * 2
        return out.tolist() if as_list else out

    return run


@impl("W6-start W6-end", "numpy")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    n = c.n
    target = 0 if c.wid == "W6-start" else n - 1
    return lambda: bool((np.arange(n, dtype=np.int64) == target).any())


# numexpr: one fused expression, where a workload is an array expression


@impl("W4", "numexpr")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    data = w4_data(c.n)
    expr = "sum(where(v * v + 1 > 0.5, v * v + 1, 0.0))"
    return lambda: float(numexpr.evaluate(expr, local_dict={"v": data}))


@impl("W7-int W7-float", "numexpr")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    data = w7_data(c.n)
    zero = "0" if c.wid == "W7-int" else "0.0"
    expr = f"sum(where(v > 0, v, {zero}))"
    return lambda: float(numexpr.evaluate(expr, local_dict={"v": data}))


not_applicable(
    "W1 W2 W3-sum W3-squares W5-list W5-ndarray W6-start W6-end",
    "numexpr",
    "numexpr evaluates array expressions; this pipeline has no input array",
)
not_applicable(
    "W8-int W8-float",
    "numexpr",
    "numexpr evaluates array expressions: the NumPy row shows the list's conversion",
)

# Numba: the pipeline as a loop, compiled fresh for each case so that every first call
# includes its compile time. `numba.prange` is `range` when parallel=False.


def nb_w1(n):
    s = 0
    for x in numba.prange(n):
        if x % 2 == 0:
            s += x * x
    return s


def nb_w2(n):
    s = 0
    for x in numba.prange(n):
        result = x
        for _ in range(20):
            result = (result * 1.1 + 1) % 1000000
        s += int(result)
    return s


def nb_w3_sum(n):
    s = 0
    for x in numba.prange(n):
        s += x
    return s


def nb_w3_squares(n):
    s = 0
    for x in numba.prange(n):
        s += x * x
    return s


def nb_w4(a):
    s = 0.0
    for i in numba.prange(a.size):
        v = a[i] * a[i] + 1
        if v > 0.5:
            s += v
    return s


def nb_w5(n):
    out = np.empty((n + 2) // 3, np.int64)
    j = 0
    for x in range(n):
        if x % 3 == 0:
            out[j] = x * 2
            j += 1
    return out[:j]


def nb_w6(n, target):
    for x in range(n):
        if x == target:
            return True
    return False


def nb_w7_int(a):
    s = 0.0
    for i in numba.prange(a.size):
        v = a[i]
        s += v if v > 0 else 0  # typed float64 as a whole: Numba unifies the branches
    return s


def nb_w7_float(a):
    s = 0.0
    for i in numba.prange(a.size):
        v = a[i]
        s += v if v > 0 else 0.0
    return s


def nb_w8_int(a):
    s = 0
    for i in numba.prange(a.size):
        s += a[i] * 2
    return s


def nb_w8_float(a):
    s = 0.0
    for i in numba.prange(a.size):
        s += a[i] * 2
    return s


NUMBA_KERNELS = {
    "W1": nb_w1,
    "W2": nb_w2,
    "W3-sum": nb_w3_sum,
    "W3-squares": nb_w3_squares,
    "W4": nb_w4,
    "W5-list": nb_w5,
    "W5-ndarray": nb_w5,
    "W6-start": nb_w6,
    "W6-end": nb_w6,
    "W7-int": nb_w7_int,
    "W7-float": nb_w7_float,
    "W8-int": nb_w8_int,
    "W8-float": nb_w8_float,
}


@impl(" ".join(NUMBA_KERNELS), "numba numba-parallel")
def _(c: Case, t: Tool) -> Callable[[], Any]:
    fn = numba.njit(parallel=t.key == "numba-parallel")(NUMBA_KERNELS[c.wid])
    if c.wid == "W4" or c.workload == "W7":
        data = w4_data(c.n) if c.wid == "W4" else w7_data(c.n)
        return lambda: fn(data)
    if c.workload == "W8":
        items = w8_data(c.wid, c.n)
        return lambda: fn(np.array(items))
    if c.wid == "W5-list":
        return lambda: fn(c.n).tolist()
    if c.wid.startswith("W6"):
        target = 0 if c.wid == "W6-start" else c.n - 1
        return lambda: fn(c.n, target)
    n = c.n
    return lambda: fn(n)


not_applicable(
    "W5-list W5-ndarray",
    "numba-parallel",
    "a filtered collect carries its output index from one element to the next: prange cannot",
)
not_applicable("W6-start W6-end", "numba-parallel", "prange has no early exit for any()")

# The Rust reference runs in its own process (NativeRunner), for the variants with a
# `Case.native` name.
not_applicable("W5-list", "rust-1 rust-N", "a Rust Vec is no Python list: see the ndarray row")
not_applicable("W7-int W7-float", "rust-1 rust-N", "benches/native has no W7 (Rust has one type)")
not_applicable("W8-int W8-float", "rust-1 rust-N", "benches/native reads no Python list")

# fastiter 0.1 (PyPI) runs in its own interpreter: benches/fastiter01_worker.py holds its chains
# (the same lambdas, in its API) for these variants, and says why it has no other.
FI01_WIDS = {w for w, *_ in VARIANTS} - {"W5-ndarray"}
not_applicable(
    "W5-ndarray",
    "fastiter-0.1-1 fastiter-0.1-N",
    "fastiter 0.1 has no ndarray output: its collect() is the list row above",
)


# --- Measuring ---------------------------------------------------------------------------


@dataclasses.dataclass
class Result:
    case: Case
    tool: Tool
    status: str = "ok"  # ok, WRONG, n/a, skipped, error
    note: str = ""
    times: list[float] = dataclasses.field(default_factory=list)  # seconds per call
    reps: int = 1  # calls per timed run
    first_call: float | None = None
    cold_call: float | None = None
    cold_cached: float | None = None  # a fresh process, the kernel in the disk cache
    compile_time: float | None = None
    value: Any = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times else None


class Progress:
    def __init__(self, total: int) -> None:
        self.done = 0
        self.total = total
        self.t0 = time.perf_counter()

    def line(
        self, case: Case, tool: Tool, what: str, seconds: float | None, extra: str = ""
    ) -> None:
        self.done += 1
        took = fmt_time(seconds) if seconds is not None else "-"
        print(
            f"[{self.done}/{self.total}] {case.label} {tool.key} {what}... {took}{extra}",
            file=sys.stderr,
            flush=True,
        )


class NativeRunner:
    """Calls the Rust reference binary: one process per run, which warms up and then times."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir

    def env(self, case: Case) -> dict[str, str]:
        env = dict(os.environ)
        if case.wid == "W4":
            path = self.workdir / f"w4-{case.n}.f64"
            if not path.exists():
                w4_data(case.n).astype("<f8").tofile(path)
            env["FASTITER_BENCH_W4"] = str(path)
        return env

    def run(self, case: Case, threads: int) -> tuple[float, str, int]:
        assert case.native is not None
        proc = subprocess.run(
            [str(NATIVE_BIN), case.native, str(case.n), str(threads), "1"],
            capture_output=True,
            text=True,
            env=self.env(case),
            check=True,
        )
        out = json.loads(proc.stdout)
        return out["times_ns"][0] * 1e-9, out["result"], out["reps"][0]


@dataclasses.dataclass(frozen=True)
class Foreign:
    """A result of a type none of the checks accepts (a NumPy scalar, ...), from fastiter 0.1's
    process: shown by its type and repr, and WRONG against CPython's."""

    type_name: str
    text: str

    def __str__(self) -> str:
        return f"{self.text} ({self.type_name})"


@dataclasses.dataclass
class Fastiter01:
    """An interpreter whose environment has the PyPI fastiter 0.1 (the `fastiter` import name
    is ours here): its version, CPython's, and whether the GIL is on, from the worker's hello."""

    python: str
    version: str = "?"
    python_version: str = "?"
    gil: bool = True

    def start(self) -> Fastiter01Worker:
        return Fastiter01Worker(self.python)

    @classmethod
    def probe(cls, python: str) -> Fastiter01 | str:
        """The interpreter's fastiter 0.1, or why it cannot be measured beside this process."""
        try:
            worker = Fastiter01Worker(python)
            try:
                hello = worker.ask({"op": "hello"})
            finally:
                worker.close()
        except (OSError, RuntimeError) as e:
            return f"skipped: {python} does not run benches/fastiter01_worker.py ({e})"[:300]
        fi01 = cls(python, hello["fastiter"], hello["python"], hello["gil"])
        ours = platform.python_version()
        if fi01.python_version.split(".")[:2] != ours.split(".")[:2]:
            return (
                f"skipped: {python} is CPython {fi01.python_version}, this is {ours}: run "
                "compare.py with the same Python version as fastiter 0.1's, so that both "
                "run on the same interpreter"
            )
        if not fi01.version.startswith("0.1"):
            return f"skipped: {python} has fastiter {fi01.version}, not 0.1"
        return fi01

    def describe(self) -> str:
        gil = "GIL enabled" if self.gil else "free-threaded, GIL disabled"
        return f"{self.version} on CPython {self.python_version}, {gil}"


class Fastiter01Worker:
    """benches/fastiter01_worker.py in fastiter 0.1's interpreter: one per case and tool (a
    process has one thread count), asked for the first call and then for each timed run."""

    def __init__(self, python: str) -> None:
        worker = Path(__file__).resolve().parent / "fastiter01_worker.py"
        self.proc = subprocess.Popen(
            [python, str(worker)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def ask(self, req: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # it has exited: the empty answer below says how
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            assert self.proc.stderr is not None
            err = self.proc.stderr.read().strip().splitlines()
            raise RuntimeError(
                f"the worker exited ({self.proc.returncode}): {err[-1] if err else 'no message'}"
            )
        return json.loads(line)

    def first(self, case: Case, tool: Tool, min_run: float) -> tuple[float, Any, int]:
        """(the first call's seconds, its result, calls per run)."""
        req = {"op": "first", "wid": case.wid, "n": case.n, "threads": tool.threads or 1}
        out = self.ask({**req, "min_run": min_run})
        if "error" in out:
            raise Fastiter01Error(out["error"])
        return out["first_call"], decode(out["value"]), out["reps"]

    def run(self, reps: int) -> float:
        out = self.ask({"op": "run", "reps": reps})
        if "error" in out:
            raise Fastiter01Error(out["error"])
        return out["secs"]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()


class Fastiter01Error(Exception):
    """A fastiter 0.1 call raised, in the worker: its type and message."""

    def __str__(self) -> str:
        return str(self.args[0])


def decode(v: dict[str, Any]) -> Any:
    """A result from the worker (fastiter01_worker.encode), as the value it was."""
    t = v["type"]
    if t == "list":
        return v["items"]
    if t == "int":
        return int(v["repr"])
    if t == "float":
        return float(v["repr"])
    if t == "bool":
        return v["repr"] == "True"
    if t == "NoneType":
        return None
    return Foreign(t, v["repr"])


def applies(case: Case, tool: Tool) -> bool:
    if tool.key.startswith("rust"):
        return case.native is not None and (case.wid, tool.key) not in NOT_APPLICABLE
    if tool.key in FI01:
        return case.wid in FI01_WIDS and (case.wid, tool.key) not in NOT_APPLICABLE
    return (case.wid, tool.key) in IMPLS and (case.wid, tool.key) not in NOT_APPLICABLE


def set_threads(tool: Tool) -> None:
    """Thread counts are per process: set them before every call of a tool that has one."""
    if tool.threads is None:
        return
    if tool.key in OURS:
        fastiter.set_num_threads(tool.threads)
    elif tool.key.startswith("numba"):
        numba.set_num_threads(min(tool.threads, numba.config.NUMBA_NUM_THREADS))
    elif tool.key == "numexpr":
        numexpr.set_num_threads(tool.threads)


def digest(value: Any) -> Any:
    """A comparable summary of a collection: the Rust reference prints the same one."""
    if isinstance(value, (list, np.ndarray)):
        seq = value.tolist() if isinstance(value, np.ndarray) else value
        return f"len={len(seq)} sum={sum(seq)}"
    return value


def matches(kind: str, want: Any, got: Any) -> bool:
    if isinstance(got, str):  # from the Rust reference
        if kind == "float":
            return math.isclose(float(got), want, rel_tol=FLOAT_RTOL, abs_tol=0.0)
        return got == str(digest(want))
    if kind == "float":
        return type(got) is float and math.isclose(got, want, rel_tol=FLOAT_RTOL, abs_tol=0.0)
    if kind == "seq":
        if isinstance(got, list):
            return type(want) is list and got == want
        # An ndarray: same length, int64, same elements.
        return (
            getattr(got, "dtype", None) == np.int64
            and len(got) == len(want)
            and got.tolist() == want
        )
    if kind == "bool":
        return got is want or (type(got).__name__ == "bool_" and bool(got) is want)
    return type(got) is int and got == want


def calls_per_run(fn: Callable[[], Any], min_run: float) -> int:
    """How many calls make a run of at least `min_run` seconds, counted by calling (one slow
    call, a page fault or a preempted thread, must not decide it)."""
    reps = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < min_run and reps < 10**6:
        fn()
        reps += 1
    return reps


def time_calls(fn: Callable[[], Any], reps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


def measure_case(
    case: Case,
    tools: list[Tool],
    args: argparse.Namespace,
    native: NativeRunner | None,
    fi01: Fastiter01 | None,
    progress: Progress,
) -> list[Result]:
    workers: dict[str, Fastiter01Worker] = {}
    try:
        return measure_case_with(case, tools, args, native, fi01, workers, progress)
    finally:
        for w in workers.values():
            w.close()


def measure_case_with(
    case: Case,
    tools: list[Tool],
    args: argparse.Namespace,
    native: NativeRunner | None,
    fi01: Fastiter01 | None,
    workers: dict[str, Fastiter01Worker],
    progress: Progress,
) -> list[Result]:
    results = [Result(case, t) for t in tools]
    fns: dict[str, Callable[[], Any]] = {}
    min_run = 0.005 if args.quick else 0.02

    # Build and call each tool once: its first call (compiles) and the result to check.
    for r in results:
        key = (case.wid, r.tool.key)
        if r.tool.skip:
            r.status, r.note = "skipped", r.tool.skip
            continue
        if key in NOT_APPLICABLE or not applies(case, r.tool):
            r.status, r.note = "n/a", NOT_APPLICABLE.get(key, "")
            continue
        try:
            if r.tool.key.startswith("rust"):
                if native is None:
                    r.status, r.note = "skipped", NATIVE_SKIP
                    continue
                secs, value, reps = native.run(case, r.tool.threads or 1)
                r.value, r.reps = value, reps
                progress.line(case, r.tool, "first run", secs)
                continue
            if r.tool.key in FI01:
                assert fi01 is not None
                worker = workers[r.tool.key] = fi01.start()
                r.first_call, r.value, r.reps = worker.first(case, r.tool, min_run)
                progress.line(case, r.tool, "first call", r.first_call)
                continue
            fn = IMPLS[key](case, r.tool)
            set_threads(r.tool)
            t0 = time.perf_counter()
            r.value = fn()
            r.first_call = time.perf_counter() - t0
            # A call that compiled says nothing of the next; one that did not is a fair
            # sample, and a second call would cost CPython 5-10 s at W1's largest N.
            if r.tool.compiles or r.first_call < min_run:
                r.reps = calls_per_run(fn, min_run)
            fns[r.tool.key] = fn
            progress.line(case, r.tool, "first call", r.first_call)
        except Exception as e:  # noqa: BLE001 - a failing peer is reported, not fatal
            what = str(e) if isinstance(e, Fastiter01Error) else f"{type(e).__name__}: {e}"
            r.status, r.note = "error", what[:200]
            progress.line(case, r.tool, "ERROR", None, f" {r.note}")

    base = results[0]
    assert base.tool.key == "genexpr"
    for r in results:
        ok = r.status == "ok" and r is not base and base.status == "ok"
        if ok and not matches(case.kind, base.value, r.value):
            r.status = "WRONG"
            got = digest(r.value)
            r.note = f"returned {str(got)[:60]}, CPython {str(digest(base.value))[:60]}"

    # Round-robin: run i of every tool, then run i + 1.
    active = [r for r in results if r.status in ("ok", "WRONG")]
    for i in range(args.runs):
        for r in active:
            if r.tool.key.startswith("rust"):
                assert native is not None
                secs, _, r.reps = native.run(case, r.tool.threads or 1)
            elif r.tool.key in FI01:
                secs = workers[r.tool.key].run(r.reps)
            else:
                fn = fns[r.tool.key]
                set_threads(r.tool)
                secs = time_calls(fn, r.reps)
            r.times.append(secs)
            extra = f" (x{r.reps})" if r.reps > 1 else ""
            progress.line(case, r.tool, f"run {i + 1}/{args.runs}", secs, extra)
    return results


def cold_first_call(case: Case, tool: Tool, cache_dir: str | None = None) -> float | None:
    """The first call in a fresh interpreter: imports done, nothing compiled or cached (the
    on-disk kernel cache off), or, given ``cache_dir``, with that kernel cache."""
    cmd = [sys.executable, __file__, "--cold-call", case.wid, str(case.n), tool.key]
    cmd += [str(tool.threads or 1)]
    env = dict(os.environ, FASTITER_CACHE="0")
    if cache_dir is not None:
        env.update(FASTITER_CACHE="1", FASTITER_CACHE_DIR=cache_dir)
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return None
    return float(proc.stdout.strip())


def cold_cached_call(case: Case, tool: Tool) -> float | None:
    """The first call in a fresh interpreter whose kernel an earlier process left in the disk
    cache (a script's second run)."""
    with tempfile.TemporaryDirectory(prefix="fastiter-cache-") as d:
        if cold_first_call(case, tool, d) is None:  # fills the cache
            return None
        return cold_first_call(case, tool, d)


def cold_call_main(wid: str, n: int, key: str, threads: int) -> None:
    # Only what the call needs: a fresh process should not pay for importing Numba.
    load_peers(quiet=True, only=("fastiter", "numpy"))
    workload = wid.split("-")[0]
    case = next(Case(workload, w, v, n, k, nat) for w, v, k, nat, _, _ in VARIANTS if w == wid)
    tool = Tool(key, key, threads)
    fn = IMPLS[(wid, key)](case, tool)
    set_threads(tool)
    t0 = time.perf_counter()
    fn()
    print(time.perf_counter() - t0)


def compile_times(wid: str, reps: int) -> float | None:
    """Median wall time of fastiter._native.compile on the pipeline text: parse to machine code."""
    if wid not in PIPELINE_TEXTS:
        return None
    text, params, dtype = PIPELINE_TEXTS[wid]
    native = fastiter._native
    buffer = ("_fi_data", dtype) if dtype else None
    times = []
    # The on-disk kernel cache would serve every compile after the first.
    saved = os.environ.get("FASTITER_CACHE")
    os.environ["FASTITER_CACHE"] = "0"
    try:
        for _ in range(reps):
            t0 = time.perf_counter()
            native.compile(text, params, buffer)
            times.append(time.perf_counter() - t0)
    finally:
        if saved is None:
            del os.environ["FASTITER_CACHE"]
        else:
            os.environ["FASTITER_CACHE"] = saved
    return statistics.median(times)


# --- Setup: peers, the native build, fastiter 0.1 ----------------------------------------


NATIVE_SKIP = "not built"


def install_peers() -> None:
    missing = [p for p in PEERS if importlib.util.find_spec(p) is None]
    if not missing:
        return
    print(f"installing {' '.join(missing)} with pip ...", file=sys.stderr, flush=True)
    cmd = [sys.executable, "-m", "pip", "install", "--quiet"]
    if subprocess.run(cmd + missing, check=False).returncode != 0:
        # One at a time, so that one that does not install (numba on a too-new Python) does not
        # keep the others out.
        for p in missing:
            if subprocess.run(cmd + [p], check=False).returncode != 0:
                print(f"note: pip could not install {p}", file=sys.stderr)
    importlib.invalidate_caches()


def load_peers(quiet: bool = False, only: tuple[str, ...] = ()) -> dict[str, str]:
    """Import what is installed (into the module globals); returns notes for what is not."""
    notes = {}
    g = globals()
    for name, mod in (
        ("fastiter", "fastiter"),
        ("np", "numpy"),
        ("numba", "numba"),
        ("numexpr", "numexpr"),
    ):
        if only and mod not in only:
            continue
        try:
            g[name] = importlib.import_module(mod)
        except Exception as e:  # noqa: BLE001 - numba raises ImportError subclasses and others
            notes[mod] = f"skipped: {mod} does not import ({type(e).__name__}: {e})"[:200]
    if not quiet:
        for note in notes.values():
            print(f"note: {note}", file=sys.stderr)
    return notes


def build_native() -> str | None:
    """Builds the Rust reference; returns why it is skipped, or None."""
    if shutil.which("cargo") is None:
        return "skipped: cargo is not installed"
    print("building benches/native (cargo build --release) ...", file=sys.stderr, flush=True)
    cmd = ["cargo", "build", "--release", "--quiet", "--manifest-path", str(NATIVE / "Cargo.toml")]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        return "skipped: cargo build failed (see stderr)"
    return None


def fastiter01_note(no_install: bool) -> str:
    """Why the PyPI fastiter 0.1 is not measured, in pip's own words where pip can say it."""
    this = f"this is CPython {platform.python_version()}"
    if sys.version_info >= (3, 14):
        # 0.1.x installs on 3.14 with the GIL too (it warns at import that it will be slow).
        return (
            "skipped: shares the import name `fastiter` with this package; measure it from its "
            "own environment: --fastiter01-python PATH (scripts/bench_py314.sh does)"
        )
    reason = "requires Python >= 3.14 (its README: the free-threaded 3.14t, for any speedup)"
    if not no_install:
        with tempfile.TemporaryDirectory() as d:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", d, "fastiter<0.2"]
            proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
            # pip: "Ignored the following versions that require a different python version:
            # 0.1.0 Requires-Python >=3.14; ..."
            if "Requires-Python" in proc.stderr:
                reason += " (pip download: every 0.1.x release declares Requires-Python >=3.14)"
    return (
        f"skipped: {reason}; {this}. It also shares our import name `fastiter`, so it cannot be "
        "installed beside it"
    )


# --- Reports -----------------------------------------------------------------------------


def fmt_n(n: int) -> str:
    e = int(math.log10(n))
    m = n // 10**e
    if m * 10**e == n:
        return f"{m}e{e}" if m != 1 else f"1e{e}"
    return str(n)


def fmt_time(s: float | None) -> str:
    if s is None:
        return "-"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    if s >= 1e-6:
        return f"{s * 1e6:.3g} µs"
    return f"{s * 1e9:.3g} ns"


def fmt_ratio(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.0f}x" if x >= 100 else f"{x:.3g}x"


def ratio(base: Result, r: Result) -> float | None:
    if r.status != "ok" or not r.times or base.median is None:
        return None
    return base.median / r.median


def machine_info() -> dict[str, Any]:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "loadavg_start": os.getloadavg(),
    }


def versions(fi01: Fastiter01 | None) -> dict[str, str]:
    out = {"python": f"{platform.python_implementation()} {platform.python_version()}"}
    for name, mod in (("fastiter", fastiter), ("numpy", np), ("numba", numba)):
        out[name] = getattr(mod, "__version__", "?") if mod is not None else "missing"
    if fi01 is not None:
        out["fastiter (PyPI)"] = fi01.describe()
    out["numexpr"] = getattr(numexpr, "__version__", "?") if numexpr is not None else "missing"
    try:
        out["matplotlib"] = importlib.import_module("matplotlib").__version__
    except Exception:  # noqa: BLE001
        out["matplotlib"] = "missing"
    try:
        out["rustc"] = (
            subprocess.run(["rustc", "--version"], check=False, capture_output=True, text=True)
            .stdout.strip()
            .removeprefix("rustc ")
        )
    except OSError:
        out["rustc"] = "missing"
    try:
        out["git"] = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            check=False,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        pass
    # Where git is not installed (scripts/bench_py314.sh's chroot), the caller's word for it.
    if not out.get("git") and os.environ.get("FASTITER_BENCH_GIT"):
        out["git"] = os.environ["FASTITER_BENCH_GIT"]
    return out


def notes_for(r: Result, compile_s: float | None) -> str:
    parts = []
    if r.status in ("WRONG", "error", "n/a", "skipped") and r.note:
        parts.append(r.note)
    if r.tool.key in OURS and compile_s is not None and r.status == "ok":
        parts.append(f"compile {fmt_time(compile_s)}")
    if r.tool.key.startswith("numba") and r.first_call and r.median:
        parts.append(f"compile ≈ {fmt_time(r.first_call - r.median)} (first call − median)")
    if r.reps > 1:
        parts.append(f"{r.reps} calls per run")
    return "; ".join(parts)


def case_table(results: list[Result], compile_s: float | None) -> list[str]:
    base = results[0]
    lines = [
        "| tool | median | spread (min–max) | vs genexpr | first call | cold first call | notes |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        if r.status in ("n/a", "skipped", "error"):
            lines.append(f"| {r.tool.label} | {r.status} | | | | | {notes_for(r, compile_s)} |")
            continue
        spread = f"{fmt_time(min(r.times))} – {fmt_time(max(r.times))}" if r.times else "-"
        rt = "WRONG" if r.status == "WRONG" else fmt_ratio(ratio(base, r))
        if r is base:
            rt = "1.0 (baseline)"
        first = fmt_time(r.first_call) if r.tool.compiles else ""
        cold = fmt_time(r.cold_call) if r.cold_call is not None else ""
        if r.cold_cached is not None:
            cold += f" ({fmt_time(r.cold_cached)} cached)"
        med = fmt_time(r.median)
        if r.status == "WRONG":
            med = f"{med} WRONG"
        lines.append(
            f"| {r.tool.label} | {med} | {spread} | {rt} | {first} | {cold} | "
            f"{notes_for(r, compile_s)} |"
        )
    return lines


def find(
    all_results: list[list[Result]], wid: str, key: str, largest: bool = True
) -> tuple[Result | None, Result | None]:
    """(the tool's result, the genexpr baseline) at the largest N of a variant."""
    rows = [rs for rs in all_results if rs[0].case.wid == wid]
    if not rows:
        return None, None
    rs = max(rows, key=lambda rs: rs[0].case.n) if largest else rows[0]
    hit = next((r for r in rs if r.tool.key == key), None)
    return hit, rs[0]


def targets(all_results: list[list[Result]], compile_s: dict[str, float | None], threads: int):
    """Rows of (target, where measured, measured value, met?)."""
    rows = []

    def speedup(wid: str, key: str, want: float, what: str) -> None:
        r, base = find(all_results, wid, key)
        if r is None or base is None:
            rows.append((what, f">= {want:g}x", "not measured", "-"))
            return
        x = ratio(base, r)
        got = fmt_ratio(x) if x is not None else r.status
        where = f"{r.case.label}, {r.tool.label}"
        rows.append((what, f">= {want:g}x", f"{got} ({where})", met(x is not None and x >= want)))

    speedup("W1", "fastiter-N", 300, f"W1, N = 10^8, {threads} threads")
    speedup("W2", "fastiter-N", 100, f"W2, N = 2*10^6, {threads} threads")
    speedup("W4", "fastiter-N", 60, "W4, N = 10^7")
    speedup("W5-list", "fastiter-N", 5, "W5, N = 10^7, as a list")
    speedup("W5-ndarray", "fastiter-N", 50, "W5, N = 10^7, as an ndarray")
    speedup("W6-end", "fastiter-N", 10, "W6, N = 10^3, chain API, hit at end")
    speedup("W6-start", "fastiter-N", 10, "W6, N = 10^3, chain API, hit at start")
    speedup("W6-end", "fastiter-compile", 50, "W6, N = 10^3, @fastiter.compile, hit at end")
    speedup("W6-start", "fastiter-compile", 50, "W6, N = 10^3, @fastiter.compile, hit at start")
    speedup("W8-int", "fastiter-N", 1, "W8 (the README's example), N = 10^7, ints")
    speedup("W8-float", "fastiter-N", 1, "W8 (the README's example), N = 10^7, floats")
    c = compile_s.get("W1")
    rows.append(
        (
            "compile, W1 (parse -> machine code)",
            "< 1 ms median",
            fmt_time(c) if c is not None else "not measured",
            met(c is not None and c < 1e-3),
        )
    )
    for wid in ("W1", "W2"):
        one, _ = find(all_results, wid, "fastiter-1")
        many, _ = find(all_results, wid, "fastiter-N")
        what = f"1 -> {threads} threads, {wid}"
        if one is None or many is None or not one.times or not many.times:
            rows.append((what, ">= 1.85x", "not measured", "-"))
            continue
        x = one.median / many.median
        rows.append((what, ">= 1.85x", f"{x:.2f}x ({one.case.label})", met(x >= 1.85)))
    for key, where in (("fastiter-N", f"{threads} threads"), ("fastiter-1", "1 thread")):
        tagged, _ = find(all_results, "W7-int", key)
        plain, _ = find(all_results, "W7-float", key)
        what = f"W7 tagged (else 0) within 1.5x of untagged (else 0.0), {where}"
        ok = tagged is not None and plain is not None
        if not ok or tagged.status != "ok" or plain.status != "ok" or not tagged.times:
            rows.append((what, "<= 1.5x", "not measured", "-"))
            continue
        x = statistics.median(tagged.times) / statistics.median(plain.times)
        rows.append((what, "<= 1.5x", f"{x:.2f}x ({tagged.case.label})", met(x <= 1.5)))
    return rows


W6_START_NOTE = (
    "W6 with the hit at the start: CPython's `any` stops after one element (well under a "
    "microsecond), so a 10x or 50x target there would ask for a call cheaper than any Python "
    "call into native code; those rows are informative, the hit at the end is the scan the "
    "targets are about."
)


FI01_METHOD = (
    "- fastiter 0.1 (PyPI; {}) shares our import name, so it runs in its own interpreter, one "
    "process per case and thread count (`benches/fastiter01_worker.py`, started with "
    "`--fastiter01-python`), interleaved with the other tools like them: the same data (W4, W7: "
    "the same `arr.tolist()` as CPython's rows; it takes no ndarray), timed in that process the "
    "same way, its result sent back exactly (type and repr) and checked here. Its own API, as its "
    "README has it: `par_range`, `into_par_iter`, `set_num_threads`; it has no ndarray output "
    "(W5 as an ndarray: n/a). Nothing compiles, so there is no first-call column."
)


def met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def write_markdown(
    path: Path,
    all_results: list[list[Result]],
    compile_s: dict[str, float | None],
    meta: dict[str, Any],
    args: argparse.Namespace,
) -> None:
    m = meta["machine"]
    v = meta["versions"]
    lines = [
        "# fastiter against its peers",
        "",
        f"- date: {meta['date']}",
        (
            f"- machine: {m['cpus']} CPUs, {m['cpu_model']}; {m['platform']}; load average at start "
            f"{m['loadavg_start'][0]:.2f}, at end {m['loadavg_end'][0]:.2f}"
        ),
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- command: `{meta['command']}`",
        (
            f"- method: median of {args.runs} runs per figure, tools interleaved round-robin; "
            "spread is min–max over the runs; ratios are the CPython generator expression's median "
            "over the tool's (higher is faster), measured in this same run. Microsecond workloads "
            'repeat the call within a run and report the time per call. "first call" is the '
            'first call in this process (fastiter and Numba compile there); "cold first call" is '
            "the first call in a fresh interpreter (nothing cached; in brackets, with the kernel "
            "in fastiter's on-disk cache, as in a script's second run); fastiter caches kernels by "
            "the lambdas' code objects, so in-process only a workload's first fastiter call "
            "compiles (1 thread, first size). "
            '"compile" is '
            "`fastiter._native.compile` of the equivalent pipeline text, median of 20, with the "
            "on-disk kernel cache off."
        ),
        (
            "- correctness: every result is compared with CPython's: ints, bools and lists exactly, "
            f"ndarrays element by element (int64), float sums to a relative {FLOAT_RTOL:g} (summation "
            "order differs). A mismatch is marked WRONG and left out of ratios and the chart."
        ),
        (
            "- W4's and W7's CPython rows iterate `arr.tolist()` (made before timing): iterating "
            "the ndarray itself boxes a NumPy scalar per element, a slower baseline than plain "
            "Python needs."
        ),
        *([FI01_METHOD.format(meta["fastiter01"])] if meta.get("fastiter01") else []),
        "",
        f"![speedup over CPython]({args.name}.png)",
        "",
        "## Targets",
        "",
        "| target | wanted | measured | |",
        "|---|---|---|---|",
    ]
    for what, want, got, ok in targets(all_results, compile_s, args.threads):
        lines.append(f"| {what} | {want} | {got} | {ok} |")
    lines += ["", W6_START_NOTE]
    if args.quick:
        lines += ["", "(`--quick`: small sizes, so the targets above are not at their sizes.)"]
    lines += ["", "## Speedup over the CPython generator expression", ""]
    lines += summary_matrix(all_results)
    current = None
    noted: set[str] = set()
    for rs in all_results:
        case = rs[0].case
        if case.workload != current:
            current = case.workload
            lines += ["", f"## {current}: {WORKLOAD_TITLES[current]}"]
        lines += ["", f"### {case.label}", ""]
        if case.wid in VARIANT_NOTES and case.wid not in noted:
            noted.add(case.wid)
            lines += [VARIANT_NOTES[case.wid], ""]
        lines += case_table(rs, compile_s.get(case.wid))
    path.write_text("\n".join(lines) + "\n")


def summary_matrix(all_results: list[list[Result]]) -> list[str]:
    tools = [r.tool for r in all_results[0]] if all_results else []
    head = "| tool | " + " | ".join(rs[0].case.label for rs in all_results) + " |"
    lines = [head, "|---|" + "---:|" * len(all_results)]
    for i, tool in enumerate(tools):
        cells = []
        for rs in all_results:
            r = rs[i]
            if r.status == "ok":
                cells.append(fmt_ratio(ratio(rs[0], r)))
            else:
                cells.append(r.status)
        if all(c in ("n/a", "skipped") for c in cells):
            cells = [cells[0]] + [""] * (len(cells) - 1)
        lines.append(f"| {tool.label} | " + " | ".join(cells) + " |")
    return lines


# One colour family per project, so that runs with other tool subsets keep their colours.
TOOL_COLORS = {
    "lambdas": "#9e9e9e",
    "fastiter-1": "#fdae6b",
    "fastiter-N": "#e6550d",
    "fastiter-compile": "#8c2d04",
    "numpy": "#31a354",
    "numba": "#9ecae1",
    "numba-parallel": "#3182bd",
    "numexpr": "#e377c2",
    "rust-1": "#bcbddc",
    "rust-N": "#756bb1",
    "fastiter-0.1-1": "#fde0a0",
    "fastiter-0.1-N": "#c7a008",
}


def write_chart(path: Path, all_results: list[list[Result]]) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
    except Exception as e:  # noqa: BLE001
        return f"no chart: matplotlib does not import ({type(e).__name__})"
    tools = [r.tool for r in all_results[0][1:]]
    # Only tools with at least one figure get a colour.
    series = [
        (i + 1, t)
        for i, t in enumerate(tools)
        if any(rs[i + 1].status in ("ok", "WRONG") and rs[i + 1].times for rs in all_results)
    ]
    width = 0.8 / max(1, len(series))
    fig, ax = plt.subplots(figsize=(max(10, 1.1 * len(all_results)), 6), dpi=110)
    handles = []
    for s, (i, tool) in enumerate(series):
        xs, ys = [], []
        for c, rs in enumerate(all_results):
            x = ratio(rs[0], rs[i])
            pos = c + (s - (len(series) - 1) / 2) * width
            if x is not None:
                xs.append(pos)
                ys.append(x)
            elif rs[i].status == "WRONG":
                # Where its bar would be: a wrong answer is a result too, just not a speed.
                ax.text(pos, 1.05, "WRONG", rotation=90, ha="center", va="bottom", fontsize=6)
        color = TOOL_COLORS.get(tool.key, "black")
        ax.bar(xs, ys, width, color=color)
        handles.append(Patch(color=color, label=tool.label))
    ax.set_yscale("log")
    ax.set_ylim(bottom=min(ax.get_ylim()[0], 0.5))  # room for the WRONG labels above 1
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(all_results)))
    ax.set_xticklabels([rs[0].case.label.replace(" N=", "\nN=") for rs in all_results], fontsize=8)
    ax.set_ylabel("speedup over CPython generator expression (log)")
    ax.set_title("Median speedup over CPython's generator expression (no bar: n/a or skipped)")
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.set_axisbelow(True)
    # Below the axes: inside, it hides the tallest bars.
    ax.legend(handles=handles, fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return None


def write_json(
    path: Path,
    all_results: list[list[Result]],
    compile_s: dict[str, float | None],
    meta: dict[str, Any],
) -> None:
    rows = []
    for rs in all_results:
        for r in rs:
            rows.append(
                {
                    "workload": r.case.workload,
                    "variant": r.case.wid,
                    "n": r.case.n,
                    "tool": r.tool.key,
                    "label": r.tool.label,
                    "threads": r.tool.threads,
                    "status": r.status,
                    "note": r.note,
                    "times_s": r.times,
                    "calls_per_run": r.reps,
                    "median_s": r.median,
                    "ratio_vs_genexpr": ratio(rs[0], r),
                    "first_call_s": r.first_call,
                    "cold_first_call_s": r.cold_call,
                    "cold_first_call_cached_s": r.cold_cached,
                    "value": str(digest(r.value)) if r.value is not None else None,
                }
            )
    doc = {**meta, "compile_s": compile_s, "results": rows}
    path.write_text(json.dumps(doc, indent=1) + "\n")


# --- Main --------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes and 3 runs: a smoke test")
    p.add_argument("--runs", type=int, help="runs per figure (default 5, 3 with --quick)")
    p.add_argument("--only", help="workloads to run, e.g. W1,W3")
    p.add_argument("--tools", help="tools to run (genexpr, the baseline, is always run)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="'all threads'")
    p.add_argument("--no-install", action="store_true", help="do not pip install missing peers")
    p.add_argument("--no-cold", action="store_true", help="skip the fresh-process first calls")
    p.add_argument("--out", type=Path, default=RESULTS, help="where NAME.{md,png,json} go")
    p.add_argument(
        "--name", default="latest", help="the results' file name (default latest; py314, ...)"
    )
    p.add_argument(
        "--fastiter01-python",
        metavar="PATH",
        help="an interpreter whose environment has the PyPI fastiter 0.1 (and numpy), of the "
        "same Python version as this one: measures it in that process",
    )
    p.add_argument("--cold-call", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.runs is None:
        args.runs = 3 if args.quick else 5
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.cold_call:
        wid, n, key, threads = args.cold_call
        cold_call_main(wid, int(n), key, int(threads))
        return 0
    # An empty on-disk kernel cache of this run's own: a first call compiles, whatever an
    # earlier run left in the user's cache.
    os.environ["FASTITER_CACHE_DIR"] = tempfile.mkdtemp(prefix="fastiter-compare-cache-")
    started = time.perf_counter()
    if not args.no_install:
        install_peers()
    missing = load_peers()
    if fastiter is None:
        print("fastiter does not import: `pip install .` from the repository root", file=sys.stderr)
        return 1
    if np is None:
        print("numpy is needed (W4's data, collect_array)", file=sys.stderr)
        return 1
    global NATIVE_SKIP
    NATIVE_SKIP = build_native() or ""
    # --quick does not ask pip (a network round trip): the note is then the known reason.
    fi01: Fastiter01 | str
    if args.fastiter01_python:
        fi01 = Fastiter01.probe(args.fastiter01_python)
        if isinstance(fi01, str):
            print(f"note: fastiter 0.1 {fi01}", file=sys.stderr)
    else:
        fi01 = fastiter01_note(args.no_install or args.quick)
    fi01_or_none = None if isinstance(fi01, str) else fi01
    tools = make_tools(args.threads, fi01)
    for t in tools:
        mod = TOOL_MODULES.get(t.key)
        if mod in missing:
            t.skip = missing[mod]
        if t.key.startswith("rust") and NATIVE_SKIP:
            t.skip = NATIVE_SKIP
    if args.tools:
        wanted = set(args.tools.split(",")) | {"genexpr"}
        unknown = wanted - {t.key for t in tools}
        if unknown:
            print(
                f"unknown tools {sorted(unknown)}; known: {[t.key for t in tools]}", file=sys.stderr
            )
            return 2
        tools = [t for t in tools if t.key in wanted]
    only = set(args.only.upper().split(",")) if args.only else None
    cases = cases_for(args.quick, only)
    if not cases:
        print(f"no workload in {args.only!r}", file=sys.stderr)
        return 2

    per_case = sum(1 + args.runs for c in cases for t in tools if not t.skip and applies(c, t))
    progress = Progress(per_case)
    meta: dict[str, Any] = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine_info(),
        "versions": versions(fi01_or_none),
        "fastiter01": fi01_or_none.describe() if fi01_or_none else None,
        "command": " ".join(["python", "benches/compare.py", *argv]),
        "runs": args.runs,
        "threads": args.threads,
        "quick": args.quick,
    }
    all_results = []
    with tempfile.TemporaryDirectory() as tmp:
        native = None if NATIVE_SKIP else NativeRunner(Path(tmp))
        for case in cases:
            all_results.append(measure_case(case, tools, args, native, fi01_or_none, progress))

    if not args.no_cold:
        seen = set()
        for rs in all_results:
            # --quick: one size per variant, the fresh interpreters cost ~0.3 s each.
            if args.quick and rs[0].case.wid in seen:
                continue
            seen.add(rs[0].case.wid)
            for r in rs:
                if r.tool.cold and r.status == "ok":
                    r.cold_call = cold_first_call(r.case, r.tool)
                    r.cold_cached = cold_cached_call(r.case, r.tool)
                    print(
                        f"[cold] {r.case.label} {r.tool.key} first call in a fresh process... "
                        f"{fmt_time(r.cold_call)}, kernel in the disk cache "
                        f"{fmt_time(r.cold_cached)}",
                        file=sys.stderr,
                    )

    compile_s: dict[str, float | None] = {}
    if any(t.key in OURS and not t.skip for t in tools):
        for wid in sorted({c.wid for c in cases}):
            compile_s[wid] = compile_times(wid if wid != "W5-ndarray" else "W5-list", 20)
    meta["machine"]["loadavg_end"] = os.getloadavg()
    meta["elapsed_s"] = round(time.perf_counter() - started, 1)

    args.out.mkdir(parents=True, exist_ok=True)
    name = args.name
    write_markdown(args.out / f"{name}.md", all_results, compile_s, meta, args)
    write_json(args.out / f"{name}.json", all_results, compile_s, meta)
    chart_note = write_chart(args.out / f"{name}.png", all_results)
    if chart_note:
        print(f"note: {chart_note}", file=sys.stderr)
    print(
        f"wrote {args.out / f'{name}.md'}, {name}.json"
        + ("" if chart_note else f", {name}.png")
        + f" in {meta['elapsed_s']} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
