"""Training cost on this machine: seconds per epoch and images/s for a model at an image size.

Trains on the first N real gold photos (or a dataset given with --data) and reads Ultralytics'
results.csv (cumulative time per epoch). Prints one JSON line last. The load average is recorded
because the machine may be shared: numbers are only comparable under like load.

    python benchmarks/train_speed.py --imgsz 320 --model yolov8n.yaml --images 100 --epochs 3
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
from pathlib import Path

GOLD = Path(__file__).resolve().parents[1] / "../shared/gold/lmo/yolo"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--model", default="yolov8n.yaml")
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--data", help="a dataset folder or data.yaml instead of gold photos")
    ap.add_argument("--args", default="{}", help='further Ultralytics train arguments as JSON, e.g. {"cache": "ram"}')
    args = ap.parse_args()

    from synthscene.train import train
    from synthscene.realdata.gold import load_gold, write_view

    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        if args.data:
            data, n = args.data, None
        else:
            gold = load_gold(GOLD)
            data = write_view(gold, gold.images[: args.images], gold.names, Path(tmp) / "view")
            n = min(args.images, len(gold.images))
        res = train(data, model=args.model, epochs=args.epochs, imgsz=args.imgsz, batch=args.batch,
                    out=Path(tmp) / "run", val=False, plots=False, **json.loads(args.args))
        rows = list(csv.DictReader((res.out_dir / "results.csv").open()))
    times = [float(r["time"]) for r in rows]
    per_epoch = [b - a for a, b in zip([0.0] + times, times)]
    steady = per_epoch[1:] or per_epoch  # the first epoch carries warm-up
    s = sum(steady) / len(steady)
    print(json.dumps({
        "benchmark": "train_speed", "model": args.model, "imgsz": args.imgsz, "batch": args.batch,
        "args": json.loads(args.args), "images": n, "epochs": args.epochs, "seconds_per_epoch": round(s, 2),
        "images_per_s": round(n / s, 2) if n else None, "total_seconds": round(res.seconds, 1),
        "loadavg_before": [round(x, 2) for x in load0], "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": len(os.sched_getaffinity(0)),
    }))


if __name__ == "__main__":
    main()
