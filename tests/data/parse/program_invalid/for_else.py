def f(x):
    for i in range(3):
        pass
    else:
        pass
    return x
range(3).map(f).sum()
