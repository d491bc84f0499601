"""Comparing fastiter's results with CPython's, shared by the tests of compiled pipelines:
exact equality (type and repr, recursively), outcomes that may be exceptions, and the accuracy
bound of a float total (a compensated ``sum()`` or a ``fold``/``reduce`` with ``+``)."""

from __future__ import annotations

import math
import os
from fractions import Fraction

from hypothesis import HealthCheck, settings
from hypothesis import event as _hypothesis_event
from hypothesis.errors import InvalidArgument

EPS = 2.0**-52
INF = math.inf
MIN_CHUNK = 16384  # runtime/src/chunks.rs: inputs longer than this are split in chunks

CI = bool(os.environ.get("CI"))
EXAMPLES = int(os.environ.get("FASTITER_HYPOTHESIS_EXAMPLES", "500"))


def hypothesis_settings(*also_suppress: HealthCheck) -> settings:
    """The property tests' settings: FASTITER_HYPOTHESIS_EXAMPLES examples, no deadline (a
    first call compiles), derandomized and without an example database on CI."""
    return settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=CI,
        database=None if CI else settings.default.database,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, *also_suppress],
    )


def event(text):
    """hypothesis's event() inside a property test; nothing in a plain test."""
    try:
        _hypothesis_event(text)
    except InvalidArgument:
        pass


def int_ulp(v):
    """At least the ulp of float(v) for an int v >= 0 of any size (no OverflowError)."""
    return Fraction(2) ** max(0, v.bit_length() - 52)


class Raised:
    def __init__(self, exc):
        self.exc = exc

    def __repr__(self):
        return f"Raised({type(self.exc).__name__}: {self.exc})"


def outcome(fn):
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - any exception is a valid outcome, compared by type
        return Raised(e)


def same(a, b):
    """Exact equality: same type and repr, recursively (-0.0 != 0.0, 1 != 1.0 != True)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return repr(a) == repr(b)


def first_difference(a, b):
    """A description of where two results differ (the first differing list item)."""
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if not same(x, y):
                return f"item {i}: {x!r} ({type(x).__name__}) != {y!r} ({type(y).__name__})"
    if isinstance(a, list) and isinstance(b, list):
        return f"lengths {len(a)} != {len(b)}"
    return f"{a!r} ({type(a).__name__}) != {b!r} ({type(b).__name__})"


def assert_same(got, want, what=""):
    assert same(got, want), f"{what}: {first_difference(got, want)}"


def neumaier(values):
    """CPython 3.12's sum() (ints summed exactly until the first float, then Neumaier), on any
    Python version: the reference accuracy a compensated sum must reach."""
    i_total, f_total, c, floating = 0, 0.0, 0.0, False
    for v in values:
        if not floating and not isinstance(v, float):
            i_total += v
            continue
        if not floating:
            f_total, floating = float(i_total), True
        x = float(v)
        t = f_total + x
        if abs(f_total) >= abs(x):
            c += (f_total - t) + x
        else:
            c += (x - t) + f_total
        f_total = t
    if c and math.isfinite(c):
        f_total += c
    return f_total


def float_total_error(got, elements, compensated):
    """None when ``got`` is an acceptable float total of ``elements`` (ints, floats and bools, at
    least one float, whose sequential CPython total is a float), else what is wrong.

    compensated: ``sum()`` (Neumaier in chunks: within a few ulps of the exact sum); otherwise
    ``reduce``/``fold`` with ``+`` (any association: the naive bound n * eps * sum|v|). Ints past
    2**53 are rounded when they meet a float, where CPython or fastiter converts them: one
    rounding per int and per chunk total of ints is allowed on top.
    """
    if type(got) is not float:
        return f"expected a float total, got {got!r} ({type(got).__name__})"
    floats = [v for v in elements if isinstance(v, float)]
    if any(math.isnan(v) for v in floats):
        return None if math.isnan(got) else f"a NaN element, got {got!r}"
    pos_inf = any(v == INF for v in floats)
    neg_inf = any(v == -INF for v in floats)
    finite = [v for v in elements if not (isinstance(v, float) and math.isinf(v))]
    exact = sum(Fraction(v) for v in finite)
    sum_abs = sum(abs(Fraction(v)) for v in finite)
    may_overflow = sum_abs > Fraction(2**1023)
    if pos_inf and neg_inf:
        return None if math.isnan(got) else f"inf and -inf elements, got {got!r}"
    if pos_inf or neg_inf:
        want = INF if pos_inf else -INF
        ok = got == want or (may_overflow and math.isnan(got))
        return None if ok else f"an infinite element, got {got!r}"
    try:
        exact_f = float(exact)
    except OverflowError:
        want = INF if exact > 0 else -INF
        ok = got == want or (may_overflow and math.isnan(got))
        return None if ok else f"the exact sum overflows to {want!r}, got {got!r}"
    if not math.isfinite(got):
        return None if may_overflow else f"exact sum {exact_f!r} has no overflow, got {got!r}"
    n = len(elements)
    ints = [abs(v) for v in elements if not isinstance(v, float)]
    conv = sum(int_ulp(v) for v in ints if v > 2**53)
    int_abs = sum(ints)
    if int_abs > 2**53:
        conv += (n // MIN_CHUNK + 2) * int_ulp(int_abs)
    err = abs(Fraction(got) - exact)
    if compensated:
        try:
            ref = neumaier(elements)
            ref_err = abs(Fraction(ref) - exact) if math.isfinite(ref) else Fraction(0)
        except OverflowError:
            ref_err = Fraction(0)
        bound = 2 * ref_err + 2 * Fraction(math.ulp(exact_f)) + 4 * n * Fraction(EPS) ** 2 * sum_abs
        ulps = float(err / Fraction(math.ulp(exact_f)))
        event(f"float sum: {'exact' if err == 0 else '<=1ulp' if ulps <= 1 else '>1ulp'}")
    else:
        bound = Fraction(math.ulp(exact_f)) + (n + 1) * Fraction(EPS) * sum_abs
    bound += conv
    if err > bound:
        return (
            f"got {got!r}, exact sum {exact_f!r}: error {float(err):.3g} > bound "
            f"{float(bound):.3g} over {n} elements"
        )
    if got == 0 and repr(got) != "0.0":
        # CPython's totals start from the int 0: 0 + -0.0 is 0.0
        return f"got {got!r}, CPython's total is never -0.0"
    return None
