"""The LM-O worked example: configs/lmo.yaml loads its eight PLY meshes and they render in their own colours."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import trimesh
import yaml

from synthscene import load_config, prepare
from synthscene.assets.inspect import render_views

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "../shared/gold/lmo"
pytestmark = pytest.mark.skipif(not GOLD.is_dir(), reason="../shared/gold/lmo is absent")


@pytest.fixture(scope="module")
def lmo(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("SYNTHSCENE_CACHE", str(tmp_path_factory.mktemp("cache")))
    try:
        yield prepare(load_config(ROOT / "configs/lmo.yaml"))
    finally:
        mp.undo()


def test_lmo_classes_camera_and_sources_match_the_gold_set(lmo):
    names = yaml.safe_load((GOLD / "yolo/data.yaml").read_text())["names"]
    assert lmo.class_names == [names[i] for i in sorted(names)]
    bop_ids = {"ape": 1, "can": 5, "cat": 6, "driller": 8, "duck": 9, "eggbox": 10, "glue": 11, "holepuncher": 12}
    for a in lmo.assets:
        assert Path(a.source) == (GOLD / f"models/obj_{bop_ids[a.cls]:06d}.ply").resolve()
    cam = yaml.safe_load((GOLD / "bop/camera.json").read_text())
    i = lmo.camera.intrinsics
    assert (i.fx, i.fy, i.cx, i.cy) == (cam["fx"], cam["fy"], cam["cx"], cam["cy"])
    assert (lmo.camera.width, lmo.camera.height) == (cam["width"], cam["height"])


def test_lmo_objects_have_their_real_size(lmo):
    import json

    info = json.loads((GOLD / "models/models_info.json").read_text())
    for a in lmo.assets:
        bop = info[str(int(Path(a.source).stem.split("_")[1]))]
        built = json.loads((Path(a.urdf).parent / "build.json").read_text())["report"]
        assert np.allclose(np.array(built["extents"]) * a.scale * 1000, [bop["size_x"], bop["size_y"], bop["size_z"]], rtol=0.01)


def test_lmo_objects_render_in_their_per_vertex_colours(lmo):
    """Mean rendered colour = a brightness gain × the mesh's mean vertex colour (a grey or wrongly
    mapped texture, the EGL failure this guards against, is far off)."""
    for a in lmo.assets:
        expected = trimesh.load(a.source).visual.vertex_colors[:, :3].mean(0)
        renders = render_views(a.urdf, a.scale, views=[(0, 30), (120, 30), (240, 30)], size=(96, 72))
        px = np.concatenate([r.rgb[r.segmentation >= 0] for r in renders]).astype(float)
        assert len(px) > 1000, a.name
        got = px.mean(0)
        gain = got @ expected / (expected @ expected)
        assert 0.5 < gain < 1.2, (a.name, got, expected)
        assert np.abs(got - gain * expected).max() < 12, (a.name, got, expected)
        assert px.std(0).mean() > 5, a.name  # shaded and detailed, not one flat colour


def test_shared_folder_may_come_from_an_environment_variable(lmo, tmp_path, monkeypatch):
    """`${SYNTHSCENE_SHARED}` instead of the relative ../../shared prefix: the same objects."""
    text = (ROOT / "configs/lmo.yaml").read_text()
    text = re.sub(r"\.\./\.\./shared/([^,}\s]+)", r'"${SYNTHSCENE_SHARED}/\1"', text)  # quoted: { } are YAML
    assert not [line for line in text.splitlines() if "../shared" in line.split("#")[0]]
    (tmp_path / "lmo.yaml").write_text(text)
    monkeypatch.setenv("SYNTHSCENE_SHARED", str((ROOT / "../shared").resolve()))
    cfg = prepare(load_config(tmp_path / "lmo.yaml"))
    assert [a.urdf for a in cfg.assets] == [a.urdf for a in lmo.assets]  # same content: same cached conversion
