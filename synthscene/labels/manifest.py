"""The per-image manifest record (DESIGN: manifest.jsonl) and the manifest file built from records."""
from __future__ import annotations

import json
from pathlib import Path

from ..scenes.sample import SceneSample
from ..core.files import atomic_write
from .records import ObjectLabel


def image_file(index: int, split: str) -> str:
    return f"images/{split}/{index:06d}.jpg"


def label_file(index: int, split: str) -> str:
    return f"labels/{split}/{index:06d}.txt"


def image_record(sample: SceneSample, objects: list[ObjectLabel]) -> dict:
    cam = sample.camera
    return {
        "index": sample.index,
        "file": image_file(sample.index, sample.split),
        "split": sample.split,
        "seed": sample.seed,
        "width": cam.width,
        "height": cam.height,
        "camera": {"K": cam.K, "pose": {"position": cam.position, "quaternion": cam.quaternion}},
        "objects": [o.to_record() for o in objects],
        "randomization": sample.randomization,
    }


def dumps(record: dict) -> str:
    """The canonical one-line form: the same record always gives the same bytes."""
    return json.dumps(record, sort_keys=False, separators=(", ", ": "))


def write_manifest(out_dir: Path, records: list[dict]) -> None:
    records = sorted(records, key=lambda r: r["index"])
    atomic_write(out_dir / "manifest.jsonl", "".join(dumps(r) + "\n" for r in records))
