lambda: 42
