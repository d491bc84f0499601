"""Parallel iterators whose stages run as compiled kernels, with an exact Python fallback."""

from __future__ import annotations

import array
import contextvars
import functools
import itertools
import operator
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from fastiter import _adaptors, _cluster, _native
from fastiter._source import (
    AST_LOCK,
    PARAM_TYPES,
    Program,
    StageText,
    Template,
    Unsupported,
    as_def,
    caret_snippet,
    classify,
    file_position,
    resolve,
    short_path,
    stage_defs,
    stage_text,
    template_for,
)

# Stage operations the compiler fuses; the others run on the Python fallback.
COMPILED_STAGES = ("map", "filter")
# The consumers a compiled `fold` may end in.
_FOLD_CONSUMERS = ("sum", "count", "min", "max", "collect", "any", "all")

_GIL_DISABLED = hasattr(sys, "_is_gil_enabled") and not sys._is_gil_enabled()

# Set by `compile(strict=True)`: a pipeline that cannot compile raises instead of falling back.
_strict: contextvars.ContextVar[bool] = contextvars.ContextVar("fastiter_strict", default=False)
# Set by `explain(function, ...)`: terminals record their plan instead of running.
_explaining: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "fastiter_explaining", default=None
)


# One exception type for "cannot compile": `run()` raises the native one (with `kind`,
# `message`, `line`, `column` and `rendered`), strict mode raises it too, so that
# `except fastiter.CompileError` catches both.
CompileError = _native.CompileError
try:
    CompileError.__module__ = "fastiter"
except (AttributeError, TypeError):  # pragma: no cover - an immutable type: keep its name
    pass


def _strict_error(reason: Any) -> BaseException:
    """The CompileError strict mode raises for an Unsupported ``reason``."""
    err = CompileError(str(reason))
    message = getattr(reason, "reason", str(reason))
    where = getattr(reason, "where", None)
    line = column = None
    if where:
        parts = where.rsplit(":", 2)
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            line, column = int(parts[1]), int(parts[2])
    for name, value in (
        ("kind", "unsupported"),
        ("message", message),
        ("line", line),
        ("column", column),
        ("rendered", str(reason)),
        ("help", None),
    ):
        try:
            setattr(err, name, value)
        except AttributeError:  # pragma: no cover
            pass
    return err


# --- Sources ------------------------------------------------------------------------------


# The exact types read in place (with `numpy.ndarray`, found without importing numpy):
# iterating one gives its buffer's elements.
_IN_PLACE_TYPES = (memoryview, bytes, bytearray, array.array)
_IN_PLACE_NAMES = "numpy.ndarray, array.array, memoryview, bytes or bytearray"


def _in_place_base(cls: type) -> bool:
    if cls in _IN_PLACE_TYPES:
        return True
    np = sys.modules.get("numpy")
    return np is not None and cls is getattr(np, "ndarray", None)


def _reads_in_place(obj: Any) -> bool:
    """Whether ``obj`` is of a type read in place (exact: not a subclass). A subclass or any
    other exporter may iterate as something else than its buffer (a masked array gives
    ``masked``, a 1xN ``np.matrix`` one row, an ``__iter__`` of its own anything)."""
    return _in_place_base(type(obj))


def _type_name(cls: type) -> str:
    mod = getattr(cls, "__module__", "builtins")
    return cls.__qualname__ if mod == "builtins" else f"{mod}.{cls.__qualname__}"


def _exports_buffer(obj: Any) -> bool:
    try:
        with memoryview(obj):
            return True
    except Exception:  # noqa: BLE001 - any exporter's failure means no buffer
        return False


def _not_in_place(obj: Any) -> str | None:
    """Why ``obj``, which is not of a type read in place, is iterated rather than read in
    place; None when it exports no buffer (nothing to say)."""
    cls = type(obj)
    for base in cls.__mro__[1:]:
        if _in_place_base(base):
            return (
                f"a subclass of {_type_name(base)} ({cls.__name__}) is iterated as Python "
                "does, not read in place"
            )
    if _exports_buffer(obj):
        return (
            f"a {cls.__name__} exports a buffer but is iterated as Python does, not read in "
            f"place (only an exact {_IN_PLACE_NAMES} is)"
        )
    return None


