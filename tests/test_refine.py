"""`synthscene refine`: hand-made diagnoses (diagnosis.core on hand-made boxes) move the right config keys."""
from __future__ import annotations

import json
from pathlib import Path

import pybullet_data
import pytest
import yaml
from conftest import run_cli

from synthscene import load_config, refine
from synthscene.config import config_from_dict
from synthscene.diagnosis import diagnose_sets

BIG, SMALL = (100, 100, 300, 300), (100, 100, 120, 120)  # 200² px (large), 20² px (small)


def tiny_config(**overrides) -> dict:
    """96×72 on the bundled PyBullet assets; a narrow lens so that the duck's boxes are medium-sized."""
    cfg = {
        "seed": 3, "count": 4,
        "assets": [{"name": "duck", "urdf": "pybullet:duck_vhacd.urdf", "count": [1, 1]},
                   {"name": "mug", "urdf": "pybullet:objects/mug.urdf", "count": [0, 2]}],
        "camera": {"width": 96, "height": 72, "intrinsics": {"fx": 400, "fy": 400, "cx": 48, "cy": 36}},
        "randomizers": {"pose": {"mode": "drop", "settle_steps": 30},
                        "camera": {"distance": [0.5, 0.7], "elevation_deg": [35, 70]}},
    }
    cfg.update(overrides)
    return cfg


def _image(name, box, cls, found, brightness=100.0):
    return {"image": name, "width": 640, "height": 480,
            "stats": {"brightness": brightness, "contrast": 40.0, "blur": 50.0},
            "gold": [{"xyxy": list(box), "cls": cls}],
            "preds": [{"xyxy": list(box), "cls": cls, "score": 0.9}] if found else []}


def _diagnosis(tmp_path: Path, images, synthetic, classes=("duck", "mug")) -> Path:
    rep = diagnose_sets(images, synthetic, list(classes), conf=0.5)
    folder = tmp_path / "diag"
    folder.mkdir(exist_ok=True)
    (folder / "report.json").write_text(json.dumps(rep))
    return folder


def _write(tmp_path: Path, cfg: dict, name="config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg))
    return path


def _by_key(res) -> dict:
    out = {}
    for c in res["changes"]:
        out.setdefault(c["key"], []).append(c)
    return out


def test_missed_small_boxes_move_the_camera_farther_and_the_supplement_generates(tmp_path):
    images = [_image(f"s{k}", SMALL, "duck", False) for k in range(12)]
    images += [_image(f"b{k}", BIG, "duck", True) for k in range(12)]
    diag = _diagnosis(tmp_path, images, [{"class": "duck", "area": 200.0**2}] * 20)
    # A relative asset path and output dir: they must still resolve from the new config's folder.
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "assets").symlink_to(pybullet_data.getDataPath())
    cfg = tiny_config(output={"dir": "out"})
    cfg["assets"][0]["urdf"] = "assets/duck_vhacd.urdf"
    src = _write(tmp_path / "a", cfg)
    new = tmp_path / "b" / "supplement.yaml"
    proc = run_cli("refine", src, "--diagnosis", diag, "--out", new, "--images", 2)
    assert "randomizers.camera.distance" in proc.stdout

    written = yaml.safe_load(new.read_text())
    dist = written["randomizers"]["camera"]["distance"]
    assert dist[0] > 0.7 and dist[1] > dist[0]  # farther than before: smaller boxes
    entries = [p for p in written["provenance"] if p["key"] == "randomizers.camera.distance"]
    assert {p["slice"] for p in entries} >= {"coco_size small"}
    small = next(p for p in entries if p["slice"] == "coco_size small")
    assert small["from"] == [0.5, 0.7] and small["to"] == dist
    assert small["figures"]["n_gold"] == 12 and small["figures"]["recall"] == 0.0
    assert small["figures"]["synthetic_share"] == 0.0 and small["figures"]["gold_share"] == 0.5
    assert "under-covered" in small["why"]
    assert "# refine: was [0.5, 0.7]" in new.read_text()  # commented beside the key
    assert written["count"] == 2 and written["seed"] != 3
    assert any(p["key"] == "seed" for p in written["provenance"])

    loaded = load_config(new)
    assert loaded.assets[0].urdf == str(Path(pybullet_data.getDataPath(), "duck_vhacd.urdf").resolve())
    assert loaded.output.dir == str(tmp_path / "a" / "out-supplement")
    run_cli("generate", new, "--count", 2, "--out", tmp_path / "ds")
    assert len(list((tmp_path / "ds").glob("images/*/*.jpg"))) == 2


