"""Occlusion: distractor objects scattered among the targets and occluders put between the camera
and a chosen target so that it is partly hidden.

The distractor pool is a function of the config alone (`rng.config_stream`) and every worker
loads it once, in sorted order, at start-up: physics is only deterministic across worker counts
if every world holds the same bodies in the same order. Per image, the sampler only draws which
pool members appear and the occluders' parameters; the world turns those parameters into a pose
once the targets have settled (see scenes/occluders.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_serializer, model_validator
from scipy.spatial.transform import Rotation
from typing_extensions import Annotated

from ..core.rng import config_stream, helper_stream, integer, uniform
from ..assets.shapes import ShapesConfig
from ..assets.mesh_distractors import MeshSource, candidates, mesh_urdf
from ..core.schema import MAX_ASSET_COUNT, SYNTHSCENE_PREFIX, IntRange, Range, StrictModel
from .base import Context, Draw, Randomizer, register
from .paths import existing_dir
from .pose import heading, place_clear

POOL_PREFIX = "pool:"
SHAPES_SOURCE = "synthscene:shapes"  # everyday shapes built procedurally (assets/shapes.py), not a folder
GENERATED_SOURCES = (SHAPES_SOURCE,)
HAND_PREFIX = "hand:"

#: skin tones (sRGB, 0..1), light to dark
SKIN_TONES = ((0.96, 0.84, 0.74), (0.92, 0.76, 0.62), (0.85, 0.65, 0.48), (0.74, 0.53, 0.36),
              (0.58, 0.39, 0.25), (0.40, 0.26, 0.16))
#: hand and arm stand-ins: capsule radius and overall length ranges, metres
HAND_KINDS = {"finger": ((0.009, 0.012), (0.06, 0.09)), "hand": ((0.025, 0.035), (0.14, 0.19)),
              "forearm": ((0.03, 0.04), (0.18, 0.25))}


def _source(value: str, info: ValidationInfo) -> str:
    """A generated source by name, else a folder (resolved like every path)."""
    if value in GENERATED_SOURCES:
        return value
    try:
        return existing_dir(value, info)
    except ValueError:
        if value.startswith(SYNTHSCENE_PREFIX):
            raise ValueError(f"unknown source {value!r}: the generated sources are {list(GENERATED_SOURCES)}; "
                             "anything else is a folder of *.urdf") from None
        raise


Source = Annotated[str, AfterValidator(_source)]
AnySource = Annotated[Source | MeshSource, Field(union_mode="left_to_right")]  # a dict: a folder of meshes


class OcclusionConfig(StrictModel):
    enabled: bool = True
    sources: list[AnySource] = Field(["pybullet:random_urdfs"], validate_default=True)  # folders searched (recursively) for *.urdf, or synthscene:shapes
    pool_size: int = Field(24, ge=0)  # pool members loaded per worker
    scale: float = Field(1.0, gt=0)  # globalScaling of every pool member
    distractors: IntRange = (0, 4)  # per image, dropped with the targets
    occluders: IntRange = (0, 1)  # per image, between the camera and a target
    visibility: Range = (0.3, 0.8)  # the occluded target's aimed-at visible fraction
    depth: Range = (0.3, 0.7)  # at most this far along the camera→target segment (fraction)
    correction_renders: int = Field(2, ge=0, le=8)  # small renders that correct the aimed visibility
    hands: IntRange = (0, 0)  # per image: skin-tone capsules (fingers, hands, forearms) dropped with the targets
    hand_pool: int = Field(12, ge=1, le=MAX_ASSET_COUNT)  # capsule variants loaded per worker (at least hands' max)
    shapes: ShapesConfig | None = None  # what synthscene:shapes builds (None: the defaults)

    @field_validator("distractors", "occluders", "hands")
    @classmethod
    def _counts(cls, v):
        if v[0] < 0 or v[1] > MAX_ASSET_COUNT:
            raise ValueError(f"expected [min, max] with 0 <= min <= max <= {MAX_ASSET_COUNT}, got {list(v)}")
        return v

    @model_validator(mode="after")
    def _has_urdfs(self):
        if self.enabled and self.pool_size and not (self.shape_count or any(urdfs_in(src) for src in self.folders)
                                                    or candidates(self.sources)):
            raise ValueError(f"no *.urdf under sources {list(self.sources)}")
        if self.shapes is not None and SHAPES_SOURCE not in self.sources:
            raise ValueError(f"`shapes` is set but sources {list(self.sources)} do not name {SHAPES_SOURCE!r}")
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler):
        """Without `shapes` when unset: configs that do not use it dump and hash as before."""
        out = handler(self)
        if self.shapes is None:
            out.pop("shapes", None)
        return out

    @property
    def folders(self) -> list[str]:
        return [s for s in self.sources if isinstance(s, str) and s not in GENERATED_SOURCES]

    @property
    def shape_count(self) -> int:
        """Pool members built as shapes: all of `pool_size` when the shapes are the only source,
        else `shapes.share` of it."""
        if SHAPES_SOURCE not in self.sources:
            return 0
        share = (self.shapes or ShapesConfig()).share if self.folders or candidates(self.sources) else 1.0
        return int(round(self.pool_size * share))


@lru_cache(maxsize=16)
def urdfs_in(folder: str) -> tuple[str, ...]:
    return tuple(sorted(str(u) for u in Path(folder).rglob("*.urdf")))


def pool(cfg: OcclusionConfig, seed: int) -> list[str]:
    """The URDFs every worker loads, in load order: a function of the config only. The folders'
    members first (drawn as they always were), then the shapes (made once in the asset cache)."""
    if not cfg.enabled or cfg.pool_size == 0:
        return []
    meshes = candidates(cfg.sources)  # mesh folders' files: converted below, only those drawn
    found = sorted({u for src in cfg.folders for u in urdfs_in(src)} | set(meshes))
    out = []
    if found:
        rng = config_stream(seed, "occlusion.pool")
        k = min(cfg.pool_size - cfg.shape_count, len(found))
        out = [found[i] for i in sorted(rng.choice(len(found), size=k, replace=False))]
        out = [mesh_urdf(u, meshes[u]) if u in meshes else u for u in out]
    return out + shape_urdfs(cfg, seed)


def shape_urdfs(cfg: OcclusionConfig, seed: int) -> list[str]:
    """The shapes of the pool (see assets/shapes.py), made once in the asset cache."""
    if not cfg.shape_count:
        return []
    from ..core.cache import cache_root
    from ..assets.shapes import shape_urdfs as build

    return build(cfg.shapes or ShapesConfig(), seed, cfg.shape_count, cache_root() / "shapes")


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
    from ..core.cache import cache_root
    from .procedural import capsule_urdf

    return [capsule_urdf(cache_root() / "hands", v["kind"], v["radius"], v["length"], (*SKIN_TONES[v["tone"]], 1.0))
            for v in hand_variants(cfg, seed)]


def sample_hands(cfg: OcclusionConfig, rng: np.random.Generator, pool_size: int) -> list[int]:
    """Which hand capsules appear in an image."""
    n = min(integer(rng, cfg.hands), pool_size)
    return [int(m) for m in rng.permutation(pool_size)[:n]]


def hand_name(member: int) -> str:
    return f"{HAND_PREFIX}{member}"


@dataclass
class AimResult:
    """How the world placed an occluder (filled after settling; recorded with its aim)."""

    placed: bool | None = None  # False: no room in front of the target, left parked
    preview_visibility: float | None = None  # the target's visibility measured in the small renders


@dataclass(frozen=True)
class OccluderAim:
    member: int
    target: int  # index among the image's targets
    visibility: float  # aimed-at visible fraction of the target
    depth: float  # fraction of the camera→target distance
    angle: float  # direction of the sideways offset in the image
    quaternion: list[float]
    result: AimResult = field(default_factory=AimResult, compare=False)

    def to_record(self) -> dict:
        out = {"member": self.member, "target": self.target, "visibility": self.visibility, "depth": self.depth,
               "angle": self.angle, "quaternion": self.quaternion}
        if self.result.placed is not None:
            out["placed"] = self.result.placed
        if self.result.preview_visibility is not None:
            out["preview_visibility"] = self.result.preview_visibility
        return out


@dataclass(frozen=True)
class HandDraw:
    member: int
    variant: dict  # kind, radius, length, tone


@dataclass(frozen=True)
class OcclusionDraw(Draw):
    """Which pool members are distractors (and where they were dropped) and occluders (and their
    aims); the hands likewise (`hands` None: no hand pool)."""

    distractors: list[int]
    occluders: tuple[OccluderAim, ...]
    distractor_poses: tuple = ()  # (position, quaternion) per distractor
    hands: tuple[HandDraw, ...] | None = None
    hand_poses: tuple = ()

    def to_record(self) -> dict:
        out = {"distractors": self.distractors, "occluders": [a.to_record() for a in self.occluders]}
        if self.hands is not None:
            out["hands"] = [{"member": h.member, **h.variant} for h in self.hands]
        return out

    def inform(self, ctx: Context) -> Context:
        roles = (("target",) * len(ctx.radii) + ("distractor",) * len(self.distractors)
                 + ("occluder",) * len(self.occluders) + ("hand",) * len(self.hands or ()))
        return replace(ctx, roles=roles)


def draw_members(cfg: OcclusionConfig, rng: np.random.Generator, pool_size: int, n_targets: int) -> OcclusionDraw:
    """Which pool members are distractors and occluders, and each occluder's aim."""
    if not cfg.enabled or pool_size == 0:
        return OcclusionDraw([], ())
    n_d = min(integer(rng, cfg.distractors), pool_size)
    n_o = min(integer(rng, cfg.occluders), pool_size - n_d) if n_targets else 0
    members = [int(m) for m in rng.permutation(pool_size)[: n_d + n_o]]
    occluders = []
    for m in members[n_d:]:
        target, visibility, depth = int(rng.integers(n_targets)), uniform(rng, cfg.visibility), uniform(rng, cfg.depth)
        angle = float(rng.uniform(0, 2 * math.pi))
        q = np.asarray(rng.normal(size=4).tolist())  # normalised: a uniform random rotation
        occluders.append(OccluderAim(m, target, visibility, depth, angle, (q / np.linalg.norm(q)).tolist()))
    return OcclusionDraw(members[:n_d], tuple(occluders))


