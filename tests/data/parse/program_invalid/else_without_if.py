def f(x):
    else:
        return 1
range(3).map(f).sum()
