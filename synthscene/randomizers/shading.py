"""Shading: lighting the renderer cannot do, applied in image space (deferred) to the rendered scene.

PyBullet's EGL renderer draws one white directional light (colour, ambient, diffuse and specular
coefficients are ignored). This stage re-lights the render from its own geometry: normals from
the metric depth buffer (back-projected with the camera's K), 1–3 coloured directional or point
lights (colour temperature, intensity), Lambert diffuse and Blinn-Phong highlights with a
shininess per body (bodies told apart by the segmentation), screen-space ambient occlusion (each
pixel's depth against its neighbours'), then exposure and white balance. It multiplies the
colours already there, so textures and the renderer's own shadows stay:

    f   = ambient·(1 − strength·AO) + Σᵢ intensityᵢ·colourᵢ·max(0, n·lᵢ)
    s   = 255 · specular · Σᵢ intensityᵢ·colourᵢ·(n·hᵢ)^shininess      (where n·lᵢ > 0)
    out = clip((rgb·f + s) · 2^exposure_ev · white_balance / median f over the objects)

(point lights also fall off with the square of the distance). It acts only on the scene
(segmentation ≥ 0; the ground too unless `ground: false`), before the background is composited.
A config without a `shading` section draws nothing here and records nothing: its images,
manifest, resolved config and hash are what they were before this stage existed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from pydantic import Field, field_validator
from scipy.spatial.transform import Rotation

from ..core.rng import integer, uniform
from ..core.schema import IntRange, Range, StrictModel
from .background import foreground
from .base import Context, Draw, Randomizer, register

MAX_LIGHTS = 8


class AmbientOcclusionConfig(StrictModel):
    strength: Range = (0.3, 0.7)  # how much of the ambient light a full crease loses, 0..1
    radius: Range = (0.01, 0.03)  # metres: the blur's reach, and the depth step that counts as fully occluded

    @field_validator("strength", "radius")
    @classmethod
    def _within(cls, v, info):
        lo, hi = {"strength": (0.0, 1.0), "radius": (0.001, 1.0)}[info.field_name]
        return _check(v, lo, hi)


def _check(v, lo: float, hi: float):
    if v[0] < lo or v[1] > hi:
        raise ValueError(f"expected [min, max] within [{lo:g}, {hi:g}], got {list(v)}")
    return v


#: [lo, hi] bounds of the ranges (a light brighter than 10× the render, or a colder sky than 40000 K, is a typo)
_BOUNDS = {"lights": (1, MAX_LIGHTS), "intensity": (0.0, 10.0), "ambient": (0.0, 10.0), "color_temperature_k": (1000.0, 40000.0),
           "specular": (0.0, 10.0), "shininess": (1.0, 10000.0), "exposure_ev": (-10.0, 10.0),
           "elevation_deg": (-90.0, 90.0), "distance": (0.01, 100.0)}


class ShadingConfig(StrictModel):
    enabled: bool = True
    probability: float = Field(1.0, ge=0, le=1)  # per image: shaded at all
    lights: IntRange = (1, 3)
    point_probability: float = Field(0.3, ge=0, le=1)  # per light: a point light rather than a directional one
    elevation_deg: Range = (15.0, 85.0)  # above the ground plane; azimuth is uniform
    distance: Range = (0.5, 2.0)  # point lights: metres from the middle of randomizers.pose.volume, on the ground
    intensity: Range = (0.3, 0.8)  # per light (a point light's: at that middle)
    ambient: Range = (0.35, 0.6)
    color_temperature_k: Range = (2700.0, 7500.0)  # per light, blackbody colour (luminance 1)
    specular: Range = (0.0, 0.25)  # highlight strength, per image
    shininess: Range = (4.0, 128.0)  # Blinn-Phong exponent per body (and the ground), log-uniform
    ambient_occlusion: AmbientOcclusionConfig = AmbientOcclusionConfig()
    exposure_ev: Range = (-0.3, 0.3)
    white_balance: float = Field(0.05, ge=0, lt=1)  # per-channel gain 1 ± this, normalised to mean 1
    ground: bool = True  # shade the ground plane too (false: only the bodies on it)

    @field_validator(*_BOUNDS)
    @classmethod
    def _within(cls, v, info):
        return _check(v, *_BOUNDS[info.field_name])


def kelvin_rgb(kelvin: float) -> list[float]:
    """RGB of a blackbody at `kelvin` (Tanner Helland's fit to the CIE data), scaled to luminance 1
    so that the temperature changes the hue of a light, not its brightness."""
    t = kelvin / 100.0
    r = 255.0 if t <= 66 else 329.698727446 * (t - 60) ** -0.1332047592
    g = 99.4708025861 * math.log(t) - 161.1195681661 if t <= 66 else 288.1221695283 * (t - 60) ** -0.0755148492
    b = 255.0 if t >= 66 else (0.0 if t <= 19 else 138.5177312231 * math.log(t - 10) - 305.0447927307)
    rgb = [min(max(c, 0.0), 255.0) / 255.0 for c in (r, g, b)]
    lum = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
    return [c / lum for c in rgb]


@dataclass(frozen=True)
class Light:
    """One light in world coordinates: `direction` points from the scene towards it; a point light
    sits at `position`, `distance` from the middle of the pose volume's footprint (on the ground),
    and its intensity falls off with the square of the distance (`intensity` at that middle)."""

    kind: str  # directional | point
    azimuth_deg: float
    elevation_deg: float
    direction: list[float]
    position: list[float] | None
    distance: float | None  # point lights
    kelvin: float
    color: list[float]
    intensity: float


@dataclass(frozen=True)
class ShadingDraw(Draw):
    """`applied`: this image is shaded (probability); `shininess`: one per body, in the order of
    the sample's objects (as `ctx.roles`)."""

    enabled: bool = False
    applied: bool = False
    lights: tuple[Light, ...] = ()
    ambient: float = 1.0
    specular: float = 0.0
    ground_shininess: float = 1.0
    shininess: tuple[float, ...] = ()
    ao_strength: float = 0.0
    ao_radius: float = 0.0
    exposure_ev: float = 0.0
    white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0)
    ground: bool = True

    def to_record(self) -> dict | None:
        if not self.enabled:
            return None  # left out of the manifest: configs without shading record as before
        if not self.applied:
            return {"enabled": True, "applied": False}
        return super().to_record()


