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

from ..core.errors import BadInput
from ..core.files import atomic_write
from ..geometry.camera import intrinsics_from_fov, look_at
from ..renderers.base import FixedLight, FixedView, RenderOutput
from ..core.quiet import quiet
from ..renderers.pybullet import Renderer, resolve_renderer
from . import convert

LIGHT = FixedLight(direction=[0.4, -0.5, 0.8], color=[1.0, 1.0, 1.0], distance=3.0, ambient=0.6, diffuse=0.5,
                   specular=0.1, shadow=False)
FOV_DEG = 40.0


def scale_bar_length(size_m: float) -> float:
    """A round length (1, 2 or 5 × 10^k m) of about half the object's size, for the preview's scale bar."""
    target = max(size_m / 2, 1e-4)
    k = math.floor(math.log10(target))
    return max(m * 10.0 ** k for m in (1, 2, 5) if m * 10.0 ** k <= target * 1.0000001)


def _length_text(metres: float) -> str:
    return f"{metres * 1000:g} mm" if metres < 0.01 else f"{metres * 100:g} cm" if metres < 1 else f"{metres:g} m"


def _add_box(client: int, lo, hi, rgba) -> None:
    """A fixed coloured box from corner `lo` to `hi`, drawn but not colliding."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    vis = p.createVisualShape(p.GEOM_BOX, halfExtents=((hi - lo) / 2).tolist(), rgbaColor=rgba, physicsClientId=client)
    p.createMultiBody(baseMass=0, baseVisualShapeIndex=vis, basePosition=((lo + hi) / 2).tolist(), physicsClientId=client)


def decorate(client: int, lo: np.ndarray, hi: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """A ground plane under the object, the world axes (x red, y green, z blue) from a point beside
    it, and a scale bar along x in front of it. Returns the bar's length and the corners of what to frame."""
    ext = hi - lo
    size = max(float(ext.max()), 1e-4)
    t = 0.02 * size  # thickness of the axes and the bar
    z0 = lo[2]
    half = ext[:2] / 2 + 0.6 * size
    mid = (lo + hi) / 2
    _add_box(client, [*(mid[:2] - half), z0 - 0.01 * size], [*(mid[:2] + half), z0], [0.82, 0.82, 0.80, 1])
    o = np.array([lo[0] - 0.25 * size, lo[1] - 0.25 * size, z0])  # the axes' origin, on the ground
    L = 0.5 * size
    _add_box(client, o + [0, -t / 2, 0], o + [L, t / 2, t], [0.9, 0.1, 0.1, 1])
    _add_box(client, o + [-t / 2, 0, 0], o + [t / 2, L, t], [0.1, 0.75, 0.1, 1])
    _add_box(client, o + [-t / 2, -t / 2, 0], o + [t / 2, t / 2, L], [0.1, 0.2, 0.9, 1])
    bar = scale_bar_length(size)
    b = np.array([mid[0] - bar / 2, hi[1] + 0.25 * size, z0])
    _add_box(client, b + [0, -t, 0], b + [bar, t, t / 2], [0.05, 0.05, 0.05, 1])
    for end in (0.0, bar):  # end ticks, so its length reads clearly
        _add_box(client, b + [end - t / 2, -2 * t, 0], b + [end + t / 2, 2 * t, t], [0.05, 0.05, 0.05, 1])
    return bar, np.minimum(lo, o - t), np.maximum(hi, np.maximum(b + [bar, 2 * t, t], o + L))


def render_views(urdf: str | Path, scale: float = 1.0, views: list[tuple[float, float]] = ((30.0, 25.0),),
                 size: tuple[int, int] = (160, 120), renderer: str = "auto", distance: float | None = None) -> list[RenderOutput]:
    """The asset alone, centred, seen from each (azimuth°, elevation°) at a distance that fits it."""
    return _render(urdf, scale, views, size, renderer, distance, decorated=False)[0]


