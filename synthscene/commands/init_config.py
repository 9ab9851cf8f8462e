"""`synthscene init`: a complete dataset config for a user's meshes, with the project's LM-O recipe.

The recipe is configs/lmo.yaml's (every randomizer on: physics drop, distractors and occluders,
textures, backgrounds, sensor effects; the packaged plain ground), scaled to the meshes' size. When
real photos are given (a YOLO folder: images/, labels/, data.yaml or classes.txt) the image size,
camera distances (from the boxes' sizes, the meshes' extents and the focal length), intrinsics and
elevations (when the folder has BOP camera.json / scene_gt.json) are estimated from them. Every
estimated value carries a YAML comment saying where it came from. Folders of texture and
background photos are optional: without them the procedural ones are used, which work offline.
"""
from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.errors import BadInput
from ..core.schema import name_from_file

LMO_MEDIAN_EXTENT = 0.139  # m: the median largest side of the 8 LM-O meshes, the scale lmo.yaml's numbers are for
IMAGE_SUFFIXES = {".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp"}
POST = """\
  # A consumer camera: soft, noisy, compressed, with an automatic exposure (as configs/lmo.yaml).
  post:
    transform:
      transform:
        __class_fullname__: Compose
        p: 1.0
        transforms:
          - {__class_fullname__: ColorJitter, p: 0.6, brightness: [0.7, 1.3], contrast: [0.7, 1.3], saturation: [0.7, 1.3], hue: [-0.03, 0.03]}
          - __class_fullname__: OneOf
            p: 0.5
            transforms:
              - {__class_fullname__: GaussianBlur, p: 1.0, blur_limit: [3, 5]}
              - {__class_fullname__: MotionBlur, p: 1.0, blur_limit: [3, 7]}
          - {__class_fullname__: GaussNoise, p: 0.5, std_range: [0.01, 0.05], noise_scale_factor: 0.5}
          - {__class_fullname__: ImageCompression, p: 0.3, quality_range: [40, 90]}
"""


@dataclass
class Mesh:
    name: str
    path: Path
    extents: np.ndarray  # metres, axis-aligned, as the mesh file stands


@dataclass
class Gold:
    root: Path
    names: list[str]
    size: tuple[int, int]  # the photos' (width, height), the most common one
    sizes: Counter
    boxes: list[tuple[str, float, float]] = field(default_factory=list)  # (class name, w px, h px)
    intrinsics: dict | None = None
    intrinsics_file: Path | None = None
    elevations: list[float] | None = None
    poses_file: Path | None = None


def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def parse_mesh_args(meshes: list[str], units: str) -> list[Mesh]:
    """`NAME=MESH` or `MESH` (named after the file stem); each mesh is read to measure its extents."""
    from ..assets.convert import UNITS, load_meshes

    if units not in UNITS:
        raise BadInput(f"expected one of {list(UNITS)}, got {units!r}", None, "--units")
    if not meshes:
        raise BadInput("give at least one mesh", None, "MESH")
    out: list[Mesh] = []
    for arg in meshes:
        name, sep, path = str(arg).partition("=")
        if not sep or not path or os.sep in name or "/" in name:  # a path that merely contains '='
            name, path = "", str(arg)
        p = Path(path).expanduser()
        name = name or name_from_file(p.stem) or "object"
        if not p.is_file():
            raise BadInput("mesh file not found", p, "MESH")
        verts = np.concatenate([m.vertices for m in load_meshes(p)])  # the checks and budgets every mesh gets
        ext = (verts.max(axis=0) - verts.min(axis=0)) * UNITS[units]
        if name in {m.name for m in out}:
            raise BadInput(f"two meshes are named {name!r}: name them with NAME=MESH", p, "MESH")
        out.append(Mesh(name, p.resolve(), ext))
    return out


def _gold_names(root: Path) -> list[str]:
    from ..realdata.gold import class_names, read_data_yaml

    for f in (root / "data.yaml", root / "dataset.yaml"):
        if f.is_file():
            return class_names(read_data_yaml(f), f)
    f = root / "classes.txt"
    if f.is_file():
        names = [ln.strip() for ln in f.read_text().splitlines() if ln.strip()]
        if names:
            return names
    raise BadInput("no class names: expected a data.yaml (names) or a classes.txt in the gold folder", root, "--gold")


