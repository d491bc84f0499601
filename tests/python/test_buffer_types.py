"""Which buffers are read in place, and what everything else gives.

Only an exact ``numpy.ndarray``, ``array.array``, ``memoryview``, ``bytes`` or ``bytearray`` is
read in place: iterating one gives its buffer's elements. (An exact ndarray's elements are its
``.tolist()`` values, Python numbers, as in ``test_buffers.py``; the others iterate as exactly
those.) A subclass or another exporter may iterate as something else than its buffer: a masked
array gives ``masked`` for a masked element, a 1xN ``np.matrix`` one row, an ``__iter__`` or
``__getitem__`` of its own anything, a plain ndarray subclass NumPy scalars. Those must give
what CPython gives iterating them (``sum(map(f, iter(x)))``): value and type, or the exception
type; and ``explain()`` must say whether the input was read in place and, when not, why.

The kernel reads a buffer while the GIL is released: another thread writing it meanwhile must
give one of the plausible results, never a crash.
"""

from __future__ import annotations

import array
import ctypes
import functools
import math
import threading

import fastiter
import pytest
from fastiter import _native, into_par_iter

np = pytest.importorskip("numpy")

pytestmark = pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


class Plain(np.ndarray):
    """An ndarray subclass without overrides: iterating it gives NumPy scalars."""


class OwnIter(np.ndarray):
    def __iter__(self):
        return iter([int(v) * 10 for v in self.view(np.ndarray)])


class OwnGetitem(np.ndarray):
    """Iterating an ndarray subclass goes through ``__getitem__`` (its sequence slot)."""

    def __getitem__(self, i):
        return np.ndarray.__getitem__(self, i) + 100


class Arr(array.array):
    pass


class ArrIter(array.array):
    def __iter__(self):
        return iter([v + 0.5 for v in self.tolist()])


class BA(bytearray):
    pass


class BAIter(bytearray):
    def __iter__(self):
        return iter([b - 1000 for b in bytes(self)])


class By(bytes):
    pass


def inputs():
    """(id, factory, read in place?) for each input; a factory so a test mutating nothing
    still gets a fresh object."""
    masked = np.ma.masked_array([1, 2, 3], mask=[0, 1, 0])
    out = [
        ("masked", lambda: np.ma.masked_array([1, 2, 3], mask=[0, 1, 0]), False),
        ("masked-float", lambda: np.ma.masked_array([1.5, 2.0, -3.0], mask=[1, 0, 0]), False),
        ("masked-nomask", lambda: np.ma.masked_array([1, 2, 3]), False),
        ("masked-allfalse", lambda: np.ma.masked_array([4, 5, 6], mask=[0, 0, 0]), False),
        ("matrix-1xN", lambda: np.matrix([[1, 2, 3]]), False),
        ("matrix-Nx1", lambda: np.matrix([[1], [2], [3]]), False),
        ("ndarray-plain-subclass", lambda: np.arange(5).view(Plain), False),
        ("ndarray-plain-subclass-f", lambda: np.array([0.5, 1.5, -2.0]).view(Plain), False),
        ("ndarray-own-iter", lambda: np.arange(5).view(OwnIter), False),
        ("ndarray-own-getitem", lambda: np.arange(5).view(OwnGetitem), False),
        ("ndarray-int8-subclass", lambda: np.array([100, 100, 27], np.int8).view(Plain), False),
        ("array-subclass", lambda: Arr("q", [1, 2, 3, 4]), False),
        ("array-subclass-d", lambda: Arr("d", [1.5, 2.5]), False),
        ("array-own-iter", lambda: ArrIter("q", [1, 2, 3]), False),
        ("bytearray-subclass", lambda: BA(b"\x01\x02\xff"), False),
        ("bytearray-own-iter", lambda: BAIter(b"\x01\x02\xff"), False),
        ("bytes-subclass", lambda: By(b"abc"), False),
        ("ctypes-array", lambda: (ctypes.c_int * 4)(1, -2, 3, 4), False),
        ("bytes", lambda: b"\x00\x01\xfe\xff", True),
        ("bytearray", lambda: bytearray(b"\x05\x06\x07"), True),
        ("array-q", lambda: array.array("q", [1, -2, 3]), True),
        ("array-d", lambda: array.array("d", [1.5, -0.0, 2.25]), True),
        ("memoryview-bytes", lambda: memoryview(b"\x01\x02\x03"), True),
        ("memoryview-array-d", lambda: memoryview(array.array("d", [0.5, 2.0])), True),
        ("memoryview-of-masked", lambda: memoryview(masked), True),
        ("memoryview-bool", lambda: memoryview(bytes([1, 0, 1])).cast("?"), True),
        ("memoryview-char", lambda: memoryview(b"ab").cast("c"), True),
        ("memoryview-half", lambda: memoryview(np.array([1.5, 2.0], np.float16)), True),
    ]
    for dt in [
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
        "bool",
    ]:
        vals = [True, False, True] if dt == "bool" else [1, 0, 3, 2]
        out.append((f"ndarray-{dt}", functools.partial(np.array, vals, dtype=dt), True))
    return out


