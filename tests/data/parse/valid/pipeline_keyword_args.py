range(-5, 5).min(key=lambda x: -x)
