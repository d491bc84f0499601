(True, False, None)
