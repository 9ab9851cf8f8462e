"""The unoccluded silhouette of an object: its visual mesh projected and rasterised, no render needed.

The silhouette of a mesh is the union of its projected triangles, so no z-buffer is needed, and
each object costs one pass over its own triangles restricted to its projected box. Pixel (u, v) is
covered when its centre (integer u, v in OpenCV's convention, as in geometry/camera.py) lies in a
projected triangle: the rule OpenGL rasterises with, so the mask matches a render of the object
alone. Triangles reaching behind the near plane are clipped against it, as OpenGL does.
"""
from __future__ import annotations

import hashlib
import io
import math
import os
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
from numba import njit
from scipy.spatial.transform import Rotation

from ..core.cache import cache_root
from ..core.errors import BadInput
from ..core.files import atomic_write
from ..core.quiet import pybullet as p


@dataclass(frozen=True)
class SilhouetteMesh:
    """Every visual shape of a body merged into one triangle soup, in the body's base frame.

    The base frame is the frame of the sample's object pose (PyBullet's base inertial frame).
    `model_in_body` (4×4) places the first visual mesh's own frame, the BOP model frame.
    """

    vertices: np.ndarray  # (N, 3) float64, each distinct vertex once (see welded)
    faces: np.ndarray  # (F, 3) int32
    model_in_body: np.ndarray


