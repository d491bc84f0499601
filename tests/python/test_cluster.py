"""Pipelines on a Dask cluster give the in-process results: every consumer over ranges, lists,
NumPy buffers and dask arrays, errors (the earliest in element order), early exits, pipelines
that run as Python, parameters; on a LocalCluster of two worker processes, on a scheduler and
two workers started from the command line, and with a worker killed mid-run.

scripts/test_python.sh installs dask on CI's interpreter and sets FASTITER_REQUIRE_DASK=1
there, so these tests cannot be skipped on CI."""

from __future__ import annotations

import math
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from _exact import Raised, assert_same, outcome

if os.environ.get("FASTITER_REQUIRE_DASK") != "1":
    pytest.importorskip("distributed")
    pytest.importorskip("dask.array")

import dask.array as da
import fastiter
import numpy as np
from distributed import Client, LocalCluster, get_task_stream
from fastiter import _native, into_par_iter, par_range

# Distributed's own chatter (connections closed at shutdown, a killed worker) is not ours.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:distributed")


@pytest.fixture(scope="module")
def client():
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
        ) as lc,
        Client(lc) as c,
    ):
        yield c


def on_cluster(client, fn, partitions=5):
    with fastiter.cluster(client, partitions=partitions, min_elements=0):
        return outcome(fn)


SCALE = 0.1
OFFSET = 7


def consumers():
    """(name, function of a chain -> value): every consumer, with stages that compile."""
    return [
        ("sum", lambda it: it.map(lambda x: x * 3 - OFFSET).sum()),
        ("float sum", lambda it: it.map(lambda x: x * SCALE + 1e16 * (x % 3 == 0)).sum()),
        ("count", lambda it: it.filter(lambda x: x % 3 == 1).count()),
        ("min", lambda it: it.map(lambda x: (x * 7919) % 10007).min()),
        ("max", lambda it: it.map(lambda x: -((x * 31) % 977)).max()),
        ("any", lambda it: it.any(lambda x: x * x % 1009 == 17)),
        ("all", lambda it: it.all(lambda x: x < 99_000)),
        ("collect", lambda it: it.filter(lambda x: x % 997 == 5).map(lambda x: x * 2).collect()),
        ("reduce", lambda it: it.map(lambda x: x % 256).reduce(lambda: 0, lambda a, b: a ^ b)),
        (
            "product",
            lambda it: it.filter(lambda x: x % 1000 == 1).map(lambda x: x % 3 + 1).product(),
        ),
        ("find_first", lambda it: it.find_first(lambda x: x * x % 100_003 == 9)),
        ("find_any", lambda it: it.find_any(lambda x: x > 77_777)),
        ("position_first", lambda it: it.position_first(lambda x: x * 5 % 4099 == 3)),
        ("position_any", lambda it: it.position_any(lambda x: x > 66_666)),
        ("min_by_key", lambda it: it.min_by_key(lambda x: (x * 13) % 101)),
        ("max_by_key", lambda it: it.max_by_key(lambda x: (x * 17) % 103)),
    ]


