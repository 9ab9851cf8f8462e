"""Checks a URDF before PyBullet loads it. PyBullet loads a garbage mesh silently (an empty or
exploded shape) and follows any mesh path, so: every mesh must stay inside the asset's folder unless
the user allows external paths, exist, and parse into finite geometry. PyBullet's bundled data is
trusted. The XML is read with xml.etree (no external entities, expat's entity-expansion limits)."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from ..core.errors import BadInput

_MESH_SUFFIXES_CHECKED = {".obj", ".stl", ".ply", ".off", ".glb", ".gltf"}
_checked: set[tuple[str, bool]] = set()  # per process: a URDF is checked once, like it is loaded once


def _bundled_root() -> Path:
    import pybullet_data

    return Path(pybullet_data.getDataPath()).resolve()


def _mesh_target(name: str, folder: Path) -> Path:
    """Where a URDF's mesh filename points: package:// and file:// are read relative to the URDF's
    folder (PyBullet looks there first), like a plain relative path."""
    for prefix in ("package://", "file://"):
        if name.startswith(prefix):
            name = name[len(prefix):]
    p = Path(name)
    return (p if p.is_absolute() else folder / p).resolve()


def mesh_refs(urdf: str | Path, field: str = "urdf", visual_only: bool = False) -> list[tuple[str, Path]]:
    """(filename as written, resolved path) of each <mesh> of a URDF: the one parser of mesh paths."""
    urdf = Path(urdf).resolve()
    try:
        root = ET.parse(urdf).getroot()
    except ET.ParseError as err:
        raise BadInput(f"not a valid URDF (XML error: {err})", urdf, field) from None
    except OSError as err:
        raise BadInput(f"not a readable URDF ({err.strerror or err})", urdf, field) from None
    parents = root.iter("visual") if visual_only else [root]
    out = []
    for el in (m for parent in parents for m in parent.iter("mesh")):
        name = el.get("filename", "")
        if not name:
            raise BadInput("a <mesh> element has no filename", urdf, field)
        out.append((name, _mesh_target(name, urdf.parent)))
    return out


def confine(urdf: str | Path, field: str, allow_external: bool = False) -> None:
    """Refuse a mesh path outside the URDF's folder, reading only the URDF's XML: run before
    anything opens a mesh or writes a file. PyBullet's bundled data is trusted."""
    urdf = Path(urdf).resolve()
    if allow_external or urdf.is_relative_to(_bundled_root()):
        return
    for name, target in mesh_refs(urdf, field):
        if not target.is_relative_to(urdf.parent):
            raise BadInput(
                f"mesh {name!r} resolves to {target}, outside the asset folder {urdf.parent}; "
                "set allow_external_paths: true on this asset if that is intended",
                urdf,
                field,
            )


def _check_mesh(mesh: Path, urdf: Path, field: str) -> None:
    if mesh.suffix.lower() not in _MESH_SUFFIXES_CHECKED:
        return  # e.g. .dae: PyBullet's own importer is the only reader here
    import trimesh

    from .budgets import check_faces, check_file_size

    check_file_size(mesh, urdf, field)
    try:
        geom = trimesh.load(str(mesh), force="mesh", process=False)
        vertices, faces = np.asarray(geom.vertices), np.asarray(geom.faces)
        if len(faces) and (faces.min() < 0 or faces.max() >= len(vertices)):
            raise ValueError("faces refer to vertices that do not exist")
    except Exception as err:  # trimesh raises many kinds on garbage input
        raise BadInput(f"mesh {mesh} is corrupt or unreadable ({type(err).__name__}: {err})", urdf, field) from None
    if len(vertices) == 0 or len(faces) == 0:
        raise BadInput(f"mesh {mesh} holds no geometry (corrupt or empty file)", urdf, field)
    if not np.isfinite(vertices).all():
        raise BadInput(f"mesh {mesh} has non-finite vertex coordinates", urdf, field)
    check_faces(len(faces), mesh, urdf, field)


def confine_urdf_paths(urdf: str | Path, field: str, allow_external: bool = False) -> None:
    """BadInput unless every mesh of `urdf` is inside its folder (or allowed), present and sound."""
    urdf = Path(urdf).resolve()
    key = (str(urdf), allow_external)
    if key in _checked:
        return
    if not urdf.is_relative_to(_bundled_root()):
        confine(urdf, field, allow_external)
        for name, target in mesh_refs(urdf, field):
            if not target.is_file():
                raise BadInput(f"refers to a missing mesh {name!r} (not found: {target})", urdf, field)
            _check_mesh(target, urdf, field)
    _checked.add(key)
