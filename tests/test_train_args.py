"""The train/evaluate command line: usage errors, Ultralytics KEY=VALUE arguments, profiles, moved datasets.

Ultralytics' train call is replaced by a recorder, so what reaches it is checked without a training.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from synthscene import cli
from synthscene.core.errors import BadInput
from synthscene.labels.yolo import data_yaml

ROOT = Path(__file__).resolve().parents[1]


def run_main(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["synthscene", *map(str, args)])
    code = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def _dataset(out: Path, n: int = 4) -> Path:
    """A folder as `generate` writes it: images/{train,val}, labels/{train,val}, data.yaml (absolute path)."""
    for split in ("train", "val"):
        (out / "images" / split).mkdir(parents=True)
        (out / "labels" / split).mkdir(parents=True)
        for i in range(n):
            cv2.imwrite(str(out / "images" / split / f"{i:06d}.jpg"), np.full((48, 64, 3), 40 * i, np.uint8))
            (out / "labels" / split / f"{i:06d}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (out / "data.yaml").write_text(data_yaml(out, ["duck", "mug"]))
    return out


@pytest.fixture
def recorded(monkeypatch):
    """Model.train records its keyword arguments and stops there."""
    from synthscene.train.offline import ultralytics

    ultralytics()
    from ultralytics.engine.model import Model

    calls = []

    class Stop(Exception):
        pass

    def fake_train(self, **kwargs):
        calls.append(kwargs)
        raise Stop

    monkeypatch.setattr(Model, "train", fake_train)
    return calls


# ---- usage errors: click's message, exit 2 --------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["generate", "c.yaml", "--frobnicate"], "No such option: --frobnicate"),
    (["generate"], "Missing argument"),
    (["generate", "c.yaml", "--count", "abc"], "Invalid value for '--count'"),
    (["train", "ds", "--epochs", "many"], "Invalid value for '--epochs'"),
])
def test_usage_errors_exit_2_with_the_usage_message(monkeypatch, capsys, args, message):
    code, _, err = run_main(monkeypatch, capsys, *args)
    assert code == 2 and message in err and "Usage:" in err
    assert "error: NoSuchOption" not in err and "--debug" not in err


def test_usage_error_from_a_real_process():
    proc = subprocess.run([sys.executable, "-m", "synthscene.cli", "generate", "c.yaml", "--frobnicate"], cwd=ROOT,
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2 and "No such option: --frobnicate" in proc.stderr and "Traceback" not in proc.stderr


# ---- KEY=VALUE arguments ----------------------------------------------------------------------------


def test_values_are_parsed_as_ultralytics_parses_them():
    from synthscene.train.args import parse_overrides

    assert parse_overrides(["lr0=0.002", "cos_lr=true", "close_mosaic=0", "optimizer=AdamW", "fraction=None"]) == {
        "lr0": 0.002, "cos_lr": True, "close_mosaic": 0, "optimizer": "AdamW", "fraction": None}


@pytest.mark.parametrize("pair, key, message", [
    ("lrr0=0.01", "lrr0", "did you mean lr0"),
    ("lr0=abc", "lr0", "invalid type"),
    ("epochs=1.5", "epochs", "must be an int"),
    ("mosaic=2", "mosaic", "between 0.0 and 1.0"),
    ("cos_lr=3", "cos_lr", "must be a bool"),
    ("project=elsewhere", "project", "--out"),
    ("cfg=other.yaml", "cfg", "KEY=VALUE"),
    ("lr0", "lr0", "KEY=VALUE"),
    ("optimizer=AdamW;x", "optimizer", "expected one of"),
    ("cache=ramm", "cache", "expected one of"),
    ("device=cpu;x", "device", "expected cpu"),
    ("device=gpu", "device", "expected cpu"),
    ("device=7", "device", "CUDA device 7"),
])
def test_bad_train_arguments_exit_2_naming_the_key(tmp_path, monkeypatch, capsys, recorded, pair, key, message):
    ds = _dataset(tmp_path / "ds")
    code, _, err = run_main(monkeypatch, capsys, "train", ds, pair, "--out", tmp_path / "run")
    assert code == 2 and key in err and message in err, err
    assert not recorded and not (tmp_path / "run").exists()


def test_device_and_choice_values_ultralytics_accepts_pass():
    from synthscene.train.args import check_args

    ok = {"device": "cpu", "optimizer": "adamw", "cache": "disk", "copy_paste_mode": "mixup"}
    for key, value in [*ok.items(), ("device", -1), ("device", None), ("cache", True)]:
        assert check_args({key: value}, ()) == {key: value}


def test_bad_evaluate_arguments_exit_2_naming_the_key(tmp_path, monkeypatch, capsys):
    for pair, key in (("conf=high", "conf"), ("confidence=0.2", "confidence"), ("model=x.pt", "model")):
        code, _, err = run_main(monkeypatch, capsys, "evaluate", tmp_path / "w.pt", pair, "--gold", tmp_path)
        assert code == 2 and key in err, err


def test_overrides_and_profile_reach_ultralytics(tmp_path, monkeypatch, capsys, recorded):
    ds = _dataset(tmp_path / "ds")
    code, _, err = run_main(monkeypatch, capsys, "train", ds, "--profile", "cpu", "--epochs", "2",
                            "lr0=0.0123", "mosaic=0.5", "close_mosaic=0", "cos_lr=true", "seed=7", "--out", tmp_path / "run")
    assert code == 1 and "Stop" in err  # the recorder stopped it
    (args,) = recorded
    assert args["lr0"] == 0.0123 and args["mosaic"] == 0.5 and args["close_mosaic"] == 0 and args["cos_lr"] is True
    assert args["seed"] == 7 and args["epochs"] == 2  # KEY=VALUE and options over the profile
    assert args["optimizer"] == "AdamW" and args["imgsz"] == 256 and args["batch"] == 8 and args["cache"] == "ram"
    assert args["warmup_epochs"] == 0 and args["workers"] == 0  # the rest of the cpu profile
    assert args["project"] == str(tmp_path) and args["name"] == "run" and args["amp"] is False


def test_the_same_setting_twice_is_refused(tmp_path, monkeypatch, capsys, recorded):
    code, _, err = run_main(monkeypatch, capsys, "train", _dataset(tmp_path / "ds"), "epochs=3", "--epochs", "4")
    assert code == 2 and "given twice" in err and not recorded
    code, _, err = run_main(monkeypatch, capsys, "train", tmp_path / "ds", "--profile", "tpu")
    assert code == 2 and "--profile" in err and "cpu" in err


def test_train_profiles_match_the_benchmark_config():
    """The package's profiles are bench_lmo.yaml's cpu and gpu training settings (epochs: its synthetic arm's;
    threads: the benchmark's own choice, fixed for reproducibility, not a user's)."""
    from synthscene.train.profiles import TRAIN_PROFILES

    bench = yaml.safe_load((ROOT / "configs" / "bench_lmo.yaml").read_text())["profiles"]
    for name, settings in TRAIN_PROFILES.items():
        b = bench[name]
        expected = {k: b[k] for k in ("model", "imgsz", "batch", "device", "workers") if k in b}
        expected.update(b.get("args", {}), epochs=b["epochs"]["synthetic"])
        assert settings == expected, name


def test_python_api_checks_arguments_too(tmp_path):
    from synthscene.train import evaluate, train

    with pytest.raises(BadInput, match="warmup_epoch"):
        train(_dataset(tmp_path / "ds"), warmup_epoch=0, out=tmp_path / "run")
    with pytest.raises(BadInput, match="iou"):
        evaluate(tmp_path / "w.pt", tmp_path, iou="high")


# ---- a copied or moved dataset trains on its own images ------------------------------------------


def test_a_copied_and_a_moved_dataset_train_on_their_own_images(tmp_path, monkeypatch, capsys, recorded):
    from ultralytics.data.utils import check_det_dataset

    original = _dataset(tmp_path / "original")
    copy = tmp_path / "elsewhere" / "copy"
    shutil.copytree(original, copy)
    moved = tmp_path / "moved"
    for ds in (copy, moved):
        if ds == moved:
            original.rename(moved)  # the data.yaml's absolute path now names nothing
        code, _, err = run_main(monkeypatch, capsys, "train", ds, "--epochs", "1", "--imgsz", "32", "--out", ds.parent / f"run-{ds.name}")
        assert code == 1 and "Stop" in err
        resolved = check_det_dataset(recorded[-1]["data"])  # what Ultralytics will read
        assert Path(resolved["train"]) == ds / "images" / "train" and Path(resolved["val"]) == ds / "images" / "val"
