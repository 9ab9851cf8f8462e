"""Randomizers on real (small) renders: occluder geometry, post keeps labels aligned, backgrounds
only where the segmentation says background, no state leaking between images."""
from __future__ import annotations

import copy

import albumentations as A
import numpy as np
import pytest

from synthscene.config import config_from_dict
from synthscene.generation.producer import ImageProducer
from synthscene.randomizers import background
from synthscene.geometry.camera import project
from synthscene.renderers.pybullet import resolve_renderer
from synthscene.scenes.sampler import sample_scene
from test_randomizers import randomized


def producer(**changes) -> ImageProducer:
    data, base = randomized(**changes)
    return ImageProducer(config_from_dict(copy.deepcopy(data), base), resolve_renderer("auto", announce=False))


@pytest.mark.slow  # renders or runs a process (measured > 1.5 s)
def test_occluders_sit_between_camera_and_target_over_its_box():
    pr = producer(occlusion={"sources": ["pybullet:random_urdfs"], "pool_size": 12, "distractors": [0, 2], "occluders": [1, 1], "scale": 1.5},
                  camera={"mode": "distance", "distance": [0.5, 0.8], "aim": "targets", "elevation_deg": [30, 70]})
    w, checked = pr.world, 0
    try:
        for i in range(10):
            s = sample_scene(pr.config, i, w.asset_info, w.renderer.name)
            w.pose(s)
            occ = [o for o in s.objects if o.role == "occluder"]
            if not occ:
                continue
            o = occ[0]
            if not o.aim.result.placed:
                continue
            tg = [t for t in s.objects if t.role == "target"][o.aim.target]
            cam = s.camera
            lo, hi = w._aabb(w.uid_of(tg))
            corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
            uv, z = project(cam.K, cam.position, cam.quaternion, corners)
            centre_uv, centre_z = project(cam.K, cam.position, cam.quaternion, [np.mean(w._aabb(w.uid_of(o)), axis=0)])
            assert 0 < centre_z[0] < z.min()  # wholly in front of the target
            seg = w.render(s).segmentation
            x0, y0 = np.floor(uv.min(0)).astype(int).clip(0)
            x1, y1 = np.ceil(uv.max(0)).astype(int)
            inside = seg[y0:y1, x0:x1] == w.uid_of(o)
            if (uv.max(0) > 0).all() and x0 < cam.width and y0 < cam.height:
                assert inside.any(), f"image {i}: the occluder does not overlap its target's projected box"
                checked += 1
    finally:
        pr.close()
    assert checked >= 3


@pytest.mark.slow  # renders or runs a process (measured > 1.5 s)
def test_occluders_reach_their_visibility_range():
    """Visibility of the aimed target = its pixels with the occluder / without it (same camera)."""
    import pybullet as p

    pr = producer(occlusion={"pool_size": 12, "distractors": [0, 1], "occluders": [1, 1], "scale": 1.5, "visibility": [0.4, 0.7]},
                  camera={"mode": "distance", "distance": [0.4, 0.7], "aim": "targets", "elevation_deg": [30, 70]})
    w, measured = pr.world, []
    try:
        for i in range(16):
            s = sample_scene(pr.config, i, w.asset_info, w.renderer.name)
            w.pose(s)
            occ = [o for o in s.objects if o.role == "occluder" and o.aim.result.placed]
            if not occ:
                continue
            tg = w.uid_of([t for t in s.objects if t.role == "target"][occ[0].aim.target])
            with_occ = int((w.render(s).segmentation == tg).sum())
            p.resetBasePositionAndOrientation(w.uid_of(occ[0]), [0, 60, -50], [0, 0, 0, 1], physicsClientId=w.client)
            without = int((w.render(s).segmentation == tg).sum())
            if without >= 50:  # big enough for a fraction to mean something
                measured.append(with_occ / without)
    finally:
        pr.close()
    measured = np.array(measured)
    assert len(measured) >= 8
    within = (measured >= 0.4 - 0.1) & (measured <= 0.7 + 0.1)
    assert within.mean() >= 0.75, measured.round(2)


@pytest.mark.slow  # renders or runs a process (measured > 1.5 s)
def test_manifest_visibility_of_occluded_targets_follows_the_range():
    """The labels' own (exact) visibility of each aimed-at target, with nothing else in the way."""
    pr = producer(occlusion={"pool_size": 12, "distractors": [0, 0], "occluders": [1, 1], "scale": 1.5, "visibility": [0.4, 0.7]},
                  camera={"mode": "distance", "distance": [0.4, 0.7], "aim": "targets", "elevation_deg": [50, 80]},
                  pose={"mode": "free", "volume": {"x": [-0.2, 0.2], "y": [-0.2, 0.2], "z": [0.0, 0.0]}},
                  post={"enabled": False})
    seen = []
    try:
        for i in range(16):
            rec = pr.produce(i).record
            for aim in rec["randomization"]["occlusion"]["occluders"]:
                obj = rec["objects"][aim["target"]]
                if aim["placed"] and (obj["pixels_unoccluded"] or 0) >= 100:
                    seen.append((aim["visibility"], obj["visibility"]))
    finally:
        pr.close()
    seen = np.array(seen)
    assert len(seen) >= 6
    inside = (seen[:, 1] >= 0.4 - 0.1) & (seen[:, 1] <= 0.7 + 0.1)
    assert inside.mean() >= 0.7, seen.round(2)