def read_gold(root: str | os.PathLike) -> Gold:
    """Photo sizes, box sizes per class, and BOP intrinsics / viewpoints when the folder has them."""
    from PIL import Image

    from ..realdata.gold import bop_dir, bop_key, yolo_rows

    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise BadInput("gold folder not found", root, "--gold")
    names = _gold_names(root)
    images = sorted(p for p in (root / "images").glob("*") if p.suffix.lower() in IMAGE_SUFFIXES) \
        if (root / "images").is_dir() else []
    if not images:
        raise BadInput("no images in images/ (expected a YOLO folder: images/*, labels/*.txt)", root, "--gold")
    sizes: Counter = Counter()
    per_image = {}
    for img in images:
        try:
            with Image.open(img) as im:
                per_image[img.stem] = im.size
        except Exception as err:  # noqa: BLE001
            raise BadInput(f"unreadable image ({type(err).__name__})", img, "--gold") from None
        sizes[per_image[img.stem]] += 1
    gold = Gold(root, names, sizes.most_common(1)[0][0], sizes)
    for img in images:
        lab = root / "labels" / f"{img.stem}.txt"
        if not lab.is_file():
            continue
        w, h = per_image[img.stem]
        gold.boxes += [(names[c], bw * w, bh * h) for c, _, _, bw, bh in yolo_rows(lab, len(names))]
    if not gold.boxes:
        raise BadInput("no labelled boxes in labels/*.txt: the photos' object sizes cannot be measured", root, "--gold")

    bop = bop_dir(root)
    cam = (bop / "camera.json") if bop else None
    if cam is not None and cam.is_file():
        try:
            doc = json.loads(cam.read_text())
            gold.intrinsics = {k: float(doc[k]) for k in ("fx", "fy", "cx", "cy")}
            gold.intrinsics_file = cam
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise BadInput(f"cannot read the camera intrinsics ({err})", cam, "--gold") from None
    if bop is not None:
        from ..diagnosis.stats import viewpoint

        try:
            scene_gt = json.loads((bop / "scene_gt.json").read_text())
            # only the photos in the folder: BOP files often cover a whole scene, held-out photos too
            keys = {bop_key(img.stem) for img in images}
            gold.elevations = [viewpoint(p["cam_R_m2c"], p["cam_t_m2c"])[0]
                               for k, v in scene_gt.items() if k in keys for p in v]
            gold.poses_file = bop / "scene_gt.json"
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise BadInput(f"cannot read the BOP poses ({err})", bop / "scene_gt.json", "--gold") from None
    return gold


def _check_folder(path: str | os.PathLike | None, option: str) -> Path | None:
    if path is None:
        return None
    p = Path(path).expanduser()
    if not p.is_dir():
        raise BadInput("folder not found", p, option)
    return p.resolve()


def _relative(path: Path, config_dir: Path) -> str:
    """A path as the config should say it: relative to the config's folder when close by, else absolute."""
    if os.path.commonpath([path, config_dir]) == os.path.dirname(os.path.commonpath([path, config_dir])):
        return str(path)  # nothing in common but the root: an absolute path reads better
    return os.path.relpath(path, config_dir)


def distance_estimate(gold: Gold, meshes: list[Mesh], f: float) -> tuple[tuple[float, float], str]:
    """Camera distance range (m) at which the meshes look as large as the gold boxes, and how it was found.

    A gold box's longer side ≈ f · (its mesh's largest extent) / distance (measured on LM-O with its
    BOP poses: median ratio 0.99, 5–95% 0.75–1.21), so each box gives a distance; the 5th–95th
    percentiles make the range. Boxes of classes without a mesh of that name use the meshes' median extent.
    """
    by_name = {m.name: float(m.extents.max()) for m in meshes}
    median = float(np.median(list(by_name.values())))
    d = np.array([f * by_name.get(c, median) / max(w, h) for c, w, h in gold.boxes if max(w, h) > 0])
    matched = sum(c in by_name for c, _, _ in gold.boxes)
    lo, hi = np.percentile(d, [5, 95])
    how = (f"{len(d)} gold boxes ({matched} of classes named like a mesh): distance = f·(mesh's largest side)/"
           f"(box's longer side), 5th–95th percentile; median box side {np.median([max(w, h) for _, w, h in gold.boxes]):.0f} px")
    return (round(float(lo), 3), round(float(hi), 3)), how


