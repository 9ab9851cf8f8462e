"""Memory of one render worker, stage by stage: where its RSS goes, and what one more worker costs.

    python benchmarks/worker_memory.py [--config configs/lmo.yaml] [--images 20] [--runs 3]
                                       [--backend egl|tiny] [--workers 2 [--count 12]]

One process does what a spawned worker of `synthscene generate --workers N` does, in its order,
and reads its memory after each stage: the import groups a worker imports (one spawned from the
CLI imports `synthscene.cli` as its main module, then the worker loop), the config (prepared and
pickled by the parent, as `generate` does), the World (EGL context, ground, each asset, the
distractor pool, the warm-up frames), the Labeler (silhouette meshes), the ImageRandomizers (each
randomizer's per-worker state), the first image, then `--images` images in all.

Memory: RSS counts every resident page the process maps, shared libraries included; `anon` is
its anonymous part (/proc/PID/smaps_rollup: heap, buffers, JIT code), which no other worker
shares: N workers take about N × anon + (RSS − anon) once, the rest being file pages (libraries)
that every worker maps from the same files. USS (pages no other process maps) and PSS (shared
pages split between their processes) are psutil's; both depend on what else runs on the machine
that maps the same libraries. `--runs R` runs R fresh processes; each stage's median.

`--workers N` (N <= 2 here) instead renders `--count` images with the real pipeline (N spawned
workers) and reads each worker's memory from the parent, after its first image and as it exits,
and their sums. One JSON line last.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def memory(proc=None) -> dict:
    """RSS, USS, PSS, and anonymous memory of a process, MiB (see the module's docstring)."""
    import psutil

    proc = proc or psutil.Process()
    m = proc.memory_full_info()
    anon = peak = 0
    try:
        with open(f"/proc/{proc.pid}/smaps_rollup") as f:
            anon = next(int(line.split()[1]) * 1024 for line in f if line.startswith("Anonymous:"))
        with open(f"/proc/{proc.pid}/status") as f:
            peak = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        pass
    mb = lambda b: round(b / 2**20, 1)  # noqa: E731
    return {"rss": mb(m.rss), "uss": mb(m.uss), "pss": mb(m.pss), "anon": mb(anon), "peak_rss": mb(peak)}


class Stages:
    """Memory after each named stage, in order."""

    def __init__(self):
        self.rows: list[tuple[str, dict]] = [("interpreter", memory())]

    def __call__(self, name: str) -> None:
        self.rows.append((name, memory()))


#: third-party import groups, measured one by one before synthscene's own modules
IMPORT_GROUPS = ["numpy", "cv2", "pybullet+pybullet_data", "pydantic+yaml", "scipy.spatial.transform", "trimesh",
                 "numba", "albumentations", "typer"]


def _imported_by_a_worker() -> set[str]:
    """Top-level packages that importing the worker's modules loads (measured in a fresh process)."""
    code = ("import sys, json; sys.path.insert(0, sys.argv[1]); import synthscene.cli, synthscene.generation.executors.local; "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", code, str(ROOT)], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def child(pickled: str, images: int) -> dict:
    """One worker's start-up and images, memory after each stage (runs in a fresh process)."""
    st = Stages()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # as synthscene/__init__ sets it
    imported = _imported_by_a_worker()
    for group in IMPORT_GROUPS:  # third-party first, each group's own cost, if a worker imports it
        if not any(name.split(".")[0] in imported for name in group.split("+")):
            continue
        for name in group.split("+"):
            hide = name == "albumentations" and "torch" not in sys.modules
            if hide:  # as producer.without_torch: albumentations would import torch (~0.7 GB)
                sys.modules["torch"] = None
            try:
                __import__(name)
            except ImportError:
                pass
            finally:
                if hide:
                    del sys.modules["torch"]
        st(f"import {group}")
    import synthscene.cli  # noqa: F401  (a worker spawned from the `synthscene` command imports it as __mp_main__)
    st("import synthscene, synthscene.cli")
    import synthscene.generation.executors.local  # noqa: F401
    st("import synthscene.generation.executors.local (the rest)")
    mods = len(sys.modules)

    import pickle

    from synthscene.generation.producer import ImageProducer, image_files
    from synthscene.randomizers import image as image_mod
    from synthscene.randomizers.base import REGISTRY
    from synthscene.scenes import world as world_mod

    with open(pickled, "rb") as f:  # as a spawned worker gets it: prepared by the parent, pickled
        config, backend = pickle.load(f)
    st("config unpickled")

    # World's own steps, recorded by wrapping its methods (the module stays as it is).
    names = {a.urdf: a.name for a in config.assets}
    if config.scene.ground is not None:
        names[config.scene.ground.urdf] = "ground"
    orig_load, orig_renderer, orig_warm = world_mod.World._load, world_mod.Renderer.__init__, world_mod.Renderer.warm_up
    pool = {"n": 0}

    def load(self, urdf, field, *a, **k):
        uid = orig_load(self, urdf, field, *a, **k)
        if field.startswith("randomizers.occlusion"):
            pool["n"] += 1
        else:
            st(f"World: load {names.get(urdf, urdf)}")
        return uid

    def renderer(self, *a, **k):
        orig_renderer(self, *a, **k)
        st(f"World: PyBullet client + {a[1] if len(a) > 1 else k.get('name')} renderer")

    def warm(self):
        st(f"World: distractor pool ({pool['n']} bodies), then PyBullet file cache emptied")
        orig_warm(self)
        st("World: warm-up frames")

    world_mod.World._load, world_mod.Renderer.__init__, world_mod.Renderer.warm_up = load, renderer, warm
    # Each randomizer's per-worker state (texture and background caches, the post pipeline).
    for n in image_mod.IMAGE_ORDER:
        r = REGISTRY[n]
        if r.worker is not None:
            def worker(cfg, seed, _w=r.worker, _n=n):
                out = _w(cfg, seed)
                st(f"ImageRandomizers: {_n}")
                return out
            object.__setattr__(r, "worker", worker)

    import synthscene.generation.producer as producer_mod

    real_labeler, real_trim = producer_mod.Labeler, getattr(producer_mod, "trim_heap", None)

    def labeler(*a, **k):
        out = real_labeler(*a, **k)
        st("Labeler (silhouette meshes)")
        return out

    def trim():
        real_trim()
        st("heap trimmed (malloc_trim)")

    producer_mod.Labeler = labeler
    if real_trim is not None:
        producer_mod.trim_heap = trim

    producer = ImageProducer(config, backend)
    q = config.output.jpeg_quality
    image_files(producer.produce(0), q)
    st("first image (JIT, GL and cache first use)")
    for i in range(1, images):
        image_files(producer.produce(i), q)
    st(f"after {images} images")
    producer.close()
    return {"stages": st.rows, "backend": backend, "modules_imported": mods, "torch_loaded": bool(sys.modules.get("torch"))}


def _median_rows(runs: list[list]) -> list[tuple[str, dict]]:
    rows = []
    for k, (name, _) in enumerate(runs[0]):
        rows.append((name, {m: round(statistics.median(r[k][1][m] for r in runs), 1) for m in ("rss", "anon", "uss", "pss", "peak_rss")}))
    return rows


def table(rows) -> str:
    """Markdown: each stage's RSS, anonymous memory and USS, and what the stage added."""
    out = ["| stage | RSS MB | +RSS | anon MB | +anon | USS MB | peak RSS MB |", "|---|---:|---:|---:|---:|---:|---:|"]
    prev = None
    for name, m in rows:
        d = (lambda k: f"{m[k] - prev[k]:+.0f}") if prev else (lambda k: "")
        out.append(f"| {name} | {m['rss']:.0f} | {d('rss')} | {m['anon']:.0f} | {d('anon')} | {m['uss']:.0f} | {m['peak_rss']:.0f} |")
        prev = m
    return "\n".join(out)


def workers(config_path: str, n: int, count: int) -> dict:
    """The real pipeline with n spawned workers, each one's memory read from here every 0.2 s:
    when its first record appears (start-up + one image) and the sample of largest RSS (its peak,
    as seen at that rate). Their sums: what n workers take together."""
    import threading

    import psutil

    sys.path.insert(0, str(ROOT))
    from synthscene import generate
    from synthscene.generation.outdir import RECORDS_DIR

    me, stop = psutil.Process(), threading.Event()
    first: dict[int, dict] = {}
    peak: dict[int, dict] = {}

    def workers_now():
        out = []
        for c in me.children():
            try:
                if any("spawn_main" in part for part in c.cmdline()):  # not multiprocessing's resource tracker
                    out.append(c)
            except psutil.Error:
                pass
        return out

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"

        def sample():
            seen = 0
            while not stop.is_set():
                records = len(list((out / RECORDS_DIR).iterdir())) if (out / RECORDS_DIR).is_dir() else 0
                for c in workers_now():
                    try:
                        m = memory(c)
                    except psutil.Error:
                        continue
                    if m["rss"] > peak.get(c.pid, {"rss": 0})["rss"]:
                        peak[c.pid] = m
                    if records > seen and c.pid not in first:
                        first[c.pid] = m
                seen = records
                stop.wait(0.2)

        t = threading.Thread(target=sample, daemon=True)
        t.start()
        try:
            generate(config_path, out, count=count, workers=n, progress=False)
        finally:
            stop.set()
            t.join()
    total = lambda d, k: round(sum(m[k] for m in d.values()), 1)  # noqa: E731
    return {"workers": n, "images": count, "per_worker_after_first_image": list(first.values()),
            "per_worker_peak": list(peak.values()), "sum_of_peaks": {k: total(peak, k) for k in ("rss", "anon", "uss", "pss")}}


def _prepared(config_path: str, backend: str | None) -> bytes:
    """The config as the parent process of `synthscene generate` hands it to its workers: loaded,
    prepared (assets converted and checked), pickled, with the resolved renderer backend."""
    import pickle

    sys.path.insert(0, str(ROOT))
    from synthscene import load_config, prepare
    from synthscene.generation.producer import without_torch
    from synthscene.renderers.pybullet import resolve_renderer

    with without_torch():
        config = prepare(load_config(config_path))
    return pickle.dumps((config, backend or resolve_renderer(config.renderer.backend, announce=False)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default=str(ROOT / "configs" / "lmo.yaml"))
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--backend", default=None)
    ap.add_argument("--workers", type=int, default=0, help="measure N real worker processes instead")
    ap.add_argument("--count", type=int, default=12, help="images rendered with --workers")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.workers:
        print(json.dumps(workers(args.config, args.workers, args.count)))
        return
    if args.child:
        print(json.dumps(child(args.config, args.images)))
        return
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        pickled = Path(tmp) / "config.pickle"
        pickled.write_bytes(_prepared(args.config, args.backend))
        for _ in range(args.runs):
            cmd = [sys.executable, __file__, "--child", "--config", str(pickled), "--images", str(args.images)]
            res = subprocess.run(cmd, capture_output=True, text=True, check=True)
            runs.append(json.loads(res.stdout.strip().splitlines()[-1]))
    rows = _median_rows([r["stages"] for r in runs])
    print(table(rows))
    print(json.dumps({"config": args.config, "runs": args.runs, "images": args.images, "backend": runs[0]["backend"],
                      "modules_imported": runs[0]["modules_imported"], "torch_loaded": runs[0]["torch_loaded"],
                      "stages": {name: m for name, m in rows},
                      "rss_runs_after_first_image": [m["rss"] for r in runs for n, m in r["stages"] if n.startswith("first image")],
                      "rss_runs_after_images": [r["stages"][-1][1]["rss"] for r in runs]}))


if __name__ == "__main__":
    main()
