def f(x):
    try:
        return 1
    except:
        return 2
range(3).map(f).sum()
