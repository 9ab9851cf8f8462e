"""generate(): indices → scene samples → workers (PyBullet worlds) → writers.

Each image is a function of (config, seed, index) alone, so images can be produced in any order,
by any number of workers, and a run can be resumed: an image is done once its record is written,
and the manifest is assembled from the records in index order at the end.
"""
from __future__ import annotations

import json
import numbers
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import cv2
import numpy as np
import yaml
from tqdm import tqdm

from . import __version__
from .config import DatasetConfig
from .errors import BadInput, Interrupted, SynthsceneError
from .labels import writers
from .labels.annotate import Labeler
from .labels.io import atomic_write
from .labels.manifest import image_record, write_manifest
from .labels.yolo import data_yaml
from .randomizers.image import ImageRandomizers
from .renderers.pybullet import resolve_backend
from .scenes.sampler import sample_scene
from .scenes.world import World
from . import outdir
from .faults import write_failure
from .outdir import RECORDS_DIR, RESOLVED, read_records
from .workers import failure_message, run_processes


@dataclass
class Produced:
    image: np.ndarray  # RGB, uint8
    record: dict
    files: dict = field(default_factory=dict)  # label files of the enabled formats: relative path → content


class ImageProducer:
    """One worker: its own PyBullet world with every asset loaded once, re-posed per image."""

    def __init__(self, config: DatasetConfig, backend: str):
        self.config = config
        self.world = World(config, backend)
        self.labeler = Labeler(config, self.world)
        self.randomize_image = ImageRandomizers(config, backend)
        self.timings: dict[str, float] = {}  # seconds of the last image's stages, for benchmarks

    def produce(self, index: int) -> Produced:
        sample = sample_scene(self.config, index, self.world.asset_info, self.world.renderer.backend)
        self.world.pose(sample)
        t0 = time.perf_counter()
        render = self.world.render(sample)
        t1 = time.perf_counter()
        # texture → lighting tint → background, then post; labels come from the final segmentation
        scene = self.randomize_image.scene(sample, render, self.world.uid_of, self.world.ground)
        t2 = time.perf_counter()
        render, frame = self.randomize_image.post_and_label(self.labeler, sample, scene)
        files = writers.image_files(self.config, frame)
        post = self.randomize_image.post_seconds
        self.timings = {"render": t1 - t0, "randomize": t2 - t1 + post, "labels": time.perf_counter() - t2 - post}
        return Produced(render.rgb, image_record(sample, frame.objects), files)

    def close(self) -> None:
        self.world.close()


