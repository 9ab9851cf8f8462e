"""`synthscene init`: a complete config from meshes (and photos), which loads and generates."""
from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pybullet_data
import pytest

from conftest import run_cli
from synthscene import init_config, load_config
from synthscene.core.errors import BadInput

DUCK = Path(pybullet_data.getDataPath()) / "duck.obj"
LMO_MESHES = {"ape": 1, "can": 5, "cat": 6, "driller": 8, "duck": 9, "eggbox": 10, "glue": 11, "holepuncher": 12}


def test_init_from_a_bundled_mesh_loads_and_generates(tmp_path):
    r = run_cli("init", DUCK, "--units", "m", "--out", "duck.yaml", cwd=tmp_path, check=False)  # cwd outside the repo
    assert r.returncode == 0, r.stderr
    cfg = load_config(tmp_path / "duck.yaml")
    assert cfg.class_names == ["duck"] and cfg.assets[0].units == "m"
    rz = cfg.randomizers
    assert rz.occlusion.enabled and rz.texture.enabled and rz.background.enabled and rz.post.enabled
    assert rz.texture.folder is None and rz.background.folder is None  # offline defaults: no ../shared needed
    assert cfg.scene.ground.urdf.endswith("plain_ground.urdf")
    # a 1.65 m duck: the camera stands back accordingly (its largest side 10-30% of the image height)
    f = cfg.camera.K[1, 1]
    lo, hi = rz.camera.distance
    assert f * 1.6548 / hi == pytest.approx(0.1 * 480, rel=0.01) and f * 1.6548 / lo == pytest.approx(0.3 * 480, rel=0.01)
    text = (tmp_path / "duck.yaml").read_text()
    small = text.replace("width: 640", "width: 160").replace("height: 480", "height: 120")
    (tmp_path / "small.yaml").write_text(small)
    r = run_cli("generate", "small.yaml", "--count", "2", "--out", "ds", cwd=tmp_path, check=False)
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "ds" / "images").rglob("*.jpg"))) == 2


@pytest.mark.slow  # renders or runs a process (measured > 1.5 s)
def test_name_equals_mesh_names_the_class_and_folders_are_optional(tmp_path):
    tex = tmp_path / "tex"
    tex.mkdir()
    import cv2

    cv2.imwrite(str(tex / "a.png"), np.full((8, 8, 3), 128, np.uint8))
    out = init_config([f"birdie={DUCK}", str(DUCK)], tmp_path / "two.yaml", textures=tex, backgrounds=tex, upright=True)
    cfg = load_config(out)
    assert [a.name for a in cfg.assets] == ["birdie", "duck"] and cfg.class_names == ["birdie", "duck"]
    assert all(a.upright for a in cfg.assets)
    assert Path(cfg.randomizers.texture.folder) == tex and Path(cfg.randomizers.background.folder) == tex
    with pytest.raises(BadInput, match="two meshes are named 'duck'"):
        init_config([str(DUCK), str(DUCK)], tmp_path / "dup.yaml")
    assert not (tmp_path / "dup.yaml").exists()


def test_bad_input_exits_2_naming_it(tmp_path):
    missing = tmp_path / "nope.obj"
    r = run_cli("init", missing, "--out", "x.yaml", cwd=tmp_path, check=False)
    assert r.returncode == 2 and str(missing) in r.stderr and "Traceback" not in r.stderr
    for gold in (tmp_path / "no_such_folder", tmp_path):  # absent; present but no photos/names
        r = run_cli("init", DUCK, "--gold", gold, "--out", "x.yaml", cwd=tmp_path, check=False)
        assert r.returncode == 2 and str(gold) in r.stderr and "--gold" in r.stderr, r.stderr
    junk = tmp_path / "junk.obj"
    junk.write_bytes(b"\x00\x01 not a mesh")
    r = run_cli("init", junk, "--out", "x.yaml", cwd=tmp_path, check=False)
    assert r.returncode == 2 and str(junk) in r.stderr
    r = run_cli("init", DUCK, "--units", "inch", "--out", "x.yaml", cwd=tmp_path, check=False)
    assert r.returncode == 2 and "--units" in r.stderr
    assert not (tmp_path / "x.yaml").exists()
    (tmp_path / "mine.yaml").write_text("# my own config\n")
    r = run_cli("init", DUCK, "--out", "mine.yaml", cwd=tmp_path, check=False)  # never overwritten unasked
    assert r.returncode == 2 and "--overwrite" in r.stderr and (tmp_path / "mine.yaml").read_text() == "# my own config\n"
    assert run_cli("init", DUCK, "--out", "mine.yaml", "--overwrite", cwd=tmp_path, check=False).returncode == 0


