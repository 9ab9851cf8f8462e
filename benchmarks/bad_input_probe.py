"""The bad-input probe: runs the real `synthscene` command on each hostile or broken input and
tabulates what happened — exit code, whether a traceback leaked, whether the message names the
file/field, whether any file the user had was lost. docs/ROBUSTNESS.md's table is its output.

    python benchmarks/bad_input_probe.py [--markdown]

Prints the table (with --markdown) and one JSON line last: {"cases": N, "ok": M, "failed": [...]}.
Each case states the exit code it expects; "ok" means exit code, message and data all as expected.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]

SMALL = """\
seed: 5
count: {count}
assets:
  - {{name: duck, urdf: "pybullet:duck_vhacd.urdf", count: [0, 2]}}
  - {{name: mug, urdf: "pybullet:objects/mug.urdf", count: [0, 2]}}
camera: {{width: 96, height: 72, fov_deg: 50}}
randomizers:
  pose: {{mode: free, volume: {{x: [-0.12, 0.12], y: [-0.12, 0.12], z: [0.02, 0.15]}}}}
"""
URDF = """<robot name="x"><link name="base">
<inertial><mass value="{mass}"/><inertia ixx="1e-4" ixy="0" ixz="0" iyy="1e-4" iyz="0" izz="1e-4"/></inertial>
<visual><geometry><mesh filename="{mesh}"/></geometry></visual>
<collision><geometry><mesh filename="{mesh}"/></geometry></collision></link></robot>"""
CUBE_OBJ = "".join(f"v {x} {y} {z}\n" for x in (0, .05) for y in (0, .05) for z in (0, .05)) + \
    "f 1 2 4\nf 1 4 3\nf 5 7 8\nf 5 8 6\nf 1 5 6\nf 1 6 2\nf 3 4 8\nf 3 8 7\nf 1 3 7\nf 1 7 5\nf 2 6 8\nf 2 8 4\n"
FLAT_OBJ = "v 0 0 0\nv 0.1 0 0\nv 0.1 0.1 0\nv 0 0.1 0\nf 1 2 3\nf 1 3 4\n"


class Evil:
    """Pickled into a .pt: unpickling it would create the marker file."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@dataclass
class Case:
    name: str
    expect: int  # exit code
    named: str  # a substring the message must hold (the file or the field)
    setup: Callable[[Path], list[str]]  # writes files under the folder, returns the CLI arguments
    kept: Callable[[Path], bool] = lambda d: True  # the user's files are all still there
    env: dict | None = None


def cfg(d: Path, text: str | None = None, count: int = 4, name: str = "c.yaml") -> Path:
    p = d / name
    p.write_text(text if text is not None else SMALL.format(count=count))
    return p


def with_asset(d: Path, mesh: str, mesh_text: str = CUBE_OBJ, mass: str = "0.1") -> Path:
    adir = d / "assets" / "thing"
    adir.mkdir(parents=True, exist_ok=True)
    (adir / "thing.urdf").write_text(URDF.format(mesh=mesh, mass=mass))
    if mesh_text is not None and not mesh.startswith(("..", "/")):
        (adir / mesh).write_text(mesh_text)
    return cfg(d, SMALL.format(count=2).replace('"pybullet:duck_vhacd.urdf"', "assets/thing/thing.urdf"))


def evil_pt(d: Path) -> Path:
    p = d / "evil.pt"
    p.write_bytes(pickle.dumps({"model": Evil(str(d / "PWNED"))}))
    return p


def user_folder(d: Path) -> Path:
    out = d / "o"
    (out / "images" / "train").mkdir(parents=True)
    (out / "images" / "train" / "mine.jpg").write_bytes(b"my photo")
    (out / "data.yaml").write_text("mine: true\n")
    (out / ".notes.tmp-1").write_text("mine too")
    return out


def user_files_intact(d: Path) -> bool:
    out = d / "o"
    return ((out / "images/train/mine.jpg").is_file() and (out / "data.yaml").read_text() == "mine: true\n"
            and (out / ".notes.tmp-1").is_file())


