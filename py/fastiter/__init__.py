"""fastiter: parallel iterators whose lambdas run as compiled native kernels.

The API is fastiter 0.1's (``par_range``, ``into_par_iter``, ``map``, ``filter``, ``sum``, ...).
Stages written over numbers compile, through the same compiler as the ``fastc`` CLI, into one
fused native loop that runs on all cores with the GIL released; anything else runs as plain
Python with exactly CPython's results. ``explain()`` tells which, and why.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar, overload

from fastiter import _native
from fastiter._cluster import cluster
from fastiter._function import CompiledFunction, explain_function
from fastiter._native import Refused, get_num_threads
from fastiter._pipeline import (
    CompileError,
    ParallelIterator,
    _explaining,
    explain_pipeline,
    into_par_iter,
    par_range,
)
from fastiter._source import PARAM_TYPES

__version__ = "0.2.0"

__all__ = [
    "CompileError",
    "ParallelIterator",
    "Refused",
    "cluster",
    "compile",
    "explain",
    "get_num_threads",
    "into_par_iter",
    "par_range",
    "run",
    "set_num_threads",
]

F = TypeVar("F", bound=Callable[..., Any])


def set_num_threads(num_threads: int) -> None:
    """Set the number of worker threads kernels (and the free-threaded fallback) use.

    Raises ``ValueError`` when ``num_threads`` is less than 1, as fastiter 0.1 does. The
    ``FASTITER_NUM_THREADS`` environment variable sets the initial value (default: the number
    of CPUs).
    """
    if num_threads < 1:
        raise ValueError("Number of threads must be at least 1")
    _native.set_num_threads(num_threads)


_run_cache: dict[tuple[Any, ...], Any] = {}


def run(src: str, **params: Any) -> Any:
    """Compile and run a pipeline written in the pipeline language, e.g.
    ``run("range(0, N).filter(x % 2 == 0).map(x * x).sum()", N=10**6)``.

    Keyword arguments that are numbers become parameters (the kernel is cached per source and
    parameter types); one argument may be a buffer (an exact NumPy array, ``array.array``,
    ``memoryview``, ``bytes`` or ``bytearray``; not a subclass), read in place under its name. Raises :class:`CompileError` (with ``line``, ``column`` and a
    caret in ``rendered``) when the text does not compile, and the Python exception a run
    raises (``ZeroDivisionError``, ...) as CPython would.
    """
    names = []
    values = []
    buffer = None
    for name, value in params.items():
        ty = PARAM_TYPES.get(type(value))
        if ty is not None:
            names.append((name, ty))
            values.append(value)
            continue
        dtype = _native.buffer_dtype_of(value)
        if dtype is None or buffer is not None:
            raise TypeError(
                f"parameter {name!r} is a {type(value).__name__}: parameters are int, float or "
                "bool, plus at most one C-contiguous buffer read in place (an exact NumPy "
                "array, array.array, memoryview, bytes or bytearray; not a subclass)"
            )
        buffer = (name, dtype, value)
    key = (src, tuple(names), buffer[:2] if buffer else None)
    kernel = _run_cache.get(key)
    if kernel is None:
        kernel = _native.compile(src, names, buffer[:2] if buffer else None)
        if len(_run_cache) > 1024:
            _run_cache.clear()
        _run_cache[key] = kernel
    return kernel.run(values, buffer[2] if buffer else None)


@overload
def compile(fn: F) -> F: ...
@overload
def compile(*, strict: bool = False) -> Callable[[F], F]: ...
def compile(fn: Callable[..., Any] | None = None, *, strict: bool = False) -> Any:
    """Compile a function, once per tuple of argument types (int, float, bool).

    A function over numbers (loops, ``if``, locals, calls of other such functions) becomes
    one native function::

        @fastiter.compile
        def collatz_steps(x):
            n = 0
            while x != 1:
                x = x // 2 if x % 2 == 0 else 3 * x + 1
                n += 1
            return n

    A function whose body builds and consumes a pipeline compiles its pipeline; when the body
    is ``return par_range(...)...consumer(...)`` the whole chain is one kernel, and a call costs
    about as much as calling a builtin::

        @fastiter.compile
        def even_squares(n):
            return par_range(0, n).filter(lambda x: x % 2 == 0).map(lambda x: x * x).sum()

    Arguments, and the numbers the code reads from globals, closures and default values,
    are kernel parameters read at every call. Results and exceptions are CPython's; other
    argument types, and code outside the compiled subset, run as plain Python. With
    ``strict=True`` what cannot compile raises :class:`CompileError` (naming the construct and
    its position) instead.
    """

    def wrap(f: Callable[..., Any]) -> Any:
        return CompiledFunction(f, strict)

    return wrap(fn) if fn is not None else wrap


def explain(obj: Any, *args: Any, **kwargs: Any) -> str:
    """Say what fastiter does with a pipeline: whether it compiles, the kernel's source, its
    parameters and IR, or the construct (and source position) that makes it run as Python.

    ``obj`` is a pipeline without its consumer (explained as if collected), or a function
    (plain or decorated with :func:`compile`) together with example arguments: the function
    runs with every consumer recording its explanation instead of computing.
    """
    if isinstance(obj, ParallelIterator):
        return explain_pipeline(obj)
    whole = explain_function(obj, args, kwargs)
    if whole is not None:
        return whole
    fn = obj._fn if isinstance(obj, CompiledFunction) else obj
    if not callable(fn):
        raise TypeError(f"explain() takes a pipeline or a function, not {type(obj).__name__}")
    found: list = []
    token = _explaining.set(found)
    try:
        fn(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - the body may use the (absent) result
        if not found:
            return f"{getattr(fn, '__qualname__', fn)} raised {type(e).__name__}: {e} before any pipeline ran"
    finally:
        _explaining.reset(token)
    if not found:
        return f"{getattr(fn, '__qualname__', fn)} ran no pipeline with these arguments"
    return "\n\n".join(found)