INPUTS = inputs()
IN_PLACE = {name: in_place for name, _, in_place in INPUTS}
PARAMS = [pytest.param(n, m, id=n) for n, m, _ in INPUTS]


def _is_exact_ndarray(x):
    return type(x) is np.ndarray


def python_items(x):
    """What the pipeline's elements are: an exact ndarray's ``.tolist()`` (the documented
    contract), else what iterating ``x`` gives."""
    return x.tolist() if _is_exact_ndarray(x) else list(iter(x))


# ---------------------------------------------------------------------------------------------
# Pipelines: (fastiter chain, the same in plain Python over the items)
# ---------------------------------------------------------------------------------------------


CASES = {
    "sum": (lambda p: p.sum(), lambda xs: sum(xs)),
    "map-sum": (lambda p: p.map(lambda x: x * 2).sum(), lambda xs: sum(x * 2 for x in xs)),
    "map-add-collect": (
        lambda p: p.map(lambda x: x + 1).collect(),
        lambda xs: [x + 1 for x in xs],
    ),
    "collect": (lambda p: p.collect(), lambda xs: list(xs)),
    "count": (lambda p: p.count(), lambda xs: len(xs)),
    "filter-sum": (
        lambda p: p.filter(lambda x: x > 1).sum(),
        lambda xs: sum(x for x in xs if x > 1),
    ),
    "min": (lambda p: p.min(), lambda xs: min(xs, default=None)),
    "max": (lambda p: p.max(), lambda xs: max(xs, default=None)),
    "any": (lambda p: p.any(lambda x: x == 3), lambda xs: any(x == 3 for x in xs)),
}


class Raised:
    def __init__(self, e):
        self.type = type(e)

    def __repr__(self):
        return f"Raised({self.type.__name__})"


def outcome(fn):
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - the exception type is the result
        return Raised(e)


def same(a, b):
    """Equal in type and value (NaN equal to NaN, -0.0 not 0.0), recursively; arrays and
    matrices element-wise; NumPy's ``masked`` by identity."""
    if isinstance(a, Raised) or isinstance(b, Raised):
        return isinstance(a, Raised) and isinstance(b, Raised) and a.type is b.type
    if type(a) is not type(b):
        return False
    if a is np.ma.masked or b is np.ma.masked:
        return a is b
    if isinstance(a, np.ma.MaskedArray):
        return bool(np.ma.allequal(a, b)) and np.array_equal(np.ma.getmask(a), np.ma.getmask(b))
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, (float, np.floating)):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy scalar overflow, as CPython's
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize(("name", "make"), PARAMS)
def test_result_is_pythons(name, make, case):
    chain, plain = CASES[case]
    want = outcome(lambda: plain(python_items(make())))
    got = outcome(lambda: chain(into_par_iter(make())))
    assert same(got, want), (name, case, got, want)