def generated(d: Path, count: int = 3) -> Path:
    c = cfg(d, count=count)
    _run(["generate", str(c), "--out", str(d / "o")])
    return c


def gold_copy(d: Path) -> Path:
    c = generated(d)
    import shutil

    shutil.copytree(d / "o", d / "copy")
    lbl = sorted((d / "copy" / "labels").rglob("*.txt"))[0]
    lbl.write_text("0 0.5 0.5 1.7 0.2\n")  # a box wider than the image
    return c


HOLD_LOCK = """
import sys, time
from pathlib import Path
from synthscene.generation.outdir import locked
with locked(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(600)
"""


def held_lock(d: Path) -> Path:
    """A first run's lock on d/o, held by a child process for the case's duration."""
    generated(d)
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(d / "o")], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    proc.stdout.readline()  # "held": the lock is taken
    _HOLDERS.append(proc)
    return d / "c.yaml"


_HOLDERS: list[subprocess.Popen] = []


def victim(d: Path) -> Path:
    """A user's file that a link synthscene did not make points to."""
    (d / "victim.txt").write_text("precious\n")
    return d / "victim.txt"


def victim_kept(d: Path) -> bool:
    return (d / "victim.txt").read_text() == "precious\n"


def linked(d: Path, link: str) -> Path:
    """A 3-image dataset in d/o whose `link` (a file or folder in it) is a link to the user's."""
    c = generated(d)
    target = victim(d) if link.endswith("lock") else d / "theirs"
    if not link.endswith("lock"):
        (d / "o" / link).rename(target)
    (d / "o" / link).symlink_to(os.path.relpath(target, (d / "o" / link).parent))
    return c


def theirs_kept(d: Path) -> bool:
    return len(list((d / "theirs").rglob("*.txt"))) == 3


def precious(d: Path, name: str) -> Path:
    (d / name).write_text("precious\n")
    return d / name


def bomb_pt(d: Path) -> Path:
    """A zip archive named as torch.save names its members, data.pkl 64 MiB of zeros deflated to ~64 kB."""
    import zipfile

    with zipfile.ZipFile(d / "bomb.pt", "w", zipfile.ZIP_DEFLATED) as z, z.open("archive/data.pkl", "w", force_zip64=True) as f:
        for _ in range(64):
            f.write(bytes(1 << 20))
    return d / "bomb.pt"


def small_gold(d: Path, labels: bool = True, names: list[str] | None = None) -> Path:
    """A one-photo YOLO gold folder (with labels/ unless told)."""
    g = d / "gold"
    (g / "images").mkdir(parents=True)
    (g / "images" / "a.jpg").write_bytes(_jpeg())
    if labels:
        (g / "labels").mkdir()
        (g / "labels" / "a.txt").write_text("0 0.5 0.5 0.3 0.3\n")
    (g / "data.yaml").write_text(json.dumps({"names": names or ["duck"]}))
    return g


def other_config(d: Path) -> Path:
    """A dataset made from c.yaml (d/o), and other.yaml: the same without the mug."""
    generated(d)
    return cfg(d, SMALL.format(count=2).replace('  - {name: mug, urdf: "pybullet:objects/mug.urdf", count: [0, 2]}\n', ""),
               name="other.yaml")


def diagnosis_of(d: Path) -> Path:
    """A diagnosis folder whose report.json names d/o as the dataset it diagnosed (no slices to act on)."""
    (d / "diag").mkdir()
    (d / "diag" / "report.json").write_text(json.dumps({"slices": {}, "dataset": str(d / "o")}))
    return d / "diag"


def many_faces(d: Path) -> Path:
    import trimesh

    (d / "assets/thing").mkdir(parents=True)
    trimesh.creation.icosphere(subdivisions=3, radius=0.05).export(d / "assets/thing/ball.obj")  # 1,280 triangles
    return with_asset(d, "ball.obj", mesh_text=None)


