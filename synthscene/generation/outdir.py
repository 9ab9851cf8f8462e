"""The output folder: which of its files are synthscene's, and one run at a time in it.

A folder is a synthscene dataset when it holds `.synthscene/`. Each image's files are listed in
`.synthscene/files/NNNNNN.json` before the first of them is written, so --overwrite deletes what
synthscene wrote (a crashed run's files too) and nothing a user put there. A run holds an
exclusive flock on `.synthscene/lock` (the OS releases it when the process dies); the file names
the holder for the message a second run gets.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import socket
import time
import warnings
from pathlib import Path
from typing import Iterator

import yaml

from ..core.errors import BadInput
from ..core.files import TEMP_GLOB, TEMP_RE, TEMP_TAIL, check_out_folder
from ..labels import writers
from ..labels.manifest import label_file

MARKER = ".synthscene"
RECORDS_DIR = f"{MARKER}/records"
FILES_DIR = f"{MARKER}/files"
LOCK = f"{MARKER}/lock"
RESOLVED = "config.resolved.yaml"
TOP_FILES = ("manifest.jsonl", "data.yaml", RESOLVED)
_TOP_TEMP = re.compile(rf"^\.(?:{'|'.join(map(re.escape, TOP_FILES))}){TEMP_TAIL}$")


class OutputWarning(UserWarning):
    """Something about the output folder the user should know (files kept, a lock taken over)."""


def owned_folders() -> tuple[str, ...]:
    """Top-level folders synthscene writes into (images, labels and every writer's own)."""
    return tuple(dict.fromkeys(("images", "labels", *writers.OWNED)))


def files_entry(index: int, paths: list[str]) -> tuple[str, str]:
    """(relative path, contents) of the list of an image's files, written before them."""
    return f"{FILES_DIR}/{index:06d}.json", json.dumps(paths)


def is_dataset(out_dir: Path) -> bool:
    return (out_dir / MARKER).is_dir()


def holds_anything(out_dir: Path) -> bool:
    """Anything in the folder but the lock of the run looking."""
    if not out_dir.is_dir():
        return False
    return any(p.name != MARKER for p in out_dir.iterdir()) or any(
        p.name != Path(LOCK).name for p in (out_dir / MARKER).iterdir() if (out_dir / MARKER).is_dir())


def check_folder(out_dir: Path) -> None:
    """Refuse a path that is a file, or a non-empty folder that is not a synthscene dataset."""
    check_out_folder(out_dir)
    if out_dir.is_dir() and not is_dataset(out_dir) and any(out_dir.iterdir()):
        raise BadInput(f"the folder is not empty and is not a synthscene dataset (it has no {MARKER}/), so "
                       "--resume and --overwrite do not apply: synthscene writes only into an empty folder or "
                       "its own dataset; choose another --out",
                       out_dir, "--out")
    links = _linked_folders(out_dir) if out_dir.is_dir() else []
    if links:
        raise _link_refused(links[0])


def _link_refused(path: Path) -> BadInput:
    return BadInput("is a symbolic link inside the output folder: synthscene never writes or deletes through a "
                    "link it did not make; remove the link, or choose another --out", path, "--out")


def _linked_folders(out_dir: Path) -> list[Path]:
    """Links where synthscene writes or deletes folders: its own folders, the folders in them, .synthscene/."""
    found = []
    for top in (MARKER, *owned_folders()):
        if (out_dir / top).is_symlink():
            found.append(out_dir / top)
            continue
        for folder, subs, _ in os.walk(out_dir / top):  # never into a link
            found += [Path(folder, s) for s in subs if os.path.islink(os.path.join(folder, s))]
    return found


def read_resolved(out_dir: Path) -> dict:
    """config.resolved.yaml as a mapping; BadInput naming it when it is damaged."""
    path = out_dir / RESOLVED
    try:
        doc = yaml.safe_load(path.read_text())
        if not isinstance(doc, dict) or not isinstance(doc.get("synthscene"), dict):
            raise ValueError("not a synthscene resolved config")
    except (yaml.YAMLError, ValueError, UnicodeDecodeError) as err:
        raise BadInput(f"the dataset's resolved config is damaged ({str(err).splitlines()[0]}); "
                       "regenerate the dataset with --overwrite or choose another --out", path) from None
    return doc


def read_records(out_dir: Path) -> dict[int, dict]:
    recs = {}
    for f in sorted((out_dir / RECORDS_DIR).glob("[0-9]*.json")):
        try:
            rec = json.loads(f.read_text())
            recs[rec["index"]] = rec
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise BadInput("this image record is damaged; delete it and run with --resume to render the image "
                           "again, or regenerate the dataset with --overwrite", f) from None
    return recs


def remove_stray_temps(out_dir: Path) -> int:
    """Delete temporaries a killed run left (atomic_write had no chance to clean up), only where
    synthscene writes: in its own folders and beside its top-level files."""
    found = [p for p in out_dir.glob(TEMP_GLOB) if _TOP_TEMP.match(p.name)]
    for top in (*owned_folders(), MARKER):
        found += [p for p in (out_dir / top).rglob(TEMP_GLOB) if TEMP_RE.match(p.name)]
    found = [p for p in found if p.is_file() and not p.is_symlink()]
    for p in found:
        p.unlink(missing_ok=True)
    return len(found)


def _written_files(out_dir: Path) -> set[str]:
    """Relative paths of every file synthscene wrote into the dataset (except .synthscene/)."""
    paths = set(TOP_FILES)
    for f in (out_dir / FILES_DIR).glob("*.json"):
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            paths.update(p for p in json.loads(f.read_text()) if isinstance(p, str))
    formats = list(writers.WRITERS)
    with contextlib.suppress(BadInput, OSError, AttributeError):
        formats = read_resolved(out_dir)["config"]["output"]["formats"]
    for f in (out_dir / RECORDS_DIR).glob("[0-9]*.json"):  # datasets written before the file lists
        with contextlib.suppress(ValueError, KeyError, TypeError, UnicodeDecodeError):
            rec = json.loads(f.read_text())
            paths.update((rec["file"], label_file(rec["index"], rec["split"])))
            if "yolo_seg" in formats:
                paths.add(f"segment/{rec['file']}")  # its image links
    # dataset-wide files of the formats (writers' finish())
    extra = {"coco": [f"annotations/instances_{s}.json" for s in ("train", "val")],
             "bop": [f"bop/{n}.json" for n in ("scene_gt", "scene_camera", "scene_gt_info")],
             "yolo_seg": ["segment/data.yaml"]}
    for name in formats:
        paths.update(extra.get(name, ()))
    return paths


def clear_dataset(out_dir: Path) -> None:
    """--overwrite: delete what synthscene wrote; keep (and name) anything else."""
    for rel in _written_files(out_dir):
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            continue  # a list edited by hand (or a hostile copy): never outside the folder
        p = out_dir / rel
        if p.is_symlink() or p.is_file():
            p.unlink()
    remove_stray_temps(out_dir)
    for p in (out_dir / MARKER).iterdir():
        if p.name == Path(LOCK).name:
            continue
        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    for top in owned_folders():  # empty folders synthscene made
        for d in sorted((out_dir / top).glob("**/"), key=lambda d: -len(d.parts)):
            with contextlib.suppress(OSError):
                d.rmdir()
    left = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*")
                  if not p.is_dir() and p != out_dir / LOCK)
    if left:
        more = f" and {len(left) - 5} more" if len(left) > 5 else ""
        warnings.warn(f"{out_dir}: --overwrite kept {len(left)} file(s) synthscene did not write: "
                      f"{', '.join(left[:5])}{more}", OutputWarning, stacklevel=3)


