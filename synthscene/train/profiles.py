"""Training budgets by name (`synthscene train --profile cpu`), the ones the LM-O benchmark measured.

They live in the package so they work after `pip install`; tests/test_train_args.py checks they
still match the `cpu` and `gpu` profiles of configs/bench_lmo.yaml (epochs: their `epochs.synthetic`,
what the synthetic arm trained before the benchmark gave every arm an `images_seen` budget), except
the threads: the benchmark fixes one for reproducibility, a user's training takes the free cores.
"""
from __future__ import annotations

from typing import Any

from ..core.errors import BadInput

TRAIN_PROFILES: dict[str, dict[str, Any]] = {
    # 2 CPU cores, no GPU: YOLOv8n from its YAML at 256 px, batch 8, no warm-up, AdamW at 0.002 (docs/RESULTS.md).
    # Threads: the free cores (fit.choose_threads), not the benchmark's one fixed thread, which buys
    # run-to-run reproducibility on its 2-core machine at the cost of speed on a bigger one.
    "cpu": {"model": "yolov8n.yaml", "epochs": 20, "imgsz": 256, "batch": 8, "device": "cpu", "workers": 0,
            "optimizer": "AdamW", "lr0": 0.002, "warmup_epochs": 0, "cache": "ram"},
    # One GPU (16-24 GB): a small model at full resolution.
    "gpu": {"model": "yolov8s.yaml", "epochs": 60, "imgsz": 640, "batch": 32, "device": "0", "workers": 8,
            "cache": "ram", "amp": True},
}


def train_profile(name: str | None) -> dict[str, Any]:
    if name is None:
        return {}
    if name not in TRAIN_PROFILES:
        raise BadInput(f"no training profile {name!r}; choose one of {sorted(TRAIN_PROFILES)}", None, "--profile")
    return dict(TRAIN_PROFILES[name])
