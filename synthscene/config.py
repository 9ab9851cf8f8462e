"""The dataset config: a YAML file validated by pydantic, paths resolved relative to the file."""
from __future__ import annotations

import numbers
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_serializer,
    model_validator,
)
from typing_extensions import Annotated

from .core.errors import BadInput
from .core.formats import check_formats
from .randomizers import REGISTRY
from .geometry.camera import intrinsics_from_fov
from .core.schema import (
    MAX_ASSET_COUNT,
    MAX_IMAGE_SIDE,
    MAX_IMAGES,
    MAX_OBJECTS_PER_IMAGE,
    MAX_YAML_NODES,
    Collision,
    IntRange,
    PoseConstraint,
    StrictModel,
    Units,
    check_name,
    name_from_file,
)
from .core.yamlfile import read_yaml
from .core.schema import json_hash, resolve_path

def _existing(value: str, info: ValidationInfo) -> str:
    base = (info.context or {}).get("base_dir")
    p = resolve_path(str(value), base)
    if not p.exists():
        raise ValueError(f"file not found: {p}")
    return str(p)


def _output_path(value: str, info: ValidationInfo) -> str:
    return str(resolve_path(str(value), (info.context or {}).get("base_dir")))


ExistingPath = Annotated[str, AfterValidator(_existing)]
OutputPath = Annotated[str, AfterValidator(_output_path)]


class AssetConfig(StrictModel):
    """One of `urdf:`, `mesh:` (converted, see assets/prepare.py) or `asset:` (a library asset by name)."""

    name: str = Field(min_length=1)
    urdf: ExistingPath | None = None
    mesh: ExistingPath | None = None
    asset: str | None = None
    library: OutputPath | None = None
    class_name: str | None = Field(None, alias="class")
    count: IntRange = (1, 1)
    scale: float = Field(1.0, gt=0)
    allow_external_paths: bool = False  # may the URDF's meshes lie outside its folder?
    units: Units = "m"
    collision: Collision = "vhacd"
    recentre: bool = False
    mass: float | None = Field(None, gt=0)
    # Orientation of a mesh, baked into its conversion (docs/ASSETS.md, "Which way is up"): the mesh
    # axis that points up (None: y for glTF/GLB, z otherwise), then a fixed XYZ-extrinsic rotation.
    up_axis: Literal["z", "y", "x", "-z", "-y", "-x"] | None = None
    rotation_deg: tuple[float, float, float] | None = None
    upright: bool = False  # stands on its base (z up): only its heading is random
    source: str | None = None  # set when resolved: what the URDF was made from
    pose: PoseConstraint | None = None  # rotation constraint; randomizers.pose.per_asset may also set it

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, data):
        if isinstance(data, dict) and "name" not in data and (data.get("asset") or data.get("mesh")):
            name = data.get("asset") or name_from_file(Path(str(data["mesh"])).stem)
            data = {**data, "name": name or "asset"}
        return data

    @model_serializer(mode="wrap")
    def _omit_unset_orientation(self, handler):
        """Leave out orientation keys that are not set, so configs without them hash as before."""
        data = handler(self)
        for key in ("up_axis", "rotation_deg"):
            if isinstance(data, dict) and data.get(key, 0) is None:
                del data[key]
        return data

    @model_validator(mode="after")
    def _one_source(self):
        n = sum(x is not None for x in (self.urdf, self.mesh, self.asset))
        if n != 1:
            raise ValueError("give exactly one of `urdf`, `mesh` or `asset` (a library asset's name)")
        return self

    @field_validator("count")
    @classmethod
    def _count_bounded(cls, v):
        if v[0] < 0 or v[1] > MAX_ASSET_COUNT:
            raise ValueError(f"expected [min, max] with 0 <= min <= max <= {MAX_ASSET_COUNT}, got {list(v)}")
        return v

    @field_validator("name")
    @classmethod
    def _plain_name(cls, v):
        return check_name(v)

    @property
    def cls(self) -> str:
        return self.class_name or self.name


