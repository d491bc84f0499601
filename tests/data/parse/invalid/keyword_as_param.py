range(10).map(lambda class: class)
