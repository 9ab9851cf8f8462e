"""Ultralytics wrappers: train, evaluate on a real gold set, and the synthetic-vs-real benchmark."""
from __future__ import annotations

from .evaluate import evaluate
from .fit import train


def run_benchmark(config, **kwargs):
    """Run every arm of a benchmark config; see synthscene.benchmark.run.run_benchmark."""
    from ..benchmark.run import run_benchmark as _run

    return _run(config, **kwargs)


__all__ = ["train", "evaluate", "run_benchmark"]
