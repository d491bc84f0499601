def f(*args):
    return 1
range(3).map(f).sum()
