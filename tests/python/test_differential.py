"""Differential tests: generated pipelines, compiled result == plain CPython result.

Lambdas are generated as source text from a small typed expression grammar over ``x`` and turned
into real functions two ways:

* ``eval("lambda x: ...")``: such lambdas have no source file, so fastiter must either compile
  them from another source or fall back to plain Python;
* written into a temporary module file and imported, so that ``inspect.getsource`` works and the
  pipeline really compiles (several lambdas on one line, lambdas spread over lines, named
  functions, free variables that become runtime parameters).

The expected value is always computed by plain Python over ``range``/the list, lazily, element by
element, as sequential CPython would.  The compiled result must be equal in type and value
(``repr``-exact, so ``-0.0``/``0.0``, ``1``/``1.0``/``True`` and NaN matter), or raise the same
exception type.  Float sums are the one place where the contract allows a different (compensated,
chunked) order of additions: they are checked against the exact rational sum, and the distance
to ``math.fsum`` is reported by ``test_zz_report_float_sum_error``.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import math
import os
import sys
import tempfile
import traceback
from fractions import Fraction

import fastiter
import pytest
from _exact import EXAMPLES, hypothesis_settings, neumaier
from fastiter import get_num_threads, into_par_iter, par_range, set_num_threads
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

SETTINGS = hypothesis_settings(HealthCheck.filter_too_much, HealthCheck.large_base_example)

EPS = 2.0**-52

# ---------------------------------------------------------------------------------------------
# The expression grammar
# ---------------------------------------------------------------------------------------------

INT_CONSTS = ["0", "1", "2", "3", "5", "7", "10", "100", "(-1)", "(-2)", "(-7)"]
RARE_INT_CONSTS = ["2**31", "2**62", "(-2**63)", "(2**63 - 1)", "(2**64 + 1)", "10**18"]
FLOAT_CONSTS = ["0.0", "(-0.0)", "0.5", "(-1.5)", "2.0", "3.25", "0.1", "(-7.0)"]
RARE_FLOAT_CONSTS = [
    "1e-300",
    "1e300",
    "1e16",
    "5e-324",
    "math.inf",
    "(-math.inf)",
    "math.nan",
    "1.7976931348623157e308",
]


@st.composite
def int_leaf(draw, xty):
    choices = ["const", "const", "k"]
    if xty == "int":
        choices += ["x"] * 5
    elif xty == "bool":
        choices += ["x"]
    c = draw(st.sampled_from(choices))
    if c == "x":
        return "x"
    if c == "k":
        return "k"
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(RARE_INT_CONSTS))
    return draw(st.sampled_from(INT_CONSTS))


@st.composite
def float_leaf(draw, xty):
    choices = ["const", "const", "kf"]
    if xty == "float":
        choices += ["x"] * 5
    c = draw(st.sampled_from(choices))
    if c == "x":
        return "x"
    if c == "kf":
        return "kf"
    if draw(st.integers(0, 7)) == 0:
        return draw(st.sampled_from(RARE_FLOAT_CONSTS))
    return draw(st.sampled_from(FLOAT_CONSTS))


@st.composite
def num_expr(draw, xty, depth):
    """An int or a float expression (the type chosen by the draw)."""
    ty = draw(st.sampled_from(["int", "float"]))
    return draw(expr(ty, xty, depth))


@st.composite
def expr(draw, ty, xty, depth):
    """An expression of static type ``ty`` over ``x`` of type ``xty`` (every node parenthesized)."""
    if depth <= 0 or draw(st.integers(0, 3)) == 0:
        if ty == "int":
            return draw(int_leaf(xty))
        if ty == "float":
            return draw(float_leaf(xty))
        choices = ["True", "False"] + (["x", "x", "x"] if xty == "bool" else [])
        return draw(st.sampled_from(choices))
    d = depth - 1

    def sub(t):
        return draw(expr(t, xty, d))

    def num():
        return draw(num_expr(xty, d))

    if ty == "int":
        form = draw(
            st.sampled_from(
                ["+", "-", "*", "//", "%", "+", "*", "**", "neg", "abs", "min", "max"]
                + ["ifelse", "and", "or", "shift", "bit", "floor", "round", "int"]
            )
        )
        if form in ("+", "-", "*", "//", "%"):
            return f"({sub('int')} {form} {sub('int')})"
        if form == "**":
            return f"({sub('int')} ** {draw(st.integers(0, 4))})"
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
        if form == "shift":
            op = draw(st.sampled_from(["<<", ">>"]))
            return f"({sub('int')} {op} {draw(st.integers(0, 70))})"
        if form == "bit":
            op = draw(st.sampled_from(["&", "|", "^"]))
            return f"({sub('int')} {op} {sub('int')})"
        if form == "floor":
            return f"math.floor({sub('float')})"
        return f"{form}({sub('float')})"  # round / int

    if ty == "float":
        form = draw(
            st.sampled_from(
                ["+", "-", "*", "/", "/", "//", "%", "**", "neg_pow", "sqrt", "exp"]
                + ["neg", "abs", "min", "max", "ifelse", "and", "or", "float", "fabs"]
            )
        )
        if form in ("+", "-", "*"):
            a, b = draw(st.sampled_from([("float", "float"), ("float", "int"), ("int", "float")]))
            return f"({sub(a)} {form} {sub(b)})"
        if form == "/":
            return f"({num()} / {num()})"
        if form in ("//", "%"):
            if draw(st.booleans()):
                return f"({sub('float')} {form} {num()})"
            return f"({sub('int')} {form} {sub('float')})"
        if form == "**":
            e = draw(st.sampled_from(["0", "1", "2", "3", "(-1)", "(-2)", "0.5", "2.5", "(-0.5)"]))
            return f"({sub('float')} ** {e})"
        if form == "neg_pow":
            return f"({sub('int')} ** (-{draw(st.integers(1, 3))}))"
        if form in ("sqrt", "exp"):
            return f"math.{form}({num()})"
        if form == "fabs":
            return f"math.fabs({num()})"
        if form == "neg":
            return f"(-{sub('float')})"
        if form == "abs":
            return f"abs({sub('float')})"
        if form in ("min", "max"):
            return f"{form}({sub('float')}, {sub('float')})"
        if form == "ifelse":
            return f"({sub('float')} if {sub('bool')} else {sub('float')})"
        if form in ("and", "or"):
            return f"({sub('float')} {form} {sub('float')})"
        return f"float({sub('int')})"

    # bool
    form = draw(st.sampled_from(["cmp", "cmp", "cmp", "chain", "not", "and", "or", "bool"]))
    ops = ["<", "<=", "==", "!=", ">", ">="]
    if form == "cmp":
        return f"({num()} {draw(st.sampled_from(ops))} {num()})"
    if form == "chain":
        o1, o2 = draw(st.sampled_from(ops)), draw(st.sampled_from(ops))
        return f"({num()} {o1} {num()} {o2} {num()})"
    if form == "not":
        return f"(not {sub('bool')})"
    if form in ("and", "or"):
        return f"({sub('bool')} {form} {sub('bool')})"
    return f"bool({num()})"


# ---------------------------------------------------------------------------------------------
# Pipelines
# ---------------------------------------------------------------------------------------------

CONSUMERS = ["sum", "count", "min", "max", "any", "all", "reduce", "collect"]


@st.composite
def pipeline_spec(draw, xty):
    """([(kind, body), ...], (consumer, arg body or None)); bodies are expressions over x."""
    stages = []
    ty = xty
    for _ in range(draw(st.integers(1, 3))):
        depth = draw(st.integers(1, 3))
        if draw(st.booleans()):
            out = draw(st.sampled_from(["int", "int", "float", "float", "bool"]))
            stages.append(("map", draw(expr(out, ty, depth))))
            ty = out
        else:
            pty = draw(st.sampled_from(["bool", "bool", "bool", "int", "float"]))
            stages.append(("filter", draw(expr(pty, ty, depth))))
    name = draw(st.sampled_from(CONSUMERS + ["sum", "collect", "reduce_max", "fold_sum"]))
    arg = None
    if name in ("min", "max") and draw(st.booleans()):
        arg = draw(expr(draw(st.sampled_from(["int", "float"])), ty, draw(st.integers(0, 2))))
    if name in ("any", "all") and draw(st.integers(0, 3)) > 0:
        arg = draw(expr("bool", ty, draw(st.integers(0, 2))))
    if name == "reduce_max" and ty != "int":
        name = "reduce"
    return stages, (name, arg), ty


FREE_INT = st.sampled_from([0, 1, 2, 3, -1, -5, 7, 2**62, -(2**63), 2**65])
FREE_FLOAT = st.sampled_from([0.0, -0.0, 0.5, -2.5, 1e300, 1e-310, math.inf, math.nan, 3.0])

RANGE_BASES = [0, 0, 0, 0, 2**62, -(2**62), 2**63 - 40, -(2**63) + 40, 2**63, 10**18, 2**53]


@st.composite
def range_args(draw):
    start = draw(st.sampled_from(RANGE_BASES)) + draw(st.integers(-60, 60))
    step = draw(st.sampled_from([1, 1, 1, 2, 3, 5, 7, -1, -1, -2, -3, -7]))
    length = draw(st.one_of(st.integers(0, 40), st.integers(0, 400), st.integers(0, 3000)))
    stop = start + step * length + draw(st.integers(-3, 3))
    if step == 1 and draw(st.booleans()):
        return (start, stop)
    return (start, stop, step)


INT_ELEMS = st.one_of(
    st.integers(-10, 10),
    st.integers(-1000, 1000),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, 1, -1, 2**31, 2**53 + 1, 2**62, 2**63 - 1, -(2**63)]),
)
RARE_INT_ELEMS = st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**30, -(10**30)])
FLOAT_ELEMS = st.one_of(
    st.floats(-1e6, 1e6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 0.5, -1.5, 0.1, 1e16, 1.0, -1.0, 5e-324, 1e308, -1e308]),
)
RARE_FLOAT_ELEMS = st.sampled_from([math.inf, -math.inf, math.nan])


@st.composite
def list_input(draw, kinds=("int", "int", "int", "float", "float", "float", "mixed", "bool")):
    """(container, element type): a list or tuple of ints, floats, bools or a mix."""
    kind = draw(st.sampled_from(kinds))
    if kind == "int":
        elems = st.one_of(INT_ELEMS, INT_ELEMS, INT_ELEMS, RARE_INT_ELEMS)
        if draw(st.integers(0, 4)) > 0:
            elems = INT_ELEMS
    elif kind == "float":
        elems = st.one_of(FLOAT_ELEMS, FLOAT_ELEMS, FLOAT_ELEMS, RARE_FLOAT_ELEMS)
    elif kind == "bool":
        elems = st.booleans()
    else:
        elems = st.one_of(INT_ELEMS, FLOAT_ELEMS, st.booleans())
    if draw(st.integers(0, 3)) == 0:
        # a long input, drawn from a small pool with a seeded generator
        pool = draw(st.lists(elems, min_size=1, max_size=12))
        rng = draw(st.randoms(use_true_random=False))
        data = [rng.choice(pool) for _ in range(draw(st.integers(0, 5000)))]
    else:
        data = draw(st.lists(elems, max_size=60))
    if draw(st.integers(0, 4)) == 0:
        data = tuple(data)
    xty = {"mixed": draw(st.sampled_from(["int", "float"]))}.get(kind, kind)
    return data, xty


# ---------------------------------------------------------------------------------------------
# Building the lambdas
# ---------------------------------------------------------------------------------------------


def eval_lambda(body, k, kf):
    return eval("lambda x: " + body, {"math": math, "k": k, "kf": kf})


def apply_consumer(p, consumer, make):
    name, arg = consumer
    if name == "sum":
        return p.sum()
    if name == "count":
        return p.count()
    if name == "collect":
        return p.collect()
    if name in ("min", "max"):
        fn = getattr(p, name)
        return fn() if arg is None else fn(key=make(arg))
    if name in ("any", "all"):
        fn = getattr(p, name)
        return fn() if arg is None else fn(make(arg))
    if name == "reduce":
        return p.reduce(lambda: 0, lambda a, b: a + b)
    if name == "reduce_max":
        return p.reduce(lambda: 0, lambda a, b: max(a, b))
    if name == "fold_sum":
        return p.fold(lambda: 0, lambda a, b: a + b).sum()
    raise AssertionError(name)


def build_eval(src, stages, consumer, k, kf):
    """The pipeline built from eval'd lambdas (no source file) and consumed."""

    def make(body):
        return eval_lambda(body, k, kf)

    p = src
    for kind, body in stages:
        p = getattr(p, kind)(make(body))
    return apply_consumer(p, consumer, make)


