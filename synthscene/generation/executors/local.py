"""Local worker processes the parent can account for. Each worker renders the indices it is sent
in order, so when one dies (segfault, OOM kill) the parent knows which image it was on; workers
ignore SIGINT and exit when the parent goes away, so Ctrl-C or a killed parent leaves no orphan
and no traceback from each worker."""
from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Iterator, Sequence

from ...core.errors import BadInput, SynthsceneError
from ..faults import WorkerTraceback, failure_message, formatted_traceback
from ..producer import IN_FLIGHT, Pending, produce_and_write


def _child(conn: Connection, config, backend: str, out_dir: str, producer_class) -> None:
    """A worker's loop: build the producer, then render each index it is sent until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us; no KeyboardInterrupt spew
    try:
        producer = producer_class(config, backend)
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
    queued: deque = field(default_factory=deque)  # indices sent, in order: the first is on the stage


def run_processes(config, backend: str, out_dir: Path, todo: Sequence[int], workers: int, producer_class) -> Iterator[dict]:
    """Records of `todo` as workers finish them; raises naming the image whose worker failed."""
    if not todo:
        return
    ctx = mp.get_context("spawn")
    slots: list[_Slot] = []
    pending = Pending(todo)
    clean = False
    try:
        n = min(workers, len(todo))
        env = renderer_threads_env(n)
        for _ in range(n):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_child, args=(child, config, backend, str(out_dir), producer_class), daemon=True)
            with _environment(env):
                proc.start()
            child.close()
            slots.append(_Slot(proc, parent))
        live = list(slots)
        while live:
            ready = wait([s.conn for s in live] + [s.proc.sentinel for s in live])
            for slot in list(live):
                if slot.conn not in ready and slot.proc.sentinel not in ready:
                    continue
                try:
                    kind, index, payload = slot.conn.recv()
                except (EOFError, OSError):
                    slot.proc.join(1)
                    code = slot.proc.exitcode
                    if not slot.queued:
                        raise SynthsceneError(f"a worker process died while starting (exit code {code})") from None
                    raise SynthsceneError(failure_message(slot.queued[0], config.seed, f"its worker process died (exit code {code})")) from None
                if kind == "init_error":
                    bad, message, tb = payload
                    raise (BadInput if bad else SynthsceneError)(message) from WorkerTraceback(tb)
                if kind == "error":
                    message, tb = payload
                    raise SynthsceneError(message) from WorkerTraceback(tb)
                if kind == "done":
                    slot.queued.popleft()
                    yield payload
                while pending and len(slot.queued) < IN_FLIGHT:
                    slot.queued.append(pending.popleft())
                    slot.conn.send(slot.queued[-1])
                if not slot.queued:
                    slot.conn.send(None)
                    live.remove(slot)
        clean = True
    finally:
        for slot in slots:
            if clean:
                slot.proc.join(30)
            if slot.proc.is_alive():
                slot.proc.terminate()
                slot.proc.join(5)
            if slot.proc.is_alive():
                slot.proc.kill()
                slot.proc.join()
            slot.conn.close()
