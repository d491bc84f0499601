"""The public corpus (issue #12): natural pipelines over numbers, written the way Python users
write them with fastiter's API, each checked against plain CPython, and the share of them that
compiles.

Every pipeline is a module-level function ``NAME()`` registered with ``@corpus(...)`` (so that its
lambdas have real source for the compiler to read), next to ``NAME_py()``: the same computation in
plain CPython (comprehensions and builtins, no fastiter). Families:

1. generator expressions and comprehensions inside a stage (``all(k % d for d in ...)``,
   ``sum(j * j for j in range(i) if ...)``, ``min(a, b, c)``, nested ``for`` clauses, ...);
2. numeric builtins and methods (``divmod``, ``pow``, ``round``, ``bit_length``, ``is_integer``,
   ``:=``, ``math.*``; the 3.10+/3.11+ ones only where the running CPython has them);
3. ``fold`` followed by a consumer, ``zip`` of two pipelines or arrays, ``enumerate``;
4. values whose type the data decides (``v if v > 0 else 0``, ``max(0, v)``, ``[1, 2.5, 3]``);
5. what a data person writes (collatz, digit sums, hashing Monte Carlo, clamp, sign,
   polynomials, running statistics, fizzbuzz, perfect numbers, gcd counts, ...), and
   ``@fastiter.compile`` functions.

``test_matches_cpython`` compares each result with CPython's: the same type and ``repr``
(recursively), or an exception of the same type. A float total is the one allowed difference
(fastiter's ``sum()`` is compensated in chunks, ``fold``/``reduce`` combine chunks in another
order): ``NAME_py`` then returns ``total(elements)``, checked by type exactly and by value against
the exact rational sum (the bounds of ``test_differential.py``/``test_mixed.py``), or equal to
what this CPython's ``sum()`` gives (before 3.12 it is not compensated; a pipeline that runs as
Python gives exactly that).

``test_compile_rate`` asks ``fastiter.explain`` whether each pipeline compiled and requires at
least 95% of them to; it prints (``pytest -s``, and in its assertion message) those that do not,
grouped by the reason ``explain`` gives. ``test_compile_time_of_the_largest_pipeline`` prints the
compile time ``explain`` reports for the largest compiled kernel (printed, not asserted).
"""

# Natural code on purpose: `v if v > 0 else 0`, lambdas that a linter would rewrite.
# `math.log(x, 10)` and `v == v` too (FURB163, PLR0124): they are what the corpus measures.
# ruff: noqa: FURB136, FURB163, PLR0124

from __future__ import annotations

import functools
import math
import random
import re
import sys
from math import isqrt

import fastiter
import pytest
from _exact import Raised, float_total_error, outcome
from fastiter import into_par_iter, par_range

try:
    import numpy as np
except ImportError:  # pragma: no cover - numpy is in the test extras
    np = None

EPS = 2.0**-52
INF = math.inf
MIN_CHUNK = 16384  # runtime/src/chunks.rs: inputs longer than this are split in chunks
PY = sys.version_info[:2]

# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------

_rng = random.Random(1212)
FLOATS = [_rng.uniform(-1.0, 1.0) for _ in range(20_000)]
FLOATS[MIN_CHUNK - 1] = -0.0
POSITIVE = [_rng.uniform(0.0, 100.0) for _ in range(20_000)]
INTS = [_rng.randrange(-1000, 1000) for _ in range(20_000)]
INTS2 = [_rng.randrange(-1000, 1000) for _ in range(20_000)]
PIXELS = [_rng.randrange(-50, 300) for _ in range(20_000)]
PRICES = [round(_rng.uniform(1.0, 500.0), 2) for _ in range(5_000)]
QUANTITIES = [_rng.randrange(0, 20) for _ in range(5_000)]
QUARTERS = [_rng.randrange(-4000, 4000) / 4 for _ in range(10_000)]
READINGS = [_rng.choice([0, 1, -3, 2.5, 0.5, -1.25, True, 7]) for _ in range(10_000)]
SPECIAL = [_rng.choice([1.5, -2.0, math.nan, math.inf, -math.inf, 0.0, 3.25]) for _ in range(5000)]
COEFFS = (3, -2, 0, 5)

if np is not None:
    NP_FLOATS = np.array(FLOATS, dtype=np.float64)
    NP_FLOATS_B = np.array(POSITIVE, dtype=np.float64)
    NP_INT32 = np.array(INTS, dtype=np.int32)
    NP_FLOAT32 = np.array(POSITIVE, dtype=np.float32)
    NP_UINT8 = np.array([p % 256 for p in PIXELS], dtype=np.uint8)
    NP_MASK = np.array([v > 0 for v in FLOATS], dtype=np.bool_)


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------


class Entry:
    def __init__(self, run, family, explain):
        self.run = run
        self.family = family
        self.explain = explain  # (function, args) for fastiter.explain, else the run itself

    @property
    def name(self):
        return self.run.__name__

    def reference(self):
        return globals()[self.name + "_py"]


CORPUS: dict[str, Entry] = {}


def corpus(family, since=(3, 9), numpy=False, explain=None):
    """Register a pipeline (a function of no argument); ``since``: the CPython version whose
    builtins it needs; ``explain``: what to explain instead of the function (a compiled
    function and its arguments)."""

    def register(run):
        if PY >= since and (np is not None or not numpy):
            CORPUS[run.__name__] = Entry(run, family, explain)
        return run

    return register


# ---------------------------------------------------------------------------------------------
# Comparing with CPython (the helpers of test_mixed.py / test_differential.py)
# ---------------------------------------------------------------------------------------------


class FloatTotal:
    """CPython's answer is a float total of ``elements``: ``sum()`` (compensated) or a
    ``fold``/``reduce`` with ``+`` (any association)."""

    def __init__(self, elements, compensated):
        self.elements = elements
        self.compensated = compensated

    def __repr__(self):
        return f"FloatTotal(n={len(self.elements)}, {self.compensated=})"


def total(elements, compensated=True):
    """What CPython's ``sum(elements)`` is, as an expected value: exact when no element is a
    float, else a float total checked against the exact sum."""
    elements = list(elements)
    if any(isinstance(v, float) for v in elements):
        return FloatTotal(elements, compensated)
    return sum(elements)


