"""The benchmark with a toy budget: every kind of arm trained, measured on held-apart real photos, reported."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from _train_fixtures import needs_gold, small_gold, tiny_synthetic_config
from synthscene.errors import BadInput

pytestmark = needs_gold

TOY = {"imgsz": 64, "batch": 4, "synthetic_images": 8, "epochs": {"synthetic": 1, "real": 1, "mixed": 1, "finetune": 1}}


def bench_file(tmp: Path, **overrides) -> Path:
    tiny_synthetic_config(tmp)
    if not (tmp / "gold").exists():
        small_gold(tmp / "gold", 12)
    doc = {"dataset": "tiny.yaml", "gold": "gold", "seed": 1, "eval_fraction": 0.34, "real_k": [2, "all"],
           "out": "out", "profile": "toy", "profiles": {"toy": TOY}, **overrides}
    (tmp / "bench.yaml").write_text(yaml.safe_dump(doc))
    return tmp / "bench.yaml"


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    from synthscene.train import run_benchmark

    tmp = tmp_path_factory.mktemp("bench")
    log: list[str] = []
    report = run_benchmark(bench_file(tmp), command="synthscene benchmark bench.yaml", log=log.append)
    return tmp, report, log


def test_every_arm_runs_and_is_reported(bench):
    tmp, report_md, log = bench
    out = tmp / "out" / "toy"
    assert report_md == out / "report.md"
    report = json.loads((out / "report.json").read_text())
    assert [(a["kind"], a["k_label"]) for a in report["arms"]] == [
        ("synthetic", "0"), ("real", "2"), ("real", "all"), ("mixed", "2"), ("mixed", "all"),
        ("finetune", "2"), ("finetune", "all")]
    for name in ("map_vs_k.png", "per_class_ap.png", "pr_curves.png"):
        assert (out / name).stat().st_size > 1000
    text = report_md.read_text()
    assert "synthscene benchmark bench.yaml" in text and report["config_hash"] in text
    assert report["versions"]["ultralytics"] and report["versions"]["torch"]
    train, held = report["split"]["train"], report["split"]["eval"]
    assert len(train) == 8 and len(held) == 4 and not set(train) & set(held)


def test_numbers_come_from_real_evaluations(bench):
    """Each arm's reported numbers are its evaluation file's, and re-evaluating its weights gives them again."""
    from synthscene.train import evaluate
    from synthscene.train.data import load_gold

    tmp, report_md, _ = bench
    report = json.loads((tmp / "out" / "toy" / "report.json").read_text())
    gold = load_gold(tmp / "gold")
    held = [p for p in gold.images if p.name in report["split"]["eval"]]
    instances = sum(len((tmp / "gold" / "labels" / f"{p.stem}.txt").read_text().split("\n")) - 1 for p in held)
    for arm in report["arms"]:
        saved = json.loads(Path(arm["eval_file"]).read_text())
        assert arm["eval"]["mAP50"] == saved["mAP50"] and arm["eval"]["mAP50-95"] == saved["mAP50-95"]
        assert saved["instances"] == instances and saved["images"] == 4
        assert f"{saved['mAP50']:.3f}" in report_md.read_text()
    arm = report["arms"][-1]
    again = evaluate(json.loads(Path(arm["eval_file"]).read_text())["weights"], gold, images=held, imgsz=64)
    assert again["mAP50"] == arm["eval"]["mAP50"] and again["per_class"] == arm["eval"]["per_class"]
    fine = json.loads((tmp / "out" / "toy" / "arms" / "finetune-k2" / "arm.json").read_text())
    assert fine["spec"]["start"]["from"] == "synthetic" and fine["spec"]["real_images"] == report["split"]["train"][:2]


def test_finished_arms_are_cached(bench):
    from synthscene.train import run_benchmark

    tmp, _, _ = bench
    log: list[str] = []
    run_benchmark(tmp / "bench.yaml", log=log.append)
    assert sum("(cached)" in line for line in log) == 7 and not any("training" in line for line in log)


def test_eval_images_must_not_be_trained_on(bench):
    from synthscene.train import run_benchmark

    tmp, _, _ = bench
    with pytest.raises(BadInput, match="also real training images"):
        run_benchmark(tmp / "bench.yaml", eval_gold=tmp / "gold")


def test_bench_config_errors(tmp_path):
    from synthscene.train import run_benchmark
    from synthscene.train.bench_config import load_bench_config

    with pytest.raises(BadInput, match="unknown key"):
        load_bench_config(bench_file(tmp_path, epochs=3))
    with pytest.raises(BadInput, match="profile 'gpu'"):
        load_bench_config(bench_file(tmp_path, profile="gpu"))
    with pytest.raises(BadInput, match="train part has 8"):
        run_benchmark(bench_file(tmp_path, real_k=[50]))


def test_lmo_benchmark_config_plans_every_arm():
    """configs/bench_lmo.yaml validates, and its cpu profile plans 13 arms with step floors for small k."""
    from synthscene.train.bench_config import load_bench_config
    from synthscene.train.benchmark import plan_arms

    cfg = load_bench_config(Path(__file__).resolve().parents[1] / "configs" / "bench_lmo.yaml")
    assert {"cpu", "gpu"} <= set(cfg.profiles) and cfg.profile == "cpu"
    arms = plan_arms(cfg, cfg.budget("cpu"), 100)
    assert len(arms) == 13 and arms[0].id == "synthetic"
    epochs = {a.id: a.epochs for a in arms}
    assert epochs["real-k10"] == 400 and epochs["real-kall"] == 40 and epochs["finetune-k10"] == 200
    assert cfg.budget("gpu").device == "0" and cfg.content_hash("cpu") != cfg.content_hash("gpu")


_LEAK = """\
import sys
from pathlib import Path
from synthscene.errors import SynthsceneError
from synthscene.train.benchmark import Runner, Split
tmp = Path(sys.argv[1])
(tmp / "a.jpg").write_bytes(b"same photo")
(tmp / "b.jpg").write_bytes(b"same photo")  # another name, the same bytes: a leak
split = Split(train=[tmp / "a.jpg"], eval=[tmp / "b.jpg"], eval_gold=None)
runner = Runner(None, None, tmp / "out", split, None, None, "", ["x"], print)
try:
    runner.real_view(1)
except SynthsceneError as err:
    print("refused:", err)
"""


def test_leakage_check_holds_under_python_O(tmp_path):
    """The evaluation-leakage check is a real exception, so `python -O` (which strips asserts) keeps it."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    res = subprocess.run([sys.executable, "-O", "-c", _LEAK, str(tmp_path)], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": str(root)})
    assert res.returncode == 0, res.stderr
    assert "refused: 1 evaluation image(s) would be in the real training set" in res.stdout
    assert not (tmp_path / "out").exists()  # refused before the view is written
