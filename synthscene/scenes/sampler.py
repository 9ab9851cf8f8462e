"""sample_scene(config, index): the SceneSample of image `index`, a pure function of its inputs."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import DatasetConfig
from ..randomizers import camera as camera_rnd
from ..randomizers import lighting as lighting_rnd
from ..randomizers import pose as pose_rnd
from ..rng import integer, stream
from .assets import upright
from .sample import CameraSample, ObjectSample, SceneSample


@dataclass(frozen=True)
class AssetInfo:
    """What sampling needs to know of a loaded asset: its size."""

    name: str
    half_extents: tuple[float, float, float]

    @property
    def radius(self) -> float:
        return float(np.linalg.norm(self.half_extents))


def split_of(config: DatasetConfig, index: int) -> str:
    rng = stream(config.seed, index, "split")
    return "val" if rng.random() < config.output.val_fraction else "train"


def choose_targets(config: DatasetConfig, index: int) -> list[tuple[str, int]]:
    """(asset name, copy number) of each target in image `index`, by per-asset count ranges."""
    rng = stream(config.seed, index, "objects")
    chosen = [(a.name, k) for a in config.assets for k in range(integer(rng, a.count))]
    cap = config.scene.max_targets
    if cap is not None and len(chosen) > cap:
        keep = np.sort(rng.choice(len(chosen), size=cap, replace=False))
        chosen = [chosen[i] for i in keep]
    return chosen


def sample_scene(config: DatasetConfig, index: int, assets: dict[str, AssetInfo]) -> SceneSample:
    seed = config.seed
    rnd = config.randomizers
    names = config.class_names
    by_name = {a.name: a for a in config.assets}

    targets = choose_targets(config, index)
    radii = [assets[name].radius for name, _ in targets]
    placed = pose_rnd.sample(rnd.pose, stream(seed, index, "pose"), radii)
    objects = []
    for (name, k), (pos, quat) in zip(targets, placed["poses"]):
        cls = by_name[name].cls
        quat = upright(quat) if by_name[name].upright else quat
        objects.append(ObjectSample(name, k, "target", names.index(cls), cls, pos, quat))

    cam = camera_rnd.sample(rnd.camera, stream(seed, index, "camera"), config.camera.K)
    c = config.camera
    camera = CameraSample(cam["K"], c.width, c.height, c.near, c.far, cam["position"], cam["quaternion"])
    lighting = lighting_rnd.sample(rnd.lighting, stream(seed, index, "lighting"))

    return SceneSample(
        index=index,
        seed=seed,
        split=split_of(config, index),
        camera=camera,
        objects=objects,
        lighting=lighting,
        settle=placed["settle"] and rnd.pose.enabled,
        settle_steps=rnd.pose.settle_steps,
        randomization={
            "pose": {"mode": placed["mode"], "enabled": rnd.pose.enabled},
            "camera": cam["drawn"],
            "lighting": lighting,
        },
    )
