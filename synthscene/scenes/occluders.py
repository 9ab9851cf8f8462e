"""Occluder geometry: where an occluder goes once the targets have settled, so that it hides the
aimed-at share of its target (the aim itself is drawn by randomizers/occlusion.py)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..randomizers.occlusion import OccluderAim


def _covered_fraction(d: float, r_t: float, r_o: float) -> float:
    """Fraction of a disc of radius r_t covered by a disc of radius r_o whose centre is d away."""
    if d >= r_t + r_o:
        return 0.0
    if d <= abs(r_o - r_t):
        return 1.0 if r_o >= r_t else (r_o / r_t) ** 2
    a = r_t * r_t * math.acos((d * d + r_t * r_t - r_o * r_o) / (2 * d * r_t))
    b = r_o * r_o * math.acos((d * d + r_o * r_o - r_t * r_t) / (2 * d * r_o))
    c = 0.5 * math.sqrt(max((-d + r_t + r_o) * (d + r_t - r_o) * (d - r_t + r_o) * (d + r_t + r_o), 0.0))
    return (a + b - c) / (math.pi * r_t * r_t)


def offset_for_visibility(visibility: float, r_t: float, r_o: float) -> float:
    """Centre distance (same units as the radii) at which the occluder's disc leaves `visibility` of the target's."""
    want = 1.0 - visibility
    lo, hi = 0.0, r_t + r_o
    if _covered_fraction(0.0, r_t, r_o) <= want:
        return 0.0
    for _ in range(40):  # covered fraction falls monotonically with the distance
        mid = (lo + hi) / 2
        if _covered_fraction(mid, r_t, r_o) > want:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def place_occluder(aim: "OccluderAim", camera_position, camera_quaternion, target_centre, target_half: tuple,
                   occluder_half: tuple, near: float) -> dict | None:
    """World position of an occluder on the camera→target segment, offset sideways so that its
    image disc leaves about `aim.visibility` of the target's disc uncovered.

    Bodies are modelled as discs of their box's mean half extent (cube root of the half extents'
    product), which tracks their image area better than a bounding sphere for elongated shapes.
    """
    from scipy.spatial.transform import Rotation

    cam = np.asarray(camera_position, float)
    tgt = np.asarray(target_centre, float)
    ray = tgt - cam
    d_t = float(np.linalg.norm(ray))
    ray /= d_t
    r_t, r_o = float(np.prod(target_half)) ** (1 / 3), float(np.prod(occluder_half)) ** (1 / 3)
    lo = near + float(np.linalg.norm(occluder_half)) + 0.005
    hi = d_t - float(np.linalg.norm(target_half)) - float(np.linalg.norm(occluder_half))
    if hi < lo:  # the camera is too close for this occluder to fit in front of the target
        return None
    # Close enough to the camera that the occluder's disc can hide the aimed-at share of the
    # target's, but not much closer: a large occluder near the camera makes the share touchy.
    big_enough = r_o * d_t / (r_t * math.sqrt(max(1.0 - aim.visibility, 1e-3)))
    d_o = float(np.clip(min(aim.depth * d_t, 0.8 * big_enough), lo, hi))
    a_t, a_o = r_t / d_t, r_o / d_o  # angular radii
    s = offset_for_visibility(aim.visibility, a_t, a_o)
    R = Rotation.from_quat(camera_quaternion).as_matrix()
    side = math.cos(aim.angle) * R[:, 0] + math.sin(aim.angle) * R[:, 1]
    side -= ray * float(side @ ray)
    side /= max(float(np.linalg.norm(side)), 1e-9)
    return {"on_ray": (cam + d_o * ray).tolist(), "side": side.tolist(), "depth": d_o,
            "position": (cam + d_o * ray + s * d_o * side).tolist()}


class SilhouetteAim:
    """Searches the occluder's image shift that leaves `visibility` of the target uncovered.

    Moving an occluder sideways at a fixed depth translates its silhouette (to first order), so
    one small render of each silhouette predicts the visibility of any shift: the centroids are
    aligned, then the occluder slides along `angle` (either way). With depths, an occluder pixel
    hides a target pixel only where it is nearer. `world` corrects the remaining (perspective)
    error with a few measured steps along the same line.
    """

    def __init__(self, target_mask, occluder_mask, angle: float, target_depth=None, occluder_depth=None):
        from scipy import ndimage

        self.target, self.n_t = target_mask, int(target_mask.sum())
        self.ok = self.n_t > 0 and bool(occluder_mask.any())
        if not self.ok:
            return
        self.base = np.array(ndimage.center_of_mass(target_mask)) - np.array(ndimage.center_of_mass(occluder_mask))
        self.direction = np.array([math.sin(angle), math.cos(angle)])  # (rows, cols): image y, x
        self.occ = occluder_mask.astype(np.uint8)
        self.far = None if target_depth is None else np.where(occluder_mask, occluder_depth, np.inf)
        self.target_depth = target_depth
        self.reach = float(np.hypot(*target_mask.shape)) / 2

    def shift(self, k: float) -> np.ndarray:
        return self.base + k * self.direction

    def predicted(self, k: float) -> float:
        from scipy import ndimage

        if self.far is None:
            moved = ndimage.shift(self.occ, self.shift(k), order=0, mode="constant") > 0
        else:  # finite exactly where the shifted occluder is (same nearest-pixel mapping), and depths are finite
            moved = ndimage.shift(self.far, self.shift(k), order=0, mode="constant", cval=np.inf) < self.target_depth
        return float((self.target & ~moved).sum()) / self.n_t

    def best(self, visibility: float) -> float:
        ks = np.linspace(-self.reach, self.reach, 49)
        errs = np.array([abs(self.predicted(k) - visibility) for k in ks])
        i = int(np.argmin(errs + 1e-3 * np.abs(ks) / self.reach))
        best, best_err = float(ks[i]), float(errs[i])
        step = ks[1] - ks[0]
        for k in np.linspace(best - step, best + step, 9):  # refine around the coarse best
            err = abs(self.predicted(k) - visibility)
            if err < best_err:
                best, best_err = float(k), err
        return best
