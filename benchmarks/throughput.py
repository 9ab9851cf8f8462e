"""Throughput by stage: where one process's time per image goes, against a pure-render floor.

    python benchmarks/throughput.py [--config benchmarks/configs/throughput.yaml] [--images 20]
                                    [--rounds 3] [--backend auto|egl|tiny] [--formats yolo,coco,..]
                                    [--scaling] [--scaling-images 60]

Each round renders `--images` images end to end (sample, physics settle, occluder aiming, GL
draw, texture, lighting tint, background, post, visibility/labels, JPEG encode + writes) and
records wall and CPU milliseconds per stage (CPU = the whole process, llvmpipe's threads
included). The pure-render floor is the same scenes, posed beforehand, drawn once each with
nothing else: what the GL draw alone allows. Medians over rounds; one JSON line last, with the
RSS of this (single) worker after start-up and after all images.

--scaling adds the whole pipeline (worker processes, writes) with 1 and 2 local workers and with
the Ray backend (2 actors on a local Ray started here): steady-state images/s over the second half
of each run (start-up excluded), in the same run.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from synthscene import load_config, prepare  # noqa: E402
from synthscene.generation.producer import ImageProducer, without_torch, write_image  # noqa: E402
from synthscene.renderers.pybullet import resolve_renderer  # noqa: E402
from synthscene.scenes.sampler import sample_scene  # noqa: E402

#: randomizer functions timed as stages by wrapping them here (their modules stay untouched):
#: (module, attribute, stage); an attribute that no longer exists is skipped (its time stays in
#: "randomize_other" or "labels").
_WRAPPED = [
    ("synthscene.randomizers.texture", None, "texture_pixels", "texture"),
    ("synthscene.randomizers.texture", None, "jitter_pixels", "texture"),
    ("synthscene.randomizers.lighting", None, "apply_tint", "tint"),
    ("synthscene.randomizers.background", None, "foreground", "background"),
    ("synthscene.randomizers.background", None, "composite", "background"),
    ("synthscene.randomizers.background", "BackgroundBank", "render", "background"),
    ("synthscene.randomizers.post", "PostProcessor", "__call__", "post"),
]
#: reported stages, in pipeline order
STAGES = ["sample", "settle", "aiming", "pose_other", "draw", "texture", "tint", "background", "randomize_other",
          "post", "labels", "encode_write"]


def _wrap_stages(times) -> None:
    """Time the randomizers' own functions as stages of `times` (a world.StageTimes)."""
    import importlib

    def wrapped(fn, stage):
        def timed(*a, **k):
            with times(stage):
                return fn(*a, **k)
        return timed

    for module, cls, attr, stage in _WRAPPED:
        owner = importlib.import_module(module)
        owner = getattr(owner, cls, None) if cls else owner
        if owner is not None and hasattr(owner, attr):
            setattr(owner, attr, wrapped(getattr(owner, attr), stage))


def _stages(wall: dict, cpu: dict) -> tuple[dict, dict]:
    """Non-overlapping stages from the nested timings of one image (seconds)."""
    def split(t: dict) -> dict:
        g = lambda k: t.get(k, 0.0)  # noqa: E731
        return {"sample": g("sample"), "settle": g("settle"), "aiming": g("aiming"),
                "pose_other": g("pose") - g("settle") - g("aiming"), "draw": g("draw"),
                "texture": g("texture"), "tint": g("tint"), "background": g("background"),
                "randomize_other": g("randomize") - g("texture") - g("tint") - g("background"),
                "post": g("post"), "labels": g("post_labels") - g("post") + g("label_files"),
                "encode_write": g("encode_write")}
    return split(wall), split(cpu)


def _end_to_end(producer: ImageProducer, indices, out: Path) -> tuple[float, float, dict, dict]:
    """(images/s, CPU s per image, wall s per stage, CPU s per stage), summed over the images."""
    q = producer.config.output.jpeg_quality
    times = producer.world.times
    wall: dict = {}
    cpu: dict = {}
    t, c = time.perf_counter(), time.process_time()
    for i in indices:
        produced = producer.produce(i)
        with times("encode_write"):
            write_image(out, produced, q)
        w, u = _stages(times.wall, times.cpu)
        for k in STAGES:
            wall[k] = wall.get(k, 0.0) + w[k]
            cpu[k] = cpu.get(k, 0.0) + u[k]
    n = len(indices)
    return n / (time.perf_counter() - t), (time.process_time() - c) / n, wall, cpu


