"""ObjectLabel: what is measured of one target in one image (the manifest's `objects` entries).

Filled by the annotators (labels/annotators.py), read by the writers, the image stage and the
preview. `to_record()` gives the manifest dict: its keys and their order are a contract.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class ObjectPose:
    position: list[float]
    quaternion: list[float]  # x, y, z, w


@dataclass(frozen=True)
class ObjectLabel:
    class_id: int
    class_name: str
    asset: str
    bbox_xyxy: list[int] | None  # visible box, end-exclusive pixels; None: not visible
    bbox_amodal_xyxy: list[int] | None = None  # the whole silhouette's box, occluded parts included
    visibility: float | None = None  # visible ÷ unoccluded pixels
    truncated: bool | None = None
    truncation: float | None = None  # share of the silhouette outside the image
    kept: bool | None = None  # passed every filter of LabelsConfig
    dropped: str | None = None  # else the first filter it failed
    pose: ObjectPose | None = None
    pixels_visible: int = 0
    pixels_unoccluded: int | None = None
    luminance: float | None = None  # mean luma of the visible pixels, 0..255 (labels/photometric.py)
    contrast: float | None = None  # against the surrounding pixels, 0..1

    def to_record(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_record(cls, record: dict) -> "ObjectLabel":
        """From a manifest entry (e.g. read back from manifest.jsonl)."""
        pose = record.get("pose")
        return cls(**{**record, "pose": ObjectPose(**pose) if pose is not None else None})
