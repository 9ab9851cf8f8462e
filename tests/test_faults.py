"""Faults during a run: a crashing worker, Ctrl-C, and SIGKILL at random moments then --resume."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import psutil
import pytest

from synthscene import load_config
from synthscene.core.errors import SynthsceneError
from synthscene.core.files import atomic_write
from synthscene.generation.pipeline import generate
from robust_helpers import KilledOnceAt2, RaiseAt4, SegfaultAt3, cli, dataset_files, popen, small_config_file


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run of the config the fault tests use."""
    folder = tmp_path_factory.mktemp("ref")
    cfg = small_config_file(folder, count=24)
    generate(load_config(cfg), folder / "out", progress=False)
    return cfg, dataset_files(folder / "out")


def _workers_alive():
    """Our worker processes (not multiprocessing's long-lived resource tracker)."""
    return [c for c in psutil.Process().children() if "resource_tracker" not in " ".join(c.cmdline())]


@pytest.mark.parametrize("producer, index, cause", [(SegfaultAt3, 3, "worker process died"), (RaiseAt4, 4, "ValueError: boom")])
def test_worker_crash_names_index_and_seed_and_keeps_work(reference, tmp_path, producer, index, cause):
    cfg, ref = reference
    out = tmp_path / "o"
    with pytest.raises(SynthsceneError) as exc:  # the class is handed to the spawned workers by reference
        generate(load_config(cfg), out, workers=2, progress=False, producer=producer)
    msg = str(exc.value)
    assert f"image {index} (seed 5)" in msg and cause in msg and f"--only {index}" in msg and "--resume" in msg
    assert not _workers_alive(), "workers must be gone"
    kept = sorted(int(p.stem) for p in (out / ".synthscene/records").glob("*.json"))
    assert index not in kept and kept  # what was done before the crash is kept
    generate(load_config(cfg), out, workers=2, resume=True, progress=False)
    assert dataset_files(out) == ref


def test_a_worker_that_dies_once_is_replaced_and_the_run_completes(reference, tmp_path, capfd):
    """A crash that does not happen again (a flaky driver) costs a new worker, not the run: the
    image is rendered again and the output is the uninterrupted run's bytes. (A crash that does
    happen again is named: test_worker_crash_names_index_and_seed_and_keeps_work.)"""
    cfg, ref = reference
    res = generate(load_config(cfg), tmp_path / "o", workers=2, progress=False, producer=KilledOnceAt2)
    assert res.rendered == 24 and (cfg.parent / "killed-once").exists()
    assert dataset_files(tmp_path / "o") == ref
    assert "rendering its images again on a new worker" in capfd.readouterr().err
    (cfg.parent / "killed-once").unlink()


def test_resume_removes_stray_temporaries(reference, tmp_path):
    cfg, ref = reference
    out = tmp_path / "o"
    generate(load_config(cfg), out, only=[0, 1], progress=False)
    stray = out / "images" / "train" / ".000002.jpg.tmp-999999"
    atomic_write(out / "images/train/keep.txt", "x")
    stray.write_bytes(b"half a jpeg")
    (out / "labels/train/000002.txt").parent.mkdir(parents=True, exist_ok=True)
    generate(load_config(cfg), out, resume=True, progress=False)
    assert not list(out.rglob(".*.tmp-*"))
    (out / "images/train/keep.txt").unlink()
    assert dataset_files(out) == ref


def _records(out):
    d = out / ".synthscene" / "records"
    return len(list(d.glob("*.json"))) if d.exists() else 0


def test_sigkill_at_random_moments_then_resume_is_identical(reference, tmp_path):
    """Real `synthscene generate` runs killed (whole process group: parent and workers) at random
    moments, several times, then --resume: the same bytes as the uninterrupted run."""
    cfg, ref = reference
    out = tmp_path / "o"
    rng = np.random.default_rng(20261122)  # test-only schedule of kill moments
    kills = 0
    for attempt in range(4):
        args = ["generate", str(cfg), "--out", str(out), "--workers", "2"] + (["--resume"] if attempt else [])
        proc = popen(*args)
        before = _records(out)
        deadline = time.monotonic() + 120
        # wait until it is producing (or finished), then kill after a random extra delay
        while proc.poll() is None and _records(out) <= before and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(float(rng.uniform(0.0, 0.4)))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            kills += 1
        proc.communicate(timeout=60)
    assert kills >= 2, "the runs finished before they could be killed; make the config longer"
    res = cli("generate", str(cfg), "--out", str(out), "--workers", "2", "--resume")
    assert res.returncode == 0, res.stderr
    assert not list(out.rglob(".*.tmp-*"))
    got = dataset_files(out)
    assert got.keys() == ref.keys() and got == ref
    again = cli("generate", str(cfg), "--out", str(out), "--workers", "2", "--resume")  # nothing left to do
    assert again.returncode == 0 and "0 images rendered" in again.stdout, again.stderr
    assert dataset_files(out) == ref
    manifest = (out / "manifest.jsonl").read_text().splitlines()
    assert len(manifest) == 24 and [int(line.split(",")[0].split(":")[1]) for line in manifest] == list(range(24))


def test_ctrl_c_stops_cleanly_and_resumes(reference, tmp_path):
    cfg, ref = reference
    out = tmp_path / "o"
    proc = popen("generate", str(cfg), "--out", str(out), "--workers", "2")
    deadline = time.monotonic() + 120
    while _records(out) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "finished before it could be interrupted"
    workers = psutil.Process(proc.pid).children(recursive=True)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "interrupted" in err and "--resume" in err
    time.sleep(0.5)
    assert not [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
    assert not list(out.rglob(".*.tmp-*"))
    assert not (out / ".synthscene/lock").exists()  # the output folder's lock is released on Ctrl-C
    res = cli("generate", str(cfg), "--out", str(out), "--workers", "2", "--resume")
    assert res.returncode == 0, res.stderr
    assert dataset_files(out) == ref


BENCH_CHILD = """
import multiprocessing, os, sys, time
from concurrent.futures import ProcessPoolExecutor
from synthscene.benchmark.run import die_with_parent

def work(path):
    open(path, "w").write(str(os.getpid()))
    time.sleep(300)

if __name__ == "__main__":
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=die_with_parent,
                             initargs=(os.getpid(),)) as pool:
        pool.submit(work, sys.argv[1]).result()
"""


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for a reaper that may never come in a container (as above)."""
    try:
        p = psutil.Process(pid)
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_killed_benchmark_takes_its_render_child_with_it(tmp_path):
    """The benchmark renders in a child process (Mesa and Triton cannot share one); killing the benchmark
    by PID used to leave that child rendering the whole dataset."""
    script, marker = tmp_path / "bench.py", tmp_path / "child.pid"
    script.write_text(BENCH_CHILD)
    proc = subprocess.Popen([sys.executable, str(script), str(marker)], cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
            assert proc.poll() is None, "the benchmark stand-in ended early"
            time.sleep(0.2)
        child = int(marker.read_text())
        assert _alive(child)
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 20
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(child), "the render child outlived the killed benchmark"
    finally:
        proc.kill()
        if marker.exists() and marker.read_text() and _alive(int(marker.read_text())):
            os.kill(int(marker.read_text()), signal.SIGKILL)
