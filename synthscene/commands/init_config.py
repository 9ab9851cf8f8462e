"""`synthscene init`: a complete dataset config for a user's meshes, with the project's LM-O recipe.

The recipe is configs/lmo.yaml's (every randomizer on: physics drop, distractors and occluders,
textures, backgrounds, sensor effects; the packaged plain ground), scaled to the meshes' size. When
real photos are given (a YOLO folder: images/, labels/, data.yaml or classes.txt) the image size,
camera distances (from the boxes' sizes, the meshes' extents and the focal length), intrinsics and
elevations (when the folder has BOP camera.json / scene_gt.json) are estimated from them, and the
field of view from the photos' EXIF (the 35 mm equivalent focal length) when they carry it. What the
photos cannot say is taken from the command line (`--fov`, `--intrinsics`, `--scene`) or guessed.
Every value carries a YAML comment saying where it came from, and `init` lists them: read (from the
photos or their files), told (on the command line), guessed (the recipe's default). Folders of
texture and background photos are optional: without them the procedural ones are used, which work
offline.
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
from ..core.schema import ASSET_NAME, MAX_IMAGES, name_from_file
from ..randomizers.layout import LMO_MEDIAN_EXTENT, DenseConfig

DIAGONAL_35MM = math.hypot(36.0, 24.0)  # mm: a 35 mm film frame's diagonal, which the EXIF 35 mm equivalent refers to
GUESSED_FOV = 50.0  # degrees, vertical: a phone or webcam's main camera, roughly
#: `--scene`: how the objects appear in the photos, as the pose modes (randomizers/pose.py) can make it
SCENES = {
    "tabletop": "dropped onto the ground and settled by physics (pose mode drop)",
    "held": "held in a hand in front of the camera (asset pose mode held), clutter on the ground behind",
    "free": "floating anywhere in a volume above the ground, any rotation (pose mode free)",
    "pile": "dropped onto each other in a heap (pose mode pile)",
    "dense": "packed together on a table among everyday clutter, touching and hiding each other (pose mode dense)",
}
# The photos' objects stand packed (scene dense fits them) when their boxes' nearest neighbour is at
# most this many box diagonals away (median) and at least this share of boxes overlap another:
# LM-O's photos 0.59 and 72%, lmo.yaml's spread-out renders 0.89 and 40% (docs/RESULTS.md, Composition).
PACKED_NN, PACKED_OVERLAP = 1.0, 0.5
HELD_FRACTION = (0.4, 0.6)  # scene held: the object's distance as a fraction of the camera's (pose.held_distance)
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
    focal35: list[float] = field(default_factory=list)  # EXIF FocalLengthIn35mmFilm (mm), one per photo that has it
    focal_mm_only: int = 0  # photos whose EXIF has a focal length but no 35 mm equivalent (sensor size unknown)
    layouts: list = field(default_factory=list)  # per photo: (boxes x0 y0 x1 y1 px, width, height)


@dataclass
class Camera:
    """What the command line says about the camera and the scene (None: not told)."""

    fov: float | None = None  # vertical, degrees
    intrinsics: dict | None = None  # fx, fy, cx, cy in pixels
    scene: str | None = None  # one of SCENES


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
        if not p.exists():
            raise BadInput("mesh file not found", p, "MESH")
        if not p.is_file():
            raise BadInput("not a regular file: give a mesh file (.obj, .stl, .ply, ...)", p, "MESH")
        if not ASSET_NAME.fullmatch(name):
            raise BadInput(f"the class name {name!r} may hold only letters, digits, _ . - (NAME=MESH)", arg, "MESH")
        verts = np.concatenate([m.vertices for m in load_meshes(p)])  # the checks and budgets every mesh gets
        ext = (verts.max(axis=0) - verts.min(axis=0)) * UNITS[units]
        if name in {m.name for m in out}:
            raise BadInput(f"two meshes are named {name!r}: name them with NAME=MESH", p, "MESH")
        out.append(Mesh(name, p.resolve(), ext))
    return out


def read_gold(root: str | os.PathLike) -> Gold:
    """Photo sizes, box sizes per class, and BOP intrinsics / viewpoints when the folder has them."""
    from PIL import Image

    from ..realdata.gold import bop_dir, bop_key, load_gold, yolo_rows

    gs = load_gold(root)  # the gold-folder rules every command shares
    root, names, images = gs.root, gs.names, gs.images
    sizes: Counter = Counter()
    per_image = {}
    focal35, focal_mm_only = [], 0
    for img in images:
        try:
            with Image.open(img) as im:
                per_image[img.stem] = im.size
                f35, fmm = exif_focal(im)
        except Exception as err:  # noqa: BLE001
            raise BadInput(f"unreadable image ({type(err).__name__})", img, "--gold") from None
        sizes[per_image[img.stem]] += 1
        if f35:
            focal35.append(f35)
        elif fmm:
            focal_mm_only += 1
    gold = Gold(root, names, sizes.most_common(1)[0][0], sizes, focal35=focal35, focal_mm_only=focal_mm_only)
    for img in images:
        w, h = per_image[img.stem]
        rows = yolo_rows(gs.label_of(img), len(names))
        gold.boxes += [(names[c], bw * w, bh * h) for c, _, _, bw, bh in rows]
        gold.layouts.append((np.array([[(x - bw / 2) * w, (y - bh / 2) * h, (x + bw / 2) * w, (y + bh / 2) * h]
                                       for _, x, y, bw, bh in rows]).reshape(-1, 4), w, h))
    if not gold.boxes:
        raise BadInput("no labelled boxes in labels/*.txt: the photos' object sizes cannot be measured", root, "--gold")

    bop = bop_dir(root)
    cam = (bop / "camera.json") if bop else None
    if cam is not None and cam.is_file():
        try:
            doc = json.loads(cam.read_text())
            gold.intrinsics = {k: float(doc[k]) for k in ("fx", "fy", "cx", "cy")}
            if not all(map(math.isfinite, gold.intrinsics.values())):
                raise ValueError(f"not finite: {gold.intrinsics}")
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


def exif_focal(im) -> tuple[float | None, float | None]:
    """(35 mm equivalent focal length, focal length), both mm, from a photo's EXIF; None where absent or unreadable."""
    from PIL import ExifTags

    try:
        exif = im.getexif().get_ifd(ExifTags.IFD.Exif)
    except Exception:  # noqa: BLE001  (a broken EXIF block is no reason to refuse a photo)
        return None, None

    def number(tag):
        try:
            v = float(exif.get(tag))
        except (TypeError, ValueError, ZeroDivisionError):
            return None
        return v if math.isfinite(v) and v > 0 else None

    return number(ExifTags.Base.FocalLengthIn35mmFilm), number(ExifTags.Base.FocalLength)


