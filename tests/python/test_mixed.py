"""Numbers whose type the data decides (issue #11): ``v if v > 0 else 0`` over floats,
``max(0, v)``, ``min(x, 1.0)``, ``(-1) ** i``, ``x / 2 if x % 2 else x``, an int identity folded
with floats, lists mixing ints, floats and bools, a ``def`` that returns an int on one path and a
float on another.

Every result is compared with plain CPython computed here, element by element: the same type
and ``repr`` (recursively for lists, so ``0``/``0.0``/``False`` and ``0.0``/``-0.0`` differ, and
NaN matters), or an exception of the same type. The one allowed difference is a float total:
fastiter's ``sum()`` is compensated (Neumaier) in chunks and ``reduce``/``fold`` combine chunks in
another order, so a float total is checked by type exactly and by value against the exact
rational sum of the elements (as in ``test_differential.py``), not bit for bit.

Values that fastiter cannot compile run as plain Python, so every value test here passes on a
build that refuses these types; ``test_must_compile`` checks, with ``fastiter.explain``, that
the natural pipelines of the issue do compile.
"""

# The ReLU is `v if v > 0 else 0`, on purpose (not `max(0, v)`, tested on its own):
# ruff: noqa: FURB136

from __future__ import annotations

import functools
import math
import random
import traceback

import fastiter
import pytest
from _exact import (
    EXAMPLES,
    INF,
    MIN_CHUNK,
    Raised,
    assert_same,
    event,
    float_total_error,
    hypothesis_settings,
    outcome,
    same,
)
from fastiter import get_num_threads, into_par_iter, par_range, set_num_threads
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

SETTINGS = hypothesis_settings(HealthCheck.filter_too_much, HealthCheck.large_base_example)

NAN = math.nan
F53 = float(2**53)  # read as a float parameter by the lambdas below


# ---------------------------------------------------------------------------------------------
# Comparing with CPython
# ---------------------------------------------------------------------------------------------


def check(got, want, elements, kind, what):
    """``got`` (fastiter) against ``want`` (CPython) for a consumer of kind ``kind``:
    "exact", "sum" (a compensated float total is allowed) or "loose" (reduce/fold with +)."""
    event(f"expected: {type(want.exc if isinstance(want, Raised) else want).__name__}")
    if isinstance(want, Raised):
        assert isinstance(got, Raised), f"{what}: expected {want!r}, got {got!r}"
        assert type(got.exc) is type(want.exc), f"{what}: expected {want!r}, got {got!r}"
        return
    if isinstance(got, Raised):
        tb = "".join(traceback.format_exception(type(got.exc), got.exc, got.exc.__traceback__))
        pytest.fail(f"{what}: expected {want!r}, got {got!r}\n{tb}")
    if kind in ("sum", "loose") and type(want) is float and not same(got, want):
        err = float_total_error(got, elements, kind == "sum")
        assert err is None, f"{what}: {err}"
        return
    assert_same(got, want, what)


# ---------------------------------------------------------------------------------------------
# Stage functions (module level, so that fastiter finds their source and can compile them)
# ---------------------------------------------------------------------------------------------


def sign(v):
    if v > 0:
        return 1.0
    if v < 0:
        return -1.0
    return 0


def clipped(v):
    r = 0
    if v > 1:
        r = 1.0
    elif v > 0:
        r = v
    return r * 2


def halve_until_small(v):
    n = v
    for _ in range(70):
        if abs(n) <= 10:
            break
        n = n / 2
    return n


