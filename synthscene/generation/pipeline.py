"""generate(): indices → scene samples → workers (PyBullet worlds) → writers.

Each image is a function of (config, seed, index) alone, so images can be produced in any order,
by any number of workers, and a run can be resumed: an image is done once its record is written,
and the manifest is assembled from the records in index order at the end.
"""
from __future__ import annotations

import numbers
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import yaml
from tqdm import tqdm

from ..config import DatasetConfig
from ..core.errors import BadInput, Interrupted, SynthsceneError
from ..labels import writers
from ..core.files import atomic_write
from ..labels.manifest import write_manifest
from ..labels.yolo import data_yaml
from ..renderers.pybullet import resolve_renderer
from . import outdir
from .outdir import RESOLVED, read_records
from .producer import ImageProducer
from ..core.version import versions
from .executors.inline import run_inline
from .executors.local import run_processes


def resolved_config_text(config: DatasetConfig) -> str:
    doc = {
        "synthscene": {"config_hash": config.content_hash(), "source": config.source, "versions": versions()},
        "config": config.to_dict(),
    }
    return yaml.safe_dump(doc, sort_keys=False)


def _prepare_output(out_dir: Path, config: DatasetConfig, resume: bool, overwrite: bool, partial: bool) -> None:
    """Under the folder's lock: clear, check or start the dataset in `out_dir` (checked by outdir.check_folder)."""
    resolved = out_dir / RESOLVED
    existing = outdir.holds_anything(out_dir)
    if existing and overwrite:
        outdir.clear_dataset(out_dir)
    elif existing and (resume or partial):
        if not resolved.is_file():
            raise BadInput(f"the folder holds no {RESOLVED}, so it is not a synthscene dataset to resume; "
                           "use --overwrite to replace it or another --out", out_dir, "--resume")
        old = outdir.read_resolved(out_dir)["synthscene"].get("config_hash")
        if old != config.content_hash():
            raise BadInput(
                f"the folder was generated from a different config (hash {old}, now {config.content_hash()}); "
                "use --overwrite to replace it or another --out",
                out_dir,
                "--resume",
            )
        outdir.remove_stray_temps(out_dir)
        read_records(out_dir)  # a damaged record is refused now, not after the run
    elif existing:
        raise BadInput("output folder is not empty; use --resume to continue it or --overwrite to replace it", out_dir, "--out")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(resolved, resolved_config_text(config))
    except OSError as err:
        raise BadInput(f"cannot write the output folder ({err.strerror})", out_dir, "--out") from None


def _run_local(config: DatasetConfig, renderer: str, out_dir: Path, todo: Sequence[int], workers: int,
               producer_class: type[ImageProducer] = ImageProducer) -> Iterable[dict]:
    """Records of `todo`, rendered inline (one worker) or by worker processes."""
    if workers > 1:
        yield from run_processes(config, renderer, out_dir, todo, workers, producer_class)
    else:
        yield from run_inline(config, renderer, out_dir, todo, producer_class)


@dataclass
class GenerateResult:
    out_dir: Path
    rendered: int
    total: int
    seconds: float
    renderer: str  # the renderer that drew (egl | tiny), not the executor (generate's `backend`)

    @property
    def backend(self) -> str:
        """The renderer's name under the attribute's old name, for callers of before."""
        return self.renderer

    @property
    def images_per_s(self) -> float:
        return self.rendered / self.seconds if self.seconds > 0 else 0.0


