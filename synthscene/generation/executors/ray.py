"""The Ray executor: image indices dealt to Ray actors, each holding one PyBullet world (assets
loaded once) for its whole life. Actors return the encoded files and the driver writes them, so
the cluster needs no shared file system and the output is the local executor's, byte for byte.

    synthscene generate CONFIG --backend ray [--ray-address ADDR] [--workers N]

Without --ray-address an already initialised Ray is used, else a local one is started (and
stopped at the end). N actors of one CPU each (default: the cluster's CPU count)."""
from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Iterator, Sequence

from ...core.errors import BadInput, SynthsceneError
from ..faults import formatted_traceback
from ..producer import ImageProducer, write_files
from .dispatch import dispatch


class ImageActor:
    """One Ray worker: an ImageProducer (or the given subclass) kept between tasks."""

    def __init__(self, config, renderer: str, producer_class=ImageProducer):
        import os

        from ...renderers.pybullet import resolve_renderer

        os.environ.setdefault("LP_NUM_THREADS", "1")  # one CPU per actor: see workers.renderer_threads_env
        self.producer = producer_class(config, resolve_renderer(renderer, announce=False))

    def ready(self) -> bool:
        """Answers once the world is built: a failure here is a failure to start, not an image's."""
        return True

    def render(self, index: int):
        """("done", index, record, files) or ("error", index, message, traceback): errors travel as data."""
        try:
            return ("done", index, *self.producer.produce_files(index))
        except SynthsceneError as err:
            return ("error", index, str(err), formatted_traceback(err))


def _ray():
    try:
        import ray
    except ImportError:
        raise BadInput("the ray backend needs Ray: pip install 'synthscene[ray]'", None, "--backend") from None
    return ray


def _check_reachable(address: str) -> None:
    """Ray retries an unreachable address for minutes; a host:port that refuses is bad input now."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and the like: Ray's own lookup
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as err:
        raise BadInput(f"no Ray cluster answers at {address} ({err.strerror or err})", None, "--ray-address") from None


class ActorWorkers:
    """Ray actors for the dispatch loop (`dispatch.Workers`): an actor runs its calls in order, so
    each answer is its oldest outstanding call's; the driver writes the files actors return."""

    def __init__(self, ray, config, out_dir: Path, n: int, producer_class):
        self._ray, self._config, self._out_dir, self._producer_class = ray, config, out_dir, producer_class
        self._Actor = ray.remote(num_cpus=1, max_restarts=0)(ImageActor)
        self._actors = [None] * n
        self._calls: list[deque] = [deque() for _ in range(n)]  # per actor: (object ref, index or None: ready)
        self._owner = {}  # object ref → actor number

    def start(self, k: int) -> None:
        if self._actors[k] is not None:
            for ref, _ in self._calls[k]:
                del self._owner[ref]
            self._calls[k].clear()
            self._ray.kill(self._actors[k])
        self._actors[k] = self._Actor.remote(self._config, self._config.renderer.backend, self._producer_class)
        self._call(k, self._actors[k].ready.remote(), None)

    def _call(self, k: int, ref, index: int | None) -> None:
        self._calls[k].append((ref, index))
        self._owner[ref] = k

    def submit(self, k: int, index: int) -> None:
        self._call(k, self._actors[k].render.remote(index), index)

    def next_event(self, k: int | None = None):
        ray = self._ray
        if k is None:
            [done], _ = ray.wait(list(self._owner), num_returns=1)
            # The actor's oldest call is finished too: take that one first, or a death reported on
            # a later call would be blamed on (and hide) its result.
            k = self._owner[done]
        ref, index = self._calls[k].popleft()
        del self._owner[ref]
        try:
            result = ray.get(ref)
        except ray.exceptions.RayActorError as err:
            if index is None:
                lines = str(err).strip().splitlines()  # a raise in __init__ ends with its own last line
                raise SynthsceneError(f"a Ray actor failed to start: {lines[-1] if 'creation task' in lines[0] else lines[0]}") from None
            return k, ("died", f"its Ray actor died ({type(err).__name__})")
        if index is None:
            return k, ("ready", None)
        if result[0] == "error":
            return k, ("error", (result[2], result[3]))
        _, index, record, files = result
        write_files(self._out_dir, index, files)
        return k, ("done", record)

    def stop(self, k: int) -> None:
        pass  # an idle actor is ended with the others

    def close(self, clean: bool) -> None:
        for actor in self._actors:
            if actor is not None:
                self._ray.kill(actor)


def run_ray(config, out_dir: Path, todo: Sequence[int], workers: int | None, address: str | None = None,
            producer_class: type[ImageProducer] = ImageProducer) -> Iterator[dict]:
    if not todo:
        return
    ray = _ray()
    started = False
    if address is not None or not ray.is_initialized():
        if address is not None:
            _check_reachable(address)
        try:
            ray.init(address=address, include_dashboard=False, configure_logging=False, log_to_driver=False)
        except (ConnectionError, ValueError, RuntimeError) as err:
            raise BadInput(f"cannot connect to Ray ({err})", None, "--ray-address") from None
        started = True
    try:
        n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        n = min(n, len(todo)) or 1
        yield from dispatch(ActorWorkers(ray, config, out_dir, n, producer_class), n, todo, config.seed)
    finally:
        if started:
            ray.shutdown()
