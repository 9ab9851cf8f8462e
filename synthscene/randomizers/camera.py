"""Camera: a look-at viewpoint on a sphere around the scene, with roll and look-at jitter."""
from __future__ import annotations

import math

import numpy as np

from ..renderers.camera import look_at
from ..rng import uniform
from ..schema import Range, StrictModel, Vec3


class CameraRandomizerConfig(StrictModel):
    enabled: bool = True
    distance: Range = (0.6, 1.2)
    azimuth_deg: Range = (0.0, 360.0)
    elevation_deg: Range = (20.0, 80.0)
    roll_deg: Range = (0.0, 0.0)
    look_at: Vec3 = (0.0, 0.0, 0.0)
    look_at_jitter: float = 0.05  # metres, uniform per axis
    intrinsics_jitter: float = 0.0  # relative, applied to fx, fy, cx, cy


def _mid(r) -> float:
    return (r[0] + r[1]) / 2


def sample(cfg: CameraRandomizerConfig, rng: np.random.Generator, K: np.ndarray) -> dict:
    """Camera pose (OpenCV axes, camera-to-world) and the intrinsics it renders with."""
    if cfg.enabled:
        dist, az, el, roll = (uniform(rng, r) for r in (cfg.distance, cfg.azimuth_deg, cfg.elevation_deg, cfg.roll_deg))
        jitter = rng.uniform(-cfg.look_at_jitter, cfg.look_at_jitter, 3) if cfg.look_at_jitter > 0 else np.zeros(3)
        scale = 1 + rng.uniform(-cfg.intrinsics_jitter, cfg.intrinsics_jitter, 4) if cfg.intrinsics_jitter > 0 else np.ones(4)
    else:
        dist, az, el, roll = (_mid(r) for r in (cfg.distance, cfg.azimuth_deg, cfg.elevation_deg, cfg.roll_deg))
        jitter, scale = np.zeros(3), np.ones(4)
    target = np.asarray(cfg.look_at) + jitter
    a, e = math.radians(az), math.radians(el)
    eye = target + dist * np.array([math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)])
    position, quaternion = look_at(eye, target, roll=math.radians(roll))
    K = np.array(K, dtype=float)
    K[0, 0], K[1, 1], K[0, 2], K[1, 2] = K[0, 0] * scale[0], K[1, 1] * scale[1], K[0, 2] * scale[2], K[1, 2] * scale[3]
    return {
        "position": position,
        "quaternion": quaternion,
        "K": K.tolist(),
        "drawn": {"distance": dist, "azimuth_deg": az, "elevation_deg": el, "roll_deg": roll,
                  "look_at": target.tolist(), "intrinsics_scale": scale.tolist()},
    }
