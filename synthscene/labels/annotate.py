"""Measuring one rendered image: a Frame that the annotators fill and the writers read."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..config import DatasetConfig
from ..renderers.base import RenderOutput
from ..scenes.sample import ObjectSample, SceneSample
from .annotators import ANNOTATORS, keep
from .records import ObjectLabel
from ..geometry.silhouettes import SilhouetteMesh, silhouette_mesh


@dataclass
class Frame:
    """One image and what was measured in it. `objects` are the manifest's entries, one per target."""

    config: DatasetConfig
    sample: SceneSample
    render: RenderOutput
    targets: list[ObjectSample]
    meshes: dict[str, SilhouetteMesh]
    body_ids: list[int]
    objects: list[ObjectLabel] = field(default_factory=list)
    instances: np.ndarray | None = None  # (H, W) int32: k = targets[k - 1] visible there, 0 elsewhere
    model_to_camera: list[np.ndarray] = field(default_factory=list)  # 4×4 per target, mesh frame → OpenCV camera

    def mask(self, k: int) -> tuple[np.ndarray, int, int]:
        """Target k's (0-based) visible mask cropped to its box, and the crop's origin (x0, y0)."""
        x0, y0, x1, y1 = self.objects[k].bbox_xyxy
        return (self.instances[y0:y1, x0:x1] == k + 1).view(np.uint8), x0, y0


class Labeler:
    """Runs the annotators on each image of one worker; mesh data is read once, when it starts."""

    def __init__(self, config: DatasetConfig, world):
        self.config = config
        self.world = world
        files: dict = {}  # each mesh file read once, for this start-up only
        self.meshes = {
            a.name: silhouette_mesh(world.client, world.bodies[(a.name, 0)], a.urdf, a.scale, files)
            for a in config.assets
            if (a.name, 0) in world.bodies
        }

    def __call__(self, sample: SceneSample, render: RenderOutput) -> Frame:
        targets = [o for o in sample.objects if o.role == "target"]
        frame = Frame(self.config, sample, render, targets, self.meshes, [self.world.uid_of(o) for o in targets])
        for run in ANNOTATORS.values():
            run(frame)
        return frame

    def refilter(self, frame: Frame) -> None:
        """`kept` / `dropped` again, after measures were carried over from before post-processing."""
        keep(frame)

