par_range(0, 10 ** 8).filter(lambda x: x % 2 == 0).map(lambda x: x * x).sum()
