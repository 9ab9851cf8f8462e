"""The inline executor: one producer in the calling process (`--workers 1`), through the same
dispatch loop as the others. Its failures are raised where they happen, with their own traceback."""
from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Iterator, Sequence

from ..producer import produce_and_write
from .dispatch import dispatch


class InlineWorkers:
    """One worker, this process (`dispatch.Workers`): an index is rendered when its answer is asked for."""

    def __init__(self, config, renderer: str, out_dir: Path, producer_class):
        self._args = (config, renderer)
        self._out_dir, self._producer_class = out_dir, producer_class
        self._producer = None
        self._queued: deque = deque()

    def start(self, k: int) -> None:
        self.close(clean=False)
        self._producer = self._producer_class(*self._args)
        self._queued = deque([None])  # None: "ready"

    def submit(self, k: int, index: int) -> None:
        self._queued.append(index)

    def next_event(self, k: int | None = None):
        index = self._queued.popleft()
        if index is None:
            return 0, ("ready", None)
        return 0, ("done", produce_and_write(self._producer, self._out_dir, index))

    def stop(self, k: int) -> None:
        pass

    def close(self, clean: bool) -> None:
        if self._producer is not None:
            self._producer.close()
            self._producer = None


def run_inline(config, renderer: str, out_dir: Path, todo: Sequence[int], producer_class) -> Iterator[dict]:
    """Records of `todo`, rendered one after another in this process."""
    if not todo:
        return
    yield from dispatch(InlineWorkers(config, renderer, out_dir, producer_class), 1, todo, config.seed)
