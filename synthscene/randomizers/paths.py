"""Config path fields for randomizers, resolved like every other path (relative to the config file)."""
from __future__ import annotations

import os
import warnings
from functools import lru_cache
from pathlib import Path

from PIL import Image
from pydantic import AfterValidator, ValidationInfo
from typing_extensions import Annotated

from ..core import files
from ..core.schema import resolve_path

# without TIFF, as before: a folder's image list, and so every draw from it, must not change
IMAGE_SUFFIXES = tuple(s for s in files.IMAGE_SUFFIXES if s not in (".tif", ".tiff"))


def existing_dir(value: str, info: ValidationInfo) -> str:
    p = resolve_path(str(value), (info.context or {}).get("base_dir"))
    if not p.is_dir():
        raise ValueError(f"folder not found: {p}")
    return str(p)


def _image_dir(value: str, info: ValidationInfo) -> str:
    folder = existing_dir(value, info)
    files, bad = scan_images(folder)
    for name, why in bad:  # said once, in the parent, when the config is read
        warnings.warn(f"{name}: skipped, {why}", ImageWarning, stacklevel=2)
    if not files:
        found = "no images" if not bad else f"no readable images ({len(bad)} corrupt or truncated, skipped)"
        raise ValueError(f"{found} ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return folder


ImageDir = Annotated[str, AfterValidator(_image_dir)]  # a folder holding at least one readable image


class ImageWarning(UserWarning):
    """An image of a texture or background folder that cannot be used (corrupt, truncated)."""


def image_problem(path: str) -> str | None:
    """Why an image cannot be used, or None. Cheap (no full decode): the header and, for PNG, the
    chunk checksums (PIL's verify); for JPEG the end-of-image marker a truncated file lacks (OpenCV
    would decode it silently with a grey or garbage bottom), decoding only a JPEG without one."""
    try:
        with Image.open(path) as im:
            fmt = im.format
            im.verify()
    except Exception as err:  # PIL raises many kinds on garbage
        return f"not a readable image ({type(err).__name__}: {err})"
    if fmt == "JPEG":
        with open(path, "rb") as fh:
            fh.seek(max(0, os.path.getsize(path) - 1024))
            if b"\xff\xd9" in fh.read():
                return None
        try:  # no end marker near the end: decode it to tell truncation from trailing data
            with Image.open(path) as im:
                im.load()
        except Exception as err:
            return f"a truncated or corrupt JPEG ({type(err).__name__}: {err})"
    return None


@lru_cache(maxsize=16)
def scan_images(folder: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """(usable image files, sorted; (skipped file, why) pairs) of a folder, recursively."""
    good, bad = [], []
    for f in sorted(str(f) for f in Path(folder).rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES):
        why = image_problem(f)
        (good.append(f) if why is None else bad.append((f, why)))
    return tuple(good), tuple(bad)


def images_in(folder: str) -> tuple[str, ...]:
    """Usable image files of a folder (recursively), sorted: the order every worker agrees on.
    Corrupt and truncated ones are left out (and warned of when the config is read)."""
    return scan_images(folder)[0]
