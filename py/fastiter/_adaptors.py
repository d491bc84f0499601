"""Rayon-style adaptors (``enumerate``, ``take``, ``skip``, ``step_by``, ``chain``) and consumers
(``product``, ``find_first``/``find_any``, ``position_first``/``position_any``,
``min_by_key``/``max_by_key``) of :class:`fastiter.ParallelIterator`.

Their meaning is sequential Python's, the reference a compiled plan must equal:

- ``enumerate()`` is ``enumerate(it)``; ``take(n)``, ``skip(n)`` and ``step_by(k)`` are
  ``islice(it, n)``, ``islice(it, n, None)`` and ``islice(it, 0, None, k)``; ``chain(other)`` is
  ``itertools.chain(it, other)``.
- ``product()`` is ``math.prod(it)``; ``find_first(p)`` and ``find_any(p)`` are
  ``next((x for x in it if p(x)), None)``; ``position_first(p)`` and ``position_any(p)`` are
  ``next((i for i, x in enumerate(it) if p(x)), None)``; ``min_by_key(k)``/``max_by_key(k)`` are
  ``min(it, key=k, default=None)``/``max(...)`` (the first of equal keys).

The early-exit consumers stop pulling elements once the answer is known, so an exception in a
later element is never raised. ``find_any``/``position_any`` answer as ``*_first`` do: always
the first match, so results never depend on threads.

This module also says how each of them is written in the pipeline language (what ``_plan``
emits); whatever the compiler refuses runs here, as Python.
"""

from __future__ import annotations

import itertools
import math
import operator
import sys
from collections.abc import Iterable, Iterator
from typing import Any, Callable

from fastiter._source import StageText, Unsupported

# Stage operations this module implements, and consumers.
STAGES = frozenset({"enumerate", "take", "skip", "step_by", "chain"})
CONSUMERS = frozenset(
    {
        "product",
        "find_first",
        "find_any",
        "position_first",
        "position_any",
        "min_by_key",
        "max_by_key",
    }
)
# Stages that are written in the pipeline language without a Python callable.
TEXT_STAGES = frozenset({"enumerate", "take", "skip", "step_by", "zip", "chain"})
# Stages whose callable is translated like map's and filter's.
CALLABLE_STAGES = ("flat_map",)

# Stages the free-threaded fallback may run on parallel chunks of the input.
_CHUNKABLE = frozenset({"map", "filter", "flat_map"})
# Stages after which nothing may run ahead of the consumer: the chain runs in order.
_IN_ORDER = frozenset({"fold", "zip", "take"})


# --- Arguments ------------------------------------------------------------------------------


def _int_arg(v: Any, method: str, what: str, least: int) -> int:
    try:
        v = int(operator.index(v))
    except TypeError:
        raise TypeError(f"{method}() expects an int {what}, got {type(v).__name__}") from None
    if v < least:
        raise ValueError(f"{method}() {what} must be >= {least}, got {v}")
    return v


def count_arg(n: Any, method: str) -> int:
    """``n`` of ``take(n)``/``skip(n)``: an int >= 0."""
    return _int_arg(n, method, "count", 0)


def step_arg(k: Any) -> int:
    """``k`` of ``step_by(k)``: an int >= 1."""
    return _int_arg(k, "step_by", "step", 1)


def slice_position(stages: tuple[tuple[str, Any, Any], ...], op: str) -> int:
    """Where ``take``/``skip``/``step_by`` goes in ``stages``: at the end, except that ``take``
    moves ahead of the one-to-one stages that end the chain (``map``, ``enumerate``). That is
    exact: ``islice(map(f, it), n)`` calls ``f`` on the first ``n`` elements, in order, as
    ``map(f, islice(it, n))`` does (``skip`` and ``step_by`` would not: ``islice`` computes the
    elements it drops). Ahead of them, a take on the source compiles (and on a range, is a
    range)."""
    k = len(stages)
    if op == "take":
        while k > 0 and stages[k - 1][0] in ("map", "enumerate"):
            k -= 1
    return k


def sliced_range(r: range, op: str, n: int) -> range:
    """A bare range after ``take``/``skip``/``step_by``: the same elements, as a range."""
    if op == "take":
        return r[:n]
    if op == "skip":
        return r[n:]
    return r[::n]


# --- The Python fallback --------------------------------------------------------------------


def _other_items(other: Any) -> Iterator[Any]:
    """The items of ``chain``'s argument, started only when reached (as itertools.chain does)."""
    python_iter = getattr(other, "_python_iter", None)
    if python_iter is not None and hasattr(other, "_stages"):
        yield from python_iter()
    else:
        yield from other


