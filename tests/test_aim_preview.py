"""Occluder aiming's small renders are cheaper than full ones (a lighter EGL mode, far bodies parked)
yet read exactly the same pixels: the aim, and so every image, must not change (issue #16)."""
from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import replace

import numpy as np
import pytest

from synthscene.config import config_from_dict
from synthscene.core.quiet import pybullet as p
from synthscene.geometry.camera import sphere_box
from synthscene.renderers.pybullet import resolve_renderer
from synthscene.scenes.sampler import sample_scene
from synthscene.scenes.world import World
from test_randomizers import randomized

#: PyBullet's answers (getRotation of the rotation matrix of a stored quaternion) a few double ulps
#: from a float32 rounding boundary, whose own answer, once set back, lies across it: set back as
#: read, the body would be drawn a float32 ulp turned (found by a search near such boundaries)
NEAR_BOUNDARY = [(0.6146800653895722, 0.22130427509546277, -0.5643721496314076, 0.5046552404935141),
                 (0.45453012930960396, 0.8502877709411941, 0.24888848513364792, -0.09201950937452431),
                 (0.18023794437076038, 0.42450485083071615, 0.10051584616303445, 0.881593148623742)]


@pytest.fixture(scope="module")
def world():
    """Targets and distractors spread over a desk, an occluder per image, no physics (so posing an
    index twice gives the same scene whatever came between)."""
    data, base = randomized(
        occlusion={"sources": ["pybullet:random_urdfs"], "pool_size": 12, "distractors": [4, 6], "occluders": [1, 1],
                   "scale": 1.5, "visibility": [0.4, 0.7]},
        pose={"mode": "free", "volume": {"x": [-0.2, 0.2], "y": [-0.2, 0.2], "z": [0.0, 0.05]}},
        camera={"mode": "distance", "distance": [0.5, 0.9], "aim": "targets", "elevation_deg": [30, 70]},
        lighting={"shadow_probability": 0.5})
    w = World(config_from_dict(copy.deepcopy(data), base), resolve_renderer("auto", announce=False))
    yield w
    w.close()


def test_preview_draws_the_depth_and_segmentation_of_a_full_render(world):
    if world.renderer.name != "egl":
        pytest.skip("the lighter mode is EGL's")
    for i in range(4):
        s = sample_scene(world.config, i, world.asset_info, world.renderer.name)
        world.pose(s)
        for shadow in (False, True):
            light = replace(s.lighting, shadow=shadow)
            for cam in (s.camera, replace(s.camera, width=80, height=60, K=(np.asarray(s.camera.K) * [[0.5], [0.5], [1]]).tolist())):
                full, quick = world.renderer.render(cam, light), world.renderer.preview(cam, light)
                assert np.array_equal(full.segmentation, quick.segmentation)
                assert np.array_equal(full.depth, quick.depth)
                assert (full.segmentation >= 0).any()
            # and it leaves nothing behind: the next full render is the one it would have been
            before = world.renderer.render(s.camera, light)
            world.renderer.preview(s.camera, light)
            assert np.array_equal(world.renderer.render(s.camera, light).rgb, before.rgb)


def test_what_is_drawn_of_a_body_lies_inside_its_spheres_image(world):
    """The parking rule's premise: a body's pixels stay inside the image of its visual sphere
    (by less than the rule's 2 px margin), whatever its pose."""
    checked = 0
    for i in range(6):
        s = sample_scene(world.config, i, world.asset_info, world.renderer.name)
        world.pose(s)
        cam = s.camera
        seg = world.render(s).segmentation
        for o in s.objects:
            uid = world.uid_of(o)
            rows, cols = np.nonzero(seg == uid)
            if uid not in world.aiming.visual_sphere or not len(rows):
                continue
            box = sphere_box(cam.K, cam.position, cam.quaternion, *world.aiming.sphere(uid, *p.getBasePositionAndOrientation(uid, physicsClientId=world.client)))
            assert box is not None
            assert box[0] - 1 <= cols.min() and cols.max() <= box[2] + 1 and box[1] - 1 <= rows.min() and rows.max() <= box[3] + 1, (o.asset, box)
            checked += 1
    assert checked >= 20


