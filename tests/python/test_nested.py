"""Nested pipelines inside stages (`par_range(0, i)...sum()` in a lambda or a def) compile to a
loop inside the parallel one, and give exactly what plain Python gives."""

from __future__ import annotations

import fastiter
import pytest
from fastiter import par_range
from hypothesis import given, settings
from hypothesis import strategies as st


def compiled(p: fastiter.ParallelIterator) -> bool:
    return "compiles" in repr(p)


def test_nested_sum_compiles_and_matches() -> None:
    p = par_range(0, 300).map(lambda i: par_range(0, i).sum())
    assert compiled(p)
    assert p.sum() == sum(sum(range(i)) for i in range(300))


def test_nested_with_stages_and_outer_variables() -> None:
    k = 3
    p = par_range(-50, 50).map(
        lambda i: par_range(0, abs(i)).filter(lambda j: j % k == 0).map(lambda j: j * i).sum()
    )
    assert compiled(p)
    want = [sum(j * i for j in range(abs(i)) if j % k == 0) for i in range(-50, 50)]
    assert p.collect() == want


def test_nested_any_all_count_product() -> None:
    primes = par_range(2, 2000).filter(
        lambda i: par_range(2, i).all(lambda d: d * d > i or i % d != 0)
    )
    assert compiled(primes)
    assert primes.count() == sum(
        1 for i in range(2, 2000) if all(d * d > i or i % d for d in range(2, i))
    )
    facts = par_range(1, 30).map(lambda n: par_range(1, n + 1).product())
    want = [1]
    for n in range(2, 30):
        want.append(want[-1] * n)
    assert facts.collect() == want
    counts = par_range(0, 100).map(lambda i: par_range(0, i, 3).count())
    assert counts.collect() == [len(range(0, i, 3)) for i in range(100)]


def test_nested_in_a_def() -> None:
    def inner(n):
        total = 0
        for j in range(3):
            total += par_range(0, n + j).map(lambda v: v * v).sum()
        return total

    p = par_range(0, 200).map(inner)
    assert compiled(p)
    assert p.sum() == sum(
        sum(sum(v * v for v in range(n + j)) for j in range(3)) for n in range(200)
    )


def test_nested_errors_are_pythons() -> None:
    p = par_range(0, 10).map(lambda i: par_range(0, i).map(lambda j: 10 // (j - 5)).sum())
    with pytest.raises(ZeroDivisionError):
        p.sum()
    q = par_range(0, 10).map(lambda i: par_range(0, i, 0).sum())
    with pytest.raises(ValueError):
        q.sum()


def test_builtin_range_methods_raise_as_python_does() -> None:
    # `range` objects have no `.sum()`: this must not compile into a value.
    p = par_range(0, 5).map(lambda i: range(i).sum())  # type: ignore[attr-defined]
    assert not compiled(p)
    with pytest.raises(AttributeError):
        p.collect()


def test_flat_map_over_ranges() -> None:
    p = par_range(0, 300).flat_map(lambda i: range(i, 2 * i, 3)).filter(lambda x: x % 2 == 0)
    want = [x for i in range(300) for x in range(i, 2 * i, 3) if x % 2 == 0]
    assert p.map(lambda x: x * x).sum() == sum(x * x for x in want)
    assert p.count() == len(want)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(-30, 30),
    st.integers(0, 60),
    st.integers(-5, 5).filter(lambda s: s != 0),
    st.integers(-3, 3),
)
def test_generated_nested_sums(lo: int, n: int, step: int, k: int) -> None:
    p = par_range(lo, lo + n).map(lambda i: par_range(k, i, step).map(lambda j: j * i - k).sum())
    assert p.collect() == [sum(j * i - k for j in range(k, i, step)) for i in range(lo, lo + n)]