def sample(cfg: OcclusionConfig, rng: np.random.Generator, ctx: Context) -> OcclusionDraw:
    """Members and aims, then distractors dropped clear of the targets in the scene, then hands
    (the same, from their own stream `hands`, clear of the distractors too)."""
    pool_size = sum(1 for name in ctx.asset_radius if name.startswith(POOL_PREFIX))
    drawn = draw_members(cfg, rng, pool_size, len(ctx.radii))
    names = [pool_name(m) for m in drawn.distractors]
    taken = [(ctx.positions[i], ctx.rooms[i]) for i in ctx.in_scene]
    place = getattr(ctx.volume, "place", place_distractors)  # pose mode dense: its region and ring (layout.py)
    where = place(rng, ctx.volume, [ctx.asset_radius[n] for n in names], taken)
    poses = tuple((pos, Rotation.random(random_state=rng).as_quat().tolist()) for pos in where)
    if cfg.shape_count:  # some shapes stand on their base, as on a real desk: own stream, the others' draws unchanged
        upright, first = (cfg.shapes or ShapesConfig()).upright, pool_size - cfg.shape_count
        stand = helper_stream(ctx.seed, ctx.index, "shapes").random(len(poses)) < upright
        poses = tuple((pos, heading(q) if m >= first and up else q)
                      for (pos, q), m, up in zip(poses, drawn.distractors, stand))
    kept = [i for i, pos in enumerate(where) if pos is not None]  # a full desk takes no more distractors
    names = [names[i] for i in kept]
    drawn = replace(drawn, distractors=[drawn.distractors[i] for i in kept], distractor_poses=tuple(poses[i] for i in kept))
    n_hands = sum(1 for name in ctx.asset_radius if name.startswith(HAND_PREFIX))
    if not (cfg.enabled and n_hands):
        return drawn
    hand_rng = helper_stream(ctx.seed, ctx.index, "hands")
    members = sample_hands(cfg, hand_rng, n_hands)
    hand_names = [hand_name(m) for m in members]
    taken += [(pos, ctx.asset_radius[n]) for n, (pos, _) in zip(names, drawn.distractor_poses)]
    where = place_distractors(hand_rng, ctx.volume, [ctx.asset_radius[n] for n in hand_names], taken, stack=True)
    hand_poses = tuple((pos, Rotation.random(random_state=hand_rng).as_quat().tolist()) for pos in where)
    variants = hand_variants(cfg, ctx.seed)
    return replace(drawn, hands=tuple(HandDraw(m, variants[m]) for m in members), hand_poses=hand_poses)


def place_distractors(rng: np.random.Generator, volume, radii: list[float], taken: list[tuple[list[float], float]],
                      max_tries: int = 30, stack: bool = False) -> list[list[float] | None]:
    """Positions in the pose volume clear of `taken` (position, radius) spheres (`pose.place_clear`);
    None for one that finds no room unless `stack` (distractors are not stacked: they made towers)."""
    spheres = [(np.asarray(p, float), r) for p, r in taken]
    out = []
    for r in radii:
        pos = place_clear(rng, volume, r, spheres, max_tries, stack=stack)
        if pos is not None:
            spheres.append((pos, r))
        out.append(None if pos is None else pos.tolist())
    return out


def pool_name(member: int) -> str:
    return f"{POOL_PREFIX}{member}"


RANDOMIZER = register(Randomizer("occlusion", OcclusionConfig, OcclusionConfig(enabled=False), sample))
