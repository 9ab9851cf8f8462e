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
    ratios: dict[str, dict] = {}
    print("| class | gold n | gold median w×h | gold median √area | synth n | synth median w×h | synth median √area "
          "| ratio w | ratio h | ratio √area |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for cid, name in sorted(names.items()):
        g, s = gold.get(cid, np.full((1, 2), np.nan)), synth.get(cid, np.full((1, 2), np.nan))
        (gw, gh), (sw, sh) = np.median(g, 0), np.median(s, 0)
        ga, sa = np.median(np.sqrt(g.prod(1))), np.median(np.sqrt(s.prod(1)))
        r = {"w": sw / gw, "h": sh / gh, "sqrt_area": sa / ga}
        ratios[name] = {k: round(float(v), 3) for k, v in r.items()}
        print(f"| {name} | {len(g)} | {gw:.0f}×{gh:.0f} | {ga:.0f} | {len(s)} | {sw:.0f}×{sh:.0f} | {sa:.0f} "
              f"| {r['w']:.2f} | {r['h']:.2f} | {r['sqrt_area']:.2f} |")
    factor = lambda k: max(max(v[k], 1 / v[k]) for v in ratios.values())  # noqa: E731
    print(json.dumps({"benchmark": "lmo_box_sizes", "ratios": ratios, "worst_factor_sqrt_area": round(factor("sqrt_area"), 3),
                      "worst_factor_w": round(factor("w"), 3), "worst_factor_h": round(factor("h"), 3),
                      "within_1.5_sqrt_area": bool(factor("sqrt_area") <= 1.5)}))

if __name__ == "__main__":
    main()
