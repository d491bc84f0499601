# Every statement form the compiler knows.
def f(x: int, y) -> float:
    """Docstring."""
    a = b = x
    c, d = y, x
    n: int = 3
    a += 1; b -= 2
    c *= 3
    d /= 4
    a //= 5
    b %= 6
    a **= 2
    b <<= 1
    b >>= 1
    b &= 7
    b |= 8
    b ^= 9
    if a > b:
        pass
    elif a < b: a = 0
    else:
        a = 1
    for i in range(0, 10, 2):
        if i == 4:
            continue
        a += i
    while True:
        break
    1 / (y + 1)
    return a + c

def g(
    v,
):
    return f(v, v) * 2


range(10).map(lambda x: g(x) + 1).filter(lambda v: v > 3).sum()
