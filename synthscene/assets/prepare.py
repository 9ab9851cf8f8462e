"""Assets: any mesh or URDF → a validated, render-ready URDF in a cache keyed by content.

A config entry (or library asset) names a `urdf:` or a `mesh:`; `prepare` turns every entry
into a plain URDF entry once, in the parent process, before workers start (load_config converts
nothing), so the World only ever calls `p.loadURDF(path, globalScaling=scale)`. Conversions live
in `<cache>/<key>/` where the key hashes the source's bytes (and the files it refers to) with the
conversion parameters, so a changed mesh or option rebuilds and nothing else does.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pybullet as p
import pybullet_data
from PIL import Image
from scipy.spatial.transform import Rotation

from ..core.cache import cache_root
from ..core.errors import BadInput
from ..core.quiet import quiet
from . import convert, urdf_check
from .library import _URDF_ORIENTATION, _apply
from .convert import UNITS, AssetWarning, MeshReport

CONVERTER_VERSION = 2  # bump when the files a conversion writes change
PLAUSIBLE_M = (0.005, 5.0)  # outside: a warning (a unit mistake is the usual cause)
ABSURD_M = (0.0005, 50.0)  # outside: refused
BUILD_INFO = "build.json"


def content_key(source: Path, params: dict) -> str:
    """sha256 of the source, the files it refers to (by name and bytes) and the conversion parameters."""
    h = hashlib.sha256()
    h.update(json.dumps({"v": CONVERTER_VERSION, **params}, sort_keys=True).encode())
    for f in [source, *convert.dependencies(source)]:
        h.update(f.name.encode() + b"\0")
        h.update(f.read_bytes() if f.is_file() else b"<missing>")
        h.update(b"\0")
    return h.hexdigest()[:24]


@dataclass
class Built:
    urdf: Path
    key: str
    report: MeshReport
    cached: bool  # True when an earlier conversion was reused


def build(
    source: str | Path,
    *,
    name: str,
    units: str = "m",
    recentre: bool = False,
    collision: str = "vhacd",
    mass: float | None = None,
    up_axis: str | None = None,
    rotation_deg=None,
    cache_dir: str | Path | None = None,
) -> Built:
    """The render-ready URDF of a mesh file, converted once and reused while source and options match.

    `up_axis` (default: convert.default_up_axis) and `rotation_deg` are baked into the vertices. They
    enter the cache key only when they rotate the mesh, so a Z-up mesh keeps its key and its files.
    """
    source = Path(source)
    if not source.is_file():
        raise BadInput("mesh file not found", source, "mesh")
    if units not in UNITS:
        raise BadInput(f"unknown units {units!r}; expected one of {', '.join(UNITS)}", source, "units")
    if collision not in convert.COLLISIONS:
        raise BadInput(f"unknown collision {collision!r}; expected one of {', '.join(convert.COLLISIONS)}", source, "collision")
    params = {"units": units, "recentre": bool(recentre), "collision": collision, "mass": mass}
    up, rot = check_orientation(source, up_axis, rotation_deg)
    rotation = convert.orientation_matrix(up, rot)
    if rotation is not None:
        params["orientation"] = {"up_axis": up, "rotation_deg": list(rot)}
    key = content_key(source, params)
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    final = root / key
    info_file = final / BUILD_INFO
    if info_file.is_file():
        info = json.loads(info_file.read_text())
        if all((final / f).is_file() for f in info.get("files", [])):
            report = MeshReport(**info["report"])
            _warn_notes(report)
            return Built(final / "model.urdf", key, report, cached=True)
        shutil.rmtree(final, ignore_errors=True)  # someone deleted part of it: convert again
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=root))
    except OSError as err:
        raise BadInput(f"cannot write the asset cache ({err.strerror})", root, "cache") from None
    try:
        report = convert_source(source, tmp, name=name, key=key, unit_scale=UNITS[units], recentre=recentre,
                                collision=collision, mass=mass, rotation=rotation)
        urdf_extents(tmp / "model.urdf", source, textured=True)
        files = sorted(f.name for f in tmp.iterdir())
        info = {"source": str(source), "params": params, "report": asdict(report), "files": files}
        (tmp / BUILD_INFO).write_text(json.dumps(info, indent=1))
        try:
            os.rename(tmp, final)  # atomic; another process may have won the race, which is fine
        except OSError:
            if not info_file.is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _warn_notes(report)
    return Built(final / "model.urdf", key, report, cached=False)


def check_orientation(source: Path, up_axis: str | None, rotation_deg, field: str = "") -> tuple[str, list[float]]:
    """The up axis (the format's default when None) and the extra rotation [rx, ry, rz] in degrees."""
    up = up_axis or convert.default_up_axis(source)
    if up not in convert.UP_AXES:
        raise BadInput(f"unknown up_axis {up!r}; expected one of {', '.join(convert.UP_AXES)}", source, f"{field}up_axis")
    rot = [0.0, 0.0, 0.0] if rotation_deg is None else list(rotation_deg)
    if len(rot) != 3 or not all(isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a) for a in rot):
        raise BadInput(f"expected [rx, ry, rz] in degrees, got {rotation_deg!r}", source, f"{field}rotation_deg")
    return up, [float(a) for a in rot]