_MODULE_DIR = tempfile.mkdtemp(prefix="fastiter_diff_")
_module_counter = itertools.count()


def consumer_source(consumer, lam):
    name, arg = consumer
    if name in ("sum", "count", "collect"):
        return f".{name}()"
    if name in ("min", "max"):
        return f".{name}()" if arg is None else f".{name}(key={lam(arg)})"
    if name in ("any", "all"):
        return f".{name}()" if arg is None else f".{name}({lam(arg)})"
    if name == "reduce":
        return ".reduce(lambda: 0, lambda a, b: a + b)"
    if name == "reduce_max":
        return ".reduce(lambda: 0, lambda a, b: max(a, b))"
    return ".fold(lambda: 0, lambda a, b: a + b).sum()"


def module_source(stages, consumer, layout):
    """A module defining ``run(src, k, kf)`` (the whole pipeline) and ``pipe`` (no consumer)."""
    defs = []

    if layout == "named":
        names = {}

        def lam(body):
            if body not in names:
                names[body] = f"f{len(names)}"
                defs.append(f"def {names[body]}(x):\n    return {body}\n")
            return names[body]

    elif layout == "split":

        def lam(body):
            # the body spread over two lines, inside its own parentheses
            return f"lambda x: (\n            {body}\n        )"

    else:

        def lam(body):
            return f"lambda x: {body}"

    chain = [f".{kind}({lam(body)})" for kind, body in stages]
    tail = consumer_source(consumer, lam)
    if layout == "oneline":
        pipe_expr = "src" + "".join(chain)
        run_body = f"    return {pipe_expr}{tail}\n"
        pipe_body = f"    return {pipe_expr}\n"
    else:
        inner = "".join(f"\n        {c}" for c in chain)
        run_body = f"    return (\n        src{inner}\n        {tail}\n    )\n"
        pipe_body = f"    return (\n        src{inner}\n    )\n"
    closure = "    k, kf = k, kf\n"
    if layout == "named":
        # named functions read k/kf as module globals
        return (
            "import math\n\nk = kf = None\n\n"
            + "\n".join(defs)
            + "\ndef run(src, k_, kf_):\n    global k, kf\n    k, kf = k_, kf_\n"
            + run_body
            + "\n\ndef pipe(src, k_, kf_):\n    global k, kf\n    k, kf = k_, kf_\n"
            + pipe_body
        )
    return (
        "import math\n\n\ndef run(src, k, kf):\n"
        + closure
        + run_body
        + "\n\ndef pipe(src, k, kf):\n"
        + closure
        + pipe_body
    )


