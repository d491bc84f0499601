"""The chain API's per-call fast path (``ChainBase`` in ``py/src/chain.rs``) against CPython.

Each test calls a chain several times, so that its entry in the native table of compiled chains
is hot (checked with ``_fast``), then changes what a stage depends on (a global, a closure cell,
a default value, a called function, a module, a shadowed builtin, the range) and checks that the
next call gives what CPython's own evaluation gives: every guard holds on the fast path too.
"""

from __future__ import annotations

import inspect
import math
import types
from fractions import Fraction

import fastiter
import pytest
from fastiter import par_range

WARM = 5


def same(a, b):
    return type(a) is type(b) and repr(a) == repr(b)


def hot(make, consumer="sum", carg=None):
    """Call the chain `make()` until its entry is in the native table; assert it is."""
    for _ in range(WARM):
        getattr(make(), consumer)(*([carg] if carg is not None else []))
    assert make()._fast(consumer, carg) is not NotImplemented


def check(make, python, consumer="sum"):
    """`make().consumer()` equals CPython's `python()`, called a few times (hot path). Sums of
    floats whose rounding depends on the order of additions are compared as lists (`collect`):
    fastiter's float `sum` is compensated, as CPython's from 3.12."""
    for _ in range(3):
        got = getattr(make(), consumer)()
        want = python()
        assert same(got, want), (got, want)


# --- globals ------------------------------------------------------------------------------

K = 3


def k_chain():
    return par_range(0, 100).map(lambda x: x * K)


def k_python():
    return sum(x * K for x in range(100))


def test_global_rebound_same_type_new_value():
    global K
    K = 3
    hot(k_chain)
    check(k_chain, k_python)
    K = 7
    check(k_chain, k_python)
    assert k_chain()._fast("sum", None) is not NotImplemented  # the same entry, a new value


def test_global_rebound_int_to_float_then_non_number():
    global K
    K = 3
    hot(k_chain)
    K = 2.5
    check(k_chain, k_python)
    K = Fraction(1, 3)  # not a number fastiter compiles: the Python fallback
    check(k_chain, k_python)
    assert k_chain()._fast("sum", None) is NotImplemented
    K = 3
    check(k_chain, k_python)


def test_global_deleted():
    global K
    K = 3
    hot(k_chain)
    del K
    with pytest.raises(NameError):
        k_chain().sum()
    globals()["K"] = 4
    check(k_chain, k_python)


# --- closures -----------------------------------------------------------------------------


def test_closure_cell_rebound():
    k = 2

    def make():
        return par_range(0, 50).filter(lambda x: x % k == 0).map(lambda x: x + k)

    def python():
        return sum(x + k for x in range(50) if x % k == 0)

    hot(make)
    check(make, python)
    k = 5
    check(make, python)
    k = 1.5
    check(make, python)
    k = 0  # x % 0: CPython's ZeroDivisionError, from the kernel
    with pytest.raises(ZeroDivisionError) as got:
        make().sum()
    with pytest.raises(ZeroDivisionError) as want:
        python()
    assert str(got.value) == str(want.value)
    k = 3
    check(make, python)


def test_different_lambda_object_same_code():
    def scale(k):
        return lambda x: x * k

    for k in (2, 3, 2.5, -1, 10**30, Fraction(2, 3), 2):
        f = scale(k)
        got = par_range(0, 20).map(f).sum()
        assert same(got, sum(x * k for x in range(20))), k
        got = par_range(0, 20).map(f).sum()
        assert same(got, sum(x * k for x in range(20))), k


# --- defaults -----------------------------------------------------------------------------

D = 3


def test_default_argument_value():
    global D
    D = 3

    def make():
        return par_range(0, 30).map(lambda x, d=D: x * d)

    def python():
        return sum(x * D for x in range(30))

    hot(make)
    check(make, python)
    D = 4
    check(make, python)
    D = 0.5
    check(make, python)
    D = 3


def scaled(x, d=3):
    return x * d


def test_default_of_a_def_changed():
    def make():
        return par_range(0, 30).map(scaled)

    def python():
        return sum(scaled(x) for x in range(30))

    hot(make)
    check(make, python)
    old = scaled.__defaults__
    try:
        scaled.__defaults__ = (10,)
        check(make, python)
        scaled.__defaults__ = (1.5,)
        check(make, python)
        scaled.__defaults__ = (Fraction(1, 2),)
        check(make, python)
    finally:
        scaled.__defaults__ = old
    check(make, python)


