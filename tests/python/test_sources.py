"""Where a stage's source comes from: IPython/Jupyter cells and CPython's interactive prompt.

Both keep what was typed in :mod:`linecache` under a pseudo-file name (``<ipython-input-3-...>``,
``/tmp/ipykernel_.../123.py``, ``<python-input-4>``, ``<stdin>-2``), so lambdas, ``def`` stages
and ``@fastiter.compile`` functions written there compile like those of a file. Every result is
compared with plain CPython's; whether a pipeline compiled is read from ``fastiter.explain``.
"""

from __future__ import annotations

import builtins
import os
import re
import select
import subprocess
import sys
import textwrap
import time
import types

import pytest


def explain_line(text: str) -> str:
    """The line of ``fastiter.explain``'s text that says whether it compiled."""
    return text.split("\n")[1]


# --- IPython / Jupyter ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def shell(tmp_path_factory):
    pytest.importorskip("IPython")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IPYTHONDIR", str(tmp_path_factory.mktemp("ipython")))
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config

        had = set(vars(builtins))
        config = Config()
        config.HistoryManager.enabled = False
        sh = InteractiveShell.instance(
            config=config, user_module=types.ModuleType("fastiter_test_cells")
        )
        try:
            yield sh
        finally:
            InteractiveShell.clear_instance()
            for name in set(vars(builtins)) - had:  # __IPYTHON__, display
                delattr(builtins, name)


def run_cell(sh, src: str) -> dict:
    """Run ``src`` as a cell (raising what it raised) and return the user namespace."""
    result = sh.run_cell(textwrap.dedent(src), store_history=True)
    result.raise_error()
    return sh.user_ns


def test_ipython_cell_lambdas_compile(shell):
    ns = run_cell(
        shell,
        """
        import fastiter
        from fastiter import par_range, into_par_iter
        k = 7
        p = par_range(0, 1000).filter(lambda x: x % 3 == 0).map(lambda x: x * k + 1)
        r1, e1 = p.sum(), fastiter.explain(p)
        data = [0.5, 2.25, -3.0, 8.0]
        q = into_par_iter(data).map(
            lambda v: v * v
            - 1.5
        ).filter(lambda v: v > 0)
        r2, e2 = q.collect(), fastiter.explain(q)
        nested = par_range(0, 30).map(lambda i: par_range(0, i).map(lambda j: j * i).sum())
        r3, e3 = nested.sum(), fastiter.explain(nested)
        filename = p._stages[0][1].__code__.co_filename
        """,
    )
    assert ns["filename"].startswith("<ipython-input-"), ns["filename"]
    assert ns["r1"] == sum(x * 7 + 1 for x in range(1000) if x % 3 == 0)
    assert ns["r2"] == [w for w in (v * v - 1.5 for v in [0.5, 2.25, -3.0, 8.0]) if w > 0]
    assert ns["r3"] == sum(sum(j * i for j in range(i)) for i in range(30))
    for e in ("e1", "e2", "e3"):
        assert explain_line(ns[e]).startswith("compiled: yes"), ns[e]
    # A closure number stays a parameter: changing it in a later cell gives the new result.
    ns = run_cell(shell, "k = -2\nr4 = p.sum()\n")
    assert ns["r4"] == sum(x * -2 + 1 for x in range(1000) if x % 3 == 0)


def test_ipython_def_stages_and_compiled_functions(shell):
    ns = run_cell(
        shell,
        """
        import fastiter
        from fastiter import par_range

        LIMIT = 50

        def clamp(x):
            y = x * 3
            if y > LIMIT:
                y = LIMIT
            return y - 1

        p = par_range(0, 40).map(clamp)
        r1, e1 = p.collect(), fastiter.explain(p)

        @fastiter.compile
        def collatz(n):
            steps = 0
            while n != 1:
                n = n // 2 if n % 2 == 0 else 3 * n + 1
                steps += 1
            return steps

        @fastiter.compile
        def evens(n):
            return par_range(0, n).filter(lambda x: x % 2 == 0).map(lambda x: x * x).sum()

        r2, e2 = [collatz(n) for n in range(1, 30)], collatz.explain(27)
        r3, e3 = evens(1000), evens.explain(1000)
        r4 = par_range(1, 30).map(collatz).collect()
        """,
    )

    def clamp(x):
        return min(x * 3, 50) - 1

    def collatz(n):
        steps = 0
        while n != 1:
            n = n // 2 if n % 2 == 0 else 3 * n + 1
            steps += 1
        return steps

    assert ns["r1"] == [clamp(x) for x in range(40)]
    assert ns["r2"] == ns["r4"] == [collatz(n) for n in range(1, 30)]
    assert ns["r3"] == sum(x * x for x in range(0, 1000, 2))
    for e in ("e1", "e2", "e3"):
        assert explain_line(ns[e]).startswith("compiled: yes"), ns[e]


