"""Composition: how the objects are laid out in the images, synthetic against the gold set (issue #25).

Shared by `inspect --gold` (stats.json "composition", report.md, composition.png) and `diagnose`
(report.json "composition", report.md). Every statistic is measured the same way on both sets,
from the YOLO boxes (the labelled, visible extents) plus what each set knows beyond them:

per image
  objects_labelled  labelled boxes
  objects_visible   annotated objects with any visible pixel, labelled or not (a synthscene
                    manifest.jsonl: every target, kept or not; BOP scene_gt_info.json beside
                    the gold folder: px_count_visib > 0); absent when a set does not know it
  center_spread     std of the box centres / image diagonal, sqrt(var x + var y) (≥ 2 boxes);
                    low = the objects are concentrated in one part of the image
per labelled instance
  box_size          sqrt(box area) / image diagonal
  visibility        visible fraction (manifest `visibility`; BOP `visib_fract`, matched by box)
  nn_distance       centre distance to the nearest other box of the image, in mean box diagonals
                    of the pair (an image's lone box has none and is left out)
  overlap           1 when the box intersects another box of its image, else 0 (mean = share)
  truncated         1 when the box touches the image border (within BORDER_PX), else 0

The distance per statistic is Wasserstein-1 divided by the gold set's standard deviation (the
pooled one when the gold values do not vary), so the statistics are comparable, with the
two-sample Kolmogorov–Smirnov statistic (0..1, scale-free) beside it. A gap is *clearly large*
when the normalised distance is at least LARGE_W and the KS statistic at least LARGE_KS; only then
does a statistic get advice, naming the config key that moves it and the direction.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import BadInput
from .stats import viewpoint
from .tide import iou_matrix

BORDER_PX = 1.0  # a box edge this close to the image side touches the border
MATCH_IOU = 0.5  # a label and a manifest / BOP box are the same object at this IoU
LARGE_W = 0.5  # normalised Wasserstein-1 at least this ...
LARGE_KS = 0.2  # ... and KS at least this: a clearly large gap
PER_IMAGE = ("objects_labelled", "objects_visible", "center_spread")
PER_INSTANCE = ("box_size", "visibility", "nn_distance", "overlap", "truncated")
STATISTICS = PER_IMAGE + PER_INSTANCE
BINARY = ("overlap", "truncated")
COUNTS = ("objects_labelled", "objects_visible")
VOLUME = "randomizers.pose.volume"

# statistic → (when synthetic is higher: key, direction, how) and (when lower: ...)
RULES = {
    "box_size": (("randomizers.camera.distance", "raise", "farther camera = smaller boxes; in camera mode "
                  "box_size lower randomizers.camera.box_px"),
                 ("randomizers.camera.distance", "lower", "nearer camera = larger boxes; in camera mode "
                  "box_size raise randomizers.camera.box_px")),
    "objects_labelled": (("assets[*].count", "lower the maxima", "or set scene.max_targets"),
                         ("assets[*].count", "raise the maxima", "and scene.max_targets if it caps them")),
    "visibility": (("randomizers.occlusion.occluders", "raise",
                    "and lower randomizers.occlusion.visibility; a smaller randomizers.pose.volume packs the "
                    "objects so they hide each other"),
                   ("randomizers.occlusion.occluders", "lower", "and raise randomizers.occlusion.visibility")),
    "overlap": ((VOLUME, "widen", "objects farther apart overlap less"),
                (VOLUME, "shrink", "objects packed closer overlap more; more targets per image "
                 "(assets[*].count) too")),
    "nn_distance": ((VOLUME, "shrink", "objects packed closer"), (VOLUME, "widen", "objects spread farther apart")),
    "center_spread": ((VOLUME, "shrink", "the objects spread over less of the image"),
                      (VOLUME, "widen", "the objects spread over more of the image")),
    "truncated": (("randomizers.camera.look_at_jitter", "lower", "fewer objects cut by the border"),
                  ("randomizers.camera.look_at_jitter", "raise", "more objects cut by the border")),
}
_WORDS = {"box_size": ("larger", "smaller"), "objects_labelled": ("more", "fewer"),
          "visibility": ("more visible", "more occluded"), "overlap": ("overlap more", "overlap less"),
          "nn_distance": ("farther apart", "closer together"), "center_spread": ("more spread out", "more concentrated"),
          "truncated": ("more often cut by the border", "less often cut by the border")}


@dataclass
class Layout:
    """One image: its labelled boxes (pixels, x0 y0 x1 y1), their visible fractions (NaN: unknown) and
    the number of annotated objects with any visible pixel (None: unknown)."""

    width: float
    height: float
    boxes: np.ndarray
    visibility: np.ndarray
    n_visible: int | None = None


# ---- the statistics, on one image's boxes ---------------------------------------------------------


def _diag(width: float, height: float) -> float:
    return float(np.hypot(width, height)) or 1.0


def box_size(boxes, width: float, height: float) -> np.ndarray:
    """sqrt(area) / image diagonal, per box."""
    b = np.asarray(boxes, float).reshape(-1, 4)
    return np.sqrt(np.clip((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), 0, None)) / _diag(width, height)


def nn_distance(boxes) -> np.ndarray:
    """Per box: centre distance to the nearest other box, over the mean diagonal of the two; NaN when alone."""
    b = np.asarray(boxes, float).reshape(-1, 4)
    if len(b) < 2:
        return np.full(len(b), np.nan)
    c = (b[:, :2] + b[:, 2:]) / 2
    d = np.hypot(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
    dist = np.linalg.norm(c[:, None] - c[None], axis=2) / np.maximum((d[:, None] + d[None]) / 2, 1e-9)
    np.fill_diagonal(dist, np.inf)
    return dist.min(axis=1)


def overlaps(boxes) -> np.ndarray:
    """Per box: 1.0 when it shares a positive area with another box of the image, else 0.0."""
    b = np.asarray(boxes, float).reshape(-1, 4)
    iw = np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0])
    ih = np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1])
    hit = (iw > 0) & (ih > 0)
    np.fill_diagonal(hit, False)
    return hit.any(axis=1).astype(float)


def truncated(boxes, width: float, height: float, tol: float = BORDER_PX) -> np.ndarray:
    """Per box: 1.0 when an edge lies within `tol` pixels of the image side, else 0.0."""
    b = np.asarray(boxes, float).reshape(-1, 4)
    gap = np.minimum.reduce([b[:, 0], b[:, 1], width - b[:, 2], height - b[:, 3]]) if len(b) else np.zeros(0)
    return (gap <= tol).astype(float)


def center_spread(boxes, width: float, height: float) -> float:
    """sqrt(var cx + var cy) of the box centres / image diagonal; NaN with fewer than two boxes."""
    b = np.asarray(boxes, float).reshape(-1, 4)
    if len(b) < 2:
        return float("nan")
    c = (b[:, :2] + b[:, 2:]) / 2
    return float(np.sqrt(c.var(axis=0).sum())) / _diag(width, height)


def samples(layouts: list[Layout]) -> dict[str, np.ndarray]:
    """Each statistic's values over a set (NaN left out); visibility and objects_visible only when known."""
    out: dict[str, list] = {k: [] for k in STATISTICS}
    for im in layouts:
        w, h, b = im.width, im.height, im.boxes
        out["objects_labelled"].append(len(b))
        if im.n_visible is not None:
            out["objects_visible"].append(im.n_visible)
        out["center_spread"].append(center_spread(b, w, h))
        out["box_size"] += box_size(b, w, h).tolist()
        out["visibility"] += im.visibility.tolist()
        out["nn_distance"] += nn_distance(b).tolist()
        out["overlap"] += overlaps(b).tolist()
        out["truncated"] += truncated(b, w, h).tolist()
    arrays = {k: np.asarray(v, float) for k, v in out.items()}
    return {k: v[np.isfinite(v)] for k, v in arrays.items() if np.isfinite(v).any()}