class _Source:
    __slots__ = ("data", "kind", "length", "note", "origin")

    def __init__(self, kind: str, data: Any, note: str | None = None, origin: str = "") -> None:
        self.kind = kind  # "range", "seq", "buffer"
        self.data = data
        # For a "seq" made by iterating a buffer exporter not read in place: why not, and the
        # exporter's type name.
        self.note = note
        self.origin = origin

    def describe(self) -> str:
        if self.kind == "dask":
            x = self.data
            return f"into_par_iter(<dask array of {x.shape[0]} {x.dtype}>)"
        if self.kind == "range":
            r = self.data
            step = f", {r.step}" if r.step != 1 else ""
            return f"par_range({r.start}, {r.stop}{step})"
        if self.kind == "seq":
            what = f"{type(self.data).__name__} of {len(self.data)}"
            if self.note is not None:
                what += f" from iterating a {self.origin}"
            return f"into_par_iter(<{what}>)"
        return f"into_par_iter(<{type(self.data).__name__} buffer>)"

    def input_note(self) -> str | None:
        """How the input is read, for `explain()`: in place, or why not."""
        if self.kind == "dask":
            return (
                f"a dask array in {len(self.data.chunks[0])} blocks, each run on the worker "
                "that holds it"
            )
        if self.kind == "buffer":
            name = _type_name(type(self.data))
            if _native.buffer_dtype_of(self.data) is None:
                return (
                    f"a {name} whose buffer (format {_buffer_format(self.data)!r}) is not read "
                    "in place: its elements run as Python values"
                )
            return f"a {name}, its buffer read in place"
        return self.note

    def python_items(self) -> Iterable[Any]:
        """The elements as Python values (buffers: as `.tolist()` gives them)."""
        if self.kind == "dask":
            return self.data.compute().tolist()
        if self.kind == "buffer":
            obj = self.data
            tolist = getattr(obj, "tolist", None)
            if callable(tolist):
                return tolist()
            try:
                with memoryview(obj) as m:
                    return m.tolist()
            except NotImplementedError:
                return list(obj)
        return self.data

    def compiled_input(self) -> tuple[Any, str, list[tuple[str, str]], list[Any], Any]:
        """(cache key, pipeline text, params, param values, buffer) for a kernel."""
        if self.kind == "range":
            r = self.data
            if r.step == 1:
                return ("range1",), "range(_fi_start, _fi_stop)", _RANGE1, [r.start, r.stop], None
            return (
                ("range",),
                "range(_fi_start, _fi_stop, _fi_step)",
                _RANGE3,
                [r.start, r.stop, r.step],
                None,
            )
        if self.kind == "dask":
            import numpy as np

            dtype = _native.buffer_dtype_of(np.empty(0, self.data.dtype))
            if dtype is None:
                raise Unsupported(
                    f"a dask array of {self.data.dtype} is not read in place (int8-64, "
                    "uint8-32, float32/64, bool)"
                )
            return ("dask", dtype), "_fi_data", [], [], (self.data, dtype)
        if self.kind == "seq":
            try:
                buf, dtype = _sequence_buffer(self.data)
            except Unsupported as e:
                if self.note is None:
                    raise
                raise Unsupported(f"{self.note}; the items it gives: {e}") from None
        else:
            buf = self.data
            dtype = _native.buffer_dtype_of(buf)
            if dtype is None:
                fmt = _buffer_format(buf)
                raise Unsupported(
                    f"the input buffer (format {fmt!r}) is not C-contiguous in a format fastiter "
                    "reads in place (int8-64, uint8-32, float32/64, bool, native byte order)"
                )
        return ("buf", dtype), "_fi_data", [], [], (buf, dtype)


_RANGE1 = [("_fi_start", "int"), ("_fi_stop", "int")]
_RANGE3 = _RANGE1 + [("_fi_step", "int")]


def _buffer_format(obj: Any) -> str:
    try:
        with memoryview(obj) as m:
            return m.format
    except TypeError:
        return "?"


def _zip_input(other: Any) -> tuple[Any, str]:
    """The buffer and dtype of what a chain is zipped with: an iterator straight from a list,
    tuple or buffer (no stages), or such an object itself."""
    src = getattr(other, "_src", None)
    if src is not None:
        if other._stages or src.kind not in ("seq", "buffer"):
            raise Unsupported(
                "`.zip()` compiles with a range, a list, a buffer, or an iterator straight from "
                "one of them (no stages)"
            )
        _, _, _, _, zbuf = src.compiled_input()
        return zbuf
    if isinstance(other, (list, tuple)):
        return _sequence_buffer(other)
    if not _buffer_source(other):
        # Iterating a 2-D array gives rows; a subclass or another exporter what it likes.
        if _reads_in_place(other):
            why: str | None = (
                "it is not a one-dimensional buffer (iterating it does not give its elements)"
            )
        else:
            why = _not_in_place(other)
        raise Unsupported(
            f"`.zip()` does not compile with a {type(other).__name__}" + (f": {why}" if why else "")
        )
    dtype = _native.buffer_dtype_of(other)
    if dtype is None:
        raise Unsupported(
            f"`.zip()` does not compile with this {type(other).__name__}: its buffer (format "
            f"{_buffer_format(other)!r}) is not C-contiguous in a format fastiter reads in place"
        )
    return other, dtype


def _sequence_buffer(data: Any) -> tuple[Any, str]:
    """A list/tuple of numbers as a buffer, converted once in one native pass (exact types
    only; see py/src/convert.rs)."""
    if type(data) is not list and type(data) is not tuple:
        # A subclass may iterate as it likes: convert what iterating it gives, as the Python
        # fallback would see it.
        data = list(data)
    got = _native.sequence_buffer(data)
    if type(got) is str:
        raise Unsupported(got)
    return got


# --- Plans (compiled kernels and how to feed them) -----------------------------------------


