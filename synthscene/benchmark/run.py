"""run_benchmark(): every arm trained, measured on held-apart real photos, and reported.

Arms: synthetic-only; real-only on k real images; synthetic + k real mixed; synthetic pre-training
then fine-tuning on k real; from the synthetic weights, M images more, targeted (diagnose → refine)
or untargeted (the unchanged config), and optionally a second such round from those weights
(targeted2 / untargeted2, docs/TARGETED.md). The k real images are the first k of a seeded
shuffle of the gold set's train part (so smaller k are subsets of larger ones); evaluation uses
the held-apart part or --eval-gold, and no image any arm trained on may appear there (checked by
content, not by name).

An arm is cached in OUT/arms/<id>/arm.json under the hash of what it was trained from, and its
evaluation under the hash of what it was measured on, so an interrupted run resumes where it
stopped and --eval-gold re-uses trained arms.
"""
from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import platform
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from ..core.version import __version__
from ..core.errors import BadInput, SynthsceneError
from ..core.files import atomic_write, check_out_folder
from ..core.rng import config_stream
from .bench_config import ROUND2, BenchConfig, Budget, load_bench_config
from ..realdata.gold import GoldSet, file_digest, load_gold, write_view
from ..train.evaluate import evaluate
from ..train.fit import resolve_model, train, training_threads


EXTRA_KINDS = ("targeted", "untargeted", *ROUND2)  # the arms adding M rendered images (per round) to the synthetic
TARGETED_OF = {"targeted": "targeted", "untargeted": "targeted", "targeted2": "targeted2", "untargeted2": "targeted2"}


class Leak(SynthsceneError):
    """An evaluation photo reached an arm's training data (a bug, not the user's input)."""


class Refused(SynthsceneError):
    """refine wrote no config for a targeted arm (its checks refused the change, e.g. renders leaving the
    gold photos' range): that seed's round is skipped and the report says why; the other arms go on."""


@dataclass
class Arm:
    kind: str
    k: int | None  # real images; None for the arms without real training images
    k_label: str  # "10" or "all"
    epochs: int
    seed: int = 0  # the training seed
    n_images: int = 0  # training images per epoch
    budget: int | None = None  # the images_seen asked for (None: the old per-kind epochs)
    note: str = ""  # why images_seen is not the budget ("" when it is)
    start_seed: int | None = None  # seed of the arm it starts from (synthetic; for targeted2: targeted, …)
    base: str = "synthetic"  # the group a round-1 targeted / untargeted arm builds on (or e.g. finetune-k10)

    @property
    def group(self) -> str:
        """The arm without its seed: what mean ± std is taken over."""
        if self.kind in ("synthetic", *EXTRA_KINDS):
            return self.kind
        return "real-converged" if self.kind == "converged" else f"{self.kind}-k{self.k_label}"

    @property
    def id(self) -> str:
        return f"{self.group}-s{self.seed}"

    @property
    def round(self) -> int:
        """Which round of added images (targeted2 / untargeted2: 2); 1 for every other arm."""
        return 2 if self.kind in ROUND2 else 1

    @property
    def start_kind(self) -> str | None:
        """The kind of the arm whose weights it starts from (None: the model from scratch)."""
        return ROUND2.get(self.kind) or (self.base if self.start_seed is not None else None)

    @property
    def on_finetune(self) -> bool:
        """A targeted / untargeted arm (either round) built on the fine-tuned weights and the k real photos."""
        return self.kind in EXTRA_KINDS and self.base != "synthetic"

    @property
    def images_seen(self) -> int:
        return self.epochs * self.n_images

    @property
    def equal(self) -> bool:
        return self.budget is not None and not self.note and within_budget(self.images_seen, self.budget)


@dataclass
class Split:
    train: list[Path]  # seeded order: the first k are the k real training images
    eval: list[Path]
    eval_gold: GoldSet
    diagnosis: list[Path] = field(default_factory=list)  # never trained on, never evaluated on


def split_gold(gold: GoldSet, seed: int, eval_fraction: float, eval_gold: GoldSet | None,
               diagnosis_fraction: float = 0.0) -> Split:
    """Held-apart evaluation photos, then the train pool; the diagnosis split is the pool's tail,
    so the first k training photos are the same with or without it."""
    rng = config_stream(seed, "benchmark.gold_split")
    order = [gold.images[i] for i in rng.permutation(len(gold.images))]
    n_eval = max(1, round(len(order) * eval_fraction))
    train_part, eval_part = order[n_eval:], sorted(order[:n_eval])
    n_diag = max(1, round(len(train_part) * diagnosis_fraction)) if diagnosis_fraction else 0
    if n_diag >= len(train_part):
        raise BadInput(f"diagnosis_fraction {diagnosis_fraction} leaves no training photos of {len(train_part)}",
                       None, "diagnosis_fraction")
    diagnosis = sorted(train_part[len(train_part) - n_diag:])
    train_part = train_part[:len(train_part) - n_diag]
    if eval_gold is not None:
        eval_part = eval_gold.images
    split = Split(train_part, eval_part, eval_gold or gold, diagnosis)
    check_disjoint(split.train, split.eval)
    check_disjoint(split.diagnosis, split.eval, "diagnosis")
    check_disjoint(split.train, split.diagnosis, "real training", what="diagnosis images")
    return split


