"""What a renderer is: the seam between a posed world and its pixels.

A renderer draws the bodies of a PyBullet client (loaded once per worker and re-posed per image by
scenes/world.py) from one camera under one light, and returns a RenderOutput: RGB, metric depth and
each pixel's body id. The camera and the light are read by attribute (`View`, `Light`: a
scenes.sample.CameraSample and a randomizers.lighting.LightingDraw are both), so a renderer imports
nothing of the stages that sample them. Each renderer declares in `LIGHTING` how every light
parameter reaches the image; the lighting randomizer records that and does in image space what
the renderer leaves out, so renderer quirks live here, not in the randomizers.

Words: a *renderer* draws (egl | tiny; the config's `renderer.backend`), an *executor* runs the
per-image jobs (inline, local processes, Ray; the command's `--backend`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

#: the concrete renderers (`auto` in a config resolves to one of them: renderers/pybullet.py)
RENDERERS = ("egl", "tiny")

#: How each drawn light parameter reaches the image, per renderer (recorded in the manifest as the
#: lighting draw's `applied`): "renderer" draws it, "image" is applied to the rendered scene's
#: pixels afterwards, "ignored" has no effect, "always" the renderer does whatever was drawn.
#: PyBullet's EGL plugin honours only the light direction, and draws shadows in every image
#: whatever getCameraImage's `shadow` says (it stores the flag and never reads it).
LIGHTING: dict[str, dict[str, str]] = {
    "egl": {"direction": "renderer", "shadow": "always", "color": "image", "intensity": "image",
            "ambient": "ignored", "diffuse": "ignored", "specular": "ignored", "distance": "ignored"},
    "tiny": {"direction": "renderer", "shadow": "renderer", "color": "renderer", "intensity": "image",
             "ambient": "renderer", "diffuse": "renderer", "specular": "renderer", "distance": "renderer"},
}


class View(Protocol):
    """A camera as a renderer reads it: OpenCV intrinsics, image size, clip planes, camera-to-world pose."""

    K: list[list[float]]
    width: int
    height: int
    near: float
    far: float
    position: list[float]
    quaternion: list[float]  # x, y, z, w; OpenCV axes


class Light(Protocol):
    """One directional light, as PyBullet's getCameraImage takes it."""

    direction: list[float]
    color: list[float]
    distance: float
    ambient: float
    diffuse: float
    specular: float
    shadow: bool


@dataclass(frozen=True)
class FixedView:
    """A View that is not a sampled camera (an asset's turntable, a test)."""

    K: list[list[float]]
    width: int
    height: int
    near: float
    far: float
    position: list[float]
    quaternion: list[float]


@dataclass(frozen=True)
class FixedLight:
    """A Light that is not a sampled lighting draw."""

    direction: list[float]
    color: list[float]
    distance: float
    ambient: float
    diffuse: float
    specular: float
    shadow: bool


@dataclass
class RenderOutput:
    rgb: np.ndarray  # (H, W, 3) uint8
    depth: np.ndarray  # (H, W) float32, metres along the optical axis
    segmentation: np.ndarray  # (H, W) int32: body id, -1 where nothing was hit


class Renderer(Protocol):
    """What the world, the producer and the asset preview call. `name` is the renderer's name
    (one of RENDERERS); `lighting` is its LIGHTING entry."""

    name: str

    def warm_up(self) -> None:
        """Draw whatever makes the next frames independent of how many came before."""

    def render(self, camera: View, lighting: Light) -> RenderOutput:
        """The full image: RGB, depth and segmentation."""

    def preview(self, camera: View, lighting: Light) -> RenderOutput:
        """Depth and segmentation exactly as `render` gives them (RGB may differ), as cheaply as
        the renderer can: occluder aiming reads only those."""