class GroundConfig(StrictModel):
    urdf: ExistingPath = Field("pybullet:plane.urdf", validate_default=True)
    rgba: tuple[float, float, float, float] | None = None


class OneOfGroup(StrictModel):
    """Exactly one of `assets` appears per image (drawn by `weights`, default equal), with its own
    count (at least one copy); the others in the group do not appear."""

    assets: list[str] = Field(min_length=1)
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _weights(self):
        if len(set(self.assets)) != len(self.assets):
            raise ValueError(f"an asset is listed twice in {self.assets}")
        if self.weights is not None:
            if len(self.weights) != len(self.assets):
                raise ValueError(f"weights has {len(self.weights)} values for {len(self.assets)} assets {self.assets}")
            if any(w <= 0 for w in self.weights):
                raise ValueError(f"weights must be positive, got {self.weights}")
        return self


class SceneConfig(StrictModel):
    ground: GroundConfig | None = GroundConfig()
    max_targets: int | None = Field(None, ge=1)  # at most this many targets: a uniform random subset is kept
    one_of: list[OneOfGroup] = []  # choice groups: exactly one asset of each group per image


class Intrinsics(StrictModel):
    fx: float = Field(gt=0)
    fy: float = Field(gt=0)
    cx: float
    cy: float


class CameraConfig(StrictModel):
    width: int = Field(640, ge=16, le=MAX_IMAGE_SIDE)
    height: int = Field(480, ge=16, le=MAX_IMAGE_SIDE)
    fov_deg: float | None = Field(None, gt=0, lt=180)
    intrinsics: Intrinsics | None = None
    near: float = Field(0.01, gt=0)
    far: float = Field(20.0, gt=0)

    @model_validator(mode="after")
    def _one_model(self):
        if self.fov_deg is not None and self.intrinsics is not None:
            raise ValueError("give either fov_deg or intrinsics, not both")
        if self.far <= self.near:
            raise ValueError(f"far ({self.far}) must be greater than near ({self.near})")
        return self

    @property
    def K(self) -> np.ndarray:
        if self.intrinsics is not None:
            i = self.intrinsics
            return np.array([[i.fx, 0, i.cx], [0, i.fy, i.cy], [0, 0, 1]], dtype=float)
        return intrinsics_from_fov(self.fov_deg or 60.0, self.width, self.height)


#: the `randomizers:` section: one key per registered randomizer, in registry order, with its
#: config model and default (randomizers/base.py)
RandomizersConfig = create_model("RandomizersConfig", __base__=StrictModel, __module__=__name__,
                                 **{name: (r.config, r.default) for name, r in REGISTRY.items()})


class LabelsConfig(StrictModel):
    min_box_px: int = Field(4, ge=0)  # objects whose visible box is narrower or lower are not kept
    min_visibility: float = Field(0.1, ge=0, le=1)  # visible ÷ unoccluded pixels below this: not kept (BOP's 10%)
    max_truncation: float = Field(1.0, ge=0, le=1)  # share of the silhouette outside the image above this: not kept
    # contrast of the visible pixels against their surround below this: not kept (labels/photometric.py,
    # LOW_CONTRAST: measured, docs/LABELS.md); 0 keeps all
    min_contrast: float = Field(0.02, ge=0, le=1)

    @model_serializer(mode="wrap")
    def _omit_default_contrast(self, handler):
        """Without `min_contrast` at its default: configs that do not set it dump and hash as before."""
        data = handler(self)
        if isinstance(data, dict) and self.min_contrast == 0.02:
            data.pop("min_contrast", None)
        return data


class OutputConfig(StrictModel):
    dir: OutputPath | None = None
    val_fraction: float = Field(0.2, ge=0, le=1)
    jpeg_quality: int = Field(95, ge=1, le=100)
    formats: list[str] = ["yolo"]  # label writers, see labels/writers/ and docs/LABELS.md

    @field_validator("formats")
    @classmethod
    def _known_formats(cls, v):
        return check_formats(v)


