"""Comprehensions inside a stage, ``:=`` in a lambda, ``fold`` and ``zip`` of two inputs (issue #12).

- Generator expressions and comprehensions consumed by ``sum``/``any``/``all``/``min``/``max``
  inside a lambda or a small ``def`` (``all(k % d for d in range(2, r))``, ``max(..., default=)``,
  nested ``for`` clauses, ``sum(range(x))``, ``min([a, b, c])``, list comprehensions);
- ``(y := expr)`` in a lambda;
- ``fold(identity, op)`` followed by a consumer (one sequential fold);
- ``zip`` of two inputs (``into_par_iter(a).zip(into_par_iter(b))``, ``.zip(list or array)``).

Every result is compared with plain CPython computed here from the very same functions: the
same type and ``repr`` recursively (``0``/``0.0``/``False`` and ``0.0``/``-0.0`` differ, NaN
matters), or an exception of the same type. The one allowed difference is the float total of a
pipeline's ``.sum()`` (compensated, in chunks): within a few ulps of the exact rational sum, as
in ``test_differential.py``. A fold is sequential, so ``fold(...).sum()`` is compared exactly.

``test_must_compile`` checks with ``fastiter.explain`` that the natural cases compile; the
property tests draw comprehensions from a small grammar, write them into a module file (so the
lambdas have real source and compile) and compare over ``par_range`` and over lists.
"""

# `(y := ...)` bindings that nothing reads are tested for their own sake:
# ruff: noqa: F841

from __future__ import annotations

import collections
import functools
import importlib.util
import itertools
import math
import os
import random
import re
import sys
import tempfile
import traceback
from fractions import Fraction

import fastiter
import pytest
from _exact import (
    EXAMPLES,
    Raised,
    event,
    first_difference,
    hypothesis_settings,
    neumaier,
    outcome,
    same,
)
from fastiter import get_num_threads, into_par_iter, par_range, set_num_threads
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

try:
    import numpy as np
except ImportError:  # pragma: no cover - numpy is a test dependency
    np = None

needs_numpy = pytest.mark.skipif(np is None, reason="numpy is not installed")

SETTINGS = hypothesis_settings(HealthCheck.filter_too_much, HealthCheck.large_base_example)

EPS = 2.0**-52
NAN = math.nan
INF = math.inf
MIN_CHUNK = 16384  # runtime/src/chunks.rs: inputs longer than this are split in chunks


# ---------------------------------------------------------------------------------------------
# Comparing with CPython
# ---------------------------------------------------------------------------------------------


def check_float_total(got, elements, what):
    """A float ``sum()`` of ``elements`` (ints, floats, bools; one float at least): within a few
    ulps of the exact sum (a compensated sum in chunks), as test_differential.py checks it."""
    assert type(got) is float, f"{what}: expected a float, got {got!r}"
    floats = [v for v in elements if isinstance(v, float)]
    if any(math.isnan(v) for v in floats):
        assert math.isnan(got), f"{what}: a NaN element, got {got!r}"
        return
    pos_inf = any(v == INF for v in floats)
    neg_inf = any(v == -INF for v in floats)
    finite = [v for v in elements if not (isinstance(v, float) and math.isinf(v))]
    exact = sum(Fraction(v) for v in finite)
    sum_abs = sum(abs(Fraction(v)) for v in finite)
    may_overflow = sum_abs > Fraction(2**1023)
    if pos_inf and neg_inf:
        assert math.isnan(got), f"{what}: inf and -inf elements, got {got!r}"
        return
    if pos_inf or neg_inf:
        want = INF if pos_inf else -INF
        assert got == want or (may_overflow and math.isnan(got)), f"{what}: got {got!r}"
        return
    try:
        exact_f = float(exact)
    except OverflowError:
        want = INF if exact > 0 else -INF
        assert got == want or (may_overflow and math.isnan(got)), f"{what}: got {got!r}"
        return
    if not math.isfinite(got):
        assert may_overflow, f"{what}: exact sum {exact_f!r} has no overflow, got {got!r}"
        return
    err = abs(Fraction(got) - exact)
    ref = neumaier(elements)
    ref_err = abs(Fraction(ref) - exact) if math.isfinite(ref) else Fraction(0)
    n = len(elements)
    bound = 2 * ref_err + 2 * Fraction(math.ulp(exact_f)) + 4 * n * Fraction(EPS) ** 2 * sum_abs
    assert err <= bound, (
        f"{what}: got {got!r}, exact sum {exact_f!r}: error {float(err):.3g} > {float(bound):.3g}"
    )
    if got == 0:
        assert repr(got) == "0.0", f"{what}: got {got!r}, CPython's sum is never -0.0"


def check(got, want, elements, consumer, what):
    """``got`` (fastiter) against ``want`` (CPython); ``elements`` reached the consumer."""
    event(f"expected: {type(want.exc if isinstance(want, Raised) else want).__name__}")
    if isinstance(want, Raised):
        assert isinstance(got, Raised), f"{what}: expected {want!r}, got {got!r}"
        assert type(got.exc) is type(want.exc), f"{what}: expected {want!r}, got {got!r}"
        return
    if isinstance(got, Raised):
        tb = "".join(traceback.format_exception(type(got.exc), got.exc, got.exc.__traceback__))
        pytest.fail(f"{what}: expected {want!r}, got {got!r}\n{tb}")
    numeric = all(isinstance(v, (int, float)) for v in elements)
    if consumer == "sum" and isinstance(want, float) and not same(got, want) and numeric:
        check_float_total(got, elements, what)
        return
    assert same(got, want), f"{what}: {first_difference(got, want)}"


def is_compiled(run):
    """Whether every pipeline ``run()`` consumes compiles, and the explanation."""
    text = fastiter.explain(run)
    return "compiled: yes" in text and "compiled: no" not in text, text


def reasons(text):
    """The reasons (without file:line:column) an explanation gives for not compiling."""
    out = []
    for line in text.splitlines():
        if line.startswith("reason:"):
            r = line[len("reason:") :].strip()
            out.append(re.sub(r"^\S+:\d+:\d+: ", "", r))
    return out


# ---------------------------------------------------------------------------------------------
# A pipeline as data: built with fastiter, and run by CPython from the same functions
# ---------------------------------------------------------------------------------------------


class Spec:
    """``src`` (a range: par_range; anything else: into_par_iter), stages, a consumer.

    Stages: ("map", f), ("filter", f), ("skip", k), ("zip", other, wrapped) (``wrapped``:
    True: ``.zip(into_par_iter(other))``; a function g: ``.zip(into_par_iter(other).map(g))``;
    False: ``.zip(other)``), ("fold", identity, op).
    Consumer: "collect", "sum", "count", "min", "max", "any", "all", or ("any"/"all", pred).
    """

    def __init__(self, src, *stages, consumer="collect", compiles=True):
        self.src = src
        self.stages = stages
        self.consumer = consumer
        self.compiles = compiles

    def build(self):
        if isinstance(self.src, range):
            p = par_range(self.src.start, self.src.stop, self.src.step)
        else:
            p = into_par_iter(self.src)
        for stage in self.stages:
            op = stage[0]
            if op in ("map", "filter"):
                p = getattr(p, op)(stage[1])
            elif op == "skip":
                p = p.skip(stage[1])
            elif op == "zip":
                other, wrapped = stage[1], stage[2]
                if callable(wrapped):
                    p = p.zip(into_par_iter(other).map(wrapped))
                else:
                    p = p.zip(into_par_iter(other) if wrapped else other)
            elif op == "fold":
                p = p.fold(stage[1], stage[2])
            else:
                raise AssertionError(op)
        return p

    def run(self):
        p = self.build()
        name, arg = self.consumer_parts()
        fn = getattr(p, name)
        return fn() if arg is None else fn(arg)

    def consumer_parts(self):
        if isinstance(self.consumer, tuple):
            return self.consumer
        return self.consumer, None

    def reference(self):
        """(CPython's value or Raised, the elements that reached the consumer)."""
        elements = []

        def recorded(it):
            for v in it:
                elements.append(v)
                yield v

        it = iter(python_items(self.src))
        for stage in self.stages:
            op = stage[0]
            if op == "map":
                it = map(stage[1], it)
            elif op == "filter":
                it = filter(stage[1], it)
            elif op == "skip":
                it = itertools.islice(it, stage[1], None)
            elif op == "zip":
                other = python_items(stage[1])
                it = zip(it, map(stage[2], other) if callable(stage[2]) else other)
            elif op == "fold":
                it = folded(it, stage[1], stage[2])
        it = recorded(it)
        name, arg = self.consumer_parts()
        try:
            value = consume(name, arg, it)
        except Exception as e:  # noqa: BLE001 - compared by type
            return Raised(e), elements
        return value, elements

    def check(self, what):
        want, elements = self.reference()
        got = outcome(self.run)
        consumer = self.consumer_parts()[0]
        if consumer == "sum" and any(s[0] == "fold" for s in self.stages):
            consumer = "fold_sum"  # one sequential fold: exact, no tolerance
        check(got, want, elements, consumer, what)
        return got


