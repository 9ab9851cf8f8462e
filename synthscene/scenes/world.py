"""The PyBullet world of one worker: assets loaded once, then re-posed, shown and hidden per image."""
from __future__ import annotations

import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import replace

import numpy as np
import pybullet_data

from ..config import DatasetConfig
from ..errors import BadInput
from ..renderers._quiet import pybullet as p
from ..randomizers import occlusion as occlusion_rnd
from ..renderers.camera import rotation_matrix
from ..renderers.memory import trim_heap
from ..renderers.pybullet import RenderOutput, Renderer, quiet
from .assets import prepare
from .occluders import SilhouetteAim, place_occluder
from .sample import SceneSample
from .sampler import AssetInfo
from .urdf_check import confine_urdf_paths

_PARK_Z = -50.0  # hidden bodies wait here, far outside any camera's view, spaced apart


class StageTimes:
    """Wall and CPU seconds per named stage of the current image, for benchmarks. CPU is the whole
    process's (`process_time`): llvmpipe draws in its own threads, which `thread_time` would miss."""

    def __init__(self):
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def reset(self) -> None:
        self.wall, self.cpu = {}, {}

    @contextmanager
    def __call__(self, stage: str):
        w, c = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall[stage] = self.wall.get(stage, 0.0) + time.perf_counter() - w
            self.cpu[stage] = self.cpu.get(stage, 0.0) + time.process_time() - c


