"""Each randomizer: draws inside the configured ranges that actually vary; independence of streams."""
from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.spatial.transform import Rotation

from synthscene.config import config_from_dict
from synthscene.core.errors import BadInput
from synthscene.randomizers import REGISTRY, Context, background, camera, lighting, occlusion, pose, post, texture
from synthscene.renderers.pybullet import resolve_renderer
from synthscene.core.rng import stream
from synthscene.scenes import occluders
from synthscene.scenes.sampler import AssetInfo, sample_scene

ROOT = Path(__file__).resolve().parents[1]
N = 300


def randomized(**changes) -> tuple[dict, Path]:
    """configs/randomized.yaml at 160×120, plus `shading: {}` (on), so that every registered
    randomizer is on (the file itself leaves shading out: its images stay as they were); it reads
    ../shared textures and backgrounds in place."""
    if not (ROOT / "../shared").is_dir():
        pytest.skip("../shared (textures, backgrounds) is absent")
    data = yaml.safe_load((ROOT / "configs/randomized.yaml").read_text())
    data["camera"].update(width=160, height=120)
    data["randomizers"].setdefault("shading", {})
    for key, value in changes.items():
        data["randomizers"][key] = value
    return data, ROOT / "configs"


def load(data, base):
    return config_from_dict(copy.deepcopy(data), base)


def draws(name, fn):
    return [fn(stream(5, i, name)) for i in range(N)]


def inside(values, bounds):
    values = np.asarray(values, float)
    return bool(np.all(values >= bounds[0] - 1e-9) and np.all(values <= bounds[1] + 1e-9))


def test_lighting_ranges_and_variety():
    cfg = lighting.LightingConfig(color=(0.6, 0.9), intensity=(0.5, 1.5), shadow_probability=0.3)
    out = draws("lighting", lambda r: lighting.sample(cfg, r).to_record())
    for key, bounds in [("azimuth_deg", cfg.azimuth_deg), ("elevation_deg", cfg.elevation_deg), ("intensity", cfg.intensity),
                        ("ambient", cfg.ambient), ("diffuse", cfg.diffuse), ("specular", cfg.specular), ("distance", cfg.distance)]:
        vals = [o[key] for o in out]
        assert inside(vals, bounds) and np.std(vals) > 0.1 * (bounds[1] - bounds[0]), key
    colors = np.array([o["color"] for o in out])
    assert inside(colors, cfg.color) and colors.std(axis=0).min() > 0.05
    shadows = np.mean([o["shadow"] for o in out])
    assert 0.2 < shadows < 0.4
    assert np.allclose([np.linalg.norm(o["direction"]) for o in out], 1)


def test_lighting_records_the_shadows_the_backend_draws():
    """EGL draws shadows in every image (next test), so its records say so; TinyRenderer follows
    the coin, which is thrown on both, so that no later draw moves."""
    cfg = lighting.LightingConfig(shadow_probability=0.3)
    egl, tiny = ([lighting.sample(cfg, stream(5, i, "lighting"), Context(5, i, renderer=b)) for i in range(N)] for b in ("egl", "tiny"))
    assert all(d.shadow and d.applied["shadow"] == "always" for d in egl)
    assert 0.2 < np.mean([d.shadow for d in tiny]) < 0.4 and tiny[0].applied["shadow"] == "renderer"
    assert [dataclasses.replace(d, shadow=None, applied=None) for d in egl] == [dataclasses.replace(d, shadow=None, applied=None) for d in tiny]


@pytest.mark.parametrize("backend", ["egl", "tiny"])
def test_only_tinyrenderer_follows_the_shadow_flag(backend):
    """PyBullet's EGL plugin stores getCameraImage's `shadow` and never reads it: the same frame
    with and without is the same, shadows included. Should a PyBullet start honouring it, the
    records above would be wrong."""
    from conftest import small_config
    from synthscene.scenes.world import World

    if backend == "egl" and resolve_renderer("auto", announce=False) != "egl":
        pytest.skip("no EGL here")
    data = small_config(count=2)
    data["camera"] = {"width": 96, "height": 72, "fov_deg": 50}
    data["randomizers"]["lighting"] = {"elevation_deg": [30, 30]}  # long shadows
    w = World(config_from_dict(data, ROOT), backend)
    try:
        s = sample_scene(w.config, 0, w.asset_info, backend)
        w.pose(s)
        on, off = (w.renderer.render(s.camera, dataclasses.replace(s.lighting, shadow=f)).rgb for f in (True, False))
    finally:
        w.close()
    assert np.array_equal(on, off) == (backend == "egl")


