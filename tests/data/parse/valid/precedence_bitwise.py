a | b ^ c & d << 2 >> 1 | e
