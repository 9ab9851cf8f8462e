"""Any mesh → render-ready files PyBullet draws as the object looks: OBJ + power-of-two PNG + URDF.

PyBullet reads URDF and OBJ (with MTL and a texture), but not per-vertex colour, PLY, STL or glTF,
and its EGL renderer mis-reads textures whose rows are not a multiple of 4 bytes. So every visual
is written as an OBJ with its own power-of-two texture: image textures are resized, colours (per
vertex, per face or one material colour) are baked into a texel per face colour.
"""
from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..core.errors import BadInput
from ..core.schema import COLLISION_NAMES, UNIT_NAMES
from . import urdf_check
from .budgets import MAX_FACES, MAX_MESH_BYTES, _budget, check_faces, check_file_size  # noqa: F401  (moved; names kept)



class _Trimesh:
    """trimesh, imported on first use: a render worker imports this module (through
    assets.prepare) but converts nothing, and trimesh costs it memory (networkx and more)."""

    def __getattr__(self, name):
        import trimesh

        return getattr(trimesh, name)


trimesh = _Trimesh()

MESH_SUFFIXES = (".obj", ".ply", ".stl", ".glb", ".gltf", ".off", ".dae")
COLLISIONS = COLLISION_NAMES
UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001}  # metres per unit, one per schema.Units
assert tuple(UNITS) == UNIT_NAMES
MAX_TEXTURE = 2048
DEFAULT_DENSITY = 500.0  # kg/m³: a plausible mean for hollow or mixed household objects
DEFAULT_GREY = (160, 160, 160)  # STL and other colourless meshes
_IMAGES = (".png", ".jpg", ".jpeg", ".bmp", ".tga", ".tif", ".tiff")
# Budgets (docs/ASSETS.md), each overridable by an environment variable: a 10-million-face scan
# would otherwise take minutes and gigabytes, and V-HACD can loop forever on some inputs.
VHACD_TIMEOUT_S = 300.0  # $SYNTHSCENE_VHACD_TIMEOUT: then the convex hull is used instead
FLAT_RATIO = 1e-3  # hull thickness / largest extent at or below which a mesh counts as flat
# Which mesh axis points up. synthscene's world is Z-up; glTF is Y-up by its specification (+Y up,
# +Z forward), every other format is taken as Z-up. Each axis maps to the exact rotation that turns
# it into +Z: for y, +90° about X (the glTF → Z-up convention Blender uses: (x, y, z) → (x, -z, y)).
UP_AXES = ("z", "y", "x", "-z", "-y", "-x")
_UP_ROTATIONS = {
    "z": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "y": ((1, 0, 0), (0, 0, -1), (0, 1, 0)),  # +90° about X
    "-y": ((1, 0, 0), (0, 0, 1), (0, -1, 0)),  # -90° about X
    "x": ((0, 0, -1), (0, 1, 0), (1, 0, 0)),  # -90° about Y
    "-x": ((0, 0, 1), (0, 1, 0), (-1, 0, 0)),  # +90° about Y
    "-z": ((1, 0, 0), (0, -1, 0), (0, 0, -1)),  # 180° about X
}


class AssetWarning(UserWarning):
    """A loadable asset that is probably not what the user meant (size, flatness, no colour)."""


@dataclass
class MeshReport:
    """What `assets check` and the cache record about a converted mesh (metres)."""

    extents: list[float]
    triangles: int
    watertight: bool
    colour: str  # "texture" | "vertex colour" | "face colour" | "material colour" | "none"
    notes: list[str] = field(default_factory=list)  # warnings of the conversion, given again on a cache hit


def dependencies(path: Path) -> list[Path]:
    """Files a mesh refers to (MTL files and their textures, glTF buffers and images): part of its content."""
    out: list[Path] = []
    suffix = path.suffix.lower()
    try:
        text = path.read_text(errors="replace") if suffix in (".obj", ".gltf") else ""
    except OSError:
        return out
    if suffix == ".obj":
        for name in re.findall(r"^\s*mtllib\s+(.+?)\s*$", text, flags=re.M):
            mtl = path.parent / name
            out.append(mtl)
            if mtl.is_file():
                for tex in re.findall(r"^\s*(?:map_\w+|bump|disp|norm)\s+(?:-\S+\s+\S+\s+)*(.+?)\s*$", mtl.read_text(errors="replace"), flags=re.M):
                    out.append(mtl.parent / tex)
    elif suffix == ".gltf":
        for uri in re.findall(r'"uri"\s*:\s*"([^"]+)"', text):
            if not uri.startswith("data:"):
                out.append(path.parent / uri)
    return out


