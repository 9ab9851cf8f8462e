"""The PyBullet world of one worker: assets loaded once, then re-posed, shown and hidden per image."""
from __future__ import annotations

import time
from collections import Counter
from contextlib import contextmanager

import numpy as np
import pybullet_data

from ..config import DatasetConfig
from ..core.errors import BadInput
from ..core.quiet import pybullet as p
from ..randomizers import occlusion as occlusion_rnd
from ..renderers.memory import trim_heap
from ..renderers.base import RenderOutput
from ..core.quiet import quiet
from ..renderers.pybullet import Renderer
from ..assets.prepare import prepare
from . import held_hand
from .occluders import OccluderAiming
from .sample import SceneSample
from .sampler import AssetInfo
from ..assets.urdf_check import confine_urdf_paths

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
    def __init__(self, config: DatasetConfig, renderer: str):
        self.config = config = prepare(config)  # idempotent: generate and ImageProducer have done it
        self.times = StageTimes()  # settle and occluder aiming of the last pose; the producer adds its stages
        with quiet():
            self.client = p.connect(p.DIRECT)
        # An empty world again, with Bullet's simple broadphase: it tests every pair of boxes in load
        # order and drops a pair as soon as its boxes part. The default one (a dynamic AABB tree)
        # carries state from image to image (tree shape, a clean-up cursor that drops stale pairs
        # a few per step), and the pairs it holds, stale ones included, decide the simulation
        # islands and their order: a settle then depended on the images settled before (measured:
        # poses differing in the 7th digit; tests/test_generate.py, the crowded test).
        p.resetSimulation(p.RESET_USE_SIMPLE_BROADPHASE, physicsClientId=self.client)
        # The EGL plugin must be in place before bodies exist so that it sees them all.
        self.renderer = Renderer(self.client, renderer)
        c = self.client
        p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=c)
        # Islands solved one by one: Bullet otherwise batches small islands and stops iterating on the
        # batch's joint residual (with the tree broadphase, batch membership followed the images a
        # worker settled before: poses differing in the 9th digit).
        p.setPhysicsEngineParameter(deterministicOverlappingPairs=1, minimumSolverIslandSize=1, physicsClientId=c)
        p.setGravity(0, 0, -9.81, physicsClientId=c)
        self.loads: Counter[str] = Counter()  # URDF path → times loaded; only ever at start-up
        self.sources: dict[int, tuple[str, float]] = {}  # body → (URDF, scale) it was loaded from
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
                    self.asset_info[asset.name] = AssetInfo(asset.name, self._half_extents(uid), self._box_centre(uid))
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
        for rig in range(held_hand.rigs(config)):  # last: worlds without held objects load what they did
            for part, urdf in held_hand.part_urdfs():
                self.bodies[(held_hand.rig_name(rig, part), 0)] = self._load(urdf, "randomizers.pose.held_hand")
        # Where each body's box centre sits in its own frame (bodies are still at their load pose).
        self.centre_offset = {uid: np.mean(self._aabb(uid), axis=0) - np.asarray(p.getBasePositionAndOrientation(uid, physicsClientId=c)[0])
                              for uid in self.bodies.values()}
        self.aiming = OccluderAiming(self, spheres=occ.enabled and occ.occluders[1] > 0, park_z=_PARK_Z)
        self.park_spot = {uid: [5.0 * n, 0, _PARK_Z] for n, uid in enumerate(self.bodies.values())}
        # PyBullet keeps every OBJ it parsed (tinyobj's arrays), for a later load of the same file;
        # a world loads all its files above, once. Turning the file cache off empties it (its size:
        # docs/ROBUSTNESS.md, "Measurements behind the code"); on again, for any later world.
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

    def _box_centre(self, uid: int) -> tuple[float, float, float]:
        """The centre of a body's box in its own frame (it is still at its load pose)."""
        base = np.asarray(p.getBasePositionAndOrientation(uid, physicsClientId=self.client)[0])
        return tuple(float(x) for x in np.mean(self._aabb(uid), axis=0) - base)

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
        self.sources[uid] = (urdf, scale)
        if not fixed:
            # Some rolling resistance and angular damping: a dropped duck otherwise rocks for
            # seconds (measured: rarely at rest within 480 steps; with these, ~220).
            p.changeDynamics(uid, -1, activationState=p.ACTIVATION_STATE_DISABLE_SLEEPING, rollingFriction=0.005,
                             spinningFriction=0.005, angularDamping=0.5, physicsClientId=self.client)
        return uid

    def _park_all(self) -> None:
        c = self.client
        for uid in self.bodies.values():
            # Hidden bodies collide with nothing (mass is never touched: toggling it changed later
            # settles). Setting the filter takes the body out of the broadphase and puts it back:
            # every pair, and so every contact manifold, of the previous image goes; the simple
            # broadphase keeps nothing else of it that a later settle reads (see __init__).
            p.setCollisionFilterGroupMask(uid, -1, 0, 0, physicsClientId=c)
            p.resetBasePositionAndOrientation(uid, self.park_spot[uid], [0, 0, 0, 1], physicsClientId=c)
            p.resetBaseVelocity(uid, [0, 0, 0], [0, 0, 0], physicsClientId=c)
        # One broadphase pass with nothing overlapping: contacts of the previous image lose their points.
        p.performCollisionDetection(physicsClientId=c)

    def pose(self, sample: SceneSample) -> None:
        """Show exactly the sample's objects at its poses; settle them if asked and record where they land."""
        c = self.client
        self._park_all()
        self.aiming.reset()
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
        for obj in sample.objects:  # a held object's hand: its skin tone
            if "rgba" in obj.appearance:
                p.changeVisualShape(self.uid_of(obj), -1, rgbaColor=obj.appearance["rgba"], physicsClientId=c)
        targets = [o for o in sample.objects if o.role == "target"]
        with self.times("aiming"):
            for obj in sample.objects:
                if obj.aim is not None:
                    self.aiming.place(sample, obj, targets[obj.aim.target])

    def _show(self, uid: int, position, quaternion) -> None:
        c = self.client
        p.setCollisionFilterGroupMask(uid, -1, 1, -1, physicsClientId=c)
        p.resetBasePositionAndOrientation(uid, position, quaternion, physicsClientId=c)

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