# ---- reading a set ------------------------------------------------------------------------------


def layouts(ds) -> list[Layout]:
    """The layout of every image of an inspection.Dataset, with visibility from a synthscene
    manifest.jsonl in its folder, else from BOP files beside it (realdata.gold.bop_dir)."""
    from ..realdata.gold import bop_dir

    sizes = np.asarray(ds.sizes, float).reshape(-1, 2)
    out = []
    for n, (w, h) in enumerate(sizes):
        r = ds.boxes[ds.boxes[:, 0] == n]
        xyxy = np.column_stack([(r[:, 2] - r[:, 4] / 2) * w, (r[:, 3] - r[:, 5] / 2) * h,
                                (r[:, 2] + r[:, 4] / 2) * w, (r[:, 3] + r[:, 5] / 2) * h])
        out.append(Layout(w, h, xyxy, np.full(len(r), np.nan)))
    classes = [ds.boxes[ds.boxes[:, 0] == n, 1].astype(int) for n in range(len(out))]
    if (ds.root / "manifest.jsonl").is_file():
        _from_manifest(ds, out, classes)
    elif (bop := bop_dir(ds.root)) is not None:
        _from_bop(ds, out, bop)
    return out


def _from_manifest(ds, out: list[Layout], classes: list[np.ndarray]) -> None:
    path = ds.root / "manifest.jsonl"
    records = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        try:
            rec = json.loads(line)
            records[rec["file"]] = rec.get("objects", [])
        except (ValueError, KeyError, TypeError) as err:
            raise BadInput(f"line {n}: not a manifest record ({type(err).__name__}: {err})", path) from None
    for img, im, cls in zip(ds.images, out, classes):
        objs = records.get(img.relative_to(ds.root).as_posix()) if img.is_relative_to(ds.root) else None
        if objs is None:
            continue
        im.n_visible = sum((o.get("visibility") or 0) > 0 for o in objs)
        kept = [o for o in objs if o.get("kept") and o.get("bbox_xyxy") is not None]
        for i, (xyxy, c) in enumerate(zip(im.boxes, cls)):
            cands = [o for o in kept if int(o.get("class_id", -1)) == c]
            if cands:
                iou = iou_matrix([xyxy], [o["bbox_xyxy"] for o in cands])[0]
                k = int(np.argmax(iou))
                if iou[k] >= MATCH_IOU and cands[k].get("visibility") is not None:
                    im.visibility[i] = float(cands[k]["visibility"])


