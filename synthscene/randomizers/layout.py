"""Dense tabletop layout (`randomizers.pose.mode: dense`): the targets and some distractors packed
into one region of the desk, among each other, as the objects of a cluttered desk stand; the other
distractors in a sparser ring around it.

Per image, from the pose stream: the region's centre (`dense.centre`, a box on the desk), its size
(`dense.size`, the side of a square, metres, stretched by `dense.aspect`) and its density
(`dense.spacing`: two objects' centres keep at least `spacing × (room_a + room_b)` apart, where a
room is an upright object's footprint radius or another's bounding radius; under 1, the circles
overlap, so boxy objects touch and round ones nearly do). Each object tries `max_tries` places in
the region; if none is clear, the try that lands lowest is raised just above the objects under it,
so physics lets it fall onto and lean against them (the lowest such try: one layer, not a
tower). The settle is the usual one, bounded by
`randomizers.pose.settle_steps` (docs/RANDOMIZERS.md, "Dense tabletop layout", gives the measured
worst case).

The distractors (randomizers.occlusion, from its own stream) are placed by the same rule: a drawn
share (`dense.ring_share`) in a ring `dense.ring` metres wide around the region, spread all around
it, so whatever the camera's azimuth part of the ring stands behind the region; the rest inside
the region among the targets. A distractor finds no room only if the ring is full.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydantic import field_validator

from ..core.schema import Range, StrictModel


#: m: the median largest side of the 8 LM-O meshes, the object size DenseConfig's defaults (and
#: configs/lmo.yaml's lengths) were tuned for; `init` and `refine` scale them by the user's objects' size.
LMO_MEDIAN_EXTENT = 0.139


class DenseCentre(StrictModel):
    x: Range = (-0.05, 0.05)
    y: Range = (-0.05, 0.05)


class DenseConfig(StrictModel):
    """`randomizers.pose.dense`: the region of mode `dense`, drawn per image."""

    centre: DenseCentre = DenseCentre()  # where the region's centre lies on the desk, metres
    size: Range = (0.40, 0.60)  # side of the region, metres (tuned on LM-O: docs/RESULTS.md, "Composition")
    aspect: Range = (0.5, 2.0)  # width / depth of the region
    spacing: Range = (0.55, 0.85)  # density: centre distance ≥ spacing × the sum of the two rooms
    ring: Range = (0.10, 0.30)  # width of the clutter ring around the region, metres
    ring_share: Range = (0.4, 0.7)  # of the image's distractors, placed in the ring

    def scaled(self, k: float) -> "DenseConfig":
        """The same layout for objects k times the size it was tuned for: its lengths (centre, size, ring) × k."""
        return self.model_copy(update={"centre": DenseCentre(x=tuple(k * v for v in self.centre.x),
                                                             y=tuple(k * v for v in self.centre.y)),
                                       "size": tuple(k * v for v in self.size), "ring": tuple(k * v for v in self.ring)})

    @field_validator("size", "ring")
    @classmethod
    def _positive(cls, v):
        if v[0] <= 0:
            raise ValueError(f"expected positive metres, got {list(v)}")
        return v

    @field_validator("spacing", "ring_share")
    @classmethod
    def _fraction(cls, v):
        if v[0] < 0 or v[1] > 1.5:
            raise ValueError(f"expected a range within [0, 1.5], got {list(v)}")
        return v


@dataclass(frozen=True)
class Region:
    """One image's dense region, and the desk volume it lies in (`z` is the drop height)."""

    centre: tuple[float, float]
    half: tuple[float, float]  # half sides, metres
    spacing: float
    ring: float
    z: tuple[float, float]
    ring_share: tuple[float, float]

    # what pose.place_clear and the shading randomizer read of a volume: the region's box
    @property
    def x(self) -> tuple[float, float]:
        return (self.centre[0] - self.half[0], self.centre[0] + self.half[0])

    @property
    def y(self) -> tuple[float, float]:
        return (self.centre[1] - self.half[1], self.centre[1] + self.half[1])

    def to_record(self) -> dict:
        return {"centre": list(self.centre), "size": [2 * self.half[0], 2 * self.half[1]], "spacing": self.spacing,
                "ring": self.ring}

    def place(self, rng: np.random.Generator, volume, radii: list[float], taken: list, max_tries: int = 30,
              stack: bool = False) -> list:
        """Distractor positions (the occlusion randomizer's `place_distractors` for this layout): a
        drawn share in the ring, the rest packed into the region; None where the ring is full."""
        share = float(rng.uniform(*self.ring_share))
        n_ring = int(round(share * len(radii)))
        ring_set = set(int(i) for i in rng.permutation(len(radii))[:n_ring]) if radii else set()
        placed = [(np.asarray(p, float), r) for p, r in taken]
        out = []
        for i, r in enumerate(radii):
            if i in ring_set:
                pos = ring_spot(rng, self, r, placed, max_tries)
            else:
                pos = packed_spot(rng, self, r, r, placed, max_tries, support_z=0.0)
            if pos is not None:
                placed.append((pos, r))
            out.append(None if pos is None else pos.tolist())
        return out