class _Plan:
    __slots__ = ("consumer_stage", "error", "kernel", "params", "program", "stages", "text")

    def __init__(self) -> None:
        self.kernel: Any = None
        self.error: Unsupported | None = None
        self.text = ""
        self.stages: list[StageText] = []
        self.consumer_stage: StageText | None = None
        self.params: list[tuple[str, str]] = []
        # The defs the stages call and the numbers they read (after the stages' parameters).
        self.program: Program | None = None

    def extra_values(self, roots: list[Any]) -> list[Any] | None:
        """The values of the program's parameters for these stage functions, or None when
        the plan no longer describes them (a callee rebound, a number changed type)."""
        prog = self.program
        if prog is None or (not prog.params and not prog.guard_refs):
            return []
        vals = prog.values(roots)
        if vals is None:
            return None
        for v, (_, ty) in zip(vals, prog.params):
            if PARAM_TYPES.get(type(v)) != ty:
                return None
        return vals


_plan_lock = threading.Lock()
# Least recently compiled first. A kernel holds its machine code (tens of KB): programs that
# generate pipelines endlessly must not keep them all.
_plans: OrderedDict[Any, _Plan] = OrderedDict()
_MAX_PLANS = 256


def _compile_plan(
    src_text: str,
    src_params: list[tuple[str, str]],
    buffer_dtype: str | None,
    stages: list[tuple[str, StageText]],
    consumer_text: tuple[str, StageText | None, str],
    extra_params: list[tuple[str, str]],
    program: Program | None = None,
) -> _Plan:
    plan = _Plan()
    plan.program = program
    # The defs the stages need come first, each block at column 0, then the pipeline.
    defs = list(program.defs) if program is not None else []
    prefix = "".join(d[0] + "\n" for d in defs)
    parts = [prefix, src_text]
    offsets: list[tuple[int, StageText]] = []
    pos = len(prefix) + len(src_text)
    for op, st in stages:
        head = ".fold(_fi_identity, " if op == "fold" else f".{op}("
        offsets.append((pos + len(head), st))
        parts.append(head + st.text + ")")
        pos += len(head) + len(st.text) + 1
    cname, cstage, cprefix = consumer_text
    head = f".{cname}({cprefix}"
    if cstage is not None:
        offsets.append((pos + len(head), cstage))
        parts.append(head + cstage.text + ")")
    else:
        parts.append(head.rstrip(", ") + ")")
    plan.text = "".join(parts)
    plan.stages = [st for _, st in stages]
    plan.consumer_stage = cstage
    params = list(src_params)
    for _, st in stages:
        params += st.params
    params += extra_params
    if cstage is not None:
        params += cstage.params
    if program is not None:
        params += program.params
    plan.params = params
    if isinstance(buffer_dtype, tuple):  # zipped with a second buffer
        buffer: Any = ("_fi_data", buffer_dtype[0], "_fi_zip", buffer_dtype[1])
    else:
        buffer = ("_fi_data", buffer_dtype) if buffer_dtype else None
    try:
        plan.kernel = _native.compile(plan.text, params, buffer)
    except _native.CompileError as e:
        plan.error = _map_error(plan.text, offsets, e, defs)
    return plan


def _map_error(
    text: str,
    offsets: list[tuple[int, StageText]],
    e: Any,
    defs: list[tuple[str, str, int, int]] = (),  # type: ignore[assignment]
) -> Unsupported:
    """A compile error, placed in the user's file when it falls inside a lambda's source."""
    message = getattr(e, "message", None) or str(e)
    line = getattr(e, "line", None)
    col = getattr(e, "column", None)
    if line is None or col is None:
        return Unsupported(message, None, str(e))
    lines = text.split("\n")
    offset = sum(len(s) + 1 for s in lines[: line - 1]) + col - 1
    start = 0
    for dtext, fname, dline, dcol in defs:
        if start <= offset < start + len(dtext) + 1:
            rel = dtext[: offset - start]
            nl = rel.count("\n")
            fl = dline + nl
            fc = dcol + (len(rel) - rel.rfind("\n") - 1 if nl else len(rel))
            return Unsupported(
                message, f"{short_path(fname)}:{fl}:{fc + 1}", caret_snippet(fname, fl, fc)
            )
        start += len(dtext) + 1
    for start, st in reversed(offsets):
        if offset >= start:
            inside = offset - start <= len(st.text)  # not past it, at a later method's name
            where = file_position(st, offset - start) if inside else None
            if where is not None:
                fname, fl, fc = where
                return Unsupported(
                    message, f"{short_path(fname)}:{fl}:{fc + 1}", caret_snippet(fname, fl, fc)
                )
            break
    return Unsupported(message, None, getattr(e, "rendered", str(e)))


def _get_plan(key: Any, build: Callable[[], _Plan], fresh: bool = False) -> _Plan:
    plan = None if fresh else _plans.get(key)
    if plan is None:
        plan = build()
        with _plan_lock:
            while len(_plans) >= _MAX_PLANS:
                _plans.popitem(last=False)
            if fresh:
                _plans[key] = plan
            else:
                plan = _plans.setdefault(key, plan)
    return plan


def stage_free(fn: Any, arity: int) -> tuple[Template, list[Any], tuple[Any, ...]]:
    """A stage function's template, the current values of its free names and their kinds."""
    tpl = template_for(fn, arity)
    vals = [resolve(fn, name, cell) for name, cell, _ in tpl.free]
    return tpl, vals, tuple(map(classify, vals))


# --- The iterator -------------------------------------------------------------------------


