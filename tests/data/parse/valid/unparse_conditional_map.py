range(-50, 50).map(lambda x: (x if x >= 0 else -x) ** 2).filter(lambda x: not x % 3).sum()
