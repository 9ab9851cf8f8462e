"""The synthetic-vs-real benchmark: its config, its arms (generate, train, evaluate, diagnose),
the bootstrap statistics and the report."""
