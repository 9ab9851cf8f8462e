"""Depth: depth/{split}/NNNNNN.png, 16-bit, millimetres along the optical axis; 0 where nothing was hit
or beyond 65.535 m (BOP's depth convention with depth_scale 1)."""
from __future__ import annotations

import cv2
import numpy as np

from ...core.errors import SynthsceneError
from .base import Writer, register, stem


def depth_png(depth_m: np.ndarray, seg: np.ndarray) -> bytes:
    mm = np.rint(depth_m * 1000.0)
    mm[(seg < 0) | (mm > 65535) | ~np.isfinite(mm)] = 0
    ok, png = cv2.imencode(".png", mm.astype(np.uint16))
    if not ok:  # a real check: an assert vanishes under python -O
        raise SynthsceneError("PNG encoding of the depth image failed")
    return png.tobytes()


@register
class Depth(Writer):
    name = "depth"
    owns = ("depth",)

    def image_files(self, frame):
        split, n = stem(frame)
        return {f"depth/{split}/{n}.png": depth_png(frame.render.depth, frame.render.segmentation)}