def check_disjoint(train_images: list[Path], eval_images: list[Path], role: str = "real training",
                   what: str = "evaluation images") -> None:
    """No evaluation image may be one any arm trained on: compared by content, whatever the names."""
    seen = {file_digest(p): p for p in train_images}
    clash = [(p, seen[d]) for p in eval_images if (d := file_digest(p)) in seen]
    if clash:
        pairs = ", ".join(f"{a.name} = {b.name}" for a, b in clash[:5])
        raise BadInput(f"{len(clash)} {what} are also {role} images ({pairs}); "
                       "evaluate on photos no arm trains on or diagnoses", str(clash[0][0].parent), "--eval-gold")


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


#: an arm whose images seen are within this fraction of the budget counts as equal: the synthetic
#: train split is drawn per image, so 2,000 images give 1,795 or 1,806 train images, not 1,800.
EQUAL_TOLERANCE = 0.01


def within_budget(images_seen: int, budget: int) -> bool:
    return abs(images_seen - budget) <= EQUAL_TOLERANCE * budget


def epochs_for(budget: Budget, n_images: int, legacy: int) -> tuple[int, int | None, str]:
    """(epochs, images_seen asked for, note): the whole epochs nearest the budget (at least 1, at
    most max_epochs); the note says why epochs × images is not within 1% of the budget (capped, or
    whole epochs of these many images cannot come closer)."""
    if budget.images_seen is None:
        return legacy, None, "no images_seen budget: epochs per arm kind (unequal)"
    epochs = max(1, round(budget.images_seen / n_images))
    if epochs > budget.max_epochs:
        return budget.max_epochs, budget.images_seen, f"capped at max_epochs {budget.max_epochs}"
    if not within_budget(epochs * n_images, budget.images_seen):
        return epochs, budget.images_seen, f"whole epochs: {epochs} × {n_images} images"
    return epochs, budget.images_seen, ""


def plan_arms(cfg: BenchConfig, budget: Budget, n_train: int, n_synth: int = 0) -> list[Arm]:
    """Synthetic first (every seed), then per k (smallest first) real, fine-tune, mixed, then the
    converged reference, the targeted / untargeted pair and their second round: a run cut short has
    the comparisons that matter most at small k. n_synth: the synthetic training images (train split)."""
    seeds = budget.seeds or [cfg.seed]
    n_synth = max(n_synth, 1)
    arms: list[Arm] = []

    def seeds_of(group: str) -> list[int]:
        return seeds if group in budget.seeded_arms else seeds[:1]

    def add(kind: str, k: int | None, label: str, n: int, legacy: int, b: Budget = budget) -> None:
        probe = Arm(kind, k, label, 0)
        epochs, want, note = epochs_for(b, n, legacy)
        if kind in budget.converge:
            c = budget.converged
            epochs, want, note = c.max_epochs, None, converged_note(c)
        for s in seeds_of(probe.group):
            start = (s if s in synth_seeds else seeds[0]) if kind in ("finetune", "targeted", "untargeted") else None
            if kind in ROUND2:  # round 2 continues the round-1 arm of its seed (or of the first seed)
                start = s if s in seeds_of(ROUND2[kind]) else seeds[0]
            arms.append(Arm(kind, k, label, epochs, s, n, want, note, start))

    synth_seeds = seeds_of("synthetic")
    if "synthetic" in cfg.arms:
        add("synthetic", None, "0", n_synth, budget.epochs.synthetic)
    for k, label in _ks(cfg, n_train):
        for kind in ("real", "finetune", "mixed"):
            if kind not in cfg.arms:
                continue
            legacy = getattr(budget.epochs, kind)
            floor = {"real": budget.min_real_images_seen, "finetune": budget.min_finetune_images_seen}.get(kind, 0)
            if floor:
                legacy = min(budget.max_epochs, max(legacy, math.ceil(floor / k)))
            n = n_synth + k * budget.mixed_real_repeat if kind == "mixed" else k
            add(kind, k, label, n, legacy)
    # With real arms converging, real-kall is the converged reference already: not trained twice.
    if "converged" in cfg.arms and not ("real" in budget.converge and "real" in cfg.arms and "all" in cfg.real_k):
        c = budget.converged
        for s in seeds if "real-converged" in budget.seeded_arms else seeds[:1]:
            arms.append(Arm("converged", n_train, "all", c.max_epochs, s, n_train, None, converged_note(c)))
    if budget.targeted_from == "finetune":  # on the fine-tune arm of the smallest k and its k photos
        k, label = _ks(cfg, n_train)[0]
        b = budget.model_copy(update={"images_seen": budget.targeted_images_seen})
        for rnd, kinds in ((1, ("targeted", "untargeted")), (2, tuple(ROUND2))):
            for kind in kinds:
                if kind in cfg.arms:
                    n = k * budget.mixed_real_repeat + rnd * budget.targeted_images
                    epochs, want, note = epochs_for(b, n, budget.epochs.finetune)
                    ft = seeds_of(f"finetune-k{label}")
                    for s in seeds_of(kind):
                        start = s if s in (ft if rnd == 1 else seeds_of(ROUND2[kind])) else seeds[0]
                        arms.append(Arm(kind, k, label, epochs, s, n, want, note, start, f"finetune-k{label}"))
        return arms
    # Continuing the synthetic detector: targeted_images_seen when set, not a second full budget.
    loop = budget.model_copy(update={"images_seen": budget.targeted_images_seen or budget.images_seen})
    for kind in ("targeted", "untargeted"):
        if kind in cfg.arms:
            add(kind, None, "0", n_synth + budget.targeted_images, budget.epochs.synthetic, loop)
    for kind in ROUND2:  # base + round 1's M + round 2's M
        if kind in cfg.arms:
            add(kind, None, "0", n_synth + 2 * budget.targeted_images, budget.epochs.synthetic, loop)
    return arms


