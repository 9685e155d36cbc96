"""The promise suite: every cross-cutting promise, for every operation of every kind."""
