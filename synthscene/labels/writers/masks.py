"""Instance masks: masks/{split}/NNNNNN.png, 16-bit; pixel value k ≥ 1 = the k-th entry of the image's
manifest `objects` (kept or not) is visible there, 0 = no target (background, ground, distractors)."""
from __future__ import annotations

import cv2
import numpy as np

from ...core.errors import SynthsceneError
from .base import Writer, register, stem


@register
class Masks(Writer):
    name = "masks"
    owns = ("masks",)

    def image_files(self, frame):
        split, n = stem(frame)
        ok, png = cv2.imencode(".png", frame.instances.astype(np.uint16))
        if not ok:  # a real check: an assert vanishes under python -O
            raise SynthsceneError(f"PNG encoding of the instance mask of image {frame.sample.index} failed")
        return {f"masks/{split}/{n}.png": png.tobytes()}
