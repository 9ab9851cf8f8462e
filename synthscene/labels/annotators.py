"""Annotators: what is measured per object, independent of how it is stored (labels/writers/).

Each is a function of a Frame, registered under a name and run in registration order; a later one
may use what an earlier one measured. Kubric's lesson: boxes and visibility are plain numpy over
the segmentation (and here, over each object's own rasterised silhouette).
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Callable

import numpy as np

from .boxes import boxes_from_instances, instance_map
from .records import ObjectLabel, ObjectPose
from ..geometry.silhouettes import pose_matrix, rasterise, rigid_inverse

if TYPE_CHECKING:
    from .annotate import Frame

ANNOTATORS: dict[str, Callable[["Frame"], None]] = {}


def annotator(name: str):
    def register(fn):
        ANNOTATORS[name] = fn
        return fn

    return register


@annotator("visible")
def visible(frame: "Frame") -> None:
    """Instance map, visible boxes and pixel counts from the renderer's segmentation."""
    frame.instances = instance_map(frame.render.segmentation, frame.body_ids)
    boxes = boxes_from_instances(frame.instances, len(frame.targets))
    for obj, (box, pixels) in zip(frame.targets, boxes):
        frame.objects.append(ObjectLabel(obj.class_id, obj.class_name, obj.asset, box,
                                         pose=ObjectPose(obj.position, obj.quaternion), pixels_visible=pixels))


def _union_box(a, b):
    if a is None or b is None:
        return a or b
    return [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]


@annotator("amodal")
def amodal(frame: "Frame") -> None:
    """Visibility, amodal box and truncation from each object's unoccluded silhouette.

    The unoccluded region is the silhouette united with the visible pixels: a visible pixel is
    unoccluded by definition, so a pixel of disagreement at an edge can never push visibility over 1.
    """
    cam = frame.sample.camera
    cam_T = pose_matrix(cam.position, cam.quaternion)
    cam_inv = rigid_inverse(cam_T)
    for k, (obj, rec) in enumerate(zip(frame.targets, frame.objects), start=1):
        mesh = frame.meshes[obj.asset]
        body_T = pose_matrix(obj.position, obj.quaternion)
        frame.model_to_camera.append(cam_inv @ body_T @ mesh.model_in_body)
        sil = rasterise(mesh, body_T, cam_T, cam.K, cam.width, cam.height, cam.near)
        visible = missed = rec.pixels_visible  # visible pixels the silhouette does not cover
        if sil.pixels and visible:
            h, w = sil.mask.shape
            crop = frame.instances[sil.y0:sil.y0 + h, sil.x0:sil.x0 + w] == k
            missed = visible - int(np.count_nonzero(crop)) + int(np.count_nonzero(crop & (sil.mask == 0)))
        unoccluded = sil.pixels + missed
        frame.objects[k - 1] = replace(rec, pixels_unoccluded=unoccluded,
                                       visibility=round(visible / unoccluded, 4) if unoccluded else 0.0,
                                       bbox_amodal_xyxy=_union_box(sil.box, rec.bbox_xyxy),
                                       truncated=sil.truncated, truncation=round(sil.truncation, 4))


@annotator("photometric")
def photometric(frame: "Frame") -> None:
    """Luminance and contrast of each object's visible pixels against their surround (labels/photometric.py)."""
    from .photometric import measure_all

    for k, (lum, con) in enumerate(measure_all(frame.render.rgb, frame.instances, len(frame.objects))):
        frame.objects[k] = replace(frame.objects[k], luminance=lum, contrast=con)


@annotator("filter")
def keep(frame: "Frame") -> None:
    """`kept` and, when not, `dropped` (the first filter of LabelsConfig the object failed)."""
    cfg = frame.config.labels
    for k, rec in enumerate(frame.objects):
        box = rec.bbox_xyxy
        reason = None
        if box is None:
            reason = "not_visible"
        elif box[2] - box[0] < cfg.min_box_px or box[3] - box[1] < cfg.min_box_px:
            reason = "min_box_px"
        elif rec.visibility < cfg.min_visibility:
            reason = "min_visibility"
        elif rec.truncation > cfg.max_truncation:
            reason = "max_truncation"
        elif rec.contrast is not None and rec.contrast < cfg.min_contrast:
            reason = "min_contrast"
        frame.objects[k] = replace(rec, kept=reason is None, dropped=reason)
