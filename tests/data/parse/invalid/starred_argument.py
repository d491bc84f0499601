range(*bounds).sum()
