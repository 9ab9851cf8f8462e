"""COCO instances: annotations/instances_{train,val}.json, loadable by pycocotools.

Kept objects only; segmentation as compressed RLE of the visible mask (exact), bbox [x, y, w, h]
of the visible extent, area = visible pixels, iscrowd 0. Extra keys per annotation: visibility,
truncated, truncation and bbox_amodal ([x, y, w, h]). Category ids are class ids + 1.
Images are referenced by file name within images/{split}/.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

from ...core.files import atomic_write
from .base import Writer, part_file, read_parts, register


def xywh(box):
    return None if box is None else [box[0], box[1], box[2] - box[0], box[3] - box[1]]


def rle(frame, k: int) -> dict:
    full = np.asfortranarray((frame.instances == k + 1).astype(np.uint8))
    enc = mask_utils.encode(full)
    return {"size": [int(s) for s in enc["size"]], "counts": enc["counts"].decode("ascii")}


@register
class Coco(Writer):
    name = "coco"
    owns = ("annotations",)

    def image_files(self, frame):
        s = frame.sample
        anns = [
            {
                "category_id": o.class_id + 1,
                "bbox": xywh(o.bbox_xyxy),
                "area": o.pixels_visible,
                "iscrowd": 0,
                "segmentation": rle(frame, k),
                "visibility": o.visibility,
                "truncated": o.truncated,
                "truncation": o.truncation,
                "bbox_amodal": xywh(o.bbox_amodal_xyxy),
            }
            for k, o in enumerate(frame.objects)
            if o.kept
        ]
        image = {"id": s.index, "file_name": f"{s.index:06d}.jpg", "width": s.camera.width, "height": s.camera.height}
        return {part_file(self.name, s.index): json.dumps({"image": image, "annotations": anns})}

    def finish(self, out_dir: Path, config, records) -> None:
        parts = read_parts(out_dir, self.name, records)
        categories = [{"id": i + 1, "name": n, "supercategory": "object"} for i, n in enumerate(config.class_names)]
        for split in ("train", "val"):
            images, anns = [], []
            for i, part in parts.items():
                if records[i]["split"] != split:
                    continue
                images.append(part["image"])
                for a in part["annotations"]:
                    anns.append({"id": len(anns) + 1, "image_id": i, **a})
            doc = {"info": {"description": "synthscene", "version": "1.0"}, "licenses": [],
                   "images": images, "annotations": anns, "categories": categories}
            atomic_write(out_dir / "annotations" / f"instances_{split}.json", json.dumps(doc))
