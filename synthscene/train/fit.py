"""train(): Ultralytics YOLO on a synthscene dataset or any data.yaml, offline."""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..core.errors import BadInput
from ..core.files import atomic_write, check_out_folder
from ..realdata.gold import resolve_data_yaml
from .args import TRAIN_OWNED, check_args
from .offline import chatter_to_stderr, patch_amp_check, set_threads, ultralytics
from .profiles import train_profile
from .weights import check_weights

DEFAULT_MODEL = "yolov8n.yaml"


@dataclass
class TrainResult:
    out_dir: Path
    best: Path
    last: Path
    metrics: dict  # Ultralytics' validation metrics after the last epoch
    epochs: int
    seconds: float
    epochs_run: int | None = None  # epochs actually trained (fewer than `epochs` when `patience` or `minutes` stopped it)
    threads: int | None = None  # torch threads it trained with (choose_threads): results differ across thread counts
    seconds_per_epoch: float | None = None  # measured over the epochs run (training and validation)

    def to_dict(self) -> dict:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}


def resolve_model(model: str | Path) -> str:
    """A YAML (a file, or a name from Ultralytics' bundled cfg, e.g. yolov8n.yaml) or an existing weights file.

    Weights are only ever loaded from the path given (Ultralytics would otherwise download a
    missing `yolov8n.pt` from its hub), and only once check_weights found no code in them.
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
        return str(check_weights(p, "--model"))
    raise BadInput("expected a model YAML (e.g. yolov8n.yaml, yolov8s.yaml) or a local .pt weights file", m, "--model")


def busy_cores(window: float = 0.5) -> float:
    """Cores kept busy by other processes over `window` seconds (this one waits meanwhile)."""
    import psutil

    return psutil.cpu_percent(interval=window) / 100 * (psutil.cpu_count() or 1)


def choose_threads(most: int | None = None, cores: int | None = None, busy: float | None = None) -> int:
    """Torch threads: the cores left free by other processes (a core counts as free below 25%
    busy), at most `most` (the threads asked for), at least 1. Never more: measured here, 2
    threads beside busy processes trained 3.6-18× slower than 1 (OpenMP threads waiting on a
    descheduled peer), so a request for more threads than free cores is lowered."""
    cores = len(os.sched_getaffinity(0)) if cores is None else cores
    busy = busy_cores() if busy is None else busy
    return max(1, min(cores, most or cores, int(cores - busy + 0.25)))


def training_threads(threads: int | None, fixed: bool = False, busy: float | None = None) -> int:
    """Exactly `threads` (default: every core) when `fixed`, reproducible but slower on a busy
    machine; otherwise what was asked for, fewer when other processes keep cores busy."""
    if fixed:
        return threads or len(os.sched_getaffinity(0))
    return choose_threads(threads, busy=busy)


DEFAULTS = {"model": DEFAULT_MODEL, "epochs": 50, "imgsz": 640, "batch": 16, "device": "cpu", "workers": 2, "seed": 0}


def _announce_estimate(trainer) -> None:
    """After the first epoch, how long the whole run will take at that pace (on stderr: stdout is the result's).

    Ultralytics calls on_fit_epoch_end again after its final validation; only the first call speaks."""
    if getattr(trainer, "_synthscene_estimated", False):
        return
    trainer._synthscene_estimated = True
    per_epoch, epochs = trainer.epoch_time, trainer.epochs  # under time=, epochs is already re-planned to fit
    budget = f" (to fit {trainer.args.time * 60:g} min)" if trainer.args.time else ""
    print(f"train: first epoch took {per_epoch:.0f} s; {epochs} epochs{budget} ≈ {epochs * per_epoch / 60:.1f} min "
          "at this pace", file=sys.stderr, flush=True)


def train(
    data: str | Path,
    *,
    out: str | Path = "runs/train",
    profile: str | None = None,
    model: str | Path | None = None,
    epochs: int | None = None,
    imgsz: int | None = None,
    batch: int | None = None,
    threads: int | None = None,
    fixed_threads: bool = False,
    val: bool = True,
    minutes: float | None = None,
    **args: Any,
) -> TrainResult:
    """Train a detector; weights in OUT/weights/{best,last}.pt, per-epoch OUT/results.csv, OUT/metrics.json.

    `args` are Ultralytics' own train arguments (lr0, mosaic, device, workers, seed, ...), checked
    against its config and passed on. `profile` (cpu, gpu: profiles.TRAIN_PROFILES) fills in what
    is not given; defaults: DEFAULTS. AMP stays off unless asked for: its check downloads weights.
    `threads`: at most this many torch CPU threads; fewer when other processes keep cores busy
    (choose_threads; default: as many as are free). `fixed_threads`: exactly `threads` (default: all
    cores), however busy the machine: the same seed trains different weights at another thread count.
    `minutes`: a wall-clock budget (Ultralytics' `time=`, in hours there): after the first epoch it
    re-plans the epoch count to fit, and the learning-rate schedule with it.
    """
    out = check_out_folder(out)
    given = {k: v for k, v in dict(model=model, epochs=epochs, imgsz=imgsz, batch=batch, threads=threads).items()
             if v is not None}
    if minutes is not None:
        if "time" in args:
            raise BadInput(f"given twice: minutes={minutes} and time={args['time']} (hours)", None, "time")
        if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not minutes > 0:
            raise BadInput(f"expected a number of minutes > 0, got {minutes!r}", None, "--minutes")
        args = {**args, "time": minutes / 60}
    settings = {**DEFAULTS, **train_profile(profile), **args, **given}
    threads = settings.pop("threads", None)
    if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool) or threads < 1):
        raise BadInput(f"expected a number of threads ≥ 1, got {threads!r}", None, "threads")
    args = check_args(settings, TRAIN_OWNED)
    model, epochs, imgsz, batch = (args.pop(k) for k in ("model", "epochs", "imgsz", "batch"))
    for key, value, least in (("epochs", epochs, 1), ("imgsz", imgsz, 32), ("batch", batch, 1)):
        if isinstance(value, (int, float)) and value < least:
            raise BadInput(f"expected {key} ≥ {least}, got {value}", None, key)
    if isinstance(args.get("pretrained"), (str, Path)):  # weights to start from: the same check as --model
        args["pretrained"] = str(check_weights(args["pretrained"], "pretrained"))
    ul = ultralytics()
    threads = training_threads(threads, fixed_threads)
    set_threads(threads)
    weights = resolve_model(model)
    out = out.resolve()
    data_yaml, _ = resolve_data_yaml(data, out)  # checked before anything is written
    out.mkdir(parents=True, exist_ok=True)
    args = {"amp": False, "verbose": False, **args}
    if args["amp"]:
        patch_amp_check()
    start = time.perf_counter()
    with chatter_to_stderr():
        yolo = ul.YOLO(weights, task="detect")
        yolo.add_callback("on_fit_epoch_end", _announce_estimate)
        yolo.train(data=str(data_yaml), epochs=epochs, imgsz=imgsz, batch=batch, project=str(out.parent),
                   name=out.name, exist_ok=True, val=val, **args)
    seconds = time.perf_counter() - start
    trainer = yolo.trainer
    metrics = {k: float(v) for k, v in (trainer.metrics or {}).items()}
    run = int(getattr(trainer, "epoch", epochs - 1)) + 1
    result = TrainResult(Path(trainer.save_dir), Path(trainer.best), Path(trainer.last), metrics, epochs, seconds,
                         run, threads, round(seconds / run, 2))
    atomic_write(result.out_dir / "metrics.json", json.dumps(result.to_dict(), indent=2))
    return result
