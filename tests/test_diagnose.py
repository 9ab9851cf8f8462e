"""`synthscene diagnose`: TIDE errors and slice verdicts on boxes whose errors are known by construction."""
from __future__ import annotations

import json

import pytest
from _train_fixtures import needs_gold, small_gold, tiny_synthetic_config
from conftest import run_cli

from synthscene.diagnosis import diagnose_sets
from synthscene.diagnosis.tide import classify_image, iou_matrix

STATS = {"brightness": 100.0, "contrast": 40.0, "blur": 50.0}


def _image(name, gold, preds, w=640, h=480):
    return {"image": name, "width": w, "height": h, "stats": dict(STATS),
            "gold": [{"xyxy": list(b), "cls": c} for b, c in gold],
            "preds": [{"xyxy": list(b), "cls": c, "score": s} for b, c, s in preds]}


def test_each_tide_error_is_named():
    gold = [((100, 100, 200, 200), "a"),   # A: found, then found again (duplicate)
            ((300, 100, 400, 200), "b"),   # B: found with the wrong class
            ((10, 300, 30, 320), "a"),     # C: small, missed
            ((100, 300, 200, 400), "a"),   # D: found shifted, IoU 0.3
            ((300, 300, 400, 400), "a")]   # E: found
    preds = [((100, 100, 200, 200), "a", 0.9), ((104, 100, 204, 200), "a", 0.8),
             ((300, 100, 400, 200), "a", 0.9), ((154, 300, 254, 400), "a", 0.9),
             ((500, 20, 560, 80), "a", 0.9), ((300, 300, 400, 400), "a", 0.95)]
    assert iou_matrix([preds[3][0]], [gold[3][0]])[0, 0] == pytest.approx(0.3, abs=0.01)
    im = _image("x", gold, preds)
    p_out, g_out = classify_image(im["preds"], im["gold"])
    assert [o["kind"] for o in p_out] == ["tp", "duplicate", "classification", "localisation", "background", "tp"]
    assert [o["kind"] for o in g_out] == ["tp", "classification", "missed", "localisation", "tp"]

    rep = diagnose_sets([im], [], ["a", "b"], conf=0.5)
    assert rep["tide"]["counts"] == {"classification": 1, "localisation": 1, "both": 0, "duplicate": 1,
                                     "background": 1, "missed": 1}
    assert rep["false_positives"]["background"] == 1 and rep["false_positives"]["other_class"] == 1
    assert rep["false_positives"]["duplicate"] == 1
    sizes = {b["label"]: b for b in rep["slices"]["coco_size"]["bins"]}
    assert sizes["small"]["n_gold"] == 1 and sizes["small"]["recall"] == 0.0
    assert sizes["large"]["recall"] == pytest.approx(0.5)  # A and E of A, B, D, E
    assert all(b["verdict"] == "too-few" for b in sizes.values())
    conf = rep["confusion"]
    row = dict(zip(conf["cols"], conf["counts"][conf["rows"].index("b")]))
    assert row == {"a": 1, "b": 0, "missed": 0}  # b seen as a
    assert rep["worst_missed"][0]["kind"] in ("localisation", "classification", "missed")
    json.dumps(rep, allow_nan=False)  # plain JSON: a later `refine` reads it


def test_a_slice_the_synthetic_set_lacks_is_under_covered_and_a_covered_one_failing():
    """10 small boxes found (synthetic has none), 10 medium missed (synthetic has them), 10 large found."""
    images = []
    for k in range(10):
        images.append(_image(f"s{k}", [((100, 100, 120, 120), "a")], [((100, 100, 120, 120), "a", 0.9)]))
        images.append(_image(f"m{k}", [((100, 100, 160, 160), "a")], []))
        images.append(_image(f"l{k}", [((100, 100, 300, 300), "a")], [((100, 100, 300, 300), "a", 0.9)]))
    synthetic = [{"class": "a", "area": 60.0 * 60} for _ in range(10)] + [{"class": "a", "area": 200.0 * 200}] * 10
    rep = diagnose_sets(images, synthetic, ["a"])
    assert rep["recall"] == pytest.approx(2 / 3) and rep["tide"]["counts"]["missed"] == 10
    sizes = {b["label"]: b for b in rep["slices"]["coco_size"]["bins"]}
    assert sizes["small"]["verdict"] == "under-covered" and sizes["small"]["synthetic_share"] == 0.0
    assert sizes["medium"]["verdict"] == "covered-failing" and sizes["medium"]["recall"] == 0.0
    assert sizes["large"]["verdict"] == "ok"
    # A dimension the synthetic set does not record: coverage unknown, not "under-covered".
    vis = rep["slices"]["visibility"]
    assert vis["synthetic_with_value"] == 0 and vis["gold_with_value"] == 0


def test_similar_sets_give_no_finding():
    images = [_image(f"i{k}", [((100, 100, 160, 160), "a")], [((100, 100, 160, 160), "a", 0.9)]) for k in range(12)]
    rep = diagnose_sets(images, [{"class": "a", "area": 3600.0, "aspect": 1.0}] * 5, ["a"])
    verdicts = {b["verdict"] for s in rep["slices"].values() for b in s["bins"]}
    assert verdicts <= {"ok", "too-few"} and rep["precision"] == 1.0 and rep["recall"] == 1.0


