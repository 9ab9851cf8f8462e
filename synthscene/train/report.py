"""The benchmark report: report.json (everything), report.md (for people) and plots."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..labels.io import atomic_write

KIND_LABEL = {"synthetic": "synthetic only", "real": "real only", "mixed": "synthetic + real (mixed)",
              "finetune": "synthetic pre-train → fine-tune on real"}
KIND_STYLE = {"real": ("tab:blue", "o"), "mixed": ("tab:green", "s"), "finetune": ("tab:red", "^")}


def _by_kind(arms: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for a in arms:
        out.setdefault(a["kind"], []).append(a)
    return out


def _save(fig, file: Path) -> None:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    atomic_write(file, buf.getvalue())


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_map_vs_k(report: dict, file: Path) -> None:
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    kinds = _by_kind(report["arms"])
    for ax, metric in zip(axes, ("mAP50", "mAP50-95")):
        for kind, arms in kinds.items():
            if kind == "synthetic":
                ax.axhline(arms[0]["eval"][metric], color="tab:purple", ls="--", label=KIND_LABEL[kind])
                continue
            color, marker = KIND_STYLE[kind]
            ks = [a["k"] for a in arms]
            ax.plot(ks, [a["eval"][metric] for a in arms], color=color, marker=marker, label=KIND_LABEL[kind])
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


def _highlight(arms: list[dict]) -> list[dict]:
    """Synthetic-only and each other kind at its smallest and largest k."""
    out = []
    for kind, group in _by_kind(arms).items():
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
    kinds = _by_kind(report["arms"])
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


def markdown(report: dict) -> str:
    arms = report["arms"]
    kinds = _by_kind(arms)
    ks = sorted({(a["k"], a["k_label"]) for a in arms if a["k"]})
    cols = [(0, "0")] * ("synthetic" in kinds) + ks  # the synthetic-only arm is the k = 0 column
    b = report["budget"]
    lines = [
        "# Synthetic vs real: benchmark report",
        "",
        f"- command: `{report['command']}`",
        f"- config: `{report['config']}` (hash `{report['config_hash']}`), profile `{report['profile']}`",
        f"- synthetic data: `{report['dataset_config']}` → {b['synthetic_images']} images (hash `{report['synthetic_hash']}`)",
        f"- real training pool: {len(report['split']['train'])} images of `{report['gold']}` (seed {report['split']['seed']});"
        f" evaluation: {len(report['split']['eval'])} images of `{report['eval_gold']}`, none of them trained on (checked by content)",
        f"- model `{b['model']}` from scratch (no pretrained weights), imgsz {b['imgsz']}, batch {b['batch']}, device `{b['device']}`",
        f"- versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()),
        f"- host: {report['host']['cpus']} CPUs; this invocation took {report['wall_seconds'] / 60:.1f} min"
        f" (training time of all arms, cached or not: {sum(a['train_seconds'] for a in arms) / 60:.1f} min)",
        "",
        "## mAP50 / mAP50-95 on real photos",
        "",
        "| arm | " + " | ".join(f"k = {label}" if label != "all" else f"k = all ({k})" for k, label in cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    cell = lambda e: f"{_fmt(e['mAP50'])} / {_fmt(e['mAP50-95'])}"
    for kind in ("synthetic", "real", "mixed", "finetune"):
        if kind in kinds:
            by_k = {0: kinds[kind][0]["eval"]} if kind == "synthetic" else {a["k"]: a["eval"] for a in kinds[kind]}
            lines.append(f"| {KIND_LABEL[kind]} | " + " | ".join(cell(by_k[k]) if k in by_k else "" for k, _ in cols) + " |")
    lines += ["", "![mAP vs number of real images](map_vs_k.png)", "", "## Every arm", "",
              "| arm | epochs | train min | mAP50 | mAP50-95 | precision | recall | recall small / medium / large |",
              "|---|---|---|---|---|---|---|---|"]
    for a in arms:
        e = a["eval"]
        size = " / ".join(_fmt(e["recall_by_size"][s]["recall"]) for s in ("small", "medium", "large"))
        lines.append(f"| {a['id']} | {a['epochs']} | {a['train_seconds'] / 60:.1f} | {_fmt(e['mAP50'])} | "
                     f"{_fmt(e['mAP50-95'])} | {_fmt(e['precision'])} | {_fmt(e['recall'])} | {size} |")
    lines += ["", "Precision and recall are at the confidence that maximises mean F1 (Ultralytics' convention); "
              "box sizes follow COCO (small < 32², medium < 96² pixels).", "",
              "## AP50 per class", "", "| arm | " + " | ".join(report["classes"]) + " |",
              "|---|" + "---|" * len(report["classes"])]
    for a in _highlight(arms):
        pc = a["eval"]["per_class"]
        lines.append(f"| {a['id']} | " + " | ".join(_fmt(pc.get(c, {}).get("AP50")) for c in report["classes"]) + " |")
    lines += ["", "![AP50 per class](per_class_ap.png)", "", "## Precision-recall", "", "![PR curves](pr_curves.png)", ""]
    return "\n".join(lines)


def write_report(out: Path, report: dict) -> Path:
    slim = {**report, "arms": [{**a, "eval": {k: v for k, v in a["eval"].items() if k != "pr_curve"}} for a in report["arms"]]}
    atomic_write(out / "report.json", json.dumps(slim, indent=2))
    plot_map_vs_k(report, out / "map_vs_k.png")
    plot_per_class(report, out / "per_class_ap.png")
    plot_pr(report, out / "pr_curves.png")
    atomic_write(out / "report.md", markdown(report))
    return out / "report.md"
