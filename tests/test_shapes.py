"""The `synthscene:shapes` distractor source: everyday shapes built procedurally, the same pool in
every worker, at the configured sizes, with UVs, physically sound, never labelled."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pybullet as p
import pybullet_data
import pytest

import synthscene
from conftest import small_config
from synthscene.config import config_from_dict
from synthscene.core.errors import BadInput
from synthscene.generation.producer import ImageProducer
from synthscene.randomizers import occlusion
from synthscene.renderers.pybullet import resolve_renderer
from synthscene.assets import shapes
from synthscene.scenes.sampler import AssetInfo, sample_scene
from test_generate import tree


def occ_config(tmp_path, **occ) -> dict:
    cfg = small_config(count=4)
    cfg["randomizers"]["occlusion"] = {"sources": ["synthscene:shapes"], "pool_size": 8, "distractors": [2, 3],
                                       "occluders": [0, 0], **occ}
    return cfg


def built(folder: Path) -> dict[str, bytes]:
    return {str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file()}


def test_the_pool_is_a_function_of_the_config(tmp_path):
    cfg = shapes.ShapesConfig()
    a = shapes.shape_urdfs(cfg, 7, 14, tmp_path / "a")
    b = shapes.shape_urdfs(cfg, 7, 14, tmp_path / "b")  # another worker, another cache: the same bytes
    assert [Path(u).relative_to(tmp_path / "a") for u in a] == [Path(u).relative_to(tmp_path / "b") for u in b]
    assert built(tmp_path / "a") == built(tmp_path / "b")
    assert shapes.shape_urdfs(cfg, 7, 14, tmp_path / "a") == a  # made once: found again
    assert {shapes.variant(cfg, 7, j)["kind"] for j in range(14)} == set(shapes.KINDS)  # every kind, by chance here
    other = shapes.shape_urdfs(cfg, 8, 14, tmp_path / "c")
    assert {Path(u).parent.name for u in other}.isdisjoint(Path(u).parent.name for u in a)  # another seed, other shapes
    assert all(Path(u).with_name("model.obj").read_bytes() for u in a)


def test_shapes_have_the_configured_sizes_and_uvs():
    sizes = {"box": {"length": [0.2, 0.2], "width": [0.1, 0.1], "height": [0.05, 0.05]},
             "bottle": {"diameter": [0.06, 0.07], "height": [0.22, 0.25]}}
    cfg = shapes.ShapesConfig(sizes=sizes)
    for kind in shapes.KINDS:
        one = shapes.ShapesConfig(kinds={kind: 1.0}, sizes=sizes)
        for j in range(4):
            v = shapes.variant(one, 3, j)
            assert v["kind"] == kind
            for dim, (lo, hi) in getattr(cfg.sizes, kind):
                assert lo <= v["size"][dim] <= hi
            mesh = shapes.build_mesh(v)
            ext, s = mesh.extents, v["size"]
            if kind in ("box", "book"):
                assert np.allclose(ext, [s["length"], s["width"], s["height"]], atol=1e-6)
            elif kind == "mug":  # the body's diameter across y, the handle sticks out along x
                assert np.allclose(ext[1:], [s["diameter"], s["height"]], atol=1e-3) and ext[0] > s["diameter"] + 0.02
            else:
                assert np.allclose(ext, [s["diameter"], s["diameter"], s["height"]], atol=1e-3)
            assert np.allclose(mesh.bounds.mean(axis=0), 0, atol=1e-9)  # the box centre at the origin
            assert mesh.convex_hull.volume > 0.2 * np.prod(ext)  # a solid-looking thing, not a sliver
            uv = mesh.visual.uv
            assert uv.shape == (len(mesh.vertices), 2) and uv.min() >= 0 and uv.max() <= 1 and np.ptp(uv, axis=0).min() > 0.1
            if kind in ("box", "book", "can", "bottle"):  # closed: outward normals enclose a positive volume
                assert mesh.volume > 0.5 * np.prod(ext)
    v = shapes.variant(shapes.ShapesConfig(kinds={"box": 1}, sizes=sizes), 3, 0)
    assert v["size"] == {"length": 0.2, "width": 0.1, "height": 0.05}
    part = shapes.ShapesConfig(sizes={"can": {"height": [0.1, 0.1]}}).sizes.can  # the rest keeps its defaults
    assert part.height == (0.1, 0.1) and part.diameter == tuple(shapes.SIZES["can"]["diameter"])


def test_urdfs_load_in_pybullet_fall_and_come_to_rest(tmp_path):
    urdfs = [shapes.shape_urdf(tmp_path, shapes.variant(shapes.ShapesConfig(kinds={k: 1}), 0, j))
             for j, k in enumerate(shapes.KINDS)]
    obj = Path(urdfs[0]).with_name("model.obj").read_text()
    assert obj.count("\nvt ") == obj.count("\nv ") > 0 and "mtllib" not in obj  # UVs in the file; colour from the URDF
    c = p.connect(p.DIRECT)
    try:
        p.setGravity(0, 0, -9.81, physicsClientId=c)
        plane = p.loadURDF(str(Path(pybullet_data.getDataPath()) / "plane.urdf"), physicsClientId=c)
        bodies = []
        for k, urdf in enumerate(urdfs * 2):  # each standing, then each tumbled
            q = [0, 0, 0, 1] if k < len(urdfs) else p.getQuaternionFromEuler([1.1, 0.4, 0.3 * k])
            uid = p.loadURDF(urdf, [0.5 * (k % 7), 0.6 * (k // 7), 0.3], q, physicsClientId=c)
            p.changeDynamics(uid, -1, rollingFriction=0.005, spinningFriction=0.005, angularDamping=0.5, physicsClientId=c)
            bodies.append(uid)
        assert p.getDynamicsInfo(bodies[0], -1, physicsClientId=c)[0] > 0.01  # a mass from the hull
        for _ in range(240 * 4):
            p.stepSimulation(physicsClientId=c)
        for uid, urdf in zip(bodies, urdfs * 2):
            v, w = p.getBaseVelocity(uid, physicsClientId=c)
            assert np.linalg.norm(v) < 2e-3 and np.linalg.norm(w) < 2e-2, urdf
            contacts = p.getContactPoints(uid, plane, physicsClientId=c)
            assert contacts and min(pt[8] for pt in contacts) > -2e-3, urdf  # lying on the plane, not through it
        for uid in bodies[: len(urdfs)]:  # dropped standing, they still stand
            up = p.getMatrixFromQuaternion(p.getBasePositionAndOrientation(uid, physicsClientId=c)[1])[8]
            assert up > 0.99
    finally:
        p.disconnect(c)


def test_sources_are_checked(tmp_path):
    base = occ_config(tmp_path)
    for sources, extra, says in [
        (["synthscene:vases"], {}, "unknown source 'synthscene:vases'"),
        (["pybullet:random_urdfs"], {"shapes": {"upright": 1.0}}, "do not name 'synthscene:shapes'"),
        (["synthscene:shapes"], {"shapes": {"kinds": {"vase": 1}}}, "kinds"),
        (["synthscene:shapes"], {"shapes": {"sizes": {"can": {"height": [0.1, 3.0]}}}}, "sizes.can"),
    ]:
        cfg = copy.deepcopy(base)
        cfg["randomizers"]["occlusion"].update(sources=sources, **extra)
        with pytest.raises(BadInput, match="randomizers.occlusion") as err:
            config_from_dict(cfg, tmp_path)
        assert says in str(err.value)


def test_a_config_without_shapes_dumps_and_pools_as_before(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHSCENE_CACHE", str(tmp_path / "cache"))
    plain = config_from_dict(occ_config(tmp_path, sources=["pybullet:random_urdfs"]), tmp_path)
    assert "shapes" not in plain.to_dict()["randomizers"]["occlusion"]  # so its hash did not change
    assert plain.randomizers.occlusion.shape_count == 0 and not (tmp_path / "cache").exists()
    mixed = config_from_dict(occ_config(tmp_path, sources=["pybullet:random_urdfs", "synthscene:shapes"],
                                        shapes={"share": 0.25}), tmp_path)
    members = occlusion.pool(mixed.randomizers.occlusion, mixed.seed)
    assert len(members) == 8 and sum("random_urdfs" in m for m in members) == 6  # the folders first, then 2 shapes
    assert all(Path(m).is_relative_to(tmp_path / "cache" / "shapes") for m in members[6:])


def test_shapes_stand_upright_by_the_configured_share(tmp_path):
    def quats(upright: float) -> list:
        cfg = config_from_dict(occ_config(tmp_path, shapes={"upright": upright}, distractors=[3, 3]), tmp_path)
        assets = {a.name: AssetInfo(a.name, (0.03, 0.03, 0.03)) for a in cfg.assets}
        assets.update({occlusion.pool_name(k): AssetInfo(occlusion.pool_name(k), (0.02, 0.02, 0.02)) for k in range(8)})
        return [o.quaternion for i in range(20) for o in sample_scene(cfg, i, assets, "egl").objects if o.role == "distractor"]

    standing, tumbling = quats(1.0), quats(0.0)
    assert len(standing) == len(tumbling) > 20
    assert all(abs(q[0]) < 1e-12 and abs(q[1]) < 1e-12 for q in standing)  # heading only
    assert sum(abs(q[0]) > 1e-3 for q in tumbling) > 0.8 * len(tumbling)


def test_end_to_end_only_targets_are_labelled_and_bytes_repeat(tmp_path, write_config, monkeypatch):
    monkeypatch.setenv("SYNTHSCENE_CACHE", str(tmp_path / "cache"))
    cfg = synthscene.load_config(write_config(occ_config(tmp_path)))
    a = synthscene.generate(cfg, tmp_path / "a", progress=False).out_dir
    b = synthscene.generate(cfg, tmp_path / "b", workers=2, progress=False).out_dir
    for pattern in ("labels/**/*.txt", "images/**/*.jpg", "manifest.jsonl"):
        assert tree(a, pattern) and tree(a, pattern) == tree(b, pattern), pattern
    records = [json.loads(line) for line in (a / "manifest.jsonl").read_text().splitlines()]
    assert sum(len(r["randomization"]["occlusion"]["distractors"]) for r in records) >= 4
    for r in records:
        assert {o["asset"] for o in r["objects"]} <= {"duck", "mug", "lego"}  # distractors are never objects
        label = a / "labels" / r["split"] / f"{r['index']:06d}.txt"
        assert len(label.read_text().splitlines()) == sum(o["kept"] for o in r["objects"])
    assert len(list((tmp_path / "cache" / "shapes").glob("*/model.urdf"))) == 8
    pr = ImageProducer(cfg, resolve_renderer("auto", announce=False))  # the distractors are in the pictures
    try:
        w, seen = pr.world, 0
        for i in range(4):
            s = sample_scene(cfg, i, w.asset_info, w.renderer.name)
            w.pose(s)
            seg = w.render(s).segmentation
            seen += sum(bool((seg == w.uid_of(o)).any()) for o in s.objects if o.role == "distractor")
        assert seen >= 4
    finally:
        pr.close()


def test_a_shapes_config_pickles_for_spawned_workers():
    """`generate --workers N` pickles the config into each worker: the generated size models must resolve by name."""
    import pickle

    from synthscene import load_config

    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "lmo_clutter.yaml") \
        if (Path(__file__).resolve().parents[2] / "shared").is_dir() else None
    if cfg is None:
        pytest.skip("../shared (lmo_clutter.yaml's meshes) is absent")
    again = pickle.loads(pickle.dumps(cfg))
    assert again.randomizers.occlusion.shapes == cfg.randomizers.occlusion.shapes
