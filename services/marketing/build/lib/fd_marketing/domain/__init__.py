"""The marketing rules, pure: no I/O, no clock of their own (time is an argument)."""
