"""The benchmark: fair (equal-budget) arms, seeds, bootstrap intervals, disjoint splits, the targeted arm.

Most tests run on fakes (planning, statistics, a monkeypatched training); one tiny real run goes
through `synthscene benchmark` end to end.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from _train_fixtures import needs_gold, small_gold, tiny_synthetic_config
from synthscene.core.errors import BadInput

ROOT = Path(__file__).resolve().parents[1]
TOY = {"imgsz": 64, "batch": 4, "synthetic_images": 8, "images_seen": 10, "seeds": [0]}  # 5 synthetic train images


def bench_file(tmp: Path, **overrides) -> Path:
    tiny_synthetic_config(tmp)
    if not (tmp / "gold").exists():
        small_gold(tmp / "gold", 12)
    doc = {"dataset": "tiny.yaml", "gold": "gold", "seed": 1, "eval_fraction": 0.34, "real_k": [2],
           "arms": ["synthetic", "real", "finetune"], "out": "out", "profile": "toy", "profiles": {"toy": TOY},
           **overrides}
    (tmp / "bench.yaml").write_text(yaml.safe_dump(doc))
    return tmp / "bench.yaml"


def lmo():
    from synthscene.benchmark.bench_config import load_bench_config

    if not (ROOT / ".." / "shared" / "gold").is_dir():
        pytest.skip("../shared (the LM-O gold set configs/bench_lmo.yaml reads) is absent")
    return load_bench_config(ROOT / "configs" / "bench_lmo.yaml")


# ---- planning: equal budgets --------------------------------------------------------------------


def test_every_arm_gets_the_budget_or_is_flagged_unequal():
    from synthscene.benchmark.run import plan_arms

    cfg = lmo()
    cfg = cfg.model_copy(update={"real_k": [10, 25, 50, "all"], "arms": [*cfg.arms, "mixed"]})  # every kind
    budget = cfg.budget("cpu")
    arms = plan_arms(cfg, budget, 80, 1795)  # 2,000 images split per image: 1,795 train (measured)
    for a in arms:
        assert a.equal == (abs(a.images_seen - budget.images_seen) <= 36 and not a.note), a.id
        if not a.equal:
            assert a.note, a.id  # every unequal arm says why
    by_id = {a.id: a for a in arms}
    for g in ("synthetic", "real-k10", "real-k25", "real-k50", "real-kall", "finetune-k10", "finetune-kall"):
        arm = by_id[f"{g}-s0"]
        assert arm.equal and abs(arm.epochs * arm.n_images - 3600) <= 36, g
    assert by_id["real-k10-s0"].epochs == 360 and by_id["synthetic-s0"].epochs == 2  # 3,590 seen, not 3 epochs
    assert not by_id["mixed-k10-s0"].equal and "whole epochs" in by_id["mixed-k10-s0"].note
    assert not by_id["real-converged-s0"].equal and "patience" in by_id["real-converged-s0"].note
    # seeds: the seeded groups three times, the others once
    seeds = {}
    for a in arms:
        seeds.setdefault(a.group, []).append(a.seed)
    assert seeds["synthetic"] == seeds["real-k10"] == seeds["real-kall"] == seeds["finetune-k10"] == [0, 1, 2]
    assert seeds["real-k25"] == seeds["mixed-kall"] == [0]
    assert {a.start_seed for a in arms if a.group == "finetune-k10"} == {0, 1, 2}


def test_capped_arm_is_flagged():
    from synthscene.benchmark.run import plan_arms

    cfg = lmo()
    budget = cfg.budget("cpu").model_copy(update={"max_epochs": 100})
    arm = next(a for a in plan_arms(cfg, budget, 80, 1800) if a.id == "real-k10-s0")
    assert arm.epochs == 100 and not arm.equal and "capped" in arm.note


def test_targeted_and_untargeted_plan_equal_images_and_epochs():
    from synthscene.benchmark.run import plan_arms

    cfg = lmo()
    arms = plan_arms(cfg, cfg.budget("cpu"), 80, 1800)
    t = {a.seed: a for a in arms if a.kind == "targeted"}
    u = {a.seed: a for a in arms if a.kind == "untargeted"}
    assert sorted(t) == sorted(u) == [0, 1, 2]
    for s in t:
        assert t[s].n_images == u[s].n_images == 1800 + cfg.budget("cpu").targeted_images
        assert t[s].epochs == u[s].epochs and t[s].start_seed == u[s].start_seed == s


def test_loop_from_the_synthetic_detector_trains_its_own_budget():
    """targeted_images_seen bounds the loop arms built on the synthetic detector too: the steer regime's
    synthetic arm is 36,000 presentations, and each loop arm repeating that would cost an hour."""
    from synthscene.benchmark.run import plan_arms

    cfg = lmo()
    steer = cfg.budget("steer").model_copy(update={"targeted_from": "synthetic", "targeted_images_seen": 4000})
    arms = {a.id: a for a in plan_arms(cfg, steer, 80, 1800)}
    assert arms["synthetic-s0"].epochs == 20  # the synthetic arm keeps images_seen
    for s in (0, 1):
        t, u = arms[f"targeted-s{s}"], arms[f"untargeted-s{s}"]
        assert t.n_images == u.n_images == 2000 and t.epochs == u.epochs == 2 and t.budget == 4000
        assert t.start_kind == "synthetic" and t.start_seed == s


def test_each_arm_kind_trains_with_its_own_arguments_on_top_of_args():
    """finetune_args for fine-tunes and the loop built on them, real_args for the references,
    continue_args for the loop arms continuing the synthetic detector; the synthetic arm args alone."""
    from synthscene.benchmark.run import plan_arms, train_args

    cfg = lmo()
    steer = cfg.budget("steer")
    assert steer.continue_args["lr0"] < steer.args["lr0"]
    for start in ("synthetic", "finetune"):
        b = steer.model_copy(update={"targeted_from": start})
        arms = {a.id: a for a in plan_arms(cfg, b, 80, 1800)}
        assert train_args(b, arms["synthetic-s0"]) == b.args
        assert train_args(b, arms["finetune-k10-s0"]) == {**b.args, **b.finetune_args}
        assert train_args(b, arms["real-k10-s0"]) == {**b.args, **b.real_args}
        loop = {**b.args, **(b.continue_args if start == "synthetic" else b.finetune_args)}
        for arm in ("targeted-s1", "untargeted-s0", "targeted2-s0", "untargeted2-s1"):
            assert train_args(b, arms[arm]) == loop, (start, arm)


def test_lmo_config_profiles():
    cfg = lmo()
    assert {"cpu", "gpu", "toy"} <= set(cfg.profiles) and cfg.profile == "cpu"
    assert cfg.budget("cpu").seeds == [0, 1, 2] and cfg.budget("cpu").images_seen
    assert cfg.budget("gpu").device == "0" and cfg.content_hash("cpu") != cfg.content_hash("gpu")


# ---- statistics -----------------------------------------------------------------------------------


def fake_arm(group, kind, k, seed, m50, m5095, seen=3600, equal=True):
    from synthscene.benchmark.run import lr_schedule

    e = {"mAP50": m50, "mAP50-95": m5095, "precision": 0.5, "recall": 0.5, "per_class": {"duck": {"AP50": m50}},
         "recall_by_size": {s: {"recall": 0.5} for s in ("small", "medium", "large")},
         "pr_curve": {"recall": [0, 1], "precision": {"duck": [1, 0]}}}
    return {"id": f"{group}-s{seed}", "group": group, "kind": kind, "k": k, "k_label": "all" if k == 80 else str(k),
            "seed": seed, "epochs": 2, "epochs_run": 2, "images_seen": seen, "budget_images_seen": 3600,
            "equal_budget": equal, "budget_note": "" if equal else "capped at max_epochs 9", "train_seconds": 60.0,
            "lr_schedule": lr_schedule({"lr0": 0.002}), "eval": e,
            "bootstrap_mAP50": {"point": m50, "low": m50 - 0.1, "high": m50 + 0.1, "resamples": 200}}


def test_group_mean_std_and_seeds():
    from synthscene.benchmark.report import group_summary

    arms = [fake_arm("real-k10", "real", 10, s, v, v / 2) for s, v in ((0, 0.2), (1, 0.4), (2, 0.6))]
    arms.append(fake_arm("real-k25", "real", 25, 0, 0.5, 0.25))
    g = {x["group"]: x for x in group_summary(arms)}
    assert g["real-k10"]["mAP50"]["mean"] == pytest.approx(0.4)
    assert g["real-k10"]["mAP50"]["std"] == pytest.approx(0.2)  # sample std of 0.2, 0.4, 0.6
    assert g["real-k10"]["mAP50-95"]["std"] == pytest.approx(0.1) and g["real-k10"]["mAP50"]["n_seeds"] == 3
    assert g["real-k25"]["mAP50"] == {"mean": 0.5, "std": None, "n_seeds": 1}


def fake_report(arms):
    from synthscene.benchmark.report import group_summary, targeted_summary

    return {"command": "synthscene benchmark x.yaml", "config": "x.yaml", "config_hash": "abc", "profile": "cpu",
            "budget": {"synthetic_images": 2000, "model": "yolov8n.yaml", "imgsz": 256, "batch": 8, "device": "cpu",
                       "images_seen": 3600},
            "dataset_config": "lmo.yaml", "synthetic_hash": "h", "gold": "g", "eval_gold": "g",
            "split": {"seed": 0, "train": ["a"] * 80, "eval": ["b"] * 50, "diagnosis": ["c"] * 20},
            "classes": ["duck"], "versions": {"ultralytics": "8"}, "host": {"cpus": 2}, "wall_seconds": 60,
            "arms": arms, "groups": group_summary(arms), "targeted": targeted_summary(arms)}


def test_report_table_has_the_budget_column_and_ratios_only_at_equal_budget(tmp_path):
    from synthscene.benchmark.report import markdown, write_report

    arms = [fake_arm("synthetic", "synthetic", None, 0, 0.3, 0.1), fake_arm("real-kall", "real", 80, 0, 0.4, 0.2),
            fake_arm("finetune-k10", "finetune", 10, 0, 0.6, 0.3), fake_arm("real-k10", "real", 10, 0, 0.3, 0.1,
                                                                          seen=900, equal=False)]
    text = markdown(fake_report(arms))
    assert "| arm | k | budget (images seen · train s) | mAP50 | mAP50-95 |" in text
    assert "| synthetic only | – | 3,600 images · 60 s · equal |" in text
    assert "synthetic-only / real-only on all, mAP50: 0.75 (equal budgets" in text
    assert "fine-tune on 10 / real-only on 10" in text and "no ratio given, the budgets differ" in text
    assert "0.900" not in text  # no ratio between unequal arms
    write_report(tmp_path, fake_report(arms))
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["arms"][0]["images_seen"] == 3600 and saved["arms"][0]["seed"] == 0
    assert saved["groups"][0]["mAP50"]["n_seeds"] == 1 and saved["arms"][0]["lr_schedule"]["lr0"] == 0.002


def fake_stats(seed=0, n_images=30):
    rng = np.random.default_rng(seed)
    rows = {k: [] for k in ("tp", "conf", "pred_cls", "pred_img", "target_cls", "target_img")}
    for i in range(n_images):
        nt, npred = rng.integers(1, 4), rng.integers(0, 5)
        rows["target_cls"] += rng.integers(0, 3, nt).tolist()
        rows["target_img"] += [i] * nt
        rows["tp"] += (rng.random(npred) < 0.6).tolist()
        rows["conf"] += rng.random(npred).tolist()
        rows["pred_cls"] += rng.integers(0, 3, npred).tolist()
        rows["pred_img"] += [i] * npred
    out = {k: np.array(v) for k, v in rows.items()}
    out["tp"] = out["tp"].astype(bool)
    out["n_images"] = n_images
    return out


def test_bootstrap_interval_contains_the_point_and_is_deterministic():
    from synthscene.benchmark.bootstrap import bootstrap_map50, map50

    stats = fake_stats()
    a = bootstrap_map50(stats, n=100, seed=3)
    assert a == bootstrap_map50(stats, n=100, seed=3)
    assert a["low"] <= a["point"] <= a["high"] and a["low"] < a["high"]
    assert a["point"] == map50(stats)
    assert bootstrap_map50(stats, n=100, seed=4)["low"] != a["low"]


def test_map50_from_matches_is_ultralytics_ap_per_class():
    """The re-scoring is Ultralytics' own: the full sample gives ap_per_class's mAP50 on the same arrays."""
    from ultralytics.utils.metrics import ap_per_class

    from synthscene.benchmark.bootstrap import map50

    s = fake_stats(1)
    ap = ap_per_class(s["tp"][:, None], s["conf"], s["pred_cls"], s["target_cls"])[5]
    assert map50(s) == pytest.approx(ap[:, 0].mean())


# ---- splits and leakage ---------------------------------------------------------------------------


@needs_gold
def test_splits_are_disjoint_by_content(tmp_path):
    from synthscene.benchmark.run import split_gold
    from synthscene.realdata.gold import file_digest, load_gold

    gold = load_gold(small_gold(tmp_path / "gold", 20))
    split = split_gold(gold, 0, 0.3, None, diagnosis_fraction=0.25)
    parts = [{file_digest(p) for p in x} for x in (split.train, split.eval, split.diagnosis)]
    assert all(parts) and not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert len(split.diagnosis) == 4 and len(split.eval) == 6 and len(split.train) == 10
    # the first k training photos do not depend on the diagnosis split
    assert split_gold(gold, 0, 0.3, None).train[:10] == split.train
    # a photo copied under another name into the evaluation set is caught by content
    ev = small_gold(tmp_path / "ev", 2, start=0)
    (ev / "images" / "copy.png").symlink_to(split.diagnosis[0].resolve())
    shutil.copy(gold.label_of(split.diagnosis[0]), ev / "labels" / "copy.txt")
    with pytest.raises(BadInput, match="also"):
        split_gold(gold, 0, 0.3, load_gold(ev), diagnosis_fraction=0.25)


@needs_gold
def test_training_data_with_an_eval_photo_is_refused(tmp_path):
    from synthscene.benchmark.run import Leak, Runner, split_gold
    from synthscene.realdata.gold import load_gold

    bench = bench_file(tmp_path)
    from synthscene.benchmark.bench_config import load_bench_config

    cfg = load_bench_config(bench)
    gold = load_gold(tmp_path / "gold")
    split = split_gold(gold, 1, 0.34, None, 0.25)
    runner = Runner(cfg, cfg.budget(), tmp_path / "o", split, gold, tmp_path, "h", gold.names, print)
    extra = tmp_path / "extra" / "images" / "train"
    extra.mkdir(parents=True)
    shutil.copy(split.eval[0], extra / "000001.png")  # renamed, same bytes
    data = tmp_path / "data.yaml"
    data.write_text(yaml.safe_dump({"train": [str(extra)], "val": str(extra), "names": {0: "x"}}))
    with pytest.raises(Leak, match="evaluation photo"):
        runner.check_training(data)
    split.train.insert(0, split.eval[0])  # what the old assert guarded: now an exception, also under -O
    with pytest.raises(Leak):
        runner.real_view(2)


# ---- the targeted arm, on fakes ---------------------------------------------------------------------


def _noise_images(folder: Path, n: int, seed: int) -> None:
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        cv2.imwrite(str(folder / f"{i:06d}.png"), rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))


MAP50 = {"targeted": 0.5, "targeted2": 0.6, "untargeted2": 0.35}  # the stand-in evaluation, per arm kind (else 0.3)
RECALL = {"small": {"synthetic": 0.1, "targeted": 0.9, "untargeted": 0.4, "targeted2": 0.9, "untargeted2": 0.4},
          "large": {"synthetic": 0.5, "targeted": 0.5, "untargeted": 0.45, "targeted2": 0.8, "untargeted2": 0.6}}


def _kind(arm_id: str) -> str:
    return arm_id.rsplit("-s", 1)[0]


def fake_pipeline(monkeypatch) -> tuple[dict, callable]:
    """Stand-ins for rendering, training, evaluation and diagnosis (each call recorded in `calls`), and a
    refine that narrows the camera's lens by 10° and, like `refine`, keeps earlier rounds' provenance and
    adds its own: round 1 aims at small boxes, round 2 at large ones."""
    import synthscene.diagnosis as diagnosis_pkg
    from synthscene.benchmark import run as bm
    from synthscene.benchmark import bootstrap as boot
    from synthscene.realdata.gold import file_digest
    from synthscene.train.fit import TrainResult

    from _train_fixtures import LMO

    calls = {"refine": [], "generate": [], "train": [], "diagnose": []}

    def ensure_synthetic(cfg, budget, base, dataset=None):
        ds = base / "synthetic-fake"
        _noise_images(ds / "images" / "train", 6, 0)
        return ds, "fakehash", LMO, 0.0

    def generate(dcfg, folder, workers):
        _noise_images(folder / "images" / "train", dcfg.count, dcfg.seed)
        calls["generate"].append((folder.name, dcfg.count, dcfg.seed, dcfg.camera.fov_deg))
        return 0.0

    def train(data, *, model, epochs, out, seed, **kw):
        doc = yaml.safe_load(Path(data).read_text())
        calls["train"].append({"arm": Path(out).parent.name, "epochs": epochs, "train": doc["train"], "model": str(model)})
        (Path(out) / "weights").mkdir(parents=True)
        for w in ("last.pt", "best.pt"):
            (Path(out) / "weights" / w).write_text(Path(out).parent.name)
        return TrainResult(Path(out), Path(out) / "weights/best.pt", Path(out) / "weights/last.pt", {}, epochs, 0.5, epochs)

    def evaluate(weights, gold, images=None, **kw):
        v = MAP50.get(_kind(Path(weights).read_text()), 0.3)
        return {"mAP50": v, "mAP50-95": v / 2, "precision": v, "recall": v, "per_class": {"duck": {"AP50": v}},
                "recall_by_size": {s: {"recall": v} for s in ("small", "medium", "large")},
                "pr_curve": {"recall": [0, 1], "precision": {"duck": [1, 0]}}}

    def diagnose(weights, gold, dataset, out, **kw):
        arm = Path(weights).read_text()
        calls["diagnose"].append((arm, Path(gold).name, {file_digest(p) for p in (Path(gold) / "images").iterdir()}))
        Path(out).mkdir(parents=True)
        (Path(out) / "report.json").write_text(json.dumps({"slices": {"coco_size": {"bins": [
            {"label": b, "recall": RECALL[b].get(_kind(arm), 0.2)} for b in ("small", "large")]}}}))

    def refine(config_path, diagnosis_dir, out, images=None):
        calls["refine"].append((Path(config_path), Path(diagnosis_dir).name, images))
        assert (Path(diagnosis_dir) / "report.json").is_file()
        doc = yaml.safe_load(Path(config_path).read_text())
        earlier = doc.pop("provenance", None) or []
        n = max((e["round"] for e in earlier), default=0) + 1
        doc["camera"]["fov_deg"] -= 10  # round 1: 40°, round 2: 30°
        doc["provenance"] = earlier + [{"round": n, "key": "camera.fov_deg", "dimension": "coco_size",
                                        "bin": ("small", "large")[n - 1]}]
        Path(out).write_text(yaml.safe_dump(doc))

    monkeypatch.setattr(bm, "ensure_synthetic", ensure_synthetic)
    monkeypatch.setattr(bm, "_generate", generate)
    monkeypatch.setattr(bm, "train", train)
    monkeypatch.setattr(bm, "evaluate", evaluate)
    monkeypatch.setattr(boot, "per_image_stats", lambda *a, **k: fake_stats())
    monkeypatch.setattr(diagnosis_pkg, "diagnose", diagnose)
    return calls, refine


def _split_digests(tmp_path: Path, report: dict) -> tuple[set, set]:
    from synthscene.realdata.gold import file_digest, load_gold

    gold = load_gold(tmp_path / "gold")
    return tuple({file_digest(p) for p in gold.images if p.name in report["split"][w]} for w in ("eval", "diagnosis"))


def _assert_no_leak(calls: dict, eval_d: set, diag_d: set) -> None:
    """By content: the evaluation and diagnosis photos are in no training data; diagnoses read their split."""
    from synthscene.realdata.gold import file_digest

    for t in calls["train"]:
        for d in t["train"]:
            assert not {file_digest(p) for p in Path(d).iterdir()} & (eval_d | diag_d), (t["arm"], d)
    for arm, split, digests in calls["diagnose"]:
        assert digests == (diag_d if split == "diagnosis" else eval_d)


ROUND2_TOY = {**TOY, "images_seen": 10, "seeds": [0, 1], "targeted_images": 4,
              "seeded_arms": ["synthetic", "targeted", "untargeted", "targeted2", "untargeted2"]}


@needs_gold
def test_targeted_arm_with_a_stand_in_refine(tmp_path, monkeypatch):
    """Diagnose → refine (one call, injected) → M images → continued training; the control gets the same M
    images' count, seed and epochs from the unchanged config; aimed slices measured before and after."""
    from synthscene.benchmark import run as bm

    calls, refine = fake_pipeline(monkeypatch)
    toy = {**TOY, "images_seen": 10, "seeds": [0, 1], "targeted_images": 4}
    bench = bench_file(tmp_path, arms=["synthetic", "real", "targeted", "untargeted"], diagnosis_fraction=0.25,
                       profiles={"toy": toy})
    report_md = bm.run_benchmark(bench, refine=refine, log=lambda m: None)
    report = json.loads((report_md.parent / "report.json").read_text())

    assert [(c.name, i) for c, _, i in calls["refine"]] == [("tiny.yaml", 4)] * 2
    gens = sorted(calls["generate"], key=lambda g: (g[2], g[3]))
    assert [(g[1], g[2], g[3]) for g in gens] == [(4, 1003, 40), (4, 1003, 50), (4, 1004, 40), (4, 1004, 50)]
    trained = {t["arm"]: t for t in calls["train"]}
    for s in (0, 1):
        t, u = trained[f"targeted-s{s}"], trained[f"untargeted-s{s}"]
        assert t["epochs"] == u["epochs"] == 1 and len(t["train"]) == len(u["train"]) == 2
        assert t["model"].endswith(f"synthetic-s{s}/run/weights/last.pt") and u["model"] == t["model"]
    _assert_no_leak(calls, *_split_digests(tmp_path, report))
    assert {(a, s) for a, s, _ in calls["diagnose"]} == {(f"{k}-s{s}", w) for k in ("synthetic", "targeted", "untargeted")
                                                         for s in (0, 1) for w in ("diagnosis", "eval")}
    t = report["targeted"]
    assert [r["seed"] for r in t["per_seed"]] == [0, 1] and all(r["equal"] for r in t["per_seed"])
    assert t["diff"]["mAP50"] == {"mean": pytest.approx(0.2), "std": pytest.approx(0.0), "n_seeds": 2}
    row = t["per_seed"][0]["slices"]["eval"]["coco_size: small"]
    assert row == {"before": 0.1, "targeted": 0.9, "untargeted": 0.4, "diff": pytest.approx(0.5)}
    assert set(t["per_seed"][0]["slices"]) == {"diagnosis", "eval"}
    assert t["round2"] is None
    text = report_md.read_text()
    assert "## Targeted vs untargeted images" in text and "round 2" not in text