# ---- the lock ---------------------------------------------------------------------------------

def _holder(fd: int) -> dict:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return data if isinstance(data, dict) else {}
    except ValueError:
        return {}


def _describe(h: dict) -> str:
    return f"pid {h.get('pid', '?')} on host {h.get('host', '?')}, started {h.get('started', '?')}"


def _pid_alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError):
        return True
    return True


def _open_locked(out_dir: Path, path: Path) -> int:
    """An fd of `path` holding its exclusive flock; BadInput naming the holder if another run has it."""
    while True:
        for p in (path.parent, path):
            if p.is_symlink():
                raise _link_refused(p)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except FileNotFoundError:
            continue  # the holder removed .synthscene/ as it left
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            h = _holder(fd)
            no_flock = err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN)  # e.g. a file system without flock
            if not no_flock or h.get("host") != socket.gethostname() or _pid_alive(h.get("pid")):
                os.close(fd)
                raise BadInput(f"another synthscene run is writing into this folder ({_describe(h)}); "
                               f"wait for it to finish or choose another --out (lock: {path})", out_dir, "--out") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder removed that file as it left: lock the one there now


@contextlib.contextmanager
def locked(out_dir: Path) -> Iterator[None]:
    """Hold OUT/.synthscene/lock for the run; released on return, error, Ctrl-C and by the OS on death."""
    path = out_dir / LOCK
    try:
        fd = _open_locked(out_dir, path)
    except OSError as err:
        raise BadInput(f"cannot write the output folder ({err.strerror})", out_dir, "--out") from None
    try:
        old = _holder(fd)
        if old:
            warnings.warn(f"{out_dir}: took over the lock of a run that is no longer running ({_describe(old)})",
                          OutputWarning, stacklevel=3)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        yield
    finally:
        path.unlink(missing_ok=True)  # before unlocking: a run waiting on this file sees it is gone
        os.close(fd)
        with contextlib.suppress(OSError):
            path.parent.rmdir()  # only if nothing else is in it (a run refused before writing)
