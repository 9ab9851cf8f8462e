"""COCO AP under BOP's ignore convention: hand-made gold boxes and detections, then the evaluate CLI."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from synthscene.core.errors import BadInput
from synthscene.train.coco_eval import coco_scores, gold_boxes
from synthscene.realdata.gold import load_gold

ROOT = Path(__file__).resolve().parents[1]


def gt(img, cat, box, ignore=False):
    return {"image_id": img, "category_id": cat, "bbox": box, "ignore": ignore}


def det(img, cat, box, score):
    return {"image_id": img, "category_id": cat, "bbox": box, "score": score}


GOLD = [gt(0, 0, [10, 10, 50, 40]), gt(0, 1, [100, 100, 30, 60]), gt(1, 0, [200, 50, 80, 80])]
DETS = [det(0, 0, [12, 11, 48, 40], 0.9), det(0, 1, [100, 100, 30, 60], 0.8),
        det(1, 0, [190, 40, 80, 80], 0.7), det(1, 1, [0, 0, 20, 20], 0.6)]  # one imprecise box, one false positive


def test_perfect_detections_score_one():
    dets = [det(g["image_id"], g["category_id"], g["bbox"], 0.9) for g in GOLD]
    s = coco_scores([0, 1], GOLD, dets, [0, 1])
    assert s["AP"] == s["AP50"] == s["AP75"] == s["AR100"] == 1.0
    assert s["AP_small"] is None  # no gold box under 32² px: nothing to measure, not 0


def test_a_detection_on_an_ignored_box_is_neither_hit_nor_false_positive():
    base = coco_scores([0, 1], GOLD, DETS, [0, 1])
    assert 0 < base["AP"] < 1
    hidden = gt(1, 1, [300, 300, 40, 40], ignore=True)
    on_hidden = det(1, 1, [301, 300, 40, 40], 0.95)  # the most confident detection of its class
    assert coco_scores([0, 1], GOLD + [hidden], DETS + [on_hidden], [0, 1]) == base
    # without the ignored box, that detection is the most confident false positive of its class
    assert coco_scores([0, 1], GOLD, DETS + [on_hidden], [0, 1])["AP"] < base["AP"]
    # an ignored box nobody finds is no miss either; the same box not ignored is one
    assert coco_scores([0, 1], GOLD + [hidden], DETS, [0, 1]) == base
    assert coco_scores([0, 1], GOLD + [{**hidden, "ignore": False}], DETS, [0, 1])["AR100"] < base["AR100"]


def test_ignored_box_keeps_the_ordinary_iou():
    """Unlike an iscrowd region, a detection merely inside an ignored box (IoU < .5) is still a false positive."""
    hidden = gt(1, 1, [300, 300, 200, 200], ignore=True)
    inside = det(1, 1, [310, 310, 40, 40], 0.95)
    assert coco_scores([0, 1], GOLD + [hidden], DETS + [inside], [0, 1])["AP"] < coco_scores([0, 1], GOLD, DETS, [0, 1])["AP"]


def test_false_positives_on_an_image_without_gold_boxes_count():
    clean = coco_scores([0, 1, 2], GOLD, DETS, [0, 1])
    noisy = coco_scores([0, 1, 2], GOLD, DETS + [det(2, 0, [5, 5, 50, 50], 0.99)], [0, 1])
    assert noisy["AP"] < clean["AP"]


def test_no_gold_box_gives_no_score():
    assert coco_scores([0], [], [det(0, 0, [1, 1, 5, 5], 0.5)], [0])["AP"] is None


def _folder(tmp_path: Path, labels: dict[str, str], extra: dict | None = None) -> Path:
    import cv2
    import numpy as np

    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    for stem, text in labels.items():
        cv2.imwrite(str(tmp_path / "images" / f"{stem}.png"), np.zeros((100, 200, 3), np.uint8))
        (tmp_path / "labels" / f"{stem}.txt").write_text(text)
    (tmp_path / "data.yaml").write_text(yaml.safe_dump({"names": ["a", "b"], **(extra or {})}))
    return tmp_path


def test_plain_yolo_gold_set_is_scored_without_ignores_and_says_so(tmp_path):
    g = load_gold(_folder(tmp_path, {"x": "1 0.5 0.5 0.2 0.4\n"}))
    gts, info = gold_boxes(g, g.images, {"x.png": (200, 100)}, ["b", "a"])
    assert gts == [{"image_id": 0, "category_id": 0, "bbox": [80.0, 30.0, 40.0, 40.0], "ignore": False}]
    assert info["ignored_instances"] == 0 and "without ignored" in info["note"] and info["box_convention"] == "visible"


def test_plain_gold_set_declares_amodal_boxes_and_refuses_a_contradiction(tmp_path):
    g = load_gold(_folder(tmp_path, {"x": ""}, {"box_convention": "amodal"}))
    assert gold_boxes(g, g.images, {"x.png": (200, 100)}, ["a", "b"])[1]["box_convention"] == "amodal"
    with pytest.raises(BadInput, match="no BOP annotations"):
        gold_boxes(g, g.images, {"x.png": (200, 100)}, ["a", "b"], "visible")
    with pytest.raises(BadInput, match="expected one of"):
        gold_boxes(g, g.images, {"x.png": (200, 100)}, ["a", "b"], "modal")


@pytest.mark.slow  # renders or runs a process (measured > 1.5 s)
def test_lmo_gold_boxes_follow_bop(shared):
    """LM-O's YOLO labels are BOP's bbox_visib of instances ≥ 10% visible; the rest are ignored, amodal from bbox_obj."""
    g = load_gold(shared / "gold/lmo/yolo")
    sizes = {p.name: (640, 480) for p in g.images}
    info_json = json.loads((shared / "gold/lmo/bop/scene_gt_info.json").read_text())
    low = sum(1 for p in g.images for i in info_json[str(int(p.stem))] if i["visib_fract"] < 0.1)
    labelled = sum(len([ln for ln in g.label_of(p).read_text().splitlines() if ln.strip()]) for p in g.images)
    vis, vinfo = gold_boxes(g, g.images, sizes, g.names)
    amo, ainfo = gold_boxes(g, g.images, sizes, g.names, "amodal")
    assert vinfo["box_convention"] == "visible" and ainfo["box_convention"] == "amodal"
    assert vinfo["ignored_instances"] == ainfo["ignored_instances"] == low > 0
    assert sum(not x["ignore"] for x in vis) == sum(not x["ignore"] for x in amo) == labelled
    area = lambda gs: sum(x["bbox"][2] * x["bbox"][3] for x in gs if not x["ignore"])  # noqa: E731
    assert area(amo) > area(vis)  # occluded objects' full extent is larger than their visible part
    # a detector that outputs exactly the visible gold boxes is perfect under "visible", not under "amodal"
    dets = [{**x, "score": 0.9} for x in vis if not x["ignore"]]
    ids = list(range(len(g.images)))
    assert coco_scores(ids, vis, dets, list(range(8)))["AP"] == 1.0
    assert coco_scores(ids, amo, dets, list(range(8)))["AP"] < 1.0


def test_evaluate_cli_reports_the_coco_block(shared, tmp_path):
    sys.path.insert(0, str(ROOT / "tests"))
    from _train_fixtures import small_gold
    from synthscene.train import train

    gold = small_gold(tmp_path / "gold", 4, start=20)
    res = train(gold, epochs=1, imgsz=64, batch=4, out=tmp_path / "run", plots=False)
    # the small gold folder has no bop/ beside it: a plain YOLO set
    for args, conv, ignores in ((["--gold", str(gold)], "visible", False),
                                (["--gold", str(shared / "gold/lmo/yolo"), "--box-convention", "amodal"], "amodal", True)):
        cli = subprocess.run([sys.executable, "-m", "synthscene.cli", "evaluate", str(res.last), *args, "batch=16"],
                             cwd=ROOT, capture_output=True, text=True,
                             env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
        assert cli.returncode == 0, cli.stderr
        coco = json.loads(cli.stdout)["coco"]
        assert coco["box_convention"] == conv and coco["conf"] == 0.001
        assert all(k in coco for k in ("AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large", "AR100"))
        assert (coco["ignored_instances"] > 0) == ignores
    bad = subprocess.run([sys.executable, "-m", "synthscene.cli", "evaluate", str(res.last), "--gold", str(gold),
                          "--box-convention", "modal"], cwd=ROOT, capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert bad.returncode == 2 and "--box-convention" in bad.stderr and "Traceback" not in bad.stderr
