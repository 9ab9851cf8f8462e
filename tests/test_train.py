"""Training and evaluation on tiny real data, end to end, with the network switched off."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from _train_fixtures import GOLD, LMO, needs_gold, small_gold
from synthscene.core.errors import BadInput

pytestmark = [needs_gold, pytest.mark.slow]  # trains
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def no_network():
    """Any DNS lookup or connection attempt is recorded and refused."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise OSError("network disabled in this test")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket, "getaddrinfo", refuse)
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket, "create_connection", refuse)
        yield calls


@pytest.fixture(scope="module")
def trained(tmp_path_factory, no_network):
    from synthscene.train import train

    tmp = tmp_path_factory.mktemp("train")
    gold = small_gold(tmp / "gold", 8)
    res = train(gold, epochs=1, imgsz=64, batch=4, out=tmp / "run")  # plots on: fonts must not download
    assert not no_network, f"training tried to reach the network: {no_network}"
    return res


def _label_counts(folder: Path) -> dict[str, int]:
    names = yaml.safe_load((folder / "data.yaml").read_text())["names"]
    counts: dict[str, int] = {}
    for f in (folder / "labels").glob("*.txt"):
        for line in f.read_text().splitlines():
            if line.strip():
                counts[names[int(line.split()[0])]] = counts.get(names[int(line.split()[0])], 0) + 1
    return counts


def test_train_writes_weights_and_metrics(trained):
    assert trained.best.is_file() and trained.last.is_file()
    assert (trained.out_dir / "results.csv").is_file()
    saved = json.loads((trained.out_dir / "metrics.json").read_text())
    assert saved["epochs"] == 1 and "metrics/mAP50(B)" in saved["metrics"]
    assert (trained.out_dir / "BoxPR_curve.png").is_file()  # plots drawn with the bundled font


def test_evaluate_on_real_photos(trained, tmp_path, no_network):
    from synthscene.train import evaluate

    gold = small_gold(tmp_path / "gold", 6, start=20)
    out = tmp_path / "eval.json"
    res = evaluate(trained.last, gold, out=out)  # at the size it was trained at
    assert not no_network and res["imgsz"] == 64
    assert json.loads(out.read_text())["mAP50"] == res["mAP50"]
    expected = _label_counts(gold)
    assert res["images"] == 6 and res["instances"] == sum(expected.values())
    assert {c: v["instances"] for c, v in res["per_class"].items()} == expected
    assert sum(b["boxes"] for b in res["recall_by_size"].values()) == res["instances"]
    for key in ("mAP50", "mAP50-95", "precision", "recall"):
        assert 0.0 <= res[key] <= 1.0
    assert set(res["recall_by_size"]) == {"small", "medium", "large"}


def test_gold_classes_are_matched_by_name(trained, tmp_path):
    """The same photos with the gold's class ids shuffled give the same per-class instances and metrics."""
    from synthscene.train import evaluate

    plain = evaluate(trained.last, small_gold(tmp_path / "a", 6, start=40), imgsz=64)
    shuffled_names = LMO[::-1][:4] + LMO[::-1][4:][::-1]
    shuffled = evaluate(trained.last, small_gold(tmp_path / "b", 6, start=40, names=shuffled_names), imgsz=64)
    for key in ("mAP50", "mAP50-95", "instances", "per_class", "recall_by_size"):
        assert shuffled[key] == plain[key]


def test_unknown_gold_class_is_bad_input(trained, tmp_path):
    from synthscene.train import evaluate

    gold = small_gold(tmp_path / "gold", 3, names=[*LMO[:7], "teapot"])
    with pytest.raises(BadInput, match="teapot"):
        evaluate(trained.last, gold, imgsz=64)
    cli = subprocess.run([sys.executable, "-m", "synthscene.cli", "evaluate", str(trained.last), "--gold", str(gold)],
                         cwd=ROOT, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert cli.returncode == 2, cli.stderr
    assert "teapot" in cli.stderr and "Traceback" not in cli.stderr


def test_weights_are_never_downloaded(tmp_path):
    from synthscene.train import train

    with pytest.raises(BadInput, match="never downloaded"):
        train(GOLD, model="yolov8n.pt", epochs=1, imgsz=64, out=tmp_path / "run")
    with pytest.raises(BadInput, match="model YAML"):
        train(GOLD, model="yolov99z.yaml", epochs=1, imgsz=64, out=tmp_path / "run")


def test_bad_dataset_and_gold_are_bad_input(tmp_path):
    from synthscene.train import evaluate, train

    with pytest.raises(BadInput, match="no data.yaml"):
        train(tmp_path, epochs=1, out=tmp_path / "run")
    (tmp_path / "data.yaml").write_text("path: .\ntrain: images\nval: images\nnames: [a]\n")
    with pytest.raises(BadInput, match="does not exist"):
        train(tmp_path, epochs=1, out=tmp_path / "run")
    assert not (tmp_path / "run").exists()  # refused before anything is written
    with pytest.raises(BadInput, match="no images"):
        evaluate(tmp_path / "missing.pt", tmp_path)


def test_label_remap_rewrites_ids_by_name(tmp_path):
    from synthscene.realdata.gold import load_gold, write_view

    gold = load_gold(small_gold(tmp_path / "gold", 2))
    names = ["holepuncher", "glue", "eggbox", "duck", "driller", "cat", "can", "ape", "extra"]
    view = write_view(gold, gold.images, names, tmp_path / "view").parent
    for img in gold.images:
        src = gold.label_of(img).read_text().split("\n")
        dst = (view / "labels" / f"{img.stem}.txt").read_text().split("\n")
        for a, b in zip(src, dst):
            if a:
                assert names[int(b.split()[0])] == LMO[int(a.split()[0])] and a.split()[1:] == b.split()[1:]
        assert (view / "images" / img.name).resolve() == img.resolve()


def test_evaluate_cli_prints_json_only(trained, tmp_path):
    gold = small_gold(tmp_path / "gold", 3, start=60)
    cli = subprocess.run([sys.executable, "-m", "synthscene.cli", "evaluate", str(trained.last), "--gold", str(gold),
                          "--out", str(tmp_path / "e.json")],
                         cwd=ROOT, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert cli.returncode == 0, cli.stderr
    printed = json.loads(cli.stdout)  # Ultralytics' own logging went to stderr
    assert printed["mAP50"] == json.loads((tmp_path / "e.json").read_text())["mAP50"] and printed["images"] == 3


def test_genuine_checkpoints_pass_the_safe_load_and_evaluate_with_key_values(trained, tmp_path):
    """best.pt and last.pt as Ultralytics writes them load the restricted way (tests/test_security.py: the rest)."""
    from synthscene.train.weights import check_weights

    for f in (trained.best, trained.last):
        assert check_weights(f) == f.resolve()
    gold = small_gold(tmp_path / "gold", 3, start=70)
    cli = subprocess.run([sys.executable, "-m", "synthscene.cli", "evaluate", str(trained.best), "--gold", str(gold),
                          "imgsz=96", "conf=0.01", "batch=2"],
                         cwd=ROOT, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["imgsz"] == 96
