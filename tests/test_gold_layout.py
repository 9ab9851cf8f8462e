"""A gold set may be a flat YOLO folder or one in split folders, as `generate` writes it."""
from __future__ import annotations

import pytest

from synthscene import load_config
from synthscene.core.errors import BadInput
from synthscene.generation.pipeline import generate
from synthscene.realdata.gold import load_gold, write_view
from robust_helpers import small_config_file


def test_a_generated_dataset_is_a_gold_set(tmp_path):
    out = tmp_path / "heldout"
    generate(load_config(small_config_file(tmp_path, count=6)), out, progress=False)
    gold = load_gold(out)
    on_disk = sorted(out.glob("images/*/*.jpg"))
    assert sorted(gold.images) == on_disk and len(on_disk) == 6
    for img in gold.images:
        split = img.parent.name
        assert gold.label_of(img) == out / "labels" / split / f"{img.stem}.txt"
    view = write_view(gold, gold.images, gold.names, tmp_path / "view")
    labels = {p.name: p.read_text() for p in (view.parent / "labels").glob("*.txt")}
    assert labels == {p.name: p.read_text() for p in out.glob("labels/*/*.txt")}


def test_same_file_name_in_two_split_folders_is_bad_input(tmp_path):
    for split in ("train", "val"):
        (tmp_path / "images" / split).mkdir(parents=True)
        (tmp_path / "images" / split / "a.jpg").write_bytes(b"x")
    (tmp_path / "data.yaml").write_text("names: [a]\n")
    with pytest.raises(BadInput, match="share a file name"):
        load_gold(tmp_path)


def test_one_reader_of_yolo_label_lines(tmp_path):
    from synthscene.realdata.gold import yolo_rows

    lab = tmp_path / "a.txt"
    lab.write_text("1 0.5 0.5 0.2 0.4\n\n0 0.1 0.2 0.1 0.1\n")
    assert yolo_rows(lab, 2) == [(1, 0.5, 0.5, 0.2, 0.4), (0, 0.1, 0.2, 0.1, 0.1)]
    assert yolo_rows(tmp_path / "none.txt", 2) == []
    for bad in ("2 0.5 0.5 0.2 0.4", "-1 0.5 0.5 0.2 0.4", "0 0.5 0.5", "x 0.5 0.5 0.2 0.4"):
        lab.write_text(bad + "\n")
        with pytest.raises(BadInput, match="a.txt.*line 1"):
            yolo_rows(lab, 2)
