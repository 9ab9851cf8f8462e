"""Lighting: direction, colour, distance, ambient/diffuse/specular coefficients, shadows."""
from __future__ import annotations

import math

import numpy as np

from ..rng import uniform
from ..schema import Range, StrictModel


class LightingConfig(StrictModel):
    enabled: bool = True
    azimuth_deg: Range = (0.0, 360.0)
    elevation_deg: Range = (30.0, 90.0)
    distance: Range = (2.0, 5.0)
    color: Range = (0.8, 1.0)  # per channel
    ambient: Range = (0.4, 0.7)
    diffuse: Range = (0.3, 0.7)
    specular: Range = (0.0, 0.3)
    shadow_probability: float = 0.5


def _mid(r) -> float:
    return (r[0] + r[1]) / 2


def sample(cfg: LightingConfig, rng: np.random.Generator) -> dict:
    """Light parameters as PyBullet's getCameraImage takes them, plus the angles drawn."""
    if cfg.enabled:
        az, el = uniform(rng, cfg.azimuth_deg), uniform(rng, cfg.elevation_deg)
        color = [uniform(rng, cfg.color) for _ in range(3)]
        dist = uniform(rng, cfg.distance)
        amb, dif, spec = (uniform(rng, r) for r in (cfg.ambient, cfg.diffuse, cfg.specular))
        shadow = bool(rng.random() < cfg.shadow_probability)
    else:
        az, el = _mid(cfg.azimuth_deg), _mid(cfg.elevation_deg)
        color, dist = [1.0, 1.0, 1.0], _mid(cfg.distance)
        amb, dif, spec = _mid(cfg.ambient), _mid(cfg.diffuse), _mid(cfg.specular)
        shadow = False
    a, e = math.radians(az), math.radians(el)
    direction = [math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)]
    return {
        "azimuth_deg": az,
        "elevation_deg": el,
        "direction": direction,
        "color": color,
        "distance": dist,
        "ambient": amb,
        "diffuse": dif,
        "specular": spec,
        "shadow": shadow,
    }
