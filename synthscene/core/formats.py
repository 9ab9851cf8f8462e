"""The label formats a config may name in `output.formats`. Each is a writer of labels/writers/
registered under the same name (its `register` refuses any other name, and tests/test_labels.py
checks the registry against this list), so the config checks formats without importing writers."""
from __future__ import annotations

FORMATS = ("bop", "coco", "depth", "masks", "yolo", "yolo_seg")


def check_formats(names: list[str]) -> list[str]:
    unknown = [n for n in names if n not in FORMATS]
    if unknown:
        raise ValueError(f"unknown formats {unknown}; known: {sorted(FORMATS)}")
    if "yolo" not in names:
        raise ValueError("yolo (detect labels, data.yaml) is always written: keep `yolo` in the list")
    return list(dict.fromkeys(names))
