range(1, 21).reduce(lambda a, b: a * b // math.gcd(a, b), 1)
