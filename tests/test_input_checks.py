"""Hostile or inconsistent inputs refused up front (issue 22): weights that inflate without bound, a gold
folder without labels, KEY=VALUE values Ultralytics would refuse late, an empty --only, packaged names
that escape the package, a mesh that is not a regular file."""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from synthscene.core.errors import BadInput
from conftest import run_main


def _bomb(path: Path, mib: int = 64) -> Path:
    """A zip archive as torch.save names its members, whose data.pkl deflates ~1000-fold."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z, z.open("archive/data.pkl", "w", force_zip64=True) as f:
        for _ in range(mib):
            f.write(bytes(1 << 20))
    return path


def test_weights_that_inflate_without_bound_are_refused_before_torch_reads_them(tmp_path, monkeypatch, capsys):
    bomb = _bomb(tmp_path / "bomb.pt")
    assert bomb.stat().st_size < 200_000
    code, err = run_main(monkeypatch, capsys, "evaluate", bomb, "--gold", _gold(tmp_path / "gold", {"a": ""}))
    assert code == 2 and "bomb.pt" in err and "inflates" in err, err


def test_weights_over_the_total_cap_are_refused(tmp_path, monkeypatch):
    import torch

    from synthscene.train import weights

    torch.save({"w": torch.zeros(1000)}, tmp_path / "big.pt")  # stored members, ratio 1: only the total cap applies
    monkeypatch.setattr(weights, "MAX_UNCOMPRESSED", 1000)
    with pytest.raises(BadInput, match="big.pt.*GiB"):
        weights.check_weights(tmp_path / "big.pt")


def _gold(root: Path, labels: dict[str, str] | None) -> Path:
    (root / "images").mkdir(parents=True)
    for stem in ("a", "b"):
        cv2.imwrite(str(root / "images" / f"{stem}.png"), np.full((48, 64, 3), 90, np.uint8))
    if labels is not None:
        (root / "labels").mkdir()
        for stem, text in labels.items():
            (root / "labels" / f"{stem}.txt").write_text(text)
    (root / "data.yaml").write_text(yaml.safe_dump({"names": {0: "a"}}))
    return root


def test_a_gold_folder_without_labels_is_refused_by_every_reader(tmp_path):
    from synthscene.diagnosis.run import load_gold_images
    from synthscene.commands.init_config import read_gold
    from synthscene.realdata.gold import load_gold

    gold = _gold(tmp_path / "gold", None)
    for read in (load_gold, load_gold_images, read_gold):
        with pytest.raises(BadInput, match=r"gold.*--gold.*no labels/"):
            read(gold)


def test_an_empty_or_missing_label_file_is_an_image_without_objects(tmp_path):
    from synthscene.realdata.gold import load_gold, yolo_rows

    gold = load_gold(_gold(tmp_path / "gold", {"a": "0 0.5 0.5 0.2 0.2\n"}))  # b.png has no label file
    assert [len(yolo_rows(gold.label_of(im), 1)) for im in gold.images] == [1, 0]
    (tmp_path / "gold" / "labels" / "b.txt").write_text("")
    assert [len(yolo_rows(gold.label_of(im), 1)) for im in gold.images] == [1, 0]


def test_init_reads_gold_class_names_from_classes_txt(tmp_path):
    from synthscene.realdata.gold import load_gold

    gold = _gold(tmp_path / "gold", {"a": ""})
    (gold / "data.yaml").unlink()
    (gold / "classes.txt").write_text("cup\nbowl\n")
    assert load_gold(gold).names == ["cup", "bowl"]


@pytest.mark.parametrize("only", [",", "", " , "])
def test_an_empty_only_is_a_usage_error_not_the_whole_dataset(tmp_path, monkeypatch, capsys, only):
    from robust_helpers import small_config_file

    cfg = small_config_file(tmp_path, count=3)
    code, err = run_main(monkeypatch, capsys, "generate", cfg, "--out", tmp_path / "o", "--only", only)
    assert code == 2 and "--only" in err, err
    assert not (tmp_path / "o").exists()


def test_the_python_api_refuses_an_empty_selection(tmp_path):
    from robust_helpers import small_config_file
    from synthscene import generate, load_config

    with pytest.raises(BadInput, match="--only"):
        generate(load_config(small_config_file(tmp_path, count=3)), tmp_path / "o", only=[], progress=False)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("field, yaml_text", [
    ("scene.ground.urdf", 'scene:\n  ground: {urdf: "synthscene:../../../../../../../etc/passwd"}\n'),
    ("scene.ground.urdf", 'scene:\n  ground: {urdf: "synthscene:/etc/passwd"}\n'),
    ("randomizers.texture.folder", "  texture: {folder: 'synthscene:../..'}\n"),
    ("assets[0].urdf", None),
])
def test_packaged_names_stay_inside_the_package(tmp_path, field, yaml_text):
    from robust_helpers import small_config_file
    from synthscene import load_config

    path = small_config_file(tmp_path, count=2)
    text = path.read_text()
    if yaml_text is None:
        text = text.replace('"pybullet:duck_vhacd.urdf"', '"pybullet:../../../../../../../../etc/passwd"')
    else:
        text = text.replace("output:", yaml_text + "output:", 1) if yaml_text.startswith("scene") else text.replace(
            "randomizers:\n", "randomizers:\n" + yaml_text, 1)
    path.write_text(text)
    with pytest.raises(BadInput, match=rf"c.yaml: {re.escape(field)}: .*leads out of the packaged data folder"):
        load_config(path)


def test_packaged_names_inside_the_package_resolve_as_before():
    import pybullet_data

    from synthscene.core.schema import DATA_DIR, resolve_path

    assert resolve_path("synthscene:plain_ground.urdf", None) == DATA_DIR / "plain_ground.urdf"
    assert resolve_path("pybullet:objects/mug.urdf", None) == Path(pybullet_data.getDataPath()) / "objects/mug.urdf"
