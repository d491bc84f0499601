range(1, 1001).map(lambda x: math.sqrt(x)).filter(lambda r: r == math.floor(r)).count()