def draw_region(cfg: DenseConfig, volume, rng: np.random.Generator) -> Region:
    side = float(rng.uniform(*cfg.size))
    aspect = float(rng.uniform(*cfg.aspect))
    half = (side * math.sqrt(aspect) / 2, side / math.sqrt(aspect) / 2)
    centre = (float(rng.uniform(*cfg.centre.x)), float(rng.uniform(*cfg.centre.y)))
    return Region(centre, half, float(rng.uniform(*cfg.spacing)), float(rng.uniform(*cfg.ring)), tuple(volume.z),
                  tuple(cfg.ring_share))


def _overlap(pos: np.ndarray, room: float, spheres: list, spacing: float) -> float:
    """How far `pos` is inside the spacing of its most crowded neighbour (≤ 0: clear), horizontally."""
    return max((spacing * (room + rq) - float(np.linalg.norm(pos[:2] - np.asarray(q)[:2])) for q, rq in spheres),
               default=-math.inf)


def packed_spot(rng: np.random.Generator, region: Region, r: float, room: float, spheres: list, max_tries: int,
                support_z: float = 0.0) -> np.ndarray:
    """A place in the region at least `spacing` × the rooms from every placed (position, room); else
    the try that rests lowest, raised just above the objects under it (it falls onto them)."""
    best, best_key = None, None
    for _ in range(max_tries):
        pos = np.array([rng.uniform(*region.x), rng.uniform(*region.y), support_z + r + rng.uniform(*region.z)])
        over = _overlap(pos, room, spheres, region.spacing)
        if over <= 0:
            return pos
        under = [(q, rq) for q, rq in spheres if np.linalg.norm(pos[:2] - np.asarray(q)[:2]) < region.spacing * (room + rq)]
        # a neighbour's top: its centre plus its room, or its height above the desk when that is more (tall ones)
        top = max(float(q[2]) + max(rq, float(q[2]) - support_z) for q, rq in under)
        if best_key is None or (top, over) < best_key:
            best, best_key = pos, (top, over)
            best[2] = max(top + r + 0.005, best[2])
    return best


def ring_spot(rng: np.random.Generator, region: Region, r: float, spheres: list, max_tries: int) -> np.ndarray | None:
    """A place in the ring around the region (between its edge and `ring` beyond), clear of every
    placed object's bounding circle; None if the tries find none."""
    for _ in range(max_tries):
        ang = rng.uniform(0, 2 * math.pi)
        out = rng.uniform(0, region.ring) + r
        d = np.array([math.cos(ang), math.sin(ang)])
        # from the centre to the region's edge along d, then `out` beyond it
        edge = min(region.half[0] / max(abs(d[0]), 1e-9), region.half[1] / max(abs(d[1]), 1e-9))
        xy = np.asarray(region.centre) + (edge + out) * d
        pos = np.array([xy[0], xy[1], r + rng.uniform(*region.z)])
        if _overlap(pos, r, spheres, 1.0) <= 0:
            return pos
    return None
