"""Pose: free 6-DoF placement in a volume, or a drop from above the support settled by physics."""
from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.spatial.transform import Rotation

from ..rng import uniform
from ..schema import Range, StrictModel


class Volume(StrictModel):
    x: Range = (-0.15, 0.15)
    y: Range = (-0.15, 0.15)
    z: Range = (0.05, 0.3)  # above the support's top


class PoseConfig(StrictModel):
    enabled: bool = True
    mode: Literal["free", "drop"] = "drop"
    volume: Volume = Volume()
    settle_steps: int = 240  # at 240 Hz: at most one simulated second
    max_tries: int = 30  # rejection sampling attempts per object before stacking it higher


def _centre(r) -> float:
    return (r[0] + r[1]) / 2


def sample(cfg: PoseConfig, rng: np.random.Generator, radii: list[float], support_z: float = 0.0) -> dict:
    """Positions and xyzw quaternions, one per object, with no two bounding spheres overlapping."""
    placed: list[np.ndarray] = []
    poses = []
    vol = cfg.volume
    n = len(radii)
    for i, r in enumerate(radii):
        if not cfg.enabled:  # a deterministic row across the volume, assets' own orientation
            t = (i + 0.5) / max(n, 1)
            pos = np.array([vol.x[0] + t * (vol.x[1] - vol.x[0]), _centre(vol.y), support_z + _centre(vol.z) + r])
            quat = np.array([0.0, 0.0, 0.0, 1.0])
        else:
            quat = Rotation.random(random_state=rng).as_quat()
            for _ in range(cfg.max_tries):
                pos = np.array([uniform(rng, vol.x), uniform(rng, vol.y), support_z + r + uniform(rng, vol.z)])
                if all(np.linalg.norm(pos - q) > r + rq for q, rq in zip(placed, radii)):
                    break
            else:  # crowded: stack above everything so far
                top = max((q[2] + rq for q, rq in zip(placed, radii)), default=support_z)
                pos[2] = top + r + 0.01
        placed.append(pos)
        poses.append((pos.tolist(), quat.tolist()))
    return {"poses": poses, "mode": cfg.mode, "settle": cfg.mode == "drop"}