class _Methods:
    """The methods of ``ParallelIterator`` written in Python, attached to the native class
    (``_native.ParallelIterator``) below. The class itself holds the source (``_src``) and the
    stages (``_stages``, a tuple of ``(op, function, extra)``) and defines ``map``,
    ``filter``, ``sum``, ``count``, ``min``, ``max``, ``any``, ``all`` and ``collect``: a call
    of a chain compiled before runs without Python code (see ``_fast_store``); anything else
    comes back to ``_consume_slow``."""

    # Stages ---------------------------------------------------------------------------------

    def _then(self, op: str, fn: Any, extra: Any = None) -> ParallelIterator:
        return ParallelIterator(self._src, self._stages + ((op, fn, extra),))

    def flat_map(self, func: Callable[[Any], Iterable[Any]]) -> ParallelIterator:
        """Replace each element by the elements of the iterable ``func`` returns."""
        return self._then("flat_map", _callable(func, "flat_map"))

    def zip(self, other: Any) -> ParallelIterator:
        """Pair elements with those of ``other`` (a parallel iterator or any iterable), as
        tuples, stopping at the shorter."""
        return self._then("zip", None, other)

    def fold(
        self, identity: Callable[[], Any], fold_op: Callable[[Any, Any], Any]
    ) -> ParallelIterator:
        """Fold the elements into accumulators (``fold_op(acc, x)`` from ``identity()``): an
        iterator over the per-chunk results (one chunk here), to be reduced further."""
        return self._then("fold", _callable(fold_op, "fold"), _callable(identity, "fold"))

    # Rayon-style adaptors (semantics in _adaptors) --------------------------------------------

    def enumerate(self) -> ParallelIterator:
        """Pair each element with its index, as ``(i, x)`` tuples (as ``enumerate``)."""
        return self._then("enumerate", None)

    def take(self, n: int) -> ParallelIterator:
        """The first ``n`` elements (all of them when fewer); ``n`` is an int >= 0."""
        return self._slice("take", _adaptors.count_arg(n, "take"))

    def skip(self, n: int) -> ParallelIterator:
        """All but the first ``n`` elements; ``n`` is an int >= 0."""
        return self._slice("skip", _adaptors.count_arg(n, "skip"))

    def step_by(self, step: int) -> ParallelIterator:
        """Every ``step``-th element, from the first; ``step`` is an int >= 1."""
        return self._slice("step_by", _adaptors.step_arg(step))

    def chain(self, other: Any) -> ParallelIterator:
        """The elements, then those of ``other`` (a parallel iterator or any iterable)."""
        return self._then("chain", None, other)

    def _slice(self, op: str, n: int) -> ParallelIterator:
        k = _adaptors.slice_position(self._stages, op)
        if k == 0 and self._src.kind == "range":  # a range again: exact, O(1)
            src = _Source("range", _adaptors.sliced_range(self._src.data, op, n))
            return ParallelIterator(src, self._stages)
        return ParallelIterator(self._src, self._stages[:k] + ((op, None, n),) + self._stages[k:])

    # Consumers ------------------------------------------------------------------------------

    def reduce(self, identity: Callable[[], Any], reduce_op: Callable[[Any, Any], Any]) -> Any:
        """Combine the elements with ``reduce_op``, starting from ``identity()`` (returned when
        empty). As in Rayon and fastiter 0.1, ``reduce_op`` must be associative and
        ``identity()`` its identity: chunks are reduced separately, then combined in order."""
        return self._consume(
            "reduce", (_callable(identity, "reduce"), _callable(reduce_op, "reduce"))
        )

    def product(self) -> Any:
        """The product of the elements (1 when empty), as ``math.prod``."""
        return self._consume("product", None)

    def find_first(self, predicate: Callable[[Any], Any]) -> Any:
        """The first element that satisfies ``predicate``, or None; stops early."""
        return self._consume("find_first", _callable(predicate, "find_first"))

    def find_any(self, predicate: Callable[[Any], Any]) -> Any:
        """An element that satisfies ``predicate`` (the first one: deterministic), or None."""
        return self._consume("find_any", _callable(predicate, "find_any"))

    def position_first(self, predicate: Callable[[Any], Any]) -> int | None:
        """The index of the first element that satisfies ``predicate``, or None; stops early."""
        return self._consume("position_first", _callable(predicate, "position_first"))

    def position_any(self, predicate: Callable[[Any], Any]) -> int | None:
        """The index of an element that satisfies ``predicate`` (the first one), or None."""
        return self._consume("position_any", _callable(predicate, "position_any"))

    def min_by_key(self, key: Callable[[Any], Any]) -> Any:
        """The element with the smallest ``key`` (the first of equal keys), or None when empty."""
        return self._consume("min_by_key", _callable(key, "min_by_key"))

    def max_by_key(self, key: Callable[[Any], Any]) -> Any:
        """The element with the largest ``key`` (the first of equal keys), or None when empty."""
        return self._consume("max_by_key", _callable(key, "max_by_key"))

    def collect_array(self) -> Any:
        """The elements, in order, as a NumPy array (int64, float64 or bool)."""
        import numpy as np

        items: Any = None
        try:
            plan, values, buf = self._plan("collect", None)
        except Unsupported:
            plan = None
        if plan is not None and plan.kernel is not None and _explaining.get() is None:
            try:
                items = plan.kernel.run(values, buf[0] if buf else None, array=True)
            except _native.Refused:
                items = _python_run(self, "collect", None)
            if isinstance(items, tuple):
                # Packed by the kernel: no Python object per element.
                data, code = items
                return np.frombuffer(
                    data, dtype={"q": np.int64, "d": np.float64, "?": np.bool_}[code]
                )
        if items is None:
            items = self._consume("collect", None)
        return np.array(items) if items else np.array([], dtype=np.int64)

    def for_each(self, func: Callable[[Any], Any]) -> None:
        """Call ``func`` on each element (in order on a GIL build; in parallel threads on a
        free-threaded one)."""
        self._consume("for_each", _callable(func, "for_each"))

    def __iter__(self) -> Iterator[Any]:
        return iter(self.collect())

    def __repr__(self) -> str:
        try:
            plan, _, _ = self._plan("collect", None)
            status = "compiles" if plan.kernel is not None else f"runs as Python: {plan.error}"
        except Unsupported as e:
            status = f"runs as Python: {e}"
        except Exception as e:  # noqa: BLE001 - a repr must not raise
            status = f"runs as Python: {type(e).__name__}: {e}"
        return f"<fastiter {self.describe()} — {status}>"

    def describe(self) -> str:
        """The chain, as written."""
        parts = [self._src.describe()]
        for op, fn, extra in self._stages:
            if op == "zip":
                parts.append(f".zip({type(extra).__name__})")
            elif op == "fold":
                parts.append(f".fold({_fn_name(extra)}, {_fn_name(fn)})")
            elif op in _adaptors.STAGES:
                parts.append(_adaptors.describe_stage(op, extra))
            else:
                parts.append(f".{op}({_fn_name(fn)})")
        return "".join(parts)

    # Planning and running ------------------------------------------------------------------

    def _plan(self, consumer: str, carg: Any) -> tuple[_Plan, list[Any], Any]:
        """The compiled plan for this chain and consumer, the parameter values and the buffer.
        Raises Unsupported when the chain cannot compile."""
        key_parts: list[Any] = []
        stage_inputs: list[tuple[str, Template, Any, tuple[Any, ...]]] = []
        values: list[Any] = []
        src_key, src_text, src_params, src_values, buf = self._src.compiled_input()
        values.extend(src_values)
        fold_ident: list[Any] = []
        for i, (op, fn, extra) in enumerate(self._stages):
            if op == "fold":
                # `fold(identity, op)` then the consumer: one sequential fold, compiled when
                # it is the last stage and the consumer takes no function.
                if i != len(self._stages) - 1:
                    raise Unsupported("stages after `.fold()` are not compiled")
                if carg is not None or consumer not in _FOLD_CONSUMERS:
                    raise Unsupported(f"`.{consumer}()` after `.fold()` is not compiled")
                fold_ident.append(extra())
                tpl, vals, kinds = stage_free(fn, 2)
                key_parts.append((op, tpl, kinds))
                stage_inputs.append((op, tpl, fn, kinds))
                if not as_def(tpl, fn):
                    values.extend(v for v, k in zip(vals, kinds) if k[0] == "param")
                continue
            if op == "zip" and _adaptors.other_range(extra) is None:
                # Two inputs paired by position: the second is a buffer of its own.
                before = [o for o, _, _ in self._stages[:i]]
                if (
                    buf is None
                    or isinstance(buf[1], tuple)
                    or any(o not in ("skip", "take", "step_by") for o in before)
                ):
                    raise Unsupported(
                        "`.zip()` of two inputs compiles right after a list or buffer source"
                    )
                zbuf, zdtype = _zip_input(extra)
                buf = ((buf[0], zbuf), (buf[1], zdtype))
                st = StageText()
                st.text = "_fi_zip"
                key_parts.append(("zip", "buf", zdtype))
                stage_inputs.append((op, None, st, ()))  # type: ignore[arg-type]
                continue
            if op in _adaptors.TEXT_STAGES:
                kpart, fixed, vals = _adaptors.text_stage(op, extra, i)
                key_parts.append(kpart)
                stage_inputs.append((op, None, fixed, ()))  # type: ignore[arg-type]
                values.extend(vals)
                continue
            if op not in COMPILED_STAGES and op not in _adaptors.CALLABLE_STAGES:
                raise Unsupported(f"`.{op}()` is not compiled yet")
            tpl, vals, kinds = stage_free(fn, 1)
            key_parts.append((op, tpl, kinds))
            stage_inputs.append((op, tpl, fn, kinds))
            if not as_def(tpl, fn):
                values.extend(v for v, k in zip(vals, kinds) if k[0] == "param")
        extra_params: list[tuple[str, str]] = []
        cfn = None
        cprefix = ""
        if consumer in ("min", "max"):
            if carg is not None:
                consumer, cfn = _adaptors.consumer_fn(consumer, carg)
        elif consumer in _adaptors.CONSUMERS:
            consumer, cfn = _adaptors.consumer_fn(consumer, carg)
        elif consumer in ("any", "all"):
            cfn = carg
        elif consumer == "reduce":
            ident_fn, cfn = carg
            ident = ident_fn()
            kind = classify(ident)
            if kind[0] != "param":
                raise Unsupported(f"the identity of reduce is {type(ident).__name__}, not a number")
            extra_params = [("_fi_identity", kind[1])]
            cprefix = "_fi_identity, "
            values.append(ident)
        elif consumer not in ("sum", "count", "collect"):
            raise Unsupported(f"`.{consumer}()` is not compiled yet")
        if fold_ident:
            kind = classify(fold_ident[0])
            if kind[0] != "param":
                raise Unsupported(
                    f"the identity of fold is {type(fold_ident[0]).__name__}, not a number"
                )
            extra_params = [("_fi_identity", kind[1])]
            values.append(fold_ident[0])
        ctpl = None
        ckinds: tuple[Any, ...] = ()
        cvals: list[Any] = []
        if cfn is not None:
            ctpl, cvals, ckinds = stage_free(cfn, 2 if consumer == "reduce" else 1)
            if not as_def(ctpl, cfn):
                values.extend(v for v, k in zip(cvals, ckinds) if k[0] == "param")
        key = (
            src_key,
            tuple(key_parts),
            consumer,
            ctpl,
            ckinds,
            tuple(t for _, t in extra_params),
        )

        def build() -> _Plan:
            taken: dict[str, Any] = {n: ("src", n) for n, _ in src_params}
            taken["_fi_identity"] = ("identity",)
            taken.update(
                (n, ("stage",)) for _, t, f, _ in stage_inputs if t is None for n, _ in f.params
            )
            try:
                with AST_LOCK:
                    for i, (_, tpl, fn, kinds) in enumerate(stage_inputs):
                        if tpl is not None:  # None: an adaptor's text
                            stage_defs(tpl, fn, kinds, taken, i)
                    if ctpl is not None:
                        stage_defs(ctpl, cfn, ckinds, taken, len(stage_inputs))
                    stages = [
                        (op, stage_text(tpl, fn, kinds, taken, i) if tpl is not None else fn)
                        for i, (op, tpl, fn, kinds) in enumerate(stage_inputs)
                    ]
                    cst = (
                        stage_text(ctpl, cfn, ckinds, taken, len(stages))
                        if ctpl is not None
                        else None
                    )
            except Unsupported as e:
                plan = _Plan()
                plan.error = e
                return plan
            return _compile_plan(
                src_text,
                src_params,
                buf[1] if buf else None,
                stages,
                (consumer, cst, cprefix),
                extra_params,
                taken.get(("program",)),
            )

        roots = [fn for _, _, fn, _ in stage_inputs] + [cfn]
        plan = _get_plan(key, build)
        extra = plan.extra_values(roots)
        if extra is None:
            plan = _get_plan(key, build, fresh=True)
            extra = plan.extra_values(roots)
            if extra is None:  # pragma: no cover - changed while compiling
                raise Unsupported("the functions the stages call changed while compiling")
        values.extend(extra)
        return plan, values, buf

    def _consume(self, consumer: str, carg: Any) -> Any:
        if carg is None or consumer in ("any", "all"):
            # The native table of compiled chains (`_fast`, py/src/chain.rs): NotImplemented when
            # it has no entry for this chain that still applies.
            out = self._fast(consumer, carg)
            if out is not NotImplemented:
                return out
        return self._consume_slow(consumer, carg)

    def _consume_slow(self, consumer: str, carg: Any) -> Any:
        """The consumer's value through the plans (compiling on a miss), or as Python."""
        explaining = _explaining.get()
        fast_ok = carg is None or consumer in ("any", "all")
        try:
            plan, values, buf = self._plan(consumer, carg)
            reason = plan.error
        except Unsupported as e:
            plan, values, buf, reason = None, [], None, e
        if explaining is not None:
            explaining.append(_explanation(self, consumer, plan, values, reason))
            return None
        if plan is not None and plan.kernel is not None:
            if fast_ok and self._src.kind == "range":
                _fast_store(self, consumer, carg, plan)
            try:
                cl = _cluster.takes(self, consumer)
                if cl is not None or self._src.kind == "dask":
                    out = _cluster.compiled(self, plan, values, buf, cl)
                    if out is not _cluster.IN_PROCESS:
                        return out
                return plan.kernel.run(values, buf[0] if buf else None)
            except _native.Refused:
                pass
        elif _strict.get():
            raise _strict_error(reason)
        return _python_run(self, consumer, carg)


