"""Pipelines on a Dask cluster: ``fastiter.cluster(client)`` and ``into_par_iter(dask_array)``.

A compiled pipeline runs as Dask tasks, each computing some of the chunks the in-process run
would make (``_native.run_chunks``: the same split, decided by the input's length alone), and
the client combines every chunk's result in order (``_native.combine_chunks``, the in-process
run's own combine): ints stay exact, float sums are bit-identical to the in-process run
whatever the partitioning, and the earliest error in element order wins. What a task carries
is the kernel's text and its parameter values; each worker process compiles a text once.

A dask array is run blockwise: the task of a block computes the chunks that start in it, over
the block in place, on the worker that holds it; a chunk that runs past the block's end takes
the few elements it needs from the next block. A pipeline that does not compile runs its
stages as Python on the workers (Dask pickles the functions) and the consumer on the client,
in element order: the results are sequential Python's.

Dask is imported only when it is used; ``pip install fastiter[dask]`` brings it.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import threading
import time
import uuid
from collections import OrderedDict
from typing import Any, Callable

from fastiter import _native

# Returned when the cluster does not take a pipeline: it runs in this process.
IN_PROCESS: Any = object()

# Consumers whose in-process run combines chunk results (`for_each` runs its function for its
# effects, in order: in this process).
_CONSUMERS = frozenset(
    (
        "sum",
        "count",
        "min",
        "max",
        "any",
        "all",
        "collect",
        "reduce",
        "product",
        "find_first",
        "find_any",
        "position_first",
        "position_any",
        "min_by_key",
        "max_by_key",
    )
)
# Stages that act on each element alone, so that a partition's Python run needs nothing of
# the partitions before it.
_ELEMENTWISE = frozenset(("map", "filter", "flat_map"))

# The default of `min_elements`: smaller inputs stay in this process (a cluster run costs
# milliseconds before its first element). `dask.config` key `fastiter.min-elements`.
_MIN_ELEMENTS = 10_000_000

_active: contextvars.ContextVar[cluster | None] = contextvars.ContextVar(
    "fastiter_cluster", default=None
)
_blocks_lock = threading.Lock()
_blocks: list[cluster] = []  # active blocks, any thread: for the native table's threshold

# Set by `_pipeline` at import (no import cycle): its Python fallback's pieces.
_hooks: dict[str, Callable[..., Any]] = {}


def setup(**hooks: Callable[..., Any]) -> None:
    _hooks.update(hooks)


def active() -> cluster | None:
    """The cluster block this context runs in, if any."""
    return _active.get()


class cluster(contextlib.ContextDecorator):
    """Run big pipelines on a Dask cluster inside this block (or decorated function).

    ``client`` is a ``distributed.Client`` (None: the current one, ``distributed.get_client()``).
    ``partitions`` is how many tasks a range, list or buffer input is split into (None: four
    per worker thread). Pipelines over fewer than ``min_elements`` elements (None: the
    ``dask.config`` value ``fastiter.min-elements``, else 10**7) run in this process. Results
    are exactly the in-process results."""

    def __init__(
        self,
        client: Any = None,
        partitions: int | None = None,
        min_elements: int | None = None,
    ) -> None:
        if partitions is not None and (type(partitions) is not int or partitions < 1):
            raise ValueError(f"partitions must be a positive int, got {partitions!r}")
        if min_elements is not None and (type(min_elements) is not int or min_elements < 0):
            raise ValueError(f"min_elements must be an int >= 0, got {min_elements!r}")
        self.client = client
        self.partitions = partitions
        self._min = min_elements
        self._tokens = threading.local()

    @property
    def min_elements(self) -> int:
        if self._min is not None:
            return self._min
        import dask

        return int(dask.config.get("fastiter.min-elements", _MIN_ELEMENTS))

    def _client(self) -> Any:
        if self.client is None:
            from distributed import get_client

            self.client = get_client()
        return self.client

    def __enter__(self) -> cluster:  # noqa: PYI034 - Self needs Python 3.11
        self._client()
        stack = getattr(self._tokens, "stack", None)
        if stack is None:
            stack = self._tokens.stack = []
        stack.append(_active.set(self))
        with _blocks_lock:
            _blocks.append(self)
            _native.set_cluster_min(min(b.min_elements for b in _blocks))
        return self

    def __exit__(self, *exc: object) -> None:
        _active.reset(self._tokens.stack.pop())
        with _blocks_lock:
            _blocks.remove(self)
            _native.set_cluster_min(min((b.min_elements for b in _blocks), default=None))

    def __repr__(self) -> str:
        return f"fastiter.cluster({self.client!r}, partitions={self.partitions!r})"

    def spans(self, n: int) -> list[tuple[int, int]]:
        """`n` things (chunks, elements) as the tasks' `[lo, hi)` ranges, in order."""
        parts = self.partitions
        if parts is None:
            threads = sum(self._client().nthreads().values()) or 1
            parts = 4 * threads
        parts = max(1, min(parts, n))
        return [(k * n // parts, (k + 1) * n // parts) for k in range(parts)]


def takes(p: Any, consumer: str) -> cluster | None:
    """The cluster block that takes this chain, if one does (a dask array always goes to the
    cluster code, with or without a block)."""
    cl = _active.get()
    if p._src.kind == "dask":
        return cl
    if cl is None or consumer not in _CONSUMERS:
        return None
    if _input_len(p._src) < cl.min_elements:
        return None
    return cl


def _input_len(src: Any) -> int:
    if src.kind == "range":
        r = src.data
        step = r.step
        n = (r.stop - r.start + step - (1 if step > 0 else -1)) // step
        return max(n, 0)
    if src.kind == "seq":
        return len(src.data)
    if src.kind == "dask":
        return int(src.data.shape[0])
    with memoryview(src.data) as m:
        return m.shape[0] if m.ndim == 1 else 0


# --- On the workers -----------------------------------------------------------------------

_kernels_lock = threading.Lock()
_kernels: OrderedDict[Any, Any] = OrderedDict()
_MAX_KERNELS = 64


def _kernel(text: str, params: list[Any], buffer: Any) -> Any:
    """The kernel of this text, compiled once per worker process."""
    key = (text, tuple(tuple(p) for p in params), buffer)
    with _kernels_lock:
        k = _kernels.get(key)
        if k is not None:
            _kernels.move_to_end(key)
            return k
    k = _native.compile(text, [tuple(p) for p in params], buffer)
    with _kernels_lock:
        _kernels[key] = k
        while len(_kernels) > _MAX_KERNELS:
            _kernels.popitem(last=False)
    return k


def _decisive(parts: list[Any] | None) -> bool:
    return bool(parts) and parts[-1][0] != "d"  # type: ignore[index]


# How often a running task asks whether the client still needs it.
_STOP_EVERY = 0.05


def _stopper(name: str | None) -> Callable[[], bool] | None:
    """On a distributed worker: a function that says whether the run's stop event (set by the
    client once an earlier task decided the value) is set, asking the scheduler at most every
    `_STOP_EVERY` seconds."""
    if name is None:
        return None
    try:
        from distributed import Event, get_worker

        get_worker()
    except (ImportError, ValueError):
        return None
    event = Event(name)
    last = [time.monotonic()]

    def stop() -> bool:
        now = time.monotonic()
        if now - last[0] < _STOP_EVERY:
            return False
        last[0] = now
        return bool(event.is_set())

    return stop


def _run_part(
    text: str,
    params: list[Any],
    buffer: Any,
    values: list[Any],
    first: int,
    stop: int,
    piece: Any = None,
    base: int = 0,
    total: int | None = None,
    stop_event: str | None = None,
) -> list[Any] | None:
    """A task: chunks `first..stop` of the run, over `piece` (positions `base..` of an input of
    `total`) when the pipeline reads a buffer; None when stopped as no longer needed. One
    thread: Dask runs the worker's tasks side by side."""
    k = _kernel(text, params, buffer)
    return _native.run_chunks(
        k, values, first, stop, piece, base, total, threads=1, until=_stopper(stop_event)
    )


def _run_block(
    text: str,
    params: list[Any],
    buffer: Any,
    values: list[Any],
    first: int,
    stop: int,
    block: Any,
    base: int,
    tail: Any,
    total: int,
    chunk_len: int,
    stop_event: str | None = None,
) -> list[Any] | None:
    """A dask array block's task: the chunks `first..stop` that start in the block (which
    holds positions `base..`), the last of them over the block's end and `tail`, the
    elements after the block it needs."""
    import numpy as np

    block = np.ascontiguousarray(block)
    if tail is None:
        return _run_part(text, params, buffer, values, first, stop, block, base, total, stop_event)
    parts = _run_part(text, params, buffer, values, first, stop - 1, block, base, total, stop_event)
    if parts is None or _decisive(parts):
        return parts
    lo = (stop - 1) * chunk_len
    piece = np.concatenate([block[lo - base :], np.ascontiguousarray(tail)])
    last = _run_part(text, params, buffer, values, stop - 1, stop, piece, lo, total, stop_event)
    return None if last is None else parts + last


def _python_part(
    apply_stages: Any, stages: Any, items: Any, stop_event: str | None = None
) -> tuple[list[Any], Any] | None:
    """A task of a pipeline that runs as Python: the stages over this partition's items, and
    the exception that stopped them (None if none did); None when stopped as no longer
    needed."""
    if hasattr(items, "tolist"):
        items = items.tolist()
    stop = _stopper(stop_event)
    out: list[Any] = []
    try:
        for i, x in enumerate(apply_stages(stages, items)):
            out.append(x)
            if stop is not None and i % 1024 == 1023 and stop():
                return None
    except Exception as e:  # noqa: BLE001 - any exception is raised on the client, in order
        return out, e
    return out, None


# --- On the client ------------------------------------------------------------------------


def _client_of(cl: cluster | None) -> Any:
    """The distributed client runs go to: the block's, else the current one (None: Dask's
    default scheduler, for a dask array outside a block)."""
    if cl is not None:
        return cl._client()
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        return None


def _token(*parts: Any) -> str:
    """A run's name in task keys: what it computes, and a part of its own (a run never
    shares keys, or its stop event, with an earlier one that was cancelled)."""
    from dask.base import tokenize

    return tokenize(*parts, uuid.uuid4().hex)


def _stop_event(token: str) -> str:
    return f"fastiter-stop-{token}"


def _results(client: Any, tasks: list[Any], token: str) -> list[Any]:
    """Each task's result, in order, up to the first decisive one (an error or an early exit
    in its chunks): the later tasks are then cancelled and told to stop, since they cannot
    change the value."""
    if client is None:
        import dask

        out = list(dask.compute(*tasks))
    else:
        from distributed import Event, as_completed

        futures = client.compute(tasks)
        index = {f.key: i for i, f in enumerate(futures)}
        out = [None] * len(futures)
        got = [False] * len(futures)
        end = len(futures)  # just past the first decisive task
        event = Event(_stop_event(token), client=client)
        try:
            for f in as_completed(futures):
                i = index[f.key]
                if i >= end:
                    continue
                out[i] = f.result()
                got[i] = True
                if _decisive(out[i]):
                    end = i + 1
                    if end < len(futures):
                        event.set()
                        client.cancel(futures[end:])
                if all(got[:end]):
                    break
        finally:
            client.cancel([f for f in futures if not f.done()])
            event.clear()
        out = out[:end]
    for i, parts in enumerate(out):
        if _decisive(parts):
            return out[: i + 1]
    return out


def compiled(p: Any, plan: Any, values: list[Any], buf: Any, cl: cluster | None) -> Any:
    """The value of a compiled chain run on the cluster, or `IN_PROCESS`. Raises
    `_native.Refused` when a task's kernel declines (the caller runs the chain as Python)."""
    src = p._src
    kernel = plan.kernel
    buffer_decl = None if buf is None else buf[1]
    if isinstance(buffer_decl, tuple):
        return IN_PROCESS if src.kind != "dask" else _gathered(p, values, plan)
    if src.kind == "dask" and any(math.isnan(c) for c in src.data.chunks[0]):
        return _gathered(p, values, plan)  # blocks of unknown size
    decl = None if buffer_decl is None else ("_fi_data", buffer_decl)
    total = None if buf is None else _input_len(src)
    try:
        length, chunk_len, n = _native.split(kernel, values, total)
    except _native.Refused:  # a fold, views on a buffer: positions do not split
        return IN_PROCESS if src.kind != "dask" else _gathered(p, values, plan)
    client = _client_of(cl)
    import dask

    token = _token(plan.text, values, _source_token(src))
    run = dask.delayed(_run_part, pure=True)
    tasks = []
    if src.kind == "dask":
        x = src.data
        block_run = dask.delayed(_run_block, pure=True)
        base = 0
        for k, size in enumerate(x.chunks[0]):
            lo, hi = base, base + size
            base = hi
            first = -(-lo // chunk_len)
            stop = min(n, -(-hi // chunk_len))
            if first >= stop:
                continue
            end = min(stop * chunk_len, length)
            tail = x[hi:end] if end > hi else None
            tasks.append(
                block_run(
                    plan.text,
                    kernel.params,
                    decl,
                    values,
                    first,
                    stop,
                    x.blocks[k],
                    lo,
                    tail,
                    length,
                    chunk_len,
                    _stop_event(token),
                    dask_key_name=f"fastiter-run-{token}-{k}",
                )
            )
    else:
        if cl is None:  # pragma: no cover - `takes` sends only these with a block
            return IN_PROCESS
        spans = cl.spans(n)
        pieces: list[Any] = [None] * len(spans)
        if buf is not None:
            pieces = _scatter(client, buf[0], buffer_decl, length, chunk_len, spans)
        for k, ((first, stop), piece) in enumerate(zip(spans, pieces)):
            lo = first * chunk_len
            tasks.append(
                run(
                    plan.text,
                    kernel.params,
                    decl,
                    values,
                    first,
                    stop,
                    piece,
                    lo if buf is not None else 0,
                    total,
                    _stop_event(token),
                    dask_key_name=f"fastiter-run-{token}-{k}",
                )
            )
    parts = [c for r in _results(client, tasks, token) for c in r]
    value = _native.combine_chunks(kernel, values, parts)
    if value is NotImplemented:
        # A NaN met by a float min/max, or a mixed sum past a float: one sequential scan,
        # as the in-process run does.
        return _whole(p, values, plan, buf)
    return value


def _source_token(src: Any) -> Any:
    if src.kind == "dask":
        return src.data.name
    if src.kind == "range":
        return src.data
    return id(src.data)


def _scatter(
    client: Any, data: Any, dtype: str, length: int, chunk_len: int, spans: list[Any]
) -> list[Any]:
    """The parts of a buffer the tasks read, sent to the workers ahead of them."""
    import numpy as np

    arr = np.asarray(memoryview(data))
    per = 2 if dtype == "num" else 1  # a tagged number is two int64 words
    pieces = []
    for first, stop in spans:
        lo, hi = first * chunk_len, min(stop * chunk_len, length)
        pieces.append(np.ascontiguousarray(arr[lo * per : hi * per]))
    # Keys of their own (not by content): an earlier run's equal pieces may be being released.
    return client.scatter(pieces, hash=False)


def _whole(p: Any, values: list[Any], plan: Any, buf: Any) -> Any:
    """The run in this process, whole (what the in-process run does when it rescans)."""
    if p._src.kind == "dask":
        import numpy as np

        return plan.kernel.run(values, np.ascontiguousarray(p._src.data.compute()))
    return plan.kernel.run(values, buf[0] if buf else None)


def _gathered(p: Any, values: list[Any], plan: Any) -> Any:
    """A dask array pipeline the blocks cannot run on their own (two inputs zipped, `skip`,
    `step_by`, blocks of unknown size, a `fold`): the array is computed here and run as an
    in-process array."""
    return _whole(p, values, plan, None)


def python(p: Any, consumer: str, carg: Any, cl: cluster | None) -> Any:
    """A chain that does not compile: its stages as Python on the workers, partition by
    partition, the consumer here over their outputs in order. `IN_PROCESS` when the stages
    are not element-wise (`enumerate`, `skip`, `zip`, ...: positions matter) or the consumer
    is `for_each`."""
    src = p._src
    if consumer not in _CONSUMERS or any(op not in _ELEMENTWISE for op, _, _ in p._stages):
        return IN_PROCESS
    import dask

    client = _client_of(cl)
    apply_stages = _hooks["apply_stages"]
    stages = p._stages
    part = dask.delayed(_python_part, pure=False)
    if src.kind == "dask":
        x = src.data
        items: list[Any] = [x.blocks[k] for k in range(len(x.chunks[0]))]
    else:
        if cl is None:  # pragma: no cover - `takes` sends only these with a block
            return IN_PROCESS
        n = _input_len(src)
        spans = cl.spans(max(n, 1))
        if src.kind == "range":
            items = [src.data[lo:hi] for lo, hi in spans]
        else:
            everything = list(src.python_items())
            items = client.scatter([everything[lo:hi] for lo, hi in spans], hash=False)
    token = _token("python", id(p), consumer)
    tasks = [
        part(
            apply_stages,
            stages,
            it,
            _stop_event(token),
            dask_key_name=f"fastiter-python-{token}-{k}",
        )
        for k, it in enumerate(items)
    ]
    if client is None:
        outs = dask.compute(*tasks)
        return _hooks["finish"](consumer, carg, _elements(outs))
    from distributed import Event

    futures = client.compute(tasks)
    event = Event(_stop_event(token), client=client)
    try:
        # Each partition's outputs as the consumer needs them: it may stop early.
        return _hooks["finish"](consumer, carg, _elements(f.result() for f in futures))
    finally:
        # Here, not when a generator is collected: the consumer stopped early, the tasks
        # after it cannot matter.
        if not all(f.done() for f in futures):
            event.set()
            client.cancel([f for f in futures if not f.done()])
        event.clear()


def _elements(outs: Any) -> Any:
    """The outputs of the partitions in order, and the exception that stopped one where it
    stopped."""
    for got, exc in outs:
        yield from got
        if exc is not None:
            raise exc