@needs_gold
def test_targeted_arms_can_build_on_the_fine_tuned_detector(tmp_path, monkeypatch):
    """targeted_from finetune: the loop a user runs once ten photos are labelled. Diagnose the fine-tuned
    weights, refine, render M images; both arms continue the fine-tuned weights of their seed on the k real
    photos (listed mixed_real_repeat times) + the M images, targeted_images_seen presentations, with the
    fine-tune arguments; aimed slices measured before (the fine-tuned arm) and after."""
    from synthscene.benchmark import run as bm

    calls, refine = fake_pipeline(monkeypatch)
    toy = {**TOY, "seeds": [0, 1], "targeted_images": 4, "targeted_from": "finetune", "targeted_images_seen": 16,
           "mixed_real_repeat": 2, "finetune_args": {"nbs": 4}, "real_args": {"nbs": 2},
           "seeded_arms": ["synthetic", "finetune-k2", "targeted", "untargeted"]}
    bench = bench_file(tmp_path, arms=["synthetic", "real", "finetune", "targeted", "untargeted"],
                       diagnosis_fraction=0.25, profiles={"toy": toy})
    report_md = bm.run_benchmark(bench, refine=refine, log=lambda m: None)
    out = report_md.parent
    report = json.loads((out / "report.json").read_text())
    arms = {a["id"]: a for a in report["arms"]}
    trained = {t["arm"]: t for t in calls["train"]}
    real = str(out / "real" / "train-k2" / "images")
    for s in (0, 1):
        t, u = trained[f"targeted-s{s}"], trained[f"untargeted-s{s}"]
        assert t["model"].endswith(f"/finetune-k2-s{s}/run/weights/last.pt") and u["model"] == t["model"]
        assert t["epochs"] == u["epochs"] == 2 and arms[f"targeted-s{s}"]["images_seen"] == 16
        assert arms[f"targeted-s{s}"]["equal_budget"] and arms[f"targeted-s{s}"]["start"]["from"] == "finetune-k2"
        extra = json.loads((out / "arms" / f"targeted-s{s}" / "arm.json").read_text())["extra"]
        assert t["train"] == [real, real, extra["dataset"] + "/images/train"]  # no base synthetic images
        assert json.loads((out / "arms" / f"untargeted-s{s}" / "arm.json").read_text())["spec"]["args"]["nbs"] == 4
    assert json.loads((out / "arms" / "real-k2-s0" / "arm.json").read_text())["spec"]["args"]["nbs"] == 2
    assert json.loads((out / "arms" / "synthetic-s0" / "arm.json").read_text())["spec"]["args"].get("nbs") is None
    # refine read the fine-tuned weights' diagnosis; the slice effect compares against them
    assert len(calls["refine"]) == 2 and {a for a, w, _ in calls["diagnose"] if w == "diagnosis"} >= {
        "finetune-k2-s0", "finetune-k2-s1"}
    t = report["targeted"]
    assert t["start"] == "finetune-k2"
    assert t["per_seed"][0]["slices"]["eval"]["coco_size: small"] == {
        "before": 0.2, "targeted": 0.9, "untargeted": 0.4, "diff": pytest.approx(0.5)}
    assert "start from the same finetune-k2 arm's weights and train on the 2 real photos" in report_md.read_text()
    _assert_no_leak(calls, *_split_digests(tmp_path, report))


