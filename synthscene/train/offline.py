"""Ultralytics without the network: no settings sync, no font or weight downloads.

Ultralytics reads YOLO_CONFIG_DIR and YOLO_OFFLINE once, at import, so `ultralytics()` sets them
before the first import. `check_font` issues a HEAD request even offline unless Arial.ttf is
already in its config dir, so matplotlib's bundled DejaVu Sans is put there under that name.

Triton (which torch imports when Ultralytics seeds deterministically) segfaults while loading its
LLVM if PyBullet's EGL plugin has already brought Mesa's LLVM into the process; Triton is only
needed for torch.compile, so a process that imported pybullet first trains without it.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

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
        import ultralytics as ul
        from ultralytics.utils import SETTINGS, USER_CONFIG_DIR

        changes = {k: v for k, v in _NO_NETWORK.items() if k in SETTINGS and SETTINGS[k] != v}
        if changes:
            SETTINGS.update(changes)
        _provide_fonts(Path(USER_CONFIG_DIR))
        _ready = True
    return sys.modules["ultralytics"]


def _provide_fonts(config_dir: Path) -> None:
    import matplotlib

    dejavu = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        target = config_dir / name
        if not target.exists() and dejavu.exists():
            config_dir.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{name}.tmp-{os.getpid()}")
            shutil.copyfile(dejavu, tmp)
            os.replace(tmp, target)


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
