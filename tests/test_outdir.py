"""The output folder: --overwrite deletes only synthscene's files, one run at a time (a lock), and
every argument is checked before anything is written or deleted."""
from __future__ import annotations

import fcntl
import json
import os
import socket
import subprocess
import sys

import pytest

from synthscene import generate, load_config
from synthscene.generation import outdir
from synthscene.core.errors import BadInput, SynthsceneError
from robust_helpers import ROOT, RaiseAt4, cli as run_subprocess, dataset_files, small_config_file
from conftest import run_main


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A config and a 4-image dataset made from it (copied by the tests that change it)."""
    folder = tmp_path_factory.mktemp("made")
    cfg = small_config_file(folder, count=4)
    generate(load_config(cfg), folder / "ds", progress=False)
    return cfg, folder / "ds"


def _copy(src, dst):
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)
    return dst


def _tree(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_overwrite_refuses_a_folder_that_is_not_a_dataset(made, tmp_path, monkeypatch, capsys):
    cfg, _ = made
    out = tmp_path / "d"
    (out / "images/train").mkdir(parents=True)
    (out / "images/train/mine.jpg").write_bytes(b"my photo")
    (out / "data.yaml").write_text("mine: true\n")
    (out / "images/train/.mine.jpg.tmp-12").write_bytes(b"mine too")
    before = _tree(out)
    for flags in (["--overwrite"], ["--resume"], ["--only", "1"]):
        code, err = run_main(monkeypatch, capsys, "generate", str(cfg), "--out", str(out), *flags)
        assert code == 2 and str(out) in err and "not a synthscene dataset" in err
        assert _tree(out) == before  # nothing deleted, not even what looks like a temporary


def test_overwrite_deletes_only_what_synthscene_wrote(made, tmp_path, monkeypatch, capsys):
    cfg, ds = made
    out = _copy(ds, tmp_path / "d")
    (out / "images/train/mine.jpg").write_bytes(b"my photo")
    (out / "notes").mkdir()
    (out / "notes/todo.txt").write_text("mine")
    # a crashed run: image 3's files written, its record not yet; a temporary left behind
    (out / ".synthscene/records/000003.json").unlink()
    (out / "labels/val/.000000.txt.tmp-4242").write_text("half")
    image3 = json.loads((out / ".synthscene/files/000003.json").read_text())[0]
    assert (out / image3).is_file()
    code, err = run_main(monkeypatch, capsys, "generate", str(cfg), "--out", str(out), "--overwrite", "--count", "3")
    assert code == 0 and "warning:" in err and "images/train/mine.jpg" in err and "notes/todo.txt" in err
    assert (out / "images/train/mine.jpg").read_bytes() == b"my photo" and (out / "notes/todo.txt").read_text() == "mine"
    assert not (out / image3).exists() and not list(out.rglob("000003.*"))  # the crashed image's files too
    assert not list(out.rglob(".*.tmp-*"))
    assert len((out / "manifest.jsonl").read_text().splitlines()) == 3


def test_overwrite_of_a_dataset_of_every_format_leaves_nothing(tmp_path):
    """Every file any writer writes is known to --overwrite (a new writer must list its files)."""
    cfg = small_config_file(tmp_path, count=3)
    cfg.write_text(cfg.read_text().replace("formats: [yolo, coco]", "formats: [yolo, coco, yolo_seg, bop, depth, masks]"))
    out = tmp_path / "d"
    generate(load_config(cfg), out, progress=False)
    assert (out / "segment/data.yaml").exists() and (out / "bop").is_dir()
    with outdir.locked(out):
        outdir.clear_dataset(out)
    assert [p for p in out.rglob("*") if p.name != ".synthscene"] == []


def test_overwrite_refused_for_another_reason_deletes_nothing(made, tmp_path, monkeypatch, capsys):
    cfg, ds = made
    out = _copy(ds, tmp_path / "d")
    before = _tree(out)
    for bad in (["--count", "-1"], ["--seed", "-5"], ["--only", "99"], ["--workers", "0"]):
        code, err = run_main(monkeypatch, capsys, "generate", str(cfg), "--out", str(out), "--overwrite", *bad)
        assert code == 2 and bad[0] in err
        assert _tree(out) == before


def test_resume_removes_only_synthscene_temporaries(made, tmp_path):
    cfg, ds = made
    out = _copy(ds, tmp_path / "d")
    ours = [out / "images/train/.000002.jpg.tmp-999999", out / ".manifest.jsonl.tmp-77", out / ".synthscene/records/.000001.json.tmp-5"]
    theirs = [out / "mine/.photo.jpg.tmp-3", out / ".notes.txt.tmp-8"]
    for p in ours + theirs:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    generate(load_config(cfg), out, resume=True, progress=False)
    assert not any(p.exists() for p in ours) and all(p.exists() for p in theirs)


def test_out_is_an_existing_file(made, tmp_path, monkeypatch, capsys):
    cfg, _ = made
    (tmp_path / "afile").write_text("x")
    code, err = run_main(monkeypatch, capsys, "generate", str(cfg), "--out", str(tmp_path / "afile"))
    assert code == 2 and str(tmp_path / "afile") in err and "not a folder" in err
    assert (tmp_path / "afile").read_text() == "x"


@pytest.mark.parametrize("damage", ["record", "resolved"])
def test_damaged_dataset_on_resume_names_the_file(made, tmp_path, monkeypatch, capsys, damage):
    cfg, ds = made
    out = _copy(ds, tmp_path / "d")
    bad = out / (".synthscene/records/000001.json" if damage == "record" else "config.resolved.yaml")
    bad.write_text("{not json: [")
    code, err = run_main(monkeypatch, capsys, "generate", str(cfg), "--out", str(out), "--resume")
    assert code == 2 and str(bad) in err and "--overwrite" in err


def test_cli_overrides_are_validated_before_anything_is_written(made, tmp_path, monkeypatch, capsys):
    cfg, _ = made
    for bad in (["--count", "-1"], ["--count", "0"], ["--seed", "-5"], ["--workers", "0"]):
        code, err = run_main(monkeypatch, capsys, "generate", str(cfg), "--out", str(tmp_path / "o"), *bad)
        assert code == 2 and bad[0] in err and not (tmp_path / "o").exists()


def test_api_arguments_are_bad_input(made, tmp_path):
    cfg, _ = made
    config = load_config(cfg)
    out = tmp_path / "o"
    with pytest.raises(BadInput, match="config"):
        generate(42, out, progress=False)
    for kw, name in ((dict(count="3"), "--count"), (dict(seed=1.5), "--seed"), (dict(workers="2"), "--workers"),
                     (dict(workers=0), "--workers"), (dict(only=["a"]), "--only"), (dict(only=5), "--only"),
                     (dict(count=-1), "--count")):
        with pytest.raises(BadInput) as exc:
            generate(config, out, progress=False, **kw)
        assert exc.value.field == name, kw
    assert not out.exists()
    # a mapping or a path is loaded as a config: documented in generate()
    res = generate(str(cfg), out, count=1, progress=False)
    assert res.rendered == 1
    with pytest.raises(BadInput, match="assets"):
        generate({"seed": 1}, tmp_path / "o2", progress=False)


def test_preview_count_zero_is_bad_input(made, tmp_path, monkeypatch, capsys):
    cfg, _ = made
    code, err = run_main(monkeypatch, capsys, "preview", str(cfg), "--out", str(tmp_path / "p.png"), "--count", "0")
    assert code == 2 and "--count" in err and not (tmp_path / "p.png").exists()


# ---- the lock ---------------------------------------------------------------------------------

def test_a_second_run_is_refused_naming_the_holder(made, tmp_path):
    cfg, ds = made
    out = _copy(ds, tmp_path / "d")
    before = _tree(out)
    with outdir.locked(out):  # this process is the run in progress
        res = run_subprocess("generate", str(cfg), "--out", str(out), "--resume", timeout=120)
        assert _tree(out) == {**before, outdir.LOCK: (out / outdir.LOCK).read_bytes()}
    assert res.returncode == 2, res.stderr
    assert f"pid {os.getpid()}" in res.stderr and socket.gethostname() in res.stderr and str(out) in res.stderr
    assert not (out / outdir.LOCK).exists()  # released
    with outdir.locked(out):  # and free again
        pass


def test_a_stale_lock_is_taken_over(made, tmp_path):
    cfg, ds = made
    out = _copy(ds, tmp_path / "d")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / outdir.LOCK).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "started": "then"}))
    with pytest.warns(outdir.OutputWarning, match=f"pid {dead.pid}"):
        res = generate(load_config(cfg), out, resume=True, progress=False)
    assert res.rendered == 0 and not (out / outdir.LOCK).exists()


def test_lock_released_when_the_run_fails(made, tmp_path):
    cfg, _ = made
    cfg5 = small_config_file(tmp_path, count=6)
    out = tmp_path / "o"
    with pytest.raises(SynthsceneError, match="image 4"):
        generate(load_config(cfg5), out, progress=False, producer=RaiseAt4)
    assert not (out / outdir.LOCK).exists()
    fd = os.open(out / ".synthscene" / "probe", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)


# ---- --debug shows the worker's traceback -------------------------------------------------------

_FAILING = """\
import sys
sys.path.insert(0, {tests!r})
import functools
import synthscene
from robust_helpers import RaiseAt4
synthscene.generate = functools.partial(synthscene.generate, producer=RaiseAt4)  # what the CLI calls
from synthscene.cli import main
sys.argv = ["synthscene", *sys.argv[1:]]
main()
"""


@pytest.mark.parametrize("debug", [False, True])
def test_debug_shows_the_worker_traceback(tmp_path, debug):
    cfg = small_config_file(tmp_path, count=6)
    args = [*(["--debug"] if debug else []), "generate", str(cfg), "--out", str(tmp_path / "o"), "--workers", "2"]
    res = subprocess.run([sys.executable, "-c", _FAILING.format(tests=str(ROOT / "tests")), *args],
                         capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 1, res.stderr
    assert "image 4 (seed 5) failed: ValueError: boom" in res.stderr
    worker_frame = 'raise ValueError("boom")'  # robust_helpers.RaiseAt4.produce, run in the worker
    if debug:
        assert "Traceback" in res.stderr and worker_frame in res.stderr and "robust_helpers.py" in res.stderr
    else:
        assert "Traceback" not in res.stderr and worker_frame not in res.stderr


# ---- links inside the output folder ---------------------------------------------------------------

def test_a_lock_that_is_a_link_is_refused_and_its_target_kept(made, tmp_path, monkeypatch, capsys):
    """`ln -s ../../victim.txt OUT/.synthscene/lock` once made --resume truncate victim.txt."""
    cfg, ds = made
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = _copy(ds, tmp_path / "d")
    (out / outdir.LOCK).symlink_to(os.path.relpath(victim, out / outdir.MARKER))
    for flags in (["--resume"], ["--overwrite"]):
        code, err = run_main(monkeypatch, capsys, "generate", str(cfg), "--out", str(out), *flags)
        assert code == 2 and str(out / outdir.LOCK) in err and "symbolic link" in err, err
        assert victim.read_text() == "precious" and (out / outdir.LOCK).is_symlink()


@pytest.mark.parametrize("link", ["labels", "images/train", outdir.MARKER, f"{outdir.RECORDS_DIR}", "annotations"])
def test_a_linked_folder_in_a_dataset_is_refused(made, tmp_path, monkeypatch, capsys, link):
    """`--overwrite` with OUT/labels a link to a user's folder once deleted same-named files there."""
    cfg, ds = made
    out = _copy(ds, tmp_path / "d")
    theirs = tmp_path / "theirs"
    subprocess.run(["mv", str(out / link), str(theirs)], check=True)
    (out / link).symlink_to(theirs, target_is_directory=True)
    before = _tree(theirs)
    for flags in ([], ["--resume"], ["--overwrite"]):
        code, err = run_main(monkeypatch, capsys, "generate", str(cfg), "--out", str(out), *flags)
        assert code == 2 and f"{out / link}: --out" in err and "symbolic link" in err, (flags, err)
        assert _tree(theirs) == before and (out / link).is_symlink()


def test_overwrite_never_deletes_outside_the_folder(made, tmp_path, monkeypatch, capsys):
    """A dataset whose file lists or records name ../victim.txt (edited, or received from someone)."""
    cfg, ds = made
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = _copy(ds, tmp_path / "d")
    (out / outdir.FILES_DIR / "000000.json").write_text(json.dumps(["../victim.txt", str(victim)]))
    rec = out / outdir.RECORDS_DIR / "000001.json"
    rec.write_text(json.dumps({**json.loads(rec.read_text()), "file": "../victim.txt"}))
    code, err = run_main(monkeypatch, capsys, "generate", str(cfg), "--out", str(out), "--overwrite")
    assert code == 0, err
    assert victim.read_text() == "precious"