def test_targeted_from_finetune_needs_the_finetune_arm(tmp_path):
    from synthscene.benchmark.bench_config import load_bench_config

    bench = bench_file(tmp_path, arms=["synthetic", "targeted", "untargeted"], diagnosis_fraction=0.25,
                       profiles={"toy": {**TOY, "targeted_images": 4, "targeted_from": "finetune"}})
    with pytest.raises(BadInput, match="targeted_from finetune .* list `finetune`"):
        load_bench_config(bench)


@needs_gold
def test_round_two_continues_each_round_one_arm_on_top_of_a_cached_run(tmp_path, monkeypatch):
    """targeted2 / untargeted2 added to a finished run: round 1 is reused from the cache (same hashes, no
    training); round 2 starts from the round-1 weights of its seed, targeted2 refines round 1's refined
    config on the round-1 weights' (cached) diagnosis, both render M images with one new seed, and train
    on base + round 1's M + round 2's M; the report gets a round-2 table."""
    from synthscene.benchmark import run as bm

    calls, refine = fake_pipeline(monkeypatch)
    round1 = ["synthetic", "real", "targeted", "untargeted"]
    bench = bench_file(tmp_path, arms=round1, diagnosis_fraction=0.25, profiles={"toy": ROUND2_TOY})
    first = json.loads((bm.run_benchmark(bench, refine=refine, log=lambda m: None).parent / "report.json").read_text())
    before = {k: list(v) for k, v in calls.items()}
    for v in calls.values():
        v.clear()

    bench = bench_file(tmp_path, arms=round1 + ["targeted2", "untargeted2"], diagnosis_fraction=0.25,
                       profiles={"toy": ROUND2_TOY})
    report_md = bm.run_benchmark(bench, refine=refine, log=lambda m: None)
    report = json.loads((report_md.parent / "report.json").read_text())
    arms = {a["id"]: a for a in report["arms"]}

    # round 1: cached under the same hashes, its summary unchanged
    for a in first["arms"]:
        assert arms[a["id"]]["hash"] == a["hash"]
    assert sorted(t["arm"] for t in calls["train"]) == ["targeted2-s0", "targeted2-s1", "untargeted2-s0", "untargeted2-s1"]
    assert first["targeted"].pop("round2") is None
    assert {k: report["targeted"][k] for k in first["targeted"]} == first["targeted"]

    records = {i: json.loads((report_md.parent / "arms" / i / "arm.json").read_text()) for i in arms}
    trained = {t["arm"]: t for t in calls["train"]}
    syn = str(tmp_path / "out" / "synthetic-fake" / "images" / "train")
    round2_seeds = set()
    for s in (0, 1):
        t, u = trained[f"targeted2-s{s}"], trained[f"untargeted2-s{s}"]
        assert t["model"].endswith(f"/targeted-s{s}/run/weights/last.pt")
        assert u["model"].endswith(f"/untargeted-s{s}/run/weights/last.pt")
        assert arms[f"targeted2-s{s}"]["start"] == {"from": "targeted", "seed": s, "hash": arms[f"targeted-s{s}"]["hash"]}
        assert arms[f"untargeted2-s{s}"]["start"]["hash"] == arms[f"untargeted-s{s}"]["hash"]
        assert t["epochs"] == u["epochs"] == 1 and arms[f"targeted2-s{s}"]["images_seen"] == 6 + 4 + 4
        for arm, kind in ((t, "targeted"), (u, "untargeted")):  # base + round 1's M + round 2's M
            e1, e2 = records[f"{kind}-s{s}"]["extra"], records[f"{kind}2-s{s}"]["extra"]
            assert arm["train"] == [syn, e1["dataset"] + "/images/train", e2["dataset"] + "/images/train"]
            assert e1["dataset"] != e2["dataset"] and e2["previous"]["dataset"] == e1["dataset"]
        e1, e2 = records[f"targeted-s{s}"]["extra"], records[f"targeted2-s{s}"]["extra"]
        assert e2["seed"] == records[f"untargeted2-s{s}"]["extra"]["seed"] == 2003 + s != e1["seed"]
        round2_seeds.add(e2["seed"])
        # refine: round 1's refined config, on the diagnosis of the targeted weights; provenance of both rounds
        assert (Path(e1["refined_config"]), Path(e2["diagnosis"]).name, 4) in calls["refine"]
        assert [p["round"] for p in e2["provenance"]] == [1, 2] and e2["aimed"] == [{"dimension": "coco_size", "bin": "large"}]
        assert records[f"untargeted2-s{s}"]["extra"]["aimed"] == e2["aimed"]
    assert len(round2_seeds) == 2
    gens = sorted((g[2], g[3]) for g in calls["generate"])
    assert gens == [(2003, 30), (2003, 50), (2004, 30), (2004, 50)]  # refined twice / unchanged, one seed per pair
    assert len(calls["refine"]) == 2 and all(d.startswith("diagnosis-") for _, d, _ in calls["refine"])
    # the round-1 weights' diagnoses were cached by round 1's slice effect: only round 2's weights are diagnosed
    assert {(a, w) for a, w, _ in calls["diagnose"]} == {(f"{k}2-s{s}", w) for k in ("targeted", "untargeted")
                                                         for s in (0, 1) for w in ("diagnosis", "eval")}
    _assert_no_leak({"train": before["train"] + calls["train"], "diagnose": before["diagnose"] + calls["diagnose"]},
                    *_split_digests(tmp_path, report))

    # slice effect: before = the round-1 weights, after = round 2's, on round 2's aimed slice
    eff = arms["targeted2-s0"]["targeted"]
    assert eff["before_arm"] == "targeted-s0" and eff["before"]["eval"] == {"coco_size: large": 0.5}
    assert eff["after"]["eval"] == {"coco_size: large": 0.8}
    assert arms["untargeted2-s0"]["targeted"]["before"]["eval"] == {"coco_size: large": 0.45}
    r2 = report["targeted"]["round2"]
    assert [r["seed"] for r in r2["per_seed"]] == [0, 1] and all(r["equal"] for r in r2["per_seed"])
    assert r2["mean"]["mAP50"]["targeted2"]["mean"] == pytest.approx(0.6)
    assert r2["mean"]["mAP50"]["untargeted2"]["mean"] == pytest.approx(0.35)
    assert r2["mean"]["mAP50"]["targeted"] == {"mean": pytest.approx(0.5), "std": pytest.approx(0.0), "n_seeds": 2}
    assert r2["diff"]["mAP50"] == {"mean": pytest.approx(0.25), "std": pytest.approx(0.0), "n_seeds": 2}
    assert r2["diff"]["mAP50-95"]["mean"] == pytest.approx(0.125)
    assert r2["gain"]["mAP50"]["targeted"]["mean"] == pytest.approx(0.1)
    assert r2["gain"]["mAP50"]["untargeted"]["mean"] == pytest.approx(0.05)
    row = r2["per_seed"][1]["slices"]["diagnosis"]["coco_size: large"]
    assert row == pytest.approx({"before_targeted": 0.5, "targeted2": 0.8, "change_targeted": 0.3, "before_untargeted": 0.45,
                                 "untargeted2": 0.6, "change_untargeted": 0.15, "diff": 0.2})
    assert r2["slice_change"]["eval"]["coco_size: large"]["targeted2"]["mean"] == pytest.approx(0.3)
    text = report_md.read_text()
    assert "## Targeted vs untargeted images" in text and "## Targeted vs untargeted, round 2" in text
    assert "| targeted | 0.500 ± 0.000 (2 seeds) | 0.600 ± 0.000 (2 seeds) |" in text
    assert "| round 2 − round 1, targeted (targeted2 − targeted) |  | 0.100 ± 0.000 (2 seeds) |" in text
    assert [a["id"] for a in report["arms"]][-4:] == ["targeted2-s0", "targeted2-s1", "untargeted2-s0", "untargeted2-s1"]

    # round 2's training data passes the same leak check: an evaluation photo among round 1's images stops it
    (report_md.parent / "arms" / "untargeted2-s0" / "arm.json").unlink()
    ev = next(p for p in (tmp_path / "gold" / "images").iterdir() if p.name in report["split"]["eval"])
    shutil.copy(ev, Path(records["untargeted-s0"]["extra"]["dataset"]) / "images" / "train" / "000099.png")
    with pytest.raises(bm.Leak, match="untargeted2-s0"):
        bm.run_benchmark(bench, refine=refine, log=lambda m: None)