def check_dependencies(path: Path, missing_mtl_ok: bool = False) -> list[str]:
    """A missing texture would load silently as a grey or white object: refuse it instead.

    A URDF's OBJ may lack its MTL (PyBullet then uses the URDF's colour, as its bundled lego does):
    that is a warning there; a mesh to convert must have it. Returns the warnings.
    """
    notes = []
    for dep in dependencies(path):
        if not dep.is_file():
            is_mtl = dep.suffix.lower() == ".mtl"
            if is_mtl and missing_mtl_ok:
                notes.append(f"{path}: refers to a missing material file {dep}; the URDF's colour is used")
                continue
            kind = "material file" if is_mtl else "texture" if dep.suffix.lower() in _IMAGES else "file"
            raise BadInput(f"refers to a missing {kind} {dep}", path, "mesh")
    return notes


def default_up_axis(path: Path) -> str:
    """The mesh axis that points up unless an asset says otherwise: y for glTF/GLB (its spec), else z."""
    return "y" if Path(path).suffix.lower() in (".glb", ".gltf") else "z"


def orientation_matrix(up_axis: str, rotation_deg=None) -> np.ndarray | None:
    """The rotation baked into a converted mesh: `up_axis` to +Z, then `rotation_deg` (XYZ extrinsic,
    degrees). None when it is the identity, so a Z-up mesh is converted exactly as before."""
    from scipy.spatial.transform import Rotation

    R = np.array(_UP_ROTATIONS[up_axis], dtype=np.float64)
    if rotation_deg is not None and any(float(a) for a in rotation_deg):
        extra = Rotation.from_euler("xyz", [float(a) for a in rotation_deg], degrees=True).as_matrix()
        extra = np.round(extra, 12) + 0.0  # 90° steps exact (cos 90° is 6e-17 in floating point), no -0
        R = extra @ R
    return None if np.array_equal(R, np.eye(3)) else R


def load_meshes(path: Path) -> list[trimesh.Trimesh]:
    """Every triangle geometry of a mesh file, transformed into the file's frame."""
    if not path.is_file():
        raise BadInput("mesh file not found", path, "mesh")
    if path.suffix.lower() not in MESH_SUFFIXES:
        raise BadInput(f"unsupported mesh format {path.suffix!r}; expected one of {', '.join(MESH_SUFFIXES)} or a .urdf", path, "mesh")
    check_dependencies(path)
    check_file_size(path)
    try:
        scene = trimesh.load_scene(str(path), process=False)  # merging vertices would blend their colours
        meshes = [g for g in scene.dump() if isinstance(g, trimesh.Trimesh)]
    except Exception as err:  # trimesh raises many kinds on corrupt files
        raise BadInput(f"cannot read the mesh ({type(err).__name__}: {err})", path, "mesh") from None
    meshes = [m for m in meshes if len(m.faces) > 0]
    if not meshes:
        raise BadInput("the mesh holds no triangles (empty, or only points or lines)", path, "mesh")
    check_faces(sum(len(m.faces) for m in meshes), path)
    for m in meshes:
        if not np.isfinite(m.vertices).all():
            raise BadInput("the mesh has non-finite (NaN or infinite) vertex coordinates", path, "mesh")
    if sum(float(m.area) for m in meshes) <= 0:
        raise BadInput("degenerate geometry: every triangle has zero area", path, "mesh")
    return meshes


def watertight(mesh: trimesh.Trimesh) -> bool:
    """Closed, judged on a vertex-merged copy (formats like STL store every corner separately)."""
    return bool(trimesh.Trimesh(mesh.vertices, mesh.faces, process=True).is_watertight)


def _pow2(n: int, lo: int = 4, hi: int = MAX_TEXTURE) -> int:
    return int(min(max(2 ** math.ceil(math.log2(max(n, 1))), lo), hi))


def _texture_image(mesh: trimesh.Trimesh) -> Image.Image | None:
    vis = mesh.visual
    if vis.kind != "texture" or getattr(vis, "uv", None) is None or len(vis.uv) != len(mesh.vertices):
        return None
    mat = vis.material
    img = getattr(mat, "image", None)
    if img is None and hasattr(mat, "baseColorTexture"):
        img = mat.baseColorTexture
    return img


