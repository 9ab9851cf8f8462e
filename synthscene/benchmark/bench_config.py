"""The benchmark config: which synthetic data, which gold set, which arms, and the training budget."""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Union

from pydantic import Field, ValidationError, field_validator, model_validator

from ..config import ExistingPath, OutputPath, validation_error
from ..core.yamlfile import read_yaml
from ..core.errors import BadInput
from ..core.schema import StrictModel, json_hash

ArmKind = Literal["synthetic", "real", "mixed", "finetune", "converged", "targeted", "untargeted", "targeted2",
                  "untargeted2"]
# A second round of added images: each round-2 kind continues from the round-1 arm of this kind.
ROUND2 = {"targeted2": "targeted", "untargeted2": "untargeted"}
Scalar = Union[bool, int, float, str]


class Epochs(StrictModel):
    synthetic: int = Field(10, ge=1)
    real: int = Field(30, ge=1)
    mixed: int = Field(10, ge=1)
    finetune: int = Field(15, ge=1)


class Converged(StrictModel):
    """The real-converged reference: real-only on all pool photos until val mAP stops improving."""

    max_epochs: int = Field(300, ge=1)  # a generous cap
    patience: int = Field(30, ge=1)  # Ultralytics' early stop: epochs without a better val fitness


class Budget(StrictModel):
    """What one profile spends: model, image size, epochs per arm kind, number of synthetic images."""

    model: str = "yolov8n.yaml"
    imgsz: int = Field(416, ge=32)
    batch: int = Field(16, ge=1)
    device: str = "cpu"
    workers: int = Field(2, ge=0)
    threads: int | None = Field(None, ge=1)  # torch CPU threads; None = Ultralytics' default (cpu count - 1)
    # Train with exactly `threads`, never fewer on a busy machine: the same seed gives different
    # weights at another thread count (docs/RESULTS.md), so a benchmark that must
    # reproduce fixes them and pays in wall time when the machine is busy.
    fixed_threads: bool = False
    synthetic_images: int = Field(1000, ge=1)
    render_workers: int = Field(1, ge=1)
    epochs: Epochs = Epochs()
    # Real-only arms train at least this many image presentations, so a run on 10 images is not
    # starved of gradient steps next to one on 100 (epochs = max(epochs, ceil(n / k)), ≤ max_epochs).
    min_real_images_seen: int = Field(0, ge=0)
    min_finetune_images_seen: int = Field(0, ge=0)  # the same floor for the fine-tuning arms
    max_epochs: int = Field(300, ge=1)
    mixed_real_repeat: int = Field(1, ge=1)  # the k real images listed this many times next to the synthetic ones
    args: dict[str, Scalar] = {}  # further Ultralytics train arguments, every arm
    finetune_args: dict[str, Scalar] = {}  # ... and for the fine-tuning arms on top (e.g. a lower lr0)
    real_args: dict[str, Scalar] = {}  # ... and for the real-only arms and the converged reference
    # ... and for the targeted / untargeted arms that continue the synthetic detector: its learning
    # rate had decayed to lr0 × lrf, and starting again at lr0 unsettles it (docs/RESULTS.md, steer).
    continue_args: dict[str, Scalar] = {}
    # Fair arms: every arm trains this many image presentations (epochs = ceil(images_seen / its
    # training images), ≤ max_epochs; an arm whose epochs × images differs is reported unequal).
    # Unset: the epochs table above and the floors (the old, unequal-budget protocol).
    images_seen: int | None = Field(None, ge=1)
    seeds: list[int] | None = Field(None, min_length=1)  # training seeds; None: the config's seed
    # Arm groups (kind-kLABEL, or the kind for synthetic/targeted/untargeted and their round 2) trained once per seed;
    # every other arm trains once, with the first seed.
    seeded_arms: list[str] = ["synthetic", "real-k10", "real-kall", "finetune-k10", "targeted", "untargeted"]
    converged: Converged = Converged()
    # Arm kinds trained like the converged reference instead of to images_seen: until val mAP on the
    # diagnosis split stops improving (`converged`'s patience and cap), best weights kept. The steer
    # profile converges real-only (a reference) and fine-tune (the user's "ten labelled photos").
    converge: list[Literal["real", "finetune"]] = []
    # Validate the synthetic arm on the synthetic val split after every epoch and record the curve
    # (mAP50 per epoch in the arm's record): shows whether its budget let it flatten.
    synthetic_curve: bool = False
    targeted_images: int = Field(0, ge=0)  # M: images the targeted / untargeted arms add to the synthetic ones, per round
    # What the targeted / untargeted arms build on: the synthetic arm (they add their M images to the
    # synthetic ones) or the fine-tuned one (the first real_k photos, listed `mixed_real_repeat` times,
    # + the M images of each round; `finetune_args`): the user's loop once ten photos are labelled
    # (docs/TARGETED.md). Each arm trains `targeted_images_seen` presentations; unset, images_seen
    # (from synthetic: a second full budget) or epochs.finetune (from finetune).
    targeted_from: Literal["synthetic", "finetune"] = "synthetic"
    targeted_images_seen: int | None = Field(None, ge=1)
    bootstrap: int = Field(200, ge=1)  # resamples of the evaluation images for the mAP50 interval

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, v):
        if v is not None and (len(set(v)) != len(v) or min(v) < 0):
            raise ValueError(f"seeds must be distinct and ≥ 0, got {v}")
        return v


