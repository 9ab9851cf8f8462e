"""run_benchmark(): every arm trained, measured on held-apart real photos, and reported.

Arms: synthetic-only; real-only on k real images; synthetic + k real mixed; synthetic pre-training
then fine-tuning on k real. The k real images are the first k of a seeded shuffle of the gold
set's train part (so smaller k are subsets of larger ones); evaluation uses the held-apart part or
--eval-gold, and no image any arm trained on may appear there (checked by content, not by name).

An arm is cached in OUT/arms/<id>/arm.json under the hash of what it was trained from, and its
evaluation under the hash of what it was measured on, so an interrupted run resumes where it
stopped and --eval-gold re-uses trained arms.
"""
from __future__ import annotations

import json
import math
import multiprocessing
import platform
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from ..version import __version__
from ..errors import BadInput, SynthsceneError
from ..labels.io import atomic_write
from ..rng import config_stream
from ..schema import json_hash
from .bench_config import BenchConfig, Budget, load_bench_config
from .data import GoldSet, file_digest, load_gold, write_view
from .evaluate import evaluate
from .fit import resolve_model, train


@dataclass
class Arm:
    kind: str
    k: int | None  # real images; None for synthetic-only
    k_label: str  # "10" or "all"
    epochs: int
    spec: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.kind if self.k is None else f"{self.kind}-k{self.k_label}"


@dataclass
class Split:
    train: list[Path]  # seeded order: the first k are the k real training images
    eval: list[Path]
    eval_gold: GoldSet


def split_gold(gold: GoldSet, seed: int, eval_fraction: float, eval_gold: GoldSet | None) -> Split:
    rng = config_stream(seed, "benchmark.gold_split")
    order = [gold.images[i] for i in rng.permutation(len(gold.images))]
    n_eval = max(1, round(len(order) * eval_fraction))
    train_part, eval_part = order[n_eval:], sorted(order[:n_eval])
    if eval_gold is not None:
        eval_part = eval_gold.images
    split = Split(train_part, eval_part, eval_gold or gold)
    check_disjoint(split.train, split.eval)
    return split


def check_disjoint(train_images: list[Path], eval_images: list[Path]) -> None:
    """No evaluation image may be one any arm trained on: compared by content, whatever the names."""
    seen = {file_digest(p): p for p in train_images}
    clash = [(p, seen[d]) for p in eval_images if (d := file_digest(p)) in seen]
    if clash:
        pairs = ", ".join(f"{a.name} = {b.name}" for a, b in clash[:5])
        raise BadInput(f"{len(clash)} evaluation images are also real training images ({pairs}); "
                       "evaluate on photos no arm trains on", str(clash[0][0].parent), "--eval-gold")


def _ks(cfg: BenchConfig, n_train: int) -> list[tuple[int, str]]:
    out = {}
    for k in cfg.real_k:
        if k == "all":
            out[n_train] = "all"
        elif k > n_train:
            raise BadInput(f"k = {k} real images asked for, but the gold set's train part has {n_train}", cfg.source, "real_k")
        else:
            out.setdefault(k, str(k))
    return sorted(out.items())


def plan_arms(cfg: BenchConfig, budget: Budget, n_train: int) -> list[Arm]:
    """Synthetic first, then per k (smallest first) real, fine-tune, mixed: a run cut short has the
    comparisons that matter most at small k, and the report orders arms by kind anyway."""
    arms = [Arm("synthetic", None, "0", budget.epochs.synthetic)] if "synthetic" in cfg.arms else []
    for k, label in _ks(cfg, n_train):
        for kind in ("real", "finetune", "mixed"):
            if kind not in cfg.arms:
                continue
            epochs = getattr(budget.epochs, kind)
            floor = {"real": budget.min_real_images_seen, "finetune": budget.min_finetune_images_seen}.get(kind, 0)
            if floor:
                epochs = min(budget.max_epochs, max(epochs, math.ceil(floor / k)))
            arms.append(Arm(kind, k, label, epochs))
    return arms


def _hash(obj) -> str:
    return json_hash(obj, default=str)


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"synthscene": __version__, "python": sys.version.split()[0]}
    for pkg in ("ultralytics", "torch", "pybullet", "numpy", "opencv-python-headless"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def ensure_synthetic(cfg: BenchConfig, budget: Budget, out: Path, dataset=None) -> tuple[Path, str, list[str], float]:
    """The synthetic dataset, generated (or completed) if missing; its folder is keyed by its content hash.

    `dataset`: a DatasetConfig to use instead of the one cfg names (benchmarks/ablation.py's variants)."""
    from .. import generate, load_config

    dcfg = (dataset or load_config(cfg.dataset)).with_overrides(count=budget.synthetic_images)
    chash = dcfg.content_hash()
    ds = out / f"synthetic-{chash[:10]}"
    start = time.perf_counter()
    done = ds / "manifest.jsonl"
    if not (done.exists() and sum(1 for _ in done.open()) == budget.synthetic_images):
        # In a process of its own: Mesa's LLVM (EGL) and Triton's cannot share one (segfault).
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=ctx) as pool:
            pool.submit(generate, dcfg, ds, workers=budget.render_workers, resume=True).result()
    return ds, chash, dcfg.class_names, time.perf_counter() - start


