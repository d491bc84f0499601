range(0,
  10 +).sum()
