"""The compiling machinery: finding stage source, free names as parameters, ``run()``,
``@fastiter.compile``, ``explain()`` and ``repr``, errors and refusals.

Whether a stage compiled is observed through ``fastiter.explain``/``repr`` and the plan cache
(``fastiter._pipeline._plans``); its result is always compared with plain CPython's.
"""

from __future__ import annotations

import inspect
import linecache
import math
import math as m
import os
import textwrap
from math import sqrt

import fastiter
import pytest
from fastiter import _pipeline, into_par_iter, par_range
from hypothesis import given, settings
from hypothesis import strategies as st

np = pytest.importorskip("numpy")

HERE = os.path.basename(__file__)


def same(got, want):
    assert type(got) is type(want), f"{got!r} ({type(got).__name__}) != {want!r}"
    assert repr(got) == repr(want), f"{got!r} != {want!r}"


def compiled(p, consumer="collect"):
    text = _pipeline.explain_pipeline(p, consumer)
    return text.split("\n")[1].startswith("compiled: yes")


def plans():
    return len(_pipeline._plans)


# --- Finding the source of stages ----------------------------------------------------------


def test_several_lambdas_on_one_line():
    p = par_range(0, 50).map(lambda x: x + 1).filter(lambda x: x % 3 == 0).map(lambda x: x * 7)
    assert compiled(p)
    same(p.collect(), [(x + 1) * 7 for x in range(50) if (x + 1) % 3 == 0])
    q = par_range(0, 9).map(lambda x: x * 2).map(lambda x: x * 3).map(lambda x: x - 1)
    assert compiled(q)
    same(q.collect(), [x * 6 - 1 for x in range(9)])


def test_identical_lambdas_on_one_line():
    p = par_range(0, 10).map(lambda x: x + 1).map(lambda x: x + 1)
    same(p.collect(), [x + 2 for x in range(10)])


def test_lambda_over_several_lines_with_a_comment():
    p = (
        par_range(0, 30)
        .map(
            lambda x: (
                x * 3  # a comment with a ) in it
                - 2
            )
        )
        .filter(
            lambda y: (
                y % 2  # odd ones
                == 1
            )
        )
    )
    assert compiled(p)
    same(p.collect(), [x * 3 - 2 for x in range(30) if (x * 3 - 2) % 2 == 1])
    same(p.sum(), sum(x * 3 - 2 for x in range(30) if (x * 3 - 2) % 2 == 1))


def test_nested_functions_and_closures():
    def outer(k):
        def middle(j):
            return par_range(0, 20).map(lambda x: x * k + j).filter(lambda x: x > k).sum()

        return middle

    for k, j in ((2, 1), (3, -4), (0, 5)):
        same(outer(k)(j), sum(v for v in (x * k + j for x in range(20)) if v > k))


def _scaler(k):
    def scale(x):
        "Multiply by k (a closure cell)."
        return x * k + OFFSET

    return scale


OFFSET = 3


def test_def_with_docstring_and_one_return():
    p = par_range(0, 10).map(_scaler(2))
    assert compiled(p)
    same(p.sum(), sum(x * 2 + 3 for x in range(10)))


def test_same_code_two_closures_get_two_parameters():
    p = par_range(0, 10).map(_scaler(2)).map(_scaler(5))
    assert compiled(p)
    same(p.collect(), [(x * 2 + 3) * 5 + 3 for x in range(10)])
    fns = [lambda x, k=k: x * k for k in (2, 3)]  # defaults: not compiled, still exact
    same(par_range(0, 4).map(fns[0]).map(fns[1]).collect(), [x * 6 for x in range(4)])
    closures = [_adder(k) for k in (10, 100)]
    same(par_range(0, 3).map(closures[0]).map(closures[1]).collect(), [110, 111, 112])


def _adder(k):
    return lambda x: x + k


def _with_statements(x):
    y = x * 2
    return y + 1


def _unsupported_statement(x):
    y = "x" * 2
    return x + (y == "xx")


def _star_args(x, *rest):
    """*args: not compiled (its cached refusal is checked below)."""
    return x + len(rest)


def _defaults(x, k=2):
    return x * k


