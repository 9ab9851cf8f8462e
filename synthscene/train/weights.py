"""A user's weights file is a pickle: check it before Ultralytics unpickles it for real.

Ultralytics loads checkpoints with `torch.load(weights_only=False)`, so a `__reduce__` in the file
would run. `check_weights` first loads the file the restricted way, with Ultralytics' own opt-in
safe loader (`torch_safe_load(safe_only=True)`: `weights_only=True` plus an allow-list of
Ultralytics and torch.nn model classes), which never calls anything outside that list. Only a file
that passes is handed on; any other is refused as bad input naming the globals it references.

Before torch reads anything, the archive's declared sizes are checked (`MAX_UNCOMPRESSED`,
`MAX_RATIO`): torch inflates a member in memory, so a small file declaring gigabytes of zeros would
exhaust memory before the pickle is refused. torch.save() stores members uncompressed (ratio 1).
"""
from __future__ import annotations

import pickle
import pickletools
import re
import zipfile
from pathlib import Path

from ..core.errors import BadInput
from .offline import ultralytics

#: largest total uncompressed size of a checkpoint archive's members (YOLO11x's best.pt is ~110 MB)
MAX_UNCOMPRESSED = 2 << 30
#: largest compression ratio of a member above RATIO_FLOOR bytes (torch.save stores members: ratio 1)
MAX_RATIO = 200
RATIO_FLOOR = 1 << 20


def check_weights(path: str | Path, field: str = "WEIGHTS") -> Path:
    """The resolved path of a local Ultralytics checkpoint that loads without running code; BadInput otherwise."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise BadInput("weights file not found (weights are never downloaded: give a local .pt)", p, field)
    p = p.resolve()
    if not zipfile.is_zipfile(p):  # torch.save() has written zip archives since torch 1.6; a bare pickle is refused
        found = _pickle_globals(p.read_bytes())
        refs = f"; its pickle references {', '.join(found)}" if found else ""
        raise BadInput(f"refused: not a torch.save() checkpoint archive as Ultralytics writes them{refs}", p, field)
    _check_sizes(p, field)
    ultralytics()
    import torch
    from ultralytics.nn.tasks import torch_safe_load

    try:
        ckpt, _ = torch_safe_load(str(p), safe_only=True)
    except TypeError as err:
        cause = err.__cause__
        if isinstance(cause, pickle.UnpicklingError):
            bad = _unsafe_globals(torch, p) or re.findall(r"GLOBAL (\S+)", str(cause))
            what = f"references {', '.join(sorted(bad))}" if bad else f"was refused ({_reason(cause)})"
            raise BadInput(f"refused: its pickle {what}, outside the allow-list of Ultralytics/torch model classes; "
                           "a weights file is never allowed to run code", p, field) from None
        raise BadInput(f"cannot load it as YOLO weights ({_reason(err)})", p, field) from None
    except Exception as err:  # damaged, TorchScript, a module this Ultralytics lacks, ...
        raise BadInput(f"cannot load it as YOLO weights ({type(err).__name__}: {_reason(err)})", p, field) from None
    if not isinstance(ckpt, dict) or (ckpt.get("ema") or ckpt.get("model")) is None:
        raise BadInput("not an Ultralytics checkpoint (no model in it)", p, field)
    return p


def _check_sizes(p: Path, field: str) -> None:
    """Refuse an archive whose members would inflate past the caps, from the sizes its directory declares."""
    try:
        with zipfile.ZipFile(p) as z:
            members = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise BadInput(f"cannot read it as a checkpoint archive ({err})", p, field) from None
    total = sum(m.file_size for m in members)
    if total > MAX_UNCOMPRESSED:
        raise BadInput(f"refused: its members would inflate to {total / 2**30:.1f} GiB, over the "
                       f"{MAX_UNCOMPRESSED / 2**30:.0f} GiB a YOLO checkpoint is allowed", p, field)
    for m in members:
        if m.file_size > RATIO_FLOOR and m.file_size > MAX_RATIO * max(m.compress_size, 1):
            raise BadInput(f"refused: member {m.filename!r} inflates {m.file_size // max(m.compress_size, 1)}-fold "
                           f"({m.compress_size} → {m.file_size} bytes), over the {MAX_RATIO}-fold a checkpoint is "
                           "allowed (torch.save stores members uncompressed)", p, field)


def _unsafe_globals(torch, path: Path) -> list[str]:
    try:
        return torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception:  # noqa: BLE001 - only used to name the offender
        return []


def _pickle_globals(data: bytes) -> list[str]:
    """module.name of every GLOBAL/INST/STACK_GLOBAL in a pickle, read without executing it (best effort)."""
    found, strings = [], []
    try:
        for op, arg, _ in pickletools.genops(data):
            if op.name in ("GLOBAL", "INST"):
                found.append(str(arg).replace(" ", "."))
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(".".join(strings[-2:]))
            elif isinstance(arg, str):
                strings.append(arg)
    except Exception:  # noqa: BLE001 - not a pickle, or a damaged one: nothing more to name
        pass
    return list(dict.fromkeys(found))


def _reason(err: BaseException) -> str:
    """The informative line of a torch/Ultralytics load error (they run to several paragraphs)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    line = next((ln for ln in lines if "nsupported" in ln), lines[0] if lines else type(err).__name__)
    return re.sub(r"^ERROR\W*", "", line)