def folded(it, identity, op):
    """``iter([functools.reduce(op, it, identity())])``, lazily (its error is the consumer's)."""
    yield functools.reduce(op, it, identity())


def python_items(src):
    if np is not None and isinstance(src, np.ndarray):
        return src.tolist()
    return src


def consume(name, arg, it):
    if name == "sum":
        return sum(it)
    if name == "count":
        return sum(1 for _ in it)
    if name == "collect":
        return list(it)
    if name == "min":
        return min(it, default=None)
    if name == "max":
        return max(it, default=None)
    if name in ("any", "all"):
        fn = any if name == "any" else all
        return fn(it) if arg is None else fn(arg(v) for v in it)
    raise AssertionError(name)


# ---------------------------------------------------------------------------------------------
# Functions used as stages (module level, so that their source is found)
# ---------------------------------------------------------------------------------------------

N_INNER = 10  # read by lambdas below: a kernel parameter


def f2(i, j):
    return (i * j) % 7 - j


def sum_odd_prefix(x):
    s = 0
    for k in range(x % 20):
        s += sum(j for j in range(k) if j % 2)
    return s + max([x, 3, -x])


def is_prime(k):
    if k < 2:
        return False
    return all(k % d for d in range(2, int(k**0.5) + 1))


def count_pairs(x):
    n = x % 15
    t = sum(1 for a in range(n) for b in range(a, n) if (a + b) % 3 == 0)
    return t - min((a * a for a in range(n)), default=-1)


def local_in_element(x):
    n = x % 15
    return sum(a * n for a in range(3))


def local_in_condition(x):
    n = x % 15
    return sum(1 for a in range(6) if a < n)


def calls_is_prime(x):
    return sum(1 for d in range(x % 30) if is_prime(d))


def listcomp_def(x):
    best = max([a * (x % 11 - a) for a in range(x % 11 + 1)])
    return best + sum([k * k for k in range(x % 7) if k % 2])


def float_scale(v):
    return max(v * d for d in range(-2, 3))


def zip_product(t):
    a, b = t
    return a * b - min(a, b)


def one_div(k, d):
    return 10 // (d - k)


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------

SIGNED_FLOATS = [1.5, -2.0, 0.0, -0.0, 3.25, -0.5, 1e-300, -1e300, 7.0, -5e-324, 0.1, 2.0**60]
SPECIAL_FLOATS = [NAN, 1.0, -0.0, INF, 0.0, -INF, 1e308, -1e308, 5e-324, NAN, 2.5]
MIXED = [1, 2.5, True, -3, 0.0, -0.0, False, 2**53 + 1, -7.25, 0]
_rng = random.Random(12)
LONG_INTS = [_rng.randint(-(10**6), 10**6) for _ in range(2 * MIN_CHUNK + 77)]
LONG_FLOATS = [_rng.uniform(-1.0, 1.0) for _ in range(2 * MIN_CHUNK + 31)]


