def f(x):
	t = (x +
1)
	if t > \
	   2:
		return [1,
2][0] and t
	return 0
range(3).map(f).collect()
