#!/usr/bin/env python3
"""Generate tests/data/statement_table.txt: programs (Python `def`s, then a pipeline) and the
values CPython computes for them.

    python3 scripts/gen_statement_table.py           # rewrite the table
    python3 scripts/gen_statement_table.py --check   # fail if it is out of date

Each case is a program in fastiter's language: top-level `def`s followed by one pipeline
expression. The script runs the `def`s with CPython (`exec`) and evaluates the pipeline with
the `Pipeline` class of scripts/gen_cpython_table.py, so every statement, operator and builtin
is CPython's own. tests/statements.rs reads the table and checks the JIT (1 and 2 threads) and
the interpreter against it.

Row format: a line `### NAME ||| PARAMS ||| MODES`, the program's lines, then `>>> EXPECTED`
(the repr of CPython's result or `raises ExceptionType`). MODES is `all`, or `jit` for cases
too long for the bigint interpreter in a debug build.
"""

import importlib.util
import math
import pathlib
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parent.parent
TABLE = ROOT / "tests" / "data" / "statement_table.txt"

_spec = importlib.util.spec_from_file_location("gen_cpython_table", ROOT / "scripts" / "gen_cpython_table.py")
core = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(core)

EXPENSIVE = """
def expensive_computation(x):
    result = x
    for _ in range(20):
        result = (result * 1.1 + 1) % 1000000
    return int(result)
"""

CASES = []


def C(name, program, params=None, modes="all"):
    CASES.append((name, textwrap.dedent(program).strip("\n"), params or {}, modes))


# ---- the example ----
C("expensive_200k", EXPENSIVE + "\nrange(0, 200000).map(expensive_computation).sum()", modes="jit")
C("expensive_2m", EXPENSIVE + "\nrange(0, 2000000).map(expensive_computation).sum()", modes="jit")
C("expensive_small", EXPENSIVE + "\nrange(0, 3000).map(expensive_computation).sum()")
C("expensive_lambda", EXPENSIVE + "\nrange(0, 3000).map(lambda x: expensive_computation(x) + 1).sum()")

# ---- types that differ by path: tagged numbers ----
C("tagged_loop_zero_or_more", """
def f(x):
    r = x
    for i in range(x):
        r = r * 0.5
    return r
range(0, 12).map(f).collect()
""")
C("tagged_if_local", """
def f(x):
    if x > 1:
        y = 1
    else:
        y = 0.5
    return y
range(-2, 4).map(f).collect()
""")
C("tagged_while", """
def f(x):
    r = x
    while r > 10:
        r = r / 3
    return r
range(0, 40, 3).map(f).collect()
""")
C("tagged_continue_first", """
def f(x):
    r = x
    for i in range(6):
        if i == 0:
            continue
        r = r * 1.5
    return r
range(-3, 3).map(f).collect()
""")
C("tagged_returns", """
def sign(v):
    if v > 0:
        return 1.0
    elif v < 0:
        return -1
    return 0
range(-3, 4).map(sign).collect()
""")
C("tagged_returns_sum", """
def f(x):
    if x % 3 == 0:
        return x // 3
    return x / 3
range(0, 3000).map(f).sum()
""")
C("tagged_returns_int_sum", """
def f(x):
    if x > 100:
        return 0.5
    return x
range(0, 50).map(f).sum()
""")
C("tagged_accumulator", """
def f(n):
    acc = 0
    for i in range(n):
        acc += (-1) ** i / (2 * i + 1)
    return acc
range(0, 30).map(f).collect()
""")
C("tagged_relu_then_int", """
def relu(v):
    return v if v > 0 else 0
range(-5, 5).map(lambda x: int(relu(x * 0.75)) + relu(x)).collect()
""")
C("tagged_error_in_arm", """
def f(x):
    y = x if x % 2 else x * 0.5
    return 1 // y
range(-3, 3).map(f).collect()
""")

