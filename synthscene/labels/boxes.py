"""Boxes from an instance segmentation, as pure numpy: one pass over the image for all objects."""
from __future__ import annotations

import numpy as np
from scipy import ndimage


def boxes_from_segmentation(seg: np.ndarray, ids: list[int]) -> list[tuple[list[int] | None, int]]:
    """For each id: its visible box [x0, y0, x1, y1] in pixel edges (x1, y1 exclusive) and pixel count.

    An id with no visible pixel gets (None, 0).
    """
    if not ids:
        return []
    ids_arr = np.asarray(ids, dtype=np.int64)
    lut = np.zeros(int(max(ids_arr.max(), seg.max(initial=0))) + 2, dtype=np.int32)
    lut[ids_arr + 1] = np.arange(1, len(ids) + 1, dtype=np.int32)
    labels = lut[np.clip(seg, -1, None) + 1]
    counts = np.bincount(labels.ravel(), minlength=len(ids) + 1)
    out = []
    for k, sl in enumerate(ndimage.find_objects(labels, max_label=len(ids)), start=1):
        if sl is None:
            out.append((None, 0))
        else:
            ys, xs = sl
            out.append(([int(xs.start), int(ys.start), int(xs.stop), int(ys.stop)], int(counts[k])))
    return out
