"""Image-space shading (randomizers/shading.py): normals from depth, lights, ambient occlusion,
exposure; its draw and config; and, on a small real render, that it touches only the objects."""
from __future__ import annotations

import copy
import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import refused, small_config
from synthscene.config import config_from_dict
from synthscene.labels.manifest import image_record
from synthscene.randomizers import shading
from synthscene.randomizers.base import Context
from synthscene.randomizers.pose import Volume
from synthscene.core.rng import stream

H, W = 60, 80
K = np.array([[80.0, 0, (W - 1) / 2], [0, 80.0, (H - 1) / 2], [0, 0, 1]])
CAMERA = SimpleNamespace(K=K, position=[0.0, 0.0, 0.0], quaternion=[0.0, 0.0, 0.0, 1.0])  # camera frame = world frame


def plane_depth(normal, distance: float) -> np.ndarray:
    """Depth of the plane n·X = −distance (n unit, facing the camera) along each pixel's ray."""
    n = np.asarray(normal, float) / np.linalg.norm(normal)
    u, v = np.meshgrid(np.arange(W), np.arange(H))
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones((H, W))], axis=-1)
    return (-distance / (rays @ n)).astype(np.float32)


def neutral(**changes) -> shading.ShadingDraw:
    """A draw that changes nothing: ambient 1, no light, no occlusion, exposure 0, white balance 1."""
    return dataclasses.replace(shading.ShadingDraw(enabled=True, applied=True), **changes)


def shade(rgb, depth, draw, seg=None, mask=None, metering=None):
    seg = np.zeros(depth.shape, np.int32) if seg is None else seg
    mask = seg >= 0 if mask is None else mask
    metering = np.zeros_like(mask) if metering is None else metering  # no auto exposure unless asked
    shine = np.full(depth.shape, 16.0, np.float32)
    return shading.shade(rgb, seg, depth, CAMERA, draw, shine, mask, metering)


def light(direction, intensity=1.0, kelvin=6600.0):
    return shading.Light("directional", 0.0, 0.0, list(direction), None, None, kelvin, [1.0, 1.0, 1.0], intensity)


# --- pure parts ---------------------------------------------------------------------------------

@pytest.mark.parametrize("normal", [(0, 0, -1), (0.4, -0.3, -1), (-0.6, 0.5, -0.7), (0, 0.9, -0.4)])
def test_normals_of_a_plane_point_out_of_it_towards_the_camera(normal):
    n = np.asarray(normal) / np.linalg.norm(normal)
    got = np.stack(shading.normals(plane_depth(n, 1.2), K), axis=-1)
    assert np.allclose(np.linalg.norm(got, axis=-1), 1, atol=1e-4)
    assert (got @ n).min() > 0.9999  # every pixel, borders included