def _warn_notes(report: MeshReport) -> None:
    for note in report.notes:
        warnings.warn(note, AssetWarning, stacklevel=3)


def convert_source(source: Path, folder: Path, **kw) -> MeshReport:
    """One conversion (a module-level seam so tests can count how often the cache misses)."""
    return convert.convert_mesh(source, folder, **kw)


def urdf_extents(urdf: Path, file_for_messages: Path | None = None, textured: bool = False) -> np.ndarray:
    """Load a URDF in a scratch PyBullet client; its extents in metres (at scale 1).

    Refuses what would render as nothing or wrongly: missing meshes or textures, no visual shape,
    a textured visual whose texture PyBullet did not load.
    """
    who = file_for_messages or urdf
    for mesh in convert.urdf_meshes(urdf):
        if not mesh.is_file():
            raise BadInput(f"refers to a missing mesh {mesh}", urdf, "urdf")
        convert.check_file_size(mesh, urdf, "urdf")
        if mesh.suffix.lower() == ".obj":  # no MTL is fine there: PyBullet uses the URDF's colour
            convert.check_dependencies(mesh, missing_mtl_ok=True)
            for tex in convert.dependencies(mesh):
                _warn_texture_rows(tex, who)
    with quiet():
        client = p.connect(p.DIRECT)
    try:
        p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=client)  # as the World does
        try:
            with quiet():
                uid = p.loadURDF(str(urdf), physicsClientId=client)
        except p.error as err:
            raise BadInput(f"PyBullet cannot load it ({err})", who, "urdf") from None
        flags = p.VISUAL_SHAPE_DATA_TEXTURE_UNIQUE_IDS
        visuals = p.getVisualShapeData(uid, flags=flags, physicsClientId=client)
        if not visuals:
            raise BadInput("it has no visual shape, so it would be invisible", who, "urdf")
        if textured and any(v[-1] < 0 for v in visuals):
            raise BadInput("PyBullet did not load its texture, so it would render untextured", who, "mesh")
        lo = np.full(3, np.inf)
        hi = np.full(3, -np.inf)
        for link in range(-1, p.getNumJoints(uid, physicsClientId=client)):
            a, b = p.getAABB(uid, link, physicsClientId=client)
            lo, hi = np.minimum(lo, a), np.maximum(hi, b)
        return hi - lo
    finally:
        with quiet():
            p.disconnect(client)


def _warn_texture_rows(tex: Path, who: Path) -> None:
    """PyBullet's EGL renderer mis-reads a texture whose width is not a multiple of 4: it renders
    grey or wrongly coloured, silently. Converted meshes never have one; a URDF's own might."""
    if tex.suffix.lower() not in convert._IMAGES or not tex.is_file():
        return
    try:
        with Image.open(tex) as im:
            width, height = im.size
    except OSError:
        raise BadInput(f"its texture {tex} is not a readable image", who, "urdf") from None
    if width % 4:
        warnings.warn(f"{who}: texture {tex.name} is {width}×{height}; PyBullet's EGL renderer mis-reads widths that are "
                      "not a multiple of 4 (resize it, or give the mesh as `mesh:` to have it converted)", AssetWarning, stacklevel=3)


def check_size(extents_m, scale: float, file, field: str = "scale") -> list[str]:
    """Refuse absurd sizes, warn of implausible ones; returns the warnings given."""
    size = float(np.max(extents_m)) * scale
    msg = f"its largest extent is {size * 1000:.4g} mm after scaling"
    if not np.isfinite(size) or size <= 0:
        raise BadInput("degenerate geometry: its bounding box has no size", file, field)
    if size < ABSURD_M[0] or size > ABSURD_M[1]:
        raise BadInput(f"absurd size: {msg}; check `units` (m, cm, mm) and `scale`", file, field)
    if size < PLAUSIBLE_M[0] or size > PLAUSIBLE_M[1]:
        text = f"{file}: implausible size: {msg} (expected 5 mm to 5 m); check `units` and `scale`"
        warnings.warn(text, AssetWarning, stacklevel=3)
        return [text]
    flat = sorted(float(e) for e in extents_m)[0] * scale
    if flat <= 1e-6:
        text = f"{file}: flat geometry (zero thickness): invisible when seen edge-on"
        warnings.warn(text, AssetWarning, stacklevel=3)
        return [text]
    return []


# ---- config entries → plain URDF entries ------------------------------------------------------

_MESH_ONLY = {"collision": "vhacd", "recentre": False, "mass": None, "up_axis": None, "rotation_deg": None}
_ORIENTATION = ("up_axis", "rotation_deg")


@dataclass
class Ready:
    """A source made render-ready: load `urdf` with globalScaling=`scale`."""

    urdf: Path
    scale: float
    report: MeshReport | None  # None for a URDF source
    warnings: list[str]
    up_axis: str = "z"  # the source's axis that now points up (+Z)
    rotation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)  # applied after it


