#!/usr/bin/env python3
"""Generate tests/data/builtins_table.txt: pipelines and programs calling the builtin table's
functions (`math.gcd`, `math.hypot`, `divmod`, `pow`, `round`, `int.bit_length`, ...), with the
values every CPython found here (3.9 and newer) computes for them.

    python3 scripts/gen_builtins_table.py           # rewrite the table
    python3 scripts/gen_builtins_table.py --check   # fail if it is out of date

Pipelines are evaluated by the machinery of scripts/gen_cpython_table.py (so every builtin in a
row is CPython's own), programs with `def`s by scripts/gen_statement_table.py's `run`. Each
interpreter evaluates every case in a child process (`--eval`), so a row whose value depends on
the version (`int.bit_count` is 3.10+, `math.cbrt` 3.11+, `math.hypot`'s rounding) records each
version's result. tests/builtins_table.rs compiles each row for each version recorded, and
checks the JIT (1 and 2 threads) and the interpreter against it.

Row format: `PIPELINE ||| PARAMS ||| EXPECTED`; a program's newlines are written `\\n`.
EXPECTED is a repr, `raises ExceptionType`, `REFUSED (...)` (CPython has a value that fastiter
declines to compute: it must refuse, never answer), or `@3.9 ... @3.10 ...` per version.
"""

import glob
import importlib.util
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
TABLE = ROOT / "tests" / "data" / "builtins_table.txt"
SEP = " ||| "


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CASES = []


def C(pipeline, refused=False, **params):
    CASES.append((pipeline, params, refused))


def P(program, refused=False, **params):
    """A program: `def`s, then the pipeline."""
    C(program.strip("\n"), refused, **params)


# ---- math: integers ----
C("range(0, 50).map(lambda x: math.gcd(x, 36)).collect()")
C("range(-20, 20).map(lambda x: math.gcd(x * 6, -15)).collect()")
C("range(0, 40000).map(lambda x: math.gcd(x, 360)).sum()")
C("range(0, 10).map(lambda x: math.gcd(x, 2**64 + 4)).collect()")
C("range(0, 5).map(lambda x: math.gcd(x - 2**63, 0)).collect()")
C("range(1, 30).map(lambda x: math.lcm(x, 12)).collect()")
C("range(1, 20).map(lambda x: math.lcm(2**40 + x, 2**40 - x)).collect()")
C("range(0, 10).map(lambda x: math.gcd()).sum()")
C("range(0, 10).map(lambda x: math.lcm()).sum()")
C("range(-5, 5).map(lambda x: math.gcd(x)).collect()")
C("range(-5, 5).map(lambda x: math.lcm(x)).collect()")
C("range(0, 20).map(lambda x: math.gcd(x, 12, 18)).collect()")
C("range(1, 20).map(lambda x: math.lcm(x, x + 1, x + 2)).collect()")
C("range(0, 10).map(lambda x: math.gcd(x, 2.0)).collect()")
C("range(0, 10).map(lambda x: math.gcd(x, True)).collect()")
C("range(0, 100).map(lambda x: math.isqrt(x)).collect()")
C("range(0, 40000).map(lambda x: math.isqrt(x * x * 1000003)).sum()")
C("range(-3, 3).map(lambda x: math.isqrt(x)).sum()")
C("range(0, 10).map(lambda x: math.isqrt(10**40 + x)).collect()")
C("range(0, 25).map(lambda x: math.factorial(x)).collect()")
C("range(0, 40).map(lambda x: math.factorial(x) % 1000003).sum()")
C("range(-2, 3).map(lambda x: math.factorial(x)).collect()")
C("range(0, 200).map(lambda x: math.factorial(x)).sum()")
C("range(0, 70).map(lambda x: math.comb(68, x)).collect()")
C("range(0, 40000).map(lambda x: math.comb(x, 3)).sum()")
C("range(0, 10).map(lambda x: math.comb(x, -1)).sum()")
C("range(-1, 5).map(lambda x: math.comb(x, 2)).sum()")
C("range(0, 30).map(lambda x: math.perm(25, x)).collect()")
C("range(0, 12).map(lambda x: math.perm(x)).collect()")
C("range(0, 8).map(lambda x: math.perm(x, 3)).collect()")
C("range(0, 5).map(lambda x: math.comb(10**30 + x, 4)).collect()")
C("range(0, 5).map(lambda x: math.comb(x + 0.0, 2)).collect()")
C("range(0, 30).map(lambda x: math.comb(100, x) % 1000000007).sum()")
C("range(0, 6).map(lambda x: math.perm(2**64, x)).collect()")
C("range(0, 12).map(lambda x: math.gcd(math.factorial(x), 2**10)).collect()")
C("range(0, 2).map(lambda x: round(x, -1000001)).collect()", refused=True)