def init_config(
    meshes: list[str],
    out: str | os.PathLike,
    *,
    units: str = "m",
    gold: str | os.PathLike | None = None,
    textures: str | os.PathLike | None = None,
    backgrounds: str | os.PathLike | None = None,
    upright: bool = False,
    count: int = 1000,
    overwrite: bool = False,
) -> Path:
    """Write a dataset config for `meshes` (`NAME=MESH` or `MESH`) to `out`; returns its path.

    The file is loaded (validated) before it replaces anything, so a written config always loads.
    """
    from ..config import load_config
    from ..core.files import atomic_write
    from ..assets.prepare import prepare

    out = Path(out).expanduser()
    if out.suffix.lower() not in (".yaml", ".yml"):
        raise BadInput("the config file should end in .yaml", out, "--out")
    if out.is_dir():
        raise BadInput("is a folder: give the config file's name", out, "--out")
    if out.exists() and not overwrite:
        raise BadInput("already exists: give another name, or --overwrite to replace it", out, "--out")
    parsed = parse_mesh_args(list(meshes), units)
    tex = _check_folder(textures, "--textures")
    bg = _check_folder(backgrounds, "--backgrounds")
    g = read_gold(gold) if gold is not None else None
    out.parent.mkdir(parents=True, exist_ok=True)
    cfg_dir = out.parent.resolve()
    text = render_config(parsed, units, g, tex, bg, upright, count, cfg_dir, out.stem)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text)
    try:
        prepare(load_config(tmp))  # must load as written, meshes converted; paths resolve from the same folder
    except BadInput as err:
        tmp.unlink()
        raise RuntimeError(f"init wrote a config that does not load (a synthscene bug): {err}") from None
    tmp.unlink()
    atomic_write(out, text)
    return out


