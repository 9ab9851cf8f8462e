"""Post: a sensor and post-processing pipeline declared in albumentations' own serialised form
(`A.to_dict(transform)`), applied to the image and the instance segmentation together.

Pixel-only transforms leave the segmentation (and so the labels) as it is; geometric ones move
it with the pixels (nearest-neighbour, as a mask) and the labels are computed from the moved
segmentation afterwards, so boxes stay exact. The pipeline's randomness is seeded per image from
the `post` stream.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import field_validator

from ..schema import StrictModel


def build(spec: dict):
    """An albumentations Compose from its serialised form (a bare transform is wrapped)."""
    import albumentations as A

    t = A.from_dict(spec)
    return t if isinstance(t, A.BaseCompose) else A.Compose([t])


class PostConfig(StrictModel):
    enabled: bool = True
    transform: dict[str, Any] | None = None  # A.to_dict(...) output: {"__version__": ..., "transform": {...}}

    @field_validator("transform")
    @classmethod
    def _loads(cls, v):
        if v is None:
            return v
        try:
            build(v)
        except Exception as err:  # albumentations raises many kinds; the message is what matters
            raise ValueError(f"not a valid albumentations pipeline (A.to_dict form): {type(err).__name__}: {err}") from None
        return v


def sample(cfg: PostConfig, rng: np.random.Generator) -> dict:
    if not cfg.enabled or cfg.transform is None:
        return {"applied": False}
    return {"applied": True, "seed": int(rng.integers(2**31))}


class PostProcessor:
    """One worker's compiled pipeline."""

    def __init__(self, cfg: PostConfig):
        self.compose = build(cfg.transform) if cfg.enabled and cfg.transform is not None else None
        if self.compose is not None:
            self.compose.add_targets({"depth": "mask"})

    def __call__(self, drawn: dict, rgb: np.ndarray, segmentation: np.ndarray, depth: np.ndarray):
        """(rgb, segmentation, depth) after the pipeline; segmentation ids survive exactly."""
        if self.compose is None or not drawn.get("applied"):
            return rgb, segmentation, depth
        ids = np.union1d([-1], segmentation)  # index 0 ↔ -1: what geometric fills leave is "nothing"
        compact = np.searchsorted(ids, segmentation).astype(np.uint16)
        self.compose.set_random_seed(drawn["seed"])
        out = self.compose(image=rgb, mask=compact, depth=depth)
        seg = ids[np.clip(out["mask"], 0, len(ids) - 1)].astype(np.int32)
        return np.ascontiguousarray(out["image"]), seg, np.ascontiguousarray(out["depth"], dtype=np.float32)

