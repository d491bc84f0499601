sum(map(lambda x: x, range(min(a, b), max(a, b))))