def test_bad_input_exits_2_naming_the_path(tmp_path):
    (tmp_path / "w.pt").write_bytes(b"not a checkpoint")
    missing = tmp_path / "nope.pt"
    proc = run_cli("diagnose", missing, "--gold", tmp_path, "--dataset", tmp_path, "--out", tmp_path / "o", check=False)
    assert proc.returncode == 2 and str(missing) in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


@needs_gold
def test_bad_gold_or_dataset_exits_2(tmp_path, shared):
    from synthscene.train import train

    gold = small_gold(tmp_path / "gold", 3)
    weights = train(gold, epochs=1, imgsz=32, batch=4, out=tmp_path / "run").last
    for args, named in (([ "--gold", tmp_path / "nogold", "--dataset", gold], tmp_path / "nogold"),
                        (["--gold", gold, "--dataset", tmp_path / "empty"], tmp_path / "empty")):
        (tmp_path / "empty").mkdir(exist_ok=True)
        proc = run_cli("diagnose", weights, *args, "--out", tmp_path / "o", check=False)
        assert proc.returncode == 2, proc.stderr
        assert str(named) in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


@needs_gold
def test_diagnose_cli_end_to_end(tmp_path, shared):
    """A tiny model trained on a tiny synthetic set, diagnosed on four gold photos (with BOP visibility)."""
    from synthscene.train import train

    run_cli("generate", tiny_synthetic_config(tmp_path, count=6), "--out", tmp_path / "ds")
    weights = train(tmp_path / "ds", epochs=1, imgsz=64, batch=4, out=tmp_path / "run").last
    gold = shared / "gold" / "lmo" / "yolo"
    few = small_gold(tmp_path / "gold", 4)
    (tmp_path / "bop").symlink_to(gold.parent / "bop")  # BOP annotations beside the gold folder, as in lmo/
    proc = run_cli("diagnose", weights, "--gold", few, "--dataset", tmp_path / "ds", "--out", tmp_path / "rep",
                   "--imgsz", "64")
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert rep["gold_has_bop"] and rep["images"] == 4 and rep["gold_instances"] > 10
    assert sum(rep["tide"]["counts"].values()) >= rep["tide"]["counts"]["missed"] > 0
    for dim in ("class", "coco_size", "area_quartile", "aspect", "border", "brightness", "contrast", "blur",
                "visibility", "elevation", "azimuth"):
        bins = rep["slices"][dim]["bins"]
        assert sum(b["n_gold"] for b in bins) == rep["slices"][dim]["gold_with_value"]
        assert {b["verdict"] for b in bins} <= {"under-covered", "covered-failing", "ok", "too-few"}
    assert rep["slices"]["visibility"]["gold_with_value"] == rep["gold_instances"]
    assert rep["slices"]["visibility"]["synthetic_with_value"] > 0  # from the manifest
    assert rep["slices"]["elevation"]["synthetic_with_value"] > 0
    out = tmp_path / "rep"
    assert "## Errors" in (out / "report.md").read_text() and "report.md" in proc.stdout
    assert (out / "errors.png").stat().st_size > 1000 and (out / "slice_coco_size.png").is_file()
    assert (out / "worst_missed.png").is_file()
    assert (out / "worst_false_positives.png").is_file() == bool(rep["worst_false_positives"])


def test_report_findings_split_clear_failures_from_slices_refine_leaves():
    """A slice the detector finds as well as the rest (an under-covered bin at recall 1.00) is listed
    apart from the clear failures refine acts on, with the guard's reason, not as a failure."""
    from synthscene.diagnosis.run import render_markdown

    def bin_(label, n, recall, verdict, share=0.01):
        return {"label": label, "n_gold": n, "recall": recall, "precision": 0.8, "gold_share": 0.3,
                "synthetic_share": share, "verdict": verdict}

    r = {"weights": "best.pt", "gold": "gold", "dataset": "ds", "images": 50, "gold_instances": 370, "predictions": 300,
         "conf_threshold": 0.25, "recall": 0.6, "precision": 0.8, "synthetic_instances": 1000,
         "tide": {"counts": {e: 0 for e in ("classification", "localisation", "both", "duplicate", "background",
                                             "missed")}, "true_positives": 222},
         "false_positives": {"background": 1, "by_class": {}},
         "thresholds": {"min_instances": 10, "under_covered": 0.5, "failing_margin": 0.1},
         "confusion": {"rows": [], "cols": [], "counts": []}, "plots": [],
         "slices": {"visibility": {"per": "instance", "bins": [bin_("[0, 0.3)", 40, 0.05, "under-covered")]},
                    "brightness": {"per": "instance", "bins": [bin_("[78, 90.4)", 120, 1.0, "under-covered")]},
                    "class": {"per": "instance", "bins": [bin_("can", 50, 0.48, "covered-failing", 0.13)]}}}
    md = render_markdown(r)
    clear, left = md.split("## Findings")[1].split("Not clearly failing")
    assert "visibility [0, 0.3)" in clear and "brightness" not in clear and "class can" not in clear
    assert "brightness [78, 90.4)" in left and "at or above the overall 0.60: not a failure" in left
    assert "class can" in left and "not clearly below the overall 0.60" in left
