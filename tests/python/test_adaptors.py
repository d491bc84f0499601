"""Rayon-style adaptors and consumers (issue #4): ``enumerate``, ``take``, ``skip``, ``step_by``,
``chain``, ``zip``, ``flat_map``; ``product``, ``find_first``/``find_any``,
``position_first``/``position_any``, ``min_by_key``/``max_by_key`` (and ``min``/``max`` with a
key).

Every result is compared with a reference written here in plain Python (``itertools.islice``,
``enumerate``, ``itertools.chain``, ``math.prod``, ``next(...)``, ``min(..., key=, default=None)``),
type- and ``repr``-exact, and every exception with the reference's type and message, whether the
chain compiles or runs as Python. Early exits are checked: an exception past the answer is not
raised, and a Python stage is called on exactly the elements sequential Python calls it on.
"""

from __future__ import annotations

import itertools
import math
import os
import sys

import fastiter
import pytest
from fastiter import _pipeline, get_num_threads, into_par_iter, par_range, set_num_threads
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

np = pytest.importorskip("numpy")

SETTINGS = settings(
    max_examples=int(os.environ.get("FASTITER_ADAPTOR_EXAMPLES", "150")),
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)


def same(got, want):
    """Equal in type and value (floats by repr: -0.0, nan and 1 vs 1.0 vs True matter)."""
    assert type(got) is type(want), f"{got!r:.200} ({type(got).__name__}) != {want!r:.200}"
    if type(want) is int:  # products pass repr's 4300-digit limit
        assert got == want, f"{got:.6e} != {want:.6e}"
    else:
        assert repr(got) == repr(want), f"{got!r} != {want!r}"


def outcome(fn):
    """('ok', value) or ('raise', type, message)."""
    try:
        return ("ok", fn())
    except Exception as e:  # noqa: BLE001 - compared below
        return ("raise", type(e), str(e))


def same_outcome(got_fn, want_fn, terms_fn=None):
    """``got_fn()`` returns what ``want_fn()`` returns, or raises what it raises. With
    ``terms_fn`` (the summed elements), a finite float sum may differ from CPython's
    left-to-right ``sum`` in the last bits: compiled sums are compensated (SEMANTICS.md)."""
    want = outcome(want_fn)
    got = outcome(got_fn)
    if want[0] == "raise":
        assert got[0] == "raise", f"expected {want[1].__name__}: {want[2]}, got {got!r}"
        assert got[1] is want[1] and got[2] == want[2], f"{got!r} != {want!r}"
        return
    assert got[0] == "ok", f"expected {want[1]!r}, got {got[1].__name__}: {got[2]}"
    if terms_fn is not None and type(want[1]) is float and math.isfinite(want[1]):
        assert type(got[1]) is float
        bound = 1e-9 * math.fsum(map(abs, terms_fn())) + 1e-300
        assert abs(got[1] - want[1]) <= bound, f"{got[1]!r} vs {want[1]!r}"
    else:
        same(got[1], want[1])


@pytest.fixture
def threads():
    before = get_num_threads()
    yield
    set_num_threads(before)


# --- Stage and consumer functions (lambdas in this file, so that they can compile) -----------

NUM_MAPS = [
    lambda x: x * 3 - 1,
    lambda x: x // 3,
    lambda x: 100 // (x % 7),  # ZeroDivisionError on multiples of 7
    lambda x: x * 0.5,
    lambda x: -x,
    lambda x: x % 5,
]
NUM_PREDS = [
    lambda x: x % 3 == 0,
    lambda x: x > 0,
    lambda x: 10 // (x % 4) > 2,  # ZeroDivisionError on multiples of 4
    lambda x: x < -1,
]
PAIR_MAPS = [
    lambda t: t[0] * 2 + t[1],
    lambda t: t[1] - t[0],
    lambda t: t[0],
]
FLATS = [
    lambda x: range(int(x) % 4),
    lambda x: range(0, int(x) % 5, 2),
]
KEYS = [
    lambda x: x % 5,
    lambda x: -x,
    lambda x: abs(x) % 3,
    lambda x: 1 // (x % 9),  # ZeroDivisionError on multiples of 9
]


# --- Generated inputs -------------------------------------------------------------------------

BIG = [0, 1, -1, 5, -7, 2**31, 2**62, 2**63 - 3, -(2**63) + 2, 2**64, 2**70, -(2**70)]


@st.composite
def ranges(draw, max_len=120):
    start = draw(st.one_of(st.integers(-50, 50), st.sampled_from(BIG)))
    step = draw(
        st.one_of(
            st.sampled_from([1, 1, 2, 3, -1, -2, -3, 7]),
            st.sampled_from([10**12, -(10**12), 2**62, -(2**63), 2**64]),
        )
    )
    n = draw(st.integers(0, max_len))
    stop = start + step * n
    if draw(st.booleans()):
        stop += draw(st.integers(-abs(step) + 1, abs(step) - 1))
    if draw(st.integers(0, 9)) == 0:
        stop = start - step * draw(st.integers(0, 3))  # empty
    return range(start, stop, step)


floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
small_floats = st.floats(-1e6, 1e6, allow_nan=False)


@st.composite
def sources(draw):
    """(the argument of par_range/into_par_iter, its elements as Python values)."""
    kind = draw(st.sampled_from(["range", "range", "ints", "floats", "np int", "np float"]))
    if kind == "range":
        r = draw(ranges())
        return ("range", r), list(r)
    if kind == "ints":
        items = draw(
            st.lists(st.one_of(st.integers(-1000, 1000), st.sampled_from(BIG)), max_size=80)
        )
        return ("seq", items), items
    if kind == "floats":
        items = draw(st.lists(st.one_of(small_floats, floats), max_size=80))
        return ("seq", items), items
    if kind == "np int":
        items = draw(st.lists(st.integers(-(2**40), 2**40), max_size=80))
        arr = np.array(items, dtype=np.int64)
        return ("seq", arr), arr.tolist()
    items = draw(st.lists(small_floats, max_size=80))
    arr = np.array(items, dtype=np.float64)
    return ("seq", arr), arr.tolist()


def make(src):
    kind, data = src
    if kind == "range":
        return par_range(data.start, data.stop, data.step)
    return into_par_iter(data)


class Mapped:
    """``map(f, r)``, iterable again and again (the reference may run twice)."""

    def __init__(self, f, r):
        self.f, self.r = f, r

    def __iter__(self):
        return map(self.f, self.r)

    def __repr__(self):
        return f"Mapped({self.r!r})"


@st.composite
def others(draw):
    """The argument of zip/chain: (what fastiter gets, what the reference iterates)."""
    kind = draw(st.sampled_from(["range", "par_range", "list", "mapped"]))
    r = draw(ranges(max_len=60))
    if kind == "range":
        return r, r
    if kind == "par_range":
        return par_range(r.start, r.stop, r.step), r
    if kind == "list":
        items = draw(st.lists(st.integers(-100, 100), max_size=30))
        return items, items
    f = draw(st.sampled_from(NUM_MAPS))
    return par_range(r.start, r.stop, r.step).map(f), Mapped(f, r)


counts = st.one_of(st.integers(0, 40), st.sampled_from([0, 1, 2**63, 2**70]))
steps = st.one_of(st.integers(1, 12), st.sampled_from([2**63, 2**70]))


@st.composite
def stage_lists(draw):
    """Stages as specs: ('map', f), ('filter', p), ('take', n), ..., each applied by both sides.
    Tuple-producing stages (enumerate, zip) are followed by a map back to numbers."""
    specs = []
    for _ in range(draw(st.integers(0, 4))):
        op = draw(
            st.sampled_from(
                [
                    "map",
                    "filter",
                    "take",
                    "skip",
                    "step_by",
                    "enumerate",
                    "zip",
                    "chain",
                    "flat_map",
                ]
            )
        )
        if op == "map":
            specs.append(("map", draw(st.sampled_from(NUM_MAPS))))
        elif op == "filter":
            specs.append(("filter", draw(st.sampled_from(NUM_PREDS))))
        elif op in ("take", "skip"):
            specs.append((op, draw(counts)))
        elif op == "step_by":
            specs.append((op, draw(steps)))
        elif op == "flat_map":
            specs.append((op, draw(st.sampled_from(FLATS))))
        elif op == "enumerate":
            specs.append(("enumerate",))
            specs.append(("map", draw(st.sampled_from(PAIR_MAPS))))
        else:
            specs.append((op, draw(others())))
            if op == "zip":
                specs.append(("map", draw(st.sampled_from(PAIR_MAPS))))
    return specs


CONSUMERS = [
    "sum",
    "collect",
    "count",
    "product",
    "find_first",
    "find_any",
    "position_first",
    "position_any",
    "min_by_key",
    "max_by_key",
    "min_key",
    "max_key",
]


@st.composite
def consumers(draw):
    name = draw(st.sampled_from(CONSUMERS))
    if name.startswith(("find", "position")):
        return name, draw(st.sampled_from(NUM_PREDS))
    if name.endswith("key"):
        return name, draw(st.sampled_from(KEYS))
    return name, None


def build(p, specs):
    for spec in specs:
        op = spec[0]
        if op == "enumerate":
            p = p.enumerate()
        elif op in ("zip", "chain"):
            p = getattr(p, op)(spec[1][0])
        else:
            p = getattr(p, op)(spec[1])
    return p