def render_config(meshes: list[Mesh], units: str, gold: Gold | None, tex: Path | None, bg: Path | None,
                  upright: bool, count: int, cfg_dir: Path, stem: str) -> str:
    """The config's text, commented."""
    names = [m.name for m in meshes]
    extent = float(np.median([m.extents.max() for m in meshes]))
    k = extent / LMO_MEDIAN_EXTENT  # lmo.yaml's lengths are for LM-O-sized objects
    L: list[str] = []
    add = L.append
    add(f"# Made by `synthscene init` from {len(meshes)} mesh(es)" + (f" and the photos in {gold.root}" if gold else "") + ".")
    add("# The recipe is configs/lmo.yaml's (every randomizer on), its lengths scaled by the meshes' median")
    add(f"# largest side, {extent:.3g} m (LM-O's is {LMO_MEDIAN_EXTENT} m: scale ×{k:.3g}). Values marked `estimated`")
    add("# come from the photos; the others are the recipe's. Edit freely: `synthscene preview` shows the result.")
    add("seed: 0")
    add(f"count: {count}")
    classes = names
    if gold:
        extra = [n for n in names if n not in gold.names]
        classes = list(gold.names) + extra
        missing = [n for n in gold.names if n not in names]
        add(f"# Class ids as the photos' names ({gold.root}), so `evaluate --gold` matches them"
            + (f"; {missing} have no mesh here (add one or they are never drawn)" if missing else "")
            + (f"; {extra} are not in the photos" if extra else "") + ".")
    add(f"classes: [{', '.join(classes)}]")
    add("assets:")
    width = max(len(n) for n in names) + 1
    for m in meshes:
        up = ", upright: true" if upright else ""
        add(f"  - {{name: {(m.name + ',').ljust(width)} mesh: {json.dumps(_relative(m.path, cfg_dir))}, "
            f"units: {units}{up}, count: [1, 1]}}   # {' × '.join(_fmt(e) for e in m.extents)} m")
    if not upright:
        add("  # Objects that stand on a table in your photos, with the mesh's z axis up: add `upright: true`")
        add("  # (only their heading is random, and physics keeps them standing), as configs/lmo.yaml does.")
    add("scene:")
    add('  ground: {urdf: "synthscene:plain_ground.urdf"}   # untextured, so the texture randomizer decides its look')

    # ---- camera
    add("camera:")
    if gold:
        w, h = gold.size
        share = gold.sizes[gold.size] / sum(gold.sizes.values())
        add(f"  # estimated: the photos' size ({share:.0%} of {sum(gold.sizes.values())} photos are {w}×{h})")
    else:
        w, h = 640, 480
    add(f"  width: {w}")
    add(f"  height: {h}")
    if gold and gold.intrinsics:
        i = gold.intrinsics
        add(f"  # estimated: the photos' camera, {gold.intrinsics_file}")
        add(f"  intrinsics: {{fx: {i['fx']}, fy: {i['fy']}, cx: {i['cx']}, cy: {i['cy']}}}")
        f = (i["fx"] + i["fy"]) / 2
    else:
        add("  # the camera's field of view is unknown" + (" (the photos come without intrinsics)" if gold else "")
            + ": set `intrinsics: {fx, fy, cx, cy}` for your camera")
        add("  fov_deg: 50")
        f = (h / 2) / math.tan(math.radians(25))
    if gold:
        (dlo, dhi), how = distance_estimate(gold, meshes, f)
    else:
        dlo, dhi = f * extent / (0.3 * h), f * extent / (0.1 * h)  # largest side 10–30% of the image height
        dlo, dhi, how = round(dlo, 3), round(dhi, 3), None
    add(f"  near: {_fmt(min(0.05, dlo / 10))}")
    add(f"  far: {_fmt(max(5.0, 3 * dhi))}")

    # ---- randomizers
    add("randomizers:")
    # Room for the objects and about four distractors side by side: lmo.yaml's ±0.35 m holds its 8
    # LM-O-sized targets and their distractors, and the area grows with the number of bodies.
    vol = round(0.35 * k * math.sqrt((len(meshes) + 4) / 12), 3)
    add(f"  # Dropped from at most {_fmt(0.02 * k)} m onto the ground, spread over {_fmt(2 * vol)} × {_fmt(2 * vol)} m: room for")
    add("  # the objects and their distractors side by side, close enough to hide each other now and then")
    add("  # (lmo.yaml: ±0.35 m for eight LM-O-sized objects; a distractor with no room is left out).")
    add(f"  pose: {{mode: drop, volume: {{x: [{-vol}, {vol}], y: [{-vol}, {vol}], z: [0.0, {round(0.02 * k, 4)}]}}}}")
    if how:
        add(f"  # estimated distance: {how}.")
    else:
        add(f"  # no photos: the objects' largest side spans about 10–30% of the image height (f = {f:.0f} px).")
    if gold and gold.elevations:
        e = np.asarray(gold.elevations)
        elo, ehi = (int(math.floor(max(-10.0, np.percentile(e, 5)))), int(math.ceil(min(89.0, np.percentile(e, 95)))))
        add(f"  # estimated elevation: {len(e)} object poses in {gold.poses_file}, 5th–95th percentile"
            f" (all {e.min():.0f}..{e.max():.0f}°, median {np.median(e):.0f}°).")
    else:
        elo, ehi = 20, 80
        add("  # elevation: synthscene's default (the photos give no poses to measure it from).")
    add(f"  camera: {{distance: [{dlo}, {dhi}], elevation_deg: [{elo}, {ehi}], roll_deg: [-10, 10], "
        f"look_at_jitter: {_fmt(0.08 * k)}}}")
    add("  lighting:")
    add("    elevation_deg: [30, 85]")
    add("    color: [0.75, 1.0]")
    add("    intensity: [0.6, 1.3]")
    add("    shadow_probability: 0.5")
    add("  # Unlabelled clutter: PyBullet's random shapes, scaled to about the targets' size. To try:")
    add('  # sources: ["synthscene:shapes"] (everyday cartons, cans, cups, bottles ...; docs/RANDOMIZERS.md), scale: 1 (real sizes),')
    add("  # distractors: [4, 10]: what it did on LM-O is in docs/RESULTS.md (clutter).")
    add("  occlusion:")
    add('    sources: ["pybullet:random_urdfs"]')
    add("    pool_size: 48")
    add(f"    scale: {_fmt(1.2 * k)}")
    add("    distractors: [2, 6]")
    add("    occluders: [0, 1]")
    add("    visibility: [0.4, 0.8]")
    add("  texture:")
    add("    ground: 0.9")
    add("    distractors: 0.9")
    add("    targets: 0.0          # the objects keep their own colours ...")
    if tex:
        add(f"    folder: {json.dumps(_relative(tex, cfg_dir))}")
        add("    image_probability: 0.6")
    else:
        add("    # procedural textures only; `folder: DIR` adds photos of surfaces (synthscene init --textures DIR)")
    add("    color_jitter: {probability: 0.5, hue_deg: 6}   # ... give or take a little")
    add("  background:")
    if bg:
        add(f"    folder: {json.dumps(_relative(bg, cfg_dir))}")
        add("    weights: {images: 4, procedural: 1, scene: 0}")
    else:
        add("    # procedural backgrounds only; `folder: DIR` of interior photos (synthscene init --backgrounds DIR)")
        add("    # and `weights: {images: 4, procedural: 1, scene: 0}` is what configs/lmo.yaml uses")
        add("    weights: {procedural: 1, scene: 0}")
    add("    ground_probability: 0.25")
    L.append(POST.rstrip("\n"))
    add("output:")
    add(f"  dir: out/{re.sub(r'[^A-Za-z0-9_.-]', '_', stem) or 'dataset'}")
    add("  val_fraction: 0.1")
    return "\n".join(L) + "\n"
