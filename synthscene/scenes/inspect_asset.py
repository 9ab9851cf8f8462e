"""Look at one asset on its own: render it from around, report what it is made of.

`assets check` and `assets preview` use this; tests use `render_views` to compare assets by their
segmentation masks. The views are fixed (no randomness): same asset, same pictures.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pybullet as p

from ..errors import BadInput
from ..labels.io import atomic_write
from ..renderers.camera import intrinsics_from_fov, look_at
from ..renderers.pybullet import RenderOutput, Renderer, quiet, resolve_backend
from . import convert
from .sample import CameraSample

LIGHT = {"direction": [0.4, -0.5, 0.8], "color": [1.0, 1.0, 1.0], "distance": 3.0,
         "ambient": 0.6, "diffuse": 0.5, "specular": 0.1, "shadow": False}
FOV_DEG = 40.0


def render_views(urdf: str | Path, scale: float = 1.0, views: list[tuple[float, float]] = ((30.0, 25.0),),
                 size: tuple[int, int] = (160, 120), backend: str = "auto", distance: float | None = None) -> list[RenderOutput]:
    """The asset alone, centred, seen from each (azimuth°, elevation°) at a distance that fits it."""
    backend = resolve_backend(backend, announce=False)
    with quiet():  # the EGL plugin prints as it comes and goes
        client = p.connect(p.DIRECT)
        renderer = Renderer(client, backend)
        uid = p.loadURDF(str(urdf), globalScaling=scale, physicsClientId=client)
    try:
        lo, hi = (np.asarray(x) for x in p.getAABB(uid, -1, physicsClientId=client))
        centre, radius = (lo + hi) / 2, max(float(np.linalg.norm(hi - lo)) / 2, 1e-4)
        w, h = size
        if distance is None:
            distance = 1.05 * radius / math.sin(math.radians(FOV_DEG / 2))
        K = intrinsics_from_fov(FOV_DEG, w, h).tolist()
        out = []
        for az, el in views:
            a, e = math.radians(az), math.radians(el)
            eye = centre + distance * np.array([math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)])
            pos, quat = look_at(eye, centre)
            cam = CameraSample(K, w, h, max(distance - 2 * radius, 1e-3) / 2, distance + 2 * radius, pos, quat)
            with quiet():
                out.append(renderer.render(cam, LIGHT))
        return out
    finally:
        with quiet():
            p.disconnect(client)


@dataclass
class CheckReport:
    name: str
    file: str
    urdf: str
    size_mm: list[float]
    triangles: int
    watertight: bool
    colour: str
    visible_px: int
    mean_rgb: list[int]
    colour_spread: float  # std of object pixels: 0 means one flat colour
    warnings: list[str]

    def lines(self) -> list[str]:
        s = self.size_mm
        return [
            f"asset       {self.name}",
            f"source      {self.file}",
            f"urdf        {self.urdf}",
            f"size        {s[0]:.1f} × {s[1]:.1f} × {s[2]:.1f} mm",
            f"triangles   {self.triangles}",
            f"watertight  {'yes' if self.watertight else 'no'}",
            f"colour      {self.colour}",
            f"render      {self.visible_px} px visible, mean RGB {tuple(self.mean_rgb)}, spread {self.colour_spread:.1f}",
            *(f"warning     {w}" for w in self.warnings),
        ]


def urdf_stats(urdf: Path) -> tuple[int, bool, str]:
    """Triangles, watertightness and colour kind of the meshes a URDF draws."""
    tris, tight, kinds = 0, True, []
    for f in convert.urdf_meshes(urdf, visual_only=True):
        try:
            meshes = convert.load_meshes(f)
        except BadInput:
            continue
        tris += sum(len(m.faces) for m in meshes)
        tight = tight and all(convert.watertight(m) for m in meshes)
        kinds += [convert.colour_kind(m) for m in meshes]
    return tris, tight, " + ".join(dict.fromkeys(kinds)) or "URDF colour"


def check(name: str, file: Path, urdf: Path, scale: float, report: "convert.MeshReport | None", warnings: list[str]) -> CheckReport:
    """Render the asset and measure it; BadInput when it renders as nothing."""
    r = render_views(urdf, scale, views=[(30.0, 25.0)], size=(256, 192))[0]
    mask = r.segmentation >= 0
    if not mask.any():
        raise BadInput("the asset renders as nothing (no pixel of it is visible)", file, "mesh")
    px = r.rgb[mask].astype(float)
    if report is not None:
        ext, tris, tight, colour = np.asarray(report.extents) * scale, report.triangles, report.watertight, report.colour
    else:
        from .assets import check_urdf

        ext = check_urdf(urdf) * scale
        tris, tight, colour = urdf_stats(urdf)
    return CheckReport(name, str(file), str(urdf), [float(x) * 1000 for x in ext], int(tris), bool(tight), colour,
                       int(mask.sum()), [int(x) for x in px.mean(0).round()], float(px.std(0).mean()), list(warnings))


def turntable(urdf: Path, scale: float, out: Path, title: str, n: int = 8, tile: int = 200) -> Path:
    """A contact sheet: `n` azimuths at two elevations, the asset's name across the top."""
    views = [(360.0 * k / n, el) for el in (20.0, 55.0) for k in range(n)]
    renders = render_views(urdf, scale, views=views, size=(tile, tile))
    tiles = [cv2.cvtColor(r.rgb, cv2.COLOR_RGB2BGR) for r in renders]
    rows = [np.hstack(tiles[i:i + n]) for i in range(0, len(tiles), n)]
    sheet = np.vstack(rows)
    header = np.full((28, sheet.shape[1], 3), 255, np.uint8)
    cv2.putText(header, title, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    sheet = np.vstack([header, sheet])
    ok, png = cv2.imencode(".png", sheet)
    if not ok:
        raise BadInput("PNG encoding failed", out, "--out")
    atomic_write(out, png.tobytes())
    return out