# ---- generator expressions and comprehensions inside stages ----
C("genexpr_primes", """
def is_prime(k):
    return k > 1 and all(k % d for d in range(2, k))
range(0, 120).filter(is_prime).collect()
""")
C("genexpr_sum_if", """
range(0, 40).map(lambda i: sum(j * j for j in range(i) if j % 3 == 0)).collect()
""")
C("genexpr_nested_for", """
range(0, 12).map(lambda i: sum(a * b for a in range(i) for b in range(a) if (a + b) % 2)).collect()
""")
C("genexpr_not_any_tuple", """
range(2, 60).filter(lambda k: not any(k % d == 0 for d in (2, 3, 5, 7))).collect()
""")
C("genexpr_max_default", """
range(0, 10).map(lambda i: max((j * (i - j) for j in range(i)), default=-1)).collect()
""")
C("genexpr_min_floats", """
range(1, 10).map(lambda i: min(j / i for j in range(-i, i))).collect()
""")
C("genexpr_max_empty_raises", """
range(0, 5).map(lambda i: max(j for j in range(i))).collect()
""")
C("genexpr_min_empty_later_raises", """
range(3, -1, -1).map(lambda i: min(j for j in range(i))).collect()
""")
C("genexpr_any_stops_before_error", """
range(0, 6).map(lambda i: any(10 // (j - 3) for j in range(i, 10))).collect()
""")
C("genexpr_all_error_first", """
range(0, 6).map(lambda i: all(10 // (j - 3) for j in range(i, 10))).collect()
""")
C("sum_range_and_display", """
range(-3, 8).map(lambda i: sum(range(i)) + sum([i, 2 * i, 3]) - min([i, 2.5, 3]) + max((i, -i))).collect()
""")
C("listcomp_in_def", """
def score(n):
    total = sum([k * k for k in range(n) if k % 2])
    best = max(k % 7 for k in range(n + 1))
    return total - best
range(0, 30).map(score).collect()
""")
C("genexpr_mixed_types", """
range(0, 8).map(lambda i: max(j if j % 2 else j * 0.5 for j in range(i + 1))).collect()
""")
C("genexpr_overflow_exact", """
range(0, 6).map(lambda i: sum(j ** 20 for j in range(i * 3))).collect()
""")
C("walrus_in_lambda", """
range(-5, 6).map(lambda x: (y := x * x - 3) * y + y).collect()
""")

# ---- assignment, types changing by assignment ----
C("assign_int_to_float", """
def f(x):
    y = x
    y = y / 4
    return y
range(0, 50).map(f).sum()
""")
C("assign_chain", """
def f(x):
    a = b = x * 3
    return a - b + a
range(-20, 20).map(f).collect()
""")
C("tuple_swap_fib", """
def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a
range(0, 120).map(fib).collect()
""")
C("annotated_and_semicolons", """
def f(x: int) -> float:
    y: float = x * 0.5; z = y + 1
    return z
range(0, 10).map(f).collect()
""")
C("docstring_and_pass", '''
def f(x):
    """A docstring."""
    pass
    if x > 3:
        pass
    return x
range(0, 10).map(f).sum()
''')
C("bool_variable", """
def f(x):
    big = x > 5
    if big:
        return x * 2
    return x + big
range(0, 12).map(f).collect()
""")

# ---- augmented assignment ----
for op, rhs in [("+=", "3"), ("-=", "7"), ("*=", "-3"), ("/=", "4"), ("//=", "3"), ("%=", "7"),
                ("**=", "3"), ("<<=", "2"), (">>=", "1"), ("&=", "6"), ("|=", "9"), ("^=", "5"),
                ("+=", "0.25"), ("//=", "-2.5"), ("%=", "-3.5")]:
    C(f"aug {op} {rhs}", f"""
def f(x):
    y = x - 10
    y {op} {rhs}
    return y
range(0, 25).map(f).collect()
""")
C("aug_float_var", """
def f(x):
    s = 0.5
    s *= x
    s -= 1
    s /= 3
    s **= 2
    return s
range(0, 10).map(f).collect()
""")

