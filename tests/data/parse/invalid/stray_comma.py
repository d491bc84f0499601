range(10).map(, lambda x: x)