# ---- int and float methods ----
C("range(-10, 10).map(lambda x: x.bit_length()).collect()")
C("range(-10, 10).map(lambda x: (x * 12345).bit_count()).collect()")
C("range(0, 40000).map(lambda x: (x * x).bit_length()).sum()")
C("[-2**63, 2**63 - 1, 0].map(lambda x: x.bit_length()).collect()")
C("[-2**63, 2**64, -1].map(lambda x: x.bit_count()).collect()")
C("[True, False].map(lambda x: x.bit_length()).collect()")
C("range(0, 10).map(lambda x: (2**64 + x).bit_length()).collect()")
C("range(0, 5).map(lambda x: (x * 1.5).is_integer()).collect()")
C("[0.0, -0.0, 1.5, math.inf, math.nan, 1e300, -3.0].map(lambda x: x.is_integer()).collect()")
C("range(0, 5).map(lambda x: x.is_integer()).collect()")
C("range(0, 5).map(lambda x: (x * 0.5).bit_length()).collect()")
C("range(0, 1000).filter(lambda x: x.bit_count() == 3).count()")
C("range(0, 5).map(lambda x: int.bit_length(x * 100)).collect()")
C("range(0, 5).map(lambda x: float.is_integer(x * 0.5)).collect()")

# ---- divmod ----
C("range(-10, 10).map(lambda x: divmod(x, 3)[0]).collect()")
C("range(-10, 10).map(lambda x: divmod(x, -3)[1]).collect()")
C("range(-10, 10).map(lambda x: divmod(x * 1.5, 2)[1]).collect()")
C("range(-10, 10).map(lambda x: divmod(7.5, x)[0]).collect()")
C("range(-5, 5).map(lambda x: divmod(100, x)[1]).sum()")
C("range(0, 40000).map(lambda x: divmod(x * 7919, 1000)[1]).sum()")
C("range(0, 10).map(lambda x: divmod(x, 4)[-1]).collect()")
C("range(0, 10).map(lambda x: divmod(x, 4)[2]).collect()")
C("[-2**63].map(lambda x: divmod(x, -1)[0]).collect()")
C("[-2**63].map(lambda x: divmod(x, -1)[1]).collect()")
C("range(0, 5).map(lambda x: divmod(10**20 + x, 7)[1]).collect()")
C("range(-4, 4).map(lambda x: divmod(x * 0.0, -2.0)[1]).collect()")
C("range(0, 5).map(lambda x: divmod(x, 2)).collect()", refused=True)
C("range(0, 5).map(lambda x: math.frexp(x)).collect()", refused=True)
P(r"""
def f(x):
    q, r = divmod(x, 7)
    return q * 100 + r
range(-20, 20).map(f).collect()
""")
P(r"""
def f(x):
    q, r = divmod(x * 0.75, 0.5)
    return q + r
range(-10, 10).map(f).collect()
""")
P(r"""
def f(x):
    q, r = divmod(10, x - 3)
    return q
range(0, 10).map(f).sum()
""")
P(r"""
def digits(x):
    a, b = divmod(x, 10)
    c, d = divmod(a, 10)
    return b + d + c
range(0, 1000).map(digits).sum()
""")
P(r"""
def f(x):
    q, r = divmod(x, 3)
    q, r = r, q
    return q - r
range(0, 10).map(f).collect()
""")
P(r"""
def f(x):
    m, e = math.frexp(x * 3.5)
    return m * 100 + e
range(-5, 5).map(f).collect()
""")
P(r"""
def f(x):
    frac, whole = math.modf(x / 4)
    return whole - frac
range(-6, 6).map(f).collect()
""")
P(r"""
def f(x):
    r = 0
    for i in range(1, x):
        r += math.gcd(i, x)
    return r
range(1, 50).map(f).sum()
""")