# The common case again, cheaper: a range through lambdas into a consumer without a function
# (or `any`/`all` with a predicate) is recorded in the native table (py/src/chain.rs), keyed by the
# identities of the stages' code objects; each entry says how to read the free names and what
# they must still be (a number of the same type, or the very same module/builtin/function) for
# the compiled plan to apply. Anything else takes the general path above.


def _fast_store(p: ParallelIterator, consumer: str, carg: Any, plan: _Plan) -> None:
    if any(op not in COMPILED_STAGES for op, _, _ in p._stages):
        return  # `fold` calls its identity at every run: the general path does that
    getters = []
    fns = [fn for _, fn, _ in p._stages]
    if carg is not None:
        fns.append(carg)
    for i, fn in enumerate(fns):
        tpl, vals, kinds = stage_free(fn, 1)
        program_reads = as_def(tpl, fn)
        for (name, cell, _), v, k in zip(tpl.free, vals, kinds):
            if k[0] == "param":
                if not program_reads:
                    getters.append((i, name, cell, type(v), True))
            else:
                getters.append((i, name, cell, v, False))
    prog = plan.program
    has_program = prog is not None and bool(prog.params or prog.guard_refs)
    p._fast_store(consumer, carg, plan.kernel, getters, plan if has_program else None)


def _callable(f: Any, method: str) -> Any:
    if not callable(f):
        raise TypeError(f"{method}() expects a callable, got {type(f).__name__}")
    # A function decorated with @fastiter.compile computes what the function it wraps does.
    return getattr(f, "_fi_function", f)