# ---- if / elif / else, several returns ----
C("if_elif_else", """
def classify(x):
    if x % 15 == 0:
        return 15
    elif x % 5 == 0:
        return 5
    elif x % 3 == 0:
        return 3
    else:
        return 0
range(0, 100).map(classify).sum()
""")
C("if_inline_bodies", """
def f(x):
    if x < 3: return -1
    elif x < 6: y = x * 2
    else: y = x * 3
    return y
range(0, 10).map(f).collect()
""")
C("if_same_type_both_branches", """
def f(x):
    if x % 2:
        y = 1.5
    else:
        y = x / 2
    return y * 2
range(0, 10).map(f).collect()
""")
C("nested_if_and_or", """
def f(x):
    if x > 2 and x < 8 or x == 11:
        if not x % 2:
            return x
        return -x
    return 0
range(0, 15).map(f).collect()
""")

# ---- for loops ----
C("for_data_dependent", """
def tri(n):
    t = 0
    for i in range(n):
        t += i
    return t
range(0, 200).map(tri).sum()
""")
C("for_start_stop_step", """
def f(x):
    t = 0
    for i in range(x, -x - 1, -3):
        t = t * 2 + i
    return t
range(0, 30).map(f).collect()
""")
C("for_nested", """
def f(n):
    c = 0
    for i in range(n):
        for j in range(i, n):
            if (i + j) % 3 == 0:
                c += 1
    return c
range(0, 40).map(f).collect()
""")
C("for_break_continue", """
def f(n):
    s = 0
    for i in range(100):
        if i % 3 == 0:
            continue
        if i > n:
            break
        s += i
    return s
range(0, 60).map(f).collect()
""")
C("for_var_after_loop", """
def f(x):
    for i in range(3, 10):
        pass
    return i + x
range(0, 5).map(f).collect()
""")
C("for_peeled_continue", """
def f(x):
    r = x
    for i in range(6):
        r = r * 1.5
        if i % 2 == 0:
            continue
        r = r + 1
    return r
range(0, 8).map(f).collect()
""")
C("for_peeled_break", """
def f(x):
    r = x
    for i in range(10):
        r = r / 2 + 1
        if r < 3:
            break
    return r
range(0, 40).map(f).collect()
""")
C("for_float_accumulate", """
def f(x):
    s = 0.0
    for i in range(x % 7):
        s += i * 0.1
    return s
range(0, 30).map(f).sum()
""")
C("for_param_bound", """
def f(x):
    t = 0
    for i in range(K):
        t += x * i
    return t
range(0, 100).map(f).sum()
""", {"K": "13"})
C("for_step_zero_raises", """
def f(x):
    t = 0
    for i in range(0, 10, S):
        t += i
    return t
range(0, 10).map(f).sum()
""", {"S": "0"})
C("for_huge_bounds", """
def f(x):
    t = 0
    for i in range(2**63 - 3, 2**63 + 2):
        t += i - 2**63 + x
    return t
range(0, 5).map(f).collect()
""")
C("for_near_i64_max", """
def f(x):
    t = 0
    for i in range(9223372036854775800, 9223372036854775807, 3):
        t += i % 100
    return t + x
range(0, 3).map(f).collect()
""")

# ---- while ----
C("while_collatz", """
def steps(n):
    c = 0
    while n > 1:
        if n % 2 == 0:
            n = n // 2
        else:
            n = 3 * n + 1
        c += 1
    return c
range(1, 3000).map(steps).sum()
""")
C("while_true_break", """
def f(x):
    i = 0
    while True:
        i += 1
        if i * i > x:
            break
    return i
range(0, 100).map(f).collect()
""")
C("while_return_inside", """
def first_div(x):
    d = 2
    while d * d <= x:
        if x % d == 0:
            return d
        d += 1
    return x
range(2, 500).map(first_div).sum()
""")
C("while_continue", """
def f(x):
    i = 0
    s = 0
    while i < x:
        i += 1
        if i % 4 == 0:
            continue
        s += i
    return s
range(0, 50).map(f).collect()
""")
C("while_peeled_float", """
def f(x):
    r = float(x)
    n = 0
    while r > 1:
        r = r / 3
        n += 1
    return n + r
range(0, 30).map(f).collect()
""")

