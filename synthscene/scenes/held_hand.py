"""The hand that holds a `held` object: a forearm, a palm, four fingers and a thumb (capsules),
posed around the object so that it is held as a hand holds it, and occludes it as a hand does.

A world loads one rig (its 18 bodies) per held object an image can show, once, after every other
body; per image the sampler poses each rig around its held object (`grip`), from the object's
pose and its box in its own frame, with draws from the stream `held_hand` only (so no other
randomizer's draw moves, and configs without held objects load and draw exactly what they did).

The grip: the forearm enters from outside the picture (mostly from below, tilted toward the
camera, as an arm holding something up to a camera does); the palm lies flat against the object's
side away from the camera or beside it; the fingers start at the palm's end and bend, joint by
joint, as far as they can without entering the object (a box with rounded edges around its
mesh, which fits boxes, cans and bottles), so they wrap its edge; the thumb does the same from the
palm's side. Sizes are an adult hand's: a small object vanishes into the fist, a large one is held
by its edge.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from ..core.rng import uniform

HELD_HAND_PREFIX = "held_hand:"
STREAM = "held_hand"

#: skin tones (sRGB, 0..1), light to dark: the occlusion randomizer's hand tones
SKIN_TONES = ((0.96, 0.84, 0.74), (0.92, 0.76, 0.62), (0.85, 0.65, 0.48), (0.74, 0.53, 0.36),
              (0.58, 0.39, 0.25), (0.40, 0.26, 0.16))


@dataclass(frozen=True)
class Part:
    name: str
    radius: float  # capsule radius (the palm: half its width)
    length: float  # overall, caps included
    flat: float = 1.0  # the palm's and forearm's thickness ÷ width


#: finger phalanx lengths (proximal, middle, distal) and radius, metres, index to little
FINGERS = {"index": ((0.042, 0.026, 0.021), 0.0095), "middle": ((0.046, 0.029, 0.022), 0.0098),
           "ring": ((0.043, 0.027, 0.021), 0.0092), "little": ((0.034, 0.021, 0.019), 0.0082)}
THUMB = ((0.040, 0.033), 0.0115)
PALM = Part("palm", 0.043, 0.105, flat=0.42)
FOREARM = Part("forearm", 0.036, 0.46, flat=0.8)
#: knuckles across the palm (fractions of its half width), index on the thumb's side
KNUCKLES = {"index": 0.68, "middle": 0.23, "ring": -0.22, "little": -0.64}


def parts() -> list[Part]:
    """The rig's bodies, in load order."""
    out = [FOREARM, PALM]
    for finger, (lengths, r) in FINGERS.items():
        out += [Part(f"{finger}{i}", r, length + 2 * r) for i, length in enumerate(lengths)]
    lengths, r = THUMB
    out += [Part(f"thumb{i}", r, length + 2 * r) for i, length in enumerate(lengths)]
    return out


def rigs(config) -> int:
    """How many hands a world needs: one per held object an image can show (0 without held_hand)."""
    from ..randomizers.pose import mode_of

    pose = config.randomizers.pose
    if not (pose.enabled and pose.held_hand):
        return 0
    return sum(a.count[1] for a in config.assets if mode_of(pose, config.pose_constraint(a)) == "held")


def rig_name(rig: int, part: str) -> str:
    return f"{HELD_HAND_PREFIX}{rig}:{part}"


def part_urdf(folder, part: Part) -> str:
    """A capsule along z (flattened along y by `part.flat`), visual only (a hand is placed, never
    simulated), as OBJ + URDF in `folder/<name>-<hash>/`, written once (see procedural.capsule_urdf)."""
    import trimesh

    from ..core.files import urdf_made_once

    params = f"held hand {part.name} r={part.radius!r} l={part.length!r} flat={part.flat!r}"

    def make(tmp):
        mesh = trimesh.creation.capsule(height=max(part.length - 2 * part.radius, 1e-4), radius=part.radius, count=[16, 16])
        mesh.apply_scale([1.0, part.flat, 1.0])
        mesh.export(tmp / "part.obj", include_normals=True)
        (tmp / "model.urdf").write_text(f"""<?xml version="1.0"?>
<robot name="held_hand_{part.name}">
  <material name="skin"><color rgba="0.85 0.65 0.48 1"/></material>
  <link name="base">
    <inertial><mass value="0"/><inertia ixx="0" iyy="0" izz="0" ixy="0" ixz="0" iyz="0"/></inertial>
    <visual><geometry><mesh filename="part.obj"/></geometry><material name="skin"/></visual>
  </link>
</robot>
""")
        (tmp / "params.txt").write_text(params + "\n")

    return urdf_made_once(folder, part.name, params, make)