def add_bop(images: list[dict], bop: Path) -> None:
    """Visible fraction and viewpoint of each gold box, from the BOP entry whose visible box overlaps it most
    (diagnose's slices and the composition statistics). images: [{"image": stem, "gold": [{"xyxy"}]}]."""
    from ..realdata.gold import bop_key, read_bop

    gt, info = read_bop(bop)
    for im in images:
        key = bop_key(str(im["image"]))
        poses, infos = gt.get(key, []), info.get(key, [])
        if not poses or len(poses) != len(infos) or not im["gold"]:
            continue
        boxes = [[b[0], b[1], b[0] + b[2], b[1] + b[3]] for b in (i["bbox_visib"] for i in infos)]
        iou = iou_matrix([g["xyxy"] for g in im["gold"]], boxes)
        for g, row in zip(im["gold"], iou):
            k = int(np.argmax(row))
            if row[k] >= MATCH_IOU:
                g["visibility"] = float(infos[k]["visib_fract"])
                g["elevation"], g["azimuth"] = viewpoint(poses[k]["cam_R_m2c"], poses[k]["cam_t_m2c"])


def _from_bop(ds, out: list[Layout], bop: Path) -> None:
    """BOP visib_fract through diagnose's own matcher (add_bop), and the count of visible objects."""
    from ..realdata.gold import bop_key, read_bop

    images = [{"image": f.stem, "gold": [{"xyxy": list(b)} for b in im.boxes]} for f, im in zip(ds.images, out)]
    add_bop(images, bop)
    _, info = read_bop(bop)
    for f, im, rec in zip(ds.images, out, images):
        im.visibility[:] = [g.get("visibility", np.nan) for g in rec["gold"]]
        entries = info.get(bop_key(f.stem))
        if entries is not None:
            im.n_visible = sum((e.get("px_count_visib") or 0) > 0 for e in entries)


def medians(ds) -> dict[str, float]:
    """Each statistic's median over one inspection.Dataset (a gold set or a synthetic dataset): the
    set's layout without a report, e.g. `medians(inspection.load_dataset(gold))` for `init --gold`."""
    return {k: float(np.median(v)) for k, v in samples(layouts(ds)).items()}


# ---- comparing two sets -------------------------------------------------------------------------


def _summary(a: np.ndarray) -> dict:
    return {"n": int(len(a)), "median": float(np.median(a)), "mean": float(np.mean(a))}


def compare(synthetic: dict[str, np.ndarray], gold: dict[str, np.ndarray]) -> dict[str, dict]:
    """Per statistic known to both sets: medians, means, Wasserstein-1 (raw and over the gold std) and KS."""
    from scipy.stats import ks_2samp, wasserstein_distance

    out = {}
    for name in STATISTICS:
        a, b = synthetic.get(name), gold.get(name)
        if a is None or b is None or not len(a) or not len(b):
            continue
        w = float(wasserstein_distance(a, b))
        scale = float(np.std(b)) or float(np.std(np.concatenate([a, b])))
        row = {"per": "image" if name in PER_IMAGE else "instance", "synthetic": _summary(a), "gold": _summary(b),
               "wasserstein": w, "scale": scale, "distance": w / scale if scale else 0.0,
               "ks": float(ks_2samp(a, b).statistic)}
        if name == "visibility":
            row["synthetic"]["share_under_0.9"] = float(np.mean(a < 0.9))
            row["gold"]["share_under_0.9"] = float(np.mean(b < 0.9))
        out[name] = row
    return out


def large(row: dict) -> bool:
    return row["distance"] >= LARGE_W and row["ks"] >= LARGE_KS


