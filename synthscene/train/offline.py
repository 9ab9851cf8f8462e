"""Ultralytics without the network: no settings sync, no font or weight downloads.

Ultralytics reads YOLO_CONFIG_DIR and YOLO_OFFLINE once, at import, so `ultralytics()` sets them
before the first import. `check_font` issues a HEAD request even offline unless Arial.ttf is
already in its config dir, so matplotlib's bundled DejaVu Sans is put there under that name.

Ultralytics prints to stdout as it is imported (its first import on a machine announces the new
settings file there) and its logger keeps the stdout it saw then; synthscene's stdout is data for
some commands (evaluate's JSON), so the import runs with stdout pointed at stderr, and every
Ultralytics message after it goes there too.

Triton (which torch imports when Ultralytics seeds deterministically) segfaults while loading its
LLVM if PyBullet's EGL plugin has already brought Mesa's LLVM into the process; Triton is only
needed for torch.compile, so a process that imported pybullet first trains without it.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path

from ..core.files import atomic_write

CONFIG_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "synthscene" / "ultralytics"
_NO_NETWORK = {"sync": False, "hub": False, "wandb": False, "mlflow": False, "comet": False, "clearml": False,
               "dvc": False, "neptune": False, "raytune": False, "tensorboard": False}
_ready = False


def ultralytics():
    """The ultralytics module, configured to stay offline."""
    global _ready
    if not _ready:
        os.environ["YOLO_OFFLINE"] = "1"
        if "pybullet" in sys.modules and "triton" not in sys.modules:
            sys.modules["triton"] = None  # `import triton` now raises ImportError: torch runs without it
        if "ultralytics" not in sys.modules:
            os.environ.setdefault("YOLO_CONFIG_DIR", str(CONFIG_DIR))
        with contextlib.redirect_stdout(sys.stderr):
            import ultralytics  # noqa: F401
            from ultralytics.utils import SETTINGS, USER_CONFIG_DIR

        changes = {k: v for k, v in _NO_NETWORK.items() if k in SETTINGS and SETTINGS[k] != v}
        if changes:
            SETTINGS.update(changes)
        _provide_fonts(Path(USER_CONFIG_DIR))
        _ready = True
    return sys.modules["ultralytics"]


@contextlib.contextmanager
def chatter_to_stderr():
    """Ultralytics' logs and progress bars (which write to the stdout of the moment) go to stderr, so
    synthscene's stdout holds only what a command promises there (evaluate's JSON, a benchmark's line)."""
    ultralytics()
    from ultralytics.utils import LOGGER

    handlers = [h for h in LOGGER.handlers if isinstance(h, logging.StreamHandler) and h.stream is sys.stdout]
    for h in handlers:  # a logger set up before ultralytics() was first called
        h.setStream(sys.stderr)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        for h in handlers:
            h.setStream(sys.stdout)


def _provide_fonts(config_dir: Path) -> None:
    import matplotlib

    dejavu = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        target = config_dir / name
        if not target.exists() and dejavu.exists():
            atomic_write(target, dejavu.read_bytes())


def offline_amp_check(model) -> bool:
    """Ultralytics' AMP check downloads yolo26n.pt; offline, trust AMP on CUDA and refuse it elsewhere."""
    from ultralytics.utils import WEIGHTS_DIR
    from ultralytics.utils.checks import check_amp

    if (Path(WEIGHTS_DIR) / "yolo26n.pt").is_file():
        return check_amp(model)
    return next(model.parameters()).device.type == "cuda"


def patch_amp_check() -> None:
    import ultralytics.engine.trainer as trainer

    trainer.check_amp = offline_amp_check


def set_threads(threads: int | None) -> None:
    """Torch threads for CPU work; None keeps Ultralytics' cpu_count - 1 (one thread on a 2-core machine).

    Measured here under load ~5 on 2 cores: 2 threads trained at half the speed of 1 (OpenMP
    threads waiting on each other on oversubscribed cores), so more threads is a choice, not a default.
    """
    import ultralytics.utils.torch_utils as tu
    from ultralytics.utils import NUM_THREADS

    tu.NUM_THREADS = threads or NUM_THREADS