def train_args(b: Budget, arm: Arm) -> dict:
    """The profile's Ultralytics arguments for one arm: `args`, then the keys of its kind on top."""
    if arm.kind in ("real", "converged"):
        extra = b.real_args
    elif arm.kind == "finetune" or arm.on_finetune:
        extra = b.finetune_args
    elif arm.kind in EXTRA_KINDS:  # continuing the synthetic detector, whose schedule had decayed
        extra = b.continue_args
    else:
        extra = {}
    return {**b.args, **extra}


def converged_note(c) -> str:
    return f"until val mAP on the diagnosis split plateaus (patience {c.patience}, ≤ {c.max_epochs} epochs)"


def converges(budget: Budget, arm: Arm) -> bool:
    """Trained until val mAP on the diagnosis split stops improving (best weights), not to a budget."""
    return arm.kind == "converged" or arm.kind in budget.converge


def read_curve(results_csv: Path) -> list[dict]:
    """Ultralytics' per-epoch validation (results.csv) as [{epoch, mAP50, mAP50-95}]."""
    import csv

    if not results_csv.is_file():
        return []
    with results_csv.open() as f:
        rows = [{k.strip(): v for k, v in r.items()} for r in csv.DictReader(f)]
    return [{"epoch": int(float(r["epoch"])), "mAP50": round(float(r["metrics/mAP50(B)"]), 4),
             "mAP50-95": round(float(r["metrics/mAP50-95(B)"]), 4)} for r in rows if r.get("metrics/mAP50(B)")]


