"""``@fastiter.compile`` on whole functions, against plain CPython.

Functions over numbers compiled as native functions (every statement form, generated inputs
with negative numbers, zero, ints past 64 bits, inf and nan, exceptions), ``return <chain>``
bodies compiled as one kernel, numbers read from globals, closures and default values (fresh at
every call), functions calling functions, strict mode with positions.
"""

from __future__ import annotations

import math
import os

import fastiter
import pytest
import test_functions as tf
from fastiter import par_range
from hypothesis import given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("FASTITER_HYPOTHESIS_EXAMPLES", "500"))


def same(a, b):
    return type(a) is type(b) and repr(a) == repr(b)


def outcome(fn, *args, **kwargs):
    try:
        return ("value", fn(*args, **kwargs))
    except Exception as e:  # noqa: BLE001 - compared by type
        return ("raised", type(e))


def agree(compiled_fn, *args, **kwargs):
    got = outcome(compiled_fn, *args, **kwargs)
    want = outcome(compiled_fn.__wrapped__, *args, **kwargs)
    if got[0] == "value" and want[0] == "value":
        return same(got[1], want[1])
    return got == want


def native(f, *args, **kwargs):
    text = f.explain(*args, **kwargs)
    return "compiled: yes, as a native function" in text


INTS = [0, 1, -1, 7, -40, 39, 2**31, -(2**31), 2**62, 2**63 - 1, -(2**63), 2**63, 2**80, -(2**90)]


# --- scalar functions ----------------------------------------------------------------------


@pytest.mark.parametrize("fn", [*tf.STATEMENT_FUNCTIONS, tf.f_raises], ids=lambda f: f.__name__)
def test_statement_forms_as_native_functions(fn):
    c = fastiter.compile(fn)
    assert native(c, 3), c.explain(3)
    # These loop about |x| times: as long in the kernel as in CPython.
    loops = (tf.f_for_step, tf.f_while_break_continue)
    ints = [x for x in INTS if abs(x) < 10**4] if fn in loops else INTS
    for x in [*range(-40, 40), *ints]:
        assert agree(c, x), x


expensive_computation = fastiter.compile(tf.expensive_computation)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.one_of(
        st.integers(-(2**70), 2**70),
        st.integers(-2000, 2000),
        st.floats(allow_nan=True, allow_infinity=True),
        st.booleans(),
    )
)
def test_expensive_computation_as_a_native_function(x):
    assert agree(expensive_computation, x)


def test_expensive_computation_compiles_and_is_fast_path():
    assert native(expensive_computation, 5)
    assert native(expensive_computation, 5.5)
    for x in range(-500, 500):
        assert expensive_computation(x) == tf.expensive_computation(x)
    # As a stage, the decorated function compiles too.
    p = par_range(0, 1000).map(expensive_computation)
    assert "compiled: yes" in fastiter.explain(p)
    assert p.sum() == sum(tf.expensive_computation(x) for x in range(1000))


@fastiter.compile
def mixed(x, y):
    if x > y:
        t = x / y
    else:
        t = x * y + 0.5
    for i in range(3):
        t = t - i // (1 + abs(y) % 3)
    return t


@fastiter.compile
def int_ops(a, b):
    r = a // b + a % b
    r += a**2 - (b << 3)
    return r ^ (a & 255)


@fastiter.compile
def float_ops(a, b):
    return math.sqrt(abs(a)) + a % b - a // b + b**0.5


@fastiter.compile
def truthy(a, b):
    return a if a > b else bool(b) + b


NUMBERS = st.one_of(
    st.integers(-(2**65), 2**65),
    st.integers(-50, 50),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1e6, 1e6),
    st.booleans(),
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(a=NUMBERS, b=NUMBERS)
def test_generated_arguments_match_cpython(a, b):
    for f in (mixed, int_ops, float_ops, truthy):
        assert agree(f, a, b), (f.__name__, a, b)


def test_exceptions_are_cpythons():
    with pytest.raises(ZeroDivisionError):
        int_ops(3, 0)
    with pytest.raises(ZeroDivisionError):
        float_ops(3.0, 0.0)
    with pytest.raises(ValueError):  # inf % 1e6 is nan, and int(nan) raises
        expensive_computation(math.inf)

    @fastiter.compile
    def to_int(x):
        return int(x * 2)

    with pytest.raises(OverflowError):
        to_int(math.inf)
    with pytest.raises(ValueError):
        to_int(math.nan)
    with pytest.raises(TypeError):
        mixed(1)  # CPython's own TypeError, from the plain function
    with pytest.raises(TypeError):
        mixed(1, 2, 3)


def test_overflow_past_i64_is_exact():
    @fastiter.compile
    def cube(x):
        y = x * x
        return y * x

    for x in (2**21, 2**22, 2**40, -(2**40), 2**62, 2**100):
        assert same(cube(x), x**3)


def test_other_argument_types_run_as_python():
    @fastiter.compile
    def double(x):
        return x + x

    assert double("ab") == "abab"
    assert double([1]) == [1, 1]
    assert double(3) == 6
    assert "compiled: no" in double.explain("ab")


