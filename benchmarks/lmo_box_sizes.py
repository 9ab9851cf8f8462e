"""Rendered box sizes per class vs the LM-O gold set's: median width, height and sqrt(area) in pixels.

Usage: python benchmarks/lmo_box_sizes.py DATASET_DIR [--gold ../shared/gold/lmo/yolo]
Prints a markdown table, then one JSON line (the contract for benchmarks/).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]


def box_sizes(label_files, width: int, height: int) -> dict[int, np.ndarray]:
    """class id → (N, 2) array of box (width, height) in pixels."""
    out: dict[int, list] = {}
    for f in label_files:
        for line in Path(f).read_text().split("\n"):
            parts = line.split()
            if len(parts) >= 5:
                out.setdefault(int(parts[0]), []).append((float(parts[3]) * width, float(parts[4]) * height))
    return {k: np.array(v) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--gold", type=Path, default=ROOT / "../shared/gold/lmo/yolo")
    args = ap.parse_args()
    names = yaml.safe_load((args.gold / "data.yaml").read_text())["names"]
    gold = box_sizes(sorted((args.gold / "labels").glob("*.txt")), 640, 480)
    rec = json.loads((args.dataset / "manifest.jsonl").read_text().split("\n")[0])
    synth = box_sizes(sorted((args.dataset / "labels").rglob("*.txt")), rec["width"], rec["height"])
    rows, ratios = [], {}
    print("| class | gold n | gold median w×h (px) | gold median √area | synth n | synth median w×h | synth median √area | ratio synth/gold (√area) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for cid, name in sorted(names.items()):
        g, s = gold.get(cid, np.zeros((0, 2))), synth.get(cid, np.zeros((0, 2)))
        gs, ss = np.median(np.sqrt(g.prod(1))) if len(g) else float("nan"), np.median(np.sqrt(s.prod(1))) if len(s) else float("nan")
        ratio = ss / gs
        ratios[name] = round(float(ratio), 3)
        gw, gh = (np.median(g, 0) if len(g) else (np.nan, np.nan))
        sw, sh = (np.median(s, 0) if len(s) else (np.nan, np.nan))
        print(f"| {name} | {len(g)} | {gw:.0f}×{gh:.0f} | {gs:.0f} | {len(s)} | {sw:.0f}×{sh:.0f} | {ss:.0f} | {ratio:.2f} |")
        rows.append(name)
    worst = max(max(r, 1 / r) for r in ratios.values())
    print(json.dumps({"benchmark": "lmo_box_sizes", "ratio_sqrt_area": ratios, "worst_factor": round(float(worst), 3),
                      "within_1.5": bool(worst <= 1.5)}))


if __name__ == "__main__":
    main()
