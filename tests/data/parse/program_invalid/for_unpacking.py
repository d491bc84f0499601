def f(x):
    for a, b in range(3):
        pass
    return x
range(3).map(f).sum()
