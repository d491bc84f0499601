range(10).
