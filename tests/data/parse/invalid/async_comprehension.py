range(4).map(lambda i: sum(j async for j in range(i))).sum()