def test_lambdas_may_call_functions():
    p = par_range(0, 5).map(lambda x: _helper(x) + 1)
    assert "compiled: yes" in fastiter.explain(p)
    same(p.collect(), [_helper(x) + 1 for x in range(5)])


def test_def_with_statements_compiles():
    p = par_range(0, 10).map(_with_statements)
    same(p.sum(), sum(_with_statements(x) for x in range(10)))
    text = fastiter.explain(p)
    assert "compiled: yes" in text
    assert "def _with_statements(x):" in text


def test_def_with_unsupported_statement_falls_back_and_explain_names_it():
    p = par_range(0, 10).map(_unsupported_statement)
    same(p.sum(), sum(_unsupported_statement(x) for x in range(10)))
    text = fastiter.explain(p)
    assert "compiled: no" in text
    line = _unsupported_statement.__code__.co_firstlineno + 1
    assert f"{HERE}:{line}:" in text
    assert 'y = "x" * 2' in text


def test_source_less_lambda_falls_back():
    ns: dict = {}
    exec("f = lambda x: x * 3 + 1", ns)  # noqa: S102 - no source file on purpose
    p = par_range(0, 10).map(ns["f"])
    same(p.collect(), [x * 3 + 1 for x in range(10)])
    assert "runs as Python" in repr(p)


def test_builtins_and_math_functions_as_stages():
    data = [-2.5, -0.5, 0.5, 1.5, 2.5, 3.7]
    same(into_par_iter(data).map(abs).collect(), [abs(v) for v in data])
    same(into_par_iter(data).map(round).collect(), [round(v) for v in data])
    same(into_par_iter(data).map(int).collect(), [int(v) for v in data])
    same(into_par_iter(data).map(bool).collect(), [bool(v) for v in data])
    same(par_range(-3, 3).map(float).collect(), [float(x) for x in range(-3, 3)])
    same(par_range(0, 9).map(math.sqrt).collect(), [math.sqrt(x) for x in range(9)])
    same(par_range(0, 9).map(sqrt).sum(), sum(map(math.sqrt, range(9))))
    assert compiled(par_range(0, 9).map(math.sqrt))


# --- Free names ----------------------------------------------------------------------------

SCALE = 2


def test_global_becomes_a_parameter_without_recompiling():
    global SCALE

    def run():
        return par_range(0, 100).map(lambda x: x * SCALE).sum()

    try:
        SCALE = 2
        same(run(), 9900)
        n = plans()
        for SCALE in (3, -1, 0, 10**12):
            same(run(), sum(x * SCALE for x in range(100)))
        assert plans() == n
        assert "SCALE: int = 1000000000000" in fastiter.explain(
            par_range(0, 100).map(lambda x: x * SCALE)
        )
        SCALE = 0.5  # another type: another kernel, still exact
        same(run(), 2475.0)
        SCALE = True
        same(run(), 4950)
        SCALE = 2**80  # past 64 bits: not a kernel parameter, still exact
        same(run(), 4950 * 2**80)
    finally:
        SCALE = 2


def test_closure_cell_changes_are_seen():
    k = 1
    p = par_range(0, 10).map(lambda x: x + k).filter(lambda x: x % 2 == 0)
    same(p.sum(), sum(x + 1 for x in range(10) if (x + 1) % 2 == 0))
    n = plans()
    for k in range(2, 8):  # the lambdas read k
        same(p.sum(), sum(x + k for x in range(10) if (x + k) % 2 == 0))
    assert plans() == n
    assert "parameters:" in fastiter.explain(p) and "k: int = 7" in fastiter.explain(p)


def test_names_in_explain_parameters():
    lo, hi = 3, 7.5
    text = fastiter.explain(par_range(0, 10).filter(lambda x: lo < x < hi))
    assert "compiled: yes" in text
    assert "lo: int = 3" in text and "hi: float = 7.5" in text


GREETING = "hi"


def _helper(v):
    return v


@pytest.mark.parametrize(
    "make,name",
    [
        (lambda: par_range(0, 3).map(lambda x: GREETING * x), "GREETING"),
        (lambda: par_range(0, 3).map(lambda x: x * np.float64(1.5)), "np"),
    ],
)
def test_non_number_free_names_fall_back_naming_them(make, name):
    p = make()
    text = fastiter.explain(p)
    assert "compiled: no" in text
    assert f"`{name}`" in text
    assert f"{HERE}:" in text
    assert "runs as Python" in repr(p)


