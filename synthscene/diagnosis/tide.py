"""TIDE's error classification (Bolya et al., ECCV 2020) for boxes, on pycocotools' IoU.

tidecv 1.0.1 (the last release, 2021) is not installed here and the venv is shared, so its rules
are re-implemented as its `TIDERun._eval_image` states them, counting errors (not the ΔAP of
fixing them): predictions are matched greedily by score to unused same-class gold boxes at
IoU ≥ 0.5 (foreground); an unmatched prediction is then, in this order,
  localisation  same-class IoU in [0.1, 0.5] with some gold box,
  classification  IoU ≥ 0.5 with a gold box of another class,
  duplicate  IoU ≥ 0.5 with a same-class gold box already matched,
  background  IoU ≤ 0.1 with every gold box,
  both  anything else (wrong class and badly placed);
an unmatched gold box that no localisation or classification error points at is missed.
"""
from __future__ import annotations

import numpy as np
from pycocotools import mask as mask_utils

POS_IOU = 0.5
BG_IOU = 0.1
ERRORS = ("classification", "localisation", "both", "duplicate", "background", "missed")


def iou_matrix(pred_xyxy, gold_xyxy) -> np.ndarray:
    """IoU [n_pred, n_gold] of pixel boxes, by pycocotools (the COCO definition)."""
    p = np.asarray(pred_xyxy, float).reshape(-1, 4)
    g = np.asarray(gold_xyxy, float).reshape(-1, 4)
    if not len(p) or not len(g):
        return np.zeros((len(p), len(g)))
    xywh = lambda b: np.column_stack([b[:, :2], b[:, 2:] - b[:, :2]])  # noqa: E731
    return np.asarray(mask_utils.iou(xywh(p), xywh(g), [0] * len(g)), float).reshape(len(p), len(g))


def classify_image(preds: list[dict], gold: list[dict]) -> tuple[list[dict], list[dict]]:
    """TIDE outcome of one image: (per prediction, per gold box), each in input order.

    preds: {"xyxy", "cls", "score"}; gold: {"xyxy", "cls"}. A prediction gets "kind" ("tp" or an
    error name) and "gold" (the index of the gold box it matched or blamed, or None); a gold box
    gets "kind" ("tp", "missed", or the error — localisation, classification — that would have
    found it) and "pred".
    """
    order = sorted(range(len(preds)), key=lambda i: -preds[i]["score"])
    pcls = np.array([preds[i]["cls"] for i in order], dtype=object)
    gcls = np.array([g["cls"] for g in gold], dtype=object)
    iou = iou_matrix([preds[i]["xyxy"] for i in order], [g["xyxy"] for g in gold])
    same = pcls[:, None] == gcls[None, :] if len(gold) and len(order) else np.zeros(iou.shape, bool)
    cls_iou = iou * same
    p_out = [{"kind": None, "gold": None} for _ in preds]
    g_out = [{"kind": "missed", "pred": None} for _ in gold]
    used = np.zeros(len(gold), bool)
    buf = cls_iou.copy()
    for r, i in enumerate(order):
        if not len(gold):
            break
        j = int(np.argmax(buf[r]))
        if buf[r, j] >= POS_IOU:
            used[j] = True
            buf[:, j] = 0
            p_out[i] = {"kind": "tp", "gold": j}
            g_out[j] = {"kind": "tp", "pred": i}
    blamed: dict[int, str] = {}  # gold box → the first (highest-scoring) error that would have found it
    noncls = iou * ~same if len(gold) else iou
    used_cls = cls_iou * used[None, :]
    for r, i in enumerate(order):
        if p_out[i]["kind"] == "tp":
            continue
        if not len(gold):
            p_out[i] = {"kind": "background", "gold": None}
            continue
        j = int(np.argmax(cls_iou[r]))
        if BG_IOU <= cls_iou[r, j] <= POS_IOU:
            kind = "localisation"
        elif noncls[r].max() >= POS_IOU:
            j = int(np.argmax(noncls[r]))
            kind = "classification"
        elif used_cls[r].max() >= POS_IOU:
            kind, j = "duplicate", int(np.argmax(used_cls[r]))
        elif iou[r].max() <= BG_IOU:
            kind, j = "background", None
        else:
            kind, j = "both", int(np.argmax(iou[r]))
        p_out[i] = {"kind": kind, "gold": j}
        if kind in ("localisation", "classification") and not used[j]:
            blamed.setdefault(j, i)
    for j, i in blamed.items():
        g_out[j] = {"kind": p_out[i]["kind"], "pred": i}
    return p_out, g_out
