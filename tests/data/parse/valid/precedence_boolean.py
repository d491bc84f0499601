not a or b and not c or not not d
