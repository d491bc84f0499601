"""Functions with statements as stage functions: compiled, and equal to CPython.

Every statement form on its own, the canonical ``expensive_computation`` of fastiter 0.1's
documentation at the sizes the issue names, helpers called from stages, globals as parameters,
fallbacks with positions, and hypothesis-generated function bodies from a small statement grammar
(written to a real module file so that their source can be read).
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
import tempfile

import fastiter
import pytest
from fastiter import par_range
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("FASTITER_HYPOTHESIS_EXAMPLES", "500"))


def expensive_computation(x):
    result = x
    for _ in range(20):
        result = (result * 1.1 + 1) % 1000000
    return int(result)


def compiled(p):
    return "compiled: yes" in fastiter.explain(p)


def same(a, b):
    return type(a) is type(b) and repr(a) == repr(b)


def outcome(fn):
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - compared by type and message
        return (type(e), str(e))


@pytest.mark.parametrize("n", [200_000, 2_000_000])
def test_expensive_computation_is_exact(n):
    p = par_range(0, n).map(expensive_computation)
    assert compiled(p)
    assert p.sum() == sum(expensive_computation(x) for x in range(n))


# --- each statement form -----------------------------------------------------------------


def f_if(x):
    if x < 0:
        r = -x
    elif x == 0:
        r = 100
    else:
        r = x * 3
    return r


def f_for_step(x):
    t = 0
    for i in range(x, -10, -3):
        t += i * i
    return t


def f_while_break_continue(x):
    n = 0
    i = x
    while True:
        i += 1
        if i % 3 == 0:
            continue
        n += i
        if n > 50:
            break
    return n


def f_returns(x):
    if x % 2 == 0:
        return x // 2
    for i in range(5):
        if (x + i) % 5 == 0:
            return i
    return -1


def f_augmented(x):
    a = x
    a += 3
    a -= 1
    a *= 7
    a //= 2
    a %= 1000
    a **= 2
    a <<= 1
    a >>= 2
    a |= 5
    a &= 0xFFFF
    a ^= 3
    return a


def f_tuple_and_float(x):
    a, b = x, 1
    for _ in range(6):
        a, b = b, a + b
    c = a / 3
    c += 0.5
    return c if c > 2 else float(b)


def f_pass_and_docstring(x):
    """Docstrings and pass are fine."""
    if x > 3:
        pass
    return abs(x - 3)


def f_raises(x):
    y = 10 - x
    return 100 // y


STATEMENT_FUNCTIONS = [
    f_if,
    f_for_step,
    f_while_break_continue,
    f_returns,
    f_augmented,
    f_tuple_and_float,
    f_pass_and_docstring,
]


@pytest.mark.parametrize("fn", STATEMENT_FUNCTIONS, ids=lambda f: f.__name__)
def test_statement_forms_compile_and_match(fn):
    p = par_range(-40, 40).map(fn)
    assert compiled(p), fastiter.explain(p)
    assert same(p.collect(), [fn(x) for x in range(-40, 40)])
    assert same(p.sum(), sum(fn(x) for x in range(-40, 40)))


def test_exception_in_a_function_is_cpythons():
    got = outcome(lambda: par_range(0, 20).map(f_raises).sum())
    want = outcome(lambda: sum(f_raises(x) for x in range(20)))
    assert got == want and got[0] is ZeroDivisionError


# --- calls, globals, filters, reduce -------------------------------------------------------


def twice(v):
    return v * 2


def calls_twice(x):
    s = 0
    for i in range(x % 4):
        s += twice(i) + 1
    return s


SCALE = 3


def scaled(x):
    if x % 2 == 0:
        return x * SCALE
    return x


def is_interesting(x):
    d = x % 7
    return d == 1 or d == 4


def add(a, b):
    s = a + b
    return s


def test_helpers_globals_filters_and_reduce():
    global SCALE
    p = par_range(0, 100).map(calls_twice)
    assert compiled(p)
    assert p.sum() == sum(calls_twice(x) for x in range(100))
    assert par_range(0, 50).map(scaled).sum() == sum(scaled(x) for x in range(50))
    SCALE = 5  # a parameter: a new value, no stale result
    try:
        assert par_range(0, 50).map(scaled).sum() == sum(scaled(x) for x in range(50))
    finally:
        SCALE = 3
    q = par_range(0, 200).filter(is_interesting)
    assert compiled(q)
    assert q.collect() == [x for x in range(200) if is_interesting(x)]
    assert par_range(0, 100).reduce(lambda: 0, add) == sum(range(100))
    assert par_range(0, 10).map(lambda x: twice(x) + 1).collect() == [2 * x + 1 for x in range(10)]


# --- what does not compile ---------------------------------------------------------------


def uses_a_string(x):
    s = "abc"
    return x + (s == "abc")


def test_unsupported_statements_fall_back_with_position():
    p = par_range(0, 10).map(uses_a_string)
    assert p.sum() == sum(uses_a_string(x) for x in range(10))
    text = fastiter.explain(p)
    assert "compiled: no" in text
    line = uses_a_string.__code__.co_firstlineno + 1
    assert f"test_functions.py:{line}:" in text


def test_strict_compile_raises_for_unsupported_functions():
    @fastiter.compile(strict=True)
    def go(n):
        return par_range(0, n).map(uses_a_string).sum()

    with pytest.raises(fastiter.CompileError):
        go(10)

    @fastiter.compile(strict=True)
    def ok(n):
        return par_range(0, n).map(expensive_computation).sum()

    assert ok(1000) == sum(expensive_computation(x) for x in range(1000))


# --- generated function bodies ----------------------------------------------------------

VARS = ["a", "b"]
ATOMS = ["x", "a", "b", "0", "1", "2", "3", "7", "(-5)"]
OPS = ["+", "-", "*", "//", "%"]


@st.composite
def int_expr(draw, depth=0):
    if depth >= 2 or draw(st.booleans()):
        return draw(st.sampled_from(ATOMS))
    return f"({draw(int_expr(depth + 1))} {draw(st.sampled_from(OPS))} {draw(int_expr(depth + 1))})"


@st.composite
def statement(draw, indent, depth=0):
    pad = "    " * indent
    kind = draw(
        st.sampled_from(["assign", "aug", "if", "for", "while"] if depth < 2 else ["assign", "aug"])
    )
    var = draw(st.sampled_from(VARS))
    if kind == "assign":
        return f"{pad}{var} = {draw(int_expr())}\n"
    if kind == "aug":
        return f"{pad}{var} {draw(st.sampled_from(['+=', '-=', '*=']))} {draw(int_expr())}\n"
    body = "".join(draw(st.lists(statement(indent + 1, depth + 1), min_size=1, max_size=2)))
    if kind == "if":
        cmp = draw(st.sampled_from(["<", "<=", "==", "!=", ">"]))
        other = "".join(draw(st.lists(statement(indent + 1, depth + 1), min_size=1, max_size=2)))
        return f"{pad}if {draw(int_expr())} {cmp} {draw(int_expr())}:\n{body}{pad}else:\n{other}"
    if kind == "for":
        k = draw(st.integers(0, 4))
        return f"{pad}for i{depth} in range({k}):\n{body}"
    k = draw(st.integers(0, 3))
    return f"{pad}w{depth} = 0\n{pad}while w{depth} < {k}:\n{pad}    w{depth} += 1\n{body}"


_counter = itertools.count()


def load(src: str):
    d = tempfile.mkdtemp(prefix="fastiter_fn_")
    name = f"gen_fn_{next(_counter)}"
    path = os.path.join(d, name + ".py")
    with open(path, "w") as f:
        f.write(src)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod.f


@settings(
    max_examples=max(20, EXAMPLES // 5),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    body=st.lists(statement(1), min_size=1, max_size=4).map("".join),
    ret=int_expr(),
    lo=st.integers(-30, 0),
    n=st.integers(0, 40),
)
def test_generated_function_bodies_match_cpython(body, ret, lo, n):
    src = f"def f(x):\n    a = x\n    b = 1\n{body}    return {ret}\n"
    f = load(src)
    event("compiled" if compiled(par_range(lo, lo + n).map(f)) else "fell back")
    for consumer in ("collect", "sum"):
        got = outcome(lambda c=consumer: getattr(par_range(lo, lo + n).map(f), c)())
        want = outcome(
            lambda c=consumer: (list if c == "collect" else sum)(f(x) for x in range(lo, lo + n))
        )
        assert got == want, f"{src}\nrange({lo}, {lo + n}).{consumer}: got {got!r}, want {want!r}"
