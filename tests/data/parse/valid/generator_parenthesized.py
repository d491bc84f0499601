range(4).map(lambda i: max((j * i for j in range(i)), default=0)).sum()