def test_numpy_scalar_free_name_falls_back_exactly():
    c = np.float64(1.5)
    i = np.int64(2**62)
    p = par_range(0, 4).map(lambda x: x * c)
    same(p.collect(), [x * c for x in range(4)])
    assert "`c`" in fastiter.explain(p)
    with np.errstate(over="ignore"):
        want = [x * i for x in range(4)]  # numpy's wrapping int64, as Python would give
    with np.errstate(over="ignore"):
        same(par_range(0, 4).map(lambda x: x * i).collect(), want)


def test_math_aliases_compile():
    p = par_range(1, 20).map(lambda x: m.sqrt(x) + m.pi).filter(lambda v: sqrt(v) > 2.0)
    assert compiled(p)
    same(p.collect(), [v for v in (math.sqrt(x) + math.pi for x in range(1, 20)) if sqrt(v) > 2.0])


def test_builtins_inside_lambdas():
    def f(x):
        return abs(x) + min(x, 2) + max(x, -1) + round(x / 3) + int(x / 2) + float(x) + bool(x)

    p = (
        par_range(-20, 20)
        .map(lambda x: abs(x) + min(x, 2) + max(x, -1))
        .map(lambda x: round(x / 3) + int(x / 2) + float(x) + bool(x))
    )
    assert compiled(p)
    same(
        p.collect(),
        [
            round(y / 3) + int(y / 2) + float(y) + bool(y)
            for y in (abs(x) + min(x, 2) + max(x, -1) for x in range(-20, 20))
        ],
    )
    same(par_range(-20, 20).map(f).collect(), [f(x) for x in range(-20, 20)])
    same(into_par_iter([0.5, 1.5, 2.5, -2.5]).map(lambda v: round(v)).collect(), [0, 2, 2, -2])
    same(into_par_iter([2.675, 1.005]).map(lambda v: round(v, 2)).collect(), [2.67, 1.0])


@settings(max_examples=40, deadline=None, database=None)
@given(a=st.integers(-(2**40), 2**40), b=st.floats(allow_nan=False, width=64))
def test_generated_parameter_values(a, b):
    p = par_range(-20, 20).map(lambda x: x * a).filter(lambda y: y > b)
    want = [y for y in (x * a for x in range(-20, 20)) if y > b]
    same(p.collect(), want)
    same(p.count(), len(want))


# --- run() ---------------------------------------------------------------------------------


def test_run_pipeline_text():
    same(
        fastiter.run("range(0, N).filter(x % 2 == 0).map(x * x).sum()", N=10**6),
        sum(x * x for x in range(0, 10**6, 2)),
    )
    same(fastiter.run("range(0, N).map(x / 2).sum()", N=10), 22.5)
    same(fastiter.run("range(0, N).filter(x > t).count()", N=10, t=4.5), 5)


def test_run_with_a_buffer():
    a = np.arange(10, dtype=np.float64)
    same(fastiter.run("data.map(x * x + 1).filter(x > 0.5).sum()", data=a), 295.0)
    b = np.arange(10, dtype=np.int32)
    same(fastiter.run("xs.map(x * k).collect()", xs=b, k=3), [x * 3 for x in range(10)])