# ---- calls ----
C("def_calls_def", """
def sq(x):
    return x * x
def f(x):
    return sq(x) + sq(x + 1)
range(0, 100).map(f).sum()
""")
C("def_calls_later_def", """
def f(x):
    return g(x) * 2
def g(y):
    return y + 1
range(0, 10).map(f).collect()
""")
C("filter_with_def", """
def is_prime(n):
    if n < 2:
        return False
    d = 2
    while d * d <= n:
        if n % d == 0:
            return False
        d += 1
    return True
range(0, 2000).filter(is_prime).count()
""")
C("reduce_with_def", """
def op(a, b):
    return a * 3 + b
range(0, 10).reduce(0, op)
""")
C("any_with_def", """
def big(x):
    return x * x > 500
range(0, 100).any(big)
""")
C("map_then_filter_lambda_calls", """
def half(x):
    return x / 2
range(0, 100).map(lambda v: half(v) + 1).filter(lambda v: half(v) > 10).sum()
""")
C("call_in_loop", """
def step(r):
    return (r * 1.1 + 1) % 1000
def f(x):
    r = x
    for _ in range(5):
        r = step(r)
    return int(r)
range(0, 1000).map(f).sum()
""")
C("math_in_def", """
def f(x):
    s = 0.0
    for i in range(1, x + 1):
        s += math.sqrt(i)
    return math.floor(s)
range(0, 50).map(f).collect()
""")
C("param_in_def", """
def f(x):
    return x * K + 1
range(0, 10).map(f).collect()
""", {"K": "2.5"})

# ---- exceptions and exactness ----
C("zero_division_in_def", """
def f(x):
    return 100 // (x - 7)
range(0, 10).map(f).sum()
""")
C("expression_statement_raises", """
def f(x):
    1 / (x - 3)
    return x
range(0, 10).map(f).sum()
""")
C("int_of_inf_raises", """
def f(x):
    r = 1.0
    for _ in range(x):
        r = r * 1e100
    return int(r)
range(0, 5).map(f).sum()
""")
C("bigint_in_loop", """
def f(x):
    p = 1
    for i in range(x % 40):
        p *= 1000
    return p
range(0, 100).map(f).sum()
""")
C("bigint_intermediate_back_to_small", """
def f(x):
    p = x + 1
    for i in range(30):
        p = p * p % 1000003
    q = x * 10**20
    return q // 10**19 + p
range(0, 50).map(f).sum()
""")
C("float_mod_semantics", """
def f(x):
    r = x - 20.5
    for _ in range(3):
        r = r % -7.25
    return r
range(0, 40).map(f).collect()
""")


# ---- default arguments and keyword arguments ----
C("default_args", """
def f(x, k=3, s=-1.5):
    return x * k + s
range(0, 30).map(lambda x: f(x) + f(x, 2) + f(x, s=1) + f(k=1, x=x)).sum()
""")
C("default_from_param", """
def f(x, k=K, flag=True):
    if flag:
        return x * k
    return x
range(-20, 20).map(lambda x: f(x) - f(x, flag=False)).sum()
""", {"K": "7"})
C("default_stage_function", """
def f(x, k=2):
    return x // k
range(-20, 20).map(f).collect()
""")
C("keyword_error_raises", """
def f(x, k=2):
    return x // k
range(0, 3).map(lambda x: f(x, k=0)).sum()
""")