def reference_iter(items, specs):
    it = iter(items)
    for spec in specs:
        op = spec[0]
        if op == "map":
            it = map(spec[1], it)
        elif op == "filter":
            it = filter(spec[1], it)
        elif op == "flat_map":
            it = itertools.chain.from_iterable(map(spec[1], it))
        elif op == "enumerate":
            it = enumerate(it)
        elif op == "take":
            it = itertools.islice(it, min(spec[1], sys.maxsize))
        elif op == "skip":
            it = itertools.islice(it, min(spec[1], sys.maxsize), None)
        elif op == "step_by":
            it = itertools.islice(it, 0, None, min(spec[1], sys.maxsize))
        elif op == "zip":
            it = zip(it, spec[1][1])
        elif op == "chain":
            it = itertools.chain(it, spec[1][1])
        else:
            raise AssertionError(op)
    return it


def consume(p, consumer):
    name, f = consumer
    if name in ("min_key", "max_key"):
        return getattr(p, name[:3])(key=f)
    if f is None:
        return getattr(p, name)()
    return getattr(p, name)(f)


def reference(items, specs, consumer):
    name, f = consumer
    it = reference_iter(items, specs)
    if name == "sum":
        return sum(it)
    if name == "collect":
        return list(it)
    if name == "count":
        return sum(1 for _ in it)
    if name == "product":
        return math.prod(it)
    if name in ("find_first", "find_any"):
        return next((x for x in it if f(x)), None)
    if name in ("position_first", "position_any"):
        return next((i for i, x in enumerate(it) if f(x)), None)
    if name in ("min_by_key", "min_key"):
        return min(it, key=f, default=None)
    if name in ("max_by_key", "max_key"):
        return max(it, key=f, default=None)
    raise AssertionError(name)


def sum_terms(items, specs, consumer):
    if consumer[0] != "sum":
        return None
    return lambda: list(reference_iter(items, specs))


# --- Generated pipelines against the reference ----------------------------------------------


@SETTINGS
@given(sources(), stage_lists(), consumers())
def test_generated_pipelines_match_python(source, specs, consumer):
    src, items = source
    same_outcome(
        lambda: consume(build(make(src), specs), consumer),
        lambda: reference(items, specs, consumer),
        sum_terms(items, specs, consumer),
    )


