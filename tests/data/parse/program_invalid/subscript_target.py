def f(x):
    x[0] = 1
    return x
range(3).map(f).sum()
