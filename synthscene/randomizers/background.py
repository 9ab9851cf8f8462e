"""Background: a photograph from a folder, a procedural pattern, or the rendered scene itself,
composited behind everything using the instance segmentation.

The composite is a hard per-pixel choice between the render and the background, taken from the
same render's segmentation: PyBullet does not anti-alias, so an object's edge pixels are the
object's own colour and there is no seam or halo of the clear colour to hide. Optionally the
ground plane counts as background too (with a probability), so objects float on the photograph.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np
from pydantic import Field

from ..core.schema import Range, StrictModel
from .base import Context, Draw, Randomizer, register
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


@dataclass(frozen=True)
class BackgroundDraw(Draw):
    """`source` image (a crop of photo `image`), procedural (`kind`, `pattern_seed`) or scene;
    `ground`: the ground plane is replaced too."""

    source: str = "scene"
    ground: bool = False
    image: int | None = None
    scale: float | None = None
    x: float | None = None
    y: float | None = None
    flip: bool | None = None
    kind: str | None = None
    pattern_seed: int | None = None

    def to_record(self) -> dict:
        keys = {"image": ("image", "scale", "x", "y", "flip"), "procedural": ("kind", "pattern_seed")}.get(self.source, ())
        return {"source": self.source, "ground": self.ground, **{k: getattr(self, k) for k in keys}}


def sample(cfg: BackgroundConfig, rng: np.random.Generator, ctx: Context | None = None) -> BackgroundDraw:
    return draw(cfg, rng, len(images_in(cfg.folder)) if cfg.enabled and cfg.folder else 0)


def draw(cfg: BackgroundConfig, rng: np.random.Generator, n_images: int) -> BackgroundDraw:
    if not cfg.enabled:
        return BackgroundDraw()
    w = cfg.weights
    weights = np.array([w.images if n_images else 0.0, w.procedural, w.scene])
    if weights.sum() <= 0:
        return BackgroundDraw()
    source = ("image", "procedural", "scene")[int(rng.choice(3, p=weights / weights.sum()))]
    ground = bool(rng.random() < cfg.ground_probability)
    if source == "image":
        return BackgroundDraw(source, ground, image=int(rng.integers(n_images)), scale=float(rng.uniform(*cfg.crop_scale)),
                              x=float(rng.random()), y=float(rng.random()), flip=bool(rng.random() < 0.5))
    if source == "procedural":
        return BackgroundDraw(source, ground, kind=cfg.kinds[int(rng.integers(len(cfg.kinds)))],
                              pattern_seed=int(rng.integers(2**31)))
    return BackgroundDraw(source, ground)


class BackgroundBank:
    """Per-worker cache of decoded photographs, bounded by their bytes: a photo of 1024 × 683 is
    2 MB decoded, so a folder of 37 (the interiors) grew each worker by ~74 MB as images went by.
    Decoding one again costs ~6 ms; the cache only saves time, the pixels are the same."""

    def __init__(self, cfg: BackgroundConfig, max_bytes: int = 24 * 2**20):
        self.files = images_in(cfg.folder) if cfg.folder else ()
        self.max_bytes = max_bytes
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    def photo(self, k: int) -> np.ndarray:
        if k in self._cache:
            self._cache.move_to_end(k)
            return self._cache[k]
        img = cv2.imread(self.files[k], cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"background image cannot be read: {self.files[k]}")
        self._cache[k] = img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        while len(self._cache) > 1 and sum(a.nbytes for a in self._cache.values()) > self.max_bytes:
            self._cache.popitem(last=False)  # the least recently used; the newest always stays
        return img

    def render(self, drawn: BackgroundDraw, height: int, width: int) -> np.ndarray | None:
        """The (H, W, 3) background the draw describes, or None for the rendered scene."""
        if drawn.source == "procedural":
            return pattern(drawn.kind, np.random.Generator(np.random.PCG64(drawn.pattern_seed)), height, width)
        if drawn.source != "image":
            return None
        img = self.photo(drawn.image)
        ih, iw = img.shape[:2]
        full = min(iw / width, ih / height)  # the largest crop with the output's aspect
        cw, ch = width * full * drawn.scale, height * full * drawn.scale
        x0, y0 = drawn.x * (iw - cw), drawn.y * (ih - ch)
        crop = img[int(y0):int(y0 + ch), int(x0):int(x0 + cw)]
        crop = cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)
        return crop[:, ::-1] if drawn.flip else crop


def foreground(segmentation: np.ndarray, ground_uid: int | None, ground_is_background: bool) -> np.ndarray:
    fg = segmentation >= 0
    if ground_is_background and ground_uid is not None:
        fg &= segmentation != ground_uid
    return fg


def composite(rgb: np.ndarray, background: np.ndarray, fg: np.ndarray) -> np.ndarray:
    out = np.array(background, copy=True)
    cv2.copyTo(rgb, fg.view(np.uint8), out)
    return out


def apply(bank: BackgroundBank, drawn: BackgroundDraw, px) -> None:
    """Image stage: the background behind the scene (and the ground, when drawn so)."""
    back = bank.render(drawn, *px.rgb.shape[:2])
    if back is not None:
        px.rgb = composite(px.rgb, back, foreground(px.segmentation, px.ground_uid, drawn.ground))


RANDOMIZER = register(Randomizer("background", BackgroundConfig, BackgroundConfig(enabled=False), sample, apply,
                                 worker=lambda cfg, seed: BackgroundBank(cfg)))
