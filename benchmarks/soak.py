"""Soak: resident memory (RSS) of each worker process near the start and at the end of a long run
through the real pipeline (worker processes, writes, records). Growth must stay under 50 MB.
Prints one JSON line last.

    python benchmarks/soak.py [--config benchmarks/configs/soak.yaml] [--images 3000] [--workers 2]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from synthscene import load_config, prepare  # noqa: E402
from synthscene.generation.pipeline import _prepare_output, _run_local, finish  # noqa: E402
from synthscene.renderers.pybullet import resolve_renderer  # noqa: E402

MB = 1024 * 1024


def _worker_rss() -> dict[int, float]:
    out = {}
    for child in psutil.Process().children():
        try:
            if "resource_tracker" not in " ".join(child.cmdline()):
                out[child.pid] = child.memory_info().rss / MB
        except psutil.NoSuchProcess:
            pass
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default=str(HERE / "configs" / "soak.yaml"))
    ap.add_argument("--images", type=int, default=3000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=100, help="images before the start reading")
    args = ap.parse_args()

    config = prepare(load_config(args.config)).with_overrides(count=args.images)
    backend = resolve_renderer(config.renderer.backend)
    start_rss, end_rss = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "soak"
        config = config.with_overrides(output_dir=out)
        _prepare_output(out, config, resume=False, overwrite=False, partial=False)
        t = time.perf_counter()
        n = 0
        for _ in _run_local(config, backend, out, list(range(args.images)), max(2, args.workers)):
            n += 1
            if n == args.warmup:
                start_rss = _worker_rss()
            if n == args.images - args.workers:  # workers still alive, nearly all images done
                end_rss = _worker_rss()
        seconds = time.perf_counter() - t
        finish(out, config)
    growth = {pid: round(end_rss[pid] - start_rss[pid], 1) for pid in start_rss if pid in end_rss}
    result = {
        "images": n,
        "workers": len(start_rss),
        "backend": backend,
        "width": config.camera.width,
        "height": config.camera.height,
        "rss_start_mb": [round(start_rss[p], 1) for p in sorted(start_rss)],
        "rss_end_mb": [round(end_rss[p], 1) for p in sorted(start_rss) if p in end_rss],
        "rss_growth_mb": [growth[p] for p in sorted(growth)],
        "max_growth_mb": max(growth.values()) if growth else None,
        "start_after_images": args.warmup,
        "images_per_s": round(n / seconds, 1),
        "ok": bool(growth) and max(growth.values()) < 50,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