class RendererConfig(StrictModel):
    backend: Literal["auto", "egl", "tiny"] = "auto"


class DatasetConfig(StrictModel):
    seed: int = Field(0, ge=0)
    count: int = Field(100, ge=1, le=MAX_IMAGES)
    classes: list[str] | None = None
    library: OutputPath | None = None  # asset library searched first for `asset:` entries
    assets: list[AssetConfig] = Field(min_length=1)
    scene: SceneConfig = SceneConfig()
    camera: CameraConfig = CameraConfig()
    randomizers: RandomizersConfig = RandomizersConfig()
    labels: LabelsConfig = LabelsConfig()
    output: OutputConfig = OutputConfig()
    renderer: RendererConfig = RendererConfig()
    source: str | None = Field(None, exclude=True)  # the file it came from, for messages
    # Why values differ from the config this one was refined from (`synthscene refine`): free-form,
    # recorded with the dataset but not part of the content hash (it changes no image).
    provenance: list[dict[str, Any]] | None = None
    # Set by assets/prepare.prepare: every asset is a checked, render-ready URDF. Copies keep it
    # (with_overrides changes no asset), so preparing again does nothing.
    _prepared: bool = PrivateAttr(False)

    @model_validator(mode="after")
    def _classes(self):
        names = [a.name for a in self.assets]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"assets: duplicate asset names {dup}")
        occ = self.randomizers.occlusion
        bodies = sum(a.count[1] for a in self.assets) + (occ.distractors[1] + occ.occluders[1] + occ.hands[1] if occ.enabled else 0)
        if bodies > MAX_OBJECTS_PER_IMAGE:
            raise ValueError(f"assets: up to {bodies} objects per image (every asset's maximum count, plus distractors "
                             f"and occluders); at most {MAX_OBJECTS_PER_IMAGE}")
        stray = sorted(set(self.randomizers.pose.per_asset) - set(names))
        if stray:
            raise ValueError(f"randomizers.pose.per_asset: {stray} are not asset names {names}")
        grouped: set[str] = set()
        for i, group in enumerate(self.scene.one_of):
            stray = [n for n in group.assets if n not in names]
            if stray:
                raise ValueError(f"scene.one_of[{i}].assets: {stray} are not asset names {names}")
            twice = [n for n in group.assets if n in grouped]
            if twice:
                raise ValueError(f"scene.one_of[{i}].assets: {twice} already belong to an earlier group (an asset may be in one group)")
            grouped.update(group.assets)
        cap = self.scene.max_targets
        if cap is not None and len(self.scene.one_of) > cap:
            raise ValueError(f"scene.max_targets: {cap} is fewer than the {len(self.scene.one_of)} one_of groups, "
                             "each of which puts one target in every image")
        if self.classes is not None:
            unknown = [a.cls for a in self.assets if a.cls not in self.classes and not (a.asset and a.class_name is None)]
            if unknown:
                raise ValueError(f"assets: classes {unknown} are not in `classes` {self.classes}")
        return self

    @property
    def class_names(self) -> list[str]:
        """Class id → name: the `classes` list, else asset classes in order of first appearance."""
        if self.classes is not None:
            return list(self.classes)
        return list(dict.fromkeys(a.cls for a in self.assets))

    def pose_constraint(self, asset: AssetConfig) -> PoseConstraint | None:
        """The asset's one rotation constraint, from every way a config says it: randomizers.pose.per_asset
        wins over the entry's own `pose:`; the entry's (or its library asset's) `upright: true` adds upright."""
        con = self.randomizers.pose.per_asset.get(asset.name, asset.pose)
        if asset.upright and not (con and con.upright):
            con = (con or PoseConstraint()).model_copy(update={"upright": True})
        return con

    def stands_upright(self, asset: AssetConfig) -> bool:
        con = self.pose_constraint(asset)
        return bool(con and (con.upright or con.mode == "upright"))

    def with_overrides(self, **changes: Any) -> "DatasetConfig":
        """A copy with top-level fields (seed, count) or `output_dir` replaced.

        The one rule for overrides (--count, --seed, generate(count=...), a benchmark's budget): an
        integer field takes an integer (not a bool, not "3"), then the changed config is validated
        by the schema as a whole (its bounds and its rules), as loading it would; BadInput names
        the option (`--count`)."""
        out_dir = changes.pop("output_dir", None)
        updates = {k: v for k, v in changes.items() if v is not None}
        for key, value in updates.items():
            field = type(self).model_fields.get(key)
            if field is None:
                raise TypeError(f"with_overrides: {key!r} is not a top-level config field")
            if field.annotation is int and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
                raise BadInput(f"{key} must be an integer, got {value!r}", None, f"--{key}")
        updates = {k: int(v) if isinstance(v, numbers.Integral) else v for k, v in updates.items()}
        if updates:
            base = Path(self.source).resolve().parent if self.source and Path(self.source).is_file() else None
            try:
                DatasetConfig.model_validate({**self.to_dict(), **updates}, context={"base_dir": base})
            except ValidationError as err:
                given = ", ".join(f"{k}={v}" for k, v in updates.items())
                raise BadInput(f"{'; '.join(_format_errors(err))} (given {given})", None,
                               " / ".join(f"--{k}" for k in updates)) from None
        cfg = self.model_copy(update=updates)
        if out_dir is not None:
            cfg = cfg.model_copy(update={"output": self.output.model_copy(update={"dir": str(Path(out_dir).resolve())})})
        return cfg

    def to_dict(self) -> dict:
        d = self.model_dump(mode="json", by_alias=True, exclude={"source"})
        if d.get("provenance") is None:  # configs without it dump (and hash) as before
            d.pop("provenance", None)
        for name, r in REGISTRY.items():  # so do configs without a randomizer added since (shading)
            if r.omitted_when_default and getattr(self.randomizers, name) == r.default:
                d["randomizers"].pop(name, None)
        return d

    def content_hash(self) -> str:
        """Identifies what the images are: everything but where they are written and why."""
        d = self.to_dict()
        d["output"].pop("dir", None)
        d.pop("provenance", None)
        return json_hash(d)