def fov_from_35mm(f35: float, width: int, height: int) -> float:
    """Vertical field of view (degrees) of a `width`×`height` image taken at a 35 mm equivalent focal
    length `f35` (mm). The equivalent is defined on the diagonal (a 36×24 mm frame's, 43.3 mm), so the
    focal length in pixels is f35 / 43.3 mm × the image's diagonal in pixels, whatever its aspect ratio."""
    f_px = f35 / DIAGONAL_35MM * math.hypot(width, height)
    return math.degrees(2 * math.atan(height / 2 / f_px))


def parse_camera(fov: float | None = None, intrinsics: str | None = None, scene: str | None = None) -> Camera:
    """The command line's `--fov`, `--intrinsics fx,fy,cx,cy` and `--scene`, checked (exit 2 naming the flag)."""
    if fov is not None and intrinsics is not None:
        raise BadInput("give --fov or --intrinsics, not both (intrinsics fix the field of view)", None, "--fov/--intrinsics")
    cam = Camera(scene=scene)
    if fov is not None:
        if isinstance(fov, bool) or not isinstance(fov, (int, float)) or not 1 <= fov <= 170:
            raise BadInput(f"expected a vertical field of view in degrees, 1 to 170, got {fov!r}", None, "--fov")
        cam.fov = float(fov)
    if intrinsics is not None:
        try:
            values = [float(x) for x in str(intrinsics).split(",")]
        except ValueError:
            values = []
        if len(values) != 4 or not all(map(math.isfinite, values)):
            raise BadInput(f"expected four numbers fx,fy,cx,cy (pixels), got {intrinsics!r}", None, "--intrinsics")
        if values[0] <= 0 or values[1] <= 0 or values[2] < 0 or values[3] < 0:
            raise BadInput(f"expected fx, fy > 0 and cx, cy >= 0 (pixels), got {intrinsics!r}", None, "--intrinsics")
        cam.intrinsics = dict(zip(("fx", "fy", "cx", "cy"), values))
    if scene is not None and scene not in SCENES:
        raise BadInput(f"expected one of {', '.join(SCENES)}, got {scene!r}", None, "--scene")
    return cam


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


