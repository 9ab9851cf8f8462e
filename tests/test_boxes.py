from __future__ import annotations

import numpy as np

from synthscene.labels.boxes import boxes_from_segmentation
from synthscene.labels.records import ObjectLabel
from synthscene.labels.yolo import detect_lines


def test_boxes_are_pixel_edge_extents_with_counts():
    seg = np.full((10, 12), -1, dtype=np.int32)
    seg[2:5, 3:9] = 7  # 3 rows × 6 cols
    seg[6, 0] = 2  # a single pixel at the border
    seg[8:10, 10:12] = 0  # the ground plane, not asked for
    out = boxes_from_segmentation(seg, [7, 2, 5])
    assert out[0] == ([3, 2, 9, 5], 18)
    assert out[1] == ([0, 6, 1, 7], 1)
    assert out[2] == (None, 0)  # not visible at all


def test_occluded_object_box_covers_only_visible_pixels():
    seg = np.full((20, 20), -1, dtype=np.int32)
    seg[5:15, 5:15] = 3
    seg[5:15, 10:15] = 4  # the right half is hidden by body 4
    (box3, n3), (box4, n4) = boxes_from_segmentation(seg, [3, 4])
    assert box3 == [5, 5, 10, 15] and n3 == 50
    assert box4 == [10, 5, 15, 15] and n4 == 50


def test_boxes_of_no_ids_and_of_large_ids():
    seg = np.zeros((4, 4), dtype=np.int32)
    assert boxes_from_segmentation(seg, []) == []
    seg[1, 1] = 1000
    assert boxes_from_segmentation(seg, [1000]) == [([1, 1, 2, 2], 1)]


def test_yolo_lines_normalise_the_box_and_skip_filtered_objects():
    objs = [
        ObjectLabel(2, "c", "a", [10, 20, 50, 60], kept=True),
        ObjectLabel(1, "b", "a", [0, 0, 2, 2], kept=False),
        ObjectLabel(0, "a", "a", None, kept=False),
    ]
    assert detect_lines(objs, 100, 80) == "2 0.300000 0.500000 0.400000 0.500000\n"
