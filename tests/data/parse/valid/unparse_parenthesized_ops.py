range(1, 10).map(lambda i: -i ** 2 + (-i) ** 2 + (i if i else 1) * ~(i | 1)).sum()