def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"synthscene": __version__, "python": sys.version.split()[0]}
    for pkg in ("ultralytics", "torch", "pybullet", "numpy", "opencv-python-headless"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def die_with_parent(parent: int) -> None:
    """Linux: end this process (SIGTERM) when `parent` does. A benchmark killed while its render child
    runs would otherwise leave the child rendering the whole dataset; the child's own render workers
    stop once it is gone (generation/executors/local.py)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _generate(dcfg, ds: Path, workers: int) -> float:
    """Render `dcfg` into `ds` unless it holds all its images already; returns the seconds it took."""
    from ..generation.pipeline import generate

    start = time.perf_counter()
    done = ds / "manifest.jsonl"
    if not (done.exists() and sum(1 for _ in done.open()) == dcfg.count):
        # In a process of its own: Mesa's LLVM (EGL) and Triton's cannot share one (segfault).
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=ctx, initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
            pool.submit(generate, dcfg, ds, workers=workers, resume=True).result()
    return time.perf_counter() - start


def ensure_synthetic(cfg: BenchConfig, budget: Budget, out: Path, dataset=None) -> tuple[Path, str, list[str], float]:
    """The synthetic dataset, generated (or completed) if missing; its folder is keyed by its content hash.

    `dataset`: a DatasetConfig to use instead of the one cfg names (benchmarks/ablation.py's variants)."""
    from ..assets.prepare import prepare
    from ..config import load_config

    dcfg = prepare(dataset or load_config(cfg.dataset)).with_overrides(count=budget.synthetic_images)  # hashed as generate writes it
    chash = dcfg.content_hash()
    ds = out / f"synthetic-{chash[:10]}"
    return ds, chash, dcfg.class_names, _generate(dcfg, ds, budget.render_workers)


def _image_files(folder: Path) -> list[Path]:
    from ..realdata.gold import IMAGE_SUFFIXES

    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []


def load_refined(path: Path):
    """A refined dataset config and its `provenance` block (read beside the config, whatever the schema says of it)."""
    from ..config import config_from_dict
    from ..core.yamlfile import read_yaml
    from ..assets.prepare import prepare

    doc = read_yaml(path, "refined dataset config")
    if not isinstance(doc, dict):
        raise BadInput("expected a mapping of config keys", path)
    provenance = doc.pop("provenance", None)
    return prepare(config_from_dict(doc, path.resolve().parent, str(path))), provenance


def aimed_slices(provenance) -> list[dict]:
    """The (dimension, bin) slices the last refinement aimed at, from its provenance block.

    Read leniently: a list under slices / targets / findings / changes, each entry naming a
    dimension (`dimension`, `slice` or `dim`) and a bin (`bin` or `label`), or "dimension:bin".
    A list that several refinements wrote (entries marked `round`, unmarked = 1): the last round's."""
    from ..diagnosis.refine import round_of

    out: list[dict] = []
    if isinstance(provenance, list):  # what `refine` writes: one entry per changed key
        last = max((round_of(e) for e in provenance), default=1)
        provenance = {"changes": [e for e in provenance if round_of(e) == last]}
    if not isinstance(provenance, dict):
        return out
    for key in ("slices", "targets", "findings", "changes", "aimed"):
        for it in provenance.get(key) or []:
            if isinstance(it, str) and ":" in it:
                it = dict(zip(("dimension", "bin"), (x.strip() for x in it.split(":", 1))))
            if not isinstance(it, dict):
                continue
            dim = it.get("dimension") or it.get("dim") or (it.get("slice") if "bin" in it or "label" in it else None)
            b = it.get("bin", it.get("label"))
            if dim is not None and b is not None and {"dimension": str(dim), "bin": str(b)} not in out:
                out.append({"dimension": str(dim), "bin": str(b)})
    return out


def slice_recall(diagnosis: dict, slices: list[dict]) -> dict[str, float | None]:
    """Recall of each slice ("dimension: bin") in a diagnosis report (None when the bin is not there)."""
    out = {}
    for sl in slices:
        bins = diagnosis.get("slices", {}).get(sl["dimension"], {}).get("bins", [])
        out[f"{sl['dimension']}: {sl['bin']}"] = next((b["recall"] for b in bins if str(b["label"]) == sl["bin"]), None)
    return out


def _default_refine(config_path, diagnosis_dir, out, images=None):
    try:
        from ..diagnosis.refine import refine
    except ImportError:
        raise SynthsceneError("the targeted arm needs synthscene.diagnosis.refine.refine(), "
                              "which this installation lacks") from None
    return refine(config_path, diagnosis_dir, out, images=images)


def lr_schedule(args: dict) -> dict:
    """The learning-rate schedule an arm trains with: its arguments over Ultralytics' defaults."""
    from ultralytics.cfg import DEFAULT_CFG_DICT

    return {k: args.get(k, DEFAULT_CFG_DICT.get(k)) for k in ("optimizer", "lr0", "lrf", "cos_lr", "warmup_epochs",
                                                             "warmup_bias_lr", "momentum")}


class Runner:
    def __init__(self, cfg: BenchConfig, budget: Budget, out: Path, split: Split, gold: GoldSet,
                 synthetic: Path, synth_hash: str, names: list[str], log, arms: list[Arm] = (), base: Path | None = None,
                 refine=None):
        self.cfg, self.budget, self.out, self.split, self.gold = cfg, budget, out, split, gold
        self.synthetic, self.synth_hash, self.names, self.log = synthetic, synth_hash, names, log
        self.base = base or out.parent
        self.refine = refine or _default_refine
        self.planned = {a.id: a for a in arms}
        self.weights: dict[str, Path] = {}
        self.records: dict[str, dict] = {}
        self.skipped: dict[str, str] = {}  # arm id → why it did not train (a refused refinement and what hangs on it)
        self.eval_digests = {file_digest(p) for p in split.eval}

    # ---- data ----

    def real_view(self, k: int) -> Path:
        images = self.split.train[:k]
        if {file_digest(p) for p in images} & self.eval_digests:
            raise Leak(f"an evaluation photo is among the {k} real training photos; the benchmark stopped before training")
        return write_view(self.gold, images, self.names, self.out / "real" / f"train-k{k}", "the synthetic dataset config")

    def gold_view(self, which: str) -> Path:
        """The diagnosis or evaluation split as a gold folder of its own (for `diagnose`), BOP annotations linked."""
        gold, images = (self.gold, self.split.diagnosis) if which == "diagnosis" else (self.split.eval_gold, self.split.eval)
        folder = self.out / "real" / which
        write_view(gold, images, self.names, folder, "the synthetic dataset config")
        for bop in (gold.root / "bop", gold.root.parent / "bop"):
            if (bop / "scene_gt.json").is_file():
                (folder / "bop").symlink_to(bop.resolve())
                break
        return folder

    def synth_dirs(self) -> tuple[Path, Path]:
        syn_train, syn_val = self.synthetic / "images" / "train", self.synthetic / "images" / "val"
        return syn_train, (syn_val if syn_val.is_dir() and any(syn_val.iterdir()) else syn_train)

    def data_yaml(self, arm: Arm, extras: list[Path] = ()) -> Path:
        """OUT/arms/ID/data.yaml; `extras`: the added datasets (one per round) of the targeted kinds."""
        syn_train, syn_val = self.synth_dirs()
        if arm.kind == "synthetic":
            train_dirs, val_dir = [syn_train], syn_val
        elif arm.on_finetune:  # the k real photos (repeated) + all M new images of each round
            real = self.real_view(arm.k).parent / "images"
            train_dirs = [real] * self.budget.mixed_real_repeat + [
                d for e in extras for d in (e / "images" / "train", e / "images" / "val") if _image_files(d)]
            val_dir = real
        elif arm.kind in EXTRA_KINDS:  # the base synthetic images + all M new ones of each round
            train_dirs = [syn_train] + [d for e in extras for d in (e / "images" / "train", e / "images" / "val")
                                        if _image_files(d)]
            val_dir = syn_val
        elif converges(self.budget, arm):  # early stopping on the diagnosis split, else on its own photos
            real = self.real_view(arm.k).parent / "images"
            val_dir = self.gold_view("diagnosis") / "images" if self.split.diagnosis else real
            train_dirs = [real]
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

    def check_training(self, data: Path) -> None:
        """By content: no file any training folder of `data` lists is an evaluation photo."""
        doc = yaml.safe_load(data.read_text())
        for d in dict.fromkeys(doc["train"]):
            for p in _image_files(Path(d)):
                if file_digest(p) in self.eval_digests:
                    raise Leak(f"{p} is an evaluation photo but is in the training data of {data.parent.name}")

    # ---- specs and hashes ----

    def args_of(self, arm: Arm) -> dict:
        return train_args(self.budget, arm)

    def synth_arm(self, seed: int) -> Arm:
        return self.planned.get(f"synthetic-s{seed}") or Arm("synthetic", None, "0", self.budget.epochs.synthetic, seed)

    def start_arm(self, arm: Arm) -> Arm:
        """The arm whose weights `arm` starts from (it has a start_seed)."""
        if arm.start_kind == "synthetic":
            return self.synth_arm(arm.start_seed)
        start = self.planned.get(f"{arm.start_kind}-s{arm.start_seed}")
        if start is None:
            raise SynthsceneError(f"[{arm.id}] starts from the {arm.start_kind} arm of seed {arm.start_seed}, "
                                  "which is not in the plan")
        return start

    def gen_seed(self, arm: Arm) -> int:
        """The seed of the M extra images: new (not the base dataset's, nor another round's), the same for
        targeted and untargeted of a round."""
        from ..config import load_config

        return load_config(self.cfg.dataset).seed + 1000 * arm.round + arm.seed

    def spec(self, arm: Arm) -> dict:
        b = self.budget
        start = ({"from": arm.start_kind, "seed": arm.start_seed, "hash": self.arm_hash(self.start_arm(arm))}
                 if arm.start_seed is not None else {"from": b.model})
        real = [p.name for p in self.split.train[: arm.k]] if arm.k else []
        synth = arm.kind in ("synthetic", "mixed", *EXTRA_KINDS)
        spec = {
            "kind": arm.kind, "k": arm.k, "epochs": arm.epochs, "images_seen": arm.images_seen, "imgsz": b.imgsz,
            "batch": b.batch, "seed": arm.seed, "start": start, "real_images": real,
            "synthetic": self.synth_hash if synth else None,
            "synthetic_images": b.synthetic_images if synth else 0,
            "mixed_real_repeat": b.mixed_real_repeat if arm.kind == "mixed" or arm.on_finetune else None,
            "args": self.args_of(arm), "names": self.names, "ultralytics": versions()["ultralytics"],
        }
        # The weights depend on the thread count: a fixed one is part of the key, as trained (None:
        # every core of this machine). Unfixed runs keep their old hashes.
        if b.fixed_threads:
            spec["threads"] = training_threads(b.threads, fixed=True)
        if arm.kind in EXTRA_KINDS:  # round 2 also trains on round 1's images, the start arm's (hashed in `start`)
            spec["extra"] = {"images": b.targeted_images, "seed": self.gen_seed(arm),
                             "diagnosis": sorted(file_digest(p) for p in self.split.diagnosis)}
            if arm.round > 1:
                spec["extra"]["round"] = arm.round
        if converges(b, arm):
            spec["converged"] = {**b.converged.model_dump(), "val": sorted(file_digest(p) for p in self.split.diagnosis)}
        if arm.kind == "synthetic" and b.synthetic_curve:  # validating each epoch leaves the weights as they were
            spec["curve"] = True
        return spec

    def arm_hash(self, arm: Arm) -> str:
        return _hash(self.spec(arm))

    # ---- one arm ----

    def skip_reason(self, arm: Arm) -> str | None:
        """Why a targeted / untargeted arm cannot be paired: its pair or the arm it starts from was skipped."""
        if arm.kind not in EXTRA_KINDS:
            return None
        pair = f"{TARGETED_OF[arm.kind]}-s{arm.seed}"
        if pair != arm.id and pair in self.skipped:
            return f"its pair {pair} was skipped"
        start = self.start_arm(arm).id if arm.start_seed is not None else None
        return f"it starts from {start}, which was skipped" if start in self.skipped else None

    def _skip(self, arm: Arm, why: str) -> None:
        self.skipped[arm.id] = why
        self.log(f"[{arm.id}] skipped: {why}")

    def run(self, arm: Arm) -> dict | None:
        """The arm's result (trained or cached, then evaluated); None when it was skipped (self.skipped says why)."""
        why = self.skip_reason(arm)
        if why:
            return self._skip(arm, why)
        adir = self.out / "arms" / arm.id
        record_file = adir / "arm.json"
        h = self.arm_hash(arm)
        record = json.loads(record_file.read_text()) if record_file.exists() else None
        if record is None or record.get("hash") != h or not Path(record["weights"]).is_file():
            try:
                record = self.train_arm(arm, adir, h)
            except Refused as err:
                return self._skip(arm, f"refine refused: {err}")
            atomic_write(record_file, json.dumps(record, indent=2))
        else:
            self.log(f"[{arm.id}] trained already (cached)")
        self.weights[arm.id], self.records[arm.id] = Path(record["weights"]), record
        b = self.budget
        eval_key = _hash({"weights": h, "eval": sorted(self.eval_digests), "imgsz": b.imgsz})
        eval_file = adir / f"eval-{eval_key}.json"
        if eval_file.exists():
            metrics = json.loads(eval_file.read_text())
        else:
            start = time.perf_counter()
            metrics = evaluate(record["weights"], self.split.eval_gold, images=self.split.eval, imgsz=b.imgsz,
                               batch=b.batch, device=b.device)
            metrics["seconds"] = time.perf_counter() - start
            atomic_write(eval_file, json.dumps(metrics, indent=2))
        boot = self.bootstrap(record["weights"], adir, eval_key, arm.seed)
        self.log(f"[{arm.id}] mAP50 {metrics['mAP50']:.3f} [{boot['low']:.3f}, {boot['high']:.3f}]  "
                 f"mAP50-95 {metrics['mAP50-95']:.3f}  ({record['images_seen']} images seen)")
        result = {"id": arm.id, "group": arm.group, "kind": arm.kind, "k": arm.k, "k_label": arm.k_label,
                  "seed": arm.seed, "epochs": arm.epochs, "epochs_run": record["epochs_run"],
                  "images_per_epoch": arm.n_images, "images_seen": record["images_seen"],
                  "budget_images_seen": arm.budget,
                  "equal_budget": arm.equal and record["epochs_run"] == arm.epochs,
                  "budget_note": arm.note or ("" if record["epochs_run"] == arm.epochs else "stopped early"),
                  "train_seconds": record["seconds"], "threads": record.get("threads"),
                  "lr_schedule": lr_schedule(self.args_of(arm)),
                  "start": record["spec"]["start"], "eval_file": str(eval_file), "eval": metrics,
                  "bootstrap_mAP50": boot, "hash": h}
        if record.get("curve"):
            result["curve"] = record["curve"]
        if arm.kind in EXTRA_KINDS:
            result["targeted"] = self.slice_effect(arm, record)
        return result

    def bootstrap(self, weights: str, adir: Path, eval_key: str, seed: int) -> dict:
        from .bootstrap import bootstrap_map50, load_stats, per_image_stats, save_stats

        f = adir / f"matches-{eval_key}.npz"
        if f.exists():
            stats = load_stats(f)
        else:
            stats = per_image_stats(weights, self.split.eval_gold, self.split.eval, self.names, imgsz=self.budget.imgsz,
                                    batch=self.budget.batch, device=self.budget.device)
            save_stats(f, stats)
        return bootstrap_map50(stats, self.budget.bootstrap, seed=self.cfg.seed)

    def diagnosis(self, weights_id: str, which: str) -> tuple[Path, dict]:
        """`synthscene diagnose` of an arm's weights on the diagnosis or evaluation split, cached per weights."""
        from ..diagnosis import diagnose

        d = self.out / "diagnosis" / f"{which}-{self.records[weights_id]['hash']}"
        if not (d / "report.json").is_file():
            self.log(f"[{weights_id}] diagnosing on the {which} split")
            diagnose(self.weights[weights_id], self.gold_view(which), self.synthetic, d, imgsz=self.budget.imgsz,
                     device=self.budget.device)
        return d, json.loads((d / "report.json").read_text())

    def extra_images(self, arm: Arm, adir: Path) -> tuple[list[Path], dict]:
        """The added datasets (round 1's, then this round's M images) and what this round's M were made from.

        Targeted: the config refined on the diagnosis of the start weights (round 2: round 1's refined
        config refined again); untargeted: the unchanged config. Both with the round's new seed."""
        from ..assets.prepare import prepare
        from ..config import load_config

        M = self.budget.targeted_images
        start_id = self.start_arm(arm).id
        info: dict = {"images": M, "seed": self.gen_seed(arm)}
        earlier: list[Path] = []
        if arm.round > 1:  # round 1's images come with the weights this arm continues from
            first = self.records[start_id]["extra"]
            earlier = [Path(first["dataset"])]
            info.update(round=arm.round, previous={"arm": start_id, "dataset": first["dataset"], "seed": first["seed"]})
        if arm.kind in ("targeted", "targeted2"):
            diag_dir, _ = self.diagnosis(start_id, "diagnosis")
            source = self.cfg.dataset if arm.round == 1 else self.records[start_id]["extra"]["refined_config"]
            refined = adir / "refined.yaml"
            adir.mkdir(parents=True, exist_ok=True)
            refined.unlink(missing_ok=True)  # an interrupted run's: made again
            self.log(f"[{arm.id}] refining {source} from {diag_dir}")
            try:
                self.refine(source, diag_dir, refined, images=M)  # the one refine step of this round
            except BadInput as err:
                raise Refused(str(err)) from None
            dcfg, provenance = load_refined(refined)
            info.update(refined_config=str(refined), diagnosis=str(diag_dir), provenance=provenance,
                        aimed=aimed_slices(provenance))
        else:
            dcfg = prepare(load_config(self.cfg.dataset))
            paired = self.records.get(f"{TARGETED_OF[arm.kind]}-s{arm.seed}", {}).get("extra", {})
            info["aimed"] = paired.get("aimed", [])
        dcfg = dcfg.with_overrides(count=M, seed=info["seed"])
        folder = self.base / f"extra-{dcfg.content_hash()[:10]}"
        info["dataset"], info["config_hash"] = str(folder), dcfg.content_hash()
        info["generate_seconds"] = _generate(dcfg, folder, self.budget.render_workers)
        return earlier + [folder], info

    def slice_effect(self, arm: Arm, record: dict) -> dict:
        """Recall of the slices the round's refinement aimed at, before (the weights the arm started from:
        synthetic in round 1, the round-1 arm in round 2) and after, on both splits."""
        paired = self.records.get(f"{TARGETED_OF[arm.kind]}-s{arm.seed}", {})
        aimed = record["extra"].get("aimed") or paired.get("extra", {}).get("aimed", [])
        start_id = self.start_arm(arm).id
        out = {"aimed": aimed, "extra_images": record["extra"]["images"], "before": {}, "after": {}}
        if arm.round > 1:
            out.update(round=arm.round, before_arm=start_id)
        if not aimed:
            return out
        for which in ("diagnosis", "eval") if self.split.diagnosis else ("eval",):
            out["before"][which] = slice_recall(self.diagnosis(start_id, which)[1], aimed)
            out["after"][which] = slice_recall(self.diagnosis(arm.id, which)[1], aimed)
        return out

    def train_arm(self, arm: Arm, adir: Path, h: str) -> dict:
        b = self.budget
        if arm.start_seed is not None:
            model = self.weights.get(self.start_arm(arm).id)
            if model is None:
                raise SynthsceneError(f"the {arm.kind} arms need the {arm.start_kind} arm's weights "
                                      f"(seed {arm.start_seed}); it did not run")
        else:
            model = resolve_model(b.model)
        extras, info = self.extra_images(arm, adir) if arm.kind in EXTRA_KINDS else ([], None)
        data = self.data_yaml(arm, extras)
        self.check_training(data)
        n = _count_train_images(data)
        if arm.n_images and n != arm.n_images:  # (benchmarks/ablation.py builds its arm without a plan)
            raise SynthsceneError(f"[{arm.id}] planned {arm.n_images} training images per epoch, found {n}")
        self.log(f"[{arm.id}] training {arm.epochs} epochs × {n} images from {Path(str(model)).name} (seed {arm.seed})")
        run_dir = adir / "run"
        if run_dir.exists():
            shutil.rmtree(run_dir)  # an interrupted run is redone from its start
        conv = converges(b, arm)
        curve = arm.kind == "synthetic" and b.synthetic_curve
        extra_args = {"patience": b.converged.patience} if conv else {}
        res = train(data, model=model, epochs=arm.epochs, imgsz=b.imgsz, batch=b.batch, device=b.device,
                    out=run_dir, workers=b.workers, threads=b.threads, fixed_threads=b.fixed_threads, seed=arm.seed,
                    val=conv or curve, plots=False,
                    **self.args_of(arm), **extra_args)
        epochs_run = res.epochs_run or arm.epochs
        record = {"hash": h, "spec": self.spec(arm), "weights": str(res.best if conv else res.last),
                  "seconds": res.seconds, "train_images": n, "epochs_run": epochs_run, "images_seen": epochs_run * n,
                  "threads": res.threads}
        if conv or curve:  # on the diagnosis split (converging arms) or the synthetic val split
            record["curve"] = read_curve(run_dir / "results.csv")
        if info is not None:
            record["extra"] = info
        return record


def _count_train_images(data_yaml: Path) -> int:
    doc = yaml.safe_load(data_yaml.read_text())
    return sum(len(_image_files(Path(d))) for d in doc["train"])


def run_benchmark(config, *, out=None, eval_gold=None, profile: str | None = None, command: str | None = None,
                  log=print, refine=None) -> Path:
    """Train and measure every arm; returns OUT/PROFILE/report.md (report.json, plots and arms beside it).

    The synthetic dataset goes to OUT/synthetic-HASH, shared by every profile asking for the same images.
    `refine`: the targeted arm's refine step (default synthscene.diagnosis.refine.refine).
    """
    from .report import group_summary, targeted_summary, write_report

    cfg = config if isinstance(config, BenchConfig) else load_bench_config(config)
    budget = cfg.budget(profile)
    base = Path(out or cfg.out or "out/benchmark").resolve()
    out = check_out_folder(base / (profile or cfg.profile))  # profiles share the synthetic data, not their arms
    out.mkdir(parents=True, exist_ok=True)
    wall = time.perf_counter()
    gold = load_gold(cfg.gold)
    split = split_gold(gold, cfg.seed, cfg.eval_fraction, load_gold(eval_gold) if eval_gold else None,
                       cfg.diagnosis_fraction)
    arms = plan_arms(cfg, budget, len(split.train), 1)  # to know which arms need synthetic data
    needs_synth = any(a.kind != "real" and a.kind != "converged" for a in arms)
    if needs_synth:
        synthetic, synth_hash, names, gen_seconds = ensure_synthetic(cfg, budget, base)
        n_synth = len(_image_files(synthetic / "images" / "train"))
    else:
        synthetic, synth_hash, names, gen_seconds, n_synth = out, None, list(gold.names), 0.0, 0
    arms = plan_arms(cfg, budget, len(split.train), n_synth)
    from ..realdata.gold import class_map

    class_map(gold.names, names, Path(cfg.gold) / "data.yaml", "the synthetic dataset config")
    runner = Runner(cfg, budget, out, split, gold, synthetic, synth_hash, names, log, arms, base, refine)
    order = {"synthetic": 0, "real": 1, "converged": 2, "mixed": 3, "finetune": 4, "targeted": 5, "untargeted": 6,
             "targeted2": 7, "untargeted2": 8}
    ran = [runner.run(arm) for arm in arms]
    results = sorted((r for r in ran if r), key=lambda r: (order[r["kind"]], r["k"] or 0, r["seed"]))
    report = {
        "command": command or f"synthscene benchmark {cfg.source}",
        "config": cfg.source,
        "config_hash": cfg.content_hash(profile),
        "profile": profile or cfg.profile,
        "budget": budget.model_dump(mode="json"),
        "dataset_config": cfg.dataset,
        "synthetic_dataset": str(synthetic) if needs_synth else None,
        "synthetic_hash": synth_hash,
        "synthetic_train_images": n_synth,
        "generate_seconds": round(gen_seconds, 1),
        "gold": str(gold.root),
        "eval_gold": str(split.eval_gold.root),
        "split": {"seed": cfg.seed, "train": [p.name for p in split.train], "eval": [p.name for p in split.eval],
                  "diagnosis": [p.name for p in split.diagnosis]},
        "classes": names,
        "versions": versions(),
        "host": {"cpus": _cpus(), "machine": platform.machine(), "platform": platform.platform()},
        "wall_seconds": round(time.perf_counter() - wall, 1),
        "arms": results,
        "groups": group_summary(results),
        "targeted": targeted_summary(results),
        "skipped": runner.skipped,
    }
    return write_report(out, report)


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
