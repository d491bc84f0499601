(a + b) * (c - d) ** (e or f)