@pytest.mark.slow  # renders or runs a process (measured > 1.5 s)
def test_init_from_lmo_photos_matches_their_camera_and_box_sizes(shared, tmp_path):
    gold = shared / "gold" / "lmo" / "yolo"
    models = shared / "gold" / "lmo" / "models"
    meshes = [f"{n}={models / f'obj_{i:06d}.ply'}" for n, i in LMO_MESHES.items()]
    out = init_config(meshes, tmp_path / "lmo.yaml", units="mm", gold=gold, upright=True)
    cfg = load_config(out)
    cam = json.loads((shared / "gold/lmo/bop/camera.json").read_text())
    assert (cfg.camera.width, cfg.camera.height) == (cam["width"], cam["height"]) == (640, 480)
    assert cfg.camera.intrinsics.fx == cam["fx"] and cfg.camera.intrinsics.cy == cam["cy"]
    assert cfg.class_names == list(LMO_MESHES)
    # the gold boxes' median longer side lies within what the distance range produces for these meshes
    sides = []
    for lab in (gold / "labels").glob("*.txt"):
        for line in lab.read_text().splitlines():
            if line.strip():
                _, _, _, w, h = map(float, line.split())
                sides.append(max(w * 640, h * 480))
    extent = np.median([max(json.loads((models / "models_info.json").read_text())[str(i)][k]
                            for k in ("size_x", "size_y", "size_z")) for i in LMO_MESHES.values()]) / 1000
    lo, hi = cfg.randomizers.camera.distance
    f = cam["fy"]
    assert f * extent / hi < np.median(sides) < f * extent / lo
    # the real LM-O object distances (346-1500 mm, median 990) and elevations (median 32°) are covered
    assert lo < 0.99 < hi and 0.4 < lo and hi < 2.0
    e_lo, e_hi = cfg.randomizers.camera.elevation_deg
    assert e_lo < 32 < e_hi
    text = out.read_text()
    for what in ("the photos' size", "the photos' camera", "estimated distance", "estimated elevation"):
        assert what in text  # every estimated value says where it came from
    assert "`synthscene init --scene dense` lays them out so" in text  # the photos' objects stand packed
    # --scene dense: the region from the spread of the photos' box centres (hand-tuned lmo_dense.yaml: 0.40-0.60 m)
    notes: list[str] = []
    dense = load_config(init_config(meshes, tmp_path / "dense.yaml", units="mm", gold=gold, upright=True,
                                    scene="dense", notes=notes))
    lo, hi = dense.randomizers.pose.dense.size
    assert dense.randomizers.pose.mode == "dense" and 0.3 < lo < 0.5 < hi < 0.8
    assert any(n.startswith("read: dense region") for n in notes)


def test_packing_and_region_size_measure_what_inspect_measures():
    """init's reading of the photos' layout: the composition statistics of diagnosis/composition.py."""
    from collections import Counter

    from synthscene.commands.init_config import Gold, packing, region_size

    touching = np.array([[100, 100, 200, 200], [190, 100, 290, 200], [100, 190, 200, 290]], float)
    apart = np.array([[0, 0, 50, 50], [500, 400, 550, 450]], float)
    g = Gold(Path("."), ["a"], (640, 480), Counter(), layouts=[(touching, 640, 480), (apart[:1], 640, 480)])
    p = packing(g)
    assert p["photos"] == 1 and p["overlap"] == 1.0 and p["nn_distance"] < 0.7  # the lone box is left out
    assert packing(Gold(Path("."), ["a"], (640, 480), Counter(), layouts=[(apart[:1], 640, 480)])) is None
    assert packing(Gold(Path("."), ["a"], (640, 480), Counter(), layouts=[(apart, 640, 480)]))["overlap"] == 0.0
    # LM-O: spread 0.158 of the 800 px diagonal at 0.93 m, f = 573 px → about half a metre
    assert region_size(0.158, (640, 480), 0.93, 573.0) == pytest.approx(0.502, abs=0.005)


