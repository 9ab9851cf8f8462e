"""Per-image and per-box statistics and the slices they fall into: shared by `inspect` and `diagnose`.

One definition of brightness, contrast, blur, box size, aspect, border distance, visibility and
viewpoint, so that `inspect`'s gaps and `diagnose`'s slices measure the same thing on the
synthetic set and on the photos.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

IMAGE_STATS = ("brightness", "contrast", "mean_red", "mean_green", "mean_blue", "saturation", "blur")
COCO_AREAS = {"small": (0.0, 32.0**2), "medium": (32.0**2, 96.0**2), "large": (96.0**2, math.inf)}  # px²
ASPECT_EDGES = (0.0, 0.5, 0.8, 1.25, 2.0, math.inf)  # w/h: tall, tallish, square, wideish, wide
BORDER_EDGES = (0.0, 0.005, 0.05, 0.15, math.inf)  # gap to the nearest image side / shorter image side
VISIBILITY_EDGES = (0.0, 0.3, 0.5, 0.75, 0.9, 1.0 + 1e-9)
ELEVATION_EDGES = (-90.0, 0.0, 30.0, 60.0, 90.0 + 1e-9)  # degrees above the object's x-y plane
AZIMUTH_EDGES = tuple(float(a) for a in range(0, 361, 90))


def image_stats(path: str | Path) -> dict[str, float] | None:
    """Brightness (mean grey), contrast (grey std), mean R/G/B, saturation (HSV S) and blur.

    Measured at quarter resolution, area-averaged. Not OpenCV's reduced read: it scales JPEGs in
    the decoder but subsamples PNGs, which nearly doubled the photos' (PNG) Laplacian variance
    against the renders' (JPEG). `blur` is the variance of the Laplacian of that grey image:
    low = blurry. None for an unreadable image.
    """
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    return image_stats_bgr(bgr)


def image_stats_bgr(bgr: np.ndarray) -> dict[str, float]:
    """`image_stats` of a decoded BGR uint8 image (renders checked in memory: diagnosis/guard.py)."""
    bgr = cv2.resize(bgr, (max(bgr.shape[1] // 4, 1), max(bgr.shape[0] // 4, 1)), interpolation=cv2.INTER_AREA)
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    sat = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)[:, :, 1]
    b, g, r = (float(bgr[:, :, c].mean()) for c in range(3))
    lap = cv2.Laplacian(gray, cv2.CV_64F)
    return {"brightness": float(gray.mean()), "contrast": float(gray.std()), "mean_red": r, "mean_green": g,
            "mean_blue": b, "saturation": float(sat.mean()), "blur": float(lap.var())}


MAX_IMAGES = 400  # images of a set whose pixels are read (evenly spaced): inspect, diagnose, refine alike


def pick_images(images: list, limit: int = MAX_IMAGES) -> list[int]:
    """The indices of the images whose statistics are read: all, or `limit` evenly spaced."""
    if len(images) <= limit:
        return list(range(len(images)))
    return sorted(set(np.linspace(0, len(images) - 1, limit).astype(int).tolist()))


def set_image_stats(images: list) -> dict[str, np.ndarray]:
    """Per-image statistics of a set of image files (the picked ones, unreadable ones left out): the
    one sample every median and range of an image statistic is taken from (inspect, diagnose, refine)."""
    rows = [st for st in (image_stats(images[i]) for i in pick_images(images)) if st is not None]
    return {k: np.asarray([r[k] for r in rows], dtype=float) for k in IMAGE_STATS}


def summarise(values: dict[str, np.ndarray]) -> dict[str, dict]:
    """Per statistic: images, median, min, max, 5th and 95th percentile (None when no image was read)."""
    out = {}
    for k, v in values.items():
        v = np.asarray(v, float)
        out[k] = {"images": int(len(v)), **{name: (float(f(v)) if len(v) else None) for name, f in (
            ("median", np.median), ("min", np.min), ("max", np.max),
            ("p05", lambda a: np.percentile(a, 5)), ("p95", lambda a: np.percentile(a, 95)))}}
    return out


def box_attributes(xyxy: np.ndarray, width: float, height: float) -> dict[str, np.ndarray]:
    """Per box (pixels, x0 y0 x1 y1): area, size √area, aspect w/h and the gap to the image border."""
    b = np.asarray(xyxy, dtype=float).reshape(-1, 4)
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    gap = np.minimum.reduce([b[:, 0], b[:, 1], width - b[:, 2], height - b[:, 3]]) if len(b) else np.zeros(0)
    return {"area": w * h, "size": np.sqrt(np.clip(w * h, 0, None)),
            "aspect": np.divide(w, h, out=np.zeros_like(w), where=h > 0),
            "border": np.clip(gap, 0, None) / max(min(width, height), 1.0)}


def viewpoint(R_obj_to_cam: np.ndarray, t_obj_in_cam: np.ndarray) -> tuple[float, float]:
    """(elevation, azimuth) in degrees of the camera seen from the object, in the object's own frame.

    Elevation is above the object's x-y plane (its z axis up), azimuth about z from its x axis.
    """
    c = -np.asarray(R_obj_to_cam, float).reshape(3, 3).T @ np.asarray(t_obj_in_cam, float).reshape(3)
    r = float(np.linalg.norm(c)) or 1.0
    return math.degrees(math.asin(max(-1.0, min(1.0, c[2] / r)))), math.degrees(math.atan2(c[1], c[0])) % 360.0


def viewpoint_from_world(cam_pos, cam_quat, obj_pos, obj_quat) -> tuple[float, float]:
    """The same viewpoint from world poses (positions, xyzw quaternions), as the manifest records them."""
    from scipy.spatial.transform import Rotation

    Ro = Rotation.from_quat(obj_quat).as_matrix()
    c_obj = Ro.T @ (np.asarray(cam_pos, float) - np.asarray(obj_pos, float))  # camera position in the object frame
    return viewpoint(np.eye(3), -c_obj)


# ---- slices -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dimension:
    """A way of slicing instances: numeric bin edges (left-closed) or, when `edges` is None, categories."""

    name: str
    edges: tuple[float, ...] | None = None
    labels: tuple[str, ...] | None = None
    per: str = "instance"  # "instance" or "image": what the value describes

    def bins(self) -> list[str]:
        if self.labels:
            return list(self.labels)
        return [_range_label(lo, hi) for lo, hi in zip(self.edges[:-1], self.edges[1:])]

    def assign(self, values) -> list[str | None]:
        """The bin label of each value (None when missing or outside every bin)."""
        if self.edges is None:
            return [None if v is None else str(v) for v in values]
        names = self.bins()
        out = []
        for v in values:
            if v is None or (isinstance(v, float) and math.isnan(v)):
                out.append(None)
                continue
            i = int(np.searchsorted(self.edges, v, side="right")) - 1
            out.append(names[i] if 0 <= i < len(names) else None)
        return out


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.3g}"


def _range_label(lo: float, hi: float) -> str:
    return f"[{_fmt(lo)}, {_fmt(hi)})"


def quantile_edges(values, q: int) -> tuple[float, ...]:
    """Edges of q equal-count bins of `values`, open at both ends so every other set's values fall in one."""
    v = np.asarray([x for x in values if x is not None], float)
    if not len(v):
        return (-math.inf, math.inf)
    inner = sorted(set(float(x) for x in np.quantile(v, np.linspace(0, 1, q + 1)[1:-1])))
    return (-math.inf, *inner, math.inf)


def dimensions(gold_values: dict[str, list], classes: list[str]) -> list[Dimension]:
    """The slices of a diagnosis; the quantile ones (box area, image statistics) are cut on the gold set."""
    dims = [
        Dimension("class", labels=tuple(classes)),
        Dimension("coco_size", edges=(0.0, 32.0**2, 96.0**2, math.inf), labels=tuple(COCO_AREAS)),
        Dimension("area_quartile", edges=quantile_edges(gold_values.get("area", []), 4)),
        Dimension("aspect", edges=ASPECT_EDGES),
        Dimension("border", edges=BORDER_EDGES),
    ]
    for name in ("brightness", "contrast", "blur"):
        dims.append(Dimension(name, edges=quantile_edges(gold_values.get(name, []), 3), per="image"))
    dims += [Dimension("visibility", edges=VISIBILITY_EDGES), Dimension("elevation", edges=ELEVATION_EDGES),
             Dimension("azimuth", edges=AZIMUTH_EDGES)]
    return dims


def value_of(dim: Dimension, inst: dict):
    """The value an instance (a dict of its attributes) has in `dim`."""
    key = {"coco_size": "area", "area_quartile": "area"}.get(dim.name, dim.name)
    return inst.get(key)
