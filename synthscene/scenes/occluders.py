"""Occluder aiming, all of it: where an occluder goes once the targets have settled, so that it
hides the aimed-at share of its target (the aim itself is drawn by randomizers/occlusion.py).
The geometry (disc model, `place_occluder`; silhouette shifts, `SilhouetteAim`) and the world-side
search with small renders (`OccluderAiming`, which World calls)."""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from ..core.errors import BadInput
from ..core.quiet import pybullet as p
from ..geometry.camera import rotation_matrix, sphere_box
from ..geometry.silhouettes import silhouette_mesh

if TYPE_CHECKING:
    from ..randomizers.occlusion import OccluderAim
    from .sample import SceneSample


def _covered_fraction(d: float, r_t: float, r_o: float) -> float:
    """Fraction of a disc of radius r_t covered by a disc of radius r_o whose centre is d away."""
    if d >= r_t + r_o:
        return 0.0
    if d <= abs(r_o - r_t):
        return 1.0 if r_o >= r_t else (r_o / r_t) ** 2
    a = r_t * r_t * math.acos((d * d + r_t * r_t - r_o * r_o) / (2 * d * r_t))
    b = r_o * r_o * math.acos((d * d + r_o * r_o - r_t * r_t) / (2 * d * r_o))
    c = 0.5 * math.sqrt(max((-d + r_t + r_o) * (d + r_t - r_o) * (d - r_t + r_o) * (d + r_t + r_o), 0.0))
    return (a + b - c) / (math.pi * r_t * r_t)


def offset_for_visibility(visibility: float, r_t: float, r_o: float) -> float:
    """Centre distance (same units as the radii) at which the occluder's disc leaves `visibility` of the target's."""
    want = 1.0 - visibility
    lo, hi = 0.0, r_t + r_o
    if _covered_fraction(0.0, r_t, r_o) <= want:
        return 0.0
    for _ in range(40):  # covered fraction falls monotonically with the distance
        mid = (lo + hi) / 2
        if _covered_fraction(mid, r_t, r_o) > want:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def place_occluder(aim: "OccluderAim", camera_position, camera_quaternion, target_centre, target_half: tuple,
                   occluder_half: tuple, near: float) -> dict | None:
    """World position of an occluder on the camera→target segment, offset sideways so that its
    image disc leaves about `aim.visibility` of the target's disc uncovered.

    Bodies are modelled as discs of their box's mean half extent (cube root of the half extents'
    product), which tracks their image area better than a bounding sphere for elongated shapes.
    """
    from scipy.spatial.transform import Rotation

    cam = np.asarray(camera_position, float)
    tgt = np.asarray(target_centre, float)
    ray = tgt - cam
    d_t = float(np.linalg.norm(ray))
    ray /= d_t
    r_t, r_o = float(np.prod(target_half)) ** (1 / 3), float(np.prod(occluder_half)) ** (1 / 3)
    lo = near + float(np.linalg.norm(occluder_half)) + 0.005
    hi = d_t - float(np.linalg.norm(target_half)) - float(np.linalg.norm(occluder_half))
    if hi < lo:  # the camera is too close for this occluder to fit in front of the target
        return None
    # Close enough to the camera that the occluder's disc can hide the aimed-at share of the
    # target's, but not much closer: a large occluder near the camera makes the share touchy.
    big_enough = r_o * d_t / (r_t * math.sqrt(max(1.0 - aim.visibility, 1e-3)))
    d_o = float(np.clip(min(aim.depth * d_t, 0.8 * big_enough), lo, hi))
    a_t, a_o = r_t / d_t, r_o / d_o  # angular radii
    s = offset_for_visibility(aim.visibility, a_t, a_o)
    R = Rotation.from_quat(camera_quaternion).as_matrix()
    side = math.cos(aim.angle) * R[:, 0] + math.sin(aim.angle) * R[:, 1]
    side -= ray * float(side @ ray)
    side /= max(float(np.linalg.norm(side)), 1e-9)
    return {"on_ray": (cam + d_o * ray).tolist(), "side": side.tolist(), "depth": d_o,
            "position": (cam + d_o * ray + s * d_o * side).tolist()}


