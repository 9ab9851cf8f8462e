"""Distractors from a folder of meshes: `randomizers.occlusion.sources` may name, besides folders of
URDFs and `synthscene:shapes`, `{meshes: DIR, units: m|cm|mm, up_axis: ..., collision: ...}`:
every .obj/.ply/.stl/.glb/.gltf under DIR (recursively; textured, vertex-coloured or plain) is a
candidate pool member. The pool's members are drawn from the URDFs and the mesh files together
(`occlusion.pool`), and only the drawn meshes are converted, through the asset pipeline
(scenes/assets.py `build`: units, up axis, face and file budgets, colours baked into a texture,
collision hulls; cached in the asset cache by content, so a later run or worker reuses them).
Each is re-centred on its box's centre, as the other pool members are placed by it.

The package ships a small set of scanned everyday objects (YCB, CC BY 4.0) as
`synthscene:distractors/ycb` (synthscene/data/distractors/README.md).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import ValidationInfo, field_validator

from ..core.schema import Collision, StrictModel, Units, resolve_path

#: what a mesh folder contributes (convert.MESH_SUFFIXES less those without colour or texture support)
MESH_FOLDER_SUFFIXES = (".obj", ".ply", ".stl", ".glb", ".gltf")


class MeshSource(StrictModel):
    """One `sources:` entry that is a folder of meshes."""

    meshes: str  # the folder, resolved like every path (relative to the config; synthscene:, pybullet:)
    units: Units = "m"
    up_axis: Literal["z", "y", "x", "-z", "-y", "-x"] | None = None  # None: the format's own (glTF y, else z)
    collision: Collision = "convex"  # one hull each: quick to build, and distractors only need to stand and lean

    @field_validator("meshes")
    @classmethod
    def _folder(cls, v: str, info: ValidationInfo) -> str:
        p = resolve_path(str(v), (info.context or {}).get("base_dir"))
        if not p.is_dir():
            raise ValueError(f"folder not found: {p}")
        if not meshes_in(str(p)):
            raise ValueError(f"no meshes ({', '.join(MESH_FOLDER_SUFFIXES)}) under {p}")
        return str(p)


@lru_cache(maxsize=16)
def meshes_in(folder: str) -> tuple[str, ...]:
    """Every mesh file under `folder`, sorted (the pool draws from this order)."""
    return tuple(sorted(str(f) for f in Path(folder).rglob("*") if f.is_file() and f.suffix.lower() in MESH_FOLDER_SUFFIXES))


def candidates(sources) -> dict[str, MeshSource]:
    """mesh file → the source that names it, over every mesh source of `sources`."""
    return {m: src for src in sources if isinstance(src, MeshSource) for m in meshes_in(src.meshes)}


def mesh_urdf(path: str, src: MeshSource) -> str:
    """The render-ready URDF of one mesh of a mesh source (converted once, then from the cache)."""
    from .prepare import build

    built = build(path, name=Path(path).stem, units=src.units, recentre=True, collision=src.collision,
                  up_axis=src.up_axis)
    return str(built.urdf)
