"""Annotators: what is measured per object in a rendered image, independent of how it is stored."""
from __future__ import annotations

from ..config import DatasetConfig
from ..renderers.pybullet import RenderOutput
from ..scenes.sample import SceneSample
from .boxes import boxes_from_segmentation


def annotate_objects(config: DatasetConfig, sample: SceneSample, render: RenderOutput, uid_of) -> list[dict]:
    """The manifest's `objects`: one entry per target, kept or not.

    Visibility, truncation and the amodal box stay null until they are computed exactly:
    a placeholder would be a lie that filters and users would trust.
    """
    targets = [o for o in sample.objects if o.role == "target"]
    boxes = boxes_from_segmentation(render.segmentation, [uid_of(o) for o in targets])
    min_px = config.labels.min_box_px
    out = []
    for obj, (box, _pixels) in zip(targets, boxes):
        kept = box is not None and box[2] - box[0] >= min_px and box[3] - box[1] >= min_px
        out.append(
            {
                "class_id": obj.class_id,
                "class_name": obj.class_name,
                "asset": obj.asset,
                "bbox_xyxy": box,
                "bbox_amodal_xyxy": None,
                "visibility": None,
                "truncated": None,
                "kept": bool(kept),
                "pose": {"position": obj.position, "quaternion": obj.quaternion},
            }
        )
    return out
