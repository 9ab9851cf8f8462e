"""`synthscene inspect`: validate a YOLO-format dataset and describe it, next to a real gold set.

Reads any Ultralytics YOLO folder (data.yaml with `path`/`train`/`val`, or a flat images/ +
labels/ pair) and, when present, a synthscene manifest.jsonl for visibility and truncation. The
report is markdown with PNG plots; with a gold set, every statistic gets one distance (Wasserstein
for distributions, total variation for class shares), so the synthetic-to-real gap shows before
any training.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from .advice import POSITION_SHIFT, RELATIVE_GAP, advice
from .composition import composition, markdown as composition_md, to_json, write_figure
from .stats import MAX_IMAGES, set_image_stats
from ..core.errors import BadInput
from ..core.files import IMAGE_SUFFIXES, atomic_write, check_out_folder, save_figure
from ..labels.photometric import label_contrast, label_contrast_markdown
from ..labels.yolo import dataset_root

MAX_PIXEL_SAMPLES = MAX_IMAGES  # images whose pixels are read for brightness and colour (evenly spaced)
_EPS = 1e-6


@dataclass
class Problem:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


@dataclass
class Dataset:
    root: Path
    names: dict[int, str] = field(default_factory=dict)
    images: list[Path] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # one row per box: image number, class id, cx, cy, w, h (normalised)
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 6)))
    sizes: list[tuple[int, int]] = field(default_factory=list)  # (width, height) per image
    visibility: np.ndarray | None = None
    truncation: np.ndarray | None = None


# ---- reading and validating --------------------------------------------------------------------


def _label_path(image: Path) -> Path:
    """Ultralytics' rule: the last /images/ of the path becomes /labels/, the suffix .txt."""
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def _image_dirs(root: Path, doc: dict | None) -> list[Path]:
    if not doc:
        return [root / "images"]
    base = dataset_root(root / "data.yaml", doc)  # the folder given, even when its `path` names another
    dirs = []
    for key in ("train", "val", "test"):
        entries = doc.get(key) or []
        for e in [entries] if isinstance(entries, str) else entries:
            d = Path(e) if Path(e).is_absolute() else base / e
            if d not in dirs:
                dirs.append(d)
    return dirs


def _names(doc: dict | None, data_yaml: Path, problems: list[Problem]) -> dict[int, str]:
    names = (doc or {}).get("names")
    if isinstance(names, list):
        return dict(enumerate(str(n) for n in names))
    if isinstance(names, dict):
        try:
            return {int(k): str(v) for k, v in names.items()}
        except (TypeError, ValueError):
            pass
    if doc is not None:
        problems.append(Problem(str(data_yaml), None, "`names` must be a list or a mapping of class id → name"))
    return {}


