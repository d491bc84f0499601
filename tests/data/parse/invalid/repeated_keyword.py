range(10).min(key=abs, key=abs)
