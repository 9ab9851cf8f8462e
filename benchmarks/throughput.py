"""Throughput: images/s of the full per-image work (sample, pose, render, labels, JPEG + label +
record writes) against the same scenes rendered in a bare loop (pose + render only), one process,
measured in the same run, interleaved, median of several rounds. Prints one JSON line last.

    python benchmarks/throughput.py [--config benchmarks/configs/throughput.yaml] [--images 40]
                                    [--rounds 3] [--backend auto|egl|tiny] [--formats yolo,coco,..]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from synthscene import load_config  # noqa: E402
from synthscene.pipeline import ImageProducer, write_image  # noqa: E402
from synthscene.renderers.pybullet import resolve_backend  # noqa: E402
from synthscene.scenes.sampler import sample_scene  # noqa: E402


def _render_only(producer: ImageProducer, samples) -> float:
    world = producer.world
    t = time.perf_counter()
    for s in samples:
        world.pose(s)
        world.render(s)
    return len(samples) / (time.perf_counter() - t)


def _end_to_end(producer: ImageProducer, indices, out: Path, stages: dict) -> float:
    q = producer.config.output.jpeg_quality
    t = time.perf_counter()
    for i in indices:
        write_image(out, producer.produce(i), q)
        for k, v in producer.timings.items():  # render and labels time of the same images
            stages[k] = stages.get(k, 0.0) + v
    return len(indices) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default=str(HERE / "configs" / "throughput.yaml"))
    ap.add_argument("--images", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--backend", default=None)
    ap.add_argument("--formats", default=None, help="comma-separated output.formats, e.g. yolo,coco,bop")
    args = ap.parse_args()

    config = load_config(args.config)
    if args.backend:
        config = config.model_copy(update={"renderer": config.renderer.model_copy(update={"backend": args.backend})})
    if args.formats:
        config = config.model_copy(update={"output": config.output.model_copy(update={"formats": args.formats.split(",")})})
    backend = resolve_backend(config.renderer.backend)
    producer = ImageProducer(config, backend)
    indices = list(range(args.images))
    # The same scenes for both loops: sampling is a pure function of (config, seed, index).
    samples = [sample_scene(config, i, producer.world.asset_info) for i in indices]
    producer.produce(0)  # warm-up: first-use costs (shader compilation, page faults)
    e2e, render, fractions = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            render.append(_render_only(producer, [sample_scene(config, i, producer.world.asset_info) for i in indices]))
            stages: dict = {}
            e2e.append(_end_to_end(producer, indices, Path(tmp), stages))
            fractions.append(stages["labels"] / stages["render"])
    producer.close()
    e2e_med, render_med = statistics.median(e2e), statistics.median(render)
    result = {
        "images_per_s": round(e2e_med, 2),
        "render_only_images_per_s": round(render_med, 2),
        "ratio": round(e2e_med / render_med, 3),
        # labels (visibility, boxes, filters, label files of output.formats) ÷ render time, same images
        "labels_fraction": round(statistics.median(fractions), 4),
        "formats": config.output.formats,
        "workers": 1,
        "backend": backend,
        "width": config.camera.width,
        "height": config.camera.height,
        "targets_per_image": round(statistics.mean(len(s.objects) for s in samples), 2),
        "images": args.images,
        "rounds": args.rounds,
        "config": str(Path(args.config).resolve().relative_to(HERE.parent)) if str(Path(args.config).resolve()).startswith(str(HERE.parent)) else args.config,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
