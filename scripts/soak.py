#!/usr/bin/env python3
"""Soak test of the fastiter Python package: random pipelines on many threads for M minutes.

Every pipeline is checked against CPython (the same lambdas over ``range``/``.tolist()`` with
builtins and generators). Meanwhile another thread changes ``fastiter.set_num_threads`` at random
and another sends SIGINT to the process every few seconds (the main thread runs pipelines too
and must survive its KeyboardInterrupts). The RSS is sampled; a watchdog dumps every thread's
traceback and exits 2 when no pipeline finishes for 60 s. See ``--help``.
"""

from __future__ import annotations

import argparse
import faulthandler
import functools
import gc
import importlib
import importlib.util
import itertools
import linecache
import math
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DESCRIPTION = """\
Soak test of fastiter: for --minutes M, --threads worker threads and the main thread run random
pipelines -- compiled ones and ones with a stage that cannot compile (str(x), a dict lookup) --
over ranges (negative, empty, bounds past i64 so the exact path runs), lists (ints, floats,
mixed), NumPy arrays (int64, float64, int32, bool) and @fastiter.compile functions. The lambdas
are generated as source text with fresh constants (so nearly every pipeline is a new kernel:
aim for at least --kernels distinct ones) and imported from module files in a temporary
directory (fastiter reads a lambda's source). Every result is compared with CPython's: same type
and repr, or the same exception type; float sums within the compensated-sum bound of
tests/python/_exact.py. Meanwhile a thread calls fastiter.set_num_threads(1..4) at random
intervals and another sends SIGINT every few seconds: the main thread's KeyboardInterrupt is
counted and the run goes on (an interrupted pipeline counts as neither pass nor mismatch).
A watchdog dumps all tracebacks and exits 2 if no pipeline finishes for 60 s. RSS (VmRSS) is
sampled at the start, after a warm-up, every minute, at 10 minutes and at the end.

The kernel disk cache goes to a temporary FASTITER_CACHE_DIR, removed at the end.
Exit status: 0 when all is well; 1 on any mismatch, or when the RSS at the end exceeds the RSS
after the warm-up by more than --rss-limit-mb; 2 on a hang. Needs numpy and hypothesis (the
test extras: tests/python/_exact.py is imported).
"""

# Set in main(), after FASTITER_CACHE_DIR: fastiter, numpy and tests/python/_exact.
fastiter = None
np = None
_exact = None

PRINT_LOCK = threading.Lock()
last_progress = time.monotonic()


def log(*parts):
    with PRINT_LOCK:
        print(*parts, flush=True)


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------------------------------------
# Generating pipelines
# ---------------------------------------------------------------------------------------------

# Stage bodies over x, per element kind: (template, kind of the result). {a},{b},{c}: small
# positive ints, {big}: an int that may be past i64, {f},{g}: floats, {s}: a shift, {n}: digits.
INT_MAPS = [
    ("x * {a} + {b}", "int"),
    ("x - {big}", "int"),
    ("(x ^ {a}) & {c}", "int"),
    ("x // {a}", "int"),
    ("x % {a} - {b}", "int"),
    ("abs(x - {a})", "int"),
    ("min(x, {a}) + max(x, -{b})", "int"),
    ("x * x % {a}", "int"),
    ("x ** 2 - {a}", "int"),
    ("x * {big}", "int"),
    ("x / {a}", "float"),
    ("x if x % {a} else -x - {b}", "int"),
    ("(x + {a}) // (x % {b} - {c})", "int"),
    ("math.sqrt(abs(x)) + {a}", "float"),
    ("round(x / {a})", "int"),
    ("x << {s}", "int"),
    ("(x >> 3) + {a}", "int"),
    ("pow(x, {c}, {a})", "int"),
    ("math.gcd(x, {a})", "int"),
    ("divmod(x, {a})[0] + {b}", "int"),
    ("(x - {a}).bit_length()", "int"),
    ("x * {f}", "float"),
    ("x if x > {a} else 0.5", "any"),
]
FLOAT_MAPS = [
    ("x * {f} + {g}", "float"),
    ("x % {f}", "float"),
    ("x // {f}", "float"),
    ("abs(x) - {f}", "float"),
    ("min(x, {f})", "any"),
    ("round(x, {n})", "any"),
    ("math.floor(x) + {a}", "int"),
    ("x / {f}", "float"),
    ("x * x - {a}", "any"),
    ("math.sqrt(abs(x)) * {f}", "float"),
    ("x if x > {f} else 0", "any"),
    ("max(0, x - {f})", "any"),
    ("int(x) % {a}", "int"),
    ("math.fmod(x, {f})", "float"),
    ("round(x) - {a}", "int"),
    ("math.exp(x / {a})", "float"),
]
BOOL_MAPS = [
    ("x + {a}", "int"),
    ("x * {f}", "float"),
    ("not x", "bool"),
    ("x and {a}", "int"),
    ("{a} if x else -{b}", "int"),
]
INT_PREDS = [
    "x % {a} == {r}",
    "x % {a} != {r}",
    "x > {big}",
    "-{a} < x < {b}",
    "not x % {a}",
    "x & {c}",
    "x != {a} and x % {b} > {r}",
    "(x * {a}) % {b} < {c}",
]
FLOAT_PREDS = [
    "x > {f}",
    "{f} < x < {g}",
    "x % {f} < {a}",
    "abs(x) <= {a}",
    "x != x or x < {f}",
    "math.isfinite(x) and x > {f}",
]
BOOL_PREDS = ["x", "not x", "x == {r}"]
# Stages that cannot compile: fastiter runs the chain as Python.
FALLBACK_MAPS = [
    ("len(str(x)) + {a}", "int"),
    ("D.get(len(repr(x)) % 7, {a})", "int"),
    ("len(format(x, '')) * {a}", "int"),
]
FALLBACK_PREDS = ["len(str(x)) % {a} == {r}", "D.get(len(repr(x)) % 7, 0) > {r}"]