def mismatch(got, want):
    """None when fastiter's ``got`` is CPython's ``want``, else where they differ."""
    if isinstance(want, FloatTotal):
        if want.compensated and mismatch(got, sum(want.elements)) is None:
            return None  # what this CPython's sum() gives (what a pipeline running as Python gives)
        return float_total_error(got, want.elements, want.compensated)
    if isinstance(want, Raised) or isinstance(got, Raised):
        both = isinstance(want, Raised) and isinstance(got, Raised)
        if both and type(want.exc) is type(got.exc):
            return None
        return f"{got!r} != {want!r}"
    if isinstance(want, (list, tuple)) and type(got) is type(want):
        if len(got) != len(want):
            return f"lengths {len(got)} != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            m = mismatch(g, w)
            if m is not None:
                return f"item {i}: {m}"
        return None
    if type(got) is type(want) and repr(got) == repr(want):
        return None
    return f"{got!r} ({type(got).__name__}) != {want!r} ({type(want).__name__})"


# ---------------------------------------------------------------------------------------------
# Family 1: generator expressions and comprehensions inside a stage
# ---------------------------------------------------------------------------------------------


@corpus(1)
def primes_all_trial_division():
    return par_range(2, 3000).filter(lambda k: all(k % d for d in range(2, k))).count()


def primes_all_trial_division_py():
    return sum(1 for k in range(2, 3000) if all(k % d for d in range(2, k)))


@corpus(1)
def primes_not_any_isqrt():
    return (
        par_range(2, 50_000)
        .filter(lambda k: not any(k % d == 0 for d in range(2, isqrt(k) + 1)))
        .count()
    )


def primes_not_any_isqrt_py():
    return sum(1 for k in range(2, 50_000) if not any(k % d == 0 for d in range(2, isqrt(k) + 1)))


@corpus(1)
def prime_sum_all_up_to_root():
    r = 50_000
    return par_range(2, r).filter(lambda k: all(k % d for d in range(2, math.isqrt(k) + 1))).sum()


def prime_sum_all_up_to_root_py():
    return sum(k for k in range(2, 50_000) if all(k % d for d in range(2, math.isqrt(k) + 1)))


@corpus(1)
def sum_of_squares_of_multiples_of_3():
    return par_range(0, 1500).map(lambda i: sum(j * j for j in range(i) if j % 3 == 0)).sum()


def sum_of_squares_of_multiples_of_3_py():
    return sum(sum(j * j for j in range(i) if j % 3 == 0) for i in range(1500))


def mix(i, j):
    return (i * 31 + j * 17) % 101


@corpus(1)
def max_of_a_function_over_j():
    return par_range(0, 3000).map(lambda i: max(mix(i, j) for j in range(1, 40))).sum()


def max_of_a_function_over_j_py():
    return sum(max(mix(i, j) for j in range(1, 40)) for i in range(3000))


@corpus(1)
def sum_of_range():
    return par_range(0, 3000).map(lambda x: sum(range(x))).sum()


def sum_of_range_py():
    return sum(sum(range(x)) for x in range(3000))


@corpus(1)
def sum_of_a_list_display():
    return par_range(0, 100_000).map(lambda x: sum([x, 2 * x, x % 7])).sum()


def sum_of_a_list_display_py():
    return sum(sum([x, 2 * x, x % 7]) for x in range(100_000))


@corpus(1)
def min_of_three():
    return par_range(0, 100_000).map(lambda x: min(x % 13, x % 17, x % 19)).sum()


def min_of_three_py():
    return sum(min(x % 13, x % 17, x % 19) for x in range(100_000))


@corpus(1)
def pythagorean_triples_nested_for():
    return (
        par_range(1, 120)
        .map(lambda c: sum(1 for a in range(1, c) for b in range(a, c) if a * a + b * b == c * c))
        .sum()
    )


def pythagorean_triples_nested_for_py():
    return sum(
        sum(1 for a in range(1, c) for b in range(a, c) if a * a + b * b == c * c)
        for c in range(1, 120)
    )


@corpus(1)
def most_divisors():
    return par_range(1, 2000).map(lambda n: sum(1 for d in range(1, n + 1) if n % d == 0)).max()


def most_divisors_py():
    return max(sum(1 for d in range(1, n + 1) if n % d == 0) for n in range(1, 2000))