class World:
    def __init__(self, config: DatasetConfig, backend: str):
        self.config = config = prepare(config)  # idempotent: generate and ImageProducer have done it
        self.times = StageTimes()  # settle and occluder aiming of the last pose; the producer adds its stages
        with quiet():
            self.client = p.connect(p.DIRECT)
        # The EGL plugin must be in place before bodies exist so that it sees them all.
        self.renderer = Renderer(self.client, backend)
        c = self.client
        p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=c)
        # Islands solved one by one: Bullet otherwise batches small islands, stops iterating on the
        # batch's joint residual, and batch membership follows body order, which depends on the
        # images a worker settled before (measured: poses differing in the 9th digit).
        p.setPhysicsEngineParameter(deterministicOverlappingPairs=1, minimumSolverIslandSize=1, physicsClientId=c)
        p.setGravity(0, 0, -9.81, physicsClientId=c)
        self.loads: Counter[str] = Counter()  # URDF path → times loaded; only ever at start-up
        self.ground = None
        if config.scene.ground is not None:
            self.ground = self._load(config.scene.ground.urdf, "scene.ground.urdf", fixed=True)
            if config.scene.ground.rgba is not None:
                p.changeVisualShape(self.ground, -1, rgbaColor=config.scene.ground.rgba, physicsClientId=c)
        self.bodies: dict[tuple[str, int], int] = {}
        self.asset_info: dict[str, AssetInfo] = {}
        for i, asset in enumerate(self.config.assets):
            for k in range(max(asset.count[1], 1)):
                uid = self._load(asset.urdf, f"assets[{i}].urdf", scale=asset.scale, allow_external=asset.allow_external_paths)
                self.bodies[(asset.name, k)] = uid
                if self.config.stands_upright(asset):
                    self._keep_upright(uid)
                if k == 0:
                    self.asset_info[asset.name] = AssetInfo(asset.name, self._half_extents(uid))
        # The distractor pool: a function of the config, loaded in the same order by every worker.
        occ = config.randomizers.occlusion
        for k, urdf in enumerate(occlusion_rnd.pool(occ, config.seed)):
            name = occlusion_rnd.pool_name(k)
            self.bodies[(name, 0)] = uid = self._load(urdf, "randomizers.occlusion.sources", scale=occ.scale)
            self.asset_info[name] = AssetInfo(name, self._half_extents(uid))
        for k, urdf in enumerate(occlusion_rnd.hand_urdfs(occ, config.seed)):  # after the pool: the same order everywhere
            name = occlusion_rnd.hand_name(k)
            self.bodies[(name, 0)] = uid = self._load(urdf, "randomizers.occlusion.hands")
            self.asset_info[name] = AssetInfo(name, self._half_extents(uid))
        # Where each body's box centre sits in its own frame (bodies are still at their load pose).
        self.centre_offset = {uid: np.mean(self._aabb(uid), axis=0) - np.asarray(p.getBasePositionAndOrientation(uid, physicsClientId=c)[0])
                              for uid in self.bodies.values()}
        # PyBullet keeps every OBJ it parsed (tinyobj's arrays), for a later load of the same file;
        # a world loads all its files above, once. Turning the file cache off empties it (~100 MB
        # on configs/lmo.yaml, benchmarks/worker_memory.py); on again, for any later world.
        p.setPhysicsEngineParameter(enableFileCaching=0, physicsClientId=c)
        p.setPhysicsEngineParameter(enableFileCaching=1, physicsClientId=c)
        trim_heap()  # and hand what it held back now, before the warm-up and the labeler need more
        self._park_all()
        self.renderer.warm_up()

    def _keep_upright(self, uid: int) -> None:
        """Upright assets stay upright through the settle, as objects standing on a desk do.

        Their rotational inertia is made 10⁴ times larger, so a drop or a neighbour's knock moves
        them but barely turns them. Measured on configs/lmo.yaml: without it the glue landed upright
        in 16% of images, the driller in 39%, the hole puncher in 40% (tall or top-heavy shapes
        tipping over from the drop). Set once at load, so physics stays history-independent."""
        inertia = p.getDynamicsInfo(uid, -1, physicsClientId=self.client)[2]
        p.changeDynamics(uid, -1, localInertiaDiagonal=[10_000 * i for i in inertia], physicsClientId=self.client)

    def _aabb(self, uid: int) -> tuple[np.ndarray, np.ndarray]:
        c = self.client
        lo, hi = p.getAABB(uid, -1, physicsClientId=c)
        for j in range(p.getNumJoints(uid, physicsClientId=c)):
            l2, h2 = p.getAABB(uid, j, physicsClientId=c)
            lo, hi = np.minimum(lo, l2), np.maximum(hi, h2)
        return np.asarray(lo, float), np.asarray(hi, float)

    def _half_extents(self, uid: int) -> tuple[float, float, float]:
        lo, hi = self._aabb(uid)
        return tuple(float(x) for x in (hi - lo) / 2)

    def _load(self, urdf: str, field: str, fixed: bool = False, scale: float = 1.0, allow_external: bool = False) -> int:
        confine_urdf_paths(urdf, field, allow_external)
        try:
            with quiet():
                uid = p.loadURDF(urdf, useFixedBase=fixed, globalScaling=scale, physicsClientId=self.client)
        except p.error as err:
            raise BadInput(f"PyBullet cannot load it ({err})", urdf, field) from None
        self.loads[urdf] += 1
        if not fixed:
            # Some rolling resistance and angular damping: a dropped duck otherwise rocks for
            # seconds (measured: rarely at rest within 480 steps; with these, ~220).
            p.changeDynamics(uid, -1, activationState=p.ACTIVATION_STATE_DISABLE_SLEEPING, rollingFriction=0.005,
                             spinningFriction=0.005, angularDamping=0.5, physicsClientId=self.client)
        return uid

    def _park_all(self) -> None:
        c = self.client
        for n, uid in enumerate(self.bodies.values()):
            # Hidden bodies collide with nothing (mass is never touched: toggling it changed later
            # settles). History independence itself comes from minimumSolverIslandSize=1 above.
            p.setCollisionFilterGroupMask(uid, -1, 0, 0, physicsClientId=c)
            p.resetBasePositionAndOrientation(uid, [5.0 * n, 0, _PARK_Z], [0, 0, 0, 1], physicsClientId=c)
            p.resetBaseVelocity(uid, [0, 0, 0], [0, 0, 0], physicsClientId=c)
        # One broadphase pass with nothing overlapping: contacts of the previous image lose their points.
        p.performCollisionDetection(physicsClientId=c)

    def pose(self, sample: SceneSample) -> None:
        """Show exactly the sample's objects at its poses; settle them if asked and record where they land."""
        c = self.client
        self._park_all()
        shown, held = [], []
        for obj in sample.objects:
            if obj.aim is not None:  # occluders wait until the targets have landed
                continue
            uid = self.bodies[(obj.asset, obj.instance)]
            if obj.static and sample.settle:  # free / held: stays parked (outside the simulation) until the settle is over
                held.append((obj, uid))
                continue
            self._show(uid, obj.position, obj.quaternion)
            shown.append((obj, uid))
        if sample.settle and shown:
            with self.times("settle"):
                self._settle(sample.settle_steps, [u for _, u in shown])
            for obj, uid in shown:
                pos, quat = p.getBasePositionAndOrientation(uid, physicsClientId=c)
                obj.position, obj.quaternion = [float(x) for x in pos], [float(x) for x in quat]
        for obj, uid in held:  # exactly where sampled: they neither fell nor pushed anything
            self._show(uid, obj.position, obj.quaternion)
            p.resetBaseVelocity(uid, [0, 0, 0], [0, 0, 0], physicsClientId=c)  # parked, they fell meanwhile
        targets = [o for o in sample.objects if o.role == "target"]
        with self.times("aiming"):
            for obj in sample.objects:
                if obj.aim is not None:
                    self._place_occluder(sample, obj, targets[obj.aim.target])

    def _show(self, uid: int, position, quaternion) -> None:
        c = self.client
        p.setCollisionFilterGroupMask(uid, -1, 1, -1, physicsClientId=c)
        p.resetBasePositionAndOrientation(uid, position, quaternion, physicsClientId=c)

    def _place_occluder(self, sample: SceneSample, obj, target, preview_width: int = 160) -> None:
        """Kinematic (massless) occluder between the camera and the target, aimed at a visibility.

        The disc model gives the depth and a first offset; two small renders (the target alone,
        the occluder on the ray) then give the offset that reaches the aimed visibility.
        """
        c, cam = self.client, sample.camera
        uid, tuid = self.uid_of(obj), self.uid_of(target)
        tpos, tquat = p.getBasePositionAndOrientation(tuid, physicsClientId=c)
        centre = np.asarray(tpos) + rotation_matrix(tquat) @ self.centre_offset[tuid]
        plan = place_occluder(obj.aim, cam.position, cam.quaternion, centre,
                                            self.asset_info[target.asset].half_extents,
                                            self.asset_info[obj.asset].half_extents, cam.near)
        obj.aim.result.placed = plan is not None  # recorded: no room in front of the target leaves it parked
        if plan is None:
            return
        k = min(1.0, preview_width / cam.width)
        small = replace(cam, width=max(int(cam.width * k), 16), height=max(int(cam.height * k), 16),
                        K=(np.asarray(cam.K) * [[k], [k], [1]]).tolist())
        alone = self.renderer.render(small, sample.lighting)
        self._put_centred(uid, plan["on_ray"], obj.quaternion)
        p.resetBasePositionAndOrientation(tuid, [0, -10.0, _PARK_Z], tquat, physicsClientId=c)  # whole silhouette
        on_ray = self.renderer.render(small, sample.lighting)
        p.resetBasePositionAndOrientation(tuid, tpos, tquat, physicsClientId=c)
        target_mask = alone.segmentation == tuid
        aim = SilhouetteAim(target_mask, on_ray.segmentation == uid, obj.aim.angle, alone.depth, on_ray.depth)
        if not aim.ok:
            obj.position = self._put_centred(uid, plan["position"], obj.quaternion)
            return
        R = rotation_matrix(cam.quaternion)
        want = obj.aim.visibility

        def put(k: float, measure: bool = True) -> float | None:  # place at shift k; the measured visibility
            rows, cols = aim.shift(k)
            metres = plan["depth"] * (cols / small.K[0][0] * R[:, 0] + rows / small.K[1][1] * R[:, 1])
            obj.position = self._put_centred(uid, (np.asarray(plan["on_ray"]) + metres).tolist(), obj.quaternion)
            if not measure:
                return None
            seg = self.renderer.render(small, sample.lighting).segmentation
            return float((seg == tuid).sum()) / aim.n_t

        k = aim.best(want)
        got = put(k)
        tried = [(k, got)]
        h = aim.reach / 48
        for _ in range(self.config.randomizers.occlusion.correction_renders):  # along the predicted slope
            slope = (aim.predicted(k + h) - aim.predicted(k - h)) / (2 * h)
            if abs(got - want) < 0.03 or abs(slope) < 1e-6:
                break
            k = float(np.clip(k + (want - got) / slope, -aim.reach, aim.reach))
            got = put(k)
            tried.append((k, got))
        best, obj.aim.result.preview_visibility = min(tried, key=lambda t: abs(t[1] - want))
        if best != k:
            put(best, measure=False)

    def _put_centred(self, uid: int, centre, quaternion) -> list[float]:
        """Pose a body so that its bounding-box centre (not its origin) is at `centre`; its base position."""
        base = (np.asarray(centre) - rotation_matrix(quaternion) @ self.centre_offset[uid]).tolist()
        p.resetBasePositionAndOrientation(uid, base, quaternion, physicsClientId=self.client)
        return base

    def _settle(self, max_steps: int, uids: list[int], check_every: int = 20) -> None:
        c = self.client
        for step in range(1, max_steps + 1):
            p.stepSimulation(physicsClientId=c)
            if step % check_every == 0:
                vel = [p.getBaseVelocity(u, physicsClientId=c) for u in uids]
                if max(np.linalg.norm(v) for v, _ in vel) < 5e-3 and max(np.linalg.norm(w) for _, w in vel) < 0.05:
                    break  # at rest: under 5 mm/s and 3 deg/s

    def uid_of(self, obj) -> int:
        return self.bodies[(obj.asset, obj.instance)]

    def render(self, sample: SceneSample) -> RenderOutput:
        return self.renderer.render(sample.camera, sample.lighting)

    def close(self) -> None:
        if p.isConnected(self.client):
            with quiet():
                p.disconnect(self.client)
