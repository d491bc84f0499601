math.pi * math.floor(x.real) + True.real
