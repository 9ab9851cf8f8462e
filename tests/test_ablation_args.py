"""benchmarks/ablation.py's variant arguments: the split between budget keys and Ultralytics
arguments decides what a variant's row claims, so it is pinned here."""
import importlib.util
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("ablation", Path(__file__).parents[1] / "benchmarks" / "ablation.py")
ablation = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ablation)


def test_train_variant_values_are_typed_as_yaml_reads_them():
    name, kv = ablation.parse_train("imgsz320=imgsz=320,images_seen=2304,mosaic=0.0,rect=false")
    assert name == "imgsz320"
    assert kv == {"imgsz": 320, "images_seen": 2304, "mosaic": 0.0, "rect": False}
    assert type(kv["mosaic"]) is float and type(kv["imgsz"]) is int
    assert {k for k in kv if k in ablation.BUDGET_KEYS} == {"imgsz", "images_seen"}


@pytest.mark.parametrize("bad", ["noequals", "name=", "name=mosaic", "name=mosaic=0,=3"])
def test_malformed_train_variant_is_refused_with_its_text(bad):
    with pytest.raises(SystemExit, match="--train"):
        ablation.parse_train(bad)


def test_summary_is_mean_and_sample_std_over_seeds():
    s = ablation.summary([0.2, 0.4])
    assert s == {"mean": 0.3, "std": 0.1414, "n_seeds": 2}
    assert ablation.summary([0.5])["std"] == 0.0


def test_paired_difference_below_twice_the_seed_noise_is_no_measurable_effect():
    base = {0: 0.30, 1: 0.34}
    small = ablation.paired(base, {0: 0.31, 1: 0.36})  # +0.015; seed stds 0.028 and 0.035
    assert small["verdict"] == "no measurable effect" and small["delta"] == 0.015
    assert small["pooled_std"] == pytest.approx(((0.0008 + 0.00125) / 2) ** 0.5, abs=1e-4)  # sample variances
    big = ablation.paired(base, {0: 0.45, 1: 0.47})
    assert big["verdict"] == "better" and big["delta"] == 0.14 and big["delta_std"] == pytest.approx(0.0141, abs=1e-4)
    assert ablation.paired(base, {0: 0.10, 1: 0.12})["verdict"] == "worse"
    assert ablation.paired(base, {0: 0.5})["verdict"] == "one seed: no noise estimate"
    assert ablation.paired(base, {5: 0.5}) is None  # no seed in common: nothing paired
    assert "no measurable effect" in ablation.verdict_cell(small)


def test_mean_curve_over_seeds_and_to_the_shortest():
    runs = [{"curve": [{"epoch": 1, "mAP50": 0.1}, {"epoch": 2, "mAP50": 0.3}]},
            {"curve": [{"epoch": 1, "mAP50": 0.2}]}, {}]
    assert ablation.mean_curve(runs) == [{"epoch": 1, "mAP50": 0.15}]
    assert ablation.mean_curve([{}]) == []


def test_loop_rows_pair_targeted_with_untargeted_by_seed_and_print_the_aimed_slices(capsys):
    from synthscene.benchmark.report import targeted_summary

    def arm(kind, seed, m, small):
        return {"kind": kind, "seed": seed, "images_seen": 3000, "epochs": 10, "eval": {"mAP50": m, "mAP50-95": m / 2},
                "start": {"from": "finetune-k10", "seed": seed},
                "targeted": {"after": {"eval": {"coco_size: small": small}}, "before": {"eval": {"coco_size: small": 0.2}}}}

    results = [arm("targeted", 0, 0.70, 0.5), arm("targeted", 1, 0.72, 0.6),
               arm("untargeted", 0, 0.60, 0.3), arm("untargeted", 1, 0.61, 0.3)]
    loop = ablation.loop_summary(results, targeted_summary)
    r1 = loop["rounds"]["targeted"]
    assert r1["vs_untargeted"]["delta"] == pytest.approx(0.105) and r1["vs_untargeted"]["verdict"] == "better"
    assert r1["targeted"]["mean"] == 0.71 and "targeted2" not in loop["rounds"]
    assert loop["summary"]["start"] == "finetune-k10"
    ablation.print_loop("lmo", loop)
    out = capsys.readouterr().out
    assert "Loop on lmo's finetune-k10 detectors" in out and "| 1 | 3000 | 0.710 ± 0.014 | 0.605 ± 0.007 |" in out
    assert "| eval | coco_size: small | 1 | 0.200 | 0.600 | 0.300 |" in out
