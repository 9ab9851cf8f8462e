"""The camera model: K ↔ PyBullet's GL matrices, checked against what the renderer draws."""
from __future__ import annotations

import numpy as np
import pybullet as p
import pybullet_data
import pytest

from synthscene.geometry.camera import intrinsics_from_fov, look_at, project, projection_matrix, rotation_matrix, sphere_box, view_matrix
from synthscene.core.quiet import quiet
from synthscene.renderers.pybullet import Renderer, resolve_renderer
from synthscene.scenes.sample import CameraSample
from synthscene.randomizers.lighting import LightingDraw

LIGHT = LightingDraw(azimuth_deg=0.0, elevation_deg=90.0, direction=[0, 0, 1], color=[1, 1, 1], intensity=1.0, distance=3,
                     ambient=0.6, diffuse=0.4, specular=0.0, shadow=False)


def test_intrinsics_from_fov():
    K = intrinsics_from_fov(90, 640, 480)
    assert K[1, 1] == pytest.approx(240)  # tan(45°) = 1
    assert (K[0, 2], K[1, 2]) == (319.5, 239.5)


def test_look_at_points_the_optical_axis_at_the_target():
    pos, quat = look_at([1.0, 2.0, 3.0], [0.2, -0.1, 0.0], roll=0.3)
    K = intrinsics_from_fov(60, 320, 240)
    uv, z = project(K, pos, quat, [[0.2, -0.1, 0.0]])
    assert uv[0] == pytest.approx([K[0, 2], K[1, 2]], abs=1e-9)
    assert z[0] == pytest.approx(np.linalg.norm([0.8, 2.1, 3.0]))
    R = rotation_matrix(quat)
    assert np.allclose(R.T @ R, np.eye(3))


def test_view_matrix_agrees_with_pybullets_own_look_at():
    eye, target = [0.5, -0.4, 0.6], [0.0, 0.1, 0.0]
    pos, quat = look_at(eye, target)
    ours = np.array(view_matrix(pos, quat))
    theirs = np.array(p.computeViewMatrix(eye, target, [0, 0, 1]))
    assert np.allclose(ours, theirs, atol=1e-6)


def test_projection_matrix_maps_principal_point_and_focal_length():
    K = np.array([[500.0, 0, 300.0], [0, 520.0, 200.0], [0, 0, 1]])
    P = np.array(projection_matrix(K, 640, 480, 0.1, 10)).reshape(4, 4).T
    # A GL camera point straight down the axis lands on the principal point.
    for x, y, z in [(0, 0, -2), (0.3, -0.2, -1.5)]:
        clip = P @ [x, y, z, 1]
        ndc = clip[:3] / clip[3]
        u = (ndc[0] + 1) * 640 / 2 - 0.5
        v = (1 - ndc[1]) * 480 / 2 - 0.5
        assert u == pytest.approx(300 + 500 * x / -z)
        assert v == pytest.approx(200 - 520 * y / -z)  # GL y is up, image v is down


def test_sphere_box_bounds_the_image_of_a_sphere_tightly():
    K = np.array([[500.0, 0, 320.0], [0, 510.0, 240.0], [0, 0, 1]])
    rng = np.random.default_rng(1)
    dirs = rng.normal(size=(20000, 3))
    dirs /= np.linalg.norm(dirs, axis=1)[:, None]
    boxed = 0
    for _ in range(200):
        pos, quat = rng.normal(size=3), rng.normal(size=4)
        quat /= np.linalg.norm(quat)
        centre = pos + rotation_matrix(quat) @ [rng.normal() * 0.5, rng.normal() * 0.5, rng.uniform(0.2, 3)]
        radius = rng.uniform(0.01, 0.4)
        box = sphere_box(K, pos, quat, centre, radius)
        z = (centre - pos) @ rotation_matrix(quat)[:, 2]
        if box is None:
            assert z <= radius  # the sphere reaches the camera's plane: its image has no bounds
            continue
        uv, _ = project(K, pos, quat, centre + radius * dirs)
        assert (uv.min(axis=0) >= np.array(box[:2]) - 1e-6).all() and (uv.max(axis=0) <= np.array(box[2:]) + 1e-6).all()
        size = max(box[2] - box[0], box[3] - box[1])
        assert np.abs(np.r_[uv.min(axis=0) - box[:2], uv.max(axis=0) - box[2:]]).max() < 0.01 * size + 0.5  # and tight
        boxed += 1
    assert boxed > 150


@pytest.mark.slow  # renders or runs a process (measured > 1.5 s)
@pytest.mark.parametrize("backend", ["tiny", "egl"])
def test_a_point_projected_with_K_lands_where_the_renderer_draws_it(backend):
    if backend == "egl" and resolve_renderer("auto", announce=False) != "egl":
        pytest.skip("PyBullet's EGL plugin does not load on this machine")
    W, H = 320, 240
    K = np.array([[300.0, 0, 140.3], [0, 280.0, 131.7], [0, 0, 1]])  # off-centre, non-square pixels
    with quiet():
        client = p.connect(p.DIRECT)
    try:
        renderer = Renderer(client, backend)
        p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=client)
        centres = [[0.0, 0.0, 0.0], [0.12, -0.05, 0.03], [-0.08, 0.1, -0.02]]
        ids = [p.loadURDF("sphere_small.urdf", c, globalScaling=0.5, physicsClientId=client) for c in centres]
        pos, quat = look_at([0.3, -0.35, 0.45], [0.0, 0.0, 0.0], roll=0.2)
        cam = CameraSample(K.tolist(), W, H, 0.01, 5.0, pos, quat)
        out = renderer.render(cam, LIGHT)
        uv, z = project(K, pos, quat, centres)
        for uid, (u, v), depth in zip(ids, uv, z):
            ys, xs = np.nonzero(out.segmentation == uid)
            assert len(xs) > 20
            # A sphere's silhouette centre is its projected centre up to perspective skew (well under 1 px here).
            assert abs(xs.mean() - u) < 1.0 and abs(ys.mean() - v) < 1.0
            # Metric depth at the sphere's centre pixel: the near surface, one radius (0.015 m) in front.
            d = out.depth[int(round(v)), int(round(u))]
            assert d == pytest.approx(depth - 0.015, abs=0.003)
    finally:
        with quiet():
            p.disconnect(client)