def _parse_line(text: str, n_classes: set[int]) -> tuple[list[float] | None, str | None]:
    """(class, cx, cy, w, h) of a detect or segment line, or the reason it is wrong."""
    fields = text.split()
    try:
        values = [float(v) for v in fields]
    except ValueError:
        return None, f"not numbers: {text.strip()[:60]!r}"
    if not all(math.isfinite(v) for v in values):
        return None, "non-finite value"
    cls = values[0]
    if cls != int(cls) or cls < 0:
        return None, f"class id {fields[0]!r} is not an integer"
    if n_classes and int(cls) not in n_classes:
        return None, f"class id {int(cls)} is not in data.yaml names"
    coords = values[1:]
    if len(coords) == 4:
        cx, cy, w, h = coords
        if w <= 0 or h <= 0:
            return None, f"box width and height must be positive, got w={w} h={h}"
        if min(coords) < -_EPS or cx - w / 2 < -_EPS or cy - h / 2 < -_EPS or cx + w / 2 > 1 + _EPS or cy + h / 2 > 1 + _EPS:
            return None, "box outside the image (normalised coordinates must lie in 0..1)"
        return [cls, cx, cy, w, h], None
    if len(coords) >= 6 and len(coords) % 2 == 0:
        xy = np.asarray(coords).reshape(-1, 2)
        if xy.min() < -_EPS or xy.max() > 1 + _EPS:
            return None, "polygon point outside the image (normalised coordinates must lie in 0..1)"
        (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
        return [cls, (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], None
    return None, f"expected 5 values (class cx cy w h) or a polygon (class x1 y1 x2 y2 x3 y3 ...), got {len(fields)}"


def load_dataset(root: str | Path) -> Dataset:
    """Read and validate a YOLO-format dataset; problems are collected, not raised."""
    root = Path(root)
    if not root.is_dir():
        raise BadInput("not a folder", root)
    ds = Dataset(root.resolve())
    data_yaml = root / "data.yaml"
    doc = None
    if data_yaml.is_file():
        try:
            doc = yaml.safe_load(data_yaml.read_text())
        except yaml.YAMLError as err:
            ds.problems.append(Problem(str(data_yaml), None, f"invalid YAML: {err}"))
        if doc is not None and not isinstance(doc, dict):
            ds.problems.append(Problem(str(data_yaml), None, "expected a mapping"))
            doc = None
    else:
        ds.problems.append(Problem(str(data_yaml), None, "missing: class ids cannot be checked"))
    ds.names = _names(doc, data_yaml, ds.problems)
    classes = set(ds.names)

    dirs = _image_dirs(root, doc)
    images: list[Path] = []
    for d in dirs:
        if not d.is_dir():
            ds.problems.append(Problem(str(d), None, "image folder named in data.yaml does not exist"))
            continue
        images += [f for f in sorted(d.rglob("*")) if f.suffix.lower() in IMAGE_SUFFIXES and f not in images]
    ds.images = images
    expected = {_label_path(f) for f in images}
    for d in {_label_path(d / "x").parent for d in dirs}:
        if d.is_dir():
            for lab in sorted(d.rglob("*.txt")):
                if lab not in expected:
                    ds.problems.append(Problem(str(lab), None, "label file without an image"))

    rows = []
    for n, img in enumerate(images):
        try:
            with Image.open(img) as im:
                ds.sizes.append(im.size)
        except OSError as err:
            ds.problems.append(Problem(str(img), None, f"unreadable image ({err})"))
            ds.sizes.append((0, 0))
        lab = _label_path(img)
        if not lab.is_file():
            ds.problems.append(Problem(str(img), None, f"image without a label file (expected {lab})"))
            continue
        for ln, text in enumerate(lab.read_text(errors="replace").splitlines(), start=1):
            if not text.strip():
                continue
            row, why = _parse_line(text, classes)
            if why:
                ds.problems.append(Problem(str(lab), ln, why))
            else:
                rows.append([n, *row])
    ds.boxes = np.asarray(rows, dtype=float).reshape(-1, 6)
    _read_manifest(ds)
    return ds


def _read_manifest(ds: Dataset) -> None:
    """Visibility and truncation of the labelled (kept) objects, when a synthscene manifest is there."""
    path = ds.root / "manifest.jsonl"
    if not path.is_file():
        return
    vis, trunc = [], []
    for line in path.read_text().splitlines():
        for o in json.loads(line).get("objects", []):
            if o.get("kept") and o.get("visibility") is not None:
                vis.append(o["visibility"])
                trunc.append(o.get("truncation") or 0.0)
    if vis:
        ds.visibility, ds.truncation = np.asarray(vis), np.asarray(trunc)


# ---- statistics -----------------------------------------------------------------------------------


def _image_stats(images: list[Path]) -> dict[str, np.ndarray]:
    return set_image_stats(images)  # the one sample and definition diagnose and refine use (diagnosis/stats.py)


def statistics(ds: Dataset) -> dict[str, np.ndarray]:
    """Named 1-D samples: per box, per image, per labelled object."""
    b = ds.boxes
    sizes = np.asarray(ds.sizes, dtype=float).reshape(-1, 2)
    wh = sizes[b[:, 0].astype(int)] if len(b) else np.zeros((0, 2))
    w_px, h_px = b[:, 4] * wh[:, 0], b[:, 5] * wh[:, 1]
    stats = {
        "box_width_px": w_px,
        "box_height_px": h_px,
        "box_size_px": np.sqrt(w_px * h_px),
        "box_aspect_w_over_h": np.divide(w_px, h_px, out=np.zeros_like(w_px), where=h_px > 0),
        "box_area_fraction": b[:, 4] * b[:, 5],
        "box_center_x": b[:, 2],
        "box_center_y": b[:, 3],
        "objects_per_image": np.bincount(b[:, 0].astype(int), minlength=len(ds.images)).astype(float),
    }
    stats.update(_image_stats(ds.images))
    if ds.visibility is not None:
        stats["visibility"] = ds.visibility
        stats["truncation"] = ds.truncation
    return stats


def class_shares(ds: Dataset) -> dict[str, float]:
    ids, counts = np.unique(ds.boxes[:, 1].astype(int), return_counts=True)
    total = counts.sum() or 1
    shares = {ds.names.get(int(i), str(int(i))): c / total for i, c in zip(ids, counts)}
    return {n: float(shares.get(n, 0.0)) for n in dict.fromkeys([*ds.names.values(), *shares])}


def distances(stats: dict, gold_stats: dict, shares: dict, gold_shares: dict) -> dict[str, float]:
    from scipy.stats import wasserstein_distance

    out = {}
    for name, a in stats.items():
        b = gold_stats.get(name)
        if b is not None and len(a) and len(b):
            out[name] = float(wasserstein_distance(a, b))
    names = set(shares) | set(gold_shares)
    out["class_shares_total_variation"] = 0.5 * sum(abs(shares.get(n, 0) - gold_shares.get(n, 0)) for n in names)
    return out


# ---- plots and report ------------------------------------------------------------------------------


def _plots(out: Path, stats: dict, shares: dict, gold_stats: dict | None, gold_shares: dict | None, labels) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []

    def save(fig, name):
        fig.tight_layout()
        save_figure(fig, out / name, dpi=90)
        plt.close(fig)
        files.append(name)

    # class balance
    names = list(dict.fromkeys([*shares, *(gold_shares or {})]))
    fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(names) + 2), 3.5))
    x = np.arange(len(names))
    width = 0.4 if gold_shares else 0.8
    ax.bar(x - (width / 2 if gold_shares else 0), [shares.get(n, 0) for n in names], width, label=labels[0])
    if gold_shares:
        ax.bar(x + width / 2, [gold_shares.get(n, 0) for n in names], width, label=labels[1])
    ax.set_xticks(x, names, rotation=45, ha="right")
    ax.set_ylabel("share of boxes")
    ax.set_title("class balance")
    ax.legend()
    save(fig, "class_balance.png")

    # box centres, side by side
    sets = [(labels[0], stats)] + ([(labels[1], gold_stats)] if gold_stats else [])
    fig, axes = plt.subplots(1, len(sets), figsize=(4.5 * len(sets), 3.8), squeeze=False)
    for ax, (lab, st) in zip(axes[0], sets):
        ax.hist2d(st["box_center_x"], st["box_center_y"], bins=20, range=[[0, 1], [0, 1]], cmap="viridis")
        ax.invert_yaxis()
        ax.set_title(f"box centres: {lab}")
        ax.set_xlabel("x / width")
        ax.set_ylabel("y / height")
    save(fig, "box_position.png")

    for name, a in stats.items():
        b = gold_stats.get(name) if gold_stats else None
        both = np.concatenate([a, b]) if b is not None else a
        if not len(both):
            continue
        fig, ax = plt.subplots(figsize=(5, 3.2))
        lo, hi = float(np.min(both)), float(np.max(both))
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 31)
        if name == "objects_per_image":
            bins = np.arange(-0.5, max(hi, 1) + 1.5)
        ax.hist(a, bins=bins, density=True, alpha=0.6, label=labels[0])
        if b is not None and len(b):
            ax.hist(b, bins=bins, density=True, alpha=0.6, label=labels[1])
        ax.set_title(name.replace("_", " "))
        ax.set_ylabel("density")
        ax.legend()
        save(fig, f"{name}.png")
    return files


