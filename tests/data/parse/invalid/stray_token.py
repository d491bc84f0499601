range(10) range(5)
