#!/usr/bin/env python3
"""Generate tests/data/builtin_cases.txt: the operations of the builtin table (src/builtins)
on chosen arguments, with the results of every CPython found here (3.9 and newer).

    python3 scripts/gen_builtin_cases.py           # rewrite the file
    python3 scripts/gen_builtin_cases.py --check   # fail if it is out of date

The cases are built once, then each interpreter (python3.9 ... python3.14 on PATH, or under
~/.pyenv/versions) evaluates them in a child process (`--eval FILE`), so version differences
(`math.hypot`'s rounding, `int.bit_count` and `math.cbrt` appearing) are recorded per version.
The unit tests in src/builtins/tests.rs read the file and check every operation's exact
implementation, and its kernel slot function where the arguments fit in 64 bits, for each
version recorded.

Line format: `OP ARGS... ||| RESULT`, or `OP ARGS... ||| @3.9 RESULT @3.10 RESULT ...` where
versions disagree. Arguments: ints in decimal, floats as `f` + 16 hex digits of the IEEE bits.
Results: `i<decimal>`, `f<hex bits>` (`fnan` for any NaN), `bTrue`/`bFalse`, `E<ErrCode variant>` (the exception
mapped through the messages in src/errors.rs), `A` (AttributeError: the version lacks it).
"""

import glob
import json
import math
import os
import pathlib
import random
import re
import struct
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "builtin_cases.txt"
ERRORS = ROOT / "src" / "errors.rs"

inf, nan = math.inf, math.nan


def load_messages():
    """ErrCode variant per CPython message, read from errors.rs's `message()`."""
    src = ERRORS.read_text()
    body = src[src.index("pub fn message(self)"):]
    body = body[: body.index("\n    }\n")]
    table = {}
    for name, msg in re.findall(r'(\w+) => "((?:[^"\\]|\\.)*)"', body):
        table.setdefault(msg.replace('\\"', '"'), name)
    return table


def F(x):
    return "f%016x" % struct.unpack("<Q", struct.pack("<d", x))[0]


# ---- the operations, as CPython computes them (evaluated in the child processes) ----

OPS = {
    "gcd": lambda a, b: math.gcd(a, b),
    "lcm": lambda a, b: math.lcm(a, b),
    "isqrt": lambda n: math.isqrt(n),
    "factorial": lambda n: math.factorial(n),
    "comb": lambda n, k: math.comb(n, k),
    "perm": lambda n, k: math.perm(n, k),
    "bit_length": lambda a: a.bit_length(),
    "bit_count": lambda a: a.bit_count(),
    "pow_mod": lambda a, b, m: pow(a, b, m),
    "int_round": lambda x, n: round(x, n),
    "int_divmod_rem": lambda a, b: divmod(a, b)[1],
    "hypot": lambda *xs: math.hypot(*xs),
    "atan2": lambda y, x: math.atan2(y, x),
    "copysign": lambda x, y: math.copysign(x, y),
    "fmod": lambda x, y: math.fmod(x, y),
    "remainder": lambda x, y: math.remainder(x, y),
    "ldexp": lambda x, i: math.ldexp(x, i),
    "frexp_mantissa": lambda x: math.frexp(x)[0],
    "frexp_exponent": lambda x: math.frexp(x)[1],
    "modf_frac": lambda x: math.modf(x)[0],
    "modf_int": lambda x: math.modf(x)[1],
    "degrees": lambda x: math.degrees(x),
    "radians": lambda x: math.radians(x),
    "isclose": lambda a, b, r, t: math.isclose(a, b, rel_tol=r, abs_tol=t),
    "gamma": lambda x: math.gamma(x),
    "lgamma": lambda x: math.lgamma(x),
    "cbrt": lambda x: math.cbrt(x),
    "math_pow": lambda x, y: math.pow(x, y),
    "float_round": lambda x, n: round(x, n),
    "is_integer": lambda x: x.is_integer(),
    "float_divmod_quot": lambda x, y: divmod(x, y)[0],
    "float_divmod_rem": lambda x, y: divmod(x, y)[1],
}


