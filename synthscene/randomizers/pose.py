"""Pose: free 6-DoF placement in a volume, a drop onto the support settled by physics, or a
cluttered pile (objects dropped onto each other), with per-asset rotation constraints and modes
(an asset may float or be held in front of the camera while the others are dropped)."""
from __future__ import annotations

import math

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_serializer
from scipy.spatial.transform import Rotation

from ..core.rng import uniform
from ..core.schema import PoseConstraint, Range, StrictModel  # noqa: F401  (PoseConstraint: re-exported)
from . import layout
from .base import Context, Draw, Randomizer, register
from .layout import DenseConfig  # noqa: F401  (PoseConfig.dense)


class Volume(StrictModel):
    x: Range = (-0.15, 0.15)
    y: Range = (-0.15, 0.15)
    z: Range = (0.05, 0.3)  # above the support's top


#: per-asset modes: `upright` = dropped standing; `held` = in front of the camera, not settled
ASSET_MODES = ("free", "drop", "upright", "pile", "held")
#: modes whose objects are settled by physics; `free` and `held` objects stay where sampled
SETTLED = ("drop", "upright", "pile")


class PileConfig(StrictModel):
    radius: float = Field(0.04, ge=0)  # objects start within this horizontal distance of the pile's axis
    gap: float = Field(0.01, ge=0)  # vertical gap between stacked bounding spheres


class PoseConfig(StrictModel):
    enabled: bool = True
    mode: Literal["free", "drop", "pile", "dense"] = "drop"
    volume: Volume = Volume()
    pile: PileConfig = PileConfig()
    per_asset: dict[str, PoseConstraint] = {}
    settle_steps: int = Field(240, ge=0, le=24_000)  # at 240 Hz: at most one simulated second (the bound: 100 s)
    max_tries: int = Field(30, ge=1, le=10_000)  # rejection sampling attempts per object before stacking it higher
    held_distance: Range = (0.3, 0.7)  # mode held: fraction of the camera's distance to its look-at point
    held_hand: bool = True  # mode held: a hand and forearm hold the object (scenes/held_hand.py)
    dense: "DenseConfig | None" = None  # mode dense: the packed region (randomizers/layout.py)

    @field_validator("held_distance")
    @classmethod
    def _fraction(cls, v):
        if v[0] <= 0 or v[1] >= 1:
            raise ValueError(f"expected [lo, hi] fractions of the camera distance with 0 < lo <= hi < 1, got {list(v)}")
        return v

    @model_serializer(mode="wrap")
    def _dump(self, handler):
        """Without `held_hand` at its default: configs that do not set it dump and hash as before."""
        out = handler(self)
        if isinstance(out, dict) and self.held_hand:
            out.pop("held_hand", None)
        if isinstance(out, dict) and self.dense is None:
            out.pop("dense", None)
        return out


def mode_of(cfg: PoseConfig, constraint: PoseConstraint | None) -> str:
    """An object's effective mode: its asset's own, else the global one."""
    return constraint.mode if constraint is not None and constraint.mode is not None else cfg.mode


def _centre(r) -> float:
    return (r[0] + r[1]) / 2


def heading(quat) -> list[float]:
    """The heading (yaw) of a drawn orientation, kept upright: a uniform random rotation gives a
    uniform heading, and the draw is the unconstrained one, so no stream shifts."""
    x = Rotation.from_quat(quat).apply([1.0, 0.0, 0.0])
    yaw = math.atan2(x[1], x[0]) if abs(x[2]) < 0.999 else 0.0
    return [0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)]


def rotation(rng: np.random.Generator, constraint: PoseConstraint | None) -> np.ndarray:
    """An xyzw quaternion: uniform over SO(3) unless the asset is constrained: upright (the one
    mechanism for every way of saying so, see DatasetConfig.pose_constraint) keeps only the heading
    of a uniform draw; `axes` turns about those asset axes only."""
    upright = constraint is not None and (constraint.upright or constraint.mode == "upright")
    if constraint is None or upright or constraint.axes is None:
        quat = Rotation.random(random_state=rng).as_quat()
        return np.array(heading(quat)) if upright else quat
    axes = list(constraint.axes)
    if not axes:
        return np.array([0.0, 0.0, 0.0, 1.0])
    angles = rng.uniform(-np.pi, np.pi, len(axes))
    return Rotation.from_euler("".join(axes).upper(), angles).as_quat()  # upper case: intrinsic, the asset's own axes


