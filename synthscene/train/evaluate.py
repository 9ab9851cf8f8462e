"""evaluate(): a trained detector against a real YOLO gold set, classes matched by name.

The numbers are Ultralytics' own validation metrics (mAP50, mAP50-95, per-class AP, precision and
recall at the max-F1 confidence). Recall per COCO box-size bucket is added by a validator subclass
that records, for every gold box, the best confidence of a same-class prediction overlapping it at
IoU ≥ 0.5; a box counts as found when that confidence reaches the max-F1 threshold.

The same pass records every prediction (at Ultralytics' validation conf, 0.001 by default, as COCO
evaluation expects) in original pixels, and coco_eval scores them with pycocotools under BOP's
2D-detection convention: the `coco` block, comparable to published LM-O numbers.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from ..core.errors import BadInput
from ..core.files import atomic_write, check_out_file
from .args import EVAL_OWNED, check_args
from .coco_eval import CONVENTIONS, coco_block, declared_convention
from ..realdata.gold import GoldSet, load_gold, write_view
from .offline import set_threads, ultralytics
from .weights import check_weights

SIZE_BUCKETS = {"small": (0, 32**2), "medium": (32**2, 96**2), "large": (96**2, float("inf"))}  # COCO, px²
PR_POINTS = 101


def _validator_class():
    import torch
    from ultralytics.models.yolo.detect import DetectionValidator
    from ultralytics.utils import ops
    from ultralytics.utils.metrics import box_iou

    class SizeRecallValidator(DetectionValidator):
        """Ultralytics' detection validator, also recording (area in original pixels, best matching conf) per gold box."""

        def _process_batch(self, preds, batch):
            out = super()._process_batch(preds, batch)
            gt = batch["bboxes"]
            if gt.shape[0]:
                native = ops.scale_boxes(batch["imgsz"], gt.clone(), batch["ori_shape"], batch["ratio_pad"])
                area = ((native[:, 2] - native[:, 0]) * (native[:, 3] - native[:, 1])).cpu().numpy()
                best = np.zeros(gt.shape[0])
                if preds["cls"].shape[0]:
                    iou = box_iou(gt, preds["bboxes"])
                    ok = (iou >= 0.5) & (batch["cls"][:, None] == preds["cls"][None, :])
                    best = torch.where(ok, preds["conf"][None, :], torch.zeros_like(iou)).amax(1).cpu().numpy()
                self.metrics.gold_boxes.append(np.stack([area, best], 1))
            name = Path(batch["im_file"]).name
            h, w = (int(v) for v in batch["ori_shape"][:2])
            self.metrics.image_sizes[name] = (w, h)
            if preds["cls"].shape[0]:
                scaled = ops.scale_boxes(batch["imgsz"], preds["bboxes"].clone(), batch["ori_shape"], batch["ratio_pad"])
                self.metrics.predictions[name] = {"xyxy": scaled.cpu().numpy().tolist(),
                                                  "conf": preds["conf"].cpu().numpy().tolist(),
                                                  "cls": preds["cls"].cpu().numpy().astype(int).tolist()}
            return out

        def init_metrics(self, model):
            super().init_metrics(model)
            self.metrics.gold_boxes = []
            self.metrics.predictions = {}  # image file name → boxes (xyxy, original px), conf, cls
            self.metrics.image_sizes = {}  # image file name → (width, height)

    return SizeRecallValidator


def _size_recall(gold_boxes: list, conf: float) -> dict:
    boxes = np.concatenate(gold_boxes) if gold_boxes else np.zeros((0, 2))
    out = {}
    for name, (lo, hi) in SIZE_BUCKETS.items():
        sel = boxes[(boxes[:, 0] >= lo) & (boxes[:, 0] < hi)]
        found = (sel[:, 1] > 0) & (sel[:, 1] >= conf)
        out[name] = {"recall": float(found.mean()) if len(sel) else None, "boxes": int(len(sel))}
    return out


def model_names(weights: str | Path) -> list[str]:
    ul = ultralytics()
    p = check_weights(weights, "WEIGHTS")
    try:
        names = ul.YOLO(str(p), task="detect").names
    except Exception as err:  # not a checkpoint Ultralytics can read
        raise BadInput(f"cannot load it as YOLO weights ({type(err).__name__}: {err})", p, "WEIGHTS") from None
    return [names[i] for i in sorted(names)]


