# nothing to see here
