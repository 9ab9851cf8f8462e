"""The randomizer protocol and its registry: what one module declares to be a randomizer.

A randomizer module registers a `Randomizer` (its name, its config model, its default config,
`sample(cfg, rng, ctx) -> Draw`, and `apply` when it acts on pixels). The registry's order is the
order of the config's `randomizers:` section, of the sampler's draws and of the manifest's
`randomization` record. Each draw uses the stream `rng.stream(seed, index, name)`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..core.rng import HELPER_STREAMS


class Draw:
    """Mixin of a randomizer's frozen per-image draw."""

    def to_record(self) -> dict:
        """The manifest's `randomization.<name>` dict (its keys and their order are a contract);
        None leaves the name out of the record (a randomizer the config does not use, see
        `Randomizer.omitted_when_default`)."""
        return dataclasses.asdict(self)

    def inform(self, ctx: "Context") -> "Context":
        """The context the later randomizers see: what they need of this draw (default: nothing)."""
        return ctx


@dataclass(frozen=True)
class Context:
    """What a randomizer may know besides its own config and stream, filled by the sampler as it
    draws: first the image and its targets, then what each earlier draw added (`Draw.inform`)."""

    seed: int
    index: int
    renderer: str | None = None  # the concrete renderer, egl | tiny (lighting records how it applied)
    K: Any = None  # configured intrinsics (3×3)
    radii: tuple[float, ...] = ()  # each target's bounding radius
    footprints: tuple[float, ...] = ()  # each target's room on the desk: horizontal radius if upright, else `radii`
    constraints: tuple = ()  # each target's PoseConstraint or None
    asset_radius: dict = field(default_factory=dict)  # every loaded body name (incl. pool:/hand:) → radius
    volume: Any = None  # randomizers.pose.volume: where distractors are dropped too
    # filled by pose:
    positions: tuple = ()  # each target's sampled position
    in_scene: tuple[int, ...] = ()  # targets that take room in the scene (not held)
    # filled by occlusion:
    roles: tuple[str, ...] = ()  # every body of the image in order: target, distractor, occluder, hand

    @property
    def rooms(self) -> tuple[float, ...]:
        """Each target's room on the desk: its footprint when known, else its bounding radius."""
        return self.footprints or self.radii

    @property
    def mean_radius(self) -> float | None:
        r = [self.radii[i] for i in self.in_scene] or list(self.radii)
        return float(np.mean(r)) if r else None

    @property
    def targets_xy(self):
        return np.mean([self.positions[i][:2] for i in self.in_scene], axis=0) if self.in_scene else None


@dataclass(frozen=True)
class Randomizer:
    name: str
    config: type  # its pydantic model
    default: Any  # the config when its section is absent
    sample: Callable[[Any, np.random.Generator, Context], Draw]
    apply: Callable | None = None  # apply(state, draw, pixels): acts on pixels (order: randomizers/image.py)
    worker: Callable | None = None  # worker(cfg, seed): the per-worker state apply gets (caches)
    # Added after datasets existed: while its config is the default (section absent), the config's
    # dump and hash leave it out, and its draw records None (left out of the manifest), so older
    # configs keep their config.resolved.yaml, hash (--resume) and manifest bytes.
    omitted_when_default: bool = False


#: name → Randomizer, in randomizers.ORDER once the package is imported (`in_order`)
REGISTRY: dict[str, Randomizer] = {}


def register(r: Randomizer) -> Randomizer:
    if r.name in HELPER_STREAMS:
        raise ValueError(f"randomizer {r.name!r}: the name of a helper stream (core/rng.py HELPER_STREAMS)")
    if r.name in REGISTRY:
        raise ValueError(f"randomizer {r.name!r} registered twice")
    REGISTRY[r.name] = r
    return r


def in_order(order: tuple[str, ...]) -> None:
    """Put REGISTRY in `order`, which must name every registered randomizer once."""
    if sorted(order) != sorted(REGISTRY):
        raise RuntimeError(f"randomizers.ORDER {order} does not name the registered {sorted(REGISTRY)}")
    items = {n: REGISTRY[n] for n in order}
    REGISTRY.clear()
    REGISTRY.update(items)
