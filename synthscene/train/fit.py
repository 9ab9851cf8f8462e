"""train(): Ultralytics YOLO on a synthscene dataset or any data.yaml, offline."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import BadInput
from ..labels.io import atomic_write
from .data import resolve_data_yaml
from .offline import patch_amp_check, set_threads, ultralytics

DEFAULT_MODEL = "yolov8n.yaml"


@dataclass
class TrainResult:
    out_dir: Path
    best: Path
    last: Path
    metrics: dict  # Ultralytics' validation metrics after the last epoch
    epochs: int
    seconds: float

    def to_dict(self) -> dict:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}


def resolve_model(model: str | Path) -> str:
    """A YAML (a file, or a name from Ultralytics' bundled cfg, e.g. yolov8n.yaml) or an existing weights file.

    Weights are only ever loaded from the path given: Ultralytics would otherwise download a
    missing `yolov8n.pt` from its hub.
    """
    m = str(model)
    p = Path(m).expanduser()
    if p.suffix in (".yaml", ".yml"):
        if p.is_file():
            return str(p.resolve())
        from ultralytics.nn.tasks import yaml_model_load  # knows yolov8n.yaml = yolov8.yaml at scale n

        try:
            yaml_model_load(m)
            return m
        except FileNotFoundError:
            raise BadInput("no such model YAML (neither a file nor in Ultralytics' bundled cfg/models)", m, "--model") from None
    if p.suffix == ".pt":
        if not p.is_file():
            raise BadInput("weights file not found (weights are never downloaded: give a local .pt)", p, "--model")
        return str(p.resolve())
    raise BadInput("expected a model YAML (e.g. yolov8n.yaml, yolov8s.yaml) or a local .pt weights file", m, "--model")


def train(
    data: str | Path,
    *,
    model: str | Path = DEFAULT_MODEL,
    epochs: int = 50,
    imgsz: int = 640,
    batch: int = 16,
    device: str = "cpu",
    out: str | Path = "runs/train",
    workers: int = 2,
    seed: int = 0,
    val: bool = True,
    threads: int | None = None,
    **args: Any,
) -> TrainResult:
    """Train a detector; weights in OUT/weights/{best,last}.pt, per-epoch OUT/results.csv, OUT/metrics.json.

    `args` go to Ultralytics as they are (lr0, mosaic, ...). AMP stays off unless asked for: its
    check downloads weights. `threads`: torch CPU threads (default: Ultralytics' choice).
    """
    if epochs < 1 or imgsz < 32 or batch < 1:
        raise BadInput(f"epochs ≥ 1, imgsz ≥ 32 and batch ≥ 1 expected, got {epochs}, {imgsz}, {batch}", None, "--epochs/--imgsz/--batch")
    ul = ultralytics()
    set_threads(threads)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    data_yaml, _ = resolve_data_yaml(data, out)
    weights = resolve_model(model)
    args.setdefault("amp", False)
    if args["amp"]:
        patch_amp_check()
    start = time.perf_counter()
    yolo = ul.YOLO(weights, task="detect")
    yolo.train(
        data=str(data_yaml), epochs=epochs, imgsz=imgsz, batch=batch, device=device, workers=workers, seed=seed,
        project=str(out.parent), name=out.name, exist_ok=True, val=val, verbose=False, **args,
    )
    seconds = time.perf_counter() - start
    trainer = yolo.trainer
    metrics = {k: float(v) for k, v in (trainer.metrics or {}).items()}
    result = TrainResult(Path(trainer.save_dir), Path(trainer.best), Path(trainer.last), metrics, epochs, seconds)
    atomic_write(result.out_dir / "metrics.json", json.dumps(result.to_dict(), indent=2))
    return result