@needs_gold
def test_a_refused_refinement_skips_that_seeds_round_and_the_report_says_why(tmp_path, monkeypatch):
    """refine's checks may refuse a change (exit 2, nothing written): the benchmark goes on without that
    seed's pair of the round (and what starts from it) and names the skipped arms and why."""
    from synthscene.benchmark import run as bm

    calls, refine = fake_pipeline(monkeypatch)

    def refusing(config_path, diagnosis_dir, out, images=None):
        if "targeted2-s1" in str(out):
            raise BadInput("median contrast of 8 renders of the refined config is 26.8, below the gold photos'",
                           out, "--out")
        refine(config_path, diagnosis_dir, out, images)

    bench = bench_file(tmp_path, arms=["synthetic", "real", "targeted", "untargeted", "targeted2", "untargeted2"],
                       diagnosis_fraction=0.25, profiles={"toy": ROUND2_TOY})
    report_md = bm.run_benchmark(bench, refine=refusing, log=lambda m: None)
    report = json.loads((report_md.parent / "report.json").read_text())
    ids = {a["id"] for a in report["arms"]}
    assert {"targeted2-s0", "untargeted2-s0", "targeted-s1", "untargeted-s1"} <= ids
    assert not {"targeted2-s1", "untargeted2-s1"} & ids
    assert "refine refused" in report["skipped"]["targeted2-s1"] and "26.8" in report["skipped"]["targeted2-s1"]
    assert report["skipped"]["untargeted2-s1"] == "its pair targeted2-s1 was skipped"
    assert [r["seed"] for r in report["targeted"]["round2"]["per_seed"]] == [0]
    assert not (report_md.parent / "arms" / "targeted2-s1" / "arm.json").exists()
    assert "## Skipped arms" in report_md.read_text() and "targeted2-s1: refine refused" in report_md.read_text()