def colour_kind(mesh: trimesh.Trimesh) -> str:
    vis = mesh.visual
    if _texture_image(mesh) is not None:
        return "texture"
    if vis.kind == "vertex":
        return "vertex colour"
    if vis.kind == "face":
        return "face colour"
    if vis.kind == "texture":  # a material without an image: its colour
        return "material colour"
    return "none"


def _face_colours(mesh: trimesh.Trimesh) -> np.ndarray:
    vis = mesh.visual
    if vis.kind is None:
        return np.tile(np.array(DEFAULT_GREY, np.uint8), (len(mesh.faces), 1))
    if vis.kind == "texture":
        vis = vis.to_color()
    if vis.kind == "vertex":  # mean of the three corners: exact for flat, close for smooth colouring
        vc = np.asarray(vis.vertex_colors, dtype=np.float64)[:, :3]
        return np.clip(np.rint(vc[mesh.faces].mean(axis=1)), 0, 255).astype(np.uint8)
    return np.asarray(vis.face_colors, dtype=np.uint8)[:, :3]


def _material(img: Image.Image, name: str):
    """White diffuse so the texture shows as it is (PyBullet multiplies by Kd)."""
    white = [255, 255, 255, 255]
    return trimesh.visual.material.SimpleMaterial(image=img, name=name, diffuse=white, ambient=white, specular=[40, 40, 40, 255])


def bake_visual(mesh: trimesh.Trimesh, tex_name: str) -> trimesh.Trimesh:
    """The mesh with a power-of-two RGB texture PyBullet renders in the mesh's own colours.

    Colours are baked one texel per distinct face colour, every corner of a face mapped to its
    texel's centre: constant UVs per face mean no bleeding between texels at any mip level.
    """
    img = _texture_image(mesh)
    if img is not None:
        img = img.convert("RGB")
        size = (_pow2(img.width), _pow2(img.height))
        if size != img.size:
            img = img.resize(size, Image.Resampling.BILINEAR)
        material = _material(img, tex_name)
        visual = trimesh.visual.TextureVisuals(uv=np.asarray(mesh.visual.uv, dtype=np.float64), material=material)
        out = trimesh.Trimesh(mesh.vertices, mesh.faces, visual=visual, process=False)
        out.vertex_normals  # noqa: B018  (computed now so the OBJ carries smooth normals)
        return out
    colours = _face_colours(mesh)
    palette, which = np.unique(colours, axis=0, return_inverse=True)
    which = which.reshape(-1)
    side = _pow2(math.ceil(math.sqrt(len(palette))))
    atlas = np.zeros((side * side, 3), np.uint8)
    atlas[: len(palette)] = palette
    img = Image.fromarray(atlas.reshape(side, side, 3), "RGB")
    col, row = which % side, which // side
    face_uv = np.stack([(col + 0.5) / side, 1.0 - (row + 0.5) / side], axis=1)  # OBJ v runs bottom-up
    faces = mesh.faces
    normals = np.asarray(mesh.vertex_normals)[faces].reshape(-1, 3)
    verts = np.asarray(mesh.vertices)[faces].reshape(-1, 3)
    uv = np.repeat(face_uv, 3, axis=0)
    material = _material(img, tex_name)
    visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
    return trimesh.Trimesh(verts, np.arange(len(verts)).reshape(-1, 3), vertex_normals=normals, visual=visual, process=False)


def write_obj(mesh: trimesh.Trimesh, folder: Path, stem: str) -> list[str]:
    """OBJ + MTL + PNG named after `stem`; returns the file names written."""
    text, files = trimesh.exchange.obj.export_obj(
        mesh, include_normals=True, include_texture=True, return_texture=True, mtl_name=f"{stem}.mtl"
    )
    (folder / f"{stem}.obj").write_text(text)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return [f"{stem}.obj", *files]


def _fmt(v) -> str:
    return " ".join(f"{float(x):.9g}" for x in v)


