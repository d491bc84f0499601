range(4).map(lambda i: sum(a for a, b in range(i))).sum()
