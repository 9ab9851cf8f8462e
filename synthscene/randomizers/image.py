"""The image-space randomizers, in their order: texture → lighting tint → shading → background → post.

They act on one render with the sample's draws, so re-running them on the same SceneSample gives
the same image. Each registered randomizer with an `apply` takes part, in IMAGE_ORDER; `worker`
builds its per-worker state (bounded caches, the compiled post pipeline).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from ..renderers.base import RenderOutput
from .base import REGISTRY

#: the image stage's order (docs/RANDOMIZERS.md); post runs last, with the labels (post_and_label)
IMAGE_ORDER = ("texture", "lighting", "shading", "background", "post")


@dataclass
class Pixels:
    """One image on its way through the image stage: what an `apply` reads and replaces."""

    rgb: np.ndarray
    segmentation: np.ndarray
    depth: np.ndarray
    sample: Any = None
    uid_of: Callable | None = None
    ground_uid: int | None = None
    renderer: str | None = None  # the concrete renderer's name (egl | tiny)


class ImageRandomizers:
    def __init__(self, config, renderer: str):
        rnd = config.randomizers
        self.renderer = renderer
        missing = [n for n, r in REGISTRY.items() if r.apply is not None and n not in IMAGE_ORDER]
        if missing:
            raise RuntimeError(f"randomizers {missing} act on pixels but have no place in IMAGE_ORDER")
        self.state = {n: REGISTRY[n].worker(getattr(rnd, n), config.seed) if REGISTRY[n].worker else None
                      for n in IMAGE_ORDER}
        self.post = self.state["post"]
        self.post_seconds = 0.0  # of the last image, for benchmarks

    def scene(self, sample, render: RenderOutput, uid_of, ground_uid: int | None) -> RenderOutput:
        """Texture → lighting tint → shading → background: everything before post-processing."""
        px = Pixels(render.rgb.copy(), render.segmentation, render.depth, sample, uid_of, ground_uid, self.renderer)
        for name in IMAGE_ORDER[:-1]:
            REGISTRY[name].apply(self.state[name], sample.draws[name], px)
        return RenderOutput(px.rgb, px.depth, px.segmentation)

    def post_and_label(self, labeler, sample, scene: RenderOutput):
        """Post-process and measure: (the final image's RenderOutput, its labels Frame).

        Visible boxes and masks always come from the final segmentation. When a geometric
        transform moved the pixels, the measures that need the unmoved geometry (visibility,
        truncation: the silhouettes are rasterised from the poses) are taken before post, and the
        amodal boxes move through albumentations as boxes.
        """
        post, drawn = REGISTRY["post"], sample.draws["post"]
        px = Pixels(scene.rgb, scene.segmentation, scene.depth)
        if not self.post.moves_pixels(drawn):
            t = time.perf_counter()
            post.apply(self.post, drawn, px)
            self.post_seconds = time.perf_counter() - t
            out = RenderOutput(px.rgb, px.depth, px.segmentation)
            return out, labeler(sample, out)
        before = labeler(sample, scene)
        t = time.perf_counter()
        amodal = post.apply(self.post, drawn, px, [o.bbox_amodal_xyxy for o in before.objects])
        self.post_seconds = time.perf_counter() - t
        out = RenderOutput(px.rgb, px.depth, px.segmentation)
        frame = labeler(sample, out)
        frame.objects = [replace(o, visibility=pre.visibility, pixels_unoccluded=pre.pixels_unoccluded,
                                 truncated=pre.truncated, truncation=pre.truncation, bbox_amodal_xyxy=box)
                         for o, pre, box in zip(frame.objects, before.objects, amodal)]
        labeler.refilter(frame)  # kept / dropped again, with the carried measures
        return out, frame
