range(1abc)