@pytest.mark.parametrize(("name", "make"), PARAMS)
def test_explain_says_in_place_or_why_not(name, make):
    x = make()
    text = fastiter.explain(into_par_iter(x).map(lambda x: x * 2))
    if IN_PLACE[name] and _native.buffer_dtype_of(x) is None:
        # An exact type in a format the kernel does not read (float16, uint64, chars).
        assert "whose buffer (format" in text and "is not read in place" in text, text
        assert "compiled: no" in text, text
    elif IN_PLACE[name]:
        assert "its buffer read in place" in text and "not read in place" not in text, text
    else:
        assert "is iterated as Python does, not read in place" in text, text
        if name != "ctypes-array":
            assert "a subclass of" in text, text


def test_explain_names_the_subclass():
    text = fastiter.explain(into_par_iter(np.ma.masked_array([1, 2, 3], mask=[0, 1, 0])))
    assert "a subclass of numpy.ndarray (MaskedArray) is iterated as Python does" in text, text
    assert "compiled: no" in text
    # Iteration that yields exact ints converts like a list, and compiles.
    text = fastiter.explain(into_par_iter(BA(b"\x01\x02")).map(lambda x: x * 2))
    assert "a subclass of bytearray (BA)" in text and "compiled: yes" in text, text


def test_masked_sum_is_masked():
    x = np.ma.masked_array([1, 2, 3], mask=[0, 1, 0])
    assert sum(iter(x)) is np.ma.masked
    assert into_par_iter(x).sum() is np.ma.masked
    assert into_par_iter(x).map(lambda v: v * 2).sum() is np.ma.masked


def test_matrix_iterates_as_rows():
    m = np.matrix([[1, 2, 3]])
    got = into_par_iter(m).sum()
    assert type(got) is np.matrix and got.tolist() == [[1, 2, 3]]
    assert into_par_iter(m).count() == 1


# ---------------------------------------------------------------------------------------------
# zip with such a partner, either side
# ---------------------------------------------------------------------------------------------


PARTNERS = [p for p in PARAMS if not p.id.startswith("matrix")]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize(("name", "make"), PARTNERS)
@pytest.mark.parametrize("how", ["object", "iterator", "as-source"])
def test_zip_partner(name, make, how):
    base = np.arange(10, 20, dtype=np.int64)
    bvals = base.tolist()

    def add(t):
        return t[0] + t[1]

    if how == "as-source":
        want = outcome(lambda: [a + b for a, b in zip(python_items(make()), bvals)])
        got = outcome(lambda: into_par_iter(make()).zip(base).map(add).collect())
    else:
        want = outcome(lambda: [a + b for a, b in zip(bvals, python_items(make()))])

        def run():
            other = make()
            other = into_par_iter(other) if how == "iterator" else other
            return into_par_iter(base).zip(other).map(add).collect()

        got = outcome(run)
    assert same(got, want), (name, how, got, want)
    if how == "object" and not IN_PLACE[name]:
        text = fastiter.explain(into_par_iter(base).zip(make()).map(add))
        assert "compiled: no" in text and "not read in place" in text, text


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(lambda: np.arange(6).reshape(3, 2), id="ndarray-2d"),
        pytest.param(lambda: np.arange(6.0).reshape(3, 2), id="ndarray-2d-f"),
        pytest.param(lambda: memoryview(bytes(6)).cast("B", (3, 2)), id="memoryview-2d"),
    ],
)
def test_zip_with_a_two_dimensional_buffer(other):
    """A 2-D partner zips its rows (or raises, as iterating a 2-D memoryview does), never its
    flat elements."""
    a = np.arange(3)
    want = outcome(lambda: [x + y for x, y in zip(a.tolist(), other())])
    got = outcome(lambda: into_par_iter(a).zip(other()).map(lambda t: t[0] + t[1]).collect())
    assert same(got, want), (got, want)
    text = fastiter.explain(into_par_iter(a).zip(other()).map(lambda t: t[0] + t[1]))
    assert "compiled: no" in text and "not a one-dimensional buffer" in text, text


# ---------------------------------------------------------------------------------------------
# The native checks behind them
# ---------------------------------------------------------------------------------------------