def test_ipython_imports_in_the_same_cell(shell):
    # IPython compiles each top-level statement of a cell on its own: on 3.11+ `math.f(x)`
    # compiles differently when `math` was imported by the same compilation, so the lambda's
    # code is matched against its own statement's imports, not the whole cell's.
    ns = run_cell(
        shell,
        """
        import math
        import fastiter
        from fastiter import par_range

        p = par_range(1, 100).map(lambda x: math.sqrt(x) + math.floor(x / 7))
        r1, e1 = p.collect(), fastiter.explain(p)

        def stage(x):
            return math.floor(math.log(x) * 10)

        r2, e2 = par_range(1, 50).map(stage).collect(), fastiter.explain(par_range(1, 50).map(stage))

        @fastiter.compile
        def hyp(a, b):
            return math.sqrt(a * a + b * b)

        r3, e3 = hyp(3.0, 4.0), hyp.explain(3.0, 4.0)
        """,
    )
    import math

    assert ns["r1"] == [math.sqrt(x) + math.floor(x / 7) for x in range(1, 100)]
    assert ns["r2"] == [math.floor(math.log(x) * 10) for x in range(1, 50)]
    assert ns["r3"] == 5.0
    for e in ("e1", "e2", "e3"):
        assert explain_line(ns[e]).startswith("compiled: yes"), ns[e]


@pytest.fixture
def code_name(shell):
    """Let a test choose the pseudo-file name cells get (as ipykernel and other front ends do)."""
    compiler = shell.compile
    names: list[str] = []

    def get_code_name(raw_code, transformed_code, number):
        return names[-1]

    compiler.get_code_name = get_code_name
    try:
        yield names
    finally:
        del compiler.get_code_name


def test_jupyter_kernel_file_names(shell, code_name, tmp_path):
    # ipykernel names a cell after a hash of its text, as a .py path that is not on disk.
    code_name.append(str(tmp_path / f"ipykernel_{os.getpid()}" / "3461723456.py"))
    ns = run_cell(
        shell,
        """
        import fastiter
        from fastiter import par_range
        p = par_range(0, 100).map(lambda x: x * x - 3).filter(lambda y: y % 4 == 1)
        r1, e1 = p.collect(), fastiter.explain(p)
        filename = p._stages[0][1].__code__.co_filename
        """,
    )
    assert ns["filename"] == code_name[-1]
    assert ns["r1"] == [y for y in (x * x - 3 for x in range(100)) if y % 4 == 1]
    assert explain_line(ns["e1"]).startswith("compiled: yes"), ns["e1"]


def test_edited_cell_run_again_under_the_same_name(shell, code_name):
    # A front end that keeps one name per cell replaces its linecache entry when the cell is
    # edited: the new text is parsed again, never searched in the old tree.
    code_name.append("<cell-7>")
    # The template cache is full, as after many pipelines: an entry made before the edit
    # must survive the entries the edited cell adds (it once cleared them all at its limit).
    from fastiter import _source

    _source._templates.clear()
    for i in range(256):
        try:
            _source.template_for(eval(f"lambda x: x + {i}"), 1)  # a code object each
        except _source.Unsupported:
            pass  # no source: cached as such
    ns = run_cell(
        shell,
        """
        import fastiter
        from fastiter import par_range
        f = lambda x: x + 1; g = lambda x: x - 3
        old_f, old_g = f, g
        r1, e1 = par_range(0, 5).map(f).collect(), fastiter.explain(par_range(0, 5).map(f))
        """,
    )
    assert ns["r1"] == [1, 2, 3, 4, 5]
    assert explain_line(ns["e1"]).startswith("compiled: yes"), ns["e1"]
    ns = run_cell(
        shell,
        """
        import fastiter
        from fastiter import par_range
        f = lambda x: x * 100; g = lambda x: x - 4
        r2, e2 = par_range(0, 5).map(f).collect(), fastiter.explain(par_range(0, 5).map(f))
        r3, e3 = par_range(0, 5).map(old_f).collect(), fastiter.explain(par_range(0, 5).map(old_f))
        r4, e4 = par_range(0, 5).map(old_g).collect(), fastiter.explain(par_range(0, 5).map(old_g))
        """,
    )
    assert ns["r2"] == [0, 100, 200, 300, 400]
    assert explain_line(ns["e2"]).startswith("compiled: yes"), ns["e2"]
    assert "x * 100" in ns["e2"]
    # Compiled from the text it was made from while that was current.
    assert ns["r3"] == [1, 2, 3, 4, 5]
    assert explain_line(ns["e3"]).startswith("compiled: yes"), ns["e3"]
    # First seen after the edit: its line now holds other code, so it runs as Python.
    assert ns["r4"] == [-3, -2, -1, 0, 1]
    assert "compiled: no" in ns["e4"] and "does not compile to this function's code" in ns["e4"]


