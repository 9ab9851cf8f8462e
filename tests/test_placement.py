"""Placement rules: `scene.one_of` choice groups, per-asset pose modes, hand/arm capsule distractors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from conftest import run_cli
from synthscene import BadInput
from synthscene.config import config_from_dict
from synthscene.randomizers import occlusion as occlusion_rnd
from synthscene.randomizers import Context
from synthscene.randomizers import pose as pose_rnd
from synthscene.core.rng import integer, stream
from synthscene.scenes.sampler import choose_targets

DUCK = "pybullet:duck_vhacd.urdf"


def group_config(**scene) -> dict:
    return {
        "seed": 4,
        "count": 20,
        "assets": [
            {"name": "standing", "urdf": DUCK, "count": [0, 1]},
            {"name": "tumbled", "urdf": "pybullet:objects/mug.urdf", "count": [0, 1]},  # two URDFs: see the report
            {"name": "lego", "urdf": "pybullet:lego/lego.urdf", "count": [0, 1], "scale": 2.0},
        ],
        "scene": {"one_of": [{"assets": ["standing", "tumbled"], "weights": [0.7, 0.3]}], **scene},
        "camera": {"width": 64, "height": 48, "fov_deg": 50},
        "randomizers": {"pose": {"mode": "free"}, "camera": {"distance": [0.5, 0.7]}},
    }


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def test_one_of_group_gives_exactly_one_of_its_assets_per_image(write_config, tmp_path):
    """The issue's case: two count [0, 1] variants under max_targets 1 left a quarter of the images empty."""
    out = tmp_path / "ds"
    run_cli("generate", write_config(group_config(max_targets=1)), "--out", out)
    recs = records(out)
    assert len(recs) == 20
    for r in recs:
        assets = [o["asset"] for o in r["objects"]]
        assert sorted(set(assets) & {"standing", "tumbled"}) in (["standing"], ["tumbled"]), assets
        assert len(assets) == 1  # max_targets 1 keeps the group's pick, never the lego instead


def test_one_of_weights_are_respected():
    cfg = config_from_dict(group_config())
    picks = [next(n for n, _ in choose_targets(cfg, i) if n in ("standing", "tumbled")) for i in range(2000)]
    share = picks.count("standing") / len(picks)
    assert abs(share - 0.7) < 0.04  # binomial sd 0.01
    counts = [sum(n in ("standing", "tumbled") for n, _ in choose_targets(cfg, i)) for i in range(200)]
    assert set(counts) == {1}


def test_without_groups_the_targets_are_drawn_as_before():
    """Configs without groups keep their datasets: the same draws of the "objects" stream as the
    code before groups existed (copied here), max_targets included."""
    data = group_config(max_targets=2)
    del data["scene"]["one_of"]
    for a in data["assets"]:
        a["count"] = [0, 2]
    cfg = config_from_dict(data)

    def before(index):
        rng = stream(cfg.seed, index, "objects")
        chosen = [(a.name, k) for a in cfg.assets for k in range(integer(rng, a.count))]
        if len(chosen) > 2:
            chosen = [chosen[i] for i in np.sort(rng.choice(len(chosen), size=2, replace=False))]
        return chosen

    assert all(choose_targets(cfg, i) == before(i) for i in range(300))


@pytest.mark.parametrize("scene, says", [
    ({"one_of": [{"assets": ["standing", "nope"]}]}, "scene.one_of[0].assets: ['nope'] are not asset names"),
    ({"one_of": [{"assets": ["standing", "tumbled"]}, {"assets": ["tumbled", "lego"]}]}, "already belong to an earlier group"),
    ({"one_of": [{"assets": ["standing", "tumbled"], "weights": [1.0]}]}, "weights has 1 values for 2 assets"),
    ({"one_of": [{"assets": ["standing", "tumbled"], "weights": [1.0, 0.0]}]}, "weights must be positive"),
    ({"one_of": [{"assets": ["standing", "tumbled"], "weights": [1.0, float("nan")]}]}, "scene.one_of[0].weights[1]: Input should be a finite number"),
    ({"one_of": [{"assets": ["standing"]}, {"assets": ["lego"]}], "max_targets": 1}, "fewer than the 2 one_of groups"),
])
def test_bad_groups_are_refused(scene, says):
    data = group_config()
    data["scene"] = scene
    with pytest.raises(BadInput) as err:
        config_from_dict(data, source="cfg.yaml")
    assert says in str(err.value)


def test_bad_group_is_exit_2_naming_the_field(write_config, tmp_path):
    data = group_config()
    data["scene"] = {"one_of": [{"assets": ["standing", "tumbled"], "weights": [1, -1]}]}
    proc = run_cli("generate", write_config(data), "--out", tmp_path / "ds", check=False)
    assert proc.returncode == 2 and "scene" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "ds").exists()


def modes_config(count: int = 4) -> dict:
    return {
        "seed": 5,
        "count": count,
        "assets": [
            {"name": "duck", "urdf": DUCK, "count": [1, 1]},  # the global mode: drop
            {"name": "lego", "urdf": "pybullet:lego/lego.urdf", "count": [1, 1], "scale": 2.0},  # free, per_asset
            {"name": "mug", "urdf": "pybullet:objects/mug.urdf", "count": [1, 1], "pose": {"mode": "held"}},
        ],
        "camera": {"width": 96, "height": 72, "fov_deg": 50},
        "randomizers": {
            "pose": {"mode": "drop", "settle_steps": 240, "per_asset": {"lego": {"mode": "free"}},
                     "volume": {"z": [0.1, 0.2]}, "held_distance": [0.3, 0.6]},
            "camera": {"distance": [0.5, 0.7], "elevation_deg": [35, 70]},
        },
    }