MAPS = {"int": INT_MAPS, "float": FLOAT_MAPS, "bool": BOOL_MAPS, "any": FLOAT_MAPS}
PREDS = {"int": INT_PREDS, "float": FLOAT_PREDS, "bool": BOOL_PREDS, "any": FLOAT_PREDS}

CONSUMERS = [
    ("sum", 30),
    ("count", 6),
    ("min", 6),
    ("max", 6),
    ("collect", 10),
    ("any", 7),
    ("all", 7),
    ("min_key", 3),
    ("max_key", 3),
    ("reduce_add", 4),
    ("reduce_max", 4),
]


def fill(rng, template):
    def small():
        return rng.randint(2, 999) if rng.random() < 0.8 else rng.randint(1000, 10**6)

    def big():
        if rng.random() < 0.85:
            return str(rng.randint(-1000, 10**5))
        return rng.choice(["2**31", "2**62", "(2**63 - 1)", "10**18", "(-2**63)", "3**41"])

    def flt():
        v = round(rng.uniform(-50, 50), rng.randint(0, 3))
        if v == 0 or rng.random() < 0.05:
            v = rng.choice([0.5, 1e-300, 1e300, 3.25, 7.0])
        return f"({v!r})" if v < 0 else repr(v)

    a = small()
    return template.format(
        a=a,
        b=small(),
        c=rng.randint(1, 255),
        r=rng.randint(0, max(1, min(a, 50)) - 1),
        big=big(),
        f=flt(),
        g=flt(),
        s=rng.choice([1, 3, 17, 40, 63, 70]),
        n=rng.randint(0, 3),
    )


def gen_stages(rng, kind, fallback):
    """[(map|filter, body)], the element kind at the end, and whether a stage cannot compile."""
    stages = []
    n = rng.choice([1, 1, 2, 2, 3])
    bad = rng.randrange(n) if fallback else -1
    for i in range(n):
        op = "map" if rng.random() < 0.55 else "filter"
        if i == bad:
            if op == "map":
                t, kind = rng.choice(FALLBACK_MAPS)
                body = fill(rng, t)
            else:
                body = fill(rng, rng.choice(FALLBACK_PREDS))
        elif op == "map":
            t, out = rng.choice(MAPS[kind])
            body = fill(rng, t)
            kind = out
        else:
            body = fill(rng, rng.choice(PREDS[kind]))
        stages.append((op, body))
    return stages, kind


def gen_consumer(rng, kind, n_elements):
    names, weights = zip(*CONSUMERS)
    while True:
        name = rng.choices(names, weights)[0]
        if name == "collect" and n_elements > 20000:
            continue
        if name == "reduce_max" and kind != "int":
            continue
        break
    arg = None
    if name in ("any", "all") and rng.random() < 0.8:
        arg = fill(rng, rng.choice(PREDS[kind]))
    elif name in ("min_key", "max_key"):
        arg = fill(rng, rng.choice(MAPS[kind])[0])
    return name, arg