def test_source_less_lambdas_in_ipython(shell):
    ns = run_cell(
        shell,
        """
        import fastiter
        from fastiter import par_range
        exec("f = lambda x: x * 3 + 1")
        r1, e1 = par_range(0, 10).map(f).collect(), fastiter.explain(par_range(0, 10).map(f))
        """,
    )
    assert ns["r1"] == [x * 3 + 1 for x in range(10)]
    assert "compiled: no" in ns["e1"] and "source code is not available" in ns["e1"]
    # The same text typed in a cell (line 1, same columns: an equal code object) compiles: the
    # refusal for the string's lambda belongs to that string.
    ns = run_cell(
        shell,
        "f = lambda x: x * 3 + 1\n"
        "r2, e2 = par_range(0, 10).map(f).collect(), fastiter.explain(par_range(0, 10).map(f))\n",
    )
    assert ns["r2"] == [x * 3 + 1 for x in range(10)]
    assert explain_line(ns["e2"]).startswith("compiled: yes"), ns["e2"]


def test_ipython_timing_magics_say_why(shell, capsys):
    # %time and %timeit compile their statement with no source kept anywhere: such a lambda
    # runs as Python, and explain() says how to time a compiled pipeline instead.
    ns = run_cell(
        shell,
        """
        import fastiter
        from fastiter import par_range
        %time e1 = fastiter.explain(par_range(0, 10).map(lambda x: x + 5))
        %time r1 = par_range(0, 10).map(lambda x: x + 5).sum()
        p = par_range(0, 10).map(lambda x: x + 5)
        %timeit -n1 -r1 p.sum()
        """,
    )
    capsys.readouterr()
    assert ns["r1"] == sum(x + 5 for x in range(10))
    assert "compiled: no" in ns["e1"] and "%timeit p.sum()" in ns["e1"], ns["e1"]
    assert explain_line(fastiter_explain(ns, "p")).startswith("compiled: yes")
    # The same lambda typed in a cell at the columns the magic's statement had compiles.
    ns = run_cell(shell, "e2 = fastiter.explain(par_range(0, 10).map(lambda x: x + 5))\n")
    assert explain_line(ns["e2"]).startswith("compiled: yes"), ns["e2"]


def fastiter_explain(ns: dict, name: str) -> str:
    import fastiter

    return fastiter.explain(ns[name])


# --- CPython's interactive prompt (3.13+: typed source is kept in linecache) ---------------

# One statement a line (the prompt of 3.13 indents after a line ending in ':'); a blank line
# ends a compound statement. Each check prints `OUT-<letter>` and what to compare.
SESSION = [
    "import math, fastiter",
    "from fastiter import par_range, into_par_iter",
    "k = 7",
    "p = par_range(0, 1000).filter(lambda x: x % 3 == 0).map(lambda x: x * k)",
    (
        'print("OUT-A", p.sum() == sum(x * 7 for x in range(0, 1000, 3)),'
        " fastiter.explain(p).splitlines()[1], p._stages[0][1].__code__.co_filename)"
    ),
    (
        "import math; q = into_par_iter([1.5, 2.0, 9.0]).map(lambda v: math.sqrt(v) + 1);"
        ' print("OUT-B", q.collect() == [math.sqrt(v) + 1 for v in [1.5, 2.0, 9.0]],'
        " fastiter.explain(q).splitlines()[1])"
    ),
    "def stage(x): y = x * 3; return y + 1",
    "",
    (
        'print("OUT-C", par_range(0, 10).map(stage).collect() == [x * 3 + 1 for x in range(10)],'
        " fastiter.explain(par_range(0, 10).map(stage)).splitlines()[1])"
    ),
    "@fastiter.compile",
    "def tot(n): return par_range(0, n).map(lambda x: x * 2).sum()",
    "",
    'print("OUT-D", tot(100) == 9900, tot.explain(100).splitlines()[1])',
    'exec("g = lambda x: x * 3 + 1")',
    'print("OUT-E", " | ".join(fastiter.explain(par_range(0, 5).map(g)).splitlines()[1:3]))',
    "g = lambda x: x * 3 + 1",
    (
        'print("OUT-F", par_range(0, 5).map(g).collect() == [1, 4, 7, 10, 13],'
        " fastiter.explain(par_range(0, 5).map(g)).splitlines()[1])"
    ),
]

