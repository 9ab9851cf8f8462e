"""The Ray backend against a local Ray cluster this module starts and stops."""
from __future__ import annotations

import pytest

from synthscene import load_config
from synthscene.core.errors import SynthsceneError
from synthscene.generation.pipeline import generate
from robust_helpers import FailsToStart, KilledOnceAt2, ROOT, RaiseAt4, SegfaultAt3, dataset_files, small_config_file

pytestmark = pytest.mark.slow  # Ray, worker processes, a CLI subprocess or training

ray = pytest.importorskip("ray", reason="the ray extra is not installed")  # optional extra: pip install 'synthscene[ray]'


@pytest.fixture(scope="module")
def cluster():
    import os

    # Ray's workers import by PYTHONPATH (pytest only extends its own sys.path): the repo and tests/
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests")] + ([saved] if saved else []))
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    yield
    ray.shutdown()
    if saved is None:
        os.environ.pop("PYTHONPATH")
    else:
        os.environ["PYTHONPATH"] = saved


def test_ray_output_identical_to_local(cluster, tmp_path):
    cfg = load_config(small_config_file(tmp_path, count=12))
    generate(cfg, tmp_path / "local", workers=1, progress=False)
    res = generate(cfg, tmp_path / "ray", workers=2, backend="ray", progress=False)
    assert res.rendered == 12
    assert dataset_files(tmp_path / "ray") == dataset_files(tmp_path / "local")
    assert ray.is_initialized()  # a cluster it did not start is left running


def test_ray_actor_keeps_world_between_tasks(cluster, tmp_path):
    from synthscene.generation.executors.ray import ImageActor

    cfg = load_config(small_config_file(tmp_path, count=4))
    actor = ray.remote(num_cpus=1)(ImageActor).remote(cfg, "auto")
    w = ray.get(actor.render.remote(0))
    loads = ray.get(actor.__ray_call__.remote(lambda self: dict(self.producer.world.loads)))
    ray.get([actor.render.remote(i) for i in (1, 2, 3)])
    assert w[0] == "done"
    assert ray.get(actor.__ray_call__.remote(lambda self: dict(self.producer.world.loads))) == loads
    ray.kill(actor)


def test_ray_resume_and_failure_message(cluster, tmp_path):
    cfg = load_config(small_config_file(tmp_path, count=8))
    with pytest.raises(SynthsceneError, match=r"image 4 \(seed 5\) failed: ValueError: boom"):  # the class goes to the actors by reference
        generate(cfg, tmp_path / "o", workers=2, backend="ray", progress=False, producer=RaiseAt4)
    generate(cfg, tmp_path / "o", workers=2, backend="ray", resume=True, progress=False)
    generate(cfg, tmp_path / "local", progress=False)
    assert dataset_files(tmp_path / "o") == dataset_files(tmp_path / "local")


def test_ray_actor_death_names_the_image(cluster, tmp_path):
    cfg = load_config(small_config_file(tmp_path, count=6))
    with pytest.raises(SynthsceneError, match=r"image 3 \(seed 5\) failed: its Ray actor died"):
        generate(cfg, tmp_path / "o", workers=2, backend="ray", progress=False, producer=SegfaultAt3)


def test_an_actor_killed_once_is_replaced_and_the_run_completes(cluster, tmp_path):
    """docs/ROBUSTNESS.md, Faults: a killed actor's images are rendered again on a fresh one; only an
    image that kills the fresh actor too stops the run (test_ray_actor_death_names_the_image)."""
    cfg = load_config(small_config_file(tmp_path, count=6))
    res = generate(cfg, tmp_path / "o", workers=2, backend="ray", progress=False, producer=KilledOnceAt2)
    assert res.rendered == 6 and (tmp_path / "killed-once").exists()
    generate(cfg, tmp_path / "local", progress=False)
    assert dataset_files(tmp_path / "o") == dataset_files(tmp_path / "local")


def test_ray_actor_that_cannot_start_is_not_blamed_on_an_image(cluster, tmp_path):
    cfg = load_config(small_config_file(tmp_path, count=4))
    with pytest.raises(SynthsceneError, match=r"a Ray actor failed to start: .*no GL here") as exc:
        generate(cfg, tmp_path / "o", workers=2, backend="ray", progress=False, producer=FailsToStart)
    assert "image" not in str(exc.value).split("failed to start")[0]