def evaluate(op, args, messages):
    try:
        v = OPS[op](*args)
    except AttributeError:
        return "A"
    except (ArithmeticError, ValueError) as e:
        name = messages.get(str(e))
        if name is None:
            raise RuntimeError("no ErrCode for %s: %s (%s%r)" % (type(e).__name__, e, op, args))
        return "E" + name
    if isinstance(v, bool):
        return "b%s" % v
    if isinstance(v, int):
        return "i%d" % v
    if math.isnan(v):
        return "fnan"  # CPython does not promise a NaN's sign or payload
    return F(v)


# ---- the cases ----

BIG = [0, 1, -1, 2, 3, 12, 18, -18, 1 << 40, 2**63 - 1, -(2**63), 2**63, 2**64 + 3,
       10**30, -(10**30) + 7, 3**100, 2**127 - 1, 6 * 10**25]

FVALS = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 7.0, -7.0, 0.1, 1e-310, 1e308, -1e308,
         inf, -inf, nan]


def cases():
    rng = random.Random(20261203)
    out = []

    def C(op, *args):
        out.append((op, list(args)))

    for a in BIG:
        for b in BIG:
            C("gcd", a, b)
            C("lcm", a, b)
    for n in [0, 1, 2, 3, 4, 15, 16, 17, 99, 2**62, 2**63 - 1, 2**64, 10**40 - 1, 10**40,
              (10**20 + 1) ** 2, (10**20 + 1) ** 2 - 1, -1, -(10**30)]:
        C("isqrt", n)
    for n in [-1, 0, 1, 2, 10, 20, 21, 25, 100, 1000, 2**63, -(2**70)]:
        C("factorial", n)
    nk = [(5, 2), (5, 0), (5, 5), (5, 6), (0, 0), (-1, 2), (3, -2), (-1, -1), (60, 30),
          (62, 31), (66, 33), (67, 33), (100, 50), (1000, 500), (10**30, 5), (10**30, 0),
          (10**20, 10**20 - 2), (2**65, 2**64), (2**64, 2**63), (10**19, 10**20),
          (20, 20), (21, 20), (25, 12), (2**63 - 1, 1), (2**63 - 1, 2), (4000, 37)]
    for n, k in nk:
        C("comb", n, k)
        C("perm", n, k)
    for a in BIG + [255, -255, 2**64 - 1]:
        C("bit_length", a)
        C("bit_count", a)
    for a, b, m in [(2, 10, 1000), (3, -1, 7), (2, -1, 4), (2, 3, 0), (5, 3, -7), (0, -1, 1),
                    (0, -1, -1), (3, -2, -7), (10**30, 10**20, 10**9 + 7), (-3, 3, 5),
                    (2**63 - 1, 2**63 - 1, 2**63 - 1), (3, 2**70, -(2**61 - 1)), (7, 0, 13),
                    (0, 0, 5), (-(2**63), 3, 2**63 - 1), (5, -3, -(2**63)), (12, 5, 1),
                    (2, 2**100, 10**40 + 1)]:
        C("pow_mod", a, b, m)
    for x, n in [(1234, -2), (1250, -2), (1350, -2), (-1250, -2), (15, -1), (25, -1),
                 (-25, -1), (5, 3), (5, 0), (10**30 + 5 * 10**9, -10), (2**63 - 1, -1),
                 (-(2**63), -18), (7, -400), (2**63 - 1, -19), (9 * 10**18, -19),
                 (-(5 * 10**18), -19), (5 * 10**18, -19), (123, -1000001)]:
        C("int_round", x, n)
    for a, b in [(7, 2), (-7, 2), (7, -2), (-7, -2), (0, 5), (5, 0), (-(2**63), -1),
                 (10**30, 7), (-(10**30), 7)]:
        C("int_divmod_rem", a, b)

    # hypot: every algorithm's corner cases, then random vectors of every size class.
    C("hypot")
    for v in [(3.0,), (-4.0,), (nan,), (3.0, 4.0), (0.0, -0.0), (inf, nan), (nan, -inf),
              (nan, 1.0), (1e308, 1e308), (1.7e308, 1.7e308), (5e-324, 5e-324),
              (1e-310, 3e-310), (2.0**-1022, 2.0**-1023), (1.0, 1e-17), (1e200, 1e-200),
              (3.0, 4.0, 12.0), (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0)]:
        C("hypot", *v)
    for _ in range(150):
        k = rng.choice([2, 2, 2, 3, 4])
        kind = rng.random()
        if kind < 0.3:
            v = [rng.uniform(-10, 10) for _ in range(k)]
        elif kind < 0.5:
            v = [float(rng.randint(-1000, 1000)) for _ in range(k)]
        elif kind < 0.7:
            v = [math.ldexp(rng.random(), rng.randint(-1074, -1015)) for _ in range(k)]
        else:
            v = [math.ldexp(rng.random() - 0.5, rng.randint(-600, 600)) for _ in range(k)]
        C("hypot", *v)

    for x in FVALS:
        for y in FVALS:
            for op in ("atan2", "copysign", "fmod", "remainder", "math_pow",
                       "float_divmod_quot", "float_divmod_rem"):
                C(op, x, y)
    for x, y in [(7.5, 2.0), (-7.5, 2.0), (7.5, -2.0), (1.0, 0.1), (5.0, 2.0), (6.0, 4.0),
                 (-6.0, 4.0), (1e300, 3.0), (2.0, 1024.0), (-8.0, 1 / 3), (10.0, -400.0),
                 (0.0, -1.0), (-0.0, -3.0), (2.0, 0.5)]:
        for op in ("atan2", "fmod", "remainder", "math_pow", "float_divmod_quot",
                   "float_divmod_rem"):
            C(op, x, y)

    for x in FVALS + [1.5, 2.0**52 + 0.5, 1e-320]:
        for i in [0, 1, -1, 1023, 1024, -1074, -1075, 2000, -2000, 2**40, -(2**40), 10**30,
                  -(10**30)]:
            C("ldexp", x, i)
    unary = FVALS + [1.5, -0.75, 2.0**52 + 0.5, 1e-320, 123.456, -1e-5, 4.0, -3.0, 1e22]
    for x in unary:
        for op in ("frexp_mantissa", "frexp_exponent", "modf_frac", "modf_int", "degrees",
                   "radians", "is_integer", "cbrt"):
            C(op, x)
    gam = unary + [-0.5, -1.5, -2.5, 0.25, 1e-21, -1e-21, 1e-300, 5.0, 10.5, 23.0, 24.0,
                   140.5, 150.2, 171.6, 171.7, 200.0, 200.5, -170.5, -199.5, -200.5, -1e10 - 0.5,
                   -180.25, 1e300]
    gam += [rng.uniform(-180, 180) for _ in range(60)]
    gam += [rng.uniform(0, 5) for _ in range(30)]
    for x in gam:
        C("gamma", x)
        C("lgamma", x)
    for x in [rng.uniform(-1e6, 1e6) for _ in range(20)] + [27.0, -27.0, 1e-300, 3.0]:
        C("cbrt", x)

    for a, b, r, t in [(1.0, 1.0 + 1e-10, 1e-9, 0.0), (1.0, 1.0 + 1e-8, 1e-9, 0.0),
                       (0.0, 1e-10, 1e-9, 0.0), (0.0, 1e-10, 1e-9, 1e-9), (inf, inf, 1e-9, 0.0),
                       (inf, -inf, 1e-9, 0.0), (inf, 1e308, 1.0, 0.0), (nan, nan, 1e-9, 0.0),
                       (1.0, 2.0, -1.0, 0.0), (1.0, 2.0, 0.0, -1.0), (1.0, 1.0, -1.0, 0.0),
                       (1.0, 2.0, 0.5, 0.0), (1.0, 2.0, 0.49, 0.0), (-1.0, -1.1, 0.1, 0.0),
                       (1e308, -1e308, 1.0, 0.0), (100.0, 101.0, 0.0, 1.0),
                       (100.0, 101.0, 0.0, 0.99)]:
        C("isclose", a, b, r, t)

    for x in [0.5, 1.5, 2.5, -2.5, 2.675, 0.125, 0.375, 1e300, 1.7976931348623157e308,
              5e-324, 1e-320, 123.456, -0.4, 0.0, -0.0, inf, nan, 1e22, 12345.6789, -0.05,
              1.005, 2.0**52 + 0.5, 9.5, 10.5]:
        for n in [0, 1, 2, 3, -1, -2, 15, 300, 323, 324, -308, -309, 10**20, -(10**20)]:
            C("float_round", x, n)
    for _ in range(40):
        C("float_round", rng.uniform(-1000, 1000), rng.randint(-3, 6))
    return out


