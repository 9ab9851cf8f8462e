"""Building blocks of the config schema shared by config.py and the randomizers' own configs."""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict

# Limits on what a config may ask for, so that a typo or a hostile file is refused at load time
# instead of exhausting memory later. Documented in docs/RANDOMIZERS.md ("Limits").
#: images per dataset: file names hold the index zero-padded to 6 digits (000000 … 999999)
MAX_IMAGES = 1_000_000
#: largest per-image count of one asset (`assets[].count` maximum)
MAX_ASSET_COUNT = 100
#: largest number of bodies one image may show: targets (every asset's maximum count) plus
#: distractors and occluders (their maxima)
MAX_OBJECTS_PER_IMAGE = 250
#: image width and height, pixels
MAX_IMAGE_SIDE = 8192
#: nodes a YAML file may hold once its aliases are expanded (a normal config has a few hundred)
MAX_YAML_NODES = 100_000
#: nodes an albumentations pipeline (`randomizers.post.transform`) may hold
MAX_TRANSFORM_NODES = 10_000

#: an asset's name: letters, digits, _ . - (it names folders and cache files); use with fullmatch,
#: since `$` would also match before a trailing newline
ASSET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def name_from_file(stem: str) -> str:
    """A plain asset name from a file's stem: "my mesh (1)" → "my_mesh__1" ("" if nothing is left)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem).strip("_.-")


def check_name(name: str) -> str:
    if not ASSET_NAME.fullmatch(name):
        raise ValueError(f"asset names are letters, digits, _ . - and start with a letter or digit (got {name!r})")
    return name


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo must not silently fall back to a default. NaN and infinity
    are errors too: no field means them, and they would only fail later, far from the config."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


#: a mesh's length unit, and the collision shape a conversion builds: defined once, for the
#: config, the asset library, the converter and the CLI
Units = Literal["m", "cm", "mm"]
Collision = Literal["vhacd", "convex", "box", "sphere", "cylinder"]
UNIT_NAMES: tuple[str, ...] = get_args(Units)
COLLISION_NAMES: tuple[str, ...] = get_args(Collision)


class PoseConstraint(StrictModel):
    """How an asset may be rotated: `upright` keeps its own up axis (yaw only); `axes` lists the
    asset-frame axes it may turn about (empty = its own orientation). `mode` overrides
    `randomizers.pose.mode` for this asset (None: the global mode). One class for the config's
    `assets[].pose`, `randomizers.pose.per_asset` and a library asset's `pose:`."""

    upright: bool = False
    axes: list[Literal["x", "y", "z"]] | None = None
    mode: Literal["free", "drop", "upright", "pile", "held"] | None = None


def _finite(v: Any) -> bool:
    """A real number that float() can hold (NaN, infinity and 1e400-sized integers are not)."""
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


def _range(value: Any, integer: bool) -> tuple:
    kind = "integers" if integer else "numbers"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value, value]
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"expected [min, max] with min <= max (two {kind}), got {value!r}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not _finite(v) or (integer and float(v) != int(v)):
            raise ValueError(f"expected [min, max] with min <= max (two finite {kind}), got {value!r}")
        out.append(int(v) if integer else float(v))
    if out[0] > out[1]:
        raise ValueError(f"expected [min, max] with min <= max, got {value!r}")
    return tuple(out)


def _vec3(value: Any) -> tuple:
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 3
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and _finite(v) for v in value)
    ):
        raise ValueError(f"expected [x, y, z] (three finite numbers), got {value!r}")
    return tuple(float(v) for v in value)


#: [min, max] of floats; a single number means a fixed value.
Range = Annotated[tuple[float, float], BeforeValidator(lambda v: _range(v, False))]
#: [min, max] of integers, both inclusive.
IntRange = Annotated[tuple[int, int], BeforeValidator(lambda v: _range(v, True))]
Vec3 = Annotated[tuple[float, float, float], BeforeValidator(_vec3)]


PYBULLET_PREFIX = "pybullet:"
SYNTHSCENE_PREFIX = "synthscene:"
DATA_DIR = Path(__file__).resolve().parents[1] / "data"  # the package's own scene assets, installed with it


def resolve_path(value: str, base_dir: Path | None) -> Path:
    """`pybullet:x` → PyBullet's bundled data; `synthscene:x` → synthscene/data/x;
    `$VARS` and `~` expanded; relative → the config's folder. A packaged name that leads out of its
    data folder (`synthscene:../../etc/passwd`) is a ValueError, which the schema reports under its field."""
    for prefix in (PYBULLET_PREFIX, SYNTHSCENE_PREFIX):
        if value.startswith(prefix):
            if prefix == PYBULLET_PREFIX:
                import pybullet_data

                root = Path(pybullet_data.getDataPath())
            else:
                root = DATA_DIR
            p = root / value[len(prefix):]  # as before, unresolved: the config hash holds it
            if not p.resolve().is_relative_to(root.resolve()):
                raise ValueError(f"{value!r} leads out of the packaged data folder ({root}): "
                                 "name a file inside it, or give a plain path")
            return p
    p = Path(os.path.expanduser(os.path.expandvars(value)))
    if not p.is_absolute():
        p = (base_dir or Path.cwd()) / p
    return p.resolve()


def json_hash(obj: Any, default=None) -> str:
    """16 hex digits of the sha256 of `obj` as sorted-key JSON: a content hash of a config."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=default).encode()).hexdigest()[:16]
