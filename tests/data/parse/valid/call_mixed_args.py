f(a, b + 1, key=lambda x: -x, default=None)