@settings(SETTINGS, max_examples=max(10, SETTINGS.max_examples // 3))
@given(sources(), stage_lists(), consumers(), st.sampled_from([1, 2, 3, 8]))
def test_generated_pipelines_any_thread_count(threads, source, specs, consumer, n):
    src, items = source
    set_num_threads(n)
    same_outcome(
        lambda: consume(build(make(src), specs), consumer),
        lambda: reference(items, specs, consumer),
        sum_terms(items, specs, consumer),
    )


@settings(SETTINGS, max_examples=max(10, SETTINGS.max_examples // 3))
@given(
    st.sampled_from([range(9000), range(5000, -4000, -1), range(-20000, 20000, 3), range(0)]),
    stage_lists(),
    consumers(),
)
def test_free_threaded_fallback_keeps_sequential_semantics(
    monkeypatch, threads, r, specs, consumer
):
    """The fallback's parallel chunks (free-threaded builds) give what sequential Python does;
    forced here on any build, with the chain run on the fallback whatever compiles."""
    set_num_threads(4)
    monkeypatch.setattr(_pipeline, "_GIL_DISABLED", True)
    p = build(par_range(r.start, r.stop, r.step), specs)
    name, f = consumer
    if name in ("min_key", "max_key"):
        name = name[:3]
    same_outcome(
        lambda: _pipeline._python_run(p, name, f),
        lambda: reference(list(r), specs, consumer),
    )


def test_parallel_split():
    m = ("map", NUM_MAPS[0], None)
    f = ("filter", NUM_PREDS[0], None)
    fm = ("flat_map", FLATS[0], None)
    e = ("enumerate", None, None)
    assert _pipeline._adaptors.parallel_split((m, f, fm)) == ((m, f, fm), ())
    assert _pipeline._adaptors.parallel_split((m, e, f)) == ((m,), (e, f))
    assert _pipeline._adaptors.parallel_split((e, m)) == ((), (e, m))
    take = ("take", None, 3)
    assert _pipeline._adaptors.parallel_split((m, f, take)) == ((), (m, f, take))


# --- Each method, directly ----------------------------------------------------------------


def test_enumerate():
    same(par_range(5, 10).enumerate().collect(), list(enumerate(range(5, 10))))
    same(par_range(10, 0, -3).enumerate().collect(), list(enumerate(range(10, 0, -3))))
    same(par_range(0).enumerate().collect(), [])
    data = [1.5, -0.0, 3.0]
    same(into_par_iter(data).enumerate().collect(), list(enumerate(data)))
    arr = np.array([4, 5, 6], dtype=np.int64)
    same(into_par_iter(arr).enumerate().map(lambda t: t[0] * t[1]).sum(), 0 * 4 + 1 * 5 + 2 * 6)
    same(
        par_range(0, 20)
        .filter(lambda x: x % 3 == 0)
        .enumerate()
        .map(lambda t: t[0] - t[1])
        .collect(),
        [i - x for i, x in enumerate(x for x in range(20) if x % 3 == 0)],
    )
    same(par_range(3).enumerate().enumerate().collect(), list(enumerate(enumerate(range(3)))))


@pytest.mark.parametrize(
    "r",
    [range(10), range(10, -10, -3), range(0), range(5, 0), range(2**70, 2**70 + 20, 3)],
    ids=str,
)
@pytest.mark.parametrize("n", [0, 1, 3, 7, 100, 2**63 - 1, 2**63, 2**70])
def test_take_skip_step_by_on_ranges(r, n):
    same(
        par_range(r.start, r.stop, r.step).take(n).collect(),
        list(itertools.islice(r, min(n, sys.maxsize))),
    )
    same(
        par_range(r.start, r.stop, r.step).skip(n).collect(),
        list(itertools.islice(r, min(n, sys.maxsize), None)),
    )
    if n >= 1:
        same(
            par_range(r.start, r.stop, r.step).step_by(n).collect(),
            list(itertools.islice(r, 0, None, min(n, sys.maxsize))),
        )
    # After a stage (not a bare range any more), and over a list.
    mapped = [x * 3 - 1 for x in r]
    p = par_range(r.start, r.stop, r.step).map(lambda x: x * 3 - 1)
    same(p.take(n).collect(), mapped[:n])
    same(p.skip(n).collect(), mapped[n:])
    same(into_par_iter(list(r)).take(n).sum(), sum(list(r)[:n]))
    same(into_par_iter(list(r)).skip(n).count(), len(list(r)[n:]))
    if n >= 1:
        same(p.step_by(n).collect(), mapped[::n])
        same(into_par_iter(list(r)).step_by(n).collect(), list(r)[::n])


def test_take_skip_step_by_on_huge_ranges():
    # A bare range is sliced as a range: exact and immediate at any size.
    same(par_range(0, 2**70).skip(2**70 - 3).collect(), [2**70 - 3, 2**70 - 2, 2**70 - 1])
    same(par_range(0, 2**70).step_by(2**68).collect(), [0, 2**68, 2**69, 3 * 2**68])
    same(par_range(0, 2**70).take(2**69).count(), 2**69)
    same(par_range(0, 2**70).step_by(3).count(), (2**70 + 2) // 3)
    same(par_range(0, 10**18).skip(10**18 - 4).sum(), sum(range(10**18 - 4, 10**18)))
    same(par_range(0, 10**12).take(5).skip(2).step_by(2).collect(), [2, 4])
    same(par_range(-(2**63), 2**63).skip(2**64 - 2).collect(), [2**63 - 2, 2**63 - 1])


def test_take_skip_step_by_argument_errors():
    p = par_range(0, 10)
    q = par_range(0, 10).map(lambda x: x + 1)
    for it in (p, q):
        with pytest.raises(ValueError, match=r"^take\(\) count must be >= 0, got -1$"):
            it.take(-1)
        with pytest.raises(ValueError, match=r"^skip\(\) count must be >= 0, got -5$"):
            it.skip(-5)
        with pytest.raises(ValueError, match=r"^step_by\(\) step must be >= 1, got 0$"):
            it.step_by(0)
        with pytest.raises(ValueError, match=r"^step_by\(\) step must be >= 1, got -2$"):
            it.step_by(-2)
        with pytest.raises(TypeError, match=r"^take\(\) expects an int count, got float$"):
            it.take(1.0)
        with pytest.raises(TypeError, match=r"^skip\(\) expects an int count, got str$"):
            it.skip("3")
        with pytest.raises(TypeError, match=r"^step_by\(\) expects an int step, got NoneType$"):
            it.step_by(None)
        with pytest.raises(ValueError):
            it.take(-(2**70))
    # ints in other clothes: bool, NumPy ints, anything with __index__
    same(p.take(True).collect(), [0])
    same(q.take(np.int64(3)).collect(), [1, 2, 3])
    same(p.step_by(np.uint8(4)).collect(), [0, 4, 8])

    class Three:
        def __index__(self):
            return 3

    same(q.skip(Three()).collect(), [4, 5, 6, 7, 8, 9, 10])


def test_chain():
    same(par_range(0, 3).chain(range(10, 12)).collect(), [0, 1, 2, 10, 11])
    same(par_range(0, 3).chain(par_range(5, 0, -2)).collect(), [0, 1, 2, 5, 3, 1])
    same(par_range(0).chain([]).collect(), [])
    same(par_range(0, 3).map(lambda x: x * 0.5).chain([1, 2]).sum(), sum([0.0, 0.5, 1.0, 1, 2]))
    same(
        par_range(0, 4).chain(par_range(0, 3).map(lambda x: x * 10)).chain((7,)).collect(),
        [0, 1, 2, 3, 0, 10, 20, 7],
    )
    same(into_par_iter(np.array([1.5, 2.5])).chain(range(2)).collect(), [1.5, 2.5, 0, 1])
    same(par_range(0, 3).chain(iter([9, 8])).collect(), [0, 1, 2, 9, 8])
    same(par_range(0, 3).chain(range(4, 6)).enumerate().collect(), list(enumerate([0, 1, 2, 4, 5])))
    # The argument is only started when reached, as itertools.chain does.
    same(par_range(0, 5).chain(par_range(0, 3).map(lambda x: 1 // (x - 1))).take(5).sum(), 10)
    with pytest.raises(ZeroDivisionError):
        par_range(0, 5).chain(par_range(0, 3).map(lambda x: 1 // (x - 1))).take(7).sum()
    with pytest.raises(TypeError):
        par_range(0, 3).chain(5).collect()
    same(par_range(0, 3).chain(5).take(3).collect(), [0, 1, 2])


def test_zip_pulls_like_python():
    # zip pulls the first iterator's next element before it finds the second exhausted.
    p = par_range(0, 10).map(lambda x: 1 // (x - 3)).zip(range(3))
    with pytest.raises(ZeroDivisionError):
        p.collect()
    same(
        par_range(0, 10)
        .map(lambda x: 1 // (x - 4))
        .zip(range(3))
        .map(lambda t: t[0] + t[1])
        .collect(),
        [1 // (x - 4) + y for x, y in zip(range(10), range(3))],
    )
    same(par_range(0, 3).zip(par_range(10, 20)).collect(), [(0, 10), (1, 11), (2, 12)])
    same(par_range(0, 3).zip(range(10, 20, -1)).collect(), [])


def test_flat_map_ranges():
    same(
        par_range(0, 6).flat_map(lambda x: range(x % 3)).collect(),
        [y for x in range(6) for y in range(x % 3)],
    )
    same(
        par_range(-4, 6).flat_map(lambda x: range(x, 2 * x, 2)).sum(),
        sum(y for x in range(-4, 6) for y in range(x, 2 * x, 2)),
    )
    same(par_range(0, 5).flat_map(lambda x: range(x)).position_first(lambda y: y == 3), 9)


def test_product():
    same(par_range(1, 21).product(), math.prod(range(1, 21)))
    same(par_range(1, 40).product(), math.prod(range(1, 40)))  # past 64 and 128 bits
    same(par_range(0).product(), 1)
    same(into_par_iter([]).product(), 1)
    same(into_par_iter(np.array([], dtype=np.float64)).product(), 1)
    same(par_range(-5, 5).product(), 0)
    same(par_range(-9, 0).product(), math.prod(range(-9, 0)))
    same(par_range(1, 8).map(lambda x: x * 0.5).product(), math.prod(x * 0.5 for x in range(1, 8)))
    same(into_par_iter([1e300, 1e300, 0.0]).product(), math.prod([1e300, 1e300, 0.0]))
    same(into_par_iter([-0.0, 3.0]).product(), math.prod([-0.0, 3.0]))
    same(into_par_iter([True, True]).product(), math.prod([True, True]))
    same(into_par_iter([2, 0.5, True]).product(), math.prod([2, 0.5, True]))
    same(par_range(2**62, 2**62 + 3).product(), math.prod(range(2**62, 2**62 + 3)))
    same(into_par_iter(np.array([3, -2, 7], dtype=np.int64)).product(), -42)
    with pytest.raises(ZeroDivisionError):
        par_range(0, 10).map(lambda x: 1 // (x - 9)).product()  # no early exit on 0


def test_find_first_and_any():
    for name in ("find_first", "find_any"):
        same(getattr(par_range(0, 100), name)(lambda x: x * x > 50), 8)
        same(getattr(par_range(0, 100), name)(lambda x: x > 1000), None)
        same(getattr(par_range(0), name)(lambda x: True), None)
        same(getattr(par_range(100, 0, -7), name)(lambda x: x % 5 == 3), 93)
        same(getattr(into_par_iter([1.5, -0.0, 0.0]), name)(lambda x: x == 0), -0.0)
        same(getattr(par_range(0, 5).map(lambda x: x * 0.5), name)(lambda v: v > 1), 1.5)
        # found before the element that raises: no exception
        p = par_range(0, 100).map(lambda x: 10 // (x - 50))
        same(getattr(p, name)(lambda v: v < 0), -1)
        with pytest.raises(ZeroDivisionError):
            getattr(p, name)(lambda v: v > 100)
        # the predicate raises past the answer: not called there
        same(getattr(par_range(0, 100), name)(lambda x: 10 // (x - 50) < -1), 41)
        same(getattr(par_range(1, 100), name)(lambda x: 100 // (x - 50) == -3), 1)
        with pytest.raises(ZeroDivisionError):
            getattr(par_range(0, 100), name)(lambda x: 10 // (x - 50) > 100)
        # truthiness, not bool
        same(getattr(par_range(0, 10), name)(lambda x: x % 4), 1)
        # tuples
        same(getattr(par_range(5, 10).enumerate(), name)(lambda t: t[1] % 4 == 0), (3, 8))


def test_position_first_and_any():
    for name in ("position_first", "position_any"):
        same(getattr(par_range(10, 100), name)(lambda x: x % 17 == 0), 7)
        same(getattr(par_range(0, 100), name)(lambda x: x < 0), None)
        same(getattr(par_range(0), name)(lambda x: True), None)
        same(getattr(par_range(0, 30).filter(lambda x: x % 3 == 0), name)(lambda x: x > 10), 4)
        same(getattr(into_par_iter([0.5, float("nan"), 2.0]), name)(lambda x: math.isnan(x)), 1)
        p = par_range(0, 100).map(lambda x: 10 // (x - 50))
        same(getattr(p, name)(lambda v: v == -1), 0)
        same(getattr(p, name)(lambda v: v == -10), 49)
        with pytest.raises(ZeroDivisionError):
            getattr(p, name)(lambda v: v == 10)
        same(getattr(par_range(0, 10**6), name)(lambda x: x == 765_432), 765_432)


def test_min_max_by_key_ties_and_empty():
    data = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]
    for key in (lambda x: x % 3, lambda x: -x, lambda x: x // 4, lambda x: 0):
        same(into_par_iter(data).min_by_key(key), min(data, key=key))
        same(into_par_iter(data).max_by_key(key), max(data, key=key))
        same(into_par_iter(data).min(key=key), min(data, key=key))
        same(into_par_iter(data).max(key=key), max(data, key=key))
    same(par_range(0, 100).max_by_key(lambda x: x % 7), 6)
    same(par_range(0, 100).min_by_key(lambda x: x % 7), 0)
    same(par_range(100, 0, -1).min_by_key(lambda x: x % 7), 98)
    same(
        par_range(0, 10**5).max_by_key(lambda x: (x * 7919) % 1000),
        max(range(10**5), key=lambda x: (x * 7919) % 1000),
    )
    same(par_range(0, 10**5).min_by_key(lambda x: abs(x - 50_000.5)), 50_000)
    same(into_par_iter([0.0, -0.0]).min_by_key(lambda x: x), 0.0)
    same(into_par_iter([-0.0, 0.0]).max_by_key(lambda x: x), -0.0)
    same(into_par_iter([-2.0, 2.0]).max_by_key(abs), -2.0)
    same(
        into_par_iter([1.0, float("nan"), 0.5]).min_by_key(lambda x: x),
        min([1.0, float("nan"), 0.5]),
    )
    same(
        into_par_iter([float("nan"), 1.0, 0.5]).max_by_key(lambda x: x),
        max([float("nan"), 1.0, 0.5]),
    )
    same(par_range(0, 6).enumerate().max_by_key(lambda t: t[1] // 2), (4, 4))
    for name in ("min_by_key", "max_by_key"):
        same(getattr(par_range(0), name)(lambda x: x), None)
        same(getattr(into_par_iter([]), name)(lambda x: x), None)
        same(getattr(par_range(5).filter(lambda x: x > 9), name)(lambda x: x), None)
        with pytest.raises(ZeroDivisionError):
            getattr(par_range(0, 20), name)(lambda x: 1 // (x - 19))  # consumes everything


def test_early_exits_pull_what_python_pulls():
    """A Python stage (it runs on the fallback) is called on exactly the elements sequential
    Python calls it on."""
    for method, arg, pulled in (
        ("find_first", lambda x: x == 5, 6),
        ("find_any", lambda x: x == 5, 6),
        ("position_first", lambda x: x == 7, 8),
        ("position_any", lambda x: x == 7, 8),
        ("any", lambda x: x == 3, 4),
        ("find_first", lambda x: x < 0, 100),
    ):
        seen = []
        p = par_range(0, 100).map(lambda x, seen=seen: seen.append(x) or x)
        getattr(p, method)(arg)
        assert len(seen) == pulled, (method, len(seen))
    for n in (0, 1, 5):
        seen = []
        par_range(0, 100).map(lambda x, seen=seen: seen.append(x) or x).take(n).collect()
        assert seen == list(range(n))
    seen = []
    par_range(0, 100).map(lambda x: seen.append(x) or x).step_by(10).take(3).sum()
    assert seen == list(range(21))


def test_take_stops_before_an_error():
    p = par_range(0, 100).map(lambda x: 10 // (x - 50))
    same(p.take(50).sum(), sum(10 // (x - 50) for x in range(50)))
    with pytest.raises(ZeroDivisionError):
        p.take(51).sum()
    same(p.step_by(7).take(8).count(), 8)
    with pytest.raises(ZeroDivisionError):
        p.skip(40).count()  # skip still computes the skipped elements, as islice does


def test_methods_reject_non_callables():
    p = par_range(0, 3)
    for name in (
        "find_first",
        "find_any",
        "position_first",
        "position_any",
        "min_by_key",
        "max_by_key",
    ):
        with pytest.raises(TypeError, match=name):
            getattr(p, name)(5)


def test_adaptor_pipelines_are_reusable_and_describe_themselves():
    p = par_range(0, 10).map(lambda x: x + 1).enumerate().skip(2).take(5).step_by(2).chain(range(3))
    first = p.collect()
    same(p.collect(), first)
    same(first, list(itertools.chain(itertools.islice(enumerate(range(1, 11)), 2, 7, 2), range(3))))
    text = p.describe()
    assert ".enumerate().skip(2).take(5).step_by(2).chain(range(0, 3))" in text, text
    assert par_range(0, 10).take(3).describe() == "par_range(0, 3)"
    r = repr(p)
    assert r.startswith("<fastiter par_range(0, 10)") and ("compiles" in r or "runs as Python" in r)


def test_explain_says_compiled_or_why_not():
    text = fastiter.explain(par_range(0, 10).take(3).map(lambda x: x * 2))
    assert "compiled: yes" in text, text  # a sliced bare range is a range
    text = fastiter.explain(par_range(0, 10).map(lambda x: str(x)).enumerate())
    assert "compiled: no" in text and "str" in text, text
    text = fastiter.explain(par_range(0, 10).chain([1, 2]))
    assert "compiled: no" in text and "chain" in text, text
    text = fastiter.explain(par_range(0, 10).filter(lambda x: x > 1).take(3))
    assert "compiled: no" in text and "take" in text, text
    assert "test_adaptors.py" not in text, text  # not placed inside the map's lambda


ARR = np.arange(-20, 20, dtype=np.int64)
FARR = np.linspace(-1.0, 1.0, 21)

# Chains the compiler on main compiles (as of the merge of its adaptors and consumers), each
# with the plain-Python value it must equal.
COMPILED = [
    (
        "enumerate map sum",
        lambda: par_range(0, 50).enumerate().map(lambda t: t[0] * t[1] - 3).sum(),
        lambda: sum(i * x - 3 for i, x in enumerate(range(50))),
    ),
    (
        "chain enumerate",
        lambda: par_range(0, 3).chain(range(5, 8)).enumerate().map(lambda t: t[0] + t[1]).sum(),
        lambda: sum(i + x for i, x in enumerate(itertools.chain(range(3), range(5, 8)))),
    ),
    (
        "zip range",
        lambda: par_range(0, 40).zip(range(100, 0, -3)).map(lambda t: t[0] * t[1]).sum(),
        lambda: sum(a * b for a, b in zip(range(40), range(100, 0, -3))),
    ),
    (
        "zip par_range",
        lambda: par_range(5, 0, -1).zip(par_range(0, 9)).map(lambda t: t[1] - t[0]).collect(),
        lambda: [b - a for a, b in zip(range(5, 0, -1), range(9))],
    ),
    (
        "chain par_range",
        lambda: par_range(0, 10).chain(par_range(20, 30, 2)).sum(),
        lambda: sum(itertools.chain(range(10), range(20, 30, 2))),
    ),
    (
        "chain collect",
        lambda: par_range(-3, 3).chain(range(10, 7, -1)).collect(),
        lambda: list(itertools.chain(range(-3, 3), range(10, 7, -1))),
    ),
    (
        "flat_map sum",
        lambda: par_range(0, 30).flat_map(lambda x: range(x % 6)).sum(),
        lambda: sum(y for x in range(30) for y in range(x % 6)),
    ),
    (
        "flat_map count",
        lambda: par_range(0, 100).flat_map(lambda x: range(0, x % 5, 2)).count(),
        lambda: sum(1 for x in range(100) for _ in range(0, x % 5, 2)),
    ),
    (
        "take bare range",
        lambda: par_range(0, 10**6).take(1000).map(lambda x: x * x).sum(),
        lambda: sum(x * x for x in range(1000)),
    ),
    (
        "take after maps",
        lambda: par_range(0, 10**6).map(lambda x: x * 3).map(lambda x: x - 1).take(1000).sum(),
        lambda: sum(x * 3 - 1 for x in range(1000)),
    ),
    (
        "take after map and enumerate, on a buffer",
        lambda: (
            into_par_iter(ARR)
            .map(lambda x: x * 5)
            .enumerate()
            .take(6)
            .map(lambda t: t[0] * t[1])
            .sum()
        ),
        lambda: sum(i * x * 5 for i, x in enumerate(ARR.tolist()[:6])),
    ),
    (
        "buffer take",
        lambda: into_par_iter(ARR).take(7).sum(),
        lambda: sum(ARR.tolist()[:7]),
    ),
    (
        "buffer skip step_by map",
        lambda: into_par_iter(ARR).skip(2).step_by(3).map(lambda x: x * 2).collect(),
        lambda: [x * 2 for x in ARR.tolist()[2::3]],
    ),
    (
        "list take",
        lambda: into_par_iter([5, 6, 7, 8]).take(2).product(),
        lambda: 30,
    ),
    (
        "product",
        lambda: par_range(1, 30).map(lambda x: x * 3).product(),
        lambda: math.prod(x * 3 for x in range(1, 30)),
    ),
    (
        "find_first",
        lambda: par_range(0, 10**5).map(lambda x: x * 7 % 1000).find_first(lambda v: v == 999),
        lambda: 999,
    ),
    (
        "find_any after filter",
        lambda: par_range(0, 100).filter(lambda x: x % 7 == 3).find_any(lambda x: x > 50),
        lambda: 52,
    ),
    (
        "position_first",
        lambda: par_range(0, 10**5).position_first(lambda x: x * x > 10**9),
        lambda: next(i for i, x in enumerate(range(10**5)) if x * x > 10**9),
    ),
    (
        "position_any",
        lambda: par_range(10, 100).position_any(lambda x: x % 17 == 0),
        lambda: 7,
    ),
    (
        "min_by_key",
        lambda: par_range(0, 1000).min_by_key(lambda x: (x * 37) % 101),
        lambda: min(range(1000), key=lambda x: (x * 37) % 101),
    ),
    (
        "max_by_key floats",
        lambda: into_par_iter(FARR).max_by_key(lambda v: v * v),
        lambda: max(FARR.tolist(), key=lambda v: v * v),
    ),
    (
        "min key=",
        lambda: par_range(0, 100).min(key=lambda x: x % 7),
        lambda: 0,
    ),
    (
        "max key=",
        lambda: par_range(0, 100).max(key=lambda x: x % 7),
        lambda: 6,
    ),
]


@pytest.mark.parametrize("name,run,want", COMPILED, ids=[c[0] for c in COMPILED])
def test_chains_that_compile(name, run, want):
    text = fastiter.explain(run)
    assert "compiled: yes" in text, text
    same(run(), want())


def test_compiled_early_exits_and_errors():
    """Compiled: an exception past the answer is not raised; one before it is, with CPython's
    type and message."""
    p = par_range(0, 10**6).map(lambda x: 10 // (x - 500_000))
    assert "compiled: yes" in fastiter.explain(lambda: p.find_first(lambda v: v < 0))
    same(p.find_first(lambda v: v < 0), -1)
    same(p.position_first(lambda v: v == -1), 0)
    same(p.find_any(lambda v: v == -2), -2)
    same(p.position_any(lambda v: v == -2), 499_991)
    same(p.position_any(lambda v: v == -10), 499_999)
    for call in (
        lambda: p.find_first(lambda v: v > 100),
        lambda: p.position_any(lambda v: v > 100),
        lambda: p.min_by_key(lambda v: v),
        lambda: p.product(),
    ):
        same_outcome(call, lambda: 10 // 0)
    q = par_range(0, 10).map(lambda x: 1 // (x - 3)).zip(range(3))
    same_outcome(lambda: q.map(lambda t: t[0]).sum(), lambda: 1 // 0)


def test_repr_of_adaptor_chains():
    assert "compiles" in repr(par_range(0, 5).chain(range(3)))
    assert "compiles" in repr(into_par_iter(ARR).skip(3))
    assert "runs as Python" in repr(par_range(0, 5).chain([1]))


def test_take_moves_ahead_of_one_to_one_stages():
    """``map(f).take(n)`` is ``take(n).map(f)``: ``f`` runs on the first ``n`` elements only,
    either way; so the take goes right after the source, where it compiles."""
    p = par_range(0, 10**6).map(lambda x: 10 // (x - 500))
    same(p.take(500).sum(), sum(10 // (x - 500) for x in range(500)))
    with pytest.raises(ZeroDivisionError):
        p.take(501).sum()
    assert "compiled: yes" in fastiter.explain(p.take(500))
    assert p.take(3).describe().startswith("par_range(0, 3).map(")
    q = into_par_iter(ARR).enumerate().map(lambda t: t[1] // (t[0] - 9))
    same(q.take(9).collect(), [x // (i - 9) for i, x in enumerate(ARR.tolist()[:9])])
    with pytest.raises(ZeroDivisionError):
        q.take(10).collect()
    assert ".take(9).enumerate().map(" in q.take(9).describe()
    # not past a filter, skip or step_by: those are not one-to-one
    r = par_range(0, 100).filter(lambda x: x % 3 == 0).map(lambda x: x + 1).take(4)
    assert r.describe().endswith(").take(4).map(lambda x: x + 1)"), r.describe()
    same(r.collect(), [1, 4, 7, 10])
    same(par_range(0, 100).map(lambda x: x * 2).skip(3).take(2).collect(), [6, 8])
