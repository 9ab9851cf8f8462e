"""The `synthscene` command: a thin layer over the Python API."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from .commands.assets import app as assets_app
from .core.errors import SynthsceneError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Labelled synthetic images for object detection.")
_state = {"debug": False}
app.add_typer(assets_app, name="assets")


@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="Show tracebacks.")) -> None:
    _state["debug"] = debug


def _indices(text: Optional[str]) -> Optional[list[int]]:
    """--only's indices; an empty list (`--only ","`) is refused by generate, never read as "all"."""
    if text is None:
        return None
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        from .core.errors import BadInput

        raise BadInput(f"expected image indices like 3 or 3,7,12, got {text!r}", None, "--only") from None


@app.command()
def generate(
    config: Path = typer.Argument(..., help="Dataset config (YAML)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: the config's output.dir)."),
    count: Optional[int] = typer.Option(None, "--count", help="Number of images."),
    seed: Optional[int] = typer.Option(None, "--seed"),
    workers: int = typer.Option(1, "--workers", help="Worker processes."),
    backend: str = typer.Option("local", "--backend", help="local (worker processes) or ray (Ray actors; pip install 'synthscene\\[ray]')."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Ray cluster to join (default: start a local one)."),
    only: Optional[str] = typer.Option(None, "--only", help="Re-render only these indices: I[,J..]."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run in --out."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a dataset already in --out."),
) -> None:
    """Render a labelled dataset from a config."""
    import warnings

    from . import generate as _generate
    from . import load_config
    from .generation.outdir import OutputWarning

    shown = warnings.showwarning

    def _show(message, category, *args, **kw):  # one line, as the other messages
        if issubclass(category, OutputWarning):
            typer.echo(f"warning: {message}", err=True)
        else:
            shown(message, category, *args, **kw)

    with warnings.catch_warnings():
        warnings.showwarning = _show
        res = _generate(load_config(config), out, count=count, seed=seed, workers=workers, backend=backend,
                        only=_indices(only), resume=resume, overwrite=overwrite, ray_address=ray_address)
    typer.echo(f"{res.rendered} images rendered in {res.seconds:.1f} s ({res.images_per_s:.1f} img/s) → {res.out_dir}")


@app.command()
def preview(
    config: Path = typer.Argument(..., help="Dataset config (YAML)."),
    out: Path = typer.Option(..., "--out", help="Contact sheet PNG."),
    count: int = typer.Option(16, "--count"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing file at --out."),
) -> None:
    """Render a contact sheet with boxes and class names drawn."""
    from . import load_config
    from .generation.preview import preview as _preview

    typer.echo(f"preview → {_preview(load_config(config), out, count, overwrite=overwrite)}")


@app.command()
def inspect(
    dataset: Path = typer.Argument(..., help="Dataset folder (synthscene output or any YOLO-format folder)."),
    out: Path = typer.Option(..., "--out", help="Report folder: report.md, stats.json, PNG plots."),
    gold: Optional[Path] = typer.Option(None, "--gold", help="A real YOLO-format set to compare against."),
) -> None:
    """Validate labels and report dataset statistics, side by side with a gold set; exit 2 on label problems."""
    from .core.errors import BadInput
    from .diagnosis.inspect import inspect_dataset

    summary = inspect_dataset(dataset, out, gold)
    for tip in summary["advice"]:
        typer.echo(f"advice: {tip['why']}")
    typer.echo(f"report → {out / 'report.md'}")
    problems = summary["problems"]
    if problems:
        for p in problems:
            where = f"{p['file']}:{p['line']}" if p["line"] else p["file"]
            typer.echo(f"{p['set']}: {where}: {p['message']}", err=True)
        raise BadInput(f"{len(problems)} label problem(s), listed above and in {out / 'report.md'}")


@app.command()
def diagnose(
    weights: Path = typer.Argument(..., help="Trained weights (.pt), checked before loading; never downloaded."),
    gold: Path = typer.Option(..., "--gold", help="Real YOLO-format gold set (BOP scene_gt*.json beside it add visibility and viewpoint)."),
    dataset: Path = typer.Option(..., "--dataset", help="The synthetic dataset the model was trained on (YOLO folder)."),
    out: Path = typer.Option(..., "--out", help="Report folder: report.md, report.json, PNG plots, contact sheets."),
    conf: Optional[float] = typer.Option(None, "--conf", help="Operating confidence \\[default: the best-F1 one]."),
    imgsz: Optional[int] = typer.Option(None, "--imgsz", help="Default: the size the model was trained at."),
    device: str = typer.Option("cpu", "--device"),
) -> None:
    """Where the detector fails on the gold photos (TIDE errors, recall per slice) and whether the synthetic set covers it."""
    from .diagnosis import diagnose as _diagnose
    from .train.offline import chatter_to_stderr

    with chatter_to_stderr():
        rep = _diagnose(weights, gold, dataset, out, conf=conf, imgsz=imgsz, device=device)
    from .diagnosis.guard import flagged

    t = rep["tide"]["counts"]
    typer.echo("errors: " + ", ".join(f"{k} {v}" for k, v in t.items()))
    for d, _, b, act, _ in flagged(rep):
        left = "" if act else "; not clearly below the overall: refine leaves it"
        typer.echo(f"{b['verdict']}: {d} {b['label']} (gold {b['n_gold']}, recall {b['recall']:.2f}{left})")
    typer.echo(f"report → {out / 'report.md'}")


@app.command()
def refine(
    config: Path = typer.Argument(..., help="The dataset config the diagnosed model was trained on (YAML)."),
    diagnosis: Path = typer.Option(..., "--diagnosis", help="A `synthscene diagnose` report folder (report.json)."),
    out: Path = typer.Option(..., "--out", help="The supplement config to write (YAML)."),
    images: Optional[int] = typer.Option(None, "--images", help="Images in the supplement \\[default: the config's count]."),
    force: bool = typer.Option(False, "--force", help="Refine even when CONFIG did not make the diagnosed dataset, "
                               "and write even when the check renders fall outside the gold photos' range."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing file at --out."),
    check_images: int = typer.Option(8, "--check-images", help="Images of the refined config rendered and "
                                     "checked against the gold photos before it is written (0: no check)."),
) -> None:
    """Write a supplement config whose randomizers move toward the slices the diagnosis found failing."""
    from .diagnosis.refine import refine as _refine
    from .core.errors import BadInput

    if check_images < 0:
        raise BadInput(f"expected 0 or more images, got {check_images}", None, "--check-images")
    res = _refine(config, diagnosis, out, images=images, overwrite=overwrite, force=force, check_images=check_images)
    for c in res["changes"]:
        typer.echo(f"{c['key']}: {c['from'] if c['key'] != 'randomizers.post.transform' else '…'} → "
                   f"{c['to'] if c['key'] != 'randomizers.post.transform' else '(+ blur)'}"
                   + (f"  [{c['slice']}]" if c["slice"] else ""))
    for note in res["notes"]:
        typer.echo(f"note: {note}")
    if res.get("check"):
        typer.echo("render check (median of " + str(res["check"]["images"]) + " renders, gold range): " + ", ".join(
            f"{k} {f['renders_median']:.1f} ({f['gold_min']:.1f}–{f['gold_max']:.1f})"
            for k, f in res["check"]["figures"].items() if f["renders_median"] is not None and f["gold_min"] is not None))
    typer.echo(f"config → {res['config']}")

@app.command("init")
def init_cmd(
    meshes: list[str] = typer.Argument(..., metavar="MESH...", help="Mesh files; NAME=MESH names the class (default: the file stem)."),
    out: Path = typer.Option(..., "--out", help="The config file to write (YAML)."),
    units: str = typer.Option("m", "--units", help="The meshes' length unit: m, cm or mm."),
    gold: Optional[Path] = typer.Option(None, "--gold", help="Real photos (YOLO folder) to estimate image size, distances, intrinsics from."),
    textures: Optional[Path] = typer.Option(None, "--textures", help="A folder of surface photos for the texture randomizer \\[default: procedural only]."),
    backgrounds: Optional[Path] = typer.Option(None, "--backgrounds", help="A folder of background photos \\[default: procedural only]."),
    upright: bool = typer.Option(False, "--upright", help="The objects stand on their base (mesh z up): only their heading is random."),
    count: int = typer.Option(1000, "--count", help="Images the config asks for."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing config file."),
    fov: Optional[float] = typer.Option(None, "--fov", help="The camera's vertical field of view, degrees \\[default: the photos' EXIF, else guessed]."),
    intrinsics: Optional[str] = typer.Option(None, "--intrinsics", metavar="FX,FY,CX,CY", help="The camera's intrinsics in pixels, at the photos' size."),
    scene: Optional[str] = typer.Option(None, "--scene", help="How the objects appear: tabletop (dropped on a table), dense (packed together among clutter), held (in a hand), free (floating), pile \\[default: tabletop]."),
) -> None:
    """Write a complete dataset config for your meshes (the LM-O recipe, fitted to your photos when given).

    Prints which values it read (photos, EXIF, BOP files), was told (options) and guessed."""
    from .commands.init_config import init_config

    notes: list[str] = []
    path = init_config(meshes, out, units=units, gold=gold, textures=textures, backgrounds=backgrounds, upright=upright,
                       count=count, overwrite=overwrite, fov=fov, intrinsics=intrinsics, scene=scene, notes=notes)
    for note in notes:
        typer.echo(note)
    typer.echo(f"config → {path}")


from .commands.train import register as _register_train  # noqa: E402

_register_train(app)


def _click_errors() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """(usage errors, aborts) of every click Typer may raise from: recent Typer vendors click as typer._click."""
    import importlib

    usage, aborts = [], [typer.Abort]
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        usage.append(mod.ClickException)
        aborts.append(getattr(mod, "Abort", typer.Abort))
    return tuple(usage), tuple(aborts)


def main() -> None:
    usage_errors, aborts = _click_errors()
    try:
        code = app(standalone_mode=False)
    except SynthsceneError as err:
        if _state["debug"]:
            raise
        typer.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except usage_errors as err:  # unknown option, missing argument, bad value: click's usage message, exit 2
        err.show()
        sys.exit(2)
    except aborts:
        sys.exit(130)
    except Exception as err:
        if _state["debug"]:
            raise
        typer.echo(f"error: {type(err).__name__}: {err} (run with --debug for the traceback)", err=True)
        sys.exit(1)
    if isinstance(code, int) and not isinstance(code, bool):  # a ctx.exit(n), e.g. --help → 0
        sys.exit(code)


if __name__ == "__main__":
    main()
