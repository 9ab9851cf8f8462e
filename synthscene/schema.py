"""Building blocks of the config schema shared by config.py and the randomizers' own configs."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _range(value: Any, integer: bool) -> tuple:
    kind = "integers" if integer else "numbers"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value, value]
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"expected [min, max] with min <= max (two {kind}), got {value!r}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and float(v) != int(v)):
            raise ValueError(f"expected [min, max] with min <= max (two {kind}), got {value!r}")
        out.append(int(v) if integer else float(v))
    if out[0] > out[1]:
        raise ValueError(f"expected [min, max] with min <= max, got {value!r}")
    return tuple(out)


def _vec3(value: Any) -> tuple:
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 3
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        raise ValueError(f"expected [x, y, z] (three numbers), got {value!r}")
    return tuple(float(v) for v in value)


#: [min, max] of floats; a single number means a fixed value.
Range = Annotated[tuple[float, float], BeforeValidator(lambda v: _range(v, False))]
#: [min, max] of integers, both inclusive.
IntRange = Annotated[tuple[int, int], BeforeValidator(lambda v: _range(v, True))]
Vec3 = Annotated[tuple[float, float, float], BeforeValidator(_vec3)]
