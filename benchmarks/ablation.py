"""Which randomizers matter: the benchmark's synthetic-only arm, once with the dataset config as it is
and once with each named randomizer switched off (and, with --none, once with all of them off),
every variant measured on the same held-apart real photos.

    python benchmarks/ablation.py configs/bench_lmo.yaml --off background occlusion texture post \\
        --none --images 1000 --epochs 10 --out out/ablation

Each variant renders its own images (same seed, so what the other randomizers draw is unchanged:
each draws from its own stream) and trains from scratch with the profile's budget. Variants
already trained are cached, like benchmark arms. Prints a markdown table, then one JSON line.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

RANDOMIZERS = ("lighting", "occlusion", "texture", "background", "post")


def without(dcfg, *names: str):
    """The dataset config with these randomizers switched off."""
    rnd = dcfg.randomizers
    off = {name: getattr(rnd, name).model_copy(update={"enabled": False}) for name in names}
    return dcfg.model_copy(update={"randomizers": rnd.model_copy(update=off)})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("bench", help="benchmark config (its dataset, gold set, seed, split and profile)")
    ap.add_argument("--off", nargs="*", default=list(RANDOMIZERS), choices=RANDOMIZERS,
                    help="randomizers to switch off, one variant each")
    ap.add_argument("--no-all", action="store_true", help="skip the variant with every randomizer on")
    ap.add_argument("--none", action="store_true", help="add a variant with every --off randomizer off at once")
    ap.add_argument("--profile")
    ap.add_argument("--images", type=int, help="synthetic images per variant (default: the profile's)")
    ap.add_argument("--epochs", type=int, help="synthetic-only epochs (default: the profile's)")
    ap.add_argument("--threads", type=int, help="torch threads (default: the profile's)")
    ap.add_argument("--out", default="out/ablation")
    args = ap.parse_args()

    from synthscene import load_config, prepare
    from synthscene.train.bench_config import load_bench_config
    from synthscene.train.benchmark import Arm, Runner, ensure_synthetic, split_gold
    from synthscene.train.data import load_gold

    cfg = load_bench_config(args.bench)
    b = cfg.budget(args.profile)
    b = b.model_copy(update={
        "synthetic_images": args.images or b.synthetic_images,
        "threads": args.threads or b.threads,
        "epochs": b.epochs.model_copy(update={"synthetic": args.epochs or b.epochs.synthetic}),
    })
    gold = load_gold(cfg.gold)
    split = split_gold(gold, cfg.seed, cfg.eval_fraction, None)
    base = prepare(load_config(cfg.dataset))
    variants = ([] if args.no_all else [("all", base)]) + [(f"no-{n}", without(base, n)) for n in args.off]
    if args.none:
        variants.append(("none", without(base, *args.off)))
    out = Path(args.out).resolve()
    rows = {}
    for name, dcfg in variants:
        start = time.perf_counter()
        synthetic, h, names, _ = ensure_synthetic(cfg, b, out, dataset=dcfg)
        runner = Runner(cfg, b, out / name, split, gold, synthetic, h, names, print)
        r = runner.run(Arm("synthetic", None, "0", b.epochs.synthetic))
        rows[name] = {"mAP50": round(r["eval"]["mAP50"], 4), "mAP50-95": round(r["eval"]["mAP50-95"], 4),
                      "per_class_AP50": {c: round(v["AP50"], 3) for c, v in r["eval"]["per_class"].items()},
                      "dataset_hash": h[:10], "minutes": round((time.perf_counter() - start) / 60, 1)}
    print("\n| variant | mAP50 | mAP50-95 |\n|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['mAP50']:.3f} | {row['mAP50-95']:.3f} |")
    print(json.dumps({"benchmark": "ablation", "config": args.bench, "images": b.synthetic_images,
                      "epochs": b.epochs.synthetic, "imgsz": b.imgsz, "eval_images": len(split.eval), "variants": rows}))


if __name__ == "__main__":
    main()