def test_init_reads_the_viewpoints_of_its_own_photos_only(tmp_path):
    """A BOP folder covers the whole scene, held-out photos too: a train-pool view must not learn from them."""
    gold = Path(__file__).resolve().parents[2] / "shared" / "gold" / "lmo" / "yolo"
    if not gold.is_dir():
        pytest.skip("../shared/gold/lmo is absent")
    view = tmp_path / "view"
    (view / "images").mkdir(parents=True)
    (view / "labels").mkdir()
    photos = sorted((gold / "images").glob("*"))[:5]
    for img in photos:
        (view / "images" / img.name).symlink_to(img)
        (view / "labels" / f"{img.stem}.txt").write_text((gold / "labels" / f"{img.stem}.txt").read_text())
    (view / "data.yaml").write_text((gold / "data.yaml").read_text())
    (view / "bop").symlink_to(gold.parent / "bop")
    scene_gt = json.loads((gold.parent / "bop" / "scene_gt.json").read_text())
    expected = sum(len(scene_gt[str(int(p.stem))]) for p in photos)
    read_gold = importlib.import_module("synthscene.commands.init_config").read_gold  # the package exports the function init_config
    assert len(read_gold(view).elevations) == expected < sum(map(len, scene_gt.values()))


def test_init_writes_yaml_that_loads_whatever_the_names_and_paths(tmp_path):
    """Gold class names and folders with YAML syntax in them are quoted; comments quoting them stay comments."""
    import cv2
    import yaml

    odd = tmp_path / "a: b #c [x]\nnext"
    (odd / "images").mkdir(parents=True)
    (odd / "labels").mkdir()
    cv2.imwrite(str(odd / "images" / "a.png"), np.zeros((48, 64, 3), np.uint8))
    (odd / "labels" / "a.txt").write_text("1 0.5 0.5 0.3 0.3\n")
    names = ["duck", "a, b", "x]", "#c", 'q"z', "{y}"]
    (odd / "data.yaml").write_text(yaml.safe_dump({"names": names}))
    cube = "".join(f"v {x} {y} {z}\n" for x in (0, .05) for y in (0, .05) for z in (0, .05))
    (odd / "duck.obj").write_text(cube + "f 1 2 4\nf 1 4 3\nf 5 7 8\nf 5 8 6\nf 1 5 6\nf 1 6 2\n"
                                  "f 3 4 8\nf 3 8 7\nf 1 3 7\nf 1 7 5\nf 2 6 8\nf 2 8 4\n")
    out = init_config([f"duck={odd / 'duck.obj'}"], tmp_path / "odd.yaml", gold=odd, textures=odd, count=7)
    cfg = load_config(out)
    assert cfg.class_names == names and cfg.count == 7
    assert Path(cfg.assets[0].mesh) == odd / "duck.obj" and Path(cfg.randomizers.texture.folder) == odd


@pytest.mark.parametrize("args, named, message", [
    (["x]=DUCK"], "x]=", "letters, digits"),
    (["a, b=DUCK"], "a, b=", "letters, digits"),
    (["/dev/zero"], "/dev/zero", "not a regular file"),
    (["DUCK", "--count", "0"], "--count", "expected 1 to"),
    (["DUCK", "--count", "-5"], "--count", "expected 1 to"),
])
def test_init_refuses_what_would_not_load_exit_2(tmp_path, args, named, message):
    r = run_cli("init", *[a.replace("DUCK", str(DUCK)) for a in args], "--out", "x.yaml", cwd=tmp_path, check=False)
    assert r.returncode == 2 and named in r.stderr and message in r.stderr and "bug" not in r.stderr, r.stderr
    assert not (tmp_path / "x.yaml").exists()