def test_a_class_with_low_recall_gets_more_copies(tmp_path):
    images = [_image(f"d{k}", BIG, "duck", True) for k in range(12)]
    images += [_image(f"m{k}", BIG, "mug", False) for k in range(12)]
    diag = _diagnosis(tmp_path, images, [{"class": "duck", "area": 4e4}] * 10 + [{"class": "mug", "area": 4e4}] * 10)
    res = refine(_write(tmp_path, tiny_config()), diag, tmp_path / "new.yaml")
    changes = _by_key(res)
    (mug,) = changes["assets[1].count"]
    assert mug["slice"] == "class mug" and mug["from"] == [0, 2]
    assert mug["to"][0] >= 1 and mug["to"][1] > 2
    assert "assets[0].count" not in changes and "randomizers.camera.distance" not in changes
    assert load_config(tmp_path / "new.yaml").assets[1].count == tuple(mug["to"])


def test_failing_dark_photos_lower_the_lighting_intensity(tmp_path):
    images = [_image(f"d{k}", BIG, "duck", False, brightness=30.0) for k in range(12)]
    images += [_image(f"m{k}", BIG, "duck", True, brightness=120.0) for k in range(12)]
    images += [_image(f"b{k}", BIG, "duck", True, brightness=200.0) for k in range(12)]
    synthetic = [{"class": "duck", "area": 4e4, "brightness": v} for v in [120.0] * 10 + [200.0] * 10]
    diag = _diagnosis(tmp_path, images, synthetic)
    res = refine(_write(tmp_path, tiny_config()), diag, tmp_path / "new.yaml")
    (light,) = _by_key(res)["randomizers.lighting.intensity"]
    assert light["slice"].startswith("brightness [-inf,")
    assert light["to"][1] < 0.8 < 1.2 == light["from"][1]  # the whole range moves down
    assert load_config(tmp_path / "new.yaml").randomizers.lighting.intensity == tuple(light["to"])


def test_too_few_gold_instances_are_not_acted_on(tmp_path):
    images = [_image(f"s{k}", SMALL, "duck", False) for k in range(5)]
    images += [_image(f"b{k}", BIG, "duck", True) for k in range(12)]
    diag = _diagnosis(tmp_path, images, [{"class": "duck", "area": 4e4}] * 20)
    rep = json.loads((diag / "report.json").read_text())
    small = next(b for b in rep["slices"]["coco_size"]["bins"] if b["label"] == "small")
    assert small["verdict"] == "too-few" and small["recall"] == 0.0
    res = refine(_write(tmp_path, tiny_config()), diag, tmp_path / "new.yaml")
    assert {c["key"] for c in res["changes"]} == {"seed"}
    assert load_config(tmp_path / "new.yaml").randomizers.camera.distance == (0.5, 0.7)


def test_provenance_is_not_part_of_the_config_hash():
    plain = config_from_dict(tiny_config())
    noted = config_from_dict({**tiny_config(), "provenance": [{"key": "seed", "from": 1, "to": 2, "why": "x"}]})
    assert noted.content_hash() == plain.content_hash()
    assert "provenance" not in plain.to_dict()  # configs without it dump (and hash) exactly as before
    assert noted.to_dict()["provenance"][0]["why"] == "x"  # recorded with the dataset


@pytest.mark.parametrize("report", [None, "{not json", '{"slices": {"class": {"edges": null, "bins": [{"label": "a"}]}}}'])
def test_a_bad_report_exits_2_naming_it(tmp_path, report):
    diag = tmp_path / "diag"
    diag.mkdir()
    if report is not None:
        (diag / "report.json").write_text(report)
    new = tmp_path / "new.yaml"
    proc = run_cli("refine", _write(tmp_path, tiny_config()), "--diagnosis", diag, "--out", new, check=False)
    assert proc.returncode == 2, proc.stderr
    assert str(diag / "report.json") in proc.stderr and "Traceback" not in proc.stderr
    if report and report.startswith('{"slices"'):
        assert "slices.class.bins[0].n_gold" in proc.stderr
    assert not new.exists()


def test_a_bad_config_exits_2_naming_it(tmp_path):
    diag = _diagnosis(tmp_path, [_image("x", BIG, "duck", True)], [])
    bad = _write(tmp_path, {**tiny_config(), "seeed": 1})
    new = tmp_path / "new.yaml"
    proc = run_cli("refine", bad, "--diagnosis", diag, "--out", new, check=False)
    assert proc.returncode == 2 and str(bad) in proc.stderr and "seeed" in proc.stderr
    assert not new.exists() and not list(tmp_path.glob(".new.yaml*"))


