"""Camera: a look-at viewpoint on a sphere around the scene, with roll and look-at jitter.

Mode `distance` draws the distance from its range; mode `box_size` draws the targets' apparent
size in pixels from `box_px` and puts the camera at the distance that gives it (a target of
bounding radius r at distance d spans about 2·r·f/d pixels).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from ..geometry.camera import look_at
from ..core.rng import uniform
from ..core.schema import Range, StrictModel, Vec3
from .base import Context, Draw, Randomizer, register


class CameraRandomizerConfig(StrictModel):
    enabled: bool = True
    mode: Literal["distance", "box_size"] = "distance"
    distance: Range = (0.6, 1.2)
    box_px: Range = (60.0, 200.0)  # mode box_size: the targets' apparent size (pixels)
    azimuth_deg: Range = (0.0, 360.0)
    elevation_deg: Range = (20.0, 80.0)
    roll_deg: Range = (0.0, 0.0)
    look_at: Vec3 = (0.0, 0.0, 0.0)
    aim: Literal["point", "targets"] = "point"  # targets: look at the targets' mean x, y (at look_at's z)
    look_at_jitter: float = Field(0.05, ge=0)  # metres, uniform per axis
    intrinsics_jitter: float = Field(0.0, ge=0, lt=1)  # relative, applied to fx, fy, cx, cy

    @field_validator("distance", "box_px")
    @classmethod
    def _positive(cls, v):
        if v[0] <= 0:  # the camera would sit on what it looks at
            raise ValueError(f"expected [min, max] with 0 < min <= max, got {list(v)}")
        return v


def _mid(r) -> float:
    return (r[0] + r[1]) / 2


def distance_for_box(box_px: float, radius: float, K) -> float:
    """The distance at which a sphere of `radius` spans `box_px` pixels (mean focal length)."""
    f = (K[0][0] + K[1][1]) / 2
    return 2 * radius * f / box_px


@dataclass(frozen=True)
class CameraDraw(Draw):
    """The camera pose (OpenCV axes, camera-to-world), the intrinsics it renders with, and the
    drawn parameters (recorded)."""

    position: list[float]
    quaternion: list[float]
    K: list[list[float]]
    mode: str
    box_px: float | None
    distance: float
    azimuth_deg: float
    elevation_deg: float
    roll_deg: float
    look_at: list[float]
    intrinsics_scale: list[float]

    def to_record(self) -> dict:
        return {"mode": self.mode, "box_px": self.box_px, "distance": self.distance, "azimuth_deg": self.azimuth_deg,
                "elevation_deg": self.elevation_deg, "roll_deg": self.roll_deg, "look_at": self.look_at,
                "intrinsics_scale": self.intrinsics_scale}


def sample(cfg: CameraRandomizerConfig, rng: np.random.Generator, ctx: Context) -> CameraDraw:
    """Aimed at the targets in the scene: their mean radius (mode box_size) and mean x, y (aim targets)."""
    return draw(cfg, rng, ctx.K, ctx.mean_radius, ctx.targets_xy)


def draw(cfg: CameraRandomizerConfig, rng: np.random.Generator, K: np.ndarray, target_radius: float | None = None,
         targets_xy=None) -> CameraDraw:
    """Camera pose (OpenCV axes, camera-to-world) and the intrinsics it renders with.

    `target_radius` (mean bounding radius of the image's targets) is what mode box_size aims at.
    """
    box = None
    by_box = cfg.mode == "box_size" and target_radius is not None and target_radius > 0
    if cfg.enabled:
        first = uniform(rng, cfg.box_px if by_box else cfg.distance)
        az, el, roll = (uniform(rng, r) for r in (cfg.azimuth_deg, cfg.elevation_deg, cfg.roll_deg))
        box, dist = (first, None) if by_box else (None, first)
        jitter = rng.uniform(-cfg.look_at_jitter, cfg.look_at_jitter, 3) if cfg.look_at_jitter > 0 else np.zeros(3)
        scale = 1 + rng.uniform(-cfg.intrinsics_jitter, cfg.intrinsics_jitter, 4) if cfg.intrinsics_jitter > 0 else np.ones(4)
    else:
        dist, az, el, roll = (_mid(r) for r in (cfg.distance, cfg.azimuth_deg, cfg.elevation_deg, cfg.roll_deg))
        box = _mid(cfg.box_px) if by_box else None
        jitter, scale = np.zeros(3), np.ones(4)
    K = np.array(K, dtype=float)
    K[0, 0], K[1, 1], K[0, 2], K[1, 2] = K[0, 0] * scale[0], K[1, 1] * scale[1], K[0, 2] * scale[2], K[1, 2] * scale[3]
    if by_box:  # with the jittered focal length: the size is what the image shows
        dist = distance_for_box(box, target_radius, K)
    centre = np.asarray(cfg.look_at, float)
    if cfg.aim == "targets" and targets_xy is not None:
        centre[:2] = targets_xy
    target = centre + jitter
    a, e = math.radians(az), math.radians(el)
    eye = target + dist * np.array([math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)])
    position, quaternion = look_at(eye, target, roll=math.radians(roll))
    return CameraDraw(position, quaternion, K.tolist(), cfg.mode if by_box else "distance", box, dist, az, el, roll,
                      target.tolist(), scale.tolist())


RANDOMIZER = register(Randomizer("camera", CameraRandomizerConfig, CameraRandomizerConfig(), sample))
