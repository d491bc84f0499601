range(0123)
