range(10).map(lambda x, k=2: x * k)
