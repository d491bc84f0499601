range(10).filter(lambda x: x in y)
