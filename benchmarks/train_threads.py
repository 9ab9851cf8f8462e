"""Torch threads under load: seconds per training iteration of a toy YOLOv8n run (64 gold photos
at 256 px, batch 16: 4 iterations per epoch) with 1 and 2 threads, on the machine as it is
("quiet": no load of ours) and beside one busy core (a spinning subprocess started here).
Why: synthscene.train.fit.choose_threads picks the free cores; this measures what it avoids.

    python benchmarks/train_threads.py [--images 64] [--imgsz 256] [--epochs 1]

Per-iteration times come from Ultralytics' on_train_batch_end callback; the first iteration of a
run (warm-up: graph, allocator, first batch) is left out, the median of the rest is reported.
Prints one JSON line last, with the load average before and after (the machine may be shared).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
GOLD = HERE.parent / "../shared/gold/lmo/yolo"


def _spinner() -> subprocess.Popen:
    """One busy core, as another engineer's job would be."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--imgsz", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=1)
    args = ap.parse_args()

    import torch
    from ultralytics.utils.callbacks.base import default_callbacks

    from synthscene.train import train
    from synthscene.realdata.gold import load_gold, write_view
    from synthscene.train.fit import busy_cores, choose_threads

    stamps: list[float] = []
    default_callbacks["on_train_batch_end"].append(lambda trainer: stamps.append(time.perf_counter()))
    load0 = os.getloadavg()
    rows, chosen = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        gold = load_gold(GOLD)
        data = write_view(gold, gold.images[: args.images], gold.names, Path(tmp) / "view")
        for busy in (False, True):
            spinner = _spinner() if busy else None
            try:
                if busy:
                    time.sleep(1.0)  # the spinner at full speed before the reading
                chosen["busy" if busy else "quiet"] = {"busy_cores_read": round(busy_cores(), 2), "threads_chosen": choose_threads()}
                for threads in (1, 2):
                    stamps.clear()
                    t = time.perf_counter()
                    train(data, model="yolov8n.yaml", epochs=args.epochs, imgsz=args.imgsz, batch=args.batch,
                          threads=threads, workers=0, out=Path(tmp) / f"run_{busy}_{threads}", val=False, plots=False)
                    steps = [b - a for a, b in zip(stamps, stamps[1:])]
                    rows.append({"load": "one busy core" if busy else "quiet", "threads": threads,
                                 "torch_threads": torch.get_num_threads(),
                                 "s_per_iteration": round(statistics.median(steps), 3), "iterations": len(stamps),
                                 "run_s": round(time.perf_counter() - t, 1)})
                    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            finally:
                if spinner is not None:
                    spinner.kill()
                    spinner.wait()
    by = {(r["load"], r["threads"]): r["s_per_iteration"] for r in rows}
    print(json.dumps({
        "benchmark": "train_threads", "model": "yolov8n.yaml", "images": args.images, "imgsz": args.imgsz,
        "batch": args.batch, "epochs": args.epochs, "rows": rows, "choose_threads": chosen,
        "slowdown_2_vs_1_threads_busy": round(by[("one busy core", 2)] / by[("one busy core", 1)], 2),
        "speedup_2_vs_1_threads_quiet": round(by[("quiet", 1)] / by[("quiet", 2)], 2),
        "cpus": len(os.sched_getaffinity(0)),
        "loadavg_before": [round(x, 2) for x in load0], "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }))


if __name__ == "__main__":
    main()
