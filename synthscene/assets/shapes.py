"""Everyday shapes for the distractor source `synthscene:shapes`: cartons, books, cans, cups, mugs,
bottles and bowls, built procedurally at realistic sizes (PyBullet's random_urdfs are blocky
primitives; real desks hold real objects).

Each pool member is a function of (config seed, member index) alone: its kind, size, proportions
and colour come from `config_stream(seed, "occlusion.shapes.<j>")`, so every worker builds the same
pool. The meshes are written once as OBJ (with UVs and normals) + URDF into the asset cache, in a
folder named by a hash of the parameters. Each stands in its natural rest pose with model z up
(a book lies flat) and has its bounding-box centre at the origin. Round shapes are lathed from a
profile (body, shoulder, neck; open tops with a wall), so they have UVs (u around, v along the
profile) as boxes do (per face); the texture randomizer maps its own texels tri-planarly in the
body's frame, and the UVs serve any textured material.
"""
from __future__ import annotations

import colorsys
import json
import math
from typing import Literal

import numpy as np
from pydantic import Field, create_model, field_validator, model_validator

from ..core.rng import config_stream, uniform
from ..core.schema import Range, StrictModel

BUILDER_VERSION = 1  # part of every cache key: bump when the meshes a parameter set gives change
MIN_SIZE, MAX_SIZE = 0.005, 1.0  # metres: what a size range may say

ShapeKind = Literal["box", "book", "can", "cup", "mug", "bottle", "bowl"]
KINDS: tuple[str, ...] = ShapeKind.__args__

#: default size ranges per kind, metres, before `occlusion.scale`: what the named objects measure
SIZES: dict[str, dict[str, tuple[float, float]]] = {
    "box": {"length": (0.08, 0.25), "width": (0.05, 0.16), "height": (0.04, 0.20)},  # cartons, packs
    "book": {"length": (0.15, 0.25), "width": (0.11, 0.18), "height": (0.01, 0.045)},  # lying flat
    "can": {"diameter": (0.05, 0.085), "height": (0.07, 0.16)},
    "cup": {"diameter": (0.06, 0.09), "height": (0.07, 0.12)},  # at the rim; tapered, open top
    "mug": {"diameter": (0.07, 0.095), "height": (0.08, 0.11)},  # the body; the handle adds to x
    "bottle": {"diameter": (0.05, 0.09), "height": (0.15, 0.25)},
    "bowl": {"diameter": (0.10, 0.18), "height": (0.04, 0.08)},
}
#: kg/m³ of the convex hull: cartons are empty, books and full cans dense
DENSITY = {"box": 150.0, "book": 600.0, "can": 900.0, "cup": 250.0, "mug": 500.0, "bottle": 450.0, "bowl": 300.0}
#: proportions drawn per member besides the size (fractions)
FORMS = {
    "cup": {"taper": (0.72, 0.92)},  # bottom radius / rim radius
    "bottle": {"body": (0.5, 0.68), "shoulder": (0.12, 0.2), "neck": (0.28, 0.4)},  # heights / radius fractions
    "bowl": {"foot": (0.4, 0.55)},  # foot radius / rim radius
}


class _Size(StrictModel):
    @model_validator(mode="after")
    def _bounded(self):
        for name, (lo, hi) in self:
            if lo < MIN_SIZE or hi > MAX_SIZE:
                raise ValueError(f"{name}: expected sizes in metres within [{MIN_SIZE}, {MAX_SIZE}], got {[lo, hi]}")
        return self


SIZE_MODELS = {kind: create_model(f"{kind.capitalize()}Size", __base__=_Size,
                                  **{dim: (Range, bounds) for dim, bounds in dims.items()})
               for kind, dims in SIZES.items()}
ShapeSizes = create_model("ShapeSizes", __base__=StrictModel, **{k: (m, m()) for k, m in SIZE_MODELS.items()})
globals().update({m.__name__: m for m in SIZE_MODELS.values()})  # pickled by name into spawned workers


