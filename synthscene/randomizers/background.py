"""Background: a photograph from a folder, a procedural pattern, or the rendered scene itself,
composited behind everything using the instance segmentation.

The composite is a hard per-pixel choice between the render and the background, taken from the
same render's segmentation: PyBullet does not anti-alias, so an object's edge pixels are the
object's own colour and there is no seam or halo of the clear colour to hide. Optionally the
ground plane counts as background too (with a probability), so objects float on the photograph.
"""
from __future__ import annotations

from collections import OrderedDict

import cv2
import numpy as np
from pydantic import Field

from ..schema import Range, StrictModel
from .paths import ImageDir, images_in
from .procedural import KINDS, pattern
from .texture import Kind


class SourceWeights(StrictModel):
    images: float = Field(1.0, ge=0, le=1e6)  # bounded: their sum must stay finite
    procedural: float = Field(1.0, ge=0, le=1e6)
    scene: float = Field(1.0, ge=0, le=1e6)  # keep what was rendered (sky and ground)


class BackgroundConfig(StrictModel):
    enabled: bool = True
    folder: ImageDir | None = None  # photographs (jpg/png), read in place
    weights: SourceWeights = SourceWeights()
    kinds: list[Kind] = Field(list(KINDS), min_length=1)
    ground_probability: float = Field(0.0, ge=0, le=1)  # the ground plane is replaced too
    crop_scale: Range = (0.5, 1.0)  # crop side as a fraction of the largest crop of the image's aspect


def sample(cfg: BackgroundConfig, rng: np.random.Generator, n_images: int) -> dict:
    if not cfg.enabled:
        return {"source": "scene", "ground": False}
    w = cfg.weights
    weights = np.array([w.images if n_images else 0.0, w.procedural, w.scene])
    if weights.sum() <= 0:
        return {"source": "scene", "ground": False}
    source = ("image", "procedural", "scene")[int(rng.choice(3, p=weights / weights.sum()))]
    out = {"source": source, "ground": bool(rng.random() < cfg.ground_probability)}
    if source == "image":
        out.update(image=int(rng.integers(n_images)), scale=float(rng.uniform(*cfg.crop_scale)),
                   x=float(rng.random()), y=float(rng.random()), flip=bool(rng.random() < 0.5))
    elif source == "procedural":
        out.update(kind=cfg.kinds[int(rng.integers(len(cfg.kinds)))], pattern_seed=int(rng.integers(2**31)))
    return out


class BackgroundBank:
    """Per-worker, bounded cache of decoded photographs."""

    def __init__(self, cfg: BackgroundConfig, capacity: int = 48):
        self.files = images_in(cfg.folder) if cfg.folder else ()
        self.capacity = capacity
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    def photo(self, k: int) -> np.ndarray:
        if k in self._cache:
            self._cache.move_to_end(k)
            return self._cache[k]
        img = cv2.imread(self.files[k], cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"background image cannot be read: {self.files[k]}")
        self._cache[k] = img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        if len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        return img

    def render(self, drawn: dict, height: int, width: int) -> np.ndarray | None:
        """The (H, W, 3) background the draw describes, or None for the rendered scene."""
        if drawn["source"] == "procedural":
            return pattern(drawn["kind"], np.random.Generator(np.random.PCG64(drawn["pattern_seed"])), height, width)
        if drawn["source"] != "image":
            return None
        img = self.photo(drawn["image"])
        ih, iw = img.shape[:2]
        full = min(iw / width, ih / height)  # the largest crop with the output's aspect
        cw, ch = width * full * drawn["scale"], height * full * drawn["scale"]
        x0, y0 = drawn["x"] * (iw - cw), drawn["y"] * (ih - ch)
        crop = img[int(y0):int(y0 + ch), int(x0):int(x0 + cw)]
        crop = cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)
        return crop[:, ::-1] if drawn["flip"] else crop


def foreground(segmentation: np.ndarray, ground_uid: int | None, ground_is_background: bool) -> np.ndarray:
    fg = segmentation >= 0
    if ground_is_background and ground_uid is not None:
        fg &= segmentation != ground_uid
    return fg


def composite(rgb: np.ndarray, background: np.ndarray, fg: np.ndarray) -> np.ndarray:
    out = np.array(background, copy=True)
    cv2.copyTo(rgb, fg.view(np.uint8), out)
    return out