def evaluate(
    weights: str | Path,
    gold: str | Path | GoldSet,
    *,
    out: str | Path | None = None,
    images: list[Path] | None = None,
    imgsz: int | None = None,
    batch: int = 16,
    device: str = "cpu",
    box_convention: str | None = None,
    overwrite: bool = False,
    **args,
) -> dict:
    """Metrics of `weights` on the gold set (or on `images`, a subset of it); written as JSON to `out` if given.

    `imgsz` defaults to the size the model was trained at. `args` are Ultralytics' own validation
    arguments (conf, iou, half, max_det, ...), checked against its config and passed on.
    `box_convention` ("visible" or "amodal") chooses the gold boxes of the `coco` block (coco_eval);
    default: the gold data.yaml's `box_convention`, else visible. An existing `out` is kept unless `overwrite`.
    """
    out = check_out_file(out, overwrite) if out is not None else None
    args = check_args({"batch": batch, "device": device, **({"imgsz": imgsz} if imgsz else {}), **args}, EVAL_OWNED)
    gold = gold if isinstance(gold, GoldSet) else load_gold(gold)
    if box_convention is not None and box_convention not in CONVENTIONS:
        raise BadInput(f"expected one of {list(CONVENTIONS)}, got {box_convention!r}", None, "--box-convention")
    declared_convention(gold.root / "data.yaml")  # a bad data.yaml key is refused before the model runs
    names = model_names(weights)
    images = list(images) if images is not None else gold.images
    ul = ultralytics()
    set_threads(None)
    with tempfile.TemporaryDirectory(prefix="synthscene-eval-") as tmp:
        data_yaml = write_view(gold, images, names, Path(tmp) / "gold", what=f"the model ({weights})")
        model = ul.YOLO(str(weights), task="detect")
        args.setdefault("imgsz", int(model.overrides.get("imgsz") or 640))
        imgsz = args["imgsz"]
        settings = {"plots": False, "save_json": False, "verbose": False, "workers": 0, **args}
        validator = _validator_class()
        metrics = model.val(validator=validator, data=str(data_yaml), split="val", project=tmp, name="val",
                            exist_ok=True, **settings)
        coco = coco_block(gold, images, names, metrics.predictions, metrics.image_sizes,
                          conf=float(settings.get("conf") or 0.001), convention=box_convention)
    box = metrics.box
    i = int(np.argmax(_smooth(box.f1_curve.mean(0)))) if len(box.f1_curve) else 0
    conf = float(box.px[i]) if len(box.px) else 0.0
    per_class = {}
    for j, c in enumerate(metrics.ap_class_index):
        p, r, ap50, ap = box.class_result(j)
        per_class[names[int(c)]] = {
            "AP50": float(ap50), "AP50-95": float(ap), "precision": float(p), "recall": float(r),
            "instances": int(metrics.nt_per_class[int(c)]),
        }
    grid = np.linspace(0, 1, PR_POINTS)
    result = {
        "weights": str(Path(weights).resolve()),
        "gold": str(gold.root),
        "images": len(images),
        "instances": int(metrics.nt_per_class.sum()),
        "imgsz": imgsz,
        "mAP50": float(box.map50),
        "mAP50-95": float(box.map),
        "precision": float(box.mp),
        "recall": float(box.mr),
        "conf_threshold": conf,
        "per_class": per_class,
        "recall_by_size": _size_recall(metrics.gold_boxes, conf),
        "coco": coco,
        "pr_curve": {  # precision at recall = grid, IoU 0.5, per class and mean
            "recall": grid.round(3).tolist(),
            "precision": {names[int(c)]: np.interp(grid, box.px, box.prec_values[j]).round(4).tolist()
                          for j, c in enumerate(metrics.ap_class_index)},
        },
    }
    if out is not None:
        atomic_write(out, json.dumps(result, indent=2))
    return result


def _smooth(y: np.ndarray, f: float = 0.1) -> np.ndarray:
    from ultralytics.utils.metrics import smooth

    return smooth(y, f)