class Runner:
    def __init__(self, cfg: BenchConfig, budget: Budget, out: Path, split: Split, gold: GoldSet,
                 synthetic: Path, synth_hash: str, names: list[str], log):
        self.cfg, self.budget, self.out, self.split, self.gold = cfg, budget, out, split, gold
        self.synthetic, self.synth_hash, self.names, self.log = synthetic, synth_hash, names, log
        self.weights: dict[str, Path] = {}

    def real_view(self, k: int) -> Path:
        images = self.split.train[:k]
        leaked = {file_digest(p) for p in images} & {file_digest(p) for p in self.split.eval}
        if leaked:  # a real check, not an assert: it must hold under python -O too
            raise SynthsceneError(f"{len(leaked)} evaluation image(s) would be in the real training set "
                                  f"(train-k{k}): the gold split leaks; the scores would be meaningless")
        return write_view(self.gold, images, self.names, self.out / "real" / f"train-k{k}", "the synthetic dataset config")

    def data_yaml(self, arm: Arm) -> Path:
        if arm.kind in ("synthetic", "mixed"):
            syn_train, syn_val = self.synthetic / "images" / "train", self.synthetic / "images" / "val"
            if not any(syn_val.iterdir()):
                syn_val = syn_train
        if arm.kind == "synthetic":
            train_dirs, val_dir = [syn_train], syn_val
        else:
            real = self.real_view(arm.k).parent / "images"
            if arm.kind == "mixed":
                train_dirs, val_dir = [syn_train] + [real] * self.budget.mixed_real_repeat, syn_val
            else:
                train_dirs, val_dir = [real], real
        doc = {"path": str(self.out), "train": [str(d) for d in train_dirs], "val": str(val_dir),
               "names": dict(enumerate(self.names))}
        f = self.out / "arms" / arm.id / "data.yaml"
        atomic_write(f, yaml.safe_dump(doc, sort_keys=False))
        return f

    def spec(self, arm: Arm) -> dict:
        b = self.budget
        start = {"from": "synthetic", "hash": self.arm_hash(self.synthetic_arm)} if arm.kind == "finetune" else {"from": b.model}
        real = [p.name for p in self.split.train[: arm.k]] if arm.k else []
        return {
            "kind": arm.kind, "k": arm.k, "epochs": arm.epochs, "imgsz": b.imgsz, "batch": b.batch,
            "seed": self.cfg.seed, "start": start, "real_images": real,
            "synthetic": self.synth_hash if arm.kind in ("synthetic", "mixed") else None,
            "synthetic_images": b.synthetic_images if arm.kind in ("synthetic", "mixed") else 0,
            "mixed_real_repeat": b.mixed_real_repeat if arm.kind == "mixed" else None,
            "args": {**b.args, **(b.finetune_args if arm.kind == "finetune" else {})},
            "names": self.names, "ultralytics": versions()["ultralytics"],
        }

    synthetic_arm = Arm("synthetic", None, "0", 0)

    def arm_hash(self, arm: Arm) -> str:
        if arm.kind == "synthetic":
            arm = Arm("synthetic", None, "0", self.budget.epochs.synthetic)
        return _hash(self.spec(arm))

    def run(self, arm: Arm) -> dict:
        adir = self.out / "arms" / arm.id
        record_file = adir / "arm.json"
        h = self.arm_hash(arm)
        record = json.loads(record_file.read_text()) if record_file.exists() else None
        if record is None or record.get("hash") != h or not Path(record["weights"]).is_file():
            record = self.train_arm(arm, adir, h)
            atomic_write(record_file, json.dumps(record, indent=2))
        else:
            self.log(f"[{arm.id}] trained already (cached)")
        self.weights[arm.id] = Path(record["weights"])
        eval_key = _hash({"weights": h, "eval": [file_digest(p) for p in self.split.eval], "imgsz": self.budget.imgsz})
        eval_file = adir / f"eval-{eval_key}.json"
        if eval_file.exists():
            metrics = json.loads(eval_file.read_text())
        else:
            start = time.perf_counter()
            metrics = evaluate(record["weights"], self.split.eval_gold, images=self.split.eval, imgsz=self.budget.imgsz,
                               batch=self.budget.batch, device=self.budget.device)
            metrics["seconds"] = time.perf_counter() - start
            atomic_write(eval_file, json.dumps(metrics, indent=2))
        self.log(f"[{arm.id}] mAP50 {metrics['mAP50']:.3f}  mAP50-95 {metrics['mAP50-95']:.3f}")
        return {"id": arm.id, "kind": arm.kind, "k": arm.k, "k_label": arm.k_label, "epochs": arm.epochs,
                "train_seconds": record["seconds"], "eval_file": str(eval_file), "eval": metrics, "hash": h}

    def train_arm(self, arm: Arm, adir: Path, h: str) -> dict:
        b = self.budget
        if arm.kind == "finetune":
            model = self.weights.get("synthetic")
            if model is None:
                raise SynthsceneError("the fine-tuning arms need the synthetic arm's weights; it did not run")
        else:
            model = resolve_model(b.model)
        args = {**b.args, **(b.finetune_args if arm.kind == "finetune" else {})}
        data = self.data_yaml(arm)
        self.log(f"[{arm.id}] training {arm.epochs} epochs from {Path(str(model)).name}")
        run_dir = adir / "run"
        if run_dir.exists():
            shutil.rmtree(run_dir)  # an interrupted run is redone from its start
        res = train(data, model=model, epochs=arm.epochs, imgsz=b.imgsz, batch=b.batch, device=b.device,
                    out=run_dir, workers=b.workers, threads=b.threads, seed=self.cfg.seed, val=False, plots=False, **args)
        return {"hash": h, "spec": self.spec(arm), "weights": str(res.last), "seconds": res.seconds,
                "train_images": _count_train_images(data)}


