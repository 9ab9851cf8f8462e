"""The diagnosis itself: a pure function of gold boxes, predictions, per-image and synthetic statistics.

No model and no files here, so every rule is testable on hand-made boxes (tests/test_diagnose.py).
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from .stats import Dimension, box_attributes, dimensions, value_of
from .tide import ERRORS, classify_image

MIN_INSTANCES = 10  # a slice with fewer gold instances is reported as too few to be a finding
UNDER_COVERED = 0.5  # synthetic share below this fraction of the gold share: under-covered
FAILING_MARGIN = 0.10  # recall this far below the overall recall: failing


def f1_threshold(images: list[dict]) -> float:
    """The confidence of best F1 over all predictions (greedy score-ordered matching, as TIDE's)."""
    rows, n_gold = [], 0
    for im in images:
        p_out, _ = classify_image(im["preds"], im["gold"])
        rows += [(p["score"], o["kind"] == "tp") for p, o in zip(im["preds"], p_out)]
        n_gold += len(im["gold"])
    if not rows or not n_gold:
        return 0.0
    rows.sort(key=lambda r: -r[0])
    tp = np.cumsum([r[1] for r in rows])
    prec, rec = tp / np.arange(1, len(rows) + 1), tp / n_gold
    f1 = 2 * prec * rec / np.maximum(prec + rec, 1e-9)
    return float(rows[int(np.argmax(f1))][0])


def _instance(box: dict, im: dict, cls: str) -> dict:
    att = {k: float(v[0]) for k, v in box_attributes(box["xyxy"], im["width"], im["height"]).items()}
    att.update({k: im.get("stats", {}).get(k) for k in ("brightness", "contrast", "blur")})
    att["class"] = cls
    for k in ("visibility", "elevation", "azimuth"):
        att[k] = box.get(k)
    return att


def diagnose_sets(images: list[dict], synthetic: list[dict], classes: list[str], conf: float | None = None) -> dict:
    """The diagnosis as plain data (report.json's content).

    images: one dict per gold photo: {"image", "width", "height", "stats": {brightness, contrast, blur},
      "gold": [{"xyxy", "cls", optional "visibility", "elevation", "azimuth"}],
      "preds": [{"xyxy", "cls", "score"}]} (boxes in pixels, classes by name).
    synthetic: one dict per synthetic training instance with the same attribute names as a gold
      instance (class, area, aspect, border, brightness, contrast, blur, visibility, elevation,
      azimuth; None or absent when the dataset does not record it).
    conf: the operating confidence; default the best-F1 one.
    """
    conf = f1_threshold(images) if conf is None else float(conf)
    gold_inst, pred_inst, errors = [], [], Counter()
    confusion: Counter = Counter()
    worst_missed, worst_fp = [], []
    for im in images:
        preds = [p for p in im["preds"] if p["score"] >= conf]
        p_out, g_out = classify_image(preds, im["gold"])
        for g, o in zip(im["gold"], g_out):
            inst = _instance(g, im, g["cls"])
            inst["found"] = o["kind"] == "tp"
            gold_inst.append(inst)
            if o["kind"] == "missed":
                errors["missed"] += 1
            got = preds[o["pred"]]["cls"] if o["kind"] in ("tp", "classification") else "missed"
            confusion[(g["cls"], got)] += 1
            if not inst["found"]:
                best = max((p["score"] for p in im["preds"] if p["cls"] == g["cls"]
                            and _iou1(p["xyxy"], g["xyxy"]) >= 0.5), default=0.0)
                worst_missed.append({"image": im["image"], "xyxy": list(map(float, g["xyxy"])), "class": g["cls"],
                                     "kind": o["kind"], "best_score": float(best), "area": inst["area"]})
        for p, o in zip(preds, p_out):
            if o["kind"] != "tp":
                errors[o["kind"]] += 1
            if o["kind"] == "background":
                confusion[("background", p["cls"])] += 1
            # a prediction takes the attributes of the gold box it matched or overlaps, else its own box's
            src = im["gold"][o["gold"]] if o["gold"] is not None else {"xyxy": p["xyxy"]}
            inst = _instance({**src, "xyxy": src["xyxy"] if o["kind"] == "tp" else p["xyxy"]}, im, p["cls"])
            if o["gold"] is not None:
                for k in ("visibility", "elevation", "azimuth"):
                    inst[k] = src.get(k)
            inst["tp"] = o["kind"] == "tp"
            pred_inst.append(inst)
            if o["kind"] != "tp":
                worst_fp.append({"image": im["image"], "xyxy": list(map(float, p["xyxy"])), "class": p["cls"],
                                 "kind": o["kind"], "score": float(p["score"]),
                                 "hit": im["gold"][o["gold"]]["cls"] if o["gold"] is not None else None})
    n_gold = len(gold_inst)
    n_found = sum(i["found"] for i in gold_inst)
    n_tp = sum(i["tp"] for i in pred_inst)
    recall = n_found / n_gold if n_gold else None
    precision = n_tp / len(pred_inst) if pred_inst else None
    gold_values = {k: [i[k] for i in gold_inst] for k in ("area", "brightness", "contrast", "blur")}
    slices = {d.name: _slice(d, gold_inst, pred_inst, synthetic, recall) for d in dimensions(gold_values, classes)}
    fp_kinds = Counter(f["kind"] for f in worst_fp)
    rows = [*classes, "background"]
    cols = [*classes, "missed"]
    return {
        "conf_threshold": conf,
        "images": len(images),
        "gold_instances": n_gold,
        "predictions": len(pred_inst),
        "synthetic_instances": len(synthetic),
        "recall": recall,
        "precision": precision,
        "tide": {"counts": {e: int(errors.get(e, 0)) for e in ERRORS}, "pos_iou": 0.5, "bg_iou": 0.1,
                 "true_positives": n_tp},
        "false_positives": {"background": fp_kinds["background"],
                            "other_class": fp_kinds["classification"] + fp_kinds["both"],
                            "duplicate": fp_kinds["duplicate"], "localisation": fp_kinds["localisation"],
                            "by_class": dict(Counter(f["class"] for f in worst_fp))},
        "confusion": {"rows": rows, "cols": cols,
                      "counts": [[int(confusion.get((r, c), 0)) for c in cols] for r in rows]},
        "slices": slices,
        "worst_missed": sorted(worst_missed, key=lambda m: -m["area"])[:50],
        "worst_false_positives": sorted(worst_fp, key=lambda f: -f["score"])[:50],
        "thresholds": {"min_instances": MIN_INSTANCES, "under_covered": UNDER_COVERED,
                       "failing_margin": FAILING_MARGIN},
    }


def _iou1(a, b) -> float:
    from .tide import iou_matrix

    return float(iou_matrix([a], [b])[0, 0])


def _slice(dim: Dimension, gold: list[dict], preds: list[dict], synthetic: list[dict], recall: float | None) -> dict:
    g_bins = dim.assign([value_of(dim, i) for i in gold])
    p_bins = dim.assign([value_of(dim, i) for i in preds])
    s_bins = dim.assign([value_of(dim, i) for i in synthetic])
    g_total = sum(b is not None for b in g_bins)
    s_total = sum(b is not None for b in s_bins)
    bins = []
    for name in dim.bins():
        g_sel = [i for i, b in zip(gold, g_bins) if b == name]
        p_sel = [i for i, b in zip(preds, p_bins) if b == name]
        n_s = sum(b == name for b in s_bins)
        rec = sum(i["found"] for i in g_sel) / len(g_sel) if g_sel else None
        prec = sum(i["tp"] for i in p_sel) / len(p_sel) if p_sel else None
        g_share = len(g_sel) / g_total if g_total else 0.0
        s_share = n_s / s_total if s_total else None
        if len(g_sel) < MIN_INSTANCES:
            verdict = "too-few"
        elif s_share is not None and s_share < UNDER_COVERED * g_share:
            verdict = "under-covered"
        elif recall is not None and rec is not None and rec < recall - FAILING_MARGIN:
            verdict = "covered-failing"
        else:
            verdict = "ok"
        bins.append({"label": name, "n_gold": len(g_sel), "n_predictions": len(p_sel), "n_synthetic": int(n_s),
                     "recall": rec, "precision": prec, "gold_share": g_share, "synthetic_share": s_share,
                     "verdict": verdict})
    edges = None if dim.edges is None else [None if np.isinf(e) else float(e) for e in dim.edges]  # None: open end
    return {"per": dim.per, "edges": edges, "gold_with_value": g_total, "synthetic_with_value": s_total, "bins": bins}
