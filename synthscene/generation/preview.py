"""Contact sheets: generated images with their boxes, class names and visibility drawn."""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from ..config import DatasetConfig
from ..core.files import atomic_write, check_out_file
from ..labels.records import ObjectLabel
from ..renderers.pybullet import resolve_renderer

_TILE_W = 320


def _palette(k: int) -> tuple[int, int, int]:
    hue = (k * 47) % 180
    bgr = cv2.cvtColor(np.uint8([[[hue, 220, 255]]]), cv2.COLOR_HSV2BGR)[0, 0]
    return tuple(int(x) for x in bgr)


def draw_labels(image_rgb: np.ndarray, objects: list[ObjectLabel]) -> np.ndarray:
    """BGR image with each object's visible box; dashed and grey when it was filtered out."""
    img = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
    for o in objects:
        if o.bbox_xyxy is None:
            continue
        x0, y0, x1, y1 = o.bbox_xyxy
        color = _palette(o.class_id) if o.kept else (128, 128, 128)
        cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), color, 2 if o.kept else 1)
        text = o.class_name
        if o.visibility is not None:
            text += f" {o.visibility:.2f}"
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        ty = max(y0, th + 4)
        cv2.rectangle(img, (x0, ty - th - 4), (x0 + tw + 2, ty), color, -1)
        cv2.putText(img, text, (x0 + 1, ty - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def contact_sheet(tiles: list[np.ndarray], columns: int = 4) -> np.ndarray:
    h0, w0 = tiles[0].shape[:2]
    th = round(h0 * _TILE_W / w0)
    tiles = [cv2.resize(t, (_TILE_W, th), interpolation=cv2.INTER_AREA) for t in tiles]
    cols = min(columns, len(tiles))
    rows = math.ceil(len(tiles) / cols)
    sheet = np.full((rows * th, cols * _TILE_W, 3), 255, np.uint8)
    for k, t in enumerate(tiles):
        r, c = divmod(k, cols)
        sheet[r * th:(r + 1) * th, c * _TILE_W:(c + 1) * _TILE_W] = t
    return sheet


def photo_sheet(images: list[Path], boxes: np.ndarray, names: dict[int, str], count: int = 24,
                columns: int = 6) -> tuple[np.ndarray, list[int]] | None:
    """A contact sheet of labelled photos (a gold set), drawn as `preview` draws renders: up to `count`
    photos, evenly spaced, with their boxes and class names. `boxes` rows are (image number, class id,
    cx, cy, w, h), normalised (YOLO). Returns the sheet (BGR) and the image numbers drawn; None when
    no photo could be read."""
    n = len(images)
    picks = sorted(set(np.linspace(0, n - 1, min(count, n)).round().astype(int).tolist())) if n else []
    tiles, drawn = [], []
    for k in picks:
        bgr = cv2.imread(str(images[k]), cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        h, w = bgr.shape[:2]
        objects = []
        for _, c, cx, cy, bw, bh in boxes[boxes[:, 0] == k] if len(boxes) else []:
            x0, y0 = round((cx - bw / 2) * w), round((cy - bh / 2) * h)
            x1, y1 = round((cx + bw / 2) * w), round((cy + bh / 2) * h)
            objects.append(ObjectLabel(int(c), names.get(int(c), str(int(c))), "", [x0, y0, x1, y1], kept=True))
        tiles.append(draw_labels(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), objects))
        drawn.append(k)
    return (contact_sheet(tiles, columns), drawn) if tiles else None


def preview(config: DatasetConfig, out: str | Path, count: int = 16, overwrite: bool = False) -> Path:
    """Render images 0..count-1 exactly as `generate` would and draw their labels on a sheet."""
    from ..core.errors import BadInput
    from .pipeline import ImageProducer
    from ..assets.prepare import prepare

    out = check_out_file(out, overwrite)
    config = prepare(config)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise BadInput(f"the number of images to preview must be at least 1, got {count!r}", None, "--count")
    producer = ImageProducer(config, resolve_renderer(config.renderer.backend))
    try:
        tiles = []
        for i in range(min(count, config.count)):
            produced = producer.produce(i)
            tiles.append(draw_labels(produced.image, [ObjectLabel.from_record(o) for o in produced.record["objects"]]))
    finally:
        producer.close()
    ok, png = cv2.imencode(".png", contact_sheet(tiles))
    atomic_write(out, png.tobytes())
    return out
