"""Files, defined once: atomic writes and the names of their temporaries, and which suffixes are
images (a leaf: it imports nothing of synthscene)."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")  # what OpenCV and PIL both read
TEMP_GLOB = ".*.tmp-*"  # atomic_write's temporary names (cleaned up by outdir.remove_stray_temps)
TEMP_RE = re.compile(r"^\..+\.tmp-\d+$")


def temp_path(path: Path) -> Path:
    """Where atomic_write puts `path`'s bytes before the rename: hidden, beside it, per process."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def atomic_write(path: str | os.PathLike, data: bytes | str) -> None:
    """Write all of `data` or nothing: an interrupted write never leaves a file under `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    raw = data.encode() if isinstance(data, str) else data
    try:
        with open(tmp, "wb") as f:
            f.write(raw)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(final: str | os.PathLike):
    """Make the folder `final` whole or not at all: fill the yielded temporary folder beside it, which
    then appears under `final` by one rename. Processes making the same folder at the same time
    (with the same files) all succeed: the first rename wins, the others' copies are dropped."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=final.parent))
    try:
        yield tmp
        try:
            os.replace(tmp, final)
        except OSError:  # another process renamed its copy first
            if not final.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
