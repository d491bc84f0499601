"""The on-disk kernel cache seen from Python: a second process loads the first one's kernels
instead of compiling them, gets the same results, and a broken cache never breaks a run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json, math
    import fastiter
    from fastiter import _native, par_range

    k = _native.compile("range(0, N).filter(x % 3 == 1).map(x * x).sum()", [("N", "int")])
    chain = par_range(0, 10**5).map(lambda x: math.sqrt(x) * 0.5).sum()
    print(json.dumps({"cached": k.from_cache, "value": k.run([10**6]), "chain": chain}))
    """
)


def run(cache_dir, **env):
    full = dict(os.environ, FASTITER_CACHE_DIR=str(cache_dir), **env)
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=full, check=True
    )
    return json.loads(out.stdout)


def want():
    return {
        "value": sum(x * x for x in range(10**6) if x % 3 == 1),
        "chain": sum(x**0.5 * 0.5 for x in range(10**5)),
    }


def test_second_process_loads_the_first_ones_kernels(tmp_path):
    first = run(tmp_path)
    assert first["cached"] is False
    assert any(tmp_path.iterdir()), "the first process wrote no cache file"
    second = run(tmp_path)
    assert second["cached"] is True
    assert second["value"] == first["value"] == want()["value"]
    assert second["chain"] == first["chain"]


def test_disabled_cache_compiles_and_writes_nothing(tmp_path):
    got = run(tmp_path, FASTITER_CACHE="0")
    assert got["cached"] is False
    assert got["value"] == want()["value"]
    assert not any(tmp_path.iterdir())


def test_corrupt_cache_files_are_ignored_and_rewritten(tmp_path):
    run(tmp_path)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files
    for p in files:
        p.write_bytes(b"\x00garbage" * 7)
    got = run(tmp_path)
    assert got["cached"] is False  # nothing trusted
    assert got["value"] == want()["value"]
    again = run(tmp_path)
    assert again["cached"] is True  # rewritten by the run before


def test_unwritable_cache_directory_never_fails(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    got = run(blocker / "cache")
    assert got["cached"] is False
    assert got["value"] == want()["value"]
