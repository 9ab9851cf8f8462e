"""End to end: `synthscene generate` on a small config, then Ultralytics trains on the result as is."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_cli, small_config

TRAIN = """
import json, sys
from ultralytics import YOLO
data, project = sys.argv[1], sys.argv[2]
model = YOLO("yolov8n.yaml")  # built from the bundled YAML: no weights to download
model.train(data=data, epochs=1, imgsz=64, batch=4, workers=0, device="cpu", plots=False, amp=False,
            project=project, name="train", exist_ok=True, verbose=False)
metrics = model.val(data=data, imgsz=64, batch=4, workers=0, device="cpu", plots=False,
                    project=project, name="val", exist_ok=True, verbose=False)
print(json.dumps({"instances": int(sum(metrics.nt_per_class)), "names": metrics.names,
                  "map50": float(metrics.box.map50)}))
"""


@pytest.mark.slow
def test_generated_dataset_trains_and_validates_with_ultralytics_offline(write_config, tmp_path):
    out = tmp_path / "ds"
    run_cli("generate", write_config(small_config(count=16)), "--out", out, "--workers", "2")
    val_instances = sum(len(f.read_text().splitlines()) for f in (out / "labels" / "val").glob("*.txt"))
    assert val_instances > 0
    env = dict(os.environ, YOLO_CONFIG_DIR=str(tmp_path / "ycfg"), YOLO_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-c", TRAIN, str(out / "data.yaml"), str(tmp_path / "runs")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    import json

    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["instances"] == val_instances  # every label we wrote was read, none corrupt
    assert list(result["names"].values()) == ["duck", "mug", "lego"]
    assert 0.0 <= result["map50"] <= 1.0
    assert (tmp_path / "runs" / "train" / "weights" / "best.pt").is_file()
    assert "download" not in (proc.stdout + proc.stderr).lower()