def _fn_name(fn: Any) -> str:
    code = getattr(fn, "__code__", None)
    if code is not None and code.co_name == "<lambda>":
        try:
            from fastiter._source import find_node, source_segment

            _, text, node = find_node(fn)
            seg = source_segment(text, node)
            if seg and len(seg) <= 60 and "\n" not in seg:
                return seg
        except Exception:  # noqa: BLE001, S110 - only a description
            pass
        return f"<lambda at {short_path(code.co_filename)}:{code.co_firstlineno}>"
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


# `ParallelIterator` is native (`py/src/chain.rs`): a chain `par_range`, `map` and `filter` make
# is one allocation, and a consumer looks up the compiled chain without Python code. Its other
# methods are these.
ParallelIterator = _native.ParallelIterator
for _name, _value in list(vars(_Methods).items()):
    if _name not in ("__dict__", "__weakref__", "__module__", "__doc__", "__qualname__"):
        setattr(ParallelIterator, _name, _value)


# --- Python fallback ----------------------------------------------------------------------


def _apply_stages(stages: tuple[tuple[str, Any, Any], ...], it: Iterable[Any]) -> Iterator[Any]:
    out: Iterable[Any] = it
    for op, fn, extra in stages:
        if op == "map":
            out = map(fn, out)
        elif op == "filter":
            out = filter(fn, out)
        elif op == "flat_map":
            out = itertools.chain.from_iterable(map(fn, out))
        elif op == "zip":
            if isinstance(extra, ParallelIterator):
                other = extra._python_iter()
            elif _buffer_source(extra):
                # A buffer zipped in reads as a buffer source does: `.tolist()`'s values.
                other = _Source("buffer", extra).python_items()
            else:
                other = extra
            out = zip(out, other)
        elif op == "fold":
            out = iter([functools.reduce(fn, out, extra())])
        else:
            out = _adaptors.apply_stage(op, extra, out)
    return iter(out)


