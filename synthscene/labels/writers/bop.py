"""BOP: bop/scene_gt.json, scene_camera.json, scene_gt_info.json, keyed by image index (as str).

For pose-estimation users: per image the camera (cam_K, world→camera cam_R_w2c / cam_t_w2c,
depth_scale 1 for the mm depth PNGs) and, per target in manifest order (kept or not), obj_id
(class id + 1), cam_R_m2c (row-major) and cam_t_m2c in millimetres. The model frame is the asset's
visual mesh frame as the URDF places and scales it. scene_gt_info has BOP's bbox_obj (the amodal
box, clipped to the image here), bbox_visib, px_count_all, px_count_visib and visib_fract.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...core.files import atomic_write
from ...geometry.silhouettes import pose_matrix
from .base import Writer, part_file, read_parts, register
from .coco import xywh


def _rt(T: np.ndarray) -> tuple[list[float], list[float]]:
    return [float(x) for x in T[:3, :3].reshape(-1)], [float(x) * 1000.0 for x in T[:3, 3]]


@register
class Bop(Writer):
    name = "bop"
    owns = ("bop",)

    def image_files(self, frame):
        cam = frame.sample.camera
        R_w2c, t_w2c = _rt(np.linalg.inv(pose_matrix(cam.position, cam.quaternion)))
        gt, info = [], []
        for o, T in zip(frame.objects, frame.model_to_camera):
            R, t = _rt(T)
            gt.append({"obj_id": o.class_id + 1, "cam_R_m2c": R, "cam_t_m2c": t})
            info.append({
                "bbox_obj": xywh(o.bbox_amodal_xyxy) or [-1, -1, -1, -1],
                "bbox_visib": xywh(o.bbox_xyxy) or [-1, -1, -1, -1],
                "px_count_all": o.pixels_unoccluded,
                "px_count_valid": o.pixels_visible,
                "px_count_visib": o.pixels_visible,
                "visib_fract": o.visibility,
            })
        camera = {"cam_K": [float(x) for row in cam.K for x in row], "cam_R_w2c": R_w2c, "cam_t_w2c": t_w2c,
                  "depth_scale": 1.0}
        return {part_file(self.name, frame.sample.index): json.dumps({"gt": gt, "camera": camera, "gt_info": info})}

    def finish(self, out_dir: Path, config, records) -> None:
        parts = read_parts(out_dir, self.name, records)
        for key, name in (("gt", "scene_gt"), ("camera", "scene_camera"), ("gt_info", "scene_gt_info")):
            body = ",\n".join(f'  "{i}": {json.dumps(part[key])}' for i, part in parts.items())
            atomic_write(out_dir / "bop" / f"{name}.json", "{\n" + body + "\n}\n")  # one image per line
