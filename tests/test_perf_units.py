"""Performance plumbing: torch thread choice under load, torch-free render workers, stage timings."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import ROOT, small_config

from synthscene.scenes.world import StageTimes
from synthscene.train.fit import choose_threads, training_threads

POST = {"transform": {"transform": {"__class_fullname__": "Compose", "p": 1.0, "transforms": [
    {"__class_fullname__": "GaussNoise", "p": 0.5, "std_range": [0.01, 0.05]}]}}}


def test_threads_one_when_another_process_keeps_a_core_busy():
    assert choose_threads(None, cores=2, busy=1.0) == 1
    assert choose_threads(None, cores=2, busy=0.6) == 1


def test_threads_all_cores_when_quiet_and_at_least_one_when_overloaded():
    assert choose_threads(None, cores=2, busy=0.1) == 2
    assert choose_threads(None, cores=8, busy=2.0) == 6
    assert choose_threads(None, cores=2, busy=5.0) == 1


def test_threads_asked_for_are_a_ceiling_lowered_under_load():
    assert choose_threads(2, cores=8, busy=0.0) == 2
    assert choose_threads(2, cores=2, busy=1.0) == 1  # bench_lmo.yaml's threads: 2 beside one busy process


def test_stage_times_accumulate_wall_and_cpu():
    t = StageTimes()
    for _ in range(2):
        with t("a"):
            sum(range(10_000))
    assert set(t.wall) == set(t.cpu) == {"a"} and t.wall["a"] > 0 and t.cpu["a"] >= 0
    t.reset()
    assert t.wall == {} and t.cpu == {}


def test_render_worker_loads_no_torch(tmp_path):
    """A worker process building its producer (post pipeline included) never imports torch
    (albumentations would: ~0.7 GB RSS per worker), and torch stays importable afterwards."""
    cfg = small_config(randomizers={**small_config()["randomizers"], "post": POST})
    code = f"""
import importlib.util, json, sys
from synthscene.config import config_from_dict
from synthscene.generation.producer import ImageProducer, without_torch
with without_torch():  # as the worker receives it: validated elsewhere
    config = config_from_dict(json.loads({json.dumps(json.dumps(cfg))}))
producer = ImageProducer(config, "tiny")
assert producer.randomize_image.post.compose is not None
producer.produce(0)
print(json.dumps({{"torch": "torch" in sys.modules, "findable": importlib.util.find_spec("torch") is not None}}))
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"torch": False, "findable": True}


def test_indices_are_streamed_not_listed(tmp_path, monkeypatch):
    """generate hands the backends a range, never list(range(count)): a million-image run holds no list."""
    import synthscene.generation.pipeline as pipeline
    from synthscene import load_config
    from synthscene.generation.producer import Pending
    from robust_helpers import small_config_file

    seen = {}

    def fake_render(config, renderer, backend, out_dir, todo, *rest):
        seen["todo"] = todo
        return 0.0

    monkeypatch.setattr(pipeline, "_render", fake_render)
    monkeypatch.setattr(pipeline, "finish", lambda *a: None)
    pipeline.generate(load_config(small_config_file(tmp_path, count=5)), tmp_path / "o", count=1_000_000, progress=False)
    assert isinstance(seen["todo"], range) and len(seen["todo"]) == 1_000_000
    pending = Pending(range(3))
    assert [pending.popleft() for _ in range(3)] == [0, 1, 2] and not pending


def test_fixed_threads_are_kept_however_busy_the_machine():
    """The benchmark fixes them: the same seed trains other weights at another thread count."""
    assert training_threads(2, fixed=True, busy=5.0) == 2
    assert training_threads(1, fixed=True, busy=0.0) == 1
    assert training_threads(2, fixed=False, busy=1.0 * len(os.sched_getaffinity(0))) == 1