class ShapesConfig(StrictModel):
    """`randomizers.occlusion.shapes`: what the `synthscene:shapes` source builds."""

    kinds: dict[ShapeKind, float] = Field(default_factory=lambda: {k: 1.0 for k in KINDS})  # relative weights
    sizes: ShapeSizes = ShapeSizes()  # per kind, metres, before `scale`
    share: float = Field(0.5, ge=0, le=1)  # of pool_size, when folders are named too (alone: all of it)
    upright: float = Field(0.7, ge=0, le=1)  # per distractor: dropped standing (heading only), else any way up

    @field_validator("kinds")
    @classmethod
    def _weights(cls, v):
        if any(not math.isfinite(w) or w < 0 for w in v.values()) or not sum(v.values()) > 0:
            raise ValueError(f"expected {{kind: weight}} with weights >= 0, not all 0, got {v}")
        return v


def variant(cfg: ShapesConfig, seed: int, member: int) -> dict:
    """Pool member `member`'s parameters (kind, size, proportions, colour): a function of the config only."""
    rng = config_stream(seed, f"occlusion.shapes.{member}")
    kinds = sorted(cfg.kinds)
    w = np.array([cfg.kinds[k] for k in kinds], float)
    kind = kinds[int(rng.choice(len(kinds), p=w / w.sum()))]
    size = {dim: round(uniform(rng, bounds), 4) for dim, bounds in getattr(cfg.sizes, kind)}
    h, s, v = rng.uniform(0, 1), rng.uniform(0.15, 0.8), rng.uniform(0.35, 0.95)
    rgba = [round(float(c), 4) for c in colorsys.hsv_to_rgb(h, s, v)] + [1.0]
    form = {name: round(uniform(rng, bounds), 3) for name, bounds in FORMS.get(kind, {}).items()}
    return {"kind": kind, "size": size, "form": form, "rgba": rgba}



# --- geometry: (vertices, faces, uv) parts, joined and exported by trimesh -------------------------

def _lathe(polylines: list[list[tuple[float, float]]], sections: int = 32, span=(0.0, 2 * math.pi)):
    """A surface of revolution about z from (r, z) polylines traversed with the outside on the
    right (outward normals). Each polyline gets its own vertices, so their joints are creases;
    u runs around (the seam duplicated), v along the profile (arc length), both in metres."""
    theta = np.linspace(span[0], span[1], sections + 1)
    r_max = max(r for line in polylines for r, _ in line)
    verts, faces, uvs, s0, n = [], [], [], 0.0, 0
    for line in polylines:
        prof = np.asarray(line, float)
        s = s0 + np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(prof, axis=0), axis=1))])
        s0 = float(s[-1])
        r, z = prof[:, :1], prof[:, 1:]
        verts.append(np.stack([r * np.cos(theta), r * np.sin(theta), np.broadcast_to(z, r.shape[:1] + theta.shape)],
                              axis=-1).reshape(-1, 3))
        uvs.append(np.stack(np.broadcast_arrays((theta - span[0])[None, :] * r_max, s[:, None]), axis=-1).reshape(-1, 2))
        i, j = np.meshgrid(np.arange(len(prof) - 1), np.arange(sections), indexing="ij")
        a, b = i * (sections + 1) + j, i * (sections + 1) + j + 1
        c, d = b + sections + 1, a + sections + 1
        faces.append(n + np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)]))
        n += len(verts[-1])
    return np.concatenate(verts), np.concatenate(faces), np.concatenate(uvs)


