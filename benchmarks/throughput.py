"""Throughput: images/s of the full per-image work (sample, pose, render, labels, JPEG + label +
record writes) against the same scenes rendered in a bare loop (pose + render only), one process,
measured in the same run, interleaved, median of several rounds. Prints one JSON line last.

    python benchmarks/throughput.py [--config benchmarks/configs/throughput.yaml] [--images 40]
                                    [--rounds 3] [--backend auto|egl|tiny] [--formats yolo,coco,..]
                                    [--scaling] [--scaling-images 60]

--scaling adds the whole pipeline (worker processes, writes) with 1 and 2 local workers and with
the Ray backend (2 actors on a local Ray started here): steady-state images/s over the second half
of each run (start-up excluded), in the same run.
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
from synthscene.producer import ImageProducer, write_image  # noqa: E402
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


def _cpu_seconds() -> float:
    """CPU time (user + system, all threads) of this process and its live children."""
    import psutil

    total = 0.0
    for proc in [psutil.Process(), *psutil.Process().children(recursive=True)]:
        try:
            t = proc.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def _steady_rate(records, total: int) -> tuple[float, float, float]:
    """(images/s, CPU s per image, cores busy) over the second half of a run of `total` images:
    worker start-up (spawn, imports, assets, first frames), which differs per worker, is left out.
    CPU counts this process and its children (local workers; not Ray's actors, which belong to the
    raylet), read as each half-way and last record arrives, while every worker is still alive."""
    half = total // 2
    for n, _ in enumerate(records, 1):
        if n == half:
            t0, c0 = time.perf_counter(), _cpu_seconds()
        if n == total:
            wall, used = time.perf_counter() - t0, _cpu_seconds() - c0
    images = total - half
    return images / wall, used / images, used / wall


def scaling(config, backend: str, images: int) -> dict:
    """images/s of the pipeline with 1 and 2 local workers and 2 Ray actors, same config and images."""
    import os

    import ray

    from synthscene.distributed import run_ray
    from synthscene.pipeline import _prepare_output, _run_local
    from synthscene.workers import THREAD_VARS, renderer_threads_env

    todo = list(range(images))
    config = config.with_overrides(count=images)
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        def out(name):
            d = Path(tmp) / name
            _prepare_output(d, config.with_overrides(output_dir=d), resume=False, overwrite=False, partial=False)
            return d

        rates["1w"], cpu_1w, util_1w = _steady_rate(_run_local(config, backend, out("w1"), todo, 1), images)
        rates["2w"], cpu_2w, util_2w = _steady_rate(_run_local(config, backend, out("w2"), todo, 2), images)
        ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
        try:
            rates["ray"] = _steady_rate(run_ray(config, out("ray"), todo, 2), images)[0]
        finally:
            ray.shutdown()
    return {
        "images_per_s_1w": round(rates["1w"], 2),
        "images_per_s_2w": round(rates["2w"], 2),
        "scaling_2w": round(rates["2w"] / rates["1w"], 3),
        "ray_images_per_s": round(rates["ray"], 2),
        "ray_vs_local": round(rates["ray"] / rates["2w"], 3),
        "cpu_s_per_image_1w": round(cpu_1w, 4),
        "cpu_s_per_image_2w": round(cpu_2w, 4),
        "cores_used_1w": round(util_1w, 2),
        "cores_used_2w": round(util_2w, 2),
        "scaling_images": images,
        "lp_num_threads_1w": os.environ.get("LP_NUM_THREADS", "llvmpipe default (one per core)"),
        "threads_per_worker_2w": {k: renderer_threads_env(2).get(k, os.environ.get(k)) for k in THREAD_VARS},
        "cpus": os.cpu_count(),
        "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default=str(HERE / "configs" / "throughput.yaml"))
    ap.add_argument("--images", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--backend", default=None)
    ap.add_argument("--formats", default=None, help="comma-separated output.formats, e.g. yolo,coco,bop")
    ap.add_argument("--scaling", action="store_true", help="also 1 vs 2 workers and the Ray backend")
    ap.add_argument("--scaling-images", type=int, default=60)
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
        "targets_per_image": round(statistics.mean(sum(o.role == "target" for o in s.objects) for s in samples), 2),
        "objects_per_image": round(statistics.mean(len(s.objects) for s in samples), 2),
        "images": args.images,
        "rounds": args.rounds,
        "config": str(Path(args.config).resolve().relative_to(HERE.parent)) if str(Path(args.config).resolve()).startswith(str(HERE.parent)) else args.config,
    }
    if args.scaling:
        result.update(scaling(config, backend, args.scaling_images))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