def _aims(world, indices, fast: bool) -> list:
    """Per image: what the previews read (the occluder's and its target's pixels and depths), where
    the occluder went, what its previews measured, and the final render."""
    out, seen = [], []
    draw = world.renderer.preview if fast else world.renderer.render  # before: full renders, nothing parked

    def preview(camera, lighting):
        r = draw(camera, lighting)
        seen.append(r)
        return r

    @contextmanager
    def nothing_parked(*args, **kwargs):
        yield

    saved = world.renderer.preview, world.aiming.parked_unless_near
    world.renderer.preview = preview
    if not fast:
        world.aiming.parked_unless_near = nothing_parked
    try:
        for i in indices:
            s = sample_scene(world.config, i, world.asset_info, world.renderer.name)
            seen.clear()
            world.pose(s)
            occ = [o for o in s.objects if o.aim is not None]
            watched = [world.uid_of(o) for o in occ] + [world.uid_of([t for t in s.objects if t.role == "target"][o.aim.target]) for o in occ]
            read = [(u, np.flatnonzero(r.segmentation == u).tobytes(), r.depth[r.segmentation == u].tobytes()) for r in seen for u in watched]
            r = world.render(s)
            out.append((read, [(o.position, o.aim.result.placed, o.aim.result.preview_visibility) for o in occ], r.rgb.tobytes(), r.segmentation.tobytes()))
    finally:
        world.renderer.preview, world.aiming.parked_unless_near = saved
    return out


def test_aiming_with_parked_bodies_and_light_previews_places_occluders_as_before(world, monkeypatch):
    parked = []
    repose = world.aiming.repose
    monkeypatch.setattr(world.aiming, "repose", lambda uid, *a: (parked.append(uid), repose(uid, *a)))
    indices = range(10)
    fast = _aims(world, indices, fast=True)
    assert len(parked) >= 10, "few bodies were parked: the test would not test parking"
    assert sum(any(placed for placed, *_ in [a[1:] for a in aims]) for _, aims, _, _ in fast) >= 5
    slow = _aims(world, indices, fast=False)
    for i, (a, b) in enumerate(zip(fast, slow)):
        assert a[0] == b[0], f"image {i}: the previews read other pixels"
        assert a[1:] == b[1:], f"image {i}: the occluder or the image changed"


def test_a_parked_body_is_drawn_back_exactly_as_it_was(world):
    """Set back as read, these would be drawn a float32 ulp turned: OccluderAiming.repose nudges them back."""
    uid = next(u for u in world.aiming.visual_sphere if u not in world.aiming.read_back)
    c = world.client
    for q in NEAR_BOUNDARY:
        p.resetBasePositionAndOrientation(uid, [0.0, 0.0, 1.0], q, physicsClientId=c)
        assert not np.array_equal(np.float32(p.getBasePositionAndOrientation(uid, physicsClientId=c)[1]), np.float32(q))
        world.aiming.repose(uid, (0.0, 0.0, 1.0), q)
        assert np.array_equal(np.float32(p.getBasePositionAndOrientation(uid, physicsClientId=c)[1]), np.float32(q))
        assert world.aiming.base_pose(uid) == ((0.0, 0.0, 1.0), q)  # a later read gets what was read before parking
    world.aiming.read_back.clear()


def test_silhouette_aim_predicts_as_with_the_occluder_mask_shifted_too():
    """With depths, `predicted` shifts only the occluder's depth map: finite exactly where the
    shifted mask is, so the mask's own shift (which it used to make too) changes nothing."""
    from scipy import ndimage

    from synthscene.scenes.occluders import SilhouetteAim

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:60, :80]
    for _ in range(5):
        target = (yy - rng.uniform(20, 40)) ** 2 + (xx - rng.uniform(30, 50)) ** 2 < rng.uniform(80, 300)
        occ = (yy - rng.uniform(15, 45)) ** 2 / 2 + (xx - rng.uniform(20, 60)) ** 2 < rng.uniform(40, 200)
        t_depth = rng.uniform(0.8, 1.2, size=target.shape).astype(np.float32)
        o_depth = rng.uniform(0.5, 1.1, size=target.shape).astype(np.float32)
        aim = SilhouetteAim(target, occ, rng.uniform(0, 2 * np.pi), t_depth, o_depth)
        for k in np.linspace(-aim.reach, aim.reach, 37):
            moved = ndimage.shift(aim.occ, aim.shift(k), order=0, mode="constant") > 0
            moved &= ndimage.shift(aim.far, aim.shift(k), order=0, mode="constant", cval=np.inf) < t_depth
            assert aim.predicted(k) == float((target & ~moved).sum()) / aim.n_t
