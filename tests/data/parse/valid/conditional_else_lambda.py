a if b else lambda: c if d else e
