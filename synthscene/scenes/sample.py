"""SceneSample: everything one image depends on: the objects, the camera and each randomizer's Draw.

The manifest records it; rendering the same SceneSample again gives the same image.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..randomizers.lighting import LightingDraw
    from ..randomizers.occlusion import OccluderAim


@dataclass
class ObjectSample:
    asset: str
    instance: int  # which loaded copy of the asset (a world holds `max count` copies)
    role: str  # "target" (labelled) or "distractor"
    class_id: int | None
    class_name: str | None
    position: list[float]
    quaternion: list[float]  # x, y, z, w
    appearance: dict = field(default_factory=dict)  # texture / colour overrides
    aim: "OccluderAim | None" = None  # occluders: placed by the world after settling (scenes/occluders.py)
    static: bool = False  # pose modes free / held: kept where sampled, out of the physics settle


@dataclass
class CameraSample:
    K: list[list[float]]
    width: int
    height: int
    near: float
    far: float
    position: list[float]
    quaternion: list[float]  # camera-to-world, OpenCV axes


@dataclass
class SceneSample:
    index: int
    seed: int
    split: str
    camera: CameraSample
    objects: list[ObjectSample]
    draws: dict[str, Any] = field(default_factory=dict)  # each randomizer's Draw, by name (registry order)
    settle: bool = False
    settle_steps: int = 0
    ground: dict = field(default_factory=dict)

    @property
    def lighting(self) -> "LightingDraw":
        return self.draws["lighting"]

    @property
    def randomization(self) -> dict:
        """What each randomizer drew, by name: the manifest's `randomization` field (a draw
        recording None is left out: a randomizer the config does not use)."""
        records = ((name, draw.to_record()) for name, draw in self.draws.items())
        return {name: record for name, record in records if record is not None}
