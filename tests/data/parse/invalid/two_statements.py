range(10).sum()
range(5).sum()