@corpus(1)
def perfect_numbers_list_comprehension():
    return (
        par_range(2, 2000)
        .filter(lambda n: sum([d for d in range(1, n // 2 + 1) if n % d == 0]) == n)
        .collect()
    )


def perfect_numbers_list_comprehension_py():
    return [n for n in range(2, 2000) if sum([d for d in range(1, n // 2 + 1) if n % d == 0]) == n]


@corpus(1)
def smallest_factor_min_default():
    return (
        par_range(2, 5000)
        .map(lambda k: min((d for d in range(2, isqrt(k) + 1) if k % d == 0), default=k))
        .sum()
    )


def smallest_factor_min_default_py():
    return sum(
        min((d for d in range(2, isqrt(k) + 1) if k % d == 0), default=k) for k in range(2, 5000)
    )


@corpus(1)
def euler1_any_over_a_tuple():
    return par_range(0, 100_000).filter(lambda x: any(x % p == 0 for p in (3, 5))).sum()


def euler1_any_over_a_tuple_py():
    return sum(x for x in range(100_000) if any(x % p == 0 for p in (3, 5)))


@corpus(1)
def power_sums_genexpr():
    return par_range(0, 50_000).map(lambda x: sum(x**k for k in range(4))).sum()


def power_sums_genexpr_py():
    return sum(sum(x**k for k in range(4)) for x in range(50_000))


@corpus(1)
def basel_partial_sums():
    # each element is CPython's sum() of floats (compensated from 3.12): compared exactly
    return par_range(1, 300).map(lambda n: sum(1 / k**2 for k in range(1, n + 1))).collect()


def basel_partial_sums_py():
    return [sum(1 / k**2 for k in range(1, n + 1)) for n in range(1, 300)]


@corpus(1)
def distance_to_nearest_center():
    return par_range(0, 100_000).map(lambda x: min(abs(x % 100 - c) for c in (10, 50, 90))).sum()


def distance_to_nearest_center_py():
    return sum(min(abs(x % 100 - c) for c in (10, 50, 90)) for x in range(100_000))


@corpus(1)
def nested_pipeline_in_a_stage():
    return (
        par_range(0, 1000).map(lambda i: par_range(0, i).filter(lambda j: j % 7 == 0).count()).sum()
    )


def nested_pipeline_in_a_stage_py():
    return sum(sum(1 for j in range(i) if j % 7 == 0) for i in range(1000))


@corpus(1)
def polynomial_enumerate_genexpr():
    return par_range(-500, 500).map(lambda x: sum(c * x**i for i, c in enumerate(COEFFS))).sum()


def polynomial_enumerate_genexpr_py():
    return sum(sum(c * x**i for i, c in enumerate(COEFFS)) for x in range(-500, 500))


@corpus(1)
def sums_of_two_squares():
    return (
        par_range(0, 3000)
        .filter(lambda n: any(isqrt(n - a * a) ** 2 == n - a * a for a in range(isqrt(n) + 1)))
        .count()
    )


def sums_of_two_squares_py():
    return sum(
        1
        for n in range(3000)
        if any(isqrt(n - a * a) ** 2 == n - a * a for a in range(isqrt(n) + 1))
    )


@corpus(1)
def max_of_a_list_comprehension():
    return par_range(0, 2000).map(lambda i: max([(i * j) % 37 for j in range(10)])).sum()


def max_of_a_list_comprehension_py():
    return sum(max([(i * j) % 37 for j in range(10)]) for i in range(2000))


# ---------------------------------------------------------------------------------------------
# Family 2: numeric builtins and methods
# ---------------------------------------------------------------------------------------------


def hhmm(minutes):
    h, m = divmod(minutes, 60)
    return h * 100 + m


@corpus(2)
def divmod_in_a_def():
    return par_range(0, 10_000).map(hhmm).sum()


def divmod_in_a_def_py():
    return sum(hhmm(m) for m in range(10_000))


@corpus(2)
def divmod_indexed():
    return into_par_iter(INTS).map(lambda v: divmod(v, 7)[1]).sum()


def divmod_indexed_py():
    return sum(divmod(v, 7)[1] for v in INTS)


@corpus(2)
def pow_two_arguments():
    return par_range(0, 100_000).map(lambda x: pow(x, 3)).sum()


def pow_two_arguments_py():
    return sum(pow(x, 3) for x in range(100_000))


@corpus(2)
def pow_modular():
    return par_range(0, 100_000).map(lambda x: pow(3, x, 1_000_003)).sum()


def pow_modular_py():
    return sum(pow(3, x, 1_000_003) for x in range(100_000))


@corpus(2)
def fermat_probable_primes():
    return par_range(3, 20_000, 2).filter(lambda n: pow(2, n - 1, n) == 1).count()


def fermat_probable_primes_py():
    return sum(1 for n in range(3, 20_000, 2) if pow(2, n - 1, n) == 1)


@corpus(2)
def round_to_cents():
    return into_par_iter(POSITIVE[:5000]).map(lambda v: round(v, 2)).collect()


def round_to_cents_py():
    return [round(v, 2) for v in POSITIVE[:5000]]


@corpus(2)
def round_to_int():
    return into_par_iter(FLOATS).map(lambda v: round(v * 10)).sum()


def round_to_int_py():
    return sum(round(v * 10) for v in FLOATS)


@corpus(2)
def bit_length_total():
    return par_range(1, 100_000).map(lambda x: x.bit_length()).sum()


def bit_length_total_py():
    return sum(x.bit_length() for x in range(1, 100_000))


@corpus(2, since=(3, 10))
def popcount_total():
    return par_range(0, 100_000).map(lambda x: x.bit_count()).sum()


def popcount_total_py():
    return sum(x.bit_count() for x in range(100_000))


@corpus(2)
def float_is_integer():
    return into_par_iter(QUARTERS).filter(lambda v: v.is_integer()).count()


def float_is_integer_py():
    return sum(1 for v in QUARTERS if v.is_integer())


@corpus(2)
def walrus_in_a_lambda():
    return par_range(0, 100_000).map(lambda x: (y := x % 100) * y - y).sum()


def walrus_in_a_lambda_py():
    return sum((y := x % 100) * y - y for x in range(100_000))


@corpus(2)
def gcd_coprime_to_360():
    return par_range(1, 100_000).filter(lambda x: math.gcd(x, 360) == 1).count()


def gcd_coprime_to_360_py():
    return sum(1 for x in range(1, 100_000) if math.gcd(x, 360) == 1)


@corpus(2)
def lcm_with_12():
    return par_range(1, 5000).map(lambda x: math.lcm(x, 12)).sum()


def lcm_with_12_py():
    return sum(math.lcm(x, 12) for x in range(1, 5000))


@corpus(2)
def comb_row_of_pascal():
    return par_range(0, 61).map(lambda k: math.comb(60, k)).sum()


def comb_row_of_pascal_py():
    return sum(math.comb(60, k) for k in range(61))


@corpus(2)
def perm_total():
    return par_range(0, 16).map(lambda k: math.perm(15, k)).sum()


def perm_total_py():
    return sum(math.perm(15, k) for k in range(16))


@corpus(2)
def factorial_modulo_prime():
    return par_range(0, 40).map(lambda n: math.factorial(n) % 1_000_000_007).sum()


def factorial_modulo_prime_py():
    return sum(math.factorial(n) % 1_000_000_007 for n in range(40))


@corpus(2)
def factorial_as_a_stage():
    return par_range(0, 21).map(math.factorial).collect()


def factorial_as_a_stage_py():
    return [math.factorial(n) for n in range(21)]


@corpus(2)
def isqrt_perfect_squares():
    return par_range(0, 100_000).filter(lambda x: math.isqrt(x) ** 2 == x).count()


def isqrt_perfect_squares_py():
    return sum(1 for x in range(100_000) if math.isqrt(x) ** 2 == x)


@corpus(2)
def hypot_lattice_points_in_circle():
    return (
        par_range(0, 10_000)
        .map(lambda i: math.hypot(i % 100 - 50, i // 100 - 50))
        .filter(lambda r: r <= 40)
        .count()
    )


def hypot_lattice_points_in_circle_py():
    return sum(1 for i in range(10_000) if math.hypot(i % 100 - 50, i // 100 - 50) <= 40)


@corpus(2)
def hypot_float_sum():
    return into_par_iter(FLOATS).map(lambda v: math.hypot(v, 1 - v)).sum()


def hypot_float_sum_py():
    return total(math.hypot(v, 1 - v) for v in FLOATS)


@corpus(2)
def isclose_with_abs_tol():
    return into_par_iter(FLOATS).filter(lambda v: math.isclose(v, 0.5, abs_tol=0.01)).count()


def isclose_with_abs_tol_py():
    return sum(1 for v in FLOATS if math.isclose(v, 0.5, abs_tol=0.01))


@corpus(2)
def isclose_square_roots():
    return par_range(1, 100_000).filter(lambda x: math.isclose(math.sqrt(x) ** 2, x)).count()


def isclose_square_roots_py():
    return sum(1 for x in range(1, 100_000) if math.isclose(math.sqrt(x) ** 2, x))


@corpus(2)
def copysign_signs():
    return into_par_iter(FLOATS).map(lambda v: math.copysign(1.0, v)).collect()


def copysign_signs_py():
    return [math.copysign(1.0, v) for v in FLOATS]


@corpus(2)
def fabs_largest_magnitude():
    return into_par_iter(FLOATS).map(math.fabs).max()


def fabs_largest_magnitude_py():
    return max(math.fabs(v) for v in FLOATS)


@corpus(2)
def fmod_sum():
    return par_range(0, 20_000).map(lambda x: math.fmod(x * 1.5, 7.0)).sum()


def fmod_sum_py():
    return total(math.fmod(x * 1.5, 7.0) for x in range(20_000))


@corpus(2)
def atan2_angles():
    return par_range(0, 10_000).map(lambda i: math.atan2(i % 17 - 8, i % 13 - 6)).collect()


def atan2_angles_py():
    return [math.atan2(i % 17 - 8, i % 13 - 6) for i in range(10_000)]


@corpus(2)
def sin_of_radians():
    return par_range(0, 360).map(lambda d: math.sin(math.radians(d)) ** 2).collect()


def sin_of_radians_py():
    return [math.sin(math.radians(d)) ** 2 for d in range(360)]


@corpus(2)
def degrees_of_atan():
    return into_par_iter(FLOATS).map(lambda v: math.degrees(math.atan(v))).max()


def degrees_of_atan_py():
    return max(math.degrees(math.atan(v)) for v in FLOATS)


@corpus(2)
def trunc_to_int():
    return into_par_iter(FLOATS).map(lambda v: math.trunc(v * 100)).sum()


def trunc_to_int_py():
    return sum(math.trunc(v * 100) for v in FLOATS)


@corpus(2)
def ceil_minus_floor():
    return into_par_iter(QUARTERS).map(lambda v: math.ceil(v) - math.floor(v)).sum()


def ceil_minus_floor_py():
    return sum(math.ceil(v) - math.floor(v) for v in QUARTERS)


@corpus(2)
def log_with_base_10_digits():
    # math.log(1000, 10) is 2.9999999999999996 in CPython: the int() below sees it
    return par_range(1, 100_000).map(lambda x: int(math.log(x, 10)) + 1).sum()


def log_with_base_10_digits_py():
    return sum(int(math.log(x, 10)) + 1 for x in range(1, 100_000))


@corpus(2)
def log_base_2_sum():
    return par_range(1, 20_000).map(lambda x: math.log(x, 2)).sum()


def log_base_2_sum_py():
    return total(math.log(x, 2) for x in range(1, 20_000))


@corpus(2)
def floor_of_log2():
    return par_range(1, 100_000).map(lambda x: math.floor(math.log2(x))).sum()


def floor_of_log2_py():
    return sum(math.floor(math.log2(x)) for x in range(1, 100_000))


@corpus(2)
def digits_by_log10():
    return par_range(1, 100_000).map(lambda x: int(math.log10(x)) + 1).sum()


def digits_by_log10_py():
    return sum(int(math.log10(x)) + 1 for x in range(1, 100_000))


@corpus(2)
def log1p_and_expm1():
    return into_par_iter(FLOATS).map(lambda v: math.log1p(abs(v)) - math.expm1(v / 2)).sum()


def log1p_and_expm1_py():
    return total(math.log1p(abs(v)) - math.expm1(v / 2) for v in FLOATS)


@corpus(2)
def isfinite_filter():
    return into_par_iter(SPECIAL).filter(math.isfinite).sum()


def isfinite_filter_py():
    return total(v for v in SPECIAL if math.isfinite(v))


@corpus(2)
def ldexp_powers_of_two():
    return par_range(0, 1000).map(lambda i: math.ldexp(1.0, -(i % 60))).sum()


def ldexp_powers_of_two_py():
    return total(math.ldexp(1.0, -(i % 60)) for i in range(1000))


@corpus(2)
def frexp_exponents():
    return into_par_iter(POSITIVE).map(lambda v: math.frexp(v)[1]).sum()


def frexp_exponents_py():
    return sum(math.frexp(v)[1] for v in POSITIVE)


@corpus(2)
def erf_normal_cdf():
    return into_par_iter(FLOATS).map(lambda v: 0.5 * (1 + math.erf(v / math.sqrt(2)))).sum()


def erf_normal_cdf_py():
    return total(0.5 * (1 + math.erf(v / math.sqrt(2))) for v in FLOATS)


@corpus(2)
def gamma_values():
    return par_range(1, 100).map(lambda i: math.gamma(1 + i / 10)).collect()


def gamma_values_py():
    return [math.gamma(1 + i / 10) for i in range(1, 100)]


@corpus(2)
def lgamma_log_factorials():
    return par_range(1, 1000).map(lambda n: math.lgamma(n + 1)).sum()


def lgamma_log_factorials_py():
    return total(math.lgamma(n + 1) for n in range(1, 1000))


@corpus(2, since=(3, 11))
def cbrt_sum():
    return into_par_iter(POSITIVE).map(lambda v: math.cbrt(v)).sum()


def cbrt_sum_py():
    return total(math.cbrt(v) for v in POSITIVE)


@corpus(2, since=(3, 11))
def exp2_halvings():
    return par_range(0, 1000).map(lambda i: math.exp2(-(i % 30))).sum()


def exp2_halvings_py():
    return total(math.exp2(-(i % 30)) for i in range(1000))


@corpus(2)
def abs_as_a_stage():
    return into_par_iter(INTS).map(abs).sum()


def abs_as_a_stage_py():
    return sum(abs(v) for v in INTS)


@corpus(2)
def sqrt_as_a_stage():
    return into_par_iter(POSITIVE).map(math.sqrt).sum()


def sqrt_as_a_stage_py():
    return total(math.sqrt(v) for v in POSITIVE)


# ---------------------------------------------------------------------------------------------
# Family 3: fold, zip, enumerate
# ---------------------------------------------------------------------------------------------


@corpus(3)
def fold_then_sum():
    return par_range(0, 100_000).fold(lambda: 0, lambda a, x: a + x).sum()


def fold_then_sum_py():
    return sum(range(100_000))


@corpus(3)
def fold_counting_bools():
    return par_range(0, 100_000).fold(lambda: 0, lambda acc, x: acc + (x % 3 == 0)).sum()


def fold_counting_bools_py():
    return sum(x % 3 == 0 for x in range(100_000))


@corpus(3)
def fold_max_then_max():
    return par_range(0, 100_000).fold(lambda: 0, lambda a, x: max(a, x * 7919 % 10007)).max()


def fold_max_then_max_py():
    return max(x * 7919 % 10007 for x in range(100_000))


@corpus(3)
def fold_float_squares():
    return into_par_iter(FLOATS).fold(lambda: 0.0, lambda a, v: a + v * v).sum()


def fold_float_squares_py():
    return total([v * v for v in FLOATS], compensated=False)


@corpus(3)
def zip_lists_dot_product():
    return into_par_iter(PRICES).zip(into_par_iter(QUANTITIES)).map(lambda t: t[0] * t[1]).sum()


def zip_lists_dot_product_py():
    return total(p * q for p, q in zip(PRICES, QUANTITIES))


@corpus(3)
def zip_two_ranges():
    n = 100_000
    return par_range(0, n).zip(par_range(n, 2 * n)).map(lambda t: t[0] * t[1]).sum()


def zip_two_ranges_py():
    n = 100_000
    return sum(a * b for a, b in zip(range(n), range(n, 2 * n)))


@corpus(3)
def zip_filter_count():
    return into_par_iter(INTS).zip(into_par_iter(INTS2)).filter(lambda t: t[0] > t[1]).count()


def zip_filter_count_py():
    return sum(1 for a, b in zip(INTS, INTS2) if a > b)


@corpus(3)
def zip_with_a_plain_list():
    return into_par_iter(PRICES).zip(QUANTITIES).map(lambda t: t[0] * t[1]).sum()


def zip_with_a_plain_list_py():
    return total(p * q for p, q in zip(PRICES, QUANTITIES))


def abs_diff(t):
    a, b = t
    return abs(a - b)


@corpus(3)
def zip_def_unpacking():
    return into_par_iter(INTS).zip(into_par_iter(INTS2)).map(abs_diff).max()


def zip_def_unpacking_py():
    return max(abs(a - b) for a, b in zip(INTS, INTS2))


@corpus(3, numpy=True)
def zip_numpy_dot_product():
    return into_par_iter(NP_FLOATS).zip(into_par_iter(NP_FLOATS_B)).map(lambda t: t[0] * t[1]).sum()


def zip_numpy_dot_product_py():
    return total(a * b for a, b in zip(FLOATS, POSITIVE))


@corpus(3)
def enumerate_weighted_sum():
    return into_par_iter(INTS).enumerate().map(lambda t: t[0] * t[1]).sum()


def enumerate_weighted_sum_py():
    return sum(i * v for i, v in enumerate(INTS))


# ---------------------------------------------------------------------------------------------
# Family 4: values whose type the data decides
# ---------------------------------------------------------------------------------------------


@corpus(4)
def relu_with_int_zero():
    return into_par_iter(FLOATS).map(lambda v: v if v > 0 else 0).sum()


def relu_with_int_zero_py():
    return total(v if v > 0 else 0 for v in FLOATS)


@corpus(4)
def relu_max0_collect():
    return into_par_iter(FLOATS[:3000]).map(lambda v: max(0, v)).collect()


def relu_max0_collect_py():
    return [max(0, v) for v in FLOATS[:3000]]


@corpus(4)
def leibniz_pi():
    return par_range(0, 40_000).map(lambda i: (-1) ** i / (2 * i + 1)).sum()


def leibniz_pi_py():
    return total((-1) ** i / (2 * i + 1) for i in range(40_000))


@corpus(4)
def small_mixed_list_sum():
    return into_par_iter([1, 2.5, 3]).sum()


def small_mixed_list_sum_py():
    return sum([1, 2.5, 3])


@corpus(4)
def mixed_readings_max():
    return into_par_iter(READINGS).max()


def mixed_readings_max_py():
    return max(READINGS)


@corpus(4)
def mixed_readings_doubled():
    return into_par_iter(READINGS).map(lambda r: r * 2).collect()


def mixed_readings_doubled_py():
    return [r * 2 for r in READINGS]


@corpus(4)
def reduce_int_identity_over_floats():
    return into_par_iter(FLOATS).reduce(lambda: 0, lambda a, b: a + b)


def reduce_int_identity_over_floats_py():
    return total(FLOATS, compensated=False)


@corpus(4)
def clamp_floats_to_int_bounds():
    return into_par_iter(FLOATS).map(lambda v: min(max(v, 0), 1)).collect()


def clamp_floats_to_int_bounds_py():
    return [min(max(v, 0), 1) for v in FLOATS]


def sign(v):
    if v > 0:
        return 1
    if v < 0:
        return -1
    return 0


@corpus(4)
def sign_of_floats():
    return into_par_iter(FLOATS).map(sign).sum()


def sign_of_floats_py():
    return sum(sign(v) for v in FLOATS)


def score(v):
    if v < 0:
        return 0
    return v * 1.5


@corpus(4)
def def_returning_int_or_float():
    return into_par_iter(INTS).map(score).sum()


def def_returning_int_or_float_py():
    return total(score(v) for v in INTS)


# ---------------------------------------------------------------------------------------------
# Family 5: what a data person writes
# ---------------------------------------------------------------------------------------------


def collatz_steps(n):
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


@corpus(5)
def collatz_most_steps():
    return par_range(1, 20_000).map(collatz_steps).max()


def collatz_most_steps_py():
    return max(collatz_steps(n) for n in range(1, 20_000))


@corpus(5)
def collatz_longest_start():
    return par_range(1, 20_000).max_by_key(collatz_steps)


def collatz_longest_start_py():
    return max(range(1, 20_000), key=collatz_steps)


def digit_sum(n):
    s = 0
    while n:
        s += n % 10
        n //= 10
    return s


@corpus(5)
def digit_sums():
    return par_range(0, 100_000).map(digit_sum).sum()


def digit_sums_py():
    return sum(digit_sum(n) for n in range(100_000))


@corpus(5)
def harshad_numbers():
    return par_range(1, 100_000).filter(lambda n: n % digit_sum(n) == 0).count()


def harshad_numbers_py():
    return sum(1 for n in range(1, 100_000) if n % digit_sum(n) == 0)


def reverse_digits(n):
    r = 0
    while n > 0:
        n, d = divmod(n, 10)
        r = r * 10 + d
    return r


@corpus(5)
def palindromic_numbers():
    return par_range(0, 100_000).filter(lambda n: reverse_digits(n) == n).count()


def palindromic_numbers_py():
    return sum(1 for n in range(100_000) if reverse_digits(n) == n)


def hash01(i, seed):
    h = (i * 2654435761 + seed) % 4294967296
    h = ((h >> 16) ^ h) * 0x45D9F3B % 4294967296
    h = ((h >> 16) ^ h) * 0x45D9F3B % 4294967296
    h = (h >> 16) ^ h
    return h / 4294967296


def in_unit_circle(i):
    x = hash01(i, 1)
    y = hash01(i, 7)
    return x * x + y * y < 1.0


@corpus(5)
def monte_carlo_pi_by_hashing():
    return par_range(0, 100_000).filter(in_unit_circle).count()


def monte_carlo_pi_by_hashing_py():
    return sum(1 for i in range(100_000) if in_unit_circle(i))


@corpus(5)
def clamp_pixels():
    return into_par_iter(PIXELS).map(lambda p: max(0, min(255, p))).sum()


def clamp_pixels_py():
    return sum(max(0, min(255, p)) for p in PIXELS)


@corpus(5)
def horner_in_a_lambda():
    return par_range(-500, 500).map(lambda x: ((2 * x - 3) * x + 5) * x - 7).sum()


def horner_in_a_lambda_py():
    return sum(((2 * x - 3) * x + 5) * x - 7 for x in range(-500, 500))


def poly(x):
    acc = 0
    for c in COEFFS:
        acc = acc * x + c
    return acc


@corpus(5)
def horner_loop_over_a_tuple():
    return par_range(-500, 500).map(poly).sum()


def horner_loop_over_a_tuple_py():
    return sum(poly(x) for x in range(-500, 500))


@corpus(5)
def running_stats_tuple_reduce():
    return (
        into_par_iter(FLOATS)
        .map(lambda v: (1, v, v * v))
        .reduce(
            lambda: (0, 0.0, 0.0),
            lambda a, b: (a[0] + b[0], a[1] + b[1], a[2] + b[2]),
        )
    )


def running_stats_tuple_reduce_py():
    return (
        len(FLOATS),
        total([0.0, *FLOATS], compensated=False),
        total([0.0] + [v * v for v in FLOATS], compensated=False),
    )


@corpus(5)
def squared_deviations_from_the_mean():
    mean = sum(FLOATS) / len(FLOATS)
    return into_par_iter(FLOATS).map(lambda v: (v - mean) ** 2).sum()


def squared_deviations_from_the_mean_py():
    mean = sum(FLOATS) / len(FLOATS)
    return total((v - mean) ** 2 for v in FLOATS)


@corpus(5)
def reduce_float_sum_of_squares():
    return into_par_iter(FLOATS).map(lambda v: v * v).reduce(lambda: 0.0, lambda a, b: a + b)


def reduce_float_sum_of_squares_py():
    return total([0.0] + [v * v for v in FLOATS], compensated=False)


@corpus(5)
def reduce_with_builtin_max():
    return into_par_iter(INTS).reduce(lambda: float("-inf"), max)


def reduce_with_builtin_max_py():
    return functools.reduce(max, INTS, float("-inf"))


@corpus(5)
def harmonic_number():
    return par_range(1, 40_000).map(lambda i: 1 / i).sum()


def harmonic_number_py():
    return total(1 / i for i in range(1, 40_000))


@corpus(5)
def a_tenth_many_times():
    return par_range(0, 20_000).map(lambda _: 0.1).sum()


def a_tenth_many_times_py():
    return total(0.1 for _ in range(20_000))


@corpus(5)
def float_list_sum():
    return into_par_iter(FLOATS).sum()


def float_list_sum_py():
    return total(FLOATS)


@corpus(5)
def fizz_only_count():
    return par_range(1, 100_000).filter(lambda i: i % 3 == 0 and i % 5 != 0).count()


def fizz_only_count_py():
    return sum(1 for i in range(1, 100_000) if i % 3 == 0 and i % 5 != 0)


def fizzbuzz_code(i):
    if i % 15 == 0:
        return 3
    elif i % 5 == 0:
        return 2
    elif i % 3 == 0:
        return 1
    return 0


@corpus(5)
def fizzbuzz_codes():
    return par_range(1, 100_000).map(fizzbuzz_code).sum()


def fizzbuzz_codes_py():
    return sum(fizzbuzz_code(i) for i in range(1, 100_000))


@corpus(5)
def leap_years():
    return (
        par_range(1, 10_000).filter(lambda y: y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)).count()
    )


def leap_years_py():
    return sum(1 for y in range(1, 10_000) if y % 4 == 0 and (y % 100 != 0 or y % 400 == 0))


@corpus(5)
def coprime_pairs():
    return (
        par_range(1, 300).map(lambda a: sum(1 for b in range(1, 300) if math.gcd(a, b) == 1)).sum()
    )


def coprime_pairs_py():
    return sum(sum(1 for b in range(1, 300) if math.gcd(a, b) == 1) for a in range(1, 300))


def phi(n):
    result = n
    p = 2
    while p * p <= n:
        if n % p == 0:
            while n % p == 0:
                n //= p
            result -= result // p
        p += 1
    if n > 1:
        result -= result // n
    return result


@corpus(5)
def totient_sum():
    return par_range(1, 10_000).map(phi).sum()


def totient_sum_py():
    return sum(phi(n) for n in range(1, 10_000))


@corpus(5)
def sigmoid_sum():
    return into_par_iter(FLOATS).map(lambda v: 1 / (1 + math.exp(-v))).sum()


def sigmoid_sum_py():
    return total(1 / (1 + math.exp(-v)) for v in FLOATS)


@corpus(5)
def histogram_bin_count():
    return into_par_iter(FLOATS).filter(lambda v: 0.25 <= v < 0.5).count()


def histogram_bin_count_py():
    return sum(1 for v in FLOATS if 0.25 <= v < 0.5)


@corpus(5)
def first_square_root_of_one_mod_p():
    return par_range(1, 10**6).find_first(lambda n: n * n % 1009 == 1 and n > 1)


def first_square_root_of_one_mod_p_py():
    return next((n for n in range(1, 10**6) if n * n % 1009 == 1 and n > 1), None)


@corpus(5)
def position_of_first_large():
    return into_par_iter(INTS).position_first(lambda v: v > 990)


def position_of_first_large_py():
    return next((i for i, v in enumerate(INTS) if v > 990), None)


@corpus(5)
def any_negative():
    return into_par_iter(POSITIVE).any(lambda v: v < 0)


def any_negative_py():
    return any(v < 0 for v in POSITIVE)


@corpus(5)
def all_are_not_nan():
    return into_par_iter(FLOATS).all(lambda v: v == v)


def all_are_not_nan_py():
    return all(v == v for v in FLOATS)


@corpus(5)
def nan_count():
    return into_par_iter(SPECIAL).filter(math.isnan).count()


def nan_count_py():
    return sum(1 for v in SPECIAL if math.isnan(v))


@corpus(5)
def factorial_by_product():
    return par_range(1, 26).product()


def factorial_by_product_py():
    return math.prod(range(1, 26))


@corpus(5)
def flat_map_triangle():
    return par_range(0, 300).flat_map(lambda x: range(x)).sum()


def flat_map_triangle_py():
    return sum(j for x in range(300) for j in range(x))


@corpus(5)
def digital_roots():
    return par_range(1, 100_000).map(lambda n: 1 + (n - 1) % 9).sum()


def digital_roots_py():
    return sum(1 + (n - 1) % 9 for n in range(1, 100_000))


@corpus(5)
def compound_interest():
    return par_range(1, 200).map(lambda r: 1000 * (1 + r / 1000) ** 12).collect()


def compound_interest_py():
    return [1000 * (1 + r / 1000) ** 12 for r in range(1, 200)]


@corpus(5)
def truncate_to_cents():
    return into_par_iter(POSITIVE).map(lambda v: int(v * 100) / 100).collect()


def truncate_to_cents_py():
    return [int(v * 100) / 100 for v in POSITIVE]


@corpus(5)
def triangular_numbers():
    return par_range(0, 100_000).filter(lambda x: math.isqrt(8 * x + 1) ** 2 == 8 * x + 1).count()


def triangular_numbers_py():
    return sum(1 for x in range(100_000) if math.isqrt(8 * x + 1) ** 2 == 8 * x + 1)


def weekday(y, m, d):
    """Zeller's congruence: 0 = Saturday, ..., 6 = Friday."""
    if m < 3:
        m += 12
        y -= 1
    k = y % 100
    j = y // 100
    return (d + 13 * (m + 1) // 5 + k + k // 4 + j // 4 + 5 * j) % 7


@corpus(5)
def friday_the_13ths():
    return (
        par_range(0, 12 * 400)
        .filter(lambda i: weekday(1900 + i // 12, i % 12 + 1, 13) == 6)
        .count()
    )


def friday_the_13ths_py():
    return sum(1 for i in range(12 * 400) if weekday(1900 + i // 12, i % 12 + 1, 13) == 6)


def is_armstrong(n):
    k = 0
    m = n
    while m > 0:
        m //= 10
        k += 1
    s = 0
    m = n
    while m > 0:
        s += (m % 10) ** k
        m //= 10
    return s == n


@corpus(5)
def armstrong_numbers():
    return par_range(1, 100_000).filter(is_armstrong).collect()


def armstrong_numbers_py():
    return [n for n in range(1, 100_000) if is_armstrong(n)]


@corpus(5)
def squares_of_a_tuple():
    return into_par_iter(tuple(INTS)).map(lambda v: v * v).sum()


def squares_of_a_tuple_py():
    return sum(v * v for v in INTS)


@corpus(5)
def skip_step_take():
    return par_range(0, 100_000).skip(10).step_by(3).take(1000).sum()


def skip_step_take_py():
    return sum(list(range(100_000))[10::3][:1000])


@corpus(5)
def readme_sum_of_even_squares_over_1000():
    return (
        par_range(0, 100_000)
        .filter(lambda x: x % 2 == 0)
        .map(lambda x: x * x)
        .filter(lambda x: x > 1000)
        .sum()
    )


def readme_sum_of_even_squares_over_1000_py():
    return sum(x * x for x in range(100_000) if x % 2 == 0 and x * x > 1000)


@corpus(5, numpy=True)
def numpy_float64_sum_of_squares():
    return into_par_iter(NP_FLOATS).map(lambda v: v * v).sum()


def numpy_float64_sum_of_squares_py():
    return total(v * v for v in FLOATS)


@corpus(5, numpy=True)
def numpy_int32_even_count():
    return into_par_iter(NP_INT32).filter(lambda v: v % 2 == 0).count()


def numpy_int32_even_count_py():
    return sum(1 for v in INTS if v % 2 == 0)


@corpus(5, numpy=True)
def numpy_float32_max():
    return into_par_iter(NP_FLOAT32).max()


def numpy_float32_max_py():
    return max(NP_FLOAT32.tolist())


@corpus(5, numpy=True)
def numpy_uint8_brightness():
    return into_par_iter(NP_UINT8).map(lambda p: min(255, p * 2)).sum()


def numpy_uint8_brightness_py():
    return sum(min(255, p * 2) for p in NP_UINT8.tolist())


@corpus(5, numpy=True)
def numpy_bool_mask_count():
    return into_par_iter(NP_MASK).filter(lambda b: b).count()


def numpy_bool_mask_count_py():
    return sum(1 for v in FLOATS if v > 0)


# --- @fastiter.compile --------------------------------------------------------------------


@fastiter.compile
def expensive_computation(x):
    result = x
    for _ in range(20):
        result = (result * 1.1 + 1) % 1000000
    return int(result)


@corpus(5)
def compiled_function_as_a_stage():
    return par_range(0, 20_000).map(expensive_computation).sum()


def compiled_function_as_a_stage_py():
    return sum(expensive_computation.__wrapped__(x) for x in range(20_000))


@fastiter.compile
def count_multiples(n, k):
    return par_range(0, n).filter(lambda x: x % k == 0).count()


@corpus(5, explain=(count_multiples, (100_000, 7)))
def compiled_returned_chain():
    return count_multiples(100_000, 7)


def compiled_returned_chain_py():
    return sum(1 for x in range(100_000) if x % 7 == 0)


@fastiter.compile
def mean_square(n):
    return par_range(0, n).map(lambda i: (i / n) ** 2).sum()


@corpus(5, explain=(mean_square, (20_000,)))
def compiled_float_chain():
    return mean_square(20_000)


def compiled_float_chain_py():
    return total((i / 20_000) ** 2 for i in range(20_000))


@fastiter.compile
def is_prime(n):
    if n < 2:
        return False
    d = 2
    while d * d <= n:
        if n % d == 0:
            return False
        d += 1
    return True


@corpus(5)
def compiled_predicate_in_a_filter():
    return par_range(0, 100_000).filter(is_prime).count()


def compiled_predicate_in_a_filter_py():
    return sum(1 for n in range(100_000) if is_prime.__wrapped__(n))


@fastiter.compile
def euclid_steps(a, b):
    steps = 0
    while b:
        a, b = b, a % b
        steps += 1
    return steps


@corpus(5, explain=(euclid_steps, (832040, 514229)))
def compiled_numeric_function():
    return euclid_steps(832040, 514229)


def compiled_numeric_function_py():
    return euclid_steps.__wrapped__(832040, 514229)


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------


def test_corpus_is_large_and_every_pipeline_has_a_reference():
    assert len(CORPUS) >= 70, len(CORPUS)
    missing = [name for name in CORPUS if not callable(globals().get(name + "_py"))]
    assert not missing, missing


@pytest.mark.parametrize("name", list(CORPUS))
def test_matches_cpython(name):
    entry = CORPUS[name]
    want = outcome(entry.reference())
    got = outcome(entry.run)
    problem = mismatch(got, want)
    assert problem is None, f"{name}: fastiter and CPython differ: {problem}"


_EXPLAINED: dict[str, str] = {}


def explanation(entry):
    """``fastiter.explain`` of the pipeline (once per session: both tests below read it)."""
    if entry.name not in _EXPLAINED:
        if entry.explain is None:
            _EXPLAINED[entry.name] = fastiter.explain(entry.run)
        else:
            fn, args = entry.explain
            _EXPLAINED[entry.name] = fastiter.explain(fn, *args)
    return _EXPLAINED[entry.name]


def compiled(text):
    return "compiled: yes" in text and "compiled: no" not in text


def reasons(text):
    """The reasons ``explain`` gives for what did not compile: each ``reason:`` with the lines
    that follow it (the source line and a caret, or the kernel source the compiler tried)."""
    out = []
    block = None
    for line in text.splitlines():
        if line.startswith("reason:"):
            block = [line[len("reason:") :].strip()]
            out.append(block)
        elif block is not None and line.startswith(" ") and "help:" not in line:
            block.append(line)
        else:
            block = None
    if not out:
        out.append([" | ".join(s for s in text.splitlines() if s.startswith("compiled:"))])
    return ["\n".join(b) for b in out]


def short_reason(reason):
    """A reason without its position and source line, to group pipelines by."""
    first = reason.splitlines()[0]
    first = re.sub(r"^\S+:\d+:\d+: ", "", first)
    return first


def test_compile_rate():
    failing = {}  # short reason -> [(name, full reason)]
    for name, entry in CORPUS.items():
        text = explanation(entry)
        if compiled(text):
            continue
        for reason in reasons(text)[:1]:
            failing.setdefault(short_reason(reason), []).append((name, reason))
    n_failing = sum(len(v) for v in failing.values())
    n = len(CORPUS)
    lines = [f"corpus: {n - n_failing} of {n} compile ({100 * (n - n_failing) / n:.1f}%)"]
    for short, items in sorted(failing.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"- {short} ({len(items)}):")
        for name, reason in items:
            family = CORPUS[name].family
            detail = reason.splitlines()[1:]
            lines.append(f"    [{family}] {name}" + "".join(f"\n      {s}" for s in detail))
    report = "\n".join(lines)
    print("\n" + report)
    assert (n - n_failing) >= 0.95 * n, report


COMPILE_TIME = re.compile(r"\(([0-9.]+) ms to compile\)")


def test_compile_time_of_the_largest_pipeline():
    """Prints the compile time ``explain`` reports for the largest compiled kernel (by the
    length of its kernel source) and the slowest compiles; timings are not asserted here."""
    rows = []
    for name, entry in CORPUS.items():
        text = explanation(entry)
        if not compiled(text):
            continue
        times = [float(t) for t in COMPILE_TIME.findall(text)]
        source = text.split("kernel source:", 1)[-1].split("parameters:", 1)[0]
        rows.append((len(source), sum(times), name))
    if not rows:
        pytest.skip("no pipeline of the corpus compiles")
    size, ms, name = max(rows)
    print(f"\nlargest compiled pipeline: {name} ({size} chars of kernel source): {ms:.2f} ms")
    for _, ms, name in sorted(rows, key=lambda r: -r[1])[:5]:
        print(f"  slowest compiles: {name}: {ms:.2f} ms")
