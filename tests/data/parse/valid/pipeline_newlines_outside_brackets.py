# Not Python (a statement ends at a newline), accepted for pipeline files.
range(10)
  .map(lambda x: x + 1)
  .sum()
