x % 3 == 0 and x * 2 < 10 or x | 1 == 5
