"""Occlusion: distractor objects scattered among the targets and occluders put between the camera
and a chosen target so that it is partly hidden.

The distractor pool is a function of the config alone (`rng.config_stream`) and every worker
loads it once, in sorted order, at start-up: physics is only deterministic across worker counts
if every world holds the same bodies in the same order. Per image, the sampler only draws which
pool members appear and the occluders' parameters; the world turns those parameters into a pose
once the targets have settled (see `place_occluder`).
"""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import Field, field_validator, model_validator

from ..rng import config_stream, integer, uniform
from ..schema import MAX_ASSET_COUNT, IntRange, Range, StrictModel
from .paths import ExistingDir

POOL_PREFIX = "pool:"
HAND_PREFIX = "hand:"

#: skin tones (sRGB, 0..1), light to dark
SKIN_TONES = ((0.96, 0.84, 0.74), (0.92, 0.76, 0.62), (0.85, 0.65, 0.48), (0.74, 0.53, 0.36),
              (0.58, 0.39, 0.25), (0.40, 0.26, 0.16))
#: hand and arm stand-ins: capsule radius and overall length ranges, metres
HAND_KINDS = {"finger": ((0.009, 0.012), (0.06, 0.09)), "hand": ((0.025, 0.035), (0.14, 0.19)),
              "forearm": ((0.03, 0.04), (0.18, 0.25))}


class OcclusionConfig(StrictModel):
    enabled: bool = True
    sources: list[ExistingDir] = Field(["pybullet:random_urdfs"], validate_default=True)  # folders searched (recursively) for *.urdf
    pool_size: int = Field(24, ge=0)  # pool members loaded per worker
    scale: float = Field(1.0, gt=0)  # globalScaling of every pool member
    distractors: IntRange = (0, 4)  # per image, dropped with the targets
    occluders: IntRange = (0, 1)  # per image, between the camera and a target
    visibility: Range = (0.3, 0.8)  # the occluded target's aimed-at visible fraction
    depth: Range = (0.3, 0.7)  # at most this far along the camera→target segment (fraction)
    correction_renders: int = Field(2, ge=0, le=8)  # small renders that correct the aimed visibility
    hands: IntRange = (0, 0)  # per image: skin-tone capsules (fingers, hands, forearms) dropped with the targets
    hand_pool: int = Field(12, ge=1, le=MAX_ASSET_COUNT)  # capsule variants loaded per worker (at least hands' max)

    @field_validator("distractors", "occluders", "hands")
    @classmethod
    def _counts(cls, v):
        if v[0] < 0 or v[1] > MAX_ASSET_COUNT:
            raise ValueError(f"expected [min, max] with 0 <= min <= max <= {MAX_ASSET_COUNT}, got {list(v)}")
        return v

    @model_validator(mode="after")
    def _has_urdfs(self):
        if self.enabled and self.pool_size and not any(urdfs_in(src) for src in self.sources):
            raise ValueError(f"no *.urdf under sources {list(self.sources)}")
        return self


@lru_cache(maxsize=16)
def urdfs_in(folder: str) -> tuple[str, ...]:
    return tuple(sorted(str(u) for u in Path(folder).rglob("*.urdf")))


def pool(cfg: OcclusionConfig, seed: int) -> list[str]:
    """The URDFs every worker loads, in load order: a function of the config only."""
    found = sorted({u for src in cfg.sources for u in urdfs_in(src)})
    if not cfg.enabled or not found or cfg.pool_size == 0:
        return []
    rng = config_stream(seed, "occlusion.pool")
    k = min(cfg.pool_size, len(found))
    return [found[i] for i in sorted(rng.choice(len(found), size=k, replace=False))]


def hand_variants(cfg: OcclusionConfig, seed: int) -> list[dict]:
    """The hand capsules every worker loads, in load order: a function of the config only."""
    if not cfg.enabled or cfg.hands[1] == 0:
        return []
    rng = config_stream(seed, "occlusion.hands")
    kinds = sorted(HAND_KINDS)
    out = []
    for _ in range(max(cfg.hand_pool, cfg.hands[1])):
        kind = kinds[int(rng.integers(len(kinds)))]
        radii, lengths = HAND_KINDS[kind]
        tone = int(rng.integers(len(SKIN_TONES)))
        out.append({"kind": kind, "radius": round(uniform(rng, radii), 4), "length": round(uniform(rng, lengths), 4),
                    "tone": tone})
    return out


