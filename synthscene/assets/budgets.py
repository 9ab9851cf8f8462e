"""Size budgets of a mesh, checked before anything heavy reads it (a leaf: convert.py and
urdf_check.py both check them)."""
from __future__ import annotations

import os
from pathlib import Path

from ..core.errors import BadInput

MAX_MESH_BYTES = 100 * 2**20  # $SYNTHSCENE_MAX_MESH_BYTES: refused before trimesh reads the file
MAX_FACES = 200_000  # $SYNTHSCENE_MAX_FACES: triangles of one mesh file


def _budget(env: str, default: float) -> float:
    text = os.environ.get(env)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise BadInput(f"expected a positive number, got {text!r}", f"${env}", env)
    return value


_HOW_TO_DECIMATE = ("decimate it first (Blender: Decimate modifier; MeshLab: Quadric Edge Collapse Decimation; "
                    "or trimesh's simplify_quadric_decimation with fast-simplification installed), see docs/ASSETS.md")


def check_file_size(path: Path, who: Path | None = None, field: str = "mesh") -> None:
    """Refuse a huge mesh file before anything reads it into memory."""
    limit = int(_budget("SYNTHSCENE_MAX_MESH_BYTES", MAX_MESH_BYTES))
    try:
        size = path.stat().st_size
    except OSError:
        return  # a missing file is reported by whoever reads it
    if size > limit:
        what = "" if who is None or Path(who) == path else f"mesh {path}: "
        raise BadInput(f"{what}the file is {size:,} bytes, over the budget of {limit:,} bytes "
                       f"($SYNTHSCENE_MAX_MESH_BYTES); {_HOW_TO_DECIMATE}", who or path, field)


def check_faces(faces: int, path: Path, who: Path | None = None, field: str = "mesh") -> None:
    """Refuse a mesh over the face budget (no decimation library is installed to reduce it here)."""
    limit = int(_budget("SYNTHSCENE_MAX_FACES", MAX_FACES))
    if faces > limit:
        what = "" if who is None or Path(who) == path else f"mesh {path}: "
        raise BadInput(f"{what}{faces:,} triangles, over the budget of {limit:,} ($SYNTHSCENE_MAX_FACES); "
                       f"{_HOW_TO_DECIMATE}", who or path, field)