def arr(values, dtype):
    return np.array(values, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# (1) Comprehensions: cases by hand
# ---------------------------------------------------------------------------------------------

# name: Spec (compiles=True: test_must_compile checks that it compiles)
COMPREHENSIONS = {
    # the forms
    "all_trial_division": Spec(
        range(2, 3000), ("filter", lambda k: all(k % d for d in range(2, k))), consumer="count"
    ),
    "all_trial_division_sqrt": Spec(
        range(5000),
        ("filter", lambda k: k > 1 and all(k % d for d in range(2, int(k**0.5) + 1))),
    ),
    "not_any_small_primes": Spec(
        range(-50, 400), ("filter", lambda k: not any(k % d == 0 for d in (2, 3, 5)))
    ),
    "sum_squares_if": Spec(
        range(400), ("map", lambda i: sum(j * j for j in range(i) if j % 3 == 0)), consumer="sum"
    ),
    "max_of_def_call": Spec(
        range(-20, 60), ("map", lambda i: max(f2(i, j) for j in range(N_INNER)))
    ),
    "max_default": Spec(
        range(60), ("map", lambda i: max((j for j in range(i) if j % 5 == 4), default=-1))
    ),
    "max_default_float": Spec(
        range(30), ("map", lambda i: max((j for j in range(i, 5)), default=0.5))
    ),
    "min_default_x": Spec(
        range(-5, 30), ("map", lambda i: min((j * j for j in range(i, 0, -2)), default=i))
    ),
    "min_empty_raises": Spec(range(5), ("map", lambda i: min(j for j in range(i)))),
    "min_empty_raises_later": Spec(
        range(1, 12), ("map", lambda i: min(j for j in range(i - 6, 0)))
    ),
    "max_empty_listcomp_raises": Spec(
        range(9), ("map", lambda i: max([j for j in range(i) if j > 6]))
    ),
    "max_empty_after_filter": Spec(
        range(40),
        ("filter", lambda i: i % 10 != 0),
        ("map", lambda i: max(j for j in range(i % 10))),
    ),
    "nested_for": Spec(
        range(60),
        ("map", lambda i: sum(a * b for a in range(i) for b in range(a))),
        consumer="sum",
    ),
    "nested_for_ifs": Spec(
        range(40),
        ("map", lambda i: sum(a - b for a in range(i) if a % 2 for b in range(a, 10) if b % 3)),
    ),
    "nested_three": Spec(
        range(25),
        ("map", lambda i: sum(1 for a in range(i) for b in range(a) for c in range(b))),
    ),
    "nested_dependent_min": Spec(
        range(30),
        ("map", lambda i: min((a * 3 - b for a in range(i) for b in range(a, i)), default=0)),
    ),
    "two_ifs": Spec(
        range(50),
        ("map", lambda x: sum(d if d % 2 else -d for d in range(x) if d > 2 if d < 30)),
    ),
    "sum_range": Spec(range(200), ("map", lambda x: sum(range(x))), consumer="sum"),
    "sum_range_neg_step": Spec(range(-30, 30), ("map", lambda x: sum(range(x, -x, -3)))),
    "min_max_range": Spec(
        range(1, 80), ("map", lambda x: max(range(-x, x, 3)) - min(range(x, -x, -7)))
    ),
    "any_range": Spec(range(-3, 5), ("map", lambda x: any(range(x)))),
    "all_range": Spec(range(-3, 5), ("map", lambda x: all(range(x, 3)))),
    "sum_list_display": Spec(
        range(-10, 100), ("map", lambda x: sum([x, 2 * x, 3])), consumer="sum"
    ),
    "min_list_display": Spec(range(100), ("map", lambda x: min([x, 7, 100 - x]))),
    "min_list_mixed": Spec(range(-5, 20), ("map", lambda x: min([x, 1.5, -x]))),
    "max_list_mixed_first_equal": Spec(range(12), ("map", lambda x: max([x % 3, 1.0, True]))),
    "min_list_bool_int": Spec(range(12), ("map", lambda x: min([x > 5, x - 5]))),
    "listcomp_sum": Spec(
        range(120), ("map", lambda n: sum([k * k for k in range(n) if k % 2])), consumer="sum"
    ),
    "listcomp_max_default": Spec(
        range(30), ("map", lambda n: max([k * (n - k) for k in range(n)], default=0))
    ),
    "sum_bool_gen": Spec(range(90), ("map", lambda x: sum(d % 3 == 0 for d in range(x)))),
    "max_bool_gen": Spec(range(9), ("map", lambda x: max(d > 3 for d in range(x + 1)))),
    "min_bool_gen": Spec(range(9), ("map", lambda x: min(d < 3 for d in range(x + 1)))),
    "gen_over_tuple": Spec(range(-10, 10), ("map", lambda x: max(x * d for d in (2, -3, 5)))),
    "gen_over_list_display_with_x": Spec(
        range(-5, 5), ("map", lambda x: sum(d for d in [x, 1, -2]))
    ),
    "gen_over_mixed_display": Spec(range(-3, 3), ("map", lambda x: min(d for d in [x, 1.5, -0.0]))),
    "gen_over_display_nan": Spec(range(-2, 3), ("map", lambda x: max(d for d in (x, NAN, 1.0)))),
    "sum_count_gen": Spec(
        range(50), ("map", lambda x: sum(1 for d in range(x) if x % (d + 1) == 0))
    ),
    "gen_in_filter_then_sum": Spec(
        range(300), ("filter", lambda x: any(d * d == x for d in range(x + 1))), consumer="sum"
    ),
    "closure_param": Spec(range(40), ("map", lambda x: sum(x * j for j in range(N_INNER)))),
    # empty ranges, negative steps, zero steps
    "empty_range_sum": Spec(range(10), ("map", lambda x: sum(d for d in range(5, x)))),
    "empty_all_any": Spec(range(6), ("map", lambda x: all(d > 100 for d in range(x, 3)))),
    "empty_any": Spec(range(6), ("map", lambda x: any(d < 100 for d in range(x, 3)))),
    "neg_step_gen": Spec(range(-10, 10), ("map", lambda x: sum(d * d for d in range(x, -x, -2)))),
    "neg_step_min": Spec(
        range(-10, 10), ("map", lambda x: min((d for d in range(10, x, -3)), default=99))
    ),
    "zero_step_range": Spec(range(10), ("map", lambda x: sum(range(0, x, 0)))),
    "zero_step_gen": Spec(range(1, 10), ("map", lambda x: sum(d for d in range(0, 5, x % 3)))),
    "zero_step_not_reached": Spec(
        range(10), ("map", lambda x: any(d > -1 for d in range(3)) or sum(range(0, 1, 0)))
    ),
    "zero_step_float_step": Spec([1.0, 2.0], ("map", lambda x: sum(range(0, 5, int(x) - 1)))),
    "type_error_float_bound": Spec([1, 2, 2.5, 3], ("map", lambda v: sum(range(v)))),
    # huge ints inside the generator: exact
    "huge_sum": Spec(range(30), ("map", lambda x: sum(2**64 + j for j in range(x)))),
    "huge_product_sum": Spec(
        range(30), ("map", lambda x: sum(j * 2**62 for j in range(x))), consumer="sum"
    ),
    "huge_bounds_count": Spec(
        range(20), ("map", lambda x: sum(1 for j in range(2**64, 2**64 + x)))
    ),
    "huge_bounds_min": Spec(range(10), ("map", lambda x: min(range(2**63 + x, 2**63 + 10)))),
    "huge_crossing_i64": Spec(
        range(2**63 - 12, 2**63 - 1), ("map", lambda x: max(j * 2 for j in range(x, x + 5)))
    ),
    "huge_crossing_neg": Spec(
        range(-(2**63), -(2**63) + 8), ("map", lambda x: min(j - 3 for j in range(x, x - 5, -1)))
    ),
    "huge_sum_range": Spec(range(20), ("map", lambda x: sum(range(2**62, 2**62 + x)))),
    "huge_list_display": Spec(range(10), ("map", lambda x: max([x, 2**70, -(2**70)]))),
    "huge_outer_list": Spec([2**63 + 1, 5, -(2**64)], ("map", lambda x: sum(range(x % 9)) + x)),
    # floats: NaN, -0.0, ints and floats compared
    "float_gen_max": Spec(SIGNED_FLOATS, ("map", lambda v: max(v * d for d in range(3)))),
    "float_gen_special": Spec(SPECIAL_FLOATS, ("map", lambda v: min(v * d for d in range(-2, 3)))),
    "nan_min_first": Spec(SPECIAL_FLOATS, ("map", lambda v: min([v, 0.5]))),
    "nan_min_second": Spec(SPECIAL_FLOATS, ("map", lambda v: min([0.5, v]))),
    "nan_max_gen": Spec(SPECIAL_FLOATS, ("map", lambda v: max(w for w in (1.0, v, NAN)))),
    "nan_any_all": Spec(SPECIAL_FLOATS, ("map", lambda v: all(v * d for d in (1, 2)))),
    "neg_zero_min": Spec([-0.0, 0.0, 0, -1.5], ("map", lambda v: min([v, 0.0]))),
    "neg_zero_max": Spec([-0.0, 0.0, 0, -1.5], ("map", lambda v: max([-0.0, v]))),
    "neg_zero_gen": Spec(
        [-0.0, 0.0, 2.5, -2.5], ("map", lambda v: max(v * d for d in range(-1, 1)))
    ),
    "neg_zero_int_zero_min": Spec([-0.0, 0.0], ("map", lambda v: min(0, v, -0.0))),
    "float_stage_def": Spec(SPECIAL_FLOATS, ("map", float_scale)),
    "mixed_input": Spec(MIXED, ("map", lambda v: max(v * d for d in range(-1, 2)))),
    "mixed_input_sum_int": Spec(MIXED, ("map", lambda v: sum(1 for d in range(3) if v * d > 1))),
    "bool_input": Spec([True, False, True], ("map", lambda b: sum(range(b + 2)))),
    "float_bound_via_int": Spec(
        [1.5, 2.0, 7.9, -3.5], ("map", lambda v: sum(d for d in range(int(v))))
    ),
    "float_bound_nan": Spec([1.5, NAN], ("map", lambda v: sum(d for d in range(int(v))))),
    # sum() of floats inside a stage: not compiled on purpose; the value is CPython's
    "float_sum_in_gen": Spec(
        range(40), ("map", lambda x: sum(j * 0.1 for j in range(x))), compiles=False
    ),
    "float_sum_list_display": Spec(
        SPECIAL_FLOATS, ("map", lambda v: sum([v, 0.5, -v])), compiles=False
    ),
    "float_sum_big_cancel": Spec(
        range(5), ("map", lambda x: sum(d for d in (1e100, 1.0, -1e100, x))), compiles=False
    ),
    # any/all stop at the deciding element
    "any_stops_before_error": Spec(
        range(9), ("map", lambda x: any(d == 2 or d // (d - 5) > 100 for d in range(x)))
    ),
    "any_error_before_decision": Spec(
        range(9), ("map", lambda x: any(d == 7 or d // (d - 5) > 100 for d in range(x)))
    ),
    "any_error_not_reached": Spec(
        range(6), ("map", lambda x: any(d == 7 or d // (d - 5) > 100 for d in range(x)))
    ),
    "all_stops_before_error": Spec(
        range(9), ("map", lambda x: all(d != 2 and d // (d - 5) < 100 for d in range(x)))
    ),
    "all_error_before_decision": Spec(
        range(9), ("map", lambda x: all(d != 7 and d // (d - 5) < 100 for d in range(x)))
    ),
    "any_def_call_error_after": Spec(
        range(12), ("map", lambda k: any(one_div(k, d) < 0 for d in range(12)))
    ),
    "any_listcomp_evaluates_all": Spec(
        range(9),
        ("map", lambda x: any([d == 1 or 1 // (d - 4) for d in range(x)])),  # noqa: C419
    ),
    "all_listcomp_evaluates_all": Spec(
        range(9),
        ("map", lambda x: all([d != 1 and 1 // (d - 4) for d in range(x)])),  # noqa: C419
    ),
    "min_error_in_element": Spec(range(9), ("map", lambda x: min(10 // (d - 3) for d in range(x)))),
    "outer_any_with_gen": Spec(
        range(10**6), consumer=("any", lambda x: x > 1000 and all(x % d for d in range(2, 40)))
    ),
    "outer_all_with_gen": Spec(
        range(10**6), consumer=("all", lambda x: any(x % d == 0 for d in range(2, 5)) or x < 30)
    ),
    "outer_any_stops_before_error": Spec(
        range(100), consumer=("any", lambda x: x == 3 or min(range(x - 10, 0)) < -100)
    ),
    # small defs as stages
    "def_loop_gen": Spec(range(80), ("map", sum_odd_prefix), consumer="sum"),
    "def_is_prime_filter": Spec(range(-5, 400), ("filter", is_prime)),
    "def_pairs": Spec(range(60), ("map", count_pairs)),
    "def_local_in_element": Spec(range(40), ("map", local_in_element)),
    "def_local_in_condition": Spec(range(40), ("map", local_in_condition)),
    "def_calls_def_in_gen": Spec(range(60), ("map", calls_is_prime)),
    "def_listcomps": Spec(range(-20, 60), ("map", listcomp_def)),
    # long inputs: chunks, and the earliest exception
    "long_any_gen": Spec(
        range(3 * MIN_CHUNK),
        ("map", lambda x: any(x % d == 0 for d in (7, 11, 13))),
        consumer="sum",
    ),
    "long_list_gen": Spec(
        LONG_INTS, ("map", lambda v: max(v % d for d in (3, 5, 7, 11))), consumer="sum"
    ),
    "long_float_list_gen": Spec(
        LONG_FLOATS, ("map", lambda v: max(v * d for d in (1, -1, 0.5))), consumer="sum"
    ),
    "long_earliest_value_error": Spec(
        range(1, 3 * MIN_CHUNK),
        ("map", lambda x: 1 // (x - 3 * 10**4) + max(range(min(x % 20000, 3)))),
        consumer="sum",
    ),
    "long_earliest_zero_division": Spec(
        range(1, 3 * MIN_CHUNK),
        ("map", lambda x: 1 // (x - 3 * 10**4) + max(range(min(x % 40000, 3)))),
        consumer="sum",
    ),
}


@pytest.mark.parametrize("name", list(COMPREHENSIONS))
def test_comprehension_cases(name):
    COMPREHENSIONS[name].check(name)


# ---------------------------------------------------------------------------------------------
# (2) := in a lambda
# ---------------------------------------------------------------------------------------------

WALRUS = {
    "square_twice": Spec(range(-50, 50), ("map", lambda x: (y := x * x) + y), consumer="sum"),
    "chained": Spec(range(-20, 20), ("map", lambda x: (y := x + 1) * (z := y * 2) - z)),
    "float": Spec(SPECIAL_FLOATS, ("map", lambda v: (w := v * 0.5) - w)),
    "mixed": Spec(MIXED, ("map", lambda v: (w := v * 2) + w * w)),
    "filter_and": Spec(range(60), ("filter", lambda x: (r := x % 7) > 2 and r != 5)),
    "then_gen": Spec(range(60), ("map", lambda x: (m := x % 9) + sum(j for j in range(m)))),
    "bound_of_gen": Spec(range(40), ("map", lambda x: max(j * (m := x % 5) for j in range(3)))),
    "huge": Spec(range(-5, 5), ("map", lambda x: (y := x * 2**40) * y + y)),
    "huge_outer": Spec(range(2**63 - 4, 2**63 - 1), ("map", lambda x: (y := x + 2) - x + y)),
    "reused_in_cond": Spec(range(-10, 10), ("map", lambda x: (y := x * 3) if (x > 0) else -x)),
    "in_condition": Spec(range(-10, 10), ("map", lambda x: 1 if (y := x % 4) == 0 else y * 10)),
    "in_branch": Spec(range(-10, 10), ("map", lambda x: (y := x) if x > 3 else -x), compiles=False),
    "in_gen": Spec(
        range(10), ("map", lambda x: any((y := d * x) > 10 for d in range(x))), compiles=False
    ),
    "division_error": Spec(range(10), ("map", lambda x: (y := x - 5) + 10 // y)),
    "any_consumer": Spec(range(100), consumer=("any", lambda x: (s := x * x) > 50 and s % 2 == 0)),
    "all_consumer": Spec(range(1, 100), consumer=("all", lambda x: (s := x * x) > 0)),
}
WALRUS["bound_of_gen"].compiles = False  # := inside a comprehension
WALRUS["reused_in_cond"].compiles = False  # := in a branch


@pytest.mark.parametrize("name", list(WALRUS))
def test_walrus_cases(name):
    WALRUS[name].check(name)


# ---------------------------------------------------------------------------------------------
# (3) fold then a consumer
# ---------------------------------------------------------------------------------------------

FOLD_CONSUMERS = ["sum", "count", "min", "max", "collect", "any", "all"]


def add(acc, x):
    return acc + x


FOLDS = {
    "range_add": (range(1000), lambda: 0, lambda acc, x: acc + x),
    "range_empty": (range(0), lambda: 0, lambda acc, x: acc + x),
    "range_neg_step": (range(100, -100, -7), lambda: 5, lambda acc, x: acc - x),
    "int_identity_floats": (SIGNED_FLOATS, lambda: 0, lambda acc, x: acc + x),
    "int_identity_special": (SPECIAL_FLOATS, lambda: 0, lambda acc, x: acc + x),
    "int_identity_empty_list": ([], lambda: 0, lambda acc, x: acc + x),
    "float_identity_empty": (range(5, 5), lambda: 0.0, lambda acc, x: acc + x),
    "neg_zero_identity": ([-0.0, -0.0], lambda: -0.0, lambda acc, x: acc + x),
    "float_identity_ints": (range(50), lambda: 0.5, lambda acc, x: acc * 0.5 + x),
    "max_op": (range(-50, 50), lambda: -1, lambda acc, x: max(acc, x % 17)),
    "min_op_floats": (SPECIAL_FLOATS, lambda: INF, lambda acc, x: min(acc, x)),
    "overflow_exact": (range(100), lambda: 1, lambda acc, x: acc * 3 + x),
    "raises": (range(100), lambda: 0, lambda acc, x: acc + 10 // (x - 50)),
    "bool_identity": (range(100), lambda: False, lambda acc, x: acc or x > 50),
    "bool_identity_all_false": (range(10), lambda: False, lambda acc, x: acc or x > 50),
    "comprehension_in_op": (range(60), lambda: 0, lambda acc, x: acc + sum(range(x % 5))),
    "gen_in_op": (
        range(40),
        lambda: 0,
        lambda acc, x: max(acc, max(x * d % 13 for d in range(4))),
    ),
    "mixed_input": (MIXED, lambda: 0, lambda acc, x: acc + x),
    "def_op": (range(200), lambda: 0, add),
    "long_floats": (LONG_FLOATS, lambda: 0, lambda acc, x: acc + x),
    "long_ints": (LONG_INTS, lambda: 0, lambda acc, x: acc + x * x),
    "huge_list": ([2**64, 1, 2], lambda: 0, lambda acc, x: acc + x),
    "cancel": ([1e100, 1.0, -1e100], lambda: 0, lambda acc, x: acc + x),
}


@pytest.mark.parametrize("consumer", FOLD_CONSUMERS)
@pytest.mark.parametrize("name", list(FOLDS))
def test_fold(name, consumer):
    src, identity, op = FOLDS[name]
    Spec(src, ("fold", identity, op), consumer=consumer).check(f"{name}.{consumer}")


def test_fold_after_stages():
    Spec(
        range(500),
        ("filter", lambda x: x % 3),
        ("map", lambda x: x * x - 7),
        ("fold", lambda: 0, lambda acc, x: acc + x),
        consumer="sum",
    ).check("filter.map.fold.sum")
    Spec(
        SIGNED_FLOATS,
        ("map", lambda v: v * 2),
        ("fold", lambda: 0, lambda acc, x: acc + x),
        consumer="collect",
    ).check("map.fold.collect")


def test_fold_types_by_hand():
    assert same(par_range(0, 0).fold(lambda: 0, lambda a, x: a + x).collect(), [0])
    assert same(par_range(0, 0).fold(lambda: 0, lambda a, x: a + x).sum(), 0)
    assert same(par_range(0, 0).fold(lambda: 0, lambda a, x: a + x).count(), 1)
    assert same(par_range(0, 0).fold(lambda: 0, lambda a, x: a + x).any(), False)
    assert same(par_range(0, 0).fold(lambda: 0, lambda a, x: a + x).all(), False)
    assert same(into_par_iter([0.5, 1.5]).fold(lambda: 0, lambda a, x: a + x).collect(), [2.0])
    assert same(into_par_iter([-0.0]).fold(lambda: -0.0, lambda a, x: a + x).collect(), [-0.0])
    assert same(into_par_iter([-0.0]).fold(lambda: -0.0, lambda a, x: a + x).sum(), sum([-0.0]))
    assert same(par_range(0, 3).fold(lambda: 0.0, lambda a, x: a + x).max(), 3.0)


# ---------------------------------------------------------------------------------------------
# (4) zip of two inputs
# ---------------------------------------------------------------------------------------------

INTS = [3, -1, 4, 1, -5, 9, 2, -6, 0, 2**62]
FLOATS = [0.5, -2.0, NAN, -0.0, INF, 1e300, 3.0]


def zip_cases():
    cases = {
        "lists_int_float": Spec(INTS, ("zip", FLOATS, True), ("map", lambda t: t[0] * t[1])),
        "lists_float_int_raw": Spec(FLOATS, ("zip", INTS, False), ("map", lambda t: t[0] - t[1])),
        "second_longer": Spec(INTS[:3], ("zip", INTS, False), ("map", lambda t: t[0] + t[1])),
        "first_longer": Spec(INTS, ("zip", INTS[:4], True), ("map", lambda t: t[0] * t[1])),
        "empty_first": Spec([], ("zip", INTS, False), ("map", lambda t: t[0] + t[1])),
        "empty_second": Spec(INTS, ("zip", [], True), ("map", lambda t: t[0] + t[1])),
        "mixed_lists": Spec(
            MIXED, ("zip", [0, 0.5, 7, True, -0.0], False), ("map", lambda t: t[0] * t[1])
        ),
        "tuple_other": Spec(INTS, ("zip", (1.5, 2, True), False), ("map", lambda t: t[1] - t[0])),
        "def_unpacks": Spec(INTS, ("zip", FLOATS[:5] + [7], True), ("map", zip_product)),
        "t1_only": Spec(INTS, ("zip", FLOATS, False), ("map", lambda t: t[1])),
        "t0_only_sum": Spec(INTS, ("zip", FLOATS, False), ("map", lambda t: t[0]), consumer="sum"),
        "filter_then_sum": Spec(
            INTS,
            ("zip", INTS[::-1], False),
            ("filter", lambda t: t[1] > 0),
            ("map", lambda t: t[0]),
            consumer="sum",
        ),
        "overflow_exact": Spec(
            [2**62, 2**62, -(2**63)],
            ("zip", [4, 2**62, -1], False),
            ("map", lambda t: t[0] * t[1]),
            consumer="sum",
        ),
        "division_error": Spec(
            INTS, ("zip", [1, 2, 3, 0, 5], False), ("map", lambda t: t[0] // t[1])
        ),
        "min": Spec(INTS, ("zip", FLOATS, True), ("map", lambda t: t[0] + t[1]), consumer="min"),
        "max": Spec(
            INTS, ("zip", FLOATS, True), ("map", lambda t: t[0] * 0 + t[1]), consumer="max"
        ),
        "count": Spec(
            INTS, ("zip", FLOATS, True), ("filter", lambda t: t[0] < t[1]), consumer="count"
        ),
        "any": Spec(INTS, ("zip", INTS[1:], False), consumer=("any", lambda t: t[0] == t[1])),
        "all": Spec(INTS, ("zip", INTS, False), consumer=("all", lambda t: t[0] == t[1])),
        "with_gen": Spec(
            [3, 5, 7, 9],
            ("zip", [2, 0, 4, 1], False),
            ("map", lambda t: sum(d * t[1] for d in range(t[0]))),
        ),
        "long_float_sum": Spec(
            LONG_FLOATS, ("zip", LONG_INTS, False), ("map", lambda t: t[0] * t[1]), consumer="sum"
        ),
        "long_int_sum": Spec(
            LONG_INTS, ("zip", LONG_INTS[5:], True), ("map", lambda t: t[0] * t[1]), consumer="sum"
        ),
        "fold_after_zip": Spec(
            INTS,
            ("zip", INTS, False),
            ("map", lambda t: t[0] - t[1]),
            ("fold", lambda: 0, add),
            consumer="sum",
        ),
        # what zip may not compile with: values still CPython's
        "skip_before_zip": Spec(
            INTS, ("skip", 3), ("zip", FLOATS, False), ("map", lambda t: t[0] * t[1])
        ),
        "skip_all_before_zip": Spec(
            INTS, ("skip", 30), ("zip", FLOATS, True), ("map", lambda t: t[0] + t[1])
        ),
        "skip_before_zip_sum": Spec(
            INTS, ("skip", 1), ("zip", INTS, True), ("map", lambda t: t[0] * t[1]), consumer="sum"
        ),
        "collect_tuples": Spec(INTS, ("zip", FLOATS, False), compiles=False),
        "range_source": Spec(range(8), ("zip", INTS, False), ("map", lambda t: t[0] + t[1])),
        "huge_second": Spec(
            INTS, ("zip", [2**64, 1], False), ("map", lambda t: t[0] + t[1]), compiles=False
        ),
        "second_has_stages": Spec(
            INTS,
            ("zip", INTS, lambda v: v + 1),
            ("map", lambda t: t[0] - t[1]),
            compiles=False,
        ),
        "after_map": Spec(
            INTS,
            ("map", lambda v: v * 2),
            ("zip", INTS, False),
            ("map", lambda t: t[0] - t[1]),
            compiles=False,
        ),
    }
    if np is not None:
        cases.update(
            {
                "np_int32_float64": Spec(
                    arr(INTS[:-1], "int32"),
                    ("zip", arr(FLOATS, "float64"), True),
                    ("map", lambda t: t[0] * t[1]),
                ),
                "np_float64_bool": Spec(
                    arr(FLOATS, "float64"),
                    ("zip", arr([True, False, True, True], "bool"), False),
                    ("map", lambda t: t[0] * t[1]),
                ),
                "np_bool_int32": Spec(
                    arr([True, False, True], "bool"),
                    ("zip", arr([5, -6, 7, 8], "int32"), True),
                    ("map", lambda t: t[0] + t[1]),
                ),
                "list_with_np": Spec(
                    INTS,
                    ("zip", arr([2.5, -1.0, 0.0], "float64"), False),
                    ("map", lambda t: t[0] * t[1]),
                ),
                "np_with_list": Spec(
                    arr(INTS, "int64"), ("zip", FLOATS, True), ("map", lambda t: t[0] + t[1])
                ),
                "np_bool_bool": Spec(
                    arr([True, False, True], "bool"),
                    ("zip", arr([True, True, False], "bool"), False),
                    ("map", lambda t: t[0] and t[1]),
                ),
                "np_long": Spec(
                    arr(LONG_FLOATS, "float64"),
                    ("zip", arr(LONG_INTS, "int32"), True),
                    ("map", lambda t: t[0] + t[1]),
                    consumer="sum",
                ),
                "np_skip_before_zip": Spec(
                    arr(INTS, "int64"),
                    ("skip", 2),
                    ("zip", arr(FLOATS, "float64"), False),
                    ("map", lambda t: t[0] * t[1]),
                ),
            }
        )
    return cases


ZIPS = zip_cases()


@pytest.mark.parametrize("name", list(ZIPS))
def test_zip_cases(name):
    ZIPS[name].check(name)


# ---------------------------------------------------------------------------------------------
# They compile
# ---------------------------------------------------------------------------------------------

# Natural cases that do not compile yet (the reason explain() gives): expected failures, so
# that they show up as XPASS once they do.
COMPILE_GAPS = {
    # A generator over a display whose items have different types is refused (min([...]) of
    # such a display compiles).
    "comp:gen_over_mixed_display": "the elements of this comprehension have different types",
    "comp:gen_over_display_nan": "the elements of this comprehension have different types",
}

MUST_COMPILE = {}
for _group, _cases in (("comp", COMPREHENSIONS), ("walrus", WALRUS), ("zip", ZIPS)):
    for _name, _spec in _cases.items():
        if _spec.compiles:
            MUST_COMPILE[f"{_group}:{_name}"] = _spec
# Each fold once (explain() is not cheap), its consumer in turn; every consumer for two of them.
for _i, (_name, (_src, _identity, _op)) in enumerate(FOLDS.items()):
    if _name == "huge_list":  # an int past 64 bits in a list runs as Python
        continue
    _all = _name in ("range_add", "int_identity_floats")
    for _consumer in FOLD_CONSUMERS if _all else [FOLD_CONSUMERS[_i % len(FOLD_CONSUMERS)]]:
        MUST_COMPILE[f"fold:{_name}.{_consumer}"] = Spec(
            _src, ("fold", _identity, _op), consumer=_consumer
        )
# Not expected to compile: a list holding an int past 64 bits; `.zip(list)` after a range; a
# range bound that is an int or a float depending on the data.
for _name in ("comp:huge_outer_list", "zip:range_source", "comp:type_error_float_bound"):
    MUST_COMPILE.pop(_name, None)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(reason=COMPILE_GAPS[n], strict=True))
        if n in COMPILE_GAPS
        else n
        for n in MUST_COMPILE
    ],
)
def test_must_compile(name):
    ok, text = is_compiled(MUST_COMPILE[name].run)
    assert ok, f"{name} does not compile:\n{text}"


def test_float_sum_in_a_stage_is_not_compiled():
    """CPython's float sum() depends on its version (3.12 compensates): not compiled on purpose,
    and the value is CPython's own."""
    for name in ("float_sum_in_gen", "float_sum_list_display", "float_sum_big_cancel"):
        ok, text = is_compiled(COMPREHENSIONS[name].run)
        assert not ok
        assert any("sum() of floats" in r for r in reasons(text)), text
    got = par_range(0, 5).map(lambda x: sum(d for d in (1e100, 1.0, -1e100, x))).collect()
    assert same(got, [sum((1e100, 1.0, -1e100, x)) for x in range(5)])


def test_results_do_not_depend_on_threads():
    before = get_num_threads()
    names = [n for n in COMPREHENSIONS if n.startswith("long_")]
    try:
        results = {}
        for threads in (1, 2, 5):
            set_num_threads(threads)
            results[threads] = [repr(outcome(COMPREHENSIONS[n].run)) for n in names]
            results[threads] += [repr(outcome(ZIPS[n].run)) for n in ZIPS if "long" in n]
    finally:
        set_num_threads(before)
    assert results[1] == results[2] == results[5]


def test_parameters_are_not_stale():
    """A global read inside a generator is a kernel parameter: a new value, a new result."""
    global N_INNER
    spec = COMPREHENSIONS["closure_param"]
    before = N_INNER
    try:
        for n in (10, 0, 3, -4, 25, 10):
            N_INNER = n
            spec.check(f"N_INNER={N_INNER}")
    finally:
        N_INNER = before


def test_by_hand():
    """A few results written out, independently of the reference machinery."""
    assert par_range(2, 30).filter(lambda k: all(k % d for d in range(2, k))).collect() == [
        2,
        3,
        5,
        7,
        11,
        13,
        17,
        19,
        23,
        29,
    ]
    assert same(
        par_range(0, 4).map(lambda x: max((d for d in range(x)), default=-1)).collect(),
        [-1, 0, 1, 2],
    )
    assert same(par_range(0, 3).map(lambda x: min([x, 1.5, -x])).collect(), [0, -1, -2])
    assert same(par_range(0, 3).map(lambda x: min([x, 0.5])).collect(), [0, 0.5, 0.5])
    assert same(
        par_range(1, 3).map(lambda x: sum(2**64 * j for j in range(x + 1))).collect(),
        [2**64, 3 * 2**64],
    )
    assert same(par_range(0, 3).map(lambda x: (y := x * x) + y).collect(), [0, 2, 8])
    assert same(
        into_par_iter([1, 2, 3]).zip([0.5, 2]).map(lambda t: t[0] * t[1]).collect(), [0.5, 4]
    )
    with pytest.raises(ValueError):
        par_range(0, 3).map(lambda x: min(d for d in range(x))).collect()
    with pytest.raises(ValueError):
        par_range(0, 3).map(lambda x: sum(range(0, 3, x - 1))).collect()
    # an error after the deciding element is never raised, one before it is
    assert par_range(0, 1).map(
        lambda x: any(d == 0 or 1 // (d - 1) for d in range(5))
    ).collect() == [True]
    with pytest.raises(ZeroDivisionError):
        par_range(0, 1).map(lambda x: any(d == 2 or 1 // (d - 1) > 5 for d in range(5))).collect()


# ---------------------------------------------------------------------------------------------
# Drawn comprehensions
# ---------------------------------------------------------------------------------------------

INT_K = ["0", "1", "2", "3", "5", "7", "10", "(-1)", "(-4)"]
BIG_K = ["2**62", "2**63", "(-2**63)", "(2**63 - 1)", "2**64", "10**20"]
FLOAT_K = ["0.5", "(-0.0)", "0.0", "2.5", "(-1.5)", "0.1"]
RARE_FLOAT_K = ["1e300", "math.nan", "math.inf", "(-math.inf)", "5e-324"]
CMP = ["<", "<=", "==", "!=", ">", ">="]


class Scope:
    """The names an expression may read: name -> "int" (an int), "float", "bool" or "num"
    (the data decides: int, float or bool), and which of them are small (|v| < 64)."""

    def __init__(self, names, small):
        self.names = dict(names)
        self.small = set(small)

    def with_var(self, name, ty, small):
        s = Scope(self.names, self.small)
        s.names[name] = ty
        if small:
            s.small.add(name)
        return s

    def of(self, *types):
        return [n for n, t in self.names.items() if t in types]


@st.composite
def gexpr(draw, ty, scope, depth):
    """An expression of type ``ty`` ("int", "float", "bool") over the names of ``scope``."""
    if depth <= 0 or draw(st.integers(0, 3)) == 0:
        if ty == "int":
            names = scope.of("int", "bool", "num")
            c = draw(st.integers(0, 9))
            if names and c < 5:
                return draw(st.sampled_from(names))
            if c == 9:
                return draw(st.sampled_from(BIG_K))
            return draw(st.sampled_from(INT_K))
        if ty == "float":
            names = scope.of("float", "num")
            c = draw(st.integers(0, 9))
            if names and c < 5:
                return draw(st.sampled_from(names))
            if c == 9:
                return draw(st.sampled_from(RARE_FLOAT_K))
            return draw(st.sampled_from(FLOAT_K))
        names = scope.of("bool")
        return draw(st.sampled_from(["True", "False"] + names * 2))
    d = depth - 1

    def sub(t):
        return draw(gexpr(t, scope, d))

    if ty == "int":
        form = draw(
            st.sampled_from(
                ["+", "-", "*", "//", "%", "+", "*", "**", "neg", "abs", "min", "max", "ifelse"]
                + ["and", "or", "bit", "shift"]
            )
        )
        if form in ("+", "-", "*", "//", "%"):
            return f"({sub('int')} {form} {sub('int')})"
        if form == "**":
            return f"({sub('int')} ** {draw(st.integers(0, 3))})"
        if form == "neg":
            return f"(-{sub('int')})"
        if form == "abs":
            return f"abs({sub('int')})"
        if form in ("min", "max"):
            return f"{form}({sub('int')}, {sub('int')})"
        if form == "ifelse":
            return f"({sub('int')} if {sub('bool')} else {sub('int')})"
        if form in ("and", "or"):
            return f"({sub('int')} {form} {sub('int')})"
        if form == "bit":
            return f"({sub('int')} {draw(st.sampled_from(['&', '|', '^']))} {sub('int')})"
        return f"({sub('int')} {draw(st.sampled_from(['<<', '>>']))} {draw(st.integers(0, 66))})"
    if ty == "float":
        form = draw(
            st.sampled_from(
                ["+", "-", "*", "/", "neg", "abs", "min", "max", "ifelse", "sqrt", "float"]
            )
        )
        if form in ("+", "-", "*"):
            a, b = draw(st.sampled_from([("float", "float"), ("float", "int"), ("int", "float")]))
            return f"({sub(a)} {form} {sub(b)})"
        if form == "/":
            return f"({sub(draw(st.sampled_from(['int', 'float'])))} / {sub('float')})"
        if form == "neg":
            return f"(-{sub('float')})"
        if form == "abs":
            return f"abs({sub('float')})"
        if form in ("min", "max"):
            return f"{form}({sub('float')}, {sub('float')})"
        if form == "ifelse":
            return f"({sub('float')} if {sub('bool')} else {sub('float')})"
        if form == "sqrt":
            return f"math.sqrt(abs({sub('float')}))"
        return f"float({sub('int')})"
    form = draw(st.sampled_from(["cmp", "cmp", "cmp", "not", "and", "or", "mod"]))
    if form == "cmp":
        t = draw(st.sampled_from(["int", "int", "float"]))
        return f"({sub(t)} {draw(st.sampled_from(CMP))} {sub(draw(st.sampled_from(['int', t])))})"
    if form == "not":
        return f"(not {sub('bool')})"
    if form in ("and", "or"):
        return f"({sub('bool')} {form} {sub('bool')})"
    return f"({sub('int')} % {draw(st.integers(2, 5))} == 0)"


@st.composite
def small_bound(draw, scope):
    """A small int expression (|v| <= 13) for a range bound, or rarely one that raises."""
    c = draw(st.integers(0, 19))
    ints = scope.of("int", "bool")
    if c < 6 or not (ints or scope.of("float", "num")):
        return draw(st.sampled_from(["0", "1", "3", "5", "8", "12", "(-3)", "(-8)"]))
    m = draw(st.integers(2, 13))
    if ints and c < 17:
        v = draw(st.sampled_from(ints))
        return draw(st.sampled_from([f"({v} % {m})", f"(-({v} % {m}))", f"({v} % {m} - 4)"]))
    floats = scope.of("float")
    if c == 19 and floats:
        return draw(st.sampled_from(floats))  # a float bound: TypeError
    v = draw(st.sampled_from(scope.of("float", "num") or ints))
    return f"(int({v}) % {m})"  # ValueError on NaN, OverflowError on inf


@st.composite
def step_expr(draw, scope):
    c = draw(st.integers(0, 29))
    if c < 14:
        return None
    if c < 27:
        return draw(st.sampled_from(["1", "2", "3", "(-1)", "(-1)", "(-2)", "(-3)"]))
    ints = scope.of("int", "bool")
    if c == 27 or not ints:
        return "0"
    v = draw(st.sampled_from(ints))
    return draw(st.sampled_from([f"({v} % 3)", f"({v} % 3 - 1)"]))  # zero for some


@st.composite
def iterable(draw, scope):
    """(iterable source text, the loop variable's type, whether its values are small)."""
    c = draw(st.integers(0, 19))
    ints = scope.of("int", "bool")
    if c < 13:
        a = draw(small_bound(scope))
        step = draw(step_expr(scope))
        if draw(st.booleans()) and step is None:
            return f"range({a})", "int", True
        b = draw(small_bound(scope))
        if step is None:
            return f"range({a}, {b})", "int", True
        return f"range({a}, {b}, {step})", "int", True
    if c < 16 and ints:
        # around a value that may be huge (the outer element near 2**63)
        v = draw(st.sampled_from(ints))
        n = draw(st.integers(0, 6))
        if draw(st.booleans()):
            return f"range({v}, {v} + {n})", "int", v in scope.small
        return f"range({v} + {n}, {v}, -{draw(st.integers(1, 3))})", "int", v in scope.small
    if c < 16:
        return "range(7, -7, -3)", "int", True
    items = [
        draw(gexpr(draw(st.sampled_from(["int", "int", "float"])), scope, 0)) for _ in range(3)
    ]
    if all(i.lstrip("(-").rstrip(")").isdigit() for i in items):
        ty = "int"
    else:
        ty = "num"
    items = items[: draw(st.integers(1, 3))]
    if draw(st.booleans()):
        return f"({', '.join(items)},)", ty, False
    return f"[{', '.join(items)}]", ty, False


ELEMENT_TYPES = {
    "sum": ["int", "int", "int", "int", "bool", "float"],
    "any": ["bool", "bool", "int", "float"],
    "all": ["bool", "bool", "int", "float"],
    "min": ["int", "int", "float", "bool"],
    "max": ["int", "int", "float", "bool"],
}


@st.composite
def reduction(draw, scope):
    """``sum/any/all/min/max`` of a generator expression, a list comprehension, a range or a
    list display."""
    red = draw(st.sampled_from(["sum", "sum", "any", "all", "min", "max"]))
    form = draw(st.sampled_from(["gen", "gen", "gen", "list", "direct"]))
    ety = draw(st.sampled_from(ELEMENT_TYPES[red]))
    if form == "direct":
        if draw(st.booleans()):
            it, _, _ = draw(iterable(scope))
            if it.startswith("range"):
                return f"{red}({it})"
        n = draw(st.integers(1, 4))
        items = [draw(gexpr(ety, scope, draw(st.integers(0, 2)))) for _ in range(n)]
        return f"{red}([{', '.join(items)}])"
    clauses = []
    inner = scope
    for i in range(draw(st.integers(1, 2))):
        name = "ab"[i]
        it, vty, small = draw(iterable(inner))
        inner = inner.with_var(name, vty, small)
        clause = f"for {name} in {it}"
        for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2]))):
            clause += f" if {draw(gexpr(draw(st.sampled_from(['bool', 'bool', 'int'])), inner, 2))}"
        clauses.append(clause)
    elem = draw(gexpr(ety, inner, draw(st.integers(0, 3))))
    comp = f"{elem} {' '.join(clauses)}"
    default = None
    if red in ("min", "max") and draw(st.integers(0, 2)) == 0:
        default = draw(st.sampled_from(["-1", "0", "0.5", "x", "(-0.0)"]))
    if form == "list":
        inner_text = f"[{comp}]"
    elif default is not None:
        inner_text = f"({comp})"
    else:
        inner_text = comp
    call = f"{red}({inner_text})" if default is None else f"{red}({inner_text}, default={default})"
    if red in ("any", "all") and draw(st.integers(0, 3)) == 0:
        call = f"(not {call})"
    return call


@st.composite
def stage_body(draw, xty):
    """The body of ``lambda x: ...``: a reduction, maybe after a ``:=`` binding."""
    scope = Scope({"x": xty}, [])
    walrus = draw(st.integers(0, 3)) == 0
    prefix = ""
    if walrus:
        bound = draw(small_bound(scope))
        scope = scope.with_var("y", "int", True)
        prefix = f"0 * (y := {bound}) + "
    body = draw(reduction(scope))
    if draw(st.integers(0, 4)) == 0:
        body = f"{body} {draw(st.sampled_from(['+', '-', '*']))} {draw(reduction(scope))}"
    return prefix + body


USES = ["map_collect", "map_collect", "map_sum", "map_min", "map_max", "filter_collect"]
USES += ["filter_count", "any", "all"]
LAYOUTS = ["lambda", "split", "def", "def_stmt"]


def module_source(body, use, layout):
    """A module defining ``run(src)``: the stage in ``layout`` used as ``use``."""
    defs = ""
    if layout == "lambda":
        fn = f"lambda x: {body}"
    elif layout == "split":
        fn = f"lambda x: (\n            {body}\n        )"
    elif layout == "def":
        defs = f"def f(x):\n    return {body}\n\n\n"
        fn = "f"
    else:
        defs = f"def f(x):\n    r = {body}\n    return r\n\n\n"
        fn = "f"
    if use in ("any", "all"):
        chain = f".{use}({fn})"
    else:
        kind, consumer = use.split("_")
        chain = f".{kind}({fn})\n        .{consumer}()"
    return (
        f"import math\n\n\n{defs}def run(src):\n    return (\n        src\n        {chain}\n    )\n"
    )


_MODULE_DIR = tempfile.mkdtemp(prefix="fastiter_comp_")
_module_counter = itertools.count()


def import_module_source(text):
    name = f"_fastiter_comp_{os.getpid()}_{next(_module_counter)}"
    path = os.path.join(_MODULE_DIR, name + ".py")
    with open(path, "w") as f:
        f.write(text)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def reference(data, body, use):
    """(CPython's value or Raised, the elements reaching the consumer)."""
    f = eval("lambda x: " + body, {"math": math})
    elements = []

    def recorded(it):
        for v in it:
            elements.append(v)
            yield v

    try:
        if use in ("any", "all"):
            fn = any if use == "any" else all
            return fn(f(v) for v in data), elements
        kind, consumer = use.split("_")
        it = recorded(map(f, data) if kind == "map" else filter(f, data))
        return consume(consumer, None, it), elements
    except Exception as e:  # noqa: BLE001 - compared by type
        return Raised(e), elements


# What the drawn stages did not compile for (reason without its position -> count), reported
# by test_zz_report.
NOT_COMPILED = collections.Counter()
DRAWN = collections.Counter()
REASON_EXAMPLE = {}


def run_drawn(make, data, desc, body, use, layout):
    text = module_source(body, use, layout)
    note(text)
    mod = import_module_source(text)
    try:
        ok, explained = is_compiled(lambda: mod.run(make()))
        DRAWN["compiled" if ok else "not compiled"] += 1
        event("compiled" if ok else "not compiled")
        for r in reasons(explained):
            NOT_COMPILED[r] += 1
            REASON_EXAMPLE.setdefault(r, f"{desc}.{use}(lambda x: {body})  [{layout}]")
        want, elements = reference(data, body, use)
        got = outcome(lambda: mod.run(make()))
        consumer = "sum" if use == "map_sum" else use
        check(got, want, elements, consumer, f"{desc}.{use}(lambda x: {body})  [{layout}]")
    finally:
        sys.modules.pop(mod.__name__, None)


RANGE_BASES = [0, 0, 0, 0, -20, 2**62, -(2**62), 2**63 - 40, -(2**63) + 40, 10**18]


@st.composite
def range_source(draw):
    start = draw(st.sampled_from(RANGE_BASES)) + draw(st.integers(-30, 30))
    step = draw(st.sampled_from([1, 1, 1, 2, 3, -1, -2, -5]))
    length = draw(st.one_of(st.integers(0, 12), st.integers(0, 60), st.integers(0, 300)))
    stop = start + step * length + draw(st.integers(-2, 2))
    return (start, stop, step)


INT_ELEMS = st.one_of(
    st.integers(-20, 20),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, 1, -1, 2**53 + 1, 2**62, 2**63 - 1, -(2**63)]),
)
FLOAT_ELEMS = st.one_of(
    st.floats(-100, 100),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 0.5, -1.5, 1e16, 5e-324, 1e308, NAN, INF, -INF]),
)


@st.composite
def list_source(draw):
    """(data, x's type): a list/tuple of ints, floats, bools or a mix, or a NumPy array."""
    kind = draw(st.sampled_from(["int", "int", "float", "float", "bool", "mixed"]))
    if kind == "int":
        elems = INT_ELEMS
        if draw(st.integers(0, 9)) == 0:
            elems = st.one_of(INT_ELEMS, st.sampled_from([2**63, -(2**64)]))
    elif kind == "float":
        elems = FLOAT_ELEMS
    elif kind == "bool":
        elems = st.booleans()
    else:
        elems = st.one_of(INT_ELEMS, FLOAT_ELEMS, st.booleans())
    data = draw(st.lists(elems, max_size=draw(st.sampled_from([8, 40, 120]))))
    c = draw(st.integers(0, 5))
    if c == 0:
        data = tuple(data)
    elif c == 1 and np is not None and kind in ("float", "bool"):
        data = np.array(data, dtype="float64" if kind == "float" else "bool")
    elif c == 1 and np is not None and kind == "int" and all(abs(v) < 2**31 for v in data):
        data = np.array(data, dtype=draw(st.sampled_from(["int32", "int64"])))
    return data, {"mixed": "num"}.get(kind, kind)


@settings(SETTINGS, max_examples=max(1, EXAMPLES * 4 // 5))
@given(range_source(), st.data())
def test_drawn_comprehensions_over_par_range(args, data):
    body = data.draw(stage_body("int"), "body")
    use = data.draw(st.sampled_from(USES), "use")
    layout = data.draw(st.sampled_from(LAYOUTS), "layout")
    run_drawn(lambda: par_range(*args), range(*args), f"par_range{args}", body, use, layout)


@settings(SETTINGS, max_examples=max(1, EXAMPLES * 4 // 5))
@given(list_source(), st.data())
def test_drawn_comprehensions_over_lists(src, data):
    items, xty = src
    body = data.draw(stage_body(xty), "body")
    use = data.draw(st.sampled_from(USES), "use")
    layout = data.draw(st.sampled_from(LAYOUTS), "layout")
    pydata = python_items(items)
    desc = f"into_par_iter({type(items).__name__} of {len(pydata)}: {list(pydata)[:6]!r}...)"
    run_drawn(lambda: into_par_iter(items), pydata, desc, body, use, layout)


# zip and fold, drawn: the data (and dtypes); the functions are fixed lambdas with source.

ZIP_MAPS = [
    lambda t: t[0] * t[1],
    lambda t: t[0] - t[1],
    lambda t: t[1],
    lambda t: max(t[0], t[1]),
    lambda t: sum(d * t[0] for d in range(3)) + t[1],
]
ZIP_FILTERS = [lambda t: t[0] < t[1], lambda t: t[1]]


@st.composite
def zip_operand(draw):
    kind = draw(st.sampled_from(["int", "float", "bool", "mixed"]))
    elems = {
        "int": st.integers(-(2**40), 2**40),
        "float": FLOAT_ELEMS,
        "bool": st.booleans(),
        "mixed": st.one_of(st.integers(-(2**40), 2**40), FLOAT_ELEMS, st.booleans()),
    }[kind]
    data = draw(st.lists(elems, max_size=draw(st.sampled_from([5, 30, 200]))))
    if np is not None and kind != "mixed" and draw(st.booleans()):
        dtype = {
            "int": draw(st.sampled_from(["int64", "int32"])),
            "float": "float64",
            "bool": "bool",
        }
        if kind != "int" or all(abs(v) < 2**31 for v in data):
            return np.array(data, dtype=dtype[kind])
    return data


@settings(SETTINGS, max_examples=max(1, EXAMPLES // 5))
@given(
    zip_operand(),
    zip_operand(),
    st.sampled_from([0, 0, 0, 1, 4]),
    st.booleans(),
    st.sampled_from(range(len(ZIP_MAPS))),
    st.sampled_from([None, 0, 1]),
    st.sampled_from(["collect", "sum", "min", "max", "count"]),
)
def test_drawn_zips(a, b, skip, wrapped, m, flt, consumer):
    if np is not None and isinstance(b, np.ndarray) and (skip or m == 4):
        # On the Python fallback a raw NumPy partner gives NumPy scalars (see the case
        # "np_skip_before_zip"): here it is wrapped, so that the rest is still checked.
        wrapped = True
    stages = [("skip", skip)] if skip else []
    stages.append(("zip", b, wrapped))
    if flt is not None:
        stages.append(("filter", ZIP_FILTERS[flt]))
    stages.append(("map", ZIP_MAPS[m]))
    spec = Spec(a, *stages, consumer=consumer)
    spec.check(f"zip {type(a).__name__} x {type(b).__name__} skip={skip} map={m} filter={flt}")


FOLD_OPS = [
    (lambda: 0, lambda acc, x: acc + x),
    (lambda: 0.0, lambda acc, x: acc + x),
    (lambda: -1, lambda acc, x: max(acc, x)),
    (lambda: 1, lambda acc, x: acc * 3 - x),
    (lambda: 0, lambda acc, x: acc + sum(1 for d in range(4) if x > d)),
]


@settings(SETTINGS, max_examples=max(1, EXAMPLES // 5))
@given(
    st.one_of(list_source(), range_source().map(lambda a: (range(*a), "int"))),
    st.sampled_from(range(len(FOLD_OPS))),
    st.sampled_from(FOLD_CONSUMERS),
)
def test_drawn_folds(src, op, consumer):
    data, _ = src
    identity, fn = FOLD_OPS[op]
    spec = Spec(data, ("fold", identity, fn), consumer=consumer)
    spec.check(f"fold op {op} over {type(data).__name__}.{consumer}")


def test_generated_module_layouts_compile():
    """The generated module text is valid Python for every layout and use."""
    body = "0 * (y := (x % 5)) + sum(a * b for a in range(y) for b in (x, 1.5) if a % 2)"
    for layout in LAYOUTS:
        for use in USES:
            compile(module_source(body, use, layout), "<gen>", "exec")


def test_zz_report():
    """Reports (does not hide) why drawn stages ran as Python."""
    print(f"\ndrawn: {dict(DRAWN)}")
    for reason, n in NOT_COMPILED.most_common(25):
        print(f"  {n:5d}  {reason}\n         e.g. {REASON_EXAMPLE[reason][:300]}")
