(a or b) or c or (d and e and f)
