"""YOLO segment (Ultralytics): segment/labels/{split}/NNNNNN.txt, "class x1 y1 x2 y2 ..." normalised.

One polygon per object, as Ultralytics wants: the outlines of every part and every hole of the
visible mask, joined by zero-width bridges (Ultralytics' own merge_multi_segment), so that an
even-odd fill of the polygon, which is how Ultralytics rasterises it, gives back the mask.
`segment/` is a dataset root of its own (its data.yaml; segment/images/{split}/ holds a relative
symlink per image), since Ultralytics finds labels by replacing /images/ with /labels/ in image
paths and resolves the folders in data.yaml (a symlinked folder would lead it to the detect labels).
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from ...core.files import atomic_write
from ..yolo import data_yaml
from .base import Writer, register, stem

ROOT = "segment"


def polygon(mask: np.ndarray, x0: int = 0, y0: int = 0) -> np.ndarray | None:
    """One (N, 2) polygon in pixel coordinates (pixel centres at i + 0.5) covering a binary mask."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    parts = [c.reshape(-1, 2).astype(float) for c in contours if len(c) >= 1]
    if not parts:
        return None
    from ultralytics.data.converter import merge_multi_segment  # lazy: it imports torch

    pts = np.concatenate(merge_multi_segment(parts)) if len(parts) > 1 else parts[0]
    if len(pts) < 3:  # a one- or two-pixel-wide sliver: repeat points to make a valid polygon
        pts = np.concatenate([pts, pts[::-1], pts])[:3]
    return pts + (x0 + 0.5, y0 + 0.5)


def segment_lines(frame) -> str:
    cam = frame.sample.camera
    lines = []
    for k, o in enumerate(frame.objects):
        if not o.kept:
            continue
        mask, x0, y0 = frame.mask(k)
        pts = polygon(mask, x0, y0)
        if pts is None:
            continue
        xy = np.clip(pts / (cam.width, cam.height), 0, 1).reshape(-1)
        lines.append(f"{o.class_id} " + " ".join(f"{v:.6f}" for v in xy))
    return "".join(line + "\n" for line in lines)


@register
class YoloSegment(Writer):
    name = "yolo_seg"
    owns = (ROOT,)

    def image_files(self, frame):
        split, n = stem(frame)
        return {f"{ROOT}/labels/{split}/{n}.txt": segment_lines(frame)}

    def finish(self, out_dir: Path, config, records) -> None:
        root = out_dir / ROOT
        for split in ("train", "val"):
            (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for rec in records.values():
            link = root / rec["file"]
            if not link.is_symlink():
                link.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(os.path.join("..", "..", "..", rec["file"]), link)
        for split in ("train", "val"):
            (root / "images" / split).mkdir(parents=True, exist_ok=True)
        atomic_write(root / "data.yaml", data_yaml(root, config.class_names))
