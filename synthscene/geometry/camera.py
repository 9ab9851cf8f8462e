"""The camera model, in one place: OpenCV intrinsics K and poses ↔ PyBullet's OpenGL matrices.

Conventions: a camera pose is camera-to-world with OpenCV axes (x right, y down, z forward);
pixel (u, v) has its centre at integer coordinates, v counting down from the top row.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.spatial.transform import Rotation

# OpenCV camera axes → OpenGL camera axes (y up, looking down -z).
_CV_TO_GL = np.diag([1.0, -1.0, -1.0])


def intrinsics_from_fov(fov_y_deg: float, width: int, height: int) -> np.ndarray:
    """K of an ideal pinhole with the given vertical field of view, principal point at the centre."""
    f = (height / 2) / math.tan(math.radians(fov_y_deg) / 2)
    return np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1]], dtype=float)


def projection_matrix(K, width: int, height: int, near: float, far: float) -> list[float]:
    """PyBullet projection matrix (column-major 16 floats) that renders exactly like K.

    Pixel centres sit at integer u, v in OpenCV, at half-integers in normalised device
    coordinates, hence the +0.5; the image's first row is the top (NDC y = +1).
    """
    fx, fy, cx, cy = K[0][0], K[1][1], K[0][2], K[1][2]
    P = np.array(
        [
            [2 * fx / width, 0, 1 - 2 * (cx + 0.5) / width, 0],
            [0, 2 * fy / height, 2 * (cy + 0.5) / height - 1, 0],
            [0, 0, -(far + near) / (far - near), -2 * far * near / (far - near)],
            [0, 0, -1, 0],
        ]
    )
    return P.T.reshape(-1).tolist()


def rotation_matrix(quaternion) -> np.ndarray:
    return Rotation.from_quat(quaternion).as_matrix()


def view_matrix(position, quaternion) -> list[float]:
    """PyBullet view matrix (world → GL camera, column-major) for an OpenCV camera-to-world pose."""
    R = rotation_matrix(quaternion)
    world_to_cv = np.eye(4)
    world_to_cv[:3, :3] = R.T
    world_to_cv[:3, 3] = -R.T @ np.asarray(position, dtype=float)
    gl = np.eye(4)
    gl[:3, :3] = _CV_TO_GL
    return (gl @ world_to_cv).T.reshape(-1).tolist()


def look_at(eye, target, up=(0.0, 0.0, 1.0), roll: float = 0.0) -> tuple[list[float], list[float]]:
    """Camera-to-world pose (position, xyzw quaternion) of an OpenCV camera at eye looking at target."""
    eye, target, up = (np.asarray(v, dtype=float) for v in (eye, target, up))
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-9:  # looking straight along `up`: any horizontal x will do
        x = np.cross(z, [0.0, 1.0, 0.0]) if abs(z[1]) < 0.9 else np.cross(z, [1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z], axis=1)
    if roll:
        R = R @ Rotation.from_rotvec([0, 0, roll]).as_matrix()
    return eye.tolist(), Rotation.from_matrix(R).as_quat().tolist()


def project(K, position, quaternion, points) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (N, 2) and camera-frame depths (N,) of world points."""
    R = rotation_matrix(quaternion)
    pc = (np.asarray(points, dtype=float) - np.asarray(position, dtype=float)) @ R
    z = pc[:, 2]
    uv = (np.asarray(K, dtype=float) @ pc.T).T
    return uv[:, :2] / z[:, None], z


def sphere_box(K, position, quaternion, centre, radius: float) -> tuple[float, float, float, float] | None:
    """Pixel bounds (u0, v0, u1, v1) of a sphere's image, exactly (its outline is a conic whose
    extremes lie on the planes through the camera tangent to the sphere); None when the sphere
    reaches the camera's plane, where its image has no bounds."""
    R = rotation_matrix(quaternion)
    x, y, z = (np.asarray(centre, dtype=float) - np.asarray(position, dtype=float)) @ R
    d = z * z - radius * radius
    if z <= radius or d <= 0:
        return None

    def slopes(a: float) -> tuple[float, float]:  # a/z of the two tangent planes containing the other image axis
        h = radius * math.sqrt(a * a + d)
        return (a * z - h) / d, (a * z + h) / d

    (x0, x1), (y0, y1) = slopes(x), slopes(y)
    fx, fy, cx, cy = K[0][0], K[1][1], K[0][2], K[1][2]
    return fx * x0 + cx, fy * y0 + cy, fx * x1 + cx, fy * y1 + cy


def linear_depth(buffer: np.ndarray, near: float, far: float) -> np.ndarray:
    """Metric depth (metres along the optical axis) from an OpenGL depth buffer in [0, 1]."""
    return far * near / (far - (far - near) * buffer)
