"""Files, defined once: atomic writes and the names of their temporaries, the rules for an --out,
and which suffixes are images (it imports only synthscene.core.errors)."""
from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import BadInput

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")  # what OpenCV and PIL both read
TEMP_GLOB = ".*.tmp-*"  # atomic_write's temporary names (cleaned up by outdir.remove_stray_temps)
TEMP_TAIL = r"\.tmp-[0-9a-f]+"  # after the file's name (a pid in older versions: digits)
TEMP_RE = re.compile(rf"^\..+{TEMP_TAIL}$")


@contextmanager
def staged_write(path: str | os.PathLike, data: bytes | str):
    """Write `data` to a new temporary beside `path` and yield its path (to check it); then rename it
    onto `path`, replacing a file or a link there, never writing through one. On error nothing changes.
    The temporary's name is unpredictable and created exclusively ("x": O_EXCL refuses an existing
    file or a planted link), mode 0666 less the umask as for any new file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(6)}")
        try:
            f = open(tmp, "xb")
            break
        except FileExistsError:
            continue
    try:
        with f:
            f.write(data.encode() if isinstance(data, str) else data)
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike, data: bytes | str) -> None:
    """Write all of `data` or nothing: an interrupted write never leaves a file under `path`."""
    with staged_write(path, data):
        pass


def save_figure(fig, path: str | os.PathLike, **savefig_kw) -> None:
    """A matplotlib figure, written atomically (savefig to a path would follow a link there)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix.lstrip(".") or "png", **savefig_kw)
    atomic_write(path, buf.getvalue())


def check_out_file(path: str | os.PathLike, overwrite: bool, field: str = "--out") -> Path:
    """One rule for every --out that is a file: a folder is refused, and so is an existing file (or
    link) unless `overwrite`; a file where a folder of the path should be is named."""
    path = Path(path).expanduser()
    _check_parents(path, field)
    if path.is_dir():
        raise BadInput("is a folder: give the name of the file to write", path, field)
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise BadInput("already exists: give another name, or --overwrite to replace it", path, field)
    return path


def check_out_folder(path: str | os.PathLike, field: str = "--out", report: tuple[str, ...] = ()) -> Path:
    """An --out that is a folder: refused when it (or a folder above it) is a file. `report`: the files
    a report writes there, the first marking it; an earlier report is refreshed, but one of them
    without that mark is someone else's file and is not replaced."""
    path = Path(path).expanduser()
    _check_parents(path, field)
    if path.exists() and not path.is_dir():
        raise BadInput("is a file, not a folder: give a folder to write into", path, field)
    if report and path.is_dir() and not (path / report[0]).is_file():
        theirs = [n for n in report if os.path.lexists(path / n)]
        if theirs:
            raise BadInput(f"holds a {theirs[0]} that is not this command's report (it has no {report[0]}): "
                           "give an empty or new folder", path, field)
    return path


def _check_parents(path: Path, field: str) -> None:
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise BadInput(f"{parent} is a file, not a folder", path, field)
            return


def urdf_made_once(folder: str | os.PathLike, name: str, params: str, make) -> str:
    """`folder/NAME-<hash of params>/model.urdf`, its folder filled by `make(tmp)` the first time only
    (atomic_dir: workers making the same one at once all get the same files). The key is the
    parameters, so a folder made once serves every later run that asks for the same body."""
    final = Path(folder) / f"{name}-{hashlib.sha256(params.encode()).hexdigest()[:16]}"
    urdf = final / "model.urdf"
    if not urdf.is_file():
        with atomic_dir(final) as tmp:
            make(tmp)
    return str(urdf)


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