def consumer_source(name, arg):
    lam = f"lambda x: {arg}" if arg is not None else ""
    return {
        "sum": ".sum()",
        "count": ".count()",
        "min": ".min()",
        "max": ".max()",
        "collect": ".collect()",
        "any": f".any({lam})",
        "all": f".all({lam})",
        "min_key": f".min(key={lam})",
        "max_key": f".max(key={lam})",
        "reduce_add": ".reduce(lambda: 0, lambda a, b: a + b)",
        "reduce_max": ".reduce(lambda: 0, lambda a, b: max(a, b))",
    }[name]


def gen_range(rng):
    r = rng.random()
    if r < 0.1:  # empty
        a = rng.randint(-100, 100)
        return a, a - rng.randint(0, 5), 1
    if r < 0.25:  # bounds past i64: the exact path
        base = rng.choice([2**63 - 30, -(2**63) - 30, 2**64, -(2**70)])
        return base, base + rng.randint(0, 200), rng.choice([1, 1, 3])
    if r < 0.35:  # long enough for several chunks
        a = rng.randint(-(10**6), 10**6)
        return a, a + rng.randint(16384, 120000), rng.choice([1, 1, 2, 7])
    a = rng.randint(-2000, 2000)
    step = rng.choice([1, 1, 1, 2, 3, -1, -2])
    length = rng.randint(0, 3000)
    return (a, a + step * length, step)


def gen_data(rng):
    """(description, kind of the elements, a factory of (fastiter source, CPython data))."""
    r = rng.random()
    if r < 0.4:
        a, b, s = gen_range(rng)
        n = len(range(a, b, s))
        return f"par_range({a}, {b}, {s})", "int", n, ("range", (a, b, s))
    n = rng.choice([0, 1, 5, 100, 1000, 3000, 20000]) if rng.random() < 0.9 else 70000
    if r < 0.7:
        what = rng.choice(["ints", "floats", "mixed", "bigints"])
        if what == "ints":
            data = [rng.randint(-(10**6), 10**6) for _ in range(n)]
            kind = "int"
        elif what == "bigints":
            data = [rng.randint(-(10**6), 10**6) for _ in range(n)]
            if n:
                data[rng.randrange(n)] = rng.choice([2**63, -(2**64), 10**30])
            kind = "int"
        elif what == "floats":
            data = [rng.uniform(-1000, 1000) for _ in range(n)]
            for _ in range(min(n, rng.choice([0, 0, 1, 3]))):
                data[rng.randrange(n)] = rng.choice([-0.0, math.inf, -math.inf, math.nan, 1e308])
            kind = "float"
        else:
            data = [
                rng.choice([rng.randint(-100, 100), rng.uniform(-100, 100), rng.random() < 0.5])
                for _ in range(n)
            ]
            kind = "any"
        return f"into_par_iter(<list of {n} {what}>)", kind, n, ("list", data)
    dtype = rng.choice(["int64", "float64", "int32", "bool"])
    if dtype == "int64":
        arr = np.array([rng.randint(-(2**40), 2**40) for _ in range(n)], dtype=np.int64)
        if n and rng.random() < 0.3:
            arr[rng.randrange(n)] = rng.choice([2**63 - 1, -(2**63)])
    elif dtype == "int32":
        arr = np.array([rng.randint(-(2**31), 2**31 - 1) for _ in range(n)], dtype=np.int32)
    elif dtype == "float64":
        arr = np.array([rng.uniform(-1e6, 1e6) for _ in range(n)], dtype=np.float64)
        if n and rng.random() < 0.2:
            arr[rng.randrange(n)] = rng.choice([math.nan, math.inf, -0.0])
    else:
        arr = np.array([rng.random() < 0.5 for _ in range(n)], dtype=bool)
    kind = {"int64": "int", "int32": "int", "float64": "float", "bool": "bool"}[dtype]
    return f"into_par_iter(<ndarray {dtype} of {n}>)", kind, n, ("array", arr)


class Case:
    __slots__ = ("consumer", "data", "desc", "fallback", "key", "name", "text", "type")

    def __str__(self):
        return self.text