def test_run_errors():
    with pytest.raises(fastiter.CompileError) as e:
        fastiter.run("range(10).map(x *).sum()")
    err = e.value
    assert err.line == 1
    assert err.column == 18
    assert "range(10).map(x *).sum()" in err.rendered
    # The marker sits under column 18 of the source line.
    lines = err.rendered.split("\n")
    src = next(i for i, s in enumerate(lines) if "range(10).map(x *).sum()" in s)
    offset = lines[src].index("range(10)")
    marker = lines[src + 1]
    assert marker[offset + 17] in "^─┬", marker
    with pytest.raises(fastiter.CompileError):
        fastiter.run("range(0, N).map(y * 2).sum()", N=3)  # unknown name
    with pytest.raises(TypeError):
        fastiter.run("range(0, N).sum()", N="3")
    with pytest.raises(ZeroDivisionError) as want:
        sum(10 // (x - 2) for x in range(5))
    with pytest.raises(ZeroDivisionError, match=f"^{want.value}$"):
        fastiter.run("range(0, N).map(10 // (x - 2)).sum()", N=5)


# --- @fastiter.compile ---------------------------------------------------------------------


@fastiter.compile
def even_squares(n, c):
    return par_range(0, n).filter(lambda x: x % 2 == 0).map(lambda x: x * x * c).sum()


def test_compile_decorator_arguments_are_parameters():
    same(even_squares(10, 1), 120)
    n = plans()
    same(even_squares(20, 3), 3 * sum(x * x for x in range(0, 20, 2)))
    same(even_squares(0, 3), 0)
    assert plans() == n
    same(even_squares(10, 0.5), 60.0)  # int -> float: a new kernel
    same(even_squares(10, True), 120)
    same(even_squares(10, 2**70), 120 * 2**70)
    assert even_squares.__name__ == "even_squares"
    assert "even_squares" in repr(even_squares)


@fastiter.compile(strict=True)
def strict_ok(n):
    return par_range(0, n).map(lambda x: x * 2).sum()


@fastiter.compile(strict=True)
def strict_bad(n):
    return par_range(0, n).map(lambda x: str(x)).collect()


def test_compile_strict():
    same(strict_ok(5), 20)
    with pytest.raises(fastiter.CompileError) as e:
        strict_bad(3)
    assert "`str`" in str(e.value)
    assert HERE in str(e.value)
    lines, first = inspect.getsourcelines(strict_bad.__wrapped__)
    assert e.value.line == first + next(i for i, s in enumerate(lines) if "return" in s)
    # Outside the decorated call the same code falls back.
    same(par_range(0, 3).map(lambda x: str(x)).collect(), ["0", "1", "2"])


# --- explain() and repr() ------------------------------------------------------------------


def test_explain_compiled_pipeline():
    text = fastiter.explain(par_range(0, 10).filter(lambda x: x % 3 == 0).map(lambda x: x * x))
    assert "compiled: yes" in text
    assert "IR:" in text
    assert "filter" in text and "map" in text
    assert "kernel source:" in text


def test_explain_fallback_pipeline():
    p = par_range(0, 10).map(lambda x: [x])
    text = fastiter.explain(p)
    assert "compiled: no" in text
    assert "reason:" in text
    p2 = par_range(0, 10).map(lambda x: GREETING + str(x))
    text2 = fastiter.explain(p2)
    assert "compiled: no" in text2 and f"{HERE}:" in text2 and "^" in text2
    assert "compiled: no" in fastiter.explain(par_range(0, 3).zip([1, 2]))


def test_explain_function():
    text = fastiter.explain(even_squares, 10, 2)
    assert "compiled: yes" in text and "c: int = 2" in text
    assert "compiled: yes" in even_squares.explain(10, 2.5)

    def plain(n):
        return par_range(0, n).map(lambda x: x + 1).sum() + 1  # None + 1 while explaining

    assert "compiled: yes" in fastiter.explain(plain, 5)
    assert "ran no pipeline" in fastiter.explain(lambda: 3)
    with pytest.raises(TypeError):
        fastiter.explain(42)


def test_repr():
    assert "compiles" in repr(par_range(0, 5).map(lambda x: x * 0.5))
    r = repr(par_range(0, 5).map(lambda x: str(x)))
    assert "runs as Python:" in r and "`str`" in r
    assert "runs as Python:" in repr(par_range(0, 5).flat_map(lambda x: [x]))


# --- Errors and refusals -------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "10 // (x - 5)",
        "10 % (x - 5)",
        "1.0 / (x - 5)",
        "7.5 % (x - 5)",
        "7.5 // (x - 5.0)",
        "(x - 5) ** -1",
        "(x - 5.0) ** -1",
        "math.sqrt(x - 5)",
        "math.log(x - 5)",
        "math.exp(x * 100)",
        "2.0 ** (x * 200)",
        "float(x * 10**400)",
        "int(x / 0.0)",
        "int(math.inf * (x + 1))",
        "int(math.nan * x)",
    ],
)
def test_kernel_exception_type_and_message(body, tmp_path):
    # A real module file, so that the lambda has source and compiles.
    mod = tmp_path / "stagemod.py"
    mod.write_text(f"import math\nf = lambda x: {body}\n")
    ns: dict = {"__file__": str(mod), "__name__": "stagemod"}
    exec(compile(mod.read_text(), str(mod), "exec"), ns)  # noqa: S102
    f = ns["f"]
    p = par_range(0, 20).map(f)
    with pytest.raises(Exception) as want:
        sum(map(f, range(20)))
    with pytest.raises(type(want.value)) as got:
        p.sum()
    assert type(got.value) is type(want.value)
    assert str(got.value) == str(want.value)