def test_native_reads_only_exact_types():
    assert _native.buffer_dtype_of(np.arange(3)) == "i64"
    assert _native.buffer_dtype_of(np.ma.masked_array([1, 2, 3])) is None
    assert _native.buffer_dtype_of(np.arange(3).view(Plain)) is None
    assert _native.buffer_dtype_of(BA(b"ab")) is None
    assert _native.buffer_dtype_of(Arr("q", [1])) is None
    assert _native.buffer_dtype_of((ctypes.c_int64 * 2)()) is None
    assert _native.buffer_dtype_of(memoryview(b"ab").cast("c")) is None
    assert _native.buffer_dtype_of(np.arange(4).reshape(2, 2)) is None
    assert _native.buffer_dtype_of(np.array(5)) is None
    kernel = _native.compile("_fi_data.sum()", [], ("_fi_data", "i64"))
    assert kernel.run([], np.arange(4)) == 6
    with pytest.raises(TypeError, match="not read in place"):
        kernel.run([], np.ma.masked_array([1, 2, 3, 4], mask=[0, 1, 0, 0]))
    with pytest.raises(TypeError, match="not read in place"):
        kernel.run([], Arr("q", [1, 2]))
    with pytest.raises(TypeError, match="one-dimensional"):
        kernel.run([], np.arange(4).reshape(2, 2))


def test_run_refuses_a_subclass():
    assert fastiter.run("d.map(x * 2).sum()", d=np.arange(4)) == 12
    with pytest.raises(TypeError, match="not a subclass"):
        fastiter.run("d.map(x * 2).sum()", d=np.ma.masked_array([1, 2, 3], mask=[0, 1, 0]))
    with pytest.raises(TypeError):
        fastiter.run("d.map(x * 2).sum()", d=np.arange(4).reshape(2, 2))


# ---------------------------------------------------------------------------------------------
# A buffer written by another thread while a kernel reads it
# ---------------------------------------------------------------------------------------------


def _with_writer(write, body):
    stop = threading.Event()
    writes = [0]

    def loop():
        while not stop.is_set():
            write(writes[0])
            writes[0] += 1

    t = threading.Thread(target=loop)
    t.start()
    try:
        return body()
    finally:
        stop.set()
        t.join()


def test_array_written_during_a_kernel():
    """Each element is 0 or 1 at every instant (the writer fills the whole array with one or
    the other, NumPy releasing the GIL for large fills): any mix is plausible, so a sum of
    ``x * 3`` is a multiple of 3 within [0, 3 N]; no crash, no read outside the buffer."""
    n = 2_000_000
    a = np.zeros(n, dtype=np.int64)
    f = np.zeros(n, dtype=np.float64)

    def write(k):
        a[:] = k % 2
        f[: n // 2] = k % 2
        f[n // 2 :] = (k + 1) % 2

    def body():
        got = []
        for _ in range(12):
            got.append(into_par_iter(a).map(lambda x: x * 3).sum())
            got.append(into_par_iter(f).filter(lambda x: x > 0.5).count())
            got.append(into_par_iter(a).zip(f).map(lambda t: t[0] + t[1]).sum())
        return got

    results = _with_writer(write, body)
    for i in range(0, len(results), 3):
        s, c, z = results[i : i + 3]
        assert type(s) is int and 0 <= s <= 3 * n and s % 3 == 0, s
        assert type(c) is int and 0 <= c <= n, c
        assert type(z) is float and 0 <= z <= 2 * n and z == int(z), z


def test_bytearray_cannot_be_resized_while_read():
    """The kernel holds the exporter's buffer view: a resize meanwhile raises BufferError in
    the writer (CPython's rule for an exported bytearray), so the kernel never reads freed
    memory. The length seen is one the writer left between statements: N or N + 1000."""
    n = 2_000_000
    ba = bytearray(b"\x01" * n)
    refused = [0]

    def write(_k):
        try:
            ba.extend(b"\x01" * 1000)
            del ba[-1000:]
        except BufferError:
            refused[0] += 1

    def body():
        return [into_par_iter(ba).map(lambda x: x * 2).sum() for _ in range(30)]

    for s in _with_writer(write, body):
        assert s in (2 * n, 2 * (n + 1000)), s
    assert len(ba) in (n, n + 1000)