def packing(gold: Gold) -> dict | None:
    """How the photos' objects are laid out, measured as `inspect --gold` measures it
    (diagnosis/composition.py): medians of the centre spread (of the image diagonal) and of the
    nearest-neighbour distance (box diagonals), and the share of boxes overlapping another.
    None when no photo has two boxes."""
    from ..diagnosis.composition import center_spread, nn_distance, overlaps

    many = [(b, w, h) for b, w, h in gold.layouts if len(b) >= 2]
    if not many:
        return None
    return {"photos": len(many),
            "center_spread": float(np.median([center_spread(b, w, h) for b, w, h in many])),
            "nn_distance": float(np.median(np.concatenate([nn_distance(b) for b, _, _ in many]))),
            "overlap": float(np.mean(np.concatenate([overlaps(b) for b, _, _ in many])))}


def region_size(spread: float, size: tuple[int, int], distance: float, f: float) -> float:
    """The side (m) of a square region whose objects spread as much in the image as the photos' do.

    Centres uniform over a square of side L have sqrt(var x + var y) = L/√6; the photos' spread (a
    fraction of the image diagonal) is turned into metres at the median camera distance. LM-O: 0.158
    of 800 px at 0.93 m with f = 573 px → 0.50 m (the hand-tuned lmo_dense.yaml: 0.40–0.60)."""
    return math.sqrt(6) * spread * math.hypot(*size) * distance / f


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
    fov: float | None = None,
    intrinsics: str | None = None,
    scene: str | None = None,
    notes: list[str] | None = None,
) -> Path:
    """Write a dataset config for `meshes` (`NAME=MESH` or `MESH`) to `out`; returns its path.

    `fov` (vertical degrees) or `intrinsics` ("fx,fy,cx,cy", pixels) give the camera, `scene` one of
    SCENES (default tabletop). `notes`, when given, receives one line per value saying whether it was
    read (photos, EXIF, BOP files), told (these arguments) or guessed. The file is loaded (validated)
    before it replaces anything, so a written config always loads.
    """
    from ..config import load_config
    from ..core.files import check_out_file, staged_write
    from ..assets.prepare import prepare

    out = check_out_file(out, overwrite)
    if out.suffix.lower() not in (".yaml", ".yml"):
        raise BadInput("the config file should end in .yaml", out, "--out")
    if not 1 <= count <= MAX_IMAGES:
        raise BadInput(f"expected 1 to {MAX_IMAGES:,} images, got {count}", None, "--count")
    cam = parse_camera(fov, intrinsics, scene)
    parsed = parse_mesh_args(list(meshes), units)
    tex = _check_folder(textures, "--textures")
    bg = _check_folder(backgrounds, "--backgrounds")
    g = read_gold(gold) if gold is not None else None
    out.parent.mkdir(parents=True, exist_ok=True)
    cfg_dir = out.parent.resolve()
    said: list[str] = []
    text = render_config(parsed, units, g, tex, bg, upright, count, cfg_dir, out.stem, cam, said)
    with staged_write(out, text) as tmp:
        try:
            prepare(load_config(tmp))  # must load as written, meshes converted; paths resolve from the same folder
        except BadInput as err:
            raise RuntimeError(f"init wrote a config that does not load (a synthscene bug): {err}") from None
    if notes is not None:
        notes += said
    return out


