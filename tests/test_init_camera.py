"""`synthscene init`: what it cannot know it reads (EXIF), is told (--fov, --intrinsics, --scene) or
says it guessed; a glTF's comment says what was done to it."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pybullet_data
import pytest
from PIL import ExifTags, Image

from conftest import run_cli
from synthscene import init_config, load_config

DUCK = Path(pybullet_data.getDataPath()) / "duck.obj"


def exif_gold(folder: Path, focal35: list[float | None], size=(400, 300)) -> Path:
    """A YOLO gold folder of JPEGs whose EXIF gives a 35 mm equivalent focal length (None: no EXIF)."""
    (folder / "images").mkdir(parents=True)
    (folder / "labels").mkdir()
    (folder / "data.yaml").write_text("path: .\ntrain: images\nval: images\nnames: {0: duck}\n")
    for k, f35 in enumerate(focal35):
        exif = Image.Exif()
        if f35 is not None:
            exif[ExifTags.IFD.Exif] = {ExifTags.Base.FocalLengthIn35mmFilm: int(f35), ExifTags.Base.FocalLength: 4.2}
        Image.new("RGB", size, (90 + 10 * k, 100, 110)).save(folder / "images" / f"{k:04d}.jpg", exif=exif)
        (folder / "labels" / f"{k:04d}.txt").write_text("0 0.5 0.5 0.2 0.25\n")
    return folder


def test_fov_is_read_from_the_photos_exif(tmp_path):
    gold = exif_gold(tmp_path / "gold", [24, 26, 26, 28, None])  # median 26 mm over the 4 that have it
    r = run_cli("init", f"duck={DUCK}", "--gold", gold, "--out", "d.yaml", cwd=tmp_path, check=False)
    assert r.returncode == 0, r.stderr
    # 26 mm on the 43.3 mm diagonal: f = 26 / 43.27 × 500 px at 400×300, vertical FoV 2·atan(150 / f)
    expected = math.degrees(2 * math.atan(150 / (26 / math.hypot(36, 24) * 500)))
    cfg = load_config(tmp_path / "d.yaml")
    assert cfg.camera.fov_deg == pytest.approx(expected, abs=0.05) and 50 < expected < 56
    assert cfg.camera.intrinsics is None and (cfg.camera.width, cfg.camera.height) == (400, 300)
    assert "read from EXIF" in (tmp_path / "d.yaml").read_text()
    line = next(x for x in r.stdout.splitlines() if "fov_deg" in x)
    assert line.startswith("read:") and "EXIF" in line and "4 of 5 photos" in line
    assert any(x.startswith("guessed: scene tabletop") for x in r.stdout.splitlines())  # --scene not given


def test_without_exif_the_fov_is_said_to_be_guessed(tmp_path):
    gold = exif_gold(tmp_path / "gold", [None, None])
    notes: list[str] = []
    out = init_config([str(DUCK)], tmp_path / "d.yaml", gold=gold, notes=notes)
    assert load_config(out).camera.fov_deg == 50
    assert any(n.startswith("guessed: fov_deg 50") and "--fov" in n for n in notes)
    assert "# guessed: the camera's field of view is unknown" in out.read_text()


def test_fov_and_intrinsics_from_the_command_line_win(tmp_path):
    gold = exif_gold(tmp_path / "gold", [26, 26])
    r = run_cli("init", DUCK, "--gold", gold, "--fov", "70", "--out", "f.yaml", cwd=tmp_path, check=False)
    assert r.returncode == 0, r.stderr
    assert load_config(tmp_path / "f.yaml").camera.fov_deg == 70
    assert "told: fov_deg 70 (--fov)" in r.stdout and "told: --fov 70" in (tmp_path / "f.yaml").read_text()
    r = run_cli("init", DUCK, "--gold", gold, "--intrinsics", "300,310,199.5,149.5", "--out", "i.yaml", cwd=tmp_path,
                check=False)
    assert r.returncode == 0, r.stderr
    cam = load_config(tmp_path / "i.yaml").camera
    assert cam.fov_deg is None and np.allclose(cam.K, [[300, 0, 199.5], [0, 310, 149.5], [0, 0, 1]])
    assert any(x.startswith("told: intrinsics") for x in r.stdout.splitlines())
    # the camera distance follows the focal length it was told: twice the focal length, twice the distance
    a = init_config([str(DUCK)], tmp_path / "a.yaml", gold=gold, intrinsics="300,300,200,150")
    b = init_config([str(DUCK)], tmp_path / "b.yaml", gold=gold, intrinsics="600,600,200,150")
    da, db = load_config(a).randomizers.camera.distance, load_config(b).randomizers.camera.distance
    assert db[0] == pytest.approx(2 * da[0], rel=0.01) and db[1] == pytest.approx(2 * da[1], rel=0.01)


def test_scene_held_loads_and_holds_every_object(tmp_path):
    r = run_cli("init", f"duck={DUCK}", "--scene", "held", "--out", "h.yaml", cwd=tmp_path, check=False)
    assert r.returncode == 0, r.stderr
    cfg = load_config(tmp_path / "h.yaml")
    assert all(a.pose is not None and a.pose.mode == "held" for a in cfg.assets)
    assert cfg.randomizers.pose.held_distance == (0.4, 0.6)
    assert "told: scene held" in r.stdout
    text = (tmp_path / "h.yaml").read_text()
    assert "upright: true" not in text  # the tabletop advice does not apply to a held object
    # the camera stands back so that the held object is as large as the tabletop one would be
    table = load_config(init_config([f"duck={DUCK}"], tmp_path / "t.yaml")).randomizers.camera.distance
    held = cfg.randomizers.camera.distance
    assert held[0] == pytest.approx(table[0] / 0.5, rel=0.01) and held[1] == pytest.approx(table[1] / 0.5, rel=0.01)
    small = text.replace("width: 640", "width: 96").replace("height: 480", "height: 72")
    (tmp_path / "small.yaml").write_text(small.replace("count: 1000", "count: 1"))
    r = run_cli("generate", "small.yaml", "--out", "ds", cwd=tmp_path, check=False)
    assert r.returncode == 0, r.stderr
    import json

    rec = json.loads((tmp_path / "ds" / "manifest.jsonl").read_text().splitlines()[0])
    assert rec["randomization"]["pose"]["modes"] == ["held"]


@pytest.mark.parametrize("scene, mode", [("free", "free"), ("pile", "pile"), ("tabletop", "drop"), ("dense", "dense")])
def test_other_scenes_use_their_pose_mode(tmp_path, scene, mode):
    cfg = load_config(init_config([str(DUCK)], tmp_path / "s.yaml", scene=scene))
    assert cfg.randomizers.pose.mode == mode and all(a.pose is None for a in cfg.assets)


@pytest.mark.parametrize("args, flag, message", [
    (["--fov", "0"], "--fov", "1 to 170"),
    (["--fov", "200"], "--fov", "1 to 170"),
    (["--fov", "nan"], "--fov", "1 to 170"),
    (["--intrinsics", "300,300,320"], "--intrinsics", "four numbers"),
    (["--intrinsics", "a,b,c,d"], "--intrinsics", "four numbers"),
    (["--intrinsics", "-300,300,320,240"], "--intrinsics", "fx, fy > 0"),
    (["--intrinsics", "500,500,960,540"], "--intrinsics", "outside the 640×480 image"),
    (["--fov", "60", "--intrinsics", "500,500,320,240"], "--fov/--intrinsics", "not both"),
    (["--scene", "underwater"], "--scene", "tabletop, held, free, pile, dense"),
])
def test_bad_camera_or_scene_exits_2_naming_the_flag(tmp_path, args, flag, message):
    r = run_cli("init", DUCK, *args, "--out", "x.yaml", cwd=tmp_path, check=False)
    assert r.returncode == 2 and flag in r.stderr and message in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "x.yaml").exists()


def test_gltf_comment_says_it_was_turned_not_to_add_upright(tmp_path):
    import trimesh

    box = trimesh.creation.box(extents=(0.04, 0.1, 0.06))
    box.export(tmp_path / "carton.glb")
    text = init_config([str(tmp_path / "carton.glb")], tmp_path / "c.yaml").read_text()
    assert "glTF is y-up: turned to z-up on load (up_axis: y)" in text
    held = init_config([str(tmp_path / "carton.glb")], tmp_path / "h.yaml", scene="held").read_text()
    assert "add `upright: true`" in text and "add `upright: true`" not in held
