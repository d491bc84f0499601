total = range(10).sum()