def _count_train_images(data_yaml: Path) -> int:
    from .data import IMAGE_SUFFIXES

    doc = yaml.safe_load(data_yaml.read_text())
    return sum(1 for d in doc["train"] for p in Path(d).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def run_benchmark(config, *, out=None, eval_gold=None, profile: str | None = None, command: str | None = None,
                  log=print) -> Path:
    """Train and measure every arm; returns OUT/PROFILE/report.md (report.json, plots and arms beside it).

    The synthetic dataset goes to OUT/synthetic-HASH, shared by every profile asking for the same images.
    """
    from .report import write_report

    cfg = config if isinstance(config, BenchConfig) else load_bench_config(config)
    budget = cfg.budget(profile)
    base = Path(out or cfg.out or "out/benchmark").resolve()
    out = base / (profile or cfg.profile)  # profiles share the synthetic data, not their arms
    out.mkdir(parents=True, exist_ok=True)
    wall = time.perf_counter()
    gold = load_gold(cfg.gold)
    split = split_gold(gold, cfg.seed, cfg.eval_fraction, load_gold(eval_gold) if eval_gold else None)
    arms = plan_arms(cfg, budget, len(split.train))
    needs_synth = any(a.kind in ("synthetic", "mixed", "finetune") for a in arms)
    if needs_synth:
        synthetic, synth_hash, names, gen_seconds = ensure_synthetic(cfg, budget, base)
    else:
        synthetic, synth_hash, names, gen_seconds = out, None, list(gold.names), 0.0
    from .data import class_map

    class_map(gold.names, names, Path(cfg.gold) / "data.yaml", "the synthetic dataset config")
    runner = Runner(cfg, budget, out, split, gold, synthetic, synth_hash, names, log)
    order = {"synthetic": 0, "real": 1, "mixed": 2, "finetune": 3}
    results = sorted((runner.run(arm) for arm in arms), key=lambda r: (order[r["kind"]], r["k"] or 0))
    report = {
        "command": command or f"synthscene benchmark {cfg.source}",
        "config": cfg.source,
        "config_hash": cfg.content_hash(profile),
        "profile": profile or cfg.profile,
        "budget": budget.model_dump(mode="json"),
        "dataset_config": cfg.dataset,
        "synthetic_dataset": str(synthetic) if needs_synth else None,
        "synthetic_hash": synth_hash,
        "generate_seconds": round(gen_seconds, 1),
        "gold": str(gold.root),
        "eval_gold": str(split.eval_gold.root),
        "split": {"seed": cfg.seed, "train": [p.name for p in split.train], "eval": [p.name for p in split.eval]},
        "classes": names,
        "versions": versions(),
        "host": {"cpus": _cpus(), "machine": platform.machine(), "platform": platform.platform()},
        "wall_seconds": round(time.perf_counter() - wall, 1),
        "arms": results,
    }
    return write_report(out, report)


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
