# Sum of the multiples of 3 below 1000 that are not multiples of 7.
(
    range(0, 1_000)  # the source
    .map(lambda x: x * 3)

    .filter(lambda x: x % 7 != 0)  # drop multiples of 7
    .sum()
)