def gen_pipeline_case(rng, i):
    desc, kind, n, data = gen_data(rng)
    fallback = rng.random() < 0.2
    stages, kind = gen_stages(rng, kind, fallback)
    cname, carg = gen_consumer(rng, kind, n)
    chain = "".join(f".{op}(lambda x: {body})" for op, body in stages)
    tail = consumer_source(cname, carg)
    c = Case()
    c.name, c.type, c.data, c.fallback, c.consumer = f"p{i}", "pipeline", data, fallback, cname
    c.desc = desc
    c.text = f"{desc}{chain}{tail}"
    dtype = data[1].dtype.name if data[0] == "array" else data[0]
    c.key = f"{dtype}|{chain}{tail}"
    if data[0] == "list":  # a list's kernel depends on the item types the list holds
        c.key += "|" + ",".join(sorted({type(v).__name__ for v in data[1]}))
    stage_list = ", ".join(f"({op!r}, lambda x: {body})" for op, body in stages)
    carg_src = f"lambda x: {carg}" if carg is not None else "None"
    source = (
        f"def run_{c.name}(src):\n    return (\n        src{chain}\n        {tail}\n    )\n\n\n"
        f"def pipe_{c.name}(src):\n    return src{chain}\n\n\n"
        f"def ref_{c.name}(data):\n"
        f"    return _ref(data, [{stage_list}], {cname!r}, {carg_src})\n"
    )
    return c, source


def gen_function_case(rng, i):
    """A @fastiter.compile function: a pipeline body over par_range(lo, n) with a parameter k,
    or a scalar loop body called as a stage."""
    c = Case()
    c.name, c.fallback = f"f{i}", False
    if rng.random() < 0.5:
        stages, kind = gen_stages(rng, "int", False)
        # the first filter reads the parameter k (a kernel parameter: no new kernel per k)
        stages = [("filter", f"x % {rng.randint(2, 50)} != k")] + stages
        cname, carg = gen_consumer(rng, kind, 3000)
        chain = "".join(f".{op}(lambda x: {body})" for op, body in stages)
        tail = consumer_source(cname, carg)
        lo = rng.choice([0, -rng.randint(1, 3000), rng.randint(1, 500)])
        stage_list = ", ".join(f"({op!r}, lambda x: {body})" for op, body in stages)
        carg_src = f"lambda x: {carg}" if carg is not None else "None"
        c.type, c.consumer, c.data = "function", cname, lo
        c.text = f"@compile def run_{c.name}(n, k): return par_range({lo}, n){chain}{tail}"
        c.key = c.text
        source = (
            f"@fastiter.compile\ndef run_{c.name}(n, k):\n"
            f"    return par_range({lo}, n){chain}{tail}\n\n\n"
            f"def ref_{c.name}(n, k):\n"
            f"    return _ref(range({lo}, n), [{stage_list}], {cname!r}, {carg_src})\n"
        )
        return c, source
    a, b, m, steps = (
        rng.randint(2, 97),
        rng.randint(1, 10**4),
        rng.randint(3, 10**6),
        rng.randint(1, 9),
    )
    body = rng.choice(
        [
            f"    r = x\n    for _ in range({steps}):\n        r = (r * {a} + {b}) % {m}\n    return r\n",
            (
                f"    n = 0\n    while x > 1 and n < {steps * 20}:\n"
                f"        x = x // 2 if x % 2 == 0 else 3 * x + {b % 10 * 2 + 1}\n"
                "        n += 1\n    return n\n"
            ),
            (
                f"    r = 0.0\n    for i in range({steps}):\n"
                f"        r = (r * {a / 7!r} + x) % {m}.5\n"
                f"    return int(r) if r < {b} else r\n"
            ),
            f"    if x % {a} == 0:\n        return x // {a}\n    return x * {steps} - {b}\n",
        ]
    )
    c.type, c.consumer, c.data = "scalar", "sum", None
    c.text = f"@compile def run_{c.name}(x):\n{body}"
    c.key = c.text
    source = f"def ref_{c.name}(x):\n{body}\n\nrun_{c.name} = fastiter.compile(ref_{c.name})\n"
    return c, source


# ---------------------------------------------------------------------------------------------
# CPython's reference and the comparison
# ---------------------------------------------------------------------------------------------


class Raised:
    def __init__(self, exc):
        self.exc = exc

    def __repr__(self):
        return f"Raised({type(self.exc).__name__}: {self.exc})"