def _y(value) -> str:
    """`value` as one line of YAML, quoted where YAML needs it (a name such as `x]` or `a, b`)."""
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, width=float("inf"), allow_unicode=True)
    return text.removesuffix("\n...\n").rstrip("\n")


def _c(text) -> str:
    """User text (a folder, a class name) fit for a comment line: no line breaks or control characters."""
    return "".join(ch if ch.isprintable() else "?" for ch in str(text))


def render_config(meshes: list[Mesh], units: str, gold: Gold | None, tex: Path | None, bg: Path | None,
                  upright: bool, count: int, cfg_dir: Path, stem: str, cam: Camera | None = None,
                  said: list[str] | None = None) -> str:
    """The config's text, commented. Every value that comes from the user (names, paths) is written by
    the YAML library (`_y`), every comment that quotes one is cleaned (`_c`). `said` receives one line
    per value that was read, told or guessed (what `init` prints)."""
    from ..assets.convert import default_up_axis

    cam = cam or Camera()
    said = said if said is not None else []
    scene = cam.scene or "tabletop"
    names = [m.name for m in meshes]
    extent = float(np.median([m.extents.max() for m in meshes]))
    k = extent / LMO_MEDIAN_EXTENT  # lmo.yaml's lengths are for LM-O-sized objects
    L: list[str] = []
    add = L.append
    add(f"# Made by `synthscene init` from {len(meshes)} mesh(es)" + (f" and the photos in {_c(gold.root)}" if gold else "") + ".")
    add("# The recipe is configs/lmo.yaml's (every randomizer on), its lengths scaled by the meshes' median")
    add(f"# largest side, {extent:.3g} m (LM-O's is {LMO_MEDIAN_EXTENT} m: scale ×{k:.3g}). Values marked `estimated`")
    add("# or `read` come from the photos, `told` from the command line, `guessed` are defaults to check; the")
    add("# others are the recipe's. Edit freely: `synthscene preview` shows the result.")
    add("seed: 0")
    add(f"count: {count}")
    classes = names
    if gold:
        extra = [n for n in names if n not in gold.names]
        classes = list(gold.names) + extra
        missing = [n for n in gold.names if n not in names]
        add(_c(f"# Class ids as the photos' names ({gold.root}), so `evaluate --gold` matches them"
               + (f"; {missing} have no mesh here (add one or they are never drawn)" if missing else "")
               + (f"; {extra} are not in the photos" if extra else "") + "."))
    add(f"classes: {_y(classes)}")
    add("assets:")
    width = max(len(_y(n)) for n in names) + 1
    held_pose = ", pose: {mode: held}" if scene == "held" else ""
    for m in meshes:
        up = ", upright: true" if upright else ""
        add(f"  - {{name: {(_y(m.name) + ',').ljust(width)} mesh: {_y(_relative(m.path, cfg_dir))}, "
            f"units: {units}{up}{held_pose}, count: [1, 1]}}   # {' × '.join(_fmt(e) for e in m.extents)} m as stored")
        if default_up_axis(m.path) == "y":
            add(f"    # {_c(m.path.name)}: glTF is y-up: turned to z-up on load (up_axis: y); `up_axis: z` if it lies on its side")
    if scene == "held":
        add("  # told (--scene held): each object is held in a hand in front of the camera (`pose: {mode: held}`).")
    elif not upright and scene in ("tabletop", "pile"):
        add("  # Objects that stand on their base in your photos (z up as loaded: `synthscene assets check MESH`")
        add("  # shows which way is up): add `upright: true` (only their heading is random, and physics keeps")
        add("  # them standing), as configs/lmo.yaml does.")
    add("scene:")
    add('  ground: {urdf: "synthscene:plain_ground.urdf"}   # untextured, so the texture randomizer decides its look')
    said.append(f"{'told' if cam.scene else 'guessed'}: scene {scene}, the objects {SCENES[scene]}"
                + ("" if cam.scene else f"; --scene {'|'.join(SCENES)} says how they appear in your photos"))

    # ---- camera
    add("camera:")
    if gold:
        w, h = gold.size
        share = gold.sizes[gold.size] / sum(gold.sizes.values())
        add(f"  # estimated: the photos' size ({share:.0%} of {sum(gold.sizes.values())} photos are {w}×{h})")
        said.append(f"read: camera {w}×{h}, the photos' size ({share:.0%} of {sum(gold.sizes.values())} photos)")
    else:
        w, h = 640, 480
        said.append("guessed: camera 640×480 (no photos: --gold PHOTOS reads their size)")
    add(f"  width: {w}")
    add(f"  height: {h}")
    exif = gold.focal35 if gold else []
    if cam.intrinsics:
        i = cam.intrinsics
        if i["cx"] > w or i["cy"] > h:
            raise BadInput(f"the principal point ({_fmt(i['cx'])}, {_fmt(i['cy'])}) lies outside the {w}×{h} image"
                           + ("" if gold else " (the image size is 640×480 without --gold photos)"), None, "--intrinsics")
        add(f"  # told: --intrinsics {i['fx']:g},{i['fy']:g},{i['cx']:g},{i['cy']:g}")
        add(f"  intrinsics: {{fx: {i['fx']}, fy: {i['fy']}, cx: {i['cx']}, cy: {i['cy']}}}")
        f = (i["fx"] + i["fy"]) / 2
        said.append(f"told: intrinsics fx {i['fx']:g}, fy {i['fy']:g}, cx {i['cx']:g}, cy {i['cy']:g} (--intrinsics)")
    elif cam.fov:
        add(f"  # told: --fov {_fmt(cam.fov)} (vertical)")
        add(f"  fov_deg: {_fmt(cam.fov)}")
        f = (h / 2) / math.tan(math.radians(cam.fov / 2))
        said.append(f"told: fov_deg {_fmt(cam.fov)} (--fov)")
    elif gold and gold.intrinsics:
        i = gold.intrinsics
        add(f"  # estimated: the photos' camera, {_c(gold.intrinsics_file)}")
        add(f"  intrinsics: {{fx: {i['fx']}, fy: {i['fy']}, cx: {i['cx']}, cy: {i['cy']}}}")
        f = (i["fx"] + i["fy"]) / 2
        said.append(_c(f"read: intrinsics from {gold.intrinsics_file}"))
    elif exif:
        f35 = float(np.median(exif))
        fov = round(fov_from_35mm(f35, w, h), 1)
        n = sum(gold.sizes.values())
        add(f"  # read from EXIF: 35 mm equivalent focal length {_fmt(f35)} mm (median of {len(exif)} of {n} photos),")
        add(f"  # i.e. a vertical field of view of {fov}° at {w}×{h} (the equivalent refers to the 43.3 mm diagonal)")
        add(f"  fov_deg: {fov}")
        f = (h / 2) / math.tan(math.radians(fov / 2))
        said.append(f"read: fov_deg {fov} from EXIF (35 mm equivalent {_fmt(f35)} mm, median of {len(exif)} of {n} photos)")
    else:
        why = ("the photos come without intrinsics or an EXIF 35 mm equivalent focal length" if gold else "no photos")
        if gold and gold.focal_mm_only:
            why += f" ({gold.focal_mm_only} give a focal length in mm, which needs the sensor size)"
        add(f"  # guessed: the camera's field of view is unknown ({_c(why)}): `synthscene init --fov DEG` or")
        add("  # `--intrinsics fx,fy,cx,cy`, or set `intrinsics: {fx, fy, cx, cy}` here for your camera")
        add(f"  fov_deg: {_fmt(GUESSED_FOV)}")
        f = (h / 2) / math.tan(math.radians(GUESSED_FOV / 2))
        said.append(_c(f"guessed: fov_deg {_fmt(GUESSED_FOV)}, {why}: give --fov DEG or --intrinsics fx,fy,cx,cy"))
    if gold:
        (dlo, dhi), how = distance_estimate(gold, meshes, f)
    else:
        dlo, dhi = f * extent / (0.3 * h), f * extent / (0.1 * h)  # largest side 10–30% of the image height
        dlo, dhi, how = round(dlo, 3), round(dhi, 3), None
    said.append(f"read: object distance {dlo}–{dhi} m, from the photos' box sizes" if how else
                f"guessed: object distance {dlo}–{dhi} m, the objects' largest side 10–30% of the image height")
    if scene == "held":  # the held object sits at HELD_FRACTION of the camera's distance to the look-at point
        mid = sum(HELD_FRACTION) / 2
        dlo, dhi = round(dlo / mid, 3), round(dhi / mid, 3)
        said[-1] += f" (held {HELD_FRACTION[0]}–{HELD_FRACTION[1]} of the way to a camera {dlo}–{dhi} m from the table)"
    add(f"  near: {_fmt(min(0.05, dlo * (HELD_FRACTION[0] if scene == 'held' else 1) / 10))}")
    add(f"  far: {_fmt(max(5.0, 3 * dhi))}")

    # ---- randomizers
    add("randomizers:")
    # Room for the objects and about four distractors side by side: lmo.yaml's ±0.35 m holds its 8
    # LM-O-sized targets and their distractors, and the area grows with the number of bodies.
    vol = round(0.35 * k * math.sqrt((len(meshes) + 4) / 12), 3)
    xy = f"x: [{-vol}, {vol}], y: [{-vol}, {vol}]"
    if scene == "free":
        add(f"  # Floating, any rotation, anywhere in {_fmt(2 * vol)} × {_fmt(2 * vol)} m and up to {_fmt(0.3 * k)} m above the ground;")
        add("  # not settled. The distractors float too.")
        add(f"  pose: {{mode: free, volume: {{{xy}, z: [{round(0.02 * k, 4)}, {round(0.3 * k, 4)}]}}}}")
    elif scene == "pile":
        add(f"  # Dropped onto each other around one spot (within {_fmt(0.04 * k)} m of it), settled by physics; the")
        add(f"  # spot anywhere in {_fmt(2 * vol)} × {_fmt(2 * vol)} m.")
        add(f"  pose: {{mode: pile, volume: {{{xy}, z: [0.0, {round(0.02 * k, 4)}]}}, "
            f"pile: {{radius: {round(0.04 * k, 4)}, gap: {round(0.01 * k, 4)}}}}}")
    elif scene == "dense":
        layout = DenseConfig().scaled(k)  # its defaults, tuned on LM-O, for these meshes' size
        pk = packing(gold) if gold else None
        if pk:
            side = region_size(pk["center_spread"], gold.size, math.sqrt(dlo * dhi), f)
            lo, hi = round(max(0.1 * k, 0.8 * side), 3), round(max(0.15 * k, 1.2 * side), 3)
            add(f"  # Packed into one region of the table drawn per image, {_fmt(lo)}–{_fmt(hi)} m across: the photos' box")
            add(f"  # centres spread over {pk['center_spread']:.3f} of the image diagonal (median of {pk['photos']} photos),")
            add(f"  # {side:.2f} m at {math.sqrt(dlo * dhi):.2f} m (init_config.region_size); neighbours touch or nearly")
            add("  # (spacing < 1), some lean on each other; a ring of clutter around it (docs/RANDOMIZERS.md).")
            said.append(f"read: dense region {lo}–{hi} m, from the spread of the photos' box centres")
        else:
            lo, hi = (round(v, 3) for v in layout.size)
            add(f"  # Packed into one region of the table drawn per image, {_fmt(lo)}–{_fmt(hi)} m across (lmo_dense.yaml's,")
            add("  # scaled to the meshes); neighbours touch or nearly, a ring of clutter around (docs/RANDOMIZERS.md).")
            said.append(f"guessed: dense region {lo}–{hi} m (configs/lmo_dense.yaml's, scaled to the meshes' size)")
        (cx0, cx1), (cy0, cy1) = ((round(v, 4) for v in r) for r in (layout.centre.x, layout.centre.y))
        ring0, ring1 = (round(v, 3) for v in layout.ring)
        add(f"  pose: {{mode: dense, volume: {{{xy}, z: [0.0, {round(0.02 * k, 4)}]}}, dense: {{centre: {{x: [{cx0}, {cx1}], "
            f"y: [{cy0}, {cy1}]}}, size: [{lo}, {hi}], spacing: {list(layout.spacing)}, ring: [{ring0}, {ring1}], "
            f"ring_share: {list(layout.ring_share)}}}}}")
    else:
        what = "The distractors are dropped" if scene == "held" else f"Dropped from at most {_fmt(0.02 * k)} m"
        add(f"  # {what} onto the ground, spread over {_fmt(2 * vol)} × {_fmt(2 * vol)} m: room for")
        add("  # the objects and their distractors side by side, close enough to hide each other now and then")
        add("  # (lmo.yaml: ±0.35 m for eight LM-O-sized objects; a distractor with no room is left out).")
        held_distance = f", held_distance: {list(HELD_FRACTION)}" if scene == "held" else ""
        add(f"  pose: {{mode: drop, volume: {{{xy}, z: [0.0, {round(0.02 * k, 4)}]}}{held_distance}}}")
        pk = packing(gold) if gold and scene == "tabletop" else None
        if pk and pk["nn_distance"] <= PACKED_NN and pk["overlap"] >= PACKED_OVERLAP:
            add(f"  # The photos' objects stand packed (nearest neighbour {pk['nn_distance']:.2f} box diagonals, "
                f"{pk['overlap']:.0%} of boxes")
            add("  # overlap another): `synthscene init --scene dense` lays them out so.")
            said.append(f"read: the photos' objects stand packed (nearest neighbour {pk['nn_distance']:.2f} box diagonals, "
                        f"{pk['overlap']:.0%} overlapping): try --scene dense")
    if scene == "held":
        add(f"  # held: the object {HELD_FRACTION[0]}–{HELD_FRACTION[1]} of the way from the camera to the table, so the camera")
        add(f"  # stands back: the object's own distance is about the one below × {sum(HELD_FRACTION) / 2:g}.")
    if how:
        add(f"  # estimated distance: {how}.")
    else:
        add(f"  # no photos: the objects' largest side spans about 10–30% of the image height (f = {f:.0f} px).")
    if gold and gold.elevations:
        e = np.asarray(gold.elevations)
        elo, ehi = (int(math.floor(max(-10.0, np.percentile(e, 5)))), int(math.ceil(min(89.0, np.percentile(e, 95)))))
        add(f"  # estimated elevation: {len(e)} object poses in {_c(gold.poses_file)}, 5th–95th percentile"
            f" (all {e.min():.0f}..{e.max():.0f}°, median {np.median(e):.0f}°).")
        said.append(f"read: camera elevation {elo}–{ehi}° from the photos' BOP poses")
    else:
        elo, ehi = 20, 80
        add("  # elevation: synthscene's default (the photos give no poses to measure it from).")
        said.append("guessed: camera elevation 20–80° (no BOP poses beside the photos)")
    add(f"  camera: {{distance: [{dlo}, {dhi}], elevation_deg: [{elo}, {ehi}], roll_deg: [-10, 10], "
        f"look_at_jitter: {_fmt(0.08 * k)}}}")
    add("  lighting:")
    add("    elevation_deg: [30, 85]")
    add("    color: [0.75, 1.0]")
    add("    intensity: [0.6, 1.3]")
    add("    shadow_probability: 0.5")
    if scene == "dense":
        add("  # Everyday clutter at its real size: PyBullet's random shapes, procedural cartons, cans, cups and")
        add("  # bottles, and scanned YCB objects (CC BY 4.0; synthscene/data/distractors/README.md), as lmo_dense.yaml.")
        add("  occlusion:")
        add('    sources: ["pybullet:random_urdfs", "synthscene:shapes", {meshes: "synthscene:distractors/ycb", units: m}]')
        add("    pool_size: 48")
        add("    scale: 1.0")
        add("    distractors: [6, 12]")
    else:
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
        add(f"    folder: {_y(_relative(tex, cfg_dir))}")
        add("    image_probability: 0.6")
    else:
        add("    # procedural textures only; `folder: DIR` adds photos of surfaces (synthscene init --textures DIR)")
    add("    color_jitter: {probability: 0.5, hue_deg: 6}   # ... give or take a little")
    add("  background:")
    if bg:
        add(f"    folder: {_y(_relative(bg, cfg_dir))}")
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