def advice(table: dict[str, dict]) -> list[dict]:
    """One entry per statistic with a clearly large gap (same fields as diagnosis.advice's entries)."""
    out = []
    for name, row in table.items():
        if name not in RULES or not large(row):
            continue
        ma, mb = row["synthetic"]["mean"], row["gold"]["mean"]
        if name not in BINARY:
            ma, mb = row["synthetic"]["median"], row["gold"]["median"]
        if ma == mb:  # same median, different shape: the mean says which way
            ma, mb = row["synthetic"]["mean"], row["gold"]["mean"]
        if ma == mb:
            continue
        higher = ma > mb
        key, direction, how = RULES[name][0 if higher else 1]
        word = _WORDS[name][0 if higher else 1]
        what = "share" if name in BINARY else "median"
        out.append({"statistic": name, "synthetic": ma, "gold": mb, "gap": ma - mb, "key": key, "direction": direction,
                    "distance": row["distance"], "ks": row["ks"],
                    "why": f"synthetic objects {word} than in the photos ({name} {what} {ma:.3g} vs {mb:.3g}; "
                           f"distance {row['distance']:.2f} gold std, KS {row['ks']:.2f}): {direction} `{key}` ({how})"})
    return out


def composition(ds, gold_ds) -> dict:
    """The whole comparison of two inspection.Datasets: the table, the advice and the samples (for the plot)."""
    a, b = samples(layouts(ds)), samples(layouts(gold_ds))
    table = compare(a, b)
    return {"statistics": table, "advice": advice(table), "samples": {"synthetic": a, "gold": b},
            "thresholds": {"distance": LARGE_W, "ks": LARGE_KS, "border_px": BORDER_PX}}


# ---- report -------------------------------------------------------------------------------------


def markdown(comp: dict, heading: str = "##", with_advice: bool = True) -> list[str]:
    """The composition section of a report.md: the table and (unless the report lists it elsewhere) the advice."""
    lines = [f"{heading} Composition", "",
             "How the objects are laid out (docs/LABELS.md, inspect): medians (overlap, truncated: shares); distance = "
             "Wasserstein-1 / the gold set's std; KS = Kolmogorov–Smirnov statistic. A gap is clearly large at distance "
             f"≥ {LARGE_W} and KS ≥ {LARGE_KS}.", "",
             "| statistic | per | synthetic | gold | distance | KS |", "| --- | --- | --- | --- | --- | --- |"]
    for name, r in comp["statistics"].items():
        v = "mean" if name in BINARY else "median"
        mark = " **large**" if large(r) else ""
        lines.append(f"| {name} | {r['per']} | {r['synthetic'][v]:.3g} | {r['gold'][v]:.3g} | {r['distance']:.2f}{mark} "
                     f"| {r['ks']:.2f} |")
    vis = comp["statistics"].get("visibility")
    if vis:
        lines += ["", f"Instances under 90% visible: synthetic {vis['synthetic']['share_under_0.9']:.0%}, "
                      f"gold {vis['gold']['share_under_0.9']:.0%}."]
    if with_advice:
        lines += [""] + ([f"- {t['why']}" for t in comp["advice"]] or ["No clearly large composition gap."])
    return lines + [""]


def figure(comp: dict, labels=("synthetic", "gold")):
    """One panel per statistic, the two sets' histograms side by side (densities; shares for 0/1 ones)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in STATISTICS if n in comp["statistics"]]
    cols = 4
    rows = max(1, -(-len(names) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    for ax, name in zip(axes.flat, names):
        a, b = comp["samples"]["synthetic"][name], comp["samples"]["gold"][name]
        r = comp["statistics"][name]
        if name in BINARY:
            x = np.arange(2)
            ax.bar(x - 0.2, [1 - a.mean(), a.mean()], 0.4, label=labels[0])
            ax.bar(x + 0.2, [1 - b.mean(), b.mean()], 0.4, label=labels[1])
            ax.set_xticks(x, ["no", "yes"])
            ax.set_ylabel("share")
        else:
            both = np.concatenate([a, b])
            lo, hi = float(both.min()), float(both.max())
            bins = (np.arange(np.floor(lo) - 0.5, np.ceil(hi) + 1.5) if name in COUNTS
                    else np.linspace(lo, hi if hi > lo else lo + 1, 21))
            ax.hist([a, b], bins=bins, density=True, label=list(labels))
            ax.set_ylabel("density")
        ax.set_title(f"{name} ({r['per']}): d {r['distance']:.2f}, KS {r['ks']:.2f}", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def write_figure(comp: dict, path: Path, labels=("synthetic", "gold")) -> str:
    """composition.png (files.save_figure: atomically, never through a link); returns its file name."""
    import matplotlib.pyplot as plt

    from ..core.files import save_figure

    fig = figure(comp, labels)
    save_figure(fig, path, dpi=80)
    plt.close(fig)
    return Path(path).name


def to_json(comp: dict) -> dict:
    """stats.json / report.json's "composition": everything but the raw samples."""
    return {k: v for k, v in comp.items() if k != "samples"}
