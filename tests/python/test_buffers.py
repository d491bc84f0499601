"""Buffer inputs: NumPy arrays, array.array, memoryview, bytes.

Every result must equal plain Python over ``.tolist()`` (the Python values of the elements), in
type and value: a kernel that computes in the buffer's own width (``int32 * int32`` wrapping,
``float32`` arithmetic) or a fallback that iterates NumPy scalars (``np.int64`` overflow) gives a
different answer.  Supported buffers are read in place: summing a 10^7-element array must not
allocate memory proportional to N (checked with tracemalloc and with the peak RSS of a
subprocess).  Non-contiguous, byte-swapped and unsupported formats must still give the right
answer.
"""

from __future__ import annotations

import array
import functools
import json
import math
import subprocess
import sys
import textwrap
import tracemalloc
from fractions import Fraction

import pytest
from _exact import hypothesis_settings
from fastiter import into_par_iter
from hypothesis import given, note
from hypothesis import strategies as st

try:
    import numpy as np
except ImportError:  # pragma: no cover - numpy is a test dependency
    np = None

needs_numpy = pytest.mark.skipif(np is None, reason="numpy is not installed")

SETTINGS = hypothesis_settings()

# ---------------------------------------------------------------------------------------------
# Element values per format, and the containers
# ---------------------------------------------------------------------------------------------

