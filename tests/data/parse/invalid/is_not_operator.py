range(10).filter(lambda x: x is not None)
