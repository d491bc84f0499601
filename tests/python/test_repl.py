"""``python -m fastiter`` opens the fastc REPL; scripted here through a pipe."""

import subprocess
import sys


def run_repl(text: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fastiter"],
        input=text,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_python_m_fastiter_runs_the_repl_over_a_pipe():
    r = run_repl("let N = 10\nrange(N).sum()\n")
    assert (r.stdout, r.stderr, r.returncode) == ("45\n", "", 0)

    # An error prints with a caret on stderr, the session goes on, and the exit status says so.
    r = run_repl("range(10).map(x *).sum()\nrange(3).sum()\n:quit\nrange(5).sum()\n")
    assert r.stdout == "3\n", r.stderr
    assert "expected an expression at 1:18" in r.stderr
    assert " 1 │ range(10).map(x *).sum()" in r.stderr
    assert "   ·                  ─" in r.stderr
    assert "\x1b" not in r.stdout + r.stderr and "fastc>" not in r.stdout
    assert r.returncode == 1
