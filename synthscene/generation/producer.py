"""The per-image job, one object shared by every executor (inline, local worker processes, Ray
actors): an ImageProducer builds its PyBullet world once, then `produce(index)` turns an index
into an image, its record and its label files. `image_files` encodes what produce returned into
the files written for it, in the order that keeps a crash harmless (the record last)."""
from __future__ import annotations

import contextlib
import gc
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..config import DatasetConfig
from ..core.errors import SynthsceneError
from .faults import failure_message, write_failure
from ..labels import writers
from ..labels.annotate import Labeler
from ..core.files import atomic_write
from ..labels.manifest import image_record
from .outdir import RECORDS_DIR, files_entry
from ..randomizers.image import ImageRandomizers
from ..renderers.memory import trim_heap
from ..assets.prepare import prepare
from ..scenes.sampler import sample_scene
from ..scenes.world import World

IN_FLIGHT = 2  # indices sent ahead per worker or actor: one rendering, one queued, so it never waits on the parent


@contextlib.contextmanager
def without_torch():
    """Imports inside see torch as absent, unless it is loaded already. albumentations imports its
    optional `albumentations.pytorch` (and so torch, the largest part of a worker's memory: docs/ROBUSTNESS.md, "Measurements behind the code") at import and on every
    `from_dict`, but handles torch's absence (ImportError suppressed, `find_spec` None); a render
    worker uses no torch transform. Later imports of torch, after the block, work as usual."""
    if "torch" in sys.modules:
        yield
        return
    sys.modules["torch"] = None  # the import system's own marker: `import torch` raises ImportError
    try:
        yield
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]


@dataclass
class Produced:
    image: np.ndarray  # RGB, uint8
    record: dict
    files: dict = field(default_factory=dict)  # label files of the enabled formats: relative path → content


class ImageProducer:
    """One worker: its own PyBullet world with every asset loaded once, re-posed per image.
    Tests inject failures by passing a subclass as generate(producer=...)."""

    def __init__(self, config: DatasetConfig, renderer: str):
        config = prepare(config)  # a no-op for the prepared config generate passes
        self.config = config
        self.world = World(config, renderer)
        self.labeler = Labeler(config, self.world)
        with without_torch():  # the post pipeline (albumentations) is built here
            self.randomize_image = ImageRandomizers(config, renderer)
        gc.collect()  # trimesh's meshes, read for the silhouettes, are reference cycles
        trim_heap()  # what parsing the meshes freed (renderers/memory.py)
        self.timings: dict[str, float] = {}  # seconds of the last image's stages, for benchmarks

    def produce(self, index: int) -> Produced:
        times = self.world.times  # per stage, wall and CPU, for benchmarks/throughput.py
        times.reset()
        with times("sample"):
            sample = sample_scene(self.config, index, self.world.asset_info, self.world.renderer.name)
        with times("pose"):  # includes the world's own "settle" and "aiming"
            self.world.pose(sample)
        with times("draw"):
            render = self.world.render(sample)
        # texture → lighting tint → shading → background, then post; labels come from the final segmentation
        with times("randomize"):
            scene = self.randomize_image.scene(sample, render, self.world.uid_of, self.world.ground)
        with times("post_labels"):  # post, then visibility and boxes
            render, frame = self.randomize_image.post_and_label(self.labeler, sample, scene)
        with times("label_files"):
            files = writers.image_files(self.config, frame)
        w = times.wall
        post = getattr(self.randomize_image, "post_seconds", 0.0)
        self.timings = {"render": w["draw"], "randomize": w["randomize"] + post,
                        "labels": w["post_labels"] - post + w["label_files"]}
        return Produced(render.rgb, image_record(sample, frame.objects), files)

    def produce_files(self, index: int) -> tuple[dict, list[tuple[str, bytes | str]]]:
        """(record, files) of image `index`; a failure names the image and how to reproduce it."""
        try:
            produced = self.produce(index)
            return produced.record, image_files(produced, self.config.output.jpeg_quality)
        except Exception as err:  # the traceback is for --debug
            raise SynthsceneError(failure_message(index, self.config.seed, f"{type(err).__name__}: {err}")) from err

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
    return [files_entry(rec["index"], [rel for rel, _ in files]), *files]


def write_files(out_dir: Path, index: int, files: list[tuple[str, bytes | str]]) -> None:
    """Each file atomically, in order: a record on disk means the image is complete."""
    for rel, data in files:
        try:
            atomic_write(out_dir / rel, data)
        except OSError as err:
            raise SynthsceneError(write_failure(out_dir, index, err)) from err


def write_image(out_dir: Path, produced: Produced, jpeg_quality: int) -> None:
    """Image, label files, then the record (benchmarks: one image without the failure wrapping)."""
    for rel, data in image_files(produced, jpeg_quality):
        atomic_write(out_dir / rel, data)


def produce_and_write(producer: ImageProducer, out_dir: Path, index: int) -> dict:
    """Render image `index` and write its files into `out_dir`; its record."""
    record, files = producer.produce_files(index)
    write_files(out_dir, index, files)
    return record


class Pending:
    """The indices still to send, read lazily from a sequence: a range of a million images is no list."""

    def __init__(self, todo):
        self._todo, self._next = todo, 0

    def __bool__(self) -> bool:
        return self._next < len(self._todo)

    def popleft(self) -> int:
        index = self._todo[self._next]
        self._next += 1
        return index
