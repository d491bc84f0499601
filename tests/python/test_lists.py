"""Lists and tuples as inputs (issue #16): converted to a typed buffer in one native pass
(``py/src/convert.rs``).

The conversion must give exactly what the Python conversion it replaced gave: the same dtype
(``i64``, ``f64``, ``bool``, ``num``), the same bytes, and the same refusal reasons (ints past 64
bits, other types, subclasses of int and float included). ``reference_buffer`` below is that
Python conversion, kept here as the specification. On top, pipelines over lists must equal
CPython over the same data in type and value (float totals: within the bound of a compensated
sum, as in ``test_mixed.py``), and a list another thread mutates while it is converted must give
the list as it was at one instant.
"""

from __future__ import annotations

import array
import math
import sys
import threading

import fastiter
import pytest
from _exact import (
    MIN_CHUNK,
    Raised,
    assert_same,
    float_total_error,
    hypothesis_settings,
    outcome,
    same,
)
from fastiter import _native, into_par_iter
from fastiter._pipeline import _sequence_buffer
from fastiter._source import Unsupported
from hypothesis import given, note
from hypothesis import strategies as st

SETTINGS = hypothesis_settings()

TOO_BIG = "the list holds ints beyond 64 bits"


class MyInt(int):
    pass


class MyFloat(float):
    pass


class Index:
    """Not a number, but usable as one by ``operator.index``."""

    def __init__(self, v):
        self.v = v

    def __index__(self):
        return self.v

    def __mul__(self, k):
        return self.v * k

    def __repr__(self):
        return f"Index({self.v})"


def reference_buffer(data):
    """The Python conversion fastiter 0.2 shipped before the native one: (bytes, dtype), or the
    refusal reason."""
    types = set(map(type, data))
    if types <= {int}:
        try:
            return array.array("q", data).tobytes(), "i64"
        except OverflowError:
            return TOO_BIG
    if types == {float}:
        return array.array("d", data).tobytes(), "f64"
    if types == {bool}:
        return bytes(data), "bool"
    if types <= {int, float, bool}:
        out = array.array("q")
        for v in data:
            t = type(v)
            if t is float:
                out.frombytes(array.array("d", [v]).tobytes())
                out.append(1)
            elif t is bool:
                out.extend([int(v), 2])
            else:
                try:
                    out.append(v)
                except OverflowError:
                    return TOO_BIG
                out.append(0)
        return out.tobytes(), "num"
    names = ", ".join(sorted(t.__name__ for t in types))
    return f"the input holds {names} values (compiled inputs hold one of int, float, bool)"


def converted(data):
    """What fastiter's conversion gives, in the shape of ``reference_buffer``."""
    try:
        buf, dtype = _sequence_buffer(data)
    except Unsupported as e:
        return e.reason
    with memoryview(buf) as m:
        assert m.readonly and m.c_contiguous and m.ndim == 1
        assert (m.format, m.itemsize) == {
            "i64": ("q", 8),
            "f64": ("d", 8),
            "bool": ("?", 1),
            "num": ("q", 8),
        }[dtype]
        assert len(m) == len(buf) == len(data) * (2 if dtype == "num" else 1)
        return m.tobytes(), dtype


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------

I64_EDGES = [0, 1, -1, 2**63 - 1, -(2**63), 2**62, -(2**62) - 1, 2**53 + 1, 2**31, -(2**31)]
PAST_64 = [2**63, -(2**63) - 1, 2**64, 2**100, -(2**200)]
SPECIAL_FLOATS = [
    math.nan,
    -math.nan,
    -0.0,
    0.0,
    math.inf,
    -math.inf,
    5e-324,
    1.7976931348623157e308,
]

ints = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from(I64_EDGES),
    st.integers(-1000, 1000),
)
floats = st.one_of(st.floats(), st.sampled_from(SPECIAL_FLOATS))
numbers = st.one_of(ints, floats, st.booleans())
anything = st.one_of(
    numbers,
    st.sampled_from(PAST_64),
    st.builds(MyInt, st.integers(-5, 5)),
    st.builds(MyFloat, st.floats(-5, 5)),
    st.builds(Index, st.integers(-5, 5)),
    st.sampled_from([None, "a", 1j]),
)

homogeneous = st.one_of(
    st.lists(ints),
    st.lists(floats),
    st.lists(st.booleans()),
    st.lists(numbers),
)


# ---------------------------------------------------------------------------------------------
# The conversion itself
# ---------------------------------------------------------------------------------------------


@SETTINGS
@given(
    data=st.one_of(
        homogeneous, st.lists(anything), st.lists(st.one_of(ints, st.sampled_from(PAST_64)))
    ),
    as_tuple=st.booleans(),
)
def test_conversion_equals_the_python_one(data, as_tuple):
    if as_tuple:
        data = tuple(data)
    assert converted(data) == reference_buffer(data)