def test_refused_results_fall_back_to_cpython():
    same(par_range(0, 2**70).count(), 2**70)
    same(par_range(0, 2**70).sum(), (2**70 - 1) * 2**70 // 2)
    same(
        par_range(2**64, 2**64 + 10).map(lambda x: x + 1).collect(),
        list(range(2**64 + 1, 2**64 + 11)),
    )
    big = par_range(2**62, 2**62 + 3000).map(lambda x: x * x * x).sum()
    same(big, sum(x * x * x for x in range(2**62, 2**62 + 3000)))
    same(par_range(-3, 3).map(lambda x: x**0.5).collect(), [x**0.5 for x in range(-3, 3)])
    same(
        par_range(0, 5).map(lambda x: 10 ** (x * 10)).collect(), [10 ** (x * 10) for x in range(5)]
    )


def test_collect_array_equals_collect():
    for p in (
        par_range(0, 100).map(lambda x: x * x - 50),
        par_range(0, 100).map(lambda x: x / 7),
        par_range(0, 100).map(lambda x: x % 3 == 0),
        into_par_iter(np.linspace(0, 1, 33)).map(lambda v: v * v),
    ):
        a = p.collect_array()
        lst = p.collect()
        assert isinstance(a, np.ndarray)
        assert a.tolist() == lst
        assert [type(v) for v in a.tolist()] == [type(v) for v in lst]


def test_source_finding_in_generated_module(tmp_path):
    src = textwrap.dedent(
        """
        from fastiter import par_range
        K = 3
        def make(j):
            inner = lambda x: x * K + j; other = lambda x: x - j
            return par_range(0, 10).map(inner).map(other).map(
                lambda x: (x
                           # comment
                           + 1))
        """
    )
    mod = tmp_path / "genmod.py"
    mod.write_text(src)
    ns: dict = {"__file__": str(mod), "__name__": "genmod"}
    exec(compile(src, str(mod), "exec"), ns)  # noqa: S102
    p = ns["make"](4)
    same(p.collect(), [x * 3 + 4 - 4 + 1 for x in range(10)])
    assert compiled(p)


def test_source_edited_after_import_is_not_compiled(tmp_path):
    mod = tmp_path / "editedmod.py"
    mod.write_text("f = lambda x: x + 1\n")
    ns: dict = {"__file__": str(mod), "__name__": "editedmod"}
    exec(compile(mod.read_text(), str(mod), "exec"), ns)  # noqa: S102
    mod.write_text("f = lambda x: x * 100\n")  # same line, same argument, another body
    linecache.checkcache(str(mod))
    p = par_range(0, 5).map(ns["f"])
    same(p.collect(), [1, 2, 3, 4, 5])
    assert "does not compile to this function's code" in fastiter.explain(p)
    # Code compiled from a string under an existing file's name.
    ns2: dict = {}
    exec(compile("g = lambda x: x - 7\n", __file__, "exec"), ns2)  # noqa: S102
    same(par_range(0, 5).map(ns2["g"]).collect(), [-7, -6, -5, -4, -3])


def test_cached_refusal_does_not_keep_callers_frames():
    from fastiter import _source

    q = par_range(0, 3).map(_star_args)
    for _ in range(50):
        q.collect()
    cached = _source._templates[(_star_args.__code__, _star_args.__code__.co_filename, 1)]
    depth, tb = 0, cached.__traceback__
    while tb is not None:
        depth, tb = depth + 1, tb.tb_next
    assert depth < 10
