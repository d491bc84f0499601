"""Finding a stage's source in a module of many pipelines (issue #14).

A file's text is parsed once however many chains it holds (the statement of each function on
its own, or the whole module when that is not enough), an edited file is read and parsed
again, and every way of writing lambdas is still found: several on a line, nested, in defs,
classes and comprehensions, around strings that look like code.
"""

from __future__ import annotations

import ast
import importlib
import linecache
import math
import sys

import fastiter
import pytest
from fastiter import _pipeline, _source, par_range

np = pytest.importorskip("numpy")


def last_plan_compiled():
    """Whether the plan the last new chain made is a native kernel (not Python's fallback)."""
    plan = next(reversed(_pipeline._plans.values()))
    return plan.kernel is not None, plan.error


def same(got, want):
    assert type(got) is type(want), f"{got!r} ({type(got).__name__}) != {want!r}"
    if isinstance(want, float):
        # Compiled float sums are compensated: the last bits may differ from CPython's.
        assert got == pytest.approx(want, rel=1e-12)
    else:
        assert got == want


@pytest.fixture
def module(tmp_path, monkeypatch):
    """Writes ``text`` as a module in ``tmp_path`` and imports it, fresh."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written = []

    def load(name, text):
        path = tmp_path / f"{name}.py"
        path.write_text(text)
        written.append((name, str(path)))
        sys.modules.pop(name, None)
        importlib.invalidate_caches()
        return importlib.import_module(name), path

    yield load
    for name, path in written:
        sys.modules.pop(name, None)
        linecache.cache.pop(path, None)


# --- A module of many pipelines: one parse --------------------------------------------------

# (the chain and its consumer, what CPython computes), {i} the pipeline's number.
_KINDS = (
    (
        "par_range(0, 300).filter(lambda x: x % 3 == {r}).map(lambda x: x * x + {i}).sum()",
        "sum(x * x + {i} for x in range(300) if x % 3 == {r})",
    ),
    ("par_range(0, 300).any(lambda x: x == 300 - {i})", "any(x == 300 - {i} for x in range(300))"),
    (
        "into_par_iter(arr).filter(lambda v: v > 0.{i}).map(lambda v: v * v).sum()",
        "sum(v * v for v in arr.tolist() if v > 0.{i})",
    ),
    (
        "par_range(1, 200).map(lambda x: math.sqrt(x) + {i}).max()",
        "max(math.sqrt(x) + {i} for x in range(1, 200))",
    ),
)


def _many(lines, chains):
    out = [
        "import math",
        "",
        "import numpy as np",
        "from fastiter import into_par_iter, par_range",
        "",
        "arr = np.linspace(0.0, 1.0, 500)",
        "",
    ]
    gap = (lines - len(out)) // chains - 8
    for i in range(chains):
        chain, want = _KINDS[i % len(_KINDS)]
        out += [
            f"def chain_{i}():",
            f"    # pipeline {i}",
            f"    return {chain.format(i=i + 1, r=i % 3)}",
            "",
            "",
            f"def want_{i}():",
            f"    return {want.format(i=i + 1, r=i % 3)}",
            "",
        ]
        out += [f"FILLER_{i}_{k} = {k}" for k in range(gap)]
    out += [""] * (lines - len(out))
    return "\n".join(out[:lines]) + "\n"


def test_many_pipelines_parse_the_file_once(module):
    text = _many(2000, 100)
    assert text.count("\n") == 2000
    parses, lines = _source._parses, _source._parsed_lines
    mod, _ = module("fi_many_pipelines", text)
    for i in range(100):
        got = getattr(mod, f"chain_{i}")()  # the chain's first call
        assert last_plan_compiled() == (True, None), i
        same(got, getattr(mod, f"want_{i}")())
    # Each line of the file parsed at most once, not the whole module once per chain.
    assert _source._parsed_lines - lines <= 2000
    assert _source._parses - parses <= 1


# --- An edited file ---------------------------------------------------------------------------

_V1 = """\
from fastiter import par_range

def chain():
    return par_range(0, 50).map(lambda x: x + 1).filter(lambda x: x % 2 == 0).sum()

stale = lambda x: x * 3
"""

# Other lambdas on the same lines (and another length, which is how linecache and the import
# system see that the file changed within the same second).
_V2 = """\
from fastiter import par_range

def chain():
    return par_range(0, 50).map(lambda x: x * 10).filter(lambda x: x % 3 == 0).sum()

