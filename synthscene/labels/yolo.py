"""YOLO writers: detect label files ("class cx cy w h", normalised) and Ultralytics' data.yaml."""
from __future__ import annotations

from pathlib import Path

import yaml


def detect_lines(objects: list[dict], width: int, height: int) -> str:
    """One line per kept object with a visible box."""
    lines = []
    for o in objects:
        if not o.get("kept") or o.get("bbox_xyxy") is None:
            continue
        x0, y0, x1, y1 = o["bbox_xyxy"]
        cx, cy = (x0 + x1) / 2 / width, (y0 + y1) / 2 / height
        w, h = (x1 - x0) / width, (y1 - y0) / height
        lines.append(f"{o['class_id']} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
    return "".join(line + "\n" for line in lines)


def data_yaml(out_dir: str | Path, names: list[str]) -> str:
    """Loadable by Ultralytics as is: an absolute `path` (a relative one resolves against its datasets dir)."""
    doc = {
        "path": str(Path(out_dir).resolve()),
        "train": "images/train",
        "val": "images/val",
        "names": {i: n for i, n in enumerate(names)},
    }
    return yaml.safe_dump(doc, sort_keys=False)