def part_urdfs() -> list[tuple[str, str]]:
    """(part name, URDF) of one rig, made once in the asset cache."""
    from ..core.cache import cache_root

    return [(part.name, part_urdf(cache_root() / "held_hand", part)) for part in parts()]


# ---- the grip ----------------------------------------------------------------------------------


class Solid:
    """The held object as a box with rounded edges (its mesh's box in its own frame), posed."""

    def __init__(self, centre, rotation: np.ndarray, half: np.ndarray):
        self.c, self.R = np.asarray(centre, float), rotation
        self.rounding = 0.35 * float(min(half))
        self.core = np.asarray(half, float) - self.rounding

    def distance(self, points: np.ndarray) -> np.ndarray:
        """Signed distance of world points (N, 3) to the surface (negative inside)."""
        q = np.abs((points - self.c) @ self.R) - self.core
        return np.linalg.norm(np.maximum(q, 0), axis=-1) + np.minimum(q.max(axis=-1), 0) - self.rounding

    def support(self, direction: np.ndarray) -> float:
        """How far the surface reaches from the centre along a unit direction."""
        return float(np.abs(self.R.T @ direction) @ self.core) + self.rounding


def _rotate(v: np.ndarray, axis: np.ndarray, angle: float) -> np.ndarray:
    return Rotation.from_rotvec(axis * angle).apply(v)


def _segment_clear(solid: Solid, start, direction, length: float, radius: float) -> bool:
    pts = start + np.linspace(0.15, 1.0, 6)[:, None] * length * direction
    return bool(solid.distance(pts).min() >= radius + 0.001)


def _chain(solid: Solid, start: np.ndarray, direction: np.ndarray, axis: np.ndarray, lengths, radius: float,
           max_joint: float = math.radians(95), max_total: float = math.radians(215), step: float = math.radians(5)):
    """Segments (start, unit direction, length) from `start`: each bends about `axis` (away from
    `direction`, toward the object) as far as it can stay outside the object, within the joint limits."""
    out, total, p = [], 0.0, np.asarray(start, float)
    for length in lengths:
        bend = 0.0
        while bend - step >= -max_joint and not _segment_clear(solid, p, _rotate(direction, axis, total + bend), length, radius):
            bend -= step  # it would enter the object: open up until it does not
        while bend + step <= max_joint and total + bend + step <= max_total and \
                _segment_clear(solid, p, _rotate(direction, axis, total + bend + step), length, radius):
            bend += step
        total += bend
        u = _rotate(direction, axis, total)
        out.append((p, u, length))
        p = p + length * u
    return out


def _pose_along(centre, axis: np.ndarray, across: np.ndarray | None = None) -> list[float]:
    """The quaternion turning a part's z onto `axis` (and, for flat parts, its y onto `across`)."""
    z = axis / np.linalg.norm(axis)
    y = across - z * (across @ z) if across is not None else np.cross(z, [1.0, 0.0, 0.0])
    if np.linalg.norm(y) < 1e-6:
        y = np.cross(z, [0.0, 1.0, 0.0])
    y /= np.linalg.norm(y)
    x = np.cross(y, z)
    return Rotation.from_matrix(np.column_stack([x, y, z])).as_quat().tolist()


def draw_grip(rng: np.random.Generator) -> dict:
    """What one hand draws (recorded in the manifest under randomization.pose.held[i].hand)."""
    tone = int(rng.integers(len(SKIN_TONES)))
    shade = uniform(rng, (0.9, 1.08))
    return {
        "arm_deg": round(uniform(rng, (10.0, 170.0)), 3),  # where the arm leaves the picture: 90 = straight down
        "tilt_deg": round(uniform(rng, (15.0, 45.0)), 3),  # the forearm's slope toward the camera
        "palm_deg": round(uniform(rng, (-115.0, 115.0)), 3),  # palm behind the object (0), beside it (±90) or half in front
        "side": 1 if rng.random() < 0.5 else -1,  # right or left hand: where the thumb is
        "slide": round(uniform(rng, (-0.35, 0.35)), 4),  # the palm along the object's width
        "tone": tone,
        "rgba": [round(min(c * shade, 1.0), 4) for c in SKIN_TONES[tone]] + [1.0],
    }


