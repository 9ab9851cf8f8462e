"""`synthscene assets add`: a mesh or URDF copied into a library, checked and converted first.
Apart from library.py (finding assets) because it builds them with assets.py, which finds them
with library.py."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import yaml

from ..core.errors import BadInput
from ..core.files import atomic_write
from . import convert
from .prepare import build, check_orientation, check_size, urdf_extents
from .library import _NAME, ASSET_FILE, AssetSpec, LibraryAsset, PoseConstraints, _no_urdf_orientation
from .urdf_check import confine_urdf_paths


def add_asset(
    source: Path,
    name: str,
    library: Path,
    *,
    class_name: str | None = None,
    units: str = "m",
    scale: float = 1.0,
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
    spec = AssetSpec(name=name, **{"class": class_name}, units=units, scale=scale, collision=collision, mass=mass, recentre=recentre,
                     up_axis=up_axis, rotation_deg=rotation_deg,
                     pose=PoseConstraints(upright=upright), licence=licence, source=origin or str(source),
                     **({"urdf": source.name} if is_urdf else {"mesh": source.name}))
    # Validate (and convert) before copying anything, so a bad asset never enters the library. The
    # cache key hashes contents, not paths, so the library copy reuses this conversion.
    cache = library / ".cache"
    if is_urdf:
        confine_urdf_paths(source, "MESH_OR_URDF")  # confined before any mesh is opened: a library copy would lose an outside one
        check_size(urdf_extents(source), convert.UNITS[units] * scale, source, "--units")
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
