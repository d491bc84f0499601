range(10).map(lambda x: (lambda y: y + x)(x)).max(key=lambda v: -v, default=None)
