"""Pose: free 6-DoF placement in a volume, a drop onto the support settled by physics, or a
cluttered pile (objects dropped onto each other), with per-asset rotation constraints and modes
(an asset may float or be held in front of the camera while the others are dropped)."""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator
from scipy.spatial.transform import Rotation

from ..rng import uniform
from ..schema import Range, StrictModel


class Volume(StrictModel):
    x: Range = (-0.15, 0.15)
    y: Range = (-0.15, 0.15)
    z: Range = (0.05, 0.3)  # above the support's top


#: per-asset modes: `upright` = dropped standing; `held` = in front of the camera, not settled
ASSET_MODES = ("free", "drop", "upright", "pile", "held")
#: modes whose objects are settled by physics; `free` and `held` objects stay where sampled
SETTLED = ("drop", "upright", "pile")


class PoseConstraint(StrictModel):
    """How an asset may be rotated: `upright` keeps its own up axis (yaw only); `axes` lists the
    asset-frame axes it may turn about (empty = its own orientation). `mode` overrides
    `randomizers.pose.mode` for this asset (None: the global mode)."""

    upright: bool = False
    axes: list[Literal["x", "y", "z"]] | None = None
    mode: Literal["free", "drop", "upright", "pile", "held"] | None = None


class PileConfig(StrictModel):
    radius: float = Field(0.04, ge=0)  # objects start within this horizontal distance of the pile's axis
    gap: float = Field(0.01, ge=0)  # vertical gap between stacked bounding spheres


class PoseConfig(StrictModel):
    enabled: bool = True
    mode: Literal["free", "drop", "pile"] = "drop"
    volume: Volume = Volume()
    pile: PileConfig = PileConfig()
    per_asset: dict[str, PoseConstraint] = {}
    settle_steps: int = Field(240, ge=0, le=24_000)  # at 240 Hz: at most one simulated second (the bound: 100 s)
    max_tries: int = Field(30, ge=1, le=10_000)  # rejection sampling attempts per object before stacking it higher
    held_distance: Range = (0.3, 0.7)  # mode held: fraction of the camera's distance to its look-at point

    @field_validator("held_distance")
    @classmethod
    def _fraction(cls, v):
        if v[0] <= 0 or v[1] >= 1:
            raise ValueError(f"expected [lo, hi] fractions of the camera distance with 0 < lo <= hi < 1, got {list(v)}")
        return v


def mode_of(cfg: PoseConfig, constraint: PoseConstraint | None) -> str:
    """An object's effective mode: its asset's own, else the global one."""
    return constraint.mode if constraint is not None and constraint.mode is not None else cfg.mode


def _centre(r) -> float:
    return (r[0] + r[1]) / 2


def rotation(rng: np.random.Generator, constraint: PoseConstraint | None) -> np.ndarray:
    """An xyzw quaternion: uniform over SO(3) unless the asset is constrained."""
    upright = constraint is not None and (constraint.upright or constraint.mode == "upright")
    if constraint is None or (not upright and constraint.axes is None):
        return Rotation.random(random_state=rng).as_quat()
    axes = ["z"] if upright else list(constraint.axes)
    if not axes:
        return np.array([0.0, 0.0, 0.0, 1.0])
    angles = rng.uniform(-np.pi, np.pi, len(axes))
    return Rotation.from_euler("".join(axes).upper(), angles).as_quat()  # upper case: intrinsic, the asset's own axes


def sample(cfg: PoseConfig, rng: np.random.Generator, radii: list[float], support_z: float = 0.0,
           constraints: list[PoseConstraint | None] | None = None) -> dict:
    """Positions and xyzw quaternions, one per object, with no two bounding spheres overlapping.

    Objects in mode `held` get a placeholder here (see `held`: they are placed once the camera is
    known) and take no room in the volume."""
    placed: list[tuple[np.ndarray, float]] = []  # (position, radius) of each object in the volume so far
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
            top = max((q[2] + rq for q, rq in placed), default=support_z + vol.z[0])
            pos = np.array([pile_xy[0] + rad * np.cos(ang), pile_xy[1] + rad * np.sin(ang), top + r + cfg.pile.gap])
        else:
            quat = rotation(rng, con)
            for _ in range(cfg.max_tries):
                pos = np.array([uniform(rng, vol.x), uniform(rng, vol.y), support_z + r + uniform(rng, vol.z)])
                if all(np.linalg.norm(pos - q) > r + rq for q, rq in placed):
                    break
            else:  # crowded: stack above everything so far
                top = max((q[2] + rq for q, rq in placed), default=support_z)
                pos[2] = top + r + 0.01
        placed.append((pos, r))
        poses.append((pos.tolist(), quat.tolist()))
    drawn = {"mode": cfg.mode, "enabled": cfg.enabled}
    if pile_xy is not None:
        drawn["pile_xy"] = pile_xy.tolist()
    if any(con is not None and con.mode is not None for con in constraints):
        drawn["modes"] = modes
    settle = cfg.mode in ("drop", "pile") or any(m in SETTLED for m in modes)
    static = [cfg.enabled and m in ("free", "held") for m in modes]
    return {"poses": poses, "mode": cfg.mode, "settle": settle, "static": static, "modes": modes, "drawn": drawn}


def held(cfg: PoseConfig, rng: np.random.Generator, constraint: PoseConstraint | None, camera_position, camera_quaternion,
         K, width: int, height: int, look_at) -> dict:
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
    return {"position": (cam + distance * ray).tolist(), "quaternion": quat.tolist(),
            "drawn": {"fraction": fraction, "pixel": pixel, "distance": distance}}
