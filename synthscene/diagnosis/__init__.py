"""Where a detector fails on real photos, and whether the synthetic data covers those cases.

stats: image/box statistics and slices (shared with `inspect`); tide: TIDE error classification;
core: the pure diagnosis; run: predictions, files and the `synthscene diagnose` command's API;
refine: a supplement config from a diagnosis (`synthscene refine`).
"""
from .core import diagnose_sets
from .refine import refine
from .run import diagnose

__all__ = ["diagnose", "diagnose_sets", "refine"]
