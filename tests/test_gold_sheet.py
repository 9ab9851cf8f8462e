"""`inspect --gold` draws the gold photos with their boxes and class names (preview.py's drawing)."""
from __future__ import annotations

import json

import cv2
import numpy as np

from conftest import run_cli
from synthscene.diagnosis.inspect import load_dataset
from synthscene.generation.preview import _palette, photo_sheet


def yolo_folder(folder, n=5, size=(320, 240)):
    (folder / "images").mkdir(parents=True)
    (folder / "labels").mkdir()
    (folder / "data.yaml").write_text("path: .\ntrain: images\nval: images\nnames: {0: duck, 1: mug}\n")
    rng = np.random.default_rng(0)
    for k in range(n):
        img = np.clip(rng.normal(110, 20, (size[1], size[0], 3)), 0, 255).astype(np.uint8)  # grey noise: no box colour
        cv2.imwrite(str(folder / "images" / f"{k:03d}.jpg"), img)
        (folder / "labels" / f"{k:03d}.txt").write_text("0 0.3 0.4 0.2 0.3\n1 0.7 0.6 0.25 0.2\n")
    return folder


def test_inspect_gold_writes_a_sheet_of_the_photos_with_their_boxes(tmp_path):
    gold = yolo_folder(tmp_path / "gold")
    data = yolo_folder(tmp_path / "data", n=3)
    r = run_cli("inspect", data, "--gold", gold, "--out", tmp_path / "report", check=False)
    assert r.returncode == 0, r.stderr
    path = tmp_path / "report" / "gold_sheet.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    sheet = cv2.imread(str(path))
    assert sheet.shape == (240, 5 * 320, 3)  # 5 photos in a row of 320 px tiles (preview's sheet; 6 columns at most)
    assert json.loads((tmp_path / "report" / "stats.json").read_text())["gold_sheet"] == "gold_sheet.png"
    assert "![gold photos](gold_sheet.png)" in (tmp_path / "report" / "report.md").read_text()

    gs = load_dataset(gold)
    bare, _ = photo_sheet(gs.images, np.zeros((0, 6)), gs.names)
    assert bare.shape == sheet.shape and np.abs(sheet.astype(int) - bare).max() > 100
    for class_id in (0, 1):  # each class's box colour, as preview draws it, is on the sheet
        near = np.abs(sheet.astype(int) - _palette(class_id)).max(axis=2) < 30
        assert near.sum() > 5 * 100, class_id  # 5 boxes' outlines, hundreds of pixels each
        assert (np.abs(bare.astype(int) - _palette(class_id)).max(axis=2) < 30).sum() == 0


def test_without_gold_no_sheet(tmp_path):
    data = yolo_folder(tmp_path / "data", n=2)
    run_cli("inspect", data, "--out", tmp_path / "report")
    assert not (tmp_path / "report" / "gold_sheet.png").exists()
