"""Meshes and images that used to hang, eat memory, escape their folder or fail mid-run: each is
now handled when it is read, with exit 2 (or a warning and a fallback) naming the file."""
from __future__ import annotations

import os
import signal
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pybullet
import pytest
import trimesh
from PIL import Image

from synthscene import BadInput
from synthscene import prepare
from synthscene.config import config_from_dict
from synthscene.randomizers import paths
from synthscene.assets import convert
from synthscene.assets.prepare import AssetWarning, build, urdf_extents, make_ready
from synthscene.assets.library_add import add_asset
from conftest import run_main
from test_bad_input import URDF



@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHSCENE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SYNTHSCENE_LIBRARY", str(tmp_path / "library"))


def flat_obj(folder: Path) -> Path:
    """A 10 cm square label of zero thickness: V-HACD never returned on it."""
    folder.mkdir(parents=True, exist_ok=True)
    square = trimesh.Trimesh([[0, 0, 0], [0.1, 0, 0], [0.1, 0.1, 0], [0, 0.1, 0]], [[0, 1, 2], [0, 2, 3]], process=False)
    square.export(folder / "label.obj")
    return folder / "label.obj"


# ---- 1. flat meshes and V-HACD ----------------------------------------------------------------

def test_flat_mesh_gets_a_slab_collision_without_vhacd(tmp_path, monkeypatch):
    def no_vhacd(*a, **k):
        raise AssertionError("V-HACD must not run on a flat mesh (it never returns)")

    monkeypatch.setattr(convert, "run_vhacd", no_vhacd)
    src = flat_obj(tmp_path / "m")
    for cached in (False, True):  # the warning is given again when the conversion is reused
        with pytest.warns(AssetWarning, match="flat geometry.*slab") as rec:
            built = build(src, name="label", collision="vhacd")
        said = [str(w.message) for w in rec if w.category is AssetWarning]
        assert built.cached is cached and len(said) == 1 and "label.obj" in said[0]
    hull = trimesh.load(built.urdf.parent / next(f.name for f in built.urdf.parent.glob("*_collision.obj")), force="mesh")
    assert hull.volume > 0 and sorted(hull.extents)[0] == pytest.approx(1e-3, rel=1e-6)  # 1 % of 10 cm
    assert urdf_extents(built.urdf)[2] > 0  # PyBullet loads it; the collision slab has thickness
    # a tilted flat mesh (no zero extent along any axis) is caught too, and `convex` as well
    tilted = trimesh.load(src, force="mesh")
    tilted.apply_transform(trimesh.transformations.rotation_matrix(0.7, [1, 1, 0]))
    tilted.export(tmp_path / "m" / "tilted.obj")
    with pytest.warns(AssetWarning, match="flat geometry"):
        build(tmp_path / "m" / "tilted.obj", name="tilted", collision="convex")


def test_vhacd_over_its_time_budget_is_killed_and_the_hull_used(tmp_path, monkeypatch):
    monkeypatch.setattr(convert, "vhacd_command", lambda *a: [sys.executable, "-c", "import time; time.sleep(600)"])
    monkeypatch.setenv("SYNTHSCENE_VHACD_TIMEOUT", "0.5")
    trimesh.creation.box((0.05, 0.06, 0.07)).export(tmp_path / "box.stl")
    start = time.monotonic()
    with pytest.warns(AssetWarning, match=r"V-HACD did not finish within 0.5 s \(\$SYNTHSCENE_VHACD_TIMEOUT\)"):
        built = build(tmp_path / "box.stl", name="box", collision="vhacd")
    assert time.monotonic() - start < 60
    hull = trimesh.load(next(built.urdf.parent.glob("*_collision.obj")), force="mesh")
    assert hull.volume == pytest.approx(0.05 * 0.06 * 0.07, rel=1e-6)  # the convex hull
    monkeypatch.setenv("SYNTHSCENE_VHACD_TIMEOUT", "soon")
    with pytest.raises(BadInput, match="SYNTHSCENE_VHACD_TIMEOUT"):
        build(tmp_path / "box.stl", name="box2", collision="vhacd", mass=1.0)


def test_ctrl_c_during_vhacd_stops_and_kills_it(tmp_path, monkeypatch):
    """The child interrupts its parent as Ctrl-C in a terminal would; V-HACD's child is killed."""
    pid_file = tmp_path / "child.pid"
    code = (f"import os, signal, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
            "os.kill(os.getppid(), signal.SIGINT); time.sleep(600)")
    monkeypatch.setattr(convert, "vhacd_command", lambda *a: [sys.executable, "-c", code])
    trimesh.creation.box((0.05, 0.06, 0.07)).export(tmp_path / "box.stl")
    # As a terminal's foreground job has it: a suite started in the background (`cmd &`, nohup)
    # inherits SIGINT ignored, and the interrupt would be lost.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            build(tmp_path / "box.stl", name="box", collision="vhacd")
    finally:
        signal.signal(signal.SIGINT, previous)
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 20
    while Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text(errors="replace"):
        assert time.monotonic() < deadline, "the V-HACD child outlived Ctrl-C"
        time.sleep(0.05)
    assert not [p for p in (tmp_path / "cache").iterdir() if p.is_dir()]  # no partial conversion kept


