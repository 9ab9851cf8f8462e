"""A held object comes with the hand that holds it (scenes/held_hand.py): recorded, drawn in the
image where it occludes the object, never labelled; configs without held objects are unchanged."""
from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run_cli, small_config

from synthscene.config import config_from_dict
from synthscene.scenes import held_hand
from synthscene.scenes.sampler import sample_scene
from synthscene.scenes.world import World


def held_config(count: int = 8, **pose) -> dict:
    return {
        "seed": 3,
        "count": count,
        "assets": [
            {"name": "mug", "urdf": "pybullet:objects/mug.urdf", "count": [1, 1], "pose": {"mode": "held"}},
            {"name": "duck", "urdf": "pybullet:duck_vhacd.urdf", "count": [0, 1]},
        ],
        "camera": {"width": 160, "height": 120, "fov_deg": 55},
        "randomizers": {
            "pose": {"mode": "drop", "settle_steps": 120, "held_distance": [0.4, 0.65], **pose},
            "camera": {"distance": [0.6, 0.9], "elevation_deg": [20, 60]},
        },
        "output": {"val_fraction": 0.0},
    }


@pytest.fixture(scope="module")
def held_ds(tmp_path_factory):
    root = tmp_path_factory.mktemp("held")
    cfg = root / "held.yaml"
    cfg.write_text(json.dumps(held_config()))
    run_cli("generate", cfg, "--out", root / "ds")
    return root / "ds"


def _records(ds):
    return [json.loads(line) for line in (ds / "manifest.jsonl").read_text().splitlines()]


def test_a_held_object_gets_a_hand_that_occludes_it_and_is_not_labelled(held_ds):
    records = _records(held_ds)
    mugs = []
    for r in records:
        (held,) = r["randomization"]["pose"]["held"]
        hand = held["hand"]
        assert set(hand) >= {"arm_deg", "tilt_deg", "palm_deg", "side", "tone", "rgba"}
        assert {o["asset"] for o in r["objects"]} <= {"mug", "duck"}  # the hand is no labelled object
        lines = (held_ds / r["file"].replace("images/", "labels/").replace(".jpg", ".txt")).read_text().splitlines()
        assert len(lines) == sum(o["kept"] for o in r["objects"])
        mugs += [o for o in r["objects"] if o["asset"] == "mug"]
    vis = [o["visibility"] for o in mugs if o["visibility"] is not None]
    assert min(vis) < 0.97  # in some images the hand hides part of it
    assert np.median(vis) > 0.5  # ... but it is held, not hidden


def test_the_hand_is_in_the_picture_next_to_the_object():
    cfg = config_from_dict(held_config(count=4))
    world = World(cfg, "tiny")
    try:
        hand_uids = {uid for (name, _), uid in world.bodies.items() if name.startswith(held_hand.HELD_HAND_PREFIX)}
        assert len(hand_uids) == len(held_hand.parts())  # one rig: one held mug per image at most
        for index in range(2):
            s = sample_scene(cfg, index, world.asset_info, "tiny")
            hands = [o for o in s.objects if o.role == "hand"]
            assert len(hands) == len(held_hand.parts()) and all(o.static for o in hands)
            world.pose(s)
            seg = world.render(s).segmentation
            assert np.isin(seg, list(hand_uids)).sum() > 50  # forearm, palm, fingers drawn
    finally:
        world.close()


def test_held_hand_false_is_the_floating_object_of_before():
    on, off = config_from_dict(held_config()), config_from_dict(held_config(held_hand=False))
    assert "held_hand" not in on.to_dict()["randomizers"]["pose"]  # the default dumps (and hashes) as before
    assert on.content_hash() != off.content_hash()
    assert held_hand.rigs(on) == 1 and held_hand.rigs(off) == 0
    info = {"mug": held_hand_info(), "duck": held_hand_info()}
    a, b = sample_scene(on, 0, info), sample_scene(off, 0, info)
    assert [o.position for o in a.objects if o.role != "hand"] == [o.position for o in b.objects]
    assert "hand" not in b.randomization["pose"]["held"][0]


def held_hand_info():
    from synthscene.scenes.sampler import AssetInfo

    return AssetInfo("x", (0.04, 0.05, 0.05), (0.0, 0.02, 0.05))


def test_configs_without_held_objects_load_and_draw_no_hand():
    cfg = config_from_dict(small_config())
    assert held_hand.rigs(cfg) == 0
    info = {name: held_hand_info() for name in ("duck", "mug", "lego")}
    for index in range(3):
        s = sample_scene(cfg, index, info)
        assert not [o for o in s.objects if o.role == "hand"]
        assert "held" not in s.randomization["pose"]


def test_grip_keeps_fingers_outside_the_object():
    drawn = held_hand.draw_grip(np.random.default_rng(1))
    parts = held_hand.grip(drawn, [0.0, 0.0, 0.5], [0, 0, 0, 1], [0, 0, 0], [0.05, 0.04, 0.06],
                           [0, 0, 0], [0, 0, 0, 1], 0.05)
    assert [p for p, _, _ in parts] == [p.name for p in held_hand.parts()]
    solid = held_hand.Solid(np.array([0.0, 0.0, 0.5]), np.eye(3), np.array([0.05, 0.04, 0.06]))
    for name, pos, _ in parts:
        if name[:-1] in held_hand.FINGERS or name.startswith("thumb"):
            assert solid.distance(np.array([pos]))[0] > 0.0, name
