"""Per-image random streams: image i's randomness is a function of (seed, i, stream name) alone.

Each randomizer draws from its own stream keyed by its name, so adding, removing or disabling one
randomizer never shifts another's draws. There is no global random state anywhere.
"""
from __future__ import annotations

import hashlib

import numpy as np


def _key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


#: Streams of an image that are not a randomizer's: the sampler's and the randomizers' helpers. A
#: randomizer may not be named after one (randomizers.base.register refuses it): the two would
#: share draws. The names are the keys themselves, so they cannot change without changing images.
HELPER_STREAMS = frozenset({"split", "objects", "one_of", "held", "shapes", "hands"})


def stream(seed: int, index: int, name: str) -> np.random.Generator:
    """The generator randomizer `name` uses for image `index`."""
    ss = np.random.SeedSequence(entropy=int(seed), spawn_key=(int(index), _key(name)))
    return np.random.Generator(np.random.PCG64(ss))


def helper_stream(seed: int, index: int, name: str) -> np.random.Generator:
    """The stream of a helper (one of HELPER_STREAMS) for image `index`."""
    if name not in HELPER_STREAMS:
        raise ValueError(f"{name!r} is not a helper stream; add it to core/rng.py HELPER_STREAMS")
    return stream(seed, index, name)


def config_stream(seed: int, name: str) -> np.random.Generator:
    """A stream that depends on the config's seed only (e.g. choosing a distractor pool)."""
    ss = np.random.SeedSequence(entropy=int(seed), spawn_key=(_key("config"), _key(name)))
    return np.random.Generator(np.random.PCG64(ss))


def uniform(rng: np.random.Generator, bounds) -> float:
    lo, hi = bounds
    return float(rng.uniform(lo, hi)) if hi > lo else float(lo)


def integer(rng: np.random.Generator, bounds) -> int:
    lo, hi = bounds
    return int(rng.integers(int(lo), int(hi) + 1))
