"""Asset libraries: `assets add/list/check/preview`, `asset:` config entries, entry-point asset packs."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import trimesh
import yaml
from typer.testing import CliRunner

from synthscene import BadInput, prepare
from synthscene.cli import app
from synthscene.config import config_from_dict
from synthscene.assets import prepare as assets
from synthscene.assets.library import ASSET_FILE, list_assets, search_path
from synthscene.assets.library_add import add_asset


def prepared(data, base_dir, source="<config>"):
    """A config loaded (pure) then prepared: its assets converted, looked up and checked."""
    return prepare(config_from_dict(data, base_dir, source))


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHSCENE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SYNTHSCENE_LIBRARY", str(tmp_path / "default-library"))


def red_box_cm(folder: Path) -> Path:
    """A 6 cm red box written in centimetres."""
    box = trimesh.creation.box((6.0, 6.0, 6.0))
    box.visual.face_colors = [200, 30, 30, 255]
    folder.mkdir(parents=True, exist_ok=True)
    box.export(folder / "redbox.ply")
    return folder / "redbox.ply"


def run(*args):
    res = CliRunner().invoke(app, [str(a) for a in args])
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    assert res.exit_code == 0, res.output
    return res.output


def test_cli_add_list_check_preview(tmp_path):
    lib = tmp_path / "lib"
    src = red_box_cm(tmp_path / "src")
    out = run("assets", "add", src, "--name", "redbox", "--class", "box", "--units", "cm", "--library", lib,
              "--collision", "convex", "--licence", "CC0")
    assert "added redbox (class box)" in out
    spec = yaml.safe_load((lib / "redbox" / ASSET_FILE).read_text())
    assert spec == {"name": "redbox", "class": "box", "mesh": "redbox.ply", "units": "cm", "scale": 1.0, "collision": "convex",
                    "recentre": False, "pose": {"upright": False}, "source": str(src), "licence": "CC0"}
    assert (lib / "redbox" / "redbox.ply").read_bytes() == src.read_bytes()
    assert "redbox  class=box  units=cm" in run("assets", "list", "--library", lib)
    report = run("assets", "check", "redbox", "--library", lib)
    assert "size        60.0 × 60.0 × 60.0 mm" in report
    assert "triangles   12" in report and "watertight  yes" in report and "colour      face colour" in report
    visible = int(report.split("render      ")[1].split(" px")[0])
    assert visible > 1000
    sheet = tmp_path / "sheet.png"
    run("assets", "preview", "redbox", "--out", sheet, "--library", lib)
    img = cv2.imread(str(sheet))
    assert img.shape == (28 + 2 * 200, 8 * 200, 3)
    reddish = (img[..., 2].astype(int) > 150) & (img[..., 1] < 80) & (img[..., 0] < 80)
    assert reddish.sum() > 16 * 500  # the box, red, in every tile


def test_config_library_entry_reuses_the_conversion_add_made(tmp_path, monkeypatch):
    lib = tmp_path / "lib"
    add_asset(red_box_cm(tmp_path / "src"), "redbox", lib, class_name="box", units="cm", collision="box")
    calls = []
    real = assets.convert_source
    monkeypatch.setattr(assets, "convert_source", lambda *a, **k: calls.append(a) or real(*a, **k))
    cfg = prepared({"library": "lib", "classes": ["box"], "assets": [{"asset": "redbox", "scale": 2.0}]}, tmp_path)
    a = cfg.assets[0]
    assert (a.name, a.cls, a.scale, a.asset) == ("redbox", "box", 2.0, None)
    assert Path(a.urdf).is_relative_to(lib / ".cache") and "library asset redbox" in a.source
    assert calls == []  # converted once, by `add`
    # Per-entry `library:` works too, and an entry may override the asset's options (a new conversion).
    cfg = prepared({"assets": [{"asset": "redbox", "library": "lib", "collision": "sphere", "name": "ball"}]}, tmp_path)
    assert "<sphere" in Path(cfg.assets[0].urdf).read_text() and len(calls) == 1


def test_add_refuses_bad_assets_and_leaves_the_library_clean(tmp_path):
    lib = tmp_path / "lib"
    src = red_box_cm(tmp_path / "src")
    trimesh.creation.box((100.0, 100.0, 100.0)).export(tmp_path / "mm.stl")
    with pytest.raises(BadInput, match="mm.stl.*absurd size"):  # millimetres taken for metres: 100 m
        add_asset(tmp_path / "mm.stl", "huge", lib, units="m")
    assert not (lib / "huge").exists()
    (tmp_path / "bad.ply").write_text("ply\nformat ascii 1.0\nelement vertex 0\nend_header\n")
    with pytest.raises(BadInput, match="bad.ply"):
        add_asset(tmp_path / "bad.ply", "bad", lib)
    assert not (lib / "bad").exists()
    add_asset(src, "redbox", lib, units="cm")
    with pytest.raises(BadInput, match="already has an asset 'redbox'"):
        add_asset(src, "redbox", lib, units="cm")
    with pytest.raises(BadInput, match="--name"):
        add_asset(src, "no/slashes", lib)
    with pytest.raises(BadInput, match="no asset named 'ghost'"):
        prepared({"library": "lib", "assets": [{"asset": "ghost"}]}, tmp_path)
    (lib / "broken").mkdir()
    (lib / "broken" / ASSET_FILE).write_text("name: broken\nunits: furlongs\nmesh: x.ply\n")
    with pytest.raises(BadInput, match="broken.*units"):
        list_assets([lib])


def test_urdf_assets_are_added_with_their_files(tmp_path):
    import pybullet_data

    lib = tmp_path / "lib"
    add_asset(Path(pybullet_data.getDataPath()) / "duck_vhacd.urdf", "pbduck", lib)
    assert {"duck_vhacd.urdf", "duck.obj", "duck.mtl", "duckCM.png", "duck_vhacd.obj"} <= {f.name for f in (lib / "pbduck").iterdir()}
    cfg = prepared({"library": "lib", "assets": [{"asset": "pbduck"}]}, tmp_path)
    assert cfg.assets[0].urdf == str(lib / "pbduck" / "duck_vhacd.urdf")


def test_entry_point_asset_pack(tmp_path, monkeypatch):
    """A pip-installed package declaring `[project.entry-points."synthscene.assets"]` provides a library."""
    site = tmp_path / "site"
    pack = site / "toyshapes"
    add_asset(red_box_cm(tmp_path / "src"), "toybox", pack / "library", class_name="toy", units="cm", collision="box")
    (pack / "__init__.py").write_text("from pathlib import Path\nLIBRARY = Path(__file__).parent / 'library'\n")
    dist = site / "toyshapes-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toyshapes\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[synthscene.assets]\ntoyshapes = toyshapes:LIBRARY\n")
    monkeypatch.syspath_prepend(str(site))
    assert (pack / "library").resolve() in search_path()
    cfg = prepared({"classes": ["toy"], "assets": [{"asset": "toybox"}]}, tmp_path)
    assert cfg.assets[0].cls == "toy"
    assert "toybox  class=toy" in run("assets", "list")


def test_cli_bad_asset_exits_2_naming_the_file(tmp_path):
    (tmp_path / "bad.stl").write_bytes(b"solid nothing\nendsolid nothing\n")
    env_py = [sys.executable, "-m", "synthscene.cli"]
    res = subprocess.run([*env_py, "assets", "add", str(tmp_path / "bad.stl"), "--name", "bad", "--library", str(tmp_path / "lib")],
                         capture_output=True, text=True, cwd=ROOT, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 2, res.stderr
    assert "bad.stl" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.slow  # renders or runs a process (measured > 1.5 s)
def test_check_and_preview_a_file_before_adding_it(tmp_path):
    src = red_box_cm(tmp_path / "src")
    assert "size        60.0 × 60.0 × 60.0 mm" in run("assets", "check", src, "--units", "cm")
    run("assets", "preview", src, "--units", "cm", "--out", tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000
    with pytest.raises(BadInput, match="--units"):
        run("assets", "check", src, "--units", "inch")
