"""What a new user meets first: two assets from one file, a quiet command line, packaged defaults.

Each runs the CLI end to end in a subprocess, as a user would (PYTHONPATH = this checkout).
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]


def two_ducks(tmp_path: Path, backend: str, **extra) -> Path:
    cfg = {
        "seed": 3,
        "count": 2,
        "assets": [
            {"name": "duck_a", "urdf": "pybullet:duck_vhacd.urdf", "count": [1, 1]},
            {"name": "duck_b", "urdf": "pybullet:duck_vhacd.urdf", "count": [1, 1]},
        ],
        "camera": {"width": 96, "height": 72},
        "randomizers": {"camera": {"distance": [0.3, 0.35]}},  # close: both ducks big enough to be kept
        "renderer": {"backend": backend},
        **extra,
    }
    path = tmp_path / f"two_{backend}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize("backend", ["egl", "tiny"])
def test_two_assets_from_one_urdf_are_both_labelled(tmp_path, backend):
    """Under EGL, p.getVisualShapeData returned garbage for the second body loaded from one URDF:
    the silhouette became NaN and generate died with ZeroDivisionError (exit 1)."""
    if backend == "egl":
        from synthscene.renderers.pybullet import _egl_plugin_path

        if _egl_plugin_path() is None:
            pytest.skip("PyBullet's EGL plugin is not installed")
    out = tmp_path / "out"
    res = run_cli("generate", two_ducks(tmp_path, backend), "--out", out, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    seen = set()
    for line in (out / "manifest.jsonl").read_text().splitlines():
        for obj in json.loads(line)["objects"]:
            box = obj["bbox_xyxy"]
            assert box is not None and all(math.isfinite(v) for v in box) and box[2] > box[0] and box[3] > box[1], obj
            assert all(math.isfinite(v) for v in obj["bbox_amodal_xyxy"]) and 0 < obj["visibility"] <= 1, obj
            seen.add(obj["class_name"])
    assert seen == {"duck_a", "duck_b"}
    labels = [row.split()[0] for f in (out / "labels").rglob("*.txt") for row in f.read_text().splitlines()]
    assert set(labels) == {"0", "1"}


URDFS = ["duck_vhacd.urdf", "teddy_vhacd.urdf", "objects/mug.urdf", "lego/lego.urdf", "soccerball.urdf",
         "r2d2.urdf", "sphere_1cm.urdf", "a1/a1.urdf"]  # the quickstart's assets; links, rpy, primitives, no visual


@pytest.mark.parametrize("name", URDFS)
def test_visuals_read_from_the_urdf_equal_what_pybullet_reports(name):
    """Silhouettes now come from the URDF, not from PyBullet; they must equal, to the last bit,
    what a sound p.getVisualShapeData (TinyRenderer, first load) reports, or labels would shift."""
    import pybullet_data

    from synthscene.geometry.silhouettes import urdf_visuals
    from synthscene.core.quiet import pybullet as p

    urdf = str(Path(pybullet_data.getDataPath()) / name)
    client = p.connect(p.DIRECT)
    try:
        for scale in (1.0, 2.0, 0.1):
            uid = p.loadURDF(urdf, globalScaling=scale, physicsClientId=client)
            names = {-1: p.getBodyInfo(uid, physicsClientId=client)[0].decode()}
            names.update({j: p.getJointInfo(uid, j, physicsClientId=client)[12].decode()
                          for j in range(p.getNumJoints(uid, physicsClientId=client))})
            reported = [(names[s[1]], s[2], tuple(s[3][:3 if s[2] in (p.GEOM_MESH, p.GEOM_BOX) else 2 if s[2] != p.GEOM_SPHERE else 1]),
                         s[4].decode() or None, s[5], s[6]) for s in p.getVisualShapeData(uid, physicsClientId=client)]
            ours = [(link, *v) for link, shapes in urdf_visuals(urdf, scale).items() for v in shapes]
            assert sorted(ours, key=str) == sorted(reported, key=str), (name, scale)
            p.removeBody(uid, physicsClientId=client)
    finally:
        p.disconnect(client)


def test_commands_print_no_pybullet_banner_or_trimesh_noise(tmp_path):
    res = run_cli("preview", two_ducks(tmp_path, "tiny"), "--out", tmp_path / "sheet.png", "--count", 2, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path / "sheet.png").is_file()
    assert "pybullet build time" not in res.stderr + res.stdout
    assert "trimesh" not in res.stderr
    # trimesh's own log warnings (material details) stay out; PyBullet's later output is untouched.
    probe = ("import synthscene, trimesh, sys\n"
             "trimesh.util.log.warning('harmless trimesh detail')\n"
             "from synthscene.core.quiet import pybullet as p\n"
             "print('after import', file=sys.stderr)\n")
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stderr == "after import\n"


def test_packaged_ground_from_a_config_outside_the_repo(tmp_path):
    """`synthscene:plain_ground.urdf` is installed with the package: a user's own folder needs no checkout."""
    user = tmp_path / "my_project"
    user.mkdir()
    config = two_ducks(user, "tiny", scene={"ground": {"urdf": "synthscene:plain_ground.urdf"}}, output={"dir": "data"})
    res = run_cli("generate", config.name, cwd=user, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    resolved = yaml.safe_load((user / "data" / "config.resolved.yaml").read_text())
    ground = Path(resolved["config"]["scene"]["ground"]["urdf"])
    assert ground.name == "plain_ground.urdf" and ground.parent == ROOT / "synthscene" / "data"
    assert len(list((user / "data" / "images").rglob("*.jpg"))) == 2


def test_synthscene_prefix_resolves_into_the_package():
    from synthscene.core.schema import resolve_path

    assert resolve_path("synthscene:plain_ground.urdf", Path("/elsewhere")) == ROOT / "synthscene" / "data" / "plain_ground.urdf"
    assert resolve_path("synthscene:plain_ground.urdf", None).is_file()


def test_example_configs_use_only_packaged_or_bundled_scene_assets():
    for config in (ROOT / "configs").glob("*.yaml"):
        assert "assets/plain_ground" not in config.read_text().replace("synthscene:plain_ground", ""), config


def test_help_and_demo_style_use(tmp_path):
    res = run_cli("generate", "--help", check=False)
    assert res.returncode == 0 and "--count" in res.stdout
    assert "pybullet build time" not in res.stderr
    out = tmp_path / "x"
    res = run_cli("generate", "configs/quickstart.yaml", "--out", out, "--count", 4, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    assert len((out / "manifest.jsonl").read_text().splitlines()) == 4
    assert "pybullet build time" not in res.stderr


def test_silhouettes_of_two_bodies_from_one_urdf_under_egl_are_equal(tmp_path):
    """The World-level view of the crash: both bodies' silhouette meshes are finite and the same."""
    from synthscene.config import load_config
    from synthscene.labels.annotate import Labeler
    from synthscene.renderers.pybullet import _egl_plugin_path
    from synthscene.scenes.world import World

    if _egl_plugin_path() is None:
        pytest.skip("PyBullet's EGL plugin is not installed")
    cfg = load_config(two_ducks(tmp_path, "egl"))
    world = World(cfg, "egl")
    try:
        meshes = Labeler(cfg, world).meshes
    finally:
        world.close()
    a, b = meshes["duck_a"], meshes["duck_b"]
    assert len(a.faces) > 100 and np.isfinite(a.vertices).all()
    assert np.array_equal(a.vertices, b.vertices) and np.array_equal(a.faces, b.faces)


def test_albumentations_is_not_asked_to_look_for_updates_online():
    import subprocess
    import sys

    code = ("import os; os.environ.pop('NO_ALBUMENTATIONS_UPDATE', None); import synthscene, albumentations.check_version as c; "
            "c.check_for_updates = lambda *a, **k: (_ for _ in ()).throw(SystemExit('update check')); "
            "print(os.environ['NO_ALBUMENTATIONS_UPDATE'])")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "1", res.stderr
