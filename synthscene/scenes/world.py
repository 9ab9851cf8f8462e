"""The PyBullet world of one worker: assets loaded once, then re-posed, shown and hidden per image."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pybullet as p
import pybullet_data

from ..config import DatasetConfig
from ..errors import BadInput
from ..renderers.pybullet import RenderOutput, Renderer, quiet
from .sample import SceneSample
from .urdf_check import check_urdf
from .sampler import AssetInfo

_PARK_Z = -50.0  # hidden bodies wait here, far outside any camera's view, spaced apart


class World:
    def __init__(self, config: DatasetConfig, backend: str):
        self.config = config
        with quiet():
            self.client = p.connect(p.DIRECT)
        # The EGL plugin must be in place before bodies exist so that it sees them all.
        self.renderer = Renderer(self.client, backend)
        c = self.client
        p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=c)
        p.setPhysicsEngineParameter(deterministicOverlappingPairs=1, physicsClientId=c)
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
                if k == 0:
                    lo, hi = p.getAABB(uid, -1, physicsClientId=c)
                    for j in range(p.getNumJoints(uid, physicsClientId=c)):
                        l2, h2 = p.getAABB(uid, j, physicsClientId=c)
                        lo, hi = np.minimum(lo, l2), np.maximum(hi, h2)
                    half = tuple(float(x) for x in (np.asarray(hi) - np.asarray(lo)) / 2)
                    self.asset_info[asset.name] = AssetInfo(asset.name, half)
        self._park_all()
        self.renderer.warm_up()

    def _load(self, urdf: str, field: str, fixed: bool = False, scale: float = 1.0, allow_external: bool = False) -> int:
        check_urdf(urdf, field, allow_external)
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
            # Out of collision detection altogether: the broadphase drops its pairs and
            # contacts now, rather than lazily, so no image inherits another's contact history.
            p.setCollisionFilterGroupMask(uid, -1, 0, 0, physicsClientId=c)
            p.resetBasePositionAndOrientation(uid, [5.0 * n, 0, _PARK_Z], [0, 0, 0, 1], physicsClientId=c)
            p.resetBaseVelocity(uid, [0, 0, 0], [0, 0, 0], physicsClientId=c)
        # Nothing overlaps now, so no contact survives from the previous image.
        p.performCollisionDetection(physicsClientId=c)

    def pose(self, sample: SceneSample) -> None:
        """Show exactly the sample's objects at its poses; settle them if asked and record where they land."""
        c = self.client
        self._park_all()
        shown = []
        for obj in sample.objects:
            uid = self.bodies[(obj.asset, obj.instance)]
            p.setCollisionFilterGroupMask(uid, -1, 1, -1, physicsClientId=c)
            p.resetBasePositionAndOrientation(uid, obj.position, obj.quaternion, physicsClientId=c)
            shown.append((obj, uid))
        if sample.settle and shown:
            self._settle(sample.settle_steps, [u for _, u in shown])
            for obj, uid in shown:
                pos, quat = p.getBasePositionAndOrientation(uid, physicsClientId=c)
                obj.position, obj.quaternion = [float(x) for x in pos], [float(x) for x in quat]

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