def sample(cfg: ShadingConfig, rng: np.random.Generator, ctx: Context | None = None) -> ShadingDraw:
    if not cfg.enabled:
        return ShadingDraw()
    if not rng.random() < cfg.probability:
        return ShadingDraw(enabled=True, applied=False)
    vol = ctx.volume if ctx is not None else None  # point lights: around the middle of the desk
    centre = np.array([(vol.x[0] + vol.x[1]) / 2, (vol.y[0] + vol.y[1]) / 2, 0.0] if vol is not None else [0.0, 0.0, 0.0])
    lights = []
    for _ in range(integer(rng, cfg.lights)):
        point = bool(rng.random() < cfg.point_probability)
        az, el = uniform(rng, (0.0, 360.0)), uniform(rng, cfg.elevation_deg)
        kelvin, intensity, dist = (uniform(rng, r) for r in (cfg.color_temperature_k, cfg.intensity, cfg.distance))
        a, e = math.radians(az), math.radians(el)
        direction = [math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)]
        position = (centre + dist * np.array(direction)).tolist() if point else None
        lights.append(Light("point" if point else "directional", az, el, direction, position, dist if point else None, kelvin,
                            kelvin_rgb(kelvin), intensity))
    ambient, specular = uniform(rng, cfg.ambient), uniform(rng, cfg.specular)
    ao = cfg.ambient_occlusion
    ao_strength, ao_radius = uniform(rng, ao.strength), uniform(rng, ao.radius)
    ev = uniform(rng, cfg.exposure_ev)
    wb = 1.0 + rng.uniform(-cfg.white_balance, cfg.white_balance, 3) if cfg.white_balance else np.ones(3)
    wb = wb / wb.mean()
    # last, one per body: a scene with more bodies changes no other value
    log_s = (math.log(cfg.shininess[0]), math.log(cfg.shininess[1]))
    n_bodies = len(ctx.roles) if ctx is not None else 0
    ground_s, *body_s = (math.exp(uniform(rng, log_s)) for _ in range(1 + n_bodies))
    return ShadingDraw(True, True, tuple(lights), ambient, specular, ground_s, tuple(body_s), ao_strength, ao_radius,
                       ev, tuple(float(x) for x in wb), cfg.ground)