@dataclass(frozen=True)
class HeldDraw(Draw):
    """A held object's pose, and what was drawn for it (recorded)."""

    position: list[float]
    quaternion: list[float]
    fraction: float
    pixel: list[float]
    distance: float
    hand: dict | None = None  # the hand holding it (scenes/held_hand.py), drawn from the stream `held_hand`

    def to_record(self) -> dict:
        out = {"fraction": self.fraction, "pixel": self.pixel, "distance": self.distance}
        if self.hand is not None:
            out["hand"] = self.hand
        return out


@dataclass(frozen=True)
class PoseDraw(Draw):
    """One (position, quaternion) per target; `held` is filled once the camera is known."""

    poses: list[tuple[list[float], list[float]]]
    mode: str
    enabled: bool
    modes: list[str]  # each target's effective mode
    settle: bool
    static: list[bool]  # kept where sampled, out of the settle
    pile_xy: list[float] | None = None
    per_asset_modes: bool = False  # some asset has its own mode: `modes` is recorded
    held: tuple[HeldDraw, ...] | None = None

    def to_record(self) -> dict:
        out = {"mode": self.mode, "enabled": self.enabled}
        if self.pile_xy is not None:
            out["pile_xy"] = self.pile_xy
        if self.per_asset_modes:
            out["modes"] = self.modes
        if self.held is not None:
            out["held"] = [h.to_record() for h in self.held]
        return out

    @property
    def held_indices(self) -> list[int]:
        """Targets in mode held: placed in front of the camera, taking no room in the scene."""
        return [i for i, m in enumerate(self.modes) if self.enabled and m == "held"]

    def inform(self, ctx: Context) -> Context:
        from dataclasses import replace

        held = set(self.held_indices)
        return replace(ctx, positions=tuple(p for p, _ in self.poses),
                       in_scene=tuple(i for i in range(len(self.poses)) if i not in held))


def place_clear(rng: np.random.Generator, volume: Volume, r: float, spheres: list, max_tries: int,
                base_z: float = 0.0, room: float | None = None, stack: bool = True) -> np.ndarray | None:
    """A centre in `volume` (at least `r` above `base_z`) whose sphere of radius `room` (default `r`;
    an upright object's horizontal footprint, smaller than its bounding sphere) clears every
    (position, room) in `spheres`. On a crowded desk no try may: then the try that overlaps least is
    raised just above the ones beneath it, a second layer rather than a tower above everything
    placed so far (LM-O's eight objects made towers 1.7 m high that were still falling when drawn),
    or, with `stack=False`, None: no room left."""
    room = r if room is None else room
    best, least = None, math.inf
    for _ in range(max_tries):
        pos = np.array([uniform(rng, volume.x), uniform(rng, volume.y), base_z + r + uniform(rng, volume.z)])
        overlap = max((room + rq - float(np.linalg.norm(pos - q)) for q, rq in spheres), default=-math.inf)
        if overlap < 0:
            return pos
        if overlap < least:
            best, least = pos, overlap
    if not stack:
        return None
    beneath = [q[2] + rq for q, rq in spheres if np.linalg.norm(best[:2] - np.asarray(q)[:2]) < room + rq]
    best[2] = max(max(beneath, default=base_z) + r + 0.01, best[2])
    return best