def _ref(data, stages, name, carg):
    """CPython's value of a pipeline over ``data``: (value or Raised, the consumed elements)."""
    elements = []

    def recorded(it):
        for v in it:
            elements.append(v)
            yield v

    it = iter(data)
    for op, f in stages:
        it = map(f, it) if op == "map" else filter(f, it)
    it = recorded(it)
    try:
        if name == "sum":
            value = sum(it)
        elif name == "count":
            value = sum(1 for _ in it)
        elif name == "collect":
            value = list(it)
        elif name in ("min", "max"):
            value = (min if name == "min" else max)(it, default=None)
        elif name in ("min_key", "max_key"):
            value = (min if name == "min_key" else max)(it, key=carg, default=None)
        elif name in ("any", "all"):
            fn = any if name == "any" else all
            value = fn(it) if carg is None else fn(carg(v) for v in it)
        elif name == "reduce_add":
            value = functools.reduce(lambda a, b: a + b, it, 0)
        elif name == "reduce_max":
            value = functools.reduce(max, it, 0)
        else:
            raise AssertionError(name)
    except Exception as e:  # noqa: BLE001 - any exception is a valid expected outcome
        return Raised(e), elements
    return value, elements


def outcome(fn):
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - compared by type with CPython's
        return Raised(e)


def mismatch(got, want, elements, consumer):
    """None when fastiter's ``got`` is acceptable for CPython's ``want``, else why not."""
    if isinstance(want, Raised):
        if isinstance(got, Raised) and type(got.exc) is type(want.exc):
            return None
        return f"expected {want!r}, got {got!r}"
    if isinstance(got, Raised):
        return f"expected {want!r}, got {got!r}"
    if _exact.same(got, want):
        return None
    numeric = all(isinstance(v, (int, float)) for v in elements)
    if consumer in ("sum", "reduce_add") and type(want) is float and numeric:
        return _exact.float_total_error(got, elements, consumer == "sum")
    return _exact.first_difference(got, want)


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------


class Stats:
    FIELDS = (
        "pipelines",
        "passed",
        "mismatches",
        "interrupts",
        "compiled",
        "fallback",
        "unclassified",
        "functions",
        "batches",
        "raised",
        "errors",
    )

    def __init__(self):
        for f in self.FIELDS:
            setattr(self, f, 0)
        self.kernels = set()  # hashes of (pipeline text, input type) that compiled
        self.kernels_from_disk = 0
        self.texts = set()  # hashes of every distinct pipeline generated


