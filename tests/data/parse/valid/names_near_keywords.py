notx + lambda_ + orange + iff + True_ + None1 + _ + isinstance + format + asx + assert_ + asyncx + import_ + match + case + type