def test_normals_do_not_mix_bodies_across_a_silhouette():
    depth = plane_depth((0, 0, -1), 1.0)
    seg = np.zeros((H, W), np.int32)
    depth[:, W // 2:] = 0.6  # a nearer body on the right, also facing the camera
    seg[:, W // 2:] = 1
    got = np.stack(shading.normals(depth, K, seg), axis=-1)
    assert (got[..., 2] < -0.9999).all()  # the edge columns too: no slope from the depth step


def test_a_light_from_the_camera_brightens_a_facing_plane_more_than_a_grazing_one():
    rgb = np.full((H, W, 3), 100, np.uint8)
    draw = neutral(ambient=0.2, lights=(light((0, 0, -1)),))  # towards the light: back to the camera
    facing = shade(rgb, plane_depth((0, 0, -1), 1.0), draw)
    grazing = shade(rgb, plane_depth((0.95, 0, -0.3), 1.0), draw)
    assert facing.mean() == pytest.approx(100 * 1.2, abs=1)  # n·l = 1
    assert grazing.mean() < facing.mean() - 40
    behind = shade(rgb, plane_depth((0, 0, -1), 1.0), neutral(ambient=0.2, lights=(light((0, 0, 1)),)))
    assert behind.mean() == pytest.approx(20, abs=1)  # lit from behind: ambient only


def test_specular_highlight_is_added_where_the_half_vector_meets_the_normal():
    black = np.zeros((H, W, 3), np.uint8)  # diffuse light multiplies it: only the highlight shows
    depth = plane_depth((0, 0, -1), 1.0)
    draw = neutral(ambient=0.0, specular=0.5, lights=(light((0, 0, -1)),))
    out = shade(black, depth, draw)
    # at the principal point, light, view and normal coincide: the full highlight, 255 · 0.5
    assert np.abs(out[H // 2, W // 2].astype(float) - 127.5).max() <= 1
    seg = np.zeros((H, W), np.int32)
    sharp = shading.shade(black, seg, depth, CAMERA, draw, np.full((H, W), 64.0, np.float32), seg >= 0, seg < 0)
    assert out[0, 0, 0] < 100 and sharp[0, 0, 0] < out[0, 0, 0] / 2  # off-axis: less, the shinier the less


def test_ambient_occlusion_darkens_a_crease_not_a_ridge_or_a_plane():
    u = np.abs(np.arange(W, dtype=np.float32) - W // 2)
    crease = np.tile(1.0 - 0.005 * u, (H, 1))  # the middle column is the farthest: concave (a 136° fold)
    ridge = np.tile(0.6 + 0.005 * u, (H, 1))  # the middle is the nearest: convex
    ao_crease = shading.ambient_occlusion(crease, 6, 0.02)
    assert ao_crease[10:-10, W // 2].min() > 0.3  # (less at the image border: what lies past it is unknown)
    assert ao_crease[:, :10].max() < 0.05  # far from the crease, on its flat sides
    assert shading.ambient_occlusion(ridge, 6, 0.02).max() < 0.05
    assert shading.ambient_occlusion(plane_depth((0.4, -0.3, -1), 1.0), 6, 0.02).max() < 0.05
    rgb = np.full((H, W, 3), 200, np.uint8)
    out = shade(rgb, crease, neutral(ao_strength=1.0, ao_radius=0.02))
    assert out[H // 2, W // 2, 0] < 200 - 20 and out[H // 2, 5, 0] == 200


def test_a_silhouette_in_front_of_a_wall_leaves_no_halo():
    depth = np.full((H, W), 1.0, np.float32)
    depth[20:40, 30:50] = 0.7  # a box 30 cm in front of the wall
    assert shading.ambient_occlusion(depth, 6, 0.02).max() < 0.05


def test_neutral_white_balance_and_exposure_are_the_identity():
    rgb = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    depth = plane_depth((0.3, 0.2, -1), 1.0)
    assert (shade(rgb, depth, neutral()) == rgb).all()
    brighter = shade(rgb, depth, neutral(exposure_ev=1.0))
    assert (brighter == np.clip(rgb.astype(int) * 2, 0, 255)).all()
    warm = shade(np.full((H, W, 3), 100, np.uint8), depth, neutral(white_balance=(1.1, 1.0, 0.9)))
    assert (warm == [110, 100, 90]).all()


def test_shading_leaves_the_background_untouched():
    rgb = np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)
    seg = np.full((H, W), -1, np.int32)
    seg[10:40, 20:60] = 3
    depth = plane_depth((0, 0, -1), 1.0)
    draw = neutral(ambient=0.3, specular=0.3, exposure_ev=0.5, white_balance=(1.1, 1.0, 0.9),
                   ao_strength=0.5, ao_radius=0.02, lights=(light((0.3, -0.2, -1)),))
    out = shade(rgb, depth, draw, seg, metering=seg == 3)
    assert (out[seg < 0] == rgb[seg < 0]).all()
    assert (out[seg == 3] != rgb[seg == 3]).mean() > 0.9


def test_auto_exposure_meters_the_objects():
    rgb = np.full((H, W, 3), 100, np.uint8)
    depth = plane_depth((0, 0, -1), 1.0)
    bright = neutral(ambient=0.5, lights=(light((0, 0, -1), intensity=1.5),))  # 2× brighter than the render
    metered = shade(rgb, depth, bright, metering=np.ones((H, W), bool))
    assert abs(int(metered[H // 2, W // 2, 0]) - 100) <= 1  # metered back to where it was
    assert shade(rgb, depth, bright)[H // 2, W // 2, 0] == 200


def test_colour_temperature():
    warm, day, cold = (shading.kelvin_rgb(k) for k in (2700, 6600, 12000))
    for c in (warm, day, cold):
        assert 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2] == pytest.approx(1)
    assert warm[0] > warm[1] > warm[2] and cold[2] > cold[0]
    assert max(day) - min(day) < 0.05


# --- the draw -------------------------------------------------------------------------------------

def ctx(n_bodies=5):
    return Context(seed=4, index=0, roles=("target",) * n_bodies, volume=Volume(x=(0.1, 0.3), y=(-0.2, 0.0)))


def test_the_draw_is_a_function_of_seed_and_index_and_stays_in_its_ranges():
    cfg = shading.ShadingConfig(lights=(1, 3), color_temperature_k=(3000, 6000), shininess=(8, 64), point_probability=0.5)
    draws = [shading.sample(cfg, stream(4, i, "shading"), ctx()) for i in range(60)]
    again = [shading.sample(cfg, stream(4, i, "shading"), ctx()) for i in range(60)]
    assert draws == again
    assert len({json.dumps(d.to_record()) for d in draws}) == 60
    assert {len(d.lights) for d in draws} == {1, 2, 3}
    assert {light.kind for d in draws for light in d.lights} == {"point", "directional"}
    for d in draws:
        assert len(d.shininess) == 5 and all(8 <= s <= 64 for s in (*d.shininess, d.ground_shininess))
        assert sum(d.white_balance) == pytest.approx(3)
        for light in d.lights:
            assert 3000 <= light.kelvin <= 6000 and np.linalg.norm(light.direction) == pytest.approx(1)
            if light.kind == "point":  # around the middle of the pose volume, on the ground
                offset = np.asarray(light.position) - [0.2, -0.1, 0.0]
                assert np.linalg.norm(offset) == pytest.approx(light.distance)
    # more bodies change nothing else
    more = shading.sample(cfg, stream(4, 0, "shading"), ctx(9))
    assert dataclasses.replace(more, shininess=more.shininess[:5]) == draws[0]


def test_off_records_nothing_and_probability_records_the_miss():
    off = shading.sample(shading.ShadingConfig(enabled=False), stream(1, 0, "shading"), ctx())
    assert off.to_record() is None and not off.applied
    never = shading.sample(shading.ShadingConfig(probability=0.0), stream(1, 0, "shading"), ctx())
    assert never.to_record() == {"enabled": True, "applied": False}


# --- config ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("field, value", [
    ("lights", [0, 2]), ("lights", [1, 9]), ("lights", [1.5, 2]), ("intensity", [-0.1, 1]),
    ("color_temperature_k", [500, 6000]), ("color_temperature_k", [3000, 2000]), ("shininess", [0, 10]),
    ("probability", 1.5), ("white_balance", 1.0), ("exposure_ev", [-1, float("nan")]),
    ("ambient_occlusion.strength", [0, 2]), ("ambient_occlusion.radius", [0, 0.1]), ("elevation_deg", [0, 120]),
    ("distance", [0, 1]), ("lamp", 1),
])
def test_bad_values_name_the_field(write_config, field, value):
    section = {"enabled": True}
    *outer, last = field.split(".")
    node = section
    for key in outer:
        node = node.setdefault(key, {})
    node[last] = value
    cfg = small_config()
    cfg["randomizers"]["shading"] = section
    assert f"randomizers.shading.{field}" in refused(write_config, cfg)


def test_a_config_without_shading_hashes_dumps_and_records_as_before():
    plain = config_from_dict(small_config())
    off = config_from_dict(small_config(randomizers={**small_config()["randomizers"], "shading": {"enabled": False}}))
    on = config_from_dict(small_config(randomizers={**small_config()["randomizers"], "shading": {}}))
    assert "shading" not in plain.to_dict()["randomizers"]
    assert plain.content_hash() == off.content_hash() != on.content_hash()
    assert on.randomizers.shading.enabled and on.to_dict()["randomizers"]["shading"]["lights"] == [1, 3]
    assert config_from_dict(on.to_dict()).content_hash() == on.content_hash()  # the resolved config loads back


# --- on a real render -----------------------------------------------------------------------------

def test_a_render_is_shaded_only_inside_the_objects_and_reproducibly():
    from synthscene.generation.producer import ImageProducer
    from synthscene.renderers.pybullet import resolve_renderer
    from synthscene.scenes.sampler import sample_scene

    data = small_config(randomizers={**small_config()["randomizers"],
                                     "shading": {"ground": False, "specular": [0.2, 0.4], "lights": [2, 3]}})
    cfg = config_from_dict(copy.deepcopy(data))
    pr = ImageProducer(cfg, resolve_renderer("auto", announce=False))
    try:
        w = pr.world
        first = [pr.produce(i) for i in range(2)]
        for i in range(2):
            s = sample_scene(cfg, i, w.asset_info, w.renderer.name)
            w.pose(s)
            render = w.render(s)
            lit = pr.randomize_image.scene(s, render, w.uid_of, w.ground).rgb
            off = dataclasses.replace(s, draws={**s.draws, "shading": shading.ShadingDraw()})
            plain = pr.randomize_image.scene(off, render, w.uid_of, w.ground).rgb
            objects = (render.segmentation >= 0) & (render.segmentation != w.ground)
            changed = (lit != plain).any(axis=-1)
            assert objects.any() and not changed[~objects].any()
            assert changed[objects].mean() > 0.5
            record = json.loads(json.dumps(image_record(s, [])))["randomization"]["shading"]
            assert record["applied"] and len(record["shininess"]) == len(s.objects)
        again = [pr.produce(i) for i in (1, 0)][::-1]  # another order, after other images
        for a, b in zip(first, again):
            assert a.image.tobytes() == b.image.tobytes() and a.record == b.record
    finally:
        pr.close()