CASES = [
    # -- code execution
    Case("weights file with a pickle payload: evaluate", 2, "evil.pt",
         lambda d: ["evaluate", str(evil_pt(d)), "--gold", str(ROOT / "../shared/gold/lmo/yolo")],
         kept=lambda d: not (d / "PWNED").exists()),
    Case("weights file with a pickle payload: train --model", 2, "evil.pt",
         lambda d: ["train", str(d / generated(d).parent / "o"), "--model", str(evil_pt(d)), "--epochs", "1"],
         kept=lambda d: not (d / "PWNED").exists()),
    Case("YAML !!python/object tag", 2, "c.yaml",
         lambda d: ["generate", str(cfg(d, "!!python/object/apply:os.system ['touch PWNED']\n")), "--out", str(d / "o")],
         kept=lambda d: not (d / "PWNED").exists()),
    # -- the user's files
    Case("--overwrite on a folder synthscene did not write", 2, "o",
         lambda d: [user_folder(d) and "generate", str(cfg(d)), "--out", str(d / "o"), "--overwrite"], kept=user_files_intact),
    Case("--resume on a folder synthscene did not write", 2, "o",
         lambda d: [user_folder(d) and "generate", str(cfg(d)), "--out", str(d / "o"), "--resume"], kept=user_files_intact),
    Case("--only on a folder synthscene did not write", 2, "o",
         lambda d: [user_folder(d) and "generate", str(cfg(d)), "--out", str(d / "o"), "--only", "1"], kept=user_files_intact),
    Case("non-empty folder without --resume/--overwrite", 2, "--overwrite",
         lambda d: [user_folder(d) and "generate", str(cfg(d)), "--out", str(d / "o")], kept=user_files_intact),
    Case("--out is an existing file", 2, "afile",
         lambda d: [(d / "afile").write_text("mine") and "generate", str(cfg(d)), "--out", str(d / "afile")],
         kept=lambda d: (d / "afile").read_text() == "mine"),
    Case("init: a link planted at the old temporary name .j.yaml.tmp", 0, "j.yaml", lambda d: [
        (d / "cube.obj").write_text(CUBE_OBJ) and (d / ".j.yaml.tmp").symlink_to(victim(d)) or "init", str(d / "cube.obj"),
        "--out", str(d / "j.yaml")], kept=victim_kept, env={"SYNTHSCENE_CACHE": "{tmp}/cache"}),
    Case("generate --resume: OUT/.synthscene/lock a link to a user's file", 2, "lock",
         lambda d: ["generate", str(linked(d, ".synthscene/lock")), "--out", str(d / "o"), "--resume"], kept=victim_kept),
    Case("generate --overwrite: OUT/labels a link to a user's folder", 2, "labels",
         lambda d: ["generate", str(linked(d, "labels")), "--out", str(d / "o"), "--overwrite"], kept=theirs_kept),
    Case("refine --out an existing file", 2, "precious.yaml", lambda d: [
        "refine", str(cfg(d)), "--diagnosis", str(d / "diag"), "--out", str(precious(d, "precious.yaml"))],
        kept=lambda d: (d / "precious.yaml").read_text() == "precious\n"),
    Case("preview --out an existing file", 2, "sheet.png", lambda d: [
        "preview", str(cfg(d)), "--out", str(precious(d, "sheet.png"))], kept=lambda d: (d / "sheet.png").read_text() == "precious\n"),
    Case("evaluate --out a folder", 2, "--out", lambda d: [
        "evaluate", str(evil_pt(d)), "--gold", str(d), "--out", str(d)], kept=lambda d: not (d / "PWNED").exists()),
    Case("inspect --out an existing file", 2, "report.txt", lambda d: [
        "inspect", str(d), "--out", str(precious(d, "report.txt"))], kept=lambda d: (d / "report.txt").read_text() == "precious\n"),
    Case("train --out an existing file", 2, "run.txt", lambda d: [
        "train", str(d), "--out", str(precious(d, "run.txt"))], kept=lambda d: (d / "run.txt").read_text() == "precious\n"),
    Case("a second run into a folder another run holds", 2, "pid", lambda d: [
        "generate", str(held_lock(d)), "--out", str(d / "o"), "--overwrite"],
        kept=lambda d: len(list((d / "o" / "images").rglob("*.jpg"))) == 3),
    Case("--resume with a corrupt record", 2, "000001.json",
         lambda d: [generated(d) and (d / "o/.synthscene/records/000001.json").write_text("{oops") and "generate",
                    str(d / "c.yaml"), "--out", str(d / "o"), "--resume"]),
    Case("--resume with a corrupt config.resolved.yaml", 2, "config.resolved.yaml",
         lambda d: [generated(d) and (d / "o/config.resolved.yaml").write_text("a: [") and "generate",
                    str(d / "c.yaml"), "--out", str(d / "o"), "--resume"]),
    # -- memory, time
    Case("alias bomb nested in randomizers.post", 2, "c.yaml", lambda d: ["generate", str(cfg(d, SMALL.format(count=2) + (
        "x: &a [1,1,1,1,1,1,1,1,1,1]\n" + "".join(f"x{i}: &a{i} [*{'a' if i == 0 else f'a{i-1}'},*{'a' if i == 0 else f'a{i-1}'},"
                                                   f"*{'a' if i == 0 else f'a{i-1}'},*{'a' if i == 0 else f'a{i-1}'}]\n" for i in range(12))))),
        "--out", str(d / "o")]),
    Case("count: 10**12", 2, "count", lambda d: ["generate", str(cfg(d, SMALL.format(count=10**12))), "--out", str(d / "o")]),
    Case("asset count [1e6, 1e6]", 2, "assets[0].count", lambda d: ["generate", str(cfg(d, SMALL.format(count=2).replace(
        "count: [0, 2]}", "count: [1000000, 1000000]}", 1))), "--out", str(d / "o")]),
    Case("mesh over the face budget ($SYNTHSCENE_MAX_FACES=100)", 2, "triangles",
         lambda d: ["generate", str(many_faces(d)), "--out", str(d / "o")],
         env={"SYNTHSCENE_MAX_FACES": "100"}),
    Case("flat (zero-volume) mesh: slab collision, warning, renders", 0, "flat",
         lambda d: [(d / "label.obj").write_text(FLAT_OBJ) and "generate", str(cfg(d, SMALL.format(count=2).replace(
             '{name: mug, urdf: "pybullet:objects/mug.urdf"', "{name: label, mesh: label.obj, collision: vhacd"))),
             "--out", str(d / "o")], env={"SYNTHSCENE_CACHE": "{tmp}/cache"}),
    # -- validation
    Case("malformed YAML", 2, "c.yaml", lambda d: ["generate", str(cfg(d, "seed: 1\nassets: [\n")), "--out", str(d / "o")]),
    Case("unknown key", 2, "coutn", lambda d: ["generate", str(cfg(d, SMALL.format(count=2) + "coutn: 3\n")), "--out", str(d / "o")]),
    Case("duplicate key", 2, "seed", lambda d: ["generate", str(cfg(d, "seed: 1\n" + SMALL.format(count=2))), "--out", str(d / "o")]),
    Case("NaN in a range", 2, "distance", lambda d: ["generate", str(cfg(d, SMALL.format(count=2) + "  camera: {distance: [.nan, 1]}\n")),
                                                     "--out", str(d / "o")]),
    Case("NaN in intrinsics", 2, "fx", lambda d: ["generate", str(cfg(d, SMALL.format(count=2).replace(
        "fov_deg: 50", "intrinsics: {fx: .nan, fy: 100, cx: 48, cy: 36}"))), "--out", str(d / "o")]),
    Case("NaN mass", 2, "mass", lambda d: ["generate", str(cfg(d, SMALL.format(count=2).replace(
        "count: [0, 2]}", "count: [0, 2], mass: .nan}", 1))), "--out", str(d / "o")]),
    Case("negative max_tries", 2, "max_tries", lambda d: ["generate", str(cfg(d, SMALL.format(count=2).replace(
        "pose: {mode: free,", "pose: {max_tries: -1, mode: free,"))), "--out", str(d / "o")]),
    Case("--count -1", 2, "count", lambda d: ["generate", str(cfg(d)), "--out", str(d / "o"), "--count", "-1"],
         kept=lambda d: not (d / "o").exists()),
    Case("--seed -5", 2, "seed", lambda d: ["generate", str(cfg(d)), "--out", str(d / "o"), "--seed", "-5"],
         kept=lambda d: not (d / "o").exists()),
    Case("unknown option (usage error)", 2, "--frobnicate", lambda d: ["generate", str(cfg(d)), "--frobnicate"]),
    Case("missing asset file", 2, "assets[0].urdf", lambda d: ["generate", str(cfg(d, SMALL.format(count=2).replace(
        '"pybullet:duck_vhacd.urdf"', "nothere.urdf"))), "--out", str(d / "o")]),
    Case("corrupt mesh", 2, "thing", lambda d: ["generate", str(with_asset(d, "thing.obj", "v 0 0 0\nf 1 2 3\n")), "--out", str(d / "o")]),
    Case("URDF mesh outside its folder: generate", 2, "outside", lambda d: [
        (d / "outside.obj").write_text(CUBE_OBJ) and "generate", str(with_asset(d, "../../outside.obj")), "--out", str(d / "o")],
        kept=lambda d: not (d / "o" / "config.resolved.yaml").exists()),
    Case("URDF mesh outside its folder: assets add", 2, "outside", lambda d: [
        (d / "outside.obj").write_text(CUBE_OBJ) and with_asset(d, "../../outside.obj") and "assets", "add",
        str(d / "assets/thing/thing.urdf"), "--name", "thing", "--library", str(d / "lib")],
        kept=lambda d: not any((d / "lib").glob("thing*")) if (d / "lib").exists() else True),
    Case("URDF mesh outside its folder: assets check", 2, "outside", lambda d: [
        (d / "outside.obj").write_text(CUBE_OBJ) and with_asset(d, "../../outside.obj") and "assets", "check",
        str(d / "assets/thing/thing.urdf")]),
    Case("unknown Ultralytics argument to train", 2, "lr00", lambda d: ["train", str(generated(d).parent / "o"), "lr00=0.1"]),
    Case("bad Ultralytics value to train", 2, "lr0", lambda d: ["train", str(generated(d).parent / "o"), "lr0=abc"]),
    Case("evaluate with a missing gold folder", 2, "nogold", lambda d: [
        "evaluate", str(evil_pt(d)), "--gold", str(d / "nogold")], kept=lambda d: not (d / "PWNED").exists()),
    Case("asset name with a newline", 2, "name", lambda d: [
        (d / "cube.obj").write_text(CUBE_OBJ) and "assets", "add", str(d / "cube.obj"), "--name", "evil\n", "--library", str(d / "lib")]),
    Case("preview --count 0", 2, "count", lambda d: ["preview", str(cfg(d)), "--out", str(d / "p.png"), "--count", "0"]),
    Case("texture folder with only a truncated JPEG", 2, "texture", lambda d: [
        (d / "tex").mkdir() or (d / "tex" / "t.jpg").write_bytes(_jpeg()[:300]) and "generate",
        str(cfg(d, SMALL.format(count=2) + "  texture: {folder: tex}\n")), "--out", str(d / "o")]),
    Case("inspect a copied dataset with a broken label", 2, "copy",
         lambda d: [gold_copy(d) and "inspect", str(d / "copy"), "--out", str(d / "report")]),
    # -- issue 22: bombs, inputs that do not belong together, values checked late, small ones
    Case("weights whose data.pkl inflates 1000-fold (zip bomb): evaluate", 2, "bomb.pt",
         lambda d: ["evaluate", str(bomb_pt(d)), "--gold", str(small_gold(d))]),
    Case("gold folder without labels/: evaluate", 2, "labels/",
         lambda d: ["evaluate", str(evil_pt(d)), "--gold", str(small_gold(d, labels=False))],
         kept=lambda d: not (d / "PWNED").exists()),
    Case("gold folder without labels/: init --gold", 2, "labels/", lambda d: [
        (d / "cube.obj").write_text(CUBE_OBJ) and "init", str(d / "cube.obj"), "--gold", str(small_gold(d, labels=False)),
        "--out", str(d / "j.yaml")], kept=lambda d: not (d / "j.yaml").exists()),
    Case("refine a config that did not make the diagnosed dataset", 2, "other.yaml",
         lambda d: ["refine", str(other_config(d)), "--diagnosis", str(diagnosis_of(d)), "--out", str(d / "s.yaml")],
         kept=lambda d: not (d / "s.yaml").exists()),
    Case("init 'x]=cube.obj' (a class name YAML would misread)", 2, "x]", lambda d: [
        (d / "cube.obj").write_text(CUBE_OBJ) and "init", f"x]={d / 'cube.obj'}", "--out", str(d / "j.yaml")],
        kept=lambda d: not (d / "j.yaml").exists()),
    Case("init --gold with class names 'a, b' and 'x]': quoted, loads", 0, "j.yaml", lambda d: [
        (d / "cube.obj").write_text(CUBE_OBJ) and "init", str(d / "cube.obj"), "--gold", str(small_gold(d, names=["a, b", "x]"])),
        "--out", str(d / "j.yaml")], env={"SYNTHSCENE_CACHE": "{tmp}/cache"}),
    Case("init --count 0", 2, "--count", lambda d: [
        (d / "cube.obj").write_text(CUBE_OBJ) and "init", str(d / "cube.obj"), "--count", "0", "--out", str(d / "j.yaml")]),
    Case("init /dev/zero", 2, "not a regular file", lambda d: ["init", "/dev/zero", "--out", str(d / "j.yaml")]),
    Case("train optimizer='AdamW;x'", 2, "optimizer", lambda d: ["train", str(generated(d).parent / "o"), "optimizer=AdamW;x"]),
    Case("train device='cpu;x'", 2, "device", lambda d: ["train", str(generated(d).parent / "o"), "device=cpu;x"]),
    Case("generate --only ','", 2, "--only", lambda d: ["generate", str(cfg(d)), "--out", str(d / "o"), "--only", ","],
         kept=lambda d: not (d / "o").exists()),
    Case("synthscene:../../etc/passwd as the ground", 2, "scene.ground.urdf", lambda d: [
        "generate", str(cfg(d, SMALL.format(count=2) + 'scene:\n  ground: {urdf: "synthscene:../../../../../../../../etc/passwd"}\n')),
        "--out", str(d / "o")]),
]


