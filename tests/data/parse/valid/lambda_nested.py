lambda x: lambda y: lambda: x + y