def _finish(consumer: str, carg: Any, it: Iterator[Any]) -> Any:
    if consumer == "sum":
        return sum(it)
    if consumer == "count":
        n = 0
        for _ in it:
            n += 1
        return n
    if consumer == "min":
        return min(it, key=carg, default=None) if carg is not None else min(it, default=None)
    if consumer == "max":
        return max(it, key=carg, default=None) if carg is not None else max(it, default=None)
    if consumer == "any":
        return any(map(carg, it)) if carg is not None else any(it)
    if consumer == "all":
        return all(map(carg, it)) if carg is not None else all(it)
    if consumer == "reduce":
        identity, op = carg
        return functools.reduce(op, it, identity())
    if consumer == "collect":
        return list(it)
    if consumer == "for_each":
        for x in it:
            carg(x)
        return None
    return _adaptors.finish(consumer, carg, it)


def _python_iter(self: ParallelIterator) -> Iterator[Any]:
    return _apply_stages(self._stages, self._src.python_items())


ParallelIterator._python_iter = _python_iter  # type: ignore[attr-defined]


def _python_run(p: ParallelIterator, consumer: str, carg: Any) -> Any:
    """Plain Python semantics. With the GIL, threads would only slow Python code down, so it
    runs in order on this thread; on a free-threaded build the stages run in parallel chunks
    and the consumer takes their outputs in order (so values, exceptions and short-circuiting
    are exactly sequential Python's)."""
    if not p._stages and p._src.kind == "range":
        done = _range_closed_form(p._src.data, consumer, carg)
        if done is not _NO_CLOSED_FORM:
            return done
    cl = _cluster.takes(p, consumer)
    if cl is not None or p._src.kind == "dask":
        out = _cluster.python(p, consumer, carg, cl)
        if out is not _cluster.IN_PROCESS:
            return out
    items = p._src.python_items()
    threads = _native.get_num_threads()
    if not _GIL_DISABLED or threads < 2 or not hasattr(items, "__len__") or len(items) < 4096:
        return _finish(consumer, carg, _apply_stages(p._stages, items))
    return _finish(consumer, carg, _parallel_items(p._stages, items, threads))


_NO_CLOSED_FORM = object()


