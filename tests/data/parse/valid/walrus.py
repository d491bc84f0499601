range(10).map(lambda x: (y := x * 2))
