"""Bad input is refused with exit 2 and a message naming the file and the field; no traceback."""
from __future__ import annotations

import errno

import pytest

from synthscene import load_config
from synthscene.core.errors import BadInput
from synthscene.generation.pipeline import generate
from robust_helpers import dataset_files, small_config_file
from conftest import run_main


def test_malformed_yaml(tmp_path, monkeypatch, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("seed: 1\nassets: [\n  - {name: a\n")
    code, err = run_main(monkeypatch, capsys, "generate", str(cfg), "--out", str(tmp_path / "o"))
    assert code == 2 and "invalid YAML" in err and "c.yaml" in err and "line" in err


def test_wrong_type_and_unknown_key(tmp_path, monkeypatch, capsys):
    cfg = small_config_file(tmp_path)
    cfg.write_text(cfg.read_text().replace("seed: 5", "seed: five\ncoutn: 3"))
    code, err = run_main(monkeypatch, capsys, "generate", str(cfg), "--out", str(tmp_path / "o"))
    assert code == 2 and "seed" in err and "coutn" in err and "unknown key" in err
    assert not (tmp_path / "o").exists()


def test_missing_asset(tmp_path, monkeypatch, capsys):
    cfg = small_config_file(tmp_path)
    cfg.write_text(cfg.read_text().replace('"pybullet:duck_vhacd.urdf"', "assets/nothere.urdf"))
    code, err = run_main(monkeypatch, capsys, "generate", str(cfg), "--out", str(tmp_path / "o"))
    assert code == 2 and "assets[0].urdf" in err and "nothere.urdf" in err


URDF = """<robot name="x"><link name="base">
<inertial><mass value="0.1"/><inertia ixx="1e-4" ixy="0" ixz="0" iyy="1e-4" iyz="0" izz="1e-4"/></inertial>
<visual><geometry><mesh filename="{mesh}"/></geometry></visual>
<collision><geometry><mesh filename="{mesh}"/></geometry></collision></link></robot>"""

CUBE_OBJ = "".join(f"v {x} {y} {z}\n" for x in (0, .05) for y in (0, .05) for z in (0, .05)) + \
    "f 1 2 4\nf 1 4 3\nf 5 7 8\nf 5 8 6\nf 1 5 6\nf 1 6 2\nf 3 4 8\nf 3 8 7\nf 1 3 7\nf 1 7 5\nf 2 6 8\nf 2 8 4\n"


def asset_config(tmp_path, mesh: str, extra: str = "") -> tuple:
    adir = tmp_path / "assets" / "thing"
    adir.mkdir(parents=True, exist_ok=True)
    (adir / "thing.urdf").write_text(URDF.format(mesh=mesh))
    cfg = small_config_file(tmp_path)
    cfg.write_text(cfg.read_text().replace('"pybullet:duck_vhacd.urdf"', f"assets/thing/thing.urdf{extra}"))
    return cfg, adir


@pytest.mark.parametrize("garbage", [bytes(range(256)) * 8, b"v 0 0 0\nv 1 0 0\nf 1 2 3\n"])
def test_corrupt_mesh(tmp_path, monkeypatch, capsys, garbage):
    cfg, adir = asset_config(tmp_path, "thing.obj")
    (adir / "thing.obj").write_bytes(garbage)
    code, err = run_main(monkeypatch, capsys, "generate", str(cfg), "--out", str(tmp_path / "o"))
    # refused by whichever check meets it first (the mesh check here, or the config's size check)
    assert code == 2 and "thing" in err and "assets[0]" in err
    assert not list((tmp_path / "o").rglob("*.jpg"))


def test_mesh_path_confined_unless_allowed(tmp_path, monkeypatch, capsys):
    (tmp_path / "outside.obj").write_text(CUBE_OBJ)
    cfg, _ = asset_config(tmp_path, "../../outside.obj")
    code, err = run_main(monkeypatch, capsys, "generate", str(cfg), "--out", str(tmp_path / "o"))
    assert code == 2 and "outside the asset folder" in err and "allow_external_paths" in err
    cfg.write_text(cfg.read_text().replace("assets/thing/thing.urdf", "assets/thing/thing.urdf, allow_external_paths: true"))
    res = generate(load_config(cfg), tmp_path / "o2", count=2, progress=False)
    assert res.rendered == 2


def test_absolute_mesh_path_is_confined_too(tmp_path, monkeypatch, capsys):
    (tmp_path / "abs.obj").write_text(CUBE_OBJ)
    cfg, _ = asset_config(tmp_path, str(tmp_path / "abs.obj"))
    code, err = run_main(monkeypatch, capsys, "generate", str(cfg), "--out", str(tmp_path / "o"))
    assert code == 2 and "outside the asset folder" in err


def test_non_empty_output_refused(tmp_path, monkeypatch, capsys):
    cfg = small_config_file(tmp_path)
    out = tmp_path / "o"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    code, err = run_main(monkeypatch, capsys, "generate", str(cfg), "--out", str(out))
    assert code == 2 and "--resume" in err and "--overwrite" in err
    assert (out / "mine.txt").read_text() == "keep me" and len(list(out.iterdir())) == 1


def test_unwritable_output(tmp_path, monkeypatch, capsys):
    cfg = small_config_file(tmp_path)
    (tmp_path / "afile").write_text("x")
    code, err = run_main(monkeypatch, capsys, "generate", str(cfg), "--out", str(tmp_path / "afile" / "o"))
    assert code == 2 and f"{tmp_path / 'afile'} is a file, not a folder" in err

    import synthscene.generation.pipeline as pipeline

    def denied(path, data):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(pipeline, "atomic_write", denied)
    code, err = run_main(monkeypatch, capsys, "generate", str(cfg), "--out", str(tmp_path / "o2"))
    assert code == 2 and "Permission denied" in err


def test_full_disk_keeps_nothing_partial_and_resumes(tmp_path, monkeypatch, capsys):
    """The disk fills during image 6's label: exit 1 naming the cause; nothing partial on disk;
    --resume once there is space gives the same dataset as an uninterrupted run."""
    import builtins

    import synthscene.core.files as io  # where atomic_write lives

    cfg = small_config_file(tmp_path, count=10)
    clean = tmp_path / "clean"
    generate(load_config(cfg), clean, progress=False)

    real_open = builtins.open

    class FullDisk:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, raw):
            self.f.write(raw[: len(raw) // 2])  # half of it reached the disk
            raise OSError(errno.ENOSPC, "No space left on device")

    def fake_open(path, mode="r", *a, **k):
        f = real_open(path, mode, *a, **k)
        return FullDisk(f) if "000006.txt" in str(path) else f

    monkeypatch.setattr(io, "open", fake_open, raising=False)
    out = tmp_path / "o"
    code, err = run_main(monkeypatch, capsys, "generate", str(cfg), "--out", str(out))
    assert code == 1 and "No space left on device" in err and "image 6" in err and "--resume" in err
    assert not list(out.rglob(".*.tmp-*"))
    assert not list(out.rglob("000006.txt")) and not (out / ".synthscene/records/000006.json").exists()
    assert len(list((out / ".synthscene/records").glob("*.json"))) == 6  # 0..5 kept
    monkeypatch.setattr(io, "open", real_open, raising=False)
    generate(load_config(cfg), out, resume=True, progress=False)
    assert dataset_files(out) == dataset_files(clean)


def test_bad_backend_and_ray_address(tmp_path):
    cfg = load_config(small_config_file(tmp_path))
    with pytest.raises(BadInput, match="backend"):
        generate(cfg, tmp_path / "o", backend="spark", progress=False)
    with pytest.raises(BadInput, match="no Ray cluster answers at 127.0.0.1:1"):
        generate(cfg, tmp_path / "o2", backend="ray", ray_address="127.0.0.1:1", progress=False)


# ---- one rule for every --out: an existing file is kept unless --overwrite; a folder for a file (and back) is named

def _out_file_cases(tmp_path):
    """(command args before --out, whether it has --overwrite) of every command whose --out is a file."""
    from test_refine import BIG, _diagnosis, _image, _write, tiny_config

    cfg = small_config_file(tmp_path)
    diag = _diagnosis(tmp_path, [_image(f"{i}.png", BIG, "duck", i % 2) for i in range(8)], [{"class": "duck", "area": 4e4}] * 8)
    (tmp_path / "w.pt").write_bytes(b"never read: --out is checked first")
    (tmp_path / "cube.obj").write_text(CUBE_OBJ)
    return {"preview": ["preview", cfg],
            "assets preview": ["assets", "preview", "pybullet:duck_vhacd.urdf"],
            "refine": ["refine", _write(tmp_path, tiny_config(), "r.yaml"), "--diagnosis", diag],
            "evaluate": ["evaluate", tmp_path / "w.pt", "--gold", tmp_path],
            "init": ["init", tmp_path / "cube.obj"]}


def test_an_out_file_is_never_replaced_without_overwrite(tmp_path, monkeypatch, capsys):
    for name, args in _out_file_cases(tmp_path).items():
        out = tmp_path / f"{name.replace(' ', '_')}.yaml"
        out.write_text("precious\n")
        code, err = run_main(monkeypatch, capsys, *args, "--out", out)
        assert code == 2 and f"{out}: --out: already exists" in err and "--overwrite" in err, (name, err)
        assert out.read_text() == "precious\n"
        code, err = run_main(monkeypatch, capsys, *args, "--out", tmp_path, "--overwrite")
        assert code == 2 and f"{tmp_path}: --out: is a folder" in err, (name, err)
        code, err = run_main(monkeypatch, capsys, *args, "--out", out / "x.yaml")
        assert code == 2 and f"{out} is a file, not a folder" in err, (name, err)


def test_refine_and_preview_replace_with_overwrite(tmp_path, monkeypatch, capsys):
    cases = _out_file_cases(tmp_path)
    for name in ("refine", "preview"):
        out = tmp_path / ("new.yaml" if name == "refine" else "sheet.png")
        out.write_text("old")
        args = [*cases[name], "--out", out, "--overwrite"] + (["--count", "1"] if name == "preview" else [])
        code, err = run_main(monkeypatch, capsys, *args)
        assert code == 0 and out.read_bytes() != b"old", (name, err)


def test_an_out_folder_that_is_a_file_is_named(tmp_path, monkeypatch, capsys):
    mine = tmp_path / "mine.txt"
    mine.write_text("precious\n")
    (tmp_path / "w.pt").write_bytes(b"x")
    cfg = small_config_file(tmp_path)
    for args in (["inspect", tmp_path], ["diagnose", tmp_path / "w.pt", "--gold", tmp_path, "--dataset", tmp_path],
                 ["train", tmp_path], ["generate", cfg]):
        for out in (mine, mine / "sub"):
            code, err = run_main(monkeypatch, capsys, *args, "--out", out)
            assert code == 2 and str(mine) in err and "not a folder" in err, (args, out, err)
    assert mine.read_text() == "precious\n"


def test_inspect_refreshes_its_report_but_not_someone_elses(tmp_path, monkeypatch, capsys):
    ds = tmp_path / "ds"
    generate(load_config(small_config_file(tmp_path, count=2)), ds, progress=False)
    rep = tmp_path / "rep"
    for _ in range(2):  # a second run refreshes the report
        code, err = run_main(monkeypatch, capsys, "inspect", ds, "--out", rep)
        assert code == 0 and (rep / "stats.json").is_file(), err
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "report.md").write_text("my notes\n")
    code, err = run_main(monkeypatch, capsys, "inspect", ds, "--out", theirs)
    assert code == 2 and f"{theirs}: --out" in err and "report.md" in err
    assert (theirs / "report.md").read_text() == "my notes\n" and len(list(theirs.iterdir())) == 1