needs_313 = pytest.mark.skipif(
    sys.version_info < (3, 13), reason="the prompt keeps typed source from CPython 3.13 on"
)


def prompt_env() -> dict:
    env = dict(os.environ, PYTHON_COLORS="0", NO_COLOR="1", TERM="xterm")
    for name in ("PYTHON_BASIC_REPL", "PYTHONSTARTUP", "PYTHONINSPECT"):
        env.pop(name, None)
    return env


def check_session(out: str, filename_prefix: str, compiles: bool = True) -> None:
    found = dict(re.findall(r"OUT-([A-Z]) ([^\r\n]*)", out))
    assert sorted(found) == list("ABCDEF"), out
    want = "compiled: yes" if compiles else "compiled: no"
    a = found["A"].split(" ", 1)
    assert a[0] == "True" and a[1].startswith(want), found["A"]
    # The prompt the session used: the name its inputs are registered under.
    assert a[1].rsplit(" ", 1)[1].startswith(filename_prefix), found["A"]
    for key in "BCDF":
        assert found[key].startswith(f"True {want}"), (key, found[key])
    assert found["E"].startswith("compiled: no"), found["E"]
    assert "source code is not available" in found["E"], found["E"]


def run_piped_prompt(cwd) -> str:
    r = subprocess.run(
        [sys.executable, "-i"],
        input="\n".join([*SESSION, ""]),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=prompt_env(),
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr
    return r.stdout + r.stderr


@pytest.mark.skipif(sys.version_info >= (3, 13), reason="3.13's prompt keeps typed source")
def test_python_prompt_without_source_runs_as_python(tmp_path):
    # Before 3.13 the prompt keeps nothing of what was typed: every stage runs as Python,
    # with the same results, and explain() says why.
    check_session(run_piped_prompt(tmp_path), "<stdin>", compiles=False)


@needs_313
def test_python_prompt_with_piped_input(tmp_path):
    # `python -i < script`: without a terminal, 3.13's prompt is the basic one; it keeps each
    # input in linecache as `<stdin>-N` (3.14: `<stdin-N>`, by code object).
    check_session(
        run_piped_prompt(tmp_path), "<stdin>-" if sys.version_info < (3, 14) else "<stdin-"
    )


@needs_313
def test_python_prompt_in_a_terminal(tmp_path):
    # What a user typing at `python3.13` gets: the new prompt (_pyrepl), which needs a terminal
    # and keeps each input in linecache as `<python-input-N>`.
    pty = pytest.importorskip("pty")
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 250, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-i"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=tmp_path,
        env=prompt_env(),
        close_fds=True,
        start_new_session=True,
    )
    os.close(slave)
    chunks: list[bytes] = []

    def read_until(pred, timeout: float) -> str:
        """Read the terminal until ``pred(text so far)`` or ``timeout`` seconds pass."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            text = b"".join(chunks).decode(errors="replace")
            if pred(text):
                return text
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
        return b"".join(chunks).decode(errors="replace")

    def quiet(seconds: float) -> None:
        """Read until the terminal has been quiet for ``seconds``."""
        while True:
            n = len(chunks)
            read_until(lambda _t: False, seconds)
            if len(chunks) == n:
                return

    try:
        read_until(lambda t: ">>> " in t, 30)
        for line in SESSION:
            os.write(master, line.encode() + b"\r")
            quiet(0.3)
        read_until(lambda t: "OUT-F " in t, 60)
        quiet(0.5)
        os.write(master, b"exit()\r")
        proc.wait(timeout=30)
        out = read_until(lambda _t: False, 0.5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    if "can't use pyrepl" in out:
        pytest.skip(f"no new prompt on this terminal: {out.splitlines()[0]}")
    check_session(re.sub(r"\x1b\[[0-9;?]*[A-Za-z@]", "", out), "<python-input-")


# --- CPython 3.14's prompt: inputs registered in linecache by code object -------------------


def test_lines_registered_by_code_object(monkeypatch):
    # 3.14's prompt keeps an input's lines under its code objects (linecache._register_code,
    # read back with linecache._getlines_from_code), not under the `<python-input-N>` name.
    import linecache

    import fastiter

    name = "<python-input-9041>"
    src = "f = lambda x: x * x - 2\n"
    assert name not in linecache.cache
    monkeypatch.setattr(
        linecache,
        "_getlines_from_code",
        lambda code: [src] if code.co_filename == name else [],
        raising=False,
    )
    ns: dict = {}
    exec(compile(src, name, "exec"), ns)  # noqa: S102 - as the prompt runs an input
    p = fastiter.par_range(0, 20).map(ns["f"])
    assert p.collect() == [x * x - 2 for x in range(20)]
    assert explain_line(fastiter.explain(p)).startswith("compiled: yes")