# --- called functions, modules, builtins --------------------------------------------------


def helper(x):
    return x + 1


def test_called_function_replaced():
    global helper
    saved = helper

    def make():
        return par_range(0, 40).map(lambda x: helper(x) * 2)

    def python():
        return sum(helper(x) * 2 for x in range(40))

    hot(make)
    check(make, python)

    def helper(x):
        return x * x - 1

    try:
        check(make, python)

        def helper(x):
            return str(x)  # not compiled: the Python fallback (and its TypeError)

        with pytest.raises(TypeError):
            make().sum()
    finally:
        helper = saved
    check(make, python)


def test_module_attribute_and_module_replaced():
    global math
    saved = math

    def make():
        return par_range(0, 10).map(lambda x: x * math.pi)

    def python():
        return [x * math.pi for x in range(10)]

    hot(make, "collect")
    check(make, python, "collect")
    try:
        math = types.SimpleNamespace(pi=3)  # a module global replaced by another object
        check(make, python, "collect")
    finally:
        math = saved
    check(make, python, "collect")


def test_module_function_attribute():
    def make():
        return par_range(1, 30).map(lambda x: math.sqrt(x)).filter(lambda v: v > 2)

    def python():
        return [v for v in (math.sqrt(x) for x in range(1, 30)) if v > 2]

    hot(make, "collect")
    check(make, python, "collect")


def test_builtin_shadowed_by_a_global():
    g = globals()

    def make():
        return par_range(-20, 20).map(lambda x: abs(x - 3))

    def python():
        return sum(abs(x - 3) for x in range(-20, 20))

    hot(make)
    check(make, python)
    g["abs"] = lambda v: 0
    try:
        check(make, python)
        assert make().sum() == 0
        g["abs"] = lambda v: v * 2
        check(make, python)
    finally:
        del g["abs"]
    check(make, python)


# --- the range ----------------------------------------------------------------------------


def test_range_bounds_change():
    def make(a, b, s=1):
        return par_range(a, b, s).filter(lambda x: x % 3 == 1).map(lambda x: x * x)

    for a, b, s in [
        (0, 100, 1),
        (0, 100, 1),
        (-50, 50, 1),
        (7, 7, 1),
        (10, 0, 1),
        (0, 100, 2),
        (100, 0, -3),
        (2**62, 2**62 + 10, 1),
        (2**70, 2**70 + 10, 1),
        (-(2**70), -(2**70) + 7, 3),
        (0, 10**6, 7),
        (0, 100, 1),
    ]:
        for _ in range(2):
            got = make(a, b, s).sum()
            assert same(got, sum(x * x for x in range(a, b, s) if x % 3 == 1)), (a, b, s)


def test_into_par_iter_range_and_sliced_ranges():
    for _ in range(WARM):
        got = fastiter.into_par_iter(range(5, 50, 2)).map(lambda x: x * 3).sum()
        assert got == sum(x * 3 for x in range(5, 50, 2))
        got = par_range(0, 50).skip(5).take(20).map(lambda x: x + 1).sum()
        assert got == sum(x + 1 for x in range(5, 25))


def test_par_range_arguments():
    assert list(par_range(4)) == [0, 1, 2, 3]
    assert list(par_range(2, 5)) == [2, 3, 4]
    assert list(par_range(start=1, stop=4)) == [1, 2, 3]
    assert list(par_range(10, 0, -4)) == [10, 6, 2]
    assert list(par_range(True, 3)) == [1, 2]
    assert par_range(2**80, 2**80 + 2).sum() == 2**81 + 1

    class Index:
        def __index__(self):
            return 3

    assert list(par_range(Index())) == [0, 1, 2]
    with pytest.raises(ValueError, match="Range step cannot be zero"):
        par_range(0, 10, 0)
    with pytest.raises(TypeError, match="'float' object cannot be interpreted as an integer"):
        par_range(1.5)
    with pytest.raises(TypeError):
        par_range()
    assert str(inspect.signature(par_range)) == "(start, stop=None, step=1)"
    assert isinstance(par_range(3), fastiter.ParallelIterator)
    assert par_range(0, 3)._src.data == range(3)
    assert par_range(0, 3).describe() == "par_range(0, 3)"


# --- stage functions that are not lambdas -------------------------------------------------


def test_builtin_stage_functions():
    for _ in range(WARM):
        assert same(par_range(-10, 10).map(abs).sum(), sum(map(abs, range(-10, 10))))
        assert same(par_range(0, 10).map(float).sum(), sum(map(float, range(10))))
        got = par_range(0, 10).map(math.sqrt).collect()
        assert same(got, list(map(math.sqrt, range(10))))
    assert par_range(0, 10).map(abs)._fast("sum", None) is not NotImplemented


