"""COCO AP (pycocotools) of detections on a gold set, under BOP's 2D-detection convention.

BOP scores 2D detection with COCO AP over IoU .5:.95 and *ignores* gold instances less than 10%
visible: a detection matched to one is neither a true nor a false positive, and missing one is no
miss. pycocotools' COCOeval overwrites a ground truth's `ignore` with its `iscrowd` flag, and a
crowd box changes the IoU (intersection over the detection's area); `_IgnoringCOCOeval` keeps the
ordinary IoU and honours our own `bop_ignore` flag instead, so ignoring follows COCOeval's own
`_ignore` path (ignored gts are matched last; detections matched to them are dropped).

Box conventions: "visible" boxes (BOP `bbox_visib`, synthscene's YOLO labels) or "amodal" boxes
(BOP `bbox_obj`, the full extent as if unoccluded, clipped to the image here as detectors output
clipped boxes). A gold set with BOP annotations (bop/ beside or inside it: scene_gt.json,
scene_gt_info.json) can be scored in either; a plain YOLO gold set is scored as its labels are,
without ignores.
"""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

from ..core.errors import BadInput
from ..realdata.gold import bop_dir, bop_key, read_bop, read_data_yaml, yolo_rows

CONVENTIONS = ("visible", "amodal")
MIN_VISIB_FRACT = 0.1  # BOP: instances under 10% visible are ignored
STATS = ["AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large",
         "AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large"]


def _cocoeval_class():
    from pycocotools.cocoeval import COCOeval

    class _IgnoringCOCOeval(COCOeval):
        """COCOeval that keeps a ground truth's `bop_ignore` flag (plain COCOeval resets `ignore` to `iscrowd`)."""

        def _prepare(self):
            super()._prepare()
            for gts in self._gts.values():
                for g in gts:
                    g["ignore"] = int(bool(g.get("ignore")) or bool(g.get("bop_ignore")))

    return _IgnoringCOCOeval


