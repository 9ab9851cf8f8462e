"""Boxes from an instance segmentation, as pure numpy: one pass over the image for all objects."""
from __future__ import annotations

import numpy as np
from scipy import ndimage


def instance_map(seg: np.ndarray, ids: list[int]) -> np.ndarray:
    """(H, W) int32: k where seg shows ids[k - 1], 0 elsewhere."""
    ids_arr = np.asarray(ids, dtype=np.int64)
    lut = np.zeros(int(max(ids_arr.max(initial=0), seg.max(initial=0))) + 2, dtype=np.int32)
    lut[ids_arr + 1] = np.arange(1, len(ids) + 1, dtype=np.int32)
    return lut[np.clip(seg, -1, None) + 1]


def boxes_from_instances(labels: np.ndarray, n: int) -> list[tuple[list[int] | None, int]]:
    """For instances 1..n: the visible box [x0, y0, x1, y1] in pixel edges (x1, y1 exclusive) and pixel count.

    An instance with no visible pixel gets (None, 0).
    """
    counts = np.bincount(labels.ravel(), minlength=n + 1)
    out = []
    for k, sl in enumerate(ndimage.find_objects(labels, max_label=n), start=1):
        if sl is None:
            out.append((None, 0))
        else:
            ys, xs = sl
            out.append(([int(xs.start), int(ys.start), int(xs.stop), int(ys.stop)], int(counts[k])))
    return out


def boxes_from_segmentation(seg: np.ndarray, ids: list[int]) -> list[tuple[list[int] | None, int]]:
    """boxes_from_instances of seg's body ids `ids`."""
    if not ids:
        return []
    return boxes_from_instances(instance_map(seg, ids), len(ids))
