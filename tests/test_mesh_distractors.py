"""Distractors from a folder of meshes (scenes/mesh_distractors.py): obj/ply/stl/glb through the
asset pipeline (units, up axis, cache), drawn into the pool, rendered, never labelled."""
from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh

from conftest import ROOT, refused, run_cli, small_config
from synthscene.config import config_from_dict
from synthscene.randomizers import occlusion as occlusion_rnd
from synthscene.assets.mesh_distractors import MeshSource, meshes_in
from synthscene.scenes.sampler import sample_scene
from synthscene.scenes.world import World


@pytest.fixture
def mesh_folder(tmp_path):
    """Four everyday-sized meshes in millimetres, one per format (a vertex-coloured PLY, a Y-up GLB)."""
    folder = tmp_path / "meshes"
    (folder / "sub").mkdir(parents=True)
    trimesh.creation.box((60, 40, 100)).export(folder / "carton.obj")
    cyl = trimesh.creation.cylinder(radius=35, height=110)
    cyl.visual.vertex_colors = np.tile([200, 30, 30, 255], (len(cyl.vertices), 1)).astype(np.uint8)
    cyl.export(folder / "can.ply")
    trimesh.creation.icosphere(radius=30).export(folder / "sub" / "ball.stl")
    cone = trimesh.creation.cone(radius=30, height=90)  # its axis along z; the GLB is Y-up, so turn it
    cone.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0]))
    cone.export(folder / "cone.glb")
    (folder / "notes.txt").write_text("not a mesh")
    return folder


def mesh_config(folder, **occ) -> dict:
    return small_config(
        count=3,
        assets=[{"name": "duck", "urdf": "pybullet:duck_vhacd.urdf", "count": [1, 1]}],
        randomizers={"pose": {"mode": "drop", "settle_steps": 120, "volume": {"x": [-0.15, 0.15], "y": [-0.15, 0.15], "z": [0, 0.02]}},
                     "camera": {"distance": [0.7, 0.8], "elevation_deg": [50, 70]},
                     "occlusion": {"sources": [{"meshes": str(folder), "units": "mm"}], "pool_size": 4,
                                   "distractors": [4, 4], "occluders": [0, 0], **occ}})


def test_a_mesh_folder_is_a_pool_of_converted_distractors_in_metres(mesh_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHSCENE_CACHE", str(tmp_path / "cache"))
    assert [p.rsplit("/", 1)[1] for p in meshes_in(str(mesh_folder))] == ["can.ply", "carton.obj", "cone.glb", "ball.stl"]
    cfg = config_from_dict(mesh_config(mesh_folder))
    (src,) = cfg.randomizers.occlusion.sources
    assert isinstance(src, MeshSource) and src.units == "mm"
    urdfs = occlusion_rnd.pool(cfg.randomizers.occlusion, cfg.seed)
    assert len(urdfs) == 4 and all(u.endswith("model.urdf") and str(tmp_path / "cache") in u for u in urdfs)
    assert occlusion_rnd.pool(cfg.randomizers.occlusion, cfg.seed) == urdfs  # from the cache, the same files
    world = World(cfg, "tiny")
    try:
        sizes = sorted(tuple(round(2 * h, 3) for h in info.half_extents)
                       for name, info in world.asset_info.items() if name.startswith("pool:"))
        near = lambda want: any(np.allclose(s, want, atol=0.01) for s in sizes)  # noqa: E731  (PyBullet's AABB margin)
        assert near((0.06, 0.04, 0.1))  # the carton: mm → m, its axes kept
        assert near((0.06, 0.06, 0.09))  # the cone: stood up from the GLB's Y-up
        assert near((0.07, 0.07, 0.11)) and near((0.06, 0.06, 0.06))  # the can (PLY) and the ball (STL)
        pool_uids = {uid for (name, _), uid in world.bodies.items() if name.startswith("pool:")}
        drawn = 0
        for index in range(2):
            s = sample_scene(cfg, index, world.asset_info, "tiny")
            assert [o.role for o in s.objects].count("distractor") >= 3
            world.pose(s)
            seg = world.render(s).segmentation
            drawn += int(np.isin(seg, list(pool_uids)).sum())
        assert drawn > 100  # the distractors are in the picture
    finally:
        world.close()


def test_mesh_distractors_are_rendered_but_never_labelled(mesh_folder, write_config, tmp_path):
    cfg = mesh_config(mesh_folder)
    out = tmp_path / "ds"
    run_cli("generate", write_config(cfg), "--out", out)
    for line in (out / "manifest.jsonl").read_text().splitlines():
        r = json.loads(line)
        assert len(r["randomization"]["occlusion"]["distractors"]) >= 3
        assert {o["asset"] for o in r["objects"]} == {"duck"}
        labels = (out / r["file"].replace("images/", "labels/").replace(".jpg", ".txt")).read_text().splitlines()
        assert all(line.split()[0] == "0" for line in labels)


def test_mesh_sources_mix_with_urdf_folders_and_shapes(mesh_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHSCENE_CACHE", str(tmp_path / "cache"))
    mixed = [{"meshes": str(mesh_folder), "units": "mm"}, "synthscene:shapes"]
    occ = config_from_dict(mesh_config(mesh_folder, sources=mixed, pool_size=8)).randomizers.occlusion
    urdfs = occlusion_rnd.pool(occ, 0)
    assert occ.shape_count == 4  # shapes take their share, not the whole pool, beside a mesh folder
    assert len(urdfs) == 8 and sum("shapes" in u for u in urdfs) == 4
    big = config_from_dict(mesh_config(mesh_folder, sources=["pybullet:random_urdfs", *mixed], pool_size=1100))
    urdfs = occlusion_rnd.pool(big.randomizers.occlusion, 0)  # nearly every random_urdf and mesh, half the shapes
    assert sum("random_urdfs" in u for u in urdfs) + sum("shapes" not in u and "random_urdfs" not in u for u in urdfs) == 550
    assert sum("shapes" not in u and "random_urdfs" not in u for u in urdfs) >= 1


def test_bundled_ycb_distractors_load():
    folder = ROOT / "synthscene" / "data" / "distractors" / "ycb"
    assert len(meshes_in(str(folder))) == 9
    cfg = config_from_dict(mesh_config("synthscene:distractors/ycb", pool_size=9))
    assert cfg.randomizers.occlusion.sources[0].meshes == str(folder)


def test_bad_mesh_sources_are_refused(write_config, tmp_path):
    (tmp_path / "empty").mkdir()
    assert "no meshes" in refused(write_config, mesh_config(tmp_path / "empty"))
    assert "folder not found" in refused(write_config, mesh_config(tmp_path / "nope"))
    cfg = mesh_config(tmp_path / "empty")
    cfg["randomizers"]["occlusion"]["sources"] = [{"meshes": str(tmp_path), "units": "inch"}]
    assert "units" in refused(write_config, cfg)
