"""sample_scene(config, index): the SceneSample of image `index`, a pure function of its inputs."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..config import DatasetConfig
from ..randomizers import REGISTRY, Context
from ..randomizers import occlusion as occlusion_rnd
from ..randomizers import pose as pose_rnd
from ..core.rng import helper_stream, integer, stream
from . import held_hand
from .sample import CameraSample, ObjectSample, SceneSample


@dataclass(frozen=True)
class AssetInfo:
    """What sampling needs to know of a loaded asset: its size."""

    name: str
    half_extents: tuple[float, float, float]
    centre: tuple[float, float, float] = (0.0, 0.0, 0.0)  # its box's centre in its own frame

    @property
    def radius(self) -> float:
        return float(np.linalg.norm(self.half_extents))

    @property
    def footprint(self) -> float:
        """Horizontal radius standing as loaded (model z up): what an upright object takes of the desk."""
        return float(np.linalg.norm(self.half_extents[:2]))


def split_of(config: DatasetConfig, index: int) -> str:
    rng = helper_stream(config.seed, index, "split")
    return "val" if rng.random() < config.output.val_fraction else "train"


def choose_targets(config: DatasetConfig, index: int) -> list[tuple[str, int]]:
    """(asset name, copy number) of each target in image `index`, by per-asset count ranges.

    Each `scene.one_of` group keeps exactly one of its assets (drawn by the group's weights from
    its own stream, so configs without groups draw as before), with at least one copy. When
    `scene.max_targets` caps the list, a uniform random subset is kept, in order; the first copy
    of each group's pick is always among them."""
    rng = helper_stream(config.seed, index, "objects")
    counts = {a.name: integer(rng, a.count) for a in config.assets}
    protected = set()
    if config.scene.one_of:
        pick_rng = helper_stream(config.seed, index, "one_of")
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


def sample_scene(config: DatasetConfig, index: int, assets: dict[str, AssetInfo], renderer: str | None = None) -> SceneSample:
    """Every registered randomizer draws, in registry order, from its own stream; each sees what
    the earlier ones added to the Context. The SceneSample's objects are then built from the draws."""
    seed = config.seed
    rnd = config.randomizers
    names = config.class_names
    by_name = {a.name: a for a in config.assets}

    targets = choose_targets(config, index)
    ctx = Context(seed, index, renderer, config.camera.K,
                  radii=tuple(assets[name].radius for name, _ in targets),
                  footprints=tuple(assets[name].footprint if config.stands_upright(by_name[name]) else assets[name].radius
                                   for name, _ in targets),
                  constraints=tuple(config.pose_constraint(by_name[name]) for name, _ in targets),
                  asset_radius={name: a.radius for name, a in assets.items()}, volume=rnd.pose.volume)
    draws = {}
    for name, randomizer in REGISTRY.items():
        draws[name] = drawn = randomizer.sample(getattr(rnd, name), stream(seed, index, name), ctx)
        ctx = drawn.inform(ctx)

    pose, cam, occ = draws["pose"], draws["camera"], draws["occlusion"]
    objects = []
    for (name, k), (pos, quat), static in zip(targets, pose.poses, pose.static):
        cls = by_name[name].cls
        objects.append(ObjectSample(name, k, "target", names.index(cls), cls, pos, quat, static=static))
    objects += [ObjectSample(occlusion_rnd.pool_name(m), 0, "distractor", None, None, pos, quat)
                for m, (pos, quat) in zip(occ.distractors, occ.distractor_poses)]
    objects += [ObjectSample(occlusion_rnd.pool_name(aim.member), 0, "occluder", None, None, [0.0, 0.0, 0.0],
                             aim.quaternion, aim=aim) for aim in occ.occluders]
    objects += [ObjectSample(occlusion_rnd.hand_name(h.member), 0, "distractor", None, None, pos, quat)
                for h, (pos, quat) in zip(occ.hands or (), occ.hand_poses)]
    c = config.camera
    camera = CameraSample(cam.K, c.width, c.height, c.near, c.far, cam.position, cam.quaternion)
    if pose.held_indices:  # once the camera is known, from their own stream: the other draws stay as they were
        held_rng = helper_stream(seed, index, "held")
        held = []
        for i in pose.held_indices:
            h = pose_rnd.held(rnd.pose, held_rng, ctx.constraints[i], cam.position, cam.quaternion, cam.K,
                              c.width, c.height, cam.look_at)
            objects[i].position, objects[i].quaternion = h.position, h.quaternion
            held.append(h)
        if rnd.pose.held_hand:  # a hand holds each, from its own stream too
            held = held_hand.add_hands(objects, held, pose.held_indices, assets, camera, stream(seed, index, held_hand.STREAM))
        draws["pose"] = replace(pose, held=tuple(held))

    return SceneSample(
        index=index,
        seed=seed,
        split=split_of(config, index),
        camera=camera,
        objects=objects,
        draws=draws,
        settle=pose.settle and rnd.pose.enabled,
        settle_steps=rnd.pose.settle_steps,
    )
