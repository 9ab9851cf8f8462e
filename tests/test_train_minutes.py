"""train --minutes: a wall-clock budget, the estimate after the first epoch, and the epochs really run."""
from __future__ import annotations

import csv
import re

import pytest

from conftest import run_cli
from _train_fixtures import needs_gold, small_gold

pytestmark = [pytest.mark.slow, needs_gold]


def test_minutes_budget_reports_the_epochs_it_ran(tmp_path):
    gold = small_gold(tmp_path / "gold", 4)
    proc = run_cli("train", gold, "--epochs", "40", "--imgsz", "64", "--batch", "4", "--minutes", "0.05",
                   "--out", tmp_path / "run", "plots=False")
    ran = len(list(csv.DictReader((tmp_path / "run" / "results.csv").open())))
    assert ran < 40  # 3 s of budget: far fewer than the 40 asked
    said = re.search(r"trained (\d+) epochs \(the epochs that fit 0.05 min\)", proc.stdout)
    assert said and int(said.group(1)) == ran, proc.stdout
    assert re.search(r"train: first epoch took \d+ s; \d+ epochs \(to fit 0.05 min\)", proc.stderr), proc.stderr[-2000:]


def test_minutes_and_time_together_are_refused(tmp_path):
    gold = small_gold(tmp_path / "gold", 2)
    proc = run_cli("train", gold, "--minutes", "5", "time=0.1", "--out", tmp_path / "run", check=False)
    assert proc.returncode == 2 and "given twice" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("train", gold, "--minutes", "-1", "--out", tmp_path / "run2", check=False)
    assert proc.returncode == 2 and "--minutes" in proc.stderr
