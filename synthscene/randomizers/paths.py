"""Config path fields for randomizers, resolved like every other path (relative to the config file)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AfterValidator, ValidationInfo
from typing_extensions import Annotated

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def _existing_dir(value: str, info: ValidationInfo) -> str:
    from ..config import resolve_path  # config imports the randomizers: resolve lazily

    p = resolve_path(str(value), (info.context or {}).get("base_dir"))
    if not p.is_dir():
        raise ValueError(f"folder not found: {p}")
    return str(p)


def _image_dir(value: str, info: ValidationInfo) -> str:
    folder = _existing_dir(value, info)
    if not images_in(folder):
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return folder


ExistingDir = Annotated[str, AfterValidator(_existing_dir)]
ImageDir = Annotated[str, AfterValidator(_image_dir)]  # a folder holding at least one image


@lru_cache(maxsize=16)
def images_in(folder: str) -> tuple[str, ...]:
    """Image files of a folder (recursively), sorted: the order every worker agrees on."""
    return tuple(sorted(str(f) for f in Path(folder).rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES))
