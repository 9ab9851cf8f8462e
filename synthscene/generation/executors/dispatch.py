"""The one dispatch loop every executor runs: indices sent to workers IN_FLIGHT at a time, records
yielded as they finish, and on a worker's death its images rendered again on a replacement: a
crash that happens once (a flaky driver: a 1-in-2,000 llvmpipe segfault was seen on LM-O renders)
costs a restart, one that happens again on the same image is named.

An executor provides `Workers` (inline: `inline.py`, processes: `local.py`, Ray actors: `ray.py`):
n workers, each holding one ImageProducer and answering the indices it is sent in the order sent,
so each answer of worker k is about the oldest index still queued on k."""
from __future__ import annotations

import sys
from collections import deque
from typing import Iterator, Protocol, Sequence

from ...core.errors import SynthsceneError
from ..faults import WorkerTraceback, failure_message
from ..producer import IN_FLIGHT, Pending

# What next_event answers, as (k, (kind, payload)):
#   ("ready", None)           worker k is built and takes indices
#   ("done", record)          its oldest index is rendered and its files written
#   ("error", (message, tb))  its oldest index raised (a SynthsceneError naming the image)
#   ("died", what)            the worker is gone ("its worker process died (exit code -11)")
# A worker that fails before "ready" is not an image's fault: next_event raises that itself.
Event = tuple[str, object]


class Workers(Protocol):
    """What an executor gives the dispatch loop."""

    def start(self, k: int) -> None:
        """Start worker k, or replace it (what the old one had queued is dropped); "ready" follows."""

    def submit(self, k: int, index: int) -> None:
        """Queue image `index` on worker k."""

    def next_event(self, k: int | None = None) -> tuple[int, Event]:
        """The next answer of worker k (of any working worker if None), waiting for it."""

    def stop(self, k: int) -> None:
        """Worker k gets no more indices (it may exit)."""

    def close(self, clean: bool) -> None:
        """End every worker: waiting for them if the run finished (`clean`), at once otherwise."""


def dispatch(workers: Workers, n: int, todo: Sequence[int], seed: int) -> Iterator[dict]:
    """Records of `todo` rendered by `n` of `workers` as they finish; raises naming the image at fault."""
    pending = Pending(todo)
    queued = [deque() for _ in range(n)]  # per worker, the indices sent, in order: the first is on the stage
    working = set(range(n))
    clean = False

    def fill(k: int) -> None:
        while pending and len(queued[k]) < IN_FLIGHT:
            queued[k].append(pending.popleft())
            workers.submit(k, queued[k][-1])

    try:
        for k in range(n):
            workers.start(k)
        while working:
            k, (kind, payload) = workers.next_event()
            if kind == "done":
                queued[k].popleft()
                yield payload
            elif kind == "error":
                _raise_error(payload)
            elif kind == "died":
                print(f"synthscene: {payload} on image {queued[k][0]}; rendering its images again on a new worker",
                      file=sys.stderr, flush=True)
                yield from _replay(workers, k, list(queued[k]), seed)
                queued[k].clear()
            fill(k)
            if not queued[k]:
                workers.stop(k)
                working.discard(k)
        clean = True
    finally:
        workers.close(clean)


def _replay(workers: Workers, k: int, indices: list[int], seed: int) -> Iterator[dict]:
    """A dead worker's indices again, one at a time, on its replacement (answers a dead Ray actor
    had finished may be lost with it): the image that kills the replacement too is the culprit (an
    image is a function of its index, so a real fault dies the same way); the ones before it are
    written, so --resume keeps them."""
    workers.start(k)
    workers.next_event(k)  # "ready" (a replacement that cannot start raises)
    for index in indices:
        workers.submit(k, index)
        _, (kind, payload) = workers.next_event(k)
        if kind == "died":
            raise SynthsceneError(failure_message(index, seed, payload))
        if kind == "error":
            _raise_error(payload)
        yield payload


def _raise_error(payload) -> None:
    message, tb = payload
    raise SynthsceneError(message) from WorkerTraceback(tb)