def image_files(produced: Produced, jpeg_quality: int) -> list[tuple[str, bytes | str]]:
    """(relative path, contents) of one image's files, in write order: first the list of the others
    (what --overwrite may delete, even after a crash), the record last."""
    rec = produced.record
    ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(produced.image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    if not ok:
        raise SynthsceneError(f"JPEG encoding failed for image {rec['index']}")
    files = [(rec["file"], jpg.tobytes()), *produced.files.items(), (f"{RECORDS_DIR}/{rec['index']:06d}.json", json.dumps(rec))]
    return [outdir.files_entry(rec["index"], [rel for rel, _ in files]), *files]


def write_image(out_dir: Path, produced: Produced, jpeg_quality: int) -> None:
    """Image, label files, then the record: a record on disk means the image is complete."""
    for rel, data in image_files(produced, jpeg_quality):
        atomic_write(out_dir / rel, data)


def resolved_config_text(config: DatasetConfig) -> str:
    import albumentations
    from importlib.metadata import version

    doc = {
        "synthscene": {
            "config_hash": config.content_hash(),
            "source": config.source,
            "versions": {
                "synthscene": __version__,
                "pybullet": version("pybullet"),
                "numpy": np.__version__,
                "opencv": cv2.__version__,
                "albumentations": albumentations.__version__,
                "python": sys.version.split()[0],
            },
        },
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


# ---- worker processes -------------------------------------------------------------------------

_producer: ImageProducer | None = None
_out_dir: Path | None = None


def _init_worker(config: DatasetConfig, backend: str, out_dir: str, factory=None) -> None:
    global _producer, _out_dir
    _producer, _out_dir = (factory or ImageProducer)(config, backend), Path(out_dir)


def _work(index: int) -> dict:
    try:
        produced = _producer.produce(index)
    except Exception as err:  # name what reproduces it; the traceback is for --debug
        raise SynthsceneError(failure_message(index, _producer.config.seed, f"{type(err).__name__}: {err}")) from err
    try:
        write_image(_out_dir, produced, _producer.config.output.jpeg_quality)
    except OSError as err:
        raise SynthsceneError(write_failure(_out_dir, index, err)) from err
    return produced.record


def _run_local(config: DatasetConfig, backend: str, out_dir: Path, todo: Sequence[int], workers: int) -> Iterable[dict]:
    if workers <= 1:
        _init_worker(config, backend, str(out_dir))
        try:
            for i in todo:
                yield _work(i)
        finally:
            _producer.close()
        return
    yield from run_processes(config, backend, out_dir, todo, workers, ImageProducer)


@dataclass
class GenerateResult:
    out_dir: Path
    rendered: int
    total: int
    seconds: float
    backend: str

    @property
    def images_per_s(self) -> float:
        return self.rendered / self.seconds if self.seconds > 0 else 0.0


def _checked_int(name: str, value, minimum: int | None = None):
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
    from .config import config_from_dict, load_config

    if isinstance(config, DatasetConfig):
        return config
    if isinstance(config, (str, os.PathLike)):
        return load_config(config)
    if isinstance(config, Mapping):
        return config_from_dict(dict(config), Path.cwd(), "<dict>")
    raise BadInput(f"config must be a DatasetConfig, a config file path or a mapping, got {type(config).__name__}",
                   None, "config")


def _with_overrides(config: DatasetConfig, count, seed, out) -> DatasetConfig:
    """The config with --count/--seed/--out applied, re-validated by the schema (its bounds, its rules)."""
    from pydantic import ValidationError

    changes = {k: v for k, v in (("count", count), ("seed", seed)) if v is not None}
    if changes:
        data = {**config.to_dict(), **changes}
        base = Path(config.source).resolve().parent if config.source and Path(config.source).is_file() else None
        try:
            DatasetConfig.model_validate(data, context={"base_dir": base})
        except ValidationError as err:
            from .config import _format_errors

            given = ", ".join(f"{k}={v}" for k, v in changes.items())
            raise BadInput(f"{'; '.join(_format_errors(err))} (given {given})", None,
                           " / ".join(f"--{k}" for k in changes)) from None
    return config.with_overrides(count=count, seed=seed, output_dir=out)


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
) -> GenerateResult:
    """Render the dataset `config` describes into `out` (or the config's output.dir).

    `config` is a DatasetConfig, or a config file path (loaded with load_config), or a mapping of
    config keys. Every argument is checked before anything is written (BadInput, exit 2)."""
    config = _as_config(config)
    count, seed = _checked_int("count", count), _checked_int("seed", seed)
    workers = _checked_int("workers", workers, 1) or (None if backend == "ray" else 1)  # None: one per CPU (ray)
    if backend not in ("local", "ray"):
        raise BadInput(f"unknown backend {backend!r}; expected local or ray", None, "--backend")
    if only is not None:
        if isinstance(only, (str, bytes)) or not isinstance(only, Iterable):
            raise BadInput(f"only must be a list of image indices, got {only!r}", None, "--only")
        only = [_checked_int("only", i) for i in only]
    config = _with_overrides(config, count, seed, out)
    if config.output.dir is None:
        raise BadInput("no output folder: give --out or set output.dir", config.source, "output.dir")
    out_dir = Path(config.output.dir)
    indices = sorted(set(only)) if only else list(range(config.count))
    bad = [i for i in indices if not 0 <= i < config.count]
    if bad:
        raise BadInput(f"image indices {bad} are outside 0..{config.count - 1}", None, "--only")
    renderer = resolve_backend(config.renderer.backend)
    if backend == "ray":  # refused now, before the folder is touched
        from .distributed import _check_reachable, _ray

        _ray()
        if ray_address is not None:
            _check_reachable(ray_address)
    outdir.check_folder(out_dir)
    with outdir.locked(out_dir):
        _prepare_output(out_dir, config, resume, overwrite, partial=bool(only))
        done = set(read_records(out_dir)) if resume else set()
        todo = [i for i in indices if i not in done]
        seconds = _render(config, renderer, backend, out_dir, todo, workers, ray_address, progress)
        try:
            finish(out_dir, config)
        except OSError as err:
            raise SynthsceneError(f"cannot write the dataset files into {out_dir}: {err.strerror or err}; "
                                  "every image is done: run again with --resume once it is fixed") from None
    return GenerateResult(out_dir, len(todo), config.count, seconds, renderer)


def _render(config, renderer, backend, out_dir, todo, workers, ray_address, progress) -> float:
    """Render `todo` with a progress bar; seconds taken."""
    start = time.perf_counter()
    bar = tqdm(total=len(todo), unit="img", desc="generate", disable=not progress, file=sys.stderr)
    if backend == "ray":
        from .distributed import run_ray

        records = run_ray(config, out_dir, todo, workers, ray_address)
    else:
        records = _run_local(config, renderer, out_dir, todo, workers)
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