def test_occlusion_blur_viewpoint_and_border_slices_move_their_keys(tmp_path):
    """Heavily occluded, blurry, low-elevation, truncated gold boxes missed; the synthetic set has none."""
    images = []
    for k in range(12):
        miss = _image(f"s{k}", (0, 100, 200, 300), "duck", False)
        miss["stats"]["blur"] = 5.0
        miss["gold"][0].update(visibility=0.4, elevation=10.0)
        hit = _image(f"b{k}", BIG, "duck", True)
        hit["stats"]["blur"] = 500.0
        hit["gold"][0].update(visibility=0.95, elevation=45.0)
        images += [miss, hit]
    synthetic = [{"class": "duck", "area": 4e4, "blur": 500.0, "visibility": 1.0, "elevation": 45.0, "border": 0.2}] * 20
    diag = _diagnosis(tmp_path, images, synthetic)
    res = refine(_write(tmp_path, tiny_config()), diag, tmp_path / "new.yaml")
    changes = _by_key(res)
    assert changes["randomizers.occlusion.enabled"][0]["to"] is True
    assert changes["randomizers.occlusion.visibility"][0]["to"] == [0.3, 0.5]
    assert changes["randomizers.camera.elevation_deg"][0]["to"] == [5.0, 30.0]
    assert changes["randomizers.camera.look_at_jitter"][0]["to"] > 0.05
    assert changes["randomizers.post.transform"][0]["slice"] == "blur [5, 500)"  # tertile edges 5, 500
    cfg = load_config(tmp_path / "new.yaml")
    leaves = cfg.randomizers.post.transform["transform"]["transforms"]
    assert [t["__class_fullname__"] for t in leaves] == ["GaussianBlur"]
    assert cfg.randomizers.occlusion.occluders[0] >= 1


def test_the_benchmark_reads_the_slices_refine_aimed_at():
    from synthscene.benchmark.run import aimed_slices

    prov = [{"key": "randomizers.camera.distance", "slice": "coco_size small", "dimension": "coco_size", "bin": "small"},
            {"key": "seed", "slice": None, "dimension": None, "bin": None}]
    assert aimed_slices(prov) == [{"dimension": "coco_size", "bin": "small"}]


def test_refining_a_refined_config_keeps_round_one_and_adds_round_two(tmp_path):
    """Round 2 (the benchmark's targeted2): the provenance keeps round 1's entries as they were and adds
    its own, marked round 2; the benchmark reads the last round's slices."""
    from synthscene.benchmark.run import aimed_slices

    small = [_image(f"s{k}", SMALL, "duck", False) for k in range(12)] + [_image(f"b{k}", BIG, "duck", True) for k in range(12)]
    res1 = refine(_write(tmp_path, tiny_config()), _diagnosis(tmp_path, small, [{"class": "duck", "area": 4e4}] * 20),
                  tmp_path / "r1.yaml", images=2)
    assert {c["round"] for c in res1["changes"]} == {1}
    first = yaml.safe_load((tmp_path / "r1.yaml").read_text())["provenance"]
    assert first == res1["changes"]

    dark = [_image(f"d{k}", BIG, "mug", False, brightness=30.0) for k in range(12)]
    dark += [_image(f"m{k}", BIG, "mug", True, brightness=120.0) for k in range(12)]
    synthetic = [{"class": "mug", "area": 4e4, "brightness": 120.0}] * 20
    (tmp_path / "r2").mkdir()
    diag2 = _diagnosis(tmp_path / "r2", dark, synthetic)
    res2 = refine(tmp_path / "r1.yaml", diag2, tmp_path / "r2.yaml", images=2)
    assert {c["round"] for c in res2["changes"]} == {2}
    prov = yaml.safe_load((tmp_path / "r2.yaml").read_text())["provenance"]
    assert prov[:len(first)] == first and prov[len(first):] == res2["changes"]
    light = next(c for c in res2["changes"] if c["key"] == "randomizers.lighting.intensity")
    assert light["slice"].startswith("brightness")
    cfg = load_config(tmp_path / "r2.yaml")
    assert cfg.randomizers.lighting.intensity == tuple(light["to"])
    assert cfg.randomizers.camera.distance == load_config(tmp_path / "r1.yaml").randomizers.camera.distance  # kept
    assert {s["dimension"] for s in aimed_slices(prov)} == {"brightness"}
    assert {"dimension": "coco_size", "bin": "small"} in aimed_slices(first)
    assert not {s["dimension"] for s in aimed_slices(first)} & {"brightness"}

    # provenance written before rounds were marked (by an older refine, or by hand) counts as round 1
    old = {**yaml.safe_load((tmp_path / "r1.yaml").read_text())}
    old["provenance"] = [{k: v for k, v in e.items() if k != "round"} for e in first] + [{"why": "by hand"}]
    res3 = refine(_write(tmp_path, old, "old.yaml"), diag2, tmp_path / "r3.yaml")
    assert {c["round"] for c in res3["changes"]} == {2}
    assert yaml.safe_load((tmp_path / "r3.yaml").read_text())["provenance"] == first + [{"round": 1, "why": "by hand"}] + res3["changes"]
