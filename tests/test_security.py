"""A weights file whose pickle would run code is refused (exit 2, naming the file and the global) and never runs.

The genuine-checkpoint side (Ultralytics' own best.pt/last.pt still load) is in tests/test_train.py,
on the checkpoint of its tiny training.
"""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from synthscene.core.errors import BadInput

ROOT = Path(__file__).resolve().parents[1]


class _Payload:
    """Unpickling this calls os.mkdir(marker)."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def _yolo_folder(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    cv2.imwrite(str(root / "images" / "a.png"), np.full((48, 64, 3), 90, np.uint8))
    (root / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "data.yaml").write_text(yaml.safe_dump({"path": ".", "train": "images", "val": "images", "names": {0: "a"}}))
    return root


@pytest.fixture
def evil(tmp_path):
    """evil.pt as torch.save writes it (a zip archive) and evil_raw.pt (a bare pickle), and their marker."""
    import torch

    marker = tmp_path / "PAYLOAD_RAN"
    torch.save({"model": _Payload(marker), "epoch": 3}, tmp_path / "evil.pt")
    (tmp_path / "evil_raw.pt").write_bytes(pickle.dumps({"model": _Payload(marker)}))
    return tmp_path, marker


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "synthscene.cli", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=300)


def _main(monkeypatch, capsys, *args) -> tuple[int, str]:
    from synthscene import cli

    monkeypatch.setattr(sys, "argv", ["synthscene", *map(str, args)])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    return exc.value.code, capsys.readouterr().err


@pytest.mark.parametrize("name", ["evil.pt", "evil_raw.pt"])
def test_evaluate_and_train_refuse_a_pickle_payload(evil, name, monkeypatch, capsys):
    tmp, marker = evil
    data = _yolo_folder(tmp / "data")
    for how in (["evaluate", tmp / name, "--gold", data],
                ["train", data, "--model", tmp / name, "--epochs", "1", "--imgsz", "32", "--out", tmp / "run"],
                ["train", data, f"pretrained={tmp / name}", "--epochs", "1", "--out", tmp / "run"]):
        code, err = _main(monkeypatch, capsys, *how)
        assert code == 2 and str(tmp / name) in err and "mkdir" in err, (how, err)  # the file, the global
        assert "Traceback" not in err
    assert not marker.exists(), "the pickle payload ran"
    assert not (tmp / "run").exists()  # nothing written


@pytest.mark.slow  # renders or runs a process (measured > 1.5 s)
def test_the_command_refuses_it_in_a_fresh_process(evil):
    """As a user runs it: no earlier import or registration in the test process helps the check."""
    tmp, marker = evil
    data = _yolo_folder(tmp / "data")
    for args in (["evaluate", tmp / "evil.pt", "--gold", data],
                 ["train", data, "--model", tmp / "evil.pt", "--epochs", "1", "--imgsz", "32", "--out", tmp / "run"]):
        proc = _cli(*args)
        assert proc.returncode == 2 and "evil.pt" in proc.stderr and "posix.mkdir" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    assert not marker.exists() and not (tmp / "run").exists()


def test_the_python_api_refuses_it_too(evil):
    from synthscene.train.weights import check_weights

    tmp, marker = evil
    with pytest.raises(BadInput, match="posix.mkdir"):
        check_weights(tmp / "evil.pt")
    assert not marker.exists()


def test_a_file_that_is_no_checkpoint_is_bad_input(tmp_path):
    from synthscene.train.weights import check_weights

    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(BadInput, match="junk.pt"):
        check_weights(tmp_path / "junk.pt")
    import torch

    torch.save({"weights": torch.zeros(2)}, tmp_path / "plain.pt")  # loads safely, but holds no model
    with pytest.raises(BadInput, match="no model"):
        check_weights(tmp_path / "plain.pt")
    with pytest.raises(BadInput, match="never downloaded"):
        check_weights(tmp_path / "yolov8n.pt")