def encode_arg(v):
    if isinstance(v, float):
        return F(v)
    return str(v)


def to_json(cs):
    return [[op, [["f", a.hex()] if isinstance(a, float) else ["i", str(a)] for a in args]]
            for op, args in cs]


def from_json(data):
    return [(op, [float.fromhex(v) if k == "f" else int(v) for k, v in args]) for op, args in data]


def child(path):
    messages = load_messages()
    cs = from_json(json.loads(pathlib.Path(path).read_text()))
    results = [evaluate(op, args, messages) for op, args in cs]
    print(json.dumps({"version": "%d.%d" % sys.version_info[:2], "results": results}))


def interpreters():
    """One python3.x executable per minor version >= 3.9 found here."""
    found = {}
    names = ["python3.%d" % m for m in range(9, 20)]
    for name in names:
        for d in os.environ.get("PATH", "").split(os.pathsep):
            p = os.path.join(d, name)
            if os.access(p, os.X_OK) and "shims" not in p:
                found.setdefault(name, p)
    for p in sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python3"))):
        m = re.search(r"/3\.(\d+)\.", p)
        if m and int(m.group(1)) >= 9:
            found.setdefault("python3.%s" % m.group(1), p)
    found.setdefault("python3.%d" % sys.version_info[1], sys.executable)
    return sorted(found.values(), key=lambda p: version_of(p))


