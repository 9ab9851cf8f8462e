"""Pose mode `dense` (randomizers/layout.py): objects packed into a region drawn per image,
distractors among them and in a ring around; deterministic, bounded settles, older configs unchanged."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, run_cli, small_config
from synthscene.config import config_from_dict, load_config
from synthscene.scenes import world as world_mod
from synthscene.scenes.sampler import sample_scene
from synthscene.scenes.world import World


def layout_config(mode: str, count: int = 6) -> dict:
    pose = {"mode": mode, "settle_steps": 120, "volume": {"x": [-0.3, 0.3], "y": [-0.3, 0.3], "z": [0.0, 0.02]}}
    if mode == "dense":
        pose["dense"] = {"size": [0.14, 0.2]}
    return small_config(
        count=count,
        assets=[{"name": "duck", "urdf": "pybullet:duck_vhacd.urdf", "count": [2, 3]},
                {"name": "mug", "urdf": "pybullet:objects/mug.urdf", "count": [1, 2]}],
        randomizers={"pose": pose, "camera": {"distance": [0.7, 0.9], "elevation_deg": [40, 70], "aim": "targets"},
                     "occlusion": {"sources": ["pybullet:random_urdfs"], "pool_size": 6, "distractors": [2, 4],
                                   "occluders": [0, 0]}})


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def files(out: Path) -> dict[str, bytes]:
    return {str(f.relative_to(out)): f.read_bytes() for f in sorted(out.rglob("*"))
            if f.is_file() and f.parent.name in ("train", "val")}


def nn_mean(recs: list[dict]) -> float:
    """Mean over targets of the horizontal distance to the nearest other target, metres (settled poses)."""
    d = []
    for r in recs:
        xy = np.array([o["pose"]["position"][:2] for o in r["objects"]])
        if len(xy) > 1:
            m = np.linalg.norm(xy[:, None] - xy[None], axis=2) + np.eye(len(xy)) * 1e9
            d += list(m.min(axis=1))
    return float(np.mean(d))


def test_dense_is_deterministic_packs_closer_than_drop(write_config, tmp_path):
    dense = write_config(layout_config("dense"), "dense.yaml")
    a, b, only = tmp_path / "a", tmp_path / "b", tmp_path / "only"
    run_cli("generate", dense, "--out", a, "--workers", "1")
    run_cli("generate", dense, "--out", b, "--workers", "2")
    assert files(a) == files(b)
    assert (a / "manifest.jsonl").read_bytes() == (b / "manifest.jsonl").read_bytes()
    run_cli("generate", dense, "--out", only, "--only", "1,4")
    got = files(only)
    assert got and all(got[k] == files(a)[k] for k in got)
    recs = records(a)
    for r in recs:
        pose = r["randomization"]["pose"]
        assert pose["mode"] == "dense" and set(pose["region"]) == {"centre", "size", "spacing", "ring"}
        assert {o["asset"] for o in r["objects"]} <= {"duck", "mug"}  # distractors never labelled
    drop = write_config(layout_config("drop"), "drop.yaml")
    run_cli("generate", drop, "--out", tmp_path / "drop", "--workers", "2")
    near, far = nn_mean(recs), nn_mean(records(tmp_path / "drop"))
    assert near < 0.7 * far, (near, far)  # packed: nearest neighbours much closer than dropped over the desk
    overlap = [sum(_overlaps(o, r["objects"]) for o in r["objects"]) / len(r["objects"]) for r in recs]
    overlap_drop = [sum(_overlaps(o, r["objects"]) for o in r["objects"]) / len(r["objects"]) for r in records(tmp_path / "drop")]
    assert np.mean(overlap) > np.mean(overlap_drop)


def _overlaps(o: dict, objects: list[dict]) -> bool:
    a = o["bbox_xyxy"]
    return any(p is not o and a[0] < p["bbox_xyxy"][2] and p["bbox_xyxy"][0] < a[2] and a[1] < p["bbox_xyxy"][3]
               and p["bbox_xyxy"][1] < a[3] for p in objects)


def test_dense_settle_is_bounded_and_objects_stay_on_the_desk(monkeypatch):
    cfg = config_from_dict(layout_config("dense", count=4))
    steps = []
    real = world_mod.p.stepSimulation
    monkeypatch.setattr(world_mod.p, "stepSimulation", lambda **kw: (steps.append(1), real(**kw))[1])
    world = World(cfg, "tiny")
    try:
        for index in range(4):
            s = sample_scene(cfg, index, world.asset_info, "tiny")
            region = s.randomization["pose"]["region"]
            assert max(region["size"]) <= 0.2 * 2 ** 0.5 + 1e-9
            before = len(steps)
            world.pose(s)
            assert len(steps) - before <= 120  # randomizers.pose.settle_steps: the bound
            shown = [o for o in s.objects if o.role in ("target", "distractor")]
            assert all(-0.05 < o.position[2] < 0.5 for o in shown)  # landed: no towers, nothing fell through
    finally:
        world.close()


def test_configs_without_the_new_keys_dump_and_hash_as_before():
    for name in ("quickstart.yaml", "lmo.yaml"):
        cfg = load_config(ROOT / "configs" / name)
        pose = cfg.to_dict()["randomizers"]["pose"]
        assert "dense" not in pose
        sources = cfg.to_dict()["randomizers"]["occlusion"]["sources"]
        assert all(isinstance(s, str) for s in sources)
    dense = config_from_dict(layout_config("dense"))
    assert "dense" in dense.to_dict()["randomizers"]["pose"]


def test_dense_region_is_drawn_from_the_pose_stream_only():
    """Same seed and index: the same region; the other randomizers' draws do not move it."""
    cfg = config_from_dict(layout_config("dense"))
    info = {n: world_mod.AssetInfo(n, (0.04, 0.04, 0.04)) for n in ("duck", "mug")}
    info.update({f"pool:{k}": world_mod.AssetInfo(f"pool:{k}", (0.03, 0.03, 0.03)) for k in range(6)})
    a, b = sample_scene(cfg, 2, info), sample_scene(cfg, 2, info)
    assert a.randomization["pose"] == b.randomization["pose"]
    assert [o.position for o in a.objects] == [o.position for o in b.objects]
    other = config_from_dict({**layout_config("dense"), "randomizers": {
        **layout_config("dense")["randomizers"], "lighting": {"intensity": [0.2, 0.3]}}})
    c = sample_scene(other, 2, info)
    assert c.randomization["pose"] == a.randomization["pose"]


@pytest.mark.parametrize("bad", [{"size": [0, 0.2]}, {"spacing": [-0.1, 0.5]}, {"nope": 1}])
def test_bad_dense_values_are_refused(write_config, bad):
    from conftest import refused

    cfg = layout_config("dense")
    cfg["randomizers"]["pose"]["dense"] = bad
    assert "randomizers.pose.dense" in refused(write_config, cfg)
