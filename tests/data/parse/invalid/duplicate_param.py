range(10).reduce(lambda x, x: x)