class Runner:
    def __init__(self, args, tmpdir):
        self.args = args
        self.tmpdir = tmpdir
        self.counter = itertools.count()
        self.stop = threading.Event()
        self.reported = 0
        self.first_explained = {}

    def make_source(self, data):
        kind, value = data
        if kind == "range":
            return fastiter.par_range(*value), range(*value)
        if kind == "list":
            return fastiter.into_par_iter(value), value
        return fastiter.into_par_iter(value), value.tolist()

    def report(self, case, what, got, want, extra=""):
        self.reported += 1
        if self.reported > 200:
            return
        log(
            f"MISMATCH [{threading.current_thread().name}] {case.text}\n"
            f"  {what}\n  fastiter: {got!r}\n  CPython:  {want!r}{extra}"
        )

    def classify(self, st, case, mod, src_obj):
        """Count the case as compiled (its plan, cached by the run, has a kernel) or fallback.
        Consumers taking a function are keyed by it: explain() (as collected) says instead."""
        pipe = getattr(mod, f"pipe_{case.name}")(src_obj)
        kernel = None
        try:
            if case.consumer in ("sum", "count", "min", "max", "collect"):
                kernel = pipe._plan(case.consumer, None)[0].kernel
            else:
                text = fastiter.explain(pipe)
                kernel = None if "runs as Python" in text else True
        except Exception:  # noqa: BLE001 - Unsupported: the chain runs as Python
            kernel = None
        if kernel is None:
            st.fallback += 1
            return
        st.compiled += 1
        h = hash(case.key)
        if h not in st.kernels:
            st.kernels.add(h)
            st.kernels_from_disk += getattr(kernel, "from_cache", False) is True

    def run_case(self, st, rng, case, mod):
        global last_progress
        st.texts.add(hash(case.key))
        if case.type == "pipeline":
            src_obj, data = self.make_source(case.data)
            ref = getattr(mod, f"ref_{case.name}")
            run = getattr(mod, f"run_{case.name}")
            got = outcome(lambda: run(src_obj))
            want, elements = ref(data)
            bad = mismatch(got, want, elements, case.consumer)
            st.pipelines += 1
            if bad is None:
                st.passed += 1
                st.raised += isinstance(want, Raised)
            else:
                st.mismatches += 1
                self.report(case, bad, got, want, f"\n  data: {case.data[1]!r:.300}")
            self.classify(st, case, mod, self.make_source(case.data)[0])
        elif case.type == "function":
            run = getattr(mod, f"run_{case.name}")
            ref = getattr(mod, f"ref_{case.name}")
            st.functions += 1
            for _ in range(rng.randint(1, 3)):
                n = case.data + rng.choice([0, 1, 10, 500, 3000])
                k = rng.randint(0, 5)
                got = outcome(lambda n=n, k=k: run(n, k))
                want, elements = ref(n, k)
                bad = mismatch(got, want, elements, case.consumer)
                st.pipelines += 1
                if bad is None:
                    st.passed += 1
                else:
                    st.mismatches += 1
                    self.report(case, f"run_{case.name}({n}, {k}): {bad}", got, want)
            if run._entries and any(
                getattr(e, "caller", None) is not None for e in list(run._entries.values())
            ):
                st.compiled += 1
                st.kernels.add(hash(case.key))
            else:
                st.fallback += 1
        else:  # a scalar function, called and used as a stage
            run = getattr(mod, f"run_{case.name}")
            ref = getattr(mod, f"ref_{case.name}")
            st.functions += 1
            lo = rng.randint(-500, 500)
            hi = lo + rng.choice([0, 10, 300, 2000])
            got = outcome(lambda: fastiter.par_range(lo, hi).map(run).sum())
            want, elements = _ref(range(lo, hi), [("map", ref)], "sum", None)
            bad = mismatch(got, want, elements, "sum")
            xs = [rng.randint(-(10**6), 10**6), rng.uniform(-100, 100), True]
            for x in xs:
                g, w = outcome(lambda x=x: run(x)), outcome(lambda x=x: ref(x))
                why = mismatch(g, w, [], "call")
                if why is not None and bad is None:
                    bad, got, want = f"run_{case.name}({x!r}): {why}", g, w
            st.pipelines += 1
            if bad is None:
                st.passed += 1
            else:
                st.mismatches += 1
                self.report(
                    case, f"par_range({lo}, {hi}).map(run_{case.name}).sum(): {bad}", got, want
                )
            st.kernels.add(hash(case.key))
            st.compiled += 1
        last_progress = time.monotonic()

    def load_batch(self, rng, n):
        cases, parts = [], ["import math\n\nimport fastiter\nfrom fastiter import par_range\n"]
        parts.append("D = {0: 1, 1: 0, 2: 3, 3: 7, 4: 1, 5: 9, 6: 2}\n\n\n")
        for i in range(n):
            c, source = (gen_function_case if rng.random() < 0.12 else gen_pipeline_case)(rng, i)
            cases.append(c)
            parts.append(source + "\n\n")
        name = f"_fastiter_soak_{os.getpid()}_{next(self.counter)}"
        path = os.path.join(self.tmpdir, name + ".py")
        with open(path, "w") as f:
            f.write("".join(parts))
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        mod._ref = _ref
        sys.modules[name] = mod
        try:
            spec.loader.exec_module(mod)
        except BaseException:
            self.unload(name, path)
            raise
        return cases, mod, name, path

    def unload(self, name, path):
        sys.modules.pop(name, None)
        linecache.cache.pop(path, None)
        try:
            os.remove(path)
        except OSError:
            pass

    def worker(self, st, seed, main=False):
        rng = random.Random(seed)
        while not self.stop.is_set():
            loaded = None
            try:
                loaded = self.load_batch(rng, rng.randint(4, 12))
                cases, mod, _, _ = loaded
                st.batches += 1
                for case in cases:
                    if self.stop.is_set():
                        break
                    try:
                        self.run_case(st, rng, case, mod)
                    except KeyboardInterrupt:
                        if not main:
                            raise
                        st.interrupts += 1
            except KeyboardInterrupt:
                if not main:
                    raise
                st.interrupts += 1
            except Exception:  # noqa: BLE001 - a bug of the soak script itself: say so
                st.errors += 1
                log(f"SOAK ERROR [{threading.current_thread().name}]\n{traceback.format_exc()}")
            finally:
                while loaded is not None:
                    try:
                        self.unload(*loaded[2:])
                        loaded = None
                    except KeyboardInterrupt:
                        st.interrupts += 1


def thread_changer(runner, rng, counter):
    while not runner.stop.wait(rng.uniform(0.01, 1.5)):
        fastiter.set_num_threads(rng.randint(1, 4))
        counter[0] += 1