def _pure_render(producer: ImageProducer, indices) -> tuple[float, float]:
    """(images/s, CPU s per image) of the GL draw alone: each scene posed first (untimed), then drawn."""
    world, backend = producer.world, producer.world.renderer.name
    wall = cpu = 0.0
    for i in indices:
        s = sample_scene(producer.config, i, world.asset_info, backend)
        world.pose(s)
        t, c = time.perf_counter(), time.process_time()
        world.render(s)
        wall += time.perf_counter() - t
        cpu += time.process_time() - c
    return len(indices) / wall, cpu / len(indices)


def _memory_mb() -> dict:
    """RSS, and USS (pages only this process holds: what one more worker adds; shared libraries
    such as llvmpipe's are counted once however many workers map them)."""
    import psutil

    m = psutil.Process().memory_full_info()
    return {"rss": round(m.rss / 2**20, 1), "uss": round(m.uss / 2**20, 1), "torch_loaded": "torch" in sys.modules}


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

    from synthscene.generation.executors.ray import run_ray
    from synthscene.generation.pipeline import _prepare_output, _run_local
    from synthscene.generation.executors.local import THREAD_VARS, renderer_threads_env

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
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--backend", default=None)
    ap.add_argument("--formats", default=None, help="comma-separated output.formats, e.g. yolo,coco,bop")
    ap.add_argument("--scaling", action="store_true", help="also 1 vs 2 workers and the Ray backend")
    ap.add_argument("--scaling-images", type=int, default=60)
    args = ap.parse_args()

    load_1m = os.getloadavg()[0]
    with without_torch():  # as a render worker: validating `randomizers.post` imports albumentations
        config = prepare(load_config(args.config))
    if args.backend:
        config = config.model_copy(update={"renderer": config.renderer.model_copy(update={"backend": args.backend})})
    if args.formats:
        config = config.model_copy(update={"output": config.output.model_copy(update={"formats": args.formats.split(",")})})
    backend = resolve_renderer(config.renderer.backend)
    t0 = time.perf_counter()
    producer = ImageProducer(config, backend)
    producer.produce(0)  # warm-up: first-use costs (shader compilation, page faults, caches)
    startup_s, mem_start = time.perf_counter() - t0, _memory_mb()
    _wrap_stages(producer.world.times)
    indices = list(range(args.images))
    samples = [sample_scene(config, i, producer.world.asset_info, backend) for i in indices]
    rounds = []  # (images/s, cpu/img, pure images/s, pure cpu/img, wall stages, cpu stages, labels fraction)
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            pure, pure_cpu = _pure_render(producer, indices)
            rate, cpu, wall_st, cpu_st = _end_to_end(producer, indices, Path(tmp))
            rounds.append((rate, cpu, pure, pure_cpu, wall_st, cpu_st, wall_st["labels"] / wall_st["draw"]))
    mem_end = _memory_mb()
    producer.close()
    med = lambda j: statistics.median(r[j] for r in rounds)  # noqa: E731
    per_img = lambda j, k: round(1000 * statistics.median(r[j][k] for r in rounds) / len(indices), 1)  # noqa: E731
    e2e, pure = med(0), med(2)
    result = {
        "images_per_s": round(e2e, 2),
        "pure_render_images_per_s": round(pure, 2),
        "ratio": round(statistics.median(r[0] / r[2] for r in rounds), 3),  # within each round, then the median
        "ms_per_image": round(1000 / e2e, 1),
        "cpu_ms_per_image": round(1000 * med(1), 1),
        "pure_render_cpu_ms_per_image": round(1000 * med(3), 1),
        "stages_ms": {k: per_img(4, k) for k in STAGES},
        "stages_cpu_ms": {k: per_img(5, k) for k in STAGES},
        "rounds_images_per_s": [round(r[0], 2) for r in rounds],
        "rounds_pure_render_images_per_s": [round(r[2], 2) for r in rounds],
        # visibility and labels ÷ GL draw, same images
        "labels_fraction": round(med(6), 4),
        "rss_mb_per_worker": {"after_start_up": mem_start["rss"], f"after_{args.images * args.rounds + 1}_images": mem_end["rss"]},
        "memory_mb": {"after_start_up": mem_start, "after_images": mem_end},
        "start_up_s": round(startup_s, 2),
        "formats": config.output.formats,
        "workers": 1,
        "backend": backend,
        "width": config.camera.width,
        "height": config.camera.height,
        "targets_per_image": round(statistics.mean(sum(o.role == "target" for o in s.objects) for s in samples), 2),
        "objects_per_image": round(statistics.mean(len(s.objects) for s in samples), 2),
        "images": args.images,
        "rounds": args.rounds,
        "load_avg_1m_at_start": round(load_1m, 2),
        "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
        "config": str(Path(args.config).resolve().relative_to(HERE.parent)) if str(Path(args.config).resolve()).startswith(str(HERE.parent)) else args.config,
    }
    if args.scaling:
        result.update(scaling(config, backend, args.scaling_images))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
