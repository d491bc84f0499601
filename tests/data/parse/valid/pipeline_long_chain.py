range(0, n).map(lambda x: x * 2).filter(lambda x: x % 3 != 0).map(lambda x: x ** 2 - 1).filter(lambda x: x & 1 == 1).map(lambda x: x // 7).max(default=0)