def _render(urdf, scale, views, size, renderer_name, distance, decorated: bool) -> tuple[list[RenderOutput], float]:
    """render_views; `decorated`: on a ground plane with axes and a scale bar (its length returned)."""
    bar = 0.0
    renderer_name = resolve_renderer(renderer_name, announce=False)
    with quiet():  # the EGL plugin prints as it comes and goes
        client = p.connect(p.DIRECT)
        renderer = Renderer(client, renderer_name)
        uid = p.loadURDF(str(urdf), globalScaling=scale, physicsClientId=client)
    try:
        lo, hi = (np.asarray(x) for x in p.getAABB(uid, -1, physicsClientId=client))
        if decorated:
            bar, lo, hi = decorate(client, lo, hi)
        centre, radius = (lo + hi) / 2, max(float(np.linalg.norm(hi - lo)) / 2, 1e-4)
        w, h = size
        if distance is None:
            distance = 1.05 * radius / math.sin(math.radians(FOV_DEG / 2))
        K = intrinsics_from_fov(FOV_DEG, w, h).tolist()
        far = distance + (4 if decorated else 2) * radius  # the ground reaches past the framed part
        out = []
        for az, el in views:
            a, e = math.radians(az), math.radians(el)
            eye = centre + distance * np.array([math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)])
            pos, quat = look_at(eye, centre)
            cam = FixedView(K, w, h, max(distance - 2 * radius, 1e-3) / 2, far, pos, quat)
            with quiet():
                out.append(renderer.render(cam, LIGHT))
        return out, bar
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
    up: str = "z"  # which axis of the source is up, in words
    units: str = "m"  # the asset's units, for footprint and height

    def _length(self, *metres: float) -> str:
        """Lengths in the asset's units and, when those are not metres, in metres too."""
        m = " × ".join(f"{x:.4g}" for x in metres) + " m"
        if self.units == "m":
            return m
        f = convert.UNITS[self.units]
        return " × ".join(f"{x / f:.4g}" for x in metres) + f" {self.units} = {m}"

    def lines(self) -> list[str]:
        s = self.size_mm
        return [
            f"asset       {self.name}",
            f"source      {self.file}",
            f"urdf        {self.urdf}",
            f"up          {self.up}",
            f"footprint   {self._length(s[0] / 1000, s[1] / 1000)} (x × y, on the ground)",
            f"height      {self._length(s[2] / 1000)} (z)",
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


def describe_up(up_axis: str, rotation_deg=(0.0, 0.0, 0.0), source: Path | None = None, is_urdf: bool = False) -> str:
    """`assets check`'s words for which way is up."""
    if is_urdf:
        return "z of the URDF (as it places its meshes; change it with their <origin rpy>)"
    default = source is not None and up_axis == convert.default_up_axis(source)
    why = (" (glTF is y-up by its specification)" if up_axis == "y" else "") if default else " (up_axis)"
    text = f"the mesh's z axis, as stored{why}" if up_axis == "z" else f"the mesh's {up_axis} axis, turned to z{why}"
    if any(rotation_deg):
        text += f", then rotated by rotation_deg {[float(f'{a:g}') for a in rotation_deg]} (XYZ, degrees)"
    return text


def check(name: str, file: Path, urdf: Path, scale: float, report: "convert.MeshReport | None", warnings: list[str],
          *, units: str = "m", up_axis: str = "z", rotation_deg=(0.0, 0.0, 0.0), is_urdf: bool = False) -> CheckReport:
    """Render the asset and measure it; BadInput when it renders as nothing."""
    r = render_views(urdf, scale, views=[(30.0, 25.0)], size=(256, 192))[0]
    mask = r.segmentation >= 0
    if not mask.any():
        raise BadInput("the asset renders as nothing (no pixel of it is visible)", file, "mesh")
    px = r.rgb[mask].astype(float)
    if report is not None:
        ext, tris, tight, colour = np.asarray(report.extents) * scale, report.triangles, report.watertight, report.colour
    else:
        from .prepare import urdf_extents

        ext = urdf_extents(urdf) * scale
        tris, tight, colour = urdf_stats(urdf)
    return CheckReport(name, str(file), str(urdf), [float(x) * 1000 for x in ext], int(tris), bool(tight), colour,
                       int(mask.sum()), [int(x) for x in px.mean(0).round()], float(px.std(0).mean()), list(warnings),
                       describe_up(up_axis, rotation_deg, Path(file), is_urdf or report is None), units)


def turntable(urdf: Path, scale: float, out: Path, title: str, n: int = 8, tile: int = 200) -> Path:
    """A contact sheet: `n` azimuths at two elevations, the asset's name across the top, on a ground
    plane with the world axes and a scale bar (so a sideways or wrongly sized asset shows)."""
    views = [(360.0 * k / n, el) for el in (20.0, 55.0) for k in range(n)]
    renders, bar = _render(urdf, scale, views, (tile, tile), "auto", None, decorated=True)
    title = f"{title}   axes: x red, y green, z blue (up)   black bar: {_length_text(bar)}"
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