# ---- pow ----
C("range(-5, 6).map(lambda x: pow(x, 3)).collect()")
C("range(-5, 6).map(lambda x: pow(2, x)).collect()")
C("range(0, 20).map(lambda x: pow(x, 5, 13)).collect()")
C("range(1, 20).map(lambda x: pow(x, -1, 23)).collect()")
C("range(0, 10).map(lambda x: pow(x, -1, 4)).collect()")
C("range(0, 10).map(lambda x: pow(x, 2, 0)).collect()")
C("range(0, 10).map(lambda x: pow(x, 2, -7)).collect()")
C("range(0, 40000).map(lambda x: pow(x, x, 1000000007)).sum()")
C("range(0, 10).map(lambda x: pow(x, 2, 7.0)).collect()")
C("range(0, 10).map(lambda x: pow(x * 0.5, 2)).collect()")
C("range(0, 5).map(lambda x: pow(base=x, exp=3, mod=5)).collect()")
C("range(0, 5).map(lambda x: pow(x, 10**20, 10**9 + 7)).collect()")
C("range(0, 5).map(lambda x: pow(0, -1)).collect()")
C("range(0, 1000).map(lambda x: pow(3, x, 1000)).max()")
C("range(0, 10).map(lambda x: pow(x, e, m)).collect()", e="-1", m="11")
P(r"""
def pow(a, b):
    return a - b
range(0, 5).map(lambda x: pow(x, 2)).collect()
""")

# ---- round ----
C("range(0, 20).map(lambda x: round(x * 0.125, 2)).collect()")
C("range(-10, 10).map(lambda x: round(x * 2.675, 2)).collect()")
C("range(0, 20).map(lambda x: round(x * 123.456, -1)).collect()")
C("range(-30, 30).map(lambda x: round(x * 5, -1)).collect()")
C("[1.0, 1.7976931348623157e308].map(lambda x: round(x, -308)).collect()")
C("range(0, 40000).map(lambda x: round(x / 7, 3)).sum()")
C("range(0, 10).map(lambda x: round(x / 3, x - 5)).collect()")
C("range(0, 10).map(lambda x: round(x * 0.1, ndigits=1)).collect()")
C("range(0, 5).map(lambda x: round(x * 0.5, 1.0)).collect()")
C("range(0, 10).map(lambda x: round(x - 5.5)).collect()")
C("range(0, 10).map(lambda x: round(x, 2)).collect()")
C("range(-3, 3).map(lambda x: round(-0.4 * x, 0)).collect()")
C("[2**63 - 1, -2**63].map(lambda x: round(x, -2)).collect()")
C("range(0, 5).map(lambda x: round(x * 1.5, 400)).collect()")
C("range(0, 10).map(lambda x: round(x * f, d)).collect()", f="0.333", d="2")
C("[0.5, 1.5, 2.5, -2.5].map(round).collect()")

# ---- math: floats ----
C("range(-5, 6).map(lambda x: math.hypot(x, 4)).collect()")
C("range(0, 40000).map(lambda x: math.hypot(x * 0.001, 1.0 / (x + 1))).sum()")
C("range(0, 10).map(lambda x: math.hypot(x, x + 1, x + 2)).collect()")
C("range(0, 5).map(lambda x: math.hypot()).sum()")
C("range(-5, 5).map(lambda x: math.hypot(x * 1e-320, 3e-320)).collect()")
C("range(0, 40).map(lambda x: math.hypot(x * 1.1e-309, 7.3e-310, x * 2e-310)).collect()")
C("range(0, 5).map(lambda x: math.hypot(x * 1e308, 1e308)).collect()")
C("range(1, 100).map(lambda x: math.hypot(x, 5)).filter(lambda h: h.is_integer()).collect()")
C("range(0, 8).map(lambda x: math.atan2(x - 4, 3)).collect()")
C("range(-4, 4).map(lambda x: math.atan2(x * 0.0, -1.0)).collect()")
C("range(-5, 5).map(lambda x: math.copysign(3, x)).collect()")
C("range(-5, 5).map(lambda x: math.copysign(x, -0.0)).collect()")
C("range(-10, 10).map(lambda x: math.fmod(x * 1.5, 4)).collect()")
C("range(-3, 3).map(lambda x: math.fmod(5, x)).collect()")
C("range(0, 10).map(lambda x: math.fmod(x, math.inf)).collect()")
C("range(-10, 10).map(lambda x: math.remainder(x, 4)).collect()")
C("range(-5, 5).map(lambda x: math.ldexp(x * 0.75, x * 300)).collect()")
C("range(0, 10).map(lambda x: math.ldexp(1.0, x * 100 - 1100)).collect()")
C("range(0, 5).map(lambda x: math.ldexp(x, 2.0)).collect()")
C("range(0, 10).map(lambda x: math.ldexp(x, 10**20)).collect()")
C("range(1, 20).map(lambda x: math.log(x, 3)).collect()")
C("range(0, 5).map(lambda x: math.log(x + 1, 1)).collect()")
C("range(1, 10).map(lambda x: math.log(10**x, 10)).collect()")
C("range(0, 20).map(lambda x: math.isclose(x * 0.1 * 3, x * 0.3)).collect()")
C("range(0, 20).map(lambda x: math.isclose(x, 10, rel_tol=0.2)).collect()")
C("range(0, 20).map(lambda x: math.isclose(x * 1e-10, 0.0, abs_tol=1e-9)).collect()")
C("range(0, 5).map(lambda x: math.isclose(x, 1, rel_tol=-0.5)).collect()")
C("range(0, 5).map(lambda x: math.isclose(b=x, a=2, abs_tol=1)).collect()")
C("range(0, 5).map(lambda x: math.isclose(x, 1, tol=1)).collect()")
C("range(-5, 5).map(lambda x: math.pow(x, 2)).collect()")
C("range(-5, 5).map(lambda x: math.pow(x, 0.5)).collect()")
C("range(0, 3).map(lambda x: math.pow(x * 0.0, -math.inf)).collect()")
C("range(0, 3).map(lambda x: math.pow(0, -x - 1)).collect()")

