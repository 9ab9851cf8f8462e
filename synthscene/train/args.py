"""Ultralytics' own KEY=VALUE arguments (`lr0=0.002 optimizer=AdamW`), parsed and checked as `yolo` does.

Parsing is Ultralytics' (`parse_key_value_pair`: numbers, booleans, None, literals); the keys are
those of its default config and the values go through its own `check_cfg`, so a typo or a wrong
type is refused before a run starts, naming the key, instead of failing epochs later. `check_cfg`
checks types only: the keys with a fixed set of values (`CHOICES`) and `device` are checked here,
so `optimizer=AdamW;x` or `device=cpu;x` fail now, not at the first epoch.
"""
from __future__ import annotations

import difflib
import re
from typing import Any, Iterable

from ..core.errors import BadInput
from .offline import ultralytics

# Keys synthscene decides itself, and why; everything else in Ultralytics' default config passes through.
OWNED = {
    "data": "give the dataset as the DATA argument",
    "project": "give the run folder with --out",
    "name": "give the run folder with --out",
    "exist_ok": "synthscene always writes into --out",
    "mode": "the command says what to do",
    "task": "synthscene trains and measures detectors",
    "cfg": "a config file would override these checks; give KEY=VALUE arguments",
    "resume": "start a new run (resuming reads paths and weights from an old run's checkpoint)",
}
# Keys whose value is one of a few names (case-insensitive where Ultralytics lowers it). optimizer:
# the set in ultralytics/engine/trainer.py BaseTrainer.build_optimizer, which raises only at train start.
CHOICES = {
    "optimizer": {"Adam", "Adamax", "AdamW", "NAdam", "RAdam", "RMSprop", "SGD", "MuSGD", "auto"},
    "copy_paste_mode": {"flip", "mixup"},
    "auto_augment": {"randaugment", "autoaugment", "augmix"},
    "cache": {"ram", "disk"},  # or true/false
}
TRAIN_OWNED = set(OWNED)
EVAL_OWNED = TRAIN_OWNED | {"model", "split"}
OWNED.update(model="give the weights as the WEIGHTS argument", split="evaluate measures the whole gold set")


def parse_overrides(pairs: Iterable[str]) -> dict[str, Any]:
    """['lr0=0.002', 'cos_lr=true'] → {'lr0': 0.002, 'cos_lr': True}, values parsed as Ultralytics parses them."""
    ultralytics()
    from ultralytics.cfg import parse_key_value_pair

    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair or not pair.split("=", 1)[0].strip():
            raise BadInput(f"expected KEY=VALUE (Ultralytics' own arguments, e.g. lr0=0.002), got {pair!r}", None, pair)
        try:
            key, value = parse_key_value_pair(pair)
        except AssertionError:
            raise BadInput(f"no value in {pair!r} (write {pair}None to unset it)", None, pair.split("=")[0]) from None
        if key in out:
            raise BadInput(f"given twice: {key}={out[key]!r} and {pair!r}", None, key)
        out[key] = value
    return out


def check_args(args: dict[str, Any], owned: Iterable[str]) -> dict[str, Any]:
    """Refuse unknown keys, keys synthscene sets itself, and values of the wrong type; returns the checked args."""
    ultralytics()
    from ultralytics.cfg import DEFAULT_CFG_DICT, check_cfg

    owned, checked = set(owned), {}
    for key, value in args.items():
        if key in owned:
            raise BadInput(f"{key} is set by synthscene here: {OWNED.get(key, 'use the command option')}", None, key)
        if key not in DEFAULT_CFG_DICT:
            close = difflib.get_close_matches(key, list(DEFAULT_CFG_DICT), n=3)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            raise BadInput(f"unknown argument {key!r}: not one of Ultralytics' settings{hint}", None, key)
        one = {key: value}
        try:
            check_cfg(one, hard=True)  # also normalises, e.g. epochs=1e2 → 100
        except (TypeError, ValueError) as err:
            raise BadInput(str(err), None, key) from None
        _check_value(key, one[key])
        checked[key] = one[key]
    return checked


def _check_value(key: str, value: Any) -> None:
    if key in CHOICES and isinstance(value, str):
        if value.lower() not in {c.lower() for c in CHOICES[key]}:
            raise BadInput(f"expected one of {', '.join(sorted(CHOICES[key]))}, got {value!r}", None, key)
    elif key == "device" and value is not None:
        _check_device(value)


def _check_device(value: Any) -> None:
    """Ultralytics' device forms: cpu, mps, CUDA indices (0 or 0,1; -1 picks an idle GPU), npu/xpu[:i]."""
    import torch
    from ultralytics.utils.torch_utils import parse_device

    try:
        d = parse_device(value)  # its canonical string: '', 'cpu', 'mps', '0,1', 'npu:0', ...
    except (TypeError, ValueError):
        d = None
    if d in ("", "cpu", "mps") or (d or "").startswith(("npu", "xpu", "tpu", "intel", "vulkan")):
        return
    tokens = d.split(",") if d else []
    if not tokens or not all(re.fullmatch(r"-1|\d+", t) for t in tokens):
        raise BadInput(f"expected cpu, mps, a CUDA device index (0), several (0,1) or -1 (an idle GPU), got {value!r}",
                       None, "device")
    have = torch.cuda.device_count()
    wanted = [int(t) for t in tokens if t != "-1"]
    if wanted and max(wanted) >= have:
        raise BadInput(f"CUDA device {max(wanted)} asked for, but this machine has {have} CUDA device(s); "
                       "use device=cpu", None, "device")