class SilhouetteAim:
    """Searches the occluder's image shift that leaves `visibility` of the target uncovered.

    Moving an occluder sideways at a fixed depth translates its silhouette (to first order), so
    one small render of each silhouette predicts the visibility of any shift: the centroids are
    aligned, then the occluder slides along `angle` (either way). With depths, an occluder pixel
    hides a target pixel only where it is nearer. `world` corrects the remaining (perspective)
    error with a few measured steps along the same line.
    """

    def __init__(self, target_mask, occluder_mask, angle: float, target_depth=None, occluder_depth=None):
        from scipy import ndimage

        self.target, self.n_t = target_mask, int(target_mask.sum())
        self.ok = self.n_t > 0 and bool(occluder_mask.any())
        if not self.ok:
            return
        self.base = np.array(ndimage.center_of_mass(target_mask)) - np.array(ndimage.center_of_mass(occluder_mask))
        self.direction = np.array([math.sin(angle), math.cos(angle)])  # (rows, cols): image y, x
        self.occ = occluder_mask.astype(np.uint8)
        self.far = None if target_depth is None else np.where(occluder_mask, occluder_depth, np.inf)
        self.target_depth = target_depth
        self.reach = float(np.hypot(*target_mask.shape)) / 2

    def shift(self, k: float) -> np.ndarray:
        return self.base + k * self.direction

    def predicted(self, k: float) -> float:
        from scipy import ndimage

        if self.far is None:
            moved = ndimage.shift(self.occ, self.shift(k), order=0, mode="constant") > 0
        else:  # finite exactly where the shifted occluder is (same nearest-pixel mapping), and depths are finite
            moved = ndimage.shift(self.far, self.shift(k), order=0, mode="constant", cval=np.inf) < self.target_depth
        return float((self.target & ~moved).sum()) / self.n_t

    def best(self, visibility: float) -> float:
        ks = np.linspace(-self.reach, self.reach, 49)
        errs = np.array([abs(self.predicted(k) - visibility) for k in ks])
        i = int(np.argmin(errs + 1e-3 * np.abs(ks) / self.reach))
        best, best_err = float(ks[i]), float(errs[i])
        step = ks[1] - ks[0]
        for k in np.linspace(best - step, best + step, 9):  # refine around the coarse best
            err = abs(self.predicted(k) - visibility)
            if err < best_err:
                best, best_err = float(k), err
        return best


def _apart(a, b, margin: float) -> bool:
    """Whether two pixel boxes (u0, v0, u1, v1) are more than `margin` apart."""
    return a[2] + margin < b[0] or b[2] + margin < a[0] or a[3] + margin < b[1] or b[3] + margin < a[1]