# ---- math: one argument ----
C("range(-4, 5).map(lambda x: math.degrees(x * 0.5)).collect()")
C("range(-4, 5).map(lambda x: math.radians(x * 45)).collect()")
C("range(-5, 5).map(lambda x: math.trunc(x * 1.7)).collect()")
C("range(-5, 5).map(lambda x: math.ceil(x / 3)).collect()")
C("range(0, 5).map(lambda x: math.ceil(x * math.inf)).collect()")
C("range(1, 30).map(lambda x: math.log2(x)).collect()")
C("range(0, 10).map(lambda x: math.log10(10**(x * 40))).collect()")
C("range(-2, 10).map(lambda x: math.log1p(x * 0.5)).collect()")
C("range(-5, 10).map(lambda x: math.expm1(x * 0.25)).collect()")
C("range(0, 5).map(lambda x: math.expm1(x * 500)).collect()")
C("[0.0, math.inf, -math.inf, math.nan, 1e308].map(lambda x: math.isinf(x)).collect()")
C("[0.0, math.inf, -math.inf, math.nan, 1e308].map(lambda x: math.isfinite(x)).collect()")
C("[0.0, math.inf, -math.inf, math.nan, 1e308].map(lambda x: math.isnan(x * 0)).collect()")
C("range(0, 10).map(lambda x: math.frexp(x * 0.75)[0]).collect()")
C("range(-5, 5).map(lambda x: math.frexp(x * 1e-310)[1]).collect()")
C("range(-5, 5).map(lambda x: math.modf(x * 0.75)[0]).collect()")
C("range(-5, 5).map(lambda x: math.modf(x * 0.75)[1]).collect()")
C("range(1, 10).map(lambda x: math.erf(x * 0.3)).collect()")
C("range(1, 10).map(lambda x: math.erfc(x * 0.7)).collect()")
C("range(-10, 30).map(lambda x: math.gamma(x * 0.35 + 0.1)).collect()")
C("range(-3, 3).map(lambda x: math.gamma(x)).collect()")
C("range(1, 200).map(lambda x: math.gamma(x)).sum()")
C("range(1, 500).map(lambda x: math.lgamma(x * 0.5)).sum()")
C("range(-3, 3).map(lambda x: math.lgamma(x)).collect()")
C("range(-20, 20).map(lambda x: math.lgamma(x + 0.5)).collect()")
C("range(0, 20).map(lambda x: math.cbrt(x * 1.7 - 10)).collect()")
C("range(0, 10).map(lambda x: math.exp2(x - 5)).collect()")
C("range(0, 40000).map(lambda x: math.cbrt(x)).sum()")
C("range(0, 10).map(lambda x: math.sqrt(True) + x).collect()")