def _describe(a: np.ndarray) -> str:
    if not len(a):
        return "–"
    return f"{np.mean(a):.3g} / {np.median(a):.3g}"


GOLD_SHEET = "gold_sheet.png"


def gold_sheet(gs: Dataset, path: Path) -> int:
    """Write a contact sheet of the gold photos with their boxes to `path` (preview.py's drawing);
    returns how many photos it shows (0: none could be read, nothing written)."""
    import cv2

    from ..generation.preview import photo_sheet

    made = photo_sheet(gs.images, gs.boxes, gs.names)
    if made is None:
        return 0
    ok, png = cv2.imencode(".png", made[0])
    atomic_write(path, png.tobytes())
    return len(made[1])


def inspect_dataset(dataset: str | Path, out: str | Path, gold: str | Path | None = None) -> dict:
    """Write report.md, stats.json and plots into `out`; returns the summary (with the problems)."""
    out = check_out_folder(out, report=("stats.json", "report.md"))
    ds = load_dataset(dataset)
    gs = load_dataset(gold) if gold is not None else None
    out.mkdir(parents=True, exist_ok=True)
    sheet = gold_sheet(gs, out / GOLD_SHEET) if gs else None  # the photos with their boxes, as `preview` draws
    stats, shares = statistics(ds), class_shares(ds)
    gold_stats, gold_shares = (statistics(gs), class_shares(gs)) if gs else (None, None)
    dist = distances(stats, gold_stats, shares, gold_shares) if gs else {}
    tips = advice(stats, gold_stats) if gs else []
    labels = ("dataset", "gold")
    plots = _plots(out, stats, shares, gold_stats, gold_shares, labels)
    comp = composition(ds, gs) if gs else None  # how the objects are laid out (diagnosis/composition.py)
    if comp:
        plots.append(write_figure(comp, out / "composition.png", labels))
        tips += [t for t in comp["advice"] if t["key"] not in {x["key"] for x in tips}]
    problems = [("dataset", p) for p in ds.problems] + ([("gold", p) for p in gs.problems] if gs else [])
    low_contrast = label_contrast(ds.root)  # labels/photometric.py

    lines = [f"# Dataset report: {ds.root}", ""]
    if gs:
        lines += [f"Gold set: {gs.root}", ""]
    lines += ["| | images | boxes | classes |", "| --- | --- | --- | --- |",
              f"| dataset | {len(ds.images)} | {len(ds.boxes)} | {len(ds.names)} |"]
    if gs:
        lines.append(f"| gold | {len(gs.images)} | {len(gs.boxes)} | {len(gs.names)} |")
    lines += ["", "## Statistics", "", "mean / median" + (", and the distance to the gold set "
              "(Wasserstein-1, in the statistic's units; class shares: total variation, 0..1)" if gs else ""), ""]
    header = "| statistic | dataset |" + (" gold | distance |" if gs else "")
    lines += [header, "|" + " --- |" * (header.count("|") - 1)]
    for name, a in stats.items():
        row = f"| {name} | {_describe(a)} |"
        if gs:
            b = gold_stats.get(name)
            d = dist.get(name)
            row += f" {_describe(b) if b is not None else 'n/a'} | {f'{d:.4g}' if d is not None else 'n/a'} |"
        lines.append(row)
    if gs:
        lines.append(f"| class shares | | | {dist['class_shares_total_variation']:.4g} |")
    if gs:
        lines += ["", "## What to change", "",
                  f"Statistics whose median differs from the gold set's by more than {RELATIVE_GAP:.0%} (box "
                  f"position: the spread of box centres by more than {RELATIVE_GAP:.0%}, or the median centre by more "
                  f"than {POSITION_SHIFT:.0%} of the image), with the config key that moves each one "
                  "(docs/RANDOMIZERS.md).", ""]
        lines += [f"- {t['why']}" for t in tips] or ["None: every statistic is within the threshold."]
    if comp:
        lines += [""] + composition_md(comp, with_advice=False)  # its advice is in the list above
    lines += label_contrast_markdown(low_contrast) if low_contrast else []
    lines += ["", "## Class balance (share of boxes)", "", "| class | dataset |" + (" gold |" if gs else ""),
              "| --- | --- |" + (" --- |" if gs else "")]
    for n in dict.fromkeys([*shares, *(gold_shares or {})]):
        lines.append(f"| {n} | {shares.get(n, 0):.3f} |" + (f" {gold_shares.get(n, 0):.3f} |" if gs else ""))
    lines += ["", "## Plots", ""] + [f"![{p[:-4]}]({p})" for p in plots]
    if sheet:
        lines += ["", "## Gold photos", "", f"{sheet} of {len(gs.images)} photos (evenly spaced), with their boxes and "
                  "class names, drawn as `synthscene preview` draws renders:", "", f"![gold photos]({GOLD_SHEET})"]
    lines += ["", f"## Label problems: {len(problems)}", ""]
    lines += [f"- {who}: {p}" for who, p in problems] or ["None: every label file parses, coordinates lie in the "
                                                           "image, class ids are in data.yaml, images and label files pair up."]
    atomic_write(out / "report.md", "\n".join(lines) + "\n")
    summary = {
        "dataset": str(ds.root),
        "gold": str(gs.root) if gs else None,
        "images": len(ds.images),
        "boxes": len(ds.boxes),
        "stats": {k: {"mean": float(np.mean(v)) if len(v) else None, "median": float(np.median(v)) if len(v) else None}
                  for k, v in stats.items()},
        "class_shares": shares,
        "gold_class_shares": gold_shares,
        "distances": dist,
        "advice": tips,
        "composition": to_json(comp) if comp else None,
        "low_contrast": low_contrast,
        "plots": plots,
        "problems": [{"set": who, "file": p.file, "line": p.line, "message": p.message} for who, p in problems],
        "gold_sheet": GOLD_SHEET if sheet else None,
    }
    atomic_write(out / "stats.json", json.dumps(summary, indent=1))
    return summary