# ---- pure image-space parts: (H, W) float32 planes, no per-pixel Python ------------------------

def camera_points(depth: np.ndarray, K) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Camera-frame (OpenCV: x right, y down, z forward) coordinates of each pixel, as three
    (H, W) planes: the ray through the pixel centre times the metric depth."""
    h, w = depth.shape
    K = np.asarray(K, np.float32)
    x = (np.arange(w, dtype=np.float32) - K[0, 2]) / K[0, 0]
    y = (np.arange(h, dtype=np.float32) - K[1, 2]) / K[1, 1]
    depth = depth.astype(np.float32, copy=False)
    return depth * x[None, :], depth * y[:, None], depth


def _one_sided(z: np.ndarray, seg: np.ndarray, axis: int) -> np.ndarray:
    """Per pixel, the forward or the backward difference of `z` along `axis`, whichever is the
    smaller and stays on the same body: a depth step (a silhouette) is not a surface's slope.
    A border pixel takes the difference to its one neighbour."""
    pad = (0, 0, 1, 1) if axis == 1 else (1, 1, 0, 0)
    d = np.diff(cv2.copyMakeBorder(z, *pad, cv2.BORDER_REPLICATE), axis=axis)
    leaves = np.diff(cv2.copyMakeBorder(seg, *pad, cv2.BORDER_REPLICATE), axis=axis) != 0  # another body next
    (f, b), (leaves_f, leaves_b) = ((x[:, 1:], x[:, :-1]) if axis == 1 else (x[1:], x[:-1]) for x in (d, leaves))
    edge = [slice(None), slice(None)]
    edge[axis] = slice(-1, None)
    leaves_f[tuple(edge)] = True  # past the image's border: no forward neighbour ...
    edge[axis] = slice(0, 1)
    leaves_b[tuple(edge)] = True  # ... no backward one
    # forward when it stays on the body and is no steeper, or when the backward one leaves the body
    use_f = (((np.abs(f) <= np.abs(b)) & ~leaves_f) | leaves_b).view(np.uint8).astype(np.float32)
    return b + use_f * (f - b)


def _unit(x, y, z):
    inv = 1.0 / np.maximum(np.sqrt(x * x + y * y + z * z), 1e-20)
    return x * inv, y * inv, z * inv


def normals(depth: np.ndarray, K, seg: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit camera-frame normals (x, y, z planes), facing the camera: ∂P/∂v × ∂P/∂u of the
    back-projected points P = z·((u − cx)/fx, (v − cy)/fy, 1), which in closed form needs only
    the depth's gradients: ∝ (fx·z_u, fy·z_v, −(z + (u − cx)·z_u + (v − cy)·z_v)). The gradients
    are edge-aware one-sided differences (a plane facing the camera gives (0, 0, −1))."""
    if seg is None:
        seg = np.zeros(depth.shape, np.int32)
    z = depth.astype(np.float32, copy=False)
    K = np.asarray(K, np.float32)
    zu, zv = _one_sided(z, seg, 1), _one_sided(z, seg, 0)
    u = np.arange(z.shape[1], dtype=np.float32) - K[0, 2]
    v = np.arange(z.shape[0], dtype=np.float32) - K[1, 2]
    return _unit(K[0, 0] * zu, K[1, 1] * zv, -(z + u[None, :] * zu + v[:, None] * zv))


