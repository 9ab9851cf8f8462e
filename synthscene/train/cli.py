"""The train, evaluate and benchmark commands, added to the `synthscene` Typer app by register()."""
from __future__ import annotations

import contextlib
import json
import logging
import shlex
import sys
from pathlib import Path
from typing import Optional

import typer


def train_cmd(
    data: Path = typer.Argument(..., help="A synthscene dataset folder or any Ultralytics data.yaml."),
    model: str = typer.Option("yolov8n.yaml", "--model", help="Model YAML (Ultralytics cfg name or file) or a local .pt."),
    epochs: int = typer.Option(50, "--epochs"),
    imgsz: int = typer.Option(640, "--imgsz"),
    batch: int = typer.Option(16, "--batch"),
    device: str = typer.Option("cpu", "--device", help="cpu, 0, 0,1, mps"),
    out: Path = typer.Option(Path("runs/train"), "--out", help="Weights, results.csv, metrics.json."),
) -> None:
    """Train a YOLO detector (offline: nothing is downloaded)."""
    from . import train

    res = train(data, model=model, epochs=epochs, imgsz=imgsz, batch=batch, device=device, out=out)
    typer.echo(f"trained {res.epochs} epochs in {res.seconds:.0f} s → {res.best} (last: {res.last})")


def evaluate_cmd(
    weights: Path = typer.Argument(..., help="Trained weights (.pt)."),
    gold: Path = typer.Option(..., "--gold", help="Real YOLO-format gold set: images/, labels/, data.yaml."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the metrics as JSON here."),
    imgsz: Optional[int] = typer.Option(None, "--imgsz", help="Default: the size the model was trained at."),
    device: str = typer.Option("cpu", "--device"),
) -> None:
    """Measure a detector on real photos, gold classes matched to the model's by name."""
    from . import evaluate

    with _logs_to_stderr():
        res = evaluate(weights, gold, out=out, imgsz=imgsz, device=device)
    res.pop("pr_curve")
    typer.echo(json.dumps(res, indent=2))


def benchmark_cmd(
    config: Path = typer.Argument(..., help="Benchmark config (YAML)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: the config's out)."),
    eval_gold: Optional[Path] = typer.Option(None, "--eval-gold", help="Evaluate on this real set instead of the held-apart part."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Budget profile (default: the config's)."),
) -> None:
    """Synthetic vs real vs mixed vs fine-tuned, trained and measured on real photos; report.md + plots."""
    from . import run_benchmark

    command = " ".join(shlex.quote(a) for a in ["synthscene", *sys.argv[1:]])
    res = run_benchmark(config, out=out, eval_gold=eval_gold, profile=profile, command=command)
    typer.echo(f"report → {res}")


@contextlib.contextmanager
def _logs_to_stderr():
    """Ultralytics logs and progress bars go to stdout; `evaluate` keeps stdout for its JSON."""
    from .offline import ultralytics

    ultralytics()
    from ultralytics.utils import LOGGER

    handlers = [h for h in LOGGER.handlers if isinstance(h, logging.StreamHandler) and h.stream is sys.stdout]
    for h in handlers:
        h.setStream(sys.stderr)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        for h in handlers:
            h.setStream(sys.stdout)


def register(app: typer.Typer) -> None:
    app.command("train")(train_cmd)
    app.command("evaluate")(evaluate_cmd)
    app.command("benchmark")(benchmark_cmd)
