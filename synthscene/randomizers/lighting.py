"""Lighting: direction, colour, intensity, distance, ambient/diffuse/specular coefficients, shadows.

What the renderer leaves out is done here, as the renderer declares it (renderers.base.LIGHTING):
a parameter it applies in "image" space (EGL: colour; every renderer: intensity) is applied to the
rendered scene's pixels, before any background is composited behind it; a parameter it does
"always" (EGL's shadows) is recorded as drawn that way (`shadow: true`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from pydantic import Field

from ..core.rng import uniform
from ..core.schema import Range, StrictModel
from ..renderers.base import LIGHTING
from .base import Context, Draw, Randomizer, register


class LightingConfig(StrictModel):
    enabled: bool = True
    azimuth_deg: Range = (0.0, 360.0)
    elevation_deg: Range = (30.0, 90.0)
    distance: Range = (2.0, 5.0)
    color: Range = (0.8, 1.0)  # per channel
    intensity: Range = (0.8, 1.2)  # image-space gain on the rendered scene
    ambient: Range = (0.4, 0.7)
    diffuse: Range = (0.3, 0.7)
    specular: Range = (0.0, 0.3)
    shadow_probability: float = Field(0.5, ge=0, le=1)


def _mid(r) -> float:
    return (r[0] + r[1]) / 2


@dataclass(frozen=True)
class LightingDraw(Draw):
    """Light parameters as PyBullet's getCameraImage takes them, the angles drawn, and how each
    parameter reaches the image with the renderer (`applied`, None when sampled without one)."""

    azimuth_deg: float
    elevation_deg: float
    direction: list[float]
    color: list[float]
    intensity: float
    distance: float
    ambient: float
    diffuse: float
    specular: float
    shadow: bool
    applied: dict | None = None


def sample(cfg: LightingConfig, rng: np.random.Generator, ctx: Context | None = None) -> LightingDraw:
    if cfg.enabled:
        az, el = uniform(rng, cfg.azimuth_deg), uniform(rng, cfg.elevation_deg)
        color = [uniform(rng, cfg.color) for _ in range(3)]
        dist = uniform(rng, cfg.distance)
        amb, dif, spec = (uniform(rng, r) for r in (cfg.ambient, cfg.diffuse, cfg.specular))
        shadow = bool(rng.random() < cfg.shadow_probability)
        intensity = uniform(rng, cfg.intensity)  # drawn last: older draws keep their values
    else:
        az, el = _mid(cfg.azimuth_deg), _mid(cfg.elevation_deg)
        color, dist = [1.0, 1.0, 1.0], _mid(cfg.distance)
        amb, dif, spec = _mid(cfg.ambient), _mid(cfg.diffuse), _mid(cfg.specular)
        shadow, intensity = False, 1.0
    a, e = math.radians(az), math.radians(el)
    direction = [math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)]
    renderer = ctx.renderer if ctx is not None else None
    if renderer is not None and LIGHTING[renderer]["shadow"] == "always":  # the coin above still keeps later draws in place
        shadow = True
    return LightingDraw(az, el, direction, color, intensity, dist, amb, dif, spec, shadow,
                        applied(renderer) if renderer else None)


def applied(renderer: str) -> dict:
    """How each drawn parameter reached the image with this renderer (recorded in the manifest)."""
    return dict(LIGHTING[renderer])


def apply_tint(rgb: np.ndarray, segmentation: np.ndarray, lighting: LightingDraw, renderer: str) -> np.ndarray:
    """The rendered scene (pixels where something was hit) times the light's colour and intensity."""
    gain = np.full(3, float(lighting.intensity), np.float32)
    if LIGHTING[renderer]["color"] == "image":
        gain *= np.asarray(lighting.color, np.float32)
    if np.allclose(gain, 1.0):
        return rgb
    lut = np.clip(np.arange(256, dtype=np.float32)[:, None] * gain + 0.5, 0, 255).astype(np.uint8)
    out = cv2.LUT(rgb, lut[None])  # one table per channel: a gain without float images
    cv2.copyTo(rgb, (segmentation < 0).view(np.uint8), out)
    return out


def apply(state, draw: LightingDraw, px) -> None:
    """Image stage: the tint (see randomizers/image.py)."""
    px.rgb = apply_tint(px.rgb, px.segmentation, draw, px.renderer)


RANDOMIZER = register(Randomizer("lighting", LightingConfig, LightingConfig(), sample, apply))
