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


# ---- never write through a link synthscene did not make ---------------------------------------------

def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    return victim


def _plant(folder: Path, name: str, victim: Path) -> list[Path]:
    """Links at every temporary name synthscene once used for `name` (fixed, or from this process' pid)."""
    links = [folder / f".{name}.tmp", folder / f".{name}.tmp-{os.getpid()}", folder / f".{name}.{os.getpid()}.tmp"]
    for link in links:
        link.symlink_to(victim)
    return links


def test_atomic_write_never_writes_through_a_link(tmp_path):
    from synthscene.core.files import TEMP_RE, atomic_write, staged_write

    victim = _victim(tmp_path)
    links = _plant(tmp_path, "x.json", victim)
    atomic_write(tmp_path / "x.json", "mine")
    assert (tmp_path / "x.json").read_text() == "mine" and victim.read_text() == "precious\n"
    assert all(link.is_symlink() for link in links)
    (tmp_path / "y.json").symlink_to(victim)  # a link at the name itself: replaced, not written through
    atomic_write(tmp_path / "y.json", "mine")
    assert not (tmp_path / "y.json").is_symlink() and victim.read_text() == "precious\n"
    with staged_write(tmp_path / "z.json", "mine") as tmp:
        assert TEMP_RE.match(tmp.name) and tmp.name not in {p.name for p in links}  # remove_stray_temps finds it
        assert oct(tmp.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_init_does_not_write_through_a_planted_temporary(tmp_path, monkeypatch, capsys):
    """`ln -s victim.txt .j.yaml.tmp; synthscene init cube.obj --out j.yaml` once filled victim.txt."""
    from conftest import run_main
    from test_bad_input import CUBE_OBJ

    victim = _victim(tmp_path)
    (tmp_path / "cube.obj").write_text(CUBE_OBJ)
    _plant(tmp_path, "j.yaml", victim)
    monkeypatch.setenv("SYNTHSCENE_CACHE", str(tmp_path / "cache"))
    code, err = run_main(monkeypatch, capsys, "init", tmp_path / "cube.obj", "--out", tmp_path / "j.yaml")
    assert code == 0, err
    assert victim.read_text() == "precious\n" and "assets:" in (tmp_path / "j.yaml").read_text()


def test_refine_does_not_write_through_a_planted_temporary(tmp_path):
    from test_refine import BIG, _diagnosis, _image, _write, tiny_config

    from synthscene import refine

    victim = _victim(tmp_path)
    diag = _diagnosis(tmp_path, [_image(f"{i}.png", BIG, "duck", i % 2) for i in range(8)], [{"class": "duck", "area": 4e4}] * 8)
    _plant(tmp_path, "new.yaml", victim)
    refine(_write(tmp_path, tiny_config()), diag, tmp_path / "new.yaml")
    assert victim.read_text() == "precious\n" and "provenance" in (tmp_path / "new.yaml").read_text()


def test_the_font_copy_does_not_write_through_a_planted_temporary(tmp_path):
    from synthscene.train.offline import _provide_fonts

    victim = _victim(tmp_path)
    _plant(tmp_path, "Arial.ttf", victim)
    _provide_fonts(tmp_path)
    assert victim.read_text() == "precious\n" and (tmp_path / "Arial.ttf").stat().st_size > 100_000
