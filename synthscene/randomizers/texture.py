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
from typing import Literal

import cv2
import numpy as np
from pydantic import Field
from scipy.spatial.transform import Rotation

from ..rng import config_stream, uniform
from ..schema import Range, StrictModel
from .paths import ExistingDir, images_in
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
    kinds: list[Kind] = list(KINDS)
    variants: int = Field(16, ge=1, le=256)  # procedural tiles per kind: the pool is bounded
    folder: ExistingDir | None = None  # image textures (jpg/png), read in place
    max_images: int = Field(256, ge=1)  # image pool size (chosen by the config's seed)
    image_probability: float = Field(0.5, ge=0, le=1)  # image rather than procedural, when a folder is given
    tiles_per_m: Range = (2.0, 10.0)  # texture repeats per metre
    size: int = Field(128, ge=8, le=1024)  # texels per tile side
    color_jitter: ColorJitterConfig = ColorJitterConfig()


def image_pool(cfg: TextureConfig, seed: int) -> tuple[str, ...]:
    """The image files textures are drawn from: a function of the config alone."""
    if cfg.folder is None:
        return ()
    files = images_in(cfg.folder)
    if len(files) <= cfg.max_images:
        return files
    keep = sorted(config_stream(seed, "texture.images").choice(len(files), cfg.max_images, replace=False))
    return tuple(files[i] for i in keep)


def _draw_texture(cfg: TextureConfig, rng: np.random.Generator, n_images: int) -> dict:
    use_image = n_images > 0 and rng.random() < cfg.image_probability
    tex = {"image": int(rng.integers(n_images))} if use_image else {
        "kind": cfg.kinds[int(rng.integers(len(cfg.kinds)))], "variant": int(rng.integers(cfg.variants))}
    tex["tiles_per_m"] = uniform(rng, cfg.tiles_per_m)
    tex["rotation"] = float(rng.uniform(0, 2 * np.pi))
    return tex


def sample(cfg: TextureConfig, rng: np.random.Generator, roles: list[str], n_images: int) -> dict:
    """Per body (ground first, then the sample's objects in order): a texture or None; per target a jitter or None."""
    if not cfg.enabled:
        return {"ground": None, "objects": [None] * len(roles), "jitter": [None] * len(roles)}
    prob = {"target": cfg.targets, "distractor": cfg.distractors, "occluder": cfg.distractors}
    ground = _draw_texture(cfg, rng, n_images) if rng.random() < cfg.ground else None
    objects, jitter = [], []
    for role in roles:
        objects.append(_draw_texture(cfg, rng, n_images) if rng.random() < prob[role] else None)
        cj = cfg.color_jitter
        if role == "target" and rng.random() < cj.probability:
            jitter.append({"hue_deg": float(rng.uniform(-cj.hue_deg, cj.hue_deg)),
                           "saturation": uniform(rng, cj.saturation), "value": uniform(rng, cj.value)})
        else:
            jitter.append(None)
    return {"ground": ground, "objects": objects, "jitter": jitter}


class TextureBank:
    """Per-worker, bounded cache of texture tiles as float32 RGB in [0, 1]."""

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
        arr = img.astype(np.float32) / 255.0
        self._cache[key] = arr
        if len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        return arr


def surface_points(depth: np.ndarray, K, cam_position, cam_quaternion) -> np.ndarray:
    """World point (H, W, 3) seen at each pixel, from metric depth along the optical axis."""
    h, w = depth.shape
    K = np.asarray(K, float)
    v, u = np.mgrid[0:h, 0:w].astype(np.float32)
    x = (u - K[0, 2]) / K[0, 0] * depth
    y = (v - K[1, 2]) / K[1, 1] * depth
    pc = np.stack([x, y, depth], axis=-1)
    R = Rotation.from_quat(cam_quaternion).as_matrix().astype(np.float32)
    return pc @ R.T + np.asarray(cam_position, np.float32)


def _lookup(tile: np.ndarray, uv: np.ndarray, tex: dict) -> np.ndarray:
    c, s = np.cos(tex["rotation"]), np.sin(tex["rotation"])
    uv = uv @ np.array([[c, -s], [s, c]], np.float32) * tex["tiles_per_m"]
    n = tile.shape[0]
    ij = np.floor(uv * n).astype(np.int64) % n
    return tile[ij[:, 1], ij[:, 0]]


def texture_pixels(rgb: np.ndarray, mask: np.ndarray, points: np.ndarray, tile: np.ndarray, tex: dict,
                   frame: tuple | None) -> None:
    """Re-colour `rgb` in place where `mask`: texel × rendered luminance (shading and shadows kept)."""
    pts = points[mask]
    if pts.size == 0:
        return
    if frame is None:  # the ground: planar in world x, y
        uv = pts[:, :2]
    else:  # tri-planar in the body's frame: project on the plane facing the local surface normal
        pos, quat = frame
        R = Rotation.from_quat(quat).as_matrix().astype(np.float32)
        local = (points - np.asarray(pos, np.float32)) @ R
        gy, gx = np.gradient(local, axis=(0, 1))
        normal = np.abs(np.cross(gx[mask], gy[mask]))
        axis = np.argmax(normal, axis=1)
        lp = local[mask]
        uv = np.where((axis == 0)[:, None], lp[:, [1, 2]], np.where((axis == 1)[:, None], lp[:, [0, 2]], lp[:, [0, 1]]))
    texel = _lookup(tile, uv.astype(np.float32), tex)
    lum = rgb[mask].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    ref = max(float(np.percentile(lum, 98)), 1.0)
    shade = np.clip(lum / ref, 0.0, 1.0)[:, None]
    rgb[mask] = np.clip(texel * shade * 255 + 0.5, 0, 255).astype(np.uint8)


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
