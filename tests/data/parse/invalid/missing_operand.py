range(10).map(x *).sum()