# ---- 2. budgets: file size and faces ------------------------------------------------------------

def test_mesh_over_the_face_budget_is_refused_naming_count_and_budget(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SYNTHSCENE_MAX_FACES", "100")
    trimesh.creation.icosphere(subdivisions=2, radius=0.05).export(tmp_path / "ball.ply")  # 320 faces
    with pytest.raises(BadInput) as err:
        build(tmp_path / "ball.ply", name="ball")
    msg = str(err.value)
    assert "ball.ply" in msg and "320 triangles" in msg and "100" in msg and "decimate" in msg
    code, err_text = run_main(monkeypatch, capsys, "assets", "add", str(tmp_path / "ball.ply"), "--name", "ball",
                             "--library", str(tmp_path / "lib"))
    assert code == 2 and "320 triangles" in err_text and "SYNTHSCENE_MAX_FACES" in err_text
    assert not (tmp_path / "lib" / "ball").exists()
    # a URDF's mesh too, when the config's assets are prepared (loading it only validates)
    (tmp_path / "u").mkdir()
    trimesh.creation.icosphere(subdivisions=2, radius=0.05).export(tmp_path / "u" / "ball.obj")
    (tmp_path / "u" / "ball.urdf").write_text(URDF.format(mesh="ball.obj"))
    cfg = config_from_dict({"assets": [{"name": "b", "urdf": "u/ball.urdf"}]}, tmp_path, "cfg.yaml")
    with pytest.raises(BadInput, match="320 triangles"):
        prepare(cfg)


def test_huge_mesh_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHSCENE_MAX_MESH_BYTES", "1000")
    trimesh.creation.icosphere(subdivisions=2, radius=0.05).export(tmp_path / "ball.obj")
    assert (tmp_path / "ball.obj").stat().st_size > 1000

    def no_read(*a, **k):
        raise AssertionError("trimesh read a file over the byte budget")

    monkeypatch.setattr(trimesh, "load_scene", no_read)
    monkeypatch.setattr(trimesh, "load", no_read)
    with pytest.raises(BadInput) as err:
        build(tmp_path / "ball.obj", name="ball")
    assert "ball.obj" in str(err.value) and "1,000 bytes" in str(err.value)


# ---- 3. URDF confinement, before anything is opened or written -----------------------------------

class OpenSpy:
    """Every Python-level open of a path (audit hooks cannot be removed: this one only records)."""

    paths: list[str] = []
    on = False

    @classmethod
    def hook(cls, event, args):
        if cls.on and event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
            cls.paths.append(os.fsdecode(args[0]))


sys.addaudithook(OpenSpy.hook)


def outside_urdf(tmp_path) -> tuple[Path, Path]:
    outside = tmp_path / "outside.obj"
    trimesh.creation.box((0.05, 0.05, 0.05)).export(outside)
    adir = tmp_path / "assets" / "thing"
    adir.mkdir(parents=True)
    (adir / "thing.urdf").write_text(URDF.format(mesh="../../outside.obj"))
    return adir / "thing.urdf", outside


def test_outside_urdf_mesh_refused_before_it_is_opened_or_anything_written(tmp_path, monkeypatch, capsys):
    urdf, outside = outside_urdf(tmp_path)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("seed: 1\ncount: 2\nassets:\n  - {name: thing, urdf: assets/thing/thing.urdf}\n")
    loads = []
    monkeypatch.setattr(pybullet, "loadURDF", lambda *a, **k: loads.append(a) or 0)
    OpenSpy.paths, OpenSpy.on = [], True
    try:
        results = {}
        results["generate"] = run_main(monkeypatch, capsys, "generate", str(cfg), "--out", str(tmp_path / "o"))
        results["preview"] = run_main(monkeypatch, capsys, "preview", str(cfg), "--out", str(tmp_path / "p.png"))
        results["assets check"] = run_main(monkeypatch, capsys, "assets", "check", str(urdf))
        results["assets preview"] = run_main(monkeypatch, capsys, "assets", "preview", str(urdf), "--out",
                                            str(tmp_path / "a.png"))
        results["assets add"] = run_main(monkeypatch, capsys, "assets", "add", str(urdf), "--name", "thing",
                                        "--library", str(tmp_path / "lib"))
    finally:
        OpenSpy.on = False
    for command, (code, err) in results.items():
        assert code == 2 and "outside the asset folder" in err and "thing.urdf" in err, (command, err)
    assert str(outside) not in OpenSpy.paths and not loads  # neither Python nor PyBullet opened it
    assert not (tmp_path / "o").exists() and not (tmp_path / "p.png").exists() and not (tmp_path / "a.png").exists()
    assert not (tmp_path / "lib").exists() or not any(p for p in (tmp_path / "lib").iterdir() if p.name != ".cache")


def test_one_urdf_mesh_path_parser(tmp_path):
    """package:// paths are read relative to the URDF's folder by every check (they were skipped by one)."""
    adir = tmp_path / "a"
    (adir / "meshes").mkdir(parents=True)
    trimesh.creation.box((0.05, 0.05, 0.05)).export(adir / "meshes" / "m.obj")
    (adir / "a.urdf").write_text(URDF.format(mesh="package://meshes/m.obj"))
    assert convert.urdf_meshes(adir / "a.urdf") == [(adir / "meshes" / "m.obj").resolve()]
    (adir / "b.urdf").write_text(URDF.format(mesh="package://../outside.obj"))
    with pytest.raises(BadInput, match="outside the asset folder"):
        make_ready(adir / "b.urdf", name="b")


# ---- 4. assets add is transactional --------------------------------------------------------------

def test_assets_add_leaves_the_library_as_it_was_on_failure(tmp_path, monkeypatch):
    import shutil

    lib = tmp_path / "lib"
    src = tmp_path / "src"
    src.mkdir()
    trimesh.creation.box((0.05, 0.05, 0.05)).export(src / "box.obj")
    (src / "box.urdf").write_text(URDF.format(mesh="box.obj"))
    add_asset(src / "box.urdf", "box", lib)
    before = {p.relative_to(lib): p.read_bytes() for p in sorted(lib.rglob("*")) if p.is_file()}
    # refused (a mesh outside its folder): nothing of it enters the library
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "thing.urdf").write_text(URDF.format(mesh="../src/box.obj"))
    with pytest.raises(BadInput, match="outside"):
        add_asset(tmp_path / "other" / "thing.urdf", "thing", lib)
    assert {p.relative_to(lib): p.read_bytes() for p in sorted(lib.rglob("*")) if p.is_file()} == before
    (src / "box.urdf").write_text((src / "box.urdf").read_text() + "\n<!-- changed -->\n")
    real_copy, calls = shutil.copy2, []

    def copy_then_fail(a, b, *rest, **kw):  # the disk fills on the second file
        calls.append(a)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_copy(a, b, *rest, **kw)

    monkeypatch.setattr(shutil, "copy2", copy_then_fail)
    with pytest.raises(OSError):
        add_asset(src / "box.urdf", "box", lib, overwrite=True)
    after = {p.relative_to(lib): p.read_bytes() for p in sorted(lib.rglob("*")) if p.is_file()}
    assert after == before  # the old asset intact, no half-copied new one, no temporary folder left
    monkeypatch.setattr(shutil, "copy2", real_copy)
    add_asset(src / "box.urdf", "box", lib, overwrite=True)
    assert (lib / "box" / "box.urdf").read_text().endswith("<!-- changed -->\n")
    assert [p.name for p in lib.iterdir() if p.name != ".cache"] == ["box"]