def rigid_inverse(T: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = T[:3, :3].T
    out[:3, 3] = -T[:3, :3].T @ T[:3, 3]
    return out


def pose_matrix(position, quaternion) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = Rotation.from_quat(quaternion).as_matrix()
    T[:3, 3] = position
    return T


_KINDS = (p.GEOM_MESH, p.GEOM_BOX, p.GEOM_SPHERE, p.GEOM_CYLINDER, p.GEOM_CAPSULE)


def _primitive(kind: int, dims):
    """A trimesh mesh of a URDF primitive (imported here: a worker whose assets are meshes needs no trimesh)."""
    import trimesh

    if kind == p.GEOM_BOX:
        return trimesh.creation.box(extents=dims[:3])
    if kind == p.GEOM_SPHERE:
        return trimesh.creation.icosphere(subdivisions=3, radius=dims[0])
    if kind == p.GEOM_CYLINDER:
        return trimesh.creation.cylinder(radius=dims[1], height=dims[0], sections=32)
    if kind == p.GEOM_CAPSULE:
        return trimesh.creation.capsule(radius=dims[1], height=dims[0], count=[32, 16])
    return None


def _mesh_file(path: str, files: dict) -> tuple[np.ndarray, np.ndarray]:
    """(vertices, faces) of a mesh file, read once per `files` cache whatever number of assets use it."""
    if path not in files:
        files[path] = _read_mesh(path)
    return files[path]


SILHOUETTE_CACHE = "silhouettes"  # beside the converted assets (core.cache.cache_root)


def _cache_file(path: str) -> Path | None:
    """Where a mesh file's arrays are kept: named by its path, size, modification time and the
    trimesh that read it. None for a file that cannot be read (trimesh then says why)."""
    try:
        st = os.stat(path)
        version = metadata.version("trimesh")
    except (OSError, metadata.PackageNotFoundError):
        return None
    key = hashlib.sha256(f"1\0{path}\0{st.st_size}\0{st.st_mtime_ns}\0{version}".encode()).hexdigest()[:24]
    return cache_root() / SILHOUETTE_CACHE / f"{key}.npz"


def _read_mesh(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(vertices, faces) as trimesh reads the file, kept in the asset cache: later workers read two
    arrays instead of the mesh's text, and import no trimesh (worker memory). Only the
    arrays are kept: trimesh's mesh (visuals, caches, reference cycles) is not."""
    cached = _cache_file(path)
    if cached is not None and cached.is_file():
        try:
            with np.load(cached) as z:
                return z["vertices"], z["faces"]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            pass  # damaged: read the mesh again, and replace it
    import trimesh

    try:
        mesh = trimesh.load(path, force="mesh", process=False, skip_materials=True)
    except Exception as err:  # trimesh raises many kinds for unreadable files
        raise BadInput(f"cannot read the visual mesh for silhouettes ({err})", path) from None
    vertices, faces = np.asarray(mesh.vertices, dtype=float), np.asarray(mesh.faces, dtype=np.int64)
    if cached is not None:
        buf = io.BytesIO()
        np.savez(buf, vertices=vertices, faces=faces)
        try:
            atomic_write(cached, buf.getvalue())
        except OSError:  # a read-only cache: read the mesh each time
            pass
    return vertices, faces


def welded(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same triangles over each distinct vertex once (bit-identical coordinates only), in
    order of first use. A textured mesh repeats a vertex for each face around it (the LM-O meshes:
    ~6 times): a silhouette only needs its position, and projecting it once gives the same pixels."""
    if not len(vertices):
        return vertices, faces
    keys = np.ascontiguousarray(vertices).view(np.dtype((np.void, vertices.dtype.itemsize * 3))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return vertices[first[order]], rank[inverse.ravel()][faces].astype(np.int32)


def _floats(text: str | None, default: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(float(x) for x in text.split()) if text else default


def _urdf_quaternion(roll: float, pitch: float, yaw: float) -> tuple[float, ...]:
    """rpy → quaternion as PyBullet reports a visual frame, to the last bit: Bullet's URDF reader
    (UrdfParser::parseTransform) builds a normalised quaternion, stores it as a rotation matrix
    (btMatrix3x3::setRotation) and reads it back (getRotation)."""
    phi, the, psi = roll / 2.0, pitch / 2.0, yaw / 2.0
    sp, cp, st, ct, ss, cs = math.sin(phi), math.cos(phi), math.sin(the), math.cos(the), math.sin(psi), math.cos(psi)
    x, y, z, w = (sp * ct * cs - cp * st * ss, cp * st * cs + sp * ct * ss, cp * ct * ss - sp * st * cs, cp * ct * cs + sp * st * ss)
    inv = 1.0 / math.sqrt(x * x + y * y + z * z + w * w)
    x, y, z, w = x * inv, y * inv, z * inv, w * inv
    s = 2.0 / (x * x + y * y + z * z + w * w)
    xs, ys, zs = x * s, y * s, z * s
    wx, wy, wz, xx, xy, xz, yy, yz, zz = w * xs, w * ys, w * zs, x * xs, x * ys, x * zs, y * ys, y * zs, z * zs
    m = ((1.0 - (yy + zz), xy - wz, xz + wy), (xy + wz, 1.0 - (xx + zz), yz - wx), (xz - wy, yz + wx, 1.0 - (xx + yy)))
    q = [0.0, 0.0, 0.0, 0.0]
    trace = m[0][0] + m[1][1] + m[2][2]
    if trace > 0.0:
        r = math.sqrt(trace + 1.0)
        q[3] = r * 0.5
        r = 0.5 / r
        q[0], q[1], q[2] = (m[2][1] - m[1][2]) * r, (m[0][2] - m[2][0]) * r, (m[1][0] - m[0][1]) * r
    else:
        i = (2 if m[1][1] < m[2][2] else 1) if m[0][0] < m[1][1] else (2 if m[0][0] < m[2][2] else 0)
        j, k = (i + 1) % 3, (i + 2) % 3
        r = math.sqrt(m[i][i] - m[j][j] - m[k][k] + 1.0)
        q[i] = r * 0.5
        r = 0.5 / r
        q[3], q[j], q[k] = (m[k][j] - m[j][k]) * r, (m[j][i] + m[i][j]) * r, (m[k][i] + m[i][k]) * r
    return tuple(q)


def _mesh_path(name: str, urdf: Path) -> str:
    """Where PyBullet finds a URDF's mesh: beside the URDF, else in its bundled data (the search path)."""
    for prefix in ("package://", "file://"):
        if name.startswith(prefix):
            name = name[len(prefix):]
    path = urdf.parent / name
    if not path.is_file():
        import pybullet_data

        bundled = Path(pybullet_data.getDataPath()) / name
        path = bundled if bundled.is_file() else path
    return str(path.resolve())


def urdf_visuals(urdf: str | Path, scale: float = 1.0) -> dict[str, list[tuple]]:
    """A URDF's visuals per link name, as loadURDF(globalScaling=scale) sees them:
    (kind, dims, mesh path or None, origin xyz, origin quaternion), dims as getVisualShapeData gives them.

    Read from the file, not from `p.getVisualShapeData`: under the EGL plugin that call returns
    garbage (type 0, dimensions ~1e-310) for a second body loaded from the same URDF and scale.
    """
    urdf = Path(urdf)
    try:
        root = ET.parse(urdf).getroot()
    except (ET.ParseError, OSError) as err:
        raise BadInput(f"not a readable URDF ({err})", urdf, "urdf") from None
    out: dict[str, list[tuple]] = {}
    for link in root.iter("link"):
        shapes = out.setdefault(link.get("name", ""), [])
        # A link without visuals is drawn with its collision shapes, as PyBullet does.
        for visual in link.findall("visual") or link.findall("collision"):
            geometry = visual.find("geometry")
            shape = next(iter(geometry), None) if geometry is not None else None
            if shape is None:
                continue
            origin = visual.find("origin")
            xyz = _floats(origin.get("xyz") if origin is not None else None, (0.0, 0.0, 0.0))
            rpy = _floats(origin.get("rpy") if origin is not None else None, (0.0, 0.0, 0.0))
            pos = tuple(x * scale for x in xyz)
            quat = _urdf_quaternion(*rpy)
            path = None
            if shape.tag == "mesh":
                kind = p.GEOM_MESH
                dims = tuple(x * scale for x in _floats(shape.get("scale"), (1.0, 1.0, 1.0)))
                path = _mesh_path(shape.get("filename", ""), urdf)
            elif shape.tag == "box":
                kind, dims = p.GEOM_BOX, tuple(x * scale for x in _floats(shape.get("size"), (1.0, 1.0, 1.0)))
            elif shape.tag == "sphere":
                kind, dims = p.GEOM_SPHERE, (float(shape.get("radius", 1.0)) * scale,)
            elif shape.tag in ("cylinder", "capsule"):
                kind = p.GEOM_CYLINDER if shape.tag == "cylinder" else p.GEOM_CAPSULE
                dims = (float(shape.get("length", 1.0)) * scale, float(shape.get("radius", 1.0)) * scale)
            else:  # planes and heightfields have no silhouette of their own
                continue
            shapes.append((kind, dims, path, pos, quat))
    return out


def _reported_visuals(client: int, uid: int, links: dict[str, int], urdf) -> dict[str, list[tuple]]:
    """urdf_visuals' answer from p.getVisualShapeData, refused unless it looks sound."""
    names = {i: n for n, i in links.items()}
    out: dict[str, list[tuple]] = {}
    for shape in p.getVisualShapeData(uid, physicsClientId=client):
        link, kind, dims, filename, pos, orn = shape[1:7]
        if kind not in _KINDS or not all(math.isfinite(d) and d >= 0 for d in dims):
            raise BadInput("PyBullet reports unusable visual shape data for it; check its XML", urdf, "urdf")
        out.setdefault(names[link], []).append((kind, tuple(dims), filename.decode() or None, pos, orn))
    return out


def silhouette_mesh(client: int, uid: int, urdf: str | Path, scale: float = 1.0, files: dict | None = None) -> SilhouetteMesh:
    """The visual geometry of body `uid`, loaded from `urdf` with globalScaling=`scale`, in its base frame.

    Shapes come from the URDF and its mesh files (see urdf_visuals); only link frames come from
    PyBullet. Links other than the base are placed where they are at load time: assets are rigid here.
    `files` caches the mesh files read, across the calls that share it.
    """
    files = {} if files is None else files
    base_pos, base_orn = p.getBasePositionAndOrientation(uid, physicsClientId=client)
    world_to_body = np.linalg.inv(pose_matrix(base_pos, base_orn))
    links = {p.getBodyInfo(uid, physicsClientId=client)[0].decode(): -1}
    for j in range(p.getNumJoints(uid, physicsClientId=client)):
        links[p.getJointInfo(uid, j, physicsClientId=client)[12].decode()] = j
    try:
        visuals = urdf_visuals(urdf, scale)
    except BadInput:  # XML only PyBullet's lenient reader takes (a few bundled files): its report it is
        visuals = _reported_visuals(client, uid, links, urdf)
    verts, faces, model = [], [], None
    count = 0
    for name, link in sorted(links.items(), key=lambda kv: kv[1]):
        for kind, dims, filename, local_pos, local_orn in visuals.get(name, []):
            if kind == p.GEOM_MESH:
                v, f = _mesh_file(filename, files)
                v = v * np.asarray(dims[:3])
            else:
                mesh = _primitive(kind, dims)
                v, f = np.asarray(mesh.vertices, dtype=float), np.asarray(mesh.faces, dtype=np.int64)
            if link == -1:  # visual frames are relative to the URDF link frame, not the inertial one
                link_T = np.linalg.inv(pose_matrix(*p.getDynamicsInfo(uid, -1, physicsClientId=client)[3:5]))
            else:
                state = p.getLinkState(uid, link, physicsClientId=client)
                link_T = world_to_body @ pose_matrix(state[4], state[5])
            T = link_T @ pose_matrix(local_pos, local_orn)
            if model is None:
                model = T
            verts.append(v @ T[:3, :3].T + T[:3, 3])
            faces.append(f + count)
            count += len(v)
    if not verts:
        return SilhouetteMesh(np.zeros((0, 3)), np.zeros((0, 3), np.int32), np.eye(4))
    return SilhouetteMesh(*welded(np.concatenate(verts), np.concatenate(faces)), model)


# ---- rasterisation (numba: one pass over the triangles, exact pixel-centre coverage) ----------


@njit(cache=True)
def _clip_near(pc, faces, near):
    """The mesh cut at z = near, as OpenGL clips it: kept faces, plus up to two per crossing face."""
    nf = faces.shape[0]
    verts = np.empty((pc.shape[0] + 2 * nf, 3))
    verts[: pc.shape[0]] = pc
    out = np.empty((2 * nf, 3), np.int32)
    nv, no = pc.shape[0], 0
    poly = np.empty(4, np.int64)
    for f in range(nf):
        n = 0
        for k in range(3):
            a, b = faces[f, k], faces[f, (k + 1) % 3]
            za, zb = pc[a, 2], pc[b, 2]
            if za > near:
                poly[n] = a
                n += 1
            if (za > near) != (zb > near):
                t = (near - za) / (zb - za)
                verts[nv] = pc[a] + t * (pc[b] - pc[a])
                verts[nv, 2] = near
                poly[n] = nv
                nv += 1
                n += 1
        for k in range(1, n - 1):
            out[no, 0], out[no, 1], out[no, 2] = poly[0], poly[k], poly[k + 1]
            no += 1
    return verts[:nv], out[:no]


@njit(cache=True, fastmath=True)
def _project(verts, T, fx, fy, cx, cy):
    """Camera-frame points, their pixel coordinates, their bounds (u0, v0, u1, v1) and nearest depth."""
    n = verts.shape[0]
    pc = np.empty((n, 3))
    uv = np.empty((n, 2))
    u0 = v0 = zmin = np.inf
    u1 = v1 = -np.inf
    for i in range(n):
        for r in range(3):
            pc[i, r] = T[r, 0] * verts[i, 0] + T[r, 1] * verts[i, 1] + T[r, 2] * verts[i, 2] + T[r, 3]
        z = pc[i, 2]
        zmin = min(zmin, z)
        u = fx * pc[i, 0] / z + cx
        v = fy * pc[i, 1] / z + cy
        uv[i, 0], uv[i, 1] = u, v
        u0, u1, v0, v1 = min(u0, u), max(u1, u), min(v0, v), max(v1, v)
    return pc, uv, (u0, v0, u1, v1), zmin


@njit(cache=True)
def _raster(uv, faces, ox, oy, step, mask):
    """Set mask pixel (i, j) when image point (ox + step·i, oy + step·j) lies in a projected triangle."""
    h, w = mask.shape
    inv = 1.0 / step
    for f in range(faces.shape[0]):
        a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
        ax, ay = (uv[a, 0] - ox) * inv, (uv[a, 1] - oy) * inv
        bx, by = (uv[b, 0] - ox) * inv, (uv[b, 1] - oy) * inv
        cx, cy = (uv[c, 0] - ox) * inv, (uv[c, 1] - oy) * inv
        i0 = max(0, int(np.ceil(min(ax, min(bx, cx)))))
        i1 = min(w - 1, int(np.floor(max(ax, max(bx, cx)))))
        if i1 < i0:
            continue
        j0 = max(0, int(np.ceil(min(ay, min(by, cy)))))
        j1 = min(h - 1, int(np.floor(max(ay, max(by, cy)))))
        if j1 < j0:
            continue
        area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
        if area == 0.0:
            continue
        sg = 1.0 if area > 0 else -1.0
        # Edge p→q keeps points with sg·((qx−px)(y−py) − (qy−py)(x−px)) ≥ 0: per row, a bound on x.
        # Each row's covered pixels are then one span, filled without testing pixel by pixel.
        for j in range(j0, j1 + 1):
            lo, hi = float(i0), float(i1)
            for px, py, qx, qy in ((ax, ay, bx, by), (bx, by, cx, cy), (cx, cy, ax, ay)):
                k = -sg * (qy - py)  # coefficient of x
                r = sg * (qx - px) * (j - py) + sg * (qy - py) * px  # the rest: k·x + r ≥ 0
                if k > 0:
                    lo = max(lo, np.ceil(-r / k))
                elif k < 0:
                    hi = min(hi, np.floor(-r / k))
                elif r < 0:
                    hi = lo - 1.0
            for i in range(int(lo), int(hi) + 1):
                mask[j, i] = 1


@dataclass
class Silhouette:
    """An object's unoccluded mask within the image, as a crop at (x0, y0), and how the border cuts it."""

    mask: np.ndarray  # (h, w) uint8 crop, 1 = covered
    x0: int
    y0: int
    pixels: int  # covered pixels inside the image
    truncated: bool  # the image border or the camera's near plane cuts the object
    truncation: float  # fraction of the full silhouette outside the image, 0..1

    @property
    def box(self) -> list[int] | None:
        """The covered pixels' box [x0, y0, x1, y1], edges (x1, y1 exclusive), as the visible boxes."""
        if self.pixels == 0:
            return None
        rows, cols = np.flatnonzero(self.mask.any(axis=1)), np.flatnonzero(self.mask.any(axis=0))
        return [self.x0 + int(cols[0]), self.y0 + int(rows[0]), self.x0 + int(cols[-1]) + 1, self.y0 + int(rows[-1]) + 1]


_FULL_SAMPLES = 160 * 120  # grid budget for measuring the part of a truncated silhouette outside the image


def rasterise(mesh: SilhouetteMesh, body_T: np.ndarray, cam_T: np.ndarray, K, width: int, height: int, near: float) -> Silhouette:
    """The unoccluded silhouette of `mesh` posed at body_T, seen by a camera at cam_T with intrinsics K."""
    fx, fy, cx, cy = float(K[0][0]), float(K[1][1]), float(K[0][2]), float(K[1][2])
    empty = Silhouette(np.zeros((0, 0), np.uint8), 0, 0, 0, False, 0.0)
    if len(mesh.faces) == 0:
        return empty
    T = rigid_inverse(cam_T) @ body_T  # body → camera
    faces = mesh.faces
    pc, uv, (u0, v0, u1, v1), zmin = _project(mesh.vertices, T, fx, fy, cx, cy)
    cut = bool(zmin <= near)
    if cut:
        pc, faces = _clip_near(pc, faces, near)
        if len(faces) == 0:  # wholly behind the camera
            return Silhouette(empty.mask, 0, 0, 0, True, 1.0)
        uv = pc[:, :2] / pc[:, 2:3] * (fx, fy) + (cx, cy)
        used = uv[faces].reshape(-1, 2)
        (u0, v0), (u1, v1) = used.min(axis=0), used.max(axis=0)
    # Pixel centres the silhouette can cover, clipped to the image.
    x0, y0 = max(0, math.ceil(u0)), max(0, math.ceil(v0))
    x1, y1 = min(width - 1, math.floor(u1)), min(height - 1, math.floor(v1))
    outside = cut or u0 < -0.5 or v0 < -0.5 or u1 > width - 0.5 or v1 > height - 0.5
    if x1 < x0 or y1 < y0:
        return Silhouette(empty.mask, 0, 0, 0, outside, 1.0 if outside else 0.0)
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    _raster(uv, faces, float(x0), float(y0), 1.0, mask)
    pixels = int(np.count_nonzero(mask))
    truncation = 0.0
    if outside and pixels:
        truncation = _truncation(uv, faces, (u0, v0, u1, v1), width, height, pixels)
    return Silhouette(mask, x0, y0, pixels, bool(outside), truncation)


def _truncation(uv, faces, extent, width, height, inside_px) -> float:
    """1 − inside ÷ whole, the whole silhouette sampled on a grid coarse enough to stay cheap.

    Objects reaching behind the camera project without bound: their grid stops a few image sizes
    out, where a user would call the object cut anyway.
    """
    u0, v0 = max(extent[0], -2.0 * width), max(extent[1], -2.0 * height)
    u1, v1 = min(extent[2], 3.0 * width), min(extent[3], 3.0 * height)
    area = max(u1 - u0, 1.0) * max(v1 - v0, 1.0)
    step = max(1, math.ceil(math.sqrt(area / _FULL_SAMPLES)))
    ox, oy = math.ceil(u0), math.ceil(v0)  # on the pixel grid, so step 1 counts exactly
    grid = np.zeros((int((v1 - oy) // step) + 1, int((u1 - ox) // step) + 1), np.uint8)
    _raster(uv, faces, float(ox), float(oy), float(step), grid)
    whole = float(np.count_nonzero(grid)) * step * step
    return float(min(1.0, max(0.0, 1.0 - inside_px / whole))) if whole > 0 else 0.0