def interrupter(runner, rng, counter):
    while not runner.stop.wait(rng.uniform(0.5, 4.0)):
        signal.raise_signal(signal.SIGINT)
        counter[0] += 1


def watchdog(runner, limit):
    while not runner.stop.wait(5):
        idle = time.monotonic() - last_progress
        if idle > limit:
            with PRINT_LOCK:
                print(f"\nHANG: no pipeline finished for {idle:.0f} s; tracebacks:", flush=True)
                faulthandler.dump_traceback(all_threads=True)
                sys.stdout.flush()
            os._exit(2)


def main(argv=None):
    global fastiter, np, _exact, last_progress
    ap = argparse.ArgumentParser(
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--minutes", type=float, required=True, help="how long to run")
    ap.add_argument("--threads", type=int, default=8, help="worker threads besides the main one")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: from time)")
    ap.add_argument(
        "--kernels", type=int, default=10_000, help="distinct kernels to aim for (reported)"
    )
    ap.add_argument(
        "--rss-limit-mb",
        type=float,
        default=500,
        help="fail when the end RSS exceeds the RSS after warm-up by more (default 500)",
    )
    ap.add_argument("--no-interrupts", action="store_true", help="send no SIGINT")
    ap.add_argument("--hang-seconds", type=float, default=60, help="watchdog limit (default 60)")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else int(time.time()) % 100000
    print(f"soak: {args.minutes} min, {args.threads} threads + main, seed {seed}", flush=True)

    cache_dir = tempfile.mkdtemp(prefix="fastiter_soak_cache_")
    mod_dir = tempfile.mkdtemp(prefix="fastiter_soak_mods_")
    os.environ["FASTITER_CACHE_DIR"] = cache_dir
    sys.dont_write_bytecode = True
    sys.path.insert(0, str(ROOT / "tests" / "python"))
    fastiter = importlib.import_module("fastiter")
    np = importlib.import_module("numpy")
    _exact = importlib.import_module("_exact")
    faulthandler.enable()

    rss_start = rss_mb()
    rss_samples = [(0.0, rss_start)]
    runner = Runner(args, mod_dir)
    stats = [Stats() for _ in range(args.threads + 1)]
    changes, signals = [0], [0]
    workers = [
        threading.Thread(
            target=runner.worker, args=(stats[i], seed * 1000 + i), name=f"w{i}", daemon=True
        )
        for i in range(args.threads)
    ]
    helpers = [
        threading.Thread(
            target=thread_changer, args=(runner, random.Random(seed + 1), changes), daemon=True
        ),
        threading.Thread(target=watchdog, args=(runner, args.hang_seconds), daemon=True),
    ]
    if not args.no_interrupts:
        helpers.append(
            threading.Thread(
                target=interrupter, args=(runner, random.Random(seed + 2), signals), daemon=True
            )
        )
    t0 = time.monotonic()
    last_progress = t0
    deadline = t0 + args.minutes * 60
    warmup = min(60.0, args.minutes * 60 * 0.2)
    rss_warm = None
    rss_10 = None
    next_sample = t0 + 60
    for t in workers + helpers:
        t.start()

    # The main thread runs pipelines too (KeyboardInterrupt lands here), in slices so that it
    # samples the RSS on time.
    main_st = stats[-1]

    def sample_rss():
        nonlocal rss_warm, rss_10, next_sample
        now = time.monotonic()
        if rss_warm is None and now - t0 >= warmup:
            rss_warm = rss_mb()
            rss_samples.append((now - t0, rss_warm))
            log(f"[{(now - t0) / 60:5.1f} min] RSS after warm-up {rss_warm:.0f} MB")
        if rss_10 is None and now - t0 >= 600:
            rss_10 = rss_mb()
            rss_samples.append((now - t0, rss_10))
        if now >= next_sample:
            next_sample += 60
            r = rss_mb()
            rss_samples.append((now - t0, r))
            tot = sum(s.pipelines for s in stats)
            bad = sum(s.mismatches for s in stats)
            kern = len(set().union(*(s.kernels for s in stats)))
            log(
                f"[{(now - t0) / 60:5.1f} min] RSS {r:.0f} MB, {tot} pipelines, "
                f"{bad} mismatches, {kern} kernels, {main_st.interrupts} interrupts"
            )

    rng = random.Random(seed * 1000 + 999)
    running = True
    while True:  # a KeyboardInterrupt may land anywhere here, also while stopping
        try:
            while running and time.monotonic() < deadline:
                sample_rss()
                one_batch(runner, main_st, rng.randrange(2**32))
            running = False
            runner.stop.set()
            for t in helpers:
                t.join()
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a SIGINT still pending is dropped
            break
        except KeyboardInterrupt:
            main_st.interrupts += 1
    for t in workers:
        t.join(args.hang_seconds)
        if t.is_alive():
            print(f"HANG: worker {t.name} did not stop", flush=True)
            faulthandler.dump_traceback(all_threads=True)
            os._exit(2)
    elapsed = time.monotonic() - t0
    gc.collect()
    rss_end = rss_mb()
    rss_samples.append((elapsed, rss_end))
    if rss_warm is None:
        rss_warm = rss_end

    tot = Stats()
    for s in stats:
        for f in Stats.FIELDS:
            setattr(tot, f, getattr(tot, f) + getattr(s, f))
        tot.kernels |= s.kernels
        tot.texts |= s.texts
        tot.kernels_from_disk += s.kernels_from_disk
    cache_entries = sum(1 for _ in Path(cache_dir).iterdir())
    shutil.rmtree(cache_dir, ignore_errors=True)
    shutil.rmtree(mod_dir, ignore_errors=True)

    rss_max = max(r for _, r in rss_samples)
    growth = rss_end - rss_warm
    kernels = len(tot.kernels)
    print(
        f"\n=== soak summary (seed {seed}, {elapsed / 60:.1f} min, {args.threads} threads + main) ===\n"
        f"pipelines run:      {tot.pipelines} ({tot.passed} matched CPython, {tot.raised} of "
        f"them raising as CPython does)\n"
        f"  compiled:         {tot.compiled} cases (pipelines whose plan has a kernel, and "
        f"@compile functions with a compiled entry)\n"
        f"  fallback:         {tot.fallback} cases (run as Python)\n"
        f"  @compile funcs:   {tot.functions} cases\n"
        f"mismatches:         {tot.mismatches}\n"
        f"interrupts:         {tot.interrupts} KeyboardInterrupts caught in the main thread "
        f"({signals[0]} SIGINTs sent)\n"
        f"set_num_threads:    {changes[0]} changes\n"
        f"kernels compiled:   {kernels} distinct (of {len(tot.texts)} distinct pipelines "
        f"generated; target {args.kernels}"
        f"{'' if kernels >= args.kernels else ', NOT reached'}); "
        f"{cache_entries} files in the disk cache at the end\n"
        f"soak errors:        {tot.errors} (exceptions in the soak script itself)\n"
        f"RSS:                start {rss_start:.0f} MB, after warm-up {rss_warm:.0f} MB, "
        f"10 min {'-' if rss_10 is None else f'{rss_10:.0f} MB'}, end {rss_end:.0f} MB, "
        f"max {rss_max:.0f} MB (growth after warm-up {growth:+.0f} MB, limit "
        f"{args.rss_limit_mb:.0f} MB)\n"
        f"RSS samples (min: MB): " + ", ".join(f"{t / 60:.1f}: {r:.0f}" for t, r in rss_samples),
        flush=True,
    )
    status = 0
    if tot.mismatches:
        print(f"FAIL: {tot.mismatches} mismatches", flush=True)
        status = 1
    if tot.errors:
        print(f"FAIL: {tot.errors} errors of the soak script", flush=True)
        status = 1
    if growth > args.rss_limit_mb:
        print(f"FAIL: RSS grew {growth:.0f} MB after warm-up", flush=True)
        status = 1
    return status


def one_batch(runner, st, seed):
    """One batch of pipelines on the calling (main) thread."""
    rng = random.Random(seed)
    try:
        loaded = runner.load_batch(rng, rng.randint(2, 6))
    except Exception:  # noqa: BLE001 - a bug of the soak script itself: say so
        st.errors += 1
        log(f"SOAK ERROR [main]\n{traceback.format_exc()}")
        return
    cases, mod = loaded[0], loaded[1]
    st.batches += 1
    try:
        for case in cases:
            try:
                runner.run_case(st, rng, case, mod)
            except KeyboardInterrupt:
                st.interrupts += 1
            except Exception:  # noqa: BLE001 - a bug of the soak script itself: say so
                st.errors += 1
                log(f"SOAK ERROR [main] {case.text}\n{traceback.format_exc()}")
    finally:
        while True:
            try:
                runner.unload(*loaded[2:])
                break
            except KeyboardInterrupt:
                st.interrupts += 1


if __name__ == "__main__":
    sys.exit(main())
