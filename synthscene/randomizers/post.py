"""Post: a sensor and post-processing pipeline declared in albumentations' own serialised form
(`A.to_dict(transform)`), applied to the image and the instance segmentation together.

Pixel-only transforms leave the segmentation (and so the labels) as it is; geometric ones move
it with the pixels (nearest-neighbour, as a mask) and the labels are computed from the moved
segmentation afterwards, so boxes stay exact. The pipeline's randomness is seeded per image from
the `post` stream.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import field_validator

from ..core.schema import MAX_TRANSFORM_NODES, StrictModel
from .base import Context, Draw, Randomizer, register


def build(spec: dict):
    """An albumentations Compose from its serialised form (a bare transform is wrapped)."""
    import albumentations as A

    t = A.from_dict(spec)
    return t if isinstance(t, A.BaseCompose) else A.Compose([t])


#: the keys of `A.to_dict(...)` output; anything else would be kept (and saved, hashed) but unused
SPEC_KEYS = {"__version__", "transform"}


def _budget_left(value: Any, budget: int) -> int:
    """What is left of `budget` after counting the values nested in `value` (below 0: too many).
    Shared sub-values count each time, as they would once saved, and counting stops early.
    NaN and infinity are refused here too: albumentations lets some through."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value} is not a finite number")
    budget -= 1
    children = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    for child in children:
        if budget < 0:
            break
        budget = _budget_left(child, budget)
    return budget


class PostConfig(StrictModel):
    enabled: bool = True
    transform: dict[str, Any] | None = None  # A.to_dict(...) output: {"__version__": ..., "transform": {...}}

    @field_validator("transform")
    @classmethod
    def _loads(cls, v):
        if v is None:
            return v
        extra = sorted(set(map(str, v)) - SPEC_KEYS)
        if extra:
            raise ValueError(f"unknown keys {extra}: albumentations' serialised form (A.to_dict) has only "
                             f"{sorted(SPEC_KEYS)}")
        if _budget_left(v, MAX_TRANSFORM_NODES) < 0:
            raise ValueError(f"more than {MAX_TRANSFORM_NODES:,} values: not a post-processing pipeline")
        try:
            with warnings.catch_warnings():  # albumentations only warns about a transform's unknown arguments
                warnings.filterwarnings("error", message=r"Argument\(s\) .* are not valid")
                build(v)
        except Exception as err:  # albumentations raises many kinds; the message is what matters
            raise ValueError(f"not a valid albumentations pipeline (A.to_dict form): {type(err).__name__}: {err}") from None
        return v


@dataclass(frozen=True)
class PostDraw(Draw):
    """Whether the pipeline runs on this image, and the seed of its randomness."""

    applied: bool = False
    seed: int | None = None

    def to_record(self) -> dict:
        return {"applied": True, "seed": self.seed} if self.applied else {"applied": False}


def sample(cfg: PostConfig, rng: np.random.Generator, ctx: Context | None = None) -> PostDraw:
    if not cfg.enabled or cfg.transform is None:
        return PostDraw()
    return PostDraw(True, int(rng.integers(2**31)))


class PostProcessor:
    """One worker's compiled pipeline."""

    def __init__(self, cfg: PostConfig):
        import albumentations as A

        self.compose = build(cfg.transform) if cfg.enabled and cfg.transform is not None else None
        self.geometric = False
        if self.compose is not None:
            self.compose.add_targets({"depth": "mask"})
            # Pixel-only pipelines never move a pixel: the segmentation need not go through them.
            self.geometric = any(isinstance(t, A.DualTransform) for t in _leaves(self.compose))
        if self.geometric:  # boxes (the amodal ones) ride along as boxes
            self.compose = A.Compose(list(self.compose.transforms), p=self.compose.p, bbox_params=A.BboxParams(
                format="pascal_voc", label_fields=["box_index"], clip=True, min_area=0.0, min_visibility=0.0))
            self.compose.add_targets({"depth": "mask"})

    def moves_pixels(self, drawn: PostDraw) -> bool:
        return self.compose is not None and self.geometric and drawn.applied

    def __call__(self, drawn: PostDraw, rgb: np.ndarray, segmentation: np.ndarray, depth: np.ndarray, boxes=None):
        """(rgb, segmentation, depth, boxes) after the pipeline; segmentation ids survive exactly, and
        `boxes` ([x0, y0, x1, y1] or None each) move as boxes (None once they leave the image)."""
        if self.compose is None or not drawn.applied:
            return rgb, segmentation, depth, boxes
        self.compose.set_random_seed(drawn.seed)
        if not self.geometric:
            return np.ascontiguousarray(self.compose(image=rgb)["image"]), segmentation, depth, boxes
        # Body ids are small non-negative ints: a lookup table packs them into uint16 labels, with
        # 0 ↔ -1 so that what a geometric transform fills in reads as "nothing".
        ids = np.flatnonzero(np.bincount(segmentation.ravel() + 1)) - 1
        ids = ids if ids[0] == -1 else np.concatenate([[-1], ids])
        lut = np.zeros(int(ids[-1]) + 2, np.uint16)
        lut[ids + 1] = np.arange(len(ids), dtype=np.uint16)
        compact = lut[segmentation + 1]
        boxes = list(boxes or [])
        given = [k for k, b in enumerate(boxes) if b is not None and b[2] > b[0] and b[3] > b[1]]
        out = self.compose(image=rgb, mask=compact, depth=depth, box_index=given,
                           bboxes=np.array([boxes[k] for k in given], float).reshape(-1, 4))
        seg = ids[np.clip(out["mask"], 0, len(ids) - 1)].astype(np.int32)
        moved: list = [None] * len(boxes)
        for k, b in zip(out["box_index"], out["bboxes"]):
            moved[int(k)] = [int(round(float(v))) for v in b]
        return (np.ascontiguousarray(out["image"]), seg, np.ascontiguousarray(out["depth"], dtype=np.float32), moved)



def _leaves(t):
    """Every transform inside a (nested) compose."""
    children = getattr(t, "transforms", None)
    if children is None:
        yield t
        return
    for c in children:
        yield from _leaves(c)


def apply(processor: PostProcessor, drawn: PostDraw, px, boxes=None):
    """Image stage, last: the pipeline on the pixels, segmentation and depth (and `boxes`, which
    move with a geometric pipeline); the boxes after it."""
    px.rgb, px.segmentation, px.depth, boxes = processor(drawn, px.rgb, px.segmentation, px.depth, boxes)
    return boxes


RANDOMIZER = register(Randomizer("post", PostConfig, PostConfig(), sample, apply,
                                 worker=lambda cfg, seed: PostProcessor(cfg)))