I64 = (-(2**63), 2**63 - 1)
RANGES = {
    "int64": I64,
    "int32": (-(2**31), 2**31 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int8": (-128, 127),
    "uint8": (0, 255),
    "uint16": (0, 2**16 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
}
ARRAY_CODES = {
    "q": "int64",
    "i": "int32",
    "b": "int8",
    "h": "int16",
    "B": "uint8",
    "H": "uint16",
    "I": "uint32",
    "Q": "uint64",
    "d": "float64",
    "f": "float32",
}


def elements(dtype):
    """A strategy of Python values exactly representable in ``dtype``."""
    if dtype == "bool":
        return st.booleans()
    if dtype == "float64":
        return st.one_of(
            st.floats(-1e6, 1e6),
            st.floats(allow_nan=True, allow_infinity=True),
            st.sampled_from([0.0, -0.0, 0.5, -1.5, 1e308, 5e-324, math.nan]),
        )
    if dtype == "float32":
        return st.one_of(st.floats(-1e4, 1e4, width=32), st.floats(width=32))
    if dtype == "float16":
        return st.floats(width=16)
    lo, hi = RANGES[dtype]
    return st.one_of(
        st.integers(lo, hi), st.integers(max(lo, -10), min(hi, 10)), st.sampled_from([lo, hi])
    )


def fixed_values(dtype, n=1000):
    """Deterministic values including the extremes (and NaN/inf/-0.0 for floats)."""
    if dtype == "bool":
        base = [True, False, False, True, True]
    elif dtype.startswith("float"):
        info = np.finfo(dtype)
        base = [0.0, -0.0, 0.5, -1.5, 3.0, 0.1, float(info.max), -float(info.max)]
        base += [float(info.tiny), 7.25, -2.0, 1.0, math.inf, -math.inf, math.nan]
        base = [float(np.array(v, dtype=dtype)) for v in base]
    else:
        lo, hi = RANGES[dtype]
        base = [0, 1, -1, 2, 3, -7, lo, hi, lo + 1, hi - 1, 100, 12345, -99]
        base = [v for v in base if lo <= v <= hi]
    return [base[(i * 7) % len(base)] for i in range(n)]


def finite(values):
    return [v for v in values if not (isinstance(v, float) and not math.isfinite(v))]


def make_numpy(dtype):
    def make(values):
        return np.array(values, dtype=dtype)

    return make


def make_array(code):
    def make(values):
        return array.array(code, values)

    return make


def make_memoryview(inner):
    def make(values):
        return memoryview(inner(values))

    return make


def make_bytes(kind):
    def make(values):
        return kind(values)

    return make


NUMPY_DTYPES = ["int64", "int32", "float64", "float32", "bool"]
EXTRA_NUMPY_DTYPES = ["int8", "int16", "uint8", "uint16", "uint32", "uint64", "float16"]

# (id, element dtype, constructor, needs numpy)
SOURCES = (
    [(f"numpy-{d}", d, d, True) for d in NUMPY_DTYPES + EXTRA_NUMPY_DTYPES]
    + [(f"numpy->{d}", d, ">" + np.dtype(d).str[1:] if np else None, True) for d in ("i8", "f8")]
    + [(f"array-{c}", ARRAY_CODES[c], "array:" + c, False) for c in ARRAY_CODES]
    + [(f"memoryview-numpy-{d}", d, "mv-numpy:" + d, True) for d in NUMPY_DTYPES]
    + [(f"memoryview-array-{c}", ARRAY_CODES[c], "mv-array:" + c, False) for c in "qidfb"]
    + [("bytes", "uint8", "bytes", False), ("bytearray", "uint8", "bytearray", False)]
)
# byte-swapped dtypes: the element values are those of the native dtype
SOURCES = [
    (sid, {"i8": "int64", "f8": "float64"}.get(d, d), ctor, numpy_needed)
    for sid, d, ctor, numpy_needed in SOURCES
]
MAIN_SOURCES = [
    "numpy-int64",
    "numpy-int32",
    "numpy-float64",
    "numpy-float32",
    "numpy-bool",
    "array-q",
    "array-i",
    "array-d",
    "array-f",
    "array-b",
    "memoryview-numpy-float64",
    "memoryview-array-q",
]


def constructor(ctor):
    if ctor.startswith("array:"):
        return make_array(ctor[6:])
    if ctor.startswith("mv-numpy:"):
        return make_memoryview(make_numpy(ctor[9:]))
    if ctor.startswith("mv-array:"):
        return make_memoryview(make_array(ctor[9:]))
    if ctor == "bytes":
        return make_bytes(bytes)
    if ctor == "bytearray":
        return make_bytes(bytearray)
    return make_numpy(ctor)


def python_values(obj):
    """The Python values of a buffer's elements, as the user's plain Python code sees them."""
    return obj.tolist() if hasattr(obj, "tolist") else list(obj)


def source_params(ids=None):
    out = []
    for sid, dtype, ctor, numpy_needed in SOURCES:
        if ids is not None and sid not in ids:
            continue
        marks = [needs_numpy] if numpy_needed else []
        out.append(pytest.param(dtype, ctor, id=sid, marks=marks))
    return out


# ---------------------------------------------------------------------------------------------
# Pipelines: module-level lambdas (their source is available), applied to fastiter and to Python
# ---------------------------------------------------------------------------------------------

SQUARE_PLUS_ONE = lambda v: v * v + 1
GT_HALF = lambda v: v > 0.5
TRIPLE_MINUS_ONE = lambda v: v * 3 - 1
MOD3_IS_1 = lambda v: v % 3 == 1
HALF = lambda v: v / 2
NEG = lambda v: -v
DIST3 = lambda v: abs(v - 3)
IS_NEG = lambda v: v < 0
GT_MINUS_100 = lambda v: v > -100
FLOORDIV3 = lambda v: v // 3
SQRT_ABS = lambda v: math.sqrt(abs(v))
# str() cannot be compiled: this runs on the Python fallback, which must see Python values
OPAQUE_SQUARE = lambda v: v * v + len(str(v)) * 0

# name: (stages, consumer, consumer argument)
CASES = {
    "sum": ([], "sum", None),
    "count": ([], "count", None),
    "min": ([], "min", None),
    "max": ([], "max", None),
    "min_key": ([], "min", NEG),
    "max_key": ([], "max", DIST3),
    "collect": ([], "collect", None),
    "any": ([], "any", None),
    "all": ([], "all", None),
    "any_neg": ([], "any", IS_NEG),
    "all_gt": ([], "all", GT_MINUS_100),
    "map_collect": ([("map", TRIPLE_MINUS_ONE)], "collect", None),
    "square_filter_sum": ([("map", SQUARE_PLUS_ONE), ("filter", GT_HALF)], "sum", None),
    "mod_count": ([("filter", MOD3_IS_1)], "count", None),
    "half_sum": ([("map", HALF)], "sum", None),
    "floordiv_collect": ([("map", FLOORDIV3)], "collect", None),
    "sqrt_sum": ([("map", SQRT_ABS)], "sum", None),
    "reduce_add": ([], "reduce", None),
    "fallback_sum": ([("map", OPAQUE_SQUARE)], "sum", None),
    "fallback_collect": ([("map", OPAQUE_SQUARE)], "collect", None),
}


class Raised:
    def __init__(self, exc):
        self.exc = exc

    def __repr__(self):
        return f"Raised({type(self.exc).__name__}: {self.exc})"


def run_fastiter(obj, case):
    stages, consumer, arg = CASES[case]
    p = into_par_iter(obj)
    for kind, fn in stages:
        p = getattr(p, kind)(fn)
    try:
        if consumer == "reduce":
            return p.reduce(lambda: 0, lambda a, b: a + b)
        method = getattr(p, consumer)
        return method() if arg is None else method(arg)
    except Exception as e:  # noqa: BLE001 - compared with Python's exception
        return Raised(e)


def run_python(values, case):
    """(expected, elements reaching the consumer): sequential Python, element by element."""
    stages, consumer, arg = CASES[case]
    seen = []

    def recorded(it):
        for v in it:
            seen.append(v)
            yield v

    it = iter(values)
    for kind, fn in stages:
        it = map(fn, it) if kind == "map" else filter(fn, it)
    it = recorded(it)
    try:
        if consumer == "sum":
            value = sum(it)
        elif consumer == "count":
            value = sum(1 for _ in it)
        elif consumer == "collect":
            value = list(it)
        elif consumer in ("min", "max"):
            fn = min if consumer == "min" else max
            value = fn(it, default=None) if arg is None else fn(it, key=arg, default=None)
        elif consumer in ("any", "all"):
            fn = any if consumer == "any" else all
            value = fn(it) if arg is None else fn(arg(v) for v in it)
        else:
            value = functools.reduce(lambda a, b: a + b, it, 0)
    except Exception as e:  # noqa: BLE001
        return Raised(e), seen
    return value, seen


def same(a, b):
    """Same type and value: -0.0 != 0.0, nan == nan, 1 != 1.0 != True."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return repr(a) == repr(b)
    return a == b


def check_float_total(got, elems, compensated, what):
    """A float sum (compensated, chunked) or reduce(+) (any association) of ``elems``."""
    assert type(got) is float, f"{what}: expected a float, got {got!r}"
    if any(isinstance(v, float) and math.isnan(v) for v in elems):
        assert math.isnan(got), f"{what}: a NaN element, got {got!r}"
        return
    pos = any(v == math.inf for v in elems)
    neg = any(v == -math.inf for v in elems)
    fin = finite(elems)
    exact = sum(Fraction(v) for v in fin)
    sum_abs = sum(abs(Fraction(v)) for v in fin)
    may_overflow = sum_abs > Fraction(2**1023)
    if pos and neg:
        assert math.isnan(got), f"{what}: inf and -inf elements, got {got!r}"
        return
    if pos or neg:
        want = math.inf if pos else -math.inf
        assert got == want or (may_overflow and math.isnan(got)), f"{what}: got {got!r}"
        return
    try:
        exact_f = float(exact)
    except OverflowError:
        want = math.inf if exact > 0 else -math.inf
        assert got == want or (may_overflow and math.isnan(got)), f"{what}: got {got!r}"
        return
    if not math.isfinite(got):
        assert may_overflow, f"{what}: exact sum {exact_f!r}, got {got!r}"
        return
    err = abs(Fraction(got) - exact)
    n = len(elems)
    eps = Fraction(2.0**-52)
    if compensated:
        bound = 3 * Fraction(math.ulp(exact_f)) + 4 * n * eps**2 * sum_abs
    else:
        bound = Fraction(math.ulp(exact_f)) + (n + 1) * eps * sum_abs
    assert err <= bound, (
        f"{what}: got {got!r}, exact {exact_f!r}, error {float(err):.3g} > {float(bound):.3g}"
    )
    if got == 0:
        assert repr(got) == "0.0", f"{what}: got {got!r}; CPython's float sums are never -0.0"


def check(obj, values, case, what):
    got = run_fastiter(obj, case)
    expected, seen = run_python(values, case)
    if isinstance(expected, Raised):
        assert isinstance(got, Raised), f"{what}: expected {expected!r}, got {got!r}"
        assert type(got.exc) is type(expected.exc), f"{what}: expected {expected!r}, got {got!r}"
        return
    assert not isinstance(got, Raised), f"{what}: expected {expected!r}, got {got!r}"
    consumer = CASES[case][1]
    if consumer in ("sum", "reduce") and isinstance(expected, float):
        if same(got, expected):  # exactly CPython's own sum (e.g. on the Python fallback)
            return
        check_float_total(got, seen, consumer == "sum", what)
        return
    assert same(got, expected), f"{what}: expected {expected!r}, got {got!r}"


# ---------------------------------------------------------------------------------------------
# Correctness
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize(("dtype", "ctor"), source_params())
def test_buffer_matches_python(dtype, ctor, case):
    if np is None and dtype.startswith("float"):
        pytest.skip("fixed float values use numpy's finfo")
    values = fixed_values(dtype)
    obj = constructor(ctor)(values)
    values = python_values(obj)
    check(obj, values, case, f"{ctor} {case}")


@pytest.mark.parametrize("case", ["sum", "square_filter_sum", "min", "any_neg"])
@pytest.mark.parametrize(("dtype", "ctor"), source_params(MAIN_SOURCES))
def test_long_buffers(dtype, ctor, case):
    """300_000 elements: long enough to be split in chunks and run on a watched worker thread."""
    values = fixed_values(dtype, 300_000)
    obj = constructor(ctor)(values)
    check(obj, python_values(obj), case, f"{ctor} x300000 {case}")


@st.composite
def buffer_case(draw):
    sid, dtype, ctor, _numpy_needed = draw(
        st.sampled_from([s for s in SOURCES if np is not None or not s[3]])
    )
    values = draw(st.lists(elements(dtype), max_size=200))
    case = draw(st.sampled_from(sorted(CASES)))
    return sid, ctor, values, case


@SETTINGS
@given(buffer_case())
def test_buffer_hypothesis(bc):
    sid, ctor, values, case = bc
    obj = constructor(ctor)(values)
    values = python_values(obj)
    note(f"{sid} {case} {values!r}")
    check(obj, values, case, f"{sid} {case}")


@needs_numpy
@pytest.mark.parametrize("dtype", NUMPY_DTYPES)
@pytest.mark.parametrize(
    "view",
    ["a[::2]", "a[::-1]", "a[1::3]", "a.reshape(-1, 4)[:, 1]", "memoryview(a)[::2]"],
)
@pytest.mark.parametrize("case", ["sum", "count", "min", "max_key", "collect", "square_filter_sum"])
def test_non_contiguous(dtype, view, case):
    a = np.array(fixed_values(dtype, 1000), dtype=dtype)
    obj = eval(view, {"a": a})
    check(obj, python_values(obj), case, f"{dtype} {view} {case}")


@pytest.mark.parametrize(("dtype", "ctor"), source_params(MAIN_SOURCES))
def test_empty_buffers(dtype, ctor):
    obj = constructor(ctor)([])
    assert same(into_par_iter(obj).sum(), 0)
    assert same(into_par_iter(obj).count(), 0)
    assert into_par_iter(obj).min() is None
    assert into_par_iter(obj).max() is None
    assert same(into_par_iter(obj).collect(), [])
    assert same(into_par_iter(obj).any(), False)
    assert same(into_par_iter(obj).all(), True)
    assert same(into_par_iter(obj).map(SQUARE_PLUS_ONE).filter(GT_HALF).sum(), 0)


@needs_numpy
def test_buffer_read_at_call_time_not_cached():
    """Mutating the array between calls changes the answer (no stale copy, no stale result)."""
    a = np.arange(1000, dtype=np.int64)
    assert into_par_iter(a).map(SQUARE_PLUS_ONE).sum() == sum(v * v + 1 for v in range(1000))
    a[0] = 2**40
    a[999] = -7
    expected = sum(v * v + 1 for v in a.tolist())
    assert into_par_iter(a).map(SQUARE_PLUS_ONE).sum() == expected
    f = np.zeros(1000, dtype=np.float32)
    assert same(into_par_iter(f).max(), 0.0)
    f[500] = 0.1
    assert same(into_par_iter(f).max(), float(np.float32(0.1)))


@needs_numpy
def test_read_only_and_wide_values():
    ro = np.frombuffer(np.arange(100, dtype=np.int64).tobytes(), dtype=np.int64)
    assert not ro.flags.writeable
    assert same(into_par_iter(ro).map(SQUARE_PLUS_ONE).sum(), sum(v * v + 1 for v in range(100)))
    # int64 squares overflow i64: the answer is an exact Python int, never a wrapped one
    big = np.array([2**62, -(2**63), 2**63 - 1, 3], dtype=np.int64)
    assert same(
        into_par_iter(big).map(SQUARE_PLUS_ONE).collect(), [v * v + 1 for v in big.tolist()]
    )
    assert same(into_par_iter(big).sum(), sum(big.tolist()))
    # int32 squares past 2**31: computed as Python ints, not in 32 bits
    i32 = np.array([2**31 - 1, -(2**31), 46341], dtype=np.int32)
    assert same(into_par_iter(i32).map(SQUARE_PLUS_ONE).sum(), sum(v * v + 1 for v in i32.tolist()))
    # float32 elements are widened to float64 before any arithmetic, as .tolist() does
    f32 = np.array([0.1, 1e30, 3.3], dtype=np.float32)
    assert same(
        into_par_iter(f32).map(SQUARE_PLUS_ONE).collect(), [v * v + 1 for v in f32.tolist()]
    )
    # uint64 past 2**63 (not an i64): still the exact Python values
    u64 = np.array([2**64 - 1, 2**63, 5], dtype=np.uint64)
    assert same(into_par_iter(u64).sum(), sum(u64.tolist()))
    assert same(into_par_iter(u64).max(), 2**64 - 1)


# ---------------------------------------------------------------------------------------------
# Zero copy
# ---------------------------------------------------------------------------------------------

N_BIG = 10**7


def zero_copy_pipelines(p_sum, p_chain):
    return p_sum.sum(), p_chain.map(SQUARE_PLUS_ONE).filter(GT_HALF).count()


@needs_numpy
@pytest.mark.parametrize("dtype", NUMPY_DTYPES)
def test_zero_copy_tracemalloc(dtype):
    """Summing a 10^7-element array allocates no Python-visible memory proportional to N."""
    small = np.ones(1000, dtype=dtype)
    zero_copy_pipelines(into_par_iter(small), into_par_iter(small))  # compile first
    big = np.ones(N_BIG, dtype=dtype)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        total, count = zero_copy_pipelines(into_par_iter(big), into_par_iter(big))
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert same(total, N_BIG if dtype == "bool" else type(small.tolist()[0])(N_BIG))
    assert count == N_BIG
    print(f"\n{dtype}: peak traced allocation {peak / 1e6:.3f} MB for {big.nbytes / 1e6:.0f} MB")
    assert peak < min(1_000_000, big.nbytes // 20), (
        f"{dtype}: {peak} bytes traced while reading a {big.nbytes}-byte array: a copy?"
    )


RSS_SCRIPT = textwrap.dedent(
    """
    import array, json, resource, sys
    import numpy as np
    from fastiter import into_par_iter

    KIND, N = sys.argv[1], int(sys.argv[2])
    SQ = lambda v: v * v + 1
    POS = lambda v: v > 0.5

    def run(obj):
        return into_par_iter(obj).sum(), into_par_iter(obj).map(SQ).filter(POS).count()

    def maxrss():
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return kb * 1024 if sys.platform != "darwin" else kb

    # no temporary larger than the buffer itself: the peak before the call is the buffer
    makers = {
        "int64": lambda n: np.ones(n, dtype=np.int64),
        "int32": lambda n: np.ones(n, dtype=np.int32),
        "float64": lambda n: np.ones(n, dtype=np.float64),
        "float32": lambda n: np.ones(n, dtype=np.float32),
        "bool": lambda n: np.ones(n, dtype=np.bool_),
        "array-q": lambda n: array.array("q", [1]) * n,
        "array-d": lambda n: array.array("d", [1.0]) * n,
        "memoryview": lambda n: memoryview(np.ones(n, dtype=np.float64)),
    }
    run(makers[KIND](1000))  # compile, start the pool
    buf = makers[KIND](N)
    before = maxrss()
    total, count = run(buf)
    growth = maxrss() - before
    ok = total == N and count == N
    print(json.dumps({"growth": growth, "nbytes": memoryview(buf).nbytes, "ok": ok}))
    """
)
RSS_KINDS = ["int64", "int32", "float64", "float32", "bool", "array-q", "array-d", "memoryview"]


@needs_numpy
def test_zero_copy_peak_rss(tmp_path):
    """The peak RSS of a process does not grow with N while it reads a 10^7-element buffer."""
    script = tmp_path / "rss_probe.py"
    script.write_text(RSS_SCRIPT)
    procs = {
        kind: subprocess.Popen(
            [sys.executable, str(script), kind, str(N_BIG)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for kind in RSS_KINDS
    }
    results = {}
    for kind, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        results[kind] = json.loads(out.strip().splitlines()[-1])
    report = "\n".join(
        f"{kind}: peak RSS growth {r['growth'] / 1e6:.2f} MB while reading a "
        f"{r['nbytes'] / 1e6:.0f} MB buffer of 10^7 elements"
        for kind, r in results.items()
    )
    print("\n" + report)
    for kind, r in results.items():
        assert r["ok"], f"{kind}: wrong sum or count on the 10^7-element buffer"
        # a copy of the buffer (or a list of its values) would add at least nbytes
        assert r["growth"] < max(4_000_000, r["nbytes"] // 8), report