@pytest.mark.parametrize(
    ("data", "dtype"),
    [
        ([], "i64"),
        ((), "i64"),
        ([7], "i64"),
        ([-(2**63), 2**63 - 1], "i64"),
        ([0.5, -0.0, math.nan], "f64"),
        ([True, False, True], "bool"),
        ([1, 2.5, True], "num"),
        ([True, 1], "num"),
        ([1.5, 2**63 - 1, False], "num"),
        # A second type after the first items (the native pass rewrites what it has done).
        ([1] * 100 + [2.5], "num"),
        ([2.5] * 1000 + [True, 3], "num"),
        ([True] * 70 + [-(2**63)], "num"),
    ],
)
def test_dtypes(data, dtype):
    got = converted(data)
    assert got == reference_buffer(data)
    assert got[1] == dtype


@pytest.mark.parametrize(
    "data",
    [
        [2**63],
        [1, 2, -(2**63) - 1],
        [2**70, 1.5],
        [True, 0.5, 2**64],
        [MyInt(3)],
        [1, MyInt(3)],
        [1.5, MyFloat(2.0)],
        [Index(1), 2],
        [1, "a", 2**70],  # another type names the refusal before the size of the int does
        [None],
        [1, 2, 3, None, 1.5, True],
        [1] * 100 + [2**64, 0.5],
        [0.5] * 100 + [1, "x"],
    ],
    ids=repr,
)
def test_refusals(data):
    got = converted(data)
    assert isinstance(got, str)
    assert got == reference_buffer(data)


def test_same_names_of_two_types_are_both_named():
    """Two classes with the same ``__name__`` are two types, each named, as before."""
    first = type("N", (), {})
    second = type("N", (), {})
    data = [first(), second(), first()]
    assert converted(data) == reference_buffer(data)
    assert "N, N values" in converted(data)


def test_list_subclass_converts_what_iterating_it_gives():
    class Doubled(list):
        def __iter__(self):
            return (2 * v for v in super().__iter__())

    data = Doubled([1, 2, 3])
    assert converted(data) == reference_buffer(list(data))
    assert into_par_iter(data).sum() == sum(data) == 12


def test_native_takes_only_exact_lists_and_tuples():
    with pytest.raises(TypeError):
        _native.sequence_buffer(range(3))
    assert _native.sequence_buffer([1, "x"]) == reference_buffer([1, "x"])


def test_buffer_is_read_only_and_outlives_the_list():
    data = [1.5, 2.5]
    buf, _ = _sequence_buffer(data)
    del data
    with memoryview(buf) as m:
        with pytest.raises(TypeError):
            m[0] = 3.5
        assert m.tolist() == [1.5, 2.5]
    assert len(buf) == 2


# ---------------------------------------------------------------------------------------------
# Pipelines over lists: CPython's results
# ---------------------------------------------------------------------------------------------


def check_sum(got, elements):
    want = outcome(lambda: sum(elements))
    if type(want) is float:
        err = float_total_error(got, elements, compensated=True)
        assert err is None, err
    else:
        assert_same(got, want, "sum()")


def double(x):
    return x * 2


@SETTINGS
@given(
    data=st.one_of(homogeneous, st.lists(st.one_of(numbers, st.sampled_from(PAST_64)))),
    as_tuple=st.booleans(),
)
def test_pipelines_equal_cpython(data, as_tuple):
    src = tuple(data) if as_tuple else data
    elements = [x * 2 for x in data]
    note(f"elements={elements!r}")
    check_sum(outcome(lambda: into_par_iter(src).map(lambda x: x * 2).sum()), elements)
    assert_same(
        outcome(lambda: into_par_iter(src).map(lambda x: x * 2).collect()), elements, "collect()"
    )
    # Rayon's `min()`: None for no items, else CPython's `min()` (NaN and equal items
    # included).
    got_min = into_par_iter(src).map(lambda x: x * 2).min()
    assert_same(got_min, min(elements) if elements else None, "min()")
    assert_same(into_par_iter(src).collect(), list(data), "collect() of the items")


@pytest.mark.parametrize(
    "data",
    [
        list(range(-MIN_CHUNK, 2 * MIN_CHUNK + 17)),
        [i * 0.25 - 1000.0 for i in range(3 * MIN_CHUNK + 5)],
        [(i, i * 0.5, i % 3 == 0)[i % 3] for i in range(3 * MIN_CHUNK + 1)],
        [bool(i % 7) for i in range(2 * MIN_CHUNK + 3)],
    ],
    ids=["ints", "floats", "mixed", "bools"],
)
def test_long_lists_in_chunks(data):
    elements = [x * 2 for x in data]
    check_sum(into_par_iter(data).map(lambda x: x * 2).sum(), elements)
    assert_same(into_par_iter(data).map(lambda x: x * 2).collect(), elements, "collect()")
    assert_same(into_par_iter(data).map(lambda x: x * 2).min(), min(elements), "min()")
    assert "compiled: yes" in fastiter.explain(into_par_iter(data).map(lambda x: x * 2))