def _field_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after", "function-before") or str(part).startswith(("function-", "tagged-union")):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def _format_errors(err: ValidationError) -> list[str]:
    lines = []
    for e in err.errors():
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check its spelling and the README's config reference)"
        elif e["type"] == "missing":
            msg = "required field is missing"
        lines.append(f"{_field_path(e['loc']) or '(top level)'}: {msg}")
    return lines


def validation_error(err: ValidationError, source) -> BadInput:
    """One BadInput listing every field the schema rejected, by its path."""
    lines = _format_errors(err)
    return BadInput("; ".join(lines) if len(lines) == 1 else "\n  " + "\n  ".join(lines), source)


def config_from_dict(data: Any, base_dir: Path | str | None = None, source: str = "<config>") -> DatasetConfig:
    """The validated config, nothing converted: assets are made render-ready by
    `assets.prepare.prepare`, which whatever renders calls."""
    if not isinstance(data, dict):
        raise BadInput(f"expected a mapping of config keys, got {type(data).__name__}", source)
    try:
        cfg = DatasetConfig.model_validate(data, context={"base_dir": Path(base_dir) if base_dir else None})
    except ValidationError as err:
        raise validation_error(err, source) from None
    return cfg.model_copy(update={"source": source})


def load_config(path: str | os.PathLike) -> DatasetConfig:
    """Read and validate a dataset config; BadInput names the file and the field on any problem.
    Pure: no mesh is converted, no URDF loaded (that is `synthscene.prepare`)."""
    path = Path(path)
    return config_from_dict(read_yaml(path), path.resolve().parent, str(path))
