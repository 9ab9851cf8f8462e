"""Procedural patterns (noise, stripes, checker, gradients, flat colours) shared by textures and backgrounds.

Every pattern is a pure function of its generator's draws, so a (kind, variant) pair drawn from a
config stream always gives the same pixels in every worker.
"""
from __future__ import annotations

import cv2
import numpy as np

KINDS = ("noise", "stripes", "checker", "gradient", "flat")


def _colours(rng: np.random.Generator, n: int) -> np.ndarray:
    """n saturated-to-pastel RGB colours in [0, 1], drawn in HSV so they are not all muddy."""
    hsv = np.stack([rng.uniform(0, 180, n), rng.uniform(40, 255, n), rng.uniform(60, 255, n)], axis=1)
    rgb = cv2.cvtColor(hsv.astype(np.uint8)[None], cv2.COLOR_HSV2RGB)[0]
    return rgb.astype(np.float32) / 255.0


def pattern(kind: str, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """An (H, W, 3) uint8 RGB image of the given kind: a mix of two colours by a pattern t in [0, 1]."""
    if kind not in KINDS:
        raise ValueError(f"unknown procedural kind {kind!r}; expected one of {list(KINDS)}")
    c = _colours(rng, 2)
    if kind == "flat":
        return np.broadcast_to(np.round(c[0] * 255).astype(np.uint8), (height, width, 3)).copy()
    if kind in ("stripes", "checker", "gradient"):
        angle = rng.uniform(0, np.pi)
        side = np.float32(max(height, width))
        x = np.arange(width, dtype=np.float32)[None, :] / side
        y = np.arange(height, dtype=np.float32)[:, None] / side
        u = x * np.float32(np.cos(angle)) + y * np.float32(np.sin(angle))
        if kind == "gradient":
            t = (u - u.min()) / max(float(u.max() - u.min()), 1e-6)
        else:
            period = np.float32(rng.uniform(0.05, 0.35))
            t = np.floor(u / period) % 2
            if kind == "checker":
                v = y * np.float32(np.cos(angle)) - x * np.float32(np.sin(angle))
                t = (t + np.floor(v / period)) % 2
    else:  # noise: octaves of bicubically upsampled white noise, summed at a quarter size (smooth anyway)
        small = (max(width // 4, 8), max(height // 4, 8))
        t = np.zeros(small[::-1], np.float32)
        for octave, amp in zip((4, 8, 16, 32), (0.5, 0.25, 0.15, 0.1)):
            grid = rng.random((octave, octave)).astype(np.float32)
            t += np.float32(amp) * cv2.resize(grid, small, interpolation=cv2.INTER_CUBIC)
        t = cv2.resize(t, (width, height), interpolation=cv2.INTER_LINEAR)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    # t quantised to 256 levels, then one lookup per channel: no float RGB image
    t8 = cv2.convertScaleAbs(np.broadcast_to(t, (height, width)).astype(np.float32), alpha=255.0)
    s = np.linspace(0, 1, 256, dtype=np.float32)[:, None]
    lut = np.clip((c[0] * (1 - s) + c[1] * s) * 255 + 0.5, 0, 255).astype(np.uint8)
    return cv2.LUT(cv2.merge([t8, t8, t8]), lut[None])


def capsule_urdf(folder, name: str, radius: float, length: float, rgba) -> str:
    """A capsule body (a cylinder with hemispherical caps along z, `length` overall) as an OBJ and
    a URDF in `folder/<key>/`, written once: the key is a hash of the parameters, and the folder
    appears by one rename, so workers creating it at the same time all get the same files."""
    import trimesh

    from ..core.files import urdf_made_once

    params = f"capsule r={radius!r} l={length!r} rgba={[float(c) for c in rgba]!r}"

    def make(tmp):
        mesh = trimesh.creation.capsule(height=length - 2 * radius, radius=radius, count=[16, 16])
        mesh.export(tmp / "capsule.obj", include_normals=True)
        mass = 1000.0 * float(mesh.volume)  # water's density, as flesh roughly is
        i_xy = mass * (3 * radius**2 + length**2) / 12  # a solid cylinder of the full length: close enough
        r, g, b, a = (float(c) for c in rgba)
        (tmp / "model.urdf").write_text(f"""<?xml version="1.0"?>
<robot name="{name}">
  <material name="skin"><color rgba="{r:.4f} {g:.4f} {b:.4f} {a:.4f}"/></material>
  <link name="base">
    <inertial><mass value="{mass:.6f}"/><inertia ixx="{i_xy:.8f}" iyy="{i_xy:.8f}" izz="{mass * radius**2 / 2:.8f}" ixy="0" ixz="0" iyz="0"/></inertial>
    <visual><geometry><mesh filename="capsule.obj"/></geometry><material name="skin"/></visual>
    <collision><geometry><capsule radius="{radius:.6f}" length="{length - 2 * radius:.6f}"/></geometry></collision>
  </link>
</robot>
""")
        (tmp / "params.txt").write_text(params + "\n")

    return urdf_made_once(folder, name, params, make)
