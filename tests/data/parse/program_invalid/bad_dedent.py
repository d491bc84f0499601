def f(x):
    if x:
        return 1
      return 2
range(3).map(f).sum()