def scalar_global_reader(x):
    return x * FACTOR + OFFSET


FACTOR = 2
OFFSET = 1


def test_globals_are_read_at_every_call():
    global FACTOR, OFFSET
    f = fastiter.compile(scalar_global_reader)
    assert native(f, 3)
    try:
        assert same(f(3), 7)
        FACTOR = 10
        assert same(f(3), 31)
        OFFSET = 0.5
        assert same(f(3), 30.5)
        FACTOR = "x"
        with pytest.raises(TypeError):
            f(3)
    finally:
        FACTOR, OFFSET = 2, 1
    assert same(f(3), 7)


def helper_a(v):
    return v + 1


def calls_helper(x):
    return helper_a(x) * 2


def test_calls_inline_and_rebinding_a_callee_is_seen():
    global helper_a
    f = fastiter.compile(calls_helper)
    assert native(f, 1)
    assert f(5) == 12
    old = helper_a
    try:
        helper_a = lambda v: v + 100
        assert f(5) == 210
    finally:
        helper_a = old
    assert f(5) == 12


@fastiter.compile
def compiled_inner(v):
    return v * 3


def calls_compiled(x):
    t = 0
    for i in range(x % 5):
        t += compiled_inner(i)
    return t


def test_compiled_functions_call_compiled_functions():
    f = fastiter.compile(calls_compiled)
    assert native(f, 7)
    for x in range(-10, 20):
        assert f(x) == calls_compiled(x)


def test_closures_over_numbers_in_nested_defs():
    def make(k):
        def inner(v):
            return v * k

        def outer(x):
            s = 0
            for i in range(3):
                s += inner(x + i)
            return s

        return outer

    for k in (2, 5, 0.5):
        f = make(k)
        c = fastiter.compile(f)
        assert native(c, 1)
        assert same(c(4), f(4))
        assert same(par_range(0, 20).map(f).collect(), [f(x) for x in range(20)])
        assert "compiled: yes" in fastiter.explain(par_range(0, 20).map(f))


# --- strict mode ---------------------------------------------------------------------------


def test_strict_errors_carry_line_and_column():
    def uses_str(x):
        s = "abc"
        return x + len(s)

    f = fastiter.compile(strict=True)(uses_str)
    with pytest.raises(fastiter.CompileError) as e:
        f(3)
    line = uses_str.__code__.co_firstlineno + 2
    assert e.value.line == line
    assert e.value.column == 20
    assert "len" in str(e.value)
    # Not strict: the plain function's value.
    assert fastiter.compile(uses_str)(3) == 6


# --- default arguments ---------------------------------------------------------------------


def with_default(x, k=3):
    t = 0
    for _ in range(k):
        t += x
    return t


def one_line_default(x, k=2.5):
    return x * k


def test_defaults_as_stages_and_in_calls():
    p = par_range(-5, 5).map(with_default)
    assert "compiled: yes" in fastiter.explain(p)
    assert p.collect() == [with_default(x) for x in range(-5, 5)]
    q = par_range(-5, 5).map(one_line_default)
    assert "compiled: yes" in fastiter.explain(q)
    assert same(q.collect(), [one_line_default(x) for x in range(-5, 5)])
    r = par_range(0, 5).map(lambda x: with_default(x, k=5) + with_default(x, 1))
    assert "compiled: yes" in fastiter.explain(r)
    assert r.collect() == [with_default(x, k=5) + with_default(x, 1) for x in range(5)]
    c = fastiter.compile(with_default)
    assert native(c, 4)
    assert (c(4), c(4, 5), c(4, k=6), c(x=2)) == (12, 20, 24, 6)
    with pytest.raises(TypeError):
        c(4, 5, 6)
    with pytest.raises(TypeError):
        c(4, j=1)


def test_changed_defaults_are_read_at_every_call():
    def f(x, k=2):
        return x * k

    c = fastiter.compile(f)
    assert c(3) == 6
    f.__defaults__ = (10,)
    assert c(3) == 30
    assert par_range(0, 3).map(f).collect() == [0, 10, 20]
    f.__defaults__ = ("no",)
    assert c(3) == "nonono"
    assert par_range(0, 2).map(f).collect() == ["", "no"]


def test_lambda_defaults():
    fns = [lambda x, k=k: x * k for k in (2, 3)]
    p = par_range(0, 5).map(fns[0]).map(fns[1])
    assert "compiled: yes" in fastiter.explain(p)
    assert p.collect() == [x * 6 for x in range(5)]


# --- return <chain> ------------------------------------------------------------------------


@fastiter.compile
def w6(n):
    return par_range(0, n).any(lambda x: x == n - 1)


@fastiter.compile
def chain_sum(n, c):
    """A docstring is fine."""
    return par_range(0, n).filter(lambda x: x % 3 != 0).map(lambda x: x * c).sum()


@fastiter.compile
def chain_min(a, b, s):
    return par_range(a, b, s).map(lambda x: (x * 7) % 11 - x / 2).min()