def _jpeg() -> bytes:
    import cv2
    import numpy as np

    ok, buf = cv2.imencode(".jpg", (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8))
    return buf.tobytes()


def _run(args: list[str], env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "synthscene.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env={**os.environ, **(env or {})})


def run_case(case: Case) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        try:
            args = case.setup(d)
            t0 = time.perf_counter()
            env = {k: v.replace("{tmp}", tmp) for k, v in (case.env or {}).items()}
            proc = _run(args, env)
            code, err = proc.returncode, proc.stderr
        except subprocess.TimeoutExpired:
            code, err = "timeout", ""
        seconds = time.perf_counter() - t0
        for holder in _HOLDERS:
            holder.kill()
            holder.wait()
        _HOLDERS.clear()
        row = {"case": case.name, "exit": code, "traceback": "Traceback" in err,
               "names_it": case.named in err or case.named in (proc.stdout if code != "timeout" else ""),
               "data_lost": not case.kept(d), "seconds": round(seconds, 1), "message": err.strip().splitlines()[-1][:160] if err.strip() else ""}
    row["ok"] = row["exit"] == case.expect and not row["traceback"] and row["names_it"] and not row["data_lost"]
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", action="store_true", help="print the table for docs/ROBUSTNESS.md")
    ap.add_argument("-k", default="", help="only cases whose name holds this")
    args = ap.parse_args()
    rows = [run_case(c) for c in CASES if args.k in c.name]
    if args.markdown:
        yn = {True: "y", False: "n"}
        print("| case | exit | traceback | names file/field | data lost |\n|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['case']} | {r['exit']} | {yn[r['traceback']]} | {yn[r['names_it']]} | {yn[r['data_lost']]} |")
    for r in rows:
        if not r["ok"]:
            print(json.dumps(r), file=sys.stderr)
    print(json.dumps({"cases": len(rows), "ok": sum(r["ok"] for r in rows), "failed": [r["case"] for r in rows if not r["ok"]]}))


if __name__ == "__main__":
    main()
