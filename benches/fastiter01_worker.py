"""The PyPI `fastiter` 0.1 measured for benches/compare.py, in its own interpreter.

fastiter 0.1 and this package share the import name `fastiter`, so they cannot live in one
environment: compare.py (``--fastiter01-python PATH``) starts this script with the interpreter of
an environment that has fastiter 0.1 (and numpy, for W4's and W7's data) and talks to it over
stdin/stdout, one JSON object a line:

    -> {"op": "hello"}
    <- {"fastiter": "0.1.2", "python": "3.14.0", "gil": true}
    -> {"op": "first", "wid": "W1", "n": 1000, "threads": 2, "min_run": 0.005}
    <- {"first_call": 0.0012, "reps": 5, "value": {"type": "int", "repr": "166167000"}}
    -> {"op": "run", "reps": 5}
    <- {"secs": 0.0011}
    -> {"op": "quit"}

so that compare.py interleaves it round-robin with the other tools, as it does them. The
workloads are built as compare.py builds them (its own functions, imported from it: the same
seeds, the same `expensive_computation`) and timed with its `calls_per_run` and `time_calls`; the
chains use fastiter 0.1's own API, the module-level functions its README recommends
(`par_range`, `into_par_iter`, `set_num_threads`). A call that raises answers {"error": ...}.
"""

# The W7 chains spell ReLU as compare.py does (see there): `v if v > 0 else 0`, not `max(0, v)`.
# ruff: noqa: FURB136

from __future__ import annotations

import importlib.metadata
import json
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare  # benches/compare.py, found through the line above

# Without the GIL disabled fastiter 0.1 warns at import (RuntimeWarning) that it will be slower
# than sequential code; compare.py says which build it measured, from "hello".
with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    import fastiter

# Its methods (0.1.2): map, filter, fold, reduce, for_each, collect, sum, count, min, max,
# any, all. No ndarray input or output: W4 and W7 iterate the array's `tolist()`, made before
# timing as for CPython's rows (an ndarray is no `Sequence` to it: `into_par_iter` would copy it
# into a list of NumPy scalars on every call), and W5 has no ndarray variant.
par_range, into_par_iter = fastiter.par_range, fastiter.into_par_iter
expensive_computation = compare.expensive_computation


def chain(wid: str, n: int) -> Callable[[], Any]:
    """The workload's pipeline in fastiter 0.1's API, as a zero-argument callable."""
    if wid == "W1":
        return lambda: par_range(0, n).filter(lambda x: x % 2 == 0).map(lambda x: x * x).sum()
    if wid == "W2":
        return lambda: par_range(0, n).map(expensive_computation).sum()
    if wid == "W3-sum":
        return lambda: par_range(0, n).sum()
    if wid == "W3-squares":
        return lambda: par_range(0, n).map(lambda x: x * x).sum()
    if wid == "W4":
        data = compare.w4_list(n)
        return lambda: into_par_iter(data).map(lambda v: v * v + 1).filter(lambda v: v > 0.5).sum()
    if wid == "W5-list":
        return lambda: par_range(0, n).filter(lambda x: x % 3 == 0).map(lambda x: x * 2).collect()
    if wid == "W6-start":
        return lambda: par_range(0, n).any(lambda x: x == 0)
    if wid == "W6-end":
        return lambda: par_range(0, n).any(lambda x: x == n - 1)
    if wid == "W7-int":
        data = compare.w7_list(n)
        return lambda: into_par_iter(data).map(lambda v: v if v > 0 else 0).sum()
    if wid == "W7-float":
        data = compare.w7_list(n)
        return lambda: into_par_iter(data).map(lambda v: v if v > 0 else 0.0).sum()
    if wid in ("W8-int", "W8-float"):
        data = compare.w8_data(wid, n)
        return lambda: into_par_iter(data).map(lambda x: x * 2).sum()
    raise ValueError(f"no fastiter 0.1 chain for {wid}")


def encode(value: Any) -> dict[str, Any]:
    """The result, exactly: its type's name and a repr that gives it back (ints of any size,
    floats to the last bit), or the list itself when it holds only ints."""
    t = type(value)
    if t is list and all(type(x) is int for x in value):
        return {"type": "list", "items": value}
    if t in (int, float, bool) or value is None:
        return {"type": t.__name__, "repr": repr(value)}
    return {"type": f"{t.__module__}.{t.__qualname__}", "repr": repr(value)[:200]}


def answer(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main() -> int:
    compare.np = importlib.import_module("numpy")  # W4's and W7's data, as compare.py makes it
    fn: Callable[[], Any] | None = None
    for line in sys.stdin:
        req = json.loads(line)
        op = req["op"]
        if op == "quit":
            break
        try:
            if op == "hello":
                answer(
                    {
                        "fastiter": importlib.metadata.version("fastiter"),
                        "python": platform.python_version(),
                        "gil": getattr(sys, "_is_gil_enabled", lambda: True)(),
                    }
                )
            elif op == "first":
                fastiter.set_num_threads(req["threads"])
                fn = chain(req["wid"], req["n"])
                t0 = time.perf_counter()
                value = fn()
                first = time.perf_counter() - t0
                # As compare.py: a call under a run's length is repeated within a run.
                reps = compare.calls_per_run(fn, req["min_run"]) if first < req["min_run"] else 1
                answer({"first_call": first, "reps": reps, "value": encode(value)})
            elif op == "run":
                assert fn is not None, "run before first"
                answer({"secs": compare.time_calls(fn, req["reps"])})
            else:
                answer({"error": f"unknown op {op!r}"})
        except Exception as e:  # noqa: BLE001 - reported to compare.py, which marks it
            answer({"error": f"{type(e).__name__}: {e}"[:200]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
