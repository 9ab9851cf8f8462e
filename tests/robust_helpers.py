"""Shared by the robustness tests; importable by spawned worker processes (tests/ is on sys.path)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from synthscene.generation.producer import ImageProducer

ROOT = Path(__file__).resolve().parents[1]

SMALL_CONFIG = """\
seed: 5
count: {count}
assets:
  - {{name: duck, urdf: "pybullet:duck_vhacd.urdf", count: [0, 2]}}
  - {{name: mug, urdf: "pybullet:objects/mug.urdf", count: [0, 2]}}
camera: {{width: 96, height: 72, fov_deg: 50}}
randomizers:
  pose: {{mode: {mode}, volume: {{x: [-0.12, 0.12], y: [-0.12, 0.12], z: [0.02, 0.15]}}}}
output: {{formats: [yolo, coco]}}
"""


def small_config_file(folder: Path, count: int = 10, mode: str = "free", name: str = "c.yaml") -> Path:
    """Poses without physics settling by default, which keeps these tests (backends, resume, faults)
    fast; a settle's own independence of history is tested in tests/test_generate.py."""
    path = folder / name
    path.write_text(SMALL_CONFIG.format(count=count, mode=mode))
    return path


def dataset_files(out: Path) -> dict[str, bytes]:
    """Everything a dataset holds that must not depend on how it was made (paths relative)."""
    skip = {"config.resolved.yaml", "data.yaml"}  # they name the folder itself
    files = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file() and p.name not in skip}
    files["data.yaml"] = (out / "data.yaml").read_text().replace(str(out), "OUT").encode()
    return files


def cli(*args: str, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "synthscene.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, **kw)


def _as_from_a_terminal() -> None:
    """SIGINT handled as a terminal's foreground job has it: a shell starts background jobs (and so
    a test run launched with `&`) with SIGINT ignored, and the child would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def popen(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "synthscene.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
                            preexec_fn=_as_from_a_terminal)


class SegfaultAt3(ImageProducer):
    """A worker that dies hard (SIGSEGV, as a crashing renderer would) on image 3."""

    def produce(self, index):
        if index == 3:
            os.kill(os.getpid(), signal.SIGSEGV)
        return super().produce(index)


class KilledOnceAt2(ImageProducer):
    """A worker SIGKILLed from outside once, on image 2 (as the OOM killer or an operator would): the
    marker beside the config says it happened, so the replacement renders image 2 normally."""

    def produce(self, index):
        marker = Path(self.config.source).parent / "killed-once"
        if index == 2 and not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return super().produce(index)


class RaiseAt4(ImageProducer):
    def produce(self, index):
        if index == 4:
            raise ValueError("boom")
        return super().produce(index)



class FailsToStart(ImageProducer):
    """A worker whose world cannot be built (as a missing GL driver would)."""

    def __init__(self, config, renderer):
        raise RuntimeError("no GL here")
