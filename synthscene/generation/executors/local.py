"""Local worker processes the parent can account for. Each worker renders the indices it is sent
in order, so when one dies (segfault, OOM kill) the parent knows which image it was on; workers
ignore SIGINT and exit when the parent goes away, so Ctrl-C or a killed parent leaves no orphan
and no traceback from each worker."""
from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Iterator, Sequence

from ...core.errors import BadInput, SynthsceneError
from ..faults import WorkerTraceback, formatted_traceback
from ..producer import produce_and_write
from .dispatch import dispatch


def _child(conn: Connection, config, renderer: str, out_dir: str, producer_class) -> None:
    """A worker's loop: build the producer, then render each index it is sent until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us; no KeyboardInterrupt spew
    try:
        producer = producer_class(config, renderer)
    except SynthsceneError as err:
        conn.send(("init_error", -1, (isinstance(err, BadInput), str(err), formatted_traceback(err))))
        return
    except Exception as err:
        conn.send(("init_error", -1, (False, f"worker start-up failed: {type(err).__name__}: {err}", formatted_traceback(err))))
        return
    conn.send(("ready", -1, None))
    try:
        while True:
            try:
                index = conn.recv()
            except (EOFError, OSError):  # the parent is gone
                break
            if index is None:
                break
            try:
                conn.send(("done", index, produce_and_write(producer, Path(out_dir), index)))
            except SynthsceneError as err:
                conn.send(("error", index, (str(err), formatted_traceback(err))))
            except OSError:  # the parent is gone (broken pipe)
                break
    finally:
        producer.close()


THREAD_VARS = ("LP_NUM_THREADS", "OMP_NUM_THREADS")


def renderer_threads_env(workers: int) -> dict[str, str]:
    """Thread counts for each of `workers` processes sharing this machine: its share of the cores.
    Otherwise Mesa's llvmpipe (EGL here) starts a rasteriser thread per core in every worker and
    OpenBLAS/OpenMP a pool per core, and they oversubscribe the cores (measured:
    docs/ROBUSTNESS.md; Ray does the same for OMP_NUM_THREADS). Values the user set are kept."""
    share = str(max(1, (os.cpu_count() or 1) // workers))
    return {k: share for k in THREAD_VARS if k not in os.environ}


@contextlib.contextmanager
def _environment(env: dict[str, str]):
    """Set for the processes started inside: a spawned child imports numpy before any code of ours."""
    os.environ.update(env)
    try:
        yield
    finally:
        for k in env:
            os.environ.pop(k, None)


@dataclass
class _Slot:
    proc: mp.process.BaseProcess
    conn: Connection
    ready: bool = False  # it answered "ready": a death from now on is an image's
    working: bool = True  # it may still be sent indices


class ProcessWorkers:
    """Worker processes for the dispatch loop (`dispatch.Workers`): a pipe each, answers in order."""

    def __init__(self, config, renderer: str, out_dir: Path, n: int, producer_class):
        self._ctx = mp.get_context("spawn")
        self._args = (config, renderer, str(out_dir), producer_class)
        self._env = renderer_threads_env(n)
        self._slots: list[_Slot | None] = [None] * n

    def start(self, k: int) -> None:
        if self._slots[k] is not None:
            self._end(self._slots[k], clean=False)
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=_child, args=(child, *self._args), daemon=True)
        with _environment(self._env):
            proc.start()
        child.close()
        self._slots[k] = _Slot(proc, parent)

    def submit(self, k: int, index: int) -> None:
        self._slots[k].conn.send(index)

    def next_event(self, k: int | None = None):
        among = [j for j, s in enumerate(self._slots) if s is not None and s.working] if k is None else [k]
        ready = wait([self._slots[j].conn for j in among] + [self._slots[j].proc.sentinel for j in among])
        k = next(j for j in among if self._slots[j].conn in ready or self._slots[j].proc.sentinel in ready)
        slot = self._slots[k]
        try:
            kind, index, payload = slot.conn.recv()
        except (EOFError, OSError):
            slot.proc.join(1)
            code = slot.proc.exitcode
            if not slot.ready:
                raise SynthsceneError(f"a worker process died while starting (exit code {code})") from None
            return k, ("died", f"its worker process died (exit code {code})")
        if kind == "init_error":
            bad, message, tb = payload
            raise (BadInput if bad else SynthsceneError)(message) from WorkerTraceback(tb)
        if kind == "ready":
            slot.ready = True
        return k, (kind, payload)

    def stop(self, k: int) -> None:
        self._slots[k].conn.send(None)
        self._slots[k].working = False

    def close(self, clean: bool) -> None:
        for slot in self._slots:
            if slot is not None:
                self._end(slot, clean)

    @staticmethod
    def _end(slot: _Slot, clean: bool) -> None:
        if clean:
            slot.proc.join(30)
        if slot.proc.is_alive():
            slot.proc.terminate()
            slot.proc.join(5)
        if slot.proc.is_alive():
            slot.proc.kill()
            slot.proc.join()
        slot.conn.close()


def run_processes(config, renderer: str, out_dir: Path, todo: Sequence[int], workers: int, producer_class) -> Iterator[dict]:
    """Records of `todo` as workers finish them; raises naming the image whose worker failed."""
    if not todo:
        return
    n = min(workers, len(todo))
    yield from dispatch(ProcessWorkers(config, renderer, out_dir, n, producer_class), n, todo, config.seed)
