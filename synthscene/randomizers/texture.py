"""Texture: procedural or image textures on the ground, distractors and (optionally) targets, and
colour jitter of the targets' own colours.

Textures are applied in image space from the render's own geometry: every pixel of a textured
body gets the texel at its surface point (the ground: world x, y; other bodies: a tri-planar
mapping in the body's own frame, so the texture moves with it), shaded by the rendered
luminance. PyBullet's own texture slots are never touched: its EGL plugin maps
`changeVisualShape(textureUniqueId=...)` to the wrong texture and cannot restore a body's
original one (measured), and PyBullet never frees a texture. So no appearance state survives
from one image to the next, and memory stays flat: texels come from a bounded per-worker cache
of (kind, variant) procedural tiles and pooled image files.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import cv2
import numpy as np
from pydantic import Field
from scipy.spatial.transform import Rotation

from ..core.rng import config_stream, uniform
from ..core.schema import Range, StrictModel
from .base import Context, Draw, Randomizer, register
from .paths import ImageDir, images_in
from .procedural import KINDS, pattern

Kind = Literal["noise", "stripes", "checker", "gradient", "flat"]


class ColorJitterConfig(StrictModel):
    probability: float = Field(0.5, ge=0, le=1)  # per target
    hue_deg: float = Field(8.0, ge=0, le=90)  # ± shift
    saturation: Range = (0.8, 1.2)  # scale
    value: Range = (0.85, 1.15)  # scale


class TextureConfig(StrictModel):
    enabled: bool = True
    ground: float = Field(0.5, ge=0, le=1)  # probability the ground gets a random texture
    distractors: float = Field(0.8, ge=0, le=1)  # per distractor / occluder
    targets: float = Field(0.0, ge=0, le=1)  # per target: targets keep their own look by default
    kinds: list[Kind] = Field(list(KINDS), min_length=1)
    variants: int = Field(16, ge=1, le=256)  # procedural tiles per kind: the pool is bounded
    folder: ImageDir | None = None  # image textures (jpg/png), read in place
    max_images: int = Field(256, ge=1)  # image pool size (chosen by the config's seed)
    image_probability: float = Field(0.5, ge=0, le=1)  # image rather than procedural, when a folder is given
    tiles_per_m: Range = (2.0, 10.0)  # texture repeats per metre
    size: int = Field(128, ge=8, le=1024)  # texels per tile side
    color_jitter: ColorJitterConfig = ColorJitterConfig()


def image_pool(cfg: TextureConfig, seed: int) -> tuple[str, ...]:
    """The image files textures are drawn from: a function of the config alone."""
    return () if cfg.folder is None else _image_pool(cfg.folder, cfg.max_images, seed)


@lru_cache(maxsize=16)
def _image_pool(folder: str, max_images: int, seed: int) -> tuple[str, ...]:
    files = images_in(folder)
    if len(files) <= max_images:
        return files
    keep = sorted(config_stream(seed, "texture.images").choice(len(files), max_images, replace=False))
    return tuple(files[i] for i in keep)


def _draw_texture(cfg: TextureConfig, rng: np.random.Generator, n_images: int) -> dict:
    use_image = n_images > 0 and rng.random() < cfg.image_probability
    tex = {"image": int(rng.integers(n_images))} if use_image else {
        "kind": cfg.kinds[int(rng.integers(len(cfg.kinds)))], "variant": int(rng.integers(cfg.variants))}
    tex["tiles_per_m"] = uniform(rng, cfg.tiles_per_m)
    tex["rotation"] = float(rng.uniform(0, 2 * np.pi))
    return tex


@dataclass(frozen=True)
class TextureDraw(Draw):
    """Per body (ground first, then the sample's objects in order): a texture or None; per target a jitter or None."""

    ground: dict | None
    objects: list[dict | None]
    jitter: list[dict | None]


def sample(cfg: TextureConfig, rng: np.random.Generator, ctx: Context) -> TextureDraw:
    """For every body of the image (`ctx.roles`) from the config's image pool."""
    return draw(cfg, rng, list(ctx.roles), len(image_pool(cfg, ctx.seed)) if cfg.enabled else 0)


def draw(cfg: TextureConfig, rng: np.random.Generator, roles: list[str], n_images: int) -> TextureDraw:
    """Hands keep their skin tone: no draw for them (drawn after every other body's)."""
    if not cfg.enabled:
        return TextureDraw(None, [None] * len(roles), [None] * len(roles))
    prob = {"target": cfg.targets, "distractor": cfg.distractors, "occluder": cfg.distractors}
    ground = _draw_texture(cfg, rng, n_images) if rng.random() < cfg.ground else None
    objects, jitter = [], []
    for role in roles:
        if role == "hand":
            objects.append(None)
            jitter.append(None)
            continue
        objects.append(_draw_texture(cfg, rng, n_images) if rng.random() < prob[role] else None)
        cj = cfg.color_jitter
        if role == "target" and rng.random() < cj.probability:
            jitter.append({"hue_deg": float(rng.uniform(-cj.hue_deg, cj.hue_deg)),
                           "saturation": uniform(rng, cj.saturation), "value": uniform(rng, cj.value)})
        else:
            jitter.append(None)
    return TextureDraw(ground, objects, jitter)


class TextureBank:
    """Per-worker, bounded cache of texture tiles (size × size RGB uint8)."""

    def __init__(self, cfg: TextureConfig, seed: int, capacity: int = 128):
        self.cfg, self.seed, self.capacity = cfg, seed, capacity
        self.images = image_pool(cfg, seed)
        self._cache: OrderedDict[tuple, np.ndarray] = OrderedDict()

    def tile(self, tex: dict) -> np.ndarray:
        key = ("image", tex["image"]) if "image" in tex else (tex["kind"], tex["variant"])
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        n = self.cfg.size
        if "image" in tex:
            img = cv2.imread(self.images[tex["image"]], cv2.IMREAD_COLOR)
            if img is None:
                raise ValueError(f"texture image cannot be read: {self.images[tex['image']]}")
            img = cv2.cvtColor(cv2.resize(img, (n, n), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
        else:  # the variant's pixels depend on the config's seed, kind and variant only
            img = pattern(tex["kind"], config_stream(self.seed, f"texture.{tex['kind']}.{tex['variant']}"), n, n)
        arr = np.ascontiguousarray(img)
        self._cache[key] = arr
        if len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        return arr


def surface_points(depth: np.ndarray, K, cam_position, cam_quaternion, origin: tuple[int, int] = (0, 0),
                   axes: tuple[int, ...] = (0, 1, 2)) -> list[np.ndarray]:
    """World coordinates (one (h, w) array per axis asked for) seen at each pixel of a depth crop
    whose top-left pixel is `origin` (row, col): each camera ray (x, y, 1) rotated, times the depth."""
    h, w = depth.shape
    K = np.asarray(K, np.float32)
    x = (np.arange(origin[1], origin[1] + w, dtype=np.float32) - K[0, 2]) / K[0, 0]
    y = (np.arange(origin[0], origin[0] + h, dtype=np.float32) - K[1, 2]) / K[1, 1]
    R = Rotation.from_quat(cam_quaternion).as_matrix().astype(np.float32)
    t = np.asarray(cam_position, np.float32)
    out = []
    for i in axes:
        a = (R[i, 0] * x)[None, :] + (R[i, 1] * y + R[i, 2])[:, None]
        a *= depth
        a += t[i]
        out.append(a)
    return out


def _lookup(tile: np.ndarray, u: np.ndarray, v: np.ndarray, tex: dict) -> np.ndarray:
    """Texels (h, w, 3) at surface coordinates (u, v) in metres: rotated, scaled, wrapped."""
    c, s = np.cos(tex["rotation"]), np.sin(tex["rotation"])
    n = np.float32(tile.shape[0])
    k = np.float32(tex["tiles_per_m"]) * n
    tu = (np.float32(c) * k) * u - (np.float32(s) * k) * v
    tv = (np.float32(s) * k) * u + (np.float32(c) * k) * v
    for t in (tu, tv):  # wrap into one tile here (remap's maps must stay small); faster than np.remainder
        t -= np.floor(t * (1 / n)) * n
    return cv2.remap(tile, tu, tv, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)


def texture_pixels(rgb: np.ndarray, mask: np.ndarray, depth: np.ndarray, camera, tile: np.ndarray, tex: dict,
                   frame: tuple | None) -> None:
    """Re-colour `rgb` in place where `mask`: texel × rendered luminance (shading and shadows kept).

    Works on the mask's bounding box only: small objects cost little.
    """
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    m, view = mask[box], rgb[box]
    origin = (int(rows[0]), int(cols[0]))
    if frame is None:  # the ground: planar in world x, y
        u, v = surface_points(depth[box], camera.K, camera.position, camera.quaternion, origin, axes=(0, 1))
    else:  # tri-planar in the body's frame: project on the plane facing the local surface normal
        pos, quat = frame
        R = Rotation.from_quat(quat).as_matrix().astype(np.float32)
        world = np.stack(surface_points(depth[box], camera.K, camera.position, camera.quaternion, origin), axis=-1)
        local = (world - np.asarray(pos, np.float32)) @ R
        if min(local.shape[:2]) >= 2:
            gy, gx = np.gradient(local, axis=(0, 1))
            axis = np.argmax(np.abs(np.cross(gx, gy)), axis=-1)
        else:
            axis = np.full(local.shape[:2], 2)
        # facing x: (y, z); facing y: (x, z); facing z: (x, y)
        u = np.where(axis == 0, local[..., 1], local[..., 0])
        v = np.where(axis == 2, local[..., 1], local[..., 2])
    texel = _lookup(tile, u, v, tex)
    lum = cv2.cvtColor(np.ascontiguousarray(view), cv2.COLOR_RGB2GRAY)
    lit = lum[m]
    ref = max(float(np.percentile(lit[:: max(1, lit.size // 4096)], 98)), 1.0)
    shaded = cv2.multiply(texel, cv2.merge([lum, lum, lum]), scale=1.0 / ref)
    cv2.copyTo(shaded, m.view(np.uint8), view)  # in place, into rgb's crop


def jitter_pixels(rgb: np.ndarray, mask: np.ndarray, jitter: dict) -> None:
    """Shift hue and scale saturation and value of the masked pixels, in place."""
    px = rgb[mask]
    if px.size == 0:
        return
    hsv = cv2.cvtColor(px[None], cv2.COLOR_RGB2HSV_FULL)[0].astype(np.float32)
    hsv[:, 0] = (hsv[:, 0] + jitter["hue_deg"] * 256 / 360) % 256
    hsv[:, 1] = np.clip(hsv[:, 1] * jitter["saturation"], 0, 255)
    hsv[:, 2] = np.clip(hsv[:, 2] * jitter["value"], 0, 255)
    rgb[mask] = cv2.cvtColor(hsv.astype(np.uint8)[None], cv2.COLOR_HSV2RGB_FULL)[0]


def apply(bank: TextureBank, drawn: TextureDraw, px) -> None:
    """Image stage: textures on the ground and bodies, then the targets' colour jitter, in place."""
    sample, rgb, seg, depth, uid_of = px.sample, px.rgb, px.segmentation, px.depth, px.uid_of
    jobs = []  # (mask, texture, frame)
    if drawn.ground and px.ground_uid is not None:
        jobs.append((seg == px.ground_uid, drawn.ground, None))
    for obj, tex in zip(sample.objects, drawn.objects):
        if tex is not None:
            jobs.append((seg == uid_of(obj), tex, (obj.position, obj.quaternion)))
    for mask, tex, frame in jobs:
        texture_pixels(rgb, mask, depth, sample.camera, bank.tile(tex), tex, frame)
    for obj, jit in zip(sample.objects, drawn.jitter):
        if jit is not None:
            jitter_pixels(rgb, seg == uid_of(obj), jit)


RANDOMIZER = register(Randomizer("texture", TextureConfig, TextureConfig(enabled=False), sample, apply,
                                 worker=lambda cfg, seed: TextureBank(cfg, seed)))
