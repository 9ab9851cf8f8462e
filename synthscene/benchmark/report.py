"""The benchmark report: report.json (everything), report.md (for people) and plots."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..core.files import atomic_write, save_figure

KIND_LABEL = {"synthetic": "synthetic only", "real": "real only", "mixed": "synthetic + real (mixed)",
              "finetune": "synthetic pre-train → fine-tune on real",
              "converged": "real only, trained to convergence (reference)",
              "targeted": "synthetic → + targeted images", "untargeted": "synthetic → + untargeted images (control)",
              "targeted2": "targeted → + a second round of targeted images",
              "untargeted2": "untargeted → + a second round of untargeted images (control)"}
KIND_STYLE = {"real": ("tab:blue", "o"), "mixed": ("tab:green", "s"), "finetune": ("tab:red", "^")}
KIND_ORDER = list(KIND_LABEL)


def group_summary(arms: list[dict]) -> list[dict]:
    """Per arm group (kind + k): mean, std and n_seeds of mAP50 and mAP50-95 over its seeds, and its budget."""
    from .bootstrap import summarize

    groups: dict[str, list[dict]] = {}
    for a in arms:
        groups.setdefault(a.get("group", a["id"]), []).append(a)
    out = []
    for g, members in groups.items():
        a = members[0]
        out.append({
            "group": g, "kind": a["kind"], "k": a["k"], "k_label": a["k_label"],
            "seeds": [m["seed"] for m in members],
            "mAP50": summarize([m["eval"]["mAP50"] for m in members]),
            "mAP50-95": summarize([m["eval"]["mAP50-95"] for m in members]),
            "images_seen": sorted({m["images_seen"] for m in members}),
            "train_seconds": summarize([m["train_seconds"] for m in members])["mean"],
            "equal_budget": all(m.get("equal_budget") for m in members),
            "budget_note": "; ".join(sorted({m["budget_note"] for m in members if m.get("budget_note")})),
        })
    return out


def targeted_summary(arms: list[dict]) -> dict | None:
    """Targeted minus untargeted, per seed (paired: same start weights, same M, same epochs), and mean ± std."""
    from .bootstrap import summarize

    t = {a["seed"]: a for a in arms if a["kind"] == "targeted"}
    u = {a["seed"]: a for a in arms if a["kind"] == "untargeted"}
    seeds = sorted(set(t) & set(u))
    if not seeds:
        return None
    per_seed = []
    for s in seeds:
        row = {"seed": s, "equal": t[s]["images_seen"] == u[s]["images_seen"] and t[s]["epochs"] == u[s]["epochs"],
               "images_seen": t[s]["images_seen"], "epochs": t[s]["epochs"]}
        for m in ("mAP50", "mAP50-95"):
            row[m] = {"targeted": t[s]["eval"][m], "untargeted": u[s]["eval"][m], "diff": t[s]["eval"][m] - u[s]["eval"][m]}
        slices = {}
        for which, rec in t[s].get("targeted", {}).get("after", {}).items():
            before = t[s]["targeted"]["before"].get(which, {})
            other = u[s].get("targeted", {}).get("after", {}).get(which, {})
            for name, r in rec.items():
                slices.setdefault(which, {})[name] = {
                    "before": before.get(name), "targeted": r, "untargeted": other.get(name),
                    "diff": None if r is None or other.get(name) is None else r - other[name]}
        row["slices"] = slices
        per_seed.append(row)
    diff = {m: summarize([r[m]["diff"] for r in per_seed]) for m in ("mAP50", "mAP50-95")}
    slice_diff: dict = {}
    for r in per_seed:
        for which, rows in r["slices"].items():
            for name, v in rows.items():
                if v["diff"] is not None:
                    slice_diff.setdefault(which, {}).setdefault(name, []).append(v["diff"])
    return {"start": t[seeds[0]]["start"].get("from", "synthetic"), "per_seed": per_seed, "diff": diff,
            "slice_diff": {w: {n: summarize(v) for n, v in rows.items()} for w, rows in slice_diff.items()},
            "round2": round2_summary(arms)}


def _minus(a, b):
    return None if a is None or b is None else a - b


def round2_summary(arms: list[dict]) -> dict | None:
    """Round 2 (targeted2 / untargeted2, each from its round-1 arm's weights), per seed and mean ± std: both
    arms' mAP, their paired difference, each one's gain over the round-1 arm it continued, and the recall
    change (after − before: round-2 weights − round-1 weights) of the slices round 2's refinement aimed at."""
    from .bootstrap import summarize

    t2 = {a["seed"]: a for a in arms if a["kind"] == "targeted2"}
    u2 = {a["seed"]: a for a in arms if a["kind"] == "untargeted2"}
    first = {(a["kind"], a["seed"]): a for a in arms if a["kind"] in ("targeted", "untargeted")}
    seeds = sorted(set(t2) & set(u2))
    if not seeds:
        return None
    per_seed = []
    for s in seeds:
        t, u = t2[s], u2[s]
        t1, u1 = first.get(("targeted", t["start"]["seed"])), first.get(("untargeted", u["start"]["seed"]))
        row = {"seed": s, "equal": t["images_seen"] == u["images_seen"] and t["epochs"] == u["epochs"],
               "images_seen": t["images_seen"], "epochs": t["epochs"],
               "start": {"targeted": t1 and t1["id"], "untargeted": u1 and u1["id"]}}
        for m in ("mAP50", "mAP50-95"):
            r1 = {k: a and a["eval"][m] for k, a in (("targeted", t1), ("untargeted", u1))}
            row[m] = {"targeted2": t["eval"][m], "untargeted2": u["eval"][m], "diff": t["eval"][m] - u["eval"][m],
                      **r1, "gain_targeted": _minus(t["eval"][m], r1["targeted"]),
                      "gain_untargeted": _minus(u["eval"][m], r1["untargeted"])}
        slices: dict = {}
        te, ue = t.get("targeted", {}), u.get("targeted", {})
        for which, after in te.get("after", {}).items():
            bt, bu = te["before"].get(which, {}), ue.get("before", {}).get(which, {})
            au = ue.get("after", {}).get(which, {})
            for name, r in after.items():
                slices.setdefault(which, {})[name] = {
                    "before_targeted": bt.get(name), "targeted2": r, "change_targeted": _minus(r, bt.get(name)),
                    "before_untargeted": bu.get(name), "untargeted2": au.get(name),
                    "change_untargeted": _minus(au.get(name), bu.get(name)), "diff": _minus(r, au.get(name))}
        row["slices"] = slices
        per_seed.append(row)

    def over_seeds(m: str, key: str) -> dict:
        return summarize([r[m][key] for r in per_seed if r[m][key] is not None])

    metrics = ("mAP50", "mAP50-95")
    slice_change: dict = {}
    for r in per_seed:
        for which, rows in r["slices"].items():
            for name, v in rows.items():
                cell = slice_change.setdefault(which, {}).setdefault(name, {"targeted2": [], "untargeted2": [], "diff": []})
                for key, src in (("targeted2", "change_targeted"), ("untargeted2", "change_untargeted"), ("diff", "diff")):
                    if v[src] is not None:
                        cell[key].append(v[src])
    return {"per_seed": per_seed,
            "mean": {m: {k: over_seeds(m, k) for k in ("targeted", "untargeted", "targeted2", "untargeted2")}
                     for m in metrics},
            "diff": {m: over_seeds(m, "diff") for m in metrics},
            "gain": {m: {"targeted": over_seeds(m, "gain_targeted"), "untargeted": over_seeds(m, "gain_untargeted")}
                     for m in metrics},
            "slice_change": {w: {n: {k: summarize(v) for k, v in cell.items()} for n, cell in rows.items()}
                             for w, rows in slice_change.items()}}


def _by_kind(arms: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for a in arms:
        out.setdefault(a["kind"], []).append(a)
    return out


def _save(fig, file: Path) -> None:
    save_figure(fig, file, dpi=110)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_map_vs_k(report: dict, file: Path) -> None:
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    kinds = _by_kind(report["groups"])
    lines = {"synthetic": ("tab:purple", "--"), "converged": ("tab:gray", ":")}
    for ax, metric in zip(axes, ("mAP50", "mAP50-95")):
        for kind, groups in kinds.items():
            if kind in lines:
                color, ls = lines[kind]
                ax.axhline(groups[0][metric]["mean"], color=color, ls=ls, label=KIND_LABEL[kind])
                continue
            if kind not in KIND_STYLE:
                continue
            color, marker = KIND_STYLE[kind]
            ks = [g["k"] for g in groups]
            ax.errorbar(ks, [g[metric]["mean"] for g in groups], yerr=[g[metric]["std"] or 0 for g in groups],
                        color=color, marker=marker, capsize=3, label=KIND_LABEL[kind])
        ax.set_xscale("log")
        ks = sorted({a["k"] for a in report["arms"] if a["k"]})
        if ks:
            ax.set_xticks(ks, [str(k) for k in ks])
            ax.minorticks_off()
        ax.set_xlabel("real training images (k)")
        ax.set_ylabel(f"{metric} on held-apart real photos")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{report['profile']} profile, {len(report['split']['eval'])} evaluation photos")
    fig.tight_layout()
    _save(fig, file)
    plt.close(fig)


def _first_of_group(arms: list[dict]) -> list[dict]:
    """One arm per group: its first seed."""
    seen, out = set(), []
    for a in arms:
        if a.get("group", a["id"]) not in seen:
            seen.add(a.get("group", a["id"]))
            out.append(a)
    return out


def _highlight(arms: list[dict]) -> list[dict]:
    """Synthetic-only and each other kind at its smallest and largest k (first seed)."""
    out = []
    for kind, group in _by_kind(_first_of_group(arms)).items():
        out += [group[0]] if len(group) == 1 or kind == "synthetic" else [group[0], group[-1]]
    return out


def plot_per_class(report: dict, file: Path) -> None:
    plt = _plt()
    arms = _highlight(report["arms"])
    classes = report["classes"]
    fig, ax = plt.subplots(figsize=(max(8, 1.2 * len(classes)), 4.5))
    width = 0.8 / max(1, len(arms))
    for j, a in enumerate(arms):
        ap = [a["eval"]["per_class"].get(c, {}).get("AP50", np.nan) for c in classes]
        ax.bar(np.arange(len(classes)) + j * width, ap, width, label=a["id"])
    ax.set_xticks(np.arange(len(classes)) + 0.4 - width / 2, classes, rotation=30)
    ax.set_ylabel("AP50")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    _save(fig, file)
    plt.close(fig)


def plot_pr(report: dict, file: Path) -> None:
    plt = _plt()
    kinds = _by_kind(_first_of_group(report["arms"]))
    fig, axes = plt.subplots(1, len(kinds), figsize=(4 * len(kinds), 3.8), squeeze=False)
    for ax, (kind, arms) in zip(axes[0], kinds.items()):
        for a in arms:
            pr = a["eval"]["pr_curve"]
            curves = list(pr["precision"].values())
            if curves:
                ax.plot(pr["recall"], np.mean(curves, 0), label=f"k={a['k_label']}" if a["k"] else a["id"])
        ax.set_title(KIND_LABEL[kind], fontsize=9)
        ax.set_xlabel("recall")
        ax.set_ylabel("precision (mean over classes, IoU 0.5)")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    _save(fig, file)
    plt.close(fig)


def _fmt(v) -> str:
    return "–" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.3f}"


def _pm(v: dict) -> str:
    """mean ± std (n seeds)."""
    if v["mean"] is None:
        return "–"
    return f"{v['mean']:.3f}" + (f" ± {v['std']:.3f} ({v['n_seeds']} seeds)" if v["n_seeds"] > 1 else " (1 seed)")


def _budget(a: dict) -> str:
    """The budget column: images seen, training time, and whether it is the profile's equal budget."""
    seen = "/".join(f"{n:,}" for n in a["images_seen"]) if isinstance(a["images_seen"], list) else f"{a['images_seen']:,}"
    secs = a["train_seconds"]
    flag = "equal" if a.get("equal_budget") else f"**unequal**: {a.get('budget_note') or 'no budget'}"
    return f"{seen} images · {secs:.0f} s · {flag}"


def ratio_lines(report: dict) -> list[str]:
    """Ratios between arm groups, only when both are equal-budget with the same images seen."""
    g = {x["group"]: x for x in report["groups"]}
    out = []
    for a, b, what in (("synthetic", "real-kall", "synthetic-only / real-only on all"),
                       ("finetune-k10", "real-k10", "fine-tune on 10 / real-only on 10 (fine-tune also had the synthetic pre-training)"),
                       ("finetune-kall", "real-kall", "fine-tune on all / real-only on all (fine-tune also had the synthetic pre-training)")):
        if a not in g or b not in g:
            continue
        x, y = g[a], g[b]
        if x["equal_budget"] and y["equal_budget"] and x["images_seen"] == y["images_seen"] and y["mAP50"]["mean"]:
            out.append(f"- {what}, mAP50: {x['mAP50']['mean'] / y['mAP50']['mean']:.2f} "
                       f"(equal budgets: {x['images_seen'][0]:,} images seen each)")
        else:
            out.append(f"- {what}: no ratio given, the budgets differ ({_budget(x)} against {_budget(y)})")
    if "real-converged" in g and "real-kall" in g:
        out.append("- real-only, converged is a reference with its own budget (above), not an equal-budget arm: "
                   "no ratio is taken against it")
    return out


def markdown(report: dict) -> str:
    arms = report["arms"]
    b = report["budget"]
    lines = [
        "# Synthetic vs real: benchmark report",
        "",
        f"- command: `{report['command']}`",
        f"- config: `{report['config']}` (hash `{report['config_hash']}`), profile `{report['profile']}`",
        f"- synthetic data: `{report['dataset_config']}` → {b['synthetic_images']} images (hash `{report['synthetic_hash']}`)",
        f"- real training pool: {len(report['split']['train'])} images of `{report['gold']}` (seed {report['split']['seed']});"
        f" diagnosis split: {len(report['split'].get('diagnosis', []))} images (never trained on or evaluated on);"
        f" evaluation: {len(report['split']['eval'])} images of `{report['eval_gold']}`, none of them trained on or"
        " diagnosed (checked by content)",
        f"- model `{b['model']}` from scratch (no pretrained weights), imgsz {b['imgsz']}, batch {b['batch']}, device `{b['device']}`",
        f"- budget per arm: {b['images_seen']:,} image presentations (epochs = ⌈budget / training images⌉)"
        if b.get("images_seen") else "- budget per arm: **none** (epochs per arm kind: the arms are not comparable)",
        f"- versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()),
        f"- host: {report['host']['cpus']} CPUs; this invocation took {report['wall_seconds'] / 60:.1f} min"
        f" (training time of all arms, cached or not: {sum(a['train_seconds'] for a in arms) / 60:.1f} min)",
        "",
        "## mAP50 / mAP50-95 on real photos",
        "",
        "Mean ± standard deviation over training seeds (same evaluation photos). Budget: image presentations "
        "in training (epochs × images per epoch; a fine-tune arm's excludes the synthetic pre-training it starts "
        "from), mean training time, and whether it is the profile's equal budget.",
        "",
        "| arm | k | budget (images seen · train s) | mAP50 | mAP50-95 |",
        "|---|---|---|---|---|",
    ]
    for g in sorted(report["groups"], key=lambda g: (KIND_ORDER.index(g["kind"]), g["k"] or 0)):
        k = "–" if g["k"] is None else (f"all ({g['k']})" if g["k_label"] == "all" else g["k_label"])
        lines.append(f"| {KIND_LABEL[g['kind']]} | {k} | {_budget(g)} | {_pm(g['mAP50'])} | {_pm(g['mAP50-95'])} |")
    lines += ["", "Ratios (equal-budget arms only):", ""] + ratio_lines(report)
    lines += ["", "![mAP vs number of real images](map_vs_k.png)", "", "## Every arm", "",
              "| arm | seed | epochs | budget (images seen · train s) | mAP50 [bootstrap 95%] | mAP50-95 | precision | recall | recall small / medium / large | lr0 / lrf / warm-up |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for a in arms:
        e, bs, lr = a["eval"], a["bootstrap_mAP50"], a["lr_schedule"]
        size = " / ".join(_fmt(e["recall_by_size"][s]["recall"]) for s in ("small", "medium", "large"))
        lines.append(f"| {a['id']} | {a['seed']} | {a['epochs_run']} | {_budget(a)} | {_fmt(e['mAP50'])} "
                     f"[{_fmt(bs['low'])}, {_fmt(bs['high'])}] | {_fmt(e['mAP50-95'])} | {_fmt(e['precision'])} | "
                     f"{_fmt(e['recall'])} | {size} | {lr['lr0']} / {lr['lrf']} / {lr['warmup_epochs']} |")
    n_boot = arms[0]["bootstrap_mAP50"]["resamples"] if arms else 0
    lines += ["", f"Bootstrap: the evaluation photos resampled with replacement {n_boot} times, mAP50 re-scored from "
              "the recorded per-image matches (no re-inference); percentile interval. It shows how much the choice of "
              "evaluation photos moves one arm's number, not the spread over training seeds.",
              "", "Precision and recall are at the confidence that maximises mean F1 (Ultralytics' convention); "
              "box sizes follow COCO (small < 32², medium < 96² pixels)."]
    lines += targeted_markdown(report.get("targeted"))
    if report.get("skipped"):
        lines += ["", "## Skipped arms", "", "Not trained, so not in any table above:", ""]
        lines += [f"- {arm}: {why}" for arm, why in report["skipped"].items()]
    lines += ["", "## AP50 per class (first seed)", "", "| arm | " + " | ".join(report["classes"]) + " |",
              "|---|" + "---|" * len(report["classes"])]
    for a in _highlight(arms):
        pc = a["eval"]["per_class"]
        lines.append(f"| {a['id']} | " + " | ".join(_fmt(pc.get(c, {}).get("AP50")) for c in report["classes"]) + " |")
    lines += ["", "![AP50 per class](per_class_ap.png)", "", "## Precision-recall", "", "![PR curves](pr_curves.png)", ""]
    return "\n".join(lines)


def targeted_markdown(t: dict | None) -> list[str]:
    if not t:
        return []
    start = t.get("start", "synthetic")
    data = ("the synthetic images" if start == "synthetic" else f"the {start.rsplit('-k', 1)[-1]} real photos it was "
            "fine-tuned on")
    lines = ["", "## Targeted vs untargeted images", "",
             f"Both start from the same {start} arm's weights and train on {data} plus the same number of new images "
             "(targeted: from the config refined on the diagnosis split; untargeted: the unchanged config, the same "
             "new seed), for the same epochs. Difference = targeted − untargeted, per seed.", "",
             "| seed | images seen | mAP50 targeted / untargeted / diff | mAP50-95 targeted / untargeted / diff |",
             "|---|---|---|---|"]
    for r in t["per_seed"]:
        cells = [" / ".join(_fmt(r[m][x]) for x in ("targeted", "untargeted", "diff")) for m in ("mAP50", "mAP50-95")]
        lines.append(f"| {r['seed']} | {r['images_seen']:,}{'' if r['equal'] else ' (**unequal**)'} | {cells[0]} | {cells[1]} |")
    lines.append(f"| mean ± std | | {_pm(t['diff']['mAP50'])} | {_pm(t['diff']['mAP50-95'])} |")
    lines += ["", f"Recall of the slices the refinement aimed at (its provenance), before (the {start} arm) and after:", "",
              "| split | slice | seed | before | targeted | untargeted | diff |", "|---|---|---|---|---|---|---|"]
    for r in t["per_seed"]:
        for which, rows in r["slices"].items():
            for name, v in rows.items():
                lines.append(f"| {which} | {name} | {r['seed']} | {_fmt(v['before'])} | {_fmt(v['targeted'])} | "
                             f"{_fmt(v['untargeted'])} | {_fmt(v['diff'])} |")
    for which, rows in t["slice_diff"].items():
        for name, v in rows.items():
            lines.append(f"| {which} | {name} | mean ± std | | | | {_pm(v)} |")
    if not any(r["slices"] for r in t["per_seed"]):
        lines.append("| – | the refinement's provenance named no slice | | | | | |")
    return lines + round2_markdown(t.get("round2"), t["diff"])


def round2_markdown(r2: dict | None, diff1: dict) -> list[str]:
    """The round-2 table beside round 1's figures (`diff1`: round 1's paired targeted − untargeted)."""
    if not r2:
        return []
    mean, diff, gain = r2["mean"], r2["diff"], r2["gain"]
    both = ("mAP50", "mAP50-95")

    def row(label: str, cells: list[str]) -> str:
        return f"| {label} | " + " | ".join(cells) + " |"

    lines = ["", "## Targeted vs untargeted, round 2", "",
             "Round 2 continues each round-1 arm: targeted2 from the targeted weights, diagnosed again on the diagnosis "
             "split, with round 1's refined config refined again; untargeted2 from the untargeted weights with M more "
             "images of the unchanged config. Both use the same new seed (not round 1's), add M images to base + round 1's "
             "M, and train the same epochs. Mean ± std over seeds (round 1: the arms round 2 continued); differences "
             "paired per seed.", "",
             "| | mAP50 round 1 | mAP50 round 2 | mAP50-95 round 1 | mAP50-95 round 2 |", "|---|---|---|---|---|",
             row("targeted", [_pm(mean[m][k]) for m in both for k in ("targeted", "targeted2")]),
             row("untargeted (control)", [_pm(mean[m][k]) for m in both for k in ("untargeted", "untargeted2")]),
             row("targeted − untargeted (paired)", [_pm(d) for m in both for d in (diff1[m], diff[m])]),
             row("round 2 − round 1, targeted (targeted2 − targeted)", [c for m in both for c in ("", _pm(gain[m]["targeted"]))]),
             row("round 2 − round 1, untargeted (untargeted2 − untargeted)",
                 [c for m in both for c in ("", _pm(gain[m]["untargeted"]))]),
             "", "| seed | images seen | mAP50 targeted2 / untargeted2 / diff | mAP50-95 targeted2 / untargeted2 / diff "
             "| mAP50 gain over round 1, targeted / untargeted |", "|---|---|---|---|---|"]
    for r in r2["per_seed"]:
        cells = [" / ".join(_fmt(r[m][x]) for x in ("targeted2", "untargeted2", "diff")) for m in both]
        g = " / ".join(_fmt(r["mAP50"][x]) for x in ("gain_targeted", "gain_untargeted"))
        lines.append(f"| {r['seed']} | {r['images_seen']:,}{'' if r['equal'] else ' (**unequal**)'} | {cells[0]} | "
                     f"{cells[1]} | {g} |")
    lines += ["", "Recall of the slices round 2's refinement aimed at, before (the round-1 weights each arm started from) "
              "and after (the round-2 weights); change = after − before:", "",
              "| split | slice | seed | targeted before → targeted2 (change) | untargeted before → untargeted2 (change) "
              "| targeted2 − untargeted2 |", "|---|---|---|---|---|---|"]
    for r in r2["per_seed"]:
        for which, rows in r["slices"].items():
            for name, v in rows.items():
                lines.append(f"| {which} | {name} | {r['seed']} | {_fmt(v['before_targeted'])} → {_fmt(v['targeted2'])} "
                             f"({_fmt(v['change_targeted'])}) | {_fmt(v['before_untargeted'])} → {_fmt(v['untargeted2'])} "
                             f"({_fmt(v['change_untargeted'])}) | {_fmt(v['diff'])} |")
    for which, rows in r2["slice_change"].items():
        for name, v in rows.items():
            lines.append(f"| {which} | {name} | mean ± std | change {_pm(v['targeted2'])} | change {_pm(v['untargeted2'])} "
                         f"| {_pm(v['diff'])} |")
    if not any(r["slices"] for r in r2["per_seed"]):
        lines.append("| – | round 2's provenance named no slice | | | | |")
    return lines


def write_report(out: Path, report: dict) -> Path:
    slim = {**report, "arms": [{**a, "eval": {k: v for k, v in a["eval"].items() if k != "pr_curve"}} for a in report["arms"]]}
    atomic_write(out / "report.json", json.dumps(slim, indent=2))
    plot_map_vs_k(report, out / "map_vs_k.png")
    plot_per_class(report, out / "per_class_ap.png")
    plot_pr(report, out / "pr_curves.png")
    atomic_write(out / "report.md", markdown(report))
    return out / "report.md"