def test_round_two_plan():
    """Round 2 trains base + 2M for the same images_seen budget (epochs as round 1 computes them), seeded by
    seeded_arms, from its own seed's round-1 arm (the first seed's when round 1 is not seeded)."""
    from synthscene.benchmark.run import plan_arms

    cfg = lmo()
    budget = cfg.budget("cpu")
    arms = {a.id: a for a in plan_arms(cfg, budget, 80, 1800)}
    for s in (0, 1, 2):
        t1, t2, u2 = arms[f"targeted-s{s}"], arms[f"targeted2-s{s}"], arms[f"untargeted2-s{s}"]
        assert t2.n_images == u2.n_images == 1800 + 2 * 200 and t2.epochs == u2.epochs == 2 == t1.epochs
        assert t2.start_seed == u2.start_seed == s and t2.start_kind == "targeted" and u2.start_kind == "untargeted"
        assert "whole epochs: 2 × 2200" in t2.note
    one = budget.model_copy(update={"seeded_arms": ["synthetic", "targeted2", "untargeted2"]})
    starts = {a.id: a.start_seed for a in plan_arms(cfg, one, 80, 1800) if a.round == 2}
    assert starts == {f"{k}2-s{s}": 0 for k in ("targeted", "untargeted") for s in (0, 1, 2)}  # targeted: seed 0 only


