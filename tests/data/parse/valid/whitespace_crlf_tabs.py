
	range(0,	10
	).sum()  # tabs and CRLF
