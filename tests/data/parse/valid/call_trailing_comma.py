range(0, 10,).map(lambda x: x,).sum(start=0,)
