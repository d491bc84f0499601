range(4).map(lambda i: sum(j for j in range(i)) + sum(j for j in range(i), 1)).sum()
