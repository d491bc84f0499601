range(10).sum() +
