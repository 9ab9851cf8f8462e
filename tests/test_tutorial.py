"""docs/TUTORIAL.md's tested blocks run as written, in order, in an empty folder outside the repo.

A block is tested when a fenced ```bash block follows the line `<!-- tested -->`. Sizes are the
tutorial's own variables (COUNT, PHOTOS, HELDOUT, PREVIEW, EPOCHS, IMGSZ), set tiny here; LMO points
at the LM-O gold set (../shared/gold/lmo), whose duck mesh and photos stand in for a user's.
`synthscene` and `python` on PATH are shims running this checkout with the test's interpreter, so no
configs/ folder or installed copy is involved.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # CLI subprocesses (the tutorial as written)

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "TUTORIAL.md"
TINY = {"COUNT": "8", "PHOTOS": "6", "HELDOUT": "6", "PREVIEW": "2", "EPOCHS": "1", "IMGSZ": "64"}
LMO = ROOT.parent / "shared" / "gold" / "lmo"


def blocks_of(text: str) -> list[str]:
    return re.findall(r"^<!-- tested -->\n```bash\n(.*?)^```$", text, flags=re.S | re.M)


def shims(folder: Path) -> Path:
    folder.mkdir()
    for name, run in (("synthscene", f'"{sys.executable}" -m synthscene.cli'), ("python", f'"{sys.executable}"')):
        path = folder / name
        path.write_text(f'#!/bin/sh\nPYTHONPATH="{ROOT}" exec {run} "$@"\n')
        path.chmod(0o755)
    return folder


def test_tutorial_blocks_are_found():
    blocks = blocks_of(TUTORIAL.read_text())
    assert len(blocks) >= 8
    joined = "\n".join(blocks)
    for command in ("init", "assets add", "preview", "generate", "inspect", "train", "evaluate", "diagnose", "refine"):
        assert f"synthscene {command}" in joined, command
    assert "configs/" not in joined  # the tutorial never leans on the repo's configs folder
    first = next(b for b in blocks if "synthscene " in b)
    assert "synthscene init " in first and "--gold" in first  # init leads: the best first step
    assert "synthscene inspect" in joined and "--gold photos" in joined


@pytest.mark.skipif(not LMO.is_dir(), reason="../shared/gold/lmo is absent")
def test_tutorial_runs_outside_the_repo(tmp_path):
    work = tmp_path / "project"
    work.mkdir()
    env = {**os.environ, **TINY, "PATH": f"{shims(tmp_path / 'bin')}{os.pathsep}{os.environ['PATH']}",
           "SYNTHSCENE_CACHE": str(tmp_path / "cache"), "SYNTHSCENE_LIBRARY": str(tmp_path / "library"),
           "LMO": str(LMO)}
    env.pop("PYTHONPATH", None)
    for i, block in enumerate(blocks_of(TUTORIAL.read_text())):
        res = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=work, env=env, capture_output=True,
                             text=True, timeout=300)
        assert res.returncode == 0, f"block {i}:\n{block}\nstdout:\n{res.stdout[-2000:]}\nstderr:\n{res.stderr[-3000:]}"
    assert len(list((work / "photos" / "images").iterdir())) == int(TINY["PHOTOS"])
    assert len(list((work / "heldout" / "images").iterdir())) == int(TINY["HELDOUT"])
    assert (work / "turntable.png").is_file() and (work / "preview.png").is_file()
    assert len(list((work / "out" / "duck" / "images").rglob("*.jpg"))) == int(TINY["COUNT"])
    assert (work / "reports" / "inspect" / "gold_sheet.png").is_file()
    assert (work / "runs" / "duck" / "weights" / "best.pt").is_file()
    assert (work / "reports" / "eval.json").is_file() and (work / "reports" / "diagnose" / "report.md").is_file()
    assert len(list((work / "out" / "duck-supplement" / "images").rglob("*.jpg"))) == int(TINY["COUNT"])
    assert (work / "rubber_duck.png").is_file() and (work / "rubber_duck_preview.png").is_file()  # part 2
    assert not (ROOT / "configs" / "data").exists() and not (ROOT / "configs" / "out").exists()
