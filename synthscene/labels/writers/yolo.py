"""YOLO detect: labels/{split}/NNNNNN.txt, "class cx cy w h" normalised, the visible box (DESIGN)."""
from __future__ import annotations

from ..manifest import label_file
from ..yolo import detect_lines
from .base import Writer, register


@register
class YoloDetect(Writer):
    name = "yolo"
    owns = ("labels",)

    def image_files(self, frame):
        s = frame.sample
        return {label_file(s.index, s.split): detect_lines(frame.objects, s.camera.width, s.camera.height)}
