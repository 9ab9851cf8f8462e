"""Writers: how labels are stored, one small module per format, registered under its config name.

A writer turns a measured Frame into per-image files (written by the worker, before the image's
record, so a record on disk means all of its files are complete) and, at the end, assembles its
dataset-wide files from what the workers stored beside the records in OUT/.synthscene/parts/.
Dataset files are rebuilt from those parts on every run, so --workers, --only and --resume give the
same bytes. A new format is a new module here with a @register'ed Writer subclass.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...config import DatasetConfig
    from ..annotate import Frame

from .base import PARTS, WRITERS, Writer, part_file, read_parts, register, stem  # noqa: F401


def image_files(config: "DatasetConfig", frame: "Frame") -> dict[str, bytes | str]:
    files: dict[str, bytes | str] = {}
    for name in config.output.formats:
        files.update(WRITERS[name].image_files(frame))
    return files


def finish(out_dir: Path, config: "DatasetConfig", records: dict[int, dict]) -> None:
    for name in config.output.formats:
        WRITERS[name].finish(out_dir, config, records)


from . import bop, coco, depth, masks, yolo, yolo_seg  # noqa: E402,F401  (each registers itself)

OWNED = tuple(sorted({o for w in WRITERS.values() for o in w.owns}))