def _checked_int(name: str, value, minimum: int | None = None):
    """generate()'s own integer arguments (--workers, --only); config fields go through with_overrides."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise BadInput(f"{name} must be an integer, got {value!r}", None, f"--{name}")
    if minimum is not None and value < minimum:
        raise BadInput(f"{name} must be at least {minimum}, got {value}", None, f"--{name}")
    return int(value)


def _as_config(config) -> DatasetConfig:
    """A DatasetConfig as is; a path is loaded with load_config, a mapping with config_from_dict
    (paths in it relative to the current folder)."""
    from ..config import config_from_dict, load_config

    if isinstance(config, DatasetConfig):
        return config
    if isinstance(config, (str, os.PathLike)):
        return load_config(config)
    if isinstance(config, Mapping):
        return config_from_dict(dict(config), Path.cwd(), "<dict>")
    raise BadInput(f"config must be a DatasetConfig, a config file path or a mapping, got {type(config).__name__}",
                   None, "config")


def generate(
    config: DatasetConfig,
    out: str | Path | None = None,
    *,
    count: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    backend: str = "local",
    only: Sequence[int] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    ray_address: str | None = None,
    producer: type[ImageProducer] = ImageProducer,
) -> GenerateResult:
    """Render the dataset `config` describes into `out` (or the config's output.dir).

    `config` is a DatasetConfig, or a config file path (loaded with load_config), or a mapping of
    config keys. Every argument is checked before anything is written (BadInput, exit 2).
    `backend` is the executor (local | ray; the renderer is the config's `renderer.backend`).
    `producer` is the per-image job's class, the same for every executor (tests pass subclasses)."""
    from ..assets.prepare import prepare

    config = prepare(_as_config(config))  # assets render-ready (or refused) before the folder is touched
    workers = _checked_int("workers", workers, 1) or (None if backend == "ray" else 1)  # None: one per CPU (ray)
    if backend not in ("local", "ray"):
        raise BadInput(f"unknown backend {backend!r}; expected local or ray", None, "--backend")
    if only is not None:
        if isinstance(only, (str, bytes)) or not isinstance(only, Iterable):
            raise BadInput(f"only must be a list of image indices, got {only!r}", None, "--only")
        only = [_checked_int("only", i) for i in only]
        if not only:  # an empty selection is a mistake, never "every image"
            raise BadInput("no image indices given (expected e.g. [3] or [3, 7])", None, "--only")
    config = config.with_overrides(count=count, seed=seed, output_dir=out)  # the schema's rule for --count/--seed
    if config.output.dir is None:
        raise BadInput("no output folder: give --out or set output.dir", config.source, "output.dir")
    out_dir = Path(config.output.dir)
    indices = sorted(set(only)) if only else range(config.count)  # a range: no list of a million ints
    bad = [i for i in indices if not 0 <= i < config.count] if only else []
    if bad:
        raise BadInput(f"image indices {bad} are outside 0..{config.count - 1}", None, "--only")
    renderer = resolve_renderer(config.renderer.backend)
    if backend == "ray":  # refused now, before the folder is touched
        from .executors.ray import _check_reachable, _ray

        _ray()
        if ray_address is not None:
            _check_reachable(ray_address)
    outdir.check_folder(out_dir)
    with outdir.locked(out_dir):
        _prepare_output(out_dir, config, resume, overwrite, partial=bool(only))
        done = set(read_records(out_dir)) if resume else set()
        todo = [i for i in indices if i not in done] if done else indices
        seconds = _render(config, renderer, backend, out_dir, todo, workers, ray_address, progress, producer)
        try:
            finish(out_dir, config)
        except OSError as err:
            raise SynthsceneError(f"cannot write the dataset files into {out_dir}: {err.strerror or err}; "
                                  "every image is done: run again with --resume once it is fixed") from None
    return GenerateResult(out_dir, len(todo), config.count, seconds, renderer)


def _render(config, renderer, executor, out_dir, todo, workers, ray_address, progress, producer) -> float:
    """Render `todo` with a progress bar; seconds taken."""
    start = time.perf_counter()
    bar = tqdm(total=len(todo), unit="img", desc="generate", disable=not progress, file=sys.stderr)
    if executor == "ray":
        from .executors.ray import run_ray

        records = run_ray(config, out_dir, todo, workers, ray_address, producer)
    else:
        records = _run_local(config, renderer, out_dir, todo, workers, producer)
    try:
        for _ in records:
            bar.update(1)
    except KeyboardInterrupt:
        records.close()  # stops the workers before the message
        raise Interrupted(f"interrupted after {bar.n} of {len(todo)} images; the finished ones are kept: "
                          f"continue with --resume --out {out_dir}") from None
    finally:
        bar.close()
    return time.perf_counter() - start


def finish(out_dir: Path, config: DatasetConfig) -> None:
    """The dataset-wide files, assembled from the per-image records."""
    records = read_records(out_dir)
    write_manifest(out_dir, list(records.values()))
    atomic_write(out_dir / "data.yaml", data_yaml(out_dir, config.class_names))
    writers.finish(out_dir, config, records)
    for split in ("train", "val"):  # Ultralytics wants both folders, even if one split is empty
        (out_dir / "images" / split).mkdir(parents=True, exist_ok=True)
        (out_dir / "labels" / split).mkdir(parents=True, exist_ok=True)
