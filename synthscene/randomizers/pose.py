"""Pose: free 6-DoF placement in a volume, a drop onto the support settled by physics, or a
cluttered pile (objects dropped onto each other), with per-asset rotation constraints."""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field
from scipy.spatial.transform import Rotation

from ..rng import uniform
from ..schema import Range, StrictModel


class Volume(StrictModel):
    x: Range = (-0.15, 0.15)
    y: Range = (-0.15, 0.15)
    z: Range = (0.05, 0.3)  # above the support's top


class PoseConstraint(StrictModel):
    """How an asset may be rotated: `upright` keeps its own up axis (yaw only); `axes` lists the
    asset-frame axes it may turn about (empty = its own orientation)."""

    upright: bool = False
    axes: list[Literal["x", "y", "z"]] | None = None


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


def _centre(r) -> float:
    return (r[0] + r[1]) / 2


def rotation(rng: np.random.Generator, constraint: PoseConstraint | None) -> np.ndarray:
    """An xyzw quaternion: uniform over SO(3) unless the asset is constrained."""
    if constraint is None or (not constraint.upright and constraint.axes is None):
        return Rotation.random(random_state=rng).as_quat()
    axes = ["z"] if constraint.upright else list(constraint.axes)
    if not axes:
        return np.array([0.0, 0.0, 0.0, 1.0])
    angles = rng.uniform(-np.pi, np.pi, len(axes))
    return Rotation.from_euler("".join(axes).upper(), angles).as_quat()  # upper case: intrinsic, the asset's own axes


def sample(cfg: PoseConfig, rng: np.random.Generator, radii: list[float], support_z: float = 0.0,
           constraints: list[PoseConstraint | None] | None = None) -> dict:
    """Positions and xyzw quaternions, one per object, with no two bounding spheres overlapping."""
    placed: list[np.ndarray] = []
    poses = []
    vol = cfg.volume
    n = len(radii)
    constraints = constraints or [None] * n
    pile_xy = np.array([uniform(rng, vol.x), uniform(rng, vol.y)]) if cfg.enabled and cfg.mode == "pile" else None
    for i, (r, con) in enumerate(zip(radii, constraints)):
        if not cfg.enabled:  # a deterministic row across the volume, assets' own orientation
            t = (i + 0.5) / max(n, 1)
            pos = np.array([vol.x[0] + t * (vol.x[1] - vol.x[0]), _centre(vol.y), support_z + _centre(vol.z) + r])
            quat = np.array([0.0, 0.0, 0.0, 1.0])
        elif pile_xy is not None:  # straight above each other, slightly offset, so they land on each other
            quat = rotation(rng, con)
            ang, rad = rng.uniform(0, 2 * np.pi), cfg.pile.radius * np.sqrt(rng.random())
            top = max((q[2] + rq for q, rq in zip(placed, radii)), default=support_z + vol.z[0])
            pos = np.array([pile_xy[0] + rad * np.cos(ang), pile_xy[1] + rad * np.sin(ang), top + r + cfg.pile.gap])
        else:
            quat = rotation(rng, con)
            for _ in range(cfg.max_tries):
                pos = np.array([uniform(rng, vol.x), uniform(rng, vol.y), support_z + r + uniform(rng, vol.z)])
                if all(np.linalg.norm(pos - q) > r + rq for q, rq in zip(placed, radii)):
                    break
            else:  # crowded: stack above everything so far
                top = max((q[2] + rq for q, rq in zip(placed, radii)), default=support_z)
                pos[2] = top + r + 0.01
        placed.append(pos)
        poses.append((pos.tolist(), quat.tolist()))
    drawn = {"mode": cfg.mode, "enabled": cfg.enabled}
    if pile_xy is not None:
        drawn["pile_xy"] = pile_xy.tolist()
    return {"poses": poses, "mode": cfg.mode, "settle": cfg.mode in ("drop", "pile"), "drawn": drawn}