@needs_gold
def test_adding_round_two_leaves_every_other_arms_spec_as_it_was(tmp_path):
    """The cache of a running benchmark stays valid when targeted2 / untargeted2 are added: every other arm's
    spec (its hash is the cache key) is the same, and the round-1 spec has the form it had before round 2."""
    from synthscene.benchmark.bench_config import load_bench_config
    from synthscene.benchmark.run import Runner, _hash, plan_arms, split_gold
    from synthscene.realdata.gold import load_gold

    bench = bench_file(tmp_path, arms=["synthetic", "real", "mixed", "finetune", "converged", "targeted", "untargeted"],
                       diagnosis_fraction=0.25, profiles={"toy": ROUND2_TOY})
    small = load_bench_config(bench)
    more = load_bench_config(bench_file(tmp_path, arms=small.arms + ["targeted2", "untargeted2"], diagnosis_fraction=0.25,
                                        profiles={"toy": ROUND2_TOY}))
    gold = load_gold(tmp_path / "gold")
    split = split_gold(gold, 1, 0.34, None, 0.25)

    def specs(c):
        planned = plan_arms(c, c.budget(), len(split.train), 5)
        r = Runner(c, c.budget(), tmp_path / "o", split, gold, tmp_path, "h", gold.names, print, planned)
        return {a.id: r.spec(a) for a in planned}

    old, new = specs(small), specs(more)
    assert set(new) - set(old) == {"targeted2-s0", "targeted2-s1", "untargeted2-s0", "untargeted2-s1"}
    assert all(new[i] == old[i] for i in old)
    # the round-1 spec as it was before round 2 existed: no round key, seed = dataset seed + 1000 + s
    t = old["targeted-s1"]
    assert set(t) == {"kind", "k", "epochs", "images_seen", "imgsz", "batch", "seed", "start", "real_images", "synthetic",
                      "synthetic_images", "mixed_real_repeat", "args", "names", "ultralytics", "extra"}
    assert set(t["extra"]) == {"images", "seed", "diagnosis"} and t["extra"]["seed"] == 3 + 1000 + 1
    assert t["start"] == {"from": "synthetic", "seed": 1, "hash": _hash(old["synthetic-s1"])}
    assert new["targeted2-s1"]["extra"]["seed"] == 3 + 2000 + 1 and new["targeted2-s1"]["extra"]["round"] == 2
    assert new["untargeted2-s1"]["extra"]["seed"] == 3 + 2000 + 1
    assert new["targeted2-s1"]["start"]["from"] == "targeted"