class OccluderAiming:
    """Aiming in the settled world: `place` puts each occluder where it hides the aimed-at share of
    its target, with the geometry above and a few small renders (previews). World calls `reset`
    per image and `place` per occluder, and owns nothing of it; this reads the world's client,
    renderer, bodies (`uid_of`, `sources`, `centre_offset`, `asset_info`, `park_spot`) and config.

    Previews read only the target's and the occluder's pixels (and their depths), so they are
    drawn with `Renderer.preview` and with every body whose visual sphere's image misses theirs
    parked (`parked_unless_near`), put back by `repose` exactly as it was drawn and read."""

    def __init__(self, world, spheres: bool, park_z: float):
        self.world, self.client, self.park_z = world, world.client, park_z
        self.visual_sphere = self._visual_spheres() if spheres else {}
        self.read_back: dict[int, tuple] = {}  # see repose

    def reset(self) -> None:
        """A new image: every pose is PyBullet's own answer again."""
        self.read_back = {}

    def _visual_spheres(self) -> dict[int, tuple[np.ndarray, float]]:
        """Body → a sphere (centre in its base frame, radius) around what is drawn of it: its
        silhouette mesh, the geometry the labels trust. Occluder aiming parks bodies by it.
        Bodies with links (drawn from the stored quaternion itself, see repose) or whose mesh only
        PyBullet reads have none, and are never parked."""
        c, files, out = self.client, {}, {}
        for uid in self.world.bodies.values():
            if p.getNumJoints(uid, physicsClientId=c):
                continue
            try:
                v = silhouette_mesh(c, uid, *self.world.sources[uid], files).vertices
            except BadInput:
                continue
            mid = (v.min(axis=0) + v.max(axis=0)) / 2 if len(v) else np.zeros(3)
            out[uid] = (mid, float(np.linalg.norm(v - mid, axis=1).max()) if len(v) else 0.0)
        return out

    def place(self, sample: SceneSample, obj, target, preview_width: int = 160) -> None:
        """Kinematic (massless) occluder between the camera and the target, aimed at a visibility.

        The disc model gives the depth and a first offset; two small renders (the target alone,
        the occluder on the ray) then give the offset that reaches the aimed visibility, and up to
        `correction_renders` more correct it. Those previews read only the target's and the
        occluder's pixels: they are drawn in a lighter mode (Renderer.preview) with the bodies that
        cannot touch those pixels parked (parked_unless_near), which changes none of them.
        """
        cam = sample.camera
        uid, tuid = self.world.uid_of(obj), self.world.uid_of(target)
        tpos, tquat = self.base_pose(tuid)
        centre = np.asarray(tpos) + rotation_matrix(tquat) @ self.world.centre_offset[tuid]
        plan = place_occluder(obj.aim, cam.position, cam.quaternion, centre,
                              self.world.asset_info[target.asset].half_extents,
                              self.world.asset_info[obj.asset].half_extents, cam.near)
        obj.aim.result.placed = plan is not None  # recorded: no room in front of the target leaves it parked
        if plan is None:
            return
        k = min(1.0, preview_width / cam.width)
        small = replace(cam, width=max(int(cam.width * k), 16), height=max(int(cam.height * k), 16),
                        K=(np.asarray(cam.K) * [[k], [k], [1]]).tolist())
        watched = [self.sphere(tuid, tpos, tquat), self.sphere(uid, self._centred_base(uid, plan["on_ray"], obj.quaternion), obj.quaternion)]
        with self.parked_unless_near(sample, small, watched, keep={uid, tuid}):
            self._aim(sample, obj, plan, small, uid, tuid, tpos, tquat)

    def _aim(self, sample: SceneSample, obj, plan: dict, small, uid: int, tuid: int, tpos, tquat) -> None:
        """The previews of `place`, and the occluder put where they say."""
        c = self.client
        alone = self.world.renderer.preview(small, sample.lighting)
        self._put_centred(uid, plan["on_ray"], obj.quaternion)
        p.resetBasePositionAndOrientation(tuid, [0, -10.0, self.park_z], tquat, physicsClientId=c)  # whole silhouette
        on_ray = self.world.renderer.preview(small, sample.lighting)
        p.resetBasePositionAndOrientation(tuid, tpos, tquat, physicsClientId=c)
        self.read_back.pop(tuid, None)  # stored as given now: PyBullet's own answer from here on
        target_mask = alone.segmentation == tuid
        aim = SilhouetteAim(target_mask, on_ray.segmentation == uid, obj.aim.angle, alone.depth, on_ray.depth)
        if not aim.ok:
            obj.position = self._put_centred(uid, plan["position"], obj.quaternion)
            return
        R = rotation_matrix(small.quaternion)
        want = obj.aim.visibility

        def put(k: float, measure: bool = True) -> float | None:  # place at shift k; the measured visibility
            rows, cols = aim.shift(k)
            metres = plan["depth"] * (cols / small.K[0][0] * R[:, 0] + rows / small.K[1][1] * R[:, 1])
            obj.position = self._put_centred(uid, (np.asarray(plan["on_ray"]) + metres).tolist(), obj.quaternion)
            if not measure:
                return None
            seg = self.world.renderer.preview(small, sample.lighting).segmentation
            return float((seg == tuid).sum()) / aim.n_t

        k = aim.best(want)
        got = put(k)
        tried = [(k, got)]
        h = aim.reach / 48
        for _ in range(self.world.config.randomizers.occlusion.correction_renders):  # along the predicted slope
            slope = (aim.predicted(k + h) - aim.predicted(k - h)) / (2 * h)
            if abs(got - want) < 0.03 or abs(slope) < 1e-6:
                break
            k = float(np.clip(k + (want - got) / slope, -aim.reach, aim.reach))
            got = put(k)
            tried.append((k, got))
        best, obj.aim.result.preview_visibility = min(tried, key=lambda t: abs(t[1] - want))
        if best != k:
            put(best, measure=False)

    def sphere(self, uid: int, position, quaternion) -> tuple[np.ndarray, float] | None:
        """World centre and radius of a sphere around what is drawn of body `uid` at this base pose."""
        if uid not in self.visual_sphere:
            return None
        mid, radius = self.visual_sphere[uid]
        return np.asarray(position, dtype=float) + rotation_matrix(quaternion) @ mid, radius

    @contextmanager
    def parked_unless_near(self, sample: SceneSample, camera, watched: list, keep: set[int], margin: float = 2.0):
        """Park, for the previews inside, every other body of the scene whose image cannot meet the
        images of the `watched` spheres; then put each back so that what is drawn of it, and what
        PyBullet answers for its pose, are exactly what they were.

        The previews read pixels of the target and of the occluder only, and those lie inside their
        spheres' images: a body whose sphere's image misses both (by `margin` pixels) cannot change
        any of them, where it stands or parked (50 m below, never between the camera and the
        desk). Yet in view, llvmpipe clips, sets up and bins every triangle of it in each preview
        (what parking saves: docs/ROBUSTNESS.md, "Measurements behind the code";
        the rest is vertex shading, done for parked bodies too). Bodies with links or of unknown
        extent stay.
        """
        boxes = [None if w is None else sphere_box(camera.K, camera.position, camera.quaternion, *w) for w in watched]
        c, parked = self.client, []
        for o in sample.objects:
            uid = self.world.uid_of(o)
            if uid in keep or not (o.aim is None or o.aim.result.placed) or uid not in self.visual_sphere:
                continue  # the watched bodies, occluders still parked, bodies that must stay
            pos, quat = self.base_pose(uid)
            box = sphere_box(camera.K, camera.position, camera.quaternion, *self.sphere(uid, pos, quat))
            if box is not None and all(w is not None and _apart(box, w, margin) for w in boxes):
                parked.append((uid, pos, quat, p.getBaseVelocity(uid, physicsClientId=c)))
        try:
            for uid, *_ in parked:
                p.resetBasePositionAndOrientation(uid, self.world.park_spot[uid], [0, 0, 0, 1], physicsClientId=c)
            yield
        finally:
            for uid, pos, quat, (v, w) in parked:
                self.repose(uid, pos, quat)
                p.resetBaseVelocity(uid, v, w, physicsClientId=c)

    def base_pose(self, uid: int) -> tuple:
        """The base pose PyBullet gave for `uid` before any preview of this image moved it."""
        return self.read_back.get(uid) or p.getBasePositionAndOrientation(uid, physicsClientId=self.client)

    def repose(self, uid: int, position, quaternion) -> None:
        """Put a parked body back at the pose `base_pose` gave, with what is drawn unchanged.

        PyBullet answers a body's orientation through a rotation matrix (getRotation of the matrix
        of the stored quaternion: f(q)), and draws it from the same answer, as float32. Setting the
        answer back stores it, and f(answer) may differ from the answer in its last double bits
        (in ~60% of quaternions, measured); in float32, only for the rare answer within a few ulps
        of a float32 rounding boundary. So: the drawn float32 quaternion is checked, and nudged
        away from the boundary until it is what it was; later reads in this image of its pose
        (a later occluder's target) get the answer from before (`read_back`), as they would have.
        """
        c, want = self.client, np.float32(quaternion)
        q = list(quaternion)
        for ulps in (0, 8, 64, 512):
            if ulps:
                q = [x if g == w else x + ulps * float(np.spacing(x)) * float(np.sign(float(w) - x))
                     for x, g, w in zip(quaternion, np.float32(got), want)]
            p.resetBasePositionAndOrientation(uid, position, q, physicsClientId=c)
            got = p.getBasePositionAndOrientation(uid, physicsClientId=c)[1]
            if np.array_equal(np.float32(got), want):
                self.read_back[uid] = (tuple(position), tuple(quaternion))
                return
        raise RuntimeError(f"body {uid}: cannot restore its drawn orientation {quaternion}")

    def _centred_base(self, uid: int, centre, quaternion) -> list[float]:
        return (np.asarray(centre) - rotation_matrix(quaternion) @ self.world.centre_offset[uid]).tolist()

    def _put_centred(self, uid: int, centre, quaternion) -> list[float]:
        """Pose a body so that its bounding-box centre (not its origin) is at `centre`; its base position."""
        base = self._centred_base(uid, centre, quaternion)
        p.resetBasePositionAndOrientation(uid, base, quaternion, physicsClientId=self.client)
        return base