# ---- functions named as stages, consumers, parameters, mixed types ----
C("range(0, 100).map(math.isqrt).sum()")
C("range(0, 20).map(math.factorial).collect()")
C("range(-5, 5).map(math.gcd).collect()")
C("range(1, 10).map(math.gamma).collect()")
C("range(1, 1000).filter(lambda x: math.gcd(x, 1000) == 1).count()")
C("range(0, 100).filter(lambda x: math.isqrt(x) ** 2 == x).collect()")
C("range(0, 100).any(lambda x: math.comb(x, 2) > 3000)")
C("range(1, 50).max_by_key(lambda x: math.gcd(x, 48))")
C("range(0, n).map(lambda x: math.gcd(x, k)).sum()", n="1000", k="360")
C("[1, 2.5, True, -4].map(lambda x: math.copysign(x, -1)).collect()")
C("[9, 2.25, True].map(lambda x: math.isqrt(x)).collect()")
C("[1, 2.5, -3].map(lambda x: divmod(x, 2)[1]).collect()")
C("[7, 2.5, True].map(lambda x: round(x * 1.5, 1)).collect()")
C("[1, 2.5, True].map(lambda x: x.is_integer()).collect()")
C("[4, 2.5, True].map(lambda x: math.hypot(x, 3)).collect()")


# ---- evaluation (in each interpreter) ----

def evaluate(text, params):
    core = _load("gen_cpython_table")
    stmt = _load("gen_statement_table") if text.startswith("def ") else None
    try:
        if stmt is not None:
            return stmt.run(text, params)
        return core.evaluate(text, params)
    except AttributeError:
        return "raises AttributeError"
    except IndexError:
        return "raises IndexError"


def child(path):
    cases = json.loads(pathlib.Path(path).read_text())
    results = [evaluate(text, params) for text, params in cases]
    print(json.dumps({"version": "%d.%d" % sys.version_info[:2], "results": results}))


def interpreters():
    """One python3.x executable per minor version >= 3.9 found here."""
    found = {}
    for m in range(9, 20):
        name = "python3.%d" % m
        for d in os.environ.get("PATH", "").split(os.pathsep):
            p = os.path.join(d, name)
            if os.access(p, os.X_OK) and "shims" not in p:
                found.setdefault(m, p)
    for p in sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python3"))):
        m = re.search(r"/3\.(\d+)\.", p)
        if m and int(m.group(1)) >= 9:
            found.setdefault(int(m.group(1)), p)
    found.setdefault(sys.version_info[1], sys.executable)
    return [found[m] for m in sorted(found)]


def build():
    seen = set()
    for text, params, _ in CASES:
        key = (text, tuple(params.items()))
        if key in seen:
            raise SystemExit(f"duplicate case: {text}")
        seen.add(key)
        if "|||" in text or "@" in text:
            raise SystemExit(f"separator in case: {text}")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump([[t, p] for t, p, _ in CASES], f)
        path = f.name
    runs = []
    try:
        for exe in interpreters():
            out = subprocess.run([exe, __file__, "--eval", path], capture_output=True,
                                 text=True, check=True)
            runs.append(json.loads(out.stdout))
    finally:
        os.unlink(path)
    versions = [r["version"] for r in runs]
    lines = [
        "# Pipelines calling the builtin table, and what CPython computes: PIPELINE ||| PARAMS ||| EXPECTED.",
        "# Generated by scripts/gen_builtins_table.py; regenerate with",
        "#     python3 scripts/gen_builtins_table.py",
        "# and check with `cargo test --test builtins_table`. Do not edit by hand.",
        "# versions: " + " ".join(versions),
    ]
    for i, (text, params, refused) in enumerate(CASES):
        results = [r["results"][i] for r in runs]
        if refused:
            results = [f"REFUSED (CPython: {r})" for r in results]
        if len(set(results)) == 1:
            expected = results[0]
        else:
            expected = " ".join(f"@{v} {r}" for v, r in zip(versions, results))
        ps = ", ".join(f"{k}={v}" for k, v in params.items())
        lines.append(SEP.join((text.replace("\n", "\\n"), ps, expected)).rstrip())
    return "\n".join(lines) + "\n", versions


def main():
    if sys.argv[1:2] == ["--eval"]:
        child(sys.argv[2])
        return
    text, versions = build()
    if "--check" in sys.argv[1:]:
        if TABLE.read_text() != text:
            raise SystemExit(f"{TABLE} is out of date (or other interpreters are installed "
                             "here): run python3 scripts/gen_builtins_table.py")
        return
    TABLE.write_text(text)
    print(f"wrote {len(CASES)} cases for Python {', '.join(versions)} to "
          f"{TABLE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