def import_module_source(text):
    name = f"_fastiter_gen_{os.getpid()}_{next(_module_counter)}"
    path = os.path.join(_MODULE_DIR, name + ".py")
    with open(path, "w") as f:
        f.write(text)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


# ---------------------------------------------------------------------------------------------
# The reference and the comparison
# ---------------------------------------------------------------------------------------------


class Raised:
    def __init__(self, exc):
        self.exc = exc

    def __repr__(self):
        return f"Raised({type(self.exc).__name__}: {self.exc})"


def reference(data, stages, consumer, k, kf):
    """(kind, value, elements): plain sequential Python, lazily, element by element."""
    elements = []

    def recorded(it):
        for v in it:
            elements.append(v)
            yield v

    it = iter(data)
    for kind, body in stages:
        f = eval_lambda(body, k, kf)
        it = map(f, it) if kind == "map" else filter(f, it)
    name, arg = consumer
    it = recorded(it)
    try:
        if name in ("sum", "fold_sum"):
            value = sum(it)
        elif name == "count":
            value = sum(1 for _ in it)
        elif name == "collect":
            value = list(it)
        elif name in ("min", "max"):
            fn = min if name == "min" else max
            if arg is None:
                value = fn(it, default=None)
            else:
                value = fn(it, key=eval_lambda(arg, k, kf), default=None)
        elif name in ("any", "all"):
            fn = any if name == "any" else all
            if arg is None:
                value = fn(it)
            else:
                pred = eval_lambda(arg, k, kf)
                value = fn(pred(v) for v in it)
        elif name == "reduce":
            value = functools.reduce(lambda a, b: a + b, it, 0)
        elif name == "reduce_max":
            value = functools.reduce(max, it, 0)
        else:
            raise AssertionError(name)
    except Exception as e:  # noqa: BLE001 - any exception is a valid expected outcome
        return Raised(e), elements
    return value, elements