# ---- tuple elements (enumerate, zip) unpacked in a def ----
C("unpack_enumerate", """
def f(t):
    i, x = t
    return i * x
range(0, 1000).map(lambda v: v * 3 - 7).enumerate().map(f).sum()
""")
C("unpack_zip_with_default", """
def f(item, k=2):
    a, b = item
    if a % k == 0:
        return b
    return -b
range(0, 5000).zip(range(100, 10**6, 3)).map(f).sum()
""")
C("tuple_subscript_in_def_filter", """
def keep(t):
    return t[0] % 3 == 0 and t[-1] > 2
range(0, 100).enumerate().filter(keep).count()
""")
C("unpack_then_loop", """
def f(t):
    i, x = t
    acc = 0
    for j in range(i % 7):
        acc += x * j
    return acc
range(-50, 50).enumerate().map(f).sum()
""")


def run(program, params):
    lines = program.split("\n")
    if not lines[0].startswith("def "):
        split = 0  # a pipeline alone
    else:
        split = next(i for i, l in enumerate(lines) if l and not l[0].isspace() and not l.startswith("def ") and i > 0
                     and not lines[i - 1].rstrip().endswith((",", "(")))
    defs = "\n".join(lines[:split])
    pipeline = "\n".join(lines[split:])
    env = {"Pipeline": core.Pipeline, "math": math}
    env.update({k: core.param_value(v) for k, v in params.items()})
    exec(defs, env)
    names = {l.split("(")[0][4:] for l in lines if l.startswith("def ")}
    saved = set(core.CALLABLE_NAMES)
    core.CALLABLE_NAMES |= names
    try:
        code = core.to_python(pipeline)
        return repr(eval(code, env))
    except (ArithmeticError, ValueError, TypeError) as e:
        return f"raises {type(e).__name__}"
    finally:
        core.CALLABLE_NAMES.clear()
        core.CALLABLE_NAMES |= saved


# ---- the batched loop: jammed loops, per-lane loops, errors in element order ----
C("batched_loop_bound_per_lane", """
def f(x):
    s = 0
    for i in range(x % 7):
        s += i * x
    return s
range(0, 1000).map(f).sum()
""")
C("batched_loop_break", """
def f(x):
    r = 0
    for i in range(20):
        if i * x > 50:
            break
        r += i
    return r
range(0, 1000).map(f).collect()
""")
C("batched_loop_errors_in_element_order", """
def f(x):
    r = 0
    for k in range(3):
        if x == 5 and k == 0:
            r = 1 // (x - 5)
        if x == 4 and k == 2:
            r = int(1e308 * 10.0)
        r += k
    return r
range(0, 100).map(f).sum()
""")
C("batched_loop_param_bound", """
def f(x):
    r = x * 0.5
    for _ in range(n):
        r = (r * 1.7 - 3) % 1000.0
    return r
range(-2000, 2000).map(f).sum()
""", params={"n": "13"})
C("batched_while_per_lane", """
def collatz(x):
    n = 0
    while x > 1:
        x = x // 2 if x % 2 == 0 else 3 * x + 1
        n += 1
    return n
range(1, 3000).map(collatz).max()
""")
C("batched_fmod_negative_and_tiny", """
def f(x):
    r = x * 0.37 - 100
    for _ in range(7):
        r = (r * 1.1 + 1) % 0.3
    return r
range(0, 999).map(f).sum()
""")

def build():
    out = [
        "# Programs and the values CPython computes for them (see scripts/gen_statement_table.py).",
        "# Generated; regenerate with `python3 scripts/gen_statement_table.py`. Do not edit by hand.",
    ]
    seen = set()
    for name, program, params, modes in CASES:
        if name in seen:
            raise SystemExit(f"duplicate case name {name}")
        seen.add(name)
        ps = ", ".join(f"{k}={v}" for k, v in params.items())
        out.append(f"### {name} ||| {ps} ||| {modes}")
        out.extend(program.split("\n"))
        out.append(f">>> {run(program, params)}")
    return "\n".join(out) + "\n"


def main():
    text = build()
    if "--check" in sys.argv[1:]:
        if TABLE.read_text() != text:
            raise SystemExit(f"{TABLE} is out of date: run python3 scripts/gen_statement_table.py")
        return
    TABLE.write_text(text)
    print(f"wrote {len(CASES)} cases to {TABLE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
