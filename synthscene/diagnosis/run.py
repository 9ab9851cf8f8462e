"""`synthscene diagnose`: read the gold set, the synthetic dataset and the model's predictions, then report.

The I/O around core.diagnose_sets: gold boxes (YOLO labels, plus BOP visibility and viewpoint when
the gold set has them), per-image statistics, synthetic instance statistics (labels + manifest.jsonl),
Ultralytics predictions; and report.md / report.json / plots / contact sheets.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from ..core.errors import BadInput
from ..core.files import atomic_write, check_out_folder, save_figure
from .composition import add_bop, composition, markdown as composition_md, to_json, write_figure
from .core import diagnose_sets
from .guard import flagged
from .stats import IMAGE_STATS, MAX_IMAGES, pick_images, image_stats, set_image_stats, summarise
from .tide import ERRORS, iou_matrix

_SHORT = {"localisation": "loc", "classification": "cls", "background": "bkg", "duplicate": "dup"}
MAX_SYNTHETIC_IMAGES = MAX_IMAGES  # synthetic images whose pixels are read (evenly spaced), as `inspect` does


# ---- gold ----------------------------------------------------------------------------------------


def load_gold_images(gold) -> tuple[list[dict], list[str], bool]:
    """Per gold photo: name, size, statistics, boxes; and whether BOP visibility/viewpoint were found."""
    from ..realdata.gold import bop_dir, load_gold, yolo_rows

    gs = load_gold(gold)
    images = []
    for f in gs.images:
        st = image_stats(f)
        if st is None:
            raise BadInput("unreadable image", f, "--gold")
        h, w = cv2.imread(str(f), cv2.IMREAD_UNCHANGED).shape[:2]
        images.append({"image": f.stem, "file": str(f), "width": w, "height": h, "stats": st,
                       "gold": [{"xyxy": [(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h],
                                 "cls": gs.names[c]} for c, cx, cy, bw, bh in yolo_rows(gs.label_of(f), len(gs.names))],
                       "preds": []})
    bop = bop_dir(gs.root)
    if bop:
        add_bop(images, bop)
    return images, gs.names, bop is not None


# ---- synthetic -----------------------------------------------------------------------------------


def synthetic_instances(dataset) -> list[dict]:
    """Every labelled instance of a YOLO dataset with its box and image statistics, plus visibility and
    viewpoint from a synthscene manifest.jsonl (matched by image file, class id and box)."""
    from .inspect import load_dataset

    root = Path(dataset)
    if not root.is_dir():
        raise BadInput("dataset folder not found", root, "--dataset")
    if not (root / "data.yaml").is_file():
        raise BadInput("not a YOLO dataset folder: no data.yaml", root, "--dataset")
    ds = load_dataset(root)
    if not ds.images:
        raise BadInput("not a YOLO dataset folder: no images in the folders data.yaml names", root / "data.yaml", "--dataset")
    stats = {n: image_stats(ds.images[n]) for n in pick_images(ds.images, MAX_SYNTHETIC_IMAGES)}
    manifest = _manifest_objects(ds.root)
    out = []
    for n, c, cx, cy, bw, bh in ds.boxes:
        n = int(n)
        w, h = ds.sizes[n]
        xyxy = [(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h]
        area = (bw * w) * (bh * h)
        st = stats.get(n) or {}
        gap = min(xyxy[0], xyxy[1], w - xyxy[2], h - xyxy[3])
        inst = {"class": ds.names.get(int(c), str(int(c))), "area": area, "aspect": (bw * w) / (bh * h) if bh else 0.0,
                "border": max(gap, 0) / max(min(w, h), 1), "brightness": st.get("brightness"),
                "contrast": st.get("contrast"), "blur": st.get("blur"),
                "visibility": None, "elevation": None, "azimuth": None}
        rel = ds.images[n].relative_to(ds.root).as_posix() if ds.images[n].is_relative_to(ds.root) else None
        cands = [o for o in manifest.get(rel, []) if o["class_id"] == int(c)]
        if cands:
            iou = iou_matrix([xyxy], [o["bbox_xyxy"] for o in cands])[0]
            k = int(np.argmax(iou))
            if iou[k] >= 0.5:
                inst.update({x: cands[k][x] for x in ("visibility", "elevation", "azimuth")})
        out.append(inst)
    return out


def _manifest_objects(root: Path) -> dict[str, list[dict]]:
    from .stats import viewpoint_from_world

    path = root / "manifest.jsonl"
    out: dict[str, list[dict]] = {}
    if not path.is_file():
        return out
    for n, line in enumerate(path.read_text().splitlines(), 1):
        try:
            rec = json.loads(line)
            cam = rec.get("camera", {}).get("pose", {})
            objs = []
            for o in rec.get("objects", []):
                if not o.get("kept") or o.get("bbox_xyxy") is None:
                    continue
                el = az = None
                if cam.get("position") and o.get("pose"):
                    el, az = viewpoint_from_world(cam["position"], cam["quaternion"], o["pose"]["position"],
                                                  o["pose"]["quaternion"])
                objs.append({"class_id": int(o["class_id"]), "bbox_xyxy": o["bbox_xyxy"],
                             "visibility": o.get("visibility"), "elevation": el, "azimuth": az})
            out[rec["file"]] = objs
        except (ValueError, KeyError, TypeError) as err:
            raise BadInput(f"line {n}: not a manifest record ({type(err).__name__}: {err})", path) from None
    return out


# ---- predictions ---------------------------------------------------------------------------------


def predict(weights, images: list[dict], gold_names: list[str], *, imgsz: int | None = None, device: str = "cpu",
            conf: float = 0.001) -> None:
    """Fill each image's "preds" with Ultralytics' detections (classes by name); weights checked first, offline."""
    from ..realdata.gold import class_map
    from ..train.evaluate import model_names
    from ..train.offline import set_threads, ultralytics

    names = model_names(weights)  # runs check_weights: a pickle that would run code is refused
    class_map(gold_names, names, None, f"the model ({weights})")
    ul = ultralytics()
    set_threads(None)
    model = ul.YOLO(str(weights), task="detect")
    size = imgsz or int(model.overrides.get("imgsz") or 640)
    for im in images:
        r = model.predict(im["file"], imgsz=size, conf=conf, device=device, verbose=False, max_det=100)[0]
        b = r.boxes
        im["preds"] = [{"xyxy": xyxy, "cls": names[int(c)], "score": float(s)}
                       for xyxy, c, s in zip(b.xyxy.cpu().numpy().tolist(), b.cls.cpu().numpy(), b.conf.cpu().numpy())]


def image_stats_record(images: list[dict], dataset) -> dict:
    """Per-image statistics of both sets, summarised (median, range) with the one definition and sample
    `inspect` uses: what `refine` reads for the synthetic median and the gold photos' range."""
    from .inspect import load_dataset

    gold = {k: np.asarray([im["stats"][k] for im in images], float) for k in IMAGE_STATS}
    return {"gold": summarise(gold), "synthetic": summarise(set_image_stats(load_dataset(dataset).images))}


