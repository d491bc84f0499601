range(10).map(lambda x: (y := x * 2) + y).filter(lambda v: all(v % d for d in range(2, v) if d > 1 for e in (1, 2))).sum()
