"""Photometric visibility: can an eye tell a labelled object from what surrounds it?

Geometric visibility (labels/annotators.py) says how much of an object is unoccluded; it says
nothing of whether those pixels differ from their neighbours. In a near-black render, or a
grey object on a grey desk, a fully visible object can still be invisible, and its label wrong.

Measured on the final image (after post-processing), per object, from its visible mask:

- `luminance`: the mean luma of its visible pixels, 0..255 (ITU-R BT.601, as OpenCV's grey).
- `contrast`: how far the colours of those pixels are from those of a ring of pixels around them
  (the mask dilated, minus a 2-pixel gap, minus the mask), in CIELAB (L*, a*, b*: ΔE units, where
  about 2.3 is a just-noticeable difference), divided by 100:

      contrast = sqrt(sum over L*, a*, b* of (mean_o - mean_s)^2 + (std_o - std_s)^2) / 100

  the 2-Wasserstein distance between per-channel Gaussian fits to the two colour distributions.
  It is high when the object is brighter, darker or of another hue than its surround (a pink cat
  on a blue cloth of the same lightness: an eye sees it at once, a luma-only contrast does not)
  or flatter or busier than it (a plain box on a patterned cloth); it is low when the two look
  alike: a dark object on a dark background, everything in a near-black image (dark colours have
  little chroma), an object camouflaged in a texture of its own colour. Sensor noise adds to both
  spreads alike, so it does not make an invisible object look visible, as a plain RMS or Michelson
  contrast would (Michelson's ratio is 1.0 for grey levels 0 against 2).

Objects with no visible pixel, or no ring (the object fills the image), get None.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

#: below this an eye cannot find the object in its image (ΔE 2, about one just-noticeable
#: difference; chosen by measurement, docs/LABELS.md "Photometric check"): what `synthscene
#: inspect` counts, and the value to give `labels.min_contrast`
LOW_CONTRAST = 0.02
#: ring around the visible mask: a gap (blurred, anti-aliased edge pixels belong to neither side),
#: then a width that grows with the object's size, within bounds
RING_GAP_PX = 2
RING_MIN_PX, RING_MAX_PX = 4, 16


def luma(rgb: np.ndarray) -> np.ndarray:
    """(H, W) uint8 luma of an RGB uint8 image."""
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def lab(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 CIELAB (L* 0..100, a*, b*) of an sRGB uint8 image (D65)."""
    return cv2.cvtColor(np.ascontiguousarray(rgb).astype(np.float32) * np.float32(1 / 255), cv2.COLOR_RGB2Lab)


def ring_width(pixels: int) -> int:
    """The ring's width for an object of `pixels` visible pixels: 15% of its equivalent side."""
    return int(np.clip(round(0.15 * np.sqrt(max(pixels, 0))), RING_MIN_PX, RING_MAX_PX))


def _disc(r: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def measure(rgb: np.ndarray, mask: np.ndarray) -> tuple[float | None, float | None]:
    """(luminance, contrast) of the object whose visible pixels are `mask` (bool, the image's
    shape) in the RGB uint8 image; None for what cannot be measured."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None, None
    pixels = int(np.count_nonzero(mask))
    outer = RING_GAP_PX + ring_width(pixels)
    h, w = mask.shape
    y0, y1 = max(rows[0] - outer, 0), min(rows[-1] + outer + 1, h)
    x0, x1 = max(cols[0] - outer, 0), min(cols[-1] + outer + 1, w)
    m = np.ascontiguousarray(mask[y0:y1, x0:x1]).view(np.uint8)
    crop = rgb[y0:y1, x0:x1]
    inside = m > 0
    luminance = round(float(luma(crop)[inside].astype(np.float64).mean()), 1)
    ring = (cv2.dilate(m, _disc(outer)) > 0) & ~(cv2.dilate(m, _disc(RING_GAP_PX)) > 0)
    if not ring.any():
        return luminance, None
    colours = lab(crop)
    obj, sur = colours[inside].astype(np.float64), colours[ring].astype(np.float64)
    d2 = np.sum((obj.mean(axis=0) - sur.mean(axis=0)) ** 2 + (obj.std(axis=0) - sur.std(axis=0)) ** 2)
    return luminance, round(float(np.sqrt(d2)) / 100.0, 4)


def measure_all(rgb: np.ndarray, instances: np.ndarray, n: int) -> list[tuple[float | None, float | None]]:
    """(luminance, contrast) of instances 1..n of an instance map over the RGB uint8 image."""
    return [measure(rgb, instances == k) for k in range(1, n + 1)]


def label_contrast(dataset: str | Path, threshold: float = LOW_CONTRAST) -> dict | None:
    """For `synthscene inspect`: of the labels (kept objects) in a dataset's manifest.jsonl whose
    contrast was measured, how many are below `threshold`; and how many objects `min_contrast`
    dropped. None without a manifest or without measured labels (datasets written before)."""
    path = Path(dataset) / "manifest.jsonl"
    if not path.is_file():
        return None
    values, dropped = [], 0
    for line in path.read_text().splitlines():
        for o in json.loads(line).get("objects", []):
            dropped += o.get("dropped") == "min_contrast"
            if o.get("kept") and o.get("contrast") is not None:
                values.append(o["contrast"])
    if not values and not dropped:
        return None
    below = int(sum(v < threshold for v in values))
    return {"threshold": threshold, "labels": len(values), "below": below,
            "share": round(below / len(values), 4) if values else 0.0, "dropped_min_contrast": int(dropped),
            "median": round(float(np.median(values)), 4) if values else None}


def label_contrast_markdown(lc: dict) -> list[str]:
    return ["", "## Labels an eye could not see", "",
            f"{lc['below']} of {lc['labels']} labels ({lc['share']:.1%}) have a contrast against their surround "
            f"below {lc['threshold']} (median {lc['median']}); `labels.min_contrast` dropped "
            f"{lc['dropped_min_contrast']} objects (docs/LABELS.md, \"Photometric check\")."]