def version_of(exe):
    out = subprocess.run([exe, "-c", "import sys; print(sys.version_info[1])"],
                         capture_output=True, text=True, check=True)
    return int(out.stdout)


def build():
    cs = cases()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(to_json(cs), f)
        path = f.name
    per_version = []
    try:
        for exe in interpreters():
            out = subprocess.run([exe, __file__, "--eval", path], capture_output=True,
                                 text=True, check=True)
            per_version.append(json.loads(out.stdout))
    finally:
        os.unlink(path)
    versions = [r["version"] for r in per_version]
    lines = [
        "# The builtin table's operations against CPython (scripts/gen_builtin_cases.py).",
        "# Generated; regenerate with `python3 scripts/gen_builtin_cases.py`. Do not edit.",
        "# versions: " + " ".join(versions),
    ]
    seen = set()
    for i, (op, args) in enumerate(cs):
        results = [r["results"][i] for r in per_version]
        head = " ".join([op] + [encode_arg(a) for a in args])
        if head in seen:
            continue
        seen.add(head)
        if len(set(results)) == 1:
            tail = results[0]
        else:
            tail = " ".join("@%s %s" % (v, r) for v, r in zip(versions, results))
        lines.append("%s ||| %s" % (head, tail))
    return "\n".join(lines) + "\n", len(seen), versions


def main():
    if sys.argv[1:2] == ["--eval"]:
        child(sys.argv[2])
        return
    text, n, versions = build()
    if "--check" in sys.argv[1:]:
        if OUT.read_text() != text:
            raise SystemExit("%s is out of date (or other interpreters are installed here): "
                             "run python3 scripts/gen_builtin_cases.py" % OUT)
        return
    OUT.write_text(text)
    print("wrote %d cases for Python %s to %s" % (n, ", ".join(versions), OUT.relative_to(ROOT)))


if __name__ == "__main__":
    main()