def test_per_asset_modes_drop_free_and_held(write_config, tmp_path):
    out = tmp_path / "ds"
    cfg_path = write_config(modes_config())
    run_cli("generate", cfg_path, "--out", out)
    from synthscene import load_config
    from synthscene.scenes.sampler import sample_scene
    from synthscene.scenes.world import World

    cfg = load_config(cfg_path)
    world = World(cfg, "tiny")  # for the assets' sizes, which sampling needs
    try:
        info = world.asset_info
    finally:
        world.close()
    for r in records(out):
        sampled = {o.asset: o for o in sample_scene(cfg, r["index"], info).objects}
        got = {o["asset"]: o["pose"] for o in r["objects"]}
        assert got["duck"]["position"][2] < 0.05  # dropped from >= 0.1 m and settled on the ground
        assert got["lego"] == {"position": sampled["lego"].position, "quaternion": sampled["lego"].quaternion}
        assert got["lego"]["position"][2] > 0.1 + info["lego"].radius - 1e-9  # where sampled, in the air
        assert got["mug"] == {"position": sampled["mug"].position, "quaternion": sampled["mug"].quaternion}
        cam = np.asarray(r["camera"]["pose"]["position"])
        look_at = np.asarray(r["randomization"]["camera"]["look_at"])
        d = float(np.linalg.norm(np.asarray(got["mug"]["position"]) - cam))
        full = float(np.linalg.norm(look_at - cam))
        assert 0.3 * full - 1e-9 <= d <= 0.6 * full + 1e-9
        in_cam = Rotation.from_quat(r["camera"]["pose"]["quaternion"]).inv().apply(np.asarray(got["mug"]["position"]) - cam)
        assert in_cam[2] > 0  # in front of the camera (OpenCV: +z looks forward)
        assert r["randomization"]["pose"]["modes"] == ["drop", "free", "held"]


def test_upright_mode_turns_about_z_only_and_stands_upright():
    data = modes_config()
    data["randomizers"]["pose"]["per_asset"] = {"duck": {"mode": "upright"}}
    cfg = config_from_dict(data)
    assert cfg.stands_upright(cfg.assets[0]) and not cfg.stands_upright(cfg.assets[1])
    q = pose_rnd.rotation(np.random.default_rng(0), cfg.pose_constraint(cfg.assets[0]))
    assert np.allclose(Rotation.from_quat(q).apply([0, 0, 1]), [0, 0, 1])
    placed = pose_rnd.sample(cfg.randomizers.pose, np.random.default_rng(0),
                             Context(0, 0, radii=(0.05, 0.05), constraints=(cfg.pose_constraint(cfg.assets[0]), None)))
    assert placed.settle and placed.static == [False, False]


def test_bad_mode_or_held_distance_is_refused():
    data = modes_config()
    data["assets"][2]["pose"] = {"mode": "hover"}
    with pytest.raises(BadInput, match=r"assets\[2\]|assets.2.pose.mode"):
        config_from_dict(data, source="cfg.yaml")
    data = modes_config()
    data["randomizers"]["pose"]["held_distance"] = [0.5, 1.2]
    with pytest.raises(BadInput, match="held_distance"):
        config_from_dict(data, source="cfg.yaml")


def hands_config() -> dict:
    data = modes_config()
    data["assets"] = data["assets"][:1]
    data["randomizers"]["pose"] = {"mode": "drop", "settle_steps": 120}
    data["randomizers"]["occlusion"] = {"pool_size": 0, "distractors": [0, 0], "occluders": [0, 0], "hands": [1, 3]}
    return data


def test_hand_distractors_are_recorded_and_render_identically(write_config, tmp_path):
    cfg_path = write_config(hands_config())
    run_cli("generate", cfg_path, "--out", tmp_path / "a", "--workers", "1")
    run_cli("generate", cfg_path, "--out", tmp_path / "b", "--workers", "2")
    for r in records(tmp_path / "a"):
        hands = r["randomization"]["occlusion"]["hands"]
        assert 1 <= len(hands) <= 3
        for h in hands:
            radii, lengths = occlusion_rnd.HAND_KINDS[h["kind"]]
            assert radii[0] <= h["radius"] <= radii[1] and lengths[0] <= h["length"] <= lengths[1]
            assert 0.01 <= h["radius"] <= 0.04 and 0.06 <= h["length"] <= 0.25
    files = [p.relative_to(tmp_path / "a") for p in sorted((tmp_path / "a").rglob("*"))
             if p.is_file() and p.name not in ("data.yaml", "config.resolved.yaml")]
    assert any(str(f).endswith(".jpg") for f in files) and any(f.name == "manifest.jsonl" for f in files)
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_hand_variants_are_skin_toned_capsules_of_hand_sizes():
    cfg = config_from_dict(hands_config()).randomizers.occlusion
    variants = occlusion_rnd.hand_variants(cfg, 5)
    assert len(variants) == cfg.hand_pool and {v["kind"] for v in variants} <= set(occlusion_rnd.HAND_KINDS)
    assert variants == occlusion_rnd.hand_variants(cfg, 5)  # a function of the config
    assert occlusion_rnd.hand_variants(cfg.model_copy(update={"hands": (0, 0)}), 5) == []