def grip(drawn: dict, position, quaternion, centre_offset, half_extents, camera_position, camera_quaternion,
         near: float) -> list[tuple[str, list[float], list[float]]]:
    """(part name, position, quaternion) of each part of the rig holding an object at this pose."""
    R_obj = Rotation.from_quat(quaternion).as_matrix()
    solid = Solid(np.asarray(position, float) + R_obj @ np.asarray(centre_offset, float), R_obj,
                  np.maximum(np.asarray(half_extents, float), 0.005))
    R_cam = Rotation.from_quat(camera_quaternion).as_matrix()  # OpenCV axes: x right, y down, z forward
    cam = np.asarray(camera_position, float)
    theta, palm_turn = math.radians(drawn["arm_deg"]), math.radians(drawn["palm_deg"])
    depth = float(R_cam[:, 2] @ (solid.c - cam))
    tilt = math.radians(drawn["tilt_deg"])
    # the forearm's far end stays well in front of the camera: a nearer object gets a flatter arm
    room = max(depth - max(3 * near, 0.35 * depth), 0.0)
    tilt = min(tilt, math.asin(min(room / FOREARM.length, 1.0)))
    d = R_cam @ np.array([math.cos(tilt) * math.cos(theta), math.cos(tilt) * math.sin(theta), -math.sin(tilt)])
    a = -d  # wrist → knuckles
    toward_cam = -R_cam[:, 2] - d * (d @ -R_cam[:, 2])
    n = _rotate(toward_cam / np.linalg.norm(toward_cam), d, palm_turn)  # palm → object
    s = np.cross(n, a) * drawn["side"]  # across the palm, toward the thumb
    thick = 2 * PALM.radius * PALM.flat
    shift_a = float(np.clip(solid.support(a) - PALM.length / 2 + 0.012, -PALM.length / 2, solid.support(a)))
    palm = (solid.c - n * (solid.support(-n) + thick / 2 + 0.002) + a * shift_a
            + s * drawn["slide"] * solid.support(s))
    out = [("palm", palm.tolist(), _pose_along(palm, a, n))]
    wrist = palm - a * (PALM.length / 2 - PALM.radius * 0.6)
    arm_centre = wrist + d * (FOREARM.length / 2 - FOREARM.radius) - n * 0.006
    out.insert(0, ("forearm", arm_centre.tolist(), _pose_along(arm_centre, d, n)))
    bend = np.cross(a, n)  # rotating a about it turns it toward n
    bend /= np.linalg.norm(bend)
    front = thick / 2
    for finger, (lengths, r) in FINGERS.items():
        knuckle = palm + a * (PALM.length / 2 - r) + s * KNUCKLES[finger] * PALM.radius + n * (front - r)
        for i, (start, u, length) in enumerate(_chain(solid, knuckle, a, bend, lengths, r)):
            mid = start + u * length / 2
            out.append((f"{finger}{i}", mid.tolist(), _pose_along(mid, u)))
    lengths, r = THUMB
    base = palm - a * (PALM.length * 0.1) + s * (PALM.radius * 0.95) + n * (front - r * 0.5)
    u0 = a * 0.35 + s * 0.55 + n * 0.75
    u0 /= np.linalg.norm(u0)
    toward = solid.c - base
    axis = np.cross(u0, toward - u0 * (toward @ u0))
    axis = axis / np.linalg.norm(axis) if np.linalg.norm(axis) > 1e-9 else bend
    for i, (start, u, length) in enumerate(_chain(solid, base, u0, axis, lengths, r)):
        mid = start + u * length / 2
        out.append((f"thumb{i}", mid.tolist(), _pose_along(mid, u)))
    return out


def add_hands(objects: list, held: list, indices: list[int], assets: dict, camera, rng: np.random.Generator) -> list:
    """Append the parts of one hand per held target (objects[i] for i in `indices`, placed) to
    `objects`, as static bodies of role `hand`; the held draws, each with its hand recorded."""
    from dataclasses import replace

    from .sample import ObjectSample

    out = []
    for rig, (i, h) in enumerate(zip(indices, held)):
        obj = objects[i]
        drawn = draw_grip(rng)
        info = assets[obj.asset]
        for part, pos, quat in grip(drawn, obj.position, obj.quaternion, info.centre, info.half_extents,
                                    camera.position, camera.quaternion, camera.near):
            objects.append(ObjectSample(rig_name(rig, part), 0, "hand", None, None, pos, quat,
                                        appearance={"rgba": drawn["rgba"]}, static=True))
        out.append(replace(h, hand=drawn))
    return out