def _boxes(rec):
    return [o["bbox_xyxy"] for o in rec["objects"]]


@pytest.mark.slow  # renders or runs a process (measured > 1.5 s)
def test_geometric_post_moves_labels_with_pixels():
    flip = A.to_dict(A.Compose([A.HorizontalFlip(p=1.0)]))
    plain, flipped = producer(post={"enabled": False}), producer(post={"transform": flip})
    try:
        for i in range(4):
            a, b = plain.produce(i), flipped.produce(i)
            assert np.array_equal(b.image, a.image[:, ::-1])
            W = a.record["width"]
            expect = [None if bx is None else [W - bx[2], bx[1], W - bx[0], bx[3]] for bx in _boxes(a.record)]
            assert _boxes(b.record) == expect
            for oa, ob in zip(a.record["objects"], b.record["objects"]):  # measured before the flip, carried
                assert ob["visibility"] == oa["visibility"] and ob["truncation"] == oa["truncation"]
                am = oa["bbox_amodal_xyxy"]
                assert ob["bbox_amodal_xyxy"] == (None if am is None else [W - am[2], am[1], W - am[0], am[3]])
            assert a.record["randomization"]["texture"] == b.record["randomization"]["texture"]
    finally:
        plain.close()
        flipped.close()


@pytest.mark.slow  # renders or runs a process (measured > 1.5 s)
def test_pixel_only_post_leaves_labels():
    noise = A.to_dict(A.Compose([A.GaussNoise(p=1.0, std_range=(0.05, 0.1))]))
    plain, noisy = producer(post={"enabled": False}), producer(post={"transform": noise})
    try:
        a, b = plain.produce(2), noisy.produce(2)
        assert _boxes(a.record) == _boxes(b.record) and not np.array_equal(a.image, b.image)
    finally:
        plain.close()
        noisy.close()


def test_background_only_where_segmentation_is_background(shared):
    rgb = np.full((30, 40, 3), 77, np.uint8)
    seg = np.full((30, 40), -1, np.int32)
    seg[5:20, 5:25] = 3  # an object
    seg[20:, :] = 0  # the ground
    bank = background.BackgroundBank(background.BackgroundConfig(folder=str(shared / "backgrounds/interiors")))
    bg = bank.render(background.BackgroundDraw("image", image=0, scale=0.7, x=0.3, y=0.6, flip=True), 30, 40)
    for ground in (False, True):
        out = background.composite(rgb, bg, background.foreground(seg, 0, ground))
        keep = (seg == 3) | ((seg == 0) & (not ground))
        assert (out[keep] == 77).all() and np.array_equal(out[~keep], bg[~keep])


@pytest.mark.slow  # renders or runs a process (measured > 1.5 s)
def test_no_halo_around_objects_in_a_real_render():
    """Object pixels do not depend on what is behind them (no edge blending), so a hard composite
    by the segmentation leaves no seam: recolouring the ground changes no object pixel."""
    import pybullet as p

    pr = producer(background={"weights": {"images": 0, "procedural": 1, "scene": 0}, "ground_probability": 1.0},
                  texture={"enabled": False}, post={"enabled": False})
    try:
        w = pr.world
        s = sample_scene(pr.config, 1, w.asset_info, w.renderer.name)
        w.pose(s)
        a = w.render(s)
        p.changeVisualShape(w.ground, -1, rgbaColor=[1, 0, 1, 1], physicsClientId=w.client)
        b = w.render(s)
        p.changeVisualShape(w.ground, -1, rgbaColor=[1, 1, 1, 1], physicsClientId=w.client)
        fg = (a.segmentation >= 0) & (a.segmentation != w.ground)
        assert fg.any() and np.array_equal(a.segmentation, b.segmentation)
        assert np.array_equal(a.rgb[fg], b.rgb[fg])
        out = pr.randomize_image.scene(s, a, w.uid_of, w.ground)  # post is off: scene() is the final image
        assert not np.array_equal(out.rgb[~fg], a.rgb[~fg])  # the background replaced the rest
    finally:
        pr.close()


@pytest.mark.slow  # renders or runs a process (measured > 1.5 s)
def test_image_is_a_function_of_the_index_whatever_came_before():
    """Every randomizer on: image 3 after 0..2 equals image 3 in a fresh world (pixels and record)."""
    first = producer()
    try:
        later = [first.produce(i) for i in range(4)][-1]
    finally:
        first.close()
    fresh = producer()
    try:
        again = fresh.produce(3)
    finally:
        fresh.close()
    assert later.record == again.record
    assert np.array_equal(later.image, again.image)


def test_every_randomizer_on_gives_the_same_dataset_whatever_the_worker_count(tmp_path):
    """The distractor pool is loaded in the same order by every worker: physics and pixels agree."""
    from synthscene.generation.pipeline import generate

    data, base = randomized()
    cfg = config_from_dict(copy.deepcopy(data), base)
    one = generate(cfg, tmp_path / "one", count=4, workers=1, progress=False).out_dir
    two = generate(cfg, tmp_path / "two", count=4, workers=2, progress=False).out_dir
    assert (one / "manifest.jsonl").read_bytes() == (two / "manifest.jsonl").read_bytes()
    images = sorted(p.relative_to(one) for p in one.glob("images/*/*.jpg"))
    assert len(images) == 4
    assert all((one / p).read_bytes() == (two / p).read_bytes() for p in images)
