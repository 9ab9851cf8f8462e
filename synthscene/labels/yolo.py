"""YOLO writers: detect label files ("class cx cy w h", normalised) and Ultralytics' data.yaml."""
from __future__ import annotations

from pathlib import Path

import yaml

from .records import ObjectLabel


def detect_lines(objects: list[ObjectLabel], width: int, height: int) -> str:
    """One line per kept object with a visible box."""
    lines = []
    for o in objects:
        if not o.kept or o.bbox_xyxy is None:
            continue
        x0, y0, x1, y1 = o.bbox_xyxy
        cx, cy = (x0 + x1) / 2 / width, (y0 + y1) / 2 / height
        w, h = (x1 - x0) / width, (y1 - y0) / height
        lines.append(f"{o.class_id} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
    return "".join(line + "\n" for line in lines)


def data_yaml(out_dir: str | Path, names: list[str]) -> str:
    """Loadable by Ultralytics as is: an absolute `path` (a relative one resolves against the working
    or datasets dir). A moved copy's `path` names the old place: synthscene reads it with dataset_root."""
    doc = {
        "path": str(Path(out_dir).resolve()),
        "train": "images/train",
        "val": "images/val",
        "names": {i: n for i, n in enumerate(names)},
    }
    return yaml.safe_dump(doc, sort_keys=False)


def dataset_root(yaml_file: str | Path, doc: dict) -> Path:
    """The folder a data.yaml's relative `train`/`val` are read from: the data.yaml's own folder when they
    are there (a copied or moved dataset, whose absolute `path` still names where it was written), else
    its `path` (a relative one taken from the data.yaml's folder, as a gold set's `path: .` means it).
    """
    folder = Path(yaml_file).resolve().parent
    declared = Path(str(doc.get("path") or "."))
    declared = declared if declared.is_absolute() else (folder / declared).resolve()
    relative = [str(e) for k in ("train", "val") for e in _entries(doc.get(k)) if not Path(str(e)).is_absolute()]
    if declared != folder and (not declared.exists() or relative and all((folder / e).exists() for e in relative)):
        return folder
    return declared


def _entries(value) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]
