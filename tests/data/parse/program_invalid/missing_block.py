def f(x):
return x
range(3).map(f).sum()