def explanation(data):
    return fastiter.explain(into_par_iter(data).map(lambda x: x * 2))


@pytest.mark.parametrize(
    "data",
    [[], [1, 2], [0.5, math.nan], [True, False], [1, 2.5, True], (1, -0.0), [-(2**63), 2**63 - 1]],
    ids=repr,
)
def test_explain_says_compiled(data):
    assert "compiled: yes" in explanation(data)


@pytest.mark.parametrize(
    "data",
    [[1, 2**63], [2**70, 0.5], [MyInt(1), 2], [MyFloat(0.5)], [Index(2), 1], ["a", 1.5]],
    ids=repr,
)
def test_explain_gives_the_refusal_and_the_result_is_cpythons(data):
    text = explanation(data)
    assert "compiled: no" in text
    assert f"reason: {reference_buffer(data)}" in text
    assert_same(into_par_iter(data).map(lambda x: x * 2).collect(), [x * 2 for x in data])
    want = outcome(lambda: sum(x * 2 for x in data))
    got = outcome(lambda: into_par_iter(data).map(lambda x: x * 2).sum())
    assert same(got, want) or (isinstance(want, Raised) and type(got.exc) is type(want.exc))


def test_subclasses_keep_their_own_arithmetic():
    class Weird(int):
        def __mul__(self, k):
            return "weird"

    data = [1, Weird(2)]
    assert into_par_iter(data).map(lambda x: x * 2).collect() == [2, "weird"]


# ---------------------------------------------------------------------------------------------
# A list mutated by another thread while it is converted
# ---------------------------------------------------------------------------------------------


def test_list_mutated_by_another_thread():
    """What is guaranteed: the conversion reads the list as it was at one instant (the GIL, or
    on free-threaded builds the list's critical section, keeps every mutation out while the
    items are read). The mutating thread keeps every snapshot uniform (all items of one type
    and value, any length), so every conversion and every result must be uniform too; items
    it replaces or pops die meanwhile, which a conversion holding stale pointers would read."""
    data = [1] * 100
    stop = threading.Event()
    values = [7, 2.5, True, -(2**40), -0.0, 10**15]

    def mutate():
        k = 0
        while not stop.is_set():
            k += 1
            v = values[k % len(values)]
            op = k % 5
            if op == 0:
                data[:] = [v] * (k * 37 % 3000)
            elif op == 1 and data:
                data.append(data[-1])
            elif op == 2 and data:
                data.pop()
            elif data:
                # A fresh object of the same value: the one it replaces may die now.
                i = k % len(data)
                data[i] = type(data[i])(str(data[i])) if type(data[i]) is not bool else data[i]

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    t = threading.Thread(target=mutate)
    t.start()
    try:
        for _ in range(300):
            got = _native.sequence_buffer(data)
            assert not isinstance(got, str), got
            buf, dtype = got
            with memoryview(buf) as m:
                items = m.tolist()
            assert dtype in ("i64", "f64", "bool"), dtype
            assert all(x == items[0] for x in items), (dtype, items[:5])
            out = into_par_iter(data).map(lambda x: x * 2).collect()
            assert all(same(x, out[0]) for x in out), out[:5]
    finally:
        stop.set()
        t.join()
        sys.setswitchinterval(old)


def test_large_list_emptied_by_another_thread():
    """A large list another thread empties (``clear()``, ``del l[:]``, ``l[:] = []``) and
    refills while it is converted: each conversion holds the GIL (or the list's lock) from the
    first item to the last, so it sees the list full or empty, never a length that shrank
    under it (reading past the end would read freed item pointers)."""
    n = 1_000_000
    full = [3] * n
    data = list(full)
    stop = threading.Event()

    def mutate():
        k = 0
        while not stop.is_set():
            k += 1
            op = k % 3
            if op == 0:
                data.clear()
            elif op == 1:
                del data[:]
            else:
                data[:] = []
            data.extend(full)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    t = threading.Thread(target=mutate)
    t.start()
    try:
        for _ in range(40):
            got = into_par_iter(data).map(lambda x: x * 2).sum()
            assert got in (0, 6 * n), got
            c = into_par_iter(data).count()
            assert c in (0, n), c
    finally:
        stop.set()
        t.join()
        sys.setswitchinterval(old)
