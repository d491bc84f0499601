range(10).map(lambda x: x if x > 0)
