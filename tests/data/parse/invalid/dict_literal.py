range(10).map(lambda x: {x: 1})
