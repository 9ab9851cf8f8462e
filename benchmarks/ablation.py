"""Which levers matter: the benchmark's synthetic-only arm, once as the bench config has it and once
per variant, every variant trained with the same seeds and budget and measured on the same
held-apart real photos. Prints a markdown table of mean ± std over seeds, then one JSON line.

    python benchmarks/ablation.py configs/bench_lmo.yaml --seeds 0 1 \\
        --off texture background \\                              # a randomizer switched off
        --dataset shading=configs/lmo_shading.yaml \\            # another dataset config
        --train mosaic0=mosaic=0.0 \\                            # Ultralytics arguments
        --train imgsz320=imgsz=320,fraction=0.64 \\              # equal CPU time at 320 px
        --out ../out/bench_lmo/ablation --base-arms ../out/bench_lmo/cpu

Budget: every variant trains the profile's `images_seen` image presentations (the whole epochs
nearest it, as benchmark arms) unless the variant sets `images_seen`; for equal CPU time at a
larger image size pass Ultralytics' `fraction` (e.g. `imgsz=320,fraction=0.64`: (256/320)² of each
epoch). The table has the images seen, the arguments and the training seconds of each, so no
variant hides a bigger budget. `synthetic_images=N` renders N images instead (more
images at fewer epochs). Each dataset variant renders its own images (same seed, so the other
randomizers draw the same: each draws from its own stream). Variants already trained are cached,
like benchmark arms; `--base-arms` points the unchanged variant at a benchmark run's arms folder's
parent (OUT/PROFILE) so its seeds are not trained twice.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

RANDOMIZERS = ("lighting", "occlusion", "texture", "background", "post")
BUDGET_KEYS = ("imgsz", "images_seen", "synthetic_images", "batch")  # the rest are Ultralytics arguments


def without(dcfg, *names: str):
    """The dataset config with these randomizers switched off."""
    rnd = dcfg.randomizers
    off = {name: getattr(rnd, name).model_copy(update={"enabled": False}) for name in names}
    return dcfg.model_copy(update={"randomizers": rnd.model_copy(update=off)})


def parse_value(text: str):
    """A command-line value as YAML reads it (0.0 → float, 320 → int, false → bool)."""
    import yaml

    return yaml.safe_load(text)


def parse_train(spec: str) -> tuple[str, dict]:
    """NAME=key=value[,key=value...] → (NAME, {key: value})."""
    name, sep, rest = spec.partition("=")
    if not sep or not name or not rest:
        raise SystemExit(f"--train {spec!r}: expected NAME=key=value[,key=value]")
    out = {}
    for item in rest.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--train {spec!r}: {item!r} is not key=value")
        out[key.strip()] = parse_value(value)
    return name, out


def summary(values: list[float]) -> dict:
    return {"mean": round(statistics.fmean(values), 4),
            "std": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0, "n_seeds": len(values)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("bench", help="benchmark config (its dataset, gold set, seed, split and profile)")
    ap.add_argument("--off", nargs="*", default=[], choices=RANDOMIZERS,
                    help="randomizers to switch off, one variant each")
    ap.add_argument("--none", action="store_true", help="add a variant with every --off randomizer off at once")
    ap.add_argument("--dataset", action="append", default=[], metavar="NAME=CONFIG",
                    help="a variant trained on another dataset config")
    ap.add_argument("--train", action="append", default=[], metavar="NAME=key=value,...",
                    help="a variant trained with other arguments (imgsz, images_seen, synthetic_images, batch, "
                         "or any Ultralytics train argument)")
    ap.add_argument("--no-all", action="store_true", help="skip the unchanged variant")
    ap.add_argument("--base", metavar="NAME=CONFIG",
                    help="the dataset config the unchanged, --off and --train variants use, and the unchanged "
                         "variant's name (default: all=the bench config's dataset)")
    ap.add_argument("--profile")
    ap.add_argument("--seeds", type=int, nargs="*", help="training seeds (default: the profile's)")
    ap.add_argument("--images", type=int, help="synthetic images per variant (default: the profile's)")
    ap.add_argument("--threads", type=int, help="torch threads (default: the profile's)")
    ap.add_argument("--fixed-threads", action="store_true",
                    help="train with exactly --threads however busy the machine (reproducible weights)")
    ap.add_argument("--base-arms", help="OUT/PROFILE of a benchmark run: the unchanged variant's arms live there")
    ap.add_argument("--out", default="out/ablation")
    args = ap.parse_args()

    from synthscene import load_config, prepare
    from synthscene.benchmark.bench_config import load_bench_config
    from synthscene.benchmark.run import Arm, Runner, ensure_synthetic, epochs_for, split_gold
    from synthscene.realdata.gold import load_gold

    cfg = load_bench_config(args.bench)
    b = cfg.budget(args.profile)
    b = b.model_copy(update={"synthetic_images": args.images or b.synthetic_images, "threads": args.threads or b.threads,
                            "fixed_threads": args.fixed_threads or b.fixed_threads})
    seeds = args.seeds or b.seeds or [cfg.seed]
    gold = load_gold(cfg.gold)
    split = split_gold(gold, cfg.seed, cfg.eval_fraction, None, cfg.diagnosis_fraction)
    base_name, _, base_path = (args.base or "all=").partition("=")
    if not base_name:
        raise SystemExit(f"--base {args.base!r}: expected NAME=CONFIG")
    base = prepare(load_config(base_path or cfg.dataset))
    # (name, dataset config, budget overrides, Ultralytics arguments)
    variants = [] if args.no_all else [(base_name, base, {}, {})]
    variants += [(f"no-{n}", without(base, n), {}, {}) for n in args.off]
    if args.none:
        variants.append(("none", without(base, *args.off), {}, {}))
    for spec in args.dataset:
        name, sep, path = spec.partition("=")
        if not sep:
            raise SystemExit(f"--dataset {spec!r}: expected NAME=CONFIG")
        variants.append((name, prepare(load_config(path)), {}, {}))
    for spec in args.train:
        name, kv = parse_train(spec)
        variants.append((name, base, {k: v for k, v in kv.items() if k in BUDGET_KEYS},
                         {k: v for k, v in kv.items() if k not in BUDGET_KEYS}))
    out = Path(args.out).resolve()
    rows = {}
    for name, dcfg, budget_over, train_over in variants:
        vb = b.model_copy(update={**budget_over, "args": {**b.args, **train_over}})
        start = time.perf_counter()
        synthetic, h, names, _ = ensure_synthetic(cfg, vb, out, dataset=dcfg)
        arms_dir = Path(args.base_arms).resolve() if name == base_name and args.base_arms else out / name
        runner = Runner(cfg, vb, arms_dir, split, gold, synthetic, h, names, print)
        n = len([p for p in (synthetic / "images" / "train").iterdir()])
        epochs, want, note = epochs_for(vb, n, vb.epochs.synthetic)  # as the benchmark's arms (cached ones match)
        runs = [runner.run(Arm("synthetic", None, "0", epochs, s, n, want, note)) for s in seeds]
        rows[name] = {
            "mAP50": summary([r["eval"]["mAP50"] for r in runs]),
            "mAP50-95": summary([r["eval"]["mAP50-95"] for r in runs]),
            "per_seed_mAP50": [round(r["eval"]["mAP50"], 4) for r in runs],
            "images_seen": runs[0]["images_seen"], "epochs": epochs, "train_images": n, "imgsz": vb.imgsz,
            "train_seconds": round(statistics.fmean(r["train_seconds"] for r in runs), 1),
            "args": {**budget_over, **train_over}, "dataset_hash": h[:10],
            "minutes": round((time.perf_counter() - start) / 60, 1)}
    base_row = rows.get(base_name)
    print(f"\n| variant | mAP50 (mean ± std) | mAP50-95 | Δ mAP50 vs {base_name} | images seen | train s | seeds |\n"
          "|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        d = f"{row['mAP50']['mean'] - base_row['mAP50']['mean']:+.3f}" if base_row else ""
        print(f"| {name} | {row['mAP50']['mean']:.3f} ± {row['mAP50']['std']:.3f} | "
              f"{row['mAP50-95']['mean']:.3f} ± {row['mAP50-95']['std']:.3f} | {d} | {row['images_seen']} | "
              f"{row['train_seconds']:.0f} | {row['mAP50']['n_seeds']} |")
    print(json.dumps({"benchmark": "ablation", "config": args.bench, "seeds": seeds, "images_seen": b.images_seen,
                      "imgsz": b.imgsz, "eval_images": len(split.eval), "variants": rows}))


if __name__ == "__main__":
    main()
