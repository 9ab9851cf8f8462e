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
    """(asset name, copy number) of each target in image `index`, by per-asset count ranges.

    Each `scene.one_of` group keeps exactly one of its assets (drawn by the group's weights from
    its own stream, so configs without groups draw as before), with at least one copy. When
    `scene.max_targets` caps the list, a uniform random subset is kept, in order; the first copy
    of each group's pick is always among them."""
    rng = stream(config.seed, index, "objects")
    counts = {a.name: integer(rng, a.count) for a in config.assets}
    protected = set()
    if config.scene.one_of:
        pick_rng = stream(config.seed, index, "one_of")
        for group in config.scene.one_of:
            w = np.asarray(group.weights if group.weights is not None else [1.0] * len(group.assets), float)
            pick = group.assets[int(pick_rng.choice(len(group.assets), p=w / w.sum()))]
            for name in group.assets:
                counts[name] = max(counts[name], 1) if name == pick else 0
            protected.add((pick, 0))
    chosen = [(a.name, k) for a in config.assets for k in range(counts[a.name])]
    cap = config.scene.max_targets
    if cap is not None and len(chosen) > cap:
        kept = [i for i, c in enumerate(chosen) if c in protected]
        rest = [i for i, c in enumerate(chosen) if c not in protected]
        keep = sorted(kept + [rest[i] for i in rng.choice(len(rest), size=cap - len(kept), replace=False)])
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
    for (name, k), (pos, quat), static in zip(targets, placed["poses"], placed["static"]):
        cls = by_name[name].cls
        quat = upright(quat) if by_name[name].upright else quat
        objects.append(ObjectSample(name, k, "target", names.index(cls), cls, pos, quat, static=static))
    # Held objects are placed in front of the camera below: they take no room in the scene.
    held = [i for i, m in enumerate(placed["modes"]) if rnd.pose.enabled and m == "held"]
    in_scene = [i for i in range(len(targets)) if i not in held]
    occ = _occlusion(config, index, assets, objects, radii, in_scene)
    objects += occ.pop("objects")
    hands = occ.pop("hands_objects", [])

    scene_radii = [radii[i] for i in in_scene] or radii
    mean_radius = float(np.mean(scene_radii)) if scene_radii else None
    targets_xy = np.mean([objects[i].position[:2] for i in in_scene], axis=0) if in_scene else None
    cam = camera_rnd.sample(rnd.camera, stream(seed, index, "camera"), config.camera.K, mean_radius, targets_xy)
    c = config.camera
    camera = CameraSample(cam["K"], c.width, c.height, c.near, c.far, cam["position"], cam["quaternion"])
    if held:
        held_rng = stream(seed, index, "held")  # its own stream: the other draws stay as they were
        placed["drawn"]["held"] = []
        for i in held:
            h = pose_rnd.held(rnd.pose, held_rng, constraints[i], cam["position"], cam["quaternion"], cam["K"],
                              c.width, c.height, cam["drawn"]["look_at"])
            objects[i].position, objects[i].quaternion = h["position"], h["quaternion"]
            placed["drawn"]["held"].append(h["drawn"])
    lighting = lighting_rnd.sample(rnd.lighting, stream(seed, index, "lighting"))
    n_tex = len(texture_rnd.image_pool(rnd.texture, seed)) if rnd.texture.enabled else 0
    texture = texture_rnd.sample(rnd.texture, stream(seed, index, "texture"), [o.role for o in objects], n_tex)
    if hands:  # after every other draw; hands keep their skin tone (their texture draws are discarded)
        objects += hands
        texture["objects"] += [None] * len(hands)
        texture["jitter"] += [None] * len(hands)
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
               radii: list[float], in_scene: list[int]) -> dict:
    """Distractors (dropped with the targets, clear of them), hands (the same, from their own
    stream) and occluders (aimed, placed after settling)."""
    cfg = config.randomizers.occlusion
    pool_size = sum(1 for name in assets if name.startswith(occlusion_rnd.POOL_PREFIX))
    rng = stream(config.seed, index, "occlusion")
    drawn = occlusion_rnd.sample(cfg, rng, pool_size, len(targets))
    names = [occlusion_rnd.pool_name(m) for m in drawn["distractors"]]
    taken = [(targets[i].position, radii[i]) for i in in_scene]
    where = occlusion_rnd.place_distractors(rng, config.randomizers.pose.volume, [assets[n].radius for n in names], taken)
    objects = [ObjectSample(n, 0, "distractor", None, None, pos, Rotation.random(random_state=rng).as_quat().tolist())
               for n, pos in zip(names, where)]
    for aim in drawn["occluders"]:
        objects.append(ObjectSample(occlusion_rnd.pool_name(aim["member"]), 0, "occluder", None, None,
                                    [0.0, 0.0, 0.0], aim["quaternion"], aim=aim))
    out = {**drawn, "objects": objects}
    n_hands = sum(1 for name in assets if name.startswith(occlusion_rnd.HAND_PREFIX))
    if cfg.enabled and n_hands:
        hand_rng = stream(config.seed, index, "hands")
        members = occlusion_rnd.sample_hands(cfg, hand_rng, n_hands)
        hand_names = [occlusion_rnd.hand_name(m) for m in members]
        taken += [(o.position, assets[o.asset].radius) for o in objects[: len(names)]]
        where = occlusion_rnd.place_distractors(hand_rng, config.randomizers.pose.volume,
                                                [assets[n].radius for n in hand_names], taken)
        out["hands_objects"] = [ObjectSample(n, 0, "distractor", None, None, pos,
                                             Rotation.random(random_state=hand_rng).as_quat().tolist())
                                for n, pos in zip(hand_names, where)]
        variants = occlusion_rnd.hand_variants(cfg, config.seed)
        out["hands"] = [{"member": m, **variants[m]} for m in members]
    return out
