"""Asset libraries: folders of assets, each `<library>/<name>/asset.yaml` beside its mesh or URDF.

Libraries are searched in order: the ones named (`--library`, a config's `library:`), then
$SYNTHSCENE_LIBRARY or ~/.local/share/synthscene/assets, then every library a pip-installed package
declares in the `synthscene.assets` entry-point group.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError

from ..errors import BadInput
from ..labels.io import atomic_write
from ..schema import ASSET_NAME, StrictModel
from . import convert

ASSET_FILE = "asset.yaml"
ENTRY_POINT_GROUP = "synthscene.assets"
_NAME = ASSET_NAME  # use with fullmatch


class PoseConstraints(StrictModel):
    upright: bool = False  # stands on its base (z up): only its heading is random


class AssetSpec(StrictModel):
    """The contents of an asset.yaml; file paths are relative to its folder."""

    name: str = Field(min_length=1)
    class_name: str | None = Field(None, alias="class")
    mesh: str | None = None
    urdf: str | None = None
    units: Literal["m", "cm", "mm"] = "m"
    scale: float = Field(1.0, gt=0)
    mass: float | None = Field(None, gt=0)
    collision: Literal["vhacd", "convex", "box", "sphere", "cylinder"] = "vhacd"
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


def _no_urdf_orientation(up_axis, rotation_deg, file, prefix: str) -> None:
    from .assets import _URDF_ORIENTATION, _apply

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


def add_asset(
    source: Path,
    name: str,
    library: Path,
    *,
    class_name: str | None = None,
    units: str = "m",
    collision: str = "vhacd",
    mass: float | None = None,
    recentre: bool = False,
    up_axis: str | None = None,
    rotation_deg: tuple[float, float, float] | None = None,
    upright: bool = False,
    licence: str | None = None,
    origin: str | None = None,
    overwrite: bool = False,
) -> LibraryAsset:
    """Copy a mesh or URDF (with the files it refers to) into the library and write its asset.yaml.

    Transactional: everything is checked, then built in a hidden temporary folder of the library and
    renamed into place, so a refused or interrupted add leaves the library as it was.
    """
    from .assets import build, check_orientation, check_size, check_urdf
    from .urdf_check import check_urdf as check_paths

    source = Path(source).resolve()
    if not _NAME.fullmatch(name):
        raise BadInput(f"asset names are letters, digits, _ . - (got {name!r})", None, "--name")
    if not source.is_file():
        raise BadInput("file not found", source, "MESH_OR_URDF")
    folder = library / name
    if (folder / ASSET_FILE).exists() and not overwrite:
        raise BadInput(f"the library already has an asset {name!r}; remove it or choose another --name", folder, "--name")
    if folder.exists() and not overwrite:
        raise BadInput("a folder of that name (not an asset) is in the library; remove it or choose another --name",
                       folder, "--name")
    is_urdf = source.suffix.lower() == ".urdf"
    if is_urdf:
        _no_urdf_orientation(up_axis, rotation_deg, source, "--")
    else:
        check_orientation(source, up_axis, rotation_deg)  # as given (None: the format's default) into asset.yaml
    spec = AssetSpec(name=name, **{"class": class_name}, units=units, collision=collision, mass=mass, recentre=recentre,
                     up_axis=up_axis, rotation_deg=rotation_deg,
                     pose=PoseConstraints(upright=upright), licence=licence, source=origin or str(source),
                     **({"urdf": source.name} if is_urdf else {"mesh": source.name}))
    # Validate (and convert) before copying anything, so a bad asset never enters the library. The
    # cache key hashes contents, not paths, so the library copy reuses this conversion.
    cache = library / ".cache"
    if is_urdf:
        check_paths(source, "MESH_OR_URDF")  # confined before any mesh is opened: a library copy would lose an outside one
        check_size(check_urdf(source), convert.UNITS[units], source, "--units")
        deps = list(convert.urdf_meshes(source))
        deps += [d for m in deps if m.suffix.lower() == ".obj" for d in convert.dependencies(m)]
    else:
        built = build(source, name=name, units=units, recentre=recentre, collision=collision, mass=mass,
                      up_axis=spec.up_axis, rotation_deg=spec.rotation_deg, cache_dir=cache)
        check_size(built.report.extents, spec.scale, source, "--units")
        deps = convert.dependencies(source)
    copies = []
    for dep in [source, *deps]:
        try:
            copies.append((dep, dep.resolve().relative_to(source.parent)))
        except ValueError:
            raise BadInput(f"refers to {dep}, outside its own folder; the library copy would lose it", source) from None
    try:
        library.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.adding.", dir=library))
    except OSError as err:
        raise BadInput(f"cannot write the library ({err.strerror})", library, "--library") from None
    old = None
    try:
        for dep, rel in copies:
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(dep, tmp / rel)
        atomic_write(tmp / ASSET_FILE, yaml.safe_dump(spec.model_dump(mode="json", by_alias=True, exclude_none=True), sort_keys=False))
        if folder.exists():  # --overwrite, or a folder without an asset.yaml: moved aside, removed once replaced
            old = Path(tempfile.mkdtemp(prefix=f".{name}.old.", dir=library))
            os.replace(folder, old / name)
        os.replace(tmp, folder)
    except BaseException:
        if old is not None and not folder.exists():
            os.replace(old / name, folder)  # put the previous asset back
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return LibraryAsset(spec, folder)