def apply_stage(op: str, extra: Any, it: Iterable[Any]) -> Iterable[Any]:
    """One stage of this module over ``it``, as sequential Python runs it."""
    if op == "enumerate":
        return enumerate(it)
    # islice takes at most sys.maxsize: a larger count or step is the same as sys.maxsize for
    # anything that can be iterated (a bare range is sliced exactly, without islice).
    if op == "take":
        return itertools.islice(it, min(extra, sys.maxsize))
    if op == "skip":
        return itertools.islice(it, min(extra, sys.maxsize), None)
    if op == "step_by":
        return itertools.islice(it, 0, None, min(extra, sys.maxsize))
    if op == "chain":
        return itertools.chain(it, _other_items(extra))
    raise AssertionError(op)


def finish(consumer: str, carg: Any, it: Iterator[Any]) -> Any:
    """One consumer of this module over ``it``, as sequential Python runs it."""
    if consumer == "product":
        return math.prod(it)
    if consumer in ("find_first", "find_any"):
        for x in it:
            if carg(x):
                return x
        return None
    if consumer in ("position_first", "position_any"):
        for i, x in enumerate(it):
            if carg(x):
                return i
        return None
    if consumer == "min_by_key":
        return min(it, key=carg, default=None)
    if consumer == "max_by_key":
        return max(it, key=carg, default=None)
    raise AssertionError(consumer)


def parallel_split(
    stages: tuple[tuple[str, Any, Any], ...],
) -> tuple[tuple[tuple[str, Any, Any], ...], tuple[tuple[str, Any, Any], ...]]:
    """For the free-threaded fallback: (the leading stages it may run on parallel chunks, the
    stages that then run in order on their output). Element-wise stages (map, filter,
    flat_map) chunk; enumerate, skip, step_by and chain need the whole stream in order, so
    they and what follows run in order. A chain with ``take`` (which stops pulling early),
    ``zip`` or ``fold`` runs in order from the start."""
    if any(op in _IN_ORDER for op, _, _ in stages):
        return (), stages
    n = 0
    while n < len(stages) and stages[n][0] in _CHUNKABLE:
        n += 1
    return stages[:n], stages[n:]


# --- The pipeline language ------------------------------------------------------------------


def describe_stage(op: str, extra: Any) -> str:
    if op == "enumerate":
        return ".enumerate()"
    if op == "chain":
        return f".chain({_describe_other(extra)})"
    return f".{op}({extra})"


def _describe_other(other: Any) -> str:
    describe = getattr(other, "describe", None)
    if callable(describe) and hasattr(other, "_stages"):
        return describe()
    if isinstance(other, range):
        return repr(other)
    return type(other).__name__


def other_range(other: Any) -> range | None:
    """The range that ``zip``/``chain``'s argument is, when it is one (a ``range`` or a bare
    ``par_range``), else None."""
    if isinstance(other, range):
        return other
    src = getattr(other, "_src", None)
    if src is not None and not getattr(other, "_stages", True) and src.kind == "range":
        return src.data
    return None


def text_stage(op: str, extra: Any, index: int) -> tuple[Any, StageText, list[Any]]:
    """(cache key part, text, parameter values) of stage number ``index`` written without a
    callable. Counts and range bounds are parameters, so a kernel serves every value.
    Raises Unsupported for an argument the language has no spelling for."""
    st = StageText()
    if op == "enumerate":
        return (op,), st, []
    if op in ("take", "skip", "step_by"):
        name = f"_fi_s{index}_n"
        st.text = name
        st.params = [(name, "int")]
        return (op,), st, [extra]
    r = other_range(extra)
    if r is None:
        what = "the iterator" if hasattr(extra, "_stages") else f"a {type(extra).__name__}"
        raise Unsupported(f"`.{op}()` compiles with a range or a bare par_range only, not {what}")
    names = [f"_fi_s{index}_{part}" for part in ("start", "stop", "step")]
    st.text = f"range({', '.join(names)})"
    st.params = [(name, "int") for name in names]
    return (op, "range"), st, [r.start, r.stop, r.step]


def consumer_fn(consumer: str, carg: Any) -> tuple[str, Callable[[Any], Any] | None]:
    """(the consumer's name in the pipeline language, its callable) for a consumer of this
    module, or ``min``/``max`` with a key (written ``min_by_key``/``max_by_key``)."""
    if consumer in ("min", "max"):
        return consumer + "_by_key", carg
    return consumer, carg
