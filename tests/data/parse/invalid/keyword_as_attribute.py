range(10).if()
