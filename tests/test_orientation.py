"""Which way is up: glTF/GLB converted from Y-up to Z-up, `up_axis` / `rotation_deg` overrides,
`assets check` reporting up axis, footprint and height, `assets preview` drawing axes and a scale bar,
and existing (Z-up) assets converted byte for byte as before."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import warnings
from pathlib import Path

import cv2
import numpy as np
import pybullet_data
import pytest
import trimesh
import yaml
from typer.testing import CliRunner

from synthscene import BadInput, prepare
from synthscene.cli import app
from synthscene.config import config_from_dict
from synthscene.assets.prepare import build, urdf_extents, content_key


def prepared(data, base_dir, source="<config>"):
    """A config loaded (pure) then prepared: its assets converted, looked up and checked."""
    return prepare(config_from_dict(data, base_dir, source))


ROOT = Path(__file__).resolve().parents[1]
TALL_Y = (0.02, 0.10, 0.04)  # a product box 2 × 10 × 4 cm, tall along Y as a glTF file stores it


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHSCENE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SYNTHSCENE_LIBRARY", str(tmp_path / "default-library"))


def tall_box(folder: Path, suffix: str, centre=(0.0, 0.0, 0.0)) -> Path:
    box = trimesh.creation.box(TALL_Y)
    box.apply_translation(centre)
    box.visual.face_colors = [200, 30, 30, 255]
    folder.mkdir(parents=True, exist_ok=True)
    box.export(folder / f"box.{suffix}")
    return folder / f"box.{suffix}"


def cli(*args, code: int = 0) -> subprocess.CompletedProcess:
    res = subprocess.run([sys.executable, "-m", "synthscene.cli", *map(str, args)], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert res.returncode == code, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    return res


def run(*args) -> str:
    res = CliRunner().invoke(app, [str(a) for a in args])
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    assert res.exit_code == 0, res.output
    return res.output


# ---- (a) glTF is Y-up ------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", ["glb", "gltf"])
def test_gltf_is_converted_from_y_up_to_z_up(tmp_path, suffix):
    src = tall_box(tmp_path, "glb")
    if suffix == "gltf":
        for name, data in trimesh.exchange.gltf.export_gltf(trimesh.load(src)).items():
            (tmp_path / name).write_bytes(data)
        src = tmp_path / "model.gltf"
    built = build(src, name="box", collision="box")
    assert np.allclose(built.report.extents, [0.02, 0.04, 0.10])
    assert np.allclose(urdf_extents(built.urdf), [0.02, 0.04, 0.10], atol=2e-3)  # what PyBullet loads, collision included


def test_gltf_rotation_is_a_rotation_per_the_spec(tmp_path):
    """+Y up and +Z forward in glTF: (x, y, z) → (x, -z, y), not a mirror image."""
    src = tall_box(tmp_path, "glb", centre=(0.01, 0.05, 0.02))
    built = build(src, name="box", collision="box")
    mesh = trimesh.load(next(built.urdf.parent.glob("*_visual0.obj")), force="mesh")
    assert np.allclose(mesh.bounds.mean(axis=0), [0.01, -0.02, 0.05])
    assert mesh.volume > 0  # outward faces: a reflection would turn them inside out


def test_converted_gltf_gets_a_new_cache_key(tmp_path):
    """Caches converted before glTF was turned must not be reused; `up_axis: z` is the old conversion."""
    src = tall_box(tmp_path, "glb")
    old_key = content_key(src, {"units": "m", "recentre": False, "collision": "box", "mass": None})
    assert build(src, name="box", collision="box").key != old_key
    as_before = build(src, name="box", collision="box", up_axis="z")
    assert as_before.key == old_key and np.allclose(as_before.report.extents, TALL_Y)


# ---- (b) overrides on other formats -----------------------------------------------------------

@pytest.mark.parametrize("orientation", [{"up_axis": "y"}, {"rotation_deg": [90, 0, 0]}])
def test_obj_overrides_in_a_config_entry(tmp_path, orientation):
    src = tall_box(tmp_path, "obj")
    plain = prepared({"assets": [{"mesh": str(src), "collision": "box"}]}, tmp_path)
    assert np.allclose(urdf_extents(Path(plain.assets[0].urdf)), TALL_Y, atol=2e-3)  # an OBJ is taken as Z-up
    cfg = prepared({"assets": [{"mesh": str(src), "collision": "box", **orientation}]}, tmp_path)
    a = cfg.assets[0]
    assert np.allclose(urdf_extents(Path(a.urdf)), [0.02, 0.04, 0.10], atol=2e-3)
    assert "up_axis" not in a.model_dump() and "rotation_deg" not in a.model_dump()  # baked in: a plain URDF entry


def test_up_axis_and_rotation_compose(tmp_path):
    """rotation_deg comes after up_axis: y-up then 90° about z puts the 4 cm side along x."""
    src = tall_box(tmp_path, "glb")
    built = build(src, name="box", collision="box", rotation_deg=[0, 0, 90])
    assert np.allclose(built.report.extents, [0.04, 0.02, 0.10])
    for axis, ext in {"x": [0.04, 0.10, 0.02], "-x": [0.04, 0.10, 0.02], "-y": [0.02, 0.04, 0.10], "-z": list(TALL_Y)}.items():
        assert np.allclose(build(src, name="box", collision="box", up_axis=axis).report.extents, ext), axis


def test_library_asset_yaml_and_entry_override(tmp_path):
    lib = tmp_path / "lib"
    src = tall_box(tmp_path / "src", "obj")
    run("assets", "add", src, "--name", "box", "--library", lib, "--collision", "box", "--up-axis", "y")
    spec = yaml.safe_load((lib / "box" / "asset.yaml").read_text())
    assert spec["up_axis"] == "y" and "rotation_deg" not in spec
    cfg = prepared({"library": str(lib), "assets": [{"asset": "box"}, {"asset": "box", "name": "lying", "up_axis": "z"}]},
                           tmp_path)
    assert np.allclose(urdf_extents(Path(cfg.assets[0].urdf)), [0.02, 0.04, 0.10], atol=2e-3)
    assert np.allclose(urdf_extents(Path(cfg.assets[1].urdf)), TALL_Y, atol=2e-3)  # the entry's own wins


# ---- (c) (d) assets add / check / preview --------------------------------------------------------

@pytest.mark.slow  # renders or runs a process (measured > 1.5 s)
def test_cli_add_upright_check_reports_up_axis_and_footprint(tmp_path):
    lib = tmp_path / "lib"
    src = tall_box(tmp_path / "src", "glb")
    cli("assets", "add", src, "--name", "box", "--upright", "--library", lib, "--collision", "box")
    assert yaml.safe_load((lib / "box" / "asset.yaml").read_text())["pose"] == {"upright": True}
    cli("assets", "add", src, "--name", "turned", "--library", lib, "--collision", "box", "--rotation-deg", "0,0,90")
    assert yaml.safe_load((lib / "turned" / "asset.yaml").read_text())["rotation_deg"] == [0.0, 0.0, 90.0]
    assert "footprint   0.04 × 0.02 m" in cli("assets", "check", "turned", "--library", lib).stdout
    out = cli("assets", "check", "box", "--library", lib).stdout
    assert "up          the mesh's y axis, turned to z (glTF is y-up by its specification)" in out
    assert "footprint   0.02 × 0.04 m (x × y, on the ground)" in out
    assert "height      0.1 m (z)" in out
    cfg = prepared({"library": str(lib), "assets": [{"asset": "box"}]}, tmp_path)
    assert cfg.assets[0].upright


@pytest.mark.slow  # renders or runs a process (measured > 1.5 s)
def test_check_in_the_assets_units_and_with_a_rotation(tmp_path):
    box = trimesh.creation.box((2.0, 10.0, 4.0))  # centimetres
    box.export(tmp_path / "cm.ply")
    out = run("assets", "check", tmp_path / "cm.ply", "--units", "cm", "--rotation-deg", "90,0,0")
    assert "footprint   2 × 4 cm = 0.02 × 0.04 m (x × y, on the ground)" in out
    assert "height      10 cm = 0.1 m (z)" in out
    assert "then rotated by rotation_deg [90.0, 0.0, 0.0]" in out
    out = run("assets", "check", tmp_path / "cm.ply", "--units", "cm", "--rotation-deg=-90,0,0")
    assert "height      10 cm = 0.1 m (z)" in out


@pytest.mark.slow  # renders or runs a process (measured > 1.5 s)
def test_preview_draws_ground_axes_and_scale_bar(tmp_path):
    src = tall_box(tmp_path / "src", "glb")
    sheet = tmp_path / "sheet.png"
    out = run("assets", "preview", src, "--out", sheet)
    assert "preview" in out and sheet.is_file()
    img = cv2.imread(str(sheet))
    assert img.shape == (28 + 2 * 200, 8 * 200, 3)
    b, g, r = (img[28:, :, k].astype(int) for k in range(3))
    assert ((g > 120) & (r < 80) & (b < 80)).sum() > 100  # the green y axis
    assert ((b > 150) & (r < 80) & (g < 100)).sum() > 100  # the blue z axis
    assert ((r < 40) & (g < 40) & (b < 40)).sum() > 100  # the black scale bar
    title = img[:28]
    assert (title < 100).any()  # the legend "axes: x red, y green, z blue (up)   black bar: 5 cm"


# ---- (e) bad input -----------------------------------------------------------------------------

@pytest.mark.slow  # renders or runs a process (measured > 1.5 s)
def test_bad_up_axis_exits_2_naming_the_field(tmp_path):
    tall_box(tmp_path, "obj")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"count": 1, "assets": [{"mesh": "box.obj", "up_axis": "w"}],
                                   "output": {"dir": str(tmp_path / "out")}}))
    res = cli("generate", cfg, code=2)
    assert "assets[0].up_axis" in res.stderr and str(cfg) in res.stderr
    assert not (tmp_path / "out").exists()
    cfg.write_text(yaml.safe_dump({"count": 1, "assets": [{"mesh": "box.obj", "rotation_deg": [90, 0]}]}))
    assert "assets[0].rotation_deg" in cli("generate", cfg, "--out", tmp_path / "out", code=2).stderr
    res = cli("assets", "add", tmp_path / "box.obj", "--name", "b", "--library", tmp_path / "lib", "--up-axis", "w", code=2)
    assert "--up-axis" in res.stderr and not (tmp_path / "lib").exists()
    res = cli("assets", "add", tmp_path / "box.obj", "--name", "b", "--library", tmp_path / "lib", "--rotation-deg", "90,x,0", code=2)
    assert "--rotation-deg" in res.stderr


@pytest.mark.slow  # renders or runs a process (measured > 1.5 s)
def test_urdf_entries_refuse_an_orientation(tmp_path):
    """A URDF places its meshes itself: the error says to set its <origin rpy>."""
    duck = "pybullet:duck_vhacd.urdf"
    with pytest.raises(BadInput, match=r"assets\[0\].up_axis.*<origin rpy"):
        prepared({"assets": [{"name": "duck", "urdf": duck, "up_axis": "y"}]}, tmp_path)
    with pytest.raises(BadInput, match=r"rotation_deg.*<origin rpy"):
        prepared({"assets": [{"name": "duck", "urdf": duck, "rotation_deg": [0, 0, 90]}]}, tmp_path)
    urdf = Path(pybullet_data.getDataPath()) / "duck_vhacd.urdf"
    with pytest.raises(BadInput, match="--up-axis.*<origin rpy"):
        run("assets", "add", urdf, "--name", "duck", "--library", tmp_path / "lib", "--up-axis", "y")
    assert not (tmp_path / "lib" / "duck").exists()
    assert "up          z of the URDF (as it places its meshes; change it with their <origin rpy>)" in run("assets", "check", urdf)


# ---- (f) existing assets unchanged ---------------------------------------------------------------

def _digest(folder: Path) -> str:
    """The converted files' bytes (build.json records the source's path, so it is left out)."""
    h = hashlib.sha256()
    for f in sorted(folder.iterdir()):
        if f.name != "build.json":
            h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


# Recorded by converting with the code before up axes existed (commit 19da99e). The cache key is a
# hash of the inputs alone; the files' bytes also depend on the installed libraries' encoders (a fresh
# venv of 2026-12-07 writes the duck's other bytes with the same code), so the duck's files are
# compared across the orientation spellings rather than against a digest from another machine.
OLD_DUCK_KEY = "105e5d382361824eaa92b126"
OLD_APE = ("228f2f790c904a3658131619", "b7dfd74f8a0def28")


def test_z_up_obj_converts_as_before(tmp_path):
    src = Path(pybullet_data.getDataPath()) / "duck.obj"
    built = []
    for i, orientation in enumerate([{}, {"up_axis": "z"}, {"up_axis": "z", "rotation_deg": [0, 0, 0]}]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            b = build(src, name="x", collision="box", cache_dir=tmp_path / f"c{i}", **orientation)
        built.append((b.key, _digest(b.urdf.parent)))
    assert {key for key, _ in built} == {OLD_DUCK_KEY}  # the identity of the conversion's inputs
    assert len({digest for _, digest in built}) == 1  # z up, spelled three ways, converts to the same bytes


def test_lmo_ply_converts_as_before(tmp_path, shared):
    src = shared / "gold" / "lmo" / "models" / "obj_000001.ply"
    for orientation in ({}, {"up_axis": "z"}):
        built = build(src, name="x", units="mm", collision="box", cache_dir=tmp_path / str(len(orientation)), **orientation)
        assert (built.key, _digest(built.urdf.parent)) == OLD_APE


def test_configs_without_orientation_hash_as_before(tmp_path):
    """No `up_axis`/`rotation_deg` keys in the saved config unless given: resume and config hashes hold."""
    cfg = prepared({"assets": [{"name": "duck", "urdf": "pybullet:duck_vhacd.urdf"}]}, tmp_path)
    assert "up_axis" not in cfg.to_dict()["assets"][0] and "rotation_deg" not in cfg.to_dict()["assets"][0]


@pytest.mark.slow  # renders or runs a process (measured > 1.5 s)
def test_assets_add_scale_for_a_model_in_no_standard_unit(tmp_path):
    lib = tmp_path / "lib"
    src = tall_box(tmp_path / "src", "glb")  # 0.1 m tall
    cli("assets", "add", src, "--name", "toy", "--library", lib, "--collision", "box", "--scale", "0.5")
    assert yaml.safe_load((lib / "toy" / "asset.yaml").read_text())["scale"] == 0.5
    cfg = prepared({"library": str(lib), "assets": [{"asset": "toy"}]}, tmp_path)
    assert cfg.assets[0].scale == 0.5
    bad = CliRunner().invoke(app, ["assets", "add", str(src), "--name", "t2", "--library", str(lib), "--scale", "-1"])
    assert bad.exit_code != 0 and not (lib / "t2").exists()