stale = lambda x: x - 1000
"""


def test_edited_file_is_parsed_again(module):
    mod, path = module("fi_edited", _V1)
    assert mod.chain() == sum(x + 1 for x in range(50) if (x + 1) % 2 == 0)
    assert last_plan_compiled() == (True, None)
    old_stale = mod.stale  # never run before the edit
    lines = _source._parsed_lines
    path.write_text(_V2)
    mod = importlib.reload(mod)
    # The new chain: found in the new text (read again, parsed again) and compiled.
    assert mod.chain() == sum(x * 10 for x in range(50) if (x * 10) % 3 == 0)
    assert last_plan_compiled() == (True, None)
    assert _source._parsed_lines > lines
    assert par_range(0, 5).map(mod.stale).collect() == [x - 1000 for x in range(5)]
    # A function of the old text: its line now holds other source, so it runs as Python,
    # with its own (right) results.
    p = par_range(0, 5).map(old_stale)
    assert p.collect() == [0, 3, 6, 9, 12]
    assert "does not compile to this function's code" in fastiter.explain(p)


def test_function_past_the_end_of_a_shorter_file(module):
    mod, path = module(
        "fi_shrunk", "from fastiter import par_range\n" + "\n" * 8 + "far = lambda x: x + 5\n"
    )
    path.write_text("x = 1\n")
    linecache.checkcache(str(path))
    p = par_range(0, 4).map(mod.far)
    assert p.collect() == [5, 6, 7, 8]
    assert "not found at line 10" in fastiter.explain(p)


# --- Every way of writing a lambda ------------------------------------------------------------

_VARIED = '''\
import math

from fastiter import par_range

DOC = """
text in column 0, as a docstring may hold
lambda x: x + 999
"""


def several_on_a_line(n):
    return par_range(0, n).map(lambda x: x + 1).filter(lambda x: x % 3 == 0).map(lambda x: x * 7)


def identical_on_a_line(n):
    return par_range(0, n).map(lambda x: x + 1).map(lambda x: x + 1)


make = lambda k: (lambda x: x * k + 1)  # the stage is the inner lambda
shadow = lambda x: (lambda x: x - 4)  # the same line and argument names: the bytecode decides


def nested(n):
    return par_range(0, n).map(make(3)), par_range(0, n).map(shadow(0))


def step(x):
    return x * 2 + 1


def in_a_def(n):
    def inner(x):
        return x % 7

    return par_range(0, n).map(step).map(inner).map(lambda x: x + 100)


class Pipelines:
    k = 5

    def method(self, n):
        return par_range(0, n).map(lambda x: x * 3).filter(lambda x: x % 2 == 1)

    @staticmethod
    def decorated(n):
        return par_range(0, n).map(
            lambda x: (x
                       # a comment inside
                       - 2)
        )


def in_a_comprehension(n):
    return [par_range(0, n).map(lambda x: x + j) for j in range(3)]


def comprehension_inside(n):
    return par_range(0, n).map(lambda x: sum(y * y for y in range(x % 5)))


def with_math(n):
    return par_range(1, n).map(lambda x: math.floor(math.sqrt(x)))


def after_a_string(n):
    s = """
x = 1
"""
    return par_range(0, n).map(lambda x: x - 9)  # its statement starts before the string


if True:
    try:
        import math as m2
    except ImportError:
        m2 = None

    def under_an_if(n):
        return par_range(1, n).map(lambda x: m2.log(x))


@lambda f: f
def decorated_by_a_lambda(n):
    return par_range(0, n).map(lambda x: -x)
'''


def test_every_way_of_writing_lambdas(module):
    parses = _source._parses
    mod, _ = module("fi_varied", _VARIED)
    n = 40
    r = range(n)
    cases = [
        (mod.several_on_a_line(n), [(x + 1) * 7 for x in r if (x + 1) % 3 == 0]),
        (mod.identical_on_a_line(n), [x + 2 for x in r]),
        (mod.nested(n)[0], [x * 3 + 1 for x in r]),
        (mod.nested(n)[1], [x - 4 for x in r]),
        (mod.in_a_def(n), [(x * 2 + 1) % 7 + 100 for x in r]),
        (mod.Pipelines().method(n), [x * 3 for x in r if x * 3 % 2 == 1]),
        (mod.Pipelines.decorated(n), [x - 2 for x in r]),
        # Late binding, as in Python: every lambda reads the comprehension's last `j`.
        *[(p, [x + 2 for x in r]) for p in mod.in_a_comprehension(n)],
        (mod.comprehension_inside(n), [sum(y * y for y in range(x % 5)) for x in r]),
        (mod.with_math(n), [math.floor(math.sqrt(x)) for x in range(1, n)]),
        (mod.after_a_string(n), [x - 9 for x in r]),
        (mod.under_an_if(n), [math.log(x) for x in range(1, n)]),
        (mod.decorated_by_a_lambda(n), [-x for x in r]),
    ]
    for i, (p, want) in enumerate(cases):
        assert p.collect() == want, i
        assert last_plan_compiled() == (True, None), (i, fastiter.explain(p))
    # The statement after the string is the one its lines misplace: the whole module is
    # parsed for it, once.
    assert _source._parses - parses == 1


def test_source_segment_is_get_source_segment():
    texts = [
        "f = lambda x: (x +\n   1)\n",
        "a = 1\r\nf = lambda x: (x\r\n + 2)\r\n",
        "a = 1\rf = lambda x: (x\r + 3)\r",
        "s = 'é€'; f = lambda x: (x,\n 'ü')  # ü\n",
        "a = 1\n\x0cb = 2\nf = lambda x: [x,\n\x0c x]",
    ]
    for text in texts:
        for node in ast.walk(ast.parse(text)):
            if hasattr(node, "end_col_offset"):
                want = ast.get_source_segment(text, node)
                assert _source.source_segment(text, node) == want, (text, ast.dump(node))
