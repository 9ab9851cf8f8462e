"""PyBullet camera images: backends `egl` (OpenGL via the EGL plugin; GPU or Mesa llvmpipe),
`tiny` (PyBullet's CPU TinyRenderer) and `auto` (EGL when its plugin loads, else tiny)."""
from __future__ import annotations

import pkgutil
import sys
import numpy as np

from ..core.errors import SynthsceneError
from .base import LIGHTING, RENDERERS, Light, RenderOutput, View
from ..core.quiet import pybullet as p
from ..core.quiet import quiet
from .memory import released_zero_pages
from ..geometry.camera import linear_depth, projection_matrix, view_matrix

_announced = False


def _egl_plugin_path() -> str | None:
    loader = pkgutil.get_loader("eglRenderer")
    return loader.get_filename() if loader is not None else None


def load_egl(client: int) -> bool:
    """Load the EGL plugin into a client. Once loaded it serves every getCameraImage call."""
    path = _egl_plugin_path()
    if path is None:
        return False
    with quiet():
        return p.loadPlugin(path, "_eglRendererPlugin", physicsClientId=client) >= 0


def resolve_renderer(name: str, announce: bool = True) -> str:
    """The concrete renderer for `auto` | `egl` | `tiny` (the config's `renderer.backend`), probed once in a throwaway client."""
    global _announced
    if name == "tiny":
        chosen = "tiny"
    else:
        with quiet():
            client = p.connect(p.DIRECT)
            try:
                ok = load_egl(client)
            finally:
                p.disconnect(client)
        if not ok and name == "egl":
            raise SynthsceneError("renderer.backend: egl requested but PyBullet's EGL plugin does not load here; use auto or tiny")
        chosen = "egl" if ok else "tiny"
    if announce and not _announced:
        why = {"egl": "PyBullet EGL plugin (OpenGL)", "tiny": "PyBullet TinyRenderer (CPU)"}[chosen]
        print(f"synthscene: renderer {chosen}: {why}", file=sys.stderr)
        _announced = True
    return chosen


class Renderer:
    """PyBullet's renderers behind the renderers.base.Renderer seam: draws a client's world from a
    View under a Light; `name` must be concrete (egl or tiny)."""

    def __init__(self, client: int, name: str):
        if name not in RENDERERS:
            raise ValueError(f"renderer must be egl or tiny, got {name!r}")
        self.client = client
        self.name = name
        self.lighting = LIGHTING[name]
        if name == "egl":
            with released_zero_pages():  # the plugin's 136 MiB vertex buffer, zero-filled by llvmpipe (renderers/memory.py)
                if not load_egl(client):
                    raise SynthsceneError("PyBullet's EGL plugin failed to load")
        self._renderer = p.ER_BULLET_HARDWARE_OPENGL if name == "egl" else p.ER_TINY_RENDERER

    def warm_up(self) -> None:
        """Two throwaway frames once the world is loaded. EGL draws the first frames after loading
        differently (measured: shadows differ until two frames have been drawn), which would make
        an image depend on whether it was among a worker's first."""
        with quiet():  # the EGL plugin prints its GL vendor on its first frame
            for _ in range(2):
                p.getCameraImage(64, 48, renderer=self._renderer, shadow=1, physicsClientId=self.client)

    def render(self, camera: View, lighting: Light) -> RenderOutput:
        return self._draw(camera, lighting, 0)

    def preview(self, camera: View, lighting: Light) -> RenderOutput:
        """The depth and segmentation `render` gives, for less: only those are meant to be read.

        On EGL every frame draws the scene three times (a 4096² shadow map from the light, the
        colour pass, the segmentation pass), whatever `shadow` says. ER_USE_PROJECTIVE_TEXTURE
        swaps the first two for one pass whose vertex shader computes `gl_Position` exactly as the
        colour pass does (bullet3 examples/OpenGLWindow/Shaders, useShadowMap- and
        projectiveTextureInstancingVS) and whose fragments are discarded by the same rule, so depth
        and segmentation come out bit for bit the same (tests/test_aim_preview.py) in about half
        the time (docs/ROBUSTNESS.md, "Measurements behind the code"). The plugin turns the mode
        off again after the frame, and the shadow map a full render uses is redrawn by that
        render, so later images do not change. RGB differs (no shadows, projected texture).
        TinyRenderer draws as `render` does.
        """
        return self._draw(camera, lighting, p.ER_USE_PROJECTIVE_TEXTURE if self.name == "egl" else 0)

    def _draw(self, camera: View, lighting: Light, flags: int) -> RenderOutput:
        w, h = camera.width, camera.height
        view = view_matrix(camera.position, camera.quaternion)
        proj = projection_matrix(camera.K, w, h, camera.near, camera.far)
        # Every light parameter is passed on every call: the EGL renderer keeps what it was last given.
        _, _, rgba, depth, seg = p.getCameraImage(
            w,
            h,
            viewMatrix=view,
            projectionMatrix=proj,
            renderer=self._renderer,
            lightDirection=lighting.direction,
            lightColor=lighting.color,
            lightDistance=lighting.distance,
            lightAmbientCoeff=lighting.ambient,
            lightDiffuseCoeff=lighting.diffuse,
            lightSpecularCoeff=lighting.specular,
            shadow=int(lighting.shadow),
            flags=flags,
            physicsClientId=self.client,
        )
        rgb = np.ascontiguousarray(np.reshape(rgba, (h, w, 4))[:, :, :3], dtype=np.uint8)
        depth = linear_depth(np.reshape(depth, (h, w)).astype(np.float32), camera.near, camera.far)
        return RenderOutput(rgb, depth.astype(np.float32), np.reshape(seg, (h, w)).astype(np.int32))