def ambient_occlusion(depth: np.ndarray, radius_px: float, radius_m: float) -> np.ndarray:
    """(H, W) occlusion in 0..1 from depth alone, computed at half resolution: for pairs of
    neighbours opposite each other at `radius_px` and half that (4 directions), how much farther
    the pixel is than their mean, in units of `radius_m`. A crease is farther than its
    neighbours; a plane is not (1/z is linear across it, so depth is convex); a pair reaching
    more than 2–3 radii in depth is skipped, so an object in front of a wall leaves no halo."""
    small = cv2.resize(depth, (max(1, depth.shape[1] // 2), max(1, depth.shape[0] // 2)), interpolation=cv2.INTER_NEAREST)
    h, w = small.shape
    r = max(1, int(round(radius_px / 2)))
    pad = cv2.copyMakeBorder(small, r, r, r, r, cv2.BORDER_CONSTANT, value=1e6)  # past the border: out of reach
    occ = np.zeros_like(small)
    steps = {(dy * s, dx * s) for k in (r, max(1, r // 2)) for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1))
             for s in [max(1, int(round(k / math.hypot(dy, dx))))]}
    for dy, dx in sorted(steps):
        da = small - pad[r + dy:r + dy + h, r + dx:r + dx + w]  # > 0: that neighbour is nearer
        db = small - pad[r - dy:r - dy + h, r - dx:r - dx + w]
        reach = np.maximum(np.abs(da), np.abs(db)) * (1.0 / radius_m)
        occ += np.clip((da + db) * (0.5 / radius_m), 0, 1) * np.clip(3.0 - reach, 0, 1)
    occ *= 1.0 / len(steps)
    k = 2 * max(1, r // 2) + 1
    occ = cv2.blur(occ, (k, k), borderType=cv2.BORDER_REPLICATE)
    return cv2.resize(occ, (depth.shape[1], depth.shape[0]), interpolation=cv2.INTER_LINEAR)


def _sampled(a: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Values of `a` under `mask`, every 4th row and column (enough for a median), or all of them
    when the sparse grid misses the mask."""
    few = mask[::4, ::4]
    return a[::4, ::4][few] if few.any() else a[mask]


def shade(rgb: np.ndarray, seg: np.ndarray, depth: np.ndarray, camera, draw: ShadingDraw,
          shininess: np.ndarray, mask: np.ndarray, metering: np.ndarray | None = None) -> np.ndarray:
    """The shaded image: pixels in `mask` re-lit by the draw's lights, the others untouched.

    `camera`: K, position, quaternion (camera-to-world, OpenCV axes); `shininess`: (H, W).
    Auto exposure: the light is scaled so that the median diffuse factor over `metering` (the
    bodies; by default `mask`; an empty one: no scaling) is 1, as a camera exposing for the
    objects, before `exposure_ev`: more or brighter lights change where the light falls, not
    whether the image is blown out or the objects darker than before. Works on (H, W) planes,
    one per channel (numpy is slow at broadcasting over a last axis of 3).
    """
    metering = mask if metering is None else metering
    K = np.asarray(camera.K, np.float32)
    P = camera_points(depth, K)
    nx, ny, nz = normals(depth, K, seg)
    R = Rotation.from_quat(camera.quaternion).as_matrix().astype(np.float32)
    t = np.asarray(camera.position, np.float32)

    ambient = np.full(depth.shape, draw.ambient, np.float32)
    if draw.ao_strength > 0 and draw.ao_radius > 0:
        radius_px = min(max(draw.ao_radius * float(K[0, 0]) / float(np.median(_sampled(depth, mask))), 2.0), 64.0)
        ambient *= 1.0 - draw.ao_strength * ambient_occlusion(depth, radius_px, draw.ao_radius)
    factor = [ambient, ambient.copy(), ambient.copy()]
    spec = [np.zeros(depth.shape, np.float32) for _ in range(3)] if draw.specular > 0 else None
    if spec is not None:
        vx, vy, vz = _unit(-P[0], -P[1], -P[2])  # towards the camera
    for light in draw.lights:
        colour = np.asarray(light.color, np.float32) * light.intensity
        if light.kind == "point":
            p = R.T @ (np.asarray(light.position, np.float32) - t)  # the light in the camera frame
            lx, ly, lz = p[0] - P[0], p[1] - P[1], p[2] - P[2]
            att = np.minimum(np.float32(light.distance ** 2) / np.maximum(lx * lx + ly * ly + lz * lz, 1e-12), 4.0)
            lx, ly, lz = _unit(lx, ly, lz)  # att: 1 at the middle of the desk, the inverse square around it
        else:
            lx, ly, lz = (float(c) for c in R.T @ np.asarray(light.direction, np.float32))
            att = None
        ndotl = nx * lx + ny * ly + nz * lz
        lit = np.maximum(ndotl, 0)
        if att is not None:
            lit *= att
        for c in range(3):
            factor[c] += lit * colour[c]
        if spec is not None:
            hx, hy, hz = _unit(lx + vx, ly + vy, lz + vz)
            highlight = np.exp(shininess * np.log(np.maximum(nx * hx + ny * hy + nz * hz, 1e-6)))
            highlight *= (ndotl > 0) if att is None else lit
            for c in range(3):
                spec[c] += highlight * (255.0 * draw.specular * colour[c])
    gain = (2.0 ** draw.exposure_ev) * np.asarray(draw.white_balance, np.float32)
    if metering.any():
        lum = sum(w * _sampled(f, metering) for w, f in zip((0.2126, 0.7152, 0.0722), factor))
        gain = gain / max(float(np.median(lum)), 1e-3)
    channels = cv2.split(rgb)
    out = []
    for c in range(3):
        x = channels[c] * (factor[c] * gain[c])
        if spec is not None:
            x += spec[c] * gain[c]
        out.append(np.clip(x + 0.5, 0, 255).astype(np.uint8))
    result = rgb.copy()
    cv2.copyTo(cv2.merge(out), mask.view(np.uint8), result)
    return result


def shininess_map(seg: np.ndarray, draw: ShadingDraw, objects, uid_of, ground_uid: int | None) -> np.ndarray:
    """(H, W) Blinn-Phong exponent: each body's own, the ground's elsewhere (also for -1, unshaded)."""
    top = max(int(seg.max()), ground_uid if ground_uid is not None else -1)
    lut = np.full(top + 2, draw.ground_shininess, np.float32)
    for obj, s in zip(objects, draw.shininess):
        uid = uid_of(obj)
        if 0 <= uid <= top:
            lut[uid + 1] = s
    return lut[seg + 1]


def apply(state, draw: ShadingDraw, px) -> None:
    """Image stage: re-light the scene's pixels (after the lighting tint, before the background)."""
    if not draw.applied:
        return
    mask = foreground(px.segmentation, px.ground_uid, not draw.ground)
    if not mask.any():
        return
    shine = shininess_map(px.segmentation, draw, px.sample.objects, px.uid_of, px.ground_uid)
    bodies = foreground(px.segmentation, px.ground_uid, True)
    px.rgb = shade(px.rgb, px.segmentation, px.depth, px.sample.camera, draw, shine, mask,
                   metering=bodies if bodies.any() else mask)


RANDOMIZER = register(Randomizer("shading", ShadingConfig, ShadingConfig(enabled=False), sample, apply,
                                 omitted_when_default=True))
