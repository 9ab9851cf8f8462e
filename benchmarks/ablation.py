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

`--finetune K`: each variant's synthetic detectors (every seed) are also fine-tuned on the first K
real pool photos, and real-only references (the bench config's `real_k`) are trained once and
cached in OUT/references; the steer profile trains both until val mAP on the diagnosis split
stops improving. A variant's difference to the base is paired by seed; a difference smaller than
twice the pooled seed std is "no measurable effect", in the table itself. Synthetic datasets go to
--data (default: the bench config's `out`, where `synthscene benchmark` puts them).

    python benchmarks/ablation.py configs/bench_lmo.yaml --profile steer --finetune 10 \\
        --dataset dense=configs/lmo_dense.yaml --out ../out/bench_lmo/steer-ablation

`--loop 1` (or 2 rounds), with --finetune: the diagnose → refine loop on each variant's fine-tuned
detectors (variants with a config file; `--loop-from synthetic`: on the synthetic-only ones, the M
images added to the synthetic ones): per seed, the fine-tuned weights are diagnosed on the
diagnosis split, the variant's config refined, the profile's `targeted_images` rendered from the
refined config (targeted) and from the unchanged one with the same new seed (untargeted), and both
continue the fine-tuned weights on the K photos (× `mixed_real_repeat`) + those images for
`targeted_images_seen` presentations. Reported: targeted − untargeted paired by seed (with the
noise verdict) and the recall of the aimed slices before and after.
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


def paired(base: dict[int, float], other: dict[int, float]) -> dict | None:
    """The variant minus the base over the seeds both trained, and whether it clears the noise.

    Noise: the pooled seed std (root mean of the two variances). A difference smaller than twice
    it is "no measurable effect"; with one seed there is no noise estimate and no verdict."""
    seeds = sorted(set(base) & set(other))
    if not seeds:
        return None
    diffs = [other[s] - base[s] for s in seeds]
    mean = statistics.fmean(diffs)
    if len(seeds) < 2:
        return {"delta": round(mean, 4), "delta_std": None, "pooled_std": None, "seeds": seeds,
                "verdict": "one seed: no noise estimate"}
    pooled = ((statistics.variance([base[s] for s in seeds]) + statistics.variance([other[s] for s in seeds])) / 2) ** 0.5
    verdict = ("no measurable effect" if abs(mean) < 2 * pooled
               else "better" if mean > 0 else "worse")
    return {"delta": round(mean, 4), "delta_std": round(statistics.stdev(diffs), 4), "pooled_std": round(pooled, 4),
            "seeds": seeds, "verdict": verdict}


def mean_curve(runs: list[dict]) -> list[dict]:
    """Synthetic val mAP50 per epoch, mean over the seeds that recorded a curve."""
    curves = [r["curve"] for r in runs if r.get("curve")]
    if not curves:
        return []
    n = min(len(c) for c in curves)
    return [{"epoch": curves[0][i]["epoch"], "mAP50": round(statistics.fmean(c[i]["mAP50"] for c in curves), 4)}
            for i in range(n)]


def loop_summary(results: list[dict], targeted_summary) -> dict:
    """The benchmark's targeted summary of the loop arms, with each round's mAP50 per arm kind and the
    paired targeted − untargeted verdict."""
    out = {"summary": targeted_summary(results), "rounds": {}}
    for t, u in (("targeted", "untargeted"), ("targeted2", "untargeted2")):
        per = {k: {r["seed"]: round(r["eval"]["mAP50"], 4) for r in results if r["kind"] == k} for k in (t, u)}
        if per[t] and per[u]:
            out["rounds"][t] = {"targeted": summary(list(per[t].values())), "untargeted": summary(list(per[u].values())),
                                "per_seed": per, "images_seen": next(r["images_seen"] for r in results if r["kind"] == t),
                                "vs_untargeted": paired(per[u], per[t])}
    return out


def print_loop(name: str, loop: dict) -> None:
    s = loop["summary"] or {}
    print(f"\nLoop on {name}'s {s.get('start', 'fine-tuned')} detectors (targeted − untargeted paired by seed):\n")
    print("| round | images seen | targeted mAP50 | untargeted mAP50 | targeted − untargeted |\n|---|---|---|---|---|")
    for rnd, r in loop["rounds"].items():
        print(f"| {2 if rnd.endswith('2') else 1} | {r['images_seen']} | {cell(r['targeted'])} | "
              f"{cell(r['untargeted'])} | {verdict_cell(r['vs_untargeted'])} |")
    for arm, why in loop.get("skipped", {}).items():
        print(f"\n{arm} skipped: {why}")
    rows = [(w, sl, r["seed"], v) for r in s.get("per_seed", []) for w, sls in r["slices"].items() for sl, v in sls.items()]
    if rows:
        print("\n| split | aimed slice (round 1) | seed | before | targeted | untargeted |\n|---|---|---|---|---|---|")
        for w, sl, seed, v in rows:
            print(f"| {w} | {sl} | {seed} | " + " | ".join(
                "–" if v[k] is None else f"{v[k]:.3f}" for k in ("before", "targeted", "untargeted")) + " |")


def cell(s: dict) -> str:
    return f"{s['mean']:.3f} ± {s['std']:.3f}"


def verdict_cell(p: dict | None) -> str:
    if p is None:
        return ""
    spread = f" (± {p['delta_std']:.3f})" if p["delta_std"] is not None else ""
    noise = f"; 2σ = {2 * p['pooled_std']:.3f}" if p["pooled_std"] is not None else ""
    return f"{p['delta']:+.3f}{spread}: {p['verdict']}{noise}"


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
    ap.add_argument("--images-seen", type=int, help="synthetic presentations per arm (default: the profile's)")
    ap.add_argument("--fixed-threads", action="store_true",
                    help="train with exactly --threads however busy the machine (reproducible weights)")
    ap.add_argument("--base-arms", help="OUT/PROFILE of a benchmark run: the unchanged variant's arms live there")
    ap.add_argument("--finetune", type=int, metavar="K",
                    help="also fine-tune each variant's detectors on the first K real photos, and train the "
                         "real-only references once")
    ap.add_argument("--no-references", action="store_true",
                    help="with --finetune: skip the real-only references (e.g. to print the table of cached arms)")
    ap.add_argument("--loop", type=int, choices=(1, 2),
                    help="targeted vs untargeted images from each variant's detectors, 1 or 2 rounds")
    ap.add_argument("--loop-from", choices=("finetune", "synthetic"), default="finetune",
                    help="the detectors the loop builds on: the fine-tuned ones (needs --finetune; default) or the "
                         "synthetic-only ones (their M images added to the synthetic ones, the synthetic budget)")
    ap.add_argument("--data", help="folder of the rendered synthetic datasets (default: the bench config's out)")
    ap.add_argument("--out", default="out/ablation")
    args = ap.parse_args()

    from synthscene import load_config, prepare
    from synthscene.benchmark.bench_config import load_bench_config
    from synthscene.benchmark.bench_config import ROUND2
    from synthscene.benchmark.report import targeted_summary
    from synthscene.benchmark.run import (EXTRA_KINDS, Arm, Runner, converged_note, ensure_synthetic, epochs_for,
                                          plan_arms, split_gold)
    from synthscene.realdata.gold import load_gold

    cfg = load_bench_config(args.bench)
    b = cfg.budget(args.profile)
    b = b.model_copy(update={"synthetic_images": args.images or b.synthetic_images, "threads": args.threads or b.threads,
                            "fixed_threads": args.fixed_threads or b.fixed_threads,
                            "images_seen": args.images_seen or b.images_seen})
    seeds = args.seeds or b.seeds or [cfg.seed]
    gold = load_gold(cfg.gold)
    split = split_gold(gold, cfg.seed, cfg.eval_fraction, None, cfg.diagnosis_fraction)
    base_name, _, base_path = (args.base or "all=").partition("=")
    if not base_name:
        raise SystemExit(f"--base {args.base!r}: expected NAME=CONFIG")
    base_path = Path(base_path or cfg.dataset).resolve()
    base = prepare(load_config(base_path))
    # (name, dataset config, its file (None: changed in memory), budget overrides, Ultralytics arguments)
    variants = [] if args.no_all else [(base_name, base, base_path, {}, {})]
    variants += [(f"no-{n}", without(base, n), None, {}, {}) for n in args.off]
    if args.none:
        variants.append(("none", without(base, *args.off), None, {}, {}))
    for spec in args.dataset:
        name, sep, path = spec.partition("=")
        if not sep:
            raise SystemExit(f"--dataset {spec!r}: expected NAME=CONFIG")
        variants.append((name, prepare(load_config(path)), Path(path).resolve(), {}, {}))
    for spec in args.train:
        name, kv = parse_train(spec)
        variants.append((name, base, base_path, {k: v for k, v in kv.items() if k in BUDGET_KEYS},
                         {k: v for k, v in kv.items() if k not in BUDGET_KEYS}))
    if args.finetune is not None and not 1 <= args.finetune <= len(split.train):
        raise SystemExit(f"--finetune {args.finetune}: the train pool has {len(split.train)} photos")
    if args.loop and args.loop_from == "finetune" and not args.finetune:
        raise SystemExit("--loop builds on the fine-tuned detectors: give --finetune K too (or --loop-from synthetic)")
    if args.loop and not b.targeted_images:
        raise SystemExit(f"--loop: profile {args.profile or cfg.profile} has no targeted_images (M)")
    out = Path(args.out).resolve()
    data_dir = Path(args.data or cfg.out or args.out).resolve()
    wall = time.perf_counter()

    def real_arm(kind: str, k: int, label: str, seed: int, start: int | None = None) -> Arm:
        if kind in b.converge:
            c = b.converged
            return Arm(kind, k, label, c.max_epochs, seed, k, None, converged_note(c), start)
        epochs, want, note = epochs_for(b, k, getattr(b.epochs, kind))
        return Arm(kind, k, label, epochs, seed, k, want, note, start)

    label = "all" if args.finetune == len(split.train) else str(args.finetune)
    rows = {}
    for name, dcfg, path, budget_over, train_over in variants:
        vb = b.model_copy(update={**budget_over, "args": {**b.args, **train_over}, "seeds": seeds,
                                  "targeted_from": args.loop_from})
        start = time.perf_counter()
        synthetic, h, names, _ = ensure_synthetic(cfg, vb, data_dir, dataset=dcfg)
        arms_dir = Path(args.base_arms).resolve() if name == base_name and args.base_arms else out / name
        n = len([p for p in (synthetic / "images" / "train").iterdir()])
        epochs, want, note = epochs_for(vb, n, vb.epochs.synthetic)  # as the benchmark's arms (cached ones match)
        synth_arms = [Arm("synthetic", None, "0", epochs, s, n, want, note) for s in seeds]
        ft_arms = [real_arm("finetune", args.finetune, label, s, s) for s in seeds] if args.finetune else []
        loop_arms = []
        if args.loop and path is None:
            print(f"{name}: --loop refines a config file; this variant is changed in memory: no loop")
        elif args.loop:  # the benchmark's own plan of the targeted arms on the fine-tuned ones
            kinds = ["targeted", "untargeted"] + (list(ROUND2) if args.loop == 2 else [])
            vcfg = cfg.model_copy(update={"dataset": path, "real_k": [args.finetune or 1],
                                          "arms": ["synthetic", "finetune", *kinds]})
            loop_arms = [a for a in plan_arms(vcfg, vb, len(split.train), n) if a.kind in EXTRA_KINDS]
        runner = Runner(cfg.model_copy(update={"dataset": path or base_path}), vb, arms_dir, split, gold, synthetic,
                        h, names, print, synth_arms + ft_arms + loop_arms)
        runs = [runner.run(a) for a in synth_arms]
        rows[name] = {
            "mAP50": summary([r["eval"]["mAP50"] for r in runs]),
            "mAP50-95": summary([r["eval"]["mAP50-95"] for r in runs]),
            "per_seed_mAP50": {r["seed"]: round(r["eval"]["mAP50"], 4) for r in runs},
            "images_seen": runs[0]["images_seen"], "epochs": epochs, "train_images": n, "imgsz": vb.imgsz,
            "train_seconds": round(statistics.fmean(r["train_seconds"] for r in runs), 1),
            "args": {**budget_over, **train_over}, "dataset_hash": h[:10], "curve": mean_curve(runs)}
        if args.finetune:
            ft = [runner.run(a) for a in ft_arms]
            rows[name]["finetune"] = {
                "mAP50": summary([r["eval"]["mAP50"] for r in ft]),
                "mAP50-95": summary([r["eval"]["mAP50-95"] for r in ft]),
                "per_seed_mAP50": {r["seed"]: round(r["eval"]["mAP50"], 4) for r in ft},
                "epochs_run": [r["epochs_run"] for r in ft], "k": args.finetune,
                "train_seconds": round(statistics.fmean(r["train_seconds"] for r in ft), 1)}
        if loop_arms:
            ran = [runner.run(a) for a in loop_arms]
            rows[name]["loop"] = {**loop_summary([r for r in ran if r], targeted_summary), "skipped": runner.skipped}
        rows[name]["minutes"] = round((time.perf_counter() - start) / 60, 1)
    references = {}  # after the variants: a run cut short has the comparisons first
    if args.finetune and not args.no_references:
        ref_runner = Runner(cfg, b, out / "references", split, gold, out, None, list(gold.names), print)
        ks = sorted({len(split.train) if k == "all" else k for k in cfg.real_k})
        for k in ks:
            label = "all" if k == len(split.train) else str(k)
            r = ref_runner.run(real_arm("real", k, label, seeds[0]))
            references[f"real-k{label}"] = {"mAP50": round(r["eval"]["mAP50"], 4),
                                             "mAP50-95": round(r["eval"]["mAP50-95"], 4),
                                             "epochs_run": r["epochs_run"], "images_seen": r["images_seen"],
                                             "train_seconds": round(r["train_seconds"], 1), "seed": seeds[0]}
    base_row = rows.get(base_name)
    for name, row in rows.items():
        if base_row and name != base_name:
            row["vs_base"] = paired(base_row["per_seed_mAP50"], row["per_seed_mAP50"])
            if "finetune" in row:
                row["finetune"]["vs_base"] = paired(base_row["finetune"]["per_seed_mAP50"],
                                                    row["finetune"]["per_seed_mAP50"])
    ft_head = f" fine-tune k={args.finetune} mAP50 | Δ fine-tune vs {base_name} |" if args.finetune else ""
    print(f"\n| variant | synthetic mAP50 (mean ± std) | mAP50-95 | Δ mAP50 vs {base_name} (paired) |{ft_head} "
          f"images seen | train s | seeds |\n|---|---|---|---|{'---|---|' if args.finetune else ''}---|---|---|")
    for name, row in rows.items():
        ft = row.get("finetune")
        ft_cells = f" {cell(ft['mAP50'])} | {verdict_cell(ft.get('vs_base'))} |" if ft else ""
        print(f"| {name} | {cell(row['mAP50'])} | {cell(row['mAP50-95'])} | {verdict_cell(row.get('vs_base'))} |"
              f"{ft_cells} {row['images_seen']} | {row['train_seconds']:.0f} | {row['mAP50']['n_seeds']} |")
    for name, ref in references.items():
        print(f"| reference {name} (real only, one seed) | {ref['mAP50']:.3f} | {ref['mAP50-95']:.3f} | | "
              f"{'| |' if args.finetune else ''} {ref['images_seen']} ({ref['epochs_run']} epochs) | "
              f"{ref['train_seconds']:.0f} | 1 |")
    for name, row in rows.items():
        if row.get("loop"):
            print_loop(name, row["loop"])
    curves = {n: r["curve"] for n, r in rows.items() if r["curve"]}
    if curves:
        print("\nSynthetic val mAP50 by epoch (mean over seeds):\n")
        for n, c in curves.items():
            print(f"- {n}: " + ", ".join(f"{p['epoch']}: {p['mAP50']:.3f}" for p in c))
    print(json.dumps({"benchmark": "ablation", "config": args.bench, "profile": args.profile or cfg.profile,
                      "seeds": seeds, "images_seen": b.images_seen, "imgsz": b.imgsz, "threads": b.threads,
                      "fixed_threads": b.fixed_threads, "eval_images": len(split.eval), "references": references,
                      "variants": rows, "wall_minutes": round((time.perf_counter() - wall) / 60, 1)}))


if __name__ == "__main__":
    main()
