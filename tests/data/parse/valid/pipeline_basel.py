range(1, 100001).map(lambda i: 1.0 / (i * i)).sum()
