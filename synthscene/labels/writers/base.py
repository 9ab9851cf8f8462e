"""The writer registry and the helpers writers share (a leaf of the writers package: each writer
module registers itself here, the package's __init__ imports them all)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from ...core.formats import FORMATS

if TYPE_CHECKING:
    from ...config import DatasetConfig
    from ..annotate import Frame

PARTS = ".synthscene/parts"


class Writer:
    name: str = ""
    owns: tuple[str, ...] = ()  # top-level names it writes under OUT/ (what --overwrite clears)

    def image_files(self, frame: "Frame") -> dict[str, bytes | str]:
        """Relative path → content of this image's files."""
        return {}

    def finish(self, out_dir: Path, config: "DatasetConfig", records: dict[int, dict]) -> None:
        """Dataset-wide files from the records (index → manifest record) of every finished image."""


WRITERS: dict[str, Writer] = {}


def register(cls: type[Writer]) -> type[Writer]:
    if cls.name not in FORMATS:
        raise ValueError(f"writer {cls.name!r}: add its name to core/formats.py FORMATS (what configs may name)")
    WRITERS[cls.name] = cls()
    return cls


def part_file(name: str, index: int) -> str:
    return f"{PARTS}/{name}/{index:06d}.json"


def read_parts(out_dir: Path, name: str, indices) -> dict[int, dict]:
    return {i: json.loads((out_dir / part_file(name, i)).read_text()) for i in sorted(indices)}


def stem(frame: "Frame") -> tuple[str, str]:
    """(split, zero-padded index) of the frame's image, as its files are named."""
    return frame.sample.split, f"{frame.sample.index:06d}"