def same(a, b):
    """Exact equality: same type and same value, -0.0 != 0.0, nan == nan."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return repr(a) == repr(b)
    if isinstance(a, complex):
        return repr(a) == repr(b)
    return a == b


FLOAT_SUM_STATS = {"count": 0, "max_ulps_from_fsum": 0.0, "worst": None}


def check_float_total(got, elements, compensated, what):
    """A float total of ``elements`` (all int/float/bool, at least one float) is acceptable.

    compensated: sum() (Neumaier in chunks: within a few ulps of the exact sum);
    otherwise reduce(+) (any association: the naive error bound n * eps * sum|v|).
    """
    assert type(got) is float, f"{what}: expected a float, got {got!r}"
    floats = [v for v in elements if isinstance(v, float)]
    if any(math.isnan(v) for v in floats):
        assert math.isnan(got), f"{what}: a NaN element, got {got!r}"
        return
    pos_inf = any(v == math.inf for v in floats)
    neg_inf = any(v == -math.inf for v in floats)
    finite = [v for v in elements if not (isinstance(v, float) and math.isinf(v))]
    exact = sum(Fraction(v) for v in finite)
    sum_abs = sum(abs(Fraction(v)) for v in finite)
    may_overflow = sum_abs > Fraction(2**1023)
    if pos_inf and neg_inf:
        assert math.isnan(got), f"{what}: inf and -inf elements, got {got!r}"
        return
    if pos_inf or neg_inf:
        want = math.inf if pos_inf else -math.inf
        ok = got == want or (may_overflow and math.isnan(got))
        assert ok, f"{what}: an infinite element, got {got!r}"
        return
    try:
        exact_f = float(exact)
    except OverflowError:
        want = math.inf if exact > 0 else -math.inf
        assert got == want or (may_overflow and math.isnan(got)), (
            f"{what}: the exact sum overflows to {want!r}, got {got!r}"
        )
        return
    if not math.isfinite(got):
        assert may_overflow, f"{what}: exact sum {exact_f!r} has no overflow, got {got!r}"
        return
    err = abs(Fraction(got) - exact)
    n = len(elements)
    if compensated:
        ref = neumaier(elements)
        ref_err = abs(Fraction(ref) - exact) if math.isfinite(ref) else Fraction(0)
        bound = 2 * ref_err + 2 * Fraction(math.ulp(exact_f)) + 4 * n * Fraction(EPS) ** 2 * sum_abs
        ulps = float(err / Fraction(math.ulp(exact_f)))
        FLOAT_SUM_STATS["count"] += 1
        if ulps > FLOAT_SUM_STATS["max_ulps_from_fsum"]:
            FLOAT_SUM_STATS["max_ulps_from_fsum"] = ulps
            FLOAT_SUM_STATS["worst"] = (got, exact_f, n)
        event(f"float sum: {'exact' if err == 0 else '<=1ulp' if ulps <= 1 else '>1ulp'} vs fsum")
    else:
        bound = Fraction(math.ulp(exact_f)) + (n + 1) * Fraction(EPS) * sum_abs
    assert err <= bound, (
        f"{what}: got {got!r}, exact sum {exact_f!r}: error {float(err):.3g} > bound "
        f"{float(bound):.3g} over {n} elements"
    )
    if got == 0:
        # CPython's float sums start from the int 0: they are never -0.0
        assert repr(got) == "0.0", f"{what}: got {got!r}, CPython's sum is never -0.0"


def check(got, expected, elements, consumer, what):
    event(f"expected: {type(expected.exc if isinstance(expected, Raised) else expected).__name__}")
    if isinstance(expected, Raised):
        assert isinstance(got, Raised), f"{what}: expected {expected!r}, got {got!r}"
        assert type(got.exc) is type(expected.exc), f"{what}: expected {expected!r}, got {got!r}"
        return
    if isinstance(got, Raised):
        tb = "".join(traceback.format_exception(type(got.exc), got.exc, got.exc.__traceback__))
        pytest.fail(f"{what}: expected {expected!r}, got {got!r}\n{tb}")
    name = consumer[0]
    if name in ("sum", "fold_sum", "reduce") and isinstance(expected, float):
        numeric = all(isinstance(v, (int, float)) for v in elements)
        if same(got, expected):  # exactly CPython's own sum (e.g. on the Python fallback)
            return
        if numeric:
            check_float_total(got, elements, name == "sum", what)
            return
    if isinstance(expected, complex) and name in ("sum", "fold_sum", "reduce"):
        if type(got) is complex and repr(got) == repr(expected):
            return
        assert type(got) is complex and abs(got - expected) <= 1e-9 * (
            1 + sum(abs(v) for v in elements)
        ), f"{what}: expected {expected!r}, got {got!r}"
        return
    assert same(got, expected), f"{what}: expected {expected!r}, got {got!r}"


def outcome(fn):
    try:
        return fn()
    except Exception as e:  # noqa: BLE001
        return Raised(e)


def describe(src_desc, stages, consumer):
    text = src_desc + "".join(f".{kind}(lambda x: {body})" for kind, body in stages)
    name, arg = consumer
    return text + f".{name}({'' if arg is None else 'lambda x: ' + arg})"


# ---------------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------------


@st.composite
def range_case(draw):
    args = draw(range_args())
    stages, consumer, _ = draw(pipeline_spec("int"))
    return ("range", args), stages, consumer, draw(FREE_INT), draw(FREE_FLOAT)


@st.composite
def list_case(draw):
    data, xty = draw(list_input())
    stages, consumer, _ = draw(pipeline_spec(xty))
    return ("list", data), stages, consumer, draw(FREE_INT), draw(FREE_FLOAT)


def materialize(source):
    """(make the fastiter source, the Python data, a description)."""
    kind, args = source
    if kind == "range":
        return (lambda: par_range(*args)), range(*args), f"par_range{args}"
    desc = f"into_par_iter({type(args).__name__} of {len(args)}: {list(args)[:8]!r}...)"
    return (lambda: into_par_iter(args)), args, desc


def _run_eval(source, stages, consumer, k, kf):
    make, data, desc = materialize(source)
    what = describe(desc, stages, consumer) + f"  [k={k!r}, kf={kf!r}]"
    note(what)
    expected, elements = reference(data, stages, consumer, k, kf)
    got = outcome(lambda: build_eval(make(), stages, consumer, k, kf))
    check(got, expected, elements, consumer, what)


def _run_module(source, stages, consumer, frees, layout):
    make, data, desc = materialize(source)
    text = module_source(stages, consumer, layout)
    note(text)
    mod = import_module_source(text)
    try:
        explained = fastiter.explain(mod.pipe(make(), *frees[0]))
        assert isinstance(explained, str) and explained
        for k, kf in frees:
            what = describe(desc, stages, consumer) + f"  [k={k!r}, kf={kf!r}, {layout}]"
            expected, elements = reference(data, stages, consumer, k, kf)
            got = outcome(lambda k=k, kf=kf: mod.run(make(), k, kf))
            check(got, expected, elements, consumer, what)
    finally:
        sys.modules.pop(mod.__name__, None)


LAYOUTS = st.sampled_from(["oneline", "multiline", "split", "named"])


@SETTINGS
@given(range_case())
def test_par_range_eval_lambdas(case):
    _run_eval(*case)


@SETTINGS
@given(range_case(), LAYOUTS)
def test_par_range_module_lambdas(case, layout):
    source, stages, consumer, k, kf = case
    _run_module(source, stages, consumer, [(k, kf)], layout)


@SETTINGS
@given(list_case())
def test_into_par_iter_eval_lambdas(case):
    _run_eval(*case)


@SETTINGS
@given(list_case(), LAYOUTS)
def test_into_par_iter_module_lambdas(case, layout):
    source, stages, consumer, k, kf = case
    _run_module(source, stages, consumer, [(k, kf)], layout)


@settings(SETTINGS, max_examples=max(1, EXAMPLES * 2 // 5))
@given(
    st.one_of(range_case(), list_case()),
    st.lists(st.tuples(FREE_INT, FREE_FLOAT), min_size=2, max_size=4),
    LAYOUTS,
)
def test_free_variables_are_parameters_not_stale(case, frees, layout):
    """The same compiled code called with different free-variable values: no stale results."""
    source, stages, consumer, _, _ = case
    _run_module(source, stages, consumer, frees, layout)


@st.composite
def float_sum_case(draw):
    """Float lists mapped by a float expression and summed: the compensated sum, in depth."""
    data, _ = draw(list_input(kinds=("float",)))
    body = draw(expr("float", "float", draw(st.integers(0, 2))))
    name = draw(st.sampled_from(["sum", "sum", "reduce", "fold_sum"]))
    return ("list", data), [("map", body)], (name, None), draw(FREE_INT), draw(FREE_FLOAT)


@SETTINGS
@given(float_sum_case(), LAYOUTS)
def test_float_sums(case, layout):
    source, stages, consumer, k, kf = case
    _run_module(source, stages, consumer, [(k, kf)], layout)


@st.composite
def big_case(draw):
    """Inputs long enough to be split in many chunks and run on several threads."""
    n = draw(st.integers(10_000, 120_000))
    kind = draw(st.sampled_from(["range", "float_list", "int_list"]))
    rng = draw(st.randoms(use_true_random=False))
    if kind == "range":
        start = draw(st.sampled_from([0, -(10**6), 2**62, -(2**62)]))
        step = draw(st.sampled_from([1, 3, -1, -7]))
        args = (start, start + step * n, step)
        return ("range", args, range(*args)), "int"
    if kind == "int_list":
        data = [rng.randint(-(2**40), 2**40) for _ in range(n)]
        return ("list", data, data), "int"
    scale = draw(st.sampled_from([1.0, 1e-3, 1e10, 1e300]))
    data = [rng.uniform(-1, 1) * scale for _ in range(n)]
    for _ in range(draw(st.integers(0, 3))):
        data[rng.randrange(n)] = draw(st.sampled_from([math.nan, math.inf, -math.inf, -0.0]))
    return ("list", data, data), "float"


@settings(SETTINGS, max_examples=max(1, EXAMPLES // 20))
@given(big_case(), st.data())
def test_large_inputs_and_thread_count_invariance(big, data):
    """Many chunks: same answers as Python, and bit-identical results at 1, 2 and 7 threads."""
    (kind, args, pydata), xty = big
    stages, consumer, _ = data.draw(pipeline_spec(xty))
    k, kf = data.draw(FREE_INT), data.draw(FREE_FLOAT)
    if kind == "range":
        source = lambda: par_range(*args)
        desc = f"par_range{args}"
    else:
        source = lambda: into_par_iter(args)
        desc = f"into_par_iter(<{len(args)} {xty}s>)"
    text = module_source(stages, consumer, "multiline")
    note(text)
    mod = import_module_source(text)
    before = get_num_threads()
    try:
        what = describe(desc, stages, consumer)
        expected, elements = reference(pydata, stages, consumer, k, kf)
        results = {}
        for threads in (1, 2, 7):
            set_num_threads(threads)
            results[threads] = outcome(lambda: mod.run(source(), k, kf))
            check(results[threads], expected, elements, consumer, f"{what} at {threads} threads")
        reprs = {t: repr(r) for t, r in results.items()}
        assert len(set(reprs.values())) == 1, f"{what}: results differ by thread count: {reprs}"
    finally:
        set_num_threads(before)
        sys.modules.pop(mod.__name__, None)


def test_zz_report_float_sum_error():
    """Reports (does not hide) the largest distance of a float sum() to math.fsum seen above."""
    stats = FLOAT_SUM_STATS
    print(
        f"\nfloat sums checked: {stats['count']}; largest distance to the exact sum: "
        f"{stats['max_ulps_from_fsum']:.3g} ulp (got, exact, n = {stats['worst']})"
    )


def test_generated_module_layouts_compile():
    """The generated module text is valid Python for every layout (a guard on the generator)."""
    stages = [("map", "(x * 2)"), ("filter", "(x > 3)")]
    for layout in ("oneline", "multiline", "split", "named"):
        for consumer in [("sum", None), ("min", "(-x)"), ("any", "(x > 5)"), ("fold_sum", None)]:
            compile(module_source(stages, consumer, layout), "<gen>", "exec")
