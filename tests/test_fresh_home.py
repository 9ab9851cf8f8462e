"""A new machine: commands whose stdout is data keep it clean when the home folder is empty.

Ultralytics announces its new settings file on stdout at its first import on a machine; a test run
in a home folder where that already happened cannot see it. Each command here runs in a process
with empty HOME, XDG_CACHE_HOME and XDG_CONFIG_HOME, and its stdout is parsed.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from _train_fixtures import needs_gold, small_gold

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, needs_gold]


def _fresh_env(tmp_path: Path) -> dict:
    homes = {k: tmp_path / k.lower() for k in ("HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME")}
    for p in homes.values():
        p.mkdir()
    return {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **{k: str(v) for k, v in homes.items()}}


def _run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> tuple[Path, Path]:
    from synthscene.train import train

    tmp = tmp_path_factory.mktemp("fresh")
    gold = small_gold(tmp / "gold", 4)
    res = train(gold, epochs=1, imgsz=64, batch=4, out=tmp / "run", plots=False)
    return res.last, gold


def test_evaluate_json_is_the_whole_stdout_on_a_new_machine(weights, tmp_path):
    last, gold = weights
    env = _fresh_env(tmp_path)
    proc = _run(["-m", "synthscene.cli", "evaluate", str(last), "--gold", str(gold), "batch=4"], env)
    doc = json.loads(proc.stdout)  # the whole of stdout, not its last line
    assert {"mAP50", "coco"} <= set(doc)
    assert "Settings" in proc.stderr  # Ultralytics did meet an empty home here, and said so on stderr
    assert not (Path(env["HOME"]) / ".config").exists()  # its settings live under synthscene's cache folder


def test_benchmark_json_line_on_a_new_machine(tmp_path):
    proc = _run(["benchmarks/train_speed.py", "--images", "4", "--epochs", "1", "--imgsz", "64", "--batch", "4"],
                _fresh_env(tmp_path))
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout  # nothing but the JSON line
    assert json.loads(lines[0])["benchmark"] == "train_speed"
