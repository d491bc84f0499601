"""Exception messages are the running CPython's own, per function, argument and version.

From CPython 3.14 a `math` domain error names what the function expected and the argument
("expected a positive input, got -5.0"; an int argument is not shown), so a message learnt once
per error kind would be wrong for every other function and value. Each case here raises inside a
compiled pipeline (in the kernel, and late in a long range so that the error is found in a later
chunk) and is compared with CPython evaluating the same lambda.
"""

from __future__ import annotations

import math

import fastiter
import pytest
from fastiter import par_range

# Each stage raises for some x in range(0, 10) (first at x = 0 unless said otherwise).
CASES = {
    "sqrt int": lambda x: math.sqrt(x - 5),
    "sqrt float": lambda x: math.sqrt(x * 0.5 - 2.25),
    "sqrt -inf": lambda x: math.sqrt(-math.inf + x),
    "log int": lambda x: math.log(x - 5),
    "log float": lambda x: math.log(x - 5.0),
    "log zero": lambda x: math.log(x * 0.0),
    "log base float": lambda x: math.log(x + 1.0, x - 5.5),
    "log base int": lambda x: math.log(x + 1.0, x - 5),
    "log base one": lambda x: math.log(x + 2.0, x * 0 + 1.0),
    "log2": lambda x: math.log2(x - 7.5),
    "log2 int": lambda x: math.log2(x - 7),
    "log10": lambda x: math.log10(x * 1.0 - 3.0),
    "log1p": lambda x: math.log1p(x - 4.0),
    "acos": lambda x: math.acos(x * 0.5 - 2.0),
    "asin": lambda x: math.asin(x * 0.25 + 1.5),
    "atanh": lambda x: math.atanh(x * 0.5 - 1.0),
    "acosh": lambda x: math.acosh(x * 0.1),
    "sin inf": lambda x: math.sin(math.inf * (x + 1)),
    "cos inf": lambda x: math.cos(-math.inf * (x + 1)),
    "tan inf": lambda x: math.tan(math.inf * (x + 1)),
    "gamma": lambda x: math.gamma(x * 1.0 - 3.0),
    "lgamma": lambda x: math.lgamma(-x * 1.0),
    "exp overflow": lambda x: math.exp(x * 200.0),
    "pow": lambda x: math.pow(x - 5.0, 0.5),
    "fmod": lambda x: math.fmod(math.inf, x + 1.0),
    "int floordiv": lambda x: 10 // (x - 2),
    "int mod": lambda x: 10 % (x - 2),
    "int truediv": lambda x: 10 / (x - 2),
    "float truediv": lambda x: 1.0 / (x - 2.0),
    "float mod": lambda x: 1.0 % (x - 2.0),
    "zero power": lambda x: (x * 0.0) ** -1,
    "isqrt": lambda x: math.isqrt(x - 5),
    "factorial": lambda x: math.factorial(x - 5),
    "comb": lambda x: math.comb(x - 5, 2),
}


def cpython_error(stage, data) -> BaseException:
    try:
        sum(map(stage, data))
    except Exception as e:  # noqa: BLE001 - any exception, compared by type and message
        return e
    raise AssertionError("the reference raised nothing")


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("n", [10, 300_000])
def test_message_is_cpythons(name, n):
    stage = CASES[name]
    want = cpython_error(stage, range(10))
    # In the long range only the last ten elements pass the filter: the error is found in a
    # later chunk, by the kernel, and the call that raised is found again from there.
    pipe = par_range(10 - n, 10).filter(lambda x: x >= 0).map(stage)
    assert "compiled: yes" in fastiter.explain(pipe), fastiter.explain(pipe)
    with pytest.raises(type(want)) as got:
        pipe.sum()
    assert str(got.value) == str(want)