def make_ready(src: Path, *, name: str, units: str = "m", scale: float = 1.0, cache_dir: Path | None = None,
               field: str = "mesh", allow_external: bool = False, **mesh_opts) -> Ready:
    """Check a URDF (its mesh paths confined first), or convert a mesh (cached), then check its
    size after units and scale."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AssetWarning)
        if src.suffix.lower() == ".urdf":
            given = [k for k in _ORIENTATION if mesh_opts.get(k) is not None]
            if given:
                raise BadInput(f"{_apply(given)} to meshes; {_URDF_ORIENTATION}", src, f"{field}.{given[0]}")
            urdf_check.confine_urdf_paths(src, field, allow_external)  # paths confined before any mesh is opened
            extents = urdf_extents(src)
            scale = scale * UNITS[units]
            check_size(extents, scale, src, f"{field}.scale")
            ready = Ready(src, scale, None, [])
        else:
            up, rot = check_orientation(src, mesh_opts.get("up_axis"), mesh_opts.get("rotation_deg"), f"{field}.")
            built = build(src, name=name, units=units, cache_dir=cache_dir, **mesh_opts)
            check_size(built.report.extents, scale, src, f"{field}.scale")
            ready = Ready(built.urdf, scale, built.report, [], up, tuple(rot))
    for w in caught:  # given again to the caller's filters, and kept for reports
        ready.warnings.append(str(w.message))
        warnings.warn(w.message, w.category, stacklevel=2)
    return ready


def resolve_entry(entry, index: int, library: str | None = None):
    """A copy of one AssetConfig that names a render-ready URDF (`urdf`, final `scale`, units m).

    Library assets are looked up, meshes converted (or found in the cache), URDFs loaded once to
    check them; sizes are checked after scaling. `source` records what the URDF was made from.
    """
    from . import library as lib

    field = f"assets[{index}]"
    given = entry.model_fields_set
    update: dict = {}
    cache_dir = None
    src = entry.urdf or entry.mesh
    units, scale = entry.units, entry.scale
    opts = {k: getattr(entry, k) for k in _MESH_ONLY}
    odd = [k for k, v in _MESH_ONLY.items() if getattr(entry, k) != v]
    turned = [k for k in _ORIENTATION if getattr(entry, k) is not None]
    if entry.urdf and turned:
        raise BadInput(f"{_apply(turned)} to `mesh:` entries; {_URDF_ORIENTATION}", entry.urdf, f"{field}.{turned[0]}")
    if entry.urdf and odd:
        raise BadInput(f"{', '.join(odd)} apply to `mesh:` entries; a URDF carries its own", entry.urdf, field)
    if entry.asset:
        found = lib.find_asset(entry.asset, lib.search_path([entry.library, library]))
        spec = found.spec
        src = str(found.file)
        if not found.file.is_file():
            raise BadInput(f"asset {spec.name!r}: its mesh or URDF file is missing", found.file, f"{field}.asset")
        units = entry.units if "units" in given else spec.units
        scale = spec.scale * entry.scale
        opts = {k: getattr(entry, k) if k in given else getattr(spec, k) for k in _MESH_ONLY}
        if entry.class_name is None:
            update["class_name"] = spec.cls
        if "upright" not in given:
            update["upright"] = spec.pose.upright
        cache_dir = lib.cache_for(found)
        update["source"] = f"library asset {spec.name} ({src})"
    src_path = Path(src)
    if src_path.suffix.lower() == ".urdf":
        if turned:
            raise BadInput(f"{_apply(turned)} to meshes, and asset {entry.asset!r} is a URDF; {_URDF_ORIENTATION}",
                           src_path, f"{field}.{turned[0]}")
        opts = {}
    allow = bool(entry.allow_external_paths) and not entry.asset  # a library asset stays in its folder
    ready = make_ready(src_path, name=entry.name, units=units, scale=scale, cache_dir=cache_dir, field=field,
                       allow_external=allow, **opts)
    if ready.report is not None:
        update.setdefault("source", str(src_path))
    update.update(urdf=str(ready.urdf), mesh=None, asset=None, library=None, units="m", scale=ready.scale, **_MESH_ONLY)
    return entry.model_copy(update=update)
def prepare(config):
    """The config with every asset entry resolved to a render-ready URDF (meshes converted into the
    cache, library assets looked up, URDFs checked): run once, in the parent, before anything is
    written or workers start. A prepared config is returned as is, so calling it again costs nothing."""
    if config._prepared:
        return config
    assets = [resolve_entry(a, i, config.library) for i, a in enumerate(config.assets)]
    if config.classes is not None:
        unknown = [a.cls for a in assets if a.cls not in config.classes]
        if unknown:
            raise BadInput(f"classes {unknown} of library assets are not in `classes` {config.classes}", config.source, "assets")
    ready = config.model_copy(update={"assets": assets})
    ready._prepared = True
    return ready