@fastiter.compile
def cube(x):
    return x * x * x


def test_compiled_function_as_stage():
    def make():
        return par_range(-5, 15).map(cube)

    def python():
        return sum(cube.__wrapped__(x) for x in range(-5, 15))

    hot(make)
    check(make, python)


# --- consumers ----------------------------------------------------------------------------


def w6_end(n):
    return par_range(0, n).any(lambda x: x == n - 1)


def test_any_with_a_predicate():
    for n in (1000, 1000, 10, 1, 0, 5000, 1000):
        for _ in range(3):
            assert w6_end(n) is any(x == n - 1 for x in range(n)), n
    target = 7

    def chain():
        return par_range(0, 20).map(lambda x: x * 2).any(lambda x: x == target)

    for _ in range(WARM):
        chain()
    it = par_range(0, 20).map(lambda x: x * 2)
    for target in (7, 8, 38, 40, 3.0 * 2, Fraction(4)):
        assert chain() is any(x * 2 == target for x in range(20)), target
    del it


def test_every_fast_consumer():
    def make():
        return par_range(-7, 30).filter(lambda x: x % 4 != 1).map(lambda x: x * 3 - 5)

    def items():
        return [x * 3 - 5 for x in range(-7, 30) if x % 4 != 1]

    for _ in range(WARM):
        assert make().sum() == sum(items())
        assert make().count() == len(items())
        assert make().min() == min(items())
        assert make().max() == max(items())
        assert make().any() is any(items())
        assert make().all() is all(items())
        assert make().collect() == items()
        assert make().product() == math.prod(items())
        assert make().min(key=lambda v: abs(v - 10)) == min(items(), key=lambda v: abs(v - 10))
        assert make().all(lambda v: v > -30) is all(v > -30 for v in items())
    for name in ("sum", "count", "min", "max", "any", "all", "collect", "product"):
        assert make()._fast(name, None) is not NotImplemented, name


def test_refused_kernel_runs_as_python():
    def make():
        return par_range(-3, 4).map(lambda x: x**0.5)

    for _ in range(WARM):
        got = make().collect()
        assert same(got, [x**0.5 for x in range(-3, 4)])


def test_non_callable_stage_messages_unchanged():
    with pytest.raises(TypeError, match=r"map\(\) expects a callable, got int"):
        par_range(3).map(1)
    with pytest.raises(TypeError, match=r"filter\(\) expects a callable, got str"):
        par_range(3).filter("x")
    with pytest.raises(TypeError, match=r"any\(\) expects a callable, got int"):
        par_range(3).any(2)
    with pytest.raises(TypeError, match=r"min\(\) expects a callable, got int"):
        par_range(3).min(key=2)


def test_a_chain_in_its_own_closure_is_collected():
    import gc
    import weakref

    class Box:
        pass

    def cycle():
        box = Box()
        it = par_range(0, 10).map(lambda x: x + len(box.chains))
        box.chains = [it]
        return weakref.ref(box)

    ref = cycle()
    gc.collect()
    assert ref() is None


# --- explain and strict mode --------------------------------------------------------------


def test_explain_on_a_hot_chain():
    def run():
        return par_range(0, 100).filter(lambda x: x % 2 == 0).map(lambda x: x * x).sum()

    for _ in range(WARM):
        assert run() == sum(x * x for x in range(100) if x % 2 == 0)
    text = fastiter.explain(run)
    assert text.startswith("pipeline: par_range(0, 100).filter(")
    assert "compiled: yes" in text
    assert "kernel source: range(_fi_start, _fi_stop).filter(" in text
    assert "parameters: _fi_start: int = 0, _fi_stop: int = 100" in text
    assert run() == sum(x * x for x in range(100) if x % 2 == 0)


S = 2


def test_strict_mode_on_a_hot_chain():
    global S
    S = 2

    @fastiter.compile(strict=True)
    def run(n):
        total = 0
        total += par_range(0, n).map(lambda x: x * S).sum()
        return total

    for _ in range(WARM):
        assert run(10) == sum(x * S for x in range(10))
    S = Fraction(1, 2)
    try:
        with pytest.raises(fastiter.CompileError, match="`S` is a Fraction, not a number"):
            run(10)
    finally:
        S = 2
    assert run(10) == sum(x * 2 for x in range(10))