def _box(length: float, width: float, height: float):
    """A box centred at the origin, 4 vertices per face (flat normals), UVs in metres per face."""
    half = np.array([length, width, height]) / 2
    verts, faces, uvs = [], [], []
    for axis in range(3):
        for sign in (1.0, -1.0):
            u_ax, v_ax = (axis + 1) % 3, (axis + 2) % 3  # u × v along +axis: counter-clockwise seen from outside
            if sign < 0:
                u_ax, v_ax = v_ax, u_ax
            corners = []
            for cu, cv in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
                p = np.zeros(3)
                p[axis], p[u_ax], p[v_ax] = sign * half[axis], cu * half[u_ax], cv * half[v_ax]
                corners.append(p)
            base = len(verts) * 4
            verts.append(corners)
            uvs.append([[(c[u_ax] + half[u_ax]), (c[v_ax] + half[v_ax])] for c in corners])
            faces += [[base, base + 1, base + 2], [base, base + 2, base + 3]]
    return np.asarray(verts).reshape(-1, 3), np.asarray(faces), np.asarray(uvs, float).reshape(-1, 2)


def _arc(r0: float, z0: float, r1: float, z1: float, n: int = 6, bulge: bool = True) -> list[tuple[float, float]]:
    """A quarter-ellipse from (r0, z0) to (r1, z1): bulging outwards (a shoulder) or, not, a bowl's curve."""
    t = np.linspace(0, math.pi / 2, n + 1)
    if bulge:  # leaves (r0, z0) going up, arrives at (r1, z1) going inwards
        return [(r1 + (r0 - r1) * math.cos(a), z0 + (z1 - z0) * math.sin(a)) for a in t]
    return [(r0 + (r1 - r0) * math.sin(a), z0 + (z1 - z0) * (1 - math.cos(a))) for a in t]


def _parts(v: dict) -> list[tuple]:
    """The (vertices, faces, uv) parts of a variant, in metres, z up, not yet centred."""
    kind, size, form = v["kind"], v["size"], v["form"]
    if kind in ("box", "book"):
        return [_box(size["length"], size["width"], size["height"])]
    R, H = size["diameter"] / 2, size["height"]
    wall = min(0.004, 0.08 * R)
    if kind == "can":
        lip = min(0.004, 0.05 * H)
        return [_lathe([[(0.0, 0.0), (0.92 * R, 0.0)], [(0.92 * R, 0.0), (R, lip)], [(R, lip), (R, H - lip)],
                        [(R, H - lip), (0.92 * R, H)], [(0.92 * R, H), (0.0, H)]])]
    if kind in ("cup", "mug"):
        rb = R * form.get("taper", 1.0)
        body = _lathe([[(0.0, 0.0), (rb, 0.0)], [(rb, 0.0), (R, H)], [(R, H), (R - wall, H)],
                       [(R - wall, H), (rb - wall, wall)], [(rb - wall, wall), (0.0, wall)]])
        if kind == "cup":
            return [body]
        tube, ring = min(0.006, 0.07 * H), 0.3 * H  # the handle: half a torus in the x-z plane
        circle = [(ring + tube * math.cos(a), tube * math.sin(a)) for a in np.linspace(0, 2 * math.pi, 13)]
        hv, hf, huv = _lathe([circle], sections=16, span=(-math.pi / 2, math.pi / 2))
        hv = np.stack([hv[:, 0] + R - wall / 2, -hv[:, 2], hv[:, 1] + H / 2], axis=1)  # turned about x, then out
        return [body, (hv, hf, huv)]
    if kind == "bottle":
        zb, zs = form["body"] * H, (form["body"] + form["shoulder"]) * H
        rn = max(form["neck"] * R, 0.008)
        rc, zc = rn * 1.15, H - max(0.12 * H, 0.015)  # the cap
        return [_lathe([[(0.0, 0.0), (0.95 * R, 0.0)], [(0.95 * R, 0.0), (R, 0.02 * H)], [(R, 0.02 * H), (R, zb)],
                        _arc(R, zb, rn, zs), [(rn, zs), (rn, zc)], [(rn, zc), (rc, zc)], [(rc, zc), (rc, H)],
                        [(rc, H), (0.0, H)]])]
    if kind == "bowl":
        rf = form["foot"] * R
        return [_lathe([[(0.0, 0.0), (rf, 0.0)], _arc(rf, 0.0, R, H, bulge=False), [(R, H), (R - wall, H)],
                        _arc(rf - wall, wall, R - wall, H, bulge=False)[::-1], [(rf - wall, wall), (0.0, wall)]])]
    raise ValueError(f"unknown shape kind {kind!r}")