def flat_slab(merged: trimesh.Trimesh) -> tuple[trimesh.Trimesh, float] | None:
    """For a flat mesh (a label, a sticker): its convex hull thickened to a slab, and the thickness.

    V-HACD never returns on a zero-volume mesh, and qhull refuses one; None when not flat.
    """
    size = float(merged.extents.max())
    try:
        with np.errstate(invalid="ignore", divide="ignore"):  # trimesh divides by a zero volume
            hull = merged.convex_hull
            thickness = 2 * float(hull.volume) / max(float(hull.area), 1e-30)  # a slab: V = A/2 * t
    except Exception:  # qhull refuses coplanar points
        thickness = 0.0
    if thickness > FLAT_RATIO * size:
        return None
    pts = np.asarray(merged.vertices, dtype=np.float64)
    normal = np.linalg.svd(pts - pts.mean(axis=0), full_matrices=False)[2][-1]  # the direction of least spread
    t = max(0.01 * size, 1e-4)  # 1 % of its size, at least 0.1 mm
    slab = trimesh.convex.convex_hull(np.concatenate([pts + normal * t / 2, pts - normal * t / 2]))
    return slab, t


def vhacd_command(src: Path, out: Path, log: Path, resolution: int) -> list[str]:
    """V-HACD in a child Python: the C call ignores Ctrl-C and can loop forever, a child can be killed."""
    code = "import sys, pybullet as p; p.vhacd(sys.argv[1], sys.argv[2], sys.argv[3], resolution=int(sys.argv[4]))"
    return [sys.executable, "-c", code, str(src), str(out), str(log), str(resolution)]