MAPS = {
    "relu": lambda v: v if v > 0 else 0,
    "max0": lambda v: max(0, v),
    "max_v0": lambda v: max(v, 0),
    "min1": lambda v: min(v, 1.0),
    "max05": lambda v: max(v, 0.5),
    "max3": lambda v: max(0, v, -1.5),
    "halve_odd": lambda v: v / 2 if v % 2 else v,
    "or_half": lambda v: v or 0.5,
    "neg_pow": lambda v: (-1) ** (v // 1),
    "leibniz": lambda v: (-1) ** (v // 1) / (2 * v + 1),
    "pow2": lambda v: 2 ** (v % 64 - 5),
    "zero_pow": lambda v: (v % 3) ** (v % 3 - 1),
    "affine": lambda v: v * 2 + 1,
    "floordiv": lambda v: v // 3,
    "mod": lambda v: v % 3,
    "neg": lambda v: -v,
    "gt53": lambda v: v > F53,
    "eq0": lambda v: v == 0,
    "int": int,
    "int_l": lambda v: int(v),
    "float": float,
    "abs": abs,
    "round": round,
    "bool": bool,
    "sign": sign,
    "clipped": clipped,
    "halve_until_small": halve_until_small,
}

FILTERS = {
    "pos": lambda v: v > 0,
    "not_nan": lambda v: v == v,  # noqa: PLR0124 - NaN is the point
    "odd": lambda v: v % 2,
    "small": lambda v: -1e6 < v < 1e6,
}


def zero():
    return 0


ZERO = lambda: 0  # the 0.1 API's identity is a lambda, as users write it
ZERO_F = lambda: 0.0
ADD = lambda a, b: a + b
BIGGER = lambda a, b: max(a, b)
ABOVE_ONE = lambda v: v > 1


def _reduce(it, ident, op):
    return functools.reduce(op, it, ident())


# name: (fastiter consumer, CPython consumer over an iterator, check kind)
CONSUMERS = {
    "sum": (lambda p: p.sum(), sum, "sum"),
    "count": (lambda p: p.count(), lambda it: sum(1 for _ in it), "exact"),
    "min": (lambda p: p.min(), lambda it: min(it, default=None), "exact"),
    "max": (lambda p: p.max(), lambda it: max(it, default=None), "exact"),
    "min_abs": (lambda p: p.min(key=abs), lambda it: min(it, key=abs, default=None), "exact"),
    "any": (lambda p: p.any(), any, "exact"),
    "all": (lambda p: p.all(), all, "exact"),
    "any_pred": (lambda p: p.any(ABOVE_ONE), lambda it: any(map(ABOVE_ONE, it)), "exact"),
    "all_pred": (lambda p: p.all(ABOVE_ONE), lambda it: all(map(ABOVE_ONE, it)), "exact"),
    "collect": (lambda p: p.collect(), list, "exact"),
    "reduce_add": (lambda p: p.reduce(ZERO, ADD), lambda it: _reduce(it, ZERO, ADD), "loose"),
    "reduce_add_def": (lambda p: p.reduce(zero, ADD), lambda it: _reduce(it, zero, ADD), "loose"),
    "reduce_add_f": (lambda p: p.reduce(ZERO_F, ADD), lambda it: _reduce(it, ZERO_F, ADD), "loose"),
    "fold_sum": (
        lambda p: p.fold(ZERO, ADD).sum(),
        lambda it: sum([_reduce(it, ZERO, ADD)]),
        "loose",
    ),
}


def reference(items, stages, consumer):
    """(CPython's outcome, the elements that reached the consumer): sequential and lazy."""
    elements = []

    def recorded(it):
        for v in it:
            elements.append(v)
            yield v

    it = iter(items)
    for kind, fn in stages:
        it = map(fn, it) if kind == "map" else filter(fn, it)
    want = outcome(lambda: CONSUMERS[consumer][1](recorded(it)))
    return want, elements


def run_fastiter(make_src, stages, consumer):
    def go():
        p = make_src()
        for kind, fn in stages:
            p = getattr(p, kind)(fn)
        return CONSUMERS[consumer][0](p)

    return outcome(go)


def compare(make_src, items, stages, consumer, what=""):
    """fastiter over ``make_src()`` == CPython over ``items``, with the stages (kind, fn)."""
    want, elements = reference(items, stages, consumer)
    got = run_fastiter(make_src, stages, consumer)
    check(got, want, elements, CONSUMERS[consumer][2], f"{what}.{consumer}()")
    return got


def compare_all(make_src, items, stages, consumers=tuple(CONSUMERS), what=""):
    for consumer in consumers:
        compare(make_src, items, stages, consumer, what)


def is_compiled(run):
    """Whether every pipeline ``run()`` consumes compiles (``fastiter.explain`` of a function
    records the explanation of each consumer it calls instead of running it)."""
    text = fastiter.explain(run)
    return "compiled: yes" in text and "compiled: no" not in text, text


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------

SIGNED_FLOATS = [1.5, -2.0, 0.0, -0.0, 3.25, -0.5, 1e-300, -1e300, 7.0, -5e-324, 0.1, 2.0**60]
SPECIAL_FLOATS = [NAN, 1.0, -0.0, INF, 0.0, -INF, 1e308, -1e308, 5e-324, NAN, 2.5]
_rng = random.Random(11)
LONG_FLOATS = [_rng.uniform(-1.0, 1.0) for _ in range(3 * MIN_CHUNK + 123)]
LONG_FLOATS[MIN_CHUNK - 1] = 0.0  # a ReLU zero at a chunk's end, an int zero after it
LONG_FLOATS[MIN_CHUNK] = -0.0
LONG_MIXED = [_rng.choice([0, 1, -3, 2.5, -0.0, 0.5, True, 2**53 + 1, -7]) for _ in range(50_000)]


def both(data):
    """The data as a list and as a tuple (both are converted once by into_par_iter)."""
    return [("list", list(data)), ("tuple", tuple(data))]


# ---------------------------------------------------------------------------------------------
# The pipelines the issue names: they must compile (and be exact)
# ---------------------------------------------------------------------------------------------


def relu_sum():
    return into_par_iter(LONG_FLOATS).map(lambda v: v if v > 0 else 0).sum()


def relu_sum_py():
    return [v if v > 0 else 0 for v in LONG_FLOATS], "sum"


def max0_collect():
    return into_par_iter(SIGNED_FLOATS).map(lambda v: max(0, v)).collect()


def max0_collect_py():
    return [max(0, v) for v in SIGNED_FLOATS], "collect"


def min_x_1_collect():
    return par_range(-5, 6).map(lambda x: min(x, 1.0)).collect()


def min_x_1_collect_py():
    return [min(x, 1.0) for x in range(-5, 6)], "collect"


def leibniz_sum():
    return par_range(0, 200_000).map(lambda i: (-1) ** i / (2 * i + 1)).sum()


def leibniz_sum_py():
    return [(-1) ** i / (2 * i + 1) for i in range(200_000)], "sum"


def halve_odd_int_sum():
    return par_range(0, 100_000).map(lambda x: x / 2 if x % 2 else x).map(int).sum()


def halve_odd_int_sum_py():
    return [int(x / 2 if x % 2 else x) for x in range(100_000)], "sum"


def reduce_zero_floats():
    return into_par_iter(LONG_FLOATS).reduce(lambda: 0, lambda a, b: a + b)


def reduce_zero_floats_py():
    return LONG_FLOATS, "reduce_add"


def small_mixed_sum():
    return into_par_iter([1, 2.5, 3]).sum()


def small_mixed_sum_py():
    return [1, 2.5, 3], "sum"


def sign_stage_sum():
    return into_par_iter(SIGNED_FLOATS).map(sign).sum()


def sign_stage_sum_py():
    return [sign(v) for v in SIGNED_FLOATS], "sum"


# name: (fastiter run, CPython: (the elements reaching the consumer, the consumer))
MUST_COMPILE = {
    "relu_sum": (relu_sum, relu_sum_py),
    "max0_collect": (max0_collect, max0_collect_py),
    "min_x_1_collect": (min_x_1_collect, min_x_1_collect_py),
    "leibniz_sum": (leibniz_sum, leibniz_sum_py),
    "halve_odd_int_sum": (halve_odd_int_sum, halve_odd_int_sum_py),
    "reduce_zero_floats": (reduce_zero_floats, reduce_zero_floats_py),
    "small_mixed_sum": (small_mixed_sum, small_mixed_sum_py),
    "sign_stage_sum": (sign_stage_sum, sign_stage_sum_py),
}


@pytest.mark.parametrize("name", list(MUST_COMPILE))
def test_must_compile_values(name):
    run, py = MUST_COMPILE[name]
    elements, consumer = py()
    want = outcome(lambda: CONSUMERS[consumer][1](iter(elements)))
    check(outcome(run), want, elements, CONSUMERS[consumer][2], name)


@pytest.mark.parametrize("name", list(MUST_COMPILE))
def test_must_compile(name):
    """The issue's pipelines compile to a kernel (fails until tagged int/float values land)."""
    run, _ = MUST_COMPILE[name]
    ok, text = is_compiled(run)
    assert ok, f"{name} does not compile:\n{text}"


def test_must_compile_results_do_not_depend_on_threads():
    before = get_num_threads()
    try:
        results = {}
        for threads in (1, 2, 3):
            set_num_threads(threads)
            results[threads] = [repr(outcome(run)) for run, _ in MUST_COMPILE.values()]
    finally:
        set_num_threads(before)
    assert results[1] == results[2] == results[3]


# ---------------------------------------------------------------------------------------------
# ReLU with an int zero, every consumer
# ---------------------------------------------------------------------------------------------

RELU = [("map", MAPS["relu"])]


@pytest.mark.parametrize("consumer", list(CONSUMERS))
@pytest.mark.parametrize(
    "data",
    [SIGNED_FLOATS, SPECIAL_FLOATS, [-1.0, -0.0, 0.0], [], [2.5], LONG_FLOATS],
    ids=["signed", "special", "all_zero", "empty", "one", "long"],
)
def test_relu_over_floats(data, consumer):
    compare(lambda: into_par_iter(data), data, RELU, consumer, "relu")


def test_relu_types_by_hand():
    got = into_par_iter([1.5, -2.0, 0.0, -0.0, 3.0]).map(lambda v: v if v > 0 else 0).collect()
    assert_same(got, [1.5, 0, 0, 0, 3.0], "relu collect")
    assert_same(into_par_iter([-1.0, -2.0]).map(lambda v: v if v > 0 else 0).sum(), 0, "sum")
    assert_same(into_par_iter([-1.0, 0.5]).map(lambda v: v if v > 0 else 0).sum(), 0.5, "sum")
    assert_same(into_par_iter([-1.0, -2.0]).map(lambda v: v if v > 0 else 0).max(), 0, "max")
    assert_same(into_par_iter([-1.0, 0.0]).map(lambda v: v if v > 0 else 0).min(), 0, "min")


def test_relu_over_a_numpy_array():
    np = pytest.importorskip("numpy")
    a = np.array(LONG_FLOATS[:5000])
    compare_all(lambda: into_par_iter(a), a.tolist(), RELU, what="relu(ndarray)")


# ---------------------------------------------------------------------------------------------
# min/max of an int and a float
# ---------------------------------------------------------------------------------------------

MINMAX = ["max0", "max_v0", "min1", "max05", "max3"]
MINMAX_DATA = [
    ("signed", SIGNED_FLOATS),
    ("special", SPECIAL_FLOATS),
    ("ints", [-3, -1, 0, 1, 2, 5, 2**53 + 1, -(2**63), 2**63 - 1]),
    ("mixed", [0, 0.0, -0.0, 1, 1.0, True, False, 0.5, NAN, -1, 2**53 + 1, F53]),
]


@pytest.mark.parametrize("consumer", ["collect", "sum", "min", "max", "reduce_add"])
@pytest.mark.parametrize("fn", MINMAX)
@pytest.mark.parametrize("data", MINMAX_DATA, ids=[n for n, _ in MINMAX_DATA])
def test_min_max_of_int_and_float(data, fn, consumer):
    name, items = data
    compare(lambda: into_par_iter(items), items, [("map", MAPS[fn])], consumer, f"{fn}({name})")


@pytest.mark.parametrize("consumer", ["collect", "sum", "min", "max"])
def test_min_max_over_ranges(consumer):
    for lo, hi in [
        (-5, 6),
        (2**53 - 3, 2**53 + 3),
        (2**63 - 6, 2**63 - 1),
        (-(2**63), -(2**63) + 5),
    ]:
        for fn in MINMAX:
            stages = [("map", MAPS[fn])]
            r = range(lo, hi)
            compare(lambda r=r: into_par_iter(r), r, stages, consumer, f"{fn}[{lo}:{hi}]")


def test_min_max_return_the_first_of_equals_by_hand():
    assert_same(into_par_iter([0.0, -0.0]).map(lambda v: max(0, v)).collect(), [0, 0])
    assert_same(into_par_iter([0.0, -0.0]).map(lambda v: max(v, 0)).collect(), [0.0, -0.0])
    assert_same(par_range(0, 3).map(lambda x: min(x, 1.0)).collect(), [0, 1, 1.0])
    assert_same(par_range(0, 2).map(lambda x: max(x, 0.5)).collect(), [0.5, 1])
    # NaN: the first argument wins unless a later one compares greater (less)
    assert_same(into_par_iter([NAN]).map(lambda v: max(0, v)).collect(), [0])
    got = into_par_iter([NAN]).map(lambda v: min(v, 1.0)).collect()
    assert len(got) == 1 and type(got[0]) is float and math.isnan(got[0])
    # exact int/float comparison: 2**53 + 1 > 2.0**53
    assert_same(into_par_iter([2**53 + 1]).map(lambda v: max(v, F53)).collect(), [2**53 + 1])
    assert_same(into_par_iter([2**53 + 1]).map(lambda v: min(v, F53)).collect(), [F53])


# ---------------------------------------------------------------------------------------------
# Powers whose type depends on the exponent's sign
# ---------------------------------------------------------------------------------------------


def test_leibniz_by_hand():
    got = par_range(0, 1000).map(lambda i: (-1) ** i / (2 * i + 1)).sum()
    elements = [(-1) ** i / (2 * i + 1) for i in range(1000)]
    check(got, sum(elements), elements, "sum", "leibniz(1000)")
    assert abs(4 * got - math.pi) < 1e-2


@pytest.mark.parametrize("consumer", ["collect", "sum", "min", "max", "count", "reduce_add"])
@pytest.mark.parametrize(
    "bounds", [(0, 10), (-10, 10), (0, 0), (-(2**62), -(2**62) + 7), (2**63 - 8, 2**63 - 1)]
)
def test_minus_one_power(bounds, consumer):
    stages = [("map", lambda i: (-1) ** i)]
    compare(lambda: par_range(*bounds), range(*bounds), stages, consumer, f"(-1)**i {bounds}")


@pytest.mark.parametrize("consumer", ["collect", "sum", "min", "max", "reduce_add"])
@pytest.mark.parametrize("bounds", [(0, 20), (0, 80), (-3, 3), (60, 70)])
def test_two_to_a_shifted_power(bounds, consumer):
    stages = [("map", lambda i: 2 ** (i - 5))]
    compare(lambda: par_range(*bounds), range(*bounds), stages, consumer, f"2**(i-5) {bounds}")


def test_powers_by_hand():
    assert_same(par_range(0, 4).map(lambda i: (-1) ** i).collect(), [1, -1, 1, -1])
    assert_same(par_range(-2, 2).map(lambda i: (-1) ** i).collect(), [1.0, -1.0, 1, -1])
    assert_same(
        par_range(3, 8).map(lambda i: 2 ** (i - 5)).collect(), [0.25, 0.5, 1, 2, 4], "2**(i-5)"
    )
    assert_same(
        par_range(0, 10).map(lambda i: 2 ** (i - 5)).sum(), sum(2 ** (i - 5) for i in range(10))
    )
    assert_same(par_range(5, 10).map(lambda i: 2 ** (i - 5)).sum(), 31, "int sum")


@pytest.mark.parametrize(
    "bounds", [(0, 5), (1, 5), (-3, 0), (2, 6)], ids=["0**-2", "0**-1", "negative", "no zero"]
)
def test_zero_to_a_negative_power(bounds):
    for fn in (
        lambda i: i ** (i - 2),
        lambda i: (i - 1) ** (i - 2),
        lambda i: (i * 0.5) ** (i - 2),
    ):
        for consumer in ("collect", "sum", "max"):
            compare(lambda: par_range(*bounds), range(*bounds), [("map", fn)], consumer)
    with pytest.raises(ZeroDivisionError):
        par_range(1, 5).map(lambda i: (i - 1) ** (i - 2)).collect()


# ---------------------------------------------------------------------------------------------
# x / 2 if x % 2 else x, then the conversions
# ---------------------------------------------------------------------------------------------

HALVE = ("map", MAPS["halve_odd"])
CONVERSIONS = {
    "int": int,
    "int_l": lambda v: int(v),
    "float": float,
    "float_l": lambda v: float(v),
    "abs": abs,
    "abs_l": lambda v: abs(v),
    "round": round,
    "round_l": lambda v: round(v),
    "bool": bool,
    "bool_l": lambda v: bool(v),
    "floor": math.floor,
    "trunc": lambda v: math.trunc(v),
}
HALVE_BOUNDS = [
    (-20, 21),
    (0, 1000),
    (2**53 - 5, 2**53 + 5),
    (2**63 - 9, 2**63 - 1),
    (-(2**63), -(2**63) + 9),
]


@pytest.mark.parametrize("conv", [None, *CONVERSIONS])
@pytest.mark.parametrize("bounds", HALVE_BOUNDS)
def test_halve_odd_then_convert(bounds, conv):
    stages = [HALVE] + ([] if conv is None else [("map", CONVERSIONS[conv])])
    for consumer in ("collect", "sum", "min", "max", "any", "all", "reduce_add"):
        what = f"halve {conv} {bounds}"
        compare(lambda: par_range(*bounds), range(*bounds), stages, consumer, what)


def test_halve_odd_by_hand():
    p = par_range(0, 6).map(lambda x: x / 2 if x % 2 else x)
    assert_same(p.collect(), [0, 0.5, 2, 1.5, 4, 2.5])
    assert_same(p.map(int).collect(), [0, 0, 2, 1, 4, 2])
    assert_same(p.map(lambda v: int(v)).collect(), [0, 0, 2, 1, 4, 2])
    assert_same(p.map(round).collect(), [0, 0, 2, 2, 4, 2])  # half to even
    assert_same(p.map(bool).collect(), [False, True, True, True, True, True])
    assert_same(p.map(float).collect(), [0.0, 0.5, 2.0, 1.5, 4.0, 2.5])
    assert_same(p.sum(), 10.5)
    assert_same(par_range(0, 6, 2).map(lambda x: x / 2 if x % 2 else x).sum(), 6)


@pytest.mark.parametrize("conv", list(CONVERSIONS))
def test_conversions_of_mixed_values_with_specials(conv):
    data = [0, -0.0, 2.5, -2.5, 3.5, True, 2**53 + 1, 1e308, NAN, INF, -INF, 7]
    for consumer in ("collect", "sum", "max"):
        for i in range(len(data)):  # each special value first, so each raises where CPython does
            items = data[i:] + data[:i]
            stages = [("map", CONVERSIONS[conv])]
            compare(lambda items=items: into_par_iter(items), items, stages, consumer)


# ---------------------------------------------------------------------------------------------
# reduce and fold with an int identity
# ---------------------------------------------------------------------------------------------

REDUCE_DATA = [
    ("floats", SIGNED_FLOATS),
    ("long_floats", LONG_FLOATS),
    ("ints", [1, -5, 2**62, 2**62, -(2**63), 7]),
    ("bools", [True, False, True]),
    ("mixed", [1, 2.5, True, -0.0, 3]),
    ("neg_zero", [-0.0]),
    ("empty", []),
    ("long_mixed", LONG_MIXED),
]


@pytest.mark.parametrize(
    "consumer", ["reduce_add", "reduce_add_def", "reduce_add_f", "fold_sum", "sum"]
)
@pytest.mark.parametrize("data", REDUCE_DATA, ids=[n for n, _ in REDUCE_DATA])
def test_reduce_and_fold_with_an_int_identity(data, consumer):
    name, items = data
    compare(lambda: into_par_iter(items), items, [], consumer, name)
    compare(lambda: into_par_iter(items), items, RELU, consumer, f"relu({name})")


def test_reduce_by_hand():
    assert_same(into_par_iter([0.5, 0.25]).reduce(lambda: 0, lambda a, b: a + b), 0.75)
    assert_same(into_par_iter([1, 2, 3]).reduce(lambda: 0, lambda a, b: a + b), 6)
    assert_same(into_par_iter([]).reduce(lambda: 0, lambda a, b: a + b), 0)
    assert_same(into_par_iter([-0.0]).reduce(lambda: 0, lambda a, b: a + b), 0.0)
    assert_same(into_par_iter([True, True]).reduce(lambda: 0, lambda a, b: a + b), 2)
    big = [2**62, 2**62, 2**62]
    assert_same(into_par_iter(big).reduce(lambda: 0, lambda a, b: a + b), 3 * 2**62)
    floats = [-1.5, -2.5]
    assert_same(into_par_iter(floats).reduce(lambda: 0, lambda a, b: max(a, b)), 0)
    assert_same(into_par_iter([-1.5, 2.5]).reduce(lambda: 0, lambda a, b: max(a, b)), 2.5)
    assert_same(into_par_iter([0.0]).reduce(lambda: 0, lambda a, b: max(a, b)), 0)
    assert_same(par_range(0, 0).fold(lambda: 0, lambda a, b: a + b).sum(), 0)
    assert_same(into_par_iter([0.5, 1]).fold(lambda: 0, lambda a, b: a + b).sum(), 1.5)


@pytest.mark.parametrize("data", REDUCE_DATA, ids=[n for n, _ in REDUCE_DATA])
def test_reduce_max_with_an_int_identity(data):
    name, items = data
    items = [v for v in items if v == v]  # noqa: PLR0124 - max is associative without NaN
    ident, op = ZERO, BIGGER
    want = functools.reduce(op, items, ident())
    assert_same(into_par_iter(items).reduce(ident, op), want, f"reduce max({name})")


# ---------------------------------------------------------------------------------------------
# Lists and tuples mixing ints, floats and bools
# ---------------------------------------------------------------------------------------------

MIXED_LISTS = [
    ("1_2.5_3", [1, 2.5, 3]),
    ("bool_int_float", [True, 2, 0.5]),
    ("zeros", [0, 0.0, -0.0, False]),
    ("ones", [True, 1, 1.0]),
    ("float_first", [1.0, 1, True]),
    ("nan_first", [NAN, 1, 2.5]),
    ("nan_middle", [1, NAN, 2.5, 0]),
    ("infs", [1, INF, -INF, 3]),
    ("inf_last", [2**53 + 1, F53, INF]),
    ("near_2_53", [2**53 + 1, F53, 2**53, F53 + 2, -(2**53) - 1]),
    ("near_2_63", [2**63 - 1, 9.223372036854776e18, -(2**63), -9.223372036854776e18, 0.5]),
    ("tiny", [5e-324, 0, -5e-324, False]),
    ("big_floats", [1e308, 1e308, -1, 2]),
    ("huge_int", [1, 2**64, 0.5]),
    ("huge_neg", [-(10**30), 2.5, 10**30]),
    ("huge_overflow", [1.5, 10**400]),
    ("huge_before_float", [10**400, -(10**400), 0.5]),
    ("only_bools", [True, False, True]),
    ("long_mixed", LONG_MIXED),
]
MIXED_MAPS = [None, "affine", "neg", "abs", "relu", "max0", "min1", "halve_odd", "sign", "float"]


@pytest.mark.parametrize("fn", MIXED_MAPS)
@pytest.mark.parametrize("data", MIXED_LISTS, ids=[n for n, _ in MIXED_LISTS])
def test_mixed_lists(data, fn):
    name, items = data
    stages = [] if fn is None else [("map", MAPS[fn])]
    for kind, container in both(items):
        make = lambda c=container: into_par_iter(c)
        compare_all(make, items, stages, what=f"{fn}({name} {kind})")


def test_mixed_lists_by_hand():
    assert_same(into_par_iter([1, 2.5, 3]).sum(), 6.5)
    assert_same(into_par_iter([1, 2.5, 3]).collect(), [1, 2.5, 3])
    assert_same(into_par_iter((1, 2.5, 3)).min(), 1)
    assert_same(into_par_iter([1, 2.5, 3]).max(), 3)
    assert_same(into_par_iter([True, 2, 0.5]).sum(), 3.5)
    assert_same(into_par_iter([True, 2, 0.5]).collect(), [True, 2, 0.5])
    assert_same(into_par_iter([True, 2, 0.5]).min(), 0.5)
    assert_same(into_par_iter([True, 2, 0.5]).max(), 2)
    assert_same(into_par_iter([True, 2, 0.5]).map(lambda v: v * 2).collect(), [2, 4, 1.0])
    assert_same(into_par_iter([True, 2, 0.5]).map(lambda v: v).collect(), [True, 2, 0.5])
    assert_same(into_par_iter([True, 1, 1.0]).max(), True)
    assert_same(into_par_iter([1.0, 1, True]).min(), 1.0)
    assert_same(into_par_iter([0, 0.0, -0.0, False]).any(), False)
    assert_same(into_par_iter([0, NAN]).any(), True)
    assert_same(into_par_iter([1, 2.5, 3]).filter(lambda v: v != 2.5).sum(), 4)
    assert_same(into_par_iter([1, 2.5, 3]).filter(lambda v: v > 5).max(), None)
    assert_same(into_par_iter([1, 2**64, 0.5]).sum(), float(2**64 + 1) + 0.5)
    assert_same(into_par_iter([F53, 2**53 + 1]).max(), 2**53 + 1)
    assert_same(into_par_iter([2**64, float(2**64)]).max(), 2**64)
    with pytest.raises(OverflowError):
        into_par_iter([1.5, 10**400]).sum()
    assert_same(into_par_iter([10**400, -(10**400), 0.5]).sum(), 0.5)


def test_mixed_list_results_do_not_depend_on_threads():
    before = get_num_threads()
    try:
        results = {}
        for threads in (1, 2, 3):
            set_num_threads(threads)
            p = into_par_iter(LONG_MIXED).map(MAPS["halve_odd"])
            results[threads] = repr([p.sum(), p.min(), p.max(), p.collect()[-100:]])
    finally:
        set_num_threads(before)
    assert results[1] == results[2] == results[3]


# ---------------------------------------------------------------------------------------------
# A def whose local is an int on one path and a float on another
# ---------------------------------------------------------------------------------------------

DEF_DATA = [
    ("signed", SIGNED_FLOATS),
    ("special", SPECIAL_FLOATS),
    ("ints", [-3, 0, 1, 2, 5, 50, -1000, 2**53 + 1]),
    ("mixed", [0, -0.0, 0.5, 1, 1.5, True, -2, 37.5, NAN]),
    ("long", LONG_FLOATS),
]


@pytest.mark.parametrize("consumer", ["collect", "sum", "min", "max", "count", "reduce_add"])
@pytest.mark.parametrize("fn", ["sign", "clipped", "halve_until_small"])
@pytest.mark.parametrize("data", DEF_DATA, ids=[n for n, _ in DEF_DATA])
def test_def_with_a_local_of_either_type(data, fn, consumer):
    name, items = data
    compare(lambda: into_par_iter(items), items, [("map", MAPS[fn])], consumer, f"{fn}({name})")


@pytest.mark.parametrize("fn", ["sign", "clipped", "halve_until_small"])
def test_def_over_ranges(fn):
    for bounds in [(-5, 6), (0, 1000), (2**62, 2**62 + 5)]:
        for consumer in ("collect", "sum", "max"):
            stages = [("map", MAPS[fn])]
            r = range(*bounds)
            compare(lambda r=r: into_par_iter(r), r, stages, consumer, f"{fn}{bounds}")


def test_def_by_hand():
    assert_same(into_par_iter([2.5, -1.0, 0.0]).map(sign).collect(), [1.0, -1.0, 0])
    assert_same(into_par_iter([0.0, -0.0]).map(sign).sum(), 0)
    assert_same(par_range(-2, 3).map(sign).collect(), [-1.0, -1.0, 0, 1.0, 1.0])
    assert_same(par_range(-1, 3).map(clipped).collect(), [0, 0, 2, 2.0])
    assert_same(into_par_iter([0.5, 40, 4]).map(halve_until_small).collect(), [0.5, 10.0, 4])
    assert_same(par_range(0, 3).filter(lambda x: sign(x - 1) == 0).collect(), [1])


# ---------------------------------------------------------------------------------------------
# Mixed comparisons: exact, -0.0, inf, nan, huge ints; OverflowError where CPython raises it
# ---------------------------------------------------------------------------------------------

COMPARE_DATA = [
    ("near_2_53", [2**53 - 1, 2**53, 2**53 + 1, 2**53 + 2, F53, F53 + 2, -(2**53) - 1]),
    ("zeros", [0, -0.0, 0.0, False, 5e-324, -5e-324]),
    ("specials", [INF, -INF, NAN, 1e308, -1e308]),
    ("near_2_63", [2**63 - 1, -(2**63), 9.223372036854776e18, -9.223372036854776e18]),
    ("huge", [2**63, 2**64 + 1, -(10**30), 10**400, -(10**400), INF, 0.5]),
]
COMPARISONS = {
    "gt_f53": lambda v: v > F53,
    "eq_f53": lambda v: v == F53,
    "ge_2_53_plus_1": lambda v: v >= 2**53 + 1,
    "eq_zero": lambda v: v == 0,
    "lt_neg_zero": lambda v: v < -0.0,
    "le_inf": lambda v: v <= INF,
    "ne_self": lambda v: v != v,  # noqa: PLR0124 - NaN is the point
    "chain": lambda v: 0 <= v < F53,
    "gt_2_63_float": lambda v: v > 9.223372036854776e18,
    "eq_2_63_float": lambda v: v == 2.0**63,
    "relu_is_zero": lambda v: (v if v > 0 else 0) == 0,
}


@pytest.mark.parametrize("cmp", list(COMPARISONS))
@pytest.mark.parametrize("data", COMPARE_DATA, ids=[n for n, _ in COMPARE_DATA])
def test_mixed_comparisons(data, cmp):
    name, items = data
    fn = COMPARISONS[cmp]
    for consumer in ("collect", "count", "any", "all", "sum"):
        compare(lambda: into_par_iter(items), items, [("map", fn)], consumer, f"{cmp}({name})")
        compare(lambda: into_par_iter(items), items, [("filter", fn)], consumer, f"{cmp}?({name})")


def test_mixed_comparisons_by_hand():
    assert_same(into_par_iter([2**53 + 1]).map(lambda v: v > F53).collect(), [True])
    assert_same(into_par_iter([2**53 + 1, 0.5]).map(lambda v: v > F53).collect(), [True, False])
    assert_same(
        par_range(2**53, 2**53 + 3).map(lambda x: x == float(x)).collect(), [True, False, True]
    )
    assert_same(
        par_range(2**53 - 1, 2**53 + 3).filter(lambda x: x > F53).collect(), [2**53 + 1, 2**53 + 2]
    )
    assert_same(into_par_iter([-0.0, 0]).map(lambda v: v == 0).collect(), [True, True])
    assert_same(into_par_iter([NAN, 1]).map(lambda v: v < 2 or v >= 2).collect(), [False, True])
    assert_same(into_par_iter([10**400, INF]).map(lambda v: v < INF).collect(), [True, False])
    assert_same(into_par_iter([2**63, 9.223372036854776e18]).max(), 2**63)


@pytest.mark.parametrize(
    "fn",
    [
        lambda i: 2 ** (i * 300 - 5) + 0.5,
        lambda i: 10 ** (i * 100) / 3,
        lambda i: float(10 ** (i * 100)),
        lambda i: 10 ** (i * 100) * 0.5 if i % 2 == 0 else i / 2,
        lambda i: max(10 ** (i * 100), 0.5) + 0.5,
        lambda i: 10 ** (i * 100) > 1e308,
        lambda i: 10 ** (i * 100) == INF,
        lambda i: 10 ** (i * 100) if i % 2 else 0.5,
    ],
    ids=["pow_plus_float", "int_div", "float()", "mixed_mul", "max_plus", "gt", "eq_inf", "either"],
)
@pytest.mark.parametrize("consumer", ["collect", "sum", "max", "count"])
def test_ints_too_large_for_a_float(fn, consumer):
    for bounds in [(0, 5), (0, 3), (4, 5)]:
        r = range(*bounds)
        compare(lambda r=r: into_par_iter(r), r, [("map", fn)], consumer, f"{bounds}")


def test_overflow_by_hand():
    with pytest.raises(OverflowError):
        into_par_iter([10**400]).map(lambda v: v + 0.5).collect()
    with pytest.raises(OverflowError):
        par_range(0, 5).map(lambda i: 2 ** (i * 300 - 5) + 0.5).sum()
    with pytest.raises(OverflowError):
        par_range(0, 5).map(lambda i: 10 ** (i * 100) / 3).collect()
    assert_same(par_range(0, 4).map(lambda i: 2 ** (i * 300 - 5) + 0.5).count(), 4)


# ---------------------------------------------------------------------------------------------
# sum: the int 0 start, int sums exact, float sums compensated
# ---------------------------------------------------------------------------------------------


def test_sum_types():
    assert_same(into_par_iter([0, 1.5, 0]).sum(), 1.5)
    assert_same(into_par_iter([0, 0]).sum(), 0)
    assert_same(into_par_iter([]).sum(), 0)
    assert_same(into_par_iter([-0.0]).sum(), 0.0)
    assert_same(into_par_iter([True, True]).sum(), 2)
    assert_same(par_range(0, 3).map(lambda i: 1.5 if i == 1 else 0).sum(), 1.5)
    assert_same(par_range(0, 3).map(lambda i: 1.5 if i == 7 else 0).sum(), 0)
    assert_same(par_range(0, 0).map(lambda i: 1.5 if i else 0).sum(), 0)
    assert_same(par_range(0, 5).map(lambda i: 0.5 if i > 10 else i).sum(), 10)
    assert_same(par_range(0, 3).map(lambda i: -0.0 if i == 1 else 0).sum(), 0.0)
    assert_same(par_range(0, 3).map(lambda i: 2**62 if i < 2 else 0.5).sum(), float(2**63) + 0.5)
    # an int sum of a tagged stage is exact past i64, over several chunks
    n = 3 * MIN_CHUNK
    want = sum(2**62 if i % 3 else -i for i in range(n))
    assert_same(par_range(0, n).map(lambda i: 2**62 if i % 3 else -i).sum(), want)
    # its float twin: powers of two and zeros, so every order of additions is exact
    want = sum(2**62 if i % 3 else i * 0.0 for i in range(n))
    assert_same(par_range(0, n).map(lambda i: 2**62 if i % 3 else i * 0.0).sum(), want)


@pytest.mark.parametrize("where", [0, MIN_CHUNK - 1, MIN_CHUNK, 2 * MIN_CHUNK + 5, -1])
def test_one_float_in_a_long_int_sum(where):
    """An int sum over several chunks with one float at a chunk boundary (or nowhere): the
    float appears in one chunk's total only, and the total is a float exactly when CPython's."""
    n = 3 * MIN_CHUNK + 17
    items = [i % 7 - 3 for i in range(n)]
    if where >= 0:
        items[where] = 0.5
    for consumer in ("sum", "collect", "min", "max", "reduce_add"):
        compare(lambda: into_par_iter(items), items, [], consumer, f"float at {where}")
        compare(lambda: into_par_iter(items), items, RELU, consumer, f"relu, float at {where}")


# ---------------------------------------------------------------------------------------------
# Hypothesis: mixed data through a small set of the lambdas above
# ---------------------------------------------------------------------------------------------

INT_ELEMS = st.one_of(
    st.integers(-10, 10),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from(
        [0, 1, -1, 2**53, 2**53 + 1, -(2**53) - 1, 2**62, 2**63 - 1, 2**63 - 2, -(2**63)]
    ),
)
HUGE_INT_ELEMS = st.sampled_from([2**63, -(2**63) - 1, 2**64 + 1, 10**30, -(10**30)])
FLOAT_ELEMS = st.one_of(
    st.floats(-1e6, 1e6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [0.0, -0.0, 0.5, -1.5, 2.5, INF, -INF, NAN, 1e308, -1e308, 5e-324, -5e-324, F53, 2.0**63]
    ),
)


@st.composite
def mixed_data(draw):
    elems = st.one_of(INT_ELEMS, FLOAT_ELEMS, INT_ELEMS, FLOAT_ELEMS, st.booleans())
    if draw(st.integers(0, 9)) == 0:
        elems = st.one_of(elems, HUGE_INT_ELEMS)  # such lists may run as Python
    if draw(st.integers(0, 4)) == 0:
        # a long input from a small pool, with a seeded generator
        pool = draw(st.lists(elems, min_size=1, max_size=10))
        rng = draw(st.randoms(use_true_random=False))
        n = draw(st.one_of(st.integers(0, 3000), st.integers(MIN_CHUNK - 2, MIN_CHUNK + 40)))
        data = [rng.choice(pool) for _ in range(n)]
    else:
        data = draw(st.lists(elems, max_size=40))
    if draw(st.integers(0, 4)) == 0:
        data = tuple(data)
    return data


@st.composite
def stage_list(draw):
    stages = []
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.integers(0, 3)) == 0:
            stages.append(("filter", draw(st.sampled_from(sorted(FILTERS)))))
        else:
            stages.append(("map", draw(st.sampled_from(sorted(MAPS)))))
    return stages


def resolve(stages):
    return [(kind, (MAPS if kind == "map" else FILTERS)[name]) for kind, name in stages]


@SETTINGS
@given(mixed_data(), stage_list(), st.sampled_from(sorted(CONSUMERS)))
def test_mixed_lists_property(data, stages, consumer):
    what = f"into_par_iter({list(data)[:10]!r}... of {len(data)}) {stages}"
    note(what)
    compare(lambda: into_par_iter(data), data, resolve(stages), consumer, what)


RANGE_STARTS = [0, 0, 0, -50, 2**53 - 20, 2**62, -(2**62), 2**63 - 60, -(2**63)]


@st.composite
def range_bounds(draw):
    start = draw(st.sampled_from(RANGE_STARTS)) + draw(st.integers(0, 20))
    step = draw(st.sampled_from([1, 1, 1, 2, 3, -1, -2]))
    length = draw(st.one_of(st.integers(0, 40), st.integers(0, 2000)))
    stop = start + step * length
    stop = max(min(stop, 2**63 - 1), -(2**63))
    return (start, stop, step)


@SETTINGS
@given(range_bounds(), stage_list(), st.sampled_from(sorted(CONSUMERS)))
def test_ranges_property(bounds, stages, consumer):
    note(f"par_range{bounds} {stages}")
    compare(lambda: par_range(*bounds), range(*bounds), resolve(stages), consumer, f"{bounds}")


@settings(SETTINGS, max_examples=max(1, EXAMPLES // 5))
@given(
    st.lists(st.one_of(INT_ELEMS, FLOAT_ELEMS, st.booleans()), min_size=1, max_size=30),
    st.sampled_from(["max0", "max_v0", "min1", "max05", "relu", "sign", "or_half"]),
)
def test_min_max_type_property(data, fn):
    """The by-hand rules, over many values: each element keeps CPython's type."""
    f = MAPS[fn]
    got = outcome(lambda: into_par_iter(data).map(f).collect())
    want = outcome(lambda: [f(v) for v in data])
    check(got, want, [], "exact", f"{fn}({data!r})")