def test_lighting_tint_is_image_space_under_egl_only_on_the_scene():
    rgb = np.full((4, 6, 3), 200, np.uint8)
    seg = np.full((4, 6), -1, np.int32)
    seg[:, :3] = 1
    plain = lighting.sample(lighting.LightingConfig(enabled=False), np.random.default_rng(0))
    light = dataclasses.replace(plain, color=[1.0, 0.5, 0.25], intensity=1.0)
    out = lighting.apply_tint(rgb, seg, light, "egl")
    assert (out[:, :3] == [200, 100, 50]).all() and (out[:, 3:] == 200).all()
    assert (lighting.apply_tint(rgb, seg, light, "tiny") == rgb).all()  # TinyRenderer took the colour itself
    assert lighting.applied("egl")["color"] == "image" and lighting.applied("tiny")["color"] == "renderer"


def _camera(d):
    return {"position": d.position, "drawn": d.to_record()}


def _pose(d):
    return {"poses": d.poses, "settle": d.settle, "drawn": d.to_record()}


def test_camera_distance_mode_and_box_size_mode():
    K = np.array([[400.0, 0, 319.5], [0, 400.0, 239.5], [0, 0, 1]])
    cfg = camera.CameraRandomizerConfig(distance=(0.5, 1.0), roll_deg=(-10, 10), intrinsics_jitter=0.05)
    out = draws("camera", lambda r: _camera(camera.draw(cfg, r, K)))
    for key in ("distance", "azimuth_deg", "elevation_deg", "roll_deg"):
        vals = [o["drawn"][key] for o in out]
        assert inside(vals, getattr(cfg, key)) and np.std(vals) > 0
    scales = np.array([o["drawn"]["intrinsics_scale"] for o in out])
    assert inside(scales, (0.95, 1.05)) and scales.std() > 0.01
    box = camera.CameraRandomizerConfig(mode="box_size", box_px=(50, 150))
    r = 0.05
    out = draws("camera", lambda g: _camera(camera.draw(box, g, K, target_radius=r)))
    sizes = [o["drawn"]["box_px"] for o in out]
    assert inside(sizes, box.box_px) and np.std(sizes) > 10
    for o in out:  # the distance really gives that apparent size: 2 r f / d
        eye = np.asarray(o["position"])
        d = np.linalg.norm(eye - np.asarray(o["drawn"]["look_at"]))
        assert 2 * r * 400.0 / d == pytest.approx(o["drawn"]["box_px"], rel=1e-6)


def test_pose_free_inside_volume_and_constraints():
    cfg = pose.PoseConfig(mode="free")
    out = draws("pose", lambda r: _pose(pose.sample(cfg, r, Context(5, 0, radii=(0.02, 0.03)))))
    pos = np.array([p for o in out for p, _ in o["poses"]])
    assert inside(pos[:, 0], cfg.volume.x) and inside(pos[:, 1], cfg.volume.y) and pos[:, 2].std() > 0
    upright = pose.PoseConstraint(upright=True)
    about_x = pose.PoseConstraint(axes=["x"])
    out = draws("pose", lambda r: _pose(pose.sample(cfg, r, Context(5, 0, radii=(0.02, 0.02), constraints=(upright, about_x)))))
    yaws = []
    for o in out:
        R0 = Rotation.from_quat(o["poses"][0][1]).as_matrix()
        R1 = Rotation.from_quat(o["poses"][1][1]).as_matrix()
        assert np.allclose(R0[:, 2], [0, 0, 1], atol=1e-9)  # up stays up
        assert np.allclose(R1[:, 0], [1, 0, 0], atol=1e-9)  # turns about its own x only
        yaws.append(np.arctan2(R0[1, 0], R0[0, 0]))
    assert np.std(yaws) > 1.0


def test_pose_pile_stacks_objects_above_each_other():
    cfg = pose.PoseConfig(mode="pile", pile=pose.PileConfig(radius=0.03))
    out = draws("pose", lambda r: _pose(pose.sample(cfg, r, Context(5, 0, radii=(0.02, 0.03, 0.025)))))
    for o in out:
        pts = np.array([p for p, _ in o["poses"]])
        assert np.all(np.diff(pts[:, 2]) > 0) and o["settle"]
        assert np.linalg.norm(pts[:, :2] - np.asarray(o["drawn"]["pile_xy"]), axis=1).max() <= 0.03 + 1e-9
    assert np.std([o["drawn"]["pile_xy"][0] for o in out]) > 0.02


