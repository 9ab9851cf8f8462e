"""The train, evaluate and benchmark commands, added to the `synthscene` Typer app by register()."""
from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import List, Optional

import typer


def train_cmd(
    data: Path = typer.Argument(..., help="A synthscene dataset folder or any Ultralytics data.yaml."),
    overrides: Optional[List[str]] = typer.Argument(None, metavar="KEY=VALUE",
                                                    help="Ultralytics' own train arguments: lr0=0.002 optimizer=AdamW ..."),
    model: Optional[str] = typer.Option(None, "--model", help="Model YAML (Ultralytics cfg name or file) or a local .pt \\[default: yolov8n.yaml]."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="\\[default: 50]"),
    imgsz: Optional[int] = typer.Option(None, "--imgsz", help="\\[default: 640]"),
    batch: Optional[int] = typer.Option(None, "--batch", help="\\[default: 16]"),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, 0, 0,1, mps \\[default: cpu]"),
    minutes: Optional[float] = typer.Option(None, "--minutes", help="Wall-clock budget: after the first epoch, the epoch count is re-planned to fit (Ultralytics' time=, in minutes)."),
    profile: Optional[str] = typer.Option(None, "--profile", help="A measured budget: cpu or gpu (model, imgsz, epochs, optimizer, ...); options and KEY=VALUE override it."),
    out: Path = typer.Option(Path("runs/train"), "--out", help="Weights, results.csv, metrics.json."),
) -> None:
    """Train a YOLO detector (offline: nothing is downloaded)."""
    from ..train import train

    args = _merge(overrides, model=model, epochs=epochs, imgsz=imgsz, batch=batch, device=device)
    res = train(data, out=out, profile=profile, minutes=minutes, **args)
    if minutes or "time" in args:
        why = f" (the epochs that fit {minutes or args['time'] * 60:g} min)"
    else:
        why = "" if res.epochs_run == res.epochs else f" (of {res.epochs}: stopped early, patience)"
    typer.echo(f"trained {res.epochs_run} epochs{why} in {res.seconds:.0f} s, {res.seconds_per_epoch:.1f} s per epoch "
               f"→ {res.best} (last: {res.last})")


def evaluate_cmd(
    weights: Path = typer.Argument(..., help="Trained weights (.pt)."),
    overrides: Optional[List[str]] = typer.Argument(None, metavar="KEY=VALUE",
                                                    help="Ultralytics' own validation arguments: conf=0.001 iou=0.7 batch=8 ..."),
    gold: Path = typer.Option(..., "--gold", help="Real YOLO-format gold set: images/, labels/, data.yaml."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the metrics as JSON here."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing file at --out."),
    imgsz: Optional[int] = typer.Option(None, "--imgsz", help="Default: the size the model was trained at."),
    device: Optional[str] = typer.Option(None, "--device", help="\\[default: cpu]"),
    box_convention: Optional[str] = typer.Option(None, "--box-convention", help="Gold boxes of the COCO AP block: visible or amodal (amodal needs BOP bbox_obj) \\[default: data.yaml's box_convention, else visible]."),
) -> None:
    """Measure a detector on real photos, gold classes matched to the model's by name."""
    from ..train import evaluate
    from ..train.offline import chatter_to_stderr

    args = _merge(overrides, imgsz=imgsz, device=device)
    with chatter_to_stderr():
        res = evaluate(weights, gold, out=out, overwrite=overwrite, box_convention=box_convention, **args)
    res.pop("pr_curve")
    typer.echo(json.dumps(res, indent=2))


def _merge(overrides: Optional[List[str]], **options) -> dict:
    """KEY=VALUE arguments and the command's own options, one dict; the same setting given both ways is refused."""
    from ..core.errors import BadInput
    from ..train.args import parse_overrides

    args = parse_overrides(overrides or [])
    for key, value in options.items():
        if value is None:
            continue
        if key in args and args[key] != value:
            raise BadInput(f"given twice: --{key} {value} and {key}={args[key]}", None, key)
        args[key] = value
    return args


def benchmark_cmd(
    config: Path = typer.Argument(..., help="Benchmark config (YAML)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: the config's out)."),
    eval_gold: Optional[Path] = typer.Option(None, "--eval-gold", help="Evaluate on this real set instead of the held-apart part."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Budget profile (default: the config's)."),
) -> None:
    """Synthetic vs real vs mixed vs fine-tuned, trained and measured on real photos; report.md + plots."""
    from ..benchmark.run import run_benchmark

    command = " ".join(shlex.quote(a) for a in ["synthscene", *sys.argv[1:]])
    res = run_benchmark(config, out=out, eval_gold=eval_gold, profile=profile, command=command)
    typer.echo(f"report → {res}")


def register(app: typer.Typer) -> None:
    app.command("train")(train_cmd)
    app.command("evaluate")(evaluate_cmd)
    app.command("benchmark")(benchmark_cmd)
