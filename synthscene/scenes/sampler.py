"""sample_scene(config, index): the SceneSample of image `index`, a pure function of its inputs."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from ..config import DatasetConfig
from ..randomizers import background as background_rnd
from ..randomizers import camera as camera_rnd
from ..randomizers import lighting as lighting_rnd
from ..randomizers import occlusion as occlusion_rnd
from ..randomizers import pose as pose_rnd
from ..randomizers import post as post_rnd
from ..randomizers import texture as texture_rnd
from ..randomizers.paths import images_in
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


def sample_scene(config: DatasetConfig, index: int, assets: dict[str, AssetInfo], backend: str | None = None) -> SceneSample:
    seed = config.seed
    rnd = config.randomizers
    names = config.class_names
    by_name = {a.name: a for a in config.assets}

    targets = choose_targets(config, index)
    radii = [assets[name].radius for name, _ in targets]
    constraints = [config.pose_constraint(by_name[name]) for name, _ in targets]
    placed = pose_rnd.sample(rnd.pose, stream(seed, index, "pose"), radii, constraints=constraints)
    objects = []
    for (name, k), (pos, quat) in zip(targets, placed["poses"]):
        cls = by_name[name].cls
        quat = upright(quat) if by_name[name].upright else quat
        objects.append(ObjectSample(name, k, "target", names.index(cls), cls, pos, quat))
    occ = _occlusion(config, index, assets, objects, radii)
    objects += occ.pop("objects")

    mean_radius = float(np.mean(radii)) if radii else None
    targets_xy = np.mean([o.position[:2] for o in objects[: len(targets)]], axis=0) if targets else None
    cam = camera_rnd.sample(rnd.camera, stream(seed, index, "camera"), config.camera.K, mean_radius, targets_xy)
    c = config.camera
    camera = CameraSample(cam["K"], c.width, c.height, c.near, c.far, cam["position"], cam["quaternion"])
    lighting = lighting_rnd.sample(rnd.lighting, stream(seed, index, "lighting"))
    n_tex = len(texture_rnd.image_pool(rnd.texture, seed)) if rnd.texture.enabled else 0
    texture = texture_rnd.sample(rnd.texture, stream(seed, index, "texture"), [o.role for o in objects], n_tex)
    n_bg = len(images_in(rnd.background.folder)) if rnd.background.enabled and rnd.background.folder else 0
    background = background_rnd.sample(rnd.background, stream(seed, index, "background"), n_bg)
    post = post_rnd.sample(rnd.post, stream(seed, index, "post"))

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
            "pose": placed["drawn"],
            "camera": cam["drawn"],
            "lighting": {**lighting, "applied": lighting_rnd.applied(backend) if backend else None},
            "occlusion": occ,
            "texture": texture,
            "background": background,
            "post": post,
        },
    )


def _occlusion(config: DatasetConfig, index: int, assets: dict[str, AssetInfo], targets: list[ObjectSample],
               radii: list[float]) -> dict:
    """Distractors (dropped with the targets, clear of them) and occluders (aimed, placed after settling)."""
    cfg = config.randomizers.occlusion
    pool_size = sum(1 for name in assets if name.startswith(occlusion_rnd.POOL_PREFIX))
    rng = stream(config.seed, index, "occlusion")
    drawn = occlusion_rnd.sample(cfg, rng, pool_size, len(targets))
    names = [occlusion_rnd.pool_name(m) for m in drawn["distractors"]]
    taken = [(t.position, r) for t, r in zip(targets, radii)]
    where = occlusion_rnd.place_distractors(rng, config.randomizers.pose.volume, [assets[n].radius for n in names], taken)
    objects = [ObjectSample(n, 0, "distractor", None, None, pos, Rotation.random(random_state=rng).as_quat().tolist())
               for n, pos in zip(names, where)]
    for aim in drawn["occluders"]:
        objects.append(ObjectSample(occlusion_rnd.pool_name(aim["member"]), 0, "occluder", None, None,
                                    [0.0, 0.0, 0.0], aim["quaternion"], aim=aim))
    return {**drawn, "objects": objects}