def coco_scores(image_ids: list[int], gts: list[dict], dets: list[dict], category_ids: list[int]) -> dict:
    """COCO box metrics (AP@[.5:.95], AP50, AP75, AP by size, AR@1/10/100) of `dets` against `gts`.

    gts: {"image_id", "category_id", "bbox": [x, y, w, h] px, "ignore": bool}; dets: {"image_id",
    "category_id", "bbox", "score"}. Images with no gold box still count their detections as false
    positives. A metric with nothing to measure (no gold box of that size) is None.
    """
    from pycocotools.coco import COCO

    def coco(anns: list[dict]) -> COCO:
        c = COCO()
        c.dataset = {"images": [{"id": int(i)} for i in image_ids],
                     "categories": [{"id": int(k), "name": str(k)} for k in category_ids],
                     "annotations": anns}
        with contextlib.redirect_stdout(io.StringIO()):
            c.createIndex()
        return c

    def ann(n: int, a: dict, **extra) -> dict:
        x, y, w, h = (float(v) for v in a["bbox"])
        return {"id": n + 1, "image_id": int(a["image_id"]), "category_id": int(a["category_id"]),
                "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0, **extra}

    gt = coco([ann(n, g, bop_ignore=int(bool(g.get("ignore")))) for n, g in enumerate(gts)])
    dt = coco([ann(n, d, score=float(d["score"])) for n, d in enumerate(dets)])
    if not any(not g.get("ignore") for g in gts):
        return {k: None for k in STATS}
    ev = _cocoeval_class()(gt, dt, "bbox")
    ev.params.imgIds = [int(i) for i in image_ids]
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress and table
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {k: (None if v < 0 else round(float(v), 5)) for k, v in zip(STATS, ev.stats)}


# ---- gold boxes ---------------------------------------------------------------------------------


def _iou(a: list[float], b: list[float]) -> float:
    """IoU of two [x, y, w, h] boxes, pycocotools' definition (what the scoring itself uses)."""
    from pycocotools import mask as mask_utils

    return float(mask_utils.iou([a], [b], [0])[0][0])


def declared_convention(data_yaml: Path) -> str | None:
    """`box_convention: visible|amodal` in the gold set's data.yaml, if it says."""
    value = read_data_yaml(data_yaml).get("box_convention")
    if value is not None and value not in CONVENTIONS:
        raise BadInput(f"box_convention must be one of {list(CONVENTIONS)}, got {value!r}", data_yaml, "box_convention")
    return value


def gold_boxes(gold, images: list[Path], sizes: dict[str, tuple[int, int]], names: list[str],
               convention: str | None = None) -> tuple[list[dict], dict]:
    """COCO ground truth for `images` of a GoldSet, class ids in the order of `names` (the model's).

    Returns (gts with image_id = position in `images`, info for the report). `sizes` maps an image's
    file name to its (width, height).
    """
    if convention is not None and convention not in CONVENTIONS:
        raise BadInput(f"expected one of {list(CONVENTIONS)}, got {convention!r}", None, "--box-convention")
    declared = declared_convention(gold.root / "data.yaml")
    to_model = {i: names.index(n) for i, n in enumerate(gold.names)}  # write_view has checked every name exists
    labels = {}
    for k, img in enumerate(images):
        w, h = sizes[img.name]
        labels[k] = [(to_model[c], [(cx - bw / 2) * w, (cy - bh / 2) * h, bw * w, bh * h])
                     for c, cx, cy, bw, bh in yolo_rows(gold.label_of(img), len(gold.names))]
    bop = bop_dir(gold.root)
    if bop is None:
        if convention and declared and convention != declared:
            raise BadInput(f"the gold set's labels are {declared} boxes (data.yaml box_convention) and it has no BOP "
                           f"annotations to take {convention} boxes from", gold.root / "data.yaml", "box_convention")
        conv = declared or convention or "visible"
        gts = [{"image_id": k, "category_id": c, "bbox": b, "ignore": False} for k, ls in labels.items() for c, b in ls]
        return gts, {"box_convention": conv, "box_source": "YOLO labels" + (" (data.yaml box_convention)" if declared else ""),
                     "ignored_instances": 0,
                     "note": "no BOP annotations (scene_gt.json, scene_gt_info.json) beside the gold set: "
                             "scored without ignored instances; every labelled box counts"}
    conv = convention or declared or "visible"
    scene_gt, scene_info = read_bop(bop)
    per_image = {}
    votes: dict[int, dict[int, int]] = {}
    for k, img in enumerate(images):
        key = bop_key(img.stem)
        poses, infos = scene_gt.get(key, []), scene_info.get(key, [])
        if len(poses) != len(infos):
            raise BadInput(f"image {key}: scene_gt.json and scene_gt_info.json list different instance counts", bop, key)
        per_image[k] = list(zip(poses, infos))
        for pose, inf in per_image[k]:  # BOP object id → class, from the labels the visible boxes match
            if inf["visib_fract"] >= MIN_VISIB_FRACT and labels[k]:
                c, b = max(labels[k], key=lambda cb: _iou(cb[1], inf["bbox_visib"]))
                if _iou(b, inf["bbox_visib"]) >= 0.5:
                    v = votes.setdefault(int(pose["obj_id"]), {})
                    v[c] = v.get(c, 0) + 1
    obj_class = {o: max(v, key=v.get) for o, v in votes.items()}
    gts, ignored, unmapped = [], 0, 0
    for k, img in enumerate(images):
        w, h = sizes[img.name]
        if conv == "visible":  # the labels themselves, plus BOP's ignored instances
            gts += [{"image_id": k, "category_id": c, "bbox": b, "ignore": False} for c, b in labels[k]]
        for pose, inf in per_image[k]:
            ignore = inf["visib_fract"] < MIN_VISIB_FRACT
            if conv == "visible" and not ignore:
                continue
            x, y, bw, bh = inf["bbox_visib" if conv == "visible" else "bbox_obj"]
            x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + bw), min(h, y + bh)  # clipped to the image
            if x1 <= x0 or y1 <= y0:
                continue  # nothing of it in the picture
            cls = obj_class.get(int(pose["obj_id"]))
            if cls is None:
                unmapped += 1
                continue
            gts.append({"image_id": k, "category_id": cls, "bbox": [x0, y0, x1 - x0, y1 - y0], "ignore": ignore})
            ignored += ignore
    note = (f"BOP convention: {ignored} gold instances under {MIN_VISIB_FRACT:.0%} visible (scene_gt_info.json "
            "visib_fract) are ignored, neither misses nor false positives")
    if unmapped:
        note += f"; {unmapped} BOP instances of objects no label identifies were left out"
    source = "YOLO labels (= BOP bbox_visib) + BOP bbox_visib of ignored instances" if conv == "visible" \
        else "BOP bbox_obj, clipped to the image"
    return gts, {"box_convention": conv, "box_source": source, "ignored_instances": ignored, "note": note}


def coco_block(gold, images: list[Path], names: list[str], preds: dict[str, dict], sizes: dict[str, tuple[int, int]],
               conf: float, convention: str | None = None) -> dict:
    """The `coco` block of evaluate's JSON: metrics plus how they were computed."""
    gts, info = gold_boxes(gold, images, sizes, names, convention)
    ids = {img.name: k for k, img in enumerate(images)}
    dets = []
    for name, p in preds.items():
        for (x0, y0, x1, y1), s, c in zip(p["xyxy"], p["conf"], p["cls"]):
            dets.append({"image_id": ids[name], "category_id": int(c), "bbox": [x0, y0, x1 - x0, y1 - y0], "score": s})
    scores = coco_scores(list(range(len(images))), gts, dets, list(range(len(names))))
    return {**scores, "instances": sum(not g["ignore"] for g in gts), **info, "detections": len(dets),
            "conf": conf, "iou_thresholds": [0.5, 0.95, 0.05], "max_dets": 100, "library": "pycocotools"}
