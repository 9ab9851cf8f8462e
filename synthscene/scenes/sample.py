"""SceneSample: everything one image depends on, as plain serialisable data.

The manifest records it; rendering the same SceneSample again gives the same image.
"""
from __future__ import annotations

from dataclasses import dataclass, field


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
    aim: dict | None = None  # occluders: placed by the world after settling (randomizers.occlusion)
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
    lighting: dict
    settle: bool = False
    settle_steps: int = 0
    ground: dict = field(default_factory=dict)
    randomization: dict = field(default_factory=dict)  # what each randomizer drew, by name
