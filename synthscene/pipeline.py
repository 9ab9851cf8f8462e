"""generate(): indices → scene samples → workers (PyBullet worlds) → writers.

Each image is a function of (config, seed, index) alone, so images can be produced in any order,
by any number of workers, and a run can be resumed: an image is done once its record is written,
and the manifest is assembled from the records in index order at the end.
"""
from __future__ import annotations

import json
import shutil
import sys
import time
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
from .faults import remove_stray_temps, write_failure
from .workers import failure_message, run_processes

RECORDS_DIR = ".synthscene/records"
RESOLVED = "config.resolved.yaml"
_OWNED = ("images", "labels", "annotations", ".synthscene", "manifest.jsonl", "data.yaml", RESOLVED, *writers.OWNED)


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
    """(relative path, contents) of one image's files, in write order: the record last."""
    rec = produced.record
    ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(produced.image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    if not ok:
        raise SynthsceneError(f"JPEG encoding failed for image {rec['index']}")
    return [(rec["file"], jpg.tobytes()), *produced.files.items(), (f"{RECORDS_DIR}/{rec['index']:06d}.json", json.dumps(rec))]


def write_image(out_dir: Path, produced: Produced, jpeg_quality: int) -> None:
    """Image, label files, then the record: a record on disk means the image is complete."""
    for rel, data in image_files(produced, jpeg_quality):
        atomic_write(out_dir / rel, data)


def read_records(out_dir: Path) -> dict[int, dict]:
    recs = {}
    for f in sorted((out_dir / RECORDS_DIR).glob("[0-9]*.json")):
        rec = json.loads(f.read_text())
        recs[rec["index"]] = rec
    return recs


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
    resolved = out_dir / RESOLVED
    non_empty = out_dir.exists() and any(out_dir.iterdir())
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInput("output path exists and is not a folder", out_dir, "output.dir")
    if non_empty and overwrite:
        for name in _OWNED:
            target = out_dir / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    elif non_empty and (resume or partial):
        remove_stray_temps(out_dir)
        if not resolved.exists():
            raise BadInput(f"the folder holds no {RESOLVED}, so it is not a synthscene dataset to resume", out_dir, "--resume")
        old = yaml.safe_load(resolved.read_text()).get("synthscene", {}).get("config_hash")
        if old != config.content_hash():
            raise BadInput(
                f"the folder was generated from a different config (hash {old}, now {config.content_hash()}); "
                "use --overwrite to replace it or another --out",
                out_dir,
                "--resume",
            )
    elif non_empty:
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
    """Render the dataset `config` describes into `out` (or the config's output.dir)."""
    config = config.with_overrides(count=count, seed=seed, output_dir=out)
    if config.output.dir is None:
        raise BadInput("no output folder: give --out or set output.dir", config.source, "output.dir")
    if workers < 1:
        raise BadInput(f"--workers must be at least 1, got {workers}", None, "--workers")
    if backend not in ("local", "ray"):
        raise BadInput(f"unknown backend {backend!r}; expected local or ray", None, "--backend")
    out_dir = Path(config.output.dir)
    indices = sorted(set(only)) if only else list(range(config.count))
    bad = [i for i in indices if not 0 <= i < config.count]
    if bad:
        raise BadInput(f"image indices {bad} are outside 0..{config.count - 1}", None, "--only")
    _prepare_output(out_dir, config, resume, overwrite, partial=bool(only))
    done = set(read_records(out_dir)) if resume else set()
    todo = [i for i in indices if i not in done]
    renderer = resolve_backend(config.renderer.backend)

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
    seconds = time.perf_counter() - start
    try:
        finish(out_dir, config)
    except OSError as err:
        raise SynthsceneError(f"cannot write the dataset files into {out_dir}: {err.strerror or err}; "
                              "every image is done: run again with --resume once it is fixed") from None
    return GenerateResult(out_dir, len(todo), config.count, seconds, renderer)


def finish(out_dir: Path, config: DatasetConfig) -> None:
    """The dataset-wide files, assembled from the per-image records."""
    records = read_records(out_dir)
    write_manifest(out_dir, list(records.values()))
    atomic_write(out_dir / "data.yaml", data_yaml(out_dir, config.class_names))
    writers.finish(out_dir, config, records)
    for split in ("train", "val"):  # Ultralytics wants both folders, even if one split is empty
        (out_dir / "images" / split).mkdir(parents=True, exist_ok=True)
        (out_dir / "labels" / split).mkdir(parents=True, exist_ok=True)
