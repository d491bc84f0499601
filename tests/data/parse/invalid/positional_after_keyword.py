range(10).min(key=abs, 0)