def test_occlusion_counts_and_aims():
    cfg = occlusion.OcclusionConfig(distractors=(1, 3), occluders=(0, 2), visibility=(0.3, 0.6))
    out = draws("occlusion", lambda r: occlusion.draw_members(cfg, r, 10, 2).to_record())
    n_d = [len(o["distractors"]) for o in out]
    n_o = [len(o["occluders"]) for o in out]
    assert inside(n_d, (1, 3)) and inside(n_o, (0, 2)) and len(set(n_d)) == 3 and len(set(n_o)) == 3
    for o in out:
        members = o["distractors"] + [a["member"] for a in o["occluders"]]
        assert len(set(members)) == len(members) and inside(members, (0, 9))
    vis = [a["visibility"] for o in out for a in o["occluders"]]
    assert inside(vis, cfg.visibility) and np.std(vis) > 0.03
    assert {a["target"] for o in out for a in o["occluders"]} == {0, 1}


def test_distractor_pool_is_a_function_of_the_config():
    cfg = occlusion.OcclusionConfig(pool_size=5)
    a, b = occlusion.pool(cfg, 1), occlusion.pool(cfg, 1)
    assert a == b and len(a) == 5 and a == sorted(a)
    assert occlusion.pool(cfg, 2) != a


@pytest.mark.parametrize("vis", [0.1, 0.3, 0.5, 0.8, 0.95])
def test_occluder_offset_reaches_the_aimed_disc_visibility(vis):
    s = occluders.offset_for_visibility(vis, 1.0, 1.2)
    assert 1 - occluders._covered_fraction(s, 1.0, 1.2) == pytest.approx(vis, abs=1e-6)


def test_occluder_sits_on_the_camera_target_segment():
    from synthscene.geometry.camera import look_at

    cam, tgt = np.array([0.0, -1.0, 0.5]), np.array([0.0, 0.0, 0.05])
    pos, quat = look_at(cam, tgt)
    aim = occlusion.OccluderAim(0, 0, visibility=0.5, depth=0.5, angle=0.7, quaternion=[0.0, 0.0, 0.0, 1.0])
    occ = np.asarray(occluders.place_occluder(aim, pos, quat, tgt, (0.05,) * 3, (0.04,) * 3, 0.01)["position"])
    ray = (tgt - cam) / np.linalg.norm(tgt - cam)
    along = (occ - cam) @ ray
    assert 0 < along < np.linalg.norm(tgt - cam) - 0.05
    lateral = np.linalg.norm((occ - cam) - along * ray)
    # sideways by less than the two angular radii: the discs overlap
    assert lateral / along < 0.05 / np.linalg.norm(tgt - cam) + 0.04 / along


def test_texture_draws_follow_probabilities_and_pool():
    cfg = texture.TextureConfig(ground=0.5, distractors=0.8, targets=0.0, variants=4, tiles_per_m=(2, 6))
    roles = ["target", "distractor", "occluder"]
    out = draws("texture", lambda r: texture.draw(cfg, r, roles, n_images=10).to_record())
    assert 0.4 < np.mean([o["ground"] is not None for o in out]) < 0.6
    assert all(o["objects"][0] is None for o in out)  # targets keep their own look by default
    assert 0.7 < np.mean([o["objects"][1] is not None for o in out]) < 0.9
    texes = [t for o in out for t in [o["ground"], *o["objects"]] if t is not None]
    kinds = {t["kind"] for t in texes if "kind" in t}
    assert kinds == set(cfg.kinds) and {t["variant"] for t in texes if "kind" in t} == set(range(4))
    assert {t["image"] for t in texes if "image" in t} == set(range(10))
    assert inside([t["tiles_per_m"] for t in texes], cfg.tiles_per_m)
    jit = [j for o in out for j in o["jitter"] if j is not None]
    assert 0.4 * N < len(jit) < 0.6 * N  # probability 0.5, targets only
    assert inside([j["hue_deg"] for j in jit], (-8, 8)) and inside([j["saturation"] for j in jit], (0.8, 1.2))