# ---- 5. corrupt and truncated images in texture / background folders ----------------------------

def _images(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    pix = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(pix).save(folder / "a_good.png")
    Image.fromarray(pix).save(folder / "b_good.jpg", quality=90)
    data = (folder / "b_good.jpg").read_bytes()
    (folder / "c_truncated.jpg").write_bytes(data[: len(data) * 2 // 3])
    (folder / "d_garbage.png").write_bytes(bytes(range(256)) * 4)
    png = (folder / "a_good.png").read_bytes()
    (folder / "e_truncated.png").write_bytes(png[: len(png) // 2])
    return {p.name: p for p in folder.iterdir()}


@pytest.mark.parametrize("which", ["texture", "background"])
def test_bad_images_skipped_with_a_warning_and_none_left_refused(tmp_path, which):
    folder = tmp_path / "imgs"
    _images(folder)
    paths.scan_images.cache_clear()
    entry = {"assets": [{"name": "duck", "urdf": "pybullet:duck_vhacd.urdf"}],
             "randomizers": {which: {"enabled": True, "folder": "imgs"}}}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config_from_dict(entry, tmp_path, "cfg.yaml")  # recorded here, so not shown
    said = "\n".join(str(w.message) for w in caught if w.category is paths.ImageWarning)
    for bad in ("c_truncated.jpg", "d_garbage.png", "e_truncated.png"):
        assert bad in said
    assert "a_good" not in said and "b_good" not in said
    assert [Path(f).name for f in paths.images_in(str(folder))] == ["a_good.png", "b_good.jpg"]
    for good in ("a_good.png", "b_good.jpg"):
        (folder / good).unlink()
    paths.scan_images.cache_clear()
    with pytest.raises(BadInput) as err, pytest.warns(paths.ImageWarning):
        config_from_dict(entry, tmp_path, "cfg.yaml")
    assert f"randomizers.{which}.folder" in str(err.value) and "no readable images" in str(err.value)


def test_jpeg_with_data_after_its_end_marker_is_kept(tmp_path):
    """Trailing bytes (a phone's motion-photo video, say) are not truncation: such a photo stays."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(folder / "p.jpg")
    with open(folder / "p.jpg", "ab") as fh:
        fh.write(b"\x00" * 5000)
    assert paths.image_problem(str(folder / "p.jpg")) is None
