range(10).map(lambda x: f"{x}")
