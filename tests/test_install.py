"""The install: an opt-in CPU-only torch, and a project table setuptools takes without warnings."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_torch_index_installs_torch_from_it_first():
    def plan(*args):
        out = subprocess.run(["make", "-n", "-B", "venv", *args], cwd=ROOT, capture_output=True, text=True, check=True)
        return [ln for ln in out.stdout.splitlines() if "pip install" in ln]

    default = plan()
    assert not any("torch" in ln for ln in default)  # the default resolves torch through Ultralytics
    cpu = plan("TORCH_INDEX=https://download.pytorch.org/whl/cpu")
    first = next(i for i, ln in enumerate(cpu) if "torch torchvision --index-url https://download.pytorch.org/whl/cpu" in ln)
    assert first < next(i for i, ln in enumerate(cpu) if "-e '.[test]'" in ln)


@pytest.mark.slow
def test_the_wheel_builds_without_deprecation_warnings(tmp_path):
    src = tmp_path / "src"  # setuptools leaves build/ in the tree it builds: a copy, not the checkout
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", ".git", "out", "build", "*.egg-info", "__pycache__"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "deprecated" not in (proc.stdout + proc.stderr).lower()
    assert list(tmp_path.glob("synthscene-*.whl"))