def test_texture_tiles_are_deterministic_power_of_two_and_bounded(shared):
    cfg = texture.TextureConfig(folder=str(shared / "textures/ambientcg"), max_images=20, variants=3)
    a, b = texture.TextureBank(cfg, 3, capacity=4), texture.TextureBank(cfg, 3, capacity=4)
    assert len(a.images) == 20 and a.images == b.images
    for key in [{"kind": "noise", "variant": 2}, {"image": 7}, {"kind": "checker", "variant": 0}]:
        assert np.array_equal(a.tile(key), b.tile(key)) and a.tile(key).shape == (128, 128, 3)
    for v in range(3):
        for k in cfg.kinds:
            a.tile({"kind": k, "variant": v})
    assert len(a._cache) == 4


def test_background_photos_are_cached_within_a_byte_budget_and_decode_the_same_again(shared):
    cfg = background.BackgroundConfig(folder=str(shared / "backgrounds/interiors"))
    bank, fresh = background.BackgroundBank(cfg, max_bytes=5 * 2**20), background.BackgroundBank(cfg)
    first = bank.photo(0).copy()
    for k in range(1, 6):
        bank.photo(k)
        assert 0 < sum(a.nbytes for a in bank._cache.values()) <= 5 * 2**20 and k in bank._cache
    assert 0 not in bank._cache and np.array_equal(bank.photo(0), first) and np.array_equal(first, fresh.photo(0))
    tiny = background.BackgroundBank(cfg, max_bytes=1)
    assert tiny.photo(1).size and list(tiny._cache) == [1]  # the newest stays, even over the budget


def test_background_draws():
    cfg = background.BackgroundConfig(weights={"images": 2, "procedural": 1, "scene": 1}, ground_probability=0.25,
                                      crop_scale=(0.6, 0.9))
    out = draws("background", lambda r: background.draw(cfg, r, 5).to_record())
    src = [o["source"] for o in out]
    assert 0.4 < src.count("image") / N < 0.6 and src.count("scene") > 0.15 * N
    assert inside([o["scale"] for o in out if o["source"] == "image"], (0.6, 0.9))
    assert {o["image"] for o in out if o["source"] == "image"} == set(range(5))
    assert 0.15 < np.mean([o["ground"] for o in out]) < 0.35
    assert all(o["source"] != "image" for o in draws("background", lambda r: background.draw(cfg, r, 0).to_record()))


def test_post_seeds_vary_and_bad_pipelines_are_bad_input():
    import albumentations as A

    cfg = post.PostConfig(transform=A.to_dict(A.Compose([A.GaussNoise(p=1)])))
    seeds = [o["seed"] for o in draws("post", lambda r: post.sample(cfg, r).to_record())]
    assert len(set(seeds)) == N
    data, base = randomized(post={"transform": {"transform": {"__class_fullname__": "NoSuchTransform"}}})
    with pytest.raises(BadInput, match="randomizers.post.transform"):
        load(data, base)


def test_config_errors_name_the_field():
    data, base = randomized()
    data["randomizers"]["pose"]["per_asset"] = {"nope": {"upright": True}}
    with pytest.raises(BadInput, match="per_asset"):
        load(data, base)
    data, base = randomized(occlusion={"sources": ["no/such/folder"]})
    with pytest.raises(BadInput, match="randomizers.occlusion.sources"):
        load(data, base)
    data, base = randomized(occlusion={"sources": ["../docs"]})  # a folder without URDFs
    with pytest.raises(BadInput, match="no \\*.urdf"):
        load(data, base)
    data, base = randomized(background={"folder": "../benchmarks"})  # a folder without images
    with pytest.raises(BadInput, match="randomizers.background.folder: no images"):
        load(data, base)
    data, base = randomized(texture={"kinds": []})
    with pytest.raises(BadInput, match="randomizers.texture.kinds"):
        load(data, base)


NAMES = tuple(REGISTRY)  # every registered randomizer


def _fake_assets(cfg) -> dict:
    assets = {a.name: AssetInfo(a.name, (0.03, 0.03, 0.03)) for a in cfg.assets}
    for k in range(cfg.randomizers.occlusion.pool_size):
        name = occlusion.pool_name(k)
        assets[name] = AssetInfo(name, (0.02, 0.02, 0.02))
    return assets