def sample(cfg: PoseConfig, rng: np.random.Generator, ctx: Context, support_z: float = 0.0) -> PoseDraw:
    """Positions and xyzw quaternions, one per target (`ctx.radii`, `ctx.constraints`), with no two
    objects' rooms (`ctx.rooms`: an upright one's footprint, else its bounding sphere) overlapping
    while the desk has space (`place_clear`).

    Objects in mode `held` get a placeholder here (see `held`: they are placed once the camera is
    known) and take no room in the volume."""
    if cfg.enabled and cfg.mode == "dense":  # packed into a region drawn per image (randomizers/layout.py)
        return sample_dense(cfg, rng, ctx, support_z)
    radii = list(ctx.radii)
    rooms = list(ctx.rooms)
    constraints = list(ctx.constraints) if ctx.constraints else None
    placed: list[tuple[np.ndarray, float, float]] = []  # (position, room, radius) of each object so far
    poses = []
    vol = cfg.volume
    n = len(radii)
    constraints = constraints or [None] * n
    modes = [mode_of(cfg, con) for con in constraints]
    piled = cfg.enabled and (cfg.mode == "pile" or "pile" in modes)
    pile_xy = np.array([uniform(rng, vol.x), uniform(rng, vol.y)]) if piled else None
    for i, (r, con, mode) in enumerate(zip(radii, constraints, modes)):
        if not cfg.enabled:  # a deterministic row across the volume, assets' own orientation
            t = (i + 0.5) / max(n, 1)
            pos = np.array([vol.x[0] + t * (vol.x[1] - vol.x[0]), _centre(vol.y), support_z + _centre(vol.z) + r])
            quat = np.array([0.0, 0.0, 0.0, 1.0])
        elif mode == "held":
            poses.append(([0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]))
            continue
        elif mode == "pile":  # straight above each other, slightly offset, so they land on each other
            quat = rotation(rng, con)
            ang, rad = rng.uniform(0, 2 * np.pi), cfg.pile.radius * np.sqrt(rng.random())
            top = max((q[2] + rq for q, _, rq in placed), default=support_z + vol.z[0])
            pos = np.array([pile_xy[0] + rad * np.cos(ang), pile_xy[1] + rad * np.sin(ang), top + r + cfg.pile.gap])
        else:
            quat = rotation(rng, con)
            pos = place_clear(rng, vol, r, [(q, room) for q, room, _ in placed], cfg.max_tries, support_z, rooms[i])
        placed.append((pos, rooms[i], r))
        poses.append((pos.tolist(), quat.tolist()))
    settle = cfg.mode in ("drop", "pile") or any(m in SETTLED for m in modes)
    static = [cfg.enabled and m in ("free", "held") for m in modes]
    return PoseDraw(poses, cfg.mode, cfg.enabled, modes, settle, static,
                    pile_xy.tolist() if pile_xy is not None else None,
                    any(con is not None and con.mode is not None for con in constraints))


def held(cfg: PoseConfig, rng: np.random.Generator, constraint: PoseConstraint | None, camera_position, camera_quaternion,
         K, width: int, height: int, look_at) -> HeldDraw:
    """A held object's pose: on the ray through a random pixel of the image's middle half, at a
    random fraction (`held_distance`) of the camera's distance to its look-at point; any rotation
    the asset's constraint allows."""
    cam = np.asarray(camera_position, float)
    fraction = uniform(rng, cfg.held_distance)
    pixel = [float(rng.uniform(0.25, 0.75) * width), float(rng.uniform(0.25, 0.75) * height)]
    ray = Rotation.from_quat(camera_quaternion).as_matrix() @ np.linalg.solve(np.asarray(K, float), [*pixel, 1.0])
    ray /= np.linalg.norm(ray)
    distance = fraction * float(np.linalg.norm(np.asarray(look_at, float) - cam))
    quat = rotation(rng, constraint)
    return HeldDraw((cam + distance * ray).tolist(), quat.tolist(), fraction, pixel, distance)


# mode dense: packed into a region drawn per image (the packing itself: layout.py)

@dataclass(frozen=True)
class DenseDraw(PoseDraw):
    """A PoseDraw that records its region and hands it on as the desk volume, so the distractors
    (occlusion) are packed into it and its ring (`Region.place`)."""

    region: layout.Region | None = None

    def to_record(self) -> dict:
        out = super().to_record()
        out["region"] = self.region.to_record()
        return out

    def inform(self, ctx):
        return replace(super().inform(ctx), volume=self.region)


def sample_dense(cfg, rng: np.random.Generator, ctx, support_z: float = 0.0):
    """pose.sample for mode `dense` (cfg: the PoseConfig): the region from the pose stream, then
    each target packed into it in a random order; held and free objects as in the other modes."""
    dense = cfg.dense or layout.DenseConfig()
    region = layout.draw_region(dense, cfg.volume, rng)
    radii, rooms = list(ctx.radii), list(ctx.rooms)
    n = len(radii)
    constraints = list(ctx.constraints) if ctx.constraints else [None] * n
    modes = [mode_of(cfg, con) for con in constraints]
    order = [int(i) for i in rng.permutation(n)]  # who is placed first has the most room: not always the same asset
    poses: list = [None] * n
    placed: list = []
    for i in order:
        con, mode = constraints[i], modes[i]
        if mode == "held":
            poses[i] = ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0])
            continue
        quat = rotation(rng, con)
        pos = layout.packed_spot(rng, region, radii[i], rooms[i], placed, cfg.max_tries, support_z)
        placed.append((pos, rooms[i]))
        poses[i] = (pos.tolist(), quat.tolist())
    static = [m in ("free", "held") for m in modes]
    return DenseDraw(poses, "dense", True, modes, True, static, None,
                     any(con is not None and con.mode is not None for con in constraints), region=region)


PoseConfig.model_rebuild()
RANDOMIZER = register(Randomizer("pose", PoseConfig, PoseConfig(), sample))