class BenchConfig(StrictModel):
    dataset: ExistingPath  # synthetic dataset config (YAML)
    gold: ExistingPath  # real YOLO gold set folder
    seed: int = Field(0, ge=0)
    eval_fraction: float = Field(1 / 3, gt=0, lt=1)  # the held-apart part of the gold set
    # Of the train pool, this fraction is the diagnosis split (targeted arm's diagnosis, the
    # converged arm's val): never trained on, never evaluated on.
    diagnosis_fraction: float = Field(0.0, ge=0, lt=1)
    real_k: list[Union[int, Literal["all"]]] = Field([10, 25, 50, "all"], min_length=1)
    arms: list[ArmKind] = Field(["synthetic", "real", "mixed", "finetune"], min_length=1)
    out: OutputPath | None = None
    profile: str = "cpu"
    profiles: dict[str, Budget] = Field(min_length=1)
    source: str | None = Field(None, exclude=True)

    @field_validator("real_k")
    @classmethod
    def _positive(cls, v):
        bad = [k for k in v if k != "all" and k < 1]
        if bad:
            raise ValueError(f"k must be ≥ 1 or 'all', got {bad}")
        return v

    @model_validator(mode="after")
    def _profile(self):
        if self.profile not in self.profiles:
            raise ValueError(f"profile {self.profile!r} is not one of {sorted(self.profiles)}")
        if "finetune" in self.arms and "synthetic" not in self.arms:
            raise ValueError("arms: finetune starts from the synthetic arm's weights; list `synthetic` too")
        for kind, first in ROUND2.items():
            if kind in self.arms and first not in self.arms:
                raise ValueError(f"arms: {kind} continues from the {first} arm's weights and images; list `{first}` too")
        if {"targeted", "untargeted"} & set(self.arms):
            if "synthetic" not in self.arms:
                raise ValueError("arms: targeted/untargeted start from the synthetic arm's weights; list `synthetic` too")
            if "targeted" in self.arms and not self.diagnosis_fraction:
                raise ValueError("arms: targeted needs a diagnosis split: set diagnosis_fraction > 0")
            bad = [n for n, b in self.profiles.items() if not b.targeted_images]
            if bad:
                raise ValueError(f"arms: targeted/untargeted need targeted_images ≥ 1 in profiles {bad}")
            bad = [n for n, b in self.profiles.items() if b.targeted_from == "finetune" and "finetune" not in self.arms]
            if bad:
                raise ValueError(f"profiles {bad}: targeted_from finetune starts from the fine-tune arm's weights; "
                                 "list `finetune` in arms too")
        bad = [n for n, b in self.profiles.items() if b.converge and not self.diagnosis_fraction]
        if bad:
            raise ValueError(f"profiles {bad}: `converge` stops early on the diagnosis split: set diagnosis_fraction > 0")
        return self

    def budget(self, profile: str | None = None) -> Budget:
        name = profile or self.profile
        if name not in self.profiles:
            raise BadInput(f"no profile {name!r}; the config has {sorted(self.profiles)}", self.source, "--profile")
        return self.profiles[name]

    def content_hash(self, profile: str | None = None) -> str:
        d = self.model_dump(mode="json", exclude={"source", "out", "profiles"})
        d["profile"] = profile or self.profile
        d["budget"] = self.budget(profile).model_dump(mode="json")
        return json_hash(d)


def load_bench_config(path: str | Path) -> BenchConfig:
    path = Path(path)
    data = read_yaml(path, "benchmark config")
    if not isinstance(data, dict):
        raise BadInput("expected a mapping of benchmark config keys", path)
    try:
        cfg = BenchConfig.model_validate(data, context={"base_dir": path.resolve().parent})
    except ValidationError as err:
        raise validation_error(err, path) from None
    return cfg.model_copy(update={"source": str(path)})