def hand_urdfs(cfg: OcclusionConfig, seed: int) -> list[str]:
    """The hand capsules' URDFs, made once in the asset cache (see procedural.capsule_urdf)."""
    from ..scenes.assets import cache_root
    from .procedural import capsule_urdf

    return [capsule_urdf(cache_root() / "hands", v["kind"], v["radius"], v["length"], (*SKIN_TONES[v["tone"]], 1.0))
            for v in hand_variants(cfg, seed)]


def sample_hands(cfg: OcclusionConfig, rng: np.random.Generator, pool_size: int) -> list[int]:
    """Which hand capsules appear in an image."""
    n = min(integer(rng, cfg.hands), pool_size)
    return [int(m) for m in rng.permutation(pool_size)[:n]]


def hand_name(member: int) -> str:
    return f"{HAND_PREFIX}{member}"


def sample(cfg: OcclusionConfig, rng: np.random.Generator, pool_size: int, n_targets: int) -> dict:
    """Which pool members are distractors and occluders, and each occluder's aim."""
    if not cfg.enabled or pool_size == 0:
        return {"distractors": [], "occluders": []}
    n_d = min(integer(rng, cfg.distractors), pool_size)
    n_o = min(integer(rng, cfg.occluders), pool_size - n_d) if n_targets else 0
    members = [int(m) for m in rng.permutation(pool_size)[: n_d + n_o]]
    occluders = []
    for m in members[n_d:]:
        occluders.append({
            "member": m,
            "target": int(rng.integers(n_targets)),  # index among the image's targets
            "visibility": uniform(rng, cfg.visibility),
            "depth": uniform(rng, cfg.depth),
            "angle": float(rng.uniform(0, 2 * math.pi)),  # direction of the sideways offset in the image
            "quaternion": rng.normal(size=4).tolist(),  # normalised below: a uniform random rotation
        })
        q = np.asarray(occluders[-1]["quaternion"])
        occluders[-1]["quaternion"] = (q / np.linalg.norm(q)).tolist()
    return {"distractors": members[:n_d], "occluders": occluders}


def place_distractors(rng: np.random.Generator, volume, radii: list[float], taken: list[tuple[list[float], float]],
                      max_tries: int = 30) -> list[list[float]]:
    """Positions in the pose volume clear of `taken` (position, radius) spheres; stacked above when crowded."""
    spheres = [(np.asarray(p, float), r) for p, r in taken]
    out = []
    for r in radii:
        for _ in range(max_tries):
            pos = np.array([uniform(rng, volume.x), uniform(rng, volume.y), r + uniform(rng, volume.z)])
            if all(np.linalg.norm(pos - q) > r + rq for q, rq in spheres):
                break
        else:
            pos[2] = max((q[2] + rq for q, rq in spheres), default=0.0) + r + 0.01
        spheres.append((pos, r))
        out.append(pos.tolist())
    return out


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


def place_occluder(aim: dict, camera_position, camera_quaternion, target_centre, target_half: tuple,
                   occluder_half: tuple, near: float) -> dict | None:
    """World position of an occluder on the camera→target segment, offset sideways so that its
    image disc leaves about `aim["visibility"]` of the target's disc uncovered.

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
    big_enough = r_o * d_t / (r_t * math.sqrt(max(1.0 - aim["visibility"], 1e-3)))
    d_o = float(np.clip(min(aim["depth"] * d_t, 0.8 * big_enough), lo, hi))
    a_t, a_o = r_t / d_t, r_o / d_o  # angular radii
    s = offset_for_visibility(aim["visibility"], a_t, a_o)
    R = Rotation.from_quat(camera_quaternion).as_matrix()
    side = math.cos(aim["angle"]) * R[:, 0] + math.sin(aim["angle"]) * R[:, 1]
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

        moved = ndimage.shift(self.occ, self.shift(k), order=0, mode="constant") > 0
        if self.far is not None:
            moved &= ndimage.shift(self.far, self.shift(k), order=0, mode="constant", cval=np.inf) < self.target_depth
        return float((self.target & ~moved).sum()) / self.n_t

    def best(self, visibility: float) -> float:
        ks = np.linspace(-self.reach, self.reach, 49)
        errs = np.array([abs(self.predicted(k) - visibility) for k in ks])
        best = float(ks[np.argmin(errs + 1e-3 * np.abs(ks) / self.reach)])
        step = ks[1] - ks[0]
        for k in np.linspace(best - step, best + step, 9):  # refine around the coarse best
            if abs(self.predicted(k) - visibility) < abs(self.predicted(best) - visibility):
                best = float(k)
        return best


def pool_name(member: int) -> str:
    return f"{POOL_PREFIX}{member}"