@pytest.mark.parametrize("off", NAMES)
def test_switching_one_off_leaves_the_others_draws_unchanged(off):
    data, base = randomized()
    full = load(data, base)
    data["randomizers"][off]["enabled"] = False
    part = load(data, base)
    assets = _fake_assets(full)
    changed = 0
    for i in range(12):
        a = sample_scene(full, i, assets, "egl").randomization
        b = sample_scene(part, i, assets if off != "occlusion" else {k: v for k, v in assets.items() if not k.startswith("pool:")}, "egl").randomization
        changed += a.get(off) != b.get(off)  # a randomizer switched off may record nothing (shading)
        for name in NAMES:
            if name == off:
                continue
            if off == "occlusion" and name == "texture":  # one entry per object: the targets' stay the same
                n = len(b["texture"]["objects"])
                assert a["texture"]["ground"] == b["texture"]["ground"]
                assert a["texture"]["objects"][:n] == b["texture"]["objects"]
                assert a["texture"]["jitter"][:n] == b["texture"]["jitter"]
                continue
            if off == "occlusion" and name == "shading":  # one shininess per body, drawn last
                n = len(b["shading"]["shininess"])
                assert a["shading"]["shininess"][:n] == b["shading"]["shininess"]
                assert {**a["shading"], "shininess": None} == {**b["shading"], "shininess": None}
                continue
            if off == "pose" and name == "camera":  # the camera aims at wherever the targets are
                a[name], b[name] = ({k: v for k, v in d[name].items() if k != "look_at"} for d in (a, b))
            assert a[name] == b[name], (off, name, i)
    assert changed > 0


def test_registry_is_the_config_schema_and_the_documented_order():
    from synthscene.config import RandomizersConfig
    from synthscene.randomizers.base import register

    assert NAMES == ("pose", "camera", "lighting", "occlusion", "texture", "background", "post", "shading")
    assert list(RandomizersConfig.model_fields) == list(NAMES)
    for name, r in REGISTRY.items():
        field = RandomizersConfig.model_fields[name]
        assert field.annotation is r.config and field.default == r.default, name
    with pytest.raises(ValueError, match="twice"):
        register(REGISTRY["post"])


@pytest.mark.parametrize("name", NAMES)
def test_every_registered_randomizer_varies_and_is_recorded(name):
    """Its draws differ between images, are frozen, and are what the manifest records under its name."""
    import json

    from synthscene.labels.manifest import image_record

    data, base = randomized()
    cfg = load(data, base)
    assets = _fake_assets(cfg)
    records = []
    for i in range(12):
        sample = sample_scene(cfg, i, assets, "egl")
        drawn = sample.draws[name]
        assert dataclasses.is_dataclass(drawn) and drawn.__dataclass_params__.frozen
        record = json.loads(json.dumps(image_record(sample, [])))["randomization"]
        assert list(record) == list(NAMES)
        assert record[name] == json.loads(json.dumps(drawn.to_record()))
        records.append(json.dumps(record[name]))
    assert len(set(records)) > 1, f"{name} drew the same for every image"


def test_order_is_declared_once_and_is_the_manifest_order():
    """randomizers.ORDER, not the import order, is the registry's, the config section's and the
    manifest's order; the image stage's order names exactly the randomizers that act on pixels."""
    from synthscene.config import RandomizersConfig
    from synthscene.randomizers import ORDER, REGISTRY
    from synthscene.randomizers.image import IMAGE_ORDER

    assert tuple(REGISTRY) == ORDER
    assert tuple(RandomizersConfig.model_fields) == ORDER
    assert set(IMAGE_ORDER) == {n for n, r in REGISTRY.items() if r.apply is not None}
    data, base = randomized()
    data["randomizers"]["shading"] = {"enabled": True}
    cfg = load(data, base)
    record = sample_scene(cfg, 3, _fake_assets(cfg), "egl").randomization
    assert list(record) == [n for n in ORDER if n in record] and len(record) == len(ORDER)


def test_helper_streams_are_reserved():
    from synthscene.core.rng import HELPER_STREAMS, helper_stream
    from synthscene.randomizers.base import Randomizer, register

    for name in HELPER_STREAMS:
        with pytest.raises(ValueError, match="helper stream"):
            register(Randomizer(name, object, None, lambda cfg, rng, ctx: None))
    with pytest.raises(ValueError, match="not a helper stream"):
        helper_stream(0, 0, "lighting")
