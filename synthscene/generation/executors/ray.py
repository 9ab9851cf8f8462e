"""The Ray backend: image indices dealt to Ray actors, each holding one PyBullet world (assets
loaded once) for its whole life. Actors return the encoded files and the driver writes them, so
the cluster needs no shared file system and the output is the local backend's, byte for byte.

    synthscene generate CONFIG --backend ray [--ray-address ADDR] [--workers N]

Without --ray-address an already initialised Ray is used, else a local one is started (and
stopped at the end). N actors of one CPU each (default: the cluster's CPU count)."""
from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Iterator, Sequence

from ...core.errors import BadInput, SynthsceneError
from ..faults import WorkerTraceback, failure_message, formatted_traceback
from ..producer import IN_FLIGHT, ImageProducer, Pending, write_files


class ImageActor:
    """One Ray worker: an ImageProducer (or the given subclass) kept between tasks."""

    def __init__(self, config, backend: str, producer_class=ImageProducer):
        import os

        from ...renderers.pybullet import resolve_backend

        os.environ.setdefault("LP_NUM_THREADS", "1")  # one CPU per actor: see workers.renderer_threads_env
        self.producer = producer_class(config, resolve_backend(backend, announce=False))

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


def _isolate(ray, Actor, config, producer_class, out_dir: Path, indices: list[int]):
    """Re-render a dead actor's calls one by one on a new actor: the image that kills it again is
    the culprit (an image is a function of its index, so it dies the same way); the ones before it
    are written, so --resume keeps them. Returns the new actor and the records written."""
    actor = Actor.remote(config, config.renderer.backend, producer_class)
    records = []
    for index in indices:
        try:
            records.append(_write(out_dir, ray.get(actor.render.remote(index))))
        except ray.exceptions.RayActorError as err:
            ray.kill(actor)
            raise SynthsceneError(failure_message(index, config.seed, f"its Ray actor died ({type(err).__name__})")) from None
    return actor, records


def _write(out_dir: Path, result) -> dict:
    if result[0] == "error":
        raise SynthsceneError(result[2]) from WorkerTraceback(result[3])
    _, index, record, files = result
    write_files(out_dir, index, files)
    return record


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
    actors = []
    try:
        n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        n = min(n, len(todo)) or 1
        Actor = ray.remote(num_cpus=1, max_restarts=0)(ImageActor)
        actors = [Actor.remote(config, config.renderer.backend, producer_class) for _ in range(n)]
        try:
            ray.get([a.ready.remote() for a in actors])
        except ray.exceptions.RayActorError as err:
            lines = str(err).strip().splitlines()  # a raise in __init__ ends with its own last line
            raise SynthsceneError(f"a Ray actor failed to start: {lines[-1] if 'creation task' in lines[0] else lines[0]}") from None
        pending = Pending(todo)
        queued: dict[int, deque] = {k: deque() for k in range(n)}  # actor → indices sent, in order
        owner = {}  # object ref → (actor number, index)
        ref_of = {}  # (actor number, index) → object ref

        def submit(k: int) -> None:
            while pending and len(queued[k]) < IN_FLIGHT:
                index = pending.popleft()
                ref = actors[k].render.remote(index)
                owner[ref], ref_of[k, index] = (k, index), ref
                queued[k].append(index)

        for k in range(n):
            submit(k)
        while owner:
            [ready], _ = ray.wait(list(owner), num_returns=1)
            # An actor runs its calls in order, so its oldest call is finished too: take that one
            # first, or a death reported on a later call would be blamed on (and hide) its result.
            k = owner[ready][0]
            index = queued[k][0]
            ref = ref_of.pop((k, index))
            del owner[ref]
            try:
                records = [_write(out_dir, ray.get(ref))]
            except ray.exceptions.RayActorError:
                # The death may have lost the replies of calls it had finished, so which image
                # killed it is unknown: render its calls again one at a time on a fresh actor.
                for i in list(queued[k])[1:]:
                    ref = ref_of.pop((k, i))
                    del owner[ref]
                actors[k], records = _isolate(ray, Actor, config, producer_class, out_dir, list(queued[k]))
                queued[k].clear()
            else:
                queued[k].popleft()
            yield from records
            submit(k)
    finally:
        for actor in actors:
            ray.kill(actor)
        if started:
            ray.shutdown()