N = 100_000
INTS = np.arange(-N // 3, N - N // 3, dtype=np.int64)


def sources():
    """(name, in-process chain, chain for the cluster) over the same elements."""
    ints = INTS.tolist()
    return [
        ("range", lambda: par_range(-N // 3, N - N // 3), lambda: par_range(-N // 3, N - N // 3)),
        ("list", lambda: into_par_iter(ints), lambda: into_par_iter(ints)),
        ("ndarray", lambda: into_par_iter(INTS), lambda: into_par_iter(INTS)),
        (
            "dask array",
            lambda: into_par_iter(INTS),
            lambda: into_par_iter(da.from_array(INTS, chunks=9_001)),
        ),
    ]


@pytest.mark.parametrize("cname,consume", consumers(), ids=[c[0] for c in consumers()])
def test_every_consumer_over_every_source_is_the_in_process_result(client, cname, consume):
    for sname, local, remote in sources():
        want = outcome(lambda c=consume, s=local: c(s()))
        assert not isinstance(want, Raised), want
        for partitions in (1, 3, 7):
            got = on_cluster(client, lambda c=consume, s=remote: c(s()), partitions)
            assert_same(got, want, f"{cname} over {sname}, {partitions} partitions")


def test_float_sums_do_not_depend_on_the_partitioning(client):
    xs = np.random.default_rng(5).standard_normal(300_007) * 1e6
    want = into_par_iter(xs).map(lambda v: v * v * 1e-3).sum()
    for parts in (1, 2, 5, 19):
        got = on_cluster(client, lambda: into_par_iter(xs).map(lambda v: v * v * 1e-3).sum(), parts)
        assert got.hex() == want.hex()
    for chunks in (1_000, 16_384, 70_001, 300_007):
        x = da.from_array(xs, chunks=chunks)
        got = into_par_iter(x).map(lambda v: v * v * 1e-3).sum()
        assert got.hex() == want.hex(), chunks
    assert abs(want - math.fsum(v * v * 1e-3 for v in xs.tolist())) <= 1e-6 * abs(want)


def test_the_earliest_error_in_element_order_wins(client):
    def run():
        # A ZeroDivisionError at 700 and a ValueError at every element past 80,000: the later
        # partitions fail first, and lose.
        return (
            par_range(0, N)
            .map(lambda k: 1 // (k - 700) + (math.sqrt(-1) if k > 80_000 else 0))
            .sum()
        )

    want = outcome(run)
    assert isinstance(want, Raised) and isinstance(want.exc, ZeroDivisionError)
    for parts in (1, 4, 9):
        got = on_cluster(client, run, parts)
        assert isinstance(got, Raised) and type(got.exc) is ZeroDivisionError, got
        assert str(got.exc) == str(want.exc)
    x = da.from_array(np.arange(N, dtype=np.float64), chunks=7_000)
    got = outcome(lambda: into_par_iter(x).map(lambda v: 1.0 / (v - 50_000.0)).sum())
    assert isinstance(got, Raised) and type(got.exc) is ZeroDivisionError


def test_an_early_exit_decided_early_does_not_raise_a_later_error(client):
    def run():
        return par_range(0, N).find_first(lambda k: k == 10 or 1 // (k - 90_000) > 5)

    assert run() == 10
    assert on_cluster(client, run, 8) == 10


def test_early_exit_cancels_the_tasks_that_cannot_matter(client):
    # 10^12 elements: the hit is in the first partition; the others would run for minutes.
    t0 = time.perf_counter()
    got = on_cluster(
        client, lambda: par_range(0, 10**12).find_first(lambda k: k * k % 1000003 == 6)
    )
    assert got == par_range(0, 10**6).find_first(lambda k: k * k % 1000003 == 6)
    assert time.perf_counter() - t0 < 30
    # The workers are free again at once: a small run does not wait for a stopped task.
    t0 = time.perf_counter()
    assert on_cluster(client, lambda: par_range(0, 10**6).map(lambda k: k % 7).sum(), 2) == sum(
        k % 7 for k in range(10**6)
    )
    assert time.perf_counter() - t0 < 10


def test_pipelines_that_do_not_compile_run_as_python_on_the_workers(client):
    words = [str(i) for i in range(5_000)]
    cases = [
        lambda: par_range(0, 30_000).map(lambda k: str(k)).filter(lambda s: "7" in s).count(),
        lambda: par_range(0, 30_000).map(lambda k: complex(k, 1)).map(lambda z: abs(z)).sum(),
        lambda: into_par_iter(words).map(lambda s: s * 2).collect()[-3:],
        lambda: par_range(0, 30_000).map(lambda k: {"k": k}).find_first(lambda d: d["k"] > 123),
        lambda: par_range(0, 30_000).map(lambda k: int(str(k)[::-1]) // (k - 20_000)).max(),
        lambda: par_range(0, 30_000).map(lambda k: str(k)).any(lambda s: s == "29999"),
    ]
    for case in cases:
        want = outcome(case)
        got = on_cluster(client, case, 4)
        assert_same(got, want)
    x = da.from_array(np.arange(5_000, dtype=np.int64), chunks=999)
    got = into_par_iter(x).map(lambda v: str(v)).filter(lambda s: s.endswith("3")).count()
    assert got == 500


def test_parameters_are_read_at_each_call(client):
    scale = 3

    def run():
        return par_range(0, N).map(lambda k: k * scale + OFFSET).sum()

    for scale in (3, -2, 5):
        assert on_cluster(client, run) == sum(k * scale + OFFSET for k in range(N))
    # A global changes type: the kernel is another one.
    global SCALE
    old = SCALE
    try:
        SCALE = 2
        assert on_cluster(client, lambda: par_range(0, N).map(lambda x: x * SCALE).sum()) == sum(
            x * 2 for x in range(N)
        )
    finally:
        SCALE = old


def test_nan_min_and_max_are_cpythons(client):
    xs = np.arange(100_000, dtype=np.float64)
    xs[50_000] = np.nan
    for name in ("min", "max"):
        want = getattr(into_par_iter(xs), name)()
        got = on_cluster(client, lambda n=name: getattr(into_par_iter(xs), n)())
        assert_same(got, want)
        x = da.from_array(xs, chunks=30_000)
        assert_same(getattr(into_par_iter(x), name)(), want)


def sum_squares(n):
    return (n - 1) * n * (2 * n - 1) // 6


def test_small_pipelines_stay_in_process(client):
    with fastiter.cluster(client), get_task_stream(client) as tasks:  # min_elements: 10**7
        assert par_range(0, 1000).map(lambda k: k * k).sum() == sum(k * k for k in range(1000))
        assert into_par_iter(INTS).map(lambda k: k * k).sum() == int((INTS * INTS).sum())
    assert tasks.data == []
    with fastiter.cluster(client), get_task_stream(client) as tasks:
        assert par_range(0, 10**7).map(lambda k: k * k).sum() == sum_squares(10**7)
    assert any("fastiter-run" in str(t["key"]) for t in tasks.data)
    with pytest.raises(ValueError):
        fastiter.cluster(client, partitions=0)


def test_cluster_is_a_decorator_too(client):
    @fastiter.cluster(client, partitions=3, min_elements=0)
    def total(n):
        return par_range(0, n).filter(lambda k: k % 7 == 3).map(lambda k: k * k).sum()

    assert total(10**6) == sum(k * k for k in range(10**6) if k % 7 == 3)
    assert fastiter._cluster.active() is None


def test_dask_arrays_without_a_client_use_dasks_default_scheduler():
    x = da.from_array(np.linspace(-1, 1, 50_001), chunks=7_777)
    want = into_par_iter(x.compute()).filter(lambda v: v > 0.5).map(lambda v: v * v).sum()
    got = into_par_iter(x).filter(lambda v: v > 0.5).map(lambda v: v * v).sum()
    assert got.hex() == want.hex()
    # Blocks of unknown size, views, a zip: computed here, then run as an array.
    assert into_par_iter(x).skip(10).step_by(3).count() == len(range(10, 50_001, 3))
    y = x[x > 0]
    assert into_par_iter(y).count() == int((x.compute() > 0).sum())
    assert "dask array in 7 blocks" in fastiter.explain(into_par_iter(x).map(lambda v: v + 1).sum)


def test_chunk_results_pickle_and_combine_on_their_own():
    k = _native.compile("range(0, N).map(1.0 / (x - 40000)).sum()", [("N", "int")], None)
    length, chunk_len, n = _native.split(k, [100_000])
    assert (length, n) == (100_000, math.ceil(100_000 / chunk_len))
    parts = []
    for lo in range(n):
        parts += pickle.loads(pickle.dumps(_native.run_chunks(k, [100_000], lo, lo + 1)))
    with pytest.raises(ZeroDivisionError):
        _native.combine_chunks(k, [100_000], parts)
    k = _native.compile("range(0, N).map(x * 0.1).sum()", [("N", "int")], None)
    parts = pickle.loads(pickle.dumps(_native.run_chunks(k, [100_000], 0, 3)))
    parts += _native.run_chunks(k, [100_000], 3, n)
    assert _native.combine_chunks(k, [100_000], parts) == k.run([100_000])
    with pytest.raises(_native.Refused):
        _native.run_chunks(k, [100_000], 0, n + 1)


# --- A deployment from the command line, and a worker killed mid-run ---------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def deployed():
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1, as a user deploys."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    bindir = os.path.dirname(sys.executable)
    dask_cli = os.path.join(bindir, "dask")
    common = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [
        subprocess.Popen(
            [
                dask_cli,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--dashboard-address",
                ":0",
                "--no-show",
            ],
            **common,
        )
    ]
    try:
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [
                        dask_cli,
                        "worker",
                        address,
                        "--nthreads",
                        "1",
                        "--host",
                        "127.0.0.1",
                        "--no-dashboard",
                    ],
                    **common,
                )
            )
        with Client(address, timeout=60) as c:
            c.wait_for_workers(2, timeout=60)
            yield c
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def test_a_command_line_deployment_gives_the_same_results(deployed):
    for cname, consume in consumers():
        for sname, local, remote in sources():
            want = outcome(lambda c=consume, s=local: c(s()))
            got = on_cluster(deployed, lambda c=consume, s=remote: c(s()), 4)
            assert_same(got, want, f"{cname} over {sname}")
    x = da.from_array(np.arange(1_000_000, dtype=np.float64), chunks=123_457)
    with fastiter.cluster(deployed):
        got = into_par_iter(x).map(lambda v: v * v).sum()
    assert got.hex() == into_par_iter(x.compute()).map(lambda v: v * v).sum().hex()


def test_a_worker_killed_mid_run_does_not_change_the_result(client):
    n = 4 * 10**9
    want = par_range(0, 10**6).filter(lambda k: k % 7 == 3).map(lambda k: k * k).sum()
    assert want == sum(k * k for k in range(3, 10**6, 7))
    pids = client.run(os.getpid)
    killed = []

    def kill_one():
        # Once both workers are running tasks, one of them dies.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            busy = [w for w, keys in client.processing().items() if keys]
            if len(busy) == 2:
                time.sleep(0.2)
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(busy[0])
                return
            time.sleep(0.02)

    t = threading.Thread(target=kill_one)
    t.start()
    got = on_cluster(
        client,
        lambda: par_range(0, n).filter(lambda k: k % 7 == 3).map(lambda k: k * k).sum(),
        8,
    )
    t.join()
    assert killed, "no worker was killed"
    # The exact value, by the closed form of the sum of (7j + 3)^2 over j < m.
    m = len(range(3, n, 7))
    exact = 49 * (m - 1) * m * (2 * m - 1) // 6 + 42 * (m - 1) * m // 2 + 9 * m
    assert got == exact
    client.wait_for_workers(2, timeout=120)
