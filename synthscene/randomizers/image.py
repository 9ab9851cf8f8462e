"""The image-space randomizers, in their order: texture → lighting tint → background → post.

They act on one render with the draws recorded in the sample's `randomization`, so re-running
them on the same SceneSample gives the same image. Holds each worker's bounded caches.
"""
from __future__ import annotations

import time

import numpy as np

from ..renderers.pybullet import RenderOutput
from . import background as background_rnd
from . import lighting as lighting_rnd
from . import post as post_rnd
from . import texture as texture_rnd


class ImageRandomizers:
    def __init__(self, config, backend: str):
        rnd = config.randomizers
        self.backend = backend
        self.textures = texture_rnd.TextureBank(rnd.texture, config.seed)
        self.backgrounds = background_rnd.BackgroundBank(rnd.background)
        self.post = post_rnd.PostProcessor(rnd.post)
        self.post_seconds = 0.0  # of the last image, for benchmarks

    def scene(self, sample, render: RenderOutput, uid_of, ground_uid: int | None) -> RenderOutput:
        """Texture → lighting tint → background: everything before post-processing."""
        drawn = sample.randomization
        rgb, seg, depth = render.rgb.copy(), render.segmentation, render.depth
        self._texture(drawn.get("texture"), sample, rgb, seg, depth, uid_of, ground_uid)
        rgb = lighting_rnd.apply_tint(rgb, seg, sample.lighting, self.backend)
        bg = drawn.get("background") or {"source": "scene"}
        back = self.backgrounds.render(bg, *rgb.shape[:2])
        if back is not None:
            fg = background_rnd.foreground(seg, ground_uid, bg.get("ground", False))
            rgb = background_rnd.composite(rgb, back, fg)
        return RenderOutput(rgb, depth, seg)

    def post_and_label(self, labeler, sample, scene: RenderOutput):
        """Post-process and measure: (the final image's RenderOutput, its labels Frame).

        Visible boxes and masks always come from the final segmentation. When a geometric
        transform moved the pixels, the measures that need the unmoved geometry (visibility,
        truncation: the silhouettes are rasterised from the poses) are taken before post, and the
        amodal boxes move through albumentations as boxes.
        """
        from ..labels.annotators import ANNOTATORS

        drawn = sample.randomization.get("post") or {}
        if not self.post.moves_pixels(drawn):
            t = time.perf_counter()
            rgb, seg, depth, _ = self.post(drawn, scene.rgb, scene.segmentation, scene.depth)
            self.post_seconds = time.perf_counter() - t
            out = RenderOutput(rgb, depth, seg)
            return out, labeler(sample, out)
        before = labeler(sample, scene)
        t = time.perf_counter()
        rgb, seg, depth, amodal = self.post(drawn, scene.rgb, scene.segmentation, scene.depth,
                                            [r["bbox_amodal_xyxy"] for r in before.objects])
        self.post_seconds = time.perf_counter() - t
        out = RenderOutput(rgb, depth, seg)
        frame = labeler(sample, out)
        carried = ("visibility", "pixels_unoccluded", "truncated", "truncation")
        for rec, pre, box in zip(frame.objects, before.objects, amodal):
            rec.update({k: pre.get(k) for k in carried}, bbox_amodal_xyxy=box)
        ANNOTATORS["filter"](frame)  # kept / dropped again, with the carried measures
        return out, frame

    def _texture(self, drawn, sample, rgb, seg, depth, uid_of, ground_uid) -> None:
        if not drawn:
            return
        jobs = []  # (mask, texture, frame)
        if drawn.get("ground") and ground_uid is not None:
            jobs.append((seg == ground_uid, drawn["ground"], None))
        for obj, tex in zip(sample.objects, drawn["objects"]):
            if tex is not None:
                jobs.append((seg == uid_of(obj), tex, (obj.position, obj.quaternion)))
        for mask, tex, frame in jobs:
            texture_rnd.texture_pixels(rgb, mask, depth, sample.camera, self.textures.tile(tex), tex, frame)
        for obj, jit in zip(sample.objects, drawn["jitter"]):
            if jit is not None:
                texture_rnd.jitter_pixels(rgb, seg == uid_of(obj), jit)