# ---- one tiny real run ------------------------------------------------------------------------------


@pytest.mark.slow  # renders or runs a process (measured > 1.5 s)
@needs_gold
def test_tiny_real_run_through_the_cli(tmp_path):
    """`synthscene benchmark` on 8 synthetic images and 2 real photos at 64 px: fields, equal budgets,
    the bootstrap's full-sample mAP50 equal to Ultralytics' evaluation, and a cached re-run."""
    from typer.testing import CliRunner

    from synthscene.cli import app

    bench = bench_file(tmp_path)
    res = CliRunner().invoke(app, ["benchmark", str(bench)])
    assert res.exit_code == 0, res.output
    out = tmp_path / "out" / "toy"
    report = json.loads((out / "report.json").read_text())
    assert [a["id"] for a in report["arms"]] == ["synthetic-s0", "real-k2-s0", "finetune-k2-s0"]
    for a in report["arms"]:
        assert a["images_seen"] == 10 and a["equal_budget"] and a["seed"] == 0 and a["train_seconds"] > 0
        assert a["bootstrap_mAP50"]["point"] == pytest.approx(a["eval"]["mAP50"], abs=1e-9)
        assert a["lr_schedule"]["lr0"] is not None
        assert isinstance(a["threads"], int) and a["threads"] >= 1  # recorded: results differ across thread counts
    assert {g["group"]: g["mAP50"]["n_seeds"] for g in report["groups"]} == {"synthetic": 1, "real-k2": 1, "finetune-k2": 1}
    assert "budget (images seen · train s)" in (out / "report.md").read_text()
    again = CliRunner().invoke(app, ["benchmark", str(bench)])
    assert again.exit_code == 0 and again.output.count("(cached)") == 3 and "training" not in again.output


@needs_gold
def test_bench_config_errors(tmp_path):
    from synthscene.benchmark.bench_config import load_bench_config

    with pytest.raises(BadInput, match="unknown key"):
        load_bench_config(bench_file(tmp_path, epochs=3))
    with pytest.raises(BadInput, match="diagnosis_fraction"):
        load_bench_config(bench_file(tmp_path, arms=["synthetic", "targeted"]))
    with pytest.raises(BadInput, match="targeted_images"):
        load_bench_config(bench_file(tmp_path, arms=["synthetic", "targeted"], diagnosis_fraction=0.2))
    with pytest.raises(BadInput, match="seeds"):
        load_bench_config(bench_file(tmp_path, profiles={"toy": {**TOY, "seeds": [1, 1]}}))
    with pytest.raises(BadInput, match="targeted2 continues from the targeted arm"):
        load_bench_config(bench_file(tmp_path, arms=["synthetic", "untargeted", "targeted2"], diagnosis_fraction=0.2,
                                     profiles={"toy": {**TOY, "targeted_images": 2}}))