def _range_closed_form(r: range, consumer: str, carg: Any) -> Any:
    """What sequential Python computes over a bare range, without iterating (ranges past 64
    bits, which kernels refuse, would otherwise take as long as Python does)."""
    if carg is not None:
        return _NO_CLOSED_FORM
    start, step = r.start, r.step
    if step > 0:
        n = max(0, (r.stop - start + step - 1) // step)
    else:
        n = max(0, (start - r.stop - step - 1) // -step)
    last = start + (n - 1) * step
    if consumer == "count":
        return n
    if consumer == "sum":
        return n * start + step * (n * (n - 1) // 2)
    if consumer in ("min", "max"):
        if n == 0:
            return None
        # The first of equal extremes is the only one: range elements are distinct.
        return min(start, last) if consumer == "min" else max(start, last)
    if consumer == "any":
        return n >= 2 or (n == 1 and start != 0)
    if consumer == "all":
        return 0 not in r
    return _NO_CLOSED_FORM


def _parallel_items(stages: Any, items: Any, threads: int) -> Iterator[Any]:
    chunked, in_order = _adaptors.parallel_split(stages)
    if in_order:
        yield from _apply_stages(
            in_order, _parallel_items(chunked, items, threads) if chunked else items
        )
        return
    n = len(items)
    chunk = max(1024, -(-n // (threads * 4)))

    def work(lo: int) -> tuple[list, BaseException | None]:
        out: list = []
        try:
            for x in _apply_stages(stages, items[lo : lo + chunk]):
                out.append(x)  # noqa: PERF402 - keeps the elements before an error
        except BaseException as e:  # noqa: BLE001 - re-raised in order below
            return out, e
        return out, None

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for out, exc in pool.map(work, range(0, n, chunk)):
            yield from out
            if exc is not None:
                raise exc


# --- Explanations -------------------------------------------------------------------------


def _explanation(
    p: ParallelIterator, consumer: str, plan: _Plan | None, values: list[Any], reason: Any
) -> str:
    lines = [f"pipeline: {p.describe()}.{consumer}()"]
    note = p._src.input_note()
    if note:
        lines.append(f"input: {note}")
    if plan is not None and plan.kernel is not None:
        k = plan.kernel
        lines.append(
            f"compiled: yes, one fused native loop ({k.compile_time * 1e3:.2f} ms to compile)"
        )
        lines.append(f"kernel source: {plan.text}")
        if plan.params:
            shown = ", ".join(f"{n}: {t} = {v!r}" for (n, t), v in zip(plan.params, values))
            lines.append(f"parameters: {shown}")
        lines.append("IR:")
        lines.extend("  " + s for s in k.ir.rstrip("\n").split("\n"))
    else:
        lines.append("compiled: no, it runs as plain Python (same results, Python speed)")
        lines.append(f"reason: {reason}")
        if plan is not None and plan.text:
            lines.append(f"kernel source tried: {plan.text}")
    return "\n".join(lines)


def explain_pipeline(p: ParallelIterator, consumer: str = "collect") -> str:
    try:
        plan, values, _ = p._plan(consumer, None)
        reason = plan.error
    except Unsupported as e:
        plan, values, reason = None, [], e
    return _explanation(p, consumer, plan, values, reason)


# --- Constructors -------------------------------------------------------------------------


def _par_range(start: int, stop: int | None = None, step: int = 1) -> ParallelIterator:
    """``par_range`` for what the native one does not take itself: anything but one to three
    exact ints within 64 bits, keywords, a zero step."""
    if stop is None:
        start, stop = 0, start
    start, stop, step = operator.index(start), operator.index(stop), operator.index(step)
    if step == 0:
        raise ValueError("Range step cannot be zero")
    return ParallelIterator(_Source("range", range(start, stop, step)))


def into_par_iter(data: Any) -> ParallelIterator:
    """A parallel iterator over ``data``: a range, a list or tuple (converted once, in one
    native pass, to a typed buffer when it holds ints, floats and bools), anything with the
    buffer protocol of an exact type (``numpy.ndarray``, ``array.array``, ``memoryview``,
    ``bytes``, ``bytearray``: read in place), or any other iterable (iterated once, as Python
    does: a subclass of those, a masked array, ``np.matrix``)."""
    if isinstance(data, ParallelIterator):
        return data
    if isinstance(data, range):
        if data.step == 0:  # pragma: no cover - range() already refuses
            raise ValueError("Range step cannot be zero")
        return ParallelIterator(_Source("range", data))
    if isinstance(data, (list, tuple)):
        return ParallelIterator(_Source("seq", data))
    if _is_dask_array(data):
        if data.ndim == 1:
            return ParallelIterator(_Source("dask", data))
        # Iterating it gives rows (or raises, at 0-d), as its computed array does.
        return into_par_iter(data.compute())
    if _buffer_source(data):
        return ParallelIterator(_Source("buffer", data))
    note = None if isinstance(data, str) or _reads_in_place(data) else _not_in_place(data)
    return ParallelIterator(_Source("seq", list(data), note, type(data).__name__))


def _is_dask_array(data: Any) -> bool:
    """A `dask.array.Array` (found by module and name: dask is not imported for it)."""
    cls = type(data)
    return cls.__name__ == "Array" and cls.__module__.startswith("dask.array")


def _buffer_source(data: Any) -> bool:
    """Whether ``data`` is read as a buffer: an exact type read in place, exporting a
    one-dimensional buffer (an object array, a datetime64 array export none)."""
    if not _reads_in_place(data):
        return False
    try:
        with memoryview(data) as m:
            return m.ndim == 1
    except (TypeError, ValueError, BufferError):
        return False


# The native per-call path calls back into these; `par_range` is native: exact ints make the
# chain without Python code, anything else goes to `_par_range`.
_native.chain_setup(_Source, _par_range, _callable, _python_run, _explaining)
_cluster.setup(apply_stages=_apply_stages, finish=_finish)
par_range = _native.par_range