@fastiter.compile
def chain_collect(n):
    return par_range(n).map(helper_a).collect()


@fastiter.compile
def chain_all(n):
    return par_range(1, n).all(lambda x: 100 // x > LIMIT)


LIMIT = 0


def test_chain_bodies_compile_whole():
    for f, args in [(w6, (1000,)), (chain_sum, (10, 2)), (chain_min, (0, 10, 3))]:
        assert "as one kernel for the returned chain" in f.explain(*args), f.explain(*args)


@settings(max_examples=EXAMPLES // 2, deadline=None)
@given(
    n=st.one_of(st.integers(-5, 40_000), st.just(2**62), st.just(2**70)),
    c=st.one_of(st.integers(-(2**40), 2**40), st.floats(allow_nan=False), st.booleans()),
    s=st.integers(-7, 7).filter(bool),
)
def test_chain_fast_path_equals_the_chain(n, c, s):
    small = max(min(n, 50_000), -50_000)
    assert agree(w6, small)
    assert agree(chain_sum, small, c)
    assert agree(chain_min, -small, small, s)
    assert agree(chain_collect, max(min(n, 200), -5))
    assert agree(chain_all, small)


@pytest.mark.parametrize("a,b", [(1, 10), (1, 21), (1, 22), (-30, -1), (0, 0), (5, 3), (-3, 4)])
def test_small_range_products_are_exact(a, b):
    # one chunk run inline; past i64 the kernel is inexact and the exact path answers
    assert same(par_range(a, b).product(), math.prod(range(a, b)))
    assert same(
        par_range(a, b).map(lambda x: x * 3).product(), math.prod(x * 3 for x in range(a, b))
    )


@fastiter.compile
def chain_floats(n, c):
    return par_range(-n, n).map(lambda x: x * c).collect()


@pytest.mark.parametrize("n", [0, 1, 5, 300, 16384, 16385])
@pytest.mark.parametrize("c", [1, -7, 2**40, 0.5])
def test_chain_collects_keep_item_types(n, c):
    assert agree(chain_floats, n, c)


def test_chain_reads_globals_at_every_call():
    global LIMIT
    try:
        assert chain_all(50) is True
        LIMIT = 5
        assert chain_all(50) is (100 // 49 > 5)
        LIMIT = 1.5
        assert chain_all(30) == all(100 // x > 1.5 for x in range(1, 30))
    finally:
        LIMIT = 0


def test_chain_step_zero_and_long_ranges():
    with pytest.raises(ValueError):
        chain_min(0, 10, 0)
    assert w6(2**20) is True
    assert chain_sum(100_000, 3) == sum(x * 3 for x in range(100_000) if x % 3 != 0)


def test_other_bodies_still_compile_their_pipelines():
    @fastiter.compile
    def two(n):
        a = par_range(0, n).map(lambda x: x * 2).sum()
        return a + par_range(0, n).count()

    assert two(10) == 100
    assert "compiled: yes" in two.explain(10)


def test_plain_chain_any_all_reuse_plans_with_fresh_values():
    def probe(n, k):
        return (
            par_range(0, n).any(lambda x: x == k - 1),
            par_range(0, n).all(lambda x: x < k),
            par_range(0, n).map(lambda x: x % 7).any(lambda v: v == LIMIT),
        )

    global LIMIT
    try:
        for n, k, limit in [(10, 5, 0), (10, 11, 3), (0, 1, 9), (100, 0.5, 6), (20_000, 19_999, 7)]:
            LIMIT = limit
            want = (
                any(x == k - 1 for x in range(n)),
                all(x < k for x in range(n)),
                any(x % 7 == limit for x in range(n)),
            )
            assert probe(n, k) == want
    finally:
        LIMIT = 0


def test_compiled_functions_of_a_dropped_module_are_collected(tmp_path):
    # A compiled entry reads the module's globals at each call, so the module dict, the
    # function and its entries form a cycle: the collector must be able to see all of it
    # (the soak found every such module kept for good, 20 KB a function).
    import gc
    import importlib.util
    import weakref

    path = tmp_path / "dropped_module.py"
    path.write_text(
        "import fastiter\n"
        "K = 3\n\n\n"
        "@fastiter.compile\n"
        "def f(x):\n"
        "    t = 0\n"
        "    for i in range(x):\n"
        "        t += i % K\n"
        "    return t\n\n\n"
        "@fastiter.compile\n"
        "def g(n):\n"
        "    return fastiter.par_range(0, n).filter(lambda v: v % K == 1).sum()\n"
    )
    spec = importlib.util.spec_from_file_location("dropped_module", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.f(100) == sum(i % 3 for i in range(100))
    assert mod.g(100) == sum(v for v in range(100) if v % 3 == 1)
    assert mod.f(100) == sum(i % 3 for i in range(100))  # the native entry's path
    assert mod.g(100) == sum(v for v in range(100) if v % 3 == 1)
    refs = [weakref.ref(mod.f._fn), weakref.ref(mod.g._fn), weakref.ref(mod.f)]
    del mod
    gc.collect()
    assert [r() for r in refs] == [None, None, None]
