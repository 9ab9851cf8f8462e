"""Ultralytics wrappers: train a detector, evaluate it on a real gold set (the benchmark that runs
both is synthscene.benchmark)."""
from __future__ import annotations

from .evaluate import evaluate
from .fit import train


__all__ = ["train", "evaluate"]
