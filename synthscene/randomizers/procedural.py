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
    """An (H, W, 3) uint8 RGB image of the given kind."""
    if kind not in KINDS:
        raise ValueError(f"unknown procedural kind {kind!r}; expected one of {list(KINDS)}")
    c = _colours(rng, 2)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == "flat":
        t = np.zeros((height, width), np.float32)
    elif kind in ("stripes", "checker", "gradient"):
        angle = rng.uniform(0, np.pi)
        u = (xx * np.cos(angle) + yy * np.sin(angle)) / max(height, width)
        v = (-xx * np.sin(angle) + yy * np.cos(angle)) / max(height, width)
        if kind == "gradient":
            t = (u - u.min()) / max(float(np.ptp(u)), 1e-6)
        else:
            period = rng.uniform(0.05, 0.35)
            a = np.floor(u / period)
            t = (a % 2) if kind == "stripes" else ((a + np.floor(v / period)) % 2)
            t = t.astype(np.float32)
    else:  # noise: a few octaves of bilinearly upsampled white noise
        t = np.zeros((height, width), np.float32)
        for octave, amp in zip((4, 8, 16, 32), (0.5, 0.25, 0.15, 0.1)):
            grid = rng.random((octave, octave)).astype(np.float32)
            t += amp * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        t = (t - t.min()) / max(float(np.ptp(t)), 1e-6)
    img = c[0] * (1 - t[..., None]) + c[1] * t[..., None]
    return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
