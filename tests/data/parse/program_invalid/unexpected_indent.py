def f(x):
    return x
        x = 1
range(3).map(f).sum()
