"""The synthetic-vs-real benchmark: its config, its arms (generate, train, evaluate, diagnose),
the bootstrap statistics and the report."""

from .run import run_benchmark

__all__ = ["run_benchmark"]