@needs_gold
def test_fixed_threads_enter_the_arm_spec_and_unfixed_specs_stay_as_they_were(tmp_path):
    """Weights depend on the thread count, so a fixed count is part of an arm's cache key; a profile
    without it keeps the hashes of runs made before the option existed."""
    from synthscene.benchmark.bench_config import load_bench_config
    from synthscene.benchmark.run import Runner, plan_arms, split_gold
    from synthscene.realdata.gold import load_gold

    cfg = load_bench_config(bench_file(tmp_path, arms=["synthetic", "real"], profiles={"toy": ROUND2_TOY}))
    gold = load_gold(tmp_path / "gold")
    split = split_gold(gold, 1, 0.34, None, None)

    def spec(budget):
        planned = plan_arms(cfg, budget, len(split.train), 5)
        r = Runner(cfg, budget, tmp_path / "o", split, gold, tmp_path, "h", gold.names, print, planned)
        return r.spec(planned[0])

    b = cfg.budget()
    assert "threads" not in spec(b)
    assert spec(b.model_copy(update={"threads": 1, "fixed_threads": True}))["threads"] == 1
    assert spec(b.model_copy(update={"threads": 2, "fixed_threads": True}))["threads"] == 2
    cores = len(os.sched_getaffinity(0))  # fixed without a count: every core, as trained
    assert spec(b.model_copy(update={"threads": None, "fixed_threads": True}))["threads"] == cores


# ---- the steer profile: converging arms and the synthetic curve ------------------------------------


def test_lmo_steer_profile_compares_datasets():
    """The steer profile is what docs/RESULTS.md's recipe comparison ran: fixed threads, ≥ 2 seeds,
    ~36,000 synthetic presentations with the val curve, fine-tune and real-only to convergence."""
    b = lmo().budget("steer")
    assert b.fixed_threads and b.threads == 2 and len(b.seeds) >= 2
    assert b.images_seen == 36000 and b.synthetic_curve and set(b.converge) == {"real", "finetune"}
    assert "finetune-k10" in b.seeded_arms


def test_lmo_steer_loop_builds_on_the_fine_tuned_detectors():
    """The steer profile's loop: each seed's targeted / untargeted arms start from that seed's fine-tune
    on 10 photos and train 10 × 10 photos + 200 images (round 2: + 200 more) for 3,000 presentations."""
    from synthscene.benchmark.run import plan_arms

    cfg = lmo()
    arms = {a.id: a for a in plan_arms(cfg, cfg.budget("steer"), 80, 1795)}
    for s in (0, 1):
        t, u, t2 = arms[f"targeted-s{s}"], arms[f"untargeted-s{s}"], arms[f"targeted2-s{s}"]
        assert t.start_kind == "finetune-k10" and t.start_seed == s and t.on_finetune
        assert t.n_images == u.n_images == 300 and t.epochs == u.epochs == 10 and t.equal
        assert t2.start_kind == "targeted" and t2.n_images == 500 and t2.epochs == 6 and t2.on_finetune
    assert arms["finetune-k10-s1"].start_kind == "synthetic" and not arms["finetune-k10-s1"].on_finetune


def test_converging_arms_stop_on_the_diagnosis_split_and_say_so(tmp_path):
    from synthscene.benchmark.bench_config import load_bench_config
    from synthscene.benchmark.run import Runner, plan_arms, split_gold
    from synthscene.realdata.gold import load_gold

    toy = {**TOY, "converge": ["real", "finetune"], "converged": {"max_epochs": 7, "patience": 3},
           "synthetic_curve": True}
    cfg = load_bench_config(bench_file(tmp_path, diagnosis_fraction=0.3, profiles={"toy": toy}))
    gold = load_gold(tmp_path / "gold")
    split = split_gold(gold, 1, 0.34, None, 0.3)
    arms = {a.id: a for a in plan_arms(cfg, cfg.budget(), len(split.train), 5)}
    real, ft, syn = arms["real-k2-s0"], arms["finetune-k2-s0"], arms["synthetic-s0"]
    assert real.epochs == ft.epochs == 7 and real.budget is None and "patience 3" in real.note
    assert syn.epochs == 2 and syn.budget == 10  # the synthetic arm keeps its images_seen budget
    conv = load_bench_config(bench_file(tmp_path, diagnosis_fraction=0.3, real_k=[2, "all"],
                                        arms=["synthetic", "real", "finetune", "converged"], profiles={"toy": toy}))
    ids = [a.id for a in plan_arms(conv, conv.budget(), len(split.train), 5)]
    assert "real-kall-s0" in ids and "real-converged-s0" not in ids  # the same training: not twice
    r = Runner(cfg, cfg.budget(), tmp_path / "o", split, gold, tmp_path, "h", gold.names, print, list(arms.values()))
    assert r.spec(ft)["converged"]["patience"] == 3 and len(r.spec(ft)["converged"]["val"]) == len(split.diagnosis)
    assert r.spec(syn)["curve"] is True and "converged" not in r.spec(syn)
    doc = yaml.safe_load(r.data_yaml(ft).read_text())  # early stopping on the diagnosis photos, never the train ones
    assert Path(doc["val"]).parent.name == "diagnosis"
    with pytest.raises(BadInput, match="converge.*diagnosis_fraction"):
        load_bench_config(bench_file(tmp_path, profiles={"toy": toy}))


def test_read_curve_takes_ultralytics_results_csv(tmp_path):
    from synthscene.benchmark.run import read_curve

    f = tmp_path / "results.csv"
    f.write_text("epoch,time,train/box_loss,metrics/precision(B),metrics/recall(B),metrics/mAP50(B),metrics/mAP50-95(B)\n"
                 "1,10.5,3.1,0.1,0.2,0.05123,0.02\n2,20.9,2.9,0.2,0.3,0.11,0.051\n")
    assert read_curve(f) == [{"epoch": 1, "mAP50": 0.0512, "mAP50-95": 0.02}, {"epoch": 2, "mAP50": 0.11, "mAP50-95": 0.051}]
    assert read_curve(tmp_path / "absent.csv") == []