def dataset_config(dataset) -> dict | None:
    """What made the synthetic dataset (its config.resolved.yaml: hash and config), so that `refine` can
    check it is given the same config; None for a YOLO folder synthscene did not write."""
    from ..generation.outdir import RESOLVED, read_resolved

    if not (Path(dataset) / RESOLVED).is_file():
        return None
    doc = read_resolved(Path(dataset))
    return {"config_hash": doc["synthscene"].get("config_hash"), "config": doc.get("config")}


# ---- the command -----------------------------------------------------------------------------------


def diagnose(weights, gold, dataset, out, *, conf: float | None = None, imgsz: int | None = None,
             device: str = "cpu") -> dict:
    """Where `weights` fails on the gold photos and whether `dataset` covers those cases.

    Writes out/report.md, out/report.json, PNG plots and contact sheets; returns report.json's content.
    Every input is checked before `out` is created.
    """
    from .inspect import load_dataset
    from ..train.weights import check_weights

    out = check_out_folder(out, report=("report.json", "report.md"))
    check_weights(weights, "WEIGHTS")
    images, names, has_bop = load_gold_images(gold)
    synthetic = synthetic_instances(dataset)
    predict(weights, images, names, imgsz=imgsz, device=device)
    report = diagnose_sets(images, synthetic, names, conf=conf)
    report.update({"weights": str(Path(weights).resolve()), "gold": str(Path(gold).resolve()),
                   "dataset": str(Path(dataset).resolve()), "dataset_config": dataset_config(dataset),
                   "gold_has_bop": has_bop})
    comp = composition(load_dataset(dataset), load_dataset(gold))  # the same table as `inspect --gold`
    report["composition"] = to_json(comp)
    report["image_stats"] = image_stats_record(images, dataset)
    out.mkdir(parents=True, exist_ok=True)
    files = {im["image"]: im["file"] for im in images}
    report["plots"] = _plots(out, report) + _sheets(out, report, files) + [write_figure(comp, out / "composition.png")]
    atomic_write(out / "report.json", json.dumps(report, indent=1))
    atomic_write(out / "report.md", render_markdown(report))
    return report


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def render_markdown(r: dict) -> str:
    t = r["tide"]["counts"]
    lines = [f"# Diagnosis: {Path(r['weights']).name} on {r['gold']}", "",
             f"Synthetic dataset: {r['dataset']}", "",
             f"{r['images']} gold photos, {r['gold_instances']} gold instances, {r['predictions']} predictions at "
             f"confidence ≥ {r['conf_threshold']:.3f} (best F1); recall {_pct(r['recall'])}, precision "
             f"{_pct(r['precision'])}. {r['synthetic_instances']} synthetic instances.", "",
             "## Errors (TIDE: foreground IoU 0.5, background 0.1)", "",
             "| " + " | ".join(ERRORS) + " | true positives |", "|" + " --- |" * (len(ERRORS) + 1),
             "| " + " | ".join(str(t[e]) for e in ERRORS) + f" | {r['tide']['true_positives']} |", "",
             "False positives by what they hit: " + ", ".join(
                 f"{k.replace('_', ' ')} {v}" for k, v in r["false_positives"].items() if k != "by_class") + ".", ""]
    findings = sorted(flagged(r), key=lambda f: (f[2]["verdict"], f[2]["recall"] if f[2]["recall"] is not None else 1))
    lines += ["## Findings", ""]
    # Split as refine reads them (guard.flagged): a slice the detector finds as well as the rest is a
    # coverage gap, not a failure, and should not be read as one.
    acted, left = [], []
    for d, _, b, act, why in findings:
        line = (f"- **{b['verdict']}** — {d} {b['label']}: {b['n_gold']} gold instances ({_pct(b['gold_share'])} "
                f"of the gold set), recall {_pct(b['recall'])} (overall {_pct(r['recall'])}); "
                f"{_pct(b['synthetic_share'])} of the synthetic instances")
        if act:
            acted.append(line + ".")
        else:
            left.append(f"{line}: {why}.")
    if acted:
        lines += ["Clear failures (recall's 95% interval below the overall recall: what `synthscene refine` acts on where it has a rule):", "",
                  *acted, ""]
    if left:
        lines += ["Not clearly failing (`synthscene refine` leaves these; more data there may still help):", "", *left, ""]
    if not findings:
        lines.append("None: no slice with ≥ 10 gold instances is under-covered or fails clearly more than average.")
    if lines[-1] == "":
        lines.pop()
    th = r["thresholds"]
    lines += ["", f"Verdicts: *too-few* under {th['min_instances']} gold instances; *under-covered* when the synthetic "
              f"share is below {th['under_covered']:.0%} of the gold share; *covered-failing* when recall is more than "
              f"{th['failing_margin'] * 100:.0f} points below the overall recall.", "", "## Slices", ""]
    for d, s in r["slices"].items():
        lines += [f"### {d}" + (" (per image)" if s["per"] == "image" else ""), "",
                  "| bin | gold | recall | precision | gold share | synthetic share | verdict |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for b in s["bins"]:
            lines.append(f"| {b['label']} | {b['n_gold']} | {_pct(b['recall'])} | {_pct(b['precision'])} | "
                         f"{_pct(b['gold_share'])} | {_pct(b['synthetic_share'])} | {b['verdict']} |")
        lines.append("")
    c = r["confusion"]
    lines += ["## Confusion (rows: gold class, or background for false positives on nothing; columns: predicted)", "",
              "| | " + " | ".join(c["cols"]) + " |", "|" + " --- |" * (len(c["cols"]) + 1)]
    lines += [f"| {row} | " + " | ".join(map(str, counts)) + " |" for row, counts in zip(c["rows"], c["counts"])]
    if r.get("composition"):
        lines += [""] + composition_md(r["composition"])
    lines += ["", "## Plots", ""] + [f"![{p[:-4]}]({p})" for p in r["plots"]]
    return "\n".join(lines) + "\n"


def _plots(out: Path, r: dict) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    fig, ax = plt.subplots(figsize=(6, 3.2))
    counts = r["tide"]["counts"]
    ax.bar(list(counts), list(counts.values()), color="tab:red")
    ax.set_title("errors (TIDE)")
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    save_figure(fig, out / "errors.png", dpi=90)
    plt.close(fig)
    files.append("errors.png")
    for name, s in r["slices"].items():
        bins = s["bins"]
        if not any(b["n_gold"] for b in bins):
            continue
        x = np.arange(len(bins))
        fig, ax = plt.subplots(figsize=(max(5, 0.8 * len(bins) + 2), 3.4))
        ax.bar(x - 0.2, [b["gold_share"] for b in bins], 0.4, label="gold share")
        ax.bar(x + 0.2, [b["synthetic_share"] or 0 for b in bins], 0.4, label="synthetic share")
        ax.plot(x, [b["recall"] if b["recall"] is not None else np.nan for b in bins], "ko-", label="recall")
        ax.set_xticks(x, [b["label"] for b in bins], rotation=30, ha="right")
        ax.set_ylim(0, 1.05)
        ax.set_title(name)
        ax.legend(fontsize=7)
        fig.tight_layout()
        save_figure(fig, out / f"slice_{name}.png", dpi=90)
        plt.close(fig)
        files.append(f"slice_{name}.png")
    return files


def _sheets(out: Path, r: dict, files: dict[str, str], n: int = 24, tile: int = 128) -> list[str]:
    """Contact sheets of the worst missed gold instances and false positives, cropped with some context."""
    made = []
    for name, items, color in (("worst_missed.png", r["worst_missed"], (0, 0, 255)),
                               ("worst_false_positives.png", r["worst_false_positives"], (0, 160, 255))):
        tiles = []
        for it in items[:n]:
            img = cv2.imread(files[it["image"]])
            if img is None:
                continue
            x0, y0, x1, y1 = it["xyxy"]
            pad = max(x1 - x0, y1 - y0) * 0.3 + 8
            H, W = img.shape[:2]
            a, b = int(max(0, x0 - pad)), int(max(0, y0 - pad))
            crop = img[b:int(min(H, y1 + pad)), a:int(min(W, x1 + pad))].copy()
            cv2.rectangle(crop, (int(x0) - a, int(y0) - b), (int(x1) - a, int(y1) - b), color, 1)
            s = tile / max(crop.shape[:2])
            crop = cv2.resize(crop, (max(1, int(crop.shape[1] * s)), max(1, int(crop.shape[0] * s))))
            t = np.zeros((tile + 14, tile, 3), np.uint8)
            t[:crop.shape[0], :crop.shape[1]] = crop
            cv2.putText(t, f"{it['class']} {_SHORT.get(it['kind'], it['kind'])}", (2, tile + 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                        (255, 255, 255), 1)
            tiles.append(t)
        if not tiles:
            continue
        cols = 6
        rows = [np.hstack(tiles[i:i + cols] + [np.zeros_like(tiles[0])] * (cols - len(tiles[i:i + cols])))
                for i in range(0, len(tiles), cols)]
        ok, buf = cv2.imencode(".png", np.vstack(rows))
        atomic_write(out / name, buf.tobytes())
        made.append(name)
    return made
