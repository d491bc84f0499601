not x == y and x < y