def build_mesh(v: dict):
    """The variant's trimesh (UVs as TextureVisuals), z up, its bounding-box centre at the origin."""
    import trimesh
    from trimesh.visual import TextureVisuals

    parts = _parts(v)
    verts, faces, uvs, n = [], [], [], 0
    for pv, pf, puv in parts:
        verts.append(pv)
        faces.append(pf + n)
        uvs.append(puv)
        n += len(pv)
    V, F, UV = np.concatenate(verts), np.concatenate(faces), np.concatenate(uvs)
    area = np.linalg.norm(np.cross(V[F[:, 1]] - V[F[:, 0]], V[F[:, 2]] - V[F[:, 0]]), axis=1)
    F = F[area > 1e-12]  # the quads' halves that collapse on the axis
    V = V - (V.min(axis=0) + V.max(axis=0)) / 2
    UV = UV / max(float(UV.max()), 1e-9)  # into [0, 1], the same texel density everywhere
    return trimesh.Trimesh(V, F, visual=TextureVisuals(uv=UV), process=False)


def _obj_text(mesh, normals: bool) -> str:
    """OBJ text without a material (the URDF gives the colour): deterministic bytes."""
    from trimesh.exchange.obj import export_obj

    text = export_obj(mesh, include_normals=normals, include_texture=normals, write_texture=False,
                      header="synthscene shapes", digits=6)
    return "".join(line + "\n" for line in text.splitlines() if line and not line.startswith(("mtllib", "usemtl")))


def shape_urdf(folder, v: dict) -> str:
    """The variant as visual OBJ + convex-hull collision OBJ + URDF in `folder/<kind>-<key>/`,
    written once (the key hashes the parameters; the folder appears by one rename)."""
    from ..core.files import urdf_made_once

    params = json.dumps({"v": BUILDER_VERSION, **v}, sort_keys=True)

    def make(tmp):
        mesh = build_mesh(v)
        hull = mesh.convex_hull
        mass = DENSITY[v["kind"]] * float(hull.volume)
        com = hull.center_mass
        inertia = hull.moment_inertia * (mass / float(hull.mass))  # about the centre of mass
        (ixx, ixy, ixz), (_, iyy, iyz), (_, _, izz) = inertia
        r, g, b, a = v["rgba"]
        (tmp / "model.obj").write_text(_obj_text(mesh, normals=True))
        (tmp / "collision.obj").write_text(_obj_text(hull, normals=False))
        (tmp / "model.urdf").write_text(f"""<?xml version="1.0"?>
<robot name="shape_{v['kind']}">
  <material name="paint"><color rgba="{r:.4f} {g:.4f} {b:.4f} {a:.4f}"/></material>
  <link name="base">
    <inertial>
      <origin xyz="{com[0]:.6f} {com[1]:.6f} {com[2]:.6f}"/>
      <mass value="{mass:.6f}"/>
      <inertia ixx="{ixx:.9f}" iyy="{iyy:.9f}" izz="{izz:.9f}" ixy="{ixy:.9f}" ixz="{ixz:.9f}" iyz="{iyz:.9f}"/>
    </inertial>
    <visual><geometry><mesh filename="model.obj"/></geometry><material name="paint"/></visual>
    <collision><geometry><mesh filename="collision.obj"/></geometry></collision>
  </link>
</robot>
""")
        (tmp / "params.json").write_text(params + "\n")

    return urdf_made_once(folder, v["kind"], params, make)


def shape_urdfs(cfg: ShapesConfig, seed: int, count: int, folder) -> list[str]:
    """The first `count` members' URDFs, in member order (made once in `folder`)."""
    return [shape_urdf(folder, variant(cfg, seed, j)) for j in range(count)]