def run_vhacd(src: Path, out: Path, log: Path, resolution: int) -> str | None:
    """Run V-HACD with the time budget; None when done, else why not (the caller falls back)."""
    timeout = _budget("SYNTHSCENE_VHACD_TIMEOUT", VHACD_TIMEOUT_S)
    try:  # subprocess.run kills the child on a timeout and on Ctrl-C (KeyboardInterrupt)
        subprocess.run(vhacd_command(src, out, log, resolution), stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return f"V-HACD did not finish within {timeout:g} s ($SYNTHSCENE_VHACD_TIMEOUT)"
    if not out.is_file() or out.stat().st_size == 0:
        return ""  # vhacd gives up on some thin shapes: the hull, without fuss
    return None


def collision_geometry(kind: str, merged: trimesh.Trimesh, folder: Path, stem: str, vhacd_resolution: int,
                       notes: list[str] | None = None, who: Path | str = "") -> tuple[ET.Element, ET.Element]:
    """The URDF <geometry> (and <origin>) of the collision shape, writing any mesh it needs.

    A flat mesh gets a thin convex slab instead of a V-HACD or hull one; V-HACD that runs out of
    time gets the convex hull. Either is said in `notes`.
    """
    notes = [] if notes is None else notes
    lo, hi = merged.bounds
    centre, ext = (lo + hi) / 2, hi - lo
    geom = ET.Element("geometry")
    if kind == "box":
        ET.SubElement(geom, "box", size=_fmt(np.maximum(ext, 1e-4)))
    elif kind == "sphere":
        ET.SubElement(geom, "sphere", radius=f"{max(float(ext.max()) / 2, 1e-4):.9g}")
    elif kind == "cylinder":  # about z, the usual upright axis
        ET.SubElement(geom, "cylinder", radius=f"{max(float(ext[:2].max()) / 2, 1e-4):.9g}", length=f"{max(float(ext[2]), 1e-4):.9g}")
    else:
        name = f"{stem}_collision.obj"
        flat = flat_slab(merged)
        if flat is not None:
            flat[0].export(folder / name)
            notes.append(f"{who}: flat geometry (no thickness): its collision shape is a {flat[1] * 1000:.3g} mm "
                         f"thick slab instead of {'a V-HACD decomposition' if kind == 'vhacd' else 'its convex hull'}")
        elif kind == "convex":
            merged.convex_hull.export(folder / name)
        else:
            src = folder / f"{stem}_vhacd_in.obj"
            trimesh.Trimesh(merged.vertices, merged.faces, process=False).export(src)
            failed = run_vhacd(src, folder / name, folder / "vhacd.log", vhacd_resolution)
            src.unlink()
            (folder / "vhacd.log").unlink(missing_ok=True)
            if failed is not None:
                (folder / name).unlink(missing_ok=True)
                merged.convex_hull.export(folder / name)
                if failed:
                    notes.append(f"{who}: {failed}; its convex hull is the collision shape instead "
                                 "(or give collision: convex)")
        ET.SubElement(geom, "mesh", filename=name, scale="1 1 1")
        centre = np.zeros(3)
    origin = ET.Element("origin", xyz=_fmt(centre), rpy="0 0 0")
    return origin, geom


def inertial(merged: trimesh.Trimesh, mass: float | None) -> ET.Element:
    """Mass (given, else convex-hull volume × a default density) and the hull's inertia about its centre."""
    try:
        with np.errstate(invalid="ignore", divide="ignore"):  # a flat hull: trimesh divides by its zero volume
            hull = merged.convex_hull
            volume = float(hull.volume)
    except Exception:  # flat or collinear: qhull refuses
        hull, volume = None, 0.0
    lo, hi = merged.bounds
    ext = np.maximum(hi - lo, 1e-4)
    if mass is None:
        mass = float(np.clip((volume if volume > 0 else float(np.prod(ext))) * DEFAULT_DENSITY, 0.005, 50.0))
    if hull is not None and volume > 1e-12:
        hull.density = mass / volume
        com, inertia = hull.center_mass, hull.moment_inertia
    else:
        com = (lo + hi) / 2
        x, y, z = ext
        inertia = np.diag([mass * (y * y + z * z), mass * (x * x + z * z), mass * (x * x + y * y)]) / 12
    el = ET.Element("inertial")
    ET.SubElement(el, "origin", xyz=_fmt(com), rpy="0 0 0")
    ET.SubElement(el, "mass", value=f"{mass:.9g}")
    i = inertia
    ET.SubElement(el, "inertia", ixx=f"{i[0, 0]:.9g}", ixy=f"{i[0, 1]:.9g}", ixz=f"{i[0, 2]:.9g}",
                  iyy=f"{i[1, 1]:.9g}", iyz=f"{i[1, 2]:.9g}", izz=f"{i[2, 2]:.9g}")
    return el


def convert_mesh(
    source: Path,
    folder: Path,
    *,
    name: str,
    key: str,
    unit_scale: float,
    recentre: bool,
    collision: str,
    mass: float | None,
    rotation: np.ndarray | None = None,
    vhacd_resolution: int = 50_000,
) -> MeshReport:
    """Write `folder/model.urdf` and its files for `source`; returns what was found on the way.

    `rotation` (3×3, see orientation_matrix) is baked into the vertices, so rendering, silhouettes,
    collision shape and inertia all see the object the right way up."""
    meshes = load_meshes(source)
    for m in meshes:
        m.apply_scale(unit_scale)
        if rotation is not None:
            T = np.eye(4)
            T[:3, :3] = rotation
            m.apply_transform(T)
    merged = trimesh.util.concatenate([trimesh.Trimesh(m.vertices, m.faces, process=False) for m in meshes])
    if recentre:
        shift = -(merged.bounds[0] + merged.bounds[1]) / 2
        for m in (*meshes, merged):
            m.apply_translation(shift)
    stem = f"{re.sub(r'[^A-Za-z0-9_-]', '_', name)}_{key[:12]}"
    robot = ET.Element("robot", name=stem)
    link = ET.SubElement(robot, "link", name="base")
    link.append(inertial(merged, mass))
    kinds = []
    for k, m in enumerate(meshes):
        kinds.append(colour_kind(m))
        files = write_obj(bake_visual(m, f"{stem}_tex{k}"), folder, f"{stem}_visual{k}")
        vis = ET.SubElement(link, "visual")
        ET.SubElement(vis, "origin", xyz="0 0 0", rpy="0 0 0")
        g = ET.SubElement(vis, "geometry")
        ET.SubElement(g, "mesh", filename=files[0], scale="1 1 1")
        # Without a material PyBullet tints each visual with a colour of its own choosing.
        ET.SubElement(ET.SubElement(vis, "material", name=f"white{k}"), "color", rgba="1 1 1 1")
    col = ET.SubElement(link, "collision")
    notes: list[str] = []
    origin, geom = collision_geometry(collision, merged, folder, stem, vhacd_resolution, notes, source)
    col.append(origin)
    col.append(geom)
    ET.indent(robot)
    (folder / "model.urdf").write_text(ET.tostring(robot, encoding="unicode") + "\n")
    kind = sorted(set(kinds), key=kinds.index)
    return MeshReport(
        extents=[float(x) for x in merged.extents],
        triangles=int(sum(len(m.faces) for m in meshes)),
        watertight=all(watertight(m) for m in meshes),
        colour=" + ".join(kind),
        notes=notes,
    )


def urdf_meshes(urdf: Path, visual_only: bool = False) -> list[Path]:
    """Mesh files a URDF refers to, resolved by the one parser the confinement check uses."""
    return list(dict.fromkeys(target for _, target in urdf_check.mesh_refs(urdf, visual_only=visual_only)))
