"""Asset libraries: folders of assets, each `<library>/<name>/asset.yaml` beside its mesh or URDF.

Libraries are searched in order: the ones named (`--library`, a config's `library:`), then
$SYNTHSCENE_LIBRARY or ~/.local/share/synthscene/assets, then every library a pip-installed package
declares in the `synthscene.assets` entry-point group.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError

from ..core.errors import BadInput
from ..core.schema import ASSET_NAME, Collision, PoseConstraint, StrictModel, Units

ASSET_FILE = "asset.yaml"
ENTRY_POINT_GROUP = "synthscene.assets"
_NAME = ASSET_NAME  # use with fullmatch


#: a library asset's `pose:` is the config's PoseConstraint (only `upright` was ever documented there)
PoseConstraints = PoseConstraint


class AssetSpec(StrictModel):
    """The contents of an asset.yaml; file paths are relative to its folder."""

    name: str = Field(min_length=1)
    class_name: str | None = Field(None, alias="class")
    mesh: str | None = None
    urdf: str | None = None
    units: Units = "m"
    scale: float = Field(1.0, gt=0)
    mass: float | None = Field(None, gt=0)
    collision: Collision = "vhacd"
    recentre: bool = False
    up_axis: Literal["z", "y", "x", "-z", "-y", "-x"] | None = None  # None: y for glTF/GLB, z otherwise
    rotation_deg: tuple[float, float, float] | None = None  # XYZ extrinsic, after up_axis
    pose: PoseConstraints = PoseConstraints()
    source: str | None = None  # where it came from (URL, dataset, author)
    licence: str | None = None

    @property
    def cls(self) -> str:
        return self.class_name or self.name


@dataclass
class LibraryAsset:
    spec: AssetSpec
    folder: Path

    @property
    def file(self) -> Path:
        return self.folder / (self.spec.mesh or self.spec.urdf or "")

    @property
    def library(self) -> Path:
        return self.folder.parent


def default_library() -> Path:
    env = os.environ.get("SYNTHSCENE_LIBRARY")
    if env:
        return Path(os.path.expanduser(env)).resolve()
    return Path.home() / ".local" / "share" / "synthscene" / "assets"


def entry_point_libraries() -> list[tuple[str, Path]]:
    """(entry-point name, folder) for each installed asset pack.

    An entry point may name a path (str or Path), a module (its folder is the library) or a
    callable returning a path.
    """
    out = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
        except Exception as err:
            raise BadInput(f"asset pack {ep.name!r} ({ep.value}) cannot be imported: {err}", None, ENTRY_POINT_GROUP) from None
        if callable(obj):
            obj = obj()
        if hasattr(obj, "__file__"):
            obj = Path(obj.__file__).parent
        out.append((ep.name, Path(obj)))
    return out


def search_path(explicit: list[str | Path | None] = ()) -> list[Path]:
    seen, out = set(), []
    for d in [*(Path(x) for x in explicit if x), default_library(), *(p for _, p in entry_point_libraries())]:
        key = str(Path(d).resolve())
        if key not in seen:
            seen.add(key)
            out.append(Path(d).resolve())
    return out


def read_spec(folder: Path) -> AssetSpec:
    f = folder / ASSET_FILE
    try:
        data = yaml.safe_load(f.read_text())
        spec = AssetSpec.model_validate(data)
    except (OSError, yaml.YAMLError) as err:
        raise BadInput(f"cannot read it ({err})", f) from None
    except ValidationError as err:
        raise BadInput("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()), f) from None
    if (spec.mesh is None) == (spec.urdf is None):
        raise BadInput("give exactly one of `mesh` or `urdf`", f)
    if spec.urdf is not None:
        _no_urdf_orientation(spec.up_axis, spec.rotation_deg, f, "")
    return spec


def _apply(keys: list[str]) -> str:
    return f"{' and '.join(keys)} appl{'y' if len(keys) > 1 else 'ies'}"


_URDF_ORIENTATION = ("a URDF places its meshes itself: set the <origin rpy=\"…\"> of its <visual> and <collision> "
                     "elements (radians, roll-pitch-yaw about x, y, z), or give the mesh as `mesh:` instead")


def _no_urdf_orientation(up_axis, rotation_deg, file, prefix: str) -> None:
    given = [k for k, v in (("up_axis", up_axis), ("rotation_deg", rotation_deg)) if v is not None]
    if given:
        raise BadInput(f"{_apply(given)} to meshes; {_URDF_ORIENTATION}", file,
                       prefix + given[0].replace("_", "-") if prefix else given[0])


def list_assets(libraries: list[Path]) -> list[LibraryAsset]:
    """Every asset in the libraries; an earlier library's asset hides a later one of the same name."""
    found: dict[str, LibraryAsset] = {}
    for lib in libraries:
        if not lib.is_dir():
            continue
        for f in sorted(lib.glob(f"*/{ASSET_FILE}")):
            if f.parent.name.startswith("."):  # .cache, or an add that was killed before its rename
                continue
            spec = read_spec(f.parent)
            found.setdefault(spec.name, LibraryAsset(spec, f.parent))
    return list(found.values())


def find_asset(name: str, libraries: list[Path]) -> LibraryAsset:
    for a in list_assets(libraries):
        if a.spec.name == name:
            return a
    where = ", ".join(str(x) for x in libraries) or "(none)"
    raise BadInput(f"no asset named {name!r} in the asset libraries searched: {where}", None, "asset")


def cache_for(asset: LibraryAsset) -> Path | None:
    """A library's own `.cache` when it is writable (installed packs may not be): None = the user cache."""
    cache = asset.library / ".cache"
    return cache if os.access(asset.library, os.W_OK) else None
